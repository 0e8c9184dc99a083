//! Generated listeners, in the four shapes EG emits for Gateways.
//!
//! Listener `i` is, by `i % 4`: HTTPS with one SNI filter chain per hostname (TLS from SDS,
//! `tls_inspector`, an HCM with RDS per chain); TLS passthrough (SNI chains with a TCP proxy);
//! plain HTTP (one HCM in `default_filter_chain`); HTTP next to TCP proxy chains on one
//! listener. Each HCM chain comes with a [`RouteSlot`]: the route configuration it asks RDS
//! for, with the hostnames and Gateway that configuration's virtual hosts are built for.

use envoy_types::pb::envoy::config::core::v3::{Address, Http2ProtocolOptions};
use envoy_types::pb::envoy::config::core::v3::{
    AggregatedConfigSource, ApiVersion, ConfigSource, HttpProtocolOptions, SocketAddress,
    TransportSocket, address, config_source, http_protocol_options, socket_address,
    transport_socket,
};
use envoy_types::pb::envoy::config::listener::v3::{
    Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter, filter, listener_filter,
};
use envoy_types::pb::envoy::extensions::filters::http::cors::v3::Cors;
use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::listener::tls_inspector::v3::TlsInspector;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds, http_connection_manager, http_filter,
};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{TcpProxy, tcp_proxy};
use envoy_types::pb::envoy::extensions::transport_sockets::tls::v3::{
    CommonTlsContext, DownstreamTlsContext, SdsSecretConfig,
};
use envoy_types::pb::google::protobuf::{BoolValue, UInt32Value};
use prost::Message;

use super::names::{self, Gateway, HttpRoute, stream};
use super::{Spec, any};

/// A route configuration some HCM asks RDS for.
#[derive(Debug, Clone)]
pub(super) struct RouteSlot {
    /// The name in the HCM's `rds.route_config_name`.
    pub name: String,
    /// Hostnames: one virtual host each.
    pub hosts: Vec<String>,
    /// The Gateway listener the configuration serves.
    pub gateway: Gateway,
    /// Whether names follow `XDSNameSchemeV2`.
    pub v2: bool,
}

/// One generated listener and the route configurations its HCMs reference.
#[derive(Debug)]
pub(super) struct Generated {
    /// The encoded `envoy.config.listener.v3.Listener`.
    pub listener: Vec<u8>,
    /// One per HCM chain, in chain order.
    pub slots: Vec<RouteSlot>,
}

/// Listener number `index` of `spec`.
pub(super) fn listener(spec: &Spec, index: usize) -> Generated {
    let g = index / 2;
    let gateway = |section: String| Gateway {
        namespace: names::namespace(spec, g),
        name: format!("gw-{g}"),
        section,
    };
    let port = 10_000 + u32::try_from(index % 50_000).unwrap_or(0);
    let v2 = names::chance(spec.seed, stream::NAMING, index, spec.v2_naming_fraction);
    let domain = |label: &str| format!("{label}.gw{g}.example.com");
    let chains = spec.chains_per_listener.max(1);
    let mut slots = Vec::new();
    let mut listener = Listener {
        address: Some(socket(port)),
        per_connection_buffer_limit_bytes: Some(UInt32Value { value: 32_768 }),
        max_connections_to_accept_per_socket_event: Some(UInt32Value { value: 1 }),
        ..Default::default()
    };
    let first_section;
    match index % 4 {
        0 => {
            first_section = "https-0".to_owned();
            for j in 0..chains {
                let gw = gateway(format!("https-{j}"));
                let host = domain(&format!("api{j}"));
                let name = gw.legacy_name();
                let secret = secret_name(spec, index * chains + j);
                let mut chain = hcm_chain(&name, &name, &format!("https-{port}"), index + j);
                chain.filter_chain_match = Some(FilterChainMatch {
                    server_names: vec![host.clone()],
                    ..Default::default()
                });
                chain.transport_socket = Some(tls(&secret));
                listener.filter_chains.push(chain);
                slots.push(RouteSlot {
                    name,
                    hosts: vec![host],
                    gateway: gw,
                    v2,
                });
            }
            listener.listener_filters.push(tls_inspector());
        }
        1 => {
            first_section = "tls-0".to_owned();
            for j in 0..chains {
                let route = tcp_route(spec, index * chains + j);
                let mut chain = tcp_chain(spec, &route, port, index * chains + j);
                chain.filter_chain_match = Some(FilterChainMatch {
                    server_names: vec![domain(&format!("db{j}"))],
                    ..Default::default()
                });
                listener.filter_chains.push(chain);
            }
            listener.listener_filters.push(tls_inspector());
        }
        2 => {
            first_section = "http".to_owned();
            let gw = gateway(first_section.clone());
            let name = if v2 {
                format!("http-{port}")
            } else {
                gw.legacy_name()
            };
            let stat = format!("http-{port}");
            listener.default_filter_chain = Some(hcm_chain(&name, &name, &stat, index));
            slots.push(RouteSlot {
                name,
                hosts: vec![domain("www"), domain("shop")],
                gateway: gw,
                v2,
            });
        }
        _ => {
            first_section = "web".to_owned();
            let gw = gateway(first_section.clone());
            let name = if v2 {
                format!("http-{port}")
            } else {
                gw.legacy_name()
            };
            let mut chain = hcm_chain(&name, &name, &format!("http-{port}"), index);
            chain.filter_chain_match = Some(destination_port(port));
            listener.filter_chains.push(chain);
            slots.push(RouteSlot {
                name,
                hosts: vec![domain("web")],
                gateway: gw,
                v2,
            });
            for j in 1..chains {
                let route = tcp_route(spec, index * chains + j);
                let n = index * chains + j;
                let tcp_port = 40_000 + u32::try_from(n % 25_000).unwrap_or(0);
                let mut chain = tcp_chain(spec, &route, tcp_port, n);
                chain.filter_chain_match = Some(destination_port(tcp_port));
                listener.filter_chains.push(chain);
            }
        }
    }
    listener.name = if v2 {
        format!("tcp-{port}")
    } else {
        gateway(first_section).legacy_name()
    };
    Generated {
        listener: listener.encode_to_vec(),
        slots,
    }
}

fn socket(port: u32) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: "0.0.0.0".to_owned(),
            port_specifier: Some(socket_address::PortSpecifier::PortValue(port)),
            ..Default::default()
        })),
    }
}

fn destination_port(port: u32) -> FilterChainMatch {
    FilterChainMatch {
        destination_port: Some(UInt32Value { value: port }),
        ..Default::default()
    }
}

fn ads() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3.into(),
        config_source_specifier: Some(config_source::ConfigSourceSpecifier::Ads(
            AggregatedConfigSource {},
        )),
        ..Default::default()
    }
}

fn tls_inspector() -> ListenerFilter {
    ListenerFilter {
        name: "envoy.filters.listener.tls_inspector".to_owned(),
        config_type: Some(listener_filter::ConfigType::TypedConfig(any(
            &TlsInspector::default(),
        ))),
        ..Default::default()
    }
}

fn tls(secret: &str) -> TransportSocket {
    let context = DownstreamTlsContext {
        common_tls_context: Some(CommonTlsContext {
            alpn_protocols: vec!["h2".to_owned(), "http/1.1".to_owned()],
            tls_certificate_sds_secret_configs: vec![SdsSecretConfig {
                name: secret.to_owned(),
                sds_config: Some(ads()),
            }],
            ..Default::default()
        }),
        disable_stateful_session_resumption: true,
        ..Default::default()
    };
    TransportSocket {
        name: "envoy.transport_sockets.tls".to_owned(),
        config_type: Some(transport_socket::ConfigType::TypedConfig(any(&context))),
    }
}

/// The name of the secret HTTPS chain number `index` serves.
fn secret_name(spec: &Spec, index: usize) -> String {
    super::secret::name(spec, index % spec.secrets.max(1))
}

/// An HCM chain with RDS; `variant` picks one of a few filter lists EG produces (router
/// alone, CORS before it, CORS and a local rate limit).
fn hcm_chain(
    chain_name: &str,
    route_config: &str,
    stat_prefix: &str,
    variant: usize,
) -> FilterChain {
    let mut http_filters = Vec::new();
    if variant % 3 != 1 {
        http_filters.push(http("envoy.filters.http.cors", any(&Cors::default())));
    }
    if variant % 3 == 2 {
        let limit = LocalRateLimit {
            stat_prefix: "http_local_rate_limiter".to_owned(),
            ..Default::default()
        };
        http_filters.push(http("envoy.filters.http.local_ratelimit", any(&limit)));
    }
    let router = Router {
        suppress_envoy_headers: true,
        ..Default::default()
    };
    http_filters.push(http("envoy.filters.http.router", any(&router)));
    let hcm = HttpConnectionManager {
        stat_prefix: stat_prefix.to_owned(),
        http_filters,
        use_remote_address: Some(BoolValue { value: true }),
        normalize_path: Some(BoolValue { value: true }),
        merge_slashes: true,
        common_http_protocol_options: Some(HttpProtocolOptions {
            headers_with_underscores_action:
                http_protocol_options::HeadersWithUnderscoresAction::RejectRequest.into(),
            ..Default::default()
        }),
        http2_protocol_options: Some(Http2ProtocolOptions {
            max_concurrent_streams: Some(UInt32Value { value: 100 }),
            ..Default::default()
        }),
        route_specifier: Some(http_connection_manager::RouteSpecifier::Rds(Rds {
            config_source: Some(ads()),
            route_config_name: route_config.to_owned(),
        })),
        ..Default::default()
    };
    FilterChain {
        name: chain_name.to_owned(),
        filters: vec![Filter {
            name: crate::xds::names::HCM_FILTER.to_owned(),
            config_type: Some(filter::ConfigType::TypedConfig(any(&hcm))),
        }],
        ..Default::default()
    }
}

fn http(name: &str, config: envoy_types::pb::google::protobuf::Any) -> HttpFilter {
    HttpFilter {
        name: name.to_owned(),
        config_type: Some(http_filter::ConfigType::TypedConfig(config)),
        ..Default::default()
    }
}

/// The TCPRoute behind TCP chain `index`: it forwards to one of the fleet's clusters.
fn tcp_route(spec: &Spec, index: usize) -> HttpRoute {
    HttpRoute::new(spec, index % spec.clusters.max(1))
}

fn tcp_chain(spec: &Spec, target: &HttpRoute, port: u32, index: usize) -> FilterChain {
    let namespace = names::namespace(spec, index);
    let proxy = TcpProxy {
        stat_prefix: format!("tcp-{port}"),
        cluster_specifier: Some(tcp_proxy::ClusterSpecifier::Cluster(target.cluster())),
        ..Default::default()
    };
    FilterChain {
        name: format!("tcproute/{namespace}/tcp-{index}"),
        filters: vec![Filter {
            name: "envoy.filters.network.tcp_proxy".to_owned(),
            config_type: Some(filter::ConfigType::TypedConfig(any(&proxy))),
        }],
        ..Default::default()
    }
}
