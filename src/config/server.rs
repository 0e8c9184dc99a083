//! The `server` section: where the gRPC and admin endpoints listen, TLS, limits, shutdown.
//!
//! Kept apart from the hook's own settings because it describes the process, not the
//! decisions: nothing here changes what a response contains. Every default is chosen for a
//! Kubernetes Deployment next to Envoy Gateway and is documented in the README; every error
//! names its key, and all of it is checked before anything binds.

use std::{fmt, net::SocketAddr, path::PathBuf, str::FromStr, time::Duration};

use serde::Deserialize;

use super::{ConfigError, duration, invalid, positive_duration};

/// Default gRPC listen address: all interfaces, the port EG examples use for extension servers.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:1063";
/// Default admin (HTTP) listen address: all interfaces, because kubelet probes and Prometheus
/// reach the pod IP, not loopback.
pub const DEFAULT_ADMIN_LISTEN: &str = "0.0.0.0:1064";
/// Default message limit: 256 MiB, far above tonic's 4 MiB; fleets send tens of MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 << 20;
/// Default number of `PostTranslateModify` calls processed at once. Each holds its request and
/// response (up to twice `maxMessageBytes`), so this bounds memory; EG replicas call one at a
/// time each, so a few replicas fit.
pub const DEFAULT_MAX_CONCURRENT_CALLS: usize = 4;
/// Default number of `PostTranslateModify` calls that may wait for a slot. A waiting call holds
/// no request body (admission comes before the body is read), only what HTTP/2 flow control
/// lets its client send ahead, so the queue is cheap; it absorbs every EG replica's burst of
/// per-Gateway calls at once.
pub const DEFAULT_MAX_QUEUED_CALLS: usize = 16;
/// Default longest wait for a slot before the call is answered `UNAVAILABLE` (which EG
/// retries). Far above the hook's time per call, so only a stuck server reaches it.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default longest time an admitted call may hold its slot, from admission to the last byte
/// of its response. EG sets no deadline, so without this a client that stops reading its
/// answer would hold a slot and a fleet's memory for ever. The hook takes well under a second
/// on the largest allowed message; this leaves room for slow networks.
pub const DEFAULT_MAX_CALL_TIME: Duration = Duration::from_secs(60);
/// Default interval at which the `--config` file is checked for changes.
pub const DEFAULT_CONFIG_RELOAD_INTERVAL: Duration = Duration::from_secs(10);
/// Default drain time after SIGTERM: below Kubernetes' 30 s `terminationGracePeriodSeconds`,
/// so in-flight calls finish (or we say they did not) before the kubelet kills the pod.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(25);
/// Default interval at which TLS files are re-read for rotation.
pub const DEFAULT_TLS_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

/// The process: listeners, TLS, limits and shutdown.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// gRPC listen addresses (TCP and/or Unix sockets); at least one.
    pub listen: Vec<ListenAddr>,
    /// HTTP admin address (`/healthz`, `/readyz`, `/metrics`); `None` disables it.
    pub admin_listen: Option<SocketAddr>,
    /// Largest request or response message, in bytes.
    pub max_message_bytes: usize,
    /// `PostTranslateModify` calls processed at once; excess calls wait in a FIFO queue.
    pub max_concurrent_calls: usize,
    /// Calls that may wait for a slot; beyond that a call is answered `UNAVAILABLE`.
    pub max_queued_calls: usize,
    /// Longest wait for a slot; then the call is answered `UNAVAILABLE`.
    pub queue_timeout: Duration,
    /// Longest an admitted call may hold its slot, to the last byte of its response.
    pub max_call_time: Duration,
    /// How often the `--config` file is checked for changes.
    pub config_reload_interval: Duration,
    /// How long in-flight calls may take to finish after SIGTERM/SIGINT.
    pub shutdown_grace: Duration,
    /// TLS on every gRPC listener, when set.
    pub tls: Option<TlsConfig>,
}

/// TLS (and, with a client CA, mutual TLS) for the gRPC listeners. The files are re-read every
/// `reload_interval` and a changed set replaces the old one for new connections.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsConfig {
    /// PEM certificate chain of the server.
    pub cert_file: PathBuf,
    /// PEM private key of the server.
    pub key_file: PathBuf,
    /// PEM CA bundle; when set, clients must present a certificate it signed (mTLS).
    pub client_ca_file: Option<PathBuf>,
    /// How often the files are checked for changes.
    pub reload_interval: Duration,
}

/// One gRPC listen address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// `host:port`.
    Tcp(SocketAddr),
    /// `unix:///absolute/path`.
    Unix(PathBuf),
}

/// A listen address that is neither `host:port` nor `unix:///absolute/path`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidListenAddr {
    /// `unix://` followed by a relative path.
    #[error("{0:?}: a Unix socket is unix:///absolute/path (three slashes)")]
    RelativeUnixPath(String),
    /// Not a socket address.
    #[error("{0:?}: {1} (expected host:port, e.g. 0.0.0.0:1063, or unix:///path)")]
    NotHostPort(String, std::net::AddrParseError),
}

impl FromStr for ListenAddr {
    type Err = InvalidListenAddr;

    fn from_str(text: &str) -> Result<Self, InvalidListenAddr> {
        if let Some(path) = text.strip_prefix("unix://") {
            if !path.starts_with('/') {
                return Err(InvalidListenAddr::RelativeUnixPath(text.to_owned()));
            }
            return Ok(ListenAddr::Unix(PathBuf::from(path)));
        }
        text.parse()
            .map(ListenAddr::Tcp)
            .map_err(|e| InvalidListenAddr::NotHostPort(text.to_owned(), e))
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(addr) => addr.fmt(f),
            ListenAddr::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: vec![ListenAddr::Tcp(SocketAddr::from(([0, 0, 0, 0], 1063)))],
            admin_listen: Some(SocketAddr::from(([0, 0, 0, 0], 1064))),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            max_queued_calls: DEFAULT_MAX_QUEUED_CALLS,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            max_call_time: DEFAULT_MAX_CALL_TIME,
            config_reload_interval: DEFAULT_CONFIG_RELOAD_INTERVAL,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            tls: None,
        }
    }
}

/// `server` as written in YAML.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawServer {
    listen: Option<OneOrMany>,
    #[serde(default, deserialize_with = "present")]
    admin_listen: Option<Option<String>>,
    max_message_bytes: Option<u64>,
    max_concurrent_calls: Option<u64>,
    max_queued_calls: Option<u64>,
    queue_timeout: Option<String>,
    max_call_time: Option<String>,
    config_reload_interval: Option<String>,
    shutdown_grace: Option<String>,
    tls: Option<RawTls>,
}

/// `listen` takes one address or a list.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTls {
    cert_file: String,
    key_file: String,
    client_ca_file: Option<String>,
    reload_interval: Option<String>,
}

/// Tells `adminListen: null` (disable) from an absent key (default).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl RawServer {
    pub(super) fn validate(self, defaults: ServerConfig) -> Result<ServerConfig, ConfigError> {
        let RawServer {
            listen,
            admin_listen,
            max_message_bytes,
            max_concurrent_calls,
            max_queued_calls,
            queue_timeout,
            max_call_time,
            config_reload_interval,
            shutdown_grace,
            tls,
        } = self;
        let listen = match listen {
            None => defaults.listen,
            Some(OneOrMany::One(text)) => vec![listen_addr(&text)?],
            Some(OneOrMany::Many(list)) => list
                .iter()
                .map(|text| listen_addr(text))
                .collect::<Result<_, _>>()?,
        };
        if listen.is_empty() {
            return Err(invalid(
                "server.listen",
                "needs at least one address".into(),
            ));
        }
        let admin_listen = match admin_listen {
            None => defaults.admin_listen,
            Some(None) => None,
            Some(Some(text)) => Some(
                text.parse()
                    .map_err(|e| invalid("server.adminListen", format!("{text:?}: {e}")))?,
            ),
        };
        Ok(ServerConfig {
            listen,
            admin_listen,
            max_message_bytes: positive(
                "server.maxMessageBytes",
                max_message_bytes,
                defaults.max_message_bytes,
            )?,
            max_concurrent_calls: positive(
                "server.maxConcurrentCalls",
                max_concurrent_calls,
                defaults.max_concurrent_calls,
            )?,
            max_queued_calls: match max_queued_calls {
                Some(n) => usize::try_from(n)
                    .map_err(|_| invalid("server.maxQueuedCalls", format!("{n} is too large")))?,
                None => defaults.max_queued_calls,
            },
            queue_timeout: positive_duration(
                "server.queueTimeout",
                queue_timeout,
                defaults.queue_timeout,
            )?,
            max_call_time: positive_duration(
                "server.maxCallTime",
                max_call_time,
                defaults.max_call_time,
            )?,
            config_reload_interval: positive_duration(
                "server.configReloadInterval",
                config_reload_interval,
                defaults.config_reload_interval,
            )?,
            shutdown_grace: match shutdown_grace {
                Some(text) => duration("server.shutdownGrace", &text)?,
                None => defaults.shutdown_grace,
            },
            tls: tls.map(RawTls::validate).transpose()?,
        })
    }
}

impl RawTls {
    fn validate(self) -> Result<TlsConfig, ConfigError> {
        let RawTls {
            cert_file,
            key_file,
            client_ca_file,
            reload_interval,
        } = self;
        let reload_interval = match reload_interval {
            Some(text) => duration("server.tls.reloadInterval", &text)?,
            None => DEFAULT_TLS_RELOAD_INTERVAL,
        };
        if reload_interval.is_zero() {
            return Err(invalid(
                "server.tls.reloadInterval",
                "must be positive".into(),
            ));
        }
        Ok(TlsConfig {
            cert_file: file("server.tls.certFile", cert_file)?,
            key_file: file("server.tls.keyFile", key_file)?,
            client_ca_file: client_ca_file
                .map(|f| file("server.tls.clientCaFile", f))
                .transpose()?,
            reload_interval,
        })
    }
}

fn listen_addr(text: &str) -> Result<ListenAddr, ConfigError> {
    text.parse()
        .map_err(|e: InvalidListenAddr| invalid("server.listen", e.to_string()))
}

fn positive(key: &'static str, value: Option<u64>, default: usize) -> Result<usize, ConfigError> {
    match value {
        Some(0) => Err(invalid(key, "must be positive".into())),
        Some(n) => usize::try_from(n).map_err(|_| invalid(key, format!("{n} is too large"))),
        None => Ok(default),
    }
}

fn file(key: &'static str, path: String) -> Result<PathBuf, ConfigError> {
    if path.trim().is_empty() {
        return Err(invalid(key, "must not be empty".into()));
    }
    Ok(PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn listen_takes_one_address_or_a_list_of_tcp_and_unix() {
        let one = Config::from_yaml("server:\n  listen: 127.0.0.1:9000\n").unwrap();
        assert_eq!(
            one.server.listen,
            [ListenAddr::Tcp("127.0.0.1:9000".parse().unwrap())]
        );
        let many =
            Config::from_yaml("server:\n  listen: [\"[::]:1063\", unix:///run/x.sock]\n").unwrap();
        assert_eq!(
            many.server.listen,
            [
                ListenAddr::Tcp("[::]:1063".parse().unwrap()),
                ListenAddr::Unix("/run/x.sock".into())
            ]
        );
    }

    #[test]
    fn admin_listen_null_disables_and_absent_keeps_the_default() {
        let off = Config::from_yaml("server:\n  adminListen: null\n").unwrap();
        assert_eq!(off.server.admin_listen, None);
        let default = Config::from_yaml("server: {}\n").unwrap();
        assert_eq!(
            default.server.admin_listen,
            Some("0.0.0.0:1064".parse().unwrap())
        );
    }

    #[test]
    fn tls_section_is_read() {
        let c = Config::from_yaml(
            "server:\n  shutdownGrace: 5s\n  tls:\n    certFile: /t/tls.crt\n    keyFile: /t/tls.key\n    clientCaFile: /t/ca.crt\n    reloadInterval: 1s\n",
        )
        .unwrap();
        assert_eq!(c.server.shutdown_grace, Duration::from_secs(5));
        let tls = c.server.tls.unwrap();
        assert_eq!(tls.client_ca_file, Some(PathBuf::from("/t/ca.crt")));
        assert_eq!(tls.reload_interval, Duration::from_secs(1));
    }

    #[test]
    fn overload_settings_are_read_and_a_queue_can_be_turned_off() {
        let c = Config::from_yaml(
            "server:\n  maxQueuedCalls: 0\n  queueTimeout: 2s\n  maxCallTime: 90s\n  configReloadInterval: 250ms\n",
        )
        .unwrap();
        assert_eq!(c.server.max_queued_calls, 0);
        assert_eq!(c.server.queue_timeout, Duration::from_secs(2));
        assert_eq!(c.server.max_call_time, Duration::from_secs(90));
        assert_eq!(c.server.config_reload_interval, Duration::from_millis(250));
        let d = Config::default().server;
        assert_eq!(
            (d.max_queued_calls, d.queue_timeout, d.max_call_time),
            (16, Duration::from_secs(30), Duration::from_secs(60))
        );
    }

    #[test]
    fn server_values_are_validated_with_their_key() {
        let cases = [
            ("server:\n  listen: []\n", "server.listen"),
            ("server:\n  listen: unix://run.sock\n", "server.listen"),
            ("server:\n  adminListen: everywhere\n", "server.adminListen"),
            (
                "server:\n  maxConcurrentCalls: 0\n",
                "server.maxConcurrentCalls",
            ),
            ("server:\n  shutdownGrace: later\n", "server.shutdownGrace"),
            ("server:\n  queueTimeout: 0s\n", "server.queueTimeout"),
            ("server:\n  maxCallTime: never\n", "server.maxCallTime"),
            (
                "server:\n  configReloadInterval: 0ms\n",
                "server.configReloadInterval",
            ),
            (
                "server:\n  tls:\n    certFile: a\n    keyFile: b\n    reloadInterval: 0s\n",
                "server.tls.reloadInterval",
            ),
            (
                "server:\n  tls:\n    certFile: a\n    keyFile: \"\"\n",
                "server.tls.keyFile",
            ),
        ];
        for (yaml, key) in cases {
            let e = Config::from_yaml(yaml).unwrap_err().to_string();
            assert!(e.starts_with(key), "{yaml:?} gave {e}");
        }
    }
}
