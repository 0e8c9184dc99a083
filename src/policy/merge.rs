//! The passes of one request folded into one report.
//!
//! Each processor's pass decides every resource, but only its own virtual hosts are open in
//! it; a route is therefore taken from the pass that owns its virtual host. A chain may hold
//! the filters of several processors (Gateways or listeners sharing a port, EG's merged
//! Gateways): it reads as patched when any pass patched it, and the report keeps which
//! processors are in it. What the report then says is what was done: the decisions are the
//! passes' own, not recomputed.

use super::Source;
use super::report::{PolicyReport, ProcessorLine, VhostSource};
use super::resolve::Plan;
use crate::index::{ChainKind, Index};
use crate::mutate::Artifacts;
use crate::mutate::cluster::ProcessorCluster;
use crate::report::{ChainFailure, Change, Report, UpstreamReport};
use crate::select::{ChainDecision, Decisions, Gate, RouteConfigDecision, RouteDecision};

/// What one processor's pass decided and did.
#[derive(Debug, Default)]
pub(crate) struct Pass {
    /// Its decisions.
    pub decisions: Decisions,
    /// Its chains whose decided patch could not be made.
    pub chain_failures: Vec<ChainFailure>,
    /// Per route configuration, what its edits did.
    pub route_changes: Vec<Change>,
    /// Its AI backend clusters.
    pub upstream: UpstreamReport,
    /// Its processor cluster, when needed.
    pub processor_cluster: Option<ProcessorCluster>,
}

impl Pass {
    /// Whether the pass left every listener, route configuration and cluster as it was (and
    /// added none), so that the next pass can read the same index. A decided chain patch
    /// counts as a change even when it failed: that is rare, and the rebuild is then only
    /// wasted, never wrong.
    pub(crate) fn changed_nothing(&self) -> bool {
        let patched_chain = self
            .decisions
            .listeners
            .iter()
            .flatten()
            .any(|d| matches!(d, ChainDecision::Patch(_)));
        !patched_chain
            && self.route_changes.iter().all(|c| *c != Change::Changed)
            && self.upstream.clusters_patched() == 0
            && !matches!(self.processor_cluster, Some(ProcessorCluster::Added))
    }

    /// The report of a request without policies: its one pass, as the hook always ran.
    pub(crate) fn into_report(
        self,
        index: Index,
        resources_in: [usize; 4],
        inference: crate::inference::Report,
    ) -> Report {
        Report {
            index,
            decisions: self.decisions,
            chain_failures: self.chain_failures,
            route_changes: self.route_changes,
            upstream: self.upstream,
            processor_cluster: self.processor_cluster,
            resources_in,
            policies: None,
            inference,
        }
    }
}

/// The report of a request that ran one pass per processor of `plan`. `index` is the
/// request's own (the first pass's); `default` the configuration's artefacts.
pub(crate) fn report(
    index: Index,
    plan: Plan,
    mut passes: Vec<Pass>,
    default: &Artifacts,
    resources_in: [usize; 4],
) -> Report {
    let route_configs = route_configs(&plan, &mut passes);
    let (listeners, in_chain) = listeners(&passes);
    let processors = processors(&plan, &passes, &in_chain, &route_configs, default);
    let chains = chain_sources(&plan, &index);
    let route_changes = route_changes(&passes);
    let chain_failures = chain_failures(&mut passes);
    let processor_cluster = passes.first().and_then(|p| p.processor_cluster);
    let mut upstream = UpstreamReport::default();
    for pass in &mut passes {
        upstream.clusters.append(&mut pass.upstream.clusters);
        upstream.unresolved.append(&mut pass.upstream.unresolved);
    }
    let Plan {
        vhosts,
        choices,
        verdicts,
        processors: plan_processors,
        ..
    } = plan;
    let vhosts = vhosts
        .into_iter()
        .map(|vhs| {
            vhs.into_iter()
                .map(|v| VhostSource {
                    closed: matches!(v.gate, Gate::Closed(_)),
                    upstream: plan_processors.get(v.pass).is_none_or(|p| p.upstream),
                    source: v.source,
                })
                .collect()
        })
        .collect();
    Report {
        index,
        decisions: Decisions {
            listeners,
            route_configs,
        },
        chain_failures,
        route_changes,
        upstream,
        processor_cluster,
        resources_in,
        inference: Default::default(),
        policies: Some(PolicyReport {
            verdicts,
            processors,
            chains,
            vhosts,
            choices,
        }),
    }
}

/// Each route from the pass that owns its virtual host.
fn route_configs(plan: &Plan, passes: &mut [Pass]) -> Vec<RouteConfigDecision> {
    let count = passes
        .first()
        .map_or(0, |p| p.decisions.route_configs.len());
    (0..count)
        .map(|rc| {
            let vhost_count = passes
                .first()
                .and_then(|p| p.decisions.route_configs.get(rc))
                .map_or(0, |d| d.virtual_hosts.len());
            let route_choices = passes.iter().any(|p| {
                p.decisions
                    .route_configs
                    .get(rc)
                    .is_some_and(|d| d.route_choices)
            });
            let virtual_hosts: Vec<Vec<RouteDecision>> = (0..vhost_count)
                .map(|vh| {
                    let owner = plan.vhost(rc, vh).map_or(0, |v| v.pass);
                    passes
                        .get_mut(owner)
                        .and_then(|p| p.decisions.route_configs.get_mut(rc))
                        .and_then(|d| d.virtual_hosts.get_mut(vh))
                        .map(std::mem::take)
                        .unwrap_or_default()
                })
                .collect();
            RouteConfigDecision::new(virtual_hosts, route_choices)
        })
        .collect()
}

/// Each chain's decision, and the passes whose filter is in it (put there or found).
fn listeners(passes: &[Pass]) -> (Vec<Vec<ChainDecision>>, Vec<Vec<Vec<usize>>>) {
    let Some(first) = passes.first() else {
        return Default::default();
    };
    let mut decisions = Vec::new();
    let mut in_chain = Vec::new();
    for (l, chains) in first.decisions.listeners.iter().enumerate() {
        let mut listener = Vec::new();
        let mut listener_in = Vec::new();
        for (c, first_decision) in chains.iter().enumerate() {
            let all: Vec<(usize, &ChainDecision)> = passes
                .iter()
                .enumerate()
                .filter_map(|(p, pass)| Some((p, pass.decisions.listeners.get(l)?.get(c)?)))
                .collect();
            let find = |wanted: fn(&ChainDecision) -> bool| {
                all.iter()
                    .find(|(_, d)| wanted(d))
                    .map(|(_, d)| (*d).clone())
            };
            let merged = find(|d| matches!(d, ChainDecision::Patch(_)))
                .or_else(|| find(|d| matches!(d, ChainDecision::AlreadyPatched)))
                .unwrap_or_else(|| first_decision.clone());
            listener.push(merged);
            listener_in.push(
                all.iter()
                    .filter(|(_, d)| {
                        matches!(d, ChainDecision::Patch(_) | ChainDecision::AlreadyPatched)
                    })
                    .map(|(p, _)| *p)
                    .collect(),
            );
        }
        decisions.push(listener);
        in_chain.push(listener_in);
    }
    (decisions, in_chain)
}

/// Each chain whose edit failed, once, with the first pass's error. Listener positions are the
/// request's in every pass (a pass edits bytes, not lists), so a chain two passes failed to
/// edit is one failure, counted once against the merged `Patch` decision.
fn chain_failures(passes: &mut [Pass]) -> Vec<ChainFailure> {
    let mut failures: Vec<ChainFailure> = passes
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.chain_failures))
        .collect();
    // Stable: the first pass's failure of a chain stays first, and is kept.
    failures.sort_by_key(|f| (f.listener, f.locator));
    failures.dedup_by_key(|f| (f.listener, f.locator));
    failures
}

/// A route configuration failed in any pass, else changed in any, else as the first pass.
fn route_changes(passes: &[Pass]) -> Vec<Change> {
    let count = passes.first().map_or(0, |p| p.route_changes.len());
    (0..count)
        .map(|rc| {
            let changes: Vec<&Change> = passes
                .iter()
                .filter_map(|p| p.route_changes.get(rc))
                .collect();
            let rank = |c: &Change| match c {
                Change::Failed(_) => 3,
                Change::Changed => 2,
                Change::Unchanged => 1,
                Change::NotSelected => 0,
            };
            // The first of the highest rank: a failure shows, then a change.
            let best = changes.iter().map(|c| rank(c)).max().unwrap_or(0);
            changes
                .into_iter()
                .find(|c| rank(c) == best)
                .map_or(Change::NotSelected, Change::clone)
        })
        .collect()
}

fn processors(
    plan: &Plan,
    passes: &[Pass],
    in_chain: &[Vec<Vec<usize>>],
    route_configs: &[RouteConfigDecision],
    default: &Artifacts,
) -> Vec<ProcessorLine> {
    plan.processors
        .iter()
        .zip(passes)
        .enumerate()
        .map(|(p, (processor, pass))| {
            let artifacts = processor.artifacts.as_ref().unwrap_or(default);
            let routes = route_configs
                .iter()
                .enumerate()
                .flat_map(|(rc, d)| {
                    d.virtual_hosts.iter().enumerate().map(move |(vh, routes)| {
                        let owned = plan.vhost(rc, vh).map_or(0, |v| v.pass) == p;
                        let selected = routes
                            .iter()
                            .filter(|r| matches!(r, RouteDecision::Selected(_)))
                            .count();
                        if owned { selected } else { 0 }
                    })
                })
                .sum();
            ProcessorLine {
                source: processor.source.clone(),
                filter_name: artifacts.filter_name.clone(),
                cluster_name: artifacts.cluster_name.clone(),
                upstream: processor.upstream,
                cluster: pass.processor_cluster,
                routes,
                chains: in_chain.iter().flatten().filter(|c| c.contains(&p)).count(),
            }
        })
        .collect()
}

/// Who decided each chain: whoever decided the virtual hosts of its route configuration (the
/// chain is patched for their routes, or not).
fn chain_sources(plan: &Plan, index: &Index) -> Vec<Vec<String>> {
    index
        .listeners
        .iter()
        .map(|listener| {
            let Ok(chains) = &listener.chains else {
                return Vec::new();
            };
            chains
                .iter()
                .map(|chain| {
                    let mut sources: Vec<&Source> = Vec::new();
                    if let ChainKind::Http(http) = &chain.kind {
                        for rc in index.route_configs_named(&http.route_config) {
                            sources.extend(
                                plan.vhosts.get(rc).into_iter().flatten().map(|v| &v.source),
                            );
                        }
                    }
                    sources.sort();
                    sources.dedup();
                    match sources.as_slice() {
                        [] => Source::Config.to_string(),
                        sources => sources
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                    }
                })
                .collect()
        })
        .collect()
}
