//! The gRPC front end: `envoygateway.extension.EnvoyGatewayExtension` over tonic.
//!
//! `PostTranslateModify` runs the hook on a blocking thread (it is CPU work on a whole fleet)
//! and logs its report inside the call's span. The five per-resource hooks echo their input:
//! EG takes a returned resource as final, so they must never answer with an empty one.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::config::Config;
use crate::contract::service::envoy_gateway_extension_server::{
    EnvoyGatewayExtension, EnvoyGatewayExtensionServer,
};
use crate::contract::*;
use crate::hook::Hook;

/// Errors that stop the server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address cannot be bound (in use, not local, no permission).
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The transport failed (e.g. the port is taken).
    #[error("serving on {addr}: {source}")]
    Transport {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: tonic::transport::Error,
    },
}

/// The extension service implementation.
#[derive(Debug, Clone)]
pub struct ExtensionService {
    hook: Arc<Hook>,
}

impl ExtensionService {
    /// Wraps a hook.
    pub fn new(hook: Hook) -> Self {
        Self {
            hook: Arc::new(hook),
        }
    }

    /// The tonic server for this service, with the configured message size limits.
    pub fn into_server(self, max_message_bytes: usize) -> EnvoyGatewayExtensionServer<Self> {
        EnvoyGatewayExtensionServer::new(self)
            .max_decoding_message_size(max_message_bytes)
            .max_encoding_message_size(max_message_bytes)
    }
}

#[tonic::async_trait]
impl EnvoyGatewayExtension for ExtensionService {
    async fn post_translate_modify(
        &self,
        request: Request<PostTranslateModifyRequest>,
    ) -> Result<Response<PostTranslateModifyResponse>, Status> {
        let span = tracing::info_span!("PostTranslateModify");
        let hook = Arc::clone(&self.hook);
        async move {
            let request = request.into_inner();
            let outcome = tokio::task::spawn_blocking(move || hook.post_translate_modify(request))
                .await
                .map_err(|e| Status::internal(format!("hook task failed: {e}")))?;
            outcome.report.log();
            Ok(Response::new(outcome.response))
        }
        .instrument(span)
        .await
    }

    async fn post_route_modify(
        &self,
        request: Request<PostRouteModifyRequest>,
    ) -> Result<Response<PostRouteModifyResponse>, Status> {
        Ok(Response::new(request.into_inner().into()))
    }

    async fn post_virtual_host_modify(
        &self,
        request: Request<PostVirtualHostModifyRequest>,
    ) -> Result<Response<PostVirtualHostModifyResponse>, Status> {
        Ok(Response::new(request.into_inner().into()))
    }

    async fn post_http_listener_modify(
        &self,
        request: Request<PostHTTPListenerModifyRequest>,
    ) -> Result<Response<PostHTTPListenerModifyResponse>, Status> {
        Ok(Response::new(request.into_inner().into()))
    }

    async fn post_cluster_modify(
        &self,
        request: Request<PostClusterModifyRequest>,
    ) -> Result<Response<PostClusterModifyResponse>, Status> {
        Ok(Response::new(request.into_inner().into()))
    }

    async fn post_endpoints_modify(
        &self,
        request: Request<PostEndpointsModifyRequest>,
    ) -> Result<Response<PostEndpointsModifyResponse>, Status> {
        Ok(Response::new(request.into_inner().into()))
    }
}

/// Binds the configured address and serves until `shutdown` resolves. Binding happens first,
/// so a busy port fails fast with the address in the error.
pub async fn serve(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
    let addr = config.server.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    serve_on(listener, config, shutdown).await
}

/// Serves on an already bound listener (tests bind `127.0.0.1:0`).
pub async fn serve_on(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(|source| ServeError::Bind {
        addr: config.server.listen,
        source,
    })?;
    let max = config.server.max_message_bytes;
    let service = ExtensionService::new(Hook::new(config)).into_server(max);
    tracing::info!(%addr, max_message_bytes = max, "serving envoygateway.extension.EnvoyGatewayExtension");
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
        .await
        .map_err(|source| ServeError::Transport { addr, source })
}
