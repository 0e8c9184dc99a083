//! Untyped `google.protobuf.Any` values in JSON.
//!
//! Envoy Gateway writes an `Any` with no type where only presence matters (for instance
//! `FilterConfig { config: {} }` in per-route filter configs), and proto3 JSON renders it as
//! `{}`. prost-reflect refuses such values in both directions, since it cannot resolve an empty
//! type URL. So, guided by the descriptors: on the way in, `{}` in an `Any` position becomes a
//! sentinel-typed `Any` and, once encoded, every sentinel is blanked again; on the way out,
//! every untyped `Any` in the binary becomes the sentinel and its JSON becomes `{}` again.

use prost_reflect::{Kind, MessageDescriptor};
use serde_json::{Map, Value};

use crate::wire::{self, WireError};
use crate::xds::AnyView;

/// Type URL standing for "no type". Resolves to `google.protobuf.Empty` (prost-reflect looks
/// only at the name after the last `/`), and no real resource uses this prefix.
const SENTINEL: &str = "xds-hook.invalid/google.protobuf.Empty";
const ANY: &str = "google.protobuf.Any";

/// Replaces `{}` in `Any` positions with the sentinel; returns how many were replaced.
pub(crate) fn mark_json(value: &mut Value, descriptor: &MessageDescriptor) -> usize {
    if descriptor.full_name() == ANY {
        return mark_any_json(value, descriptor);
    }
    if is_well_known(descriptor) {
        return 0;
    }
    let Value::Object(object) = value else {
        return 0;
    };
    let mut marked = 0;
    for (key, child) in object.iter_mut() {
        let field = descriptor
            .get_field_by_json_name(key)
            .or_else(|| descriptor.get_field_by_name(key));
        let Some(field) = field else { continue };
        let Kind::Message(message) = field.kind() else {
            continue;
        };
        if field.is_map() {
            let Kind::Message(value_type) = message.map_entry_value_field().kind() else {
                continue;
            };
            if let Value::Object(entries) = child {
                marked += entries
                    .values_mut()
                    .map(|v| mark_json(v, &value_type))
                    .sum::<usize>();
            }
        } else if field.is_list() {
            if let Value::Array(items) = child {
                marked += items
                    .iter_mut()
                    .map(|v| mark_json(v, &message))
                    .sum::<usize>();
            }
        } else {
            marked += mark_json(child, &message);
        }
    }
    marked
}

fn mark_any_json(value: &mut Value, any: &MessageDescriptor) -> usize {
    let Value::Object(object) = value else {
        return 0;
    };
    if object.is_empty() {
        // `Empty` is a well-known type, so its JSON inside an `Any` goes under "value".
        object.insert("@type".to_owned(), Value::String(SENTINEL.to_owned()));
        object.insert("value".to_owned(), Value::Object(Map::new()));
        return 1;
    }
    let inner = object.get("@type").and_then(Value::as_str).and_then(|url| {
        any.parent_pool()
            .get_message_by_name(crate::xds::type_name(url))
    });
    match inner {
        Some(inner) if !is_well_known(&inner) => mark_json(value, &inner),
        _ => 0,
    }
}

/// Turns sentinel `Any`s (as rendered in JSON) back into `{}`.
pub(crate) fn unmark_json(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.get("@type").and_then(Value::as_str) == Some(SENTINEL) {
                *object = Map::new();
                return;
            }
            object.values_mut().for_each(unmark_json);
        }
        Value::Array(items) => items.iter_mut().for_each(unmark_json),
        _ => {}
    }
}

/// Blanks every sentinel `Any` in an encoded message (the inverse of [`mark_json`]).
pub(crate) fn blank_sentinels(
    message: &[u8],
    descriptor: &MessageDescriptor,
) -> Result<Option<Vec<u8>>, WireError> {
    rewrite_anys(message, descriptor, &|type_url, value| {
        (type_url == SENTINEL.as_bytes() && value.is_empty()).then(Vec::new)
    })
}

/// Gives every untyped `Any` in an encoded message the sentinel type, so it can be rendered.
pub(crate) fn mark_untyped(
    message: &[u8],
    descriptor: &MessageDescriptor,
) -> Result<Option<Vec<u8>>, WireError> {
    rewrite_anys(message, descriptor, &|type_url, value| {
        (type_url.is_empty() && value.is_empty()).then(|| {
            let mut any = Vec::new();
            wire::put_len(&mut any, AnyView::TYPE_URL, SENTINEL.as_bytes());
            any
        })
    })
}

type AnyEdit = dyn Fn(&[u8], &[u8]) -> Option<Vec<u8>>;

/// Walks every message of `message` by its descriptor (into `Any` values by their type) and
/// lets `edit` replace whole `Any`s given their type URL and value.
fn rewrite_anys(
    message: &[u8],
    descriptor: &MessageDescriptor,
    edit: &AnyEdit,
) -> Result<Option<Vec<u8>>, WireError> {
    if descriptor.full_name() == ANY {
        let type_url = wire::single_len(message, AnyView::TYPE_URL)?.unwrap_or_default();
        let value = wire::single_len(message, AnyView::VALUE)?.unwrap_or_default();
        if let Some(replacement) = edit(type_url, value) {
            return Ok(Some(replacement));
        }
        let inner = std::str::from_utf8(type_url).ok().and_then(|url| {
            descriptor
                .parent_pool()
                .get_message_by_name(crate::xds::type_name(url))
        });
        let Some(inner) = inner.filter(|d| !is_well_known(d)) else {
            return Ok(None);
        };
        return wire::rewrite_len_fields(message, |number, _, payload| {
            if number == AnyView::VALUE {
                rewrite_anys(payload, &inner, edit)
            } else {
                Ok(None)
            }
        });
    }
    if is_well_known(descriptor) {
        return Ok(None);
    }
    wire::rewrite_len_fields(message, |number, _, payload| {
        let Some(field) = descriptor.get_field(number) else {
            return Ok(None);
        };
        match field.kind() {
            Kind::Message(child) => rewrite_anys(payload, &child, edit),
            _ => Ok(None),
        }
    })
}

/// `google.protobuf` types other than `Any` hold no `Any` we need to visit.
fn is_well_known(descriptor: &MessageDescriptor) -> bool {
    descriptor.package_name() == "google.protobuf" && descriptor.full_name() != ANY
}
