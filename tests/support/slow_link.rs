//! A gRPC channel on a slow uplink: the request body leaves in small pieces with a pause
//! before each, as from a client far away or on a congested link. Responses are untouched.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use tonic::body::Body;
use tonic::transport::Channel;

/// `channel`, its request bodies sent `piece` bytes at a time, one every `every`.
#[derive(Clone)]
pub struct SlowLink {
    pub channel: Channel,
    pub piece: usize,
    pub every: Duration,
}

impl tower::Service<http::Request<Body>> for SlowLink {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = <Channel as tower::Service<http::Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.channel, cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let (piece, every) = (self.piece, self.every);
        let request = request.map(|inner| {
            Body::new(SlowBody {
                inner,
                piece,
                every,
                pause: None,
                pending: Bytes::new(),
            })
        });
        self.channel.call(request)
    }
}

struct SlowBody {
    inner: Body,
    piece: usize,
    every: Duration,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    pending: Bytes,
}

impl http_body::Body for SlowBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let every = self.every;
        let pause = self
            .pause
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
        if pause.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.pause = None;
        if self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => self.pending = data,
                    Err(frame) => return Poll::Ready(Some(Ok(frame))),
                },
                other => return other,
            }
        }
        let n = self.pending.len().min(self.piece);
        let piece = self.pending.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }
}
