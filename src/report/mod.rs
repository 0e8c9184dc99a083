//! The decision report: the single source of the hook's logs and of `xds-hook explain`.
//!
//! It owns the index and the decisions of one call and renders them: a summary (one INFO line
//! per call), per-chain and per-route details (DEBUG, or the explain table), and hints for the
//! common "nothing was selected" mistakes. Every line names its place with the same paths the
//! code uses (`listener "x" filter_chains[2]`).

mod upstream;

use std::fmt::{self, Write as _};

use crate::index::{ChainKind, Index, Ownership};
use crate::mutate::cluster::ProcessorCluster;
use crate::select::{ChainDecision, ChainSkip, Decisions, RouteDecision};
pub use upstream::{ClusterLine, ClusterOutcome, UpstreamReport, route_subject};

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

/// Everything about one call.
#[derive(Debug)]
pub struct Report {
    /// What the request contained.
    pub index: Index,
    /// What was decided (edit failures folded in).
    pub decisions: Decisions,
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
}

/// Counters for one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Listeners in the request.
    pub listeners: usize,
    /// Filter chains patched now.
    pub chains_patched: usize,
    /// Filter chains that already had the processor.
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
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        for line in self.chain_lines() {
            tracing::debug!(listener = %line.listener, chain = %line.chain, decision = line.decision, reason = %line.reason, "chain");
        }
        for line in self.route_lines() {
            tracing::debug!(route_config = %line.route_config, virtual_host = %line.virtual_host, route = %line.route, namespace = %line.namespace, decision = line.decision, reason = %line.reason, "route");
        }
        for line in self.upstream.lines(&self.index) {
            tracing::debug!(cluster = %line.subject, decision = line.decision, reason = %line.reason, "upstream");
        }
    }

    /// Per-chain lines, in request order.
    pub fn chain_lines(&self) -> Vec<ChainLine> {
        let mut lines = Vec::new();
        for (listener, decisions) in self.index.listeners.iter().zip(&self.decisions.listeners) {
            let chains = match &listener.chains {
                Ok(chains) => chains,
                Err(e) => {
                    lines.push(ChainLine {
                        listener: listener.name.clone(),
                        chain: "-".to_owned(),
                        decision: "skipped",
                        reason: format!("malformed listener, left as is: {e}"),
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
                });
            }
            for (chain, decision) in chains.iter().zip(decisions) {
                let mut place = chain.locator.to_string();
                if !chain.name.is_empty() {
                    let _ = write!(place, " ({})", chain.name);
                }
                let (decision, reason) = match decision {
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
                };
                lines.push(ChainLine {
                    listener: listener.name.clone(),
                    chain: place,
                    decision,
                    reason,
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
        for ((rc, decision), change) in configs.zip(&self.route_changes) {
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
            for (vhost, route_decisions) in vhosts.iter().zip(&decision.virtual_hosts) {
                for (route, route_decision) in vhost.routes.iter().zip(route_decisions) {
                    let namespace = match route.owner.ownership(rc) {
                        Ownership::Owned(owner) => owner.namespace.clone(),
                        _ => String::new(),
                    };
                    let (decision, reason) = match route_decision {
                        RouteDecision::Selected(name) if *change == Change::Unchanged => {
                            ("selected", format!("HTTPRoute {name}, already enabled"))
                        }
                        RouteDecision::Selected(name) => ("selected", format!("HTTPRoute {name}")),
                        RouteDecision::NotSelected(why) => ("not selected", why.to_string()),
                    };
                    lines.push(RouteLine {
                        route_config: rc.name.clone(),
                        virtual_host: rc.text(vhost.name).to_owned(),
                        route: rc.text(route.name).to_owned(),
                        namespace,
                        decision,
                        reason,
                    });
                }
            }
        }
        lines
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

    /// The `explain` table.
    pub fn explain(&self, route_annotation: &str) -> String {
        let mut out = String::new();
        let chains = self.chain_lines();
        let _ = writeln!(out, "LISTENER CHAINS");
        let rows: Vec<[&str; 4]> = chains
            .iter()
            .map(|l| {
                [
                    l.listener.as_str(),
                    l.chain.as_str(),
                    l.decision,
                    l.reason.as_str(),
                ]
            })
            .collect();
        table(&mut out, ["listener", "chain", "decision", "reason"], &rows);

        let routes = self.route_lines();
        let _ = writeln!(out, "\nROUTES");
        let rows: Vec<[&str; 5]> = routes
            .iter()
            .map(|l| {
                [
                    l.route_config.as_str(),
                    l.virtual_host.as_str(),
                    l.route.as_str(),
                    l.decision,
                    l.reason.as_str(),
                ]
            })
            .collect();
        table(
            &mut out,
            [
                "route config",
                "virtual host",
                "route",
                "decision",
                "reason",
            ],
            &rows,
        );

        let _ = writeln!(out, "\nCLUSTERS");
        let cluster = match self.processor_cluster {
            Some(ProcessorCluster::Added) => "processor cluster added".to_owned(),
            Some(ProcessorCluster::Present(i)) => {
                format!("processor cluster already present (clusters[{i}])")
            }
            None => "processor cluster not needed: nothing selected".to_owned(),
        };
        let _ = writeln!(out, "{cluster}");
        let upstream = self.upstream.lines(&self.index);
        if !upstream.is_empty() {
            let rows: Vec<[&str; 3]> = upstream
                .iter()
                .map(|l| [l.subject.as_str(), l.decision, l.reason.as_str()])
                .collect();
            table(&mut out, ["cluster", "decision", "reason"], &rows);
        }

        let s = self.summary();
        let _ = writeln!(
            out,
            "\nSUMMARY\n{} listeners; chains: {} patched, {} already patched, {} skipped; \
             routes: {} of {} selected; route configs patched: {}; backend clusters: {} of {} patched; \
             undecodable resources (left as is): {}",
            s.listeners,
            s.chains_patched,
            s.chains_already,
            s.chains_skipped,
            s.routes_selected,
            s.routes,
            s.route_configs_patched,
            s.clusters_patched,
            s.backend_clusters,
            s.malformed
        );
        for hint in self.hints(route_annotation) {
            let _ = writeln!(out, "hint: {hint}");
        }
        out.push_str(&self.inference.explain(&self.index));
        out
    }
}

/// One chain of the report.
#[derive(Debug, Clone)]
pub struct ChainLine {
    /// Listener name.
    pub listener: String,
    /// Chain locator and name.
    pub chain: String,
    /// `patched`, `unchanged` or `skipped`.
    pub decision: &'static str,
    /// Why.
    pub reason: String,
}

/// One route of the report.
#[derive(Debug, Clone)]
pub struct RouteLine {
    /// Route configuration name.
    pub route_config: String,
    /// Virtual host name.
    pub virtual_host: String,
    /// Route name.
    pub route: String,
    /// HTTPRoute namespace, if known.
    pub namespace: String,
    /// `selected`, `not selected` or `skipped`.
    pub decision: &'static str,
    /// Why.
    pub reason: String,
}

impl RouteLine {
    fn whole(route_config: &str, decision: &'static str, reason: String) -> Self {
        Self {
            route_config: route_config.to_owned(),
            virtual_host: "-".to_owned(),
            route: "-".to_owned(),
            namespace: String::new(),
            decision,
            reason,
        }
    }
}

/// Writes rows as aligned columns; the last column is not padded.
pub(crate) fn table<const N: usize>(out: &mut String, header: [&str; N], rows: &[[&str; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &[&str; N]| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                let _ = write!(text, "{cell:<w$}  ");
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(&header.map(|h| h));
    for row in rows {
        line(row);
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
