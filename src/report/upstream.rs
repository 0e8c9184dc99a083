//! The upstream part of the report: what happened to each AI backend cluster, and which
//! selected routes lead to no cluster the hook could prepare.

use std::collections::HashMap;

use super::Change;
use crate::index::Index;
use crate::select::backend_name::Unnamed;
use crate::select::cluster::{ClusterDecision, FilterEdit, UpstreamPatch};
use crate::select::hosts::HostNames;
use crate::select::upstream::{BackendRef, Unresolved};

/// The upstream side of one call.
#[derive(Debug, Default)]
pub struct UpstreamReport {
    /// Every cluster a selected route targets, in request order.
    pub clusters: Vec<ClusterOutcome>,
    /// Selected routes whose clusters cannot be followed.
    pub unresolved: Vec<Unresolved>,
}

/// What happened to one AI backend cluster.
#[derive(Debug, Clone)]
pub struct ClusterOutcome {
    /// Position in the request's clusters.
    pub position: usize,
    /// Name.
    pub name: String,
    /// The route rule whose names its hosts carry.
    pub used_by: BackendRef,
    /// Other route rules that send traffic to it too.
    pub also_used_by: Vec<BackendRef>,
    /// What was decided (edit failures folded in).
    pub decision: ClusterDecision,
    /// What the mutation did.
    pub change: Change,
}

/// One row of the clusters table.
#[derive(Debug, Clone)]
pub struct ClusterLine {
    /// `cluster "name"`, or the route that could not be followed.
    pub subject: String,
    /// `patched`, `unchanged`, `skipped` or `unresolved`.
    pub decision: &'static str,
    /// Why, and what the hosts are told.
    pub reason: String,
}

impl UpstreamReport {
    /// Where the clusters this call changed are in the request's cluster list.
    pub fn patched_positions(&self) -> impl Iterator<Item = usize> + '_ {
        self.clusters
            .iter()
            .filter(|c| c.change == Change::Changed)
            .map(|c| c.position)
    }

    /// Clusters changed by this call.
    pub fn clusters_patched(&self) -> usize {
        self.patched_positions().count()
    }

    /// Rows for `explain` and DEBUG logs, clusters first.
    pub fn lines(&self, index: &Index) -> Vec<ClusterLine> {
        let clusters = self.clusters.iter().map(|c| ClusterLine {
            subject: format!("cluster {:?}", c.name),
            decision: c.verdict(),
            reason: cluster_reason(c),
        });
        let unresolved = self.unresolved.iter().map(|u| ClusterLine {
            subject: index.route_place(u.route_config, u.virtual_host, u.route),
            decision: "unresolved",
            reason: u.reason.to_string(),
        });
        clusters.chain(unresolved).collect()
    }
}

/// What happened to an AI backend cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusterVerdict {
    /// The upstream filter was added.
    Patched,
    /// It already had what it needs.
    Unchanged,
    /// Left as is, with a reason.
    Skipped,
}

impl ClusterVerdict {
    /// The word `explain` and the JSON use.
    pub fn label(self) -> &'static str {
        match self {
            ClusterVerdict::Patched => "patched",
            ClusterVerdict::Unchanged => "unchanged",
            ClusterVerdict::Skipped => "skipped",
        }
    }
}

impl UpstreamReport {
    /// Each outcome by its cluster's name, for views that look clusters up per route.
    pub(crate) fn by_name(&self) -> HashMap<&str, &ClusterOutcome> {
        self.clusters.iter().map(|c| (c.name.as_str(), c)).collect()
    }
}

impl ClusterOutcome {
    /// What happened to it.
    pub fn outcome(&self) -> ClusterVerdict {
        match (&self.decision, &self.change) {
            (ClusterDecision::Skip(_), _) | (_, Change::Failed(_)) => ClusterVerdict::Skipped,
            (_, Change::Changed) => ClusterVerdict::Patched,
            _ => ClusterVerdict::Unchanged,
        }
    }

    /// What happened to it in words: `patched`, `unchanged` or `skipped`.
    pub fn verdict(&self) -> &'static str {
        self.outcome().label()
    }

    /// Why, and what its hosts are told.
    pub fn reason(&self) -> String {
        cluster_reason(self)
    }
}

fn cluster_reason(c: &ClusterOutcome) -> String {
    let mut reason = format!("targeted by {}", c.used_by);
    for other in &c.also_used_by {
        reason.push_str(&format!(
            "; also {other} (names are {}/{}'s)",
            c.used_by.route_namespace, c.used_by.route_name
        ));
    }
    match (&c.decision, &c.change) {
        (ClusterDecision::Skip(skip), _) => reason.push_str(&format!("; {skip}")),
        (ClusterDecision::Patch(_), Change::Failed(e)) => {
            reason.push_str(&format!("; left as is, cannot edit: {e}"));
        }
        (ClusterDecision::Patch(patch), _) => reason.push_str(&patch_reason(patch)),
    }
    reason
}

fn patch_reason(patch: &UpstreamPatch) -> String {
    let filters = match patch.filters {
        FilterEdit::CreateOptions => "; upstream filters in new HttpProtocolOptions (HTTP/1.1)",
        FilterEdit::AppendWithCodec => "; upstream filters and codec added to its options",
        FilterEdit::InsertAt(_) => "; upstream filters before its codec",
        FilterEdit::Present => "; upstream filters already present",
    };
    let hosts = match &patch.hosts {
        HostNames::Eds(Ok(name)) => {
            format!("; endpoints arrive by EDS: cluster metadata names {name}")
        }
        HostNames::Eds(Err(why @ Unnamed::EdsWithoutContract)) => format!("; {why}"),
        HostNames::Eds(Err(why)) => format!("; no backend name: {why}"),
        HostNames::Groups(groups) => groups
            .iter()
            .enumerate()
            .map(|(g, names)| {
                let priority = names
                    .priority
                    .map(|p| format!(", priority {p}"))
                    .unwrap_or_default();
                match &names.backend_name {
                    Ok(name) => format!("; endpoints[{g}]: {name}{priority}"),
                    Err(why) => format!("; endpoints[{g}]: no backend name: {why}{priority}"),
                }
            })
            .collect(),
    };
    format!("{filters}{hosts}")
}
