//! Real Envoy Gateway translator output (`../shared/corpus/eg-xds`, read in place, never
//! copied here): the hook changes nothing when no route is annotated, patches every chain
//! whose routes are annotated, loses nothing, and is idempotent.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;

use serde_json::{Value, json};
use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::format::{self, text_to_binary};
use xds_hook::select::{ChainDecision, RouteDecision};
use xds_hook::{Config, Hook};

use crate::support;

pub fn scenarios() -> Vec<std::path::PathBuf> {
    let Some(corpus) = support::corpus() else {
        eprintln!("../shared/corpus/eg-xds not present; corpus checks skipped");
        return Vec::new();
    };
    let dirs = support::subdirs(&corpus);
    assert!(!dirs.is_empty(), "corpus directory is empty");
    dirs
}

/// Annotates every other route of a scenario's route configurations (adding EG metadata in
/// the `envoy-gateway` namespace where a route has none, as EG's V2 test data omits it).
pub fn annotated_routes(dir: &Path) -> Vec<bytes::Bytes> {
    let path = dir.join("routes.yaml");
    if !path.exists() {
        return Vec::new();
    }
    let mut configs: Vec<Value> =
        serde_saphyr::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut n = 0;
    for rc in &mut configs {
        for vhost in rc["virtualHosts"].as_array_mut().into_iter().flatten() {
            for route in vhost["routes"].as_array_mut().into_iter().flatten() {
                n += 1;
                if n % 2 == 0 {
                    continue;
                }
                let resources =
                    &mut route["metadata"]["filterMetadata"]["envoy-gateway"]["resources"];
                if !resources.is_array() {
                    *resources = json!([{"kind": "HTTPRoute", "name": format!("route-{n}"), "namespace": "envoy-gateway"}]);
                }
                resources[0]["annotations"]["ai-gateway-generated"] = json!("true");
            }
        }
    }
    configs
        .iter()
        .map(|rc| {
            text_to_binary(rc, "envoy.config.route.v3.RouteConfiguration", "routes")
                .unwrap()
                .into()
        })
        .collect()
}

pub fn echo(request: &PostTranslateModifyRequest) -> PostTranslateModifyResponse {
    PostTranslateModifyResponse {
        clusters: request.clusters.clone(),
        secrets: request.secrets.clone(),
        listeners: request.listeners.clone(),
        routes: request.routes.clone(),
    }
}

#[test]
fn unannotated_scenarios_come_back_unchanged() {
    let hook = Hook::new(Config::default());
    for dir in scenarios() {
        let request = format::read_resource_dir(&dir).unwrap();
        let outcome = hook.post_translate_modify(request.clone());
        assert_eq!(outcome.response, echo(&request), "{}", dir.display());
    }
}

#[test]
fn annotated_scenarios_are_patched_exactly_where_routes_are_selected() {
    let hook = Hook::new(Config::default());
    let mut patched_total = 0;
    let mut clusters_total = 0;
    for dir in scenarios() {
        let name = dir.display().to_string();
        let mut request = format::read_resource_dir(&dir).unwrap();
        request.routes = annotated_routes(&dir);
        let outcome = hook.post_translate_modify(request.clone());
        support::assert_nothing_lost(&request, &outcome.response);

        let report = &outcome.report;
        support::assert_chains_patched_where_routes_selected(report);
        let listeners = report
            .index
            .listeners
            .iter()
            .zip(&report.decisions.listeners);
        let bytes = request.listeners.iter().zip(&outcome.response.listeners);
        for ((listener, decisions), (before, after)) in listeners.zip(bytes) {
            let patched = decisions
                .iter()
                .any(|d| matches!(d, ChainDecision::Patch(_)));
            assert_eq!(
                before != after,
                patched,
                "{name}: listener {} changed iff patched",
                listener.name
            );
            patched_total += usize::from(patched);
        }

        // Clusters: changed exactly when a selected route targets them, found independently
        // here from the index (route → cluster name → position).
        let targeted: std::collections::HashSet<usize> = report
            .index
            .route_configs
            .iter()
            .zip(&report.decisions.route_configs)
            .filter_map(|(rc, d)| {
                let vhosts = rc.virtual_hosts.as_ref().ok()?;
                Some(vhosts.iter().zip(&d.virtual_hosts).map(move |v| (rc, v)))
            })
            .flatten()
            .flat_map(|(rc, (vhost, routes))| vhost.routes.iter().zip(routes).map(move |r| (rc, r)))
            .filter(|(_, (_, d))| matches!(d, RouteDecision::Selected(_)))
            .filter_map(|(rc, (route, _))| Some((rc, route.targets.clusters()?.0)))
            .flat_map(|(rc, names)| names.iter().map(move |name| rc.text(*name)))
            .filter_map(|name| report.index.clusters.position(name))
            .collect();
        for (i, (before, after)) in request
            .clusters
            .iter()
            .zip(&outcome.response.clusters)
            .enumerate()
        {
            assert_eq!(
                before != after,
                targeted.contains(&i),
                "{name}: clusters[{i}] changed iff a selected route targets it"
            );
        }
        clusters_total += targeted.len();

        let again = hook.post_translate_modify(support::as_request(&outcome.response));
        assert_eq!(again.response, outcome.response, "{name}: idempotent");
    }
    if support::corpus().is_some() {
        assert!(
            patched_total >= 20,
            "only {patched_total} listeners patched across the corpus"
        );
        assert!(
            clusters_total >= 20,
            "only {clusters_total} backend clusters patched across the corpus"
        );
    }
}
