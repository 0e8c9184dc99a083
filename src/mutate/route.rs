//! Patching route configurations: enable the processor on each selected route and tell the
//! processor which route it is serving.
//!
//! A selected route gets `typed_per_filter_config[<filter>]` (an empty `FilterConfig`, which
//! enables the disabled filter there) and `metadata.filter_metadata["aigateway.envoy.io"]
//! .aigw_route_name`. Both are additions on the wire; existing entries under the same keys are
//! respected (an existing per-filter config is kept, an existing metadata struct is updated in
//! place), so running twice changes nothing. Unselected routes are copied untouched.

use crate::select::{RouteConfigDecision, RouteDecision};
use crate::wire::{self, WireError};
use crate::xds::metadata::{MAP_KEY, MAP_VALUE};
use crate::xds::{route, route_configuration, virtual_host};

use super::metadata::{self, Entries};
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
    let route_name_entry = Entries {
        namespace: ROUTE_METADATA_NAMESPACE,
        values: &[(ROUTE_NAME_KEY, route_name)],
    };
    let mut out = metadata::set_in(route_bytes, route::METADATA, route_name_entry)?;
    if !has_filter_config {
        let buf = out.get_or_insert_with(|| route_bytes.to_vec());
        let mut entry =
            Vec::with_capacity(artifacts.filter_name.len() + artifacts.enable_on_route.len() + 8);
        wire::put_len(&mut entry, MAP_KEY, artifacts.filter_name.as_bytes());
        wire::put_len(&mut entry, MAP_VALUE, &artifacts.enable_on_route);
        wire::put_len(buf, route::TYPED_PER_FILTER_CONFIG, &entry);
    }
    Ok(out)
}

fn per_filter_config_keys(route_bytes: &[u8]) -> impl Iterator<Item = Result<&[u8], WireError>> {
    wire::len_payloads(route_bytes, route::TYPED_PER_FILTER_CONFIG)
        .map(|entry| entry.and_then(|e| Ok(wire::single_len(e, MAP_KEY)?.unwrap_or_default())))
}
