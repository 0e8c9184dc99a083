//! Generated route configurations: virtual hosts per hostname, routes per HTTPRoute match.
//!
//! Route number `k` (counted across the whole request) belongs to HTTPRoute `k % clusters`, so
//! an HTTPRoute attaches to several Gateways, as real ones do, and every one of its routes
//! carries the same owner and annotations. EG's metadata is on every virtual host (the
//! Gateway) and every route (the HTTPRoute, with its forwarded annotations); the annotated
//! fraction decides per HTTPRoute.

use envoy_types::pb::envoy::config::route::v3::{
    RedirectAction, Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost,
    WeightedCluster, redirect_action, route, route_action, route_match, weighted_cluster,
};
use envoy_types::pb::google::protobuf::UInt32Value;
use prost::Message;

use super::Spec;
use super::listener::RouteSlot;
use super::metadata::{OwnerRef, owned_by, with_records};
use super::names::{self, HttpRoute, stream};
use crate::xds::{RouteConfigurationView, RouteView, VirtualHostView};

/// The annotation that selects a route under the default configuration (as EG forwards it).
pub const AI_ANNOTATION: &str = "ai-gateway-generated";

/// Builds the route configuration for `slot`; `next_route` counts routes across the request.
pub(super) fn route_configuration(
    spec: &Spec,
    slot: &RouteSlot,
    next_route: &mut usize,
) -> Vec<u8> {
    let hosts = slot.hosts.len().max(1);
    let vhosts: Vec<Vec<u8>> = slot
        .hosts
        .iter()
        .enumerate()
        .map(|(h, host)| {
            // Spread the configuration's routes over its hosts, the first ones taking the rest.
            let count = spec.routes_per_route_config / hosts
                + usize::from(h < spec.routes_per_route_config % hosts);
            virtual_host(spec, slot, host, count, next_route)
        })
        .collect();
    let config = RouteConfiguration {
        name: slot.name.clone(),
        ignore_port_in_host_matching: true,
        ..Default::default()
    };
    with_records(
        config.encode_to_vec(),
        RouteConfigurationView::VIRTUAL_HOSTS,
        vhosts.iter().map(Vec::as_slice),
    )
}

fn virtual_host(
    spec: &Spec,
    slot: &RouteSlot,
    host: &str,
    routes: usize,
    next_route: &mut usize,
) -> Vec<u8> {
    let host_part = names::underscored(host);
    let name = if slot.v2 {
        host_part.clone()
    } else {
        format!("{}/{host_part}", slot.gateway.legacy_name())
    };
    let routes: Vec<Vec<u8>> = (0..routes)
        .map(|_| {
            let k = *next_route;
            *next_route += 1;
            route(spec, k, host, &host_part)
        })
        .collect();
    let vhost = VirtualHost {
        name,
        domains: vec![host.to_owned()],
        ..Default::default()
    };
    let gateway = &slot.gateway;
    let metadata = owned_by(OwnerRef {
        kind: "Gateway",
        name: &gateway.name,
        namespace: &gateway.namespace,
        section: Some(&gateway.section),
        annotations: &[],
    });
    let vhost = with_records(
        vhost.encode_to_vec(),
        VirtualHostView::ROUTES,
        routes.iter().map(Vec::as_slice),
    );
    with_records(vhost, VirtualHostView::METADATA, [metadata.as_slice()])
}

/// Route `k` of the request.
fn route(spec: &Spec, k: usize, host: &str, host_part: &str) -> Vec<u8> {
    let clusters = spec.clusters.max(1);
    let owner = HttpRoute::new(spec, k % clusters);
    let match_index = k / clusters;
    let annotated = names::chance(
        spec.seed,
        stream::ANNOTATED,
        owner.index,
        spec.annotated_fraction,
    );
    let mut annotations = Vec::new();
    if annotated {
        annotations.push((AI_ANNOTATION, "true"));
    }
    if owner.index.is_multiple_of(4) {
        annotations.push(("owner-team", owner.namespace.as_str()));
    }
    let action = if k % 25 == 24 {
        route::Action::Redirect(RedirectAction {
            host_redirect: host.to_owned(),
            response_code: redirect_action::RedirectResponseCode::Found.into(),
            scheme_rewrite_specifier: Some(redirect_action::SchemeRewriteSpecifier::HttpsRedirect(
                true,
            )),
            ..Default::default()
        })
    } else {
        route::Action::Route(RouteAction {
            cluster_specifier: Some(targets(spec, &owner)),
            upgrade_configs: vec![route_action::UpgradeConfig {
                upgrade_type: "websocket".to_owned(),
                ..Default::default()
            }],
            ..Default::default()
        })
    };
    let route = Route {
        name: format!(
            "httproute/{}/{}/rule/0/match/{match_index}/{host_part}",
            owner.namespace, owner.name
        ),
        r#match: Some(RouteMatch {
            path_specifier: Some(route_match::PathSpecifier::Prefix(format!(
                "/{}/v{match_index}",
                owner.name
            ))),
            ..Default::default()
        }),
        action: Some(action),
        ..Default::default()
    };
    let rule = format!("rule-{}", match_index % 2);
    let metadata = owned_by(OwnerRef {
        kind: "HTTPRoute",
        name: &owner.name,
        namespace: &owner.namespace,
        section: owner.index.is_multiple_of(2).then_some(rule.as_str()),
        annotations: &annotations,
    });
    with_records(
        route.encode_to_vec(),
        RouteView::METADATA,
        [metadata.as_slice()],
    )
}

/// One cluster, or (every tenth HTTPRoute) a weighted split with the next one.
fn targets(spec: &Spec, owner: &HttpRoute) -> route_action::ClusterSpecifier {
    if owner.index % 10 != 9 || spec.clusters < 2 {
        return route_action::ClusterSpecifier::Cluster(owner.cluster());
    }
    let next = HttpRoute::new(spec, (owner.index + 1) % spec.clusters);
    let weighted = |name: String, weight: u32| weighted_cluster::ClusterWeight {
        name,
        weight: Some(UInt32Value { value: weight }),
        ..Default::default()
    };
    route_action::ClusterSpecifier::WeightedClusters(WeightedCluster {
        clusters: vec![weighted(owner.cluster(), 80), weighted(next.cluster(), 20)],
        ..Default::default()
    })
}
