//! The gRPC server over loopback: the six RPCs, status codes and size limits.

use std::time::Duration;

use bytes::Bytes;
use prost::Message as _;
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::Channel;
use xds_hook::Config;
use xds_hook::contract::service::envoy_gateway_extension_client::EnvoyGatewayExtensionClient;
use xds_hook::contract::*;

use crate::support;

pub(crate) struct Running {
    pub(crate) channel: Channel,
    client: EnvoyGatewayExtensionClient<Channel>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub(crate) async fn start(config: Config) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            xds_hook::server::serve_on(listener, config, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let channel = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Ok(c) = Channel::from_shared(format!("http://{addr}"))
                    .unwrap()
                    .connect()
                    .await
                {
                    return c;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("server did not come up");
        let client = EnvoyGatewayExtensionClient::new(channel.clone())
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        Self {
            channel,
            client,
            stop: Some(stop),
            task,
        }
    }

    pub(crate) async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn post_translate_modify_matches_the_library() {
    let mut server = Running::start(Config::default()).await;
    let request = support::golden_request("mixed-namespaces-and-schemes");
    let expected = xds_hook::Hook::new(Config::default())
        .post_translate_modify(request.clone())
        .response;
    let response = server
        .client
        .post_translate_modify(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response, expected);
    server.stop().await;
}

#[tokio::test]
async fn per_resource_hooks_echo_their_resource() {
    let mut server = Running::start(Config::default()).await;
    let resource = Some(Bytes::from_static(b"\x0a\x05route"));
    let context = Some(Bytes::from_static(b"\x12\x03a.b"));
    let c = &mut server.client;
    let r = c
        .post_route_modify(PostRouteModifyRequest {
            route: resource.clone(),
            post_route_context: context.clone(),
        })
        .await
        .unwrap();
    assert_eq!(r.into_inner().route, resource);
    let r = c
        .post_virtual_host_modify(PostVirtualHostModifyRequest {
            virtual_host: resource.clone(),
            post_virtual_host_context: None,
        })
        .await
        .unwrap();
    assert_eq!(r.into_inner().virtual_host, resource);
    let r = c
        .post_http_listener_modify(PostHTTPListenerModifyRequest {
            listener: resource.clone(),
            post_listener_context: context.clone(),
        })
        .await
        .unwrap();
    assert_eq!(r.into_inner().listener, resource);
    let r = c
        .post_cluster_modify(PostClusterModifyRequest {
            cluster: resource.clone(),
            post_cluster_context: None,
        })
        .await
        .unwrap();
    assert_eq!(r.into_inner().cluster, resource);
    let r = c
        .post_endpoints_modify(PostEndpointsModifyRequest {
            load_assignment: resource.clone(),
            post_endpoints_context: None,
        })
        .await
        .unwrap();
    assert_eq!(r.into_inner().load_assignment, resource);
    server.stop().await;
}

#[tokio::test]
async fn undecodable_request_is_invalid_argument() {
    let server = Running::start(Config::default()).await;
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    grpc.ready().await.unwrap();
    // Field 2 (clusters) with wire type varint: not a valid PostTranslateModifyRequest.
    let status = grpc
        .unary::<RawBytes, PostTranslateModifyResponse, _>(
            tonic::Request::new(RawBytes(vec![0x10, 0x01])),
            "/envoygateway.extension.EnvoyGatewayExtension/PostTranslateModify"
                .parse()
                .unwrap(),
            ContractCodec::<RawBytes, PostTranslateModifyResponse>::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().contains("PostTranslateModifyRequest"),
        "{}",
        status.message()
    );
    server.stop().await;
}

/// Pre-encoded bytes sent as a message.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RawBytes(pub(crate) Vec<u8>);

impl prost::Message for RawBytes {
    fn encode_raw(&self, buf: &mut impl bytes::BufMut) {
        buf.put_slice(&self.0);
    }
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: prost::encoding::WireType,
        buf: &mut impl bytes::Buf,
        ctx: prost::encoding::DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        prost::encoding::skip_field(wire_type, tag, buf, ctx)
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

#[tokio::test]
async fn oversized_request_is_refused_naming_the_limit() {
    let mut config = Config::default();
    config.server.max_message_bytes = 64 << 10;
    let mut server = Running::start(config).await;
    let request = PostTranslateModifyRequest {
        clusters: vec![Bytes::from(vec![0x0a, 0x00]); 60_000],
        ..Default::default()
    };
    let status = server
        .client
        .post_translate_modify(request)
        .await
        .unwrap_err();
    // tonic refuses before buffering the body (OUT_OF_RANGE); the call layer says
    // RESOURCE_EXHAUSTED, as gRPC's own servers do, and names the key.
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains("server.maxMessageBytes (65536 bytes)"),
        "{}",
        status.message()
    );
    server.stop().await;
}

#[tokio::test]
async fn large_fleet_request_passes_the_default_limit() {
    // 8 MiB: twice tonic's 4 MiB default, which would reject it.
    let mut server = Running::start(Config::default()).await;
    let cluster = Bytes::from({
        let mut c = Vec::new();
        xds_hook::wire::put_len(&mut c, 1, b"c");
        xds_hook::wire::put_len(&mut c, 9002, &vec![b'x'; 1000]);
        c
    });
    let request = PostTranslateModifyRequest {
        clusters: vec![cluster; 8 * 1024],
        ..Default::default()
    };
    let response = server
        .client
        .post_translate_modify(request.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        response.clusters.len(),
        request.clusters.len() + 1,
        "clusters-only request gets the processor cluster"
    );
    assert_eq!(
        response.clusters[..request.clusters.len()],
        request.clusters[..]
    );
    server.stop().await;
}

/// One reflection request on its own stream.
async fn reflect(
    channel: &Channel,
    request: tonic_reflection::pb::v1::server_reflection_request::MessageRequest,
) -> tonic_reflection::pb::v1::server_reflection_response::MessageResponse {
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    };
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    ServerReflectionClient::new(channel.clone())
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap()
        .message_response
        .unwrap()
}

#[tokio::test]
async fn reflection_lists_the_extension_and_resolves_its_files() {
    use tonic_reflection::pb::v1::{
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let server = Running::start(Config::default()).await;
    let MessageResponse::ListServicesResponse(list) =
        reflect(&server.channel, MessageRequest::ListServices(String::new())).await
    else {
        panic!("expected a service list");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(
        names.contains(&"envoygateway.extension.EnvoyGatewayExtension")
            && names.contains(&"grpc.health.v1.Health"),
        "{names:?}"
    );
    // grpcurl fetches the service's file, then every file it imports, transitively, by name:
    // all of them must be in the descriptor set.
    let mut pending = vec![MessageRequest::FileContainingSymbol(
        "envoygateway.extension.EnvoyGatewayExtension".to_owned(),
    )];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(request) = pending.pop() {
        let answer = reflect(&server.channel, request.clone()).await;
        let MessageResponse::FileDescriptorResponse(files) = answer else {
            panic!("{request:?} gave {answer:?}");
        };
        for bytes in &files.file_descriptor_proto {
            let file = prost_types::FileDescriptorProto::decode(bytes.as_slice()).unwrap();
            if seen.insert(file.name().to_owned()) {
                pending.extend(
                    file.dependency
                        .iter()
                        .filter(|d| !seen.contains(*d))
                        .map(|d| MessageRequest::FileByFilename(d.clone())),
                );
            }
        }
    }
    assert!(seen.contains("proto/extension/service.proto"), "{seen:?}");
    assert!(
        seen.iter()
            .any(|f| f.starts_with("envoy/config/listener/v3/")),
        "the Envoy types the contract names are served: {seen:?}"
    );
    server.stop().await;
}

/// A `PostRouteExtensionContext` (or cluster context: same field) holding `objects`.
fn context_with(objects: &[serde_json::Value]) -> Bytes {
    let context = PostRouteExtensionContext {
        extension_resources: objects
            .iter()
            .map(|o| ExtensionResource {
                unstructured_bytes: serde_json::to_vec(o).unwrap().into(),
            })
            .collect(),
        ..Default::default()
    };
    context.encode_to_vec().into()
}

fn pool_object(port: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "inference.networking.k8s.io/v1", "kind": "InferencePool",
        "metadata": {"name": "vllm", "namespace": "team-a"},
        "spec": {"endpointPickerRef": {"name": "vllm-epp", "port": {"number": port}}}
    })
}

#[tokio::test]
async fn inference_pool_hooks_edit_pool_resources_and_refuse_malformed_pools() {
    let mut server = Running::start(Config::default()).await;
    let route = serde_json::json!({"name": "r", "match": {"prefix": "/"},
        "route": {"cluster": "httproute/team-a/llm/rule/0"}});
    let route: Bytes =
        xds_hook::format::text_to_binary(&route, "envoy.config.route.v3.Route", "route")
            .unwrap()
            .into();
    let cluster = serde_json::json!({"name": "httproute/team-a/llm/rule/0", "type": "EDS",
        "edsClusterConfig": {"edsConfig": {"ads": {}}}});
    let cluster: Bytes =
        xds_hook::format::text_to_binary(&cluster, "envoy.config.cluster.v3.Cluster", "cluster")
            .unwrap()
            .into();
    let c = &mut server.client;

    // A route and a cluster to a pool are changed; with another kind only, echoed.
    let pool = context_with(&[pool_object(9002.into())]);
    let answer = c
        .post_route_modify(PostRouteModifyRequest {
            route: Some(route.clone()),
            post_route_context: Some(pool.clone()),
        })
        .await
        .unwrap()
        .into_inner();
    let changed = answer.route.unwrap();
    assert_ne!(changed, route);
    assert!(support::has_bytes(&changed, b"xds-hook.inference"));
    let answer = c
        .post_cluster_modify(PostClusterModifyRequest {
            cluster: Some(cluster.clone()),
            post_cluster_context: Some(pool),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(support::has_bytes(
        &answer.cluster.unwrap(),
        b"x-gateway-destination-endpoint"
    ));
    let other =
        context_with(&[serde_json::json!({"apiVersion": "example.io/v1", "kind": "Filter"})]);
    let answer = c
        .post_cluster_modify(PostClusterModifyRequest {
            cluster: Some(cluster.clone()),
            post_cluster_context: Some(other),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.cluster, Some(cluster.clone()), "byte-identical");

    // A malformed pool is INVALID_ARGUMENT naming the pool and the field.
    let status = c
        .post_route_modify(PostRouteModifyRequest {
            route: Some(route),
            post_route_context: Some(context_with(&[pool_object("9002".into())])),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("InferencePool team-a/vllm: spec.endpointPickerRef.port.number: "),
        "{}",
        status.message()
    );
    server.stop().await;
}
