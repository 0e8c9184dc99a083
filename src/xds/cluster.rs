//! `envoy.config.cluster.v3.Cluster` and the upstream HTTP protocol options.

use std::collections::HashMap;

use super::AnyView;
use super::endpoint::ClusterLoadAssignmentView;
use super::hcm::HttpFilterView;

/// `envoy.config.cluster.v3.Cluster`: what the upstream side reads of an AI backend cluster.
///
/// Only clusters that a selected route targets are decoded this far; every other cluster is
/// only ever read up to its name.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ClusterView {
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

impl ClusterView {
    /// `name`.
    pub(crate) const NAME: u32 = 1;
    /// `type`, a member of the `cluster_discovery_type` oneof.
    pub(crate) const TYPE: u32 = 2;
    /// `eds_cluster_config`.
    pub(crate) const EDS_CLUSTER_CONFIG: u32 = 3;
    /// `lb_policy`.
    pub(crate) const LB_POLICY: u32 = 6;
    /// `ring_hash_lb_config`, a member of the `lb_config` oneof.
    pub(crate) const RING_HASH_LB_CONFIG: u32 = 23;
    /// `original_dst_lb_config`, a member of the `lb_config` oneof.
    pub(crate) const ORIGINAL_DST_LB_CONFIG: u32 = 34;
    /// `least_request_lb_config`, a member of the `lb_config` oneof.
    pub(crate) const LEAST_REQUEST_LB_CONFIG: u32 = 37;
    /// `cluster_type`, the other member of the `cluster_discovery_type` oneof.
    pub(crate) const CLUSTER_TYPE: u32 = 38;
    /// `load_balancing_policy`.
    pub(crate) const LOAD_BALANCING_POLICY: u32 = 41;
    /// `maglev_lb_config`, a member of the `lb_config` oneof.
    pub(crate) const MAGLEV_LB_CONFIG: u32 = 52;
    /// `round_robin_lb_config`, a member of the `lb_config` oneof.
    pub(crate) const ROUND_ROBIN_LB_CONFIG: u32 = 56;
    /// `metadata`.
    pub(crate) const METADATA: u32 = 25;
    /// `load_assignment`.
    pub(crate) const LOAD_ASSIGNMENT: u32 = 33;
    /// `typed_extension_protocol_options`.
    pub(crate) const TYPED_EXTENSION_PROTOCOL_OPTIONS: u32 = 36;
}

/// `envoy.extensions.upstreams.http.v3.HttpProtocolOptions`, for its upstream HTTP filters.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HttpProtocolOptionsView {
    /// Upstream HTTP filters; the last must be the upstream codec.
    #[prost(message, repeated, tag = "6")]
    pub http_filters: Vec<HttpFilterView>,
}

impl HttpProtocolOptionsView {
    /// `http_filters`.
    pub(crate) const HTTP_FILTERS: u32 = 6;
}
