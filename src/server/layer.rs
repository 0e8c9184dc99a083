//! The tower layer every gRPC call passes through: admission, status mapping, metrics.
//!
//! It sits between tonic's transport and the services, where it sees each call from its
//! request headers to the last byte of its response. There it queues expensive calls for a
//! slot ([`Limits::admit`]) before their body is read, bounds the time they hold it
//! (`server.maxCallTime`), rewrites size-limit statuses in headers and trailers
//! ([`Limits::remap`]), and times and sizes the call for [`Metrics`]. A call that is dropped
//! midway (client gone, deadline passed) is recorded as `CANCELLED`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt as _;
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{Layer, Service};

use super::limits::{CallPermit, Limits, OVERSIZE_LABEL, Refusal};
use super::listen::{Abort, ConnInfo};
use super::metrics::{MethodLabels, Metrics};

/// Wraps the gRPC services; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct CallLayer {
    metrics: Arc<Metrics>,
    limits: Arc<Limits>,
}

impl CallLayer {
    /// A layer recording into `metrics` and enforcing `limits`.
    pub(crate) fn new(metrics: Arc<Metrics>, limits: Arc<Limits>) -> Self {
        Self { metrics, limits }
    }
}

impl<S> Layer<S> for CallLayer {
    type Service = CallService<S>;

    fn layer(&self, inner: S) -> CallService<S> {
        CallService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`CallLayer`] produces.
#[derive(Debug, Clone)]
pub(crate) struct CallService<S> {
    inner: S,
    layer: CallLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<http::Request<Body>> for CallService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<ObservedBody>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        // The service that was polled ready goes with this call; a clone stays for the next.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        let record = CallRecord::start(
            Arc::clone(&layer.metrics),
            MethodLabels::from_path(request.uri().path()),
        );
        if Limits::needs_slot(request.uri().path()) {
            Box::pin(layer.admitted_call(inner, request, record))
        } else {
            Box::pin(layer.plain_call(inner, request, record))
        }
    }
}

impl CallLayer {
    /// A call that needs no slot: observed, nothing more.
    async fn plain_call<S>(
        self,
        mut inner: S,
        request: http::Request<Body>,
        record: CallRecord,
    ) -> Result<http::Response<ObservedBody>, S::Error>
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>>,
    {
        let request = record.count_request_body(request);
        let response = inner.call(request).await?;
        Ok(self.observe(response, record, None))
    }

    /// A `PostTranslateModify`: waits its turn for a slot (before its body is read), then runs
    /// within `server.maxCallTime`. Running out of time before the response is ready answers
    /// `UNAVAILABLE`; after, the response is under way and [`CallTimer`] ends its connection.
    async fn admitted_call<S>(
        self,
        mut inner: S,
        request: http::Request<Body>,
        record: CallRecord,
    ) -> Result<http::Response<ObservedBody>, S::Error>
    where
        S: Service<http::Request<Body>, Response = http::Response<Body>>,
    {
        let admission = match self.limits.admit().await {
            Ok(admission) => admission,
            Err(refusal) => {
                discard(request.into_body()).await;
                return Ok(self.refuse(refusal, record));
            }
        };
        self.metrics
            .overload
            .queue_wait
            .observe(admission.waited.as_secs_f64());
        let abort = request
            .extensions()
            .get::<ConnInfo>()
            .map(|conn| conn.abort.clone());
        let (mut parts, body) = record.count_request_body(request).into_parts();
        parts.extensions.insert(admission.permit.clone());
        let call = inner.call(http::Request::from_parts(parts, body));
        let response = match tokio::time::timeout_at(admission.deadline, call).await {
            Ok(response) => response?,
            Err(_) => {
                // The hook task, if it started, keeps its clone of the permit until it ends.
                tracing::warn!(
                    max_call_time = ?self.limits.max_call_time(),
                    "PostTranslateModify ran out of time before its response was ready"
                );
                return Ok(self.refuse(Refusal::CallTime, record));
            }
        };
        let timer = CallTimer::start(
            admission.deadline,
            abort,
            Arc::clone(&self.metrics),
            self.limits.max_call_time(),
        );
        Ok(self.observe(response, record, Some((admission.permit, timer))))
    }

    /// Answers a refused call with its `UNAVAILABLE` status, counted by reason.
    fn refuse(&self, refusal: Refusal, mut record: CallRecord) -> http::Response<ObservedBody> {
        self.metrics.refused(refusal.label());
        let response = self.limits.status(refusal).into_http::<Body>();
        record.code = Some(Code::Unavailable);
        record.finish();
        self.observe(response, record, None)
    }

    /// The response, with its status remapped and its body observed until the last byte.
    fn observe(
        &self,
        mut response: http::Response<Body>,
        mut record: CallRecord,
        held: Option<(CallPermit, CallTimer)>,
    ) -> http::Response<ObservedBody> {
        if record.code.is_none() {
            record.code = self.limits.remap(response.headers_mut());
            if record.code.is_some() {
                // Trailers-only response: the status is final, no body follows.
                record.finish();
            }
        }
        let limits = Arc::clone(&self.limits);
        response.map(|body| ObservedBody::new(body, record, held, limits))
    }
}

/// How long a refused call's request body is read (and dropped) before the refusal is sent.
pub(crate) const REFUSAL_DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Reads and drops a refused call's request body, so that the refusal reaches the client as
/// its status.
///
/// Answered before its client has sent the whole body, a call's stream is reset after the
/// response (RST_STREAM, RFC 9113 §8.1), and a client still writing can report the reset
/// instead of the status: tonic's client then says `UNKNOWN` ("transport error"), which EG
/// would not retry. Nothing is kept, and it is bounded in time; the refused call holds no slot
/// and no place in the queue meanwhile.
async fn discard(body: Body) {
    let mut body = body;
    let _ = tokio::time::timeout(REFUSAL_DRAIN_LIMIT, async move {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
}

/// Ends a call's connection if its response is still being sent at its deadline: by then the
/// response belongs to hyper, which HTTP/2 flow control can stall for ever when the client
/// stops reading, and ending the connection is the only way to free the slot and the memory.
/// Dropped (with the response body) when the call ends in time.
struct CallTimer {
    _cancel: tokio::sync::oneshot::Sender<()>,
}

impl CallTimer {
    fn start(
        deadline: tokio::time::Instant,
        abort: Option<Abort>,
        metrics: Arc<Metrics>,
        max_call_time: Duration,
    ) -> Self {
        let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            tokio::select! {
                _ = cancelled => {}
                () = tokio::time::sleep_until(deadline) => {
                    tracing::warn!(
                        max_call_time = ?max_call_time,
                        "PostTranslateModify response not taken by the client within \
                         server.maxCallTime; ending its connection"
                    );
                    metrics.refused(Refusal::CallTime.label());
                    if let Some(abort) = abort {
                        abort.abort();
                    }
                }
            }
        });
        Self { _cancel: cancel }
    }
}

/// Timing and sizes of one call; recorded exactly once: when its status is known (before the
/// client can see it, so a scrape right after a call counts it), or as `CANCELLED` when it is
/// dropped before that.
struct CallRecord {
    metrics: Arc<Metrics>,
    method: MethodLabels,
    started: Instant,
    request_bytes: Arc<AtomicU64>,
    response_bytes: u64,
    code: Option<Code>,
    recorded: bool,
}

impl CallRecord {
    fn start(metrics: Arc<Metrics>, method: MethodLabels) -> Self {
        metrics.call_started(&method);
        Self {
            metrics,
            method,
            started: Instant::now(),
            request_bytes: Arc::new(AtomicU64::new(0)),
            response_bytes: 0,
            code: None,
            recorded: false,
        }
    }

    /// The request, with its body counted into this record as tonic reads it.
    fn count_request_body(&self, request: http::Request<Body>) -> http::Request<Body> {
        let bytes = Arc::clone(&self.request_bytes);
        request.map(|inner| Body::new(CountingBody { inner, bytes }))
    }

    fn finish(&mut self) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        let code = self.code.unwrap_or(Code::Cancelled);
        if code == Code::ResourceExhausted {
            // The only RESOURCE_EXHAUSTED this server answers is a message over the limit.
            self.metrics.refused(OVERSIZE_LABEL);
        }
        self.metrics.call_finished(
            &self.method,
            code,
            self.started.elapsed(),
            self.request_bytes.load(Ordering::Relaxed),
            self.response_bytes,
        );
    }
}

impl Drop for CallRecord {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Counts the request body's bytes as tonic reads them.
struct CountingBody {
    inner: Body,
    bytes: Arc<AtomicU64>,
}

impl HttpBody for CountingBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.bytes.fetch_add(len(data), Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body: counts bytes, remaps the status in trailers, holds the call's permit
/// (and its timer) until the response is sent, and records the call when dropped.
pub(crate) struct ObservedBody {
    inner: Body,
    /// The part of the last data frame not yet handed on (see [`RESPONSE_PIECE`]).
    rest: Bytes,
    record: CallRecord,
    _held: Option<(CallPermit, CallTimer)>,
    limits: Arc<Limits>,
}

impl std::fmt::Debug for ObservedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservedBody")
            .field("method", &self.record.method)
            .finish()
    }
}

impl ObservedBody {
    fn new(
        inner: Body,
        record: CallRecord,
        held: Option<(CallPermit, CallTimer)>,
        limits: Arc<Limits>,
    ) -> Self {
        Self {
            inner,
            rest: Bytes::new(),
            record,
            _held: held,
            limits,
        }
    }
}

impl HttpBody for ObservedBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        if !this.rest.is_empty() {
            return Poll::Ready(Some(Ok(Frame::data(next_piece(&mut this.rest)))));
        }
        let mut polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &mut polled {
            if let Some(data) = frame.data_mut() {
                this.record.response_bytes += len(data);
                if data.len() > RESPONSE_PIECE {
                    this.rest = data.split_off(RESPONSE_PIECE);
                }
            } else if let Some(trailers) = frame.trailers_mut() {
                this.record.code = this.limits.remap(trailers).or(this.record.code);
                this.record.finish();
            }
        }
        if let Poll::Ready(None) = polled
            && this.record.code.is_some()
        {
            this.record.finish();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let rest = len(&self.rest);
        let inner = self.inner.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(rest));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint
    }
}

/// The largest data frame the response body hands to hyper at once.
///
/// hyper gives each frame whole to h2, which buffers all of it whatever the client's HTTP/2
/// window; a 16 MiB response handed over in one piece would leave this body (and its permit)
/// at once and sit in h2's buffer for as long as the client does not read it, beyond the reach
/// of `server.maxCallTime`. In pieces, hyper asks for the next one only when the client has
/// window for it, so an unread response stays here, with its slot, until the call timer ends
/// it. Splitting `Bytes` copies nothing.
pub(crate) const RESPONSE_PIECE: usize = 256 << 10;

fn next_piece(rest: &mut Bytes) -> Bytes {
    let take = rest.len().min(RESPONSE_PIECE);
    rest.split_to(take)
}

fn len(data: &Bytes) -> u64 {
    u64::try_from(data.len()).unwrap_or(u64::MAX)
}
