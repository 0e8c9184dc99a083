//! What the report holds about policies: the verdict on each, each processor and what it did,
//! and who decided each chain and route. `crate::report` renders it (a `source` column, the
//! POLICIES and PROCESSORS tables, JSON); nothing here decides.

use super::choice::RouteChoices;
use super::processor::Source;
use super::verdict::{Outcome, Verdict};
use crate::mutate::cluster::ProcessorCluster;

/// The policy side of one call's report.
#[derive(Debug, Default)]
pub struct PolicyReport {
    /// What became of each delivered policy.
    pub verdicts: Vec<Verdict>,
    /// Each processor (one pass each), the configuration's first.
    pub processors: Vec<ProcessorLine>,
    /// Per listener, per chain: who decided it (the deciders of its route configuration's
    /// virtual hosts).
    pub chains: Vec<Vec<String>>,
    /// Per route configuration, per virtual host: who decided it.
    pub(super) vhosts: Vec<Vec<VhostSource>>,
    /// The route choices the decisions honoured.
    pub(super) choices: RouteChoices,
}

/// Who decided one virtual host.
#[derive(Debug, Clone)]
pub(super) struct VhostSource {
    /// The configuration, or the deciding policy.
    pub(super) source: Source,
    /// Whether its routes were decided without looking at them (opted out, invalid policy):
    /// then no route choice counts.
    pub(super) closed: bool,
    /// Whether the processor serving it prepares AI backend clusters (`upstreamFilters`).
    pub(super) upstream: bool,
}

/// One processor and what its pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorLine {
    /// The configuration, or the policy whose settings it has.
    pub source: Source,
    /// Its filter's name (and per-route config key).
    pub filter_name: String,
    /// Its cluster's name.
    pub cluster_name: String,
    /// Whether AI backend clusters of its routes got the upstream filters.
    pub upstream: bool,
    /// What happened to its cluster; `None`: not needed.
    pub cluster: Option<ProcessorCluster>,
    /// Routes it serves.
    pub routes: usize,
    /// Chains it was inserted into (or found in).
    pub chains: usize,
}

impl PolicyReport {
    /// Who decided route `route` of virtual host `virtual_host` of route configuration
    /// `route_config`: its own policy when it carries a choice that counted, else its virtual
    /// host's.
    pub fn route_source(&self, route_config: usize, virtual_host: usize, route: usize) -> String {
        let vhost = self
            .vhosts
            .get(route_config)
            .and_then(|v| v.get(virtual_host));
        let open = vhost.is_none_or(|v| !v.closed);
        let choice = self.choices.get(&(route_config, virtual_host, route));
        match (open, choice.and_then(|c| c.policy())) {
            (true, Some(policy)) => format!("policy {policy} (HTTPRoute)"),
            _ => vhost.map_or_else(|| Source::Config.to_string(), |v| v.source.to_string()),
        }
    }

    /// Whether the processor serving a virtual host left AI backend clusters alone
    /// (`upstreamFilters: false`).
    pub fn upstream_off(&self, route_config: usize, virtual_host: usize) -> bool {
        self.vhosts
            .get(route_config)
            .and_then(|v| v.get(virtual_host))
            .is_some_and(|v| !v.upstream)
    }

    /// Who decided chain `chain` of listener `listener`.
    pub fn chain_source(&self, listener: usize, chain: usize) -> String {
        self.chains
            .get(listener)
            .and_then(|l| l.get(chain))
            .cloned()
            .unwrap_or_else(|| Source::Config.to_string())
    }

    /// Logs the policies: WARN for an invalid one (its targets stay unprocessed), DEBUG for
    /// the rest.
    pub fn log(&self) {
        for v in &self.verdicts {
            let target = v
                .target
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            if matches!(v.outcome, Outcome::Invalid { .. }) {
                tracing::warn!(policy = %v.policy, %target, reason = %v.outcome, "ProcessorPolicy invalid");
            } else {
                tracing::debug!(policy = %v.policy, %target, verdict = v.outcome.word(), reason = %v.outcome, "policy");
            }
        }
        for p in &self.processors {
            tracing::debug!(source = %p.source, filter = %p.filter_name, cluster = %p.cluster_name, routes = p.routes, chains = p.chains, "processor");
        }
    }
}
