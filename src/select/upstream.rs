//! Upstream selection: which clusters are AI backends, and what each of their hosts is told.
//!
//! A cluster is an AI backend when a selected route sends traffic to it (`cluster`, or any
//! entry of `weighted_clusters`); nothing about its name matters. Each such cluster gets the
//! upstream processor filters, and each of its hosts the backend name the processor keys its
//! credentials on: `<backend-ns>/<backend-name>/route/<route-name>/rule/<i>/ref/<j>`.
//!
//! - The route is the HTTPRoute of the first selected route that targets the cluster.
//! - Rule `i` numbers that HTTPRoute's rules in the order their first xDS route appears in
//!   the request. EG gives every rule its own cluster (or weighted set of clusters), so a rule
//!   is recognised by what it targets, across Gateways, listeners and naming schemes. Only
//!   routes that carry the annotation, switched on, are counted: EG copies an HTTPRoute's
//!   annotations onto every route built from it, so these are all of its routes.
//! - Ref `j` is the position in `weighted_clusters` when the route splits traffic (EG then
//!   builds one cluster per backendRef), otherwise the position of the endpoint group's backend
//!   among the cluster's distinct backends (EG then writes one endpoint group per backendRef).
//!
//! The backend itself comes from EG's metadata on the endpoint group. Clusters whose
//! endpoints arrive by EDS have none in the request, so they get the filters but no names.

use std::collections::BTreeMap;

use foldhash::HashMap;
use std::fmt;

use super::{Decisions, RouteDecision};
use crate::index::{
    ClusterEntry, EndpointGroup, Endpoints, Index, Owner, Ownership, RouteConfigEntry, RouteEntry,
    Targets, Text, UpstreamFilters,
};

/// How a selected route reaches one cluster: everything its backend names need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendRef {
    /// The HTTPRoute's namespace.
    pub route_namespace: String,
    /// The HTTPRoute's name, as it appears in backend names.
    pub route_name: String,
    /// The rule index (see the module docs).
    pub rule: usize,
    /// The position in `weighted_clusters`, when the route splits traffic.
    pub weighted_ref: Option<usize>,
}

impl fmt::Display for BackendRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} rule {}",
            self.route_namespace, self.route_name, self.rule
        )?;
        match self.weighted_ref {
            Some(j) => write!(f, " ref {j}"),
            None => Ok(()),
        }
    }
}

/// A selected route whose traffic cannot be followed to a cluster of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// Route configuration position.
    pub route_config: usize,
    /// Virtual host position.
    pub virtual_host: usize,
    /// Route position.
    pub route: usize,
    /// Why.
    pub reason: UnresolvedReason,
}

/// Why a selected route's clusters are unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnresolvedReason {
    /// `cluster_header`: the cluster is chosen per request.
    Header(String),
    /// A cluster specifier plugin or another specifier the hook cannot follow.
    OtherSpecifier,
    /// The named cluster is not in the request.
    MissingCluster(String),
}

impl fmt::Display for UnresolvedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnresolvedReason::Header(header) => write!(
                f,
                "cluster comes from request header {header:?}; its clusters cannot be resolved"
            ),
            UnresolvedReason::OtherSpecifier => {
                f.write_str("cluster specifier is not cluster or weighted_clusters")
            }
            UnresolvedReason::MissingCluster(name) => {
                write!(f, "targets cluster {name:?}, which is not in the request")
            }
        }
    }
}

/// The AI backend clusters of one request, before their contents are read.
#[derive(Debug, Default)]
pub struct Targeted {
    /// Per cluster position: the first selected route to reach it, then every other HTTPRoute
    /// rule that does too.
    pub clusters: BTreeMap<usize, (BackendRef, Vec<BackendRef>)>,
    /// Selected routes whose clusters are unknown.
    pub unresolved: Vec<Unresolved>,
}

/// Finds every cluster a selected route targets, in route configurations for which
/// `usable(position)` holds (those whose routes really were enabled).
///
/// Rules are numbered only for the HTTPRoutes that have a selected route, in one walk over the
/// routes in request order: a rule's number is fixed when its first route appears, which is
/// never after a selected route of that rule, so every route can be numbered as it is reached.
pub fn targeted(index: &Index, decisions: &Decisions, usable: impl Fn(usize) -> bool) -> Targeted {
    let mut rules = RuleNumbers::for_selected(index, decisions);
    let mut out = Targeted::default();
    // Only routes whose HTTPRoute annotation is on can belong to an HTTPRoute with a selected
    // route (EG copies an HTTPRoute's annotations onto all of its routes), and theirs are the
    // owners selection has read.
    for (position, config, route, decision) in annotated_routes(index, decisions) {
        let Ownership::Owned(owner) = route.owner.ownership(config) else {
            continue;
        };
        let selected = matches!(decision, RouteDecision::Selected(_)) && usable(position.0);
        let (route_config, virtual_host, route_index) = position;
        let unresolved = |reason| Unresolved {
            route_config,
            virtual_host,
            route: route_index,
            reason,
        };
        let Some((clusters, weighted)) = route.targets.clusters() else {
            if selected {
                let reason = match &route.targets {
                    Targets::Header(header) => {
                        UnresolvedReason::Header(config.text(*header).to_owned())
                    }
                    Targets::Other => UnresolvedReason::OtherSpecifier,
                    Targets::None | Targets::Cluster(_) | Targets::Weighted(_) => continue,
                };
                out.unresolved.push(unresolved(reason));
            }
            continue;
        };
        let Some(rule) = rules.number(owner, Rule(config, clusters)) else {
            continue; // an HTTPRoute with no selected route
        };
        if !selected {
            continue;
        }
        for (j, name) in clusters.iter().enumerate() {
            let name = config.text(*name);
            match index.clusters.position(name) {
                Some(cluster) => out.reached(cluster, owner, rule, weighted.then_some(j)),
                None => out
                    .unresolved
                    .push(unresolved(UnresolvedReason::MissingCluster(
                        name.to_owned(),
                    ))),
            }
        }
    }
    out
}

/// Position of a route: route configuration, virtual host, route.
type RoutePosition = (usize, usize, usize);

/// Every route whose annotation is on (see `RouteConfigDecision::annotated`), in request
/// order, with its position, route configuration and decision.
fn annotated_routes<'a>(
    index: &'a Index,
    decisions: &'a Decisions,
) -> impl Iterator<
    Item = (
        RoutePosition,
        &'a RouteConfigEntry,
        &'a RouteEntry,
        &'a RouteDecision,
    ),
> {
    let route_configs = index.route_configs.iter().zip(&decisions.route_configs);
    route_configs
        .enumerate()
        .filter_map(|(rc, (entry, decision))| {
            Some((rc, entry, entry.virtual_hosts.as_ref().ok()?, decision))
        })
        .flat_map(|(rc, entry, vhosts, decision)| {
            decision.annotated.iter().filter_map(move |&(vh, r)| {
                let route = vhosts.get(vh)?.routes.get(r)?;
                let route_decision = decision.virtual_hosts.get(vh)?.get(r)?;
                Some(((rc, vh, r), entry, route, route_decision))
            })
        })
}

impl Targeted {
    /// Records that rule `rule` of `owner` reaches the cluster at `cluster`.
    fn reached(&mut self, cluster: usize, owner: &Owner, rule: usize, weighted_ref: Option<usize>) {
        // Most clusters are reached by every match of one rule: compare before allocating.
        let is_this = |r: &BackendRef| {
            r.rule == rule
                && r.weighted_ref == weighted_ref
                && r.route_name == owner.name
                && r.route_namespace == owner.namespace
        };
        let backend_ref = || BackendRef {
            route_namespace: owner.namespace.clone(),
            route_name: owner.name.clone(),
            rule,
            weighted_ref,
        };
        match self.clusters.get_mut(&cluster) {
            None => {
                self.clusters.insert(cluster, (backend_ref(), Vec::new()));
            }
            Some((first, others)) => {
                if !is_this(first) && !others.iter().any(is_this) {
                    others.push(backend_ref());
                }
            }
        }
    }
}

/// Rule numbers of the HTTPRoutes (namespace, name) that have a selected route: the targets of
/// their rules, in the order their first route appeared.
struct RuleNumbers<'a> {
    rules: HashMap<(&'a str, &'a str), Vec<Rule<'a>>>,
}

/// What a rule's routes target: cluster names of a route configuration.
#[derive(Clone, Copy)]
struct Rule<'a>(&'a RouteConfigEntry, &'a [Text]);

/// The same clusters, in the same order, wherever the names lie.
impl PartialEq for Rule<'_> {
    fn eq(&self, other: &Self) -> bool {
        let Rule(config, names) = *self;
        let Rule(other_config, other_names) = *other;
        names.len() == other_names.len()
            && names
                .iter()
                .zip(other_names)
                .all(|(a, b)| config.text(*a) == other_config.text(*b))
    }
}

impl<'a> RuleNumbers<'a> {
    /// Prepares numbering for the HTTPRoutes with a selected route, reading only the route
    /// configurations that have one.
    fn for_selected(index: &'a Index, decisions: &Decisions) -> Self {
        let mut rules = HashMap::default();
        let route_configs = index.route_configs.iter().zip(&decisions.route_configs);
        for (entry, decision) in route_configs.filter(|(_, d)| d.selected > 0) {
            let Ok(vhosts) = &entry.virtual_hosts else {
                continue;
            };
            for &(vh, r) in &decision.annotated {
                let selected = decision
                    .virtual_hosts
                    .get(vh)
                    .and_then(|routes| routes.get(r))
                    .is_some_and(|d| matches!(d, RouteDecision::Selected(_)));
                let route = vhosts.get(vh).and_then(|vhost| vhost.routes.get(r));
                if let (true, Some(route)) = (selected, route)
                    && let Ownership::Owned(owner) = route.owner.ownership(entry)
                {
                    rules
                        .entry((owner.namespace.as_str(), owner.name.as_str()))
                        .or_insert_with(Vec::new);
                }
            }
        }
        Self { rules }
    }

    /// The number of the rule of `owner` that targets `clusters`, numbering it if it is new;
    /// `None` for an HTTPRoute without a selected route.
    fn number(&mut self, owner: &'a Owner, clusters: Rule<'a>) -> Option<usize> {
        let seen = self
            .rules
            .get_mut(&(owner.namespace.as_str(), owner.name.as_str()))?;
        Some(match seen.iter().position(|c| *c == clusters) {
            Some(rule) => rule,
            None => {
                seen.push(clusters);
                seen.len() - 1
            }
        })
    }
}

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
    /// Endpoints arrive by EDS: no hosts in the request, so nothing is written.
    Eds,
    /// Per endpoint group, in order.
    Groups(Vec<GroupNames>),
}

/// What the hosts of one endpoint group are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNames {
    /// `per_route_rule_backend_name`, or why it cannot be named.
    pub backend_name: Result<String, String>,
    /// Per host, `upstream_host` when the host has a DNS name.
    pub upstream_hosts: Vec<Option<String>>,
}

/// Why an AI backend cluster is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterSkip {
    /// The cluster cannot be decoded.
    Unreadable(String),
    /// Its `HttpProtocolOptions` cannot be decoded.
    MalformedOptions(String),
    /// It has upstream filters but no upstream codec; Envoy needs the codec last.
    NoCodec(Vec<String>),
    /// It is the processor cluster itself.
    IsProcessor,
    /// Chosen for patching, but its bytes could not be edited; left as it came.
    Unpatchable(String),
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
            ClusterSkip::Unpatchable(e) => write!(f, "left as is, cannot edit: {e}"),
        }
    }
}

/// Decides one targeted cluster from what it contains.
pub fn decide_cluster(
    entry: &Result<ClusterEntry, String>,
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
    ClusterDecision::Patch(UpstreamPatch {
        filters,
        hosts: host_names(&entry.endpoints, backend_ref),
    })
}

fn host_names(endpoints: &Endpoints, backend_ref: &BackendRef) -> HostNames {
    let Endpoints::Inline(groups) = endpoints else {
        return HostNames::Eds;
    };
    let refs = ref_indices(groups, backend_ref.weighted_ref);
    HostNames::Groups(
        groups
            .iter()
            .zip(refs)
            .map(|(group, j)| GroupNames {
                backend_name: backend_name(&group.backend, backend_ref, j),
                upstream_hosts: group.hosts.clone(),
            })
            .collect(),
    )
}

/// The ref index of each endpoint group: the weighted position, or the ordinal of the group's
/// backend among the distinct backends in order (zone-split groups of one backend share it).
fn ref_indices(groups: &[EndpointGroup], weighted_ref: Option<usize>) -> Vec<usize> {
    if let Some(j) = weighted_ref {
        return vec![j; groups.len()];
    }
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

fn backend_name(backend: &Ownership, r: &BackendRef, j: usize) -> Result<String, String> {
    match backend {
        Ownership::Owned(owner) => Ok(format!(
            "{}/{}/route/{}/rule/{}/ref/{j}",
            owner.namespace, owner.name, r.route_name, r.rule
        )),
        Ownership::Unknown => Err("endpoint group has no envoy-gateway metadata".to_owned()),
        Ownership::Malformed(e) => Err(format!("endpoint group metadata: {e}")),
    }
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
    fn backend_name_has_the_documented_format() {
        let r = BackendRef {
            route_namespace: "team-a".into(),
            route_name: "chat".into(),
            rule: 2,
            weighted_ref: None,
        };
        assert_eq!(
            backend_name(&backend("openai"), &r, 1).as_deref(),
            Ok("ai/openai/route/chat/rule/2/ref/1")
        );
        assert!(backend_name(&Ownership::Unknown, &r, 0).is_err());
    }
}
