//! Nothing the hook receives is lost: fields unknown to our compiled Envoy API, and `Any`
//! payloads of unknown types, survive byte for byte in patched and unpatched resources.

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
fn unknown_fields_at_every_level_of_unpatched_resources_come_back_byte_identical() {
    let mut request = support::golden_request("nothing-annotated");
    // The listener's only chain is its default_filter_chain (field 25), an RDS HCM whose
    // route config has no selected route.
    let chain: &[(u32, usize)] = &[(25, 0)];
    let filter: &[(u32, usize)] = &[(25, 0), (3, 0)];
    let any: &[(u32, usize)] = &[(25, 0), (3, 0), (4, 0)];
    let hcm: &[(u32, usize)] = &[(25, 0), (3, 0), (4, 0), (2, 0)];
    let router: &[(u32, usize)] = &[(25, 0), (3, 0), (4, 0), (2, 0), (5, 0)];
    let router_any: &[(u32, usize)] = &[(25, 0), (3, 0), (4, 0), (2, 0), (5, 0), (4, 0)];
    let rds: &[(u32, usize)] = &[(25, 0), (3, 0), (4, 0), (2, 0), (3, 0)];
    request.listeners[0] = with_unknowns(
        &request.listeners[0],
        &[&[], chain, filter, any, hcm, router, router_any, rds],
    );
    let route_metadata: &[(u32, usize)] = &[(2, 0), (3, 0), (4, 0)];
    request.routes[0] = with_unknowns(
        &request.routes[0],
        &[
            &[],
            VHOST,
            SELECTED_ROUTE,
            PLAIN_ROUTE,
            route_metadata,
            &[(2, 0), (24, 0)],
        ],
    );
    for cluster in &mut request.clusters {
        *cluster = with_unknowns(cluster, &[&[], &[(3, 0)]]);
    }
    assert_unknowns_at(&request.listeners[0], router_any, "test setup");

    let outcome = Hook::new(Config::default()).post_translate_modify(request.clone());
    assert_eq!(
        outcome.response,
        xds_hook::contract::PostTranslateModifyResponse {
            clusters: request.clusters.clone(),
            secrets: request.secrets.clone(),
            listeners: request.listeners.clone(),
            routes: request.routes.clone(),
        },
        "nothing selected: every resource byte-identical, no processor cluster"
    );
    assert_eq!(
        outcome.report.summary().malformed,
        0,
        "unknowns are not errors"
    );
}

#[test]
fn unknown_fields_beside_the_edited_path_survive() {
    let mut request = support::golden_request("mixed-namespaces-and-schemes");
    // listeners[0]: the network filter and the Any that hold the patched HCM.
    let filter: &[(u32, usize)] = &[(3, 0), (3, 0)];
    let any: &[(u32, usize)] = &[(3, 0), (3, 0), (4, 0)];
    let rds: &[(u32, usize)] = &[(3, 0), (3, 0), (4, 0), (2, 0), (3, 0)];
    request.listeners[0] = with_unknowns(&request.listeners[0], &[filter, any, rds]);
    // listeners[1]: patched through its default_filter_chain (field 25), at every level.
    let d_chain: &[(u32, usize)] = &[(25, 0)];
    let d_filter: &[(u32, usize)] = &[(25, 0), (3, 0)];
    let d_any: &[(u32, usize)] = &[(25, 0), (3, 0), (4, 0)];
    let d_hcm: &[(u32, usize)] = &[(25, 0), (3, 0), (4, 0), (2, 0)];
    let d_router: &[(u32, usize)] = &[(25, 0), (3, 0), (4, 0), (2, 0), (5, 0)];
    request.listeners[1] = with_unknowns(
        &request.listeners[1],
        &[&[], d_chain, d_filter, d_any, d_hcm, d_router],
    );
    // routes[1]: its selected route's existing metadata, and the envoy-gateway entry in it.
    let metadata: &[(u32, usize)] = &[(2, 0), (3, 0), (4, 0)];
    let eg_entry: &[(u32, usize)] = &[(2, 0), (3, 0), (4, 0), (1, 0)];
    request.routes[1] = with_unknowns(&request.routes[1], &[&[], VHOST, metadata, eg_entry]);

    let outcome = Hook::new(Config::default()).post_translate_modify(request.clone());
    let response = &outcome.response;
    support::assert_nothing_lost(&request, response);
    let summary = outcome.report.summary();
    assert_eq!(
        (summary.chains_patched, summary.route_configs_patched),
        (2, 2)
    );

    for (path, what) in [
        (filter, "network filter"),
        (any, "typed_config Any"),
        (rds, "rds"),
    ] {
        assert_unknowns_at(&response.listeners[0], path, what);
    }
    let d_router_after: &[(u32, usize)] = &[(25, 0), (3, 0), (4, 0), (2, 0), (5, 1)];
    for (path, what) in [
        (&[][..], "listener"),
        (d_chain, "default_filter_chain"),
        (d_filter, "default chain network filter"),
        (d_any, "default chain typed_config Any"),
        (d_hcm, "default chain HCM"),
        (d_router_after, "default chain router"),
    ] {
        assert_unknowns_at(&response.listeners[1], path, what);
    }
    let routes = &response.routes[1];
    assert_ne!(routes, &request.routes[1], "route config 1 must be patched");
    for (path, what) in [
        (&[][..], "route configuration"),
        (VHOST, "virtual host"),
        (metadata, "selected route metadata"),
    ] {
        assert_unknowns_at(routes, path, what);
    }
    let eg_entry_bytes = at(&request.routes[1], eg_entry);
    assert!(
        xds_hook::wire::len_payloads(at(routes, metadata), 1).any(|e| e.unwrap() == eg_entry_bytes),
        "envoy-gateway metadata entry byte-identical"
    );
}

/// An `Any` of a type nobody compiled in, wrapped as the `payload_field` of a message that also
/// carries `name` in `name_field`.
fn future_typed(name_field: u32, name: &str, payload_field: u32) -> Vec<u8> {
    let mut any = Vec::new();
    xds_hook::wire::put_len(&mut any, 1, b"type.googleapis.com/example.future.v9.Thing");
    xds_hook::wire::put_len(&mut any, 2, &[0x0a, 0x03, b'n', b'e', b'w', 0x10, 0x2a]);
    let mut message = Vec::new();
    xds_hook::wire::put_len(&mut message, name_field, name.as_bytes());
    xds_hook::wire::put_len(&mut message, payload_field, &any);
    message
}

#[test]
fn unknown_any_payloads_in_patched_resources_pass_through() {
    let mut request = support::golden_request("mixed-namespaces-and-schemes");
    let record = |field: u32, message: &[u8]| {
        let mut record = Vec::new();
        xds_hook::wire::put_len(&mut record, field, message);
        record
    };
    // A listener filter (Listener.listener_filters = 9) and an HTTP filter (HCM.http_filters
    // = 5, appended after the router) of unknown types, on the patched listener.
    let listener_filter = record(9, &future_typed(1, "example.future.listener", 3));
    let http_filter = record(5, &future_typed(1, "example.future.http", 4));
    let mut listener = inject(&request.listeners[0], &[], &listener_filter);
    listener = inject(&listener, HCM, &http_filter);
    request.listeners[0] = listener.into();
    // typed_per_filter_config entries (map<string, Any>) of unknown types on the selected
    // route (field 13) and on its virtual host (field 15).
    let per_filter = |key: &str| {
        let mut entry = Vec::new();
        xds_hook::wire::put_len(&mut entry, 1, key.as_bytes());
        let any = future_typed(1, "unused", 2);
        xds_hook::wire::put_len(&mut entry, 2, at(&any, &[(2, 0)]));
        entry
    };
    let route_entry = record(13, &per_filter("example.future.http"));
    let vhost_entry = record(15, &per_filter("example.future.http"));
    let mut routes = inject(&request.routes[0], SELECTED_ROUTE, &route_entry);
    routes = inject(&routes, VHOST, &vhost_entry);
    request.routes[0] = routes.into();

    let outcome = Hook::new(Config::default()).post_translate_modify(request.clone());
    let response = &outcome.response;
    support::assert_nothing_lost(&request, response);
    let listener = &response.listeners[0];
    assert_ne!(listener, &request.listeners[0], "listener 0 patched");
    assert!(has_record(listener, &listener_filter), "listener filter");
    assert!(has_record(at(listener, HCM), &http_filter), "HTTP filter");
    let names: Vec<String> = xds_hook::wire::len_payloads(at(listener, HCM), 5)
        .map(|f| String::from_utf8(xds_hook::wire::first_len(f.unwrap(), 1).unwrap().to_vec()))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        names,
        [
            "envoy.filters.http.ext_proc/aigateway",
            "envoy.filters.http.router",
            "example.future.http"
        ],
        "the unknown filter keeps its place"
    );
    let routes = &response.routes[0];
    assert_ne!(routes, &request.routes[0], "route config 0 patched");
    assert!(has_record(at(routes, SELECTED_ROUTE), &route_entry));
    assert!(has_record(at(routes, VHOST), &vhost_entry));
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
