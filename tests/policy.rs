//! ProcessorPolicies through the gRPC service, as EG calls it: a route-level policy recorded
//! by `PostRouteModify` and honoured by the Gateway's `PostTranslateModify`; and contexts that
//! hold nothing of ours changing no byte of the response.

use bytes::Bytes;
use prost::Message as _;
use xds_hook::contract::*;
use xds_hook::policy::verdict::Outcome;
use xds_hook::report::RouteDecision;
use xds_hook::{Config, Hook, policy};

use xds_hook::contract::service::envoy_gateway_extension_client::EnvoyGatewayExtensionClient;

use crate::server::Running;
use crate::support;

/// A route-level policy exactly as EG v1.9 sends it to `PostRouteModify`: targeting the
/// HTTPRoute, accepted for the Gateway listener its parentRef names.
fn route_policy(name: &str, routes: &str) -> ExtensionResource {
    let json = format!(
        r#"{{"apiVersion":"policy.xds-hook.dev/v1alpha1","kind":"ProcessorPolicy","metadata":{{"creationTimestamp":"2026-05-01T10:00:00Z","generation":1,"name":"{name}","namespace":"default"}},"spec":{{"routes":"{routes}","targetRefs":[{{"group":"gateway.networking.k8s.io","kind":"HTTPRoute","name":"site"}}]}},"status":{{"ancestors":[{{"ancestorRef":{{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"public","namespace":"default","sectionName":"http"}},"conditions":[{{"lastTransitionTime":null,"message":"Policy has been accepted.","observedGeneration":1,"reason":"Accepted","status":"True","type":"Accepted"}}],"controllerName":"gateway.envoyproxy.io/gatewayclass-controller"}}]}}}}
"#
    );
    ExtensionResource {
        unstructured_bytes: json.into(),
    }
}

/// Replaces route `r` of virtual host `vh` of route configuration `rc` (positions) in an
/// encoded request, as EG assembles the routes PostRouteModify returned.
fn with_route(request: &mut PostTranslateModifyRequest, rc: usize, route: &Bytes) {
    use envoy_types::pb::envoy::config::route::v3::{Route, RouteConfiguration};
    let mut config = RouteConfiguration::decode(request.routes[rc].clone()).unwrap();
    config.virtual_hosts[0].routes[0] = Route::decode(route.clone()).unwrap();
    request.routes[rc] = config.encode_to_vec().into();
}

fn first_route(request: &PostTranslateModifyRequest, rc: usize) -> Bytes {
    use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
    let config = RouteConfiguration::decode(request.routes[rc].clone()).unwrap();
    config.virtual_hosts[0].routes[0].encode_to_vec().into()
}

#[tokio::test]
async fn a_route_opted_in_by_policy_is_processed_without_the_annotation() {
    let server = Running::start(Config::default()).await;
    let mut client = EnvoyGatewayExtensionClient::new(server.channel.clone());
    // default-and-team-a: the unannotated HTTPRoute default/site is route configuration 0.
    let mut request = support::golden_request("default-and-team-a");
    let context = PostRouteExtensionContext {
        extension_resources: Vec::new(),
        hostnames: vec!["www.example.com".to_owned()],
        extension_policies: vec![
            route_policy("defers", "Annotation"),
            route_policy("opt-in", "All"),
        ],
    };
    let recorded = client
        .post_route_modify(PostRouteModifyRequest {
            route: Some(first_route(&request, 0)),
            post_route_context: Some(context.encode_to_vec().into()),
        })
        .await
        .unwrap()
        .into_inner()
        .route
        .unwrap();
    assert_ne!(recorded, first_route(&request, 0), "nothing recorded");
    with_route(&mut request, 0, &recorded);

    let response = client
        .post_translate_modify(request.clone())
        .await
        .unwrap()
        .into_inner();
    let outcome = Hook::new(Config::default()).post_translate_modify(request);
    assert_eq!(response, outcome.response);
    let decision = &outcome.report.decisions.route_configs[0].virtual_hosts[0][0];
    assert!(
        matches!(decision, RouteDecision::Selected(name) if name == "default/site"),
        "{decision:?}"
    );
    let explained = outcome.report.explain("ai-gateway-generated");
    assert!(
        explained.contains("policy default/opt-in (HTTPRoute)"),
        "{explained}"
    );
    server.stop().await;
}

#[test]
fn contexts_without_our_policies_change_no_byte() {
    let hook = Hook::new(Config::default());
    let request = support::golden_request("mixed-namespaces-and-schemes");
    let plain = hook.post_translate_modify(request.clone());
    assert!(plain.report.policies.is_none());

    let mut empty = request.clone();
    empty.post_translate_context = Some(Bytes::new());
    let outcome = hook.post_translate_modify(empty);
    assert_eq!(outcome.response, plain.response);
    assert!(
        outcome.report.policies.is_none(),
        "an empty context is none"
    );

    let foreign = serde_json::json!({"apiVersion": "foo.example.io/v1alpha1", "kind": "Bar",
        "metadata": {"name": "x", "namespace": "default"}, "spec": {}});
    let mut other = request;
    other.post_translate_context = Some(policy::fixture::context(&[foreign]));
    let outcome = hook.post_translate_modify(other);
    assert_eq!(outcome.response, plain.response);
    let verdicts = &outcome.report.policies.as_ref().unwrap().verdicts;
    assert_eq!(verdicts.len(), 1);
    assert!(
        matches!(verdicts[0].outcome, Outcome::Foreign { .. }),
        "{verdicts:?}"
    );
}

/// `--policies` gives `explain` what the golden kit gives a case with `policies.yaml`.
#[test]
fn explain_with_policies_prints_what_the_golden_case_holds() {
    for case in ["policy-two-tenants", "policy-listener-override"] {
        let dir = support::repo().join("testdata/golden").join(case);
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_xds-hook"));
        if dir.join("config.yaml").exists() {
            command.arg("--config").arg(dir.join("config.yaml"));
        }
        let output = command
            .arg("--policies")
            .arg(dir.join(policy::fixture::FILE))
            .args(["--log", "warn", "explain", "--input"])
            .arg(dir.join("input.yaml"))
            .output()
            .unwrap();
        assert!(output.status.success(), "{case}: {output:?}");
        let expected = std::fs::read_to_string(dir.join("explain.txt")).unwrap();
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            expected,
            "{case}"
        );
    }
}

/// Rule numbers (in the backend names of HTTPRoutes the AI Gateway did not generate) count
/// every rule of the HTTPRoute, whatever the policies on its other rules decided: opting rule 0
/// out leaves rule 1 named rule 1, and opting rule 1 in without the annotation names it rule 1
/// too.
#[test]
fn rule_numbers_do_not_depend_on_the_choices_of_other_rules() {
    use envoy_types::pb::envoy::config::route::v3::{Route, RouteConfiguration};
    use envoy_types::pb::google::protobuf::value::Kind;
    let hook = Hook::new(Config::default());
    let with_choice = |request: &PostTranslateModifyRequest, r: usize, routes: &str| {
        let mut config = RouteConfiguration::decode(request.routes[0].clone()).unwrap();
        let route = config.virtual_hosts[0].routes[r].encode_to_vec().into();
        let answer = hook
            .post_route_modify(PostRouteModifyRequest {
                route: Some(route),
                post_route_context: Some(
                    PostRouteExtensionContext {
                        extension_resources: Vec::new(),
                        hostnames: vec!["ai.example".to_owned()],
                        extension_policies: vec![route_policy("rule-choice", routes)],
                    }
                    .encode_to_vec()
                    .into(),
                ),
            })
            .unwrap();
        let recorded = answer.response.route.unwrap();
        config.virtual_hosts[0].routes[r] = Route::decode(recorded).unwrap();
        let mut request = request.clone();
        request.routes[0] = config.encode_to_vec().into();
        request
    };
    let rule_one = |request: PostTranslateModifyRequest| {
        let explained = hook
            .post_translate_modify(request)
            .report
            .explain("ai-gateway-generated");
        explained
            .lines()
            .find(|l| l.starts_with("cluster \"httproute/default/ai/rule/1\""))
            .unwrap_or_else(|| panic!("no line for rule 1's cluster:\n{explained}"))
            .to_owned()
    };
    // upstream-existing-protocol-options: HTTPRoute default/ai, annotated, rules 0 and 1 in
    // route configuration 0, each to its own cluster.
    let request = support::golden_request("upstream-existing-protocol-options");
    let expected = "default/codec-backend/route/ai/rule/1/ref/0";
    assert!(rule_one(request.clone()).contains(expected));

    let rule_zero_out = with_choice(&request, 0, "None");
    assert!(
        rule_one(rule_zero_out).contains(expected),
        "rule 0 opted out renumbered rule 1"
    );

    let mut unannotated = request.clone();
    let mut config = RouteConfiguration::decode(request.routes[0].clone()).unwrap();
    for route in &mut config.virtual_hosts[0].routes {
        let metadata = route.metadata.as_mut().unwrap();
        let eg = metadata.filter_metadata.get_mut("envoy-gateway").unwrap();
        let resources = eg.fields.get_mut("resources").unwrap();
        let Some(Kind::ListValue(list)) = resources.kind.as_mut() else {
            panic!("resources is a list");
        };
        let Some(Kind::StructValue(owner)) = list.values[0].kind.as_mut() else {
            panic!("resources[0] is a struct");
        };
        owner.fields.remove("annotations");
    }
    unannotated.routes[0] = config.encode_to_vec().into();
    let rule_one_in = with_choice(&unannotated, 1, "All");
    assert!(
        rule_one(rule_one_in).contains(expected),
        "rule 1 opted in alone numbered as if it were the first rule"
    );
}
