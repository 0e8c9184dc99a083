//! The slice of the Envoy API that the hook reads, as partial prost messages.
//!
//! Each view declares only the fields a decision needs; prost skips the rest without
//! allocating, and `Bytes` fields decoded from a `Bytes` buffer are slices of it. So indexing
//! a fleet costs a walk over its bytes, not a typed copy of it. Views are read-only: changes
//! are made on the wire (`crate::wire`), never by re-encoding a view, which would drop every
//! field it does not declare. Field numbers are Envoy's (envoy-types 0.7, API v3).

use std::collections::HashMap;

use bytes::Bytes;

/// Well-known names and type URLs the hook recognises by structure.
pub mod names {
    /// Filter name EG (and everyone) gives the HTTP connection manager.
    pub const HCM_FILTER: &str = "envoy.filters.network.http_connection_manager";
    /// Message type of the HTTP connection manager's typed_config.
    pub const HCM_TYPE: &str =
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
    /// Filter metadata namespace where EG records which Kubernetes object produced a resource.
    pub const EG_METADATA: &str = "envoy-gateway";
    /// Name prefix of HTTP filters; EG appends the filter type and an optional suffix.
    pub const HTTP_FILTER_PREFIX: &str = "envoy.filters.http.";
    /// Package prefix of HTTP filter config types, used when a filter's name says nothing.
    pub const HTTP_FILTER_TYPE_PREFIX: &str = "envoy.extensions.filters.http.";
    /// Message type of the upstream codec, the terminal upstream HTTP filter. EG names its own
    /// codec filter after this type, so the type, not the name, identifies it.
    pub const UPSTREAM_CODEC_TYPE: &str =
        "envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec";
    /// Key of the upstream HTTP protocol options in a cluster's extension protocol options.
    pub const HTTP_PROTOCOL_OPTIONS_KEY: &str =
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
    /// Type URL prefix for `Any` values we create.
    pub const TYPE_URL_PREFIX: &str = "type.googleapis.com/";
}

/// The message type named by an `Any` type URL (everything after the last `/`).
pub fn type_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

/// A message whose content is irrelevant; only its presence counts.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Present {}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AnyView {
    /// Type URL.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// Encoded message.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

/// `google.protobuf.Any` when only the type matters.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AnyTypeView {
    /// Type URL.
    #[prost(string, tag = "1")]
    pub type_url: String,
}

/// `envoy.config.listener.v3.Listener`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListenerView {
    /// Listener name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Filter chains, in order.
    #[prost(message, repeated, tag = "3")]
    pub filter_chains: Vec<FilterChainView>,
    /// The chain used when no filter chain matches.
    #[prost(message, optional, tag = "25")]
    pub default_filter_chain: Option<FilterChainView>,
}

/// Listener field numbers used when editing.
pub mod listener {
    /// `filter_chains`.
    pub const FILTER_CHAINS: u32 = 3;
    /// `default_filter_chain`.
    pub const DEFAULT_FILTER_CHAIN: u32 = 25;
}

/// `envoy.config.listener.v3.FilterChain`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FilterChainView {
    /// Network filters, in order.
    #[prost(message, repeated, tag = "3")]
    pub filters: Vec<NetworkFilterView>,
    /// Chain name (EG sets it; Envoy does not require it).
    #[prost(string, tag = "7")]
    pub name: String,
}

/// FilterChain field numbers used when editing.
pub mod filter_chain {
    /// `filters`.
    pub const FILTERS: u32 = 3;
}

/// `envoy.config.listener.v3.Filter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NetworkFilterView {
    /// Filter name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Inline configuration.
    #[prost(message, optional, tag = "4")]
    pub typed_config: Option<AnyView>,
    /// Configuration delivered by ECDS instead.
    #[prost(message, optional, tag = "5")]
    pub config_discovery: Option<Present>,
}

/// Filter / HttpFilter field numbers used when editing.
pub mod filter {
    /// `typed_config`.
    pub const TYPED_CONFIG: u32 = 4;
    /// `google.protobuf.Any.value`.
    pub const ANY_VALUE: u32 = 2;
}

/// `envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HcmView {
    /// Route configuration by RDS.
    #[prost(message, optional, tag = "3")]
    pub rds: Option<RdsView>,
    /// Inline route configuration.
    #[prost(message, optional, tag = "4")]
    pub route_config: Option<Present>,
    /// Scoped routes.
    #[prost(message, optional, tag = "31")]
    pub scoped_routes: Option<Present>,
    /// HTTP filters, in order.
    #[prost(message, repeated, tag = "5")]
    pub http_filters: Vec<HttpFilterView>,
    /// How the `:scheme` header is rewritten.
    #[prost(message, optional, tag = "48")]
    pub scheme_header_transformation: Option<SchemeHeaderTransformationView>,
}

/// HttpConnectionManager field numbers used when editing.
pub mod hcm {
    /// `http_filters`.
    pub const HTTP_FILTERS: u32 = 5;
    /// `scheme_header_transformation`.
    pub const SCHEME_HEADER_TRANSFORMATION: u32 = 48;
    /// `SchemeHeaderTransformation.match_upstream`.
    pub const MATCH_UPSTREAM: u32 = 2;
}

/// `...http_connection_manager.v3.Rds`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RdsView {
    /// Name of the RouteConfiguration to fetch.
    #[prost(string, tag = "2")]
    pub route_config_name: String,
}

/// `...http_connection_manager.v3.HttpFilter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpFilterView {
    /// Filter name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Inline configuration (only its type is read).
    #[prost(message, optional, tag = "4")]
    pub typed_config: Option<AnyTypeView>,
}

/// `envoy.config.core.v3.SchemeHeaderTransformation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SchemeHeaderTransformationView {
    /// `match_upstream`.
    #[prost(bool, tag = "2")]
    pub match_upstream: bool,
}

/// `envoy.config.route.v3.RouteConfiguration`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RouteConfigurationView {
    /// Name, referenced by HCMs' RDS.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Virtual hosts, in order.
    #[prost(message, repeated, tag = "2")]
    pub virtual_hosts: Vec<VirtualHostView>,
}

/// RouteConfiguration field numbers used when editing.
pub mod route_configuration {
    /// `virtual_hosts`.
    pub const VIRTUAL_HOSTS: u32 = 2;
}

/// `envoy.config.route.v3.VirtualHost`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VirtualHostView {
    /// Name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Routes, in order.
    #[prost(message, repeated, tag = "3")]
    pub routes: Vec<RouteView>,
    /// Metadata (EG records the Gateway here), left encoded, one entry per record.
    #[prost(bytes = "bytes", repeated, tag = "24")]
    pub metadata: Vec<Bytes>,
}

/// VirtualHost field numbers used when editing.
pub mod virtual_host {
    /// `routes`.
    pub const ROUTES: u32 = 3;
}

/// `envoy.config.route.v3.Route`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RouteView {
    /// Name.
    #[prost(string, tag = "14")]
    pub name: String,
    /// Metadata (EG records the HTTPRoute here), left encoded, one entry per record.
    #[prost(bytes = "bytes", repeated, tag = "4")]
    pub metadata: Vec<Bytes>,
    /// Forwarding action.
    #[prost(message, optional, tag = "2")]
    pub route: Option<RouteActionView>,
}

/// Route field numbers used when editing.
pub mod route {
    /// `metadata`.
    pub const METADATA: u32 = 4;
    /// `typed_per_filter_config`.
    pub const TYPED_PER_FILTER_CONFIG: u32 = 13;
}

/// `envoy.config.route.v3.RouteAction`: where the route sends traffic.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RouteActionView {
    /// `cluster_specifier.cluster`.
    #[prost(string, optional, tag = "1")]
    pub cluster: Option<String>,
    /// `cluster_specifier.cluster_header`.
    #[prost(string, optional, tag = "2")]
    pub cluster_header: Option<String>,
    /// `cluster_specifier.weighted_clusters`.
    #[prost(message, optional, tag = "3")]
    pub weighted_clusters: Option<WeightedClustersView>,
}

/// `envoy.config.route.v3.WeightedCluster`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WeightedClustersView {
    /// Weighted targets.
    #[prost(message, repeated, tag = "1")]
    pub clusters: Vec<ClusterWeightView>,
}

/// `envoy.config.route.v3.WeightedCluster.ClusterWeight`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClusterWeightView {
    /// Cluster name.
    #[prost(string, tag = "1")]
    pub name: String,
}

/// `envoy.config.core.v3.Metadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetadataView {
    /// Untyped metadata by namespace.
    #[prost(map = "string, message", tag = "1")]
    pub filter_metadata: HashMap<String, prost_types::Struct>,
}

/// Metadata field numbers used when editing.
pub mod metadata {
    /// `filter_metadata`.
    pub const FILTER_METADATA: u32 = 1;
    /// Map entry `key`.
    pub const MAP_KEY: u32 = 1;
    /// Map entry `value`.
    pub const MAP_VALUE: u32 = 2;
}

/// `envoy.config.cluster.v3.Cluster`: what the upstream side reads of an AI backend cluster.
///
/// Only clusters that a selected route targets are decoded this far; every other cluster is
/// only ever read up to its name.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClusterView {
    /// Cluster name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Inline endpoints (absent when they arrive by EDS).
    #[prost(message, optional, tag = "33")]
    pub load_assignment: Option<ClusterLoadAssignmentView>,
    /// Protocol options by extension name.
    #[prost(map = "string, message", tag = "36")]
    pub typed_extension_protocol_options: HashMap<String, AnyView>,
}

/// Cluster field numbers used when editing.
pub mod cluster {
    /// `metadata`.
    pub const METADATA: u32 = 25;
    /// `load_assignment`.
    pub const LOAD_ASSIGNMENT: u32 = 33;
    /// `typed_extension_protocol_options`.
    pub const TYPED_EXTENSION_PROTOCOL_OPTIONS: u32 = 36;
}

/// `envoy.config.endpoint.v3.ClusterLoadAssignment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClusterLoadAssignmentView {
    /// Endpoint groups; EG writes one (or one per zone) per backendRef.
    #[prost(message, repeated, tag = "2")]
    pub endpoints: Vec<LocalityLbEndpointsView>,
}

/// ClusterLoadAssignment field numbers used when editing.
pub mod load_assignment {
    /// `endpoints`.
    pub const ENDPOINTS: u32 = 2;
}

/// `envoy.config.endpoint.v3.LocalityLbEndpoints`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LocalityLbEndpointsView {
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

/// LocalityLbEndpoints field numbers used when editing.
pub mod locality_lb_endpoints {
    /// `lb_endpoints`.
    pub const LB_ENDPOINTS: u32 = 2;
    /// `priority`.
    pub const PRIORITY: u32 = 5;
}

/// `envoy.config.core.v3.Locality`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LocalityView {
    /// Region; EG writes the destination setting's name, `<cluster>/backend/<j>`, where `j`
    /// is the backendRef's index in its rule.
    #[prost(string, tag = "1")]
    pub region: String,
}

/// `envoy.config.endpoint.v3.LbEndpoint`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LbEndpointView {
    /// The host.
    #[prost(message, optional, tag = "1")]
    pub endpoint: Option<EndpointView>,
    /// Host metadata (read by upstream filters as `xds.upstream_host_metadata`), kept encoded:
    /// it is decoded only when its endpoint group carries no backend metadata of its own.
    #[prost(bytes = "bytes", optional, tag = "3")]
    pub metadata: Option<Bytes>,
}

/// LbEndpoint field numbers used when editing.
pub mod lb_endpoint {
    /// `metadata`.
    pub const METADATA: u32 = 3;
}

/// `envoy.config.endpoint.v3.Endpoint`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EndpointView {
    /// Address.
    #[prost(message, optional, tag = "1")]
    pub address: Option<AddressView>,
    /// Host name, used for the `Host` header and health checks.
    #[prost(string, tag = "3")]
    pub hostname: String,
}

/// `envoy.config.core.v3.Address`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AddressView {
    /// A socket address (not set for pipes and internal addresses).
    #[prost(message, optional, tag = "1")]
    pub socket_address: Option<SocketAddressView>,
}

/// `envoy.config.core.v3.SocketAddress`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct SocketAddressView {
    /// An IP literal, or a DNS name for DNS-resolved clusters.
    #[prost(string, tag = "2")]
    pub address: String,
}

/// `envoy.extensions.upstreams.http.v3.HttpProtocolOptions`, for its upstream HTTP filters.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HttpProtocolOptionsView {
    /// Upstream HTTP filters; the last must be the upstream codec.
    #[prost(message, repeated, tag = "6")]
    pub http_filters: Vec<HttpFilterView>,
}

/// HttpProtocolOptions field numbers used when editing.
pub mod http_protocol_options {
    /// `http_filters`.
    pub const HTTP_FILTERS: u32 = 6;
}
