//! The InferencePool hooks in the server: metrics and logs for `PostRouteModify` and
//! `PostClusterModify` answers, and the pool counters of `PostTranslateModify`.
//!
//! Every label comes from a fixed set (the hook, the decision or refusal label), never from
//! the objects EG sends, so a cluster full of unknown kinds cannot grow the series count; the
//! kinds themselves go to the log.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::{counter::Counter, family::Family};
use prometheus_client::registry::Registry;

use super::count;
use crate::inference::{Answer, Refusal, Report};

/// Pool metrics.
#[derive(Debug, Default)]
pub struct InferenceMetrics {
    /// Route and Cluster hook calls, by hook and decision (or refusal).
    pub hook_calls: Family<HookCallLabels, Counter>,
    /// Pool routes on which their picker filter is enabled, per `PostTranslateModify`.
    pub routes_enabled: Counter,
    /// HCMs that got picker filters.
    pub chains_patched: Counter,
    /// Picker clusters added.
    pub pickers_added: Counter,
}

/// One Route or Cluster hook call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HookCallLabels {
    /// `route` or `cluster`.
    pub hook: &'static str,
    /// `pool`, `no_pool`, `no_route_action`, or a refusal: `malformed_pool`, `several_pools`,
    /// `malformed_context`, `malformed_resource`.
    pub decision: &'static str,
}

impl InferenceMetrics {
    /// Registers the pool metrics (prefix added by the registry).
    pub fn register(&self, r: &mut Registry) {
        r.register(
            "inference_hook_calls",
            "PostRouteModify and PostClusterModify calls, by hook and decision",
            self.hook_calls.clone(),
        );
        r.register(
            "inference_routes_enabled",
            "InferencePool routes on which their endpoint picker filter is enabled",
            self.routes_enabled.clone(),
        );
        r.register(
            "inference_chains_patched",
            "Filter chains that got endpoint picker filters",
            self.chains_patched.clone(),
        );
        r.register(
            "inference_pickers_added",
            "Endpoint picker clusters added",
            self.pickers_added.clone(),
        );
    }

    /// Counts and logs one Route or Cluster hook answer (`hook`: `route` or `cluster`).
    pub fn answered<T>(&self, hook: &'static str, answer: &Result<Answer<T>, Refusal>) {
        let decision = match answer {
            Ok(answer) => {
                for kind in &answer.ignored {
                    tracing::debug!(hook, %kind, "extension resource ignored: not an InferencePool (inference.networking.k8s.io/v1)");
                }
                tracing::debug!(hook, decision = %answer.decision, "InferencePool hook");
                answer.decision.label()
            }
            Err(refusal) => {
                tracing::warn!(hook, error = %refusal, "refused with INVALID_ARGUMENT");
                refusal.label()
            }
        };
        self.hook_calls
            .get_or_create(&HookCallLabels { hook, decision })
            .inc();
    }

    /// Counts what one `PostTranslateModify` did about pools.
    pub fn translated(&self, report: &Report) {
        self.routes_enabled.inc_by(count(report.routes_enabled()));
        self.chains_patched.inc_by(count(report.chains_patched()));
        self.pickers_added.inc_by(count(report.clusters_added()));
    }
}
