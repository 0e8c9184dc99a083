//! `envoy.extensions.filters.network.http_connection_manager.v3`: the HTTP connection manager
//! and its HTTP filters.

use super::{AnyTypeView, Present};

/// `envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HcmView {
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

impl HcmView {
    /// `rds`.
    pub(crate) const RDS: u32 = 3;
    /// `route_config`.
    pub(crate) const ROUTE_CONFIG: u32 = 4;
    /// `http_filters`.
    pub(crate) const HTTP_FILTERS: u32 = 5;
    /// `scoped_routes`.
    pub(crate) const SCOPED_ROUTES: u32 = 31;
    /// `scheme_header_transformation`.
    pub(crate) const SCHEME_HEADER_TRANSFORMATION: u32 = 48;
}

/// `...http_connection_manager.v3.Rds`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct RdsView {
    /// Name of the RouteConfiguration to fetch.
    #[prost(string, tag = "2")]
    pub route_config_name: String,
}

impl RdsView {
    /// `route_config_name`.
    pub(crate) const ROUTE_CONFIG_NAME: u32 = 2;
}

/// `...http_connection_manager.v3.HttpFilter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HttpFilterView {
    /// Filter name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Inline configuration (only its type is read).
    #[prost(message, optional, tag = "4")]
    pub typed_config: Option<AnyTypeView>,
}

impl HttpFilterView {
    /// `name`.
    pub(crate) const NAME: u32 = 1;
    /// `typed_config`.
    pub(crate) const TYPED_CONFIG: u32 = 4;
}

/// `envoy.config.core.v3.SchemeHeaderTransformation`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct SchemeHeaderTransformationView {
    /// `match_upstream`.
    #[prost(bool, tag = "2")]
    pub match_upstream: bool,
}

impl SchemeHeaderTransformationView {
    /// `match_upstream`.
    pub(crate) const MATCH_UPSTREAM: u32 = 2;
}
