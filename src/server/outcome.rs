//! What one `PostTranslateModify` call did, as metrics and as warnings worth an operator's time.
//!
//! Everything is read off the decision [`Report`] (its summary and public fields), so metrics,
//! logs and `explain` can never disagree. Skip reasons are mapped to a fixed set of label
//! values here. A skip that probably means a misconfiguration (a route configuration EG did
//! not send, an HCM or resource that does not decode) is logged at WARN once per distinct
//! resource and reason: EG calls the hook on every translation, and the same warning every few
//! seconds would bury everything else. The memory for "already warned" is bounded.

use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;

use crate::contract::PostTranslateModifyResponse;
use crate::mutate::cluster::ProcessorCluster;
use crate::report::{Change, Report};
use crate::select::cluster::ClusterDecision;
use crate::select::{ChainDecision, SkipReason};

use super::count;
use super::metrics::{HookMetrics, KindLabels, ReasonLabels};

/// How many distinct (resource, reason) warnings are remembered; the oldest are forgotten
/// first, so a fleet with more problems than this repeats some warnings rather than growing.
pub(crate) const WARN_ONCE_CAPACITY: usize = 4096;

/// Records calls into metrics and warns once per distinct misconfiguration.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    warned: WarnOnce,
}

impl Recorder {
    /// Records one call.
    pub(crate) fn record(
        &self,
        metrics: &HookMetrics,
        report: &Report,
        response: &PostTranslateModifyResponse,
    ) {
        let [clusters, secrets, listeners, routes] = report.resources_in;
        let kinds_in = [
            ("cluster", clusters),
            ("secret", secrets),
            ("listener", listeners),
            ("route_config", routes),
        ];
        for (kind, n) in kinds_in {
            metrics
                .resources_in
                .get_or_create(&KindLabels { kind })
                .inc_by(count(n));
        }
        let kinds_out = [
            ("cluster", response.clusters.len()),
            ("secret", response.secrets.len()),
            ("listener", response.listeners.len()),
            ("route_config", response.routes.len()),
        ];
        for (kind, n) in kinds_out {
            metrics
                .resources_out
                .get_or_create(&KindLabels { kind })
                .inc_by(count(n));
        }
        let summary = report.summary();
        metrics.chains_patched.inc_by(count(summary.chains_patched));
        metrics
            .routes_enabled
            .inc_by(count(summary.routes_selected));
        metrics.clusters_patched.inc_by(clusters_patched(report));
        let counted = skips(report).into_iter().map(|(reason, place, detail)| {
            (reason.label(), reason.is_misconfiguration(), place, detail)
        });
        // Every pool skip means EG or the hook is set up wrong.
        let pools = report.inference.skips(&report.index).into_iter();
        let pools = pools.map(|(reason, place, detail)| (reason.label(), true, place, detail));
        for (label, misconfiguration, place, detail) in counted.chain(pools) {
            metrics
                .skips
                .get_or_create(&ReasonLabels { reason: label })
                .inc();
            if misconfiguration && self.warned.first_time(&(label, &place)) {
                tracing::warn!(
                    reason = label,
                    resource = %place,
                    detail = %detail,
                    "left as is, probably a misconfiguration (warned once per resource)"
                );
            }
        }
        metrics.inference.translated(&report.inference);
    }
}

/// Clusters the hook added or changed in one call: the one number `clusters_patched` reads.
/// The processor cluster when it was added, and every AI backend cluster it changed.
pub(crate) fn clusters_patched(report: &Report) -> u64 {
    let processor = u64::from(matches!(
        report.processor_cluster,
        Some(ProcessorCluster::Added)
    ));
    processor + count(report.upstream.clusters_patched())
}

/// Every skip in a report: (reason, resource, detail).
fn skips(report: &Report) -> Vec<(SkipReason, String, String)> {
    let mut out = Vec::new();
    for listener in report.listeners() {
        let name = &listener.entry.name;
        let chains = match listener.chains() {
            Ok(chains) => chains,
            Err(e) => {
                let place = format!("listener {name:?}");
                out.push((SkipReason::MalformedListener, place, e.to_string()));
                continue;
            }
        };
        for chain in chains {
            let place = || format!("listener {name:?} {}", chain.entry.locator);
            if let ChainDecision::Skip(skip) = chain.decision {
                out.push((skip.reason(), place(), skip.to_string()));
            } else if let Some(error) = chain.failure {
                out.push((SkipReason::UnpatchableChain, place(), error.to_owned()));
            }
        }
    }
    for config in report.route_configs() {
        let place = format!("route config {:?}", config.entry.name);
        if let Err(e) = &config.entry.virtual_hosts {
            out.push((SkipReason::MalformedRouteConfig, place, e.to_string()));
        } else if let Change::Failed(e) = config.change {
            out.push((SkipReason::UnpatchableRouteConfig, place, e.clone()));
        }
    }
    for cluster in &report.upstream.clusters {
        let place = || format!("cluster {:?}", cluster.name);
        if let ClusterDecision::Skip(skip) = &cluster.decision {
            out.push((skip.reason(), place(), skip.to_string()));
        } else if let Change::Failed(error) = &cluster.change {
            out.push((SkipReason::UnpatchableCluster, place(), error.clone()));
        }
    }
    for unresolved in &report.upstream.unresolved {
        let place = report.index.route_place(
            unresolved.route_config,
            unresolved.virtual_host,
            unresolved.route,
        );
        out.push((
            unresolved.reason.reason(),
            place,
            unresolved.reason.to_string(),
        ));
    }
    out
}

/// A bounded set of things already warned about.
#[derive(Debug)]
pub(crate) struct WarnOnce {
    seen: Mutex<(HashSet<u64>, VecDeque<u64>)>,
    capacity: usize,
}

impl Default for WarnOnce {
    fn default() -> Self {
        Self::with_capacity(WARN_ONCE_CAPACITY)
    }
}

impl WarnOnce {
    /// Remembers at most `capacity` keys.
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            seen: Mutex::new((HashSet::new(), VecDeque::new())),
            capacity: capacity.max(1),
        }
    }

    /// True the first time `key` is seen (or after it was forgotten).
    pub(crate) fn first_time(&self, key: &impl Hash) -> bool {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        let hash = hasher.finish();
        let mut guard = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let (set, order) = &mut *guard;
        if !set.insert(hash) {
            return false;
        }
        order.push_back(hash);
        while order.len() > self.capacity {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warns_once_per_key_within_a_bounded_memory() {
        let w = WarnOnce::with_capacity(2);
        assert!(w.first_time(&"a"));
        assert!(!w.first_time(&"a"));
        assert!(w.first_time(&"b"));
        assert!(w.first_time(&"c"), "evicts a");
        assert!(w.first_time(&"a"), "a was forgotten");
        assert!(!w.first_time(&"c"));
        assert_eq!(w.seen.lock().unwrap().0.len(), 2);
    }

    #[test]
    fn missing_route_config_is_a_counted_misconfiguration() {
        use crate::select::ChainSkip;
        let reason = ChainSkip::MissingRouteConfig("x".into()).reason();
        assert_eq!(reason.label(), "missing_route_config");
        assert!(reason.is_misconfiguration());
        assert!(!ChainSkip::NoHcm(vec![]).reason().is_misconfiguration());
    }
}
