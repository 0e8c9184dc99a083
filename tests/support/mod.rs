//! Shared helpers for the integration tests.

#![allow(dead_code)]

pub mod document;
pub mod eg_client;
pub mod eg_flow;
pub mod envoy_process;
pub mod epp;
pub mod ext_proc;
pub mod journal;
pub mod slow_link;
pub mod upstream;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus/eg-xds`, when present. In CI (`CI` set) or with
/// `XDS_HOOK_REQUIRE_CORPUS=1` its absence fails the test that asked, so corpus checks never
/// pass by not running where they must run.
pub fn corpus() -> Option<PathBuf> {
    let dir = repo().join("../shared/corpus/eg-xds");
    if dir.is_dir() {
        return Some(dir);
    }
    let required = std::env::var_os("CI").is_some_and(|v| !v.is_empty())
        || std::env::var_os("XDS_HOOK_REQUIRE_CORPUS").is_some_and(|v| v == "1");
    assert!(
        !required,
        "{} is missing, and CI (or XDS_HOOK_REQUIRE_CORPUS=1) requires the corpus checks",
        dir.display()
    );
    None
}

/// Replaces every `${NAME}` of `template`; every placeholder outside comments must be filled.
pub fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    let unfilled: Vec<&str> = text
        .lines()
        .filter(|line| line.split('#').next().unwrap_or_default().contains("${"))
        .collect();
    assert!(unfilled.is_empty(), "unfilled placeholders: {unfilled:?}");
    text
}

/// Subdirectories of `dir`, sorted.
pub fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};

/// The response fed back as a request, as EG would on the next translation if it were
/// to send our own output (used for idempotency checks).
pub fn as_request(response: &PostTranslateModifyResponse) -> PostTranslateModifyRequest {
    PostTranslateModifyRequest {
        post_translate_context: None,
        clusters: response.clusters.clone(),
        secrets: response.secrets.clone(),
        listeners: response.listeners.clone(),
        routes: response.routes.clone(),
    }
}

/// A golden case's request: `input.yaml`, with the case's `policies.yaml` (if any) as its
/// context, as the golden kit runs it.
pub fn golden_case_request(dir: &Path) -> PostTranslateModifyRequest {
    let mut input = xds_hook::format::Input::Request(
        xds_hook::format::read_request(&dir.join("input.yaml")).unwrap(),
    );
    xds_hook::policy::fixture::attach_from(dir, &mut input).unwrap();
    match input {
        xds_hook::format::Input::Request(request) => request,
        xds_hook::format::Input::Dump(_) => unreachable!("read as a request"),
    }
}

/// Whether golden files should be rewritten instead of compared.
pub fn updating() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Asserts that every input resource of every kind is in the response, in input order (listeners
/// and route configs by name), and that input clusters and secrets come back byte-identical.
/// (Unpatched listeners and route configs: see `hostile::assert_unpatched_identical`.)
pub fn assert_nothing_lost(
    request: &PostTranslateModifyRequest,
    response: &PostTranslateModifyResponse,
) {
    assert_eq!(
        request.listeners.len(),
        response.listeners.len(),
        "listener count"
    );
    assert_eq!(
        request.routes.len(),
        response.routes.len(),
        "route config count"
    );
    assert_eq!(request.secrets, response.secrets, "secrets");
    assert!(
        response.clusters.len() >= request.clusters.len(),
        "cluster count"
    );
    for (i, (before, after)) in request.clusters.iter().zip(&response.clusters).enumerate() {
        assert_eq!(
            untouched_cluster_records(before),
            untouched_cluster_records(after),
            "clusters[{i}]: input clusters come back first, in order, changed only in the \
             fields the upstream side edits"
        );
    }
    let names = |list: &[bytes::Bytes]| -> Vec<Vec<u8>> {
        list.iter()
            .map(|r| xds_hook::wire::first_len(r, 1).unwrap_or_default().to_vec())
            .collect()
    };
    assert_eq!(
        names(&request.listeners),
        names(&response.listeners),
        "listener order"
    );
    assert_eq!(
        names(&request.routes),
        names(&response.routes),
        "route config order"
    );
}

/// The top-level records of a cluster outside the three fields the hook may edit on an AI
/// backend (metadata 25, load_assignment 33, typed_extension_protocol_options 36).
fn untouched_cluster_records(cluster: &[u8]) -> Vec<&[u8]> {
    xds_hook::wire::fields(cluster)
        .map_while(Result::ok)
        .filter(|f| ![25, 33, 36].contains(&f.number))
        .map(|f| f.record)
        .collect()
}

/// A path of (field number, occurrence) steps from a message down to a nested message.
pub type Path_ = [(u32, usize)];

/// Returns `message` with `record` appended inside the nested message at `path`.
pub fn inject(message: &[u8], path: &Path_, record: &[u8]) -> Vec<u8> {
    match path.split_first() {
        None => {
            let mut out = message.to_vec();
            out.extend_from_slice(record);
            out
        }
        Some((&(number, occurrence), rest)) => xds_hook::wire::rewrite_len_fields::<
            xds_hook::wire::WireError,
        >(message, |n, i, payload| {
            Ok((n == number && i == occurrence).then(|| inject(payload, rest, record)))
        })
        .unwrap()
        .unwrap_or_else(|| panic!("path step ({number}, {occurrence}) not found")),
    }
}

/// The nested message at `path`.
pub fn at<'a>(message: &'a [u8], path: &Path_) -> &'a [u8] {
    match path.split_first() {
        None => message,
        Some((&(number, occurrence), rest)) => {
            let payload = xds_hook::wire::len_payloads(message, number)
                .nth(occurrence)
                .unwrap_or_else(|| panic!("path step ({number}, {occurrence}) not found"))
                .unwrap();
            at(payload, rest)
        }
    }
}

/// Whether `message` has `record` among its top-level records.
pub fn has_record(message: &[u8], record: &[u8]) -> bool {
    xds_hook::wire::fields(message)
        .map_while(Result::ok)
        .any(|f| f.record == record)
}

/// Unknown-field records of several wire types, numbered far above anything Envoy uses.
pub fn unknown_records() -> Vec<Vec<u8>> {
    let mut varint = Vec::new();
    xds_hook::wire::put_varint(&mut varint, 9001, 424242);
    let mut len = Vec::new();
    xds_hook::wire::put_len(&mut len, 9002, b"from-a-newer-envoy-api");
    let mut fixed64 = Vec::new();
    prost::encoding::encode_key(9003, prost::encoding::WireType::SixtyFourBit, &mut fixed64);
    fixed64.extend_from_slice(&7u64.to_le_bytes());
    let mut fixed32 = Vec::new();
    prost::encoding::encode_key(9004, prost::encoding::WireType::ThirtyTwoBit, &mut fixed32);
    fixed32.extend_from_slice(&9u32.to_le_bytes());
    // A group (wire types 3 and 4): deprecated, but still valid protobuf, and skipped by prost.
    let mut group = Vec::new();
    prost::encoding::encode_key(9005, prost::encoding::WireType::StartGroup, &mut group);
    xds_hook::wire::put_varint(&mut group, 1, 5);
    prost::encoding::encode_key(9005, prost::encoding::WireType::EndGroup, &mut group);
    vec![varint, len, fixed64, fixed32, group]
}

/// Reads a request from a golden case's input.
pub fn golden_request(case: &str) -> PostTranslateModifyRequest {
    xds_hook::format::read_request(&repo().join("testdata/golden").join(case).join("input.yaml"))
        .unwrap()
}

/// Asserts a chain is patched exactly when its route configuration has a selected route, and
/// that chains without an HCM (or with one the hook cannot use) are never patched.
pub fn assert_chains_patched_where_routes_selected(report: &xds_hook::report::Report) {
    use xds_hook::report::ChainDecision;
    use xds_hook::report::ChainKind;
    for (listener, decisions) in report
        .index
        .listeners
        .iter()
        .zip(&report.decisions.listeners)
    {
        let Ok(chains) = &listener.chains else {
            continue;
        };
        for (chain, decision) in chains.iter().zip(decisions) {
            let patched = matches!(decision, ChainDecision::Patch(_));
            let ChainKind::Http(http) = &chain.kind else {
                assert!(
                    !patched,
                    "listener {} {}: patched without an HCM",
                    listener.name, chain.locator
                );
                continue;
            };
            let selected = report
                .index
                .route_configs_named(&http.route_config)
                .any(|p| report.decisions.route_configs[p].selected > 0);
            assert_eq!(
                patched, selected,
                "listener {} {}: {decision:?}",
                listener.name, chain.locator
            );
        }
    }
}

/// Whether `bytes` contain `needle` anywhere.
pub fn has_bytes(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}
