//! The real binary as a server: health, admin endpoint, metrics, Unix socket, SIGTERM drain,
//! limits and deadlines, warnings, startup failures. Everything on 127.0.0.1 or in a temp
//! dir, every wait bounded.

pub mod harness;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use prost::Message as _;
use tonic::transport::Endpoint;
use xds_hook::contract::*;

use crate::support;
use harness::*;

fn config(extra: &str) -> String {
    format!("server:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n{extra}")
}

#[tokio::test]
async fn health_goes_serving_and_metrics_count_the_call() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &config(""));
    assert_eq!(daemon.admin_get("/healthz").0, 200);
    assert_eq!(daemon.admin_get("/readyz").0, 200);

    let channel = channel(daemon.tcp()).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    for service in ["", "envoygateway.extension.EnvoyGatewayExtension"] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }

    let request = support::golden_request("mixed-namespaces-and-schemes");
    let expected =
        xds_hook::Hook::new(xds_hook::Config::default()).post_translate_modify(request.clone());
    let summary = expected.report.summary();
    assert!(summary.chains_patched > 0 && summary.routes_selected > 0);
    client(channel)
        .post_translate_modify(request.clone())
        .await
        .unwrap();

    let (status, text) = daemon.admin_get("/metrics");
    assert_eq!(status, 200);
    let ptm =
        "service=\"envoygateway.extension.EnvoyGatewayExtension\",method=\"PostTranslateModify\"";
    let wanted = [
        format!("xds_hook_grpc_requests_total{{{ptm},code=\"OK\"}} 1"),
        format!("xds_hook_grpc_request_duration_seconds_count{{{ptm}}} 1"),
        format!("xds_hook_grpc_request_bytes_count{{{ptm}}} 1"),
        format!("xds_hook_grpc_in_flight{{{ptm}}} 0"),
        format!(
            "xds_hook_resources_in_total{{kind=\"listener\"}} {}",
            request.listeners.len()
        ),
        format!(
            "xds_hook_resources_out_total{{kind=\"cluster\"}} {}",
            expected.response.clusters.len()
        ),
        format!("xds_hook_chains_patched_total {}", summary.chains_patched),
        format!("xds_hook_routes_enabled_total {}", summary.routes_selected),
        format!(
            "xds_hook_clusters_patched_total {}",
            1 + summary.clusters_patched
        ),
        "xds_hook_grpc_requests_total{service=\"grpc.health.v1.Health\",method=\"Check\",code=\"OK\"} 2"
            .to_owned(),
    ];
    for line in wanted {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert!(text.contains("xds_hook_skips_total{reason="), "{text}");

    // One INFO summary line for the call, logged inside the call's span (from the blocking
    // thread that ran the hook).
    let selected = format!("\"routes_selected\":{}", summary.routes_selected);
    eventually(Duration::from_secs(5), "the call's summary line", || {
        daemon.log().lines().any(|line| {
            line.contains("\"message\":\"PostTranslateModify\"")
                && line.contains("\"level\":\"INFO\"")
                && line.contains(&selected)
                && line.contains("\"span\":{\"name\":\"PostTranslateModify\"}")
        })
    });
}

#[tokio::test]
async fn unix_socket_listener_answers_post_translate_modify() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("hook.sock");
    let extra = format!(
        "  listen: [127.0.0.1:0, unix://{}]\n  adminListen: null\n",
        socket.display()
    );
    let daemon = Daemon::start(dir.path(), &format!("server:\n{extra}"));
    assert_eq!(daemon.grpc.len(), 2, "{:?}", daemon.grpc);
    assert!(daemon.admin.is_none());
    let path = socket.clone();
    let channel = Endpoint::from_static("http://uds.invalid")
        .connect_with_connector(tower::service_fn(move |_: http::Uri| {
            let path = path.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                    tokio::net::UnixStream::connect(path).await?,
                ))
            }
        }))
        .await
        .unwrap();
    let request = support::golden_request("mixed-namespaces-and-schemes");
    let expected = xds_hook::Hook::new(xds_hook::Config::default())
        .post_translate_modify(request.clone())
        .response;
    let response = client(channel)
        .post_translate_modify(request)
        .await
        .unwrap();
    assert_eq!(response.into_inner(), expected);
    drop(daemon);
    // A socket file left by a killed process is taken over on the next start.
    let again = Daemon::start(dir.path(), &format!("server:\n{extra}"));
    assert!(again.grpc.iter().any(|a| a.starts_with("unix://")));
}

// The checks below block (std I/O, sleeps): the call's task needs another worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_in_flight_large_call_finish_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(dir.path(), &config("  shutdownGrace: 20s\n"));
    let addr = daemon.tcp();
    let request = large_request(16);
    let call = ManualCall::start(addr, &request).await;
    eventually(Duration::from_secs(10), "the call to be in flight", || {
        in_flight(&daemon) == 1
    });

    daemon.terminate();
    eventually(Duration::from_secs(10), "/readyz to fail", || {
        daemon.admin_get("/readyz").0 == 503
    });
    eventually(Duration::from_secs(10), "the listener to close", || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
    });
    assert!(daemon.running(), "exited with a call in flight");

    let (code, body) = call.finish().await;
    assert_eq!(code, Some(tonic::Code::Ok), "log:\n{}", daemon.log());
    let response = PostTranslateModifyResponse::decode(&body[5..]).unwrap();
    assert_eq!(response.clusters.len(), request.clusters.len() + 1);
    let status = daemon.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log());
    assert!(daemon.log().contains("in-flight calls finished"));
}

/// The mechanism behind responses lost on SIGTERM, made deterministic: a client reading a
/// large response keeps sending frames, some after the server's FIN. A server that has
/// already closed its socket answers them with a TCP reset (the client then drops unread
/// response bytes); the server must instead read until the client closes. For every kind of
/// listener (TLS: `daemon_tls`).
#[tokio::test]
async fn frames_a_client_sends_after_the_servers_fin_are_read_not_reset() {
    for unix in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("hook.sock");
        let daemon = Daemon::start(
            dir.path(),
            &format!(
                "server:\n  listen: [127.0.0.1:0, unix://{}]\n  adminListen: null\n",
                socket.display()
            ),
        );
        if unix {
            let stream = tokio::net::UnixStream::connect(&socket).await.unwrap();
            late_frames_after_sigterm(daemon, RawH2::handshake(stream).await).await;
        } else {
            let stream = tokio::net::TcpStream::connect(daemon.tcp()).await.unwrap();
            late_frames_after_sigterm(daemon, RawH2::handshake(stream).await).await;
        }
    }
}

/// SIGTERM with an idle HTTP/2 connection open, then frames from the client after the
/// server's GOAWAY and FIN: none may draw a reset, and the server exits 0 once the client closes.
pub async fn late_frames_after_sigterm<S>(mut daemon: Daemon, mut h2: RawH2<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    daemon.terminate();
    let seen = h2.until_server_closes().await;
    let seen = seen.unwrap_or_else(|e| panic!("{e}; log:\n{}", daemon.log()));
    assert!(
        seen.contains(&0x7),
        "no GOAWAY: {seen:?}; log:\n{}",
        daemon.log()
    );
    // Frames after the FIN, a moment apart: the second write fails if the first drew a reset.
    for _ in 0..3 {
        if let Err(e) = h2.ping().await {
            panic!(
                "reset by the server after its FIN: {e}; log:\n{}",
                daemon.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(daemon.running(), "exited before the client closed");
    assert_eq!(h2.close().await.expect("a clean close"), 0);
    let status = daemon.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log());
}

// The checks below block (std I/O, sleeps): the call's task needs another worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_outlives_the_grace_period_is_cut_with_a_warning_and_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = Daemon::start(dir.path(), &config("  shutdownGrace: 300ms\n"));
    let call = ManualCall::start(daemon.tcp(), &large_request(1)).await;
    eventually(Duration::from_secs(10), "the call to be in flight", || {
        in_flight(&daemon) == 1
    });
    daemon.terminate();
    let status = daemon.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log());
    assert!(
        daemon
            .log()
            .contains("grace period (server.shutdownGrace) ran out"),
        "{}",
        daemon.log()
    );
    drop(call);
}

// The checks below block (std I/O, sleeps): the call's task needs another worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excess_calls_wait_for_a_slot_and_without_a_queue_get_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &config("  maxConcurrentCalls: 1\n"));
    let channel = channel(daemon.tcp()).await;
    let first = ManualCall::start(daemon.tcp(), &large_request(1)).await;
    eventually(
        Duration::from_secs(10),
        "the first call to be in flight",
        || in_flight(&daemon) == 1,
    );
    let second = tokio::spawn({
        let channel = channel.clone();
        async move {
            client(channel)
                .post_translate_modify(large_request(1))
                .await
        }
    });
    eventually(Duration::from_secs(10), "the second call to wait", || {
        metric(&daemon, "xds_hook_queue_depth") == Some(1)
    });
    assert!(!second.is_finished(), "it waits for the slot");
    assert_eq!(first.finish().await.0, Some(tonic::Code::Ok));
    second.await.unwrap().unwrap();
    assert_eq!(metric(&daemon, "xds_hook_queue_depth"), Some(0));
    assert_eq!(
        metric(&daemon, "xds_hook_queue_wait_seconds_count"),
        Some(2)
    );

    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(
        dir.path(),
        &config("  maxConcurrentCalls: 1\n  maxQueuedCalls: 0\n"),
    );
    let unqueued = harness::channel(daemon.tcp()).await;
    let first = ManualCall::start(daemon.tcp(), &large_request(1)).await;
    eventually(
        Duration::from_secs(10),
        "the first call to be in flight",
        || in_flight(&daemon) == 1,
    );
    let refused = client(unqueued.clone())
        .post_translate_modify(large_request(1))
        .await
        .unwrap_err();
    // Overload is transient: UNAVAILABLE, which EG retries, naming the setting.
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("server.maxQueuedCalls"),
        "{}",
        refused.message()
    );
    assert_eq!(first.finish().await.0, Some(tonic::Code::Ok));
    client(unqueued)
        .post_translate_modify(large_request(1))
        .await
        .unwrap();
    assert_eq!(
        metric(&daemon, "xds_hook_refusals_total{reason=\"queue_full\"}"),
        Some(1)
    );
}

/// A metric's value, by the start of its line up to the value.
fn metric(daemon: &Daemon, series: &str) -> Option<u64> {
    let (_, text) = daemon.admin_get("/metrics");
    harness::metric_value(&text, series)
}

#[test]
fn startup_fails_fast_with_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stderr) = run_serve(dir.path(), "server:\n  shutdownGrace: soon\n");
    assert_eq!(code, Some(64), "{stderr}");
    assert!(
        stderr.starts_with("xds-hook: server.shutdownGrace: "),
        "{stderr}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, stderr) = run_serve(
        dir.path(),
        &format!("server:\n  listen: 127.0.0.1:{port}\n  adminListen: null\n"),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("binding 127.0.0.1:{port}: ")),
        "{stderr}"
    );

    let missing = dir.path().join("missing.crt");
    let (code, stderr) = run_serve(
        dir.path(),
        &format!(
            "server:\n  listen: 127.0.0.1:0\n  adminListen: null\n  tls:\n    certFile: {}\n    keyFile: {}\n",
            missing.display(),
            missing.display()
        ),
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "xds-hook: server.tls.certFile {}: ",
            missing.display()
        )),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

#[tokio::test]
async fn a_misconfiguration_is_warned_once_per_resource_not_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &config(""));
    // Listeners without their route configurations: EG without route.includeAll.
    let mut request = support::golden_request("mixed-namespaces-and-schemes");
    request.routes.clear();
    let report = xds_hook::Hook::new(xds_hook::Config::default())
        .post_translate_modify(request.clone())
        .report;
    let missing = report
        .chain_lines()
        .iter()
        .filter(|l| l.reason.contains("is not in the request"))
        .count();
    assert!(missing > 0);
    let mut client = client(channel(daemon.tcp()).await);
    for _ in 0..3 {
        client.post_translate_modify(request.clone()).await.unwrap();
    }
    let warnings = || {
        daemon
            .log()
            .lines()
            .filter(|l| {
                l.contains("probably a misconfiguration") && l.contains("missing_route_config")
            })
            .count()
    };
    // The log is read by another thread: wait until the warnings are in, then count.
    eventually(Duration::from_secs(5), "the warnings", || {
        warnings() >= missing
    });
    assert_eq!(warnings(), missing, "log:\n{}", daemon.log());
    let (_, metrics) = daemon.admin_get("/metrics");
    let line = format!(
        "xds_hook_skips_total{{reason=\"missing_route_config\"}} {}",
        3 * missing
    );
    assert!(
        metrics.lines().any(|l| l == line),
        "missing {line:?} in\n{metrics}"
    );
}

// The checks below block (std I/O, sleeps): the call's task needs another worker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_deadline_is_ended_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &config("  maxConcurrentCalls: 1\n"));
    let channel = channel(daemon.tcp()).await;
    let started = Instant::now();
    // 300 ms to send a body that never completes.
    let call = ManualCall::start_with(daemon.tcp(), &large_request(1), Some("300m")).await;
    let (code, _) = call.answer().await;
    assert_eq!(code, Some(tonic::Code::Cancelled));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    eventually(Duration::from_secs(5), "the call to be counted", || {
        in_flight(&daemon) == 0
    });
    // Its slot is free again.
    client(channel)
        .post_translate_modify(large_request(1))
        .await
        .unwrap();
}
