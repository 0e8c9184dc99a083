//! `envoy.config.route.v3`: route configurations, virtual hosts, routes and where they send
//! traffic.

use bytes::Bytes;

/// `envoy.config.route.v3.RouteConfiguration`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RouteConfigurationView {
    /// Name, referenced by HCMs' RDS.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Virtual hosts, in order.
    #[prost(message, repeated, tag = "2")]
    pub virtual_hosts: Vec<VirtualHostView>,
}

impl RouteConfigurationView {
    /// `name`.
    pub(crate) const NAME: u32 = 1;
    /// `virtual_hosts`.
    pub(crate) const VIRTUAL_HOSTS: u32 = 2;
}

/// `envoy.config.route.v3.VirtualHost`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct VirtualHostView {
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
    pub(crate) const NAME: u32 = 1;
    /// `routes`.
    pub(crate) const ROUTES: u32 = 3;
    /// `metadata`.
    pub(crate) const METADATA: u32 = 24;
}

/// `envoy.config.route.v3.Route`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RouteView {
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
    pub(crate) const ROUTE: u32 = 2;
    /// `metadata`.
    pub(crate) const METADATA: u32 = 4;
    /// `typed_per_filter_config`.
    pub(crate) const TYPED_PER_FILTER_CONFIG: u32 = 13;
    /// `name`.
    pub(crate) const NAME: u32 = 14;
}

/// `envoy.config.route.v3.RouteAction`: where the route sends traffic.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RouteActionView {
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
    pub(crate) const CLUSTER: u32 = 1;
    /// `cluster_header`.
    pub(crate) const CLUSTER_HEADER: u32 = 2;
    /// `weighted_clusters`.
    pub(crate) const WEIGHTED_CLUSTERS: u32 = 3;
    /// `host_rewrite_specifier.auto_host_rewrite`.
    pub(crate) const AUTO_HOST_REWRITE: u32 = 7;
    /// The other members of `host_rewrite_specifier`: `host_rewrite_literal`,
    /// `host_rewrite_header`, `host_rewrite_path_regex`, `host_rewrite`.
    pub(crate) const EXPLICIT_HOST_REWRITES: [u32; 4] = [6, 29, 35, 44];
}

/// `envoy.config.route.v3.WeightedCluster`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct WeightedClustersView {
    /// Weighted targets.
    #[prost(message, repeated, tag = "1")]
    pub clusters: Vec<ClusterWeightView>,
}

impl WeightedClustersView {
    /// `clusters`.
    pub(crate) const CLUSTERS: u32 = 1;
}

/// `envoy.config.route.v3.WeightedCluster.ClusterWeight`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ClusterWeightView {
    /// Cluster name.
    #[prost(string, tag = "1")]
    pub name: String,
}

impl ClusterWeightView {
    /// `name`.
    pub(crate) const NAME: u32 = 1;
}
