//! `spec` of a ProcessorPolicy: read strictly, validated, then frozen.
//!
//! The CRD's schema and CEL rules (deploy/processor-policy-crd.yaml) refuse most mistakes at
//! `kubectl apply`; this is the same validation on what actually arrives, because EG's File
//! provider applies no schema, and an older CRD may be installed. Every error names its field
//! (`spec.processor.socketPath: must be absolute`). Unknown fields are errors, as in the
//! configuration file: the API server prunes them, so one that arrives means a CRD newer than
//! this hook, and a setting it cannot honour.
//!
//! Fields left out mean "as the configuration file says": a policy that only opts a Gateway in
//! (`routes: All`) uses the file's processor under the file's names.

use std::time::Duration;

use serde::Deserialize;

use super::error::{Problem, SpecError};
use crate::config::is_dns_label;

/// A validated spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// Where the processor is; `None`: the configuration file's socket.
    pub processor: Option<Processor>,
    /// The ext_proc `message_timeout`.
    pub message_timeout: Option<Duration>,
    /// Overrides of the downstream filter's processing mode.
    pub processing_mode: ModeOverrides,
    /// The downstream filter's `failure_mode_allow`.
    pub failure_mode_allow: Option<bool>,
    /// Which routes of the targets are processed.
    pub routes: Routes,
    /// Whether AI backend clusters get the upstream filters (default: yes).
    pub upstream_filters: bool,
}

impl Spec {
    /// Whether the spec sets anything of the processor itself: then it gets its own filter and
    /// cluster, named after the policy.
    pub(crate) fn has_own_processor(&self) -> bool {
        self.processor.is_some()
            || self.message_timeout.is_some()
            || self.failure_mode_allow.is_some()
            || !self.processing_mode.is_empty()
    }
}

/// How the processor is reached, and its cluster's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processor {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The cluster's `connect_timeout`; `None`: the configuration's processor cluster's.
    pub connect_timeout: Option<Duration>,
}

/// Where the processor listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix socket (absolute path), shared with Envoy's pod.
    Socket(String),
    /// `host:port`: an IP address, or a DNS name Envoy resolves.
    Address {
        /// IP address or DNS name.
        host: String,
        /// Port.
        port: u16,
    },
    /// A Kubernetes Service, reached at `<name>.<namespace>.svc.cluster.local:<port>`.
    Service {
        /// Service name.
        name: String,
        /// Its namespace (default: the policy's, filled in by the caller).
        namespace: Option<String>,
        /// Port.
        port: u16,
    },
}

/// Which routes of a target are processed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Routes {
    /// Routes whose HTTPRoute carries the annotation, or opted in by a route-level policy.
    #[default]
    Annotation,
    /// Every route, except those opted out by a route-level policy.
    All,
    /// None: the target is opted out.
    None,
}

/// Overrides of the downstream filter's processing mode; `None` keeps the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeOverrides {
    /// Request phases.
    #[serde(default)]
    pub request: PhaseModes,
    /// Response phases.
    #[serde(default)]
    pub response: PhaseModes,
}

impl ModeOverrides {
    /// Whether nothing is overridden.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// The modes of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseModes {
    /// Headers: `Send` or `Skip`.
    pub headers: Option<HeaderMode>,
    /// Body.
    pub body: Option<BodyMode>,
    /// Trailers: `Send` or `Skip`.
    pub trailers: Option<HeaderMode>,
}

/// ext_proc `HeaderSendMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum HeaderMode {
    /// `SEND`.
    Send,
    /// `SKIP`.
    Skip,
}

/// ext_proc `BodySendMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum BodyMode {
    /// `NONE`.
    None,
    /// `STREAMED`.
    Streamed,
    /// `BUFFERED`.
    Buffered,
    /// `BUFFERED_PARTIAL`.
    BufferedPartial,
    /// `FULL_DUPLEX_STREAMED`.
    FullDuplexStreamed,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSpec {
    #[serde(default)]
    target_refs: Vec<RawTargetRef>,
    #[serde(default)]
    target_selectors: Vec<RawSelector>,
    processor: Option<RawProcessor>,
    message_timeout: Option<String>,
    processing_mode: Option<ModeOverrides>,
    failure_mode_allow: Option<bool>,
    routes: Option<Routes>,
    upstream_filters: Option<bool>,
}

/// A target reference; EG resolves it, this only checks the kind.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTargetRef {
    kind: String,
}

/// A label selector over targets; EG resolves it, this only checks the kind.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSelector {
    kind: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawProcessor {
    socket_path: Option<String>,
    address: Option<String>,
    service: Option<RawService>,
    connect_timeout: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: String,
    namespace: Option<String>,
    port: u32,
}

/// Kinds a ProcessorPolicy attaches to.
const TARGET_KINDS: [&str; 3] = ["Gateway", "HTTPRoute", "GRPCRoute"];

/// Reads and validates `spec`.
pub fn read(spec: serde_json::Value) -> Result<Spec, SpecError> {
    let raw: RawSpec = serde_path_to_error::deserialize(spec).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        SpecError::at(&path, Problem::Schema(e.into_inner().to_string()))
    })?;
    let RawSpec {
        target_refs,
        target_selectors,
        processor,
        message_timeout,
        processing_mode,
        failure_mode_allow,
        routes,
        upstream_filters,
    } = raw;
    if target_refs.is_empty() && target_selectors.is_empty() {
        return Err(SpecError::at("", Problem::NoTargets));
    }
    let kinds = [
        (
            "targetRefs",
            target_refs.iter().map(|t| &t.kind).collect::<Vec<_>>(),
        ),
        (
            "targetSelectors",
            target_selectors.iter().map(|s| &s.kind).collect(),
        ),
    ];
    for (list, kinds) in kinds {
        let unknown = kinds
            .into_iter()
            .enumerate()
            .find(|(_, kind)| !TARGET_KINDS.contains(&kind.as_str()));
        if let Some((i, kind)) = unknown {
            return Err(SpecError::at(
                &format!("{list}[{i}].kind"),
                Problem::TargetKind(kind.clone()),
            ));
        }
    }
    let processing_mode = processing_mode.unwrap_or_default();
    for (direction, modes) in [
        ("request", &processing_mode.request),
        ("response", &processing_mode.response),
    ] {
        // Envoy refuses a full-duplex body without the trailers that end it.
        if modes.body == Some(BodyMode::FullDuplexStreamed)
            && modes.trailers != Some(HeaderMode::Send)
        {
            return Err(SpecError::at(
                &format!("processingMode.{direction}.trailers"),
                Problem::FullDuplexTrailers,
            ));
        }
    }
    Ok(Spec {
        processor: processor.map(RawProcessor::validate).transpose()?,
        message_timeout: message_timeout
            .map(|t| duration("messageTimeout", &t))
            .transpose()?,
        processing_mode,
        failure_mode_allow,
        routes: routes.unwrap_or_default(),
        upstream_filters: upstream_filters.unwrap_or(true),
    })
}

impl RawProcessor {
    fn validate(self) -> Result<Processor, SpecError> {
        let RawProcessor {
            socket_path,
            address,
            service,
            connect_timeout,
        } = self;
        let set = usize::from(socket_path.is_some())
            + usize::from(address.is_some())
            + usize::from(service.is_some());
        let endpoint = match (socket_path, address, service) {
            (Some(path), None, None) => {
                if !path.starts_with('/') {
                    return Err(SpecError::at("processor.socketPath", Problem::NotAbsolute));
                }
                Endpoint::Socket(path)
            }
            (None, Some(address), None) => host_port(&address)?,
            (None, None, Some(service)) => service.validate()?,
            _ => return Err(SpecError::at("processor", Problem::Endpoints(set))),
        };
        Ok(Processor {
            endpoint,
            connect_timeout: connect_timeout
                .map(|t| duration("processor.connectTimeout", &t))
                .transpose()?,
        })
    }
}

impl RawService {
    fn validate(self) -> Result<Endpoint, SpecError> {
        let RawService {
            name,
            namespace,
            port,
        } = self;
        if !is_dns_label(&name) {
            return Err(SpecError::at("processor.service.name", Problem::Name(name)));
        }
        if let Some(ns) = namespace.as_ref().filter(|ns| !is_dns_label(ns)) {
            return Err(SpecError::at(
                "processor.service.namespace",
                Problem::Name(ns.clone()),
            ));
        }
        Ok(Endpoint::Service {
            name,
            namespace,
            port: port_number("processor.service.port", port)?,
        })
    }
}

fn host_port(address: &str) -> Result<Endpoint, SpecError> {
    let bad = || SpecError::at("processor.address", Problem::HostPort(address.to_owned()));
    let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
    // An IPv6 literal is written in brackets, as in a URL.
    let host = match host.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']').ok_or_else(bad)?,
        None if host.contains(':') => return Err(bad()),
        None => host,
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    let port: u32 = port.parse().map_err(|_| bad())?;
    Ok(Endpoint::Address {
        host: host.to_owned(),
        port: port_number("processor.address", port)?,
    })
}

fn port_number(path: &str, port: u32) -> Result<u16, SpecError> {
    u16::try_from(port)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| SpecError::at(path, Problem::Port(port)))
}

fn duration(path: &str, text: &str) -> Result<Duration, SpecError> {
    let d = humantime::parse_duration(text)
        .map_err(|_| SpecError::at(path, Problem::Duration(text.to_owned())))?;
    if d.is_zero() {
        return Err(SpecError::at(path, Problem::NotPositive));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gateway(extra: serde_json::Value) -> serde_json::Value {
        let mut spec = json!({"targetRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "ai"}]});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        spec
    }

    fn error(extra: serde_json::Value) -> String {
        read(gateway(extra)).unwrap_err().to_string()
    }

    #[test]
    fn a_full_spec_reads() {
        let spec = read(gateway(json!({
            "processor": {"service": {"name": "ext-proc", "port": 1063}, "connectTimeout": "2s"},
            "messageTimeout": "250ms",
            "processingMode": {"request": {"body": "Streamed"}, "response": {"headers": "Skip"}},
            "failureModeAllow": true,
            "routes": "All",
            "upstreamFilters": false
        })))
        .unwrap();
        assert_eq!(
            spec.processor,
            Some(Processor {
                endpoint: Endpoint::Service {
                    name: "ext-proc".to_owned(),
                    namespace: None,
                    port: 1063
                },
                connect_timeout: Some(Duration::from_secs(2)),
            })
        );
        assert_eq!(spec.message_timeout, Some(Duration::from_millis(250)));
        assert_eq!(spec.processing_mode.request.body, Some(BodyMode::Streamed));
        assert_eq!(
            spec.processing_mode.response.headers,
            Some(HeaderMode::Skip)
        );
        assert_eq!(spec.routes, Routes::All);
        assert!(!spec.upstream_filters && spec.has_own_processor());
    }

    #[test]
    fn defaults_defer_to_the_configuration() {
        let spec = read(gateway(json!({}))).unwrap();
        assert_eq!(spec.routes, Routes::Annotation);
        assert!(spec.upstream_filters);
        assert!(!spec.has_own_processor());
    }

    #[test]
    fn mistakes_name_their_field() {
        let cases = [
            (
                json!({"processor": {"socketPath": "run.sock"}}),
                "spec.processor.socketPath: must be absolute",
            ),
            (
                json!({"processor": {"socketPath": "/a", "address": "b:1"}}),
                "spec.processor: exactly one of socketPath, address and service must be set, found 2",
            ),
            (
                json!({"processor": {"address": "ext-proc"}}),
                "spec.processor.address: \"ext-proc\" is not host:port",
            ),
            (
                json!({"processor": {"address": "10.0.0.1:0"}}),
                "spec.processor.address: 0 is not a port (1 to 65535)",
            ),
            (
                json!({"processor": {"service": {"name": "Ext", "port": 1}}}),
                "spec.processor.service.name: \"Ext\" is not a DNS label",
            ),
            (
                json!({"messageTimeout": "soon"}),
                "spec.messageTimeout: \"soon\" is not a duration (like 5s or 250ms)",
            ),
            (
                json!({"messageTimeout": "0s"}),
                "spec.messageTimeout: must be positive",
            ),
        ];
        for (extra, expected) in cases {
            assert_eq!(error(extra.clone()), expected, "{extra}");
        }
        let e = error(json!({"routes": "Some"}));
        assert!(e.starts_with("spec.routes: unknown variant `Some`"), "{e}");
        let e = error(json!({"processor": {"socketPth": "/a"}}));
        assert!(
            e.starts_with("spec.processor.socketPth: unknown field `socketPth`"),
            "{e}"
        );
        let e = read(json!({"targetRefs": [{"kind": "Service", "name": "x"}]}))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "spec.targetRefs[0].kind: kind \"Service\" cannot be targeted (Gateway, HTTPRoute or GRPCRoute)"
        );
        assert_eq!(
            read(json!({})).unwrap_err().to_string(),
            "spec: has neither targetRefs nor targetSelectors"
        );
    }

    #[test]
    fn addresses_take_names_and_bracketed_ipv6() {
        assert_eq!(
            host_port("[::1]:9000").unwrap(),
            Endpoint::Address {
                host: "::1".to_owned(),
                port: 9000
            }
        );
        assert!(host_port("::1:9000").is_err());
        assert_eq!(
            host_port("ext-proc.team-a:1063").unwrap(),
            Endpoint::Address {
                host: "ext-proc.team-a".to_owned(),
                port: 1063
            }
        );
    }
}
