//! Patching route configurations: enable the processor on each selected route and tell the
//! processor which route it is serving.
//!
//! A selected route gets `typed_per_filter_config[<filter>]` (an empty `FilterConfig`, which
//! enables the disabled filter there) and `metadata.filter_metadata["aigateway.envoy.io"]
//! .aigw_route_name`. Both are additions on the wire; existing entries under the same keys are
//! respected (an existing per-filter config is kept, an existing metadata struct is updated in
//! place), so running twice changes nothing. Unselected routes are copied untouched.
//!
//! The edits nest (route configuration → virtual host → route → metadata) and are kept as a
//! `wire::Splice`, so a patched route configuration is written once, at its exact size.

use std::ops::Range;

use crate::index::{RouteConfigEntry, Text, VirtualHostEntry};
use crate::select::{RouteConfigDecision, RouteDecision};
use crate::wire::{self, Payload, Splice, WireError};
use crate::xds::{RouteConfigurationView, RouteView, VirtualHostView, map_entry};

use super::metadata::{self, Entries};
use super::{Artifacts, ROUTE_METADATA_NAMESPACE, ROUTE_NAME_KEY};

/// Returns the patched route configuration, or `None` when it needs no change.
///
/// The virtual hosts and routes on the way to each change are spliced, not rebuilt level by
/// level, so the result is written once, at its exact size. When the index read `entry` off
/// the wire it knows where each record is, and only the selected routes are visited; a
/// configuration the index had to decode is walked record by record instead.
pub(crate) fn patch(
    route_config: &[u8],
    entry: &RouteConfigEntry,
    decision: &RouteConfigDecision,
    artifacts: &Artifacts,
) -> Result<Option<Vec<u8>>, WireError> {
    if decision.selected == 0 {
        return Ok(None);
    }
    let spliced = match &entry.virtual_hosts {
        Ok(vhosts) if entry.is_in_place() => {
            splice_known_records(route_config, vhosts, decision, artifacts)?
        }
        _ => splice_walking(route_config, decision, artifacts)?,
    };
    Ok(spliced.map(|splice| splice.to_vec()))
}

/// Edits the selected routes where the index found them, touching no other record: only
/// selection's candidates (`decision.candidates`) can be selected, so neither the other
/// routes' bytes nor their index entries are visited.
fn splice_known_records<'a>(
    route_config: &'a [u8],
    vhosts: &[VirtualHostEntry],
    decision: &RouteConfigDecision,
    artifacts: &Artifacts,
) -> Result<Option<Splice<'a>>, WireError> {
    let mut selected = decision
        .candidates
        .iter()
        .filter_map(|&(vh, r)| match decision.virtual_hosts.get(vh)?.get(r)? {
            RouteDecision::Selected(route_name) => Some((vh, r, route_name.as_str())),
            RouteDecision::NotSelected(_) => None,
        })
        .peekable();
    let mut splice = Splice::new(route_config);
    while let Some(&(vh, ..)) = selected.peek() {
        let vhost = vhosts.get(vh).ok_or(UNKNOWN_RECORD)?;
        let vhost_at = known(vhost.record)?;
        let vhost_record = splice.record_at(vhost_at.clone())?;
        // Route records are known relative to the route configuration; the virtual host's
        // splice counts from its payload.
        let payload_start = vhost_at.end - vhost_record.payload.len();
        let mut nested = Splice::new(vhost_record.payload);
        while let Some((_, r, route_name)) = selected.next_if(|&(v, ..)| v == vh) {
            let route_at = known(vhost.routes.get(r).and_then(|route| route.record))?;
            let relative = relative_to(route_at, payload_start);
            let route_record = nested.record_at(relative.clone())?;
            if let Some(route) = splice_route(route_record.payload, route_name, artifacts)? {
                nested.replace(relative, route_record.number, route.into())?;
            }
        }
        if !nested.is_unchanged() {
            splice.replace(vhost_at, vhost_record.number, nested.into())?;
        }
    }
    Ok((!splice.is_unchanged()).then_some(splice))
}

/// What a route configuration read in place cannot lack: a position for each of its virtual
/// hosts and routes.
const UNKNOWN_RECORD: WireError = WireError::Missing {
    number: RouteConfigurationView::VIRTUAL_HOSTS,
};

/// The range of a record the index read in place.
fn known(record: Option<Text>) -> Result<Range<usize>, WireError> {
    record.map(Text::range).ok_or(UNKNOWN_RECORD)
}

/// `range` counted from `base`; out of every message (so refused by `record_at`) when it
/// starts before `base`.
fn relative_to(range: Range<usize>, base: usize) -> Range<usize> {
    match (range.start.checked_sub(base), range.end.checked_sub(base)) {
        (Some(start), Some(end)) => start..end,
        _ => usize::MAX..usize::MAX,
    }
}

/// Edits the selected routes by walking every virtual host's records, for a route
/// configuration whose record positions are not known.
fn splice_walking<'a>(
    route_config: &'a [u8],
    decision: &RouteConfigDecision,
    artifacts: &Artifacts,
) -> Result<Option<Splice<'a>>, WireError> {
    wire::splice_len_fields(route_config, |number, vhost_index, vhost| {
        if number != RouteConfigurationView::VIRTUAL_HOSTS {
            return Ok(None);
        }
        match decision.virtual_hosts.get(vhost_index) {
            Some(routes)
                if routes
                    .iter()
                    .any(|r| matches!(r, RouteDecision::Selected(_))) =>
            {
                Ok(patch_virtual_host(vhost, routes, artifacts)?.map(Payload::from))
            }
            _ => Ok(None),
        }
    })
}

fn patch_virtual_host<'a>(
    vhost: &'a [u8],
    routes: &[RouteDecision],
    artifacts: &Artifacts,
) -> Result<Option<Splice<'a>>, WireError> {
    wire::splice_len_fields(vhost, |number, route_index, route_bytes| {
        if number != VirtualHostView::ROUTES {
            return Ok(None);
        }
        match routes.get(route_index) {
            Some(RouteDecision::Selected(route_name)) => {
                Ok(splice_route(route_bytes, route_name, artifacts)?.map(Payload::from))
            }
            _ => Ok(None),
        }
    })
}

/// Enables the processor on one route; `None` when it already is.
fn splice_route<'a>(
    route_bytes: &'a [u8],
    route_name: &str,
    artifacts: &Artifacts,
) -> Result<Option<Splice<'a>>, WireError> {
    let has_filter_config = per_filter_config_keys(route_bytes)
        .any(|key| key.is_ok_and(|k| k == artifacts.filter_name.as_bytes()));
    let route_name_entry = Entries {
        namespace: ROUTE_METADATA_NAMESPACE,
        values: &[(ROUTE_NAME_KEY, route_name)],
    };
    let mut splice = metadata::splice_in(route_bytes, RouteView::METADATA, route_name_entry)?;
    if !has_filter_config {
        let mut entry =
            Vec::with_capacity(artifacts.filter_name.len() + artifacts.enable_on_route.len() + 8);
        wire::put_len(&mut entry, map_entry::KEY, artifacts.filter_name.as_bytes());
        wire::put_len(&mut entry, map_entry::VALUE, &artifacts.enable_on_route);
        splice.append(RouteView::TYPED_PER_FILTER_CONFIG, &entry);
    }
    Ok((!splice.is_unchanged()).then_some(splice))
}

pub(crate) fn per_filter_config_keys(
    route_bytes: &[u8],
) -> impl Iterator<Item = Result<&[u8], WireError>> {
    wire::len_payloads(route_bytes, RouteView::TYPED_PER_FILTER_CONFIG).map(|entry| {
        entry.and_then(|e| Ok(wire::single_len(e, map_entry::KEY)?.unwrap_or_default()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Index;
    use crate::workload::{self, Preset};
    use crate::{Config, select};

    /// Both ways of reaching the selected routes write the same bytes: through the record
    /// positions of an index read off the wire, and by walking every record, as for a route
    /// configuration the index had to decode.
    #[test]
    fn known_records_and_walking_patch_alike() {
        let config = Config::default();
        let artifacts = Artifacts::new(&config.ext_proc);
        let request = workload::preset(Preset::Small);
        let index = Index::build(&request.listeners, &request.routes, &request.clusters);
        let placement = select::Policy::new(&config.ext_proc.placement);
        let decisions = select::decide(
            &config.selection,
            &artifacts.filter_name,
            &placement,
            &index,
            &select::Unscoped,
        );
        let mut patched = 0;
        let configs = request.routes.iter().zip(&index.route_configs);
        for ((bytes, entry), decision) in configs.zip(&decisions.route_configs) {
            assert!(entry.is_in_place());
            let known = patch(bytes, entry, decision, &artifacts).unwrap();
            let walked = splice_walking(bytes, decision, &artifacts)
                .unwrap()
                .map(|splice| splice.to_vec());
            assert_eq!(known, walked, "{}", entry.name);
            patched += usize::from(known.is_some());
        }
        assert!(patched > 0, "no route configuration was patched");
    }
}
