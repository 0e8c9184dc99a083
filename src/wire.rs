//! The protobuf wire format, read and spliced without a schema.
//!
//! The hook must hand back every resource it does not change byte for byte, and must keep
//! fields newer than our compiled Envoy API in the resources it does change. Decoding into
//! typed structs and re-encoding would lose both. So edits happen here, on the wire: a message
//! is rebuilt by copying every record verbatim except the few on the path to the change, whose
//! length prefixes are recomputed. Only the bytes on that path are ever rewritten.
//!
//! This module knows nothing of Envoy; it only walks records (`Fields`) and writes them.

use std::ops::Range;

use prost::encoding::{
    DecodeContext, WireType, decode_key, decode_varint, encode_key, encode_varint, skip_field,
};

/// What is wrong with bytes that were supposed to be a protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes do not parse as protobuf records.
    #[error("malformed protobuf at byte {offset}: {reason}")]
    Malformed {
        /// Offset of the record that failed, from the start of the message.
        offset: usize,
        /// What the parser found.
        reason: String,
    },
    /// A singular field appears more than once; protobuf merges such records, and editing
    /// one of them in place would change the merged meaning.
    #[error("field {number} is split over {count} records")]
    Split {
        /// Field number.
        number: u32,
        /// How many records carry it.
        count: usize,
    },
    /// A field the edit needs is absent.
    #[error("field {number} is missing")]
    Missing {
        /// Field number.
        number: u32,
    },
}

/// One record of a message: its field number, wire type and where its bytes are.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    /// The field number.
    pub number: u32,
    /// The wire type of the record.
    pub wire_type: WireType,
    /// The whole record, key included, as it appears in the message.
    pub record: &'a [u8],
    /// The value: for length-delimited records, the content after the length prefix.
    pub payload: &'a [u8],
}

impl Field<'_> {
    /// The value of a varint record, if this is one.
    pub fn varint(&self) -> Option<u64> {
        if self.wire_type != WireType::Varint {
            return None;
        }
        decode_varint(&mut &self.payload[..]).ok()
    }
}

/// Iterator over the records of one message, in wire order. Stops after the first error.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: &'a [u8],
    offset: usize,
    failed: bool,
}

/// Walks the top-level records of `message`.
pub fn fields(message: &[u8]) -> Fields<'_> {
    Fields {
        rest: message,
        offset: 0,
        failed: false,
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Result<Field<'a>, WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match split_record(self.rest) {
            Ok((field, rest)) => {
                self.offset += field.record.len();
                self.rest = rest;
                Some(Ok(field))
            }
            Err(reason) => {
                self.failed = true;
                Some(Err(WireError::Malformed {
                    offset: self.offset,
                    reason,
                }))
            }
        }
    }
}

/// Splits the first record off `buf`.
fn split_record(buf: &[u8]) -> Result<(Field<'_>, &[u8]), String> {
    let mut cursor = buf;
    let (number, wire_type) = decode_key(&mut cursor).map_err(|e| e.to_string())?;
    let key_len = buf.len() - cursor.len();
    let (payload_start, payload_len) = match wire_type {
        WireType::Varint => {
            decode_varint(&mut cursor).map_err(|e| e.to_string())?;
            (key_len, buf.len() - cursor.len() - key_len)
        }
        WireType::SixtyFourBit => (key_len, 8),
        WireType::ThirtyTwoBit => (key_len, 4),
        WireType::LengthDelimited => {
            let len = decode_varint(&mut cursor).map_err(|e| e.to_string())?;
            let len = usize::try_from(len).map_err(|_| "length overflows usize".to_owned())?;
            (buf.len() - cursor.len(), len)
        }
        WireType::StartGroup => {
            skip_field(wire_type, number, &mut cursor, DecodeContext::default())
                .map_err(|e| e.to_string())?;
            (key_len, buf.len() - cursor.len() - key_len)
        }
        WireType::EndGroup => return Err("unexpected end-group record".to_owned()),
    };
    let end = payload_start
        .checked_add(payload_len)
        .filter(|end| *end <= buf.len())
        .ok_or_else(|| format!("field {number} runs past the end of the message"))?;
    let (record, rest) = buf.split_at(end);
    let payload = record.get(payload_start..).unwrap_or_default();
    Ok((
        Field {
            number,
            wire_type,
            record,
            payload,
        },
        rest,
    ))
}

/// The payloads of every length-delimited record numbered `number`, in order.
pub fn len_payloads(message: &[u8], number: u32) -> impl Iterator<Item = Result<&[u8], WireError>> {
    fields(message).filter_map(move |field| match field {
        Ok(f) if f.number == number && f.wire_type == WireType::LengthDelimited => {
            Some(Ok(f.payload))
        }
        Ok(_) => None,
        Err(e) => Some(Err(e)),
    })
}

/// The payload of the singular length-delimited field `number`, refusing split records.
pub fn single_len(message: &[u8], number: u32) -> Result<Option<&[u8]>, WireError> {
    let mut found = None;
    let mut count = 0;
    for payload in len_payloads(message, number) {
        found = Some(payload?);
        count += 1;
    }
    if count > 1 {
        return Err(WireError::Split { number, count });
    }
    Ok(found)
}

/// The payload of the first length-delimited record numbered `number`, read without parsing
/// past it. Envoy's listeners, route configurations and clusters keep their name in field 1,
/// so this reads a resource's name without decoding the resource.
pub fn first_len(message: &[u8], number: u32) -> Option<&[u8]> {
    fields(message)
        .map_while(Result::ok)
        .find(|f| f.number == number && f.wire_type == WireType::LengthDelimited)
        .map(|f| f.payload)
}

/// Appends a length-delimited record.
pub fn put_len(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    encode_key(number, WireType::LengthDelimited, out);
    encode_varint(payload.len() as u64, out);
    out.extend_from_slice(payload);
}

/// Appends a varint record.
pub fn put_varint(out: &mut Vec<u8>, number: u32, value: u64) {
    encode_key(number, WireType::Varint, out);
    encode_varint(value, out);
}

/// Sets the varint field `number` of `message` to `value`: every record of that field is
/// dropped and one is appended (protobuf takes the last record of a scalar, so the value is
/// `value` however the field was split). Returns `None` when the field already reads `value`
/// from a single record.
pub fn set_varint(message: &[u8], number: u32, value: u64) -> Result<Option<Vec<u8>>, WireError> {
    let mut records = 0;
    let mut last = None;
    for field in fields(message) {
        let field = field?;
        if field.number == number {
            records += 1;
            last = field.varint();
        }
    }
    if records == 1 && last == Some(value) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(message.len() + 11);
    for field in fields(message) {
        let field = field?;
        if field.number != number {
            out.extend_from_slice(field.record);
        }
    }
    put_varint(&mut out, number, value);
    Ok(Some(out))
}

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
pub fn splice_len_fields<'a, E>(
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
pub struct Splice<'a> {
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
pub enum Payload<'a> {
    /// A payload built in full.
    Built(Vec<u8>),
    /// A payload that is itself an edited message.
    Spliced(Splice<'a>),
}

impl Payload<'_> {
    /// The payload's encoded length.
    pub fn len(&self) -> usize {
        match self {
            Self::Built(bytes) => bytes.len(),
            Self::Spliced(splice) => splice.len(),
        }
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
    pub fn new(message: &'a [u8]) -> Self {
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
    pub fn record_at(&self, record: Range<usize>) -> Result<Field<'a>, WireError> {
        let malformed = |reason: &str| WireError::Malformed {
            offset: record.start,
            reason: reason.to_owned(),
        };
        let bytes = self
            .message
            .get(record.clone())
            .ok_or_else(|| malformed("record lies outside the message"))?;
        let (field, rest) = split_record(bytes).map_err(|reason| malformed(&reason))?;
        if !rest.is_empty() || field.wire_type != WireType::LengthDelimited {
            return Err(malformed("not one length-delimited record"));
        }
        Ok(field)
    }

    /// Replaces the length-delimited record at `record` (key included) with one numbered
    /// `number` carrying `payload`. Records must be replaced in message order, each once.
    pub fn replace(
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
                reason: "edit out of order or outside the message".to_owned(),
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
    pub fn append(&mut self, number: u32, payload: &[u8]) {
        let before = self.appended.len();
        put_len(&mut self.appended, number, payload);
        self.len += self.appended.len() - before;
    }

    /// Whether nothing was replaced or appended.
    pub fn is_unchanged(&self) -> bool {
        self.edits.is_empty() && self.appended.is_empty()
    }

    /// The encoded length of the result.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the result is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes the result to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
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
    pub fn to_vec(&self) -> Vec<u8> {
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
pub fn rewrite_single<E>(
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
pub fn splice_single<'a, E>(
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

/// Counts records per field number, for occurrence indices.
#[derive(Debug, Default)]
pub struct Occurrences(Vec<(u32, usize)>);

impl Occurrences {
    /// Returns the occurrence index of the next record numbered `number`.
    pub fn next(&mut self, number: u32) -> usize {
        if let Some((_, count)) = self.0.iter_mut().find(|(n, _)| *n == number) {
            let index = *count;
            *count += 1;
            index
        } else {
            self.0.push((number, 1));
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_varint_replaces_every_record_and_keeps_the_rest() {
        let mut m = Vec::new();
        put_len(&mut m, 2, b"hosts");
        put_varint(&mut m, 5, 1);
        put_len(&mut m, 9, b"md");
        put_varint(&mut m, 5, 3);
        let set = set_varint(&m, 5, 2).unwrap().unwrap();
        let fields: Vec<(u32, Option<u64>)> = fields(&set)
            .map(|f| f.map(|f| (f.number, f.varint())).unwrap())
            .collect();
        assert_eq!(fields, [(2, None), (9, None), (5, Some(2))]);
        assert_eq!(set_varint(&set, 5, 2).unwrap(), None, "already set");
        assert!(
            set_varint(&m, 5, 3).unwrap().is_some(),
            "split records are merged"
        );
    }

    fn message() -> Vec<u8> {
        let mut m = Vec::new();
        put_len(&mut m, 1, b"name");
        put_varint(&mut m, 2, 300);
        put_len(&mut m, 3, b"first");
        m.extend_from_slice(&[0x25, 1, 2, 3, 4]); // field 4, fixed32
        put_len(&mut m, 3, b"second");
        m
    }

    #[test]
    fn walks_every_record_in_order() {
        let m = message();
        let numbers: Vec<u32> = fields(&m)
            .map(|f| f.map(|f| f.number))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(numbers, [1, 2, 3, 4, 3]);
        let total: usize = fields(&m).map(|f| f.unwrap().record.len()).sum();
        assert_eq!(total, m.len());
    }

    #[test]
    fn reads_varints_and_payloads() {
        let m = message();
        let f: Vec<Field<'_>> = fields(&m).collect::<Result<_, _>>().unwrap();
        assert_eq!(f[1].varint(), Some(300));
        assert_eq!(f[4].payload, b"second");
        assert_eq!(f[3].payload, [1, 2, 3, 4]);
    }

    #[test]
    fn truncated_message_is_an_error_not_a_panic() {
        let m = message();
        for cut in 1..m.len() {
            let _ = fields(&m[..cut]).count();
        }
        let err = fields(&m[..m.len() - 1]).find_map(Result::err).unwrap();
        assert!(
            matches!(err, WireError::Malformed { offset: 21, .. }),
            "{err}"
        );
    }

    #[test]
    fn rewrite_replaces_only_the_chosen_occurrence() {
        let m = message();
        let out = rewrite_len_fields::<WireError>(&m, |n, i, _| {
            Ok((n == 3 && i == 1).then(|| b"2nd".to_vec()))
        })
        .unwrap()
        .unwrap();
        let mut expected = m[..m.len() - 8].to_vec();
        put_len(&mut expected, 3, b"2nd");
        assert_eq!(out, expected);
    }

    #[test]
    fn rewrite_without_edits_returns_none() {
        let m = message();
        assert_eq!(
            rewrite_len_fields::<WireError>(&m, |_, _, _| Ok(None)).unwrap(),
            None
        );
    }

    /// A nested splice writes the message built by hand, and knows its length before it is
    /// written, including when a payload's length prefix grows a byte.
    #[test]
    fn nested_splice_writes_the_edited_message_at_its_exact_size() {
        let mut inner = message();
        put_len(&mut inner, 5, &[b'x'; 120]);
        let mut outer = Vec::new();
        put_len(&mut outer, 1, b"outer");
        put_len(&mut outer, 2, &inner);
        put_varint(&mut outer, 3, 7);
        put_len(&mut outer, 2, &inner);
        let long = vec![b'y'; 200]; // 120 -> 200 bytes: a two-byte length prefix
        let edit_inner = |n: u32, i: usize| (n == 5 || (n == 3 && i == 0)).then(|| long.clone());

        let mut edited_inner = Vec::new();
        put_len(&mut edited_inner, 1, b"name");
        put_varint(&mut edited_inner, 2, 300);
        put_len(&mut edited_inner, 3, &long);
        edited_inner.extend_from_slice(&[0x25, 1, 2, 3, 4]);
        put_len(&mut edited_inner, 3, b"second");
        put_len(&mut edited_inner, 5, &long);
        put_len(&mut edited_inner, 6, b"appended");
        let mut expected = Vec::new();
        put_len(&mut expected, 1, b"outer");
        put_len(&mut expected, 2, &inner);
        put_varint(&mut expected, 3, 7);
        put_len(&mut expected, 2, &edited_inner);

        let splice = splice_len_fields::<WireError>(&outer, |n, i, payload| {
            if n != 2 || i != 1 {
                return Ok(None);
            }
            let mut nested = splice_len_fields::<WireError>(payload, |n, i, _| {
                Ok(edit_inner(n, i).map(Payload::from))
            })?
            .unwrap();
            nested.append(6, b"appended");
            Ok(Some(nested.into()))
        })
        .unwrap()
        .unwrap();
        assert_eq!(splice.len(), expected.len());
        let written = splice.to_vec();
        assert_eq!(written, expected);
        assert_eq!(written.capacity(), expected.len());
    }

    #[test]
    fn splice_without_edits_is_none_and_append_alone_is_a_change() {
        let m = message();
        assert!(
            splice_len_fields::<WireError>(&m, |_, _, _| Ok(None))
                .unwrap()
                .is_none()
        );
        let mut splice = Splice::new(&m);
        assert!(splice.is_unchanged());
        splice.append(7, b"tail");
        let mut expected = m.clone();
        put_len(&mut expected, 7, b"tail");
        assert!(!splice.is_unchanged());
        assert_eq!(splice.len(), expected.len());
        assert_eq!(splice.to_vec(), expected);
    }

    /// Positions handed in from outside (the index's) are checked, never trusted.
    #[test]
    fn record_positions_that_do_not_fit_are_errors() {
        let m = message(); // records at 0..6, 6..9, 9..16, 16..21, 21..29
        let splice = Splice::new(&m);
        assert_eq!(splice.record_at(9..16).unwrap().payload, b"first");
        for wrong in [9..15, 9..17, 6..9, 25..40] {
            assert!(splice.record_at(wrong.clone()).is_err(), "{wrong:?}");
        }
        let mut splice = Splice::new(&m);
        splice.replace(21..29, 3, b"2nd".to_vec().into()).unwrap();
        assert!(splice.replace(9..16, 3, b"1st".to_vec().into()).is_err());
        assert!(splice.replace(29..31, 3, b"3rd".to_vec().into()).is_err());
        let mut expected = m[..21].to_vec();
        put_len(&mut expected, 3, b"2nd");
        assert_eq!(splice.to_vec(), expected);
    }

    #[test]
    fn single_len_refuses_split_records() {
        let m = message();
        assert_eq!(single_len(&m, 1).unwrap(), Some(&b"name"[..]));
        assert_eq!(single_len(&m, 9).unwrap(), None);
        assert_eq!(
            single_len(&m, 3),
            Err(WireError::Split {
                number: 3,
                count: 2
            })
        );
    }
}
