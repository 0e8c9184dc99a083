//! A strict cursor over protobuf records, for the index's fast paths.
//!
//! The fast paths ([`super::scan`], [`super::listener_scan`], [`super::owner_wire`]) read
//! route configurations, listeners and owner metadata straight from the request bytes instead
//! of decoding them with prost. They
//! must never accept bytes that prost would reject, so this reader is stricter than prost
//! wherever that is cheaper (groups, over-long varints, out-of-range keys) and never looser:
//! what it rejects only sends the caller to the exact, decoding path.
//!
//! `crate::wire::Fields` walks records too, but for splicing: it keeps each record's raw
//! extent and reports errors with offsets. This one only answers "the next record, or stop",
//! which is all a reader that falls back needs, and it is inlined into every caller.

/// Wire types, as protobuf numbers them.
pub(super) const VARINT: u8 = 0;
pub(super) const FIXED64: u8 = 1;
pub(super) const LEN: u8 = 2;
pub(super) const FIXED32: u8 = 5;

/// One record: field number, wire type, and the value's bytes (for `LEN`, after the length).
#[derive(Clone, Copy)]
pub(super) struct Record<'a> {
    pub(super) number: u32,
    pub(super) wire_type: u8,
    pub(super) payload: &'a [u8],
    /// The whole record, key and length included: where it lies in its message.
    pub(super) whole: &'a [u8],
}

impl<'a> Record<'a> {
    /// The payload of a length-delimited record; `None` for any other wire type, which prost
    /// rejects for a string, bytes or message field.
    #[inline(always)]
    pub(super) fn len(self) -> Option<&'a [u8]> {
        (self.wire_type == LEN).then_some(self.payload)
    }

    /// The payload as a protobuf `string` field, which prost accepts only as UTF-8.
    #[inline(always)]
    pub(super) fn text(self) -> Option<&'a str> {
        std::str::from_utf8(self.len()?).ok()
    }
}

/// A cursor over the records of one message.
pub(super) struct Reader<'a> {
    pub(super) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(message: &'a [u8]) -> Self {
        Self { rest: message }
    }

    /// The next record: `Some(None)` at the end, `None` where the bytes stop being records.
    #[inline(always)]
    pub(super) fn next(&mut self) -> Option<Option<Record<'a>>> {
        if self.rest.is_empty() {
            return Some(None);
        }
        let start = self.rest;
        // prost rejects keys beyond 32 bits and field number 0.
        let key = u32::try_from(self.varint()?).ok()?;
        let number = Some(key >> 3).filter(|n| *n > 0)?;
        let wire_type = (key & 7) as u8;
        let len = match wire_type {
            VARINT => {
                let before = self.rest;
                self.varint()?;
                return Some(Some(Record {
                    number,
                    wire_type,
                    payload: before.get(..before.len() - self.rest.len())?,
                    whole: start.get(..start.len() - self.rest.len())?,
                }));
            }
            FIXED64 => 8,
            FIXED32 => 4,
            LEN => usize::try_from(self.varint()?).ok()?,
            _ => return None, // groups (deprecated, never in xDS) and invalid types
        };
        if len > self.rest.len() {
            return None;
        }
        let (payload, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(Some(Record {
            number,
            wire_type,
            payload,
            whole: start.get(..start.len() - rest.len())?,
        }))
    }

    #[inline(always)]
    fn varint(&mut self) -> Option<u64> {
        let (&first, rest) = self.rest.split_first()?;
        if first < 0x80 {
            self.rest = rest;
            return Some(u64::from(first));
        }
        self.long_varint()
    }

    #[cold]
    fn long_varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for (i, byte) in self.rest.iter().take(10).enumerate() {
            if i == 9 && *byte > 1 {
                return None;
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.rest = self.rest.get(i + 1..)?;
                return Some(value);
            }
        }
        None
    }
}

/// Calls `each` with every record of `message`; false as soon as the bytes are bad or `each`
/// says so.
#[inline]
pub(super) fn all_records<'a>(message: &'a [u8], mut each: impl FnMut(Record<'a>) -> bool) -> bool {
    let mut reader = Reader::new(message);
    loop {
        match reader.next() {
            None => return false,
            Some(None) => return true,
            Some(Some(record)) => {
                if !each(record) {
                    return false;
                }
            }
        }
    }
}

/// The payloads of the `LEN` records numbered 1 (map entries, list values), in order; an item
/// is `None` where the bytes are bad.
pub(super) fn entries(message: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    let mut reader = Reader::new(message);
    std::iter::from_fn(move || {
        loop {
            match reader.next() {
                None => {
                    reader.rest = &[];
                    return Some(None);
                }
                Some(None) => return None,
                // Struct.fields and ListValue.values are both field 1.
                Some(Some(r)) if r.number == crate::xds::wkt::STRUCT_FIELDS => {
                    return Some(r.len());
                }
                Some(Some(_)) => {}
            }
        }
    })
}

/// A singular message field: its payload, read from exactly one record. A second record
/// would merge into the first in protobuf; the fast paths decline that (`None`) rather than
/// merge.
#[derive(Default)]
pub(super) struct Once<'a>(pub(super) Option<&'a [u8]>);

impl<'a> Once<'a> {
    #[inline(always)]
    pub(super) fn set(&mut self, record: Record<'a>) -> Option<()> {
        let payload = record.len()?;
        self.0.replace(payload).is_none().then_some(())
    }
}

/// Every one-byte corruption of `original` (each byte set to seven values, among them the
/// usual keys and lengths) and every truncation, each with what was done to it: what the fast
/// readers' tests hold against the exact, decoding path.
#[cfg(test)]
pub(super) fn corruptions(original: &[u8]) -> impl Iterator<Item = (String, Vec<u8>)> + '_ {
    let replaced = (0..original.len()).flat_map(move |at| {
        let flipped = original.get(at).map(|b| b ^ 0x01);
        let values = [0x00, 0x0a, 0x12, 0x1a, 0x2a, 0xff]
            .into_iter()
            .chain(flipped);
        values.map(move |value| {
            let mut bytes = original.to_vec();
            if let Some(byte) = bytes.get_mut(at) {
                *byte = value;
            }
            (format!("byte {at} set to {value:#x}"), bytes)
        })
    });
    let cut = (0..original.len()).map(move |at| {
        let bytes = original.get(..at).unwrap_or_default().to_vec();
        (format!("cut at {at}"), bytes)
    });
    replaced.chain(cut)
}

/// Holds a fast reader to its exact path over every corruption of each of `originals`
/// ([`corruptions`]): where the fast one answers, it must give the exact one's answer (both
/// shown with Debug). Returns how many it answered and how many it declined.
#[cfg(test)]
pub(super) fn hold_to_exact<'a>(
    originals: impl IntoIterator<Item = &'a bytes::Bytes>,
    fast: impl Fn(&bytes::Bytes) -> Option<String>,
    exact: impl Fn(&bytes::Bytes) -> String,
) -> (usize, usize) {
    let (mut answered, mut declined) = (0, 0);
    for original in originals {
        for (what, bytes) in corruptions(original) {
            let bytes = bytes::Bytes::from(bytes);
            match fast(&bytes) {
                Some(answer) => {
                    answered += 1;
                    assert_eq!(answer, exact(&bytes), "{what}");
                }
                None => declined += 1,
            }
        }
    }
    (answered, declined)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(message: &[u8]) -> Option<Vec<u32>> {
        let mut reader = Reader::new(message);
        let mut out = Vec::new();
        while let Some(record) = reader.next()? {
            out.push(record.number);
        }
        Some(out)
    }

    #[test]
    fn reads_each_wire_type() {
        let message = [
            0x08, 0x96, 0x01, // 1: varint 150
            0x11, 1, 2, 3, 4, 5, 6, 7, 8, // 2: fixed64
            0x1a, 0x02, b'h', b'i', // 3: "hi"
            0x25, 1, 2, 3, 4, // 4: fixed32
        ];
        assert_eq!(numbers(&message), Some(vec![1, 2, 3, 4]));
    }

    #[test]
    fn rejects_what_prost_rejects() {
        assert_eq!(numbers(&[0x00, 0x00]), None, "field number 0");
        assert_eq!(numbers(&[0x0b]), None, "start group");
        assert_eq!(numbers(&[0x0a, 0x05, b'x']), None, "length past the end");
        assert_eq!(numbers(&[0x08]), None, "varint cut short");
        // A key of 2^33 | LEN: prost refuses keys beyond u32.
        assert_eq!(numbers(&[0x82, 0x80, 0x80, 0x80, 0x20, 0x00]), None);
    }
}
