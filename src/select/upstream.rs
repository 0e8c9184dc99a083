//! Upstream selection: which clusters are AI backends, and what each of their hosts is told.
//!
//! A cluster is an AI backend when a selected route sends traffic to it (`cluster`, or any
//! entry of `weighted_clusters`); nothing about its name matters. Each such cluster gets the
//! upstream processor filters, and each of its hosts the backend name the processor keys its
//! credentials on, `<namespace>/<backend>/route/<route-name>/rule/<i>/ref/<j>`, for the
//! HTTPRoute of the first selected route that targets the cluster.
//!
//! For HTTPRoutes the AI Gateway generated (they carry `backend-ref-priority`), the name is the
//! processor's own: see [`super::backend_name`]. For any other HTTPRoute it is derived from EG's
//! metadata, as follows:
//!
//! - The namespace and backend are those of the EG Backend (or Service) on the endpoint group.
//! - Rule `i` numbers that HTTPRoute's rules in the order their first xDS route appears in
//!   the request. EG gives every rule its own cluster (or weighted set of clusters), so a rule
//!   is recognised by what it targets, across Gateways, listeners and naming schemes. The
//!   routes counted are selection's candidates (`RouteConfigDecision::candidates`): those
//!   whose annotation is on (EG copies an HTTPRoute's annotations onto every route built from
//!   it, so these are all of its routes) and, where a policy chose for single routes or
//!   rules, every route of the route configuration, so that one rule's choice never
//!   renumbers another.
//! - Ref `j` is the position in `weighted_clusters` when the route splits traffic (EG then
//!   builds one cluster per backendRef), otherwise the position of the endpoint group's backend
//!   among the cluster's distinct backends (EG then writes one endpoint group per backendRef).
//! - Clusters whose endpoints arrive by EDS carry no backend identity in the request, so they
//!   get the filters but no names.

use std::collections::BTreeMap;

use foldhash::HashMap;
use std::fmt;

use super::backend_name::{self, Generated, PRIORITY_ANNOTATION};
use super::{Decisions, RouteDecision};
use crate::index::{
    Annotation, Index, Owner, Ownership, RouteConfigEntry, RouteEntry, Targets, Text,
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
    /// What the AI Gateway's controller recorded, when it generated the HTTPRoute.
    pub generated: Option<Generated>,
}

impl fmt::Display for BackendRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A generated HTTPRoute's rule is known by EG's index; any other by its order.
        let rule = match &self.generated {
            Some(Generated { rule: Some(i), .. }) => *i,
            _ => self.rule,
        };
        write!(
            f,
            "{}/{} rule {rule}",
            self.route_namespace, self.route_name
        )?;
        // A generated HTTPRoute's refs are its spec indices, given per endpoint group; the
        // position in weighted_clusters is only the derivation's ref.
        match (self.weighted_ref, &self.generated) {
            (Some(j), None) => write!(f, " ref {j}"),
            _ => Ok(()),
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
pub(crate) struct Targeted {
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
pub(crate) fn targeted(
    index: &Index,
    decisions: &Decisions,
    usable: impl Fn(usize) -> bool,
) -> Targeted {
    let mut rules = RuleNumbers::for_selected(index, decisions);
    let mut out = Targeted::default();
    // Only selection's candidates can belong to an HTTPRoute with a selected route (see
    // `RouteConfigDecision::candidates`); without policies, theirs are the owners selection
    // has read already.
    for (position, config, route, decision) in candidate_routes(index, decisions) {
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
        let route_name = config.text(route.name);
        for (j, name) in clusters.iter().enumerate() {
            let name = config.text(*name);
            match index.clusters.position(name) {
                Some(cluster) => {
                    out.reached(cluster, owner, route_name, rule, weighted.then_some(j));
                }
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

/// Selection's candidates (`RouteConfigDecision::candidates`), in request order, with their
/// position, route configuration and decision.
fn candidate_routes<'a>(
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
            decision.candidates.iter().filter_map(move |&(vh, r)| {
                let route = vhosts.get(vh)?.routes.get(r)?;
                let route_decision = decision.virtual_hosts.get(vh)?.get(r)?;
                Some(((rc, vh, r), entry, route, route_decision))
            })
        })
}

impl Targeted {
    /// Records that rule `rule` of `owner`, through its route `route_name`, reaches the cluster
    /// at `cluster`.
    fn reached(
        &mut self,
        cluster: usize,
        owner: &Owner,
        route_name: &str,
        rule: usize,
        weighted_ref: Option<usize>,
    ) {
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
            generated: generated(owner, route_name),
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

/// What the AI Gateway's controller recorded on the HTTPRoute `owner`, if it generated it.
fn generated(owner: &Owner, route_name: &str) -> Option<Generated> {
    let priorities = match owner.annotations.get(PRIORITY_ANNOTATION)? {
        Annotation::Text(text) => Ok(text.clone()),
        Annotation::Other(json_type) => Err(*json_type),
    };
    Some(Generated {
        rule: backend_name::rule_in_name(route_name, &owner.namespace, &owner.name),
        priorities,
    })
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
            for &(vh, r) in &decision.candidates {
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
