//! The decision report: the single source of the hook's logs and of `xds-hook explain`.
//!
//! It owns the index and the decisions of one call and renders them: a summary (one INFO line
//! per call), per-chain and per-route details (DEBUG, or the explain table), and hints for the
//! common "nothing was selected" mistakes. Every line names its place with the same paths the
//! code uses (`listener "x" filter_chains[2]`).
//!
//! The views (`text`, `json`, `graph`, and `route` for one HTTPRoute) only render what the
//! report holds: none of them decides anything, so none can disagree with what was done.

pub mod graph;
pub mod json;
mod lines;
mod policies;
pub mod route;
pub(crate) mod table;
pub(crate) mod text;
mod upstream;
mod walk;

use std::fmt;

use serde::Serialize;

/// What a report holds, nameable by its readers: the index the call was decided on
/// ([`Report::index`]) and the decisions ([`Report::decisions`]). The stages' modules are
/// private; these are their types a report shows.
pub use crate::index::{ChainKind, ChainLocator, Index, Ownership};
use crate::mutate::cluster::ProcessorCluster;
pub use crate::select::{ChainDecision, ChainSkip, Decisions, RouteDecision};
pub use lines::{ChainLine, OwnerRef, RouteLine};
pub(crate) use lines::{chain_place, chain_verdict, route_verdict};
pub use text::explain_sections;
pub use upstream::{ClusterLine, ClusterOutcome, ClusterVerdict, UpstreamReport};
pub use walk::{Chain, Listener, Route, RouteConfig};

/// Where a call's request came from, when the input held several Gateways (an `egctl` or Envoy
/// admin dump).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    /// The Gateway or pod, `namespace/name`, as `--gateway` takes it; empty for an Envoy
    /// `/config_dump` (one proxy).
    pub name: String,
    /// How sections are titled: `Gateway default/eg`, `pod ns/envoy-…`, `Envoy config dump`.
    pub title: String,
    /// Where its xDS is in the input (`xds["default/eg"]`); empty when it is the whole input.
    pub path: String,
}

impl Origin {
    /// The title, with the place in the input when there is one.
    pub fn heading(&self) -> String {
        if self.path.is_empty() {
            self.title.clone()
        } else {
            format!("{} ({})", self.title, self.path)
        }
    }
}

/// One call's report in a view, with where its request came from.
#[derive(Debug, Clone, Copy)]
pub struct Section<'a> {
    /// The Gateway or pod, for a dump; `None` for a lone request.
    pub origin: Option<&'a Origin>,
    /// The report; `None` when there was nothing to call the hook on.
    pub report: Option<&'a Report>,
}

/// What happened to one route configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// No route selected: untouched.
    NotSelected,
    /// Patched.
    Changed,
    /// Selected routes were already enabled (the input is our own output).
    Unchanged,
    /// Could not be edited; left as it came.
    Failed(String),
}

/// A filter chain selection chose to patch whose bytes could not be edited: it went back as
/// it came. Kept beside the decision, which stays what selection decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFailure {
    /// The listener's position in the request.
    pub listener: usize,
    /// The chain.
    pub locator: ChainLocator,
    /// Why the edit failed.
    pub error: String,
}

/// Everything about one call.
#[derive(Debug)]
pub struct Report {
    /// What the request contained.
    pub index: Index,
    /// What selection decided.
    pub decisions: Decisions,
    /// Chains whose decided patch could not be made.
    pub chain_failures: Vec<ChainFailure>,
    /// Per route configuration, what the mutation did.
    pub route_changes: Vec<Change>,
    /// What happened to the AI backend clusters.
    pub upstream: UpstreamReport,
    /// The processor cluster, when one was needed.
    pub processor_cluster: Option<ProcessorCluster>,
    /// Input counts: clusters, secrets, listeners, route configurations.
    pub resources_in: [usize; 4],
    /// What was done for InferencePool routes (empty without any).
    pub inference: crate::inference::Report,
    /// What ProcessorPolicies decided, when the request carried any (or routes carried a
    /// policy's choice); `None` otherwise, and then the report reads as it always has.
    pub policies: Option<crate::policy::report::PolicyReport>,
}

/// Counters for one call (in `--format json` under these names, camelCased).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Listeners in the request.
    pub listeners: usize,
    /// Filter chains patched now.
    pub chains_patched: usize,
    /// Filter chains that already had the processor.
    #[serde(rename = "chainsAlreadyPatched")]
    pub chains_already: usize,
    /// Filter chains skipped.
    pub chains_skipped: usize,
    /// Routes in the request.
    pub routes: usize,
    /// Routes selected.
    pub routes_selected: usize,
    /// Route configurations changed.
    pub route_configs_patched: usize,
    /// AI backend clusters (targeted by a selected route).
    pub backend_clusters: usize,
    /// AI backend clusters changed.
    pub clusters_patched: usize,
    /// Listeners and route configurations that could not be decoded at all (left as is).
    pub malformed: usize,
}

impl Report {
    /// Why the decided patch of chain `locator` of listener `listener` could not be made, if
    /// it could not.
    pub fn chain_failure(&self, listener: usize, locator: ChainLocator) -> Option<&str> {
        self.chain_failures
            .iter()
            .find(|f| f.listener == listener && f.locator == locator)
            .map(|f| f.error.as_str())
    }

    /// Counts decisions.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            listeners: self.index.listeners.len(),
            ..Summary::default()
        };
        for chain in self.decisions.listeners.iter().flatten() {
            match chain {
                ChainDecision::Patch(_) => s.chains_patched += 1,
                ChainDecision::AlreadyPatched => s.chains_already += 1,
                ChainDecision::Skip(_) => s.chains_skipped += 1,
            }
        }
        // A patch that could not be made left its chain as it came.
        s.chains_patched -= self.chain_failures.len();
        s.chains_skipped += self.chain_failures.len();
        s.malformed += self
            .index
            .listeners
            .iter()
            .filter(|l| l.chains.is_err())
            .count();
        s.malformed += self
            .index
            .route_configs
            .iter()
            .filter(|r| r.virtual_hosts.is_err())
            .count();
        for rc in &self.index.route_configs {
            if let Ok(vhosts) = &rc.virtual_hosts {
                s.routes += vhosts.iter().map(|v| v.routes.len()).sum::<usize>();
            }
        }
        s.routes_selected = self
            .decisions
            .route_configs
            .iter()
            .map(|d| d.selected)
            .sum();
        s.route_configs_patched = self
            .route_changes
            .iter()
            .filter(|c| **c == Change::Changed)
            .count();
        s.backend_clusters = self.upstream.clusters.len();
        s.clusters_patched = self.upstream.clusters_patched();
        s
    }

    /// Logs the call: one INFO line, then one DEBUG line per chain and per route.
    pub fn log(&self) {
        let s = self.summary();
        tracing::info!(
            listeners = s.listeners,
            chains_patched = s.chains_patched,
            chains_already_patched = s.chains_already,
            chains_skipped = s.chains_skipped,
            routes = s.routes,
            routes_selected = s.routes_selected,
            route_configs_patched = s.route_configs_patched,
            backend_clusters = s.backend_clusters,
            clusters_patched = s.clusters_patched,
            malformed = s.malformed,
            processor_cluster = ?self.processor_cluster,
            "PostTranslateModify"
        );
        self.inference.log(&self.index);
        if let Some(policies) = &self.policies {
            policies.log();
        }
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        for line in self.chain_lines() {
            tracing::debug!(listener = %line.listener, chain = %line.chain, decision = line.decision, reason = %line.reason, "chain");
        }
        for line in self.route_lines() {
            tracing::debug!(route_config = %line.route_config, virtual_host = %line.virtual_host, route = %line.route, namespace = %line.owner.as_ref().map_or("", |o| o.namespace.as_str()), decision = line.decision, reason = %line.reason, "route");
        }
        for line in self.upstream.lines(&self.index) {
            tracing::debug!(cluster = %line.subject, decision = line.decision, reason = %line.reason, "upstream");
        }
    }

    /// Hints for the usual reasons nothing is selected.
    pub fn hints(&self, route_annotation: &str) -> Vec<String> {
        let mut hints = Vec::new();
        let [_, _, listeners, routes] = self.resources_in;
        let rds_missing = self
            .decisions
            .listeners
            .iter()
            .flatten()
            .any(|d| matches!(d, ChainDecision::Skip(ChainSkip::MissingRouteConfig(_))));
        if listeners > 0 && routes == 0 && rds_missing {
            hints.push(
                "the request has listeners but no route configurations: set \
                 extensionManager.hooks.xdsTranslator.translation.route.includeAll: true in EG"
                    .to_owned(),
            );
        }
        // Pool routes need no annotation: a request serving pools is not missing one.
        if routes > 0 && self.summary().routes_selected == 0 && self.inference.is_empty() {
            hints.push(format!(
                "no route is selected. EG copies into xDS only annotations whose key starts with \
                 gateway.envoyproxy.io/, and strips that prefix: annotate the HTTPRoute with \
                 gateway.envoyproxy.io/{route_annotation} to have it arrive as {route_annotation:?}; \
                 a Gateway opt-in annotation works the same way"
            ));
        }
        hints
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "chains patched {}, already {}, skipped {}; routes selected {} of {}",
            self.chains_patched,
            self.chains_already,
            self.chains_skipped,
            self.routes_selected,
            self.routes
        )
    }
}
