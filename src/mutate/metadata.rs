//! Writing string keys into one namespace of an `envoy.config.core.v3.Metadata`, on the wire.
//!
//! Routes (`aigw_route_name`) and upstream hosts (`per_route_rule_backend_name`,
//! `upstream_host`) both tell the processor something through metadata. The edit keeps every
//! other namespace and every other key byte for byte, updates our struct in place when it is
//! already there, and reports "no change" when the values are already right, so a second run
//! is a no-op.

use prost::Message;
use prost_types::{Struct, Value, value::Kind};

use crate::wire::{self, Payload, Splice, WireError};
use crate::xds::{MetadataView, map_entry};

/// String values to set under one `filter_metadata` namespace.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entries<'a> {
    /// The `filter_metadata` key.
    pub namespace: &'a str,
    /// Key/value pairs to set in that struct.
    pub values: &'a [(&'a str, &'a str)],
}

/// Sets `entries` in the `Metadata` field `field` of `message`, adding the field when absent.
/// Returns `None` when every value is already set.
pub(crate) fn set_in(
    message: &[u8],
    field: u32,
    entries: Entries<'_>,
) -> Result<Option<Vec<u8>>, WireError> {
    let splice = splice_in(message, field, entries)?;
    Ok((!splice.is_unchanged()).then(|| splice.to_vec()))
}

/// [`set_in`], left as a splice of `message` for a caller that edits it further or nests it in
/// an outer edit.
pub(crate) fn splice_in<'a>(
    message: &'a [u8],
    field: u32,
    entries: Entries<'_>,
) -> Result<Splice<'a>, WireError> {
    // Protobuf merges split metadata records (map entries: last wins), so making every record
    // carry the right values keeps the merged value right.
    let mut present = false;
    let spliced = wire::splice_len_fields(message, |number, _, md| {
        if number != field {
            return Ok(None);
        }
        present = true;
        Ok(set_in_metadata(md, entries)?.map(Payload::from))
    })?;
    let mut splice = spliced.unwrap_or_else(|| Splice::new(message));
    if !present {
        let mut md = Vec::new();
        put_entry(
            &mut md,
            entries.namespace,
            &with_values(Struct::default(), entries),
        );
        splice.append(field, &md);
    }
    Ok(splice)
}

/// Sets `entries` in one encoded `Metadata`; `None` when they are already set.
fn set_in_metadata(md: &[u8], entries: Entries<'_>) -> Result<Option<Vec<u8>>, WireError> {
    let mut ours: Option<(usize, Struct)> = None;
    for (i, entry) in wire::len_payloads(md, MetadataView::FILTER_METADATA).enumerate() {
        let entry = entry?;
        if wire::single_len(entry, map_entry::KEY)? == Some(entries.namespace.as_bytes()) {
            let value = wire::single_len(entry, map_entry::VALUE)?.unwrap_or_default();
            let decoded = Struct::decode(value).map_err(|source| WireError::Undecodable {
                what: format!("filter_metadata[{:?}]", entries.namespace),
                source,
            })?;
            ours = Some((i, decoded));
        }
    }
    match ours {
        None => {
            let mut out = md.to_vec();
            put_entry(
                &mut out,
                entries.namespace,
                &with_values(Struct::default(), entries),
            );
            Ok(Some(out))
        }
        Some((_, existing)) if has_values(&existing, entries) => Ok(None),
        Some((last, existing)) => {
            let updated = with_values(existing, entries);
            wire::rewrite_len_fields(md, |number, i, _| {
                Ok((number == MetadataView::FILTER_METADATA && i == last)
                    .then(|| entry(entries.namespace, &updated)))
            })
        }
    }
}

fn has_values(existing: &Struct, entries: Entries<'_>) -> bool {
    entries.values.iter().all(|(key, value)| {
        matches!(
            existing.fields.get(*key).and_then(|v| v.kind.as_ref()),
            Some(Kind::StringValue(found)) if found == value
        )
    })
}

fn with_values(mut existing: Struct, entries: Entries<'_>) -> Struct {
    for (key, value) in entries.values {
        existing.fields.insert(
            (*key).to_owned(),
            Value {
                kind: Some(Kind::StringValue((*value).to_owned())),
            },
        );
    }
    existing
}

/// A `filter_metadata` map entry: `namespace` → `value`.
fn entry(namespace: &str, value: &Struct) -> Vec<u8> {
    let mut entry = Vec::new();
    wire::put_len(&mut entry, map_entry::KEY, namespace.as_bytes());
    wire::put_len(&mut entry, map_entry::VALUE, &value.encode_to_vec());
    entry
}

fn put_entry(md: &mut Vec<u8>, namespace: &str, value: &Struct) {
    wire::put_len(md, MetadataView::FILTER_METADATA, &entry(namespace, value));
}
