//! A stub external processor (`envoy.service.ext_proc.v3.ExternalProcessor`) on a Unix socket,
//! for tests that run a real Envoy.
//!
//! It answers every phase Envoy can send, so any `ProcessingMode` works: in the request-headers
//! phase it adds the request header [`REQUEST_HEADER`] (the upstream sees it), in the
//! response-headers phase the response header [`RESPONSE_HEADER`] (the client sees it); bodies
//! and trailers pass unchanged. Every stream (one per filter invocation) is recorded: which
//! phases it saw, the request headers, and the `attributes` and `metadata_context` Envoy sent,
//! so a test can tell a downstream filter's stream (all phases) from an upstream one (request
//! headers only, with route attributes) and check what each was told.
//!
//! Started with a backend table ([`StubProcessor::with_backends`]) it also behaves like the AI
//! Gateway's processor on the upstream side: it reads the backend name from the host's
//! metadata, else the cluster's (the attributes the hook asks Envoy for), and ends the stream
//! with `unknown backend: <name>` (gRPC INTERNAL, so Envoy answers 500) for a name its table
//! does not hold, or tells the upstream which backend it resolved in [`BACKEND_HEADER`].

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use envoy_types::pb::envoy::config::core::v3::{HeaderValue, HeaderValueOption, Metadata};
use envoy_types::pb::envoy::service::ext_proc::v3::{
    BodyResponse, CommonResponse, HeaderMutation, HeadersResponse, HttpHeaders, ProcessingRequest,
    ProcessingResponse, TrailersResponse,
    external_processor_server::{ExternalProcessor, ExternalProcessorServer},
    processing_request::Request as Sent,
    processing_response::Response,
};
use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};

use super::journal::Journal;

/// Response header the stub adds in the response-headers phase.
pub const RESPONSE_HEADER: (&str, &str) = ("x-processed-by", "stub");
/// Request header the stub adds in the request-headers phase.
pub const REQUEST_HEADER: (&str, &str) = ("x-ext-proc-request", "stub");

/// Request header naming the backend the stub resolved on the upstream side.
pub const BACKEND_HEADER: &str = "x-ai-backend";
/// Where the AI Gateway's processor reads the backend name: the host's metadata first.
pub const HOST_BACKEND_ATTRIBUTE: &str = "xds.upstream_host_metadata.filter_metadata['aigateway.envoy.io']['per_route_rule_backend_name']";
/// … then the cluster's.
pub const CLUSTER_BACKEND_ATTRIBUTE: &str =
    "xds.cluster_metadata.filter_metadata['aigateway.envoy.io']['per_route_rule_backend_name']";

/// A processing phase, as named by `ProcessingRequest.request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `request_headers`
    RequestHeaders,
    /// `request_body`
    RequestBody,
    /// `request_trailers`
    RequestTrailers,
    /// `response_headers`
    ResponseHeaders,
    /// `response_body`
    ResponseBody,
    /// `response_trailers`
    ResponseTrailers,
}

/// What one `Process` stream carried.
#[derive(Debug, Clone, Default)]
pub struct StreamRecord {
    /// Phases in the order they arrived.
    pub phases: Vec<Phase>,
    /// Headers of the request-headers phase (`:path`, `:authority`, …), as sent.
    pub request_headers: Vec<(String, String)>,
    /// `attributes` of every message (and of the deprecated `HttpHeaders.attributes`), merged
    /// by key (`envoy.filters.http.ext_proc`).
    pub attributes: HashMap<String, Struct>,
    /// The last `metadata_context` sent, if any.
    pub metadata_context: Option<Metadata>,
}

impl StreamRecord {
    /// The first value of a request header.
    pub fn request_header(&self, name: &str) -> Option<&str> {
        self.request_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of an attribute (e.g. `xds.route_metadata…`) under any attributes key.
    pub fn attribute(&self, name: &str) -> Option<&Value> {
        self.attributes.values().find_map(|s| s.fields.get(name))
    }

    /// The string value of an attribute.
    pub fn string_attribute(&self, name: &str) -> Option<&str> {
        match self.attribute(name)?.kind.as_ref()? {
            Kind::StringValue(s) => Some(s),
            _ => None,
        }
    }

    /// The backend name as the AI Gateway's processor reads it: the host's metadata, else the
    /// cluster's. Only upstream streams carry it.
    pub fn backend_name(&self) -> Option<&str> {
        self.string_attribute(HOST_BACKEND_ATTRIBUTE)
            .or_else(|| self.string_attribute(CLUSTER_BACKEND_ATTRIBUTE))
    }

    /// Whether the stream saw `phase`.
    pub fn saw(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }
}

/// The streams seen so far, shared between the server and the test.
#[derive(Debug, Default)]
pub struct Recorder {
    streams: Journal<StreamRecord>,
    /// The AI Gateway's backend table, when the stub plays its processor.
    backends: Option<Vec<String>>,
}

impl Recorder {
    /// How many streams (filter invocations) were opened.
    pub fn calls(&self) -> usize {
        self.streams.count()
    }

    /// A copy of every stream from `from` on (a value of [`Recorder::calls`] taken earlier).
    pub fn streams_since(&self, from: usize) -> Vec<StreamRecord> {
        self.streams.since(from)
    }

    fn open(&self) -> usize {
        self.streams.open()
    }

    /// Records a message of stream `index` and returns the answer.
    fn handle(
        &self,
        index: usize,
        message: ProcessingRequest,
    ) -> Result<ProcessingResponse, Refusal> {
        self.streams
            .update(index, |record| self.record(record, message))
    }

    /// Records `message` in its stream's `record` and answers it.
    fn record(
        &self,
        record: &mut StreamRecord,
        message: ProcessingRequest,
    ) -> Result<ProcessingResponse, Refusal> {
        record.attributes.extend(message.attributes);
        if message.metadata_context.is_some() {
            record.metadata_context = message.metadata_context;
        }
        let (phase, response) = match message
            .request
            .ok_or(Refusal::Invalid("message without a phase"))?
        {
            Sent::RequestHeaders(headers) => {
                record.request_headers = header_list(&headers);
                record.attributes.extend(headers.attributes);
                let backend = match &self.backends {
                    // Only the upstream filter asks Envoy for attributes.
                    Some(table) if !record.attributes.is_empty() => {
                        let name = record.backend_name().unwrap_or_default().to_owned();
                        if !table.contains(&name) {
                            record.phases.push(Phase::RequestHeaders);
                            return Err(Refusal::UnknownBackend(name));
                        }
                        Some(name)
                    }
                    _ => None,
                };
                let mut set = vec![REQUEST_HEADER];
                if let Some(name) = &backend {
                    set.push((BACKEND_HEADER, name));
                }
                (
                    Phase::RequestHeaders,
                    Response::RequestHeaders(set_headers(&set)),
                )
            }
            Sent::ResponseHeaders(headers) => {
                record.attributes.extend(headers.attributes);
                (
                    Phase::ResponseHeaders,
                    Response::ResponseHeaders(set_headers(&[RESPONSE_HEADER])),
                )
            }
            Sent::RequestBody(_) => (
                Phase::RequestBody,
                Response::RequestBody(BodyResponse::default()),
            ),
            Sent::ResponseBody(_) => (
                Phase::ResponseBody,
                Response::ResponseBody(BodyResponse::default()),
            ),
            Sent::RequestTrailers(_) => (
                Phase::RequestTrailers,
                Response::RequestTrailers(TrailersResponse::default()),
            ),
            Sent::ResponseTrailers(_) => (
                Phase::ResponseTrailers,
                Response::ResponseTrailers(TrailersResponse::default()),
            ),
        };
        record.phases.push(phase);
        Ok(ProcessingResponse {
            response: Some(response),
            ..Default::default()
        })
    }
}

fn header_list(headers: &HttpHeaders) -> Vec<(String, String)> {
    headers
        .headers
        .iter()
        .flat_map(|map| &map.headers)
        .map(|h| {
            let value = if h.raw_value.is_empty() {
                h.value.clone()
            } else {
                String::from_utf8_lossy(&h.raw_value).into_owned()
            };
            (h.key.clone(), value)
        })
        .collect()
}

fn set_headers(headers: &[(&str, &str)]) -> HeadersResponse {
    HeadersResponse {
        response: Some(CommonResponse {
            header_mutation: Some(HeaderMutation {
                set_headers: headers
                    .iter()
                    .map(|(key, value)| HeaderValueOption {
                        header: Some(HeaderValue {
                            key: (*key).to_owned(),
                            raw_value: value.as_bytes().to_vec(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

/// Why the stub ends a stream with an error.
#[derive(Debug)]
enum Refusal {
    /// A message Envoy should never send.
    Invalid(&'static str),
    /// The AI Gateway's answer for a name not in its table (or no name at all).
    UnknownBackend(String),
}

impl From<Refusal> for tonic::Status {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Invalid(why) => tonic::Status::invalid_argument(why),
            Refusal::UnknownBackend(name) => {
                tonic::Status::internal(format!("unknown backend: {name}"))
            }
        }
    }
}

struct Service {
    recorder: Arc<Recorder>,
}

#[tonic::async_trait]
impl ExternalProcessor for Service {
    type ProcessStream = ReceiverStream<Result<ProcessingResponse, tonic::Status>>;

    async fn process(
        &self,
        request: tonic::Request<tonic::Streaming<ProcessingRequest>>,
    ) -> Result<tonic::Response<Self::ProcessStream>, tonic::Status> {
        let recorder = Arc::clone(&self.recorder);
        let index = recorder.open();
        let stream = answer_stream(request.into_inner(), move |message| {
            vec![recorder.handle(index, message).map_err(tonic::Status::from)]
        });
        Ok(tonic::Response::new(stream))
    }
}

/// The stream a stub answers with: a task of its own turns each message Envoy sends into the
/// answers `answer` gives (one for a processor, several for a picker that releases held
/// parts), and ends when Envoy closes its side, the stream breaks, or Envoy stops reading.
pub fn answer_stream<F>(
    mut inbound: tonic::Streaming<ProcessingRequest>,
    mut answer: F,
) -> ReceiverStream<Result<ProcessingResponse, tonic::Status>>
where
    F: FnMut(ProcessingRequest) -> Vec<Result<ProcessingResponse, tonic::Status>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok(Some(message)) = inbound.message().await {
            for response in answer(message) {
                if tx.send(response).await.is_err() {
                    return;
                }
            }
        }
    });
    ReceiverStream::new(rx)
}

/// A running stub processor; stops when dropped.
pub struct StubProcessor {
    /// What it has seen.
    pub recorder: Arc<Recorder>,
    _stop: oneshot::Sender<()>,
}

impl StubProcessor {
    /// Listens on the Unix socket `path` (which must not exist) and serves in the background.
    /// Must be called inside a Tokio runtime.
    pub fn start(path: &Path) -> Self {
        Self::serve(path, Recorder::default())
    }

    /// Like [`StubProcessor::start`], playing the AI Gateway's processor with the backend
    /// table `backends` (see the module docs).
    pub fn with_backends(path: &Path, backends: &[&str]) -> Self {
        let recorder = Recorder {
            backends: Some(backends.iter().map(|b| (*b).to_owned()).collect()),
            ..Recorder::default()
        };
        Self::serve(path, recorder)
    }

    fn serve(path: &Path, recorder: Recorder) -> Self {
        let listener = tokio::net::UnixListener::bind(path)
            .unwrap_or_else(|e| panic!("binding {}: {e}", path.display()));
        let recorder = Arc::new(recorder);
        let service = ExternalProcessorServer::new(Service {
            recorder: Arc::clone(&recorder),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming_shutdown(UnixListenerStream::new(listener), async {
                    let _ = stopped.await;
                }),
        );
        Self {
            recorder,
            _stop: stop,
        }
    }
}
