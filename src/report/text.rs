//! The `explain` text: tables of chains, routes and clusters, a summary and hints, one
//! section per Gateway when the input held several.

use std::fmt::Write as _;

use super::{Report, Section};
use crate::mutate::cluster::ProcessorCluster;

impl Report {
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
