//! `envoy.config.route.v3`: route configurations, virtual hosts, routes and where they send
//! traffic.

use bytes::Bytes;

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

impl RouteConfigurationView {
    /// `name`.
    pub const NAME: u32 = 1;
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

impl VirtualHostView {
    /// `name`.
    pub const NAME: u32 = 1;
    /// `routes`.
    pub const ROUTES: u32 = 3;
    /// `metadata`.
    pub const METADATA: u32 = 24;
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

impl RouteView {
    /// `route`.
    pub const ROUTE: u32 = 2;
    /// `metadata`.
    pub const METADATA: u32 = 4;
    /// `typed_per_filter_config`.
    pub const TYPED_PER_FILTER_CONFIG: u32 = 13;
    /// `name`.
    pub const NAME: u32 = 14;
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

impl RouteActionView {
    /// `cluster`.
    pub const CLUSTER: u32 = 1;
    /// `cluster_header`.
    pub const CLUSTER_HEADER: u32 = 2;
    /// `weighted_clusters`.
    pub const WEIGHTED_CLUSTERS: u32 = 3;
}

/// `envoy.config.route.v3.WeightedCluster`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WeightedClustersView {
    /// Weighted targets.
    #[prost(message, repeated, tag = "1")]
    pub clusters: Vec<ClusterWeightView>,
}

impl WeightedClustersView {
    /// `clusters`.
    pub const CLUSTERS: u32 = 1;
}

/// `envoy.config.route.v3.WeightedCluster.ClusterWeight`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClusterWeightView {
    /// Cluster name.
    #[prost(string, tag = "1")]
    pub name: String,
}

impl ClusterWeightView {
    /// `name`.
    pub const NAME: u32 = 1;
}
