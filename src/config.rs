//! Configuration: read from YAML, validated, then frozen.
//!
//! Every knob has an embedded default that makes xds-hook a drop-in for the Envoy AI Gateway's
//! own extension server, so `xds-hook serve` with no file is a working setup. A file only needs
//! the keys it changes. Unknown keys are errors (a typo must not silently fall back to a
//! default), and every error names the key. Validation happens here, before anything binds.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The prefix EG strips from the annotation keys it forwards into xDS metadata.
pub const EG_ANNOTATION_PREFIX: &str = "gateway.envoyproxy.io/";

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The YAML does not fit the schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// Parser message, with line and column.
        message: String,
    },
    /// A value is out of range.
    #[error("{key}: {message}")]
    Invalid {
        /// The key, as a path (`extProc.socketPath`).
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// An entry of a list is out of range.
    #[error("{key}[{index}]: {message}")]
    InvalidEntry {
        /// The list's key, as a path (`extProc.placement.after`).
        key: &'static str,
        /// The entry's position in the list.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Which routes and Gateways are processed.
    pub selection: SelectionConfig,
    /// The processor filter and cluster the hook adds.
    pub ext_proc: ExtProcConfig,
    /// How InferencePool endpoint pickers are wired.
    pub inference: InferenceConfig,
    /// The gRPC server.
    pub server: ServerConfig,
}

/// Which routes are processed.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectionConfig {
    /// HTTPRoute annotation key (as it arrives in xDS, without `gateway.envoyproxy.io/`).
    pub route_annotation: String,
    /// When set, only Gateways in these namespaces are processed.
    pub gateway_namespaces: Option<BTreeSet<String>>,
    /// When set, only Gateways with this annotation (not `false`) are processed.
    pub gateway_annotation: Option<String>,
}

/// The processor the hook wires in.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtProcConfig {
    /// Name of the ext_proc HTTP filter, also the key of its per-route config.
    pub filter_name: String,
    /// Name of the cluster that reaches the processor.
    pub cluster_name: String,
    /// Unix socket path of the processor.
    pub socket_path: String,
    /// ext_proc `message_timeout`.
    pub message_timeout: Duration,
    /// Dynamic metadata namespace the processor may write (`metadata_options`).
    pub metadata_namespace: String,
    /// Where the processor goes among an HCM's HTTP filters.
    pub placement: PlacementConfig,
}

mod describe;
mod inference;
mod placement;
mod server;
pub use describe::DescribeError;
use inference::RawInference;
pub use inference::{DEFAULT_EPP_MESSAGE_TIMEOUT, EndpointPickerTls, InferenceConfig};
use placement::RawPlacement;
pub use placement::{PlacementConfig, ROUTER};
use server::RawServer;
pub use server::{
    DEFAULT_ADMIN_LISTEN, DEFAULT_CONFIG_RELOAD_INTERVAL, DEFAULT_LISTEN, DEFAULT_MAX_CALL_TIME,
    DEFAULT_MAX_CONCURRENT_CALLS, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_QUEUED_CALLS,
    DEFAULT_QUEUE_TIMEOUT, DEFAULT_SHUTDOWN_GRACE, DEFAULT_TLS_RELOAD_INTERVAL, ListenAddr,
    ServerConfig, TlsConfig,
};

impl Default for Config {
    fn default() -> Self {
        Self {
            selection: SelectionConfig {
                route_annotation: "ai-gateway-generated".to_owned(),
                gateway_namespaces: None,
                gateway_annotation: None,
            },
            ext_proc: ExtProcConfig {
                filter_name: "envoy.filters.http.ext_proc/aigateway".to_owned(),
                cluster_name: "ai-gateway-extproc-uds".to_owned(),
                socket_path: "/etc/ai-gateway-extproc-uds/run.sock".to_owned(),
                message_timeout: Duration::from_secs(10),
                metadata_namespace: "io.envoy.ai_gateway".to_owned(),
                placement: PlacementConfig::default(),
            },
            inference: InferenceConfig::default(),
            server: ServerConfig::default(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    selection: RawSelection,
    #[serde(default)]
    ext_proc: RawExtProc,
    #[serde(default)]
    inference: RawInference,
    #[serde(default)]
    server: RawServer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawSelection {
    route_annotation: Option<String>,
    gateway_namespaces: Option<Vec<String>>,
    gateway_annotation: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawExtProc {
    filter_name: Option<String>,
    cluster_name: Option<String>,
    socket_path: Option<String>,
    message_timeout: Option<String>,
    metadata_namespace: Option<String>,
    #[serde(default)]
    placement: RawPlacement,
}

/// A configuration file as read once: its text, for the server to watch for changes from
/// (`server::serve`), and what it says.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its text as read.
    pub text: String,
    /// What it says, validated.
    pub config: Config,
}

impl ConfigFile {
    /// Reads and validates the file at `path`.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let config = Config::from_yaml(&text).map_err(|e| match e {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.display().to_string(),
                message,
            },
            other => other,
        })?;
        Ok(Self {
            path: path.to_owned(),
            text,
            config,
        })
    }
}

impl Config {
    /// Loads and validates a YAML file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        ConfigFile::read(path).map(|file| file.config)
    }

    /// Parses and validates YAML text; an empty document means all defaults.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_saphyr::from_str(text).map_err(|e| ConfigError::Parse {
                path: "<config>".to_owned(),
                message: e.to_string(),
            })?
        };
        raw.validate()
    }
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        let defaults = Config::default();
        let RawConfig {
            selection,
            ext_proc,
            inference,
            server,
        } = self;
        Ok(Config {
            selection: selection.validate(defaults.selection)?,
            ext_proc: ext_proc.validate(defaults.ext_proc)?,
            inference: inference.validate()?,
            server: server.validate(defaults.server)?,
        })
    }
}

impl RawSelection {
    fn validate(self, defaults: SelectionConfig) -> Result<SelectionConfig, ConfigError> {
        let RawSelection {
            route_annotation,
            gateway_namespaces,
            gateway_annotation,
        } = self;
        let route_annotation = match route_annotation {
            Some(key) => annotation_key("selection.routeAnnotation", key)?,
            None => defaults.route_annotation,
        };
        let gateway_annotation = gateway_annotation
            .map(|key| annotation_key("selection.gatewayAnnotation", key))
            .transpose()?;
        let gateway_namespaces = gateway_namespaces
            .map(|list| {
                if let Some(bad) = list.iter().find(|ns| !is_dns_label(ns)) {
                    return Err(invalid(
                        "selection.gatewayNamespaces",
                        format!("{bad:?} is not a Kubernetes namespace name"),
                    ));
                }
                Ok(list.into_iter().collect::<BTreeSet<_>>())
            })
            .transpose()?;
        Ok(SelectionConfig {
            route_annotation,
            gateway_namespaces,
            gateway_annotation,
        })
    }
}

impl RawExtProc {
    fn validate(self, defaults: ExtProcConfig) -> Result<ExtProcConfig, ConfigError> {
        let RawExtProc {
            filter_name,
            cluster_name,
            socket_path,
            message_timeout,
            metadata_namespace,
            placement,
        } = self;
        let filter_name = non_empty("extProc.filterName", filter_name, defaults.filter_name)?;
        if !filter_name.starts_with("envoy.filters.http.ext_proc") {
            return Err(invalid(
                "extProc.filterName",
                format!(
                    "{filter_name:?} must start with envoy.filters.http.ext_proc so that filter \
                     ordering (EG's and ours) recognises it as an ext_proc filter"
                ),
            ));
        }
        let socket_path = non_empty("extProc.socketPath", socket_path, defaults.socket_path)?;
        if !socket_path.starts_with('/') {
            return Err(invalid(
                "extProc.socketPath",
                format!("{socket_path:?} must be an absolute path"),
            ));
        }
        let message_timeout = positive_duration(
            "extProc.messageTimeout",
            message_timeout,
            defaults.message_timeout,
        )?;
        Ok(ExtProcConfig {
            filter_name,
            cluster_name: non_empty("extProc.clusterName", cluster_name, defaults.cluster_name)?,
            socket_path,
            message_timeout,
            metadata_namespace: non_empty(
                "extProc.metadataNamespace",
                metadata_namespace,
                defaults.metadata_namespace,
            )?,
            placement: placement.validate()?,
        })
    }
}

/// Normalises an annotation key to the form EG forwards. EG copies only keys under
/// `gateway.envoyproxy.io/` and strips that prefix, so the full key is accepted and stripped,
/// and any other prefixed key is refused: it could never reach xDS.
fn annotation_key(key: &'static str, value: String) -> Result<String, ConfigError> {
    let stripped = value
        .strip_prefix(EG_ANNOTATION_PREFIX)
        .map(str::to_owned)
        .unwrap_or(value);
    if stripped.is_empty() {
        return Err(invalid(key, "must not be empty".to_owned()));
    }
    if stripped.contains('/') {
        return Err(invalid(
            key,
            format!(
                "{stripped:?}: Envoy Gateway forwards only annotations under \
                 {EG_ANNOTATION_PREFIX} (and strips that prefix), so this key never reaches xDS"
            ),
        ));
    }
    Ok(stripped)
}

fn non_empty(
    key: &'static str,
    value: Option<String>,
    default: String,
) -> Result<String, ConfigError> {
    match value {
        Some(v) if v.trim().is_empty() => Err(invalid(key, "must not be empty".to_owned())),
        Some(v) => Ok(v),
        None => Ok(default),
    }
}

/// Whether `name` is a DNS label (RFC 1123), as Kubernetes namespaces and Services are.
pub(crate) fn is_dns_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

/// A duration under `key` (humantime: `250ms`, `30s`, `5m`), `default` when absent; zero is
/// refused, as every duration of the file is a timeout or an interval.
fn positive_duration(
    key: &'static str,
    text: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(text) = text else {
        return Ok(default);
    };
    let value = duration(key, &text)?;
    if value.is_zero() {
        return Err(invalid(key, "must be positive".into()));
    }
    Ok(value)
}

fn duration(key: &'static str, text: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(text).map_err(|e| invalid(key, format!("{text:?}: {e}")))
}

fn invalid(key: &'static str, message: String) -> ConfigError {
    ConfigError::Invalid { key, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_embedded_defaults() {
        assert_eq!(Config::from_yaml("").unwrap(), Config::default());
        assert_eq!(Config::from_yaml("{}").unwrap(), Config::default());
    }

    #[test]
    fn full_annotation_key_is_accepted_and_stripped() {
        let c = Config::from_yaml(
            "selection:\n  gatewayAnnotation: gateway.envoyproxy.io/ai-gateway-managed\n",
        )
        .unwrap();
        assert_eq!(
            c.selection.gateway_annotation.as_deref(),
            Some("ai-gateway-managed")
        );
    }

    #[test]
    fn foreign_annotation_prefix_is_refused_with_the_key() {
        let e = Config::from_yaml("selection:\n  routeAnnotation: example.com/ai\n").unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("selection.routeAnnotation: "), "{text}");
        assert!(text.contains("never reaches xDS"), "{text}");
    }

    #[test]
    fn unknown_key_is_an_error_naming_it() {
        let e = Config::from_yaml("extProc:\n  socketPth: /x\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("socketPth"), "{e}");
    }

    #[test]
    fn values_are_validated_with_their_key() {
        let cases = [
            (
                "extProc:\n  messageTimeout: soon\n",
                "extProc.messageTimeout",
            ),
            ("extProc:\n  socketPath: run.sock\n", "extProc.socketPath"),
            ("extProc:\n  filterName: my-filter\n", "extProc.filterName"),
            ("server:\n  listen: localhost\n", "server.listen"),
            ("server:\n  maxMessageBytes: 0\n", "server.maxMessageBytes"),
            (
                "selection:\n  gatewayNamespaces: [Team_A]\n",
                "selection.gatewayNamespaces",
            ),
        ];
        for (yaml, key) in cases {
            let e = Config::from_yaml(yaml).unwrap_err().to_string();
            assert!(e.starts_with(key), "{yaml:?} gave {e}");
        }
    }

    #[test]
    fn overrides_apply() {
        let c = Config::from_yaml(
            "selection:\n  gatewayNamespaces: [team-a, envoy-gateway]\nextProc:\n  messageTimeout: 2500ms\n  socketPath: /tmp/p.sock\nserver:\n  listen: 127.0.0.1:9000\n",
        )
        .unwrap();
        assert_eq!(
            c.selection
                .gateway_namespaces
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            ["envoy-gateway", "team-a"]
        );
        assert_eq!(c.ext_proc.message_timeout, Duration::from_millis(2500));
        assert_eq!(c.ext_proc.socket_path, "/tmp/p.sock");
        assert_eq!(
            c.server.listen,
            [ListenAddr::Tcp("127.0.0.1:9000".parse().unwrap())]
        );
    }
}
