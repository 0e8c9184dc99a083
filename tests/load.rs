//! Load and faults against the real binary: concurrent generated calls for a bounded time,
//! mixed with clients that hang up mid-call, send oversized messages, or give a deadline the
//! call cannot meet. The server must stay up and healthy, every completed answer must be the
//! library's answer byte for byte, refused calls must be refused with the documented codes
//! (`RESOURCE_EXHAUSTED` only for an oversized message, `UNAVAILABLE` for overload),
//! and resident memory must settle back instead of growing with the number of calls.
//!
//! By default a short run (a few seconds, a mid-sized request) runs in `cargo test`.
//! `XDS_HOOK_LOAD=1` runs the long one: `fleet`-sized requests for `XDS_HOOK_LOAD_SECS`
//! (default 60) seconds; it prints its figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use prost::Message as _;
use tonic::Code;
use tonic::transport::Channel;
use xds_hook::contract::PostTranslateModifyRequest;
use xds_hook::contract::service::envoy_gateway_extension_client::EnvoyGatewayExtensionClient;
use xds_hook::workload::{Preset, Spec, generate};
use xds_hook::{Config, Hook};

use crate::daemon::harness::{Daemon, ManualCall, channel, client};

/// How long, how big, how many.
struct Plan {
    duration: Duration,
    spec: Spec,
    clients: usize,
    max_message_mib: usize,
}

fn plan() -> Plan {
    if std::env::var_os("XDS_HOOK_LOAD").is_some() {
        let secs = std::env::var("XDS_HOOK_LOAD_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(60);
        Plan {
            duration: Duration::from_secs(secs),
            spec: Preset::Fleet.spec(),
            clients: 6,
            max_message_mib: 64,
        }
    } else {
        Plan {
            duration: Duration::from_secs(3),
            spec: Spec {
                listeners: 200,
                clusters: 1_000,
                ..Preset::Small.spec()
            },
            clients: 3,
            max_message_mib: 8,
        }
    }
}

/// Counts of what the clients saw.
#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    busy: AtomicUsize,
    hung_up: AtomicUsize,
    oversized: AtomicUsize,
    deadline: AtomicUsize,
}

fn config(plan: &Plan) -> String {
    format!(
        "server:\n  listen: 127.0.0.1:0\n  adminListen: 127.0.0.1:0\n  \
         maxMessageBytes: {}\n  maxConcurrentCalls: {}\n",
        plan.max_message_mib << 20,
        plan.clients + 3
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_survives_load_and_faults_with_correct_answers() {
    let plan = plan();
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(dir.path(), &config(&plan));
    let addr = daemon.tcp();

    let request = generate(&plan.spec);
    let expected = Hook::new(Config::default())
        .post_translate_modify(request.clone())
        .response
        .encode_to_vec();
    let request_bytes = request.encoded_len();
    let oversized = oversized_request(plan.max_message_mib);

    // Warm up: one call, so allocator pools exist before the baseline is taken.
    let mut warm = client(channel(addr).await);
    warm.post_translate_modify(request.clone()).await.unwrap();
    let (baseline, _) = daemon.rss_kib();

    let tally = Arc::new(Tally::default());
    let deadline = Instant::now() + plan.duration;
    let mut tasks = Vec::new();
    for _ in 0..plan.clients {
        let (request, expected, tally) = (request.clone(), expected.clone(), Arc::clone(&tally));
        tasks.push(tokio::spawn(async move {
            let mut grpc = client(channel(addr).await);
            while Instant::now() < deadline {
                match grpc.post_translate_modify(request.clone()).await {
                    Ok(answer) => {
                        assert!(
                            answer.into_inner().encode_to_vec() == expected,
                            "a completed answer differs from the library's"
                        );
                        tally.ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(status) if is_busy(&status) => {
                        tally.busy.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(status) => panic!("unexpected status under load: {status:?}"),
                }
            }
        }));
    }
    let faults = {
        let (request, tally) = (request.clone(), Arc::clone(&tally));
        tokio::spawn(async move {
            let mut grpc = client(channel(addr).await);
            let mut round = 0usize;
            while Instant::now() < deadline {
                match round % 3 {
                    0 => hang_up_mid_call(addr, &request, &tally).await,
                    1 => send_oversized(&mut grpc, &oversized, &tally).await,
                    _ => miss_deadline(addr, &request, &tally).await,
                }
                round += 1;
            }
        })
    };
    // Halfway through, note the memory: by then every kind of call has run many times, so a
    // leak would show as growth between here and the end.
    tokio::time::sleep(plan.duration / 2).await;
    let (halfway, _) = daemon.rss_kib();
    for task in tasks {
        task.await.unwrap();
    }
    faults.await.unwrap();

    // Still up, healthy and correct after all of it.
    assert_eq!(daemon.admin_get("/healthz").0, 200, "{}", daemon.log());
    let answer = warm.post_translate_modify(request.clone()).await.unwrap();
    assert!(answer.into_inner().encode_to_vec() == expected);

    let (after, peak) = daemon.rss_kib();
    let ok = tally.ok.load(Ordering::Relaxed);
    let report = format!(
        "{:?} of load: {ok} calls answered ({} busy), request {} KiB; faults survived: {} \
         hang-ups, {} oversized, {} deadlines; RSS {baseline} KiB before, {halfway} KiB halfway, \
         {after} KiB after, peak {peak} KiB",
        plan.duration,
        tally.busy.load(Ordering::Relaxed),
        request_bytes >> 10,
        tally.hung_up.load(Ordering::Relaxed),
        tally.oversized.load(Ordering::Relaxed),
        tally.deadline.load(Ordering::Relaxed),
    );
    eprintln!("{report}");
    assert!(ok > plan.clients, "too few calls completed: {report}");
    assert!(
        tally.hung_up.load(Ordering::Relaxed) > 0 && tally.oversized.load(Ordering::Relaxed) > 0,
        "faults did not run: {report}"
    );
    // Memory settles: what is resident after the run is bounded by the work that can be in
    // flight at once (every client's request and answer, a few copies each), not by the
    // number of calls made.
    let in_flight_kib = u64::try_from(request_bytes >> 10).unwrap() * 8 * (plan.clients as u64 + 2);
    assert!(
        after <= baseline + in_flight_kib + 64 * 1024,
        "RSS grew beyond in-flight work: {report}"
    );
    // And it does not keep growing with the number of calls: the second half of the run adds
    // at most a quarter (plus allocator slack) to what the first half needed.
    assert!(
        after <= halfway + halfway / 4 + 32 * 1024,
        "RSS kept growing during the run: {report}"
    );
}

/// Starts a call, sends half the body, and drops the connection.
async fn hang_up_mid_call(
    addr: std::net::SocketAddr,
    request: &PostTranslateModifyRequest,
    tally: &Tally,
) {
    let call = ManualCall::start(addr, request).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    drop(call);
    tally.hung_up.fetch_add(1, Ordering::Relaxed);
}

/// Whether a status is the server's overload refusal (every slot taken and the queue full or
/// waited out, e.g. by calls whose clients hung up and whose slots the server has not yet seen
/// freed): `UNAVAILABLE`, naming the setting.
fn is_busy(status: &tonic::Status) -> bool {
    status.code() == Code::Unavailable
        && (status.message().contains("server.maxQueuedCalls")
            || status.message().contains("server.queueTimeout"))
}

/// A message over the limit must be refused with RESOURCE_EXHAUSTED naming the limit (or, when
/// every slot is taken, refused for that before it is read).
async fn send_oversized(
    grpc: &mut EnvoyGatewayExtensionClient<Channel>,
    oversized: &PostTranslateModifyRequest,
    tally: &Tally,
) {
    let status = grpc
        .post_translate_modify(oversized.clone())
        .await
        .expect_err("an oversized request must be refused");
    if is_busy(&status) {
        tally.busy.fetch_add(1, Ordering::Relaxed);
        return;
    }
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("maxMessageBytes"), "{status:?}");
    tally.oversized.fetch_add(1, Ordering::Relaxed);
}

/// A call whose deadline passes while its body is still being sent: the server ends it.
async fn miss_deadline(
    addr: std::net::SocketAddr,
    request: &PostTranslateModifyRequest,
    tally: &Tally,
) {
    let call = ManualCall::start_with(addr, request, Some("20m")).await;
    let (code, _) = call.answer().await;
    match code {
        Some(Code::Cancelled | Code::DeadlineExceeded) => &tally.deadline,
        // Refused at admission: every slot was taken and the queue full (the message is
        // checked in `is_busy`'s other callers; here only the code reaches the raw client's
        // trailers).
        Some(Code::Unavailable) => &tally.busy,
        other => panic!("deadline: {other:?}"),
    }
    .fetch_add(1, Ordering::Relaxed);
}

/// A request just over `mib` MiB.
fn oversized_request(mib: usize) -> PostTranslateModifyRequest {
    let mut cluster = Vec::new();
    xds_hook::wire::put_len(&mut cluster, 1, b"big");
    xds_hook::wire::put_len(&mut cluster, 9001, &vec![b'x'; (mib << 20) + 1024]);
    PostTranslateModifyRequest {
        clusters: vec![cluster.into()],
        ..Default::default()
    }
}
