//! The gRPC server: the extension service as a production process.
//!
//! [`serve`] does everything that can fail before anything serves (TLS files, every listener,
//! the admin port, the reflection descriptors), then serves until the shutdown signal and
//! drains. The parts, one module each:
//! - `service`: the `EnvoyGatewayExtension` implementation;
//! - `listen`: TCP and Unix listeners merged into one connection stream, TLS handshakes;
//! - `linger`: the lingering close every connection gets, so no response ends in a reset;
//! - `tls`: TLS and mTLS with certificate files reloaded as they rotate;
//! - `health`: `grpc.health.v1.Health`, readiness and reflection;
//! - `admin`: `/healthz`, `/readyz`, `/metrics` over HTTP;
//! - `metrics` and `outcome`: what is counted, and what one call did;
//! - `limits` and `layer`: admission, the overload queue, call time, size-limit statuses,
//!   per-call observation;
//! - `reload`: the configuration file, re-read and swapped in between calls;
//! - `shutdown`: signals and the grace period.

pub(crate) mod admin;
pub(crate) mod health;
pub(crate) mod inference;
pub(crate) mod layer;
pub(crate) mod limits;
pub(crate) mod linger;
pub(crate) mod listen;
pub(crate) mod metrics;
pub(crate) mod outcome;
pub(crate) mod reload;
pub(crate) mod service;
pub(crate) mod shutdown;
pub(crate) mod tls;

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::{Config, ConfigFile, ServerConfig};
use crate::hook::Hook;

pub use service::ExtensionService;
pub use shutdown::signal as shutdown_signal;

/// How often the server pings an idle HTTP/2 connection.
pub(crate) const HTTP2_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered before the connection is closed.
pub(crate) const HTTP2_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Each call's HTTP/2 receive window: what a client may send before the server reads.
pub(crate) const STREAM_WINDOW: u32 = 1 << 20;

/// A connection's HTTP/2 receive window, shared by all its calls: room for the stream window
/// of every call that can be admitted or queued, and one more.
///
/// A queued call's body is not read until it is admitted, so the bytes its client sent ahead
/// sit unread and hold their share of the connection's window. With hyper's default (a
/// connection window equal to one stream window), one queued call on a connection starves
/// the admitted call on the same connection of window to send its body, and both wait until
/// `server.queueTimeout`. EG sends all of a replica's calls over one connection.
pub(crate) fn connection_window(server: &ServerConfig) -> u32 {
    let streams = server
        .max_concurrent_calls
        .saturating_add(server.max_queued_calls)
        .saturating_add(1);
    u32::try_from(streams)
        .unwrap_or(u32::MAX)
        .saturating_mul(STREAM_WINDOW)
        .min(MAX_WINDOW)
}

/// The largest window HTTP/2 allows (2^31 - 1).
const MAX_WINDOW: u32 = (1 << 31) - 1;

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
/// drains for at most `server.shutdownGrace`. `config` was read from `config_file`, if given
/// (with command-line overrides on its `server` section), whose file is then re-read for
/// changes (`reload`).
pub async fn serve(
    config: Config,
    config_file: Option<ConfigFile>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
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
    run(config, config_file, listeners, admin, tls, shutdown).await
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
        None,
        vec![listen::Bound::Tcp(listener)],
        None,
        None,
        shutdown,
    )
    .await
}

async fn run(
    config: Config,
    config_file: Option<ConfigFile>,
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
    let limits = Arc::new(limits::Limits::new(&server, metrics.overload.queue.clone()));
    let hooks = Arc::new(reload::HookCell::new(Hook::new(config)));
    let extension = ExtensionService::with_hooks(Arc::clone(&hooks), Arc::clone(&metrics))
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
    match config_file {
        Some(file) => {
            let reloader = reload::Reloader::new(file, hooks, Arc::clone(&metrics));
            background.push(reloader.spawn(server.config_reload_interval));
        }
        None => metrics.config_in_force(None, reload::DEFAULTS_HASH),
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
        // A peer that vanished without closing (node gone, network cut) is found by its
        // unanswered pings, and its calls and their slots are freed.
        .http2_keepalive_interval(Some(HTTP2_KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(HTTP2_KEEPALIVE_TIMEOUT))
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(connection_window(&server))
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
        max_queued_calls = server.max_queued_calls,
        queue_timeout = ?server.queue_timeout,
        max_call_time = ?server.max_call_time,
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

/// `n` as a counter increment (metrics count in `u64`).
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}
