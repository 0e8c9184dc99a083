//! What one AI backend cluster gets: the upstream filters where its filter chain allows, and
//! for its hosts the backend names (and for its endpoint groups the priorities) the processor
//! needs. [`super::upstream`] finds the clusters; this decides each from what it contains.

use std::fmt;

use super::backend_name::{self, Unnamed};
use super::upstream::BackendRef;
use crate::index::{
    ClusterEntry, EndpointGroup, Endpoints, InvalidField, Ownership, UpstreamFilters,
};

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

/// The metadata written for a cluster's hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostNames {
    /// Endpoints arrive by EDS: no hosts in the request, so the name (when one is right for
    /// every host) goes in the cluster's metadata, which the processor reads next.
    Eds(Result<String, Unnamed>),
    /// Per endpoint group, in order.
    Groups(Vec<GroupNames>),
}

/// What the hosts of one endpoint group are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNames {
    /// `per_route_rule_backend_name`, or why it cannot be named.
    pub backend_name: Result<String, Unnamed>,
    /// Per host, `upstream_host` when the host has a DNS name.
    pub upstream_hosts: Vec<Option<String>>,
    /// The group's new failover priority, when the backendRef sets one it does not have.
    pub priority: Option<u32>,
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
pub fn decide_cluster(
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
    let hosts = match &backend_ref.generated {
        Some(generated) => backend_name::generated_host_names(
            &entry.name,
            &entry.endpoints,
            backend_ref,
            generated,
        ),
        None => derived_host_names(&entry.endpoints, backend_ref),
    };
    ClusterDecision::Patch(UpstreamPatch { filters, hosts })
}

/// Names from EG's backend metadata, for HTTPRoutes the AI Gateway did not generate.
fn derived_host_names(endpoints: &Endpoints, backend_ref: &BackendRef) -> HostNames {
    let Endpoints::Inline(groups) = endpoints else {
        return HostNames::Eds(Err(Unnamed::EdsWithoutContract));
    };
    let refs = ref_indices(groups, backend_ref.weighted_ref);
    HostNames::Groups(
        groups
            .iter()
            .zip(refs)
            .map(|(group, j)| GroupNames {
                backend_name: backend_name::derived_name(&group.backend, backend_ref, j),
                upstream_hosts: group.hosts.clone(),
                priority: None,
            })
            .collect(),
    )
}

/// The ref index of each endpoint group: the weighted position, or the ordinal of the group's
/// backend among the distinct backends in order (zone-split groups of one backend share it).
fn ref_indices(groups: &[EndpointGroup], weighted_ref: Option<usize>) -> Vec<usize> {
    match weighted_ref {
        Some(j) => vec![j; groups.len()],
        None => distinct_backend_ordinals(groups),
    }
}

/// The ordinal of each group's backend among the distinct backends, in order; groups without
/// a known backend each count as their own.
pub(super) fn distinct_backend_ordinals(groups: &[EndpointGroup]) -> Vec<usize> {
    let mut seen: Vec<&Ownership> = Vec::new();
    groups
        .iter()
        .map(
            |group| match seen.iter().position(|b| **b == group.backend) {
                Some(j) if group.backend != Ownership::Unknown => j,
                _ => {
                    seen.push(&group.backend);
                    seen.len() - 1
                }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Owner;

    fn backend(name: &str) -> Ownership {
        Ownership::Owned(Owner {
            kind: "Backend".into(),
            name: name.into(),
            namespace: "ai".into(),
            section_name: None,
            annotations: Default::default(),
        })
    }

    fn group(owner: Ownership) -> EndpointGroup {
        EndpointGroup {
            backend: owner,
            region: String::new(),
            priority: 0,
            hosts: vec![None],
        }
    }

    #[test]
    fn ref_index_counts_distinct_backends_and_keeps_zone_groups_together() {
        let groups = [
            group(backend("openai")),
            group(backend("openai")),
            group(backend("bedrock")),
            group(Ownership::Unknown),
            group(Ownership::Unknown),
        ];
        assert_eq!(ref_indices(&groups, None), vec![0, 0, 1, 2, 3]);
        assert_eq!(ref_indices(&groups, Some(4)), vec![4; 5]);
    }

    #[test]
    fn derived_names_use_the_eg_backend_and_the_rules_order() {
        let r = BackendRef {
            route_namespace: "team-a".into(),
            route_name: "chat".into(),
            rule: 2,
            weighted_ref: None,
            generated: None,
        };
        assert_eq!(
            backend_name::derived_name(&backend("openai"), &r, 1).as_deref(),
            Ok("ai/openai/route/chat/rule/2/ref/1")
        );
        assert_eq!(
            backend_name::derived_name(&Ownership::Unknown, &r, 0),
            Err(Unnamed::NoOwner)
        );
    }
}
