//! Selection: configuration + index → decisions, each with its reason.
//!
//! This is the only place that decides. Routes are selected by their HTTPRoute's annotation
//! (and optionally their Gateway's namespace or opt-in annotation), or, where a
//! ProcessorPolicy decides their virtual host or route, as it says ([`scope`]); a chain is patched when
//! its route configuration has a selected route; a route configuration is patched when it
//! has one. Mutators only carry decisions out, and the report only renders them, so `explain`
//! and the logs can never disagree with what was done.

pub(crate) mod backend_name;
pub(crate) mod cluster;
pub(crate) mod hosts;
pub(crate) mod order;
pub(crate) mod reason;
pub(crate) mod scope;
pub(crate) mod upstream;

use std::fmt;

use memchr::memmem::Finder;

use crate::config::SelectionConfig;
use crate::index::{
    Annotation, ChainKind, Index, InvalidField, Owner, OwnerMetadata, Ownership, RouteConfigEntry,
    RouteEntry, Unusable, VirtualHostEntry,
};
use crate::xds::names;
pub(crate) use order::{Placement, Policy, Rule};
pub(crate) use reason::SkipReason;
pub(crate) use scope::{Excluded, Gate, Scope, Unscoped};

/// Every decision for one request; vectors run parallel to the index's.
#[derive(Debug, Default)]
pub struct Decisions {
    /// Per listener, per chain (in the index's chain order).
    pub listeners: Vec<Vec<ChainDecision>>,
    /// Per route configuration.
    pub route_configs: Vec<RouteConfigDecision>,
}

/// What happens to one filter chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainDecision {
    /// Insert the processor filter here.
    Patch(Insertion),
    /// The processor filter is already there (the input is our own output): nothing to do.
    AlreadyPatched,
    /// Left as is.
    Skip(ChainSkip),
}

/// How to patch one HCM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insertion {
    /// Position in `http_filters`, and any conflict in the existing order.
    pub placement: Placement,
    /// Whether `scheme_header_transformation.match_upstream` must be set.
    pub set_match_upstream: bool,
}

/// Why a chain is left alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainSkip {
    /// Not HTTP; the network filters found.
    NoHcm(Vec<String>),
    /// HTTP, but not patchable.
    Unusable(Unusable),
    /// RDS names a route configuration the request does not contain.
    MissingRouteConfig(String),
    /// Its route configuration cannot be read.
    MalformedRouteConfig(String),
    /// Its route configuration has no selected route.
    NoSelectedRoutes(String),
}

impl fmt::Display for ChainSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainSkip::NoHcm(filters) if filters.is_empty() => f.write_str("no network filters"),
            ChainSkip::NoHcm(filters) => {
                write!(f, "no HCM (network filters: {})", filters.join(", "))
            }
            ChainSkip::Unusable(u) => u.fmt(f),
            ChainSkip::MissingRouteConfig(name) => {
                write!(f, "route config {name:?} is not in the request")
            }
            ChainSkip::MalformedRouteConfig(name) => {
                write!(f, "route config {name:?} is malformed")
            }
            ChainSkip::NoSelectedRoutes(name) => {
                write!(f, "route config {name:?} has no selected route")
            }
        }
    }
}

/// Decisions for one route configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteConfigDecision {
    /// Per virtual host, per route.
    pub virtual_hosts: Vec<Vec<RouteDecision>>,
    /// How many routes are selected.
    pub selected: usize,
    /// The routes the upstream side reads (virtual host, route), in order, listed so that it
    /// need not walk all of them: those whose annotation is on and those a policy selected
    /// without it, and every route where a route's own policy chose. The upstream side
    /// numbers an HTTPRoute's rules over all of its routes; EG copies the annotation onto each
    /// of them, but a policy can target one rule, and then the HTTPRoute's other rules must
    /// still be counted (`RouteConfigDecision::new`).
    pub candidates: Vec<(usize, usize)>,
    /// Whether any route carried a choice of its own (see `candidates`).
    pub route_choices: bool,
}

impl RouteConfigDecision {
    /// One route configuration's decisions; `route_choices` says whether any of its routes
    /// carried a choice of its own (a policy on the route or on one of its rules).
    pub(crate) fn new(virtual_hosts: Vec<Vec<RouteDecision>>, route_choices: bool) -> Self {
        let mut selected = 0;
        let mut candidates = Vec::new();
        for (vh, routes) in virtual_hosts.iter().enumerate() {
            for (r, decision) in routes.iter().enumerate() {
                selected += usize::from(matches!(decision, RouteDecision::Selected(_)));
                if route_choices || decision.annotation_on() {
                    candidates.push((vh, r));
                }
            }
        }
        Self {
            virtual_hosts,
            selected,
            candidates,
            route_choices,
        }
    }
}

/// What happens to one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecision {
    /// Enable the processor here; the value is the route name given to it (`namespace/name`).
    Selected(String),
    /// Left as is.
    NotSelected(NotSelected),
}

impl RouteDecision {
    /// Whether the route's HTTPRoute carries the annotation, switched on: the route is
    /// selected, or held back only by its Gateway. Such a route's owner has been read.
    pub fn annotation_on(&self) -> bool {
        match self {
            RouteDecision::Selected(_) => true,
            RouteDecision::NotSelected(why) => why.is_about_gateway(),
        }
    }
}

/// Why a route is not processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSelected {
    /// No `envoy-gateway` metadata on the route.
    NoOwner,
    /// The route's metadata is malformed.
    MalformedOwner(InvalidField),
    /// The HTTPRoute lacks the annotation. When the route's metadata does not contain the
    /// annotation's key at all, it is not read further, so this is also the answer for such
    /// metadata that is malformed or names no owner: the route is left as is either way.
    NotAnnotated,
    /// The annotation is present but `false` or not a string.
    AnnotationOff(String),
    /// Gateway scoping is configured and the virtual host names no Gateway.
    GatewayUnknown,
    /// The Gateway's metadata is malformed.
    GatewayMalformed(InvalidField),
    /// The Gateway's namespace is not allowed.
    NamespaceNotAllowed(String),
    /// The Gateway lacks the opt-in annotation; the value it has instead, if any.
    GatewayNotOptedIn(String, Option<String>),
    /// A ProcessorPolicy leaves it out.
    Policy(Excluded),
}

impl NotSelected {
    /// Whether the reason is the virtual host's Gateway, the route itself being annotated.
    fn is_about_gateway(&self) -> bool {
        match self {
            NotSelected::GatewayUnknown
            | NotSelected::GatewayMalformed(_)
            | NotSelected::NamespaceNotAllowed(_)
            | NotSelected::GatewayNotOptedIn(..) => true,
            NotSelected::NoOwner
            | NotSelected::MalformedOwner(_)
            | NotSelected::NotAnnotated
            | NotSelected::AnnotationOff(_)
            | NotSelected::Policy(_) => false,
        }
    }
}

impl fmt::Display for NotSelected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotSelected::NoOwner => f.write_str("route has no envoy-gateway metadata"),
            NotSelected::MalformedOwner(e) => write!(f, "route {e}"),
            NotSelected::NotAnnotated => f.write_str("HTTPRoute is not annotated"),
            NotSelected::AnnotationOff(v) => write!(f, "HTTPRoute annotation is {v}"),
            NotSelected::GatewayUnknown => {
                f.write_str("virtual host has no Gateway metadata, and Gateway scoping is on")
            }
            NotSelected::GatewayMalformed(e) => write!(f, "virtual host {e}"),
            NotSelected::NamespaceNotAllowed(ns) => {
                write!(
                    f,
                    "Gateway namespace {ns:?} is not in selection.gatewayNamespaces"
                )
            }
            NotSelected::GatewayNotOptedIn(gw, None) => {
                write!(f, "Gateway {gw} lacks the opt-in annotation")
            }
            NotSelected::GatewayNotOptedIn(gw, Some(value)) => {
                write!(f, "Gateway {gw} opt-in annotation is {value}")
            }
            NotSelected::Policy(why) => why.fmt(f),
        }
    }
}

/// Decides everything for one request: `placement` places the processor in patched HCMs, and
/// `scope` says who decides each virtual host and which routes carry a choice of their own
/// (one processor's pass when ProcessorPolicies apply).
///
/// Generic over the scope so that the usual request, without policies ([`Unscoped`]), pays no
/// call per virtual host and route for gates that are constants.
pub(crate) fn decide<S: Scope + ?Sized>(
    config: &SelectionConfig,
    filter_name: &str,
    placement: &Policy,
    index: &Index,
    scope: &S,
) -> Decisions {
    let unread = UnreadOwners::new(&config.route_annotation);
    let route_configs: Vec<RouteConfigDecision> = index
        .route_configs
        .iter()
        .enumerate()
        .map(|(at, rc)| match &rc.virtual_hosts {
            Ok(vhosts) => decide_route_config(config, &unread, (at, rc), vhosts, scope),
            Err(_) => RouteConfigDecision::default(),
        })
        .collect();
    let listeners = index
        .listeners
        .iter()
        .map(|listener| match &listener.chains {
            Ok(chains) => chains
                .iter()
                .map(|chain| {
                    decide_chain(&chain.kind, filter_name, placement, index, &route_configs)
                })
                .collect(),
            Err(_) => Vec::new(),
        })
        .collect();
    Decisions {
        listeners,
        route_configs,
    }
}

/// Byte searches that decide most routes without reading their owners: a route whose
/// metadata does not contain the annotation's key cannot carry the annotation.
struct UnreadOwners<'a> {
    annotation: Finder<'a>,
    owner_entry: Finder<'static>,
}

impl<'a> UnreadOwners<'a> {
    fn new(route_annotation: &'a str) -> Self {
        Self {
            annotation: Finder::new(route_annotation),
            owner_entry: Finder::new(names::EG_METADATA),
        }
    }

    /// Why a route is not selected, when its metadata alone (unread) proves it is not.
    fn not_selected(
        &self,
        route_config: &RouteConfigEntry,
        owner: &OwnerMetadata,
    ) -> Option<NotSelected> {
        if owner.mentions(route_config, &self.annotation) {
            return None;
        }
        Some(if owner.mentions(route_config, &self.owner_entry) {
            NotSelected::NotAnnotated
        } else {
            NotSelected::NoOwner
        })
    }
}

fn decide_route_config<S: Scope + ?Sized>(
    config: &SelectionConfig,
    unread: &UnreadOwners<'_>,
    (at, route_config): (usize, &RouteConfigEntry),
    vhosts: &[VirtualHostEntry],
    scope: &S,
) -> RouteConfigDecision {
    let mut route_choices = false;
    let virtual_hosts = vhosts
        .iter()
        .enumerate()
        .map(|(vh, vhost)| {
            let gate = scope.gate(at, vh);
            let gateway = match &gate {
                Gate::Config => gateway_gate(config, route_config, &vhost.gateway),
                Gate::Closed(why) => Err(why.clone()),
                Gate::Annotated | Gate::All => Ok(()),
            };
            let every_route = gate == Gate::All;
            vhost
                .routes
                .iter()
                .enumerate()
                .map(|(r, route)| {
                    let choice = scope.route_choice(at, vh, r);
                    route_choices |= choice.is_some();
                    match (&gateway, choice) {
                        // A closed virtual host is decided without reading its routes.
                        (Err(why @ NotSelected::Policy(_)), _) => {
                            RouteDecision::NotSelected(why.clone())
                        }
                        (_, choice) => match scope::apply(choice) {
                            Err(why) => RouteDecision::NotSelected(why),
                            Ok(opted_in) => decide_route(
                                config,
                                unread,
                                route_config,
                                route,
                                gateway.as_ref(),
                                every_route || opted_in,
                            ),
                        },
                    }
                })
                .collect()
        })
        .collect();
    RouteConfigDecision::new(virtual_hosts, route_choices)
}

/// Whether the virtual host's Gateway passes the configured scoping; `Err` says why not.
/// The Gateway is read only when scoping is configured.
fn gateway_gate(
    config: &SelectionConfig,
    route_config: &RouteConfigEntry,
    gateway: &OwnerMetadata,
) -> Result<(), NotSelected> {
    if config.gateway_namespaces.is_none() && config.gateway_annotation.is_none() {
        return Ok(());
    }
    let owner = match gateway.ownership(route_config) {
        Ownership::Owned(owner) => owner,
        Ownership::Unknown => return Err(NotSelected::GatewayUnknown),
        Ownership::Malformed(e) => return Err(NotSelected::GatewayMalformed(e.clone())),
    };
    if let Some(allowed) = &config.gateway_namespaces
        && !allowed.contains(&owner.namespace)
    {
        return Err(NotSelected::NamespaceNotAllowed(owner.namespace.clone()));
    }
    if let Some(key) = &config.gateway_annotation {
        match owner.annotations.get(key) {
            Some(value) if value.is_enabled() => {}
            Some(value) => {
                let value = Some(shown(value));
                return Err(NotSelected::GatewayNotOptedIn(
                    owner.qualified_name(),
                    value,
                ));
            }
            None => return Err(NotSelected::GatewayNotOptedIn(owner.qualified_name(), None)),
        }
    }
    Ok(())
}

/// Decides one route of an open virtual host; `without_annotation` selects it without the
/// annotation (a policy's `routes: All`, or the route's own opt-in).
fn decide_route(
    config: &SelectionConfig,
    unread: &UnreadOwners<'_>,
    route_config: &RouteConfigEntry,
    route: &RouteEntry,
    gateway: Result<&(), &NotSelected>,
    without_annotation: bool,
) -> RouteDecision {
    if !without_annotation && let Some(why) = unread.not_selected(route_config, &route.owner) {
        return RouteDecision::NotSelected(why);
    }
    let owner: &Owner = match route.owner.ownership(route_config) {
        Ownership::Owned(owner) => owner,
        Ownership::Unknown => return RouteDecision::NotSelected(NotSelected::NoOwner),
        Ownership::Malformed(e) => {
            return RouteDecision::NotSelected(NotSelected::MalformedOwner(e.clone()));
        }
    };
    match owner.annotations.get(&config.route_annotation) {
        _ if without_annotation => {}
        None => return RouteDecision::NotSelected(NotSelected::NotAnnotated),
        Some(value) if !value.is_enabled() => {
            return RouteDecision::NotSelected(NotSelected::AnnotationOff(shown(value)));
        }
        Some(_) => {}
    }
    match gateway {
        Ok(()) => RouteDecision::Selected(owner.qualified_name()),
        Err(reason) => RouteDecision::NotSelected(reason.clone()),
    }
}

/// An annotation value as shown in reasons: quoted text, or its JSON type.
fn shown(value: &Annotation) -> String {
    match value {
        Annotation::Text(t) => format!("{t:?}"),
        Annotation::Other(kind) => (*kind).to_owned(),
    }
}

fn decide_chain(
    kind: &ChainKind,
    filter_name: &str,
    placement: &Policy,
    index: &Index,
    route_configs: &[RouteConfigDecision],
) -> ChainDecision {
    let http = match kind {
        ChainKind::Http(http) => http,
        ChainKind::NoHcm(filters) => return ChainDecision::Skip(ChainSkip::NoHcm(filters.clone())),
        ChainKind::Unusable(u) => return ChainDecision::Skip(ChainSkip::Unusable(u.clone())),
    };
    let (mut named, mut readable, mut selected) = (false, false, false);
    for position in index.route_configs_named(&http.route_config) {
        named = true;
        let is_readable = index
            .route_configs
            .get(position)
            .is_some_and(|rc| rc.virtual_hosts.is_ok());
        readable |= is_readable;
        selected |= is_readable && route_configs.get(position).is_some_and(|d| d.selected > 0);
    }
    if !named {
        return ChainDecision::Skip(ChainSkip::MissingRouteConfig(http.route_config.clone()));
    }
    if !readable {
        return ChainDecision::Skip(ChainSkip::MalformedRouteConfig(http.route_config.clone()));
    }
    if !selected {
        return ChainDecision::Skip(ChainSkip::NoSelectedRoutes(http.route_config.clone()));
    }
    if http.http_filters.iter().any(|f| f.name == filter_name) {
        return ChainDecision::AlreadyPatched;
    }
    ChainDecision::Patch(Insertion {
        placement: placement.placement(&http.http_filters),
        set_match_upstream: !http.match_upstream,
    })
}
