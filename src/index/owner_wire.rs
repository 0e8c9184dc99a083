//! The owner of a resource read straight off the wire: the index's fast path.
//!
//! [`super::owner::ownership`] decodes all of a resource's metadata into `prost_types::Struct`
//! trees (a `BTreeMap` and a `String` per key and value) and then reads three strings out of
//! one of them. This reads the same answer from the encoded bytes, for the owners
//! [`super::owner_metadata`] is asked for: it validates every metadata entry exactly as prost would (so a resource
//! is malformed here exactly when it is malformed there), and extracts only the
//! `envoy-gateway` entry's `resources[0]`.
//!
//! Each byte is walked once: the `envoy-gateway` entry is validated while it is read.
//!
//! It answers only for canonical encodings: anything protobuf gives merge or override meaning
//! (a map entry with its key or value twice, a `Value` with two kinds) or that it cannot
//! judge cheaply (deep nesting) returns `None`, and the caller takes the exact, decoding path.
//! EG never writes such metadata, so the fallback costs nothing in practice.

use super::error::InvalidField;
use super::owner::{Annotation, Annotations, Owner, Ownership, resources_path, wrong_kind};
use super::records::{FIXED64, LEN, Reader, Record, VARINT, all_records, entries};
use crate::xds::wkt::{
    BOOL_VALUE, LIST_VALUE, LIST_VALUES, NULL_VALUE, NUMBER_VALUE, STRING_VALUE, STRUCT_FIELDS,
    STRUCT_VALUE,
};
use crate::xds::{map_entry, names};

/// The first byte of a length-delimited record of field `number` (below 16).
const fn len_tag(number: u32) -> u8 {
    // A field number below 16 and wire type 2 fit one byte.
    ((number << 3) | 2) as u8
}

const KEY_TAG: u8 = len_tag(map_entry::KEY);
const VALUE_TAG: u8 = len_tag(map_entry::VALUE);
const STRING_TAG: u8 = len_tag(STRING_VALUE);
const STRUCT_TAG: u8 = len_tag(STRUCT_VALUE);
const LIST_TAG: u8 = len_tag(LIST_VALUE);

/// Nesting (structs, values, lists) judged here; deeper metadata takes the exact path, well
/// before prost's own recursion limit.
const MAX_DEPTH: usize = 32;

/// The owner recorded in an encoded `envoy.config.core.v3.Metadata`, or `None` to ask for the
/// exact path.
pub(super) fn ownership(metadata: &[u8]) -> Option<Ownership> {
    let mut eg = None;
    let mut reader = Reader::new(metadata);
    while let Some(record) = reader.next()? {
        if record.number != 1 {
            continue; // `typed_filter_metadata` and newer fields: not read, as in prost
        }
        let (key, value) = map_entry(record.len()?)?;
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
    match owner(eg)? {
        Ok(Some(owner)) => Some(Ownership::Owned(owner)),
        Ok(None) => Some(Ownership::Unknown),
        // A malformed owner is named by the exact reader: this one stops at the first wrong
        // field it needs, which may lie after bytes prost cannot decode at all (the
        // `readers_owner` fuzz target found one), and errors are rare enough to read twice.
        Err(_) => None,
    }
}

fn is_len(record: &Record<'_>) -> bool {
    record.wire_type == LEN
}

/// Whether prost accepts `bytes` as a `string`. Keys are short ASCII words, checked here with
/// two overlapping loads instead of a loop whose exit the branch predictor cannot guess.
#[inline]
fn utf8(bytes: &[u8]) -> bool {
    short_ascii(bytes) || std::str::from_utf8(bytes).is_ok()
}

/// Whether `bytes` is at most 16 bytes long and ASCII.
#[inline(always)]
fn short_ascii(bytes: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = if let (Some(head), Some(tail)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>())
    {
        if bytes.len() > 16 {
            return false;
        }
        u64::from_le_bytes(*head) | u64::from_le_bytes(*tail)
    } else if let (Some(head), Some(tail)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        u64::from(u32::from_le_bytes(*head) | u32::from_le_bytes(*tail))
    } else {
        // 0 to 3 bytes: the first, middle and last cover them all.
        let at = |i: usize| bytes.get(i).copied().map_or(0, u64::from);
        at(0) | at(bytes.len() / 2) | at(bytes.len().wrapping_sub(1))
    };
    word & HIGH == 0
}

/// A length-delimited record's payload when it is the whole of `record` with a one- or
/// two-byte length: the shape every encoder writes for EG's metadata.
#[inline(always)]
fn exact_payload(after_key: &[u8]) -> Option<&[u8]> {
    let (len, payload) = match after_key {
        [len, payload @ ..] if *len < 0x80 => (usize::from(*len), payload),
        [low, high, payload @ ..] if *high < 0x80 => {
            (usize::from(low & 0x7f) | usize::from(*high) << 7, payload)
        }
        _ => return None,
    };
    (len == payload.len()).then_some(payload)
}

/// A map entry's key and value, absent parts being empty; `None` if a part is repeated, has
/// the wrong wire type, or the key is not UTF-8.
#[inline]
fn map_entry(entry: &[u8]) -> Option<(&[u8], &[u8])> {
    // The usual shape first, straight-line: key record (one-byte length), value record, end.
    if let [KEY_TAG, key_len, rest @ ..] = entry
        && let Some((key, [VALUE_TAG, value @ ..])) = rest.split_at_checked(usize::from(*key_len))
        && *key_len < 0x80
        && let Some(value) = exact_payload(value)
    {
        return utf8(key).then_some((key, value));
    }
    let (mut key, mut value) = (None, None);
    let mut reader = Reader::new(entry);
    while let Some(field) = reader.next()? {
        let slot = match field.number {
            map_entry::KEY => &mut key,
            map_entry::VALUE => &mut value,
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
            f.number != STRUCT_FIELDS
                || (is_len(&f)
                    && map_entry(f.payload).is_some_and(|(_, value)| value_ok(value, depth + 1)))
        })
}

/// Whether prost would decode `bytes` as a `google.protobuf.Value` (conservatively).
fn value_ok(bytes: &[u8], depth: usize) -> bool {
    depth < MAX_DEPTH
        && all_records(bytes, |f| match f.number {
            NULL_VALUE | BOOL_VALUE => f.wire_type == VARINT,
            NUMBER_VALUE => f.wire_type == FIXED64,
            STRING_VALUE => is_len(&f) && std::str::from_utf8(f.payload).is_ok(),
            STRUCT_VALUE => is_len(&f) && struct_ok(f.payload, depth + 1),
            LIST_VALUE => is_len(&f) && list_ok(f.payload, depth + 1),
            _ => true,
        })
}

/// Whether prost would decode `bytes` as a `google.protobuf.ListValue` (conservatively).
fn list_ok(bytes: &[u8], depth: usize) -> bool {
    depth < MAX_DEPTH
        && all_records(bytes, |f| {
            f.number != LIST_VALUES || (is_len(&f) && value_ok(f.payload, depth + 1))
        })
}

/// A `Value`'s kind; a nested struct or list is only a slice here.
enum Kind<'a> {
    Null,
    Number,
    Text(&'a str),
    Bool,
    Struct(&'a [u8]),
    List(&'a [u8]),
}

/// The kind of a `Value` (`Some(None)`: none set), with its wire type and UTF-8 checked but a
/// nested struct or list not looked into (the caller walks it); `None` for bad bytes or
/// several kinds, which protobuf would merge or override.
fn shallow_kind(value: &[u8]) -> Option<Option<Kind<'_>>> {
    // The usual shape first: one string, struct or list record and nothing else.
    if let [tag @ (STRING_TAG | STRUCT_TAG | LIST_TAG), rest @ ..] = value
        && let Some(payload) = exact_payload(rest)
    {
        return Some(Some(match *tag {
            STRING_TAG => Kind::Text(std::str::from_utf8(payload).ok()?),
            STRUCT_TAG => Kind::Struct(payload),
            _ => Kind::List(payload),
        }));
    }
    let mut found = None;
    let mut reader = Reader::new(value);
    while let Some(f) = reader.next()? {
        let kind = match (f.number, f.wire_type) {
            (NULL_VALUE, VARINT) => Kind::Null,
            (NUMBER_VALUE, FIXED64) => Kind::Number,
            (STRING_VALUE, LEN) => Kind::Text(std::str::from_utf8(f.payload).ok()?),
            (BOOL_VALUE, VARINT) => Kind::Bool,
            (STRUCT_VALUE, LEN) => Kind::Struct(f.payload),
            (LIST_VALUE, LEN) => Kind::List(f.payload),
            (NULL_VALUE..=LIST_VALUE, _) => return None,
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

type Read<T> = Option<Result<T, InvalidField>>;

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
                .then(|| Err(wrong_kind(resources_path(), "a list", kind_name(&other))));
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
                Err(wrong_kind(
                    resources_path().index(0),
                    "a struct",
                    kind_name(&other),
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
        kind: super::owner::kind(kind_s.unwrap_or_default()),
        name: name.unwrap_or_default().to_owned(),
        namespace: namespace.unwrap_or_default().to_owned(),
        section_name: section_name.map(str::to_owned),
        annotations,
    })))
}

fn text(bytes: &[u8]) -> Option<String> {
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

fn text_field<'a>(key: &'static str, value: Option<&'a [u8]>) -> Read<Option<&'a str>> {
    let Some(value) = value else {
        return Some(Ok(None));
    };
    Some(match checked_kind(value, 5)? {
        None | Some(Kind::Null) => Ok(None),
        Some(Kind::Text(text)) => Ok(Some(text)),
        other => Err(wrong_kind(
            resources_path().index(0).field(key),
            "a string",
            kind_name(&other),
        )),
    })
}

fn annotations(value: Option<&[u8]>) -> Read<Annotations> {
    let Some(value) = value else {
        return Some(Ok(Annotations::default()));
    };
    let map = match shallow_kind(value)? {
        Some(Kind::Struct(map)) => map,
        None | Some(Kind::Null) => return Some(Ok(Annotations::default())),
        other => {
            return value_ok(value, 5).then(|| {
                Err(wrong_kind(
                    resources_path().index(0).field("annotations"),
                    "a struct",
                    kind_name(&other),
                ))
            });
        }
    };
    let mut annotations = Annotations::default();
    for entry in entries(map) {
        let (key, value) = map_entry(entry?)?;
        let annotation = match checked_kind(value, 7)? {
            Some(Kind::Text(text)) => Annotation::Text(text.to_owned()),
            other => Annotation::Other(kind_name(&other)),
        };
        annotations.insert(text(key)?, annotation); // a later entry replaces, as in a map
    }
    Some(Ok(annotations))
}
