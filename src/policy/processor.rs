//! One processor per policy that configures one: its filter and cluster, under names derived
//! from the policy.
//!
//! The configuration file's processor keeps today's names (`extProc.filterName`,
//! `extProc.clusterName`). A policy that sets anything of the processor itself (where it
//! is, its timeouts, its processing mode, `failureModeAllow`) gets its own filter and its own
//! cluster, named `<filterName>/<namespace>/<name>` and `<clusterName>_<namespace>_<name>`:
//! deterministic, distinct per policy (neither a namespace nor a name holds `_`), the filter
//! still recognised as ext_proc by filter placement. The cluster's name has no `/` because
//! Envoy sends it as the `:authority` of the gRPC calls to the processor, where a `/` is an
//! HTTP/2 protocol error (the data-plane test found it).
//! Each is the configuration's artefact with the policy's settings put in, so whatever the
//! policy leaves out stays as the file says. A policy that sets none of these (only `routes`
//! or `upstreamFilters`) uses the configuration's processor and names.
//!
//! The processing mode and `failureModeAllow` apply to the downstream filter. The upstream
//! filter keeps its own mode (request headers only) and always fails closed: without the
//! processor, a backend would get no credentials.

use std::fmt;
use std::net::IpAddr;

use envoy_types::pb::envoy::config::cluster::v3::{Cluster, cluster as cluster_pb};
use envoy_types::pb::envoy::config::core::v3::{Address, SocketAddress, address, socket_address};
use envoy_types::pb::envoy::config::endpoint::v3::lb_endpoint;
use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::{
    ExternalProcessor, ProcessingMode, processing_mode,
};

use super::PolicyId;
use super::spec::{BodyMode, Endpoint, HeaderMode, PhaseModes, Processor as Where, Spec};
use crate::config::ExtProcConfig;
use crate::mutate::Artifacts;

/// The cluster domain of a `processor.service` name.
const CLUSTER_DOMAIN: &str = "svc.cluster.local";

/// Who a processor (or a decision) comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The configuration file.
    Config,
    /// A ProcessorPolicy.
    Policy(PolicyId),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Config => f.write_str("config"),
            Source::Policy(id) => write!(f, "policy {id}"),
        }
    }
}

/// A processor one pass of the hook wires in.
#[derive(Debug, Clone)]
pub struct Processor {
    /// The configuration, or the policy whose settings it has.
    pub source: Source,
    /// Its artefacts; `None`: the configuration's, which the hook holds.
    pub artifacts: Option<Artifacts>,
    /// Whether the AI backend clusters of its routes get the upstream filters.
    pub upstream: bool,
}

/// The filter and cluster names of a policy's own processor.
pub(crate) fn names(config: &ExtProcConfig, id: &PolicyId) -> (String, String) {
    let PolicyId { namespace, name } = id;
    (
        format!("{}/{namespace}/{name}", config.filter_name),
        format!("{}_{namespace}_{name}", config.cluster_name),
    )
}

/// The artefacts of a policy's own processor: the configuration's, with its settings.
pub(crate) fn build(config: &ExtProcConfig, id: &PolicyId, spec: &Spec) -> Artifacts {
    let mut ext_proc = config.clone();
    (ext_proc.filter_name, ext_proc.cluster_name) = names(config, id);
    if let Some(timeout) = spec.message_timeout {
        ext_proc.message_timeout = timeout;
    }
    if let Some(Where {
        endpoint: Endpoint::Socket(path),
        ..
    }) = &spec.processor
    {
        ext_proc.socket_path = path.clone();
    }
    Artifacts::edited(&ext_proc, |processor, cluster| {
        edit_processor(processor, spec);
        if let Some(wanted) = &spec.processor {
            edit_cluster(cluster, wanted, &id.namespace);
        }
    })
}

/// The downstream processor with the policy's processing mode and failure mode.
fn edit_processor(processor: &mut ExternalProcessor, spec: &Spec) {
    let mode = processor
        .processing_mode
        .get_or_insert_with(Default::default);
    let overrides = &spec.processing_mode;
    apply(&overrides.request, mode, Direction::Request);
    apply(&overrides.response, mode, Direction::Response);
    if let Some(allow) = spec.failure_mode_allow {
        processor.failure_mode_allow = allow;
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Request,
    Response,
}

fn apply(phases: &PhaseModes, mode: &mut ProcessingMode, direction: Direction) {
    let (headers, body, trailers) = match direction {
        Direction::Request => (
            &mut mode.request_header_mode,
            &mut mode.request_body_mode,
            &mut mode.request_trailer_mode,
        ),
        Direction::Response => (
            &mut mode.response_header_mode,
            &mut mode.response_body_mode,
            &mut mode.response_trailer_mode,
        ),
    };
    if let Some(h) = phases.headers {
        *headers = header_mode(h).into();
    }
    if let Some(b) = phases.body {
        *body = body_mode(b).into();
    }
    if let Some(t) = phases.trailers {
        *trailers = header_mode(t).into();
    }
}

fn header_mode(mode: HeaderMode) -> processing_mode::HeaderSendMode {
    match mode {
        HeaderMode::Send => processing_mode::HeaderSendMode::Send,
        HeaderMode::Skip => processing_mode::HeaderSendMode::Skip,
    }
}

fn body_mode(mode: BodyMode) -> processing_mode::BodySendMode {
    use processing_mode::BodySendMode as B;
    match mode {
        BodyMode::None => B::None,
        BodyMode::Streamed => B::Streamed,
        BodyMode::Buffered => B::Buffered,
        BodyMode::BufferedPartial => B::BufferedPartial,
        BodyMode::FullDuplexStreamed => B::FullDuplexStreamed,
    }
}

/// The processor cluster reaching the policy's endpoint, with its connect timeout.
fn edit_cluster(cluster: &mut Cluster, processor: &Where, namespace: &str) {
    if let Some(timeout) = processor.connect_timeout {
        cluster.connect_timeout = Some(crate::mutate::duration(timeout));
    }
    let (host, port) = match &processor.endpoint {
        // The configuration's cluster already reaches the socket (its path was set).
        Endpoint::Socket(_) => return,
        Endpoint::Address { host, port } => (host.clone(), *port),
        Endpoint::Service {
            name,
            namespace: service_namespace,
            port,
        } => {
            let ns = service_namespace.as_deref().unwrap_or(namespace);
            (format!("{name}.{ns}.{CLUSTER_DOMAIN}"), *port)
        }
    };
    let discovery = if host.parse::<IpAddr>().is_ok() {
        cluster_pb::DiscoveryType::Static
    } else {
        cluster_pb::DiscoveryType::StrictDns
    };
    cluster.cluster_discovery_type = Some(cluster_pb::ClusterDiscoveryType::Type(discovery.into()));
    let address = Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: host,
            port_specifier: Some(socket_address::PortSpecifier::PortValue(u32::from(port))),
            ..Default::default()
        })),
    };
    // The configuration's cluster has exactly one endpoint (`mutate::processor_cluster`).
    let endpoints = cluster
        .load_assignment
        .iter_mut()
        .flat_map(|la| la.endpoints.iter_mut())
        .flat_map(|group| group.lb_endpoints.iter_mut());
    for lb in endpoints {
        if let Some(lb_endpoint::HostIdentifier::Endpoint(endpoint)) = &mut lb.host_identifier {
            endpoint.address = Some(address.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
        HttpFilter, http_filter,
    };
    use prost::Message;

    use super::*;
    use crate::Config;
    use crate::policy::spec;

    fn spec_of(json: serde_json::Value) -> Spec {
        let mut full = serde_json::json!({"targetRefs": [{"kind": "Gateway", "name": "ai"}]});
        if let (Some(o), Some(extra)) = (full.as_object_mut(), json.as_object()) {
            o.extend(extra.clone());
        }
        spec::read(full).unwrap()
    }

    fn id() -> PolicyId {
        PolicyId {
            namespace: "team-a".to_owned(),
            name: "tenant".to_owned(),
        }
    }

    #[test]
    fn a_policy_processor_is_the_configurations_with_its_settings_and_names() {
        let config = Config::default().ext_proc;
        let spec = spec_of(serde_json::json!({
            "processor": {"service": {"name": "ext-proc", "port": 1063}, "connectTimeout": "3s"},
            "processingMode": {"request": {"body": "Streamed"}},
            "failureModeAllow": true
        }));
        let artifacts = build(&config, &id(), &spec);
        assert_eq!(
            artifacts.filter_name,
            "envoy.filters.http.ext_proc/aigateway/team-a/tenant"
        );
        assert_eq!(
            artifacts.cluster_name,
            "ai-gateway-extproc-uds_team-a_tenant"
        );

        let filter = HttpFilter::decode(artifacts.http_filter.as_slice()).unwrap();
        let Some(http_filter::ConfigType::TypedConfig(any)) = filter.config_type else {
            panic!("no typed config");
        };
        let processor = ExternalProcessor::decode(any.value.as_slice()).unwrap();
        assert!(processor.failure_mode_allow);
        let mode = processor.processing_mode.unwrap();
        assert_eq!(
            mode.request_body_mode,
            processing_mode::BodySendMode::Streamed as i32
        );
        assert_eq!(
            mode.response_body_mode,
            processing_mode::BodySendMode::Buffered as i32,
            "left as configured"
        );

        let cluster = Cluster::decode(artifacts.cluster.as_ref()).unwrap();
        assert_eq!(cluster.name, "ai-gateway-extproc-uds_team-a_tenant");
        assert_eq!(cluster.connect_timeout.unwrap().seconds, 3);
        assert_eq!(
            cluster.cluster_discovery_type,
            Some(cluster_pb::ClusterDiscoveryType::Type(
                cluster_pb::DiscoveryType::StrictDns.into()
            ))
        );
        let text = format!("{:?}", cluster.load_assignment);
        assert!(text.contains("ext-proc.team-a.svc.cluster.local"), "{text}");
    }

    #[test]
    fn a_socket_policy_keeps_the_configured_filter_bytes_but_its_own_names() {
        let config = Config::default().ext_proc;
        let spec = spec_of(serde_json::json!({"processor": {"socketPath": "/run/a.sock"}}));
        let artifacts = build(&config, &id(), &spec);
        let cluster = Cluster::decode(artifacts.cluster.as_ref()).unwrap();
        assert!(format!("{:?}", cluster.load_assignment).contains("/run/a.sock"));
        assert_eq!(cluster.connect_timeout.unwrap().seconds, 10);
    }
}
