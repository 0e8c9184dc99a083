//! Hostile and broken inputs, by name, each with the outcome it must have.
//!
//! EG's translator is built against a newer Envoy API than ours and we do not control it, so
//! every input below is one it could plausibly send, or that a bug upstream could. Each case
//! has a defined outcome: the gRPC codec refuses the request (`INVALID_ARGUMENT`), or the hook
//! runs and its report shows exactly what was patched, what was skipped and why. Whatever
//! happens, nothing is lost and nothing panics. (`bad_input` covers truncation of every
//! resource, malformed HCM bytes and split records; this table covers the rest.)

mod cases;
mod inputs;

use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use tonic::Code;
use xds_hook::contract::{ContractCodec, PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::report::ChainDecision;
use xds_hook::report::Change;
use xds_hook::{Config, Hook, Outcome};

use crate::server::{RawBytes, Running};
use crate::support;
use cases::cases;

/// What a case must produce.
#[derive(Debug)]
pub enum Expect {
    /// The request does not decode: the gRPC codec answers INVALID_ARGUMENT and the hook never
    /// runs.
    InvalidArgument,
    /// The hook runs: these counts from its summary, and these phrases in its explanation.
    Ran {
        chains_patched: usize,
        routes_selected: usize,
        malformed: usize,
        reasons: &'static [&'static str],
    },
}

pub struct Case {
    name: &'static str,
    /// The gRPC request message, encoded.
    input: fn() -> Vec<u8>,
    expect: Expect,
}

pub const fn ran(
    chains_patched: usize,
    routes_selected: usize,
    malformed: usize,
    reasons: &'static [&'static str],
) -> Expect {
    Expect::Ran {
        chains_patched,
        routes_selected,
        malformed,
        reasons,
    }
}

/// Resources the report does not mark as patched come back byte-identical.
fn assert_unpatched_identical(request: &PostTranslateModifyRequest, outcome: &Outcome) {
    let response = &outcome.response;
    for (i, (before, after)) in request
        .listeners
        .iter()
        .zip(&response.listeners)
        .enumerate()
    {
        let patched = outcome.report.decisions.listeners[i]
            .iter()
            .any(|d| matches!(d, ChainDecision::Patch(_)));
        if !patched {
            assert_eq!(before, after, "listeners[{i}] is not patched");
        }
    }
    for (i, (before, after)) in request.routes.iter().zip(&response.routes).enumerate() {
        if outcome.report.route_changes[i] != Change::Changed {
            assert_eq!(before, after, "routes[{i}] is not patched");
        }
    }
}

fn check(case: &Case, hook: &Hook) {
    let decoded = PostTranslateModifyRequest::decode(Bytes::from((case.input)()));
    let request = match (&case.expect, decoded) {
        (Expect::InvalidArgument, Err(_)) => return,
        (Expect::InvalidArgument, Ok(_)) => {
            panic!("{}: decoded, expected INVALID_ARGUMENT", case.name)
        }
        (Expect::Ran { .. }, Err(e)) => panic!("{}: does not decode: {e}", case.name),
        (Expect::Ran { .. }, Ok(request)) => request,
    };
    let Expect::Ran {
        chains_patched,
        routes_selected,
        malformed,
        reasons,
    } = case.expect
    else {
        unreachable!()
    };
    let started = Instant::now();
    let outcome = hook.post_translate_modify(request.clone());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{}: took {:?}",
        case.name,
        started.elapsed()
    );
    support::assert_nothing_lost(&request, &outcome.response);
    assert_unpatched_identical(&request, &outcome);
    let summary = outcome.report.summary();
    assert_eq!(
        (
            summary.chains_patched,
            summary.routes_selected,
            summary.malformed
        ),
        (chains_patched, routes_selected, malformed),
        "{}: (chains patched, routes selected, malformed)",
        case.name
    );
    let explain = outcome.report.explain("ai-gateway-generated");
    for reason in reasons {
        assert!(
            explain.contains(reason),
            "{}: no {reason:?} in\n{explain}",
            case.name
        );
    }
    // What the hook returns it accepts again unchanged.
    let again = hook.post_translate_modify(support::as_request(&outcome.response));
    assert_eq!(
        again.response, outcome.response,
        "{}: not idempotent",
        case.name
    );
}

#[test]
fn every_hostile_input_has_its_defined_outcome_and_loses_nothing() {
    let cases = cases();
    assert!(cases.len() >= 20);
    let hook = Hook::new(Config::default());
    // Every case runs, so one failure does not hide the others.
    let failed: Vec<&str> = cases
        .iter()
        .filter(|case| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case, &hook))).is_err()
        })
        .map(|case| case.name)
        .collect();
    assert!(failed.is_empty(), "failed: {failed:#?}");
}

#[tokio::test]
async fn undecodable_requests_are_invalid_argument_on_the_wire() {
    let server = Running::start(Config::default()).await;
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    for case in cases() {
        if !matches!(case.expect, Expect::InvalidArgument) {
            continue;
        }
        grpc.ready().await.unwrap();
        let status = grpc
            .unary::<RawBytes, PostTranslateModifyResponse, _>(
                tonic::Request::new(RawBytes((case.input)())),
                "/envoygateway.extension.EnvoyGatewayExtension/PostTranslateModify"
                    .parse()
                    .unwrap(),
                ContractCodec::<RawBytes, PostTranslateModifyResponse>::default(),
            )
            .await
            .expect_err(case.name);
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{}: {status:?}",
            case.name
        );
    }
    server.stop().await;
}
