//! Generated clusters: one per HTTPRoute rule, with endpoints in `load_assignment` and EG's
//! owner metadata.
//!
//! EG's defaults are kept where they cost a few bytes (connect timeout, buffer limit, retry
//! budget, DNS family); the hook reads nothing but the name, so what matters for benches is
//! that clusters are numerous and realistically sized.

use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers, Cluster, circuit_breakers, cluster,
};
use envoy_types::pb::envoy::config::core::v3::{
    Address, Locality, SocketAddress, address, socket_address,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint,
};
use envoy_types::pb::google::protobuf::{Duration, UInt32Value};
use prost::Message;

use super::Spec;
use super::metadata::{OwnerRef, owned_by, with_records};
use super::names::HttpRoute;
use crate::xds::ClusterView;

/// Cluster number `index` of `spec`.
pub(super) fn cluster(spec: &Spec, index: usize) -> Vec<u8> {
    let owner = HttpRoute::new(spec, index);
    let name = owner.cluster();
    let endpoints = (0..spec.endpoints_per_cluster)
        .map(|e| endpoint(index, e))
        .collect();
    let cluster = Cluster {
        name: name.clone(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Static.into(),
        )),
        connect_timeout: Some(Duration {
            seconds: 10,
            nanos: 0,
        }),
        per_connection_buffer_limit_bytes: Some(UInt32Value { value: 32_768 }),
        dns_lookup_family: cluster::DnsLookupFamily::V4Preferred.into(),
        circuit_breakers: Some(CircuitBreakers {
            thresholds: vec![circuit_breakers::Thresholds {
                max_retries: Some(UInt32Value { value: 1024 }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ignore_health_on_host_removal: true,
        load_assignment: Some(ClusterLoadAssignment {
            cluster_name: name.clone(),
            endpoints: vec![LocalityLbEndpoints {
                locality: Some(Locality {
                    region: format!("{name}/backend/0"),
                    ..Default::default()
                }),
                lb_endpoints: endpoints,
                load_balancing_weight: Some(UInt32Value { value: 1 }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let metadata = owned_by(OwnerRef {
        kind: "HTTPRoute",
        name: &owner.name,
        namespace: &owner.namespace,
        section: None,
        annotations: &[],
    });
    with_records(
        cluster.encode_to_vec(),
        ClusterView::METADATA,
        [metadata.as_slice()],
    )
}

/// Endpoint `e` of cluster `index`: a pod address in 10.0.0.0/8.
fn endpoint(index: usize, e: usize) -> LbEndpoint {
    let [_, _, b, c] = u32::try_from(index).unwrap_or(0).to_be_bytes();
    let e = u8::try_from(e % 250).unwrap_or(0);
    LbEndpoint {
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            address: Some(Address {
                address: Some(address::Address::SocketAddress(SocketAddress {
                    address: format!("10.{b}.{c}.{}", e + 1),
                    port_specifier: Some(socket_address::PortSpecifier::PortValue(8080)),
                    ..Default::default()
                })),
            }),
            ..Default::default()
        })),
        load_balancing_weight: Some(UInt32Value { value: 1 }),
        ..Default::default()
    }
}
