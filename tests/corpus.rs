//! Real Envoy Gateway translator output (`../shared/corpus/eg-xds`, read in place, never
//! copied here): the hook changes nothing when no route is annotated, patches every chain
//! whose routes are annotated, loses nothing, and is idempotent.

use std::path::Path;

use serde_json::{Value, json};
use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::format::{self, Input, Node, text_to_binary};
use xds_hook::offline;
use xds_hook::report::{ChainDecision, RouteDecision};
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

const MESSAGES: [(&str, &str); 4] = [
    (
        "envoy.admin.v3.ClustersConfigDump",
        "envoy.config.cluster.v3.Cluster",
    ),
    (
        "envoy.admin.v3.SecretsConfigDump",
        "envoy.extensions.transport_sockets.tls.v3.Secret",
    ),
    (
        "envoy.admin.v3.ListenersConfigDump",
        "envoy.config.listener.v3.Listener",
    ),
    (
        "envoy.admin.v3.RoutesConfigDump",
        "envoy.config.route.v3.RouteConfiguration",
    ),
];

/// A request's resources as an Envoy `ConfigDump` (`configs: [...]`) in `style`, with a
/// bootstrap section the hook must leave alone.
fn config_dump(request: &PostTranslateModifyRequest, style: format::KeyStyle) -> Value {
    let snake = style == format::KeyStyle::Snake;
    let key = |camel: &str, snake_key: &str| {
        if snake {
            snake_key.to_owned()
        } else {
            camel.to_owned()
        }
    };
    let lists = [
        &request.clusters,
        &request.secrets,
        &request.listeners,
        &request.routes,
    ];
    let mut configs = vec![json!({
        "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
        "bootstrap": {"node": {"id": "corpus"}},
    })];
    for ((section, message), list) in MESSAGES.iter().zip(lists) {
        let entries: Vec<Value> = list
            .iter()
            .map(|bytes| {
                let mut resource = format::to_json_styled(bytes, message, style).unwrap();
                resource["@type"] = json!(format!("type.googleapis.com/{message}"));
                match *section {
                    "envoy.admin.v3.ListenersConfigDump" => {
                        json!({key("activeState", "active_state"): {"listener": resource}})
                    }
                    "envoy.admin.v3.RoutesConfigDump" => {
                        json!({key("routeConfig", "route_config"): resource})
                    }
                    "envoy.admin.v3.ClustersConfigDump" => json!({"cluster": resource}),
                    _ => json!({"secret": resource}),
                }
            })
            .collect();
        let list_key = match *section {
            "envoy.admin.v3.ListenersConfigDump" => key("dynamicListeners", "dynamic_listeners"),
            "envoy.admin.v3.RoutesConfigDump" => {
                key("dynamicRouteConfigs", "dynamic_route_configs")
            }
            "envoy.admin.v3.ClustersConfigDump" => {
                key("dynamicActiveClusters", "dynamic_active_clusters")
            }
            _ => key("dynamicActiveSecrets", "dynamic_active_secrets"),
        };
        configs.push(json!({"@type": format!("type.googleapis.com/{section}"), list_key: entries}));
    }
    json!({ "configs": configs })
}

/// Every resource of a request (or response) in canonical JSON, per kind.
fn canonical(lists: [&[bytes::Bytes]; 4]) -> Vec<Vec<Value>> {
    lists
        .iter()
        .zip(MESSAGES)
        .map(|(list, (_, message))| {
            list.iter()
                .map(|r| format::to_json(r, message).unwrap())
                .collect()
        })
        .collect()
}

/// Checks a dump written by `apply`: each Gateway's resources are the hook's response to the
/// scenario's request, and nothing else of the input changed.
fn check_output(
    name: &str,
    input: &Value,
    output: &[u8],
    fmt: format::Format,
    expected: &[(String, PostTranslateModifyResponse)],
) {
    let Input::Dump(dump) = format::decode_input(output, fmt).unwrap() else {
        panic!("{name}: output is not a dump")
    };
    assert_eq!(dump.gateways.len(), expected.len(), "{name}");
    for (gateway, (scenario, response)) in dump.gateways.iter().zip(expected) {
        let read = &gateway.request;
        assert_eq!(
            canonical([&read.clusters, &read.secrets, &read.listeners, &read.routes]),
            canonical([
                &response.clusters,
                &response.secrets,
                &response.listeners,
                &response.routes
            ]),
            "{name}: {scenario}"
        );
    }
    let input: Node = serde_json::from_value(input.clone()).unwrap();
    crate::support::document::assert_kept(&input, &dump.doc, name);
}

#[test]
fn apply_on_dumps_built_from_the_corpus_gives_each_gateways_response() {
    // Absent: `support::corpus` fails under CI (or XDS_HOOK_REQUIRE_CORPUS=1) and says why.
    if support::corpus().is_none() {
        return;
    }
    let hook = Hook::new(Config::default());
    let tmp = tempfile::tempdir().unwrap();
    let mut gateways = serde_json::Map::new();
    let mut expected = Vec::new();
    for dir in scenarios() {
        let scenario = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut request = format::read_resource_dir(&dir).unwrap();
        request.routes = annotated_routes(&dir);
        let response = hook.post_translate_modify(request.clone()).response;

        // Envoy's own /config_dump of that proxy, snake_case, through the library.
        let raw = config_dump(&request, format::KeyStyle::Snake);
        let input = format::decode_input(raw.to_string().as_bytes(), format::Format::Json).unwrap();
        let run = offline::run(&hook, input, None).unwrap();
        let (out, _) = run.output(format::Format::Json).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            !text.contains("\"typedConfig\""),
            "{scenario}: stays snake_case"
        );
        let pair = vec![(scenario.clone(), response.clone())];
        check_output(
            &format!("{scenario} (config dump)"),
            &raw,
            &out,
            format::Format::Json,
            &pair,
        );

        gateways.insert(
            format!("envoy-gateway/{scenario}"),
            config_dump(&request, format::KeyStyle::Camel),
        );
        expected.push((scenario, response));
    }
    // Every scenario a Gateway of one egctl x translate output, through the binary.
    let translate = json!({"gatewayClass": {"metadata": {"name": "eg"}}, "xds": gateways});
    let input = tmp.path().join("translate.json");
    std::fs::write(&input, translate.to_string()).unwrap();
    let output = tmp.path().join("translate.out.yaml");
    assert!(crate::cli::apply_quietly(&input, &output).success());
    let out = std::fs::read(&output).unwrap();
    check_output(
        "translate",
        &translate,
        &out,
        format::Format::Yaml,
        &expected,
    );

    // Applying the output again changes nothing.
    let again = tmp.path().join("again.yaml");
    assert!(crate::cli::apply_quietly(&output, &again).success());
    assert_eq!(std::fs::read(&again).unwrap(), out, "idempotent");
}
