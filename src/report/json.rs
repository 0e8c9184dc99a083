//! `explain --format json`: the report for tools.
//!
//! Small view structs with serde's derive, field names camelCased and fixed here (README,
//! "Explaining decisions", lists them). `version` changes when a field is renamed or removed;
//! fields may be added without it. Every value is one the text view prints too: the words of
//! `decision` and `reason` come from the same functions.

use serde::Serialize;

use super::{ChainLine, Origin, Report, RouteLine, Section, Summary};
use crate::mutate::cluster::ProcessorCluster;

/// The version of the JSON report's fields.
pub const VERSION: u32 = 1;

/// The whole report: one entry per hook call.
#[derive(Debug, Serialize)]
pub struct ExplainView<'a> {
    /// [`VERSION`].
    pub version: u32,
    /// One per Gateway (or pod) of a dump; one for a lone request.
    pub gateways: Vec<GatewayView<'a>>,
}

/// One call.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayView<'a> {
    /// Where the request came from; `null` for a lone request.
    pub origin: Option<&'a Origin>,
    /// Whether the hook was called (`false`: the dump holds nothing EG sends).
    pub called: bool,
    /// Every listener chain.
    pub chains: Vec<ChainLine>,
    /// Every route.
    pub routes: Vec<RouteLine>,
    /// Every AI backend cluster (a cluster a selected route targets).
    pub clusters: Vec<ClusterView>,
    /// Selected routes whose clusters cannot be followed.
    pub unresolved: Vec<UnresolvedView>,
    /// The processor cluster.
    pub processor_cluster: ProcessorView,
    /// Counters.
    pub summary: Summary,
    /// Hints for the usual mistakes.
    pub hints: Vec<String>,
    /// What ProcessorPolicies decided; absent when the request carried none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policies: Option<PoliciesView>,
}

/// The policy side of one call.
#[derive(Debug, Serialize)]
pub struct PoliciesView {
    /// What became of each delivered policy, per target.
    pub verdicts: Vec<VerdictView>,
    /// Each processor, one pass each, the configuration's first.
    pub processors: Vec<PolicyProcessorView>,
}

/// What became of one policy at one target.
#[derive(Debug, Serialize)]
pub struct VerdictView {
    /// `namespace/name`, or `extension_resources[i]`.
    pub policy: String,
    /// `Gateway ns/name [listener l]`, or `null` for the whole object.
    pub target: Option<String>,
    /// `applied`, `invalid`, `superseded` or `ignored`.
    pub verdict: &'static str,
    /// Why.
    pub reason: String,
}

/// One processor.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyProcessorView {
    /// `config` or `policy <ns>/<name>`.
    pub source: String,
    /// Its filter's name.
    pub filter: String,
    /// Its cluster's name.
    pub cluster: String,
    /// Whether AI backend clusters got its upstream filters.
    pub upstream_filters: bool,
    /// Routes it serves.
    pub routes: usize,
    /// Chains it is in.
    pub chains: usize,
    /// What happened to its cluster.
    pub processor_cluster: ProcessorView,
}

/// One AI backend cluster.
#[derive(Debug, Serialize)]
pub struct ClusterView {
    /// Cluster name.
    pub name: String,
    /// `patched`, `unchanged` or `skipped`.
    pub decision: &'static str,
    /// Why, and what its hosts are told.
    pub reason: String,
}

/// A selected route whose clusters cannot be followed.
#[derive(Debug, Serialize)]
pub struct UnresolvedView {
    /// The route's name (`null` when the route cannot be named).
    pub route: Option<String>,
    /// Why.
    pub reason: String,
}

/// What happened to the processor cluster.
#[derive(Debug, Serialize)]
pub struct ProcessorView {
    /// `added`, `present` or `notNeeded`.
    pub state: &'static str,
    /// Its position in the clusters, when it was already there.
    pub position: Option<usize>,
}

/// The JSON report of every section.
pub fn explain<'a>(sections: &[Section<'a>], route_annotation: &str) -> ExplainView<'a> {
    ExplainView {
        version: VERSION,
        gateways: sections
            .iter()
            .map(|s| gateway(s.origin, s.report, route_annotation))
            .collect(),
    }
}

fn gateway<'a>(
    origin: Option<&'a Origin>,
    report: Option<&Report>,
    route_annotation: &str,
) -> GatewayView<'a> {
    let Some(report) = report else {
        return GatewayView {
            origin,
            called: false,
            chains: Vec::new(),
            routes: Vec::new(),
            clusters: Vec::new(),
            unresolved: Vec::new(),
            processor_cluster: processor(None),
            summary: Summary::default(),
            hints: vec![super::text::NOTHING_SENT.trim_end().to_owned()],
            policies: None,
        };
    };
    GatewayView {
        origin,
        called: true,
        chains: report.chain_lines(),
        routes: report.route_lines(),
        clusters: report
            .upstream
            .clusters
            .iter()
            .map(|c| ClusterView {
                name: c.name.clone(),
                decision: c.verdict(),
                reason: c.reason(),
            })
            .collect(),
        unresolved: report
            .upstream
            .unresolved
            .iter()
            .map(|u| UnresolvedView {
                route: report
                    .index
                    .route_name(u.route_config, u.virtual_host, u.route)
                    .map(str::to_owned),
                reason: u.reason.to_string(),
            })
            .collect(),
        processor_cluster: processor(report.processor_cluster.as_ref()),
        summary: report.summary(),
        hints: report.hints(route_annotation),
        policies: report.policies.as_ref().map(|p| PoliciesView {
            verdicts: p
                .verdicts
                .iter()
                .map(|v| VerdictView {
                    policy: v.policy.clone(),
                    target: v.target.as_ref().map(ToString::to_string),
                    verdict: v.outcome.word(),
                    reason: v.outcome.to_string(),
                })
                .collect(),
            processors: p
                .processors
                .iter()
                .map(|p| PolicyProcessorView {
                    source: p.source.to_string(),
                    filter: p.filter_name.clone(),
                    cluster: p.cluster_name.clone(),
                    upstream_filters: p.upstream,
                    routes: p.routes,
                    chains: p.chains,
                    processor_cluster: processor(p.cluster.as_ref()),
                })
                .collect(),
        }),
    }
}

fn processor(cluster: Option<&ProcessorCluster>) -> ProcessorView {
    match cluster {
        Some(ProcessorCluster::Added) => ProcessorView {
            state: "added",
            position: None,
        },
        Some(ProcessorCluster::Present(i)) => ProcessorView {
            state: "present",
            position: Some(*i),
        },
        None => ProcessorView {
            state: "notNeeded",
            position: None,
        },
    }
}
