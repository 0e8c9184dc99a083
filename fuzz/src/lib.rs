//! Shared oracles for the fuzz targets.
//!
//! A fuzz target that only waits for a panic misses the failure that matters most for this
//! hook: a response that silently lacks a resource, which EG would push to every Envoy as
//! final. So each target runs the real pipeline and checks the response against the request
//! here: every input resource is returned, in order, and every resource the report says was
//! not patched is byte-identical. These checks panic, which is how libFuzzer records a crash.

use std::collections::HashSet;
use std::sync::OnceLock;

use bytes::Bytes;
use xds_hook::contract::PostTranslateModifyRequest;
use xds_hook::format::{self, Format};
use xds_hook::inference::report::{ChainChange, RouteChange};
use xds_hook::report::{ChainDecision, Change};
use xds_hook::{Config, Hook, Outcome, wire};

/// The hooks every request is run through: the defaults, and Gateway scoping (which reads
/// the virtual hosts' metadata too).
pub fn hooks() -> &'static [Hook] {
    static HOOKS: OnceLock<Vec<Hook>> = OnceLock::new();
    HOOKS.get_or_init(|| {
        let scoped = Config::from_yaml(
            "selection:\n  gatewayNamespaces: [envoy-gateway, team-a]\n  gatewayAnnotation: ai-gateway-managed\n",
        )
        .expect("scoped fuzz config");
        vec![Hook::new(Config::default()), Hook::new(scoped)]
    })
}

/// A request from a golden case of the repository (`testdata/golden/<case>/input.yaml`), read once.
pub fn golden(yaml: &'static str) -> PostTranslateModifyRequest {
    format::decode_request(yaml.as_bytes(), Format::Yaml).expect("golden input decodes")
}

/// Runs `hook` and checks the outcome against the request; returns it for further checks.
pub fn run_checked(hook: &Hook, request: &PostTranslateModifyRequest) -> Outcome {
    let outcome = hook.post_translate_modify(request.clone());
    check_nothing_lost(request, &outcome);
    // The report renders every decision; it must not panic on whatever was decided.
    let _ = outcome.report.summary();
    let _ = outcome
        .report
        .explain(&hook.config().selection.route_annotation);
    outcome
}

/// Every input resource is in the response, in order; ones the report does not say were
/// edited (by the AI processor's pass, the upstream side or the InferencePool part) are
/// byte-identical, and an edited cluster keeps every record outside the fields the upstream
/// side edits.
pub fn check_nothing_lost(request: &PostTranslateModifyRequest, outcome: &Outcome) {
    let response = &outcome.response;
    let report = &outcome.report;
    assert_eq!(request.secrets, response.secrets, "secrets");
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
    assert!(
        response.clusters.len() >= request.clusters.len(),
        "cluster count: {} in, {} out",
        request.clusters.len(),
        response.clusters.len()
    );
    let edited_clusters: HashSet<usize> = report.upstream.patched_positions().collect();
    for (i, (before, after)) in request.clusters.iter().zip(&response.clusters).enumerate() {
        assert_eq!(name(before), name(after), "clusters[{i}] name");
        if edited_clusters.contains(&i) {
            assert_eq!(
                records_outside(before, &UPSTREAM_EDITED),
                records_outside(after, &UPSTREAM_EDITED),
                "clusters[{i}] edited only in the fields the upstream side edits"
            );
        } else {
            assert_eq!(before, after, "clusters[{i}] not edited, so byte-identical");
        }
    }
    let pool_listeners: HashSet<usize> = report
        .inference
        .chains
        .iter()
        .filter(|c| matches!(c.change, ChainChange::Inserted { .. }))
        .map(|c| c.need.listener)
        .collect();
    let decisions = &report.decisions.listeners;
    for (i, (before, after)) in request
        .listeners
        .iter()
        .zip(&response.listeners)
        .enumerate()
    {
        assert_eq!(name(before), name(after), "listeners[{i}] name");
        let patched = decisions
            .get(i)
            .is_some_and(|chains| chains.iter().any(|d| matches!(d, ChainDecision::Patch(_))));
        if !patched && !pool_listeners.contains(&i) {
            assert_eq!(
                before, after,
                "listeners[{i}] not patched, so byte-identical"
            );
        }
    }
    let pool_routes: HashSet<usize> = report
        .inference
        .routes
        .iter()
        .filter(|r| r.change == RouteChange::Enabled)
        .map(|r| r.route.route_config)
        .collect();
    for (i, (before, after)) in request.routes.iter().zip(&response.routes).enumerate() {
        assert_eq!(name(before), name(after), "routes[{i}] name");
        let changed = report.route_changes.get(i) == Some(&Change::Changed);
        if !changed && !pool_routes.contains(&i) {
            assert_eq!(before, after, "routes[{i}] not changed, so byte-identical");
        }
    }
}

/// The cluster fields the upstream side may edit on an AI backend: `metadata`,
/// `load_assignment`, `typed_extension_protocol_options`.
const UPSTREAM_EDITED: [u32; 3] = [25, 33, 36];

/// The top-level records of `message` whose field is not in `fields`, in order.
fn records_outside<'a>(message: &'a [u8], fields: &[u32]) -> Vec<&'a [u8]> {
    wire::fields(message)
        .map_while(Result::ok)
        .filter(|f| !fields.contains(&f.number))
        .map(|f| f.record)
        .collect()
}

/// A resource's raw name (field 1), as the report and EG see it.
fn name(resource: &Bytes) -> Option<&[u8]> {
    wire::first_len(resource, 1)
}

/// Replaces the payload of the length-delimited record at `path` (field number, occurrence)
/// with `payload`; `None` when the path is not there.
pub fn replace_at(message: &[u8], path: &[(u32, usize)], payload: &[u8]) -> Option<Vec<u8>> {
    let Some((&(number, occurrence), rest)) = path.split_first() else {
        return Some(payload.to_vec());
    };
    wire::rewrite_len_fields::<wire::WireError>(message, |n, i, inner| {
        Ok(if n == number && i == occurrence {
            replace_at(inner, rest, payload)
        } else {
            None
        })
    })
    .ok()
    .flatten()
}

/// The payload of the length-delimited record at `path`.
pub fn payload_at<'a>(message: &'a [u8], path: &[(u32, usize)]) -> Option<&'a [u8]> {
    let Some((&(number, occurrence), rest)) = path.split_first() else {
        return Some(message);
    };
    let inner = wire::len_payloads(message, number).nth(occurrence)?.ok()?;
    payload_at(inner, rest)
}
