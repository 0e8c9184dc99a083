//! Broken resources never panic and are never dropped: each is returned as it came, with a
//! reason in the report, while the rest of the request is still processed.

use bytes::Bytes;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use xds_hook::report::{ChainDecision, ChainLocator, ChainSkip};
use xds_hook::wire;
use xds_hook::{Config, Hook};

use crate::support::{self, inject};

fn run(request: xds_hook::contract::PostTranslateModifyRequest) -> xds_hook::Outcome {
    let outcome = Hook::new(Config::default()).post_translate_modify(request.clone());
    support::assert_nothing_lost(&request, &outcome.response);
    outcome
}

/// Replaces the HCM bytes (inside listeners[0].filter_chains[0].filters[0].typed_config) with
/// `hcm`.
fn with_hcm_bytes(listener: &Bytes, hcm: &[u8]) -> Bytes {
    wire::rewrite_len_fields::<wire::WireError>(listener, |n, i, chain| {
        if n != 3 || i != 0 {
            return Ok(None);
        }
        wire::rewrite_len_fields(chain, |n, i, filter| {
            if n != 3 || i != 0 {
                return Ok(None);
            }
            wire::rewrite_len_fields(filter, |n, _, any| {
                if n != 4 {
                    return Ok(None);
                }
                wire::rewrite_len_fields(any, |n, _, _| Ok((n == 2).then(|| hcm.to_vec())))
            })
        })
    })
    .unwrap()
    .unwrap()
    .into()
}

#[test]
fn malformed_hcm_bytes_leave_that_chain_alone_with_a_reason() {
    let mut request = support::golden_request("mixed-namespaces-and-schemes");
    // http_filters (field 5) claims 100 bytes that are not there.
    request.listeners[0] = with_hcm_bytes(&request.listeners[0], &[0x2a, 100, 0x0a]);
    let outcome = run(request.clone());
    assert_eq!(
        outcome.response.listeners[0], request.listeners[0],
        "malformed listener untouched"
    );
    assert_ne!(
        outcome.response.listeners[1], request.listeners[1],
        "other listener still patched"
    );
    match &outcome.report.decisions.listeners[0][0] {
        ChainDecision::Skip(ChainSkip::Unusable(reason)) => {
            assert!(
                reason
                    .to_string()
                    .starts_with("malformed HCM: filter_chains[0].filters[0].typed_config.value"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn truncated_resources_are_returned_as_they_came() {
    let mut request = support::golden_request("mixed-namespaces-and-schemes");
    let cut = |b: &Bytes| b.slice(..b.len() - 3);
    request.listeners[1] = cut(&request.listeners[1]);
    request.routes[0] = cut(&request.routes[0]);
    request.clusters[0] = cut(&request.clusters[0]);
    let outcome = run(request.clone());
    assert_eq!(outcome.response.listeners[1], request.listeners[1]);
    assert_eq!(outcome.response.routes[0], request.routes[0]);
    assert_eq!(outcome.response.clusters[0], request.clusters[0]);
    let explain = outcome.report.explain("ai-gateway-generated");
    assert!(
        explain.contains("malformed listener, left as is"),
        "{explain}"
    );
    assert!(
        explain.contains("malformed route config, left as is"),
        "{explain}"
    );
    // listeners[0]'s route config is now unreadable: its chain is skipped for that reason.
    assert_eq!(
        outcome.report.decisions.listeners[0][0],
        ChainDecision::Skip(ChainSkip::MalformedRouteConfig(
            "envoy-gateway/gateway-1/http".into()
        ))
    );
    assert_eq!(outcome.report.summary().malformed, 2);
}

#[test]
fn split_typed_config_is_reported_not_half_edited() {
    let mut request = support::golden_request("mixed-namespaces-and-schemes");
    // A second typed_config record in the HCM filter: protobuf merges them, so the hook must
    // not edit one of them in place.
    // The duplicate repeats the same Any, so the merged HCM still reads as patchable.
    let any = support::at(&request.listeners[0], &[(3, 0), (3, 0), (4, 0)]).to_vec();
    let mut extra = Vec::new();
    wire::put_len(&mut extra, 4, &any);
    request.listeners[0] = inject(&request.listeners[0], &[(3, 0), (3, 0)], &extra).into();
    let outcome = run(request.clone());
    assert_eq!(outcome.response.listeners[0], request.listeners[0]);
    // Selection decided to patch it; the edit failed; the report keeps both.
    assert!(matches!(
        outcome.report.decisions.listeners[0][0],
        ChainDecision::Patch(_)
    ));
    let failure = outcome
        .report
        .chain_failure(0, ChainLocator::FilterChain(0))
        .expect("the failed edit is reported");
    assert!(failure.contains("split"), "{failure}");
    let line = &outcome.report.chain_lines()[0];
    assert_eq!(line.decision, "skipped", "{line:?}");
    assert!(
        line.reason.starts_with("left as is, cannot edit"),
        "{line:?}"
    );
}

#[test]
fn garbage_everywhere_never_panics() {
    let request = support::golden_request("mixed-namespaces-and-schemes");
    let hook = Hook::new(Config::default());
    // Every truncation of every resource.
    for kind in 0..3 {
        let list = match kind {
            0 => &request.listeners,
            1 => &request.routes,
            _ => &request.clusters,
        };
        for (i, resource) in list.iter().enumerate() {
            for len in (0..resource.len()).step_by(7) {
                let mut broken = request.clone();
                let target = match kind {
                    0 => &mut broken.listeners,
                    1 => &mut broken.routes,
                    _ => &mut broken.clusters,
                };
                target[i] = resource.slice(..len);
                let outcome = hook.post_translate_modify(broken.clone());
                support::assert_nothing_lost(&broken, &outcome.response);
            }
        }
    }
}

#[test]
fn split_scheme_header_transformation_still_ends_up_matching_upstream() {
    use prost::Message;
    let mut request = support::golden_request("mixed-namespaces-and-schemes");
    let hcm_path = [(3, 0), (3, 0), (4, 0), (2, 0)];
    // Two scheme_header_transformation records (field 48): protobuf merges them, and the
    // second one's explicit match_upstream: false wins over anything written into the first.
    let mut explicit_false = Vec::new();
    wire::put_varint(&mut explicit_false, 2, 0);
    let mut records = Vec::new();
    wire::put_len(&mut records, 48, &[]);
    wire::put_len(&mut records, 48, &explicit_false);
    request.listeners[0] = inject(&request.listeners[0], &hcm_path, &records).into();
    let outcome = run(request.clone());
    assert!(matches!(
        outcome.report.decisions.listeners[0][0],
        ChainDecision::Patch(_)
    ));
    let hcm = support::at(&outcome.response.listeners[0], &hcm_path);
    let view = HttpConnectionManager::decode(hcm).unwrap();
    assert!(
        view.scheme_header_transformation
            .is_some_and(|s| s.match_upstream),
        "the merged HCM must match the upstream scheme"
    );
}
