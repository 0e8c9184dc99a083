//! The `xds-hook` binary: apply/explain on captured requests, and its exit codes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

use prost::Message;
use xds_hook::contract::PostTranslateModifyResponse;
use xds_hook::format::{self, Format};

use crate::{corpus, support};

fn xds_hook() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xds-hook"))
}

/// Runs `apply` with warnings-only logging.
fn apply_quietly(input: &std::path::Path, output: &std::path::Path) -> std::process::ExitStatus {
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
    let input = support::repo().join("testdata/mixed-namespaces-and-schemes/input.yaml");
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
                    support::repo().join("testdata/mixed-namespaces-and-schemes/input.yaml")
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
