//! The `xds-hook` binary: apply/explain on captured requests, and its exit codes.

use std::process::Command;

use prost::Message;
use xds_hook::contract::PostTranslateModifyResponse;
use xds_hook::format::{self, Format};

use crate::{corpus, support};

fn xds_hook() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xds-hook"))
}

/// Runs `apply` with warnings-only logging.
pub fn apply_quietly(
    input: &std::path::Path,
    output: &std::path::Path,
) -> std::process::ExitStatus {
    xds_hook()
        .args(["apply", "--log", "warn", "--input"])
        .arg(input)
        .arg("--output")
        .arg(output)
        .status()
        .unwrap()
}

#[test]
fn apply_on_binary_corpus_requests_keeps_everything_and_is_idempotent() {
    let tmp = tempfile::tempdir().unwrap();
    for dir in corpus::scenarios() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for (label, annotate) in [("plain", false), ("annotated", true)] {
            let mut request = format::read_resource_dir(&dir).unwrap();
            if annotate {
                request.routes = corpus::annotated_routes(&dir);
            }
            let input = tmp.path().join(format!("{name}-{label}.pb"));
            std::fs::write(&input, request.encode_to_vec()).unwrap();
            let once = tmp.path().join(format!("{name}-{label}.out.pb"));
            let status = apply_quietly(&input, &once);
            assert!(status.success(), "{name} {label}");
            let response =
                PostTranslateModifyResponse::decode(std::fs::read(&once).unwrap().as_slice())
                    .unwrap();
            support::assert_nothing_lost(&request, &response);
            if !annotate {
                assert_eq!(
                    response,
                    corpus::echo(&request),
                    "{name}: unannotated request must come back unchanged"
                );
            }
            let again_in = tmp.path().join(format!("{name}-{label}.again.pb"));
            std::fs::write(&again_in, support::as_request(&response).encode_to_vec()).unwrap();
            let twice = tmp.path().join(format!("{name}-{label}.twice.pb"));
            let status = apply_quietly(&again_in, &twice);
            assert!(status.success());
            assert_eq!(
                std::fs::read(&once).unwrap(),
                std::fs::read(&twice).unwrap(),
                "{name} {label}: idempotent"
            );
        }
    }
}

#[test]
fn apply_writes_json_and_yaml_that_read_back_to_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let input = support::repo().join("testdata/golden/mixed-namespaces-and-schemes/input.yaml");
    let pb = tmp.path().join("out.pb");
    assert!(apply_quietly(&input, &pb).success());
    let expected = std::fs::read(&pb).unwrap();
    for ext in ["json", "yaml"] {
        let out = tmp.path().join(format!("out.{ext}"));
        assert!(apply_quietly(&input, &out).success());
        let text = std::fs::read(&out).unwrap();
        let fmt = Format::from_path(&out).unwrap();
        // Read the response back through the response message descriptor.
        let value: serde_json::Value = match fmt {
            Format::Json => serde_json::from_slice(&text).unwrap(),
            _ => serde_saphyr::from_str(std::str::from_utf8(&text).unwrap()).unwrap(),
        };
        // Map entries have no defined order on the wire, so compare canonical JSON.
        let binary = format::text_to_binary(&value, format::RESPONSE_MESSAGE, "response").unwrap();
        assert_eq!(
            format::to_json(&binary, format::RESPONSE_MESSAGE).unwrap(),
            format::to_json(&expected, format::RESPONSE_MESSAGE).unwrap(),
            "{ext} round trip"
        );
    }
}

#[test]
fn explain_prints_decisions_and_the_annotation_hint() {
    let out = xds_hook()
        .args(["explain", "--input"])
        .arg(
            support::corpus()
                .map(|c| c.join("xds-name-scheme-v2"))
                .unwrap_or_else(|| {
                    support::repo().join("testdata/golden/mixed-namespaces-and-schemes/input.yaml")
                }),
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("LISTENER CHAINS") && text.contains("ROUTES") && text.contains("SUMMARY"),
        "{text}"
    );
    if support::corpus().is_some() {
        assert!(
            text.contains("no HCM (network filters: envoy.filters.network.tcp_proxy)"),
            "{text}"
        );
        assert!(text.contains("hint: no route is selected"), "{text}");
        assert!(
            text.contains("gateway.envoyproxy.io/ai-gateway-generated"),
            "{text}"
        );
    }
}

#[test]
fn bad_config_exits_64_naming_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("bad.yaml");
    std::fs::write(&config, "extProc:\n  messageTimeout: whenever\n").unwrap();
    let out = xds_hook()
        .arg("--config")
        .arg(&config)
        .arg("config")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("extProc.messageTimeout"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
}

/// A file that is not there is named once, with the system's reason once: for the
/// configuration, an input and a test folder.
#[test]
fn a_missing_file_is_named_once_with_its_reason_once() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.yaml");
    let missing = missing.to_str().unwrap();
    let out_file = tmp.path().join("o.yaml");
    let out_file = out_file.to_str().unwrap();
    for args in [
        vec!["--config", missing, "config"],
        vec!["apply", "-i", missing, "-o", out_file],
        vec!["test", missing],
    ] {
        let out = xds_hook().args(&args).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.matches(missing).count(), 1, "{args:?}: {err}");
        assert_eq!(err.matches("os error 2").count(), 1, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
}

/// Runs `apply` on an input file with the given name and content; returns exit code and stderr.
fn apply_file(name: &str, content: &[u8]) -> (Option<i32>, String) {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join(name);
    std::fs::write(&input, content).unwrap();
    let out = xds_hook()
        .arg("apply")
        .arg("-i")
        .arg(&input)
        .arg("-o")
        .arg(tmp.path().join("o.pb"))
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn bad_input_exits_65_with_the_json_path() {
    let yaml = "listeners:\n- name: x\n  filterChains:\n  - filters:\n    - name: f\n      typedConfig:\n        '@type': type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy\n        clusterr: c\n";
    let (code, err) = apply_file("req.yaml", yaml.as_bytes());
    assert_eq!(code, Some(65));
    assert!(
        err.contains("listeners[0].filterChains[0].filters[0].typedConfig"),
        "{err}"
    );
    assert!(err.contains("clusterr"), "{err}");
}

#[test]
fn truncated_binary_request_is_a_clear_error_not_a_panic() {
    let (code, err) = apply_file("req.pb", &[0x22, 0x10, 0x0a]);
    assert_eq!(code, Some(65));
    assert!(
        err.contains("not a valid envoygateway.extension.PostTranslateModifyRequest"),
        "{err}"
    );
}

/// Runs the binary with warnings-only logging; returns its output.
pub(crate) fn run(args: &[&str]) -> std::process::Output {
    xds_hook()
        .args(["--log", "warn"])
        .args(args)
        .output()
        .unwrap()
}

fn captured(name: &str) -> String {
    crate::captured::case(name).display().to_string()
}

fn one_line(err: &[u8]) -> String {
    let err = String::from_utf8(err.to_vec()).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn apply_on_a_dump_writes_the_same_dump_and_gateway_picks_one() {
    let tmp = tempfile::tempdir().unwrap();
    let three = captured("translate-three-gateways");
    let all = tmp.path().join("all.yaml");
    let out = run(&["apply", "-i", &three, "-o", all.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read_to_string(
        support::repo().join("testdata/captured/translate-three-gateways/output.yaml"),
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&all).unwrap(), expected);

    // Only team-a/ai is run: the other Gateways come back exactly as they were written.
    let picked = tmp.path().join("picked.json");
    let out = run(&[
        "apply",
        "-i",
        &three,
        "-o",
        picked.to_str().unwrap(),
        "--gateway",
        "team-a/ai",
    ]);
    assert!(out.status.success());
    let input: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(&three).unwrap()).unwrap();
    let output: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&picked).unwrap()).unwrap();
    for name in ["envoy-gateway/eg", "envoy-gateway-system/internal"] {
        assert_eq!(input["xds"][name], output["xds"][name], "{name}");
    }
    assert_ne!(input["xds"]["team-a/ai"], output["xds"]["team-a/ai"]);

    // .pb holds one Gateway's response.
    let pb = tmp.path().join("one.pb");
    let out = run(&[
        "apply",
        "-i",
        &three,
        "-o",
        pb.to_str().unwrap(),
        "--gateway",
        "team-a/ai",
    ]);
    assert!(out.status.success());
    let response =
        PostTranslateModifyResponse::decode(std::fs::read(&pb).unwrap().as_slice()).unwrap();
    assert_eq!(response.listeners.len(), 1);
    assert_eq!(response.clusters.len(), 3, "two backends and the processor");
    let out = run(&["apply", "-i", &three, "-o", pb.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    let err = one_line(&out.stderr);
    assert!(
        err.contains("--gateway") && err.contains("team-a/ai"),
        "{err}"
    );
}

#[test]
fn gateway_that_is_not_there_or_on_a_request_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out_file = tmp.path().join("o.yaml");
    let out = run(&[
        "apply",
        "-i",
        &captured("envoy-proxy-two-pods"),
        "-o",
        out_file.to_str().unwrap(),
        "--gateway",
        "team-a/ai",
    ]);
    assert_eq!(out.status.code(), Some(64));
    let err = one_line(&out.stderr);
    assert!(
        err.contains("envoy-gateway-system/envoy-team-a-ai-7c6b5d4f8-k4m2p"),
        "names the pods: {err}"
    );
    let request = support::repo().join("testdata/golden/default-and-team-a/input.yaml");
    let out = run(&[
        "explain",
        "-i",
        request.to_str().unwrap(),
        "--gateway",
        "team-a/ai",
    ]);
    assert_eq!(out.status.code(), Some(64));
    one_line(&out.stderr);
}

#[test]
fn a_malformed_dump_exits_65_naming_the_key_path() {
    let tmp = tempfile::tempdir().unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(captured("admin-config-dump-snake-case")).unwrap())
            .unwrap();
    doc["configs"][2]["dynamic_listeners"][0]["active_state"]["listener"]["per_connection_buffer_limit_bytez"] =
        serde_json::json!(1);
    let input = tmp.path().join("dump.json");
    std::fs::write(&input, doc.to_string()).unwrap();
    for command in ["apply", "render", "explain"] {
        let mut args = vec![command, "-i", input.to_str().unwrap()];
        let out_file = tmp.path().join("o.json");
        if command != "explain" {
            args.extend(["-o", out_file.to_str().unwrap()]);
        }
        let out = run(&args);
        assert_eq!(out.status.code(), Some(65), "{command}");
        let err = one_line(&out.stderr);
        assert!(
            err.contains("configs[2].dynamic_listeners[0].active_state.listener: ")
                && err.contains("per_connection_buffer_limit_bytez"),
            "{command}: {err}"
        );
    }
}

#[test]
fn render_takes_one_gateway_of_any_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let bootstrap = tmp.path().join("bootstrap.json");
    let listeners = |path: &std::path::Path| -> Vec<String> {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        doc["staticResources"]["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let three = captured("translate-three-gateways");
    let out = run(&["render", "-i", &three, "-o", bootstrap.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    assert!(one_line(&out.stderr).contains("render takes one Gateway"));
    for (case, gateway, listener) in [
        (
            "translate-three-gateways",
            Some("team-a/ai"),
            "team-a/ai/http",
        ),
        (
            "envoy-proxy-two-pods",
            Some("envoy-gateway-system/envoy-envoy-gateway-eg-5d8f7c9b6-x2x9k"),
            "envoy-gateway/eg/http",
        ),
        ("admin-config-dump-snake-case", None, "team-a/ai/http"),
        ("envoy-proxy-already-patched", None, "team-a/ai/http"),
    ] {
        let input = captured(case);
        let mut args = vec!["render", "-i", &input, "-o", bootstrap.to_str().unwrap()];
        if let Some(gateway) = gateway {
            args.extend(["--gateway", gateway]);
        }
        let out = run(&args);
        assert!(
            out.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            listeners(&bootstrap).contains(&listener.to_owned()),
            "{case}"
        );
    }
}

#[test]
fn test_command_reports_each_case_with_a_diff_and_a_summary_line() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = |from: &std::path::Path, to: &std::path::Path| {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    };
    let cases = tmp.path().join("cases");
    copy(
        &support::repo().join("testdata/golden/default-and-team-a"),
        &cases.join("request"),
    );
    copy(
        &support::repo().join("testdata/captured/envoy-proxy-two-pods"),
        &cases.join("pods"),
    );
    let dir = cases.to_str().unwrap();
    let out = run(&["test", dir]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().last(), Some("2 passed, 0 failed"), "{text}");

    // A changed expectation: a unified diff naming the file, and exit 1.
    let expected = cases.join("pods/output.yaml");
    let original = std::fs::read_to_string(&expected).unwrap();
    std::fs::write(
        &expected,
        original.replace("aigw_route_name", "aigw_route_nom"),
    )
    .unwrap();
    std::fs::write(cases.join("request/explain.txt"), "stale\n").unwrap();
    let out = run(&["test", dir]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("FAILED  pods") && text.contains("FAILED  request"),
        "{text}"
    );
    assert!(text.contains("pods/output.yaml (expected)"), "{text}");
    assert!(
        text.contains("aigw_route_nom") && text.contains("@@"),
        "{text}"
    );
    assert!(text.contains("-stale"), "{text}");
    assert_eq!(text.lines().last(), Some("0 passed, 2 failed"), "{text}");

    // --update rewrites them; then everything passes again.
    let out = run(&["test", dir, "--update"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("updated pods: output.yaml"), "{text}");
    assert_eq!(std::fs::read_to_string(&expected).unwrap(), original);
    assert_eq!(
        String::from_utf8(run(&["test", dir]).stdout)
            .unwrap()
            .lines()
            .last(),
        Some("2 passed, 0 failed")
    );

    // A case without an input fails; a directory without cases is a usage error.
    std::fs::create_dir_all(cases.join("empty")).unwrap();
    let out = run(&["test", dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("no input (input.pb")
    );
    let none = tmp.path().join("none");
    std::fs::create_dir_all(&none).unwrap();
    let out = run(&["test", none.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
}

/// `--policies` is read by apply, render and explain; elsewhere it is refused, not ignored.
#[test]
fn policies_elsewhere_is_a_usage_error() {
    let out = run(&["--policies", "policies.yaml", "config"]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--policies applies to apply, render and explain"),
        "{stderr}"
    );
}
