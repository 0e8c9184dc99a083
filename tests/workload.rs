//! The workload generator (`xds_hook::workload`): exact counts, EG's shapes (SNI, TCP proxy,
//! HTTP chains; both naming schemes; owner metadata), annotated routes selected by the default
//! configuration and nothing else, and the same bytes for the same seed.

use std::collections::HashSet;

use envoy_types::pb::envoy::config::listener::v3::Listener;
use envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier;
use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, route};
use prost::Message;
use xds_hook::format::{self, Format};
use xds_hook::report::{ChainDecision, ChainSkip, RouteDecision};
use xds_hook::report::{ChainKind, Ownership};
use xds_hook::workload::{self, AI_ANNOTATION, Preset, Spec};
use xds_hook::{Config, Hook};

use crate::support;

fn names(list: &[bytes::Bytes]) -> HashSet<String> {
    list.iter()
        .map(|r| String::from_utf8(xds_hook::wire::first_len(r, 1).unwrap().to_vec()).unwrap())
        .collect()
}

#[test]
fn small_preset_has_the_advertised_counts() {
    let request = workload::preset(Preset::Small);
    assert_eq!(request.listeners.len(), 10);
    assert_eq!(request.routes.len(), 10);
    assert_eq!(request.clusters.len(), 50);
    assert_eq!(request.secrets.len(), 5);
    let outcome = Hook::new(Config::default()).post_translate_modify(request);
    assert_eq!(outcome.report.summary().routes, 100);
}

#[test]
fn counts_follow_the_knobs() {
    let mut spec = Spec::default();
    for knob in [
        "listeners=40",
        "chains_per_listener=3",
        "routes_per_route_config=7",
    ] {
        spec.set(knob).unwrap();
    }
    let request = workload::generate(&spec);
    // Per four listeners: HTTPS (3 HCM chains), passthrough (0), HTTP (1), mixed (1).
    assert_eq!(request.routes.len(), 10 * 5);
    let outcome = Hook::new(Config::default()).post_translate_modify(request);
    let summary = outcome.report.summary();
    assert_eq!(summary.routes, 10 * 5 * 7);
    assert_eq!(
        summary.chains_patched + summary.chains_skipped,
        10 * (3 + 3 + 1 + 3),
        "every chain of every listener is indexed"
    );
    assert_eq!(summary.malformed, 0);
}

#[test]
fn shapes_are_eg_like() {
    let request = workload::preset(Preset::Small);
    let listeners: Vec<Listener> = request
        .listeners
        .iter()
        .map(|l| Listener::decode(l.clone()).unwrap())
        .collect();
    let sni_chains = listeners
        .iter()
        .flat_map(|l| &l.filter_chains)
        .filter(|c| {
            c.filter_chain_match
                .as_ref()
                .is_some_and(|m| !m.server_names.is_empty())
        })
        .count();
    assert!(
        sni_chains >= 4,
        "HTTPS and passthrough listeners match on SNI"
    );
    assert!(listeners.iter().any(|l| l.default_filter_chain.is_some()));
    let listener_names = names(&request.listeners);
    assert!(
        listener_names.iter().any(|n| n.starts_with("tcp-")),
        "XDSNameSchemeV2 names"
    );
    assert!(
        listener_names.iter().any(|n| n.split('/').count() == 3),
        "legacy names"
    );

    let report = Hook::new(Config::default())
        .post_translate_modify(request.clone())
        .report;
    let index = &report.index;
    let kinds: Vec<&ChainKind> = index
        .listeners
        .iter()
        .flat_map(|l| l.chains.as_ref().unwrap())
        .map(|c| &c.kind)
        .collect();
    assert!(kinds.iter().any(|k| matches!(k, ChainKind::Http(_))));
    assert!(
        kinds
            .iter()
            .any(|k| matches!(k, ChainKind::NoHcm(f) if f == &["envoy.filters.network.tcp_proxy"]))
    );

    let mut namespaces = HashSet::new();
    for rc in &index.route_configs {
        for vhost in rc.virtual_hosts.as_ref().unwrap() {
            assert!(
                matches!(vhost.gateway.ownership(rc), Ownership::Owned(o) if o.kind == "Gateway")
            );
            for route in &vhost.routes {
                let Ownership::Owned(owner) = route.owner.ownership(rc) else {
                    panic!("{} has no owner", rc.text(route.name))
                };
                assert_eq!(owner.kind, "HTTPRoute");
                namespaces.insert(owner.namespace.clone());
            }
        }
    }
    assert!(
        namespaces.contains("envoy-gateway") && namespaces.len() >= 3,
        "{namespaces:?}"
    );

    // Every cluster a route names is in the request.
    let clusters = names(&request.clusters);
    let mut targets = Vec::new();
    for config in &request.routes {
        let config = RouteConfiguration::decode(config.clone()).unwrap();
        for route in config.virtual_hosts.iter().flat_map(|v| &v.routes) {
            if let Some(route::Action::Route(action)) = &route.action {
                match &action.cluster_specifier {
                    Some(ClusterSpecifier::Cluster(name)) => targets.push(name.clone()),
                    Some(ClusterSpecifier::WeightedClusters(split)) => {
                        targets.extend(split.clusters.iter().map(|c| c.name.clone()))
                    }
                    other => panic!("unexpected target {other:?}"),
                }
            }
        }
    }
    assert!(targets.len() > 50, "{} targets", targets.len());
    let missing: Vec<_> = targets.iter().filter(|t| !clusters.contains(*t)).collect();
    assert!(missing.is_empty(), "{missing:?} are not in the request");
}

#[test]
fn annotated_routes_and_only_they_are_selected_by_default() {
    let request = workload::preset(Preset::Small);
    let outcome = Hook::new(Config::default()).post_translate_modify(request.clone());
    let report = &outcome.report;
    let (mut selected, mut unselected) = (0, 0);
    for (rc, decision) in report
        .index
        .route_configs
        .iter()
        .zip(&report.decisions.route_configs)
    {
        let vhosts = rc.virtual_hosts.as_ref().unwrap();
        for (vhost, decisions) in vhosts.iter().zip(&decision.virtual_hosts) {
            for (route, decision) in vhost.routes.iter().zip(decisions) {
                let Ownership::Owned(owner) = route.owner.ownership(rc) else {
                    panic!()
                };
                let annotated = owner.annotations.contains_key(AI_ANNOTATION);
                assert_eq!(
                    matches!(decision, RouteDecision::Selected(_)),
                    annotated,
                    "{}: {decision:?}",
                    rc.text(route.name)
                );
                if annotated {
                    selected += 1
                } else {
                    unselected += 1
                }
            }
        }
    }
    assert!(
        selected > 0 && unselected > selected,
        "{selected} selected, {unselected} not"
    );
    for chain in report.decisions.listeners.iter().flatten() {
        assert!(
            !matches!(chain, ChainDecision::Skip(ChainSkip::MissingRouteConfig(_))),
            "every RDS name resolves"
        );
    }
    assert!(report.summary().chains_patched > 0);
    support::assert_nothing_lost(&request, &outcome.response);
}

#[test]
fn same_seed_same_bytes_other_seed_other_draws() {
    let spec = Preset::Small.spec();
    assert_eq!(workload::generate(&spec), workload::generate(&spec));
    let mut other = spec.clone();
    other.set("seed=7").unwrap();
    assert_ne!(
        workload::generate(&spec).routes,
        workload::generate(&other).routes
    );
}

#[test]
fn every_resource_reads_as_its_envoy_type() {
    // The descriptor pool reads every generated resource (and every `Any` inside) back, and
    // the JSON it gives encodes to the same JSON: nothing is generated that EG could not send.
    let request = workload::preset(Preset::Small);
    let json = format::encode_request(&request, Format::Json).unwrap();
    let back = format::decode_request(&json, Format::Json).unwrap();
    let again = format::encode_request(&back, Format::Json).unwrap();
    assert!(json == again, "JSON round trip differs");
    assert_eq!(back.routes.len(), request.routes.len());
}

#[test]
fn hook_output_on_the_small_preset_loads_in_envoy() {
    let Some(bin) = crate::envoy::envoy_bin() else {
        return; // envoy_bin() says why, and fails under XDS_HOOK_REQUIRE_ENVOY=1
    };
    let response = Hook::new(Config::default())
        .post_translate_modify(workload::preset(Preset::Small))
        .response;
    let bootstrap = xds_hook::render::bootstrap(&response, 9901).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.yaml");
    std::fs::write(
        &file,
        xds_hook::render::encode(&bootstrap, Format::Yaml).unwrap(),
    )
    .unwrap();
    let mut child = std::process::Command::new(&bin)
        .args([
            "--mode",
            "validate",
            "--disable-hot-restart",
            "--log-level",
            "error",
            "-c",
        ])
        .arg(&file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("envoy --mode validate timed out");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let mut errors = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut errors).unwrap();
    assert!(
        status.success(),
        "Envoy rejects the generated fleet: {errors}"
    );
}
