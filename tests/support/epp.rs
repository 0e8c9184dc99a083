//! A stub endpoint picker (GIE's EPP): an `envoy.service.ext_proc.v3.ExternalProcessor` over
//! TLS on `127.0.0.1`, with a self-signed certificate, as GIE's EPP serves by default.
//!
//! It plays the picker's side of GIE's protocol the way GIE's conformance picker does: it
//! chooses an endpoint for each request (round robin over the endpoints it was given) and
//! names it in the request header `x-gateway-destination-endpoint`; in
//! `FULL_DUPLEX_STREAMED` mode it holds its headers answer until the request body is complete
//! (a picker chooses by the body: the model), then sends the body back, and it streams the
//! response body back chunk by chunk; in `BUFFERED` mode it answers each phase as it comes.
//! It learns the mode from the `protocol_config` Envoy sends, and records it, with the path,
//! the endpoint chosen and the request body size, for every stream.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption};
use envoy_types::pb::envoy::extensions::filters::http::ext_proc::v3::processing_mode::BodySendMode;
use envoy_types::pb::envoy::service::ext_proc::v3::{
    BodyMutation, BodyResponse, CommonResponse, HeaderMutation, HeadersResponse, ProcessingRequest,
    ProcessingResponse, StreamedBodyResponse, TrailersResponse, body_mutation,
    external_processor_server::{ExternalProcessor, ExternalProcessorServer},
    processing_request::Request as Sent,
    processing_response::Response,
};
use tokio::sync::oneshot;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};

use super::ext_proc::answer_stream;
use super::journal::Journal;
use tonic::transport::{Identity, ServerTlsConfig};

/// The header a picker names its endpoint in.
pub const DESTINATION_HEADER: &str = "x-gateway-destination-endpoint";

/// What one picker stream (one request) carried.
#[derive(Debug, Clone, Default)]
pub struct Pick {
    /// `:path` of the request.
    pub path: String,
    /// The request body mode Envoy announced (`protocol_config`).
    pub body_mode: Option<BodySendMode>,
    /// The endpoint chosen, `127.0.0.1:<port>`.
    pub endpoint: Option<String>,
    /// Request body bytes received.
    pub request_body_bytes: usize,
    /// Whether the response phases were seen.
    pub saw_response: bool,
}

/// Every stream so far.
pub type Picks = Journal<Pick>;

struct Service {
    endpoints: Vec<String>,
    next: AtomicUsize,
    picks: Arc<Picks>,
}

/// Per-stream state: what is held back until the request body is complete.
struct Stream {
    index: usize,
    duplex: bool,
    endpoint: String,
    held_headers: bool,
    body: Vec<u8>,
}

impl Stream {
    /// The answers to one message, in order.
    fn answer(&mut self, picks: &Picks, message: ProcessingRequest) -> Vec<Response> {
        if let Some(config) = message.protocol_config {
            let mode = BodySendMode::try_from(config.request_body_mode).ok();
            self.duplex = mode == Some(BodySendMode::FullDuplexStreamed);
            picks.update(self.index, |p| p.body_mode = mode);
        }
        match message.request {
            Some(Sent::RequestHeaders(headers)) => {
                let path = headers
                    .headers
                    .iter()
                    .flat_map(|m| &m.headers)
                    .find(|h| h.key == ":path")
                    .map(|h| String::from_utf8_lossy(&h.raw_value).into_owned())
                    .unwrap_or_default();
                let endpoint = self.endpoint.clone();
                picks.update(self.index, |p| {
                    p.path = path;
                    p.endpoint = Some(endpoint);
                });
                if self.duplex && !headers.end_of_stream {
                    self.held_headers = true;
                    return Vec::new();
                }
                vec![self.headers_answer()]
            }
            Some(Sent::RequestBody(body)) => {
                let len = body.body.len();
                picks.update(self.index, |p| p.request_body_bytes += len);
                if !self.duplex {
                    return vec![Response::RequestBody(BodyResponse::default())];
                }
                self.body.extend_from_slice(&body.body);
                if !body.end_of_stream {
                    return Vec::new();
                }
                let mut answers = self.release_headers();
                answers.push(Response::RequestBody(streamed(
                    std::mem::take(&mut self.body),
                    true,
                )));
                answers
            }
            Some(Sent::RequestTrailers(_)) => {
                let mut answers = self.release_headers();
                if self.duplex {
                    answers.push(Response::RequestBody(streamed(
                        std::mem::take(&mut self.body),
                        false,
                    )));
                }
                answers.push(Response::RequestTrailers(TrailersResponse::default()));
                answers
            }
            Some(Sent::ResponseHeaders(_)) => {
                picks.update(self.index, |p| p.saw_response = true);
                vec![Response::ResponseHeaders(HeadersResponse::default())]
            }
            Some(Sent::ResponseBody(body)) if self.duplex => vec![Response::ResponseBody(
                streamed(body.body, body.end_of_stream),
            )],
            Some(Sent::ResponseBody(_)) => vec![Response::ResponseBody(BodyResponse::default())],
            Some(Sent::ResponseTrailers(_)) => {
                vec![Response::ResponseTrailers(TrailersResponse::default())]
            }
            None => Vec::new(),
        }
    }

    fn release_headers(&mut self) -> Vec<Response> {
        if std::mem::take(&mut self.held_headers) {
            vec![self.headers_answer()]
        } else {
            Vec::new()
        }
    }

    fn headers_answer(&self) -> Response {
        Response::RequestHeaders(HeadersResponse {
            response: Some(CommonResponse {
                header_mutation: Some(HeaderMutation {
                    set_headers: vec![HeaderValueOption {
                        header: Some(HeaderValue {
                            key: DESTINATION_HEADER.to_owned(),
                            raw_value: self.endpoint.as_bytes().to_vec(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }),
        })
    }
}

/// A body chunk sent back in full duplex mode.
fn streamed(body: Vec<u8>, end_of_stream: bool) -> BodyResponse {
    BodyResponse {
        response: Some(CommonResponse {
            body_mutation: Some(BodyMutation {
                mutation: Some(body_mutation::Mutation::StreamedResponse(
                    StreamedBodyResponse {
                        body,
                        end_of_stream,
                        ..Default::default()
                    },
                )),
            }),
            ..Default::default()
        }),
    }
}

#[tonic::async_trait]
impl ExternalProcessor for Service {
    type ProcessStream = ReceiverStream<Result<ProcessingResponse, tonic::Status>>;

    async fn process(
        &self,
        request: tonic::Request<tonic::Streaming<ProcessingRequest>>,
    ) -> Result<tonic::Response<Self::ProcessStream>, tonic::Status> {
        let inbound = request.into_inner();
        let picks = Arc::clone(&self.picks);
        let turn = self.next.fetch_add(1, Ordering::SeqCst);
        let mut stream = Stream {
            index: picks.open(),
            duplex: false,
            endpoint: self.endpoints[turn % self.endpoints.len()].clone(),
            held_headers: false,
            body: Vec::new(),
        };
        let answers = answer_stream(inbound, move |message| {
            let responses = stream.answer(&picks, message).into_iter();
            responses
                .map(|response| {
                    Ok(ProcessingResponse {
                        response: Some(response),
                        ..Default::default()
                    })
                })
                .collect()
        });
        Ok(tonic::Response::new(answers))
    }
}

/// A running stub picker.
pub struct StubEpp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it has seen.
    pub picks: Arc<Picks>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl StubEpp {
    /// Serves on `127.0.0.1:0` with a self-signed certificate for `names`, choosing among
    /// `endpoints` (`127.0.0.1:<port>`) in turn.
    pub async fn start(names: &[&str], endpoints: Vec<String>) -> Self {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let rcgen::CertifiedKey { cert, signing_key } =
            rcgen::generate_simple_self_signed(names).unwrap();
        let identity = Identity::from_pem(cert.pem(), signing_key.serialize_pem());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let picks = Arc::new(Picks::default());
        let service = ExternalProcessorServer::new(Service {
            endpoints,
            next: AtomicUsize::new(0),
            picks: Arc::clone(&picks),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .tls_config(ServerTlsConfig::new().identity(identity))
            .unwrap()
            .add_service(service)
            .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                let _ = stopped.await;
            });
        let task = tokio::spawn(async move {
            let _ = server.await;
        });
        Self {
            addr,
            picks,
            stop: Some(stop),
            task,
        }
    }

    /// Stops serving: the listener closes and open connections end. Bounded.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let task = &mut self.task;
        if tokio::time::timeout(Duration::from_secs(10), &mut *task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for StubEpp {
    fn drop(&mut self) {
        self.task.abort();
    }
}
