//! Shared oracles for the fuzz targets.
//!
//! A fuzz target that only waits for a panic misses the failure that matters most for this
//! hook: a response that silently lacks a resource, which EG would push to every Envoy as
//! final. So each target runs the real pipeline and checks the response against the request
//! here: every input resource is returned, in order, and every resource the report says was
//! not patched is byte-identical. These checks panic, which is how libFuzzer records a crash.

use std::sync::OnceLock;

use bytes::Bytes;
use xds_hook::contract::PostTranslateModifyRequest;
use xds_hook::format::{self, Format};
use xds_hook::report::Change;
use xds_hook::report::ChainDecision;
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

/// Every input resource is in the response, in order; unpatched ones are byte-identical.
pub fn check_nothing_lost(request: &PostTranslateModifyRequest, outcome: &Outcome) {
    let response = &outcome.response;
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
        response.clusters.len() == request.clusters.len()
            || response.clusters.len() == request.clusters.len() + 1,
        "cluster count: {} in, {} out",
        request.clusters.len(),
        response.clusters.len()
    );
    assert_eq!(
        request.clusters[..],
        response.clusters[..request.clusters.len()],
        "input clusters first, unchanged, in order"
    );
    let decisions = &outcome.report.decisions.listeners;
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
        if !patched {
            assert_eq!(
                before, after,
                "listeners[{i}] not patched, so byte-identical"
            );
        }
    }
    for (i, (before, after)) in request.routes.iter().zip(&response.routes).enumerate() {
        assert_eq!(name(before), name(after), "routes[{i}] name");
        if outcome.report.route_changes.get(i) != Some(&Change::Changed) {
            assert_eq!(before, after, "routes[{i}] not changed, so byte-identical");
        }
    }
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
