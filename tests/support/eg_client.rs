//! A client that calls the hook the way Envoy Gateway does.
//!
//! EG's extension client (`internal/extension/registry`) dials with this gRPC service config
//! for `envoygateway.extension.EnvoyGatewayExtension`:
//!
//! ```json
//! {"methodConfig": [{"name": [{"service": "envoygateway.extension.EnvoyGatewayExtension"}],
//!   "waitForReady": true,
//!   "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.1s", "maxBackoff": "1s",
//!                   "backoffMultiplier": 2.0, "retryableStatusCodes": ["UNAVAILABLE"]}}]}
//! ```
//!
//! sets no deadline on its calls, and uses `maxMessageSize` for both directions. tonic has no
//! service configs, so this client does the same by hand, by gRPC's retry design (A6):
//! attempt `n` waits a random time in `[0, min(0.1 s × 2^(n-2), 1 s))` first; only
//! `UNAVAILABLE` is retried, at most 4 attempts in all; and, for waitForReady, a call whose
//! connection cannot be made waits for it rather than failing (bounded here, so a test cannot
//! hang).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use xds_hook::contract::service::envoy_gateway_extension_client::EnvoyGatewayExtensionClient;
use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};

/// EG's retry policy: attempts in all, including the first.
pub const MAX_ATTEMPTS: u32 = 4;
/// EG's `initialBackoff`.
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// EG's `maxBackoff`.
pub const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// The `maxMessageSize` of `deploy/envoy-gateway.yaml` (256Mi).
pub const MAX_MESSAGE_SIZE: usize = 256 << 20;
/// How long waitForReady may wait for a connection here (EG waits without bound).
const READY_LIMIT: Duration = Duration::from_secs(30);

/// One EG replica's connection to the hook.
#[derive(Clone)]
pub struct EgClient {
    grpc: EnvoyGatewayExtensionClient<Channel>,
    /// Attempts beyond the first, over every call of this client.
    pub retries: Arc<AtomicUsize>,
}

impl EgClient {
    /// A client of `http://{addr}`; connects on first use, like `grpc.NewClient`.
    pub fn new(addr: std::net::SocketAddr) -> Self {
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let grpc = EnvoyGatewayExtensionClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_SIZE)
            .max_encoding_message_size(MAX_MESSAGE_SIZE);
        Self {
            grpc,
            retries: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// One `PostTranslateModify`, retried as EG's service config retries it.
    pub async fn post_translate_modify(
        &self,
        request: &PostTranslateModifyRequest,
    ) -> Result<PostTranslateModifyResponse, Status> {
        let mut attempt = 1;
        let ready_by = tokio::time::Instant::now() + READY_LIMIT;
        loop {
            let mut grpc = self.grpc.clone();
            match grpc.post_translate_modify(request.clone()).await {
                Ok(response) => return Ok(response.into_inner()),
                Err(status) if not_connected(&status) && tokio::time::Instant::now() < ready_by => {
                    // waitForReady: the call waits for a connection; it is not an attempt.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(status) if status.code() == Code::Unavailable && attempt < MAX_ATTEMPTS => {
                    tokio::time::sleep(backoff(attempt + 1)).await;
                    attempt += 1;
                    self.retries.fetch_add(1, Ordering::Relaxed);
                }
                Err(status) => return Err(status),
            }
        }
    }
}

/// The wait before attempt `n` (2 and up): uniform in `[0, min(initial × 2^(n-2), max))`.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling = INITIAL_BACKOFF
        .saturating_mul(1 << attempt.saturating_sub(2).min(16))
        .min(MAX_BACKOFF);
    ceiling.mul_f64(fastrand::f64())
}

/// A call that failed because no connection could be made: with waitForReady, gRPC keeps such
/// a call pending until the channel is ready instead of failing it.
fn not_connected(status: &Status) -> bool {
    use std::error::Error as _;
    let mut source = status.source();
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return true;
        }
        source = error.source();
    }
    false
}

#[test]
fn backoff_grows_from_initial_to_max_with_full_jitter() {
    for _ in 0..100 {
        assert!(backoff(2) < INITIAL_BACKOFF);
        assert!(backoff(3) < INITIAL_BACKOFF * 2);
        assert!(backoff(4) < INITIAL_BACKOFF * 4);
        assert!(backoff(10) < MAX_BACKOFF);
    }
    let longest = (0..200).map(|_| backoff(10)).max().unwrap();
    assert!(longest > INITIAL_BACKOFF * 4, "{longest:?}");
}
