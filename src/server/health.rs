//! Health and discovery: `grpc.health.v1.Health` and gRPC reflection, plus the readiness flag
//! the admin endpoint reports.
//!
//! Health says SERVING only after the configuration is loaded and every listener is bound, and
//! NOT_SERVING as soon as shutdown starts, so probes and load balancers stop sending work
//! before the listeners close. Reflection serves the extension contract (with every Envoy type
//! it names) so `grpcurl` can call the hook without local `.proto` files.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tonic::server::NamedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::contract::FILE_DESCRIPTOR_SET;
use crate::contract::service::envoy_gateway_extension_server::EnvoyGatewayExtensionServer;

use super::ServeError;
use super::service::ExtensionService;

/// The extension service's gRPC name, as health checks and reflection know it.
pub(crate) const EXTENSION_SERVICE: &str =
    <EnvoyGatewayExtensionServer<ExtensionService> as NamedService>::NAME;

/// The server's health: gRPC statuses and the admin endpoint's readiness, changed together.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    reporter: HealthReporter,
    ready: Arc<AtomicBool>,
}

impl Health {
    /// A NOT_SERVING health service and its handle.
    pub(crate) async fn new() -> (
        Self,
        tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    ) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let health = Self {
            reporter,
            ready: Arc::new(AtomicBool::new(false)),
        };
        health.set(ServingStatus::NotServing).await;
        (health, service)
    }

    /// Whether the server takes calls (for `/readyz`).
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the server SERVING: configuration loaded, listeners bound.
    pub(crate) async fn serving(&self) {
        self.set(ServingStatus::Serving).await;
    }

    /// Marks the server NOT_SERVING, then ends `Watch` streams (they would otherwise hold
    /// connections open through the whole shutdown grace period); `Check` answers NOT_FOUND
    /// from then on, which probes treat as unhealthy too.
    pub(crate) async fn shutting_down(&mut self) {
        self.set(ServingStatus::NotServing).await;
        for service in ["", EXTENSION_SERVICE] {
            self.reporter.clear_service_status(service).await;
        }
    }

    async fn set(&self, status: ServingStatus) {
        self.ready
            .store(status == ServingStatus::Serving, Ordering::Release);
        for service in ["", EXTENSION_SERVICE] {
            self.reporter.set_service_status(service, status).await;
        }
    }
}

/// The v1 reflection service for the extension contract and health.
pub(crate) fn reflection() -> Result<
    tonic_reflection::server::v1::ServerReflectionServer<
        impl tonic_reflection::server::v1::ServerReflection,
    >,
    ServeError,
> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name(EXTENSION_SERVICE)
        .with_service_name("grpc.health.v1.Health")
        .build_v1()
        .map_err(|e| ServeError::Reflection(e.to_string()))
}
