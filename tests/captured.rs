//! Captured xDS in the shapes users hold (`testdata/captured`): each shape is told from its
//! content, each Gateway is its own hook call with its own resources, and the output is the
//! same document with only the resources the hook changed replaced: every other key kept, in
//! order, in the input's key style.

use std::path::PathBuf;

use xds_hook::format::{self, Dump, DumpKind, Format, Input, Node};
use xds_hook::offline::{self, Run};
use xds_hook::{Config, Hook};

use crate::support::{
    self,
    document::{assert_kept, field_names},
};

pub fn case(name: &str) -> PathBuf {
    let dir = support::repo().join("testdata/captured").join(name);
    ["input.json", "input.yaml"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name}: no input"))
}

fn dump(name: &str) -> Dump {
    match format::read_input(&case(name)).unwrap() {
        Input::Dump(dump) => dump,
        Input::Request(_) => panic!("{name}: read as a request, not a dump"),
    }
}

fn run(name: &str) -> Run {
    let input = format::read_input(&case(name)).unwrap();
    offline::run(&Hook::new(Config::default()), input, None).unwrap()
}

/// The run's output, read back as a document.
fn output_doc(run: &Run) -> Node {
    let (bytes, _) = run.output(Format::Json).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn input_doc(name: &str) -> Node {
    dump(name).doc
}

fn names(list: &[bytes::Bytes]) -> Vec<String> {
    list.iter()
        .map(|r| String::from_utf8(xds_hook::wire::first_len(r, 1).unwrap().to_vec()).unwrap())
        .collect()
}

const CASES: [&str; 5] = [
    "translate-three-gateways",
    "translate-routes-only-json",
    "envoy-proxy-two-pods",
    "envoy-proxy-already-patched",
    "admin-config-dump-snake-case",
];

#[test]
fn each_shape_is_told_from_content_with_its_gateways_in_input_order() {
    let expect: [(&str, DumpKind, &[&str]); 5] = [
        (
            "translate-three-gateways",
            DumpKind::Translate,
            &[
                "envoy-gateway/eg",
                "envoy-gateway-system/internal",
                "team-a/ai",
            ],
        ),
        (
            "translate-routes-only-json",
            DumpKind::Translate,
            &["envoy-gateway/eg", "team-a/ai"],
        ),
        (
            "envoy-proxy-two-pods",
            DumpKind::EnvoyProxy,
            &[
                "envoy-gateway-system/envoy-envoy-gateway-eg-5d8f7c9b6-x2x9k",
                "envoy-gateway-system/envoy-team-a-ai-7c6b5d4f8-k4m2p",
            ],
        ),
        (
            "envoy-proxy-already-patched",
            DumpKind::EnvoyProxy,
            &["team-a/envoy-team-a-ai-7c6b5d4f8-k4m2p"],
        ),
        ("admin-config-dump-snake-case", DumpKind::ConfigDump, &[""]),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (name, kind, gateways) in expect {
        let dump = dump(name);
        assert_eq!(dump.kind, kind, "{name}");
        let found: Vec<&str> = dump.gateways.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(found, gateways, "{name}");
        // The extension picks the codec only: JSON is YAML, and is still recognised.
        let text = std::fs::read(case(name)).unwrap();
        let renamed = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(&renamed, &text).unwrap();
        let Input::Dump(again) = format::read_input(&renamed).unwrap() else {
            panic!("{name} as .yaml: not a dump");
        };
        assert_eq!(again.kind, kind, "{name} as .yaml");
    }
}

#[test]
fn each_gateway_is_one_call_with_its_own_resources_only() {
    let dump = dump("translate-three-gateways");
    let [a, b, c] = &dump.gateways[..] else {
        panic!("three Gateways")
    };
    assert_eq!(
        names(&a.request.listeners),
        [
            "envoy-gateway-proxy-ready-0.0.0.0-19003",
            "envoy-gateway/eg/http"
        ]
    );
    assert_eq!(names(&a.request.routes), ["envoy-gateway/eg/http"]);
    assert_eq!(
        names(&a.request.clusters),
        [
            "httproute/envoy-gateway/chat/rule/0",
            "httproute/envoy-gateway/site/rule/0"
        ]
    );
    assert_eq!(names(&b.request.listeners), ["tcp-10081"]);
    assert_eq!(names(&b.request.routes), ["http-10081"]);
    assert_eq!(names(&c.request.listeners), ["team-a/ai/http"]);
    assert_eq!(names(&c.request.routes), ["team-a/ai/http"]);
    assert_eq!(c.request.clusters.len(), 2);

    // Warming and errored listeners, static resources and endpoints are not sent.
    let pods = self::dump("envoy-proxy-two-pods");
    let eg = &pods.gateways[0];
    assert_eq!(
        names(&eg.request.listeners),
        [
            "envoy-gateway-proxy-ready-0.0.0.0-19003",
            "envoy-gateway/eg/http"
        ]
    );
    assert_eq!(
        names(&eg.request.clusters),
        [
            "httproute/envoy-gateway/chat/rule/0",
            "httproute/envoy-gateway/site/rule/0"
        ]
    );
    assert!(eg.request.secrets.is_empty());
    assert_eq!(names(&pods.gateways[1].request.secrets), ["team-a/ai-tls"]);

    let run = run("translate-three-gateways");
    assert_eq!(run.calls.len(), 3);
    let titles: Vec<String> = run
        .calls
        .iter()
        .map(|c| c.origin.as_ref().unwrap().title.clone())
        .collect();
    assert_eq!(
        titles,
        [
            "Gateway envoy-gateway/eg",
            "Gateway envoy-gateway-system/internal",
            "Gateway team-a/ai"
        ]
    );
}

/// The dump a run read (its requests are what the hook got: protobuf JSON gives map entries
/// in no fixed order, so two reads of one file need not give the same bytes).
fn read_by(run: &Run) -> &Dump {
    match run.input() {
        Input::Dump(dump) => dump,
        Input::Request(_) => panic!("not a dump"),
    }
}

#[test]
fn a_gateway_without_ai_routes_comes_back_identical_while_the_others_change() {
    let run = run("translate-three-gateways");
    let responses: Vec<_> = run
        .calls
        .iter()
        .map(|c| &c.outcome.as_ref().unwrap().response)
        .collect();
    let dump = read_by(&run);
    let b = &dump.gateways[1];
    assert_eq!(responses[1].listeners, b.request.listeners, "B's listeners");
    assert_eq!(responses[1].routes, b.request.routes);
    assert_eq!(
        responses[1].clusters, b.request.clusters,
        "no processor for B"
    );
    for i in [0, 2] {
        assert_ne!(
            responses[i].listeners, dump.gateways[i].request.listeners,
            "gateway {i}: its AI chain is patched"
        );
    }
    let (input, output) = (input_doc("translate-three-gateways"), output_doc(&run));
    let gateway = |doc: &Node, name: &str| doc.get("xds").unwrap().get(name).unwrap().clone();
    assert_eq!(
        gateway(&input, "envoy-gateway-system/internal"),
        gateway(&output, "envoy-gateway-system/internal"),
        "B's whole dump, as it was written"
    );
    assert_ne!(gateway(&input, "team-a/ai"), gateway(&output, "team-a/ai"));
    for key in ["gatewayClass", "gateways", "httpRoutes"] {
        assert_eq!(input.get(key), output.get(key), "{key}");
    }
}

#[test]
fn nothing_is_dropped_and_keys_keep_their_order() {
    for name in CASES {
        let run = run(name);
        assert_kept(&input_doc(name), &output_doc(&run), name);
    }
}

#[test]
fn snake_case_stays_snake_case_and_camel_case_stays_camel_case() {
    let run = run("admin-config-dump-snake-case");
    let output = output_doc(&run);
    let mut keys = Vec::new();
    field_names(&output, &mut keys);
    let camel: Vec<&String> = keys
        .iter()
        .filter(|k| k.chars().any(|c| c.is_ascii_uppercase()) && !k.contains('.'))
        .collect();
    assert!(
        camel.is_empty(),
        "camelCase in a snake_case dump: {camel:?}"
    );
    let text = serde_json::to_string(&output).unwrap();
    for written in [
        "\"http_filters\"",
        "\"typed_extension_protocol_options\"",
        "\"aigw_route_name\"",
    ] {
        assert!(text.contains(written), "{written} in the patched resources");
    }
    assert!(
        text.contains("\"dynamic_active_clusters\"") && text.contains("ai-gateway-extproc-uds"),
        "the processor cluster joins the snake_case cluster list"
    );

    for name in ["envoy-proxy-two-pods", "translate-three-gateways"] {
        let mut keys = Vec::new();
        field_names(&output_doc(&self::run(name)), &mut keys);
        let snake: Vec<&String> = keys
            .iter()
            .filter(|k| k.contains('_') && !k.starts_with('@') && !k.contains('.'))
            .collect();
        assert!(
            snake.is_empty(),
            "{name}: snake_case in a camelCase dump: {snake:?}"
        );
    }
}

#[test]
fn an_already_patched_proxy_comes_back_as_it_was() {
    let name = "envoy-proxy-already-patched";
    let run = run(name);
    assert_eq!(output_doc(&run), input_doc(name));
    let dump = read_by(&run);
    let response = &run.calls[0].outcome.as_ref().unwrap().response;
    let request = &dump.gateways[0].request;
    assert_eq!(
        (
            &response.listeners,
            &response.routes,
            &response.clusters,
            &response.secrets
        ),
        (
            &request.listeners,
            &request.routes,
            &request.clusters,
            &request.secrets
        )
    );
}

#[test]
fn what_the_output_holds_is_each_gateways_response() {
    for name in CASES {
        let run = run(name);
        let (bytes, notes) = run.output(Format::Yaml).unwrap();
        let Input::Dump(out) = format::decode_input(&bytes, Format::Yaml).unwrap() else {
            panic!("{name}: output is not a dump");
        };
        assert_eq!(
            out.gateways.len(),
            run.calls.len(),
            "{name}: a Gateway per call"
        );
        for (call, gateway) in run.calls.iter().zip(&out.gateways) {
            let response = &call.outcome.as_ref().unwrap().response;
            let canonical = |list: &[bytes::Bytes], message: &str| -> Vec<serde_json::Value> {
                list.iter()
                    .map(|r| format::to_json(r, message).unwrap())
                    .collect()
            };
            let read = &gateway.request;
            assert_eq!(
                canonical(&read.listeners, "envoy.config.listener.v3.Listener"),
                canonical(&response.listeners, "envoy.config.listener.v3.Listener"),
                "{name} {}",
                gateway.name
            );
            assert_eq!(
                canonical(&read.routes, "envoy.config.route.v3.RouteConfiguration"),
                canonical(&response.routes, "envoy.config.route.v3.RouteConfiguration"),
            );
            let clusters = "envoy.config.cluster.v3.Cluster";
            if name == "translate-routes-only-json" {
                assert!(read.clusters.is_empty() && response.clusters.len() == 1);
            } else {
                assert_eq!(
                    canonical(&read.clusters, clusters),
                    canonical(&response.clusters, clusters),
                    "{name} {}",
                    gateway.name
                );
            }
        }
        let expect_notes = usize::from(name == "translate-routes-only-json") * 2;
        assert_eq!(notes.len(), expect_notes, "{name}: {notes:?}");
    }
}

/// Decodes a document given as JSON text.
fn decode(json: &serde_json::Value) -> Result<Input, String> {
    format::decode_input(json.to_string().as_bytes(), Format::Json).map_err(|e| e.to_string())
}

#[test]
fn bad_input_is_one_line_naming_the_key_path() {
    let base: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case("translate-routes-only-json")).unwrap())
            .unwrap();
    let mut broken = base.clone();
    broken["xds"]["team-a/ai"]["dynamicRouteConfigs"][0]["routeConfig"]["virtualHostz"] =
        serde_json::json!([]);
    let err = decode(&broken).unwrap_err();
    assert!(
        err.starts_with(r#"xds["team-a/ai"].dynamicRouteConfigs[0].routeConfig: "#),
        "{err}"
    );
    assert!(err.contains("virtualHostz") && !err.contains('\n'), "{err}");

    let mut broken = base.clone();
    broken["xds"]["team-a/ai"]["dynamicRouteConfigs"] = serde_json::json!({"a": 1});
    let err = decode(&broken).unwrap_err();
    assert_eq!(
        err,
        r#"xds["team-a/ai"].dynamicRouteConfigs: expected a list"#
    );

    let mut broken = base.clone();
    broken["xds"]["team-a/ai"]["dynamicRouteConfigs"][0]["routeConfig"]["@type"] =
        serde_json::json!("type.googleapis.com/envoy.config.listener.v3.Listener");
    let err = decode(&broken).unwrap_err();
    assert!(
        err.starts_with(r#"xds["team-a/ai"].dynamicRouteConfigs[0].routeConfig: "@type" is"#),
        "{err}"
    );

    let mut pods: serde_json::Value =
        serde_json::from_slice(&std::fs::read(case("envoy-proxy-two-pods")).unwrap()).unwrap();
    pods["envoy-gateway-system"]["envoy-team-a-ai-7c6b5d4f8-k4m2p"]["configs"][2]["dynamicListeners"]
        [0]["activeState"]["listener"]["filterChainz"] = serde_json::json!([]);
    let err = decode(&pods).unwrap_err();
    assert!(
        err.starts_with(
            r#"["envoy-gateway-system"]["envoy-team-a-ai-7c6b5d4f8-k4m2p"].configs[2].dynamicListeners[0].activeState.listener: "#
        ),
        "{err}"
    );
    let mut pods_bad = pods.clone();
    pods_bad["envoy-gateway-system"]["envoy-team-a-ai-7c6b5d4f8-k4m2p"]["configs"][1] =
        serde_json::json!({"dynamicActiveClusters": []});
    let err = decode(&pods_bad).unwrap_err();
    assert_eq!(
        err,
        r#"["envoy-gateway-system"]["envoy-team-a-ai-7c6b5d4f8-k4m2p"].configs[1]: expected a config dump section with "@type""#
    );

    let err = decode(&serde_json::json!({"gatewayClass": {}, "httpRoutes": []})).unwrap_err();
    assert!(err.contains("translate with --to xds"), "{err}");
    let err = decode(&serde_json::json!(["not", "a", "mapping"])).unwrap_err();
    assert_eq!(err, "(document): expected a mapping at the top level");
    let err = decode(&serde_json::json!({"listener": []})).unwrap_err();
    assert!(
        err.starts_with("request: ") && err.contains("listener"),
        "{err}"
    );
}

#[test]
fn bare_sections_of_every_kind_are_read_and_others_kept() {
    let t = "type.googleapis.com/envoy.admin.v3.";
    let doc = serde_json::json!({"xds": {
        "a/clusters": {"@type": format!("{t}ClustersConfigDump"), "dynamicActiveClusters": [
            {"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": "c"}}]},
        "a/listeners": {"@type": format!("{t}ListenersConfigDump"), "dynamicListeners": [
            {"name": "l", "warmingState": {}}]},
        "a/secrets": {"@type": format!("{t}SecretsConfigDump"), "dynamicActiveSecrets": [
            {"secret": {"@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret", "name": "s"}}]},
        "a/bootstrap": {"@type": format!("{t}BootstrapConfigDump"), "bootstrap": {}},
    }});
    let Ok(Input::Dump(dump)) = decode(&doc) else {
        panic!("a dump")
    };
    let counts: Vec<(usize, usize, usize)> = dump
        .gateways
        .iter()
        .map(|g| {
            (
                g.request.clusters.len(),
                g.request.listeners.len(),
                g.request.secrets.len(),
            )
        })
        .collect();
    // (json! sorts keys: a/bootstrap, a/clusters, a/listeners, a/secrets.)
    assert_eq!(counts, [(0, 0, 0), (1, 0, 0), (0, 0, 0), (0, 0, 1)]);
    let sections: Vec<usize> = dump.gateways.iter().map(|g| g.sections).collect();
    assert_eq!(
        sections,
        [0, 1, 1, 1],
        "a bootstrap alone is nothing to call the hook on"
    );
    let run = offline::run(&Hook::new(Config::default()), Input::Dump(dump), None).unwrap();
    assert!(run.calls[0].outcome.is_none());
    let out = output_doc(&run);
    let clusters = out.get("xds").unwrap().get("a/clusters").unwrap();
    let Some(Node::List(list)) = clusters.get("dynamicActiveClusters") else {
        panic!("clusters")
    };
    assert_eq!(
        list.len(),
        2,
        "the processor cluster is added to a clusters-only dump"
    );
}
