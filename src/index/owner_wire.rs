//! The owner of a resource read straight off the wire: the index's fast path.
//!
//! [`super::owner::ownership`] decodes all of a resource's metadata into `prost_types::Struct`
//! trees (a `BTreeMap` and a `String` per key and value) and then reads three strings out of
//! one of them. On a fleet that is most of the index's time. This reads the same answer from
//! the encoded bytes: it validates every metadata entry exactly as prost would (so a resource
//! is malformed here exactly when it is malformed there), and extracts only the
//! `envoy-gateway` entry's `resources[0]`.
//!
//! It answers only for canonical encodings: anything protobuf gives merge or override meaning
//! (a map entry with its key or value twice, a `Value` with two kinds) or that it cannot
//! judge cheaply (deep nesting) returns `None`, and the caller takes the exact, decoding path.
//! EG never writes such metadata, so the fallback costs nothing in practice.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::owner::{Annotation, Owner, Ownership};
use crate::xds::names;

/// Nesting (structs, values, lists) judged here; deeper metadata takes the exact path, well
/// before prost's own recursion limit.
const MAX_DEPTH: usize = 32;

/// The owner recorded in a resource's `filter_metadata` map entries (the raw entries of every
/// `metadata` record, in wire order), or `None` to ask for the exact path.
pub(super) fn ownership(entries: &[Bytes]) -> Option<Ownership> {
    let mut eg = None;
    for entry in entries {
        let (key, value) = map_entry(entry)?;
        if !struct_ok(value, 0) {
            return None;
        }
        if key == names::EG_METADATA.as_bytes() {
            eg = Some(value); // a later entry with the same key replaces, as in a map
        }
    }
    let Some(eg) = eg else {
        return Some(Ownership::Unknown);
    };
    Some(match owner(eg)? {
        Ok(Some(owner)) => Ownership::Owned(owner),
        Ok(None) => Ownership::Unknown,
        Err(problem) => Ownership::Malformed(problem),
    })
}

/// Wire types, as protobuf numbers them.
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

/// One record: field number, wire type, and the value's bytes (for `LEN`, after the length).
#[derive(Clone, Copy)]
struct Record<'a> {
    number: u32,
    wire_type: u8,
    payload: &'a [u8],
}

/// A cursor over the records of one message. Stricter than prost where that is cheaper
/// (groups, over-long varints), never looser: what it rejects only sends the caller to the
/// exact path.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(message: &'a [u8]) -> Self {
        Self { rest: message }
    }

    /// The next record: `Some(None)` at the end, `None` where the bytes stop being records.
    #[inline(always)]
    fn next(&mut self) -> Option<Option<Record<'a>>> {
        if self.rest.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).ok().filter(|n| *n > 0)?;
        let wire_type = (key & 7) as u8;
        let len = match wire_type {
            VARINT => {
                let before = self.rest;
                self.varint()?;
                return Some(Some(Record {
                    number,
                    wire_type,
                    payload: before.get(..before.len() - self.rest.len())?,
                }));
            }
            FIXED64 => 8,
            FIXED32 => 4,
            LEN => usize::try_from(self.varint()?).ok()?,
            _ => return None, // groups (deprecated, never in a Struct) and invalid types
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
fn all_records<'a>(message: &'a [u8], mut each: impl FnMut(Record<'a>) -> bool) -> bool {
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
fn entries(message: &[u8]) -> impl Iterator<Item = Option<&[u8]>> {
    let mut reader = Reader::new(message);
    std::iter::from_fn(move || {
        loop {
            match reader.next() {
                None => {
                    reader.rest = &[];
                    return Some(None);
                }
                Some(None) => return None,
                Some(Some(r)) if r.number == 1 => {
                    return Some((r.wire_type == LEN).then_some(r.payload));
                }
                Some(Some(_)) => {}
            }
        }
    })
}

fn is_len(record: &Record<'_>) -> bool {
    record.wire_type == LEN
}

/// Whether prost accepts `bytes` as a `string` (the ASCII test first: it is most keys).
#[inline]
fn utf8(bytes: &[u8]) -> bool {
    bytes.is_ascii() || std::str::from_utf8(bytes).is_ok()
}

/// A map entry's key and value, absent parts being empty; `None` if a part is repeated, has
/// the wrong wire type, or the key is not UTF-8.
#[inline]
fn map_entry(entry: &[u8]) -> Option<(&[u8], &[u8])> {
    let (mut key, mut value) = (None, None);
    let mut reader = Reader::new(entry);
    while let Some(field) = reader.next()? {
        let slot = match field.number {
            1 => &mut key,
            2 => &mut value,
            _ => continue,
        };
        if slot.is_some() || !is_len(&field) {
            return None;
        }
        *slot = Some(field.payload);
    }
    let key = key.unwrap_or_default();
    utf8(key).then_some((key, value.unwrap_or_default()))
}

/// Whether prost would decode `bytes` as a `google.protobuf.Struct` (conservatively).
fn struct_ok(bytes: &[u8], depth: usize) -> bool {
    depth < MAX_DEPTH
        && all_records(bytes, |f| {
            f.number != 1
                || (is_len(&f)
                    && map_entry(f.payload).is_some_and(|(_, value)| value_ok(value, depth + 1)))
        })
}

/// Whether prost would decode `bytes` as a `google.protobuf.Value` (conservatively).
fn value_ok(bytes: &[u8], depth: usize) -> bool {
    depth < MAX_DEPTH
        && all_records(bytes, |f| match f.number {
            1 | 4 => f.wire_type == VARINT,
            2 => f.wire_type == FIXED64,
            3 => is_len(&f) && std::str::from_utf8(f.payload).is_ok(),
            5 => is_len(&f) && struct_ok(f.payload, depth + 1),
            6 => is_len(&f) && list_ok(f.payload, depth + 1),
            _ => true,
        })
}

/// Whether prost would decode `bytes` as a `google.protobuf.ListValue` (conservatively).
fn list_ok(bytes: &[u8], depth: usize) -> bool {
    depth < MAX_DEPTH
        && all_records(bytes, |f| {
            f.number != 1 || (is_len(&f) && value_ok(f.payload, depth + 1))
        })
}

/// A validated `Value`'s kind.
enum Kind<'a> {
    Null,
    Number,
    Text(&'a [u8]),
    Bool,
    Struct(&'a [u8]),
    List(&'a [u8]),
}

/// The kind of a validated `Value` (`Some(None)`: no kind set); `None` when it has several
/// kind records, which protobuf merges or overrides.
fn kind(value: &[u8]) -> Option<Option<Kind<'_>>> {
    let mut found = None;
    let mut reader = Reader::new(value);
    while let Some(f) = reader.next()? {
        let kind = match f.number {
            1 => Kind::Null,
            2 => Kind::Number,
            3 => Kind::Text(f.payload),
            4 => Kind::Bool,
            5 => Kind::Struct(f.payload),
            6 => Kind::List(f.payload),
            _ => continue,
        };
        if found.replace(kind).is_some() {
            return None;
        }
    }
    Some(found)
}

/// The same words as the exact path uses.
fn kind_name(kind: &Option<Kind<'_>>) -> &'static str {
    match kind {
        None | Some(Kind::Null) => "null",
        Some(Kind::Number) => "a number",
        Some(Kind::Text(_)) => "a string",
        Some(Kind::Bool) => "a bool",
        Some(Kind::Struct(_)) => "a struct",
        Some(Kind::List(_)) => "a list",
    }
}

/// The values of `keys` in a validated `Struct`, the last entry for a key winning.
fn lookup<'a, const N: usize>(fields: &'a [u8], keys: [&str; N]) -> Option<[Option<&'a [u8]>; N]> {
    let mut found = [None; N];
    for entry in entries(fields) {
        let (key, value) = map_entry(entry?)?;
        for (wanted, slot) in keys.iter().zip(found.iter_mut()) {
            if wanted.as_bytes() == key {
                *slot = Some(value);
            }
        }
    }
    Some(found)
}

type Read<T> = Option<Result<T, String>>;

/// `resources[0]` of a validated `envoy-gateway` struct, as the exact path reads it.
fn owner(eg: &[u8]) -> Read<Option<Owner>> {
    let [resources] = lookup(eg, ["resources"])?;
    let Some(resources) = resources else {
        return Some(Ok(None));
    };
    let list = match kind(resources)? {
        Some(Kind::List(list)) => list,
        other => {
            return Some(Err(format!(
                "resources is {}, not a list",
                kind_name(&other)
            )));
        }
    };
    let Some(first) = entries(list).next() else {
        return Some(Ok(None));
    };
    let entry = match kind(first?)? {
        Some(Kind::Struct(entry)) => entry,
        other => {
            return Some(Err(format!(
                "resources[0] is {}, not a struct",
                kind_name(&other)
            )));
        }
    };
    let [kind_v, name, namespace, section, annotations_v] = lookup(
        entry,
        ["kind", "name", "namespace", "sectionName", "annotations"],
    )?;
    macro_rules! text {
        ($key:literal, $value:expr) => {
            match text_field($key, $value)? {
                Ok(text) => text,
                Err(problem) => return Some(Err(problem)),
            }
        };
    }
    let kind_s = text!("kind", kind_v);
    let name = text!("name", name);
    let namespace = text!("namespace", namespace);
    let section_name = text!("sectionName", section);
    let annotations = match annotations(annotations_v)? {
        Ok(annotations) => annotations,
        Err(problem) => return Some(Err(problem)),
    };
    Some(Ok(Some(Owner {
        kind: kind_s.unwrap_or_default(),
        name: name.unwrap_or_default(),
        namespace: namespace.unwrap_or_default(),
        section_name,
        annotations,
    })))
}

fn text_field(key: &str, value: Option<&[u8]>) -> Read<Option<String>> {
    let Some(value) = value else {
        return Some(Ok(None));
    };
    Some(match kind(value)? {
        None | Some(Kind::Null) => Ok(None),
        Some(Kind::Text(text)) => Ok(Some(std::str::from_utf8(text).ok()?.to_owned())),
        other => Err(format!(
            "resources[0].{key} is {}, not a string",
            kind_name(&other)
        )),
    })
}

fn annotations(value: Option<&[u8]>) -> Read<BTreeMap<String, Annotation>> {
    let Some(value) = value else {
        return Some(Ok(BTreeMap::new()));
    };
    let map = match kind(value)? {
        Some(Kind::Struct(map)) => map,
        None | Some(Kind::Null) => return Some(Ok(BTreeMap::new())),
        other => {
            return Some(Err(format!(
                "resources[0].annotations is {}, not a struct",
                kind_name(&other)
            )));
        }
    };
    let mut annotations = BTreeMap::new();
    for entry in entries(map) {
        let (key, value) = map_entry(entry?)?;
        let annotation = match kind(value)? {
            Some(Kind::Text(text)) => Annotation::Text(std::str::from_utf8(text).ok()?.to_owned()),
            other => Annotation::Other(kind_name(&other)),
        };
        annotations.insert(std::str::from_utf8(key).ok()?.to_owned(), annotation);
    }
    Some(Ok(annotations))
}
