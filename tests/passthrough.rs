//! Nothing the hook receives is lost: fields unknown to our compiled Envoy API, and `Any`
//! payloads of unknown types, survive byte for byte in patched and unpatched resources.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use bytes::Bytes;
use xds_hook::{Config, Hook};

use crate::support::{self, at, has_record, inject, unknown_records};

// Paths in mixed-namespaces-and-schemes: listeners[0] is patched on filter_chains[0] and has an
// unpatched tcp_proxy chain at filter_chains[1]; routes[0] has a selected route at
// virtual_hosts[0].routes[0] and an unselected one at routes[1].
const CHAIN: &[(u32, usize)] = &[(3, 0)];
const TCP_CHAIN: &[(u32, usize)] = &[(3, 1)];
const HCM: &[(u32, usize)] = &[(3, 0), (3, 0), (4, 0), (2, 0)];
const ROUTER: &[(u32, usize)] = &[(3, 0), (3, 0), (4, 0), (2, 0), (5, 0)];
const VHOST: &[(u32, usize)] = &[(2, 0)];
const SELECTED_ROUTE: &[(u32, usize)] = &[(2, 0), (3, 0)];
const PLAIN_ROUTE: &[(u32, usize)] = &[(2, 0), (3, 1)];

fn with_unknowns(resource: &Bytes, paths: &[&[(u32, usize)]]) -> Bytes {
    let mut bytes = resource.to_vec();
    for path in paths {
        for record in unknown_records() {
            bytes = inject(&bytes, path, &record);
        }
    }
    bytes.into()
}

fn assert_unknowns_at(resource: &[u8], path: &[(u32, usize)], what: &str) {
    for record in unknown_records() {
        assert!(
            has_record(at(resource, path), &record),
            "{what}: unknown record {record:?} lost"
        );
    }
}

#[test]
fn unknown_fields_survive_in_patched_and_unpatched_resources() {
    let mut request = support::golden_request("mixed-namespaces-and-schemes");
    // Patched listener: unknowns at listener, chain, HCM, HTTP filter and in the TCP chain.
    // (The processor goes in at http_filters[0], so the router moves to [1] in the output.)
    request.listeners[0] =
        with_unknowns(&request.listeners[0], &[&[], CHAIN, HCM, ROUTER, TCP_CHAIN]);
    // Unpatched listener (inline routes).
    request.listeners[2] = with_unknowns(&request.listeners[2], &[&[], CHAIN]);
    request.routes[0] = with_unknowns(
        &request.routes[0],
        &[&[], VHOST, SELECTED_ROUTE, PLAIN_ROUTE],
    );
    request.clusters[0] = with_unknowns(&request.clusters[0], &[&[]]);

    let outcome = Hook::new(Config::default()).post_translate_modify(request.clone());
    let response = &outcome.response;
    assert_ne!(
        response.listeners[0], request.listeners[0],
        "listener 0 must be patched"
    );

    let listener = &response.listeners[0];
    assert_unknowns_at(listener, &[], "listener");
    assert_unknowns_at(listener, CHAIN, "filter chain");
    assert_unknowns_at(listener, HCM, "HCM");
    assert_unknowns_at(
        listener,
        &[(3, 0), (3, 0), (4, 0), (2, 0), (5, 1)],
        "router http filter",
    );
    assert_eq!(
        at(listener, TCP_CHAIN),
        at(&request.listeners[0], TCP_CHAIN),
        "untouched chain bytes"
    );

    assert_eq!(
        response.listeners[2], request.listeners[2],
        "unpatched listener byte-identical"
    );

    let routes = &response.routes[0];
    assert_ne!(routes, &request.routes[0], "route config 0 must be patched");
    assert_unknowns_at(routes, &[], "route configuration");
    assert_unknowns_at(routes, VHOST, "virtual host");
    assert_unknowns_at(routes, SELECTED_ROUTE, "selected route");
    assert_eq!(
        at(routes, PLAIN_ROUTE),
        at(&request.routes[0], PLAIN_ROUTE),
        "unselected route bytes"
    );

    // The cluster is an AI backend (the selected route targets it): patched, unknowns kept.
    assert_ne!(
        response.clusters[0], request.clusters[0],
        "AI backend cluster must be patched"
    );
    assert_unknowns_at(&response.clusters[0], &[], "cluster");
}

#[test]
fn unknown_any_payloads_pass_through() {
    let mut request = support::golden_request("mixed-namespaces-and-schemes");
    // A network filter whose typed_config is a type we have never heard of, in the TCP chain.
    let mut any = Vec::new();
    xds_hook::wire::put_len(&mut any, 1, b"type.googleapis.com/example.future.v9.Filter");
    xds_hook::wire::put_len(&mut any, 2, &[0xde, 0xad, 0xbe, 0xef, 0x08, 0x01]);
    let mut filter = Vec::new();
    xds_hook::wire::put_len(&mut filter, 1, b"example.future");
    xds_hook::wire::put_len(&mut filter, 4, &any);
    let mut record = Vec::new();
    xds_hook::wire::put_len(&mut record, 3, &filter);
    request.listeners[0] = inject(&request.listeners[0], TCP_CHAIN, &record).into();

    let outcome = Hook::new(Config::default()).post_translate_modify(request.clone());
    let listener = &outcome.response.listeners[0];
    assert_ne!(listener, &request.listeners[0], "HTTP chain still patched");
    assert!(has_record(at(listener, TCP_CHAIN), &record));
}

#[test]
fn output_is_deterministic() {
    let request = support::golden_request("mixed-namespaces-and-schemes");
    let hook = Hook::new(Config::default());
    let first = hook.post_translate_modify(request.clone()).response;
    for _ in 0..5 {
        assert_eq!(hook.post_translate_modify(request.clone()).response, first);
    }
}
