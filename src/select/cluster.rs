//! What one AI backend cluster gets: the upstream filters where its filter chain allows, and
//! for its hosts the backend names (and for its endpoint groups the priorities) the processor
//! needs. [`super::upstream`] finds the clusters; this decides each from what it contains.

use std::fmt;

use super::hosts::{self, HostNames};
use super::upstream::BackendRef;
use crate::index::{ClusterEntry, InvalidField, UpstreamFilters};

/// What happens to one AI backend cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterDecision {
    /// Add the upstream filters (unless present) and write the host metadata.
    Patch(UpstreamPatch),
    /// Left as is.
    Skip(ClusterSkip),
}

/// How to patch one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamPatch {
    /// Where the filters go.
    pub filters: FilterEdit,
    /// What each host is told.
    pub hosts: HostNames,
}

/// Where the upstream filters go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterEdit {
    /// No `HttpProtocolOptions`: add one, explicit HTTP/1.1, with our filters and a codec.
    CreateOptions,
    /// `HttpProtocolOptions` without filters: add ours and a codec, keep the protocol settings.
    AppendWithCodec,
    /// Insert before the filter at this position (the upstream codec).
    InsertAt(usize),
    /// Our filter is already there.
    Present,
}

/// Why an AI backend cluster is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterSkip {
    /// The cluster cannot be decoded.
    Unreadable(InvalidField),
    /// Its `HttpProtocolOptions` cannot be decoded.
    MalformedOptions(InvalidField),
    /// It has upstream filters but no upstream codec; Envoy needs the codec last.
    NoCodec(Vec<String>),
    /// It is the processor cluster itself.
    IsProcessor,
}

impl fmt::Display for ClusterSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterSkip::Unreadable(e) => write!(f, "cluster is malformed: {e}"),
            ClusterSkip::MalformedOptions(e) => write!(f, "{e}"),
            ClusterSkip::NoCodec(filters) => write!(
                f,
                "upstream http_filters [{}] have no upstream codec",
                filters.join(", ")
            ),
            ClusterSkip::IsProcessor => f.write_str("it is the processor cluster"),
        }
    }
}

/// Decides one targeted cluster from what it contains.
pub(crate) fn decide_cluster(
    entry: &Result<ClusterEntry, InvalidField>,
    backend_ref: &BackendRef,
    filter_name: &str,
    processor_cluster: &str,
) -> ClusterDecision {
    let entry = match entry {
        Ok(entry) => entry,
        Err(e) => return ClusterDecision::Skip(ClusterSkip::Unreadable(e.clone())),
    };
    if entry.name == processor_cluster {
        return ClusterDecision::Skip(ClusterSkip::IsProcessor);
    }
    let filters = match &entry.upstream_filters {
        UpstreamFilters::NoProtocolOptions => FilterEdit::CreateOptions,
        UpstreamFilters::Malformed(e) => {
            return ClusterDecision::Skip(ClusterSkip::MalformedOptions(e.clone()));
        }
        UpstreamFilters::Filters(filters) if filters.iter().any(|f| f.name == filter_name) => {
            FilterEdit::Present
        }
        UpstreamFilters::Filters(filters) if filters.is_empty() => FilterEdit::AppendWithCodec,
        UpstreamFilters::Filters(filters) => match filters.iter().rposition(|f| f.is_codec) {
            Some(codec) => FilterEdit::InsertAt(codec),
            None => {
                return ClusterDecision::Skip(ClusterSkip::NoCodec(
                    filters.iter().map(|f| f.name.clone()).collect(),
                ));
            }
        },
    };
    let hosts = hosts::host_names(&entry.name, &entry.endpoints, backend_ref);
    ClusterDecision::Patch(UpstreamPatch { filters, hosts })
}
