//! Why something was left alone, as one closed set: the label of `xds_hook_skips_total` and
//! whether it probably means a misconfiguration (logged at WARN).
//!
//! Every skip the hook can report maps to exactly one [`SkipReason`] by an exhaustive match on
//! its decision type, so a new kind of skip breaks the build until it has a label and a class,
//! and no code anywhere compares label strings.

use super::ChainSkip;
use super::cluster::ClusterSkip;
use super::upstream::UnresolvedReason;
use crate::index::Unusable;

/// A reason a listener chain, route configuration, cluster or selected route was left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SkipReason {
    /// A chain without an HCM (TCP proxy, TLS passthrough).
    NoHcm,
    /// An HCM with inline routes.
    InlineRouteConfig,
    /// An HCM with scoped routes.
    ScopedRoutes,
    /// An HCM with no route specifier.
    NoRouteSpecifier,
    /// An HCM whose configuration comes from ECDS.
    ConfigDiscovery,
    /// An HCM filter whose `typed_config` is another message type.
    UnexpectedHcmType,
    /// An HCM that does not decode.
    MalformedTypedConfig,
    /// RDS names a route configuration EG did not send.
    MissingRouteConfig,
    /// The chain's route configuration does not decode (counted under its own reason too).
    ChainRouteConfigMalformed,
    /// The chain's route configuration has no selected route.
    NoSelectedRoutes,
    /// A chain chosen for patching whose bytes could not be edited.
    UnpatchableChain,
    /// A listener that does not decode.
    MalformedListener,
    /// A route configuration that does not decode.
    MalformedRouteConfig,
    /// A route configuration chosen for patching whose bytes could not be edited.
    UnpatchableRouteConfig,
    /// An AI backend cluster that does not decode.
    MalformedCluster,
    /// An AI backend cluster whose `HttpProtocolOptions` do not decode.
    MalformedProtocolOptions,
    /// An AI backend cluster with upstream filters but no codec.
    NoUpstreamCodec,
    /// A selected route targets the processor cluster itself.
    ProcessorClusterTargeted,
    /// An AI backend cluster chosen for patching whose bytes could not be edited.
    UnpatchableCluster,
    /// A selected route whose cluster comes from a request header.
    ClusterHeaderRoute,
    /// A selected route whose cluster comes from a specifier plugin.
    ClusterSpecifierRoute,
    /// A selected route names a cluster the request lacks.
    MissingCluster,
}

impl SkipReason {
    /// Every reason, in the order the README documents them.
    pub const ALL: [SkipReason; 22] = [
        SkipReason::NoHcm,
        SkipReason::InlineRouteConfig,
        SkipReason::ScopedRoutes,
        SkipReason::NoRouteSpecifier,
        SkipReason::ConfigDiscovery,
        SkipReason::UnexpectedHcmType,
        SkipReason::MalformedTypedConfig,
        SkipReason::MissingRouteConfig,
        SkipReason::ChainRouteConfigMalformed,
        SkipReason::NoSelectedRoutes,
        SkipReason::UnpatchableChain,
        SkipReason::MalformedListener,
        SkipReason::MalformedRouteConfig,
        SkipReason::UnpatchableRouteConfig,
        SkipReason::MalformedCluster,
        SkipReason::MalformedProtocolOptions,
        SkipReason::NoUpstreamCodec,
        SkipReason::ProcessorClusterTargeted,
        SkipReason::UnpatchableCluster,
        SkipReason::ClusterHeaderRoute,
        SkipReason::ClusterSpecifierRoute,
        SkipReason::MissingCluster,
    ];

    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            SkipReason::NoHcm => "no_hcm",
            SkipReason::InlineRouteConfig => "inline_route_config",
            SkipReason::ScopedRoutes => "scoped_routes",
            SkipReason::NoRouteSpecifier => "no_route_specifier",
            SkipReason::ConfigDiscovery => "config_discovery",
            SkipReason::UnexpectedHcmType => "unexpected_hcm_type",
            SkipReason::MalformedTypedConfig => "malformed_typed_config",
            SkipReason::MissingRouteConfig => "missing_route_config",
            SkipReason::ChainRouteConfigMalformed => "chain_route_config_malformed",
            SkipReason::NoSelectedRoutes => "no_selected_routes",
            SkipReason::UnpatchableChain => "unpatchable_chain",
            SkipReason::MalformedListener => "malformed_listener",
            SkipReason::MalformedRouteConfig => "malformed_route_config",
            SkipReason::UnpatchableRouteConfig => "unpatchable_route_config",
            SkipReason::MalformedCluster => "malformed_cluster",
            SkipReason::MalformedProtocolOptions => "malformed_protocol_options",
            SkipReason::NoUpstreamCodec => "no_upstream_codec",
            SkipReason::ProcessorClusterTargeted => "processor_cluster_targeted",
            SkipReason::UnpatchableCluster => "unpatchable_cluster",
            SkipReason::ClusterHeaderRoute => "cluster_header_route",
            SkipReason::ClusterSpecifierRoute => "cluster_specifier_route",
            SkipReason::MissingCluster => "missing_cluster",
        }
    }

    /// Whether the skip probably means EG or the cluster is set up wrong, rather than that
    /// the resource is simply not an AI one.
    pub fn is_misconfiguration(self) -> bool {
        match self {
            SkipReason::MissingRouteConfig
            | SkipReason::MalformedTypedConfig
            | SkipReason::MalformedListener
            | SkipReason::MalformedRouteConfig
            | SkipReason::UnpatchableChain
            | SkipReason::UnpatchableRouteConfig
            | SkipReason::MalformedCluster
            | SkipReason::MalformedProtocolOptions
            | SkipReason::NoUpstreamCodec
            | SkipReason::UnpatchableCluster
            | SkipReason::MissingCluster => true,
            SkipReason::NoHcm
            | SkipReason::InlineRouteConfig
            | SkipReason::ScopedRoutes
            | SkipReason::NoRouteSpecifier
            | SkipReason::ConfigDiscovery
            | SkipReason::UnexpectedHcmType
            | SkipReason::ChainRouteConfigMalformed
            | SkipReason::NoSelectedRoutes
            | SkipReason::ProcessorClusterTargeted
            | SkipReason::ClusterHeaderRoute
            | SkipReason::ClusterSpecifierRoute => false,
        }
    }
}

impl ChainSkip {
    /// The reason, as counted.
    pub fn reason(&self) -> SkipReason {
        match self {
            ChainSkip::NoHcm(_) => SkipReason::NoHcm,
            ChainSkip::Unusable(u) => match u {
                Unusable::InlineRouteConfig => SkipReason::InlineRouteConfig,
                Unusable::ScopedRoutes => SkipReason::ScopedRoutes,
                Unusable::NoRouteSpecifier => SkipReason::NoRouteSpecifier,
                Unusable::ConfigDiscovery => SkipReason::ConfigDiscovery,
                Unusable::UnexpectedType(_) => SkipReason::UnexpectedHcmType,
                Unusable::Malformed(_) => SkipReason::MalformedTypedConfig,
            },
            ChainSkip::MissingRouteConfig(_) => SkipReason::MissingRouteConfig,
            ChainSkip::MalformedRouteConfig(_) => SkipReason::ChainRouteConfigMalformed,
            ChainSkip::NoSelectedRoutes(_) => SkipReason::NoSelectedRoutes,
        }
    }
}

impl ClusterSkip {
    /// The reason, as counted.
    pub fn reason(&self) -> SkipReason {
        match self {
            ClusterSkip::Unreadable(_) => SkipReason::MalformedCluster,
            ClusterSkip::MalformedOptions(_) => SkipReason::MalformedProtocolOptions,
            ClusterSkip::NoCodec(_) => SkipReason::NoUpstreamCodec,
            ClusterSkip::IsProcessor => SkipReason::ProcessorClusterTargeted,
        }
    }
}

impl UnresolvedReason {
    /// The reason, as counted.
    pub fn reason(&self) -> SkipReason {
        match self {
            UnresolvedReason::Header(_) => SkipReason::ClusterHeaderRoute,
            UnresolvedReason::OtherSpecifier => SkipReason::ClusterSpecifierRoute,
            UnresolvedReason::MissingCluster(_) => SkipReason::MissingCluster,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_snake_case_and_all_listed() {
        let mut labels: Vec<&str> = SkipReason::ALL.iter().map(|r| r.label()).collect();
        assert!(
            labels
                .iter()
                .all(|l| l.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), SkipReason::ALL.len());
    }

    #[test]
    fn the_readme_documents_every_label() {
        let readme = include_str!("../../README.md");
        for reason in SkipReason::ALL {
            let quoted = format!("`{}`", reason.label());
            assert!(readme.contains(&quoted), "README lacks {quoted}");
        }
    }
}
