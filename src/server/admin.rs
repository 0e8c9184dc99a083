//! The admin HTTP endpoint: `/healthz`, `/readyz` and `/metrics` for kubelet and Prometheus.
//!
//! Kubernetes probes and Prometheus speak plain HTTP/1.1, not gRPC, so this is a separate port
//! (default `0.0.0.0:1064`) served by hyper. `/healthz` answers while the process runs its event
//! loop (liveness), `/readyz` only while the gRPC server takes calls (readiness: it fails during
//! startup and as soon as shutdown begins), `/metrics` is the Prometheus scrape.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::ServeError;
use super::health::Health;
use super::metrics::Metrics;

/// What the endpoint reports.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    health: Health,
    metrics: Arc<Metrics>,
}

/// Binds the admin address (before anything serves, so a busy port fails startup).
pub(crate) async fn bind(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: format!("{addr} (server.adminListen)"),
            source,
        })
}

impl Admin {
    /// An endpoint reporting `health` and `metrics`.
    pub(crate) fn new(health: Health, metrics: Arc<Metrics>) -> Self {
        Self { health, metrics }
    }

    /// Serves until the task is aborted.
    pub(crate) async fn serve(self, listener: TcpListener) {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let admin = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let response = admin.respond(&request);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    fn respond(&self, request: &http::Request<Incoming>) -> Response<Full<Bytes>> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
        }
        match request.uri().path() {
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/readyz" if self.health.is_ready() => text(StatusCode::OK, "ready\n"),
            "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not serving\n"),
            "/metrics" => {
                let mut response = Response::new(Full::new(Bytes::from(self.metrics.encode())));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static(
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    ),
                );
                response
            }
            _ => text(StatusCode::NOT_FOUND, "try /healthz, /readyz or /metrics\n"),
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
