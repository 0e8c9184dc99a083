//! Envoy Gateway's real calling pattern, against the real binary: several EG replicas, each
//! calling `PostTranslateModify` once per Gateway with EG's client settings (waitForReady,
//! 4 attempts, 0.1–1 s backoff, only `UNAVAILABLE` retried, no deadline). A failed call is a
//! lost Gateway update, so every call must succeed and equal the library's answer, with the
//! default limits and with a single slot. Beside them: a client that never reads its answer
//! and one that never finishes its request must not keep a slot past `server.maxCallTime`;
//! and the configuration file is reloaded without a restart.
//!
//! The default run is short (3 replicas × 8 Gateways, KiB to a few MiB). `XDS_HOOK_EG_LOAD=1`
//! runs the long one (4 replicas × 60 Gateways, up to a fleet of 11 MiB) and prints figures.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use prost::Message as _;
use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::workload::{Preset, Spec, generate};
use xds_hook::{Config, Hook};

use crate::daemon::harness::{
    Daemon, ManualCall, eventually, grpc_frame, large_request, metric_value,
    post_translate_modify_uri, raw_h2,
};
use crate::support::eg_client::EgClient;
use crate::support::slow_link::SlowLink;
use xds_hook::contract::service::envoy_gateway_extension_client::EnvoyGatewayExtensionClient;

/// One Gateway's translation, and what the hook must answer.
struct Gateway {
    request: PostTranslateModifyRequest,
    expected: Vec<u8>,
}

/// How many replicas call how many Gateways, of which sizes.
struct Plan {
    replicas: usize,
    gateways_per_replica: usize,
    /// Calls each replica has in flight at once (EG translates Gateways one by one per
    /// runner, but a burst of watches can overlap; more than one stresses the queue).
    concurrency: usize,
    specs: Vec<Spec>,
}

fn plan() -> Plan {
    let small = Preset::Small.spec();
    // From a few KiB (one listener) to a few MiB (hundreds of listeners, thousands of
    // clusters), like Gateways of very different sizes in one fleet.
    let mut specs = vec![
        Spec {
            listeners: 1,
            clusters: 4,
            secrets: 1,
            ..small.clone()
        },
        small.clone(),
        Spec {
            listeners: 100,
            clusters: 500,
            ..small.clone()
        },
        Spec {
            listeners: 400,
            clusters: 2_000,
            ..small.clone()
        },
    ];
    if std::env::var_os("XDS_HOOK_EG_LOAD").is_some() {
        specs.push(Preset::Fleet.spec());
        Plan {
            replicas: 4,
            gateways_per_replica: 60,
            concurrency: 3,
            specs,
        }
    } else {
        Plan {
            replicas: 3,
            gateways_per_replica: 8,
            concurrency: 4,
            specs,
        }
    }
}

fn gateways(plan: &Plan) -> Vec<Arc<Gateway>> {
    let hook = Hook::new(Config::default());
    plan.specs
        .iter()
        .enumerate()
        .map(|(n, spec)| {
            let request = generate(&Spec {
                seed: spec.seed + n as u64,
                ..spec.clone()
            });
            let expected = hook
                .post_translate_modify(request.clone())
                .response
                .encode_to_vec();
            Arc::new(Gateway { request, expected })
        })
        .collect()
}

/// What the replicas saw.
struct Figures {
    /// Time to an answer, retries included, of every call that got one.
    latencies: Vec<Duration>,
    /// The final status of every call that got none: a lost Gateway update.
    lost: Vec<tonic::Status>,
    retries: usize,
    queue_peak: u64,
    refusals: String,
    largest_kib: usize,
}

impl Figures {
    fn percentile(&self, p: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let rank = ((sorted.len() as f64) * p).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} calls answered, {} lost (largest request {} KiB): p50 {:?}, p99 {:?}, max {:?}; \
             retries {}; queue depth peak {}; refusals [{}]",
            self.latencies.len(),
            self.lost.len(),
            self.largest_kib,
            self.percentile(0.5),
            self.percentile(0.99),
            self.percentile(1.0),
            self.retries,
            self.queue_peak,
            self.refusals,
        )
    }
}

/// Runs the plan's replicas against a daemon started with `server_extra`, checks every answer
/// and returns the figures.
async fn replicas_call_every_gateway(server_extra: &str) -> Figures {
    let plan = plan();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(
        dir.path(),
        &format!("server:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n{server_extra}"),
    );
    let addr = daemon.tcp();
    let gateways = gateways(&plan);
    let largest_kib = gateways
        .iter()
        .map(|g| g.request.encoded_len() >> 10)
        .max()
        .unwrap();

    let mut replicas = Vec::new();
    for replica in 0..plan.replicas {
        let client = EgClient::new(addr);
        let gateways = gateways.clone();
        let (calls, concurrency) = (plan.gateways_per_replica, plan.concurrency);
        replicas.push(tokio::spawn(async move {
            let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let mut workers = Vec::new();
            for _ in 0..concurrency {
                let (client, gateways, next) = (client.clone(), gateways.clone(), next.clone());
                workers.push(tokio::spawn(async move {
                    let (mut latencies, mut lost) = (Vec::new(), Vec::new());
                    loop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        if n >= calls {
                            return (latencies, lost);
                        }
                        let gateway = &gateways[(replica + n) % gateways.len()];
                        let started = Instant::now();
                        match client.post_translate_modify(&gateway.request).await {
                            Ok(answer) => {
                                latencies.push(started.elapsed());
                                assert!(
                                    answer.encode_to_vec() == gateway.expected,
                                    "replica {replica}, Gateway {n}: answer differs from the \
                                     library's"
                                );
                            }
                            Err(status) => lost.push(status),
                        }
                    }
                }));
            }
            let (mut latencies, mut lost) = (Vec::new(), Vec::new());
            for worker in workers {
                let (l, s) = worker.await.unwrap();
                latencies.extend(l);
                lost.extend(s);
            }
            (latencies, lost, client.retries.load(Ordering::Relaxed))
        }));
    }
    let (mut latencies, mut lost) = (Vec::new(), Vec::new());
    let mut retries = 0;
    for replica in replicas {
        let (l, s, r) = replica.await.unwrap();
        latencies.extend(l);
        lost.extend(s);
        retries += r;
    }
    assert_eq!(
        latencies.len() + lost.len(),
        plan.replicas * plan.gateways_per_replica
    );
    let (_, metrics) = daemon.admin_get("/metrics");
    Figures {
        latencies,
        lost,
        retries,
        queue_peak: metric(&metrics, "xds_hook_queue_depth_peak"),
        refusals: metrics
            .lines()
            .filter(|l| l.starts_with("xds_hook_refusals_total{"))
            .collect::<Vec<_>>()
            .join(", "),
        largest_kib,
    }
}

fn metric(text: &str, name: &str) -> u64 {
    metric_value(text, name).unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eg_replicas_lose_no_update_with_the_default_limits() {
    let figures = replicas_call_every_gateway("").await;
    eprintln!("default limits: {figures}");
    assert!(figures.lost.is_empty(), "{figures}: {:?}", figures.lost);
    // 4 slots and a queue of 16 hold every call the replicas can have in flight: nothing is
    // refused, so nothing needs a retry.
    assert_eq!(figures.retries, 0, "{figures}");
    assert!(figures.refusals.is_empty(), "{figures}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eg_replicas_lose_no_update_with_a_single_slot() {
    let figures = replicas_call_every_gateway("  maxConcurrentCalls: 1\n").await;
    eprintln!("maxConcurrentCalls 1: {figures}");
    assert!(figures.lost.is_empty(), "{figures}: {:?}", figures.lost);
    // Calls did wait (the queue is what saved them) and none was refused.
    assert!(figures.queue_peak >= 2, "{figures}");
    assert!(figures.refusals.is_empty(), "{figures}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_queue_overload_is_unavailable_and_retried() {
    // No queue: excess calls are refused at once. Every refusal must reach EG as UNAVAILABLE
    // naming the setting (so EG retries it), never as a reset stream or another code. EG's
    // 4 attempts span under 2 s, so some updates can still be lost: that is why the queue
    // exists, and this configuration is documented as one to avoid.
    let figures =
        replicas_call_every_gateway("  maxConcurrentCalls: 2\n  maxQueuedCalls: 0\n").await;
    eprintln!("no queue: {figures}");
    assert!(figures.retries > 0, "{figures}");
    assert!(figures.refusals.contains("queue_full"), "{figures}");
    for status in &figures.lost {
        assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
        assert!(
            status.message().contains("server.maxQueuedCalls"),
            "{status:?}"
        );
    }
}

/// A raw HTTP/2 call that sends its whole request, takes the response headers, and then never
/// reads the body: the server's response stalls on flow control.
async fn call_and_never_read(
    addr: std::net::SocketAddr,
    request: &PostTranslateModifyRequest,
) -> tokio::task::JoinHandle<()> {
    let (mut h2, connection) = raw_h2(addr).await;
    let http_request = http::Request::post(post_translate_modify_uri(addr))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(http_body_util::Full::new(grpc_frame(request)))
        .unwrap();
    let response = h2.send_request(http_request).await.unwrap();
    assert_eq!(response.status(), 200);
    // Hold the response and the connection (a client whose last handle is dropped closes it)
    // without reading: the task ends when the server ends the connection.
    tokio::spawn(async move {
        let _unread = (response, h2);
        let _ = connection.await;
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_cannot_hold_its_slot_past_max_call_time() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(
        dir.path(),
        "server:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  \
         maxConcurrentCalls: 1\n  maxCallTime: 2s\n  queueTimeout: 20s\n",
    );
    let addr = daemon.tcp();
    let eg = EgClient::new(addr);
    let gateway = crate::support::golden_request("mixed-namespaces-and-schemes");

    // A client that sends 16 MiB and never reads the answer takes the only slot; the answer
    // is far larger than any HTTP/2 window, so it stalls on the server.
    let stalled = call_and_never_read(addr, &large_request(16)).await;
    let started = Instant::now();
    let answer = eg.post_translate_modify(&gateway).await;
    assert!(answer.is_ok(), "{answer:?}\n{}", daemon.log());
    let waited = started.elapsed();
    // It waited for the stalled call's time to run out, not for the queue's.
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(15),
        "{waited:?}"
    );
    tokio::time::timeout(Duration::from_secs(10), stalled)
        .await
        .expect("the stalled client's connection was ended")
        .unwrap();

    // A client that never finishes sending its request is answered UNAVAILABLE at its time.
    let half = ManualCall::start(addr, &large_request(1)).await;
    let (code, _) = half.answer().await;
    assert_eq!(code, Some(tonic::Code::Unavailable));
    assert!(eg.post_translate_modify(&gateway).await.is_ok());

    let (_, metrics) = daemon.admin_get("/metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l == "xds_hook_refusals_total{reason=\"max_call_time\"} 2"),
        "{metrics}"
    );
    assert_eq!(eg.retries.load(Ordering::Relaxed), 0);
    assert!(
        daemon.log().contains("ending its connection"),
        "{}",
        daemon.log()
    );
}

/// A call still uploading its request when `server.maxCallTime` runs out is answered
/// `UNAVAILABLE` (which EG retries) by a tonic client, not reset: 2 MiB in 32 KiB pieces, one
/// every 100 ms, against a 2 s limit. Answered at its time, without waiting for the rest
/// (draining first was tried: it only delayed the answer by the upload's remaining time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_still_uploading_at_max_call_time_is_answered_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(
        dir.path(),
        "server:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  maxCallTime: 2s\n",
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", daemon.tcp()))
        .unwrap()
        .connect_lazy();
    let link = SlowLink {
        channel,
        piece: 32 << 10,
        every: Duration::from_millis(100),
    };
    let mut client = EnvoyGatewayExtensionClient::new(link)
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    let started = Instant::now();
    let status = client
        .post_translate_modify(large_request(2))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("server.maxCallTime"),
        "{status:?}"
    );
    // The upload needs about 3.2 s; the answer comes at the limit.
    assert!(
        started.elapsed() < Duration::from_millis(3000),
        "{:?}",
        started.elapsed()
    );
}

/// The filter name a response's listeners carry, as bytes to look for.
fn carries(response: &PostTranslateModifyResponse, filter_name: &str) -> bool {
    response
        .listeners
        .iter()
        .any(|l| memchr::memmem::find(l, filter_name.as_bytes()).is_some())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configuration_file_is_reloaded_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = |filter: &str, extra: &str| {
        format!(
            "extProc:\n  filterName: envoy.filters.http.ext_proc/{filter}\n{extra}server:\n  \
             listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  configReloadInterval: 100ms\n"
        )
    };
    let daemon = Daemon::start(dir.path(), &config("one", ""));
    let eg = EgClient::new(daemon.tcp());
    let gateway = crate::support::golden_request("mixed-namespaces-and-schemes");
    // What `sha256sum config.yaml | cut -c1-16` shows (README, "Configuration").
    let hash = |text: &str| {
        let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        hex[..16].to_owned()
    };
    let info = |text: &str| format!("xds_hook_config_info{{hash=\"{}\"}} 1", hash(text));
    let has = |line: &str| {
        let (_, metrics) = daemon.admin_get("/metrics");
        metrics.lines().any(|l| l == line)
    };

    let first = eg.post_translate_modify(&gateway).await.unwrap();
    assert!(carries(&first, "envoy.filters.http.ext_proc/one"));
    eventually(Duration::from_secs(5), "the first file's hash", || {
        has(&info(&config("one", "")))
    });

    // A valid change: the next calls use it.
    replace_file(&dir.path().join("config.yaml"), &config("two", ""));
    eventually(Duration::from_secs(5), "the reload", || {
        has("xds_hook_config_reloads_total{result=\"success\"} 1")
    });
    let second = eg.post_translate_modify(&gateway).await.unwrap();
    assert!(carries(&second, "envoy.filters.http.ext_proc/two"));
    assert!(!carries(&second, "envoy.filters.http.ext_proc/one"));
    assert!(has(&info(&config("two", ""))));

    // A broken file: calls keep the configuration in force, the counter moves, and the
    // warning names the key.
    let broken = config("three", "  messageTimeout: soon\n");
    replace_file(&dir.path().join("config.yaml"), &broken);
    eventually(Duration::from_secs(5), "the rejection", || {
        has("xds_hook_config_reloads_total{result=\"failure\"} 1")
    });
    let third = eg.post_translate_modify(&gateway).await.unwrap();
    assert!(carries(&third, "envoy.filters.http.ext_proc/two"));
    assert!(
        has(&info(&config("two", ""))),
        "the hash in force is unchanged"
    );
    assert!(
        daemon
            .log()
            .lines()
            .any(|l| l.contains("configuration file rejected")
                && l.contains("extProc.messageTimeout")),
        "{}",
        daemon.log()
    );

    // A change to the process's own settings is applied on restart, and says so.
    replace_file(
        &dir.path().join("config.yaml"),
        &(config("two", "") + "  maxConcurrentCalls: 7\n"),
    );
    eventually(Duration::from_secs(5), "the restart warning", || {
        daemon.log().lines().any(|l| {
            l.contains("take effect on the next restart") && l.contains("server.maxConcurrentCalls")
        })
    });
}

/// Replaces `path` in one step (write beside it, then rename), as a ConfigMap update does: the
/// server polling it never reads a half-written file.
fn replace_file(path: &std::path::Path, text: &str) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, text).unwrap();
    std::fs::rename(&staged, path).unwrap();
}
