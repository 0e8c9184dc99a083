//! The `explain` text: tables of chains, routes and clusters, a summary and hints, one
//! section per Gateway when the input held several.

use std::fmt::Write as _;

use super::table::table;
use super::{Report, Section};
use crate::mutate::cluster::ProcessorCluster;

impl Report {
    /// The `explain` table.
    pub fn explain(&self, route_annotation: &str) -> String {
        let mut out = String::new();
        if let Some(policies) = &self.policies {
            super::policies::verdicts(&mut out, policies);
        }
        let chains = self.chain_lines();
        let _ = writeln!(out, "LISTENER CHAINS");
        chain_table(&mut out, &chains, self.policies.is_some());
        let _ = writeln!(out, "\nROUTES");
        route_table(&mut out, &self.route_lines(), self.policies.is_some());

        let _ = writeln!(out, "\nCLUSTERS");
        match &self.policies {
            Some(policies) => super::policies::processors(&mut out, policies),
            None => {
                let _ = writeln!(out, "{}", processor_line(self.processor_cluster));
            }
        }
        let upstream = self.upstream.lines(&self.index);
        if !upstream.is_empty() {
            let rows: Vec<[&str; 3]> = upstream
                .iter()
                .map(|l| [l.subject.as_str(), l.decision, l.reason.as_str()])
                .collect();
            table(&mut out, &["cluster", "decision", "reason"], &rows);
        }
        self.summary_and_hints(&mut out, route_annotation);
        out.push_str(&self.inference.explain(&self.index));
        out
    }

    fn summary_and_hints(&self, out: &mut String, route_annotation: &str) {
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
    }
}

/// What happened to the processor cluster, in words.
fn processor_line(cluster: Option<ProcessorCluster>) -> String {
    match cluster {
        Some(ProcessorCluster::Added) => "processor cluster added".to_owned(),
        Some(ProcessorCluster::Present(i)) => {
            format!("processor cluster already present (clusters[{i}])")
        }
        None => "processor cluster not needed: nothing selected".to_owned(),
    }
}

/// The chains table; with ProcessorPolicies in play, a `source` column says who decided.
fn chain_table(out: &mut String, chains: &[super::ChainLine], with_source: bool) {
    let rows = chains.iter().map(|l| {
        let source = l.source.as_deref().unwrap_or("-");
        vec![l.listener.as_str(), &l.chain, l.decision, source, &l.reason]
    });
    let header = ["listener", "chain", "decision", "source", "reason"];
    table_with_source(out, &header, rows.collect(), with_source);
}

/// The routes table; with ProcessorPolicies in play, a `source` column says who decided.
fn route_table(out: &mut String, routes: &[super::RouteLine], with_source: bool) {
    let rows = routes.iter().map(|l| {
        let source = l.source.as_deref().unwrap_or("-");
        let (config, vhost) = (l.route_config.as_str(), l.virtual_host.as_str());
        vec![config, vhost, &l.route, l.decision, source, &l.reason]
    });
    let header = [
        "route config",
        "virtual host",
        "route",
        "decision",
        "source",
        "reason",
    ];
    table_with_source(out, &header, rows.collect(), with_source);
}

/// A table whose next-to-last column, `source`, is left out unless `with_source`.
fn table_with_source(
    out: &mut String,
    header: &[&str],
    mut rows: Vec<Vec<&str>>,
    with_source: bool,
) {
    let mut header = header.to_vec();
    if !with_source {
        let source = header.len().saturating_sub(2);
        header.remove(source);
        for row in &mut rows {
            row.remove(source);
        }
    }
    table(out, &header, &rows);
}

/// Every section's `explain` text. A lone request prints as one table set, as it always has; a
/// dump prints a title line per Gateway (or pod) before its tables.
pub fn explain_sections(sections: &[Section<'_>], route_annotation: &str) -> String {
    let mut out = String::new();
    for (i, section) in sections.iter().enumerate() {
        if let Some(origin) = section.origin {
            if i > 0 {
                out.push('\n');
            }
            let _ = writeln!(out, "=== {}", origin.heading());
        }
        match section.report {
            Some(report) => out.push_str(&report.explain(route_annotation)),
            None => out.push_str(NOTHING_SENT),
        }
    }
    out
}

/// What a section without a call says.
pub(super) const NOTHING_SENT: &str = "nothing to run the hook on: this dump holds none of the \
    sections EG sends (listeners, route configurations, clusters, secrets)\n";
