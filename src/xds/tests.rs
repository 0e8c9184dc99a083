//! Every field number of the views, checked against Envoy's own descriptors (the ones
//! `envoy-types` ships, through the JSON descriptor pool): a wrong constant or prost tag fails
//! here rather than silently reading or editing another field.

use super::*;

/// (message, field, the number a view declares).
const FIELDS: &[(&str, &str, u32)] = &[
    ("google.protobuf.Any", "type_url", AnyView::TYPE_URL),
    ("google.protobuf.Any", "value", AnyView::VALUE),
    (
        "envoy.config.core.v3.Metadata",
        "filter_metadata",
        MetadataView::FILTER_METADATA,
    ),
    (
        "envoy.config.listener.v3.Listener",
        "name",
        ListenerView::NAME,
    ),
    (
        "envoy.config.listener.v3.Listener",
        "filter_chains",
        ListenerView::FILTER_CHAINS,
    ),
    (
        "envoy.config.listener.v3.Listener",
        "default_filter_chain",
        ListenerView::DEFAULT_FILTER_CHAIN,
    ),
    (
        "envoy.config.listener.v3.FilterChain",
        "filters",
        FilterChainView::FILTERS,
    ),
    (
        "envoy.config.listener.v3.FilterChain",
        "name",
        FilterChainView::NAME,
    ),
    (
        "envoy.config.listener.v3.Filter",
        "name",
        NetworkFilterView::NAME,
    ),
    (
        "envoy.config.listener.v3.Filter",
        "typed_config",
        NetworkFilterView::TYPED_CONFIG,
    ),
    (
        "envoy.config.listener.v3.Filter",
        "config_discovery",
        NetworkFilterView::CONFIG_DISCOVERY,
    ),
    (HCM, "rds", HcmView::RDS),
    (HCM, "route_config", HcmView::ROUTE_CONFIG),
    (HCM, "http_filters", HcmView::HTTP_FILTERS),
    (HCM, "scoped_routes", HcmView::SCOPED_ROUTES),
    (
        HCM,
        "scheme_header_transformation",
        HcmView::SCHEME_HEADER_TRANSFORMATION,
    ),
    (RDS, "route_config_name", RdsView::ROUTE_CONFIG_NAME),
    (HTTP_FILTER, "name", HttpFilterView::NAME),
    (HTTP_FILTER, "typed_config", HttpFilterView::TYPED_CONFIG),
    (
        "envoy.config.core.v3.SchemeHeaderTransformation",
        "match_upstream",
        SchemeHeaderTransformationView::MATCH_UPSTREAM,
    ),
    (
        "envoy.config.route.v3.RouteConfiguration",
        "name",
        RouteConfigurationView::NAME,
    ),
    (
        "envoy.config.route.v3.RouteConfiguration",
        "virtual_hosts",
        RouteConfigurationView::VIRTUAL_HOSTS,
    ),
    (
        "envoy.config.route.v3.VirtualHost",
        "name",
        VirtualHostView::NAME,
    ),
    (
        "envoy.config.route.v3.VirtualHost",
        "routes",
        VirtualHostView::ROUTES,
    ),
    (
        "envoy.config.route.v3.VirtualHost",
        "metadata",
        VirtualHostView::METADATA,
    ),
    ("envoy.config.route.v3.Route", "route", RouteView::ROUTE),
    (
        "envoy.config.route.v3.Route",
        "metadata",
        RouteView::METADATA,
    ),
    (
        "envoy.config.route.v3.Route",
        "typed_per_filter_config",
        RouteView::TYPED_PER_FILTER_CONFIG,
    ),
    ("envoy.config.route.v3.Route", "name", RouteView::NAME),
    (
        "envoy.config.route.v3.RouteAction",
        "cluster",
        RouteActionView::CLUSTER,
    ),
    (
        "envoy.config.route.v3.RouteAction",
        "cluster_header",
        RouteActionView::CLUSTER_HEADER,
    ),
    (
        "envoy.config.route.v3.RouteAction",
        "weighted_clusters",
        RouteActionView::WEIGHTED_CLUSTERS,
    ),
    (
        "envoy.config.route.v3.WeightedCluster",
        "clusters",
        WeightedClustersView::CLUSTERS,
    ),
    (
        "envoy.config.route.v3.WeightedCluster.ClusterWeight",
        "name",
        ClusterWeightView::NAME,
    ),
    ("envoy.config.cluster.v3.Cluster", "name", ClusterView::NAME),
    ("envoy.config.cluster.v3.Cluster", "type", ClusterView::TYPE),
    (
        "envoy.config.cluster.v3.Cluster",
        "eds_cluster_config",
        ClusterView::EDS_CLUSTER_CONFIG,
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "lb_policy",
        ClusterView::LB_POLICY,
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "ring_hash_lb_config",
        ClusterView::RING_HASH_LB_CONFIG,
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "original_dst_lb_config",
        ClusterView::ORIGINAL_DST_LB_CONFIG,
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "least_request_lb_config",
        ClusterView::LEAST_REQUEST_LB_CONFIG,
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "cluster_type",
        ClusterView::CLUSTER_TYPE,
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "load_balancing_policy",
        ClusterView::LOAD_BALANCING_POLICY,
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "maglev_lb_config",
        ClusterView::MAGLEV_LB_CONFIG,
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "round_robin_lb_config",
        ClusterView::ROUND_ROBIN_LB_CONFIG,
    ),
    (
        "envoy.config.route.v3.RouteAction",
        "auto_host_rewrite",
        RouteActionView::AUTO_HOST_REWRITE,
    ),
    (
        "envoy.config.route.v3.RouteAction",
        "host_rewrite_literal",
        RouteActionView::EXPLICIT_HOST_REWRITES[0],
    ),
    (
        "envoy.config.route.v3.RouteAction",
        "host_rewrite_header",
        RouteActionView::EXPLICIT_HOST_REWRITES[1],
    ),
    (
        "envoy.config.route.v3.RouteAction",
        "host_rewrite_path_regex",
        RouteActionView::EXPLICIT_HOST_REWRITES[2],
    ),
    (
        "envoy.config.route.v3.RouteAction",
        "host_rewrite",
        RouteActionView::EXPLICIT_HOST_REWRITES[3],
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "metadata",
        ClusterView::METADATA,
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "load_assignment",
        ClusterView::LOAD_ASSIGNMENT,
    ),
    (
        "envoy.config.cluster.v3.Cluster",
        "typed_extension_protocol_options",
        ClusterView::TYPED_EXTENSION_PROTOCOL_OPTIONS,
    ),
    (
        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        "http_filters",
        HttpProtocolOptionsView::HTTP_FILTERS,
    ),
    (
        "envoy.config.endpoint.v3.ClusterLoadAssignment",
        "endpoints",
        ClusterLoadAssignmentView::ENDPOINTS,
    ),
    (
        LOCALITY_LB,
        "lb_endpoints",
        LocalityLbEndpointsView::LB_ENDPOINTS,
    ),
    (LOCALITY_LB, "priority", LocalityLbEndpointsView::PRIORITY),
    (
        "envoy.config.endpoint.v3.LbEndpoint",
        "metadata",
        LbEndpointView::METADATA,
    ),
    ("google.protobuf.Struct", "fields", wkt::STRUCT_FIELDS),
    ("google.protobuf.ListValue", "values", wkt::LIST_VALUES),
    ("google.protobuf.Value", "null_value", wkt::NULL_VALUE),
    ("google.protobuf.Value", "number_value", wkt::NUMBER_VALUE),
    ("google.protobuf.Value", "string_value", wkt::STRING_VALUE),
    ("google.protobuf.Value", "bool_value", wkt::BOOL_VALUE),
    ("google.protobuf.Value", "struct_value", wkt::STRUCT_VALUE),
    ("google.protobuf.Value", "list_value", wkt::LIST_VALUE),
];

const HCM: &str = names::HCM_TYPE;
const RDS: &str = "envoy.extensions.filters.network.http_connection_manager.v3.Rds";
const HTTP_FILTER: &str = "envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter";
const LOCALITY_LB: &str = "envoy.config.endpoint.v3.LocalityLbEndpoints";

#[test]
fn every_field_number_is_envoys() {
    let pool = crate::format::pool().expect("descriptor pool");
    for (message, field, number) in FIELDS {
        let descriptor = pool
            .get_message_by_name(message)
            .unwrap_or_else(|| panic!("{message} is not in the pool"));
        let found = descriptor
            .get_field_by_name(field)
            .unwrap_or_else(|| panic!("{message} has no field {field}"));
        assert_eq!(found.number(), *number, "{message}.{field}");
    }
}

#[test]
fn map_entries_are_key_then_value() {
    let pool = crate::format::pool().expect("descriptor pool");
    let metadata = pool
        .get_message_by_name("envoy.config.core.v3.Metadata")
        .expect("Metadata");
    let entry = metadata
        .get_field_by_name("filter_metadata")
        .and_then(|f| f.kind().as_message().cloned())
        .expect("filter_metadata is a map");
    assert_eq!(entry.map_entry_key_field().number(), map_entry::KEY);
    assert_eq!(entry.map_entry_value_field().number(), map_entry::VALUE);
}
