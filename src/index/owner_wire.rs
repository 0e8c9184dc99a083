//! The owner of a resource read straight off the wire: the index's fast path.
//!
//! [`super::owner::ownership`] decodes all of a resource's metadata into `prost_types::Struct`
//! trees (a `BTreeMap` and a `String` per key and value) and then reads three strings out of
//! one of them. On a fleet that is most of the index's time. This reads the same answer from
//! the encoded bytes: it validates every metadata entry exactly as prost would (so a resource
//! is malformed here exactly when it is malformed there), and extracts only the
//! `envoy-gateway` entry's `resources[0]`.
//!
//! Each byte is walked once: the `envoy-gateway` entry is validated while it is read.
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
        // Everything is validated once: the `envoy-gateway` entry while it is read, the
        // others (and an `envoy-gateway` entry a later one replaces, as in a map) here.
        let unread = if key == names::EG_METADATA.as_bytes() {
            eg.replace(value)
        } else {
            Some(value)
        };
        if unread.is_some_and(|value| !struct_ok(value, 0)) {
            return None;
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

/// A `Value`'s kind; a nested struct or list is only a slice here.
enum Kind<'a> {
    Null,
    Number,
    Text(&'a [u8]),
    Bool,
    Struct(&'a [u8]),
    List(&'a [u8]),
}

/// The kind of a `Value` (`Some(None)`: none set), with its wire type and UTF-8 checked but a
/// nested struct or list not looked into (the caller walks it); `None` for bad bytes or
/// several kinds, which protobuf would merge or override.
fn shallow_kind(value: &[u8]) -> Option<Option<Kind<'_>>> {
    let mut found = None;
    let mut reader = Reader::new(value);
    while let Some(f) = reader.next()? {
        let kind = match (f.number, f.wire_type) {
            (1, VARINT) => Kind::Null,
            (2, FIXED64) => Kind::Number,
            (3, LEN) if utf8(f.payload) => Kind::Text(f.payload),
            (4, VARINT) => Kind::Bool,
            (5, LEN) => Kind::Struct(f.payload),
            (6, LEN) => Kind::List(f.payload),
            (1..=6, _) => return None,
            _ => continue,
        };
        if found.replace(kind).is_some() {
            return None;
        }
    }
    Some(found)
}

/// [`shallow_kind`], with a nested struct or list validated too.
fn checked_kind(value: &[u8], depth: usize) -> Option<Option<Kind<'_>>> {
    let kind = shallow_kind(value)?;
    let nested_ok = match &kind {
        Some(Kind::Struct(fields)) => struct_ok(fields, depth + 1),
        Some(Kind::List(values)) => list_ok(values, depth + 1),
        _ => true,
    };
    nested_ok.then_some(kind)
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

/// Walks a `Struct`'s entries once: the values of `keys` are returned (a later entry for a key
/// replacing an earlier one, as in a map), every other value, and every replaced one, is
/// validated.
fn pick<'a, const N: usize>(
    fields: &'a [u8],
    keys: [&str; N],
    depth: usize,
) -> Option<[Option<&'a [u8]>; N]> {
    let mut found = [None; N];
    for entry in entries(fields) {
        let (key, value) = map_entry(entry?)?;
        let slot = keys
            .iter()
            .position(|k| k.as_bytes() == key)
            .and_then(|i| found.get_mut(i));
        let unread = match slot {
            Some(slot) => slot.replace(value),
            None => Some(value),
        };
        if unread.is_some_and(|value| !value_ok(value, depth + 1)) {
            return None;
        }
    }
    Some(found)
}

type Read<T> = Option<Result<T, String>>;

/// `resources[0]` of the `envoy-gateway` struct, as the exact path reads it, validating
/// everything else on the way: one walk of the bytes.
fn owner(eg: &[u8]) -> Read<Option<Owner>> {
    let [resources] = pick(eg, ["resources"], 0)?;
    let Some(resources) = resources else {
        return Some(Ok(None));
    };
    let list = match shallow_kind(resources)? {
        Some(Kind::List(list)) => list,
        other => {
            return value_ok(resources, 1)
                .then(|| Err(format!("resources is {}, not a list", kind_name(&other))));
        }
    };
    let mut first = None;
    for value in entries(list) {
        let value = value?;
        if first.is_none() {
            first = Some(value);
        } else if !value_ok(value, 3) {
            return None;
        }
    }
    let Some(first) = first else {
        return Some(Ok(None));
    };
    let entry = match shallow_kind(first)? {
        Some(Kind::Struct(entry)) => entry,
        other => {
            return value_ok(first, 3).then(|| {
                Err(format!(
                    "resources[0] is {}, not a struct",
                    kind_name(&other)
                ))
            });
        }
    };
    let [kind_v, name, namespace, section, annotations_v] = pick(
        entry,
        ["kind", "name", "namespace", "sectionName", "annotations"],
        4,
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

fn text(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

fn text_field(key: &str, value: Option<&[u8]>) -> Read<Option<String>> {
    let Some(value) = value else {
        return Some(Ok(None));
    };
    Some(match checked_kind(value, 5)? {
        None | Some(Kind::Null) => Ok(None),
        Some(Kind::Text(bytes)) => Ok(Some(text(bytes)?)),
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
    let map = match shallow_kind(value)? {
        Some(Kind::Struct(map)) => map,
        None | Some(Kind::Null) => return Some(Ok(BTreeMap::new())),
        other => {
            return value_ok(value, 5).then(|| {
                Err(format!(
                    "resources[0].annotations is {}, not a struct",
                    kind_name(&other)
                ))
            });
        }
    };
    let mut annotations = BTreeMap::new();
    for entry in entries(map) {
        let (key, value) = map_entry(entry?)?;
        let annotation = match checked_kind(value, 7)? {
            Some(Kind::Text(bytes)) => Annotation::Text(text(bytes)?),
            other => Annotation::Other(kind_name(&other)),
        };
        annotations.insert(text(key)?, annotation); // a later entry replaces, as in a map
    }
    Some(Ok(annotations))
}
