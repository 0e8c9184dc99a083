//! What `PostTranslateModify` adds for each pool: its endpoint picker filter and cluster.
//!
//! One filter per pool, not per route: a request passes every enabled ext_proc filter, each
//! with its own gRPC stream, so per-route filters would multiply streams (AI Gateway PR
//! #2595). The filter is disabled in the HCM and enabled by the pool's routes only, so a
//! route added later, or one the hook never saw, never reaches a picker. It follows GIE's
//! endpoint picker protocol: headers, bodies and trailers both ways, bodies streamed full
//! duplex (or buffered, by the pool's annotation), and `failure_mode_allow` from the pool's
//! `failureMode`.
//!
//! The cluster reaches the picker's Service by DNS, over HTTP/2 with TLS (GIE's EPP serves
//! TLS by default, with a self-signed certificate, so verification is the operator's choice:
//! `inference.endpointPickerTls`).

use std::collections::HashMap;

use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers, Cluster, circuit_breakers::Thresholds, cluster as cluster_pb,
};
use envoy_types::pb::envoy::config::core::v3::{
    Address, DataSource, GrpcService, SocketAddress, TransportSocket, address, data_source,
    grpc_service, socket_address, transport_socket,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint,
};
use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::{
    ExternalProcessor, ProcessingMode, processing_mode,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpFilter, http_filter,
};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CertificateValidationContext, CommonTlsContext, SubjectAltNameMatcher, UpstreamTlsContext,
    common_tls_context, subject_alt_name_matcher,
};
use envoy_types::pb::envoy::extensions::upstreams::http::v3::{
    HttpProtocolOptions, http_protocol_options,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{StringMatcher, string_matcher};
use envoy_types::pb::google::protobuf::{Duration, UInt32Value};
use prost::Message;

use super::pool::{BodyMode, FailureMode, Pool, PoolKey};
use crate::config::{EndpointPickerTls, InferenceConfig};
use crate::mutate::{HTTP_PROTOCOL_OPTIONS_KEY, duration, to_any};

/// Name prefix of the picker filters: an ext_proc filter as EG names them, so filter ordering
/// (EG's and the hook's) recognises its type.
const FILTER_PREFIX: &str = "envoy.filters.http.ext_proc/endpointpicker/";
/// Name prefix of the picker clusters.
const CLUSTER_PREFIX: &str = "endpointpicker/";
/// Envoy's TLS transport socket.
const TLS_SOCKET: &str = "envoy.transport_sockets.tls";
/// How long Envoy waits to connect to the picker.
const CONNECT_TIMEOUT_SECONDS: i64 = 10;
/// Envoy's circuit breakers default to 1,024 requests per cluster, and each request to a pool
/// holds a gRPC stream to its picker for as long as it lasts (minutes, for a streamed
/// completion): the picker cluster is not limited, the pool's capacity is the picker's job.
const UNLIMITED: u32 = u32::MAX;

/// The picker filter's name, also the key that enables it on a route.
pub(crate) fn filter_name(pool: &PoolKey) -> String {
    format!("{FILTER_PREFIX}{}/{}", pool.namespace, pool.name)
}

/// The picker cluster's name.
pub(crate) fn cluster_name(pool: &PoolKey) -> String {
    format!("{CLUSTER_PREFIX}{}/{}", pool.namespace, pool.name)
}

/// The encoded picker filter of `pool`: disabled until a route enables it.
pub(crate) fn http_filter(pool: &Pool, config: &InferenceConfig) -> Vec<u8> {
    use processing_mode::{BodySendMode, HeaderSendMode};
    let body = match pool.body_mode {
        BodyMode::FullDuplexStreamed => BodySendMode::FullDuplexStreamed,
        BodyMode::Buffered => BodySendMode::Buffered,
    };
    let mode = ProcessingMode {
        request_header_mode: HeaderSendMode::Send.into(),
        response_header_mode: HeaderSendMode::Send.into(),
        request_body_mode: body.into(),
        response_body_mode: body.into(),
        // Full duplex requires trailers sent: they tell the picker the body is complete.
        request_trailer_mode: HeaderSendMode::Send.into(),
        response_trailer_mode: HeaderSendMode::Send.into(),
    };
    let host = pool.picker.host(&pool.key.namespace);
    let processor = ExternalProcessor {
        grpc_service: Some(GrpcService {
            target_specifier: Some(grpc_service::TargetSpecifier::EnvoyGrpc(
                grpc_service::EnvoyGrpc {
                    cluster_name: cluster_name(&pool.key),
                    authority: format!("{host}:{}", pool.picker.port),
                    ..Default::default()
                },
            )),
            ..Default::default()
        }),
        processing_mode: Some(mode),
        message_timeout: Some(duration(config.message_timeout)),
        failure_mode_allow: pool.picker.failure_mode == FailureMode::FailOpen,
        ..Default::default()
    };
    HttpFilter {
        name: filter_name(&pool.key),
        disabled: true,
        config_type: Some(http_filter::ConfigType::TypedConfig(to_any(&processor))),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The encoded picker cluster of `pool`.
pub(crate) fn cluster(pool: &Pool, config: &InferenceConfig) -> Vec<u8> {
    use http_protocol_options::{UpstreamProtocolOptions, explicit_http_config::ProtocolConfig};
    let name = cluster_name(&pool.key);
    let host = pool.picker.host(&pool.key.namespace);
    let http2 = HttpProtocolOptions {
        upstream_protocol_options: Some(UpstreamProtocolOptions::ExplicitHttpConfig(
            http_protocol_options::ExplicitHttpConfig {
                protocol_config: Some(ProtocolConfig::Http2ProtocolOptions(Default::default())),
            },
        )),
        ..Default::default()
    };
    let endpoint = LbEndpoint {
        host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
            address: Some(Address {
                address: Some(address::Address::SocketAddress(SocketAddress {
                    address: host.clone(),
                    port_specifier: Some(socket_address::PortSpecifier::PortValue(u32::from(
                        pool.picker.port,
                    ))),
                    ..Default::default()
                })),
            }),
            ..Default::default()
        })),
        ..Default::default()
    };
    Cluster {
        name: name.clone(),
        cluster_discovery_type: Some(cluster_pb::ClusterDiscoveryType::Type(
            cluster_pb::DiscoveryType::StrictDns.into(),
        )),
        connect_timeout: Some(Duration {
            seconds: CONNECT_TIMEOUT_SECONDS,
            nanos: 0,
        }),
        circuit_breakers: Some(CircuitBreakers {
            thresholds: vec![Thresholds {
                max_connections: Some(UInt32Value { value: UNLIMITED }),
                max_pending_requests: Some(UInt32Value { value: UNLIMITED }),
                max_requests: Some(UInt32Value { value: UNLIMITED }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        typed_extension_protocol_options: HashMap::from([(
            HTTP_PROTOCOL_OPTIONS_KEY.to_owned(),
            to_any(&http2),
        )]),
        load_assignment: Some(ClusterLoadAssignment {
            cluster_name: name,
            endpoints: vec![LocalityLbEndpoints {
                lb_endpoints: vec![endpoint],
                ..Default::default()
            }],
            ..Default::default()
        }),
        transport_socket: Some(TransportSocket {
            name: TLS_SOCKET.to_owned(),
            config_type: Some(transport_socket::ConfigType::TypedConfig(to_any(
                &upstream_tls(&host, &config.endpoint_picker_tls),
            ))),
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// TLS to the picker: SNI and ALPN `h2` always (gRPC servers may insist on ALPN); the chain
/// and the Service host checked only when a CA is configured.
fn upstream_tls(host: &str, tls: &EndpointPickerTls) -> UpstreamTlsContext {
    let validation = match tls {
        EndpointPickerTls::Unverified => None,
        EndpointPickerTls::Verified { ca_file } => Some(
            common_tls_context::ValidationContextType::ValidationContext(
                CertificateValidationContext {
                    trusted_ca: Some(DataSource {
                        specifier: Some(data_source::Specifier::Filename(ca_file.clone())),
                        ..Default::default()
                    }),
                    match_typed_subject_alt_names: vec![SubjectAltNameMatcher {
                        san_type: subject_alt_name_matcher::SanType::Dns.into(),
                        matcher: Some(StringMatcher {
                            match_pattern: Some(string_matcher::MatchPattern::Exact(
                                host.to_owned(),
                            )),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                },
            ),
        ),
    };
    UpstreamTlsContext {
        sni: host.to_owned(),
        common_tls_context: Some(CommonTlsContext {
            alpn_protocols: vec!["h2".to_owned()],
            validation_context_type: validation,
            ..Default::default()
        }),
        ..Default::default()
    }
}
