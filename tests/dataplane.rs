//! The data plane, end to end: the hook's output loaded in a real Envoy, with real traffic.
//!
//! Golden files prove the output is what we expect and `envoy --mode validate` proves Envoy
//! accepts it; only traffic proves the inserted processor runs where it should. One test
//! process runs an HTTP echo upstream, a TCP echo upstream, a stub ext_proc server on a Unix
//! socket (reached through the processor cluster the hook adds, its path set through the
//! hook's `extProc.socketPath`), and Envoy with a bootstrap rendered from the hook's response
//! to `testdata/dataplane/request.yaml`. Through Envoy:
//!
//! - AI routes of Gateway A (namespace `envoy-gateway`, legacy names) and Gateway B (namespace
//!   `team-a`, V2 names) go through the processor: the stub's request header reaches the
//!   upstream, its response header reaches the client, and it saw one downstream stream with
//!   the phases the hook's processing mode asks for, then one upstream stream (the filter on
//!   the AI backend cluster) with request headers only and the backend, host and route names
//!   as attributes;
//! - the plain route beside the AI route, on the same HCM, does not: no headers, no stream;
//! - the TCP proxy chain sharing Gateway A's listener still forwards bytes.
//!
//! Envoy comes from `ENVOY_BIN` like the validation tests (`tests/envoy.rs`): without one the
//! test prints a notice and passes, unless `XDS_HOOK_REQUIRE_ENVOY=1`.

use std::path::Path;

use xds_hook::format::{self, Format};
use xds_hook::{Config, Hook, render};

use crate::envoy::envoy_bin;
use crate::support::envoy_process::{EnvoyProcess, free_port};
use crate::support::ext_proc::{
    Phase, REQUEST_HEADER, RESPONSE_HEADER, Recorder, StreamRecord, StubProcessor,
};
use crate::support::upstream::{self, Reply};
use crate::support::{fill, repo};

/// Processor streams one AI request opens: the downstream filter's, and the upstream filter's
/// on the AI backend cluster.
const STREAMS_PER_AI_REQUEST: usize = 2;
/// Request attributes the upstream filter sends, by the metadata they read.
const BACKEND_NAME_ATTRIBUTE: &str = "xds.upstream_host_metadata.filter_metadata['aigateway.envoy.io']['per_route_rule_backend_name']";
const UPSTREAM_HOST_ATTRIBUTE: &str =
    "xds.upstream_host_metadata.filter_metadata['aigateway.envoy.io']['upstream_host']";
const ROUTE_NAME_ATTRIBUTE: &str =
    "xds.route_metadata.filter_metadata['aigateway.envoy.io']['aigw_route_name']";

/// What the upstream stream of an AI request must carry.
struct Upstream<'a> {
    backend_name: &'a str,
    upstream_host: Option<&'a str>,
    route_name: &'a str,
}
/// Phases of a request with a body: headers and buffered bodies both ways, no trailers.
const WITH_BODY: &[Phase] = &[
    Phase::RequestHeaders,
    Phase::RequestBody,
    Phase::ResponseHeaders,
    Phase::ResponseBody,
];
/// Phases of a request without a body (Envoy sends no empty request body).
const WITHOUT_BODY: &[Phase] = &[
    Phase::RequestHeaders,
    Phase::ResponseHeaders,
    Phase::ResponseBody,
];
/// A chat request body.
const CHAT_BODY: &[u8] = br#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
/// Bytes for the TCP chain; not HTTP, so http_inspector sends them to the default chain.
const TCP_PAYLOAD: &[u8] = b"\x00\x01\x02 raw bytes for the tcp_proxy chain \xff";

fn template(name: &str) -> String {
    std::fs::read_to_string(repo().join("testdata/dataplane").join(name)).unwrap()
}

/// Runs the hook on the filled request template and writes the bootstrap into `dir`.
fn write_bootstrap(dir: &Path, values: &[(&str, String)], admin_port: u16) -> std::path::PathBuf {
    let config = Config::from_yaml(&fill(&template("config.yaml"), values)).unwrap();
    let request_path = dir.join("request.yaml");
    std::fs::write(&request_path, fill(&template("request.yaml"), values)).unwrap();
    let request = format::read_request(&request_path).unwrap();
    let outcome = Hook::new(config).post_translate_modify(request);
    let bootstrap = render::bootstrap(&outcome.response, admin_port).unwrap();
    let path = dir.join("bootstrap.yaml");
    std::fs::write(&path, render::encode(&bootstrap, Format::Yaml).unwrap()).unwrap();
    path
}

/// Asserts a request went through the processor: its headers on both sides, the upstream saw
/// the request (`path`, `host`, whole body), exactly one new downstream stream for it with
/// `phases`, and one upstream stream with request headers only and `expected` attributes.
fn assert_processed(
    reply: &Reply,
    recorder: &Recorder,
    before: usize,
    (host, path, body): (&str, &str, &[u8]),
    phases: &[Phase],
    expected: Upstream<'_>,
) -> Vec<StreamRecord> {
    let what = format!("http://{host}{path}");
    assert_eq!(reply.status, 200, "{what}: {reply:?}");
    let upstream = reply.json();
    assert_eq!(upstream["path"], path, "{what}: upstream saw {upstream}");
    assert_eq!(upstream["host"], host, "{what}: upstream saw {upstream}");
    assert_eq!(
        upstream["bodyBytes"],
        body.len(),
        "{what}: upstream saw {upstream}"
    );
    assert_eq!(
        reply.header(RESPONSE_HEADER.0),
        Some(RESPONSE_HEADER.1),
        "{what}: the processor's response header is missing: {reply:?}"
    );
    assert_eq!(
        upstream["headers"][REQUEST_HEADER.0], REQUEST_HEADER.1,
        "{what}: the processor's request header did not reach the upstream: {upstream}"
    );
    let streams = recorder.streams_since(before);
    assert_eq!(
        streams.len(),
        STREAMS_PER_AI_REQUEST,
        "{what}: processor streams opened: {streams:#?}"
    );
    let downstream: Vec<&StreamRecord> = streams
        .iter()
        .filter(|s| s.saw(Phase::ResponseHeaders))
        .collect();
    assert_eq!(
        downstream.len(),
        1,
        "{what}: downstream streams: {streams:#?}"
    );
    let stream = downstream[0];
    assert_eq!(
        stream.request_header(":path"),
        Some(path),
        "{what}: {stream:#?}"
    );
    assert_eq!(
        stream.request_header(":authority"),
        Some(host),
        "{what}: {stream:#?}"
    );
    assert_eq!(stream.phases, phases, "{what}: phases");

    let upstream: Vec<&StreamRecord> = streams
        .iter()
        .filter(|s| !s.saw(Phase::ResponseHeaders))
        .collect();
    assert_eq!(upstream.len(), 1, "{what}: upstream streams: {streams:#?}");
    let stream = upstream[0];
    assert_eq!(
        stream.phases,
        [Phase::RequestHeaders],
        "{what}: upstream phases"
    );
    assert_eq!(
        stream.string_attribute(BACKEND_NAME_ATTRIBUTE),
        Some(expected.backend_name),
        "{what}: upstream attributes {:#?}",
        stream.attributes
    );
    assert_eq!(
        stream.string_attribute(UPSTREAM_HOST_ATTRIBUTE),
        expected.upstream_host,
        "{what}: upstream attributes {:#?}",
        stream.attributes
    );
    assert_eq!(
        stream.string_attribute(ROUTE_NAME_ATTRIBUTE),
        Some(expected.route_name),
        "{what}: upstream attributes {:#?}",
        stream.attributes
    );
    streams
}

/// Asserts a request did not go through the processor.
fn assert_not_processed(
    reply: &Reply,
    recorder: &Recorder,
    before: usize,
    (host, path): (&str, &str),
) {
    let what = format!("http://{host}{path}");
    assert_eq!(reply.status, 200, "{what}: {reply:?}");
    let upstream = reply.json();
    assert_eq!(upstream["path"], path, "{what}: upstream saw {upstream}");
    assert_eq!(
        reply.header(RESPONSE_HEADER.0),
        None,
        "{what}: processed, but its route is not an AI route"
    );
    assert!(
        upstream["headers"].get(REQUEST_HEADER.0).is_none(),
        "{what}: the processor's request header reached the upstream: {upstream}"
    );
    let streams = recorder.streams_since(before);
    assert!(
        streams.is_empty(),
        "{what}: processor streams opened: {streams:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_runs_on_ai_routes_only() {
    let Some(bin) = envoy_bin() else { return };
    let started = std::time::Instant::now();
    // Declared first, so dropped last: the guard prints Envoy's log from here.
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("ext_proc.sock");
    let stub = StubProcessor::start(&socket);
    let recorder = &stub.recorder;
    let (gateway_a, gateway_b, admin) = (free_port(), free_port(), free_port());
    let values = [
        ("EXT_PROC_SOCKET", socket.display().to_string()),
        ("GATEWAY_A_PORT", gateway_a.to_string()),
        ("GATEWAY_B_PORT", gateway_b.to_string()),
        (
            "HTTP_UPSTREAM_PORT",
            upstream::http_echo().await.to_string(),
        ),
        ("TCP_UPSTREAM_PORT", upstream::tcp_echo().await.to_string()),
    ];
    let bootstrap = write_bootstrap(dir.path(), &values, admin);
    let _envoy = EnvoyProcess::start(&bin, &bootstrap, admin, &dir.path().join("envoy.log")).await;

    // Gateway A (envoy-gateway, legacy names), AI route: a chat request with a body.
    let (host, path) = ("a.example", "/v1/chat/completions");
    let before = recorder.calls();
    let reply = upstream::send(gateway_a, "POST", host, path, CHAT_BODY)
        .await
        .unwrap();
    let expected = Upstream {
        backend_name: "envoy-gateway/openai/route/chat/rule/0/ref/0",
        upstream_host: Some("llm.a.example"),
        route_name: "envoy-gateway/chat",
    };
    assert_processed(
        &reply,
        recorder,
        before,
        (host, path, CHAT_BODY),
        WITH_BODY,
        expected,
    );

    // Gateway A, plain route on the same listener and HCM.
    let (host, path) = ("a.example", "/index.html");
    let before = recorder.calls();
    let reply = upstream::send(gateway_a, "GET", host, path, b"")
        .await
        .unwrap();
    assert_not_processed(&reply, recorder, before, (host, path));

    // Gateway A, plain route to the AI backend cluster: the cluster's upstream filter is there,
    // but disabled unless the route enables it.
    let (host, path) = ("a.example", "/shared/page");
    let before = recorder.calls();
    let reply = upstream::send(gateway_a, "GET", host, path, b"")
        .await
        .unwrap();
    assert_not_processed(&reply, recorder, before, (host, path));

    // Gateway B (team-a, V2 names), AI route.
    let (host, path) = ("ai.team-a.example", "/v1/models");
    let before = recorder.calls();
    let reply = upstream::send(gateway_b, "GET", host, path, b"")
        .await
        .unwrap();
    let expected = Upstream {
        backend_name: "team-a/models/route/models/rule/0/ref/0",
        upstream_host: None,
        route_name: "team-a/models",
    };
    assert_processed(
        &reply,
        recorder,
        before,
        (host, path, b""),
        WITHOUT_BODY,
        expected,
    );

    // Gateway A's TCP proxy chain, on the listener whose HTTP chain was patched.
    let before = recorder.calls();
    let echoed = upstream::tcp_round_trip(gateway_a, TCP_PAYLOAD)
        .await
        .unwrap();
    assert_eq!(echoed, TCP_PAYLOAD, "the TCP chain did not echo the bytes");
    assert_eq!(
        recorder.calls(),
        before,
        "TCP traffic reached the processor"
    );

    eprintln!(
        "data plane checked in {:?} ({} processor stream(s))",
        started.elapsed(),
        recorder.calls()
    );
}
