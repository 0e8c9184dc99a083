//! The tower layer every gRPC call passes through: admission, status mapping, metrics.
//!
//! It sits between tonic's transport and the services, where it sees each call from its
//! request headers to the last byte of its response. There it admits or refuses expensive
//! calls ([`Limits::admit`]) before their body is read, rewrites size-limit statuses in
//! headers and trailers ([`Limits::remap`]), and times and sizes the call for [`Metrics`]. A
//! call that is dropped midway (client gone, deadline passed) is recorded as `CANCELLED`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::body::Body;
use tonic::{Code, Status};
use tower::{Layer, Service};

use super::limits::{CallPermit, Limits};
use super::metrics::{MethodLabels, Metrics};

/// Wraps the gRPC services; see the module docs.
#[derive(Debug, Clone)]
pub struct CallLayer {
    metrics: Arc<Metrics>,
    limits: Arc<Limits>,
}

impl CallLayer {
    /// A layer recording into `metrics` and enforcing `limits`.
    pub fn new(metrics: Arc<Metrics>, limits: Arc<Limits>) -> Self {
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
pub struct CallService<S> {
    inner: S,
    layer: CallLayer,
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> Service<http::Request<Body>> for CallService<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>> + Send + 'static,
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
        let mut record = CallRecord::start(
            Arc::clone(&self.layer.metrics),
            MethodLabels::from_path(request.uri().path()),
        );
        let permit = match self.layer.limits.admit(request.uri().path()) {
            Ok(permit) => permit,
            Err(status) => {
                let response = status.into_http::<Body>();
                record.code = Some(Code::ResourceExhausted);
                record.finish();
                let body =
                    ObservedBody::new(Body::empty(), record, None, Arc::clone(&self.layer.limits));
                return Box::pin(std::future::ready(Ok(response.map(|_| body))));
            }
        };
        let (mut parts, body) = request.into_parts();
        if let Some(permit) = &permit {
            parts.extensions.insert(permit.clone());
        }
        let counted = CountingBody {
            inner: body,
            bytes: Arc::clone(&record.request_bytes),
        };
        let future = self
            .inner
            .call(http::Request::from_parts(parts, Body::new(counted)));
        let limits = Arc::clone(&self.layer.limits);
        Box::pin(async move {
            let mut response = future.await?;
            record.code = limits.remap(response.headers_mut());
            if record.code.is_some() {
                // Trailers-only response: the status is final, no body follows.
                record.finish();
            }
            Ok(response.map(|body| ObservedBody::new(body, record, permit, limits)))
        })
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

    fn finish(&mut self) {
        if std::mem::replace(&mut self.recorded, true) {
            return;
        }
        self.metrics.call_finished(
            &self.method,
            self.code.unwrap_or(Code::Cancelled),
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
/// until the response is sent, and records the call when dropped.
pub struct ObservedBody {
    inner: Body,
    record: CallRecord,
    _permit: Option<CallPermit>,
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
        permit: Option<CallPermit>,
        limits: Arc<Limits>,
    ) -> Self {
        Self {
            inner,
            record,
            _permit: permit,
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
        let mut polled = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &mut polled {
            if let Some(data) = frame.data_ref() {
                this.record.response_bytes += len(data);
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
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

fn len(data: &Bytes) -> u64 {
    u64::try_from(data.len()).unwrap_or(u64::MAX)
}
