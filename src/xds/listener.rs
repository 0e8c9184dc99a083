//! `envoy.config.listener.v3`: listeners, their filter chains and network filters.

use super::{AnyView, Present};

/// `envoy.config.listener.v3.Listener`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ListenerView {
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

impl ListenerView {
    /// `name`.
    pub(crate) const NAME: u32 = 1;
    /// `filter_chains`.
    pub(crate) const FILTER_CHAINS: u32 = 3;
    /// `default_filter_chain`.
    pub(crate) const DEFAULT_FILTER_CHAIN: u32 = 25;
}

/// `envoy.config.listener.v3.FilterChain`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct FilterChainView {
    /// Network filters, in order.
    #[prost(message, repeated, tag = "3")]
    pub filters: Vec<NetworkFilterView>,
    /// Chain name (EG sets it; Envoy does not require it).
    #[prost(string, tag = "7")]
    pub name: String,
}

impl FilterChainView {
    /// `filters`.
    pub(crate) const FILTERS: u32 = 3;
    /// `name`.
    pub(crate) const NAME: u32 = 7;
}

/// `envoy.config.listener.v3.Filter`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct NetworkFilterView {
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

impl NetworkFilterView {
    /// `name`.
    pub(crate) const NAME: u32 = 1;
    /// `typed_config`.
    pub(crate) const TYPED_CONFIG: u32 = 4;
    /// `config_discovery`.
    pub(crate) const CONFIG_DISCOVERY: u32 = 5;
}
