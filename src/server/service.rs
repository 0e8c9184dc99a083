//! The extension service: `envoygateway.extension.EnvoyGatewayExtension` over tonic.
//!
//! `PostTranslateModify` runs the hook on a blocking thread (it is CPU work on a whole fleet),
//! records what it did, logs its report inside the call's span, hands the response back, and
//! only then frees the report. `PostRouteModify` and `PostClusterModify` serve InferencePool
//! backends (`crate::inference`), and `PostRouteModify` also records a route's own
//! ProcessorPolicy choice (`crate::policy::route`); every other resource, and the three other
//! per-resource hooks, echo their input: EG takes a returned resource as final, so they must
//! never answer with an empty one.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use tracing::Instrument;

use crate::contract::service::envoy_gateway_extension_server::{
    EnvoyGatewayExtension, EnvoyGatewayExtensionServer,
};
use crate::contract::*;

use super::limits::CallPermit;
use super::metrics::Metrics;
use super::outcome::Recorder;
use super::reload::HookCell;

/// The extension service implementation.
#[derive(Debug, Clone)]
pub struct ExtensionService {
    hooks: Arc<HookCell>,
    metrics: Arc<Metrics>,
    recorder: Arc<Recorder>,
}

impl ExtensionService {
    /// Serves whichever hook `hooks` holds when each call starts (it changes on reload).
    pub fn with_hooks(hooks: Arc<HookCell>, metrics: Arc<Metrics>) -> Self {
        Self {
            hooks,
            metrics,
            recorder: Arc::new(Recorder::default()),
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
        // The configuration in force now serves this call to its end, whatever reloads.
        let hook = self.hooks.current();
        let metrics = Arc::clone(&self.metrics);
        let recorder = Arc::clone(&self.recorder);
        let blocking_span = span.clone();
        async move {
            let (_, mut extensions, request) = request.into_parts();
            // The admission permit goes into the blocking task: if the call is dropped (client
            // gone, deadline passed) the hook still runs to the end, and its memory stays
            // counted against server.maxConcurrentCalls until then.
            let permit = extensions.remove::<CallPermit>();
            // The response goes back as soon as it exists; the report (the index of the whole
            // request, ~1 ms to free on a fleet) is logged first and freed after, on the
            // blocking thread, while tonic encodes the response.
            let (respond, response) = tokio::sync::oneshot::channel();
            let task = tokio::task::spawn_blocking(move || {
                let _in_call = blocking_span.enter();
                let outcome = hook.post_translate_modify(request);
                recorder.record(&metrics.hook, &outcome.report, &outcome.response);
                outcome.report.log();
                // A receiver gone means the call was dropped; the work is done either way.
                let _ = respond.send(outcome.response);
                drop(outcome.report);
                drop(permit);
            });
            match response.await {
                Ok(response) => Ok(Response::new(response)),
                Err(_) => {
                    let why = task.await.err().map_or_else(
                        || "it ended without a response".to_owned(),
                        |e| e.to_string(),
                    );
                    Err(Status::internal(format!("hook task failed: {why}")))
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn post_route_modify(
        &self,
        request: Request<PostRouteModifyRequest>,
    ) -> Result<Response<PostRouteModifyResponse>, Status> {
        let hook = self.hooks.current();
        let answer = hook.post_route_modify(request.into_inner());
        self.metrics.hook.inference.answered("route", &answer);
        answer
            .map(|answer| Response::new(answer.response))
            .map_err(|refusal| Status::invalid_argument(refusal.to_string()))
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
        let hook = self.hooks.current();
        let answer = hook.inference().post_cluster_modify(request.into_inner());
        self.metrics.hook.inference.answered("cluster", &answer);
        answer
            .map(|a| Response::new(a.response))
            .map_err(|refusal| Status::invalid_argument(refusal.to_string()))
    }

    async fn post_endpoints_modify(
        &self,
        request: Request<PostEndpointsModifyRequest>,
    ) -> Result<Response<PostEndpointsModifyResponse>, Status> {
        Ok(Response::new(request.into_inner().into()))
    }
}
