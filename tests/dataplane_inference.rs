//! InferencePool backends end to end: EG's three hooks in EG's order, a real Envoy on their
//! output, and a stub endpoint picker over TLS choosing between two model servers.
//!
//! The scenario (`testdata/dataplane-inference/`): one HCM with a route to a FailClose pool
//! (bodies full duplex), a route to a FailOpen pool (bodies buffered, by the pool's
//! annotation) and a plain route. Through Envoy:
//!
//! - every request to a pool lands on exactly the endpoint the picker named (its
//!   `x-gateway-destination-endpoint` read by the `ORIGINAL_DST` cluster), bodies intact, with
//!   the body mode the pool asks for, one picker stream per request;
//! - the plain route never reaches the picker;
//! - with the picker down, the FailClose pool answers 500 (ext_proc's gRPC failure), and the
//!   FailOpen pool 503: the request goes on without the header, so the `ORIGINAL_DST` cluster
//!   has no host (the caveat the README documents); the plain route still answers.
//!
//! The pickers' clusters name `<service>.<namespace>.svc`, which does not resolve here: the
//! rendered bootstrap points them at the stub, as a cluster's DNS would.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::processing_mode::BodySendMode;
use serde_json::json;
use xds_hook::format::{self, Format};
use xds_hook::{Config, Hook, render};

use crate::envoy::envoy_bin;
use crate::support::envoy_process::{EnvoyProcess, free_port};
use crate::support::epp::{DESTINATION_HEADER, Pick, Picks, StubEpp};
use crate::support::upstream::{self, Reply};
use crate::support::{eg_flow, fill, repo};

/// A completion request body.
const BODY: &[u8] = br#"{"model":"llama","prompt":"Say hi","max_tokens":8}"#;
/// The picker clusters, as the hook names them.
const PICKER_CLUSTERS: [&str; 2] = [
    "endpointpicker/default/vllm",
    "endpointpicker/default/vllm-open",
];

fn data(name: &str) -> PathBuf {
    repo().join("testdata/dataplane-inference").join(name)
}

/// Runs the three hooks in EG's order, renders the bootstrap, and points the picker clusters at
/// the stub.
fn write_bootstrap(dir: &Path, values: &[(&str, String)], epp_port: u16, admin: u16) -> PathBuf {
    let config = std::fs::read_to_string(data("config.yaml")).unwrap();
    let hook = Hook::new(Config::from_yaml(&config).unwrap());
    let request_path = dir.join("request.yaml");
    let template = std::fs::read_to_string(data("request.yaml")).unwrap();
    std::fs::write(&request_path, fill(&template, values)).unwrap();
    let request = format::read_request(&request_path).unwrap();
    let translation = eg_flow::run(&hook, request, &data("extensions.yaml"));
    let mut bootstrap = render::bootstrap(&translation.outcome.response, admin).unwrap();
    let clusters = bootstrap["staticResources"]["clusters"]
        .as_array_mut()
        .unwrap();
    for name in PICKER_CLUSTERS {
        let cluster = clusters
            .iter_mut()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no cluster {name}"));
        assert_eq!(cluster["type"], "STRICT_DNS");
        cluster["loadAssignment"]["endpoints"] = json!([{"lbEndpoints": [{"endpoint": {"address":
            {"socketAddress": {"address": "127.0.0.1", "portValue": epp_port}}}}]}]);
    }
    let path = dir.join("bootstrap.yaml");
    std::fs::write(&path, render::encode(&bootstrap, Format::Yaml).unwrap()).unwrap();
    path
}

/// Sends one request to a pool route and checks it landed where the picker said; returns the
/// port that served it.
async fn picked(
    gateway: u16,
    picks: &Picks,
    (method, path, body): (&str, &str, &'static [u8]),
    mode: BodySendMode,
) -> u16 {
    let before = picks.count();
    let reply = upstream::send(gateway, method, "models.example", path, body)
        .await
        .unwrap();
    let what = format!("{method} {path}");
    assert_eq!(reply.status, 200, "{what}: {reply:?}");
    let streams: Vec<Pick> = picks.since(before);
    assert_eq!(streams.len(), 1, "{what}: one picker stream: {streams:#?}");
    let pick = &streams[0];
    assert_eq!(pick.path, path, "{what}: {pick:?}");
    assert_eq!(pick.body_mode, Some(mode), "{what}: body mode");
    assert_eq!(
        pick.request_body_bytes,
        body.len(),
        "{what}: picker saw the body"
    );
    assert!(pick.saw_response, "{what}: picker saw no response phase");
    let echo = reply.json();
    let served = u16::try_from(echo["port"].as_u64().unwrap()).unwrap();
    let chosen = pick.endpoint.as_deref().unwrap();
    assert_eq!(
        chosen,
        format!("127.0.0.1:{served}"),
        "{what}: served elsewhere: {echo}"
    );
    assert_eq!(
        echo["headers"][DESTINATION_HEADER], chosen,
        "{what}: {echo}"
    );
    assert_eq!(echo["path"], path, "{what}: {echo}");
    assert_eq!(echo["host"], "models.example", "{what}: Host kept: {echo}");
    assert_eq!(echo["bodyBytes"], body.len(), "{what}: body: {echo}");
    served
}

/// Sends one request and returns its reply, counting picker streams it opened.
async fn send(gateway: u16, method: &str, path: &str, picks: &Picks) -> (Reply, usize) {
    let before = picks.count();
    let reply = upstream::send(gateway, method, "models.example", path, BODY)
        .await
        .unwrap();
    (reply, picks.count() - before)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dataplane_requests_land_on_the_endpoint_the_picker_chose() {
    let Some(bin) = envoy_bin() else { return };
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (a, b, web) = (
        upstream::http_echo().await,
        upstream::http_echo().await,
        upstream::http_echo().await,
    );
    let endpoints = vec![format!("127.0.0.1:{a}"), format!("127.0.0.1:{b}")];
    let epp = StubEpp::start(&["vllm-epp.default.svc", "open-epp.default.svc"], endpoints).await;
    let picks = std::sync::Arc::clone(&epp.picks);
    let (gateway, admin) = (free_port(), free_port());
    let values = [
        ("GATEWAY_PORT", gateway.to_string()),
        ("WEB_PORT", web.to_string()),
    ];
    let bootstrap = write_bootstrap(dir.path(), &values, epp.addr.port(), admin);
    let _envoy = EnvoyProcess::start(&bin, &bootstrap, admin, &dir.path().join("envoy.log")).await;

    // The FailClose pool, bodies full duplex: every request where the picker said, both
    // endpoints in turn.
    let mut served = BTreeSet::new();
    for request in [
        ("POST", "/v1/completions", BODY),
        ("GET", "/v1/models", b"".as_slice()),
        ("POST", "/v1/completions", BODY),
        ("GET", "/v1/models", b"".as_slice()),
    ] {
        served.insert(picked(gateway, &picks, request, BodySendMode::FullDuplexStreamed).await);
    }
    assert_eq!(
        served,
        BTreeSet::from([a, b]),
        "both endpoints chosen and served"
    );

    // The FailOpen pool, bodies buffered by its annotation.
    let open = ("POST", "/open/completions", BODY);
    picked(gateway, &picks, open, BodySendMode::Buffered).await;

    // The plain route never reaches the picker.
    let (reply, streams) = send(gateway, "GET", "/index.html", &picks).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["port"], web, "{reply:?}");
    assert_eq!(streams, 0, "the plain route opened a picker stream");

    // The picker goes down.
    epp.stop().await;
    let (reply, _) = send(gateway, "POST", "/v1/completions", &picks).await;
    assert_eq!(
        reply.status, 500,
        "FailClose pool with the picker down: {reply:?}"
    );
    let (reply, _) = send(gateway, "POST", "/open/completions", &picks).await;
    assert_eq!(
        reply.status, 503,
        "FailOpen pool with the picker down: no header, no ORIGINAL_DST host: {reply:?}"
    );
    let (reply, _) = send(gateway, "GET", "/index.html", &picks).await;
    assert_eq!(
        reply.status, 200,
        "plain route with the picker down: {reply:?}"
    );

    eprintln!(
        "inference data plane checked in {:?} ({} picker streams)",
        started.elapsed(),
        picks.count()
    );
}
