//! What `PostTranslateModify` did about pools, and why: the `explain` section, the log lines
//! and the skip reasons counted in `xds_hook_skips_total`.
//!
//! Each entry keeps its decision (from `select`) and its outcome (from `apply`) together.
//! Skip reasons are one closed set ([`PoolSkipReason`]), matched exhaustively, so a new kind of
//! skip cannot go uncounted.

use std::fmt::{self, Write as _};

use super::epp;
use super::pool::{Pool, PoolKey};
use super::select::{ChainNeed, PoolRoute, RouteDecision, RouteSkip};
use crate::config::{EndpointPickerTls, InferenceConfig};
use crate::index::Index;
use crate::mutate::cluster::ProcessorCluster;
use crate::report::table::table;

/// Everything about pools in one call; empty when the request has no pool route.
#[derive(Debug)]
pub struct Report {
    /// Every route with a pool record, in request order.
    pub routes: Vec<RouteOutcome>,
    /// Every HCM serving pool routes.
    pub chains: Vec<ChainOutcome>,
    /// One picker cluster per pool with a route enabled.
    pub pickers: Vec<PickerCluster>,
    /// Whether pickers' certificates are verified.
    pub tls: EndpointPickerTls,
}

/// A pool route: what was decided, and what happened.
#[derive(Debug, Clone)]
pub struct RouteOutcome {
    /// The route and the decision.
    pub route: PoolRoute,
    /// What the edit did.
    pub change: RouteChange,
}

/// What happened to a pool route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteChange {
    /// Its pool's filter is enabled on it now.
    Enabled,
    /// It was already (the input is the hook's own output).
    AlreadyEnabled,
    /// Left as it is, as decided.
    Skipped,
    /// Its route configuration could not be edited; left as it came.
    Failed(String),
}

/// An HCM serving pool routes: what it needs, and what happened.
#[derive(Debug, Clone)]
pub struct ChainOutcome {
    /// Where it is and which pools' filters it needs.
    pub need: ChainNeed,
    /// What the edit did.
    pub change: ChainChange,
}

/// What happened to an HCM serving pool routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainChange {
    /// These pools' filters were inserted, in order, at `placement`.
    Inserted {
        /// The pools.
        pools: Vec<PoolKey>,
        /// Where.
        placement: EppPlacement,
    },
    /// Every filter it needs was there.
    Present,
    /// Could not be edited; left as it was.
    Failed(String),
}

/// Where picker filters went in an HCM, and the filters around them (name, index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EppPlacement {
    /// Index in `http_filters` of the first inserted filter.
    pub index: usize,
    /// The AI processor, when the HCM has it before that index.
    pub after: Option<(String, usize)>,
    /// The filter they went before: the router.
    pub before: Option<(String, usize)>,
}

impl fmt::Display for EppPlacement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at http_filters[{}]", self.index)?;
        if let Some((name, i)) = &self.after {
            write!(f, ", after {name} (http_filters[{i}])")?;
        }
        match &self.before {
            Some((name, i)) => write!(f, ", before {name} (http_filters[{i}])"),
            None => f.write_str(", appended"),
        }
    }
}

/// A pool's picker cluster.
#[derive(Debug, Clone)]
pub struct PickerCluster {
    /// The pool.
    pub pool: Pool,
    /// The cluster's name.
    pub name: String,
    /// Added, or already there.
    pub outcome: ProcessorCluster,
}

/// Why something about pools was left alone, as counted in `xds_hook_skips_total`. All of them
/// mean EG or the hook is set up wrong, so all are logged at WARN once per resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolSkipReason {
    /// A route's pool record cannot be read.
    RecordMalformed,
    /// A route records a pool with another picker than an earlier route.
    Conflict,
    /// A pool route's cluster was not prepared for its pool.
    ClusterUnprepared,
    /// An HCM serving pool routes could not be edited.
    UnpatchableChain,
    /// A route configuration with pool routes could not be edited.
    UnpatchableRouteConfig,
}

impl PoolSkipReason {
    /// Every reason, in the order the README documents them.
    pub const ALL: [PoolSkipReason; 5] = [
        PoolSkipReason::RecordMalformed,
        PoolSkipReason::Conflict,
        PoolSkipReason::ClusterUnprepared,
        PoolSkipReason::UnpatchableChain,
        PoolSkipReason::UnpatchableRouteConfig,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            PoolSkipReason::RecordMalformed => "pool_record_malformed",
            PoolSkipReason::Conflict => "pool_conflict",
            PoolSkipReason::ClusterUnprepared => "pool_cluster_unprepared",
            PoolSkipReason::UnpatchableChain => "unpatchable_pool_chain",
            PoolSkipReason::UnpatchableRouteConfig => "unpatchable_pool_route_config",
        }
    }
}

/// One skip: the reason, the resource, and the detail.
pub type Skip = (PoolSkipReason, String, String);

impl Report {
    /// Whether the request had anything to do with pools.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Pool routes whose filter is enabled (now or before).
    pub fn routes_enabled(&self) -> usize {
        let enabled = |r: &&RouteOutcome| {
            matches!(r.change, RouteChange::Enabled | RouteChange::AlreadyEnabled)
        };
        self.routes.iter().filter(enabled).count()
    }

    /// HCMs that got picker filters now.
    pub fn chains_patched(&self) -> usize {
        let inserted = |c: &&ChainOutcome| matches!(c.change, ChainChange::Inserted { .. });
        self.chains.iter().filter(inserted).count()
    }

    /// Picker clusters added now.
    pub fn clusters_added(&self) -> usize {
        let added = |p: &&PickerCluster| p.outcome == ProcessorCluster::Added;
        self.pickers.iter().filter(added).count()
    }

    /// Every skip, for metrics and warnings.
    pub fn skips(&self, index: &Index) -> Vec<Skip> {
        let mut out = Vec::new();
        for r in &self.routes {
            let place =
                index.route_place(r.route.route_config, r.route.virtual_host, r.route.route);
            let found = match (&r.route.decision, &r.change) {
                (RouteDecision::Skip(RouteSkip::InvalidRecord(e)), _) => {
                    Some((PoolSkipReason::RecordMalformed, e.to_string()))
                }
                (RouteDecision::Skip(skip), _) => {
                    Some((PoolSkipReason::Conflict, skip.to_string()))
                }
                (_, RouteChange::Failed(e)) => {
                    Some((PoolSkipReason::UnpatchableRouteConfig, e.clone()))
                }
                (
                    RouteDecision::Enable {
                        clusters: Err(problem),
                        ..
                    },
                    _,
                ) => Some((PoolSkipReason::ClusterUnprepared, problem.to_string())),
                _ => None,
            };
            out.extend(found.map(|(reason, detail)| (reason, place, detail)));
        }
        for c in &self.chains {
            if let ChainChange::Failed(e) = &c.change {
                let place = chain_place(index, &c.need);
                out.push((PoolSkipReason::UnpatchableChain, place, e.clone()));
            }
        }
        out
    }

    /// Logs the call's pools: one INFO line, then DEBUG lines.
    pub fn log(&self, index: &Index) {
        if self.is_empty() {
            return;
        }
        tracing::info!(
            pool_routes = self.routes.len(),
            routes_enabled = self.routes_enabled(),
            chains_patched = self.chains_patched(),
            pickers_added = self.clusters_added(),
            "InferencePools"
        );
        for (subject, decision, reason) in self.rows(index) {
            tracing::debug!(%subject, decision, %reason, "inference");
        }
    }

    /// The `explain` section; empty when there is nothing about pools.
    pub fn explain(&self, index: &Index) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut out = String::from("\nINFERENCE POOLS\n");
        let pools: Vec<[String; 5]> = self.pickers.iter().map(|p| self.pool_row(p)).collect();
        let pools: Vec<[&str; 5]> = pools
            .iter()
            .map(|r| r.each_ref().map(String::as_str))
            .collect();
        table(
            &mut out,
            &[
                "pool",
                "endpoint picker",
                "failure mode",
                "body mode",
                "cluster",
            ],
            &pools,
        );
        let rows = self.rows(index);
        let rows: Vec<[&str; 3]> = rows
            .iter()
            .map(|(subject, decision, reason)| [subject.as_str(), *decision, reason.as_str()])
            .collect();
        let _ = writeln!(out);
        table(&mut out, &["resource", "decision", "reason"], &rows);
        out
    }

    fn pool_row(&self, p: &PickerCluster) -> [String; 5] {
        let picker = &p.pool.picker;
        let tls = match &self.tls {
            EndpointPickerTls::Verified { .. } => "TLS, verified",
            EndpointPickerTls::Unverified => "TLS, unverified",
        };
        let cluster = match p.outcome {
            ProcessorCluster::Added => format!("{} added", p.name),
            ProcessorCluster::Present(i) => format!("{} already present (clusters[{i}])", p.name),
        };
        [
            p.pool.key.to_string(),
            format!(
                "{}:{} ({tls})",
                picker.host(&p.pool.key.namespace),
                picker.port
            ),
            picker.failure_mode.as_str().to_owned(),
            p.pool.body_mode.as_str().to_owned(),
            cluster,
        ]
    }

    /// Route rows, then chain rows: subject, decision, reason.
    fn rows(&self, index: &Index) -> Vec<(String, &'static str, String)> {
        let routes = self.routes.iter().map(|r| {
            let (decision, reason) = route_reason(r);
            (
                index.route_place(r.route.route_config, r.route.virtual_host, r.route.route),
                decision,
                reason,
            )
        });
        let chains = self.chains.iter().map(|c| {
            let pools = join(&c.need.pools);
            let (decision, reason) = match &c.change {
                ChainChange::Inserted { pools, placement } => (
                    "patched",
                    format!("endpoint picker filters of {} {placement}", join(pools)),
                ),
                ChainChange::Present => {
                    ("unchanged", format!("filters of {pools} already present"))
                }
                ChainChange::Failed(e) => ("skipped", format!("needs {pools}; cannot edit: {e}")),
            };
            (chain_place(index, &c.need), decision, reason)
        });
        routes.chain(chains).collect()
    }
}

impl Report {
    /// A report with nothing in it, for a configuration.
    pub fn empty(config: &InferenceConfig) -> Self {
        Self {
            routes: Vec::new(),
            chains: Vec::new(),
            pickers: Vec::new(),
            tls: config.endpoint_picker_tls.clone(),
        }
    }
}

impl Default for Report {
    fn default() -> Self {
        Self::empty(&InferenceConfig::default())
    }
}

fn route_reason(r: &RouteOutcome) -> (&'static str, String) {
    let (pool, clusters) = match &r.route.decision {
        RouteDecision::Skip(skip) => return ("skipped", skip.to_string()),
        RouteDecision::Enable { pool, clusters } => (pool, clusters),
    };
    let target = match clusters.as_deref() {
        Ok([name]) => format!("; its cluster {name:?} follows the picker (ORIGINAL_DST)"),
        Ok(names) => format!(
            "; its clusters {} follow the picker (ORIGINAL_DST)",
            names
                .iter()
                .map(|n| format!("{n:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Err(problem) => format!("; but {problem}"),
    };
    let filter = epp::filter_name(pool);
    match &r.change {
        RouteChange::Enabled => ("enabled", format!("pool {pool}: {filter}{target}")),
        RouteChange::AlreadyEnabled => (
            "unchanged",
            format!("pool {pool}: {filter} already enabled{target}"),
        ),
        RouteChange::Skipped => ("skipped", format!("pool {pool}")),
        RouteChange::Failed(e) => ("skipped", format!("pool {pool}; cannot edit: {e}")),
    }
}

fn join(pools: &[PoolKey]) -> String {
    pools
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `listener "<name>" filter_chains[i]`, as the report names a chain.
fn chain_place(index: &Index, need: &ChainNeed) -> String {
    let listener = index
        .listeners
        .get(need.listener)
        .map(|l| l.name.as_str())
        .unwrap_or_default();
    format!("listener {listener:?} {}", need.locator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_snake_case_and_documented() {
        let readme = include_str!("../../README.md");
        let mut labels: Vec<&str> = PoolSkipReason::ALL.iter().map(|r| r.label()).collect();
        for label in &labels {
            assert!(label.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(
                readme.contains(&format!("`{label}`")),
                "README lacks {label}"
            );
        }
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), PoolSkipReason::ALL.len());
    }
}
