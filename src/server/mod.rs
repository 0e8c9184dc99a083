//! The gRPC server: the extension service as a production process.
//!
//! [`serve`] does everything that can fail before anything serves (TLS files, every listener,
//! the admin port, the reflection descriptors), then serves until the shutdown signal and
//! drains. The parts, one module each:
//! - [`service`]: the `EnvoyGatewayExtension` implementation;
//! - [`listen`]: TCP and Unix listeners merged into one connection stream, TLS handshakes;
//! - [`linger`]: the lingering close every connection gets, so no response ends in a reset;
//! - [`tls`]: TLS and mTLS with certificate files reloaded as they rotate;
//! - [`health`]: `grpc.health.v1.Health`, readiness and reflection;
//! - [`admin`]: `/healthz`, `/readyz`, `/metrics` over HTTP;
//! - [`metrics`] and [`outcome`]: what is counted, and what one call did;
//! - [`limits`] and [`layer`]: admission, size-limit statuses, per-call observation;
//! - [`shutdown`]: signals and the grace period.

pub mod admin;
pub mod health;
pub mod layer;
pub mod limits;
pub mod linger;
pub mod listen;
pub mod metrics;
pub mod outcome;
pub mod service;
pub mod shutdown;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::hook::Hook;

pub use service::ExtensionService;

/// Errors that stop the server, each naming what failed.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// An address cannot be bound (in use, not local, no permission).
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS files cannot be used.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The reflection service cannot index the descriptors (a build problem).
    #[error("gRPC reflection: {0}")]
    Reflection(String),
    /// The transport failed.
    #[error("serving gRPC: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// Loads TLS, binds every configured address, and serves until `shutdown` resolves; then
/// drains for at most `server.shutdownGrace`.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let tls = config
        .server
        .tls
        .as_ref()
        .map(tls::ReloadingTls::load)
        .transpose()?
        .map(Arc::new);
    let listeners = listen::bind_all(&config.server.listen).await?;
    let admin = match config.server.admin_listen {
        Some(addr) => Some(admin::bind(addr).await?),
        None => None,
    };
    run(config, listeners, admin, tls, shutdown).await
}

/// Serves plaintext gRPC on an already bound listener, without the admin port (in-process
/// tests bind `127.0.0.1:0`).
pub async fn serve_on(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    run(
        config,
        vec![listen::Bound::Tcp(listener)],
        None,
        None,
        shutdown,
    )
    .await
}

async fn run(
    config: Config,
    listeners: Vec<listen::Bound>,
    admin: Option<TcpListener>,
    tls: Option<Arc<tls::ReloadingTls>>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let shutdown = watch_early(shutdown).await;
    let server = config.server.clone();
    let reflection = health::reflection()?;
    let metrics = Arc::new(metrics::Metrics::new());
    let (mut health, health_service) = health::Health::new().await;
    let limits = Arc::new(limits::Limits::new(
        server.max_concurrent_calls,
        server.max_message_bytes,
    ));
    let extension = ExtensionService::new(Hook::new(config), Arc::clone(&metrics))
        .into_server(server.max_message_bytes);

    let mut background = Vec::new();
    if let Some(listener) = admin {
        let addr = listener
            .local_addr()
            .map_or_else(|e| e.to_string(), |a| a.to_string());
        tracing::info!(addr = %addr, paths = "/healthz /readyz /metrics", "admin endpoint listening");
        let admin = admin::Admin::new(health.clone(), Arc::clone(&metrics));
        background.push(tokio::spawn(admin.serve(listener)));
    }
    if let Some(tls) = &tls {
        background.push(Arc::clone(tls).spawn_watcher(Arc::clone(&metrics)));
    }
    let addrs: Vec<String> = listeners.iter().map(|l| l.addr().to_string()).collect();
    for addr in &addrs {
        tracing::info!(
            addr = %addr,
            tls = tls.is_some(),
            mtls = tls.as_ref().is_some_and(|t| t.mutual()),
            "gRPC listening"
        );
    }
    let incoming = listen::incoming(listeners, tls);

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let grpc = tonic::transport::Server::builder()
        .layer(layer::CallLayer::new(Arc::clone(&metrics), limits))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(extension)
        .serve_with_incoming_shutdown(incoming, async {
            let _ = stopped.await;
        });
    health.serving().await;
    tracing::info!(
        max_message_bytes = server.max_message_bytes,
        max_concurrent_calls = server.max_concurrent_calls,
        "serving envoygateway.extension.EnvoyGatewayExtension"
    );
    let result = shutdown::drain(grpc, shutdown, server.shutdown_grace, || async move {
        health.shutting_down().await;
        let _ = stop.send(());
    })
    .await;
    for task in background {
        task.abort();
    }
    tracing::info!("stopped");
    Ok(result?)
}

/// Polls `shutdown` once, now, and returns a future that finishes it.
///
/// [`shutdown::signal`] installs its SIGTERM and SIGINT handlers when first polled. Until then
/// a signal has its default effect: the process dies at once (exit 143, nothing drained). That
/// first poll must not wait for the drain loop, which starts after the server reports SERVING:
/// a rollout's SIGTERM can arrive as early as that.
async fn watch_early<F: Future<Output = ()>>(shutdown: F) -> impl Future<Output = ()> {
    let mut shutdown = Box::pin(shutdown);
    let done = std::future::poll_fn(|cx| Poll::Ready(shutdown.as_mut().poll(cx).is_ready())).await;
    async move {
        if !done {
            shutdown.await;
        }
    }
}
