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
        let listeners = self.index.listeners.iter().zip(&self.decisions.listeners);
        for (l, (listener, decisions)) in listeners.enumerate() {
            let chains = match &listener.chains {
                Ok(chains) => chains,
                Err(e) => {
                    lines.push(ChainLine {
                        listener: listener.name.clone(),
                        chain: "-".to_owned(),
                        decision: "skipped",
                        reason: format!("malformed listener, left as is: {e}"),
                        source: None,
                    });
                    continue;
                }
            };
            if chains.is_empty() {
                lines.push(ChainLine {
                    listener: listener.name.clone(),
                    chain: "-".to_owned(),
                    decision: "skipped",
                    reason: "no filter chains".to_owned(),
                    source: None,
                });
            }
            for (c, (chain, decision)) in chains.iter().zip(decisions).enumerate() {
                let (decision, reason) = chain_verdict(chain, decision);
                lines.push(ChainLine {
                    listener: listener.name.clone(),
                    chain: chain_place(chain),
                    decision,
                    reason,
                    source: self.policies.as_ref().map(|p| p.chain_source(l, c)),
                });
            }
        }
        lines
    }

    /// Per-route lines, in request order.
    pub fn route_lines(&self) -> Vec<RouteLine> {
        let mut lines = Vec::new();
        let configs = self
            .index
            .route_configs
            .iter()
            .zip(&self.decisions.route_configs);
        for (ri, ((rc, decision), change)) in configs.zip(&self.route_changes).enumerate() {
            let vhosts = match &rc.virtual_hosts {
                Ok(vhosts) => vhosts,
                Err(e) => {
                    lines.push(RouteLine::whole(
                        &rc.name,
                        "skipped",
                        format!("malformed route config, left as is: {e}"),
                    ));
                    continue;
                }
            };
            if let Change::Failed(e) = change {
                lines.push(RouteLine::whole(
                    &rc.name,
                    "skipped",
                    format!("left as is, cannot edit: {e}"),
                ));
            }
            for (vi, (vhost, route_decisions)) in
                vhosts.iter().zip(&decision.virtual_hosts).enumerate()
            {
                for (r, (route, route_decision)) in
                    vhost.routes.iter().zip(route_decisions).enumerate()
                {
                    let owner = match route.owner.ownership(rc) {
                        Ownership::Owned(owner) => Some(OwnerRef::of(owner)),
                        _ => None,
                    };
                    let (decision, reason) = route_verdict(route_decision, change);
                    lines.push(RouteLine {
                        route_config: rc.name.clone(),
                        virtual_host: rc.text(vhost.name).to_owned(),
                        route: rc.text(route.name).to_owned(),
                        owner,
                        decision,
                        reason,
                        source: self.policies.as_ref().map(|p| p.route_source(ri, vi, r)),
                    });
                }
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
pub fn chain_place(chain: &ChainEntry) -> String {
    let mut place = chain.locator.to_string();
    if !chain.name.is_empty() {
        let _ = write!(place, " ({})", chain.name);
    }
    place
}

/// A chain's decision in words (`patched`, `unchanged` or `skipped`) and why.
pub fn chain_verdict(chain: &ChainEntry, decision: &ChainDecision) -> (&'static str, String) {
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
pub fn route_verdict(decision: &RouteDecision, change: &Change) -> (&'static str, String) {
    match decision {
        RouteDecision::Selected(name) if *change == Change::Unchanged => {
            ("selected", format!("HTTPRoute {name}, already enabled"))
        }
        RouteDecision::Selected(name) => ("selected", format!("HTTPRoute {name}")),
        RouteDecision::NotSelected(why) => ("not selected", why.to_string()),
    }
}
