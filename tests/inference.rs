//! InferencePool cases the goldens do not show: what `PostTranslateModify` does when the other
//! hooks did not run or their records were damaged, and how EG's order stops on a pool the
//! hook cannot serve. Each starts from a golden case played through EG's order, then breaks one
//! thing, and checks the outcome, the reason (as explained and as counted) and what is left
//! as it came.

use bytes::Bytes;
use serde_json::Value;
use xds_hook::contract::PostTranslateModifyRequest;
use xds_hook::format;
use xds_hook::inference::flow::{self, FlowError, HookName};
use xds_hook::inference::report::PoolSkipReason;
use xds_hook::{Config, Hook};

use crate::support::{self, eg_flow};

const ROUTE_CONFIG: &str = "envoy.config.route.v3.RouteConfiguration";
const CLUSTER: &str = "envoy.config.cluster.v3.Cluster";

/// A golden case's request after the Route and Cluster hooks, as `PostTranslateModify` gets it.
fn after_hooks(hook: &Hook, case: &str) -> PostTranslateModifyRequest {
    let dir = support::repo().join("testdata/golden").join(case);
    let request = support::golden_request(case);
    eg_flow::run(hook, request, &dir.join("extensions.yaml")).request
}

/// Rewrites route configuration `rc` through its JSON form.
fn edit_route_config(
    request: &mut PostTranslateModifyRequest,
    rc: usize,
    edit: impl FnOnce(&mut Value),
) {
    let mut json = format::to_json(&request.routes[rc], ROUTE_CONFIG).unwrap();
    edit(&mut json);
    request.routes[rc] = format::text_to_binary(&json, ROUTE_CONFIG, "edited")
        .unwrap()
        .into();
}

fn skip_labels(
    hook: &Hook,
    request: PostTranslateModifyRequest,
) -> (Vec<&'static str>, String, xds_hook::Outcome) {
    let outcome = hook.post_translate_modify(request);
    let report = &outcome.report;
    let labels = report
        .inference
        .skips(&report.index)
        .into_iter()
        .map(|(reason, _, _)| reason.label())
        .collect();
    let explain = report.explain("ai-gateway-generated");
    (labels, explain, outcome)
}

#[test]
fn a_pool_route_whose_cluster_was_not_prepared_is_enabled_and_reported() {
    let hook = Hook::new(Config::default());
    let mut request = after_hooks(&hook, "inference-one-pool");
    // EG without Cluster in hooks.xdsTranslator.post: the pool's cluster as EG built it.
    request.clusters[0] = support::golden_request("inference-one-pool").clusters[0].clone();
    let (labels, explain, outcome) = skip_labels(&hook, request);
    assert_eq!(labels, [PoolSkipReason::ClusterUnprepared.label()]);
    assert!(
        explain.contains(
            "but cluster \"httproute/default/llm/rule/0\" was not prepared for the pool (no \
             ORIGINAL_DST record): is Cluster in EG's hooks.xdsTranslator.post?"
        ),
        "{explain}"
    );
    // The picker still runs: its filter and cluster are there, the route enables it.
    assert_eq!(outcome.report.inference.routes_enabled(), 1);
    assert_eq!(outcome.report.inference.clusters_added(), 1);
}

#[test]
fn a_damaged_pool_record_leaves_its_route_alone_with_the_reason() {
    let hook = Hook::new(Config::default());
    let mut request = after_hooks(&hook, "inference-one-pool");
    edit_route_config(&mut request, 0, |rc| {
        let record = &mut rc["virtualHosts"][0]["routes"][0]["metadata"]["filterMetadata"]["xds-hook.inference"];
        record["endpoint_picker_port"] = "ninety".into();
    });
    let before = request.clone();
    let (labels, explain, outcome) = skip_labels(&hook, request);
    assert_eq!(labels, [PoolSkipReason::RecordMalformed.label()]);
    assert!(
        explain.contains("endpoint_picker_port: \"ninety\" is not a port"),
        "{explain}"
    );
    // Nothing is wired for it: every resource as it came, no picker cluster.
    assert_eq!(outcome.response.listeners, before.listeners);
    assert_eq!(outcome.response.routes, before.routes);
    assert_eq!(outcome.response.clusters, before.clusters);
}

#[test]
fn two_routes_recording_one_pool_with_different_pickers_keep_the_first() {
    let hook = Hook::new(Config::default());
    let mut request = after_hooks(&hook, "inference-two-pools");
    // The qwen route now records pool default/llama, with qwen's picker.
    edit_route_config(&mut request, 0, |rc| {
        let record = &mut rc["virtualHosts"][0]["routes"][1]["metadata"]["filterMetadata"]["xds-hook.inference"];
        record["pool_name"] = "llama".into();
    });
    let (labels, explain, outcome) = skip_labels(&hook, request);
    assert_eq!(labels, [PoolSkipReason::Conflict.label()]);
    assert!(
        explain.contains("records pool default/llama with another endpoint picker"),
        "{explain}"
    );
    let inference = &outcome.report.inference;
    assert_eq!(inference.routes_enabled(), 1);
    assert_eq!(inference.pickers.len(), 1);
    assert_eq!(inference.pickers[0].pool.picker.service, "llama-epp");
}

#[test]
fn a_malformed_pool_stops_eg_s_order_naming_the_field() {
    let hook = Hook::new(Config::default());
    let request = support::golden_request("inference-one-pool");
    let dir = support::repo().join("testdata/golden/inference-one-pool");
    let mut routes = eg_flow::extended_routes(&request, &dir.join("extensions.yaml"));
    let mut pool: Value = serde_json::from_slice(&routes[0].objects[0]).unwrap();
    pool["spec"]["endpointPickerRef"]["failureMode"] = "Sometimes".into();
    routes[0].objects = vec![Bytes::from(serde_json::to_vec(&pool).unwrap())];
    let error = flow::run(&hook, request, &routes).unwrap_err();
    assert!(
        matches!(
            &error,
            FlowError::Refused {
                hook: HookName::Route,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "PostRouteModify on route \"httproute/default/llm/rule/0/match/0/*\": InferencePool \
         default/vllm-llama3: spec.endpointPickerRef.failureMode: \"Sometimes\": expected \
         FailOpen or FailClose"
    );
}

#[test]
fn resources_without_a_pool_come_back_byte_for_byte_from_the_route_and_cluster_hooks() {
    let hook = Hook::new(Config::default());
    let request = support::golden_request("inference-two-pools");
    let dir = support::repo().join("testdata/golden/inference-two-pools");
    let translation = eg_flow::run(&hook, request.clone(), &dir.join("extensions.yaml"));
    // clusters[2] is the tagged route's: its context held a filter object only.
    assert_eq!(translation.request.clusters[2], request.clusters[2]);
    let tagged = |r: &PostTranslateModifyRequest| {
        let vhost = xds_hook::wire::first_len(&r.routes[0], 2).unwrap().to_vec();
        let route = xds_hook::wire::len_payloads(&vhost, 3)
            .nth(2)
            .unwrap()
            .unwrap();
        route.to_vec()
    };
    assert_eq!(
        tagged(&translation.request),
        tagged(&request),
        "byte for byte"
    );
    // The pool clusters changed, and only them.
    for (i, (before, after)) in request
        .clusters
        .iter()
        .zip(&translation.request.clusters)
        .enumerate()
    {
        let json = format::to_json(after, CLUSTER).unwrap();
        assert_eq!(json["type"] == "ORIGINAL_DST", i < 2, "clusters[{i}]");
        assert_eq!(before == after, i == 2, "clusters[{i}]");
    }
}

/// Every truncation of a pool's route and cluster, and garbage, is answered or refused with
/// `INVALID_ARGUMENT`, never a panic; what is answered still reads as its Envoy type.
#[test]
fn broken_resources_with_a_pool_are_answered_or_refused_never_a_panic() {
    use prost::Message as _;
    use xds_hook::contract::{
        ExtensionResource, PostClusterExtensionContext, PostClusterModifyRequest,
        PostRouteExtensionContext, PostRouteModifyRequest,
    };
    let hook = Hook::new(Config::default());
    let dir = support::repo().join("testdata/golden/inference-one-pool");
    let request = support::golden_request("inference-one-pool");
    let routes = eg_flow::extended_routes(&request, &dir.join("extensions.yaml"));
    let objects: Vec<ExtensionResource> = routes[0]
        .objects
        .iter()
        .map(|o| ExtensionResource {
            unstructured_bytes: o.clone(),
        })
        .collect();
    let route_context: Bytes = PostRouteExtensionContext {
        extension_resources: objects.clone(),
        ..Default::default()
    }
    .encode_to_vec()
    .into();
    let cluster_context: Bytes = PostClusterExtensionContext {
        backend_extension_resources: objects,
    }
    .encode_to_vec()
    .into();
    let vhost = xds_hook::wire::first_len(&request.routes[0], 2).unwrap();
    let route = xds_hook::wire::first_len(vhost, 3).unwrap().to_vec();
    let cluster = request.clusters[0].to_vec();
    let mut inputs: Vec<(bool, Vec<u8>)> = Vec::new();
    for (is_route, bytes) in [(true, &route), (false, &cluster)] {
        for end in 0..bytes.len() {
            inputs.push((is_route, bytes[..end].to_vec()));
        }
        inputs.push((is_route, b"\xff\xff\xff\xff".to_vec()));
    }
    let (mut answered, mut refused) = (0, 0);
    for (is_route, bytes) in inputs {
        let input = bytes.clone();
        let answer = if is_route {
            hook.post_route_modify(PostRouteModifyRequest {
                route: Some(bytes.into()),
                post_route_context: Some(route_context.clone()),
            })
            .map(|a| (a.response.route, ROUTE))
        } else {
            hook.inference()
                .post_cluster_modify(PostClusterModifyRequest {
                    cluster: Some(bytes.into()),
                    post_cluster_context: Some(cluster_context.clone()),
                })
                .map(|a| (a.response.cluster, CLUSTER))
        };
        match answer {
            Ok((Some(out), kind)) => {
                answered += 1;
                // A truncation may cut a record off cleanly: what comes back decodes as its
                // type whenever what went in did.
                if format::to_json(&input, kind).is_ok() {
                    format::to_json(&out, kind).unwrap();
                }
            }
            Ok((None, _)) => answered += 1,
            Err(refusal) => {
                refused += 1;
                assert!(
                    refusal.to_string().contains("default/vllm-llama3"),
                    "{refusal}"
                );
            }
        }
    }
    assert!(
        answered > 0 && refused > 0,
        "{answered} answered, {refused} refused"
    );
}

const ROUTE: &str = "envoy.config.route.v3.Route";
