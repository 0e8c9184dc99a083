//! The protobuf wire format, read and spliced without a schema.
//!
//! The hook must hand back every resource it does not change byte for byte, and must keep
//! fields newer than our compiled Envoy API in the resources it does change. Decoding into
//! typed structs and re-encoding would lose both. So edits happen here, on the wire: a message
//! is rebuilt by copying every record verbatim except the few on the path to the change, whose
//! length prefixes are recomputed. Only the bytes on that path are ever rewritten.
//!
//! This module knows nothing of Envoy; it only walks records (`Fields`) and writes them.

mod splice;

pub use splice::rewrite_len_fields;
pub(crate) use splice::{Payload, Splice, rewrite_single, splice_len_fields, splice_single};

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
        reason: BadRecord,
    },
    /// A payload that must be a message does not decode as one.
    #[error("{what} does not decode: {source}")]
    Undecodable {
        /// Which payload (`filter_metadata["aigateway.envoy.io"]`).
        what: String,
        /// Why.
        source: prost::DecodeError,
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

/// Why bytes are not a protobuf record where one should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadRecord {
    /// The key, a varint or a group does not decode.
    #[error("{0}")]
    Decode(#[from] prost::DecodeError),
    /// A length too large for this machine.
    #[error("length overflows usize")]
    LengthOverflow,
    /// An end-group record without its start.
    #[error("unexpected end-group record")]
    EndGroup,
    /// A record longer than what is left of the message.
    #[error("field {0} runs past the end of the message")]
    PastEnd(u32),
    /// A position given from outside does not lie within the message.
    #[error("record lies outside the message")]
    OutsideMessage,
    /// A position given from outside is not exactly one length-delimited record.
    #[error("not one length-delimited record")]
    NotOneLenRecord,
    /// Edits given out of order, or outside the message.
    #[error("edit out of order or outside the message")]
    EditOutOfOrder,
}

/// Splits the first record off `buf`.
fn split_record(buf: &[u8]) -> Result<(Field<'_>, &[u8]), BadRecord> {
    let mut cursor = buf;
    let (number, wire_type) = decode_key(&mut cursor)?;
    let key_len = buf.len() - cursor.len();
    let (payload_start, payload_len) = match wire_type {
        WireType::Varint => {
            decode_varint(&mut cursor)?;
            (key_len, buf.len() - cursor.len() - key_len)
        }
        WireType::SixtyFourBit => (key_len, 8),
        WireType::ThirtyTwoBit => (key_len, 4),
        WireType::LengthDelimited => {
            let len = decode_varint(&mut cursor)?;
            let len = usize::try_from(len).map_err(|_| BadRecord::LengthOverflow)?;
            (buf.len() - cursor.len(), len)
        }
        WireType::StartGroup => {
            skip_field(wire_type, number, &mut cursor, DecodeContext::default())?;
            (key_len, buf.len() - cursor.len() - key_len)
        }
        WireType::EndGroup => return Err(BadRecord::EndGroup),
    };
    let end = payload_start
        .checked_add(payload_len)
        .filter(|end| *end <= buf.len())
        .ok_or(BadRecord::PastEnd(number))?;
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
pub(crate) fn single_len(message: &[u8], number: u32) -> Result<Option<&[u8]>, WireError> {
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
pub(crate) fn set_varint(
    message: &[u8],
    number: u32,
    value: u64,
) -> Result<Option<Vec<u8>>, WireError> {
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

/// Counts records per field number, for occurrence indices.
#[derive(Debug, Default)]
pub(crate) struct Occurrences(Vec<(u32, usize)>);

impl Occurrences {
    /// Returns the occurrence index of the next record numbered `number`.
    pub(crate) fn next(&mut self, number: u32) -> usize {
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
mod tests;
