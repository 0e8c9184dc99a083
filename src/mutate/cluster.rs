//! Clusters: add the processor cluster, and prepare the AI backend clusters.
//!
//! The processor cluster is found by name, read straight off the wire (field 1); the scan
//! stops at the name. An AI backend cluster gets the upstream processor filters in its
//! `HttpProtocolOptions`; on each host, the backend name the processor keys its credentials
//! on; on each endpoint group, the backendRef's priority; and, when its endpoints arrive by
//! EDS, the backend name in its own metadata. All are splices: the path cluster → options
//! entry → `Any` → `http_filters`, the path cluster → `load_assignment` → endpoint group →
//! host → metadata (and group → `priority`), and cluster → `metadata`. Everything else in the
//! cluster is copied as it came.

use bytes::Bytes;
use prost::encoding::WireType;

use super::metadata::Entries;
use super::{BACKEND_NAME_KEY, ROUTE_METADATA_NAMESPACE, UPSTREAM_HOST_KEY, UpstreamArtifacts};
use crate::select::cluster::{FilterEdit, UpstreamPatch};
use crate::select::hosts::{GroupNames, HostNames};
use crate::wire::{self, WireError};
use crate::xds::{
    AnyView, ClusterLoadAssignmentView, ClusterView, HttpProtocolOptionsView, LbEndpointView,
    LocalityLbEndpointsView, map_entry, names,
};

/// What happened to the processor cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessorCluster {
    /// Appended at the end of the cluster list.
    Added,
    /// A cluster with that name was already at this position; it is left as is.
    Present(usize),
}

/// Ensures `clusters` contains the processor cluster. `known` is where the index found a
/// cluster of that name (`ClusterNames::position`), so that a fleet's clusters are not
/// scanned again.
pub(crate) fn ensure_processor(
    clusters: &mut Vec<Bytes>,
    known: Option<usize>,
    name: &str,
    cluster: &Bytes,
) -> ProcessorCluster {
    let named = |c: &Bytes| cluster_name(c) == Some(name.as_bytes());
    // The index reads every name as the bytes are read here, so it is exact for a UTF-8
    // name; its answer is checked on the bytes, and a scan settles the one way it can be
    // wrong (another cluster's invalid UTF-8 name reading as `name` once made lossless).
    let present = match known {
        None => None,
        Some(position) if clusters.get(position).is_some_and(named) => Some(position),
        Some(_) => clusters.iter().position(named),
    };
    match present {
        Some(position) => ProcessorCluster::Present(position),
        None => {
            clusters.push(cluster.clone());
            ProcessorCluster::Added
        }
    }
}

/// The raw name of an encoded cluster (its first field-1 record).
pub(crate) fn cluster_name(cluster: &[u8]) -> Option<&[u8]> {
    wire::first_len(cluster, ClusterView::NAME)
}

/// Adds the upstream processor filters to an AI backend cluster and tells each of its hosts
/// which backend it is. Returns `None` when the cluster already is as planned.
pub(crate) fn patch_upstream(
    cluster: &[u8],
    patch: &UpstreamPatch,
    upstream: &UpstreamArtifacts,
) -> Result<Option<Vec<u8>>, WireError> {
    let with_filters = match patch.filters {
        FilterEdit::Present => None,
        FilterEdit::CreateOptions => {
            let mut out = cluster.to_vec();
            wire::put_len(
                &mut out,
                ClusterView::TYPED_EXTENSION_PROTOCOL_OPTIONS,
                &upstream.options_entry,
            );
            Some(out)
        }
        FilterEdit::InsertAt(codec) => Some(edit_protocol_options(cluster, |options| {
            insert_filters(options, Some(codec), &upstream.filters)
        })?),
        FilterEdit::AppendWithCodec => Some(edit_protocol_options(cluster, |options| {
            insert_filters(options, None, &upstream.filters_with_codec)
        })?),
    };
    let base = with_filters.as_deref().unwrap_or(cluster);
    let with_names = match &patch.hosts {
        HostNames::Eds(Err(_)) => None,
        HostNames::Eds(Ok(backend_name)) => name_cluster(base, backend_name)?,
        HostNames::Groups(groups) => name_hosts(base, groups)?,
    };
    Ok(with_names.or(with_filters))
}

/// Writes the backend name into the cluster's own metadata (read by the processor when the
/// host's has none: endpoints by EDS carry none of ours).
fn name_cluster(cluster: &[u8], backend_name: &str) -> Result<Option<Vec<u8>>, WireError> {
    let entries = Entries {
        namespace: ROUTE_METADATA_NAMESPACE,
        values: &[(BACKEND_NAME_KEY, backend_name)],
    };
    super::metadata::set_in(cluster, ClusterView::METADATA, entries)
}

/// Rewrites the value of the (last) `HttpProtocolOptions` entry of the extension options map.
fn edit_protocol_options(
    cluster: &[u8],
    edit: impl FnOnce(&[u8]) -> Result<Vec<u8>, WireError>,
) -> Result<Vec<u8>, WireError> {
    let key = names::HTTP_PROTOCOL_OPTIONS_KEY.as_bytes();
    let mut last = None;
    for (i, entry) in
        wire::len_payloads(cluster, ClusterView::TYPED_EXTENSION_PROTOCOL_OPTIONS).enumerate()
    {
        if wire::single_len(entry?, map_entry::KEY)? == Some(key) {
            last = Some(i);
        }
    }
    let last = last.ok_or(WireError::Missing {
        number: ClusterView::TYPED_EXTENSION_PROTOCOL_OPTIONS,
    })?;
    let mut edit = Some(edit);
    let rebuilt = wire::rewrite_len_fields(cluster, |number, i, entry| {
        if number != ClusterView::TYPED_EXTENSION_PROTOCOL_OPTIONS || i != last {
            return Ok(None);
        }
        let Some(edit) = edit.take() else {
            return Ok(None);
        };
        wire::rewrite_single(entry, map_entry::VALUE, |any| {
            wire::rewrite_single(any, AnyView::VALUE, edit)
        })
        .map(Some)
    })?;
    rebuilt.ok_or(WireError::Missing {
        number: ClusterView::TYPED_EXTENSION_PROTOCOL_OPTIONS,
    })
}

/// Inserts encoded `http_filters` records before the filter at `before`, or at the end.
fn insert_filters(
    options: &[u8],
    before: Option<usize>,
    records: &[u8],
) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(options.len() + records.len());
    let mut filters_seen = 0;
    let mut inserted = false;
    for field in wire::fields(options) {
        let field = field?;
        if field.number == HttpProtocolOptionsView::HTTP_FILTERS
            && field.wire_type == WireType::LengthDelimited
        {
            if !inserted && before == Some(filters_seen) {
                out.extend_from_slice(records);
                inserted = true;
            }
            filters_seen += 1;
        }
        out.extend_from_slice(field.record);
    }
    if !inserted {
        out.extend_from_slice(records);
    }
    Ok(out)
}

/// Writes the backend name (and DNS name) into every host's metadata, and the priority into
/// its endpoint group.
fn name_hosts(cluster: &[u8], groups: &[GroupNames]) -> Result<Option<Vec<u8>>, WireError> {
    if !groups
        .iter()
        .any(|g| g.backend_name.is_ok() || g.priority.is_some())
    {
        return Ok(None);
    }
    wire::rewrite_len_fields(cluster, |number, _, assignment| {
        if number != ClusterView::LOAD_ASSIGNMENT {
            return Ok(None);
        }
        wire::rewrite_len_fields(assignment, |number, g, group| {
            match (number, groups.get(g)) {
                (ClusterLoadAssignmentView::ENDPOINTS, Some(names)) => name_group(group, names),
                _ => Ok(None),
            }
        })
    })
}

fn name_group(group: &[u8], names: &GroupNames) -> Result<Option<Vec<u8>>, WireError> {
    let named = match names.backend_name.as_deref() {
        Ok(backend_name) => name_group_hosts(group, backend_name, &names.upstream_hosts)?,
        Err(_) => None,
    };
    let Some(priority) = names.priority else {
        return Ok(named);
    };
    let base = named.as_deref().unwrap_or(group);
    Ok(wire::set_varint(base, LocalityLbEndpointsView::PRIORITY, u64::from(priority))?.or(named))
}

fn name_group_hosts(
    group: &[u8],
    backend_name: &str,
    upstream_hosts: &[Option<String>],
) -> Result<Option<Vec<u8>>, WireError> {
    wire::rewrite_len_fields(group, |number, h, host| {
        if number != LocalityLbEndpointsView::LB_ENDPOINTS {
            return Ok(None);
        }
        let upstream_host = upstream_hosts.get(h).and_then(Option::as_deref);
        let with_host;
        let values: &[(&str, &str)] = match upstream_host {
            Some(upstream_host) => {
                with_host = [
                    (BACKEND_NAME_KEY, backend_name),
                    (UPSTREAM_HOST_KEY, upstream_host),
                ];
                &with_host
            }
            None => &[(BACKEND_NAME_KEY, backend_name)],
        };
        let entries = Entries {
            namespace: ROUTE_METADATA_NAMESPACE,
            values,
        };
        super::metadata::set_in(host, LbEndpointView::METADATA, entries)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &[u8]) -> Bytes {
        let mut cluster = Vec::new();
        wire::put_len(&mut cluster, 1, name);
        cluster.into()
    }

    #[test]
    fn processor_is_found_where_the_index_says_or_added_once() {
        let processor = named(b"xds-hook-processor");
        let mut clusters = vec![named(b"a"), processor.clone()];
        assert_eq!(
            ensure_processor(&mut clusters, Some(1), "xds-hook-processor", &processor),
            ProcessorCluster::Present(1)
        );
        assert_eq!(
            ensure_processor(&mut clusters, None, "other", &processor),
            ProcessorCluster::Added
        );
        assert_eq!(clusters.len(), 3);
    }

    #[test]
    fn a_wrong_hint_is_checked_on_the_bytes() {
        // An invalid UTF-8 name reads as U+FFFD in the index, so the index may point at it.
        let processor = named("p\u{fffd}".as_bytes());
        let mut clusters = vec![named(b"p\xff"), processor.clone()];
        assert_eq!(
            ensure_processor(&mut clusters, Some(0), "p\u{fffd}", &processor),
            ProcessorCluster::Present(1)
        );
    }
}
