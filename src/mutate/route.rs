//! Patching route configurations: enable the processor on each selected route and tell the
//! processor which route it is serving.
//!
//! A selected route gets `typed_per_filter_config[<filter>]` (an empty `FilterConfig`, which
//! enables the disabled filter there) and `metadata.filter_metadata["aigateway.envoy.io"]
//! .aigw_route_name`. Both are additions on the wire; existing entries under the same keys are
//! respected (an existing per-filter config is kept, an existing metadata struct is updated in
//! place), so running twice changes nothing. Unselected routes are copied untouched.

use prost::Message;
use prost_types::{Struct, Value, value::Kind};

use crate::select::{RouteConfigDecision, RouteDecision};
use crate::wire::{self, WireError};
use crate::xds::{metadata, route, route_configuration, virtual_host};

use super::{Artifacts, ROUTE_METADATA_NAMESPACE, ROUTE_NAME_KEY};

/// Returns the patched route configuration, or `None` when it needs no change.
pub fn patch(
    route_config: &[u8],
    decision: &RouteConfigDecision,
    artifacts: &Artifacts,
) -> Result<Option<Vec<u8>>, WireError> {
    if decision.selected == 0 {
        return Ok(None);
    }
    wire::rewrite_len_fields(route_config, |number, vhost_index, vhost| {
        if number != route_configuration::VIRTUAL_HOSTS {
            return Ok(None);
        }
        match decision.virtual_hosts.get(vhost_index) {
            Some(routes)
                if routes
                    .iter()
                    .any(|r| matches!(r, RouteDecision::Selected(_))) =>
            {
                patch_virtual_host(vhost, routes, artifacts)
            }
            _ => Ok(None),
        }
    })
}

fn patch_virtual_host(
    vhost: &[u8],
    routes: &[RouteDecision],
    artifacts: &Artifacts,
) -> Result<Option<Vec<u8>>, WireError> {
    wire::rewrite_len_fields(vhost, |number, route_index, route_bytes| {
        if number != virtual_host::ROUTES {
            return Ok(None);
        }
        match routes.get(route_index) {
            Some(RouteDecision::Selected(route_name)) => {
                patch_route(route_bytes, route_name, artifacts)
            }
            _ => Ok(None),
        }
    })
}

/// Enables the processor on one route; `None` when it already is.
pub fn patch_route(
    route_bytes: &[u8],
    route_name: &str,
    artifacts: &Artifacts,
) -> Result<Option<Vec<u8>>, WireError> {
    let has_filter_config = per_filter_config_keys(route_bytes)
        .any(|key| key.is_ok_and(|k| k == artifacts.filter_name.as_bytes()));
    let metadata_records = wire::len_payloads(route_bytes, route::METADATA).count();

    let mut out = if metadata_records == 0 {
        None
    } else {
        // Protobuf merges split metadata records (map entries: last wins), so making every
        // record carry the right value keeps the merged value right.
        wire::rewrite_len_fields(route_bytes, |number, _, md| {
            if number == route::METADATA {
                set_route_name_in_metadata(md, route_name)
            } else {
                Ok(None)
            }
        })?
    };
    if metadata_records == 0 {
        let buf = out.get_or_insert_with(|| route_bytes.to_vec());
        let mut md = Vec::new();
        put_route_name_entry(&mut md, &route_name_struct(Struct::default(), route_name));
        wire::put_len(buf, route::METADATA, &md);
    }
    if !has_filter_config {
        let buf = out.get_or_insert_with(|| route_bytes.to_vec());
        let mut entry =
            Vec::with_capacity(artifacts.filter_name.len() + artifacts.enable_on_route.len() + 8);
        wire::put_len(
            &mut entry,
            metadata::MAP_KEY,
            artifacts.filter_name.as_bytes(),
        );
        wire::put_len(&mut entry, metadata::MAP_VALUE, &artifacts.enable_on_route);
        wire::put_len(buf, route::TYPED_PER_FILTER_CONFIG, &entry);
    }
    Ok(out)
}

fn per_filter_config_keys(route_bytes: &[u8]) -> impl Iterator<Item = Result<&[u8], WireError>> {
    wire::len_payloads(route_bytes, route::TYPED_PER_FILTER_CONFIG).map(|entry| {
        entry.and_then(|e| Ok(wire::single_len(e, metadata::MAP_KEY)?.unwrap_or_default()))
    })
}

/// Sets `aigw_route_name` in one `Metadata` record; `None` when it is already right.
fn set_route_name_in_metadata(md: &[u8], route_name: &str) -> Result<Option<Vec<u8>>, WireError> {
    let mut ours: Option<(usize, Struct)> = None;
    for (i, entry) in wire::len_payloads(md, metadata::FILTER_METADATA).enumerate() {
        let entry = entry?;
        if wire::single_len(entry, metadata::MAP_KEY)? == Some(ROUTE_METADATA_NAMESPACE.as_bytes())
        {
            let value = wire::single_len(entry, metadata::MAP_VALUE)?.unwrap_or_default();
            let decoded = Struct::decode(value).map_err(|e| WireError::Malformed {
                offset: 0,
                reason: format!("filter_metadata[{ROUTE_METADATA_NAMESPACE:?}]: {e}"),
            })?;
            ours = Some((i, decoded));
        }
    }
    match ours {
        None => {
            let mut out = md.to_vec();
            put_route_name_entry(&mut out, &route_name_struct(Struct::default(), route_name));
            Ok(Some(out))
        }
        Some((_, existing)) if has_route_name(&existing, route_name) => Ok(None),
        Some((last, existing)) => {
            let updated = route_name_struct(existing, route_name);
            wire::rewrite_len_fields(md, |number, i, _| {
                Ok((number == metadata::FILTER_METADATA && i == last)
                    .then(|| route_name_entry(&updated)))
            })
        }
    }
}

fn has_route_name(existing: &Struct, route_name: &str) -> bool {
    matches!(
        existing.fields.get(ROUTE_NAME_KEY).and_then(|v| v.kind.as_ref()),
        Some(Kind::StringValue(name)) if name == route_name
    )
}

fn route_name_struct(mut existing: Struct, route_name: &str) -> Struct {
    existing.fields.insert(
        ROUTE_NAME_KEY.to_owned(),
        Value {
            kind: Some(Kind::StringValue(route_name.to_owned())),
        },
    );
    existing
}

/// A `filter_metadata` map entry: our namespace → `value`.
fn route_name_entry(value: &Struct) -> Vec<u8> {
    let mut entry = Vec::new();
    wire::put_len(
        &mut entry,
        metadata::MAP_KEY,
        ROUTE_METADATA_NAMESPACE.as_bytes(),
    );
    wire::put_len(&mut entry, metadata::MAP_VALUE, &value.encode_to_vec());
    entry
}

fn put_route_name_entry(md: &mut Vec<u8>, value: &Struct) {
    wire::put_len(md, metadata::FILTER_METADATA, &route_name_entry(value));
}
