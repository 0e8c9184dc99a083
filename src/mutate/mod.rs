//! Mutation: carries the decisions out, one module per resource kind.
//!
//! Every change is a wire-level splice (`crate::wire`) into the original bytes, so what the
//! hook does not change cannot change, and fields newer than our Envoy API survive inside the
//! resources it does change. The pieces the hook adds (the filter, the per-route config, the
//! processor cluster) are built once from the configuration, as [`Artifacts`], and copied in.

pub(crate) mod cluster;
pub(crate) mod hcm;
pub(crate) mod listener;
pub(crate) mod metadata;
pub(crate) mod route;

use std::collections::HashMap;

use bytes::Bytes;
use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster as cluster_pb};
use envoy_types::pb::envoy::config::common::mutation_rules::v3::{
    HeaderMutation as HeaderMutationRule, header_mutation as header_mutation_rule,
};
use envoy_types::pb::envoy::config::core::v3::{
    Address, GrpcService, HeaderValue, HeaderValueOption, Http2ProtocolOptions, Pipe, address,
    grpc_service, header_value_option,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint,
};
use envoy_types::pb::envoy::config::route::v3::FilterConfig;
use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::{
    ExternalProcessor, MetadataOptions, ProcessingMode, metadata_options, processing_mode,
};
use envoy_types::pb::envoy::extensions::filters::http::header_mutation::v3::{
    HeaderMutation as HeaderMutationFilter, Mutations,
};
use envoy_types::pb::envoy::extensions::filters::http::upstream_codec::v3::UpstreamCodec;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpFilter, http_filter,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    HttpProtocolOptions, http_protocol_options,
};
use envoy_types::pb::google::protobuf::{Any, Duration, UInt32Value};
use prost::{Message, Name};

use crate::config::ExtProcConfig;
use crate::wire;
use crate::xds::names;

/// Route metadata namespace the AI Gateway's processor reads the route name from.
pub(crate) const ROUTE_METADATA_NAMESPACE: &str = "aigateway.envoy.io";
/// Key of the route name in [`ROUTE_METADATA_NAMESPACE`].
pub(crate) const ROUTE_NAME_KEY: &str = "aigw_route_name";
/// Key of a host's backend name in [`ROUTE_METADATA_NAMESPACE`].
pub(crate) const BACKEND_NAME_KEY: &str = "per_route_rule_backend_name";
/// Key of a host's DNS name in [`ROUTE_METADATA_NAMESPACE`].
pub(crate) const UPSTREAM_HOST_KEY: &str = "upstream_host";
/// Name of the upstream filter that restores `content-length` after the processor rewrote
/// the body.
pub(crate) const HEADER_MUTATION_FILTER: &str = "envoy.filters.http.header_mutation";
/// Name of the upstream codec filter the hook adds when a cluster has no upstream filters.
pub(crate) const UPSTREAM_CODEC_FILTER: &str = "envoy.filters.http.upstream_codec";
/// Timeout of the upstream processor's gRPC calls.
const UPSTREAM_GRPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Key of the upstream HTTP protocol options in a cluster's extension protocol options.
pub(crate) use crate::xds::names::HTTP_PROTOCOL_OPTIONS_KEY;
/// Per-connection buffer of the processor cluster: bodies are buffered to the processor.
const PROCESSOR_BUFFER_LIMIT_BYTES: u32 = 50 << 20;

/// Everything the hook inserts, encoded once per configuration.
#[derive(Debug, Clone)]
pub struct Artifacts {
    /// Name of the processor filter, and key of its per-route config.
    pub filter_name: String,
    /// The encoded `HttpFilter` (disabled; routes enable it).
    pub http_filter: Vec<u8>,
    /// The encoded `Any` holding an `envoy.config.route.v3.FilterConfig` that enables the filter.
    pub enable_on_route: Vec<u8>,
    /// Name of the processor cluster.
    pub cluster_name: String,
    /// The encoded processor cluster.
    pub cluster: Bytes,
    /// What AI backend clusters get.
    pub upstream: UpstreamArtifacts,
}

/// The upstream pieces, encoded once: spliced into `HttpProtocolOptions` as they are.
#[derive(Debug, Clone)]
pub struct UpstreamArtifacts {
    /// `http_filters` records: the upstream processor, then the header mutation.
    pub filters: Vec<u8>,
    /// The same, followed by the upstream codec (for a cluster that has no filters yet).
    pub filters_with_codec: Vec<u8>,
    /// A `typed_extension_protocol_options` map entry: explicit HTTP/1.1 and those filters.
    pub options_entry: Vec<u8>,
}

impl Artifacts {
    /// Builds the artefacts for a configuration.
    pub fn new(config: &ExtProcConfig) -> Self {
        Self::edited(config, |_, _| {})
    }

    /// The artefacts for a configuration, with `edit` applied to the downstream processor and
    /// to the processor cluster before either is encoded: a ProcessorPolicy's own settings
    /// (`crate::policy::processor`).
    pub(crate) fn edited(
        config: &ExtProcConfig,
        edit: impl FnOnce(&mut ExternalProcessor, &mut Cluster),
    ) -> Self {
        let mut processor = downstream_processor(config);
        let mut cluster = processor_cluster(config);
        edit(&mut processor, &mut cluster);
        Self {
            filter_name: config.filter_name.clone(),
            http_filter: disabled_filter(config, &processor).encode_to_vec(),
            // An empty (untyped) inner config: Envoy then only enables the filter on the route.
            // It must be present: Envoy 1.40 rejects a FilterConfig without `config` ("Empty
            // route/virtual host per filter configuration"), as the real-Envoy tests show.
            enable_on_route: to_any(&FilterConfig {
                config: Some(Any::default()),
                ..FilterConfig::default()
            })
            .encode_to_vec(),
            cluster_name: config.cluster_name.clone(),
            cluster: cluster.encode_to_vec().into(),
            upstream: UpstreamArtifacts::new(config),
        }
    }
}

impl UpstreamArtifacts {
    fn new(config: &ExtProcConfig) -> Self {
        let filters = [
            upstream_processor(config),
            content_length_from_metadata(config),
        ];
        let codec = upstream_codec();
        let encode_records = |filters: &[&HttpFilter]| {
            let mut out = Vec::new();
            for filter in filters {
                wire::put_len(
                    &mut out,
                    crate::xds::HttpProtocolOptionsView::HTTP_FILTERS,
                    &filter.encode_to_vec(),
                );
            }
            out
        };
        let [processor, mutation] = &filters;
        let options =
            upstream_protocol_options(vec![processor.clone(), mutation.clone(), codec.clone()]);
        let mut options_entry = Vec::new();
        wire::put_len(
            &mut options_entry,
            crate::xds::map_entry::KEY,
            HTTP_PROTOCOL_OPTIONS_KEY.as_bytes(),
        );
        wire::put_len(
            &mut options_entry,
            crate::xds::map_entry::VALUE,
            &to_any(&options).encode_to_vec(),
        );
        Self {
            filters: encode_records(&[processor, mutation]),
            filters_with_codec: encode_records(&[processor, mutation, &codec]),
            options_entry,
        }
    }
}

pub(crate) fn to_any<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: format!("{}{}", names::TYPE_URL_PREFIX, M::full_name()),
        value: message.encode_to_vec(),
    }
}

pub(crate) fn duration(d: std::time::Duration) -> Duration {
    Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

fn envoy_grpc(cluster_name: &str) -> GrpcService {
    GrpcService {
        target_specifier: Some(grpc_service::TargetSpecifier::EnvoyGrpc(
            grpc_service::EnvoyGrpc {
                cluster_name: cluster_name.to_owned(),
                ..Default::default()
            },
        )),
        ..Default::default()
    }
}

/// The downstream processor: headers sent, bodies buffered, trailers skipped.
fn downstream_processor(config: &ExtProcConfig) -> ExternalProcessor {
    use processing_mode::{BodySendMode, HeaderSendMode};
    let mode = ProcessingMode {
        request_header_mode: HeaderSendMode::Send.into(),
        response_header_mode: HeaderSendMode::Send.into(),
        request_body_mode: BodySendMode::Buffered.into(),
        response_body_mode: BodySendMode::Buffered.into(),
        request_trailer_mode: HeaderSendMode::Skip.into(),
        response_trailer_mode: HeaderSendMode::Skip.into(),
    };
    external_processor(config, envoy_grpc(&config.cluster_name), mode, Vec::new())
}

/// The upstream processor: sees the request headers on their way to the chosen backend (the
/// processor injects that backend's credentials), with the backend and route names as
/// attributes. Like the downstream filter it is disabled by default and shares its name, so the
/// per-route `FilterConfig` of an AI route enables both; a plain route that shares an AI backend
/// cluster never reaches the processor (the data-plane test checks this with a real Envoy).
fn upstream_processor(config: &ExtProcConfig) -> HttpFilter {
    use processing_mode::{BodySendMode, HeaderSendMode};
    let attribute = |source: &str, key: &str| {
        format!("xds.{source}.filter_metadata['{ROUTE_METADATA_NAMESPACE}']['{key}']")
    };
    let mut grpc_service = envoy_grpc(&config.cluster_name);
    grpc_service.timeout = Some(duration(UPSTREAM_GRPC_TIMEOUT));
    let mode = ProcessingMode {
        request_header_mode: HeaderSendMode::Send.into(),
        response_header_mode: HeaderSendMode::Skip.into(),
        request_body_mode: BodySendMode::None.into(),
        response_body_mode: BodySendMode::None.into(),
        ..Default::default()
    };
    let attributes = vec![
        attribute("upstream_host_metadata", BACKEND_NAME_KEY),
        attribute("cluster_metadata", BACKEND_NAME_KEY),
        attribute("upstream_host_metadata", UPSTREAM_HOST_KEY),
        attribute("route_metadata", ROUTE_NAME_KEY),
    ];
    disabled_filter(
        config,
        &external_processor(config, grpc_service, mode, attributes),
    )
}

/// An ext_proc configured as `config` says (message timeout, mode override, the metadata
/// namespace the processor may write).
fn external_processor(
    config: &ExtProcConfig,
    grpc_service: GrpcService,
    mode: ProcessingMode,
    request_attributes: Vec<String>,
) -> ExternalProcessor {
    ExternalProcessor {
        grpc_service: Some(grpc_service),
        processing_mode: Some(mode),
        message_timeout: Some(duration(config.message_timeout)),
        allow_mode_override: true,
        metadata_options: Some(MetadataOptions {
            receiving_namespaces: Some(metadata_options::MetadataNamespaces {
                untyped: vec![config.metadata_namespace.clone()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        request_attributes,
        ..Default::default()
    }
}

/// `processor` as the filter named `extProc.filterName`, disabled until a route enables it.
fn disabled_filter(config: &ExtProcConfig, processor: &ExternalProcessor) -> HttpFilter {
    HttpFilter {
        name: config.filter_name.clone(),
        disabled: true,
        config_type: Some(http_filter::ConfigType::TypedConfig(to_any(processor))),
        ..Default::default()
    }
}

/// Restores `content-length` from the length the processor recorded, when the body changed.
fn content_length_from_metadata(config: &ExtProcConfig) -> HttpFilter {
    let mutation = HeaderMutationFilter {
        mutations: Some(Mutations {
            request_mutations: vec![HeaderMutationRule {
                action: Some(header_mutation_rule::Action::Append(HeaderValueOption {
                    header: Some(HeaderValue {
                        key: "content-length".to_owned(),
                        value: format!(
                            "%DYNAMIC_METADATA({}:content_length)%",
                            config.metadata_namespace
                        ),
                        ..Default::default()
                    }),
                    append_action: header_value_option::HeaderAppendAction::AddIfAbsent.into(),
                    ..Default::default()
                })),
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    HttpFilter {
        name: HEADER_MUTATION_FILTER.to_owned(),
        config_type: Some(http_filter::ConfigType::TypedConfig(to_any(&mutation))),
        ..Default::default()
    }
}

/// The terminal upstream filter.
fn upstream_codec() -> HttpFilter {
    HttpFilter {
        name: UPSTREAM_CODEC_FILTER.to_owned(),
        config_type: Some(http_filter::ConfigType::TypedConfig(to_any(
            &UpstreamCodec::default(),
        ))),
        ..Default::default()
    }
}

/// `HttpProtocolOptions` for a cluster that had none: explicit HTTP/1.1, Envoy's default.
fn upstream_protocol_options(http_filters: Vec<HttpFilter>) -> HttpProtocolOptions {
    use http_protocol_options::{UpstreamProtocolOptions, explicit_http_config::ProtocolConfig};
    HttpProtocolOptions {
        upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            http_protocol_options::ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::HttpProtocolOptions(Default::default())),
            },
        )),
        http_filters,
        ..Default::default()
    }
}

/// The cluster that reaches the processor over a Unix socket, with HTTP/2.
fn processor_cluster(config: &ExtProcConfig) -> Cluster {
    use http_protocol_options::{UpstreamProtocolOptions, explicit_http_config::ProtocolConfig};
    let protocol = HttpProtocolOptions {
        upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            http_protocol_options::ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(Http2ProtocolOptions {
                    initial_connection_window_size: Some(UInt32Value { value: 1 << 20 }),
                    initial_stream_window_size: Some(UInt32Value { value: 64 << 10 }),
                    ..Default::default()
                })),
            },
        )),
        ..Default::default()
    };
    let endpoint = LbEndpoint {
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            address: Some(Address {
                address: Some(address::Address::Pipe(Pipe {
                    path: config.socket_path.clone(),
                    mode: 0,
                })),
            }),
            ..Default::default()
        })),
        ..Default::default()
    };
    Cluster {
        name: config.cluster_name.clone(),
        cluster_discovery_type: Some(cluster_pb::ClusterDiscoveryType::Type(
            cluster_pb::DiscoveryType::Static.into(),
        )),
        connect_timeout: Some(Duration {
            seconds: 10,
            nanos: 0,
        }),
        per_connection_buffer_limit_bytes: Some(UInt32Value {
            value: PROCESSOR_BUFFER_LIMIT_BYTES,
        }),
        typed_extension_protocol_options: HashMap::from([(
            HTTP_PROTOCOL_OPTIONS_KEY.to_owned(),
            to_any(&protocol),
        )]),
        load_assignment: Some(ClusterLoadAssignment {
            cluster_name: config.cluster_name.clone(),
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: vec![endpoint],
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}
