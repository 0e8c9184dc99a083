//! The slice of the Envoy API that the hook reads, as partial prost messages: one module per
//! xDS kind, each holding its views and the field numbers the wire readers and editors use.
//!
//! Each view declares only the fields a decision needs; prost skips the rest without
//! allocating, and `Bytes` fields decoded from a `Bytes` buffer are slices of it. So indexing
//! a fleet costs a walk over its bytes, not a typed copy of it. Views are read-only: changes
//! are made on the wire (`crate::wire`), never by re-encoding a view, which would drop every
//! field it does not declare.
//!
//! Field numbers are Envoy's (envoy-types 0.7, API v3). Each is declared once, as an
//! associated constant of its view (`ListenerView::FILTER_CHAINS`), right under the prost tag
//! that must agree with it; the fast readers in `crate::index` and the editors in
//! `crate::mutate` use these constants, and a test checks every one against Envoy's
//! descriptors.

pub(crate) mod cluster;
pub(crate) mod endpoint;
pub(crate) mod hcm;
pub(crate) mod listener;
pub(crate) mod route;

pub(crate) use cluster::{ClusterView, HttpProtocolOptionsView};
pub(crate) use endpoint::{
    ClusterLoadAssignmentView, EndpointView, LbEndpointView, LocalityLbEndpointsView,
};
pub(crate) use hcm::{HcmView, HttpFilterView, RdsView, SchemeHeaderTransformationView};
pub(crate) use listener::{FilterChainView, ListenerView, NetworkFilterView};
pub(crate) use route::{
    ClusterWeightView, RouteActionView, RouteConfigurationView, RouteView, VirtualHostView,
    WeightedClustersView,
};

use std::collections::HashMap;

use bytes::Bytes;

/// Well-known names and type URLs the hook recognises by structure.
pub(crate) mod names {
    /// Filter name EG (and everyone) gives the HTTP connection manager.
    pub(crate) const HCM_FILTER: &str = "envoy.filters.network.http_connection_manager";
    /// Message type of the HTTP connection manager's typed_config.
    pub(crate) const HCM_TYPE: &str =
        "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
    /// Filter metadata namespace where EG records which Kubernetes object produced a resource.
    pub(crate) const EG_METADATA: &str = "envoy-gateway";
    /// Name prefix of HTTP filters; EG appends the filter type and an optional suffix.
    pub(crate) const HTTP_FILTER_PREFIX: &str = "envoy.filters.http.";
    /// Package prefix of HTTP filter config types, used when a filter's name says nothing.
    pub(crate) const HTTP_FILTER_TYPE_PREFIX: &str = "envoy.extensions.filters.http.";
    /// Message type of the upstream codec, the terminal upstream HTTP filter. EG names its own
    /// codec filter after this type, so the type, not the name, identifies it.
    pub(crate) const UPSTREAM_CODEC_TYPE: &str =
        "envoy.extensions.filters.http.upstream_codec.v3.UpstreamCodec";
    /// Key of the upstream HTTP protocol options in a cluster's extension protocol options.
    pub(crate) const HTTP_PROTOCOL_OPTIONS_KEY: &str =
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
    /// Type URL prefix for `Any` values we create.
    pub(crate) const TYPE_URL_PREFIX: &str = "type.googleapis.com/";
}

/// The message type named by an `Any` type URL (everything after the last `/`).
pub(crate) fn type_name(type_url: &str) -> &str {
    type_url.rsplit('/').next().unwrap_or(type_url)
}

/// A message whose content is irrelevant; only its presence counts.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Present {}

/// `google.protobuf.Any`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AnyView {
    /// Type URL.
    #[prost(string, tag = "1")]
    pub type_url: String,
    /// Encoded message.
    #[prost(bytes = "bytes", tag = "2")]
    pub value: Bytes,
}

impl AnyView {
    /// `type_url`.
    pub(crate) const TYPE_URL: u32 = 1;
    /// `value`.
    pub(crate) const VALUE: u32 = 2;
}

/// `google.protobuf.Any` when only the type matters.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct AnyTypeView {
    /// Type URL.
    #[prost(string, tag = "1")]
    pub type_url: String,
}

/// `envoy.config.core.v3.Metadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct MetadataView {
    /// Untyped metadata by namespace.
    #[prost(map = "string, message", tag = "1")]
    pub filter_metadata: HashMap<String, prost_types::Struct>,
}

impl MetadataView {
    /// `filter_metadata`.
    pub(crate) const FILTER_METADATA: u32 = 1;
}

/// Field numbers of `google.protobuf.Struct`, `Value` and `ListValue`, which EG's metadata is
/// made of and which `crate::index` reads off the wire.
pub(crate) mod wkt {
    /// `Struct.fields` (a map).
    pub(crate) const STRUCT_FIELDS: u32 = 1;
    /// `ListValue.values`.
    pub(crate) const LIST_VALUES: u32 = 1;
    /// `Value.null_value`.
    pub(crate) const NULL_VALUE: u32 = 1;
    /// `Value.number_value`.
    pub(crate) const NUMBER_VALUE: u32 = 2;
    /// `Value.string_value`.
    pub(crate) const STRING_VALUE: u32 = 3;
    /// `Value.bool_value`.
    pub(crate) const BOOL_VALUE: u32 = 4;
    /// `Value.struct_value`.
    pub(crate) const STRUCT_VALUE: u32 = 5;
    /// `Value.list_value`.
    pub(crate) const LIST_VALUE: u32 = 6;
}

/// The fields of a protobuf map entry (`map<K, V>` is a repeated message of these).
pub(crate) mod map_entry {
    /// `key`.
    pub(crate) const KEY: u32 = 1;
    /// `value`.
    pub(crate) const VALUE: u32 = 2;
}

#[cfg(test)]
mod tests;
