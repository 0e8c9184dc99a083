//! TLS and mutual TLS for the gRPC listeners, with certificates reloaded as they rotate.
//!
//! tonic's `ServerTlsConfig` is fixed when the server starts, but cert-manager rotates the
//! Secret behind `server.tls` every few weeks, and a restart to pick that up would block EG's
//! translations. So the listeners terminate TLS themselves with tokio-rustls: each handshake
//! takes the current rustls `ServerConfig`, and a background task re-reads the files every
//! `reloadInterval` and swaps in a new config when their contents changed. Connections already
//! open keep the config they started with; nothing is dropped. A set that does not load (for
//! instance a key written before its certificate) is reported and the old one stays in force.
//!
//! With `clientCaFile`, clients must present a certificate signed by that bundle (mTLS).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use super::metrics::{Metrics, ResultLabels};
use crate::config::TlsConfig;

/// A TLS file that cannot be used, naming its key and path.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error("{key} {path}: {source}")]
    Read {
        /// The configuration key.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no usable PEM block of the expected kind.
    #[error("{key} {path}: {message}")]
    Pem {
        /// The configuration key.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// rustls refused the set (e.g. the key does not match the certificate).
    #[error("server.tls: {0}")]
    Rejected(String),
}

/// The raw contents of the TLS files, compared on every poll.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Contents {
    cert: Vec<u8>,
    key: Vec<u8>,
    client_ca: Option<Vec<u8>>,
}

/// The TLS configuration in force, replaced when the files change.
#[derive(Debug)]
pub(crate) struct ReloadingTls {
    files: TlsConfig,
    current: RwLock<Arc<ServerConfig>>,
    last_seen: Mutex<Contents>,
}

impl ReloadingTls {
    /// Loads the files; any problem is an error, so a bad setup fails at startup.
    pub(crate) fn load(files: &TlsConfig) -> Result<Self, TlsError> {
        let contents = read(files)?;
        let config = build(files, &contents)?;
        Ok(Self {
            files: files.clone(),
            current: RwLock::new(config),
            last_seen: Mutex::new(contents),
        })
    }

    /// Whether clients must present a certificate.
    pub(crate) fn mutual(&self) -> bool {
        self.files.client_ca_file.is_some()
    }

    /// An acceptor with the configuration in force now.
    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        TlsAcceptor::from(Arc::clone(&current))
    }

    /// Re-reads the files; when their contents changed since the last look, builds and
    /// installs a new configuration. `Ok(true)` when one was installed.
    pub(crate) fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let contents = read(&self.files)?;
        {
            let mut last = self.last_seen.lock().unwrap_or_else(|p| p.into_inner());
            if *last == contents {
                return Ok(false);
            }
            // Remember even a set that fails to load, so it is reported once, not every poll.
            *last = contents.clone();
        }
        let config = build(&self.files, &contents)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
        Ok(true)
    }

    /// Polls the files every `reloadInterval` until the task is aborted.
    pub(crate) fn spawn_watcher(
        self: Arc<Self>,
        metrics: Arc<Metrics>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(self.files.reload_interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let result = match self.reload_if_changed() {
                    Ok(false) => continue,
                    Ok(true) => {
                        tracing::info!(cert = %self.files.cert_file.display(), "TLS files changed; new connections use them");
                        "success"
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "TLS files changed but cannot be used; keeping the previous ones");
                        "failure"
                    }
                };
                metrics
                    .tls_reloads
                    .get_or_create(&ResultLabels { result })
                    .inc();
            }
        })
    }
}

fn read(files: &TlsConfig) -> Result<Contents, TlsError> {
    Ok(Contents {
        cert: read_file("server.tls.certFile", &files.cert_file)?,
        key: read_file("server.tls.keyFile", &files.key_file)?,
        client_ca: files
            .client_ca_file
            .as_deref()
            .map(|path| read_file("server.tls.clientCaFile", path))
            .transpose()?,
    })
}

fn read_file(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        key,
        path: path.to_owned(),
        source,
    })
}

fn build(files: &TlsConfig, contents: &Contents) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = certificates("server.tls.certFile", &files.cert_file, &contents.cert)?;
    let key = PrivateKeyDer::from_pem_slice(&contents.key).map_err(|e| TlsError::Pem {
        key: "server.tls.keyFile",
        path: files.key_file.clone(),
        message: format!("no usable PEM private key: {e}"),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Rejected(e.to_string()))?;
    let builder = match (&files.client_ca_file, &contents.client_ca) {
        (Some(path), Some(pem)) => {
            let mut roots = rustls::RootCertStore::empty();
            for ca in certificates("server.tls.clientCaFile", path, pem)? {
                roots.add(ca).map_err(|e| TlsError::Pem {
                    key: "server.tls.clientCaFile",
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Rejected(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Rejected(format!("certFile and keyFile: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

fn certificates(
    key: &'static str,
    path: &Path,
    pem: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            key,
            path: path.to_owned(),
            message: format!("bad PEM certificate: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            key,
            path: path.to_owned(),
            message: "no PEM certificate found".to_owned(),
        });
    }
    Ok(certs)
}
