//! Lingering close: when the server closes a connection, it stops writing, then reads and
//! discards what the client still sends until the client closes too.
//!
//! Why: a client reading a large response keeps sending HTTP/2 WINDOW_UPDATE and PING frames.
//! When hyper ends a connection (after the GOAWAY of a graceful shutdown, or on an error) it
//! shuts down the write side and drops the socket. If some of those frames are still unread at
//! that moment, or arrive just after, Linux answers with a TCP RST instead of a FIN, and the
//! RST makes the client discard the response bytes it has not read yet: EG loses the
//! translation it was receiving during a rollout (`ConnectionReset` in the client). Reading
//! until the client's EOF first, as Envoy (`delayed_close_timeout`) and nginx
//! (`lingering_close`) do, means the socket is closed with nothing unread and nothing more on
//! the way, so the client gets every byte and a clean end of stream.
//!
//! The lingering happens inside `poll_shutdown`, which hyper's HTTP/2 server calls once the
//! last frame is flushed, before it drops the connection; tonic's drain therefore waits for
//! it. It is bounded: a client that sends nothing for [`LINGER_IDLE`] or keeps sending past
//! [`LINGER_MAX`] is closed anyway, and during a shutdown `server.shutdownGrace` bounds it
//! too. A connection dropped without a shutdown (the grace period ran out) is not lingered.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// How long a client may stay silent after the server's FIN before the socket is closed
/// anyway. A well-behaved HTTP/2 client closes as soon as it reads the FIN; any traffic (a
/// client still reading a large response sends WINDOW_UPDATEs) starts this wait again.
pub(crate) const LINGER_IDLE: Duration = Duration::from_secs(2);

/// The longest a connection lingers in all, however much the client keeps sending.
pub(crate) const LINGER_MAX: Duration = Duration::from_secs(30);

/// Reads per poll while discarding, so a client that floods cannot hold a worker thread.
const READS_PER_POLL: usize = 16;

/// An I/O object whose `poll_shutdown` is a lingering close (see the module docs).
#[derive(Debug)]
pub(crate) struct Lingering<T> {
    io: T,
    state: State,
    idle: Duration,
    max: Duration,
}

#[derive(Debug)]
enum State {
    /// Not shut down yet: everything passes through.
    Open,
    /// Write side shut down; discarding reads until EOF, an error, or the timer fires.
    Draining {
        timer: Pin<Box<Sleep>>,
        until: Instant,
    },
    /// Done: the peer closed, or we gave up waiting.
    Closed,
}

impl<T> Lingering<T> {
    /// Wraps `io` with the default bounds, [`LINGER_IDLE`] and [`LINGER_MAX`].
    pub(crate) fn new(io: T) -> Self {
        Self::with_bounds(io, LINGER_IDLE, LINGER_MAX)
    }

    /// Wraps `io`: wait at most `idle` for the peer's next bytes or EOF, `max` in all.
    pub(crate) fn with_bounds(io: T, idle: Duration, max: Duration) -> Self {
        Self {
            io,
            state: State::Open,
            idle,
            max,
        }
    }
}

impl<T: AsyncRead + Unpin> Lingering<T> {
    /// Reads and discards until EOF or an error (`Ready`), or until nothing is ready now
    /// (`Pending`, with the waker registered). Restarts the idle timer when bytes arrive.
    fn poll_discard(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut scratch = [0u8; 8192];
        let mut received = false;
        let mut result = Poll::Pending;
        for _ in 0..READS_PER_POLL {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => {
                    result = Poll::Ready(());
                    break;
                }
                Poll::Ready(Ok(())) => received = true,
                Poll::Ready(Err(e)) => {
                    tracing::debug!(error = %e, "read error while lingering; closing");
                    result = Poll::Ready(());
                    break;
                }
                Poll::Pending => break,
            }
        }
        if result.is_pending() && received {
            if let State::Draining { timer, until } = &mut self.state {
                let next = (Instant::now() + self.idle).min(*until);
                timer.as_mut().reset(next);
            }
            // Out of reads for this poll with more possibly buffered: come back soon.
            cx.waker().wake_by_ref();
        }
        result
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Lingering<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            match &mut this.state {
                State::Open => {
                    // Flushes and sends the FIN (for TLS, close_notify first).
                    ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
                    let now = Instant::now();
                    let until = now + this.max;
                    this.state = State::Draining {
                        timer: Box::pin(tokio::time::sleep_until((now + this.idle).min(until))),
                        until,
                    };
                }
                State::Draining { timer, .. } => {
                    if timer.as_mut().poll(cx).is_ready() {
                        tracing::debug!(
                            idle = ?this.idle,
                            max = ?this.max,
                            "client did not close after the server's FIN; closing anyway"
                        );
                        this.state = State::Closed;
                        continue;
                    }
                    ready!(this.poll_discard(cx));
                    this.state = State::Closed;
                }
                State::Closed => return Poll::Ready(Ok(())),
            }
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, duplex};

    #[tokio::test(start_paused = true)]
    async fn shutdown_waits_for_the_peer_to_close_and_discards_what_it_sends() {
        let (server, mut client) = duplex(64);
        let mut server = Lingering::new(server);
        server.write_all(b"response").await.unwrap();
        let started = Instant::now();
        let peer = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            // After the server's EOF the client still sends (more than the pipe holds), then
            // closes a second later.
            client.write_all(&[7u8; 1000]).await.unwrap();
            tokio::time::sleep(Duration::from_secs(1)).await;
            client.write_all(b"window update").await.unwrap();
            drop(client);
            got
        });
        server.shutdown().await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        assert_eq!(peer.await.unwrap(), b"response");
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_closed_after_the_idle_time() {
        let (server, _client) = duplex(64);
        let mut server = Lingering::with_bounds(server, Duration::from_secs(2), LINGER_MAX);
        let started = Instant::now();
        server.shutdown().await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        // Shutting down again is immediate.
        server.shutdown().await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_peer_that_keeps_sending_is_closed_after_the_maximum() {
        let (server, mut client) = duplex(64);
        let mut server =
            Lingering::with_bounds(server, Duration::from_secs(2), Duration::from_secs(5));
        let sender = tokio::spawn(async move {
            // Every second, far inside the idle time, for longer than the maximum.
            for _ in 0..20 {
                if client.write_all(b"ping").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        let started = Instant::now();
        server.shutdown().await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(5));
        sender.abort();
    }
}
