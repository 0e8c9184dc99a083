//! Running the real binary in tests: start it with a config, read its JSON log for the bound
//! addresses, talk to its admin port, feed a call's body by hand, signal it, wait for it.
//! Everything on 127.0.0.1 or in a temp dir, every wait bounded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use prost::Message as _;
use tonic::transport::{Channel, Endpoint};
use xds_hook::contract::service::envoy_gateway_extension_client::EnvoyGatewayExtensionClient;
use xds_hook::contract::*;

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
        let mut child = spawn_serve(dir, config, &["--log-format", "json", "--log", "info"]);
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

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, in KiB (`VmRSS`), and the peak so far (`VmHWM`).
    pub fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in /proc status"))
        };
        (field("VmRSS:"), field("VmHWM:"))
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

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
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

/// A `PostTranslateModify` whose body the test feeds by hand.
pub struct ManualCall {
    sender: tokio::sync::mpsc::Sender<Result<http_body::Frame<Bytes>, std::convert::Infallible>>,
    response: tokio::task::JoinHandle<(Option<tonic::Code>, Bytes)>,
    rest: Bytes,
}

impl ManualCall {
    /// Starts the call and sends the gRPC frame header and the first half of `request`.
    pub async fn start(addr: SocketAddr, request: &PostTranslateModifyRequest) -> ManualCall {
        Self::start_with(addr, request, None).await
    }

    /// Like [`ManualCall::start`], with a `grpc-timeout` header when `timeout` is set.
    /// A raw HTTP/2 client, so no client-side deadline handling gets in the way.
    pub async fn start_with(
        addr: SocketAddr,
        request: &PostTranslateModifyRequest,
        timeout: Option<&str>,
    ) -> ManualCall {
        let (mut h2, _connection) = raw_h2(addr).await;
        let mut framed = grpc_frame(request);
        let rest = framed.split_off(framed.len() / 2);
        let (sender, rx) = tokio::sync::mpsc::channel(4);
        let body = http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        let mut http_request = http::Request::builder();
        if let Some(timeout) = timeout {
            http_request = http_request.header("grpc-timeout", timeout);
        }
        let http_request = http_request
            .method("POST")
            .uri(post_translate_modify_uri(addr))
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
    pub async fn answer(self) -> (Option<tonic::Code>, Bytes) {
        tokio::time::timeout(Duration::from_secs(30), self.response)
            .await
            .unwrap()
            .unwrap()
    }

    /// Sends the rest and waits for the answer: (code, message bytes).
    pub async fn finish(self) -> (Option<tonic::Code>, Bytes) {
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
pub fn large_request(mib: usize) -> PostTranslateModifyRequest {
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

pub fn in_flight(daemon: &Daemon) -> u32 {
    let (_, text) = daemon.admin_get("/metrics");
    text.lines()
        .find(|l| l.starts_with("xds_hook_grpc_in_flight{service=\"envoygateway.extension.EnvoyGatewayExtension\",method=\"PostTranslateModify\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// Writes `config` to `dir/config.yaml` and starts `xds-hook [flags] --config … serve`, with
/// stderr piped for the caller to read.
fn spawn_serve(dir: &Path, config: &str, flags: &[&str]) -> Child {
    let path = dir.join("config.yaml");
    std::fs::write(&path, config).unwrap();
    Command::new(env!("CARGO_BIN_EXE_xds-hook"))
        .args(flags)
        .arg("--config")
        .arg(&path)
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

pub fn run_serve(dir: &Path, config: &str) -> (Option<i32>, String) {
    let mut child = spawn_serve(dir, config, &[]);
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

/// The smallest well-behaved HTTP/2 client: the connection preface, then it acknowledges the
/// server's SETTINGS and PINGs (a graceful shutdown waits for a PING ack) and discards the rest.
pub struct RawH2<S> {
    stream: S,
}

/// An HTTP/2 frame of `kind` with `flags` on stream 0.
pub fn h2_frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
    let mut frame = vec![len[1], len[2], len[3], kind, flags, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const ACK: u8 = 0x1;

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> RawH2<S> {
    /// Sends the preface and an empty SETTINGS, and waits (bounded) for the server's first frame.
    pub async fn handshake(mut stream: S) -> RawH2<S> {
        use tokio::io::AsyncWriteExt as _;
        let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        hello.extend(h2_frame(SETTINGS, 0, &[]));
        stream.write_all(&hello).await.unwrap();
        let mut h2 = RawH2 { stream };
        let first = tokio::time::timeout(Duration::from_secs(10), h2.next_frame())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.map(|(kind, _, _)| kind), Some(SETTINGS));
        h2.stream
            .write_all(&h2_frame(SETTINGS, ACK, &[]))
            .await
            .unwrap();
        h2
    }

    /// One frame (type, flags, payload), or `None` at the server's EOF.
    async fn next_frame(&mut self) -> std::io::Result<Option<(u8, u8, Vec<u8>)>> {
        use tokio::io::AsyncReadExt as _;
        let mut header = [0u8; 9];
        match self.stream.read_exact(&mut header).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload).await?;
        Ok(Some((header[3], header[4], payload)))
    }

    /// Answers the server until it closes its side (bounded); returns the frame types seen,
    /// or the I/O error that ended the connection instead.
    pub async fn until_server_closes(&mut self) -> std::io::Result<Vec<u8>> {
        use tokio::io::AsyncWriteExt as _;
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while let Some((kind, flags, payload)) =
            tokio::time::timeout_at(deadline, self.next_frame())
                .await
                .expect("the server did not close the connection")?
        {
            seen.push(kind);
            let ack = match kind {
                SETTINGS if flags & ACK == 0 => h2_frame(SETTINGS, ACK, &[]),
                PING if flags & ACK == 0 => h2_frame(PING, ACK, &payload),
                _ => continue,
            };
            self.stream.write_all(&ack).await?;
        }
        Ok(seen)
    }

    /// Sends a PING as a client reading a response would (WINDOW_UPDATEs and PINGs).
    pub async fn ping(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt as _;
        self.stream.write_all(&h2_frame(PING, 0, &[0; 8])).await?;
        self.stream.flush().await
    }

    /// Closes the client's side, then reads what is left: `Ok(0)` is a clean end.
    pub async fn close(mut self) -> std::io::Result<usize> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        self.stream.shutdown().await?;
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), self.stream.read_to_end(&mut rest))
            .await
            .unwrap()
    }
}

/// A raw HTTP/2 connection to `addr`, driven by a task of its own: no client-side gRPC
/// handling (deadlines, retries, flow-control reads) gets in the way of what a test does.
pub async fn raw_h2<B>(
    addr: SocketAddr,
) -> (
    hyper::client::conn::http2::SendRequest<B>,
    tokio::task::JoinHandle<Result<(), hyper::Error>>,
)
where
    B: http_body::Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (h2, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    (h2, tokio::spawn(connection))
}

/// `request` as one uncompressed gRPC message (flag byte, big-endian length, message).
pub fn grpc_frame(request: &PostTranslateModifyRequest) -> Bytes {
    let message = request.encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&message);
    framed.into()
}

/// Where a raw client posts `PostTranslateModify`.
pub fn post_translate_modify_uri(addr: SocketAddr) -> String {
    format!("http://{addr}/envoygateway.extension.EnvoyGatewayExtension/PostTranslateModify")
}

/// The value of one series (`name{labels}` exactly as exposed) in Prometheus text.
pub fn metric_value(text: &str, series: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}
