//! The configuration file, re-read while the server runs.
//!
//! The file is read once at start-up ([`ConfigFile`]) and that read is what the reloader
//! compares with, so a change made while the process starts is a change like any other.
//!
//! A ConfigMap change must reach every replica without a restart: during a rolling restart,
//! replicas with different configurations would answer EG in turn and the fleet's xDS would
//! flap between them. So the `--config` file is checked every `server.configReloadInterval`
//! (a Kubernetes ConfigMap volume is updated by an atomic symlink swap, which a read sees
//! whole). A changed file is validated first; a valid one replaces the hook between calls
//! ([`HookCell`]): a call in flight finishes with the configuration it started with. An
//! invalid one keeps the configuration in force, logs one WARN naming the key, and counts
//! `xds_hook_config_reloads_total{result="failure"}`.
//!
//! What it does not do: the `server` section describes the process (listeners, TLS, limits),
//! which is built once; a change there is logged at WARN, naming the keys, as taking effect
//! on the next restart.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};

use crate::config::{Config, ConfigFile, ServerConfig};
use crate::hook::Hook;

use super::metrics::Metrics;

/// The hook in force. Each call takes the current one and keeps it to its end.
#[derive(Debug)]
pub struct HookCell(RwLock<Arc<Hook>>);

impl HookCell {
    /// A cell holding `hook`.
    pub fn new(hook: Hook) -> Self {
        Self(RwLock::new(Arc::new(hook)))
    }

    /// The hook for a call starting now.
    pub fn current(&self) -> Arc<Hook> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn replace(&self, hook: Hook) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(hook);
    }
}

/// The label of the configuration in force when no file was given.
pub(crate) const DEFAULTS_HASH: &str = "defaults";

/// The first 16 hex digits of the SHA-256 of a configuration file: what
/// `xds_hook_config_info{hash}` shows, so replicas can be compared with each other and with
/// `sha256sum` of the ConfigMap's file.
pub(crate) fn file_hash(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest
        .as_ref()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Watches the configuration file and swaps the hook when it changes.
#[derive(Debug)]
pub(crate) struct Reloader {
    path: PathBuf,
    hooks: Arc<HookCell>,
    metrics: Arc<Metrics>,
    /// The bytes last read, valid or not: an unchanged file is not parsed (or warned about)
    /// again. `None` after a failed read, so that the file is taken again when it is back.
    seen: Option<Vec<u8>>,
    /// The file's own `server` section as last accepted, to tell which keys a change would
    /// need a restart for.
    server: ServerConfig,
    /// The hash in force, as `xds_hook_config_info` shows it.
    hash: String,
}

impl Reloader {
    /// A reloader for the file the process started with, whose hook lives in `hooks`; shows
    /// its hash as the configuration in force.
    pub(crate) fn new(file: ConfigFile, hooks: Arc<HookCell>, metrics: Arc<Metrics>) -> Self {
        let bytes = file.text.into_bytes();
        let hash = file_hash(&bytes);
        metrics.config_in_force(None, &hash);
        Self {
            path: file.path,
            hooks,
            metrics,
            seen: Some(bytes),
            server: file.config.server,
            hash,
        }
    }

    /// Reads the file now and takes it into account if it changed since it was last read.
    pub(crate) fn check(&mut self) {
        let bytes = match std::fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) => {
                if self.seen.take().is_some() {
                    tracing::warn!(
                        path = %self.path.display(),
                        error = %e,
                        "configuration file cannot be read; keeping the configuration in force"
                    );
                    self.count("failure");
                }
                return;
            }
        };
        if self.seen.as_ref() == Some(&bytes) {
            return;
        }
        let parsed = std::str::from_utf8(&bytes)
            .map_err(|e| format!("not UTF-8: {e}"))
            .and_then(|text| Config::from_yaml(text).map_err(|e| e.to_string()));
        let hash = file_hash(&bytes);
        self.seen = Some(bytes);
        match parsed {
            Ok(config) => self.take(config, hash),
            Err(error) => {
                tracing::warn!(
                    path = %self.path.display(),
                    error = %error,
                    "configuration file rejected; keeping the configuration in force"
                );
                self.count("failure");
            }
        }
    }

    fn take(&mut self, config: Config, hash: String) {
        let keys = server_changes(&self.server, &config.server);
        if !keys.is_empty() {
            tracing::warn!(
                keys = %keys.join(", "),
                "configuration changes that take effect on the next restart"
            );
        }
        let current = self.hooks.current();
        let running = current.config();
        // What the hook would run with: every section the file sets, but the process's own
        // server settings, which apply on restart.
        let candidate = Config {
            server: running.server.clone(),
            ..config
        };
        let hook_changed = candidate != *running;
        self.metrics.config_in_force(Some(&self.hash), &hash);
        self.hash = hash;
        // The file's own section (not moved into the candidate, which runs the process's).
        self.server = config.server;
        if hook_changed {
            self.hooks.replace(Hook::new(candidate));
        }
        tracing::info!(
            path = %self.path.display(),
            hash = %self.hash,
            hook_changed,
            "configuration reloaded"
        );
        self.count("success");
    }

    fn count(&self, result: &'static str) {
        self.metrics
            .config
            .reloads
            .get_or_create(&super::metrics::ResultLabels { result })
            .inc();
    }

    /// Checks every `interval` until dropped.
    pub(crate) fn spawn(mut self, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                // Reading a small file: blocking for microseconds is fine on this task.
                self.check();
            }
        })
    }
}

/// The `server` keys whose values differ, as written in the file.
fn server_changes(old: &ServerConfig, new: &ServerConfig) -> Vec<&'static str> {
    let ServerConfig {
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
    } = old;
    [
        ("server.listen", *listen != new.listen),
        ("server.adminListen", *admin_listen != new.admin_listen),
        (
            "server.maxMessageBytes",
            *max_message_bytes != new.max_message_bytes,
        ),
        (
            "server.maxConcurrentCalls",
            *max_concurrent_calls != new.max_concurrent_calls,
        ),
        (
            "server.maxQueuedCalls",
            *max_queued_calls != new.max_queued_calls,
        ),
        ("server.queueTimeout", *queue_timeout != new.queue_timeout),
        ("server.maxCallTime", *max_call_time != new.max_call_time),
        (
            "server.configReloadInterval",
            *config_reload_interval != new.config_reload_interval,
        ),
        (
            "server.shutdownGrace",
            *shutdown_grace != new.shutdown_grace,
        ),
        ("server.tls", *tls != new.tls),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Setup {
        dir: tempfile::TempDir,
        hooks: Arc<HookCell>,
        metrics: Arc<Metrics>,
        reloader: Reloader,
    }

    fn setup(initial: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, initial).unwrap();
        let file = ConfigFile::read(&path).unwrap();
        let hooks = Arc::new(HookCell::new(Hook::new(file.config.clone())));
        let metrics = Arc::new(Metrics::new());
        let reloader = Reloader::new(file, Arc::clone(&hooks), Arc::clone(&metrics));
        Setup {
            dir,
            hooks,
            metrics,
            reloader,
        }
    }

    impl Setup {
        fn write(&self, text: &str) {
            std::fs::write(self.dir.path().join("config.yaml"), text).unwrap();
        }

        fn filter_name(&self) -> String {
            self.hooks.current().config().ext_proc.filter_name.clone()
        }

        fn has_line(&self, line: &str) -> bool {
            self.metrics.encode().lines().any(|l| l == line)
        }
    }

    #[test]
    fn a_valid_change_replaces_the_hook_and_a_call_in_flight_keeps_its_own() {
        let initial = "extProc:\n  filterName: envoy.filters.http.ext_proc/one\n";
        let mut s = setup(initial);
        let in_flight = s.hooks.current();
        assert!(s.has_line(&format!(
            "xds_hook_config_info{{hash=\"{}\"}} 1",
            file_hash(initial.as_bytes())
        )));

        let changed = "extProc:\n  filterName: envoy.filters.http.ext_proc/two\n";
        s.write(changed);
        s.reloader.check();
        assert_eq!(s.filter_name(), "envoy.filters.http.ext_proc/two");
        assert_eq!(
            in_flight.config().ext_proc.filter_name,
            "envoy.filters.http.ext_proc/one"
        );
        assert!(s.has_line("xds_hook_config_reloads_total{result=\"success\"} 1"));
        assert!(s.has_line(&format!(
            "xds_hook_config_info{{hash=\"{}\"}} 1",
            file_hash(changed.as_bytes())
        )));
        assert!(
            !s.metrics.encode().contains(&file_hash(initial.as_bytes())),
            "the previous hash is no longer shown"
        );
    }

    #[test]
    fn an_invalid_change_keeps_the_configuration_and_is_counted_once() {
        let mut s = setup("extProc:\n  filterName: envoy.filters.http.ext_proc/one\n");
        s.write("extProc:\n  messageTimeout: soon\n");
        s.reloader.check();
        s.reloader.check();
        assert_eq!(s.filter_name(), "envoy.filters.http.ext_proc/one");
        assert!(s.has_line("xds_hook_config_reloads_total{result=\"failure\"} 1"));
        s.write("");
        s.reloader.check();
        assert_eq!(s.filter_name(), "envoy.filters.http.ext_proc/aigateway");
        assert!(s.has_line("xds_hook_config_reloads_total{result=\"success\"} 1"));
    }

    /// What `run` logs, as text.
    fn logs(run: impl FnOnce()) -> String {
        #[derive(Clone, Default)]
        struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, run);
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    /// The file read at start-up is what the first check compares with: a `server` change
    /// made while the process started is named like any later one, and the start-up hash is
    /// in force before any check.
    #[test]
    fn a_server_change_right_after_start_up_is_named() {
        let initial = "server:\n  maxConcurrentCalls: 2\n";
        let mut s = setup(initial);
        assert!(s.has_line(&format!(
            "xds_hook_config_info{{hash=\"{}\"}} 1",
            file_hash(initial.as_bytes())
        )));
        s.write("server:\n  maxConcurrentCalls: 3\n");
        let logged = logs(|| s.reloader.check());
        assert!(
            logged.contains("take effect on the next restart")
                && logged.contains("server.maxConcurrentCalls"),
            "{logged}"
        );
        let unchanged = logs(|| s.reloader.check());
        assert!(unchanged.is_empty(), "{unchanged}");
    }

    #[test]
    fn server_changes_name_their_keys() {
        let old = ServerConfig::default();
        let new = ServerConfig {
            max_concurrent_calls: 9,
            admin_listen: None,
            ..ServerConfig::default()
        };
        assert_eq!(
            server_changes(&old, &new),
            ["server.adminListen", "server.maxConcurrentCalls"]
        );
        assert!(server_changes(&old, &old).is_empty());
    }

    #[test]
    fn the_hash_is_the_start_of_the_files_sha256() {
        // sha256("") = e3b0c44298fc1c149afbf4c8996fb924...
        assert_eq!(file_hash(b""), "e3b0c44298fc1c14");
    }
}
