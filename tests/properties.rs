//! Properties over generated EG-shaped requests (`xds_hook::workload`): whatever the knobs and
//! the seed, the hook loses nothing, changes only what it decided to change, is idempotent,
//! patches exactly the chains whose route configurations have a selected route, and never puts
//! the processor after the router.
//!
//! `PROPTEST_CASES` sets the number of cases (default 64, which keeps `cargo test` quick).

use std::collections::HashSet;

use envoy_types::pb::envoy::config::listener::v3::{Listener, filter};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use proptest::prelude::*;
use prost::Message as _;
use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::report::Change;
use xds_hook::report::{ChainDecision, RouteDecision};
use xds_hook::workload::{Spec, generate};
use xds_hook::{Config, Hook, Outcome};

use crate::support;

const ROUTER: &str = "envoy.filters.http.router";
const HCM_TYPE: &str =
    "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";

prop_compose! {
    /// Small fleets of every shape: any seed, any mix of names, annotations and sizes.
    fn spec()(
        seed in any::<u64>(),
        listeners in 0usize..6,
        chains_per_listener in 1usize..4,
        routes_per_route_config in 0usize..8,
        annotated_fraction in 0.0f64..=1.0,
        clusters in 0usize..12,
        endpoints_per_cluster in 0usize..3,
        secrets in 0usize..3,
        namespaces in 1usize..5,
        v2_naming_fraction in 0.0f64..=1.0,
    ) -> Spec {
        Spec {
            seed,
            listeners,
            chains_per_listener,
            routes_per_route_config,
            annotated_fraction,
            clusters,
            endpoints_per_cluster,
            secrets,
            namespaces,
            v2_naming_fraction,
        }
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64),
        ..ProptestConfig::default()
    }
}

/// Every input resource is in the response, in order; unchanged ones are byte-identical.
fn nothing_lost_and_only_decided_changes(request: &PostTranslateModifyRequest, outcome: &Outcome) {
    let response = &outcome.response;
    let report = &outcome.report;
    support::assert_nothing_lost(request, response);

    for (i, (before, after)) in request
        .listeners
        .iter()
        .zip(&response.listeners)
        .enumerate()
    {
        let patched = report.decisions.listeners[i]
            .iter()
            .any(|d| matches!(d, ChainDecision::Patch(_)));
        assert_eq!(
            before != after,
            patched,
            "listeners[{i}] changed iff patched"
        );
    }
    for (i, (before, after)) in request.routes.iter().zip(&response.routes).enumerate() {
        assert_eq!(
            before != after,
            report.route_changes[i] == Change::Changed,
            "route config {i} changed iff the report says so"
        );
    }
    let patched_clusters: HashSet<usize> = report.upstream.patched_positions().collect();
    for (i, (before, after)) in request.clusters.iter().zip(&response.clusters).enumerate() {
        assert_eq!(
            before != after,
            patched_clusters.contains(&i),
            "clusters[{i}] changed iff the report says it was patched"
        );
    }
}

/// A chain is patched exactly when its route configuration has a selected route.
fn patched_chains_are_those_with_selected_routes(outcome: &Outcome) {
    let report = &outcome.report;
    support::assert_chains_patched_where_routes_selected(report);
    let selected_routes = report
        .decisions
        .route_configs
        .iter()
        .flat_map(|rc| rc.virtual_hosts.iter().flatten())
        .filter(|d| matches!(d, RouteDecision::Selected(_)))
        .count();
    assert_eq!(selected_routes, report.summary().routes_selected);
}

/// In every HCM of the response, the processor (when present) comes before the router. Read
/// with Envoy's own types, not the hook's index.
fn processor_never_after_router(response: &PostTranslateModifyResponse, filter_name: &str) {
    for (l, listener) in response.listeners.iter().enumerate() {
        let Ok(listener) = Listener::decode(listener.as_ref()) else {
            continue;
        };
        let chains = listener
            .filter_chains
            .iter()
            .chain(&listener.default_filter_chain);
        for (c, chain) in chains.enumerate() {
            let hcms = chain
                .filters
                .iter()
                .filter_map(|f| match &f.config_type {
                    Some(filter::ConfigType::TypedConfig(any)) => Some(any),
                    _ => None,
                })
                .filter(|any| any.type_url.ends_with(HCM_TYPE))
                .filter_map(|any| HttpConnectionManager::decode(any.value.as_slice()).ok());
            for hcm in hcms {
                let position = |name: &str| hcm.http_filters.iter().position(|f| f.name == name);
                if let (Some(ours), Some(router)) = (position(filter_name), position(ROUTER)) {
                    assert!(
                        ours < router,
                        "listeners[{l}] {} chain {c}: processor at {ours}, router at {router}",
                        listener.name,
                    );
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn hook_properties_hold_on_generated_requests(spec in spec()) {
        let hook = Hook::new(Config::default());
        let request = generate(&spec);
        let outcome = hook.post_translate_modify(request.clone());

        nothing_lost_and_only_decided_changes(&request, &outcome);
        patched_chains_are_those_with_selected_routes(&outcome);
        processor_never_after_router(&outcome.response, &hook.config().ext_proc.filter_name);

        let again = hook.post_translate_modify(support::as_request(&outcome.response));
        prop_assert_eq!(&again.response, &outcome.response, "applying twice equals once");
    }
}
