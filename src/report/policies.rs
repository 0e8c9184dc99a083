//! The policy part of `explain`, printed only when a request carried ProcessorPolicies (or its
//! routes a policy's choice): what became of each policy (POLICIES), and each processor with
//! its filter and cluster. The chain and route tables add a `source` column (`text`). A request without policies prints exactly as it always has.

use std::fmt::Write as _;

use super::table::table;
use crate::mutate::cluster::ProcessorCluster;
use crate::policy::report::PolicyReport;
use crate::policy::verdict::counted;

/// The POLICIES table.
pub(super) fn verdicts(out: &mut String, policies: &PolicyReport) {
    let _ = writeln!(out, "POLICIES");
    if policies.verdicts.is_empty() {
        let _ = writeln!(
            out,
            "none in this call; routes carry the choice PostRouteModify recorded from their HTTPRoute's policy"
        );
    }
    let rows: Vec<[String; 4]> = policies
        .verdicts
        .iter()
        .map(|v| {
            [
                v.policy.clone(),
                v.target
                    .as_ref()
                    .map_or_else(|| "-".to_owned(), ToString::to_string),
                v.outcome.word().to_owned(),
                v.outcome.to_string(),
            ]
        })
        .collect();
    let rows: Vec<[&str; 4]> = rows
        .iter()
        .map(|r| r.each_ref().map(String::as_str))
        .collect();
    if !rows.is_empty() {
        table(out, &["policy", "target", "verdict", "reason"], &rows);
    }
    out.push('\n');
}

/// The PROCESSORS table: each processor, its names, and what happened to its cluster.
pub(super) fn processors(out: &mut String, policies: &PolicyReport) {
    let rows: Vec<[String; 6]> = policies
        .processors
        .iter()
        .map(|p| {
            [
                p.source.to_string(),
                p.filter_name.clone(),
                p.cluster_name.clone(),
                format!(
                    "{}, {}",
                    counted(p.routes, "route"),
                    counted(p.chains, "chain")
                ),
                if p.upstream { "on" } else { "off" }.to_owned(),
                match p.cluster {
                    Some(ProcessorCluster::Added) => "added".to_owned(),
                    Some(ProcessorCluster::Present(i)) => format!("present (clusters[{i}])"),
                    None => "not needed".to_owned(),
                },
            ]
        })
        .collect();
    let rows: Vec<[&str; 6]> = rows
        .iter()
        .map(|r| r.each_ref().map(String::as_str))
        .collect();
    table(
        out,
        &[
            "processor",
            "filter",
            "cluster",
            "serves",
            "upstream filters",
            "its cluster",
        ],
        &rows,
    );
}
