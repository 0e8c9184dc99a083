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
