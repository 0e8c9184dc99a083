//! Prometheus metrics: what operators graph and alert on.
//!
//! Two families. Per RPC (recorded by the call layer for every method, health and reflection
//! included): calls by gRPC code, latency, request and response bytes, calls in flight. Per
//! `PostTranslateModify` (recorded from the decision report by [`super::outcome`]): resources
//! in and out by kind, chains patched, routes enabled, clusters patched, skips by reason.
//! Every label takes values from a fixed set (method names from a table, codes, kinds, skip
//! reasons), so a misbehaving client cannot grow the series count. The admin endpoint serves
//! [`Metrics::encode`] in the OpenMetrics text format Prometheus scrapes.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::{
    counter::Counter,
    family::Family,
    gauge::Gauge,
    histogram::{Histogram, exponential_buckets},
};
use prometheus_client::registry::Registry;
use tonic::Code;

use super::limits::QueueGauges;

/// Every metric of one server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    rpc: RpcMetrics,
    /// Per-call hook counters.
    pub hook: HookMetrics,
    /// TLS file reloads by result (`success`, `failure`).
    pub tls_reloads: Family<ResultLabels, Counter>,
    /// The overload queue and refusals.
    pub overload: OverloadMetrics,
    /// Configuration file reloads by result (`success`, `failure`), and the one in force.
    pub config: ConfigMetrics,
}

/// What overload did: the queue, and the calls turned away or cut.
#[derive(Debug)]
pub struct OverloadMetrics {
    /// Calls waiting for a slot now, and the most that ever waited at once.
    pub queue: QueueGauges,
    /// Time admitted `PostTranslateModify` calls waited for their slot.
    pub queue_wait: Histogram,
    /// Calls refused or cut, by reason (`queue_full`, `queue_timeout`, `max_call_time`,
    /// `max_message_bytes`).
    pub refusals: Family<ReasonLabels, Counter>,
}

/// The configuration file: reloads, and which configuration is in force.
#[derive(Debug, Default)]
pub struct ConfigMetrics {
    /// Reloads of a changed file, by result.
    pub reloads: Family<ResultLabels, Counter>,
    /// 1 for the configuration in force, labelled with its hash; the previous label is
    /// removed when another takes over.
    pub info: Family<ConfigLabels, Gauge>,
}

/// The configuration in force.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConfigLabels {
    /// The first 16 hex digits of the SHA-256 of the file's bytes, or `defaults` when no file
    /// was given.
    pub hash: String,
}

#[derive(Debug)]
struct RpcMetrics {
    requests: Family<CodeLabels, Counter>,
    in_flight: Family<MethodLabels, Gauge>,
    latency: Family<MethodLabels, Histogram, fn() -> Histogram>,
    request_bytes: Family<MethodLabels, Histogram, fn() -> Histogram>,
    response_bytes: Family<MethodLabels, Histogram, fn() -> Histogram>,
}

/// Counters read off each `PostTranslateModify` report.
#[derive(Debug, Default)]
pub struct HookMetrics {
    /// Resources received, by kind.
    pub resources_in: Family<KindLabels, Counter>,
    /// Resources returned, by kind.
    pub resources_out: Family<KindLabels, Counter>,
    /// Filter chains that got the processor filter.
    pub chains_patched: Counter,
    /// Routes on which the processor is enabled.
    pub routes_enabled: Counter,
    /// Clusters added or changed.
    pub clusters_patched: Counter,
    /// Chains and route configurations left alone, by reason.
    pub skips: Family<ReasonLabels, Counter>,
    /// InferencePool hooks and routes.
    pub inference: super::inference::InferenceMetrics,
}

/// One gRPC method.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    /// Fully qualified service name, or `unknown`.
    pub service: &'static str,
    /// Method name, or `unknown`.
    pub method: &'static str,
}

/// One gRPC method and the code it ended with.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CodeLabels {
    /// Fully qualified service name, or `unknown`.
    pub service: &'static str,
    /// Method name, or `unknown`.
    pub method: &'static str,
    /// gRPC status code name (`OK`, `RESOURCE_EXHAUSTED`, ...).
    pub code: &'static str,
}

/// A resource kind of the `PostTranslateModify` contract.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// `listener`, `route_config`, `cluster` or `secret`.
    pub kind: &'static str,
}

/// Why something was skipped.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// A fixed reason name (see the README's metrics reference).
    pub reason: &'static str,
}

/// The result of an operation.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `success` or `failure`.
    pub result: &'static str,
}

/// The methods this server answers, as (service, method) label values; anything else is
/// counted as `unknown` so client-chosen paths cannot create series.
const METHODS: &[(&str, &str)] = &[
    (
        "envoygateway.extension.EnvoyGatewayExtension",
        "PostTranslateModify",
    ),
    (
        "envoygateway.extension.EnvoyGatewayExtension",
        "PostRouteModify",
    ),
    (
        "envoygateway.extension.EnvoyGatewayExtension",
        "PostVirtualHostModify",
    ),
    (
        "envoygateway.extension.EnvoyGatewayExtension",
        "PostHTTPListenerModify",
    ),
    (
        "envoygateway.extension.EnvoyGatewayExtension",
        "PostClusterModify",
    ),
    (
        "envoygateway.extension.EnvoyGatewayExtension",
        "PostEndpointsModify",
    ),
    ("grpc.health.v1.Health", "Check"),
    ("grpc.health.v1.Health", "Watch"),
    (
        "grpc.reflection.v1.ServerReflection",
        "ServerReflectionInfo",
    ),
];

impl MethodLabels {
    /// Labels for a request path (`/service/method`).
    pub fn from_path(path: &str) -> Self {
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let (service, method) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        METHODS
            .iter()
            .find(|(s, m)| *s == service && *m == method)
            .map(|&(service, method)| Self { service, method })
            .unwrap_or(Self {
                service: "unknown",
                method: "unknown",
            })
    }
}

fn latency_histogram() -> Histogram {
    // 1 ms .. ~65 s: from a health check to a very large fleet on a slow node.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

fn queue_wait_histogram() -> Histogram {
    // 0.1 ms .. ~52 s: from a slot freed at once to the longest queueTimeout worth setting.
    Histogram::new(exponential_buckets(0.0001, 2.0, 20))
}

fn bytes_histogram() -> Histogram {
    // 64 B .. 1 GiB, by factors of 4.
    Histogram::new(exponential_buckets(64.0, 4.0, 13))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered under the `xds_hook_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("xds_hook");
        let rpc = RpcMetrics {
            requests: Family::default(),
            in_flight: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            request_bytes: Family::new_with_constructor(bytes_histogram),
            response_bytes: Family::new_with_constructor(bytes_histogram),
        };
        let hook = HookMetrics::default();
        let tls_reloads = Family::<ResultLabels, Counter>::default();
        let overload = OverloadMetrics {
            queue: QueueGauges::default(),
            queue_wait: queue_wait_histogram(),
            refusals: Family::default(),
        };
        let config = ConfigMetrics::default();
        let r = &mut registry;
        r.register(
            "grpc_requests",
            "gRPC calls handled, by method and status code",
            rpc.requests.clone(),
        );
        r.register(
            "grpc_in_flight",
            "gRPC calls in progress",
            rpc.in_flight.clone(),
        );
        r.register(
            "grpc_request_duration_seconds",
            "gRPC call latency, from request headers to the end of the response",
            rpc.latency.clone(),
        );
        r.register(
            "grpc_request_bytes",
            "gRPC request body size (framed), per call",
            rpc.request_bytes.clone(),
        );
        r.register(
            "grpc_response_bytes",
            "gRPC response body size (framed), per call",
            rpc.response_bytes.clone(),
        );
        r.register(
            "resources_in",
            "Resources received in PostTranslateModify requests, by kind",
            hook.resources_in.clone(),
        );
        r.register(
            "resources_out",
            "Resources returned in PostTranslateModify responses, by kind",
            hook.resources_out.clone(),
        );
        r.register(
            "chains_patched",
            "Filter chains that got the processor filter",
            hook.chains_patched.clone(),
        );
        r.register(
            "routes_enabled",
            "Routes on which the processor is enabled",
            hook.routes_enabled.clone(),
        );
        r.register(
            "clusters_patched",
            "Clusters added or changed by the hook",
            hook.clusters_patched.clone(),
        );
        r.register(
            "skips",
            "Filter chains and route configurations left alone, by reason",
            hook.skips.clone(),
        );
        hook.inference.register(r);
        r.register(
            "tls_reloads",
            "Reloads of changed TLS files, by result",
            tls_reloads.clone(),
        );
        r.register(
            "queue_depth",
            "PostTranslateModify calls waiting for a slot (server.maxConcurrentCalls)",
            overload.queue.depth.clone(),
        );
        r.register(
            "queue_depth_peak",
            "The most PostTranslateModify calls that waited for a slot at once since start",
            overload.queue.peak.clone(),
        );
        r.register(
            "queue_wait_seconds",
            "Time admitted PostTranslateModify calls waited for a slot",
            overload.queue_wait.clone(),
        );
        r.register(
            "refusals",
            "Calls refused or cut, by reason (every reason but max_message_bytes is answered \
             UNAVAILABLE, which EG retries)",
            overload.refusals.clone(),
        );
        r.register(
            "config_reloads",
            "Reloads of a changed configuration file, by result",
            config.reloads.clone(),
        );
        r.register(
            "config_info",
            "The configuration in force (1), labelled with a hash of its file",
            config.info.clone(),
        );
        Self {
            registry,
            rpc,
            hook,
            tls_reloads,
            overload,
            config,
        }
    }

    /// The metrics in the OpenMetrics text format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// A call was refused or cut for `reason`.
    pub fn refused(&self, reason: &'static str) {
        self.overload
            .refusals
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }

    /// The configuration labelled `hash` took over from the one labelled `previous`.
    pub fn config_in_force(&self, previous: Option<&str>, hash: &str) {
        if let Some(previous) = previous {
            self.config.info.remove(&ConfigLabels {
                hash: previous.to_owned(),
            });
        }
        self.config
            .info
            .get_or_create(&ConfigLabels {
                hash: hash.to_owned(),
            })
            .set(1);
    }

    /// A call started.
    pub fn call_started(&self, method: &MethodLabels) {
        self.rpc.in_flight.get_or_create(method).inc();
    }

    /// A call ended with `code` after `elapsed`, having read and written these body bytes.
    pub fn call_finished(
        &self,
        method: &MethodLabels,
        code: Code,
        elapsed: Duration,
        request_bytes: u64,
        response_bytes: u64,
    ) {
        self.rpc.in_flight.get_or_create(method).dec();
        let labels = CodeLabels {
            service: method.service,
            method: method.method,
            code: code_name(code),
        };
        self.rpc.requests.get_or_create(&labels).inc();
        self.rpc
            .latency
            .get_or_create(method)
            .observe(elapsed.as_secs_f64());
        #[allow(clippy::cast_precision_loss)] // sizes far below 2^52
        {
            let rpc = &self.rpc;
            rpc.request_bytes
                .get_or_create(method)
                .observe(request_bytes as f64);
            rpc.response_bytes
                .get_or_create(method)
                .observe(response_bytes as f64);
        }
    }
}

/// The canonical upper-case name of a gRPC code, as grpc-go's metrics label it.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_come_from_a_fixed_table() {
        let ptm = MethodLabels::from_path(super::super::limits::POST_TRANSLATE_MODIFY_PATH);
        assert_eq!(ptm.method, "PostTranslateModify");
        let odd = MethodLabels::from_path("/evil.Service/Method123");
        assert_eq!((odd.service, odd.method), ("unknown", "unknown"));
    }

    #[test]
    fn a_finished_call_shows_in_the_text() {
        let m = Metrics::new();
        let method = MethodLabels::from_path("/grpc.health.v1.Health/Check");
        m.call_started(&method);
        m.call_finished(&method, Code::Ok, Duration::from_millis(3), 10, 20);
        m.hook.chains_patched.inc_by(2);
        let text = m.encode();
        assert!(
            text.contains(
                "xds_hook_grpc_requests_total{service=\"grpc.health.v1.Health\",method=\"Check\",code=\"OK\"} 1"
            ),
            "{text}"
        );
        assert!(text.contains("xds_hook_chains_patched_total 2"), "{text}");
        assert!(
            text.contains(
                "xds_hook_grpc_in_flight{service=\"grpc.health.v1.Health\",method=\"Check\"} 0"
            ),
            "{text}"
        );
    }
}
