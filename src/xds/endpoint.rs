//! `envoy.config.endpoint.v3`: a cluster's endpoint groups and hosts.

use bytes::Bytes;

use super::MetadataView;

/// `envoy.config.endpoint.v3.ClusterLoadAssignment`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ClusterLoadAssignmentView {
    /// Endpoint groups; EG writes one (or one per zone) per backendRef.
    #[prost(message, repeated, tag = "2")]
    pub endpoints: Vec<LocalityLbEndpointsView>,
}

impl ClusterLoadAssignmentView {
    /// `endpoints`.
    pub(crate) const ENDPOINTS: u32 = 2;
}

/// `envoy.config.endpoint.v3.LocalityLbEndpoints`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LocalityLbEndpointsView {
    /// Where the hosts are; EG names the backendRef in `region`.
    #[prost(message, optional, tag = "1")]
    pub locality: Option<LocalityView>,
    /// Hosts.
    #[prost(message, repeated, tag = "2")]
    pub lb_endpoints: Vec<LbEndpointView>,
    /// Failover priority (0 is tried first).
    #[prost(uint32, tag = "5")]
    pub priority: u32,
    /// Metadata; EG records the backend (Service, Backend, ...) here.
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<MetadataView>,
}

impl LocalityLbEndpointsView {
    /// `lb_endpoints`.
    pub(crate) const LB_ENDPOINTS: u32 = 2;
    /// `priority`.
    pub(crate) const PRIORITY: u32 = 5;
}

/// `envoy.config.core.v3.Locality`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LocalityView {
    /// Region; EG writes the destination setting's name, `<cluster>/backend/<j>`, where `j`
    /// is the backendRef's index in its rule.
    #[prost(string, tag = "1")]
    pub region: String,
}

/// `envoy.config.endpoint.v3.LbEndpoint`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct LbEndpointView {
    /// The host.
    #[prost(message, optional, tag = "1")]
    pub endpoint: Option<EndpointView>,
    /// Host metadata (read by upstream filters as `xds.upstream_host_metadata`), kept encoded:
    /// it is decoded only when its endpoint group carries no backend metadata of its own.
    #[prost(bytes = "bytes", optional, tag = "3")]
    pub metadata: Option<Bytes>,
}

impl LbEndpointView {
    /// `metadata`.
    pub(crate) const METADATA: u32 = 3;
}

/// `envoy.config.endpoint.v3.Endpoint`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct EndpointView {
    /// Address.
    #[prost(message, optional, tag = "1")]
    pub address: Option<AddressView>,
    /// Host name, used for the `Host` header and health checks.
    #[prost(string, tag = "3")]
    pub hostname: String,
}

/// `envoy.config.core.v3.Address`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AddressView {
    /// A socket address (not set for pipes and internal addresses).
    #[prost(message, optional, tag = "1")]
    pub socket_address: Option<SocketAddressView>,
}

/// `envoy.config.core.v3.SocketAddress`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SocketAddressView {
    /// An IP literal, or a DNS name for DNS-resolved clusters.
    #[prost(string, tag = "2")]
    pub address: String,
}
