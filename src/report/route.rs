//! `explain --route <namespace>/<name>`: "why is my route (not) processed?"
//!
//! Answers about one HTTPRoute from the reports: every xDS route EG built from it (the routes
//! whose `envoy-gateway` metadata names it), with its route configuration, virtual host, the
//! chains and listeners that serve that route configuration, the clusters it sends traffic to,
//! and each of their decisions with its reason, in the same words as the full report. Hints
//! name the usual mistakes. Nothing is decided here: routes are found by reading their owners,
//! and every verdict is the report's.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::Serialize;

use super::{ChainLine, Origin, Report, Section, chain_place, route_verdict};
use crate::format::gateway_api::ApiObject;
use crate::index::{ChainKind, Ownership, RouteConfigEntry, RouteEntry};
use crate::select::{ChainDecision, ChainSkip, NotSelected, RouteDecision};

/// The HTTPRoute asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteQuery {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

/// `--route` is not `<namespace>/<name>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?}: expected <namespace>/<name>")]
pub struct InvalidRouteQuery(String);

impl FromStr for RouteQuery {
    type Err = InvalidRouteQuery;

    fn from_str(s: &str) -> Result<Self, InvalidRouteQuery> {
        match s.split_once('/') {
            Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => Ok(Self {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            }),
            _ => Err(InvalidRouteQuery(s.to_owned())),
        }
    }
}

impl fmt::Display for RouteQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The answer, for text and `--format json`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteAnswer<'a> {
    /// [`super::json::VERSION`].
    pub version: u32,
    /// `namespace/name`.
    pub http_route: String,
    /// Whether any Gateway has a route built from it.
    pub found: bool,
    /// One per call.
    pub gateways: Vec<RouteGateway<'a>>,
    /// Hints when it is found nowhere.
    pub hints: Vec<String>,
}

/// The HTTPRoute in one call.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteGateway<'a> {
    /// Where the request came from; `null` for a lone request.
    pub origin: Option<&'a Origin>,
    /// Every xDS route built from the HTTPRoute.
    pub routes: Vec<XdsRoute>,
    /// Hints for this Gateway.
    pub hints: Vec<String>,
}

/// One xDS route built from the HTTPRoute.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct XdsRoute {
    /// Its route configuration.
    pub route_config: String,
    /// Its virtual host.
    pub virtual_host: String,
    /// Its name.
    pub route: String,
    /// `selected` or `not selected`.
    pub decision: &'static str,
    /// Why.
    pub reason: String,
    /// Who decided it, when ProcessorPolicies were in play.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The listener chains whose HCM uses its route configuration.
    pub chains: Vec<ChainLine>,
    /// The clusters it sends traffic to.
    pub clusters: Vec<RouteCluster>,
    /// Why it is not selected (for the hints).
    #[serde(skip)]
    pub not_selected: Option<NotSelected>,
}

/// A cluster a route sends traffic to, and what happened to it.
#[derive(Debug, Serialize)]
pub struct RouteCluster {
    /// Cluster name (`-` when the route picks it per request).
    pub name: String,
    /// `patched`, `unchanged`, `skipped`, `unresolved` or `missing`.
    pub decision: &'static str,
    /// Why.
    pub reason: String,
}

/// Answers about `query` from every section.
pub fn answer<'a>(
    sections: &[Section<'a>],
    query: &RouteQuery,
    route_annotation: &str,
    api: &ApiObject,
) -> RouteAnswer<'a> {
    let gateways: Vec<RouteGateway<'a>> = sections
        .iter()
        .map(|s| {
            let routes = s.report.map(|r| routes_of(r, query)).unwrap_or_default();
            let hints = s
                .report
                .map(|r| gateway_hints(r, &routes, route_annotation, api))
                .unwrap_or_default();
            RouteGateway {
                origin: s.origin,
                routes,
                hints,
            }
        })
        .collect();
    let found = gateways.iter().any(|g| !g.routes.is_empty());
    let hints = if found {
        Vec::new()
    } else {
        not_found_hints(sections, query, api)
    };
    RouteAnswer {
        version: super::json::VERSION,
        http_route: query.to_string(),
        found,
        gateways,
        hints,
    }
}

/// Whether a route was built from the HTTPRoute.
pub(crate) fn built_from(rc: &RouteConfigEntry, route: &RouteEntry, query: &RouteQuery) -> bool {
    matches!(route.owner.ownership(rc), Ownership::Owned(owner)
        if owner.kind == "HTTPRoute" && owner.namespace == query.namespace && owner.name == query.name)
}

fn routes_of(report: &Report, query: &RouteQuery) -> Vec<XdsRoute> {
    let mut out = Vec::new();
    for config in report.route_configs() {
        let (rc, change) = (config.entry, config.change);
        let Ok(routes) = config.routes() else {
            continue;
        };
        for found in routes.filter(|found| built_from(rc, found.entry, query)) {
            let ((vi, vhost), route, decision) = (found.virtual_host, found.entry, found.decision);
            let (verdict, reason) = route_verdict(decision, change);
            out.push(XdsRoute {
                route_config: rc.name.clone(),
                virtual_host: rc.text(vhost.name).to_owned(),
                route: rc.text(route.name).to_owned(),
                decision: verdict,
                reason,
                source: report
                    .policies
                    .as_ref()
                    .map(|p| p.route_source(config.position, vi, found.position)),
                chains: chains_using(report, &rc.name),
                clusters: clusters_of(
                    report,
                    rc,
                    route,
                    (config.position, vi, found.position),
                    decision,
                ),
                not_selected: match decision {
                    RouteDecision::NotSelected(why) => Some(why.clone()),
                    RouteDecision::Selected(_) => None,
                },
            });
        }
    }
    out
}

fn chains_using(report: &Report, route_config: &str) -> Vec<ChainLine> {
    let mut out = Vec::new();
    for listener in report.listeners() {
        let Ok(chains) = listener.chains() else {
            continue;
        };
        for chain in chains {
            if matches!(&chain.entry.kind, ChainKind::Http(http) if http.route_config == route_config)
            {
                let (verdict, reason) = chain.verdict();
                out.push(ChainLine {
                    listener: listener.entry.name.clone(),
                    chain: chain_place(chain.entry),
                    decision: verdict,
                    reason,
                    source: report
                        .policies
                        .as_ref()
                        .map(|p| p.chain_source(listener.position, chain.position)),
                });
            }
        }
    }
    out
}

fn clusters_of(
    report: &Report,
    rc: &RouteConfigEntry,
    route: &RouteEntry,
    at: (usize, usize, usize),
    decision: &RouteDecision,
) -> Vec<RouteCluster> {
    let Some((names, _)) = route.targets.clusters() else {
        // Chosen per request: the report says why it cannot be followed, when it is selected.
        return report
            .upstream
            .unresolved
            .iter()
            .filter(|u| (u.route_config, u.virtual_host, u.route) == at)
            .map(|u| RouteCluster {
                name: "-".to_owned(),
                decision: "unresolved",
                reason: u.reason.to_string(),
            })
            .collect();
    };
    let selected = matches!(decision, RouteDecision::Selected(_));
    let targeted = names.iter().map(|name| {
        let name = rc.text(*name);
        let outcome = report.upstream.clusters.iter().find(|c| c.name == name);
        let (decision, reason) = match (outcome, report.index.clusters.position(name)) {
            (Some(c), _) => (c.verdict(), c.reason()),
            (None, None) => ("missing", "not in the request".to_owned()),
            (None, Some(_))
                if selected
                    && (report.policies.as_ref()).is_some_and(|p| p.upstream_off(at.0, at.1)) =>
            {
                (
                    "unchanged",
                    "not prepared: the route's policy turns upstream filters off".to_owned(),
                )
            }
            (None, Some(_)) if selected => (
                "unchanged",
                "not prepared: its route configuration was not patched".to_owned(),
            ),
            (None, Some(_)) => (
                "unchanged",
                "not an AI backend: no selected route targets it".to_owned(),
            ),
        };
        RouteCluster {
            name: name.to_owned(),
            decision,
            reason,
        }
    });
    targeted.collect()
}

fn gateway_hints(
    report: &Report,
    routes: &[XdsRoute],
    route_annotation: &str,
    api: &ApiObject,
) -> Vec<String> {
    let mut hints = Vec::new();
    if routes.is_empty() {
        let unsent: Vec<&str> = report
            .decisions
            .listeners
            .iter()
            .flatten()
            .filter_map(|d| match d {
                ChainDecision::Skip(ChainSkip::MissingRouteConfig(name)) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        if !unsent.is_empty() {
            hints.push(format!(
                "listeners here use route configurations the input does not hold ({}); the \
                 HTTPRoute may be in one of them: EG sends route configurations to the hook only \
                 with translation.route.includeAll: true",
                unsent.join(", ")
            ));
        }
        return hints;
    }
    let reasons = || routes.iter().filter_map(|r| r.not_selected.as_ref());
    if reasons().any(|why| matches!(why, NotSelected::NotAnnotated)) {
        hints.push(annotation_hint(route_annotation, api));
    }
    if reasons().any(|why| matches!(why, NotSelected::AnnotationOff(_))) {
        hints.push(format!(
            "the {route_annotation:?} annotation is there but off: a value of \"false\" counts as absent"
        ));
    }
    if reasons().any(|why| {
        matches!(
            why,
            NotSelected::GatewayUnknown
                | NotSelected::NamespaceNotAllowed(_)
                | NotSelected::GatewayNotOptedIn(..)
        )
    }) {
        hints.push(
            "the route is annotated, but Gateway scoping in the hook's configuration leaves its \
             Gateway out (selection.gatewayNamespaces, selection.gatewayAnnotation): run explain \
             with the hook's own --config"
                .to_owned(),
        );
    }
    for route in routes {
        if route.decision == "selected" && route.chains.is_empty() {
            hints.push(format!(
                "no listener in the input uses route configuration {:?}: the hook patches HCMs \
                 only in listeners EG sends it (translation.listener.includeAll: true); a dump \
                 taken with -t route has none",
                route.route_config
            ));
        }
    }
    hints.dedup();
    hints
}

fn annotation_hint(route_annotation: &str, api: &ApiObject) -> String {
    let wanted = format!("gateway.envoyproxy.io/{route_annotation}");
    let general = format!(
        "the route carries no {route_annotation:?} annotation: EG copies into xDS only \
         annotations whose key starts with gateway.envoyproxy.io/ (and strips that prefix), so \
         annotate the HTTPRoute {wanted}: \"true\""
    );
    let ApiObject::Listed { annotations, .. } = api else {
        return general;
    };
    let near: Vec<&str> = annotations
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| *k != wanted && k.rsplit('/').next() == Some(route_annotation))
        .collect();
    if near.is_empty() {
        return general;
    }
    format!(
        "the HTTPRoute is annotated {}, which EG does not copy into xDS: only keys under \
         gateway.envoyproxy.io/ are forwarded; rename it {wanted}",
        near.join(", ")
    )
}

fn not_found_hints(sections: &[Section<'_>], query: &RouteQuery, api: &ApiObject) -> Vec<String> {
    let mut hints = vec![format!(
        "no xDS route in the input was built from HTTPRoute {query} (routes name the HTTPRoute \
         they come from in their envoy-gateway metadata)"
    )];
    match api {
        ApiObject::Absent => {}
        ApiObject::NotListed => hints.push(format!(
            "{query} is not among the input's httpRoutes either: check its namespace and name"
        )),
        ApiObject::Listed {
            failing_conditions, ..
        } => hints.push(if failing_conditions.is_empty() {
            format!(
                "{query} is in the input's httpRoutes, but EG built no route from it: check its \
                 parentRefs and hostnames against the Gateways' listeners"
            )
        } else {
            format!(
                "{query} is in the input's httpRoutes, but EG built no route from it; its status \
                 says: {}",
                failing_conditions.join("; ")
            )
        }),
    }
    let mut present: Vec<String> = Vec::new();
    for report in sections.iter().filter_map(|s| s.report) {
        for rc in &report.index.route_configs {
            let Ok(vhosts) = &rc.virtual_hosts else {
                continue;
            };
            for route in vhosts.iter().flat_map(|v| &v.routes) {
                if let Ownership::Owned(owner) = route.owner.ownership(rc)
                    && owner.kind == "HTTPRoute"
                    && !present.contains(&owner.qualified_name())
                {
                    present.push(owner.qualified_name());
                }
            }
        }
    }
    if !present.is_empty() {
        let shown = present
            .iter()
            .take(12)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = present.len().saturating_sub(12);
        let mut line = format!("HTTPRoutes with routes in the input: {shown}");
        if more > 0 {
            let _ = write!(line, " and {more} more");
        }
        hints.push(line);
    }
    hints
}

impl RouteAnswer<'_> {
    /// The answer as text.
    pub fn text(&self) -> String {
        let mut out = format!("HTTPRoute {}\n", self.http_route);
        for gateway in &self.gateways {
            if let Some(origin) = gateway.origin {
                let _ = writeln!(out, "\n=== {}", origin.heading());
            }
            if gateway.routes.is_empty() {
                let _ = writeln!(out, "no route built from this HTTPRoute");
            }
            for route in &gateway.routes {
                let _ = writeln!(
                    out,
                    "route config {:?}, virtual host {:?}, route {:?}\n  decision: {}: {}",
                    route.route_config,
                    route.virtual_host,
                    route.route,
                    route.decision,
                    route.reason
                );
                if let Some(source) = &route.source {
                    let _ = writeln!(out, "  decided by: {source}");
                }
                if route.chains.is_empty() {
                    let _ = writeln!(out, "  chain: none in the input uses this route config");
                }
                for chain in &route.chains {
                    let _ = writeln!(
                        out,
                        "  chain: listener {:?} {}: {}: {}",
                        chain.listener, chain.chain, chain.decision, chain.reason
                    );
                    if let Some(source) = &chain.source {
                        let _ = writeln!(out, "    decided by: {source}");
                    }
                }
                for cluster in &route.clusters {
                    let _ = writeln!(
                        out,
                        "  cluster {:?}: {}: {}",
                        cluster.name, cluster.decision, cluster.reason
                    );
                }
            }
            for hint in &gateway.hints {
                let _ = writeln!(out, "hint: {hint}");
            }
        }
        if !self.hints.is_empty() {
            out.push('\n');
        }
        for hint in &self.hints {
            let _ = writeln!(out, "hint: {hint}");
        }
        out
    }
}
