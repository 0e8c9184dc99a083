//! Upstreams and a client for tests that send real traffic through Envoy, all on 127.0.0.1.
//!
//! - [`http_echo`]: an HTTP/1.1 server (hyper) that answers every request with a JSON
//!   description of what it received (method, path, host, headers, body size) and its own
//!   port, so a test can tell which route a request took, which upstream served it, and what a
//!   filter added on the way; [`stoppable_http_echo`] can be taken down.
//! - [`tcp_echo`]: a TCP server that writes back every byte it reads.
//! - [`send`]: one HTTP/1.1 request on a fresh connection, with a timeout.
//!
//! Servers run as tasks of the calling Tokio runtime and end with it.

use std::convert::Infallible;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// How long one request or echo may take.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts the HTTP echo upstream; returns its port.
pub async fn http_echo() -> u16 {
    let (port, stop) = stoppable_http_echo().await;
    // Never stopped: it lives as long as the runtime.
    std::mem::forget(stop);
    port
}

/// Starts an HTTP echo upstream that stops (closing its listener and every connection) when
/// the returned sender is dropped or used: a backend going down.
pub async fn stoppable_http_echo() -> (u16, tokio::sync::watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut accept_stopped = stopped.clone();
        loop {
            let stream = tokio::select! {
                _ = accept_stopped.changed() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => return,
                },
            };
            let mut connection_stopped = stopped.clone();
            let service = hyper::service::service_fn(move |r| echo(r, port));
            tokio::spawn(async move {
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = connection_stopped.changed() => {}
                    _ = connection => {}
                }
            });
        }
    });
    (port, stop)
}

async fn echo(request: Request<Incoming>, port: u16) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let headers: serde_json::Map<String, serde_json::Value> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
        .collect();
    let description = serde_json::json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "host": parts.headers.get(hyper::header::HOST).map(|h| String::from_utf8_lossy(h.as_bytes())),
        "headers": headers,
        "bodyBytes": body.len(),
        "port": port,
    });
    Ok(Response::builder()
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(description.to_string())))
        .unwrap())
}

/// Starts the TCP echo upstream; returns its port.
pub async fn tcp_echo() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut reader, mut writer) = stream.split();
                let _ = tokio::io::copy(&mut reader, &mut writer).await;
            });
        }
    });
    port
}

/// A response: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: hyper::HeaderMap,
    /// Response body.
    pub body: Bytes,
}

impl Reply {
    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON (what [`http_echo`] sends).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// Sends one HTTP/1.1 request to `127.0.0.1:port` on a new connection.
pub async fn send(
    port: u16,
    method: &str,
    host: &str,
    path: &str,
    body: &'static [u8],
) -> Result<Reply, String> {
    let exchange = async {
        let stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        tokio::spawn(connection);
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, host)
            .body(Full::new(Bytes::from_static(body)))
            .map_err(|e| format!("request: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("send: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        Ok(Reply {
            status,
            headers,
            body,
        })
    };
    tokio::time::timeout(IO_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            format!("{method} http://{host}{path} via :{port}: no reply in {IO_TIMEOUT:?}")
        })?
}

/// Writes `payload` to `127.0.0.1:port` and reads back as many bytes.
pub async fn tcp_round_trip(port: u16, payload: &[u8]) -> Result<Vec<u8>, String> {
    let exchange = async {
        let mut stream = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .write_all(payload)
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut echoed = vec![0; payload.len()];
        stream
            .read_exact(&mut echoed)
            .await
            .map_err(|e| format!("read: {e}"))?;
        Ok(echoed)
    };
    tokio::time::timeout(IO_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("TCP via :{port}: no echo in {IO_TIMEOUT:?}"))?
}
