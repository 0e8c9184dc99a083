//! End to end over gRPC: a client sends `fleet` requests over loopback to a real
//! `xds-hook serve` process, one at a time and four at a time, and reports latency
//! percentiles. What EG would see per translation, codec and transport included.
//!
//! `cargo bench --bench grpc` (about half a minute). Under `cargo test --benches` (no `--bench`
//! flag) it runs a few `small` requests instead, as a smoke test. Everything is bounded: the
//! server must come up within 10 s, each call within 60 s, and the server process is killed
//! when the bench ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tonic::transport::Channel;
use xds_hook::contract::PostTranslateModifyRequest;
use xds_hook::contract::service::envoy_gateway_extension_client::EnvoyGatewayExtensionClient;
use xds_hook::workload::{self, Preset};

const MAX_MESSAGE: usize = 256 << 20;

/// Kills the server when the bench ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let (preset, requests) = if full {
        (Preset::Fleet, 40)
    } else {
        (Preset::Small, 5)
    };
    let port = free_port();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_xds-hook"))
            .args(["--log", "warn", "serve", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .spawn()
            .expect("starting xds-hook serve"),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let channel = connect(port).await;
        let request = Arc::new(workload::preset(preset));
        let size = request.encoded_len() as f64 / (1 << 20) as f64;
        println!("grpc {preset} ({size:.2} MiB request) to xds-hook serve on 127.0.0.1:{port}");
        for _ in 0..3 {
            call(&channel, &request).await; // warm-up: connections, allocator
        }
        for concurrency in [1, 4] {
            run(&channel, &request, concurrency, requests).await;
        }
    });
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

async fn connect(port: u16) -> Channel {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let endpoint = Channel::from_shared(format!("http://127.0.0.1:{port}")).unwrap();
            if let Ok(channel) = endpoint.connect().await {
                return channel;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("xds-hook serve did not come up within 10 s")
}

/// One call; returns its latency.
async fn call(channel: &Channel, request: &PostTranslateModifyRequest) -> Duration {
    let mut client = EnvoyGatewayExtensionClient::new(channel.clone())
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let start = Instant::now();
    let response = tokio::time::timeout(
        Duration::from_secs(60),
        client.post_translate_modify(request.clone()),
    )
    .await
    .expect("call timed out")
    .expect("call failed");
    let elapsed = start.elapsed();
    assert!(!response.into_inner().listeners.is_empty() || request.listeners.is_empty());
    elapsed
}

/// `requests` calls, `concurrency` in flight at a time.
async fn run(
    channel: &Channel,
    request: &Arc<PostTranslateModifyRequest>,
    concurrency: usize,
    requests: usize,
) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let channel = channel.clone();
        let request = Arc::clone(request);
        let share = requests / concurrency + usize::from(worker < requests % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for _ in 0..share {
                latencies.push(call(&channel, &request).await);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let wall = start.elapsed();
    latencies.sort();
    let percentile = |p: f64| {
        let rank = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len());
        latencies
            .get(rank - 1)
            .map_or(0.0, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "  concurrency {concurrency}: {} calls, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {:.1} calls/s",
        latencies.len(),
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
        latencies.len() as f64 / wall.as_secs_f64()
    );
}
