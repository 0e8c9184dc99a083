//! Listeners: TCP and Unix sockets, bound before serving, merged into one connection stream.
//!
//! EG reaches the hook over a Service (TCP) or, when they share a pod, a Unix socket; either or
//! both can be configured. Everything is bound up front so a busy port or an unusable socket
//! path fails startup with the address in the message. Each listener gets an accept task; a
//! TLS handshake runs in its own task with a timeout, so one slow or silent client never holds
//! up others. tonic sees a single stream of ready connections, and dropping that stream (on
//! shutdown) stops every accept task, which closes the sockets and removes socket files.
//! Every connection, whatever its listener, is closed with a lingering close
//! ([`super::linger`]), so a client never loses the end of a response to a TCP reset.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

use super::ServeError;
use super::linger::Lingering;
use super::tls::ReloadingTls;
use crate::config::ListenAddr;

/// How long a client may take to complete its TLS handshake.
pub(crate) const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound listener.
#[derive(Debug)]
pub(crate) enum Bound {
    /// A TCP socket.
    Tcp(TcpListener),
    /// A Unix socket; its file is removed when the listener is dropped.
    Unix(UnixListener, SocketFile),
}

/// Removes a Unix socket file when dropped.
#[derive(Debug)]
pub(crate) struct SocketFile(PathBuf);

impl Drop for SocketFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl Bound {
    /// The address, as configured (with the real port for `:0`).
    pub(crate) fn addr(&self) -> ListenAddr {
        match self {
            Bound::Tcp(l) => l
                .local_addr()
                .map(ListenAddr::Tcp)
                .unwrap_or(ListenAddr::Tcp(SocketAddr::from(([0, 0, 0, 0], 0)))),
            Bound::Unix(_, file) => ListenAddr::Unix(file.0.clone()),
        }
    }
}

/// Binds every address, failing on the first that cannot be bound.
pub(crate) async fn bind_all(addrs: &[ListenAddr]) -> Result<Vec<Bound>, ServeError> {
    let mut bound = Vec::with_capacity(addrs.len());
    for addr in addrs {
        bound.push(bind(addr).await?);
    }
    Ok(bound)
}

async fn bind(addr: &ListenAddr) -> Result<Bound, ServeError> {
    let error = |source| ServeError::Bind {
        addr: addr.to_string(),
        source,
    };
    match addr {
        ListenAddr::Tcp(socket) => TcpListener::bind(socket)
            .await
            .map(Bound::Tcp)
            .map_err(error),
        ListenAddr::Unix(path) => {
            remove_stale_socket(path).map_err(error)?;
            let listener = UnixListener::bind(path).map_err(error)?;
            Ok(Bound::Unix(listener, SocketFile(path.clone())))
        }
    }
}

/// A socket file left by a process that died is removed; one that still answers is in use,
/// and anything that is not a socket is never touched.
fn remove_stale_socket(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt as _;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "exists and is not a socket",
        ));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            "another process is serving on this socket",
        ));
    }
    std::fs::remove_file(path)
}

/// Which listener a connection came in on, from where, and how to end it. tonic puts a copy
/// in every request's extensions.
#[derive(Debug, Clone)]
pub(crate) struct ConnInfo {
    /// The listen address.
    pub listener: Arc<str>,
    /// The peer, for TCP.
    pub remote: Option<SocketAddr>,
    /// Ends the connection.
    pub abort: Abort,
}

/// Ends a connection from outside its task: every read and write fails from then on, so hyper
/// drops the connection and every call on it, with their bodies and permits.
///
/// This is how `server.maxCallTime` frees a slot whose response the client stopped reading:
/// once the response is handed to hyper, HTTP/2 flow control stalls it where no service code
/// can reach, and closing the connection is the only way to release it. Clients see the
/// connection end, which gRPC reports as `UNAVAILABLE` (retried by EG).
#[derive(Debug, Clone, Default)]
pub(crate) struct Abort(Arc<AbortState>);

#[derive(Debug, Default)]
struct AbortState {
    aborted: std::sync::atomic::AtomicBool,
    waker: atomic_waker::AtomicWaker,
}

impl Abort {
    /// Ends the connection; its task is woken to notice.
    pub(crate) fn abort(&self) {
        self.0
            .aborted
            .store(true, std::sync::atomic::Ordering::Release);
        self.0.waker.wake();
    }

    /// Whether the connection was ended; registers the task to be woken when it is.
    fn poll_aborted(&self, cx: &Context<'_>) -> bool {
        use std::sync::atomic::Ordering::Acquire;
        if self.0.aborted.load(Acquire) {
            return true;
        }
        self.0.waker.register(cx.waker());
        self.0.aborted.load(Acquire)
    }

    fn error() -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "connection ended by the server (server.maxCallTime)",
        )
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// One accepted (and, with TLS, handshaken) connection, closed with a lingering close.
pub(crate) struct Conn {
    io: Lingering<Box<dyn Io>>,
    info: ConnInfo,
}

impl Conn {
    fn new(io: Box<dyn Io>, info: ConnInfo) -> Self {
        Self {
            io: Lingering::new(io),
            info,
        }
    }
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").field("info", &self.info).finish()
    }
}

impl Connected for Conn {
    type ConnectInfo = ConnInfo;

    fn connect_info(&self) -> ConnInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.info.abort.poll_aborted(cx) {
            return Poll::Ready(Err(Abort::error()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.info.abort.poll_aborted(cx) {
            return Poll::Ready(Err(Abort::error()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if self.info.abort.poll_aborted(cx) {
            return Poll::Ready(Err(Abort::error()));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        // An ended connection is not lingered: nothing more is owed to its client.
        if self.info.abort.poll_aborted(cx) {
            return Poll::Ready(Err(Abort::error()));
        }
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if self.info.abort.poll_aborted(cx) {
            return Poll::Ready(Err(Abort::error()));
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// The stream of connections tonic serves.
pub(crate) type Incoming = ReceiverStream<Result<Conn, std::io::Error>>;

/// Starts an accept task per listener and returns their merged connections.
pub(crate) fn incoming(listeners: Vec<Bound>, tls: Option<Arc<ReloadingTls>>) -> Incoming {
    let (tx, rx) = mpsc::channel(64);
    for listener in listeners {
        tokio::spawn(accept_loop(listener, tls.clone(), tx.clone()));
    }
    ReceiverStream::new(rx)
}

type Sender = mpsc::Sender<Result<Conn, std::io::Error>>;

async fn accept_loop(listener: Bound, tls: Option<Arc<ReloadingTls>>, tx: Sender) {
    let name: Arc<str> = listener.addr().to_string().into();
    loop {
        let accepted = tokio::select! {
            () = tx.closed() => return,
            accepted = accept(&listener) => accepted,
        };
        let (io, remote) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Typically out of file descriptors: back off instead of spinning.
                tracing::warn!(listener = %name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let info = ConnInfo {
            listener: Arc::clone(&name),
            remote,
            abort: Abort::default(),
        };
        match &tls {
            None => {
                if tx.send(Ok(Conn::new(io, info))).await.is_err() {
                    return;
                }
            }
            Some(tls) => {
                tokio::spawn(handshake(tls.acceptor(), io, info, tx.clone()));
            }
        }
    }
}

async fn accept(listener: &Bound) -> std::io::Result<(Box<dyn Io>, Option<SocketAddr>)> {
    match listener {
        Bound::Tcp(l) => {
            let (stream, remote) = l.accept().await?;
            let _ = stream.set_nodelay(true);
            Ok((Box::new(stream), Some(remote)))
        }
        Bound::Unix(l, _) => {
            let (stream, _) = l.accept().await?;
            Ok((Box::new(stream), None))
        }
    }
}

async fn handshake(
    acceptor: tokio_rustls::TlsAcceptor,
    io: Box<dyn Io>,
    info: ConnInfo,
    tx: Sender,
) {
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(io)).await {
        Ok(Ok(stream)) => {
            let _ = tx.send(Ok(Conn::new(Box::new(stream), info))).await;
        }
        Ok(Err(e)) => {
            tracing::debug!(listener = %info.listener, remote = ?info.remote, error = %e, "TLS handshake failed");
        }
        Err(_) => {
            tracing::debug!(listener = %info.listener, remote = ?info.remote, "TLS handshake timed out");
        }
    }
}
