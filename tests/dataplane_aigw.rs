//! The processor contract, end to end: every backend of two AIGatewayRoutes reachable through
//! a real Envoy running the hook's output, with a stub processor that behaves like the AI
//! Gateway's: it holds a backend table keyed by the names the AI Gateway computes
//! (`<route ns>/<AIServiceBackend>/route/<route>/rule/<i>/ref/<j>`) and ends the upstream
//! stream with "unknown backend" (Envoy answers 500) for any other name.
//!
//! The scenario (`testdata/dataplane-aigw/request.yaml`): AIServiceBackends named unlike the
//! EG Backends they point at, in `envoy-gateway` and `team-a`; a rule whose two backends are
//! a primary and a fallback by priority (the fallback takes over when the primary goes down,
//! found by EG's active health check); a rule served by EDS (the name is on the cluster, the
//! endpoints come without our metadata, as EG's EDS stream sends them); a rule split over
//! per-backendRef clusters with a zero-weight ref left out (so `j` is the spec index, not the
//! position); and a hand-annotated HTTPRoute the AI Gateway did not generate, whose derived
//! name the processor does not know.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use xds_hook::format::{self, Format};
use xds_hook::{Config, Hook, render};

use crate::envoy::envoy_bin;
use crate::support::envoy_process::{EnvoyProcess, free_port};
use crate::support::ext_proc::{BACKEND_HEADER, StubProcessor};
use crate::support::upstream::{self, Reply};
use crate::support::{fill, repo};

const OPENAI: &str = "envoy-gateway/openai-primary/route/chat/rule/0/ref/0";
const AZURE: &str = "envoy-gateway/azure-fallback/route/chat/rule/0/ref/1";
const ANTHROPIC: &str = "envoy-gateway/anthropic/route/chat/rule/1/ref/0";
const GPT: &str = "team-a/gpt/route/llm/rule/0/ref/0";
const LLAMA: &str = "team-a/llama/route/llm/rule/0/ref/2";
/// The processor's table: what the AI Gateway's controller builds from the two routes.
const TABLE: &[&str] = &[OPENAI, AZURE, ANTHROPIC, GPT, LLAMA];
/// How long a failover may take (health checks every 200 ms).
const FAILOVER_LIMIT: Duration = Duration::from_secs(10);

fn template(name: &str) -> String {
    std::fs::read_to_string(repo().join("testdata/dataplane-aigw").join(name)).unwrap()
}

/// Runs the hook, renders the bootstrap, and gives the EDS cluster the endpoints EG's EDS
/// stream would: the hosts alone, without any metadata of ours.
fn write_bootstrap(
    dir: &Path,
    values: &[(&str, String)],
    eds_port: u16,
    admin: u16,
) -> std::path::PathBuf {
    let config = Config::from_yaml(&fill(&template("config.yaml"), values)).unwrap();
    let request_path = dir.join("request.yaml");
    std::fs::write(&request_path, fill(&template("request.yaml"), values)).unwrap();
    let request = format::read_request(&request_path).unwrap();
    let outcome = Hook::new(config).post_translate_modify(request);
    let mut bootstrap = render::bootstrap(&outcome.response, admin).unwrap();
    let clusters = bootstrap["staticResources"]["clusters"]
        .as_array_mut()
        .unwrap();
    let eds = clusters
        .iter_mut()
        .find(|c| c["name"] == "httproute/envoy-gateway/chat/rule/1")
        .unwrap();
    eds["loadAssignment"]["endpoints"] = json!([{"lbEndpoints": [{"endpoint": {"address":
        {"socketAddress": {"address": "127.0.0.1", "portValue": eds_port}}}}]}]);
    let path = dir.join("bootstrap.yaml");
    std::fs::write(&path, render::encode(&bootstrap, Format::Yaml).unwrap()).unwrap();
    path
}

/// The backend the processor resolved for a request, and the upstream port that served it.
fn served(reply: &Reply) -> (String, u16) {
    assert_eq!(reply.status, 200, "{reply:?}");
    let echo = reply.json();
    let backend = echo["headers"][BACKEND_HEADER]
        .as_str()
        .unwrap_or_else(|| panic!("no {BACKEND_HEADER} reached the upstream: {echo}"))
        .to_owned();
    let port = u16::try_from(echo["port"].as_u64().unwrap()).unwrap();
    (backend, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_backend_is_reachable_by_the_name_the_ai_gateway_computes() {
    let Some(bin) = envoy_bin() else { return };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("ext_proc.sock");
    let stub = StubProcessor::with_backends(&socket, TABLE);
    let (openai, stop_openai) = upstream::stoppable_http_echo().await;
    let (azure, anthropic, gpt, llama) = (
        upstream::http_echo().await,
        upstream::http_echo().await,
        upstream::http_echo().await,
        upstream::http_echo().await,
    );
    let (gateway_a, gateway_b, admin) = (free_port(), free_port(), free_port());
    let values = [
        ("EXT_PROC_SOCKET", socket.display().to_string()),
        ("GATEWAY_A_PORT", gateway_a.to_string()),
        ("GATEWAY_B_PORT", gateway_b.to_string()),
        ("OPENAI_PORT", openai.to_string()),
        ("AZURE_PORT", azure.to_string()),
        ("GPT_PORT", gpt.to_string()),
        ("LLAMA_PORT", llama.to_string()),
    ];
    let bootstrap = write_bootstrap(dir.path(), &values, anthropic, admin);
    let _envoy = EnvoyProcess::start(&bin, &bootstrap, admin, &dir.path().join("envoy.log")).await;

    // Priority 0 takes all the traffic while it is healthy: the fallback's group was moved to
    // priority 1 by the hook (EG wrote both at 0).
    for _ in 0..6 {
        let reply = upstream::send(gateway_a, "GET", "a.example", "/v1/chat", b"")
            .await
            .unwrap();
        assert_eq!(served(&reply), (OPENAI.to_owned(), openai));
    }

    // EDS: the hosts carry no name; the processor finds it on the cluster.
    let reply = upstream::send(gateway_a, "GET", "a.example", "/v1/messages", b"")
        .await
        .unwrap();
    assert_eq!(served(&reply), (ANTHROPIC.to_owned(), anthropic));

    // Per-backendRef clusters, 50/50: both are reached, each by its own ref index (2 for
    // llama: the zero-weight ref before it counts).
    let mut seen = BTreeSet::new();
    for _ in 0..60 {
        let reply = upstream::send(
            gateway_b,
            "GET",
            "ai.team-a.example",
            "/v1/completions",
            b"",
        )
        .await
        .unwrap();
        let (backend, port) = served(&reply);
        let expected_port = if backend == GPT { gpt } else { llama };
        assert!(backend == GPT || backend == LLAMA, "{backend}");
        assert_eq!(
            port, expected_port,
            "{backend} served by the wrong upstream"
        );
        seen.insert(backend);
        if seen.len() == 2 {
            break;
        }
    }
    assert_eq!(seen.len(), 2, "only {seen:?} reached in 60 requests");

    // An HTTPRoute the AI Gateway did not generate: its derived name is not in the table, and
    // the processor refuses it as the AI Gateway's does.
    let before = stub.recorder.calls();
    let reply = upstream::send(gateway_b, "GET", "ai.team-a.example", "/legacy", b"")
        .await
        .unwrap();
    assert_eq!(reply.status, 500, "{reply:?}");
    let names: Vec<String> = stub
        .recorder
        .streams_since(before)
        .iter()
        .filter_map(|s| s.backend_name().map(str::to_owned))
        .collect();
    assert_eq!(names, ["team-a/legacy-backend/route/legacy/rule/0/ref/0"]);

    // The primary goes down: once the health check sees it, the fallback serves, by its name.
    drop(stop_openai);
    let deadline = Instant::now() + FAILOVER_LIMIT;
    loop {
        let reply = upstream::send(gateway_a, "GET", "a.example", "/v1/chat", b"").await;
        if let Ok(reply) = reply
            && reply.status == 200
        {
            let (backend, port) = served(&reply);
            if backend == AZURE {
                assert_eq!(port, azure);
                break;
            }
            assert_eq!((backend.as_str(), port), (OPENAI, openai));
        }
        assert!(Instant::now() < deadline, "no failover to the fallback");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    eprintln!(
        "processor contract checked in {:?} ({} processor streams)",
        started.elapsed(),
        stub.recorder.calls()
    );
}

/// The fill helper refuses to leave a placeholder outside a comment.
#[test]
fn templates_have_only_known_placeholders() {
    let text = template("request.yaml");
    let names: BTreeSet<&str> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or_default())
        .flat_map(|l| l.split("${").skip(1))
        .filter_map(|rest| rest.split('}').next())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "AZURE_PORT",
            "GATEWAY_A_PORT",
            "GATEWAY_B_PORT",
            "GPT_PORT",
            "LLAMA_PORT",
            "OPENAI_PORT"
        ])
    );
}
