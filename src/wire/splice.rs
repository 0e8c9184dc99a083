//! Edits of encoded messages: records replaced or appended, every other byte copied as it came.
//!
//! A [`Splice`] keeps nested edits (route configuration, virtual host, route, metadata) as a
//! tree whose length is known at every level, so a patched resource is written once, into a
//! buffer of exactly its size, however deep the change.

use std::ops::Range;

use prost::encoding::{WireType, encode_key, encode_varint};

use super::{BadRecord, Field, Occurrences, WireError, fields, put_len, single_len, split_record};

/// Rebuilds `message`, letting `edit` replace the payload of any length-delimited record.
///
/// `edit` sees each such record with its occurrence index among records of the same number
/// and returns `Some(new payload)` to replace it or `None` to keep it. Every other byte is
/// copied as it was. Returns `None` when nothing was replaced, so callers can keep the
/// original buffer (and its identity) instead of an equal copy.
pub fn rewrite_len_fields<E>(
    message: &[u8],
    mut edit: impl FnMut(u32, usize, &[u8]) -> Result<Option<Vec<u8>>, E>,
) -> Result<Option<Vec<u8>>, E>
where
    E: From<WireError>,
{
    let spliced = splice_len_fields(message, |number, occurrence, payload| {
        edit(number, occurrence, payload).map(|built| built.map(Payload::from))
    })?;
    Ok(spliced.map(|splice| splice.to_vec()))
}

/// Like [`rewrite_len_fields`], but leaves the result as a [`Splice`], so that an edit nested
/// inside another one is written out once, with the outer message, instead of copied at every
/// level.
pub(crate) fn splice_len_fields<'a, E>(
    message: &'a [u8],
    mut edit: impl FnMut(u32, usize, &'a [u8]) -> Result<Option<Payload<'a>>, E>,
) -> Result<Option<Splice<'a>>, E>
where
    E: From<WireError>,
{
    let mut splice = Splice::new(message);
    let mut seen = Occurrences::default();
    let mut end = 0;
    for field in fields(message) {
        let field = field?;
        let start = end;
        end += field.record.len();
        if field.wire_type != WireType::LengthDelimited {
            continue;
        }
        let occurrence = seen.next(field.number);
        if let Some(payload) = edit(field.number, occurrence, field.payload)? {
            splice.replace(start..end, field.number, payload)?;
        }
    }
    Ok((!splice.is_unchanged()).then_some(splice))
}

/// A message with some of its length-delimited records replaced and records appended, not
/// yet written out.
///
/// Patches are nested (route configuration → virtual host → route → metadata). Rebuilding
/// each level into its own buffer would copy the outer message once per level, and grow
/// buffers whose final size is unknown; a splice keeps the edits as a tree whose length is
/// known at every level, so the patched resource is written once, into a buffer of exactly
/// its size.
#[derive(Debug)]
pub(crate) struct Splice<'a> {
    message: &'a [u8],
    /// Replaced records, in message order, never overlapping.
    edits: Vec<Edit<'a>>,
    /// Whole records written after the message's own.
    appended: Vec<u8>,
    /// The encoded length of the result.
    len: usize,
}

/// One replaced record of a [`Splice`].
#[derive(Debug)]
struct Edit<'a> {
    record: Range<usize>,
    number: u32,
    payload: Payload<'a>,
}

/// The new payload of a replaced record: bytes built by the caller, or a nested splice.
#[derive(Debug)]
pub(crate) enum Payload<'a> {
    /// A payload built in full.
    Built(Vec<u8>),
    /// A payload that is itself an edited message.
    Spliced(Splice<'a>),
}

impl Payload<'_> {
    /// The payload's encoded length.
    pub(crate) fn len(&self) -> usize {
        match self {
            Self::Built(bytes) => bytes.len(),
            Self::Spliced(splice) => splice.len(),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Self::Built(bytes) => out.extend_from_slice(bytes),
            Self::Spliced(splice) => splice.write(out),
        }
    }
}

impl From<Vec<u8>> for Payload<'_> {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Built(bytes)
    }
}

impl<'a> From<Splice<'a>> for Payload<'a> {
    fn from(splice: Splice<'a>) -> Self {
        Self::Spliced(splice)
    }
}

impl<'a> Splice<'a> {
    /// An unedited `message`.
    pub(crate) fn new(message: &'a [u8]) -> Self {
        Self {
            message,
            edits: Vec::new(),
            appended: Vec::new(),
            len: message.len(),
        }
    }

    /// The length-delimited record that spans exactly `record` of the message, for a caller
    /// that knows where its records are (the index does) and edits them with
    /// [`Splice::replace`] instead of walking the message again.
    pub(crate) fn record_at(&self, record: Range<usize>) -> Result<Field<'a>, WireError> {
        let malformed = |reason| WireError::Malformed {
            offset: record.start,
            reason,
        };
        let bytes = self
            .message
            .get(record.clone())
            .ok_or_else(|| malformed(BadRecord::OutsideMessage))?;
        let (field, rest) = split_record(bytes).map_err(malformed)?;
        if !rest.is_empty() || field.wire_type != WireType::LengthDelimited {
            return Err(malformed(BadRecord::NotOneLenRecord));
        }
        Ok(field)
    }

    /// Replaces the length-delimited record at `record` (key included) with one numbered
    /// `number` carrying `payload`. Records must be replaced in message order, each once.
    pub(crate) fn replace(
        &mut self,
        record: Range<usize>,
        number: u32,
        payload: Payload<'a>,
    ) -> Result<(), WireError> {
        let after_last = self
            .edits
            .last()
            .is_none_or(|e| e.record.end <= record.start);
        if !after_last || record.start > record.end || record.end > self.message.len() {
            return Err(WireError::Malformed {
                offset: record.start,
                reason: BadRecord::EditOutOfOrder,
            });
        }
        self.len = self.len - record.len() + len_record_len(number, payload.len());
        self.edits.push(Edit {
            record,
            number,
            payload,
        });
        Ok(())
    }

    /// Appends a length-delimited record after the message's own records.
    pub(crate) fn append(&mut self, number: u32, payload: &[u8]) {
        let before = self.appended.len();
        put_len(&mut self.appended, number, payload);
        self.len += self.appended.len() - before;
    }

    /// Whether nothing was replaced or appended.
    pub(crate) fn is_unchanged(&self) -> bool {
        self.edits.is_empty() && self.appended.is_empty()
    }

    /// The encoded length of the result.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Writes the result to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let mut from = 0;
        for edit in &self.edits {
            out.extend_from_slice(
                self.message
                    .get(from..edit.record.start)
                    .unwrap_or_default(),
            );
            encode_key(edit.number, WireType::LengthDelimited, out);
            encode_varint(edit.payload.len() as u64, out);
            edit.payload.write(out);
            from = edit.record.end;
        }
        out.extend_from_slice(self.message.get(from..).unwrap_or_default());
        out.extend_from_slice(&self.appended);
    }

    /// The result in a buffer of exactly its size.
    pub(crate) fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        self.write(&mut out);
        debug_assert_eq!(out.len(), self.len);
        out
    }
}

/// The encoded length of a length-delimited record numbered `number` with `payload_len`
/// bytes of payload.
fn len_record_len(number: u32, payload_len: usize) -> usize {
    prost::encoding::key_len(number)
        + prost::encoding::encoded_len_varint(payload_len as u64)
        + payload_len
}

/// Rebuilds `message` with the payload of its one length-delimited field `number` replaced by
/// `edit`'s result. A missing or split field is an error: there is no single place to edit.
pub(crate) fn rewrite_single<E>(
    message: &[u8],
    number: u32,
    edit: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<Vec<u8>, E>
where
    E: From<WireError>,
{
    let splice = splice_single(message, number, |payload| edit(payload).map(Payload::from))?;
    Ok(splice.to_vec())
}

/// Like [`rewrite_single`], but leaves the result as a [`Splice`] (see
/// [`splice_len_fields`]).
pub(crate) fn splice_single<'a, E>(
    message: &'a [u8],
    number: u32,
    edit: impl FnOnce(&'a [u8]) -> Result<Payload<'a>, E>,
) -> Result<Splice<'a>, E>
where
    E: From<WireError>,
{
    single_len(message, number)?.ok_or(WireError::Missing { number })?;
    let mut edit = Some(edit);
    let spliced = splice_len_fields(message, |n, _, payload| match (n == number, edit.take()) {
        (true, Some(edit)) => edit(payload).map(Some),
        (_, unused) => {
            edit = unused;
            Ok(None)
        }
    })?;
    Ok(spliced.ok_or(WireError::Missing { number })?)
}
