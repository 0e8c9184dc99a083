//! Admission, the overload queue and size limits, and the one place their refusals become gRPC
//! statuses.
//!
//! Envoy Gateway calls `PostTranslateModify` once per Gateway on every translation, from every
//! EG replica, with no deadline, and retries only `UNAVAILABLE` (4 attempts, 0.1 to 1 s
//! backoff). A call that fails any other way loses that Gateway's update until its next
//! translation. So overload must never answer anything but `UNAVAILABLE`, and should rarely
//! answer at all: calls beyond `server.maxConcurrentCalls` wait in a FIFO queue (tokio's
//! semaphore is fair) of at most `server.maxQueuedCalls`, for at most `server.queueTimeout`.
//! Admission happens before the request body is read, so a waiting call holds no more than
//! what HTTP/2 flow control lets its client send ahead.
//!
//! An admitted call holds its permit until its memory is released: the permit travels into the
//! blocking hook task and the response body. `server.maxCallTime` bounds that time, because a
//! client that stops reading its answer (EG sets no deadline) would otherwise hold a slot and
//! a fleet-sized response for ever; [`super::layer`] enforces it.
//!
//! `RESOURCE_EXHAUSTED` is kept for the one permanent refusal, a message over
//! `server.maxMessageBytes`: tonic enforces it while reading the frame header (before
//! buffering) but reports `OUT_OF_RANGE`; gRPC's own servers say `RESOURCE_EXHAUSTED`, and so
//! does EG's client-side limit. [`Limits::remap`] rewrites it, naming the configuration key.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::HeaderMap;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tonic::{Code, Status};

use crate::config::ServerConfig;

/// The gRPC path of the one expensive method.
pub(crate) const POST_TRANSLATE_MODIFY_PATH: &str =
    "/envoygateway.extension.EnvoyGatewayExtension/PostTranslateModify";

/// The server's limits and its overload queue.
#[derive(Debug)]
pub(crate) struct Limits {
    permits: Arc<Semaphore>,
    queued: AtomicUsize,
    gauges: QueueGauges,
    max_concurrent_calls: usize,
    max_queued_calls: usize,
    queue_timeout: Duration,
    max_call_time: Duration,
    max_message_bytes: usize,
}

/// The gauges the queue keeps current: calls waiting now, and the most that ever waited.
#[derive(Debug, Clone, Default)]
pub struct QueueGauges {
    /// Calls waiting for a slot.
    pub depth: Gauge,
    /// The largest number of calls that waited at once since the server started.
    pub peak: Gauge,
}

/// Held by one admitted `PostTranslateModify` call until its memory is released; cloned into
/// the request extensions (for the hook task) and the response body.
#[derive(Debug, Clone)]
pub(crate) struct CallPermit {
    _held: Arc<OwnedSemaphorePermit>,
}

/// An admitted call: its permit, how long it waited, and when its time is up.
#[derive(Debug)]
pub(crate) struct Admission {
    /// The slot.
    pub permit: CallPermit,
    /// Time spent in the queue (zero when a slot was free).
    pub waited: Duration,
    /// Admission plus `server.maxCallTime`.
    pub deadline: Instant,
}

/// Why a call was turned away or cut. Every one of them is transient, so every one is answered
/// (or, for a response already under way, ends the connection as) `UNAVAILABLE`, which EG
/// retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `server.maxQueuedCalls` calls were already waiting.
    QueueFull,
    /// The call waited `server.queueTimeout` without getting a slot.
    QueueTimeout,
    /// The call held its slot for `server.maxCallTime`.
    CallTime,
}

impl Refusal {
    /// The metric label (`xds_hook_refusals_total{reason}`).
    pub(crate) fn label(self) -> &'static str {
        match self {
            Refusal::QueueFull => "queue_full",
            Refusal::QueueTimeout => "queue_timeout",
            Refusal::CallTime => "max_call_time",
        }
    }
}

/// The metric label of the permanent refusal, a message over `server.maxMessageBytes`.
pub(crate) const OVERSIZE_LABEL: &str = "max_message_bytes";

impl Limits {
    /// The limits of `server`, keeping `gauges` current.
    pub(crate) fn new(server: &ServerConfig, gauges: QueueGauges) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(server.max_concurrent_calls)),
            queued: AtomicUsize::new(0),
            gauges,
            max_concurrent_calls: server.max_concurrent_calls,
            max_queued_calls: server.max_queued_calls,
            queue_timeout: server.queue_timeout,
            max_call_time: server.max_call_time,
            max_message_bytes: server.max_message_bytes,
        }
    }

    /// `server.maxCallTime`.
    pub(crate) fn max_call_time(&self) -> Duration {
        self.max_call_time
    }

    /// Whether calls to `path` need a slot: only `PostTranslateModify` does; the other methods
    /// are cheap and never wait.
    pub(crate) fn needs_slot(path: &str) -> bool {
        path == POST_TRANSLATE_MODIFY_PATH
    }

    /// Admits a call: at once when a slot is free, else after waiting its turn in the queue.
    pub(crate) async fn admit(&self) -> Result<Admission, Refusal> {
        let started = Instant::now();
        if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
            return Ok(self.admitted(permit, started));
        }
        let Some(_waiting) = self.enqueue() else {
            return Err(Refusal::QueueFull);
        };
        let acquire = Arc::clone(&self.permits).acquire_owned();
        match tokio::time::timeout(self.queue_timeout, acquire).await {
            Ok(Ok(permit)) => Ok(self.admitted(permit, started)),
            // The semaphore is never closed; a closed one could only mean shutting down.
            Ok(Err(_)) | Err(_) => Err(Refusal::QueueTimeout),
        }
    }

    fn admitted(&self, permit: OwnedSemaphorePermit, started: Instant) -> Admission {
        let now = Instant::now();
        Admission {
            permit: CallPermit {
                _held: Arc::new(permit),
            },
            waited: now.saturating_duration_since(started),
            deadline: now + self.max_call_time,
        }
    }

    /// Takes a place in the queue, or `None` when it is full. The place is given back when the
    /// returned guard drops: on admission, on timeout, or when the client gives up waiting.
    fn enqueue(&self) -> Option<QueuePlace<'_>> {
        let mut current = self.queued.load(Ordering::Relaxed);
        loop {
            if current >= self.max_queued_calls {
                return None;
            }
            match self.queued.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        // The gauges move by their own atomic operations, never by `set`: two calls joining at
        // once could otherwise store their depths in the wrong order.
        self.gauges.depth.inc();
        let depth = gauge_value(current + 1);
        self.gauges.peak.inner().fetch_max(depth, Ordering::Relaxed);
        Some(QueuePlace { limits: self })
    }

    /// The status a refusal is answered with, naming the setting that caused it.
    pub(crate) fn status(&self, refusal: Refusal) -> Status {
        let message = match refusal {
            Refusal::QueueFull => format!(
                "all {} PostTranslateModify slots are busy and {} calls already wait \
                 (server.maxConcurrentCalls, server.maxQueuedCalls); retry",
                self.max_concurrent_calls, self.max_queued_calls
            ),
            Refusal::QueueTimeout => format!(
                "no PostTranslateModify slot became free within server.queueTimeout ({}); retry",
                humantime::format_duration(self.queue_timeout)
            ),
            Refusal::CallTime => format!(
                "the call did not finish within server.maxCallTime ({}); retry",
                humantime::format_duration(self.max_call_time)
            ),
        };
        Status::unavailable(message)
    }

    /// Rewrites tonic's message-size `OUT_OF_RANGE` in a header or trailer map into
    /// `RESOURCE_EXHAUSTED` naming `server.maxMessageBytes`. Returns the status code the map
    /// carries afterwards, if it carries one.
    pub(crate) fn remap(&self, map: &mut HeaderMap) -> Option<Code> {
        let status = Status::from_header_map(map)?;
        if status.code() != Code::OutOfRange || !status.message().contains("length too large") {
            return Some(status.code());
        }
        let direction = if status.message().contains("decoded") {
            "request"
        } else {
            "response"
        };
        let remapped = Status::resource_exhausted(format!(
            "{direction} message is larger than server.maxMessageBytes ({} bytes): {}",
            self.max_message_bytes,
            status.message()
        ));
        match remapped.add_header(map) {
            Ok(()) => Some(Code::ResourceExhausted),
            Err(_) => Some(status.code()),
        }
    }
}

/// One call's place in the queue.
struct QueuePlace<'a> {
    limits: &'a Limits,
}

impl Drop for QueuePlace<'_> {
    fn drop(&mut self) {
        self.limits.queued.fetch_sub(1, Ordering::AcqRel);
        self.limits.gauges.depth.dec();
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(concurrent: usize, queued: usize, queue_timeout: Duration) -> Limits {
        let server = ServerConfig {
            max_concurrent_calls: concurrent,
            max_queued_calls: queued,
            queue_timeout,
            max_message_bytes: 65536,
            ..ServerConfig::default()
        };
        Limits::new(&server, QueueGauges::default())
    }

    #[test]
    fn only_post_translate_modify_needs_a_slot() {
        assert!(Limits::needs_slot(POST_TRANSLATE_MODIFY_PATH));
        assert!(!Limits::needs_slot("/grpc.health.v1.Health/Check"));
        assert!(!Limits::needs_slot(
            "/envoygateway.extension.EnvoyGatewayExtension/PostClusterModify"
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn excess_calls_wait_in_order_and_get_the_slot_when_it_is_released() {
        let limits = Arc::new(limits(1, 2, Duration::from_secs(30)));
        let first = limits.admit().await.unwrap();
        assert_eq!(first.waited, Duration::ZERO);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for n in 0..2 {
            let (limits, tx) = (Arc::clone(&limits), tx.clone());
            tokio::spawn(async move {
                let admission = limits.admit().await.unwrap();
                tx.send((n, admission.waited)).unwrap();
                tokio::time::sleep(Duration::from_secs(1)).await;
                drop(admission);
            });
            // Let each waiter take its place before the next, so the order is known.
            tokio::task::yield_now().await;
        }
        assert_eq!(limits.gauges.depth.get(), 2);
        assert_eq!(limits.admit().await.unwrap_err(), Refusal::QueueFull);
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(first);
        assert_eq!(rx.recv().await.unwrap(), (0, Duration::from_secs(5)));
        assert_eq!(rx.recv().await.unwrap(), (1, Duration::from_secs(6)));
        assert_eq!(limits.gauges.depth.get(), 0);
        assert_eq!(limits.gauges.peak.get(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_waits_too_long_is_refused_and_leaves_the_queue() {
        let limits = limits(1, 4, Duration::from_secs(2));
        let _held = limits.admit().await.unwrap();
        let refusal = limits.admit().await.unwrap_err();
        assert_eq!(refusal, Refusal::QueueTimeout);
        assert_eq!(limits.gauges.depth.get(), 0);
        let status = limits.status(refusal);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(
            status.message().contains("server.queueTimeout (2s)"),
            "{status:?}"
        );
    }

    #[tokio::test]
    async fn without_a_queue_excess_calls_are_refused_at_once_with_unavailable() {
        let limits = limits(1, 0, Duration::from_secs(30));
        let held = limits.admit().await.unwrap();
        let clone = held.permit.clone();
        let refusal = limits.admit().await.unwrap_err();
        let status = limits.status(refusal);
        assert_eq!(status.code(), Code::Unavailable);
        assert!(
            status.message().contains("server.maxQueuedCalls"),
            "{status:?}"
        );
        drop(held);
        assert!(
            limits.admit().await.is_err(),
            "a clone still holds the slot"
        );
        drop(clone);
        assert!(limits.admit().await.is_ok());
    }

    #[test]
    fn every_refusal_is_unavailable_and_names_its_setting() {
        let limits = limits(1, 1, Duration::from_secs(1));
        for (refusal, key) in [
            (Refusal::QueueFull, "server.maxQueuedCalls"),
            (Refusal::QueueTimeout, "server.queueTimeout"),
            (Refusal::CallTime, "server.maxCallTime"),
        ] {
            let status = limits.status(refusal);
            assert_eq!(status.code(), Code::Unavailable, "{refusal:?}");
            assert!(status.message().contains(key), "{refusal:?}: {status:?}");
        }
    }

    #[test]
    fn size_out_of_range_becomes_resource_exhausted_naming_the_limit() {
        let limits = limits(1, 1, Duration::from_secs(1));
        let mut map = HeaderMap::new();
        Status::out_of_range(
            "Error, decoded message length too large: found 70000 bytes, the limit is: 65536 bytes",
        )
        .add_header(&mut map)
        .unwrap();
        assert_eq!(limits.remap(&mut map), Some(Code::ResourceExhausted));
        let status = Status::from_header_map(&map).unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(
            status
                .message()
                .starts_with("request message is larger than server.maxMessageBytes (65536 bytes)"),
            "{}",
            status.message()
        );

        let mut other = HeaderMap::new();
        Status::out_of_range("index 3")
            .add_header(&mut other)
            .unwrap();
        assert_eq!(limits.remap(&mut other), Some(Code::OutOfRange));
        assert_eq!(limits.remap(&mut HeaderMap::new()), None);
    }
}
