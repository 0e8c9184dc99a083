//! The report as rows: one per listener chain, one per route, each with its decision in words
//! and the reason. `explain` prints them as tables, `--format json` as objects, and the graph
//! and `--route` word their nodes with the same functions, so every view says the same thing.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Change, Report};
use crate::index::{ChainEntry, ChainKind, Owner, Ownership};
use crate::select::{ChainDecision, RouteDecision};

impl Report {
    /// Per-chain lines, in request order.
    pub fn chain_lines(&self) -> Vec<ChainLine> {
        let mut lines = Vec::new();
        for listener in self.listeners() {
            let name = &listener.entry.name;
            let whole = |reason: String| ChainLine {
                listener: name.clone(),
                chain: "-".to_owned(),
                decision: "skipped",
                reason,
                source: None,
            };
            let chains = match listener.chains() {
                Ok(chains) => chains,
                Err(e) => {
                    lines.push(whole(format!("malformed listener, left as is: {e}")));
                    continue;
                }
            };
            let before = lines.len();
            for chain in chains {
                let (decision, reason) = chain.verdict();
                let source = self.policies.as_ref();
                lines.push(ChainLine {
                    listener: name.clone(),
                    chain: chain_place(chain.entry),
                    decision,
                    reason,
                    source: source.map(|p| p.chain_source(listener.position, chain.position)),
                });
            }
            if lines.len() == before {
                lines.push(whole("no filter chains".to_owned()));
            }
        }
        lines
    }

    /// Per-route lines, in request order.
    pub(crate) fn route_lines(&self) -> Vec<RouteLine> {
        let mut lines = Vec::new();
        for config in self.route_configs() {
            let rc = config.entry;
            let routes = match config.routes() {
                Ok(routes) => routes,
                Err(e) => {
                    lines.push(RouteLine::whole(
                        &rc.name,
                        "skipped",
                        format!("malformed route config, left as is: {e}"),
                    ));
                    continue;
                }
            };
            if let Change::Failed(e) = config.change {
                lines.push(RouteLine::whole(
                    &rc.name,
                    "skipped",
                    format!("left as is, cannot edit: {e}"),
                ));
            }
            for route in routes {
                let owner = match route.entry.owner.ownership(rc) {
                    Ownership::Owned(owner) => Some(OwnerRef::of(owner)),
                    _ => None,
                };
                let (decision, reason) = route_verdict(route.decision, config.change);
                let place = (config.position, route.virtual_host.0, route.position);
                lines.push(RouteLine {
                    route_config: rc.name.clone(),
                    virtual_host: rc.text(route.virtual_host.1.name).to_owned(),
                    route: rc.text(route.entry.name).to_owned(),
                    owner,
                    decision,
                    reason,
                    source: self
                        .policies
                        .as_ref()
                        .map(|p| p.route_source(place.0, place.1, place.2)),
                });
            }
        }
        lines
    }
}

/// One chain of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainLine {
    /// Listener name.
    pub listener: String,
    /// Chain locator and name.
    pub chain: String,
    /// `patched`, `unchanged` or `skipped`.
    pub decision: &'static str,
    /// Why.
    pub reason: String,
    /// Who decided it (`config`, `policy <ns>/<name>`), when ProcessorPolicies were in play.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One route of the report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteLine {
    /// Route configuration name.
    pub route_config: String,
    /// Virtual host name.
    pub virtual_host: String,
    /// Route name.
    pub route: String,
    /// The object EG built it from (its HTTPRoute), when its metadata names one.
    pub owner: Option<OwnerRef>,
    /// `selected`, `not selected` or `skipped`.
    pub decision: &'static str,
    /// Why.
    pub reason: String,
    /// Who decided it (`config`, `policy <ns>/<name>`, `policy <ns>/<name> (HTTPRoute)`),
    /// when ProcessorPolicies were in play.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// The Kubernetes object a route was built from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerRef {
    /// `HTTPRoute`, `GRPCRoute`, ...
    pub kind: String,
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl OwnerRef {
    fn of(owner: &Owner) -> Self {
        Self {
            kind: owner.kind.to_string(),
            namespace: owner.namespace.clone(),
            name: owner.name.clone(),
        }
    }
}

impl RouteLine {
    fn whole(route_config: &str, decision: &'static str, reason: String) -> Self {
        Self {
            route_config: route_config.to_owned(),
            virtual_host: "-".to_owned(),
            route: "-".to_owned(),
            owner: None,
            decision,
            reason,
            source: None,
        }
    }
}

/// Where a chain is, as the report names it: its locator, and its name when it has one.
pub(crate) fn chain_place(chain: &ChainEntry) -> String {
    let mut place = chain.locator.to_string();
    if !chain.name.is_empty() {
        let _ = write!(place, " ({})", chain.name);
    }
    place
}

/// A chain's decision in words (`patched`, `unchanged` or `skipped`) and why.
pub(crate) fn chain_verdict(
    chain: &ChainEntry,
    decision: &ChainDecision,
    failure: Option<&str>,
) -> (&'static str, String) {
    if let (ChainDecision::Patch(_), Some(error)) = (decision, failure) {
        return ("skipped", format!("left as is, cannot edit: {error}"));
    }
    match decision {
        ChainDecision::Patch(insertion) => {
            let route_config = match &chain.kind {
                ChainKind::Http(http) => http.route_config.as_str(),
                _ => "",
            };
            let reason = format!(
                "route config {route_config:?} has selected routes; {}",
                insertion.placement
            );
            ("patched", reason)
        }
        ChainDecision::AlreadyPatched => {
            ("unchanged", "processor filter already present".to_owned())
        }
        ChainDecision::Skip(skip) => ("skipped", skip.to_string()),
    }
}

/// A route's decision in words (`selected` or `not selected`) and why; `change` is what
/// happened to its route configuration.
pub(crate) fn route_verdict(decision: &RouteDecision, change: &Change) -> (&'static str, String) {
    match decision {
        RouteDecision::Selected(name) if *change == Change::Unchanged => {
            ("selected", format!("HTTPRoute {name}, already enabled"))
        }
        RouteDecision::Selected(name) => ("selected", format!("HTTPRoute {name}")),
        RouteDecision::NotSelected(why) => ("not selected", why.to_string()),
    }
}
