//! The real binary as a server: health, admin endpoint, metrics, Unix socket, SIGTERM drain,
//! startup failures. Everything on 127.0.0.1 or in a temp dir, every wait bounded.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use prost::Message as _;
use tonic::transport::{Channel, Endpoint};
use xds_hook::contract::service::envoy_gateway_extension_client::EnvoyGatewayExtensionClient;
use xds_hook::contract::*;

use crate::support;

/// A running `xds-hook serve`, killed when dropped.
pub struct Daemon {
    child: Child,
    /// gRPC addresses as logged (`127.0.0.1:port` or `unix:///path`).
    pub grpc: Vec<String>,
    /// The admin endpoint.
    pub admin: Option<SocketAddr>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Writes `config` to `dir/config.yaml` and starts the binary with it; waits (bounded)
    /// until it logs that it serves.
    pub fn start(dir: &Path, config: &str) -> Daemon {
        let path = dir.join("config.yaml");
        std::fs::write(&path, config).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_xds-hook"))
            .args(["--log-format", "json", "--log", "info", "--config"])
            .arg(&path)
            .arg("serve")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line.clone());
                if let Ok(json) = serde_json::from_str(&line) {
                    let _ = tx.send(json);
                }
            }
        });
        let mut daemon = Daemon {
            child,
            grpc: Vec::new(),
            admin: None,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(event) = rx.recv_timeout(left) else {
                panic!("server did not come up; log:\n{}", daemon.log());
            };
            let fields = &event["fields"];
            match fields["message"].as_str() {
                Some("gRPC listening") => {
                    daemon
                        .grpc
                        .push(fields["addr"].as_str().unwrap().to_owned());
                }
                Some("admin endpoint listening") => {
                    daemon.admin = Some(fields["addr"].as_str().unwrap().parse().unwrap());
                }
                Some(m) if m.starts_with("serving ") => return daemon,
                _ => {}
            }
        }
    }

    /// The first TCP gRPC address.
    pub fn tcp(&self) -> SocketAddr {
        self.grpc.iter().find_map(|a| a.parse().ok()).unwrap()
    }

    /// Everything logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM failed");
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "did not exit; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET path` on the admin endpoint: (status, body).
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        http_get(self.admin.unwrap(), path)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET (the admin endpoint is what kubelet and Prometheus see).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (status, body)
}

/// Polls `check` every 20 ms for at most `limit`.
pub fn eventually(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A plaintext channel to a TCP address.
pub async fn channel(addr: SocketAddr) -> Channel {
    tokio::time::timeout(
        Duration::from_secs(10),
        Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect(),
    )
    .await
    .unwrap()
    .unwrap()
}

/// The extension client with room for large messages.
pub fn client(channel: Channel) -> EnvoyGatewayExtensionClient<Channel> {
    EnvoyGatewayExtensionClient::new(channel)
        .max_decoding_message_size(512 << 20)
        .max_encoding_message_size(512 << 20)
}

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
        "xds_hook_clusters_patched_total 1".to_owned(),
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

/// A `PostTranslateModify` whose body the test feeds by hand.
struct ManualCall {
    sender: tokio::sync::mpsc::Sender<Result<http_body::Frame<Bytes>, std::convert::Infallible>>,
    response: tokio::task::JoinHandle<(Option<tonic::Code>, Bytes)>,
    rest: Bytes,
}

impl ManualCall {
    /// Starts the call and sends the gRPC frame header and the first half of `request`.
    async fn start(addr: SocketAddr, request: &PostTranslateModifyRequest) -> ManualCall {
        Self::start_with(addr, request, None).await
    }

    /// Like [`ManualCall::start`], with a `grpc-timeout` header when `timeout` is set.
    /// A raw HTTP/2 client, so no client-side deadline handling gets in the way.
    async fn start_with(
        addr: SocketAddr,
        request: &PostTranslateModifyRequest,
        timeout: Option<&str>,
    ) -> ManualCall {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut h2, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(tcp),
        )
        .await
        .unwrap();
        tokio::spawn(connection);
        let message = request.encode_to_vec();
        let mut framed = vec![0u8];
        framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
        framed.extend_from_slice(&message);
        let mut framed = Bytes::from(framed);
        let rest = framed.split_off(framed.len() / 2);
        let (sender, rx) = tokio::sync::mpsc::channel(4);
        let body = http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        let mut http_request = http::Request::builder();
        if let Some(timeout) = timeout {
            http_request = http_request.header("grpc-timeout", timeout);
        }
        let http_request = http_request
            .method("POST")
            .uri(format!(
                "http://{addr}/envoygateway.extension.EnvoyGatewayExtension/PostTranslateModify"
            ))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(body)
            .unwrap();
        let response = tokio::spawn(async move {
            let response = h2.send_request(http_request).await.unwrap();
            let (parts, body) = response.into_parts();
            let collected = body.collect().await.unwrap();
            let trailers = collected.trailers().cloned().unwrap_or_default();
            let status = tonic::Status::from_header_map(&trailers)
                .or_else(|| tonic::Status::from_header_map(&parts.headers));
            (status.map(|s| s.code()), collected.to_bytes())
        });
        sender
            .send(Ok(http_body::Frame::data(framed)))
            .await
            .unwrap();
        ManualCall {
            sender,
            response,
            rest,
        }
    }

    /// Waits for the answer without sending the rest.
    async fn answer(self) -> (Option<tonic::Code>, Bytes) {
        tokio::time::timeout(Duration::from_secs(30), self.response)
            .await
            .unwrap()
            .unwrap()
    }

    /// Sends the rest and waits for the answer: (code, message bytes).
    async fn finish(self) -> (Option<tonic::Code>, Bytes) {
        self.sender
            .send(Ok(http_body::Frame::data(self.rest)))
            .await
            .unwrap();
        drop(self.sender);
        tokio::time::timeout(Duration::from_secs(30), self.response)
            .await
            .unwrap()
            .unwrap()
    }
}

/// A request of about `mib` MiB: clusters only, so the answer is the input plus one cluster.
fn large_request(mib: usize) -> PostTranslateModifyRequest {
    let cluster = Bytes::from({
        let mut c = Vec::new();
        xds_hook::wire::put_len(&mut c, 1, b"c");
        xds_hook::wire::put_len(&mut c, 9002, &vec![b'x'; 1000]);
        c
    });
    PostTranslateModifyRequest {
        clusters: vec![cluster; mib * 1024],
        ..Default::default()
    }
}

fn in_flight(daemon: &Daemon) -> u32 {
    let (_, text) = daemon.admin_get("/metrics");
    text.lines()
        .find(|l| l.starts_with("xds_hook_grpc_in_flight{service=\"envoygateway.extension.EnvoyGatewayExtension\",method=\"PostTranslateModify\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
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
    assert!(
        daemon.child.try_wait().unwrap().is_none(),
        "exited with a call in flight"
    );

    let (code, body) = call.finish().await;
    assert_eq!(code, Some(tonic::Code::Ok), "log:\n{}", daemon.log());
    let response = PostTranslateModifyResponse::decode(&body[5..]).unwrap();
    assert_eq!(response.clusters.len(), request.clusters.len() + 1);
    let status = daemon.wait(Duration::from_secs(10));
    assert_eq!(status.code(), Some(0), "log:\n{}", daemon.log());
    assert!(daemon.log().contains("in-flight calls finished"));
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
async fn excess_concurrent_calls_get_resource_exhausted_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &config("  maxConcurrentCalls: 1\n"));
    let channel = channel(daemon.tcp()).await;
    let first = ManualCall::start(daemon.tcp(), &large_request(1)).await;
    eventually(
        Duration::from_secs(10),
        "the first call to be in flight",
        || in_flight(&daemon) == 1,
    );
    let started = Instant::now();
    let refused = client(channel.clone())
        .post_translate_modify(large_request(1))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::ResourceExhausted,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("server.maxConcurrentCalls"),
        "{}",
        refused.message()
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused, not queued"
    );
    assert_eq!(first.finish().await.0, Some(tonic::Code::Ok));
    client(channel)
        .post_translate_modify(large_request(1))
        .await
        .unwrap();
}

fn run_serve(dir: &Path, config: &str) -> (Option<i32>, String) {
    let path: PathBuf = dir.join("config.yaml");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_xds-hook"))
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not fail fast");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status.code(), stderr)
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
