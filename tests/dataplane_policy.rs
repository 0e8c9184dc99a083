//! Processing by policy, end to end: Gateways of different tenants served by different
//! processors, chosen by ProcessorPolicies as EG delivers them, through a real Envoy.
//!
//! The hook runs on `testdata/dataplane-policy/request.yaml` with the policies of
//! `policies.yaml` as the call's context, exactly as EG would send them (the JSON of each
//! object, status included). Three stub processors listen on three Unix sockets: A and B,
//! named by the policies of team-a and team-b, and the configuration's own. Through Envoy:
//!
//! - Gateway team-a/gateway-a (targeted by name): its AI route reaches processor A only, once
//!   downstream and once upstream (the filter on its backend cluster);
//! - Gateway team-b/gateway-b (selected by label; its HTTPRoute not annotated, the policy
//!   selects every route): its route reaches processor B only;
//! - Gateway team-c/gateway-c (opted out): its annotated route reaches no processor;
//! - the configuration's processor sees nothing.
//!
//! Envoy comes from `ENVOY_BIN` like the other data-plane tests; without one the test prints a
//! notice and passes, unless `XDS_HOOK_REQUIRE_ENVOY=1`.

use std::path::Path;

use xds_hook::format::{self, Format, Input};
use xds_hook::policy::verdict::Outcome;
use xds_hook::{Config, Hook, policy, render};

use crate::envoy::envoy_bin;
use crate::support::envoy_process::{EnvoyProcess, free_port};
use crate::support::ext_proc::{RESPONSE_HEADER, Recorder, StubProcessor};
use crate::support::fill;
use crate::support::repo;
use crate::support::upstream;

fn template(name: &str) -> String {
    std::fs::read_to_string(repo().join("testdata/dataplane-policy").join(name)).unwrap()
}

/// Runs the hook on the filled request with the filled policies as its context, checks that
/// every policy counted, and writes the bootstrap into `dir`.
fn write_bootstrap(dir: &Path, values: &[(&str, String)], admin_port: u16) -> std::path::PathBuf {
    let config = Config::from_yaml(&fill(&template("config.yaml"), values)).unwrap();
    let request_path = dir.join("request.yaml");
    std::fs::write(&request_path, fill(&template("request.yaml"), values)).unwrap();
    let policies_path = dir.join(policy::fixture::FILE);
    std::fs::write(&policies_path, fill(&template("policies.yaml"), values)).unwrap();
    let mut input = Input::Request(format::read_request(&request_path).unwrap());
    policy::fixture::attach_from(dir, &mut input).unwrap();
    let Input::Request(request) = input else {
        unreachable!("a request stays a request")
    };
    let outcome = Hook::new(config).post_translate_modify(request);
    let explained = outcome.report.explain("ai-gateway-generated");
    let verdicts = &outcome.report.policies.as_ref().unwrap().verdicts;
    assert_eq!(verdicts.len(), 3, "{explained}");
    assert!(
        verdicts
            .iter()
            .all(|v| matches!(v.outcome, Outcome::Applied { .. })),
        "{explained}"
    );
    let bootstrap = render::bootstrap(&outcome.response, admin_port).unwrap();
    let path = dir.join("bootstrap.yaml");
    std::fs::write(&path, render::encode(&bootstrap, Format::Yaml).unwrap()).unwrap();
    path
}

/// Sends `GET http://<host>/v1/models` to `port`; asserts whether the processor answered, and
/// how many streams each stub saw for it (downstream and upstream filter: 2 when processed).
async fn check(port: u16, host: &str, stubs: &[(&str, &Recorder)], expected: [usize; 3]) {
    let before: Vec<usize> = stubs.iter().map(|(_, r)| r.calls()).collect();
    let reply = upstream::send(port, "GET", host, "/v1/models", b"")
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{host}: {reply:?}");
    let processed = expected.iter().any(|n| *n > 0);
    assert_eq!(
        reply.header(RESPONSE_HEADER.0).is_some(),
        processed,
        "{host}: processed should be {processed}: {reply:?}"
    );
    for (((name, recorder), before), want) in stubs.iter().zip(before).zip(expected) {
        let streams = recorder.streams_since(before);
        assert_eq!(
            streams.len(),
            want,
            "{host}: processor {name} saw {streams:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_reaches_only_its_own_processor() {
    let Some(bin) = envoy_bin() else { return };
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let sockets = ["a", "b", "default"].map(|n| dir.path().join(format!("{n}.sock")));
    let [a, b, default] = [
        StubProcessor::start(&sockets[0]),
        StubProcessor::start(&sockets[1]),
        StubProcessor::start(&sockets[2]),
    ];
    let (port_a, port_b, port_c, admin) = (free_port(), free_port(), free_port(), free_port());
    let [socket_a, socket_b, socket_default] = sockets.map(|s| s.display().to_string());
    let values = [
        ("SOCKET_A", socket_a),
        ("SOCKET_B", socket_b),
        ("DEFAULT_SOCKET", socket_default),
        ("GATEWAY_A_PORT", port_a.to_string()),
        ("GATEWAY_B_PORT", port_b.to_string()),
        ("GATEWAY_C_PORT", port_c.to_string()),
        (
            "HTTP_UPSTREAM_PORT",
            upstream::http_echo().await.to_string(),
        ),
    ];
    let bootstrap = write_bootstrap(dir.path(), &values, admin);
    let _envoy = EnvoyProcess::start(&bin, &bootstrap, admin, &dir.path().join("envoy.log")).await;
    let stubs = [
        ("A", &*a.recorder),
        ("B", &*b.recorder),
        ("default", &*default.recorder),
    ];

    check(port_a, "a.example", &stubs, [2, 0, 0]).await;
    check(port_b, "b.example", &stubs, [0, 2, 0]).await;
    check(port_c, "c.example", &stubs, [0, 0, 0]).await;
    assert_eq!(default.recorder.calls(), 0, "the configuration's processor");
    eprintln!("policy data plane checked in {:?}", started.elapsed());
}
