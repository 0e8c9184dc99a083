//! `explain --format json|dot|mermaid` and `explain --route`: the JSON report's field names
//! are pinned, the graphs are checked for structure (every edge joins declared nodes, groups
//! close, a Gateway of ~50 routes stays small), and the route answer is checked for each usual
//! mistake. The graphs' rendering with Graphviz is not run here (CI has no `dot`); the README
//! says how it was checked.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use serde_json::Value;
use xds_hook::format::{self, Input};
use xds_hook::offline;
use xds_hook::report::graph::{self, Graph, State};
use xds_hook::report::route::RouteQuery;
use xds_hook::workload::{self, Preset};
use xds_hook::{Config, Hook};

use crate::captured::case;
use crate::support;

fn explain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xds-hook"))
        .args(["explain", "--log", "warn"])
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn three() -> String {
    case("translate-three-gateways").display().to_string()
}

fn keys(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn json_report_has_its_documented_fields() {
    let out = explain(&["-i", &three(), "--format", "json"]);
    assert!(out.status.success());
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(keys(&json), BTreeSet::from(["version", "gateways"]));
    assert_eq!(json["version"], 1);
    let gateways = json["gateways"].as_array().unwrap();
    assert_eq!(gateways.len(), 3);
    let g = &gateways[0];
    assert_eq!(
        keys(g),
        BTreeSet::from([
            "origin",
            "called",
            "chains",
            "routes",
            "clusters",
            "unresolved",
            "processorCluster",
            "summary",
            "hints"
        ])
    );
    assert_eq!(
        keys(&g["origin"]),
        BTreeSet::from(["name", "title", "path"])
    );
    assert_eq!(g["origin"]["name"], "envoy-gateway/eg");
    assert_eq!(g["origin"]["path"], r#"xds["envoy-gateway/eg"]"#);
    assert_eq!(
        keys(&g["chains"][0]),
        BTreeSet::from(["listener", "chain", "decision", "reason"])
    );
    assert_eq!(
        keys(&g["routes"][0]),
        BTreeSet::from([
            "routeConfig",
            "virtualHost",
            "route",
            "owner",
            "decision",
            "reason"
        ])
    );
    assert_eq!(
        g["routes"][0]["owner"],
        serde_json::json!({"kind": "HTTPRoute", "namespace": "envoy-gateway", "name": "chat"})
    );
    assert_eq!(g["routes"][0]["decision"], "selected");
    assert_eq!(
        keys(&g["clusters"][0]),
        BTreeSet::from(["name", "decision", "reason"])
    );
    assert_eq!(
        g["processorCluster"],
        serde_json::json!({"state": "added", "position": null})
    );
    assert_eq!(
        keys(&g["summary"]),
        BTreeSet::from([
            "listeners",
            "chainsPatched",
            "chainsAlreadyPatched",
            "chainsSkipped",
            "routes",
            "routesSelected",
            "routeConfigsPatched",
            "backendClusters",
            "clustersPatched",
            "malformed"
        ])
    );
    assert_eq!(gateways[1]["summary"]["routesSelected"], 0);
    assert!(
        gateways[1]["hints"][0]
            .as_str()
            .unwrap()
            .contains("gateway.envoyproxy.io/")
    );

    // A lone request has one entry without an origin; --gateway keeps one Gateway.
    let request = support::repo().join("testdata/golden/default-and-team-a/input.yaml");
    let out = explain(&["-i", request.to_str().unwrap(), "--format", "json"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["gateways"][0]["origin"], Value::Null);
    let out = explain(&["-i", &three(), "--format", "json", "--gateway", "team-a/ai"]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["gateways"].as_array().unwrap().len(), 1);
    assert_eq!(json["gateways"][0]["summary"]["routesSelected"], 2);
}

/// A graph's structure: ids are declared once, every edge joins declared nodes.
fn assert_well_formed(graph: &Graph) {
    let nodes = graph.all_nodes();
    let mut ids = BTreeSet::new();
    for node in &nodes {
        assert!(
            node.id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "id {}",
            node.id
        );
        assert!(ids.insert(node.id.as_str()), "{} declared twice", node.id);
    }
    for edge in &graph.edges {
        assert!(
            ids.contains(edge.from.as_str()),
            "edge from undeclared {}",
            edge.from
        );
        assert!(
            ids.contains(edge.to.as_str()),
            "edge to undeclared {}",
            edge.to
        );
    }
}

/// The DOT text: one digraph, balanced braces, and every node and edge of the model in it.
fn assert_dot(graph: &Graph) {
    let dot = graph::dot(graph);
    assert!(dot.starts_with("digraph xds_hook {\n") && dot.ends_with("}\n"));
    let depth = dot.chars().try_fold(0i32, |depth, c| {
        let depth = depth + i32::from(c == '{') - i32::from(c == '}');
        (depth >= 0).then_some(depth)
    });
    assert_eq!(depth, Some(0), "balanced braces (labels hold none)");
    for node in graph.all_nodes() {
        let declared = format!("{} [label=", node.id);
        assert!(
            dot.lines().any(|l| l.trim_start().starts_with(&declared)),
            "{}",
            node.id
        );
    }
    for edge in &graph.edges {
        assert!(dot.contains(&format!("  {} -> {}", edge.from, edge.to)));
    }
    for state in State::ALL {
        assert!(dot.contains(&format!("legend_{}", state.name())));
    }
}

/// The Mermaid text: subgraphs closed, classes defined, every edge written.
fn assert_mermaid(graph: &Graph) {
    let text = graph::mermaid(graph);
    assert!(text.starts_with("flowchart LR\n"));
    let opened = text
        .lines()
        .filter(|l| l.trim_start().starts_with("subgraph "))
        .count();
    let closed = text.lines().filter(|l| l.trim() == "end").count();
    assert_eq!(opened, closed, "every subgraph ends");
    for state in State::ALL {
        assert!(text.contains(&format!("classDef {} ", state.name())));
    }
    for node in graph.all_nodes() {
        assert!(text.contains(&format!("{}[\"", node.id)), "{}", node.id);
        let label_line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{}[", node.id)))
            .unwrap();
        // The whole node on its line: the label's line breaks became `<br/>`, its quotes
        // entities, so the line closes the label and names the node's class.
        assert!(
            label_line.matches('"').count() == 2
                && label_line.ends_with(&format!("\"]:::{}", node.state.name())),
            "{label_line}"
        );
    }
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("-->") || l.contains("-.->"))
            .count(),
        graph.edges.len()
    );
}

fn graph_of(input: Input, only: Option<&RouteQuery>) -> Graph {
    let run = offline::run(&Hook::new(Config::default()), input, None).unwrap();
    graph::build(&run.sections(), only)
}

#[test]
fn graphs_are_well_formed_and_group_per_gateway_and_route_config() {
    let graph = graph_of(
        format::read_input(&case("translate-three-gateways")).unwrap(),
        None,
    );
    assert_well_formed(&graph);
    assert_dot(&graph);
    assert_mermaid(&graph);
    let groups: Vec<&str> = graph.groups.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(
        groups,
        [
            r#"Gateway envoy-gateway/eg (xds["envoy-gateway/eg"])"#,
            r#"Gateway envoy-gateway-system/internal (xds["envoy-gateway-system/internal"])"#,
            r#"Gateway team-a/ai (xds["team-a/ai"])"#
        ]
    );
    let label = |id: &str| {
        graph
            .all_nodes()
            .into_iter()
            .find(|n| n.id == id)
            .unwrap()
            .clone()
    };
    assert_eq!(label("g0_l1_c0").state, State::Patched, "eg's HCM chain");
    assert_eq!(
        label("g0_l0_c0").state,
        State::Skipped,
        "the ready listener's inline routes"
    );
    assert_eq!(label("g1_rc0_rest").label, "1 unchanged route");
    assert_eq!(label("g2_processor").state, State::Patched);
    let skip = graph.edges.iter().find(|e| e.to == "g0_l0_c0").unwrap();
    assert_eq!(
        skip.label.as_deref(),
        Some("HCM has an inline route_config, not RDS")
    );
    assert!(skip.dashed);

    // An already patched proxy: everything processed is "selected", nothing "patched".
    let graph = graph_of(
        format::read_input(&case("envoy-proxy-already-patched")).unwrap(),
        None,
    );
    assert_well_formed(&graph);
    let states: BTreeSet<&str> = graph.all_nodes().iter().map(|n| n.state.name()).collect();
    assert!(!states.contains("patched"), "{states:?}");
    assert!(states.contains("selected"));
}

#[test]
fn a_gateway_of_fifty_routes_collapses_its_unchanged_routes() {
    let mut spec = Preset::Small.spec();
    spec.listeners = 4;
    spec.chains_per_listener = 2;
    spec.routes_per_route_config = 12;
    spec.annotated_fraction = 0.2;
    let request = workload::generate(&spec);
    let run = offline::run(&Hook::new(Config::default()), Input::Request(request), None).unwrap();
    let summary = run.calls[0].outcome.as_ref().unwrap().report.summary();
    assert!(
        (40..=60).contains(&summary.routes),
        "{} routes",
        summary.routes
    );
    let graph = graph::build(&run.sections(), None);
    assert_well_formed(&graph);
    assert_dot(&graph);
    assert_mermaid(&graph);
    let nodes = graph.all_nodes();
    let route_nodes = nodes
        .iter()
        .filter(|n| n.label.starts_with("route ") && !n.label.starts_with("route config"))
        .count();
    assert_eq!(
        route_nodes, summary.routes_selected,
        "only processed routes get a node"
    );
    let collapsed: usize = nodes
        .iter()
        .filter_map(|n| {
            n.label
                .strip_suffix(" unchanged routes")
                .or(n.label.strip_suffix(" unchanged route"))
        })
        .map(|n| n.parse::<usize>().unwrap())
        .sum();
    assert_eq!(collapsed + route_nodes, summary.routes);
    assert!(
        nodes.len() <= 60,
        "{} nodes for {} routes",
        nodes.len(),
        summary.routes
    );
    assert!(graph.groups.len() >= 4, "a group per route configuration");
}

#[test]
fn route_filter_draws_only_that_httproute_and_what_leads_to_it() {
    let query: RouteQuery = "team-a/assistant".parse().unwrap();
    let graph = graph_of(
        format::read_input(&case("translate-three-gateways")).unwrap(),
        Some(&query),
    );
    assert_well_formed(&graph);
    assert_eq!(graph.groups.len(), 1, "only team-a/ai's Gateway");
    let labels: Vec<String> = graph.all_nodes().iter().map(|n| n.label.clone()).collect();
    assert!(
        labels
            .iter()
            .any(|l| l.contains("HTTPRoute team-a/assistant"))
    );
    assert!(
        !labels.iter().any(|l| l.contains("embeddings")),
        "{labels:?}"
    );
    assert!(labels.iter().any(|l| l.starts_with("processor cluster")));
    let out = explain(&[
        "-i",
        &three(),
        "--format",
        "mermaid",
        "--route",
        "team-a/assistant",
    ]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("HTTPRoute team-a/assistant"));
}

#[test]
fn route_answer_follows_a_selected_route_to_its_chains_and_clusters() {
    let out = explain(&["-i", &three(), "--route", "team-a/assistant"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.starts_with("HTTPRoute team-a/assistant\n"), "{text}");
    for line in [
        r#"route config "team-a/ai/http", virtual host "team-a/ai/http/assistant_team-a_example", route "httproute/team-a/assistant/rule/0/match/0/assistant_team-a_example""#,
        "  decision: selected: HTTPRoute team-a/assistant",
        r#"  chain: listener "team-a/ai/http" default_filter_chain (team-a/ai/http): patched: "#,
        r#"  cluster "httproute/team-a/assistant/rule/0": patched: targeted by team-a/assistant rule 0"#,
    ] {
        assert!(text.contains(line), "{line}\n---\n{text}");
    }
    assert!(!text.contains("hint:"), "{text}");

    let out = explain(&[
        "-i",
        &three(),
        "--route",
        "team-a/assistant",
        "--format",
        "json",
    ]);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        keys(&json),
        BTreeSet::from(["version", "httpRoute", "found", "gateways", "hints"])
    );
    assert_eq!(json["found"], true);
    let route = &json["gateways"][2]["routes"][0];
    assert_eq!(
        keys(route),
        BTreeSet::from([
            "routeConfig",
            "virtualHost",
            "route",
            "decision",
            "reason",
            "chains",
            "clusters"
        ])
    );
    assert_eq!(route["clusters"][0]["decision"], "patched");
    assert_eq!(json["gateways"][0]["routes"], serde_json::json!([]));
}

#[test]
fn route_answer_names_the_usual_mistakes() {
    // The annotation without the gateway.envoyproxy.io/ prefix, read from the HTTPRoute itself.
    let out = explain(&["-i", &three(), "--route", "envoy-gateway-system/dashboard"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("decision: not selected: HTTPRoute is not annotated"),
        "{text}"
    );
    assert!(
        text.contains("the HTTPRoute is annotated ai-gateway-generated, which EG does not copy"),
        "{text}"
    );

    // Gateway scoping in the configuration.
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.yaml");
    std::fs::write(&config, "selection:\n  gatewayNamespaces: [team-a]\n").unwrap();
    let out = explain(&[
        "-c",
        config.to_str().unwrap(),
        "-i",
        &three(),
        "--route",
        "envoy-gateway/chat",
    ]);
    let text = stdout(&out);
    assert!(
        text.contains("is not in selection.gatewayNamespaces"),
        "{text}"
    );
    assert!(
        text.contains("Gateway scoping in the hook's configuration"),
        "{text}"
    );

    // Route configurations without listeners (egctl x translate -t route).
    let routes_only = case("translate-routes-only-json").display().to_string();
    let out = explain(&["-i", &routes_only, "--route", "team-a/embeddings"]);
    let text = stdout(&out);
    assert!(
        text.contains("chain: none in the input uses this route config"),
        "{text}"
    );
    assert!(text.contains("translation.listener.includeAll"), "{text}");

    // Route configurations not sent: the listener names one the request lacks.
    let missing = support::repo().join("testdata/golden/missing-route-config/input.yaml");
    let out = explain(&[
        "-i",
        missing.to_str().unwrap(),
        "--route",
        "default/anything",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("translation.route.includeAll: true"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_httproute_not_in_the_input_exits_1_with_what_is_there() {
    let out = explain(&["-i", &three(), "--route", "team-a/nope"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("no xDS route in the input was built from HTTPRoute team-a/nope"));
    assert!(text.contains("not among the input's httpRoutes either"));
    assert!(text.contains("HTTPRoutes with routes in the input: envoy-gateway/chat,"));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = explain(&["-i", &three(), "--route", "team-a/nope", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["found"], false);

    let out = explain(&["-i", &three(), "--route", "no-slash"]);
    assert_eq!(out.status.code(), Some(64));
}
