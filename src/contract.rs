//! The Envoy Gateway extension contract, as it travels on the wire.
//!
//! The messages mirror `proto/extension/*.proto` field for field, except that every Envoy
//! resource is kept as its encoded bytes. An embedded message and a `bytes` field share wire
//! type 2, so these structs are wire-identical to EG's, and a resource we never look at costs
//! one slice of the request buffer (decoding from `Bytes` is zero-copy) and comes back exactly
//! as it came, including fields newer than our compiled Envoy API. `tests/contract.rs` checks
//! these numbers against the descriptors compiled from `proto/`.
//!
//! The extension contexts travel opaque too, and are read only when a request carries one:
//! the Route and Cluster hooks read their Kubernetes objects (InferencePools, `crate::inference`)
//! and the policies EG hands over (`crate::policy`) through the context messages below.

use std::marker::PhantomData;

use bytes::Bytes;
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
};

/// The request of `PostTranslateModify`: every resource EG produced for the whole fleet.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostTranslateModifyRequest {
    /// `PostTranslateExtensionContext`, opaque.
    #[prost(bytes = "bytes", optional, tag = "1")]
    pub post_translate_context: Option<Bytes>,
    /// `envoy.config.cluster.v3.Cluster`, encoded.
    #[prost(bytes = "bytes", repeated, tag = "2")]
    pub clusters: Vec<Bytes>,
    /// `envoy.extensions.transport_sockets.tls.v3.Secret`, encoded.
    #[prost(bytes = "bytes", repeated, tag = "3")]
    pub secrets: Vec<Bytes>,
    /// `envoy.config.listener.v3.Listener`, encoded.
    #[prost(bytes = "bytes", repeated, tag = "4")]
    pub listeners: Vec<Bytes>,
    /// `envoy.config.route.v3.RouteConfiguration`, encoded.
    #[prost(bytes = "bytes", repeated, tag = "5")]
    pub routes: Vec<Bytes>,
}

/// The response of `PostTranslateModify`: EG uses these lists as the final configuration.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostTranslateModifyResponse {
    /// `envoy.config.cluster.v3.Cluster`, encoded.
    #[prost(bytes = "bytes", repeated, tag = "1")]
    pub clusters: Vec<Bytes>,
    /// `envoy.extensions.transport_sockets.tls.v3.Secret`, encoded.
    #[prost(bytes = "bytes", repeated, tag = "2")]
    pub secrets: Vec<Bytes>,
    /// `envoy.config.listener.v3.Listener`, encoded.
    #[prost(bytes = "bytes", repeated, tag = "3")]
    pub listeners: Vec<Bytes>,
    /// `envoy.config.route.v3.RouteConfiguration`, encoded.
    #[prost(bytes = "bytes", repeated, tag = "4")]
    pub routes: Vec<Bytes>,
}

/// `PostTranslateExtensionContext`: the policies EG attached to this call's Gateway (with
/// `extensionManager.policyResources`). Decoded only by [`crate::policy`], and only when the
/// request carries a context.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostTranslateExtensionContext {
    /// Each policy object, as EG serialised it.
    #[prost(message, repeated, tag = "1")]
    pub extension_resources: Vec<ExtensionResource>,
}

/// `PostRouteExtensionContext`: what EG sends with one route to `PostRouteModify`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostRouteExtensionContext {
    /// The objects of the route's `extensionRefs` (filter objects and custom backends such as
    /// InferencePools alike).
    #[prost(message, repeated, tag = "1")]
    pub extension_resources: Vec<ExtensionResource>,
    /// The route's hostnames; not read.
    #[prost(string, repeated, tag = "2")]
    pub hostnames: Vec<String>,
    /// Policies targeting the route's HTTPRoute or GRPCRoute (or one of its rules); EG v1.9+.
    #[prost(message, repeated, tag = "3")]
    pub extension_policies: Vec<ExtensionResource>,
}

/// `ExtensionResource`: one Kubernetes object, as EG's `unstructured.Unstructured` marshals
/// it: JSON (`apiVersion`, `kind`, `metadata`, `spec`, `status`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExtensionResource {
    /// The object's JSON.
    #[prost(bytes = "bytes", tag = "1")]
    pub unstructured_bytes: Bytes,
}

/// Declares a per-resource hook's request and response, which xds-hook answers by echoing
/// the resource: EG treats a returned resource as final, so it must never be empty or default.
macro_rules! echo_messages {
    ($(#[$doc:meta])* $request:ident, $response:ident, $resource:ident, $context:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct $request {
            /// The resource, encoded.
            #[prost(bytes = "bytes", optional, tag = "1")]
            pub $resource: Option<Bytes>,
            /// The hook's extension context, opaque.
            #[prost(bytes = "bytes", optional, tag = "2")]
            pub $context: Option<Bytes>,
        }

        #[doc = concat!("Answer to [`", stringify!($request), "`].")]
        #[derive(Clone, PartialEq, prost::Message)]
        pub struct $response {
            /// The resource, encoded; absent means "not modified" to EG.
            #[prost(bytes = "bytes", optional, tag = "1")]
            pub $resource: Option<Bytes>,
        }

        impl From<$request> for $response {
            fn from(request: $request) -> Self {
                Self { $resource: request.$resource }
            }
        }
    };
}

echo_messages!(
    /// `PostRouteModify`: one `envoy.config.route.v3.Route`.
    PostRouteModifyRequest, PostRouteModifyResponse, route, post_route_context
);
echo_messages!(
    /// `PostVirtualHostModify`: one `envoy.config.route.v3.VirtualHost`.
    PostVirtualHostModifyRequest, PostVirtualHostModifyResponse, virtual_host, post_virtual_host_context
);
echo_messages!(
    /// `PostHTTPListenerModify`: one `envoy.config.listener.v3.Listener`.
    PostHTTPListenerModifyRequest, PostHTTPListenerModifyResponse, listener, post_listener_context
);
echo_messages!(
    /// `PostClusterModify`: one `envoy.config.cluster.v3.Cluster`.
    PostClusterModifyRequest, PostClusterModifyResponse, cluster, post_cluster_context
);
echo_messages!(
    /// `PostEndpointsModify`: one `envoy.config.endpoint.v3.ClusterLoadAssignment`.
    PostEndpointsModifyRequest, PostEndpointsModifyResponse, load_assignment, post_endpoints_context
);

/// `PostClusterExtensionContext`: the objects of the route the cluster was built for.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PostClusterExtensionContext {
    /// Every object that route refers to; EG sends them all, not only the backends.
    #[prost(message, repeated, tag = "1")]
    pub backend_extension_resources: Vec<ExtensionResource>,
}

/// tonic codec for the contract: prost on the wire, but a request that cannot be decoded is
/// the client's fault and answers `INVALID_ARGUMENT` (tonic's stock codec says `INTERNAL`).
#[derive(Debug)]
pub struct ContractCodec<E, D>(PhantomData<fn(E) -> D>);

impl<E, D> Default for ContractCodec<E, D> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<E, D> Codec for ContractCodec<E, D>
where
    E: prost::Message + Send + 'static,
    D: prost::Message + Default + Send + 'static,
{
    type Encode = E;
    type Decode = D;
    type Encoder = ContractEncoder<E>;
    type Decoder = ContractDecoder<D>;

    fn encoder(&mut self) -> Self::Encoder {
        ContractEncoder(PhantomData)
    }

    fn decoder(&mut self) -> Self::Decoder {
        ContractDecoder(PhantomData)
    }
}

/// Encoder half of [`ContractCodec`].
#[derive(Debug)]
pub struct ContractEncoder<E>(PhantomData<fn(E)>);

impl<E: prost::Message> Encoder for ContractEncoder<E> {
    type Item = E;
    type Error = Status;

    fn encode(&mut self, item: E, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding response: {e}")))
    }
}

/// Decoder half of [`ContractCodec`].
#[derive(Debug)]
pub struct ContractDecoder<D>(PhantomData<fn() -> D>);

impl<D: prost::Message + Default> Decoder for ContractDecoder<D> {
    type Item = D;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<D>, Status> {
        D::decode(src).map(Some).map_err(|e| {
            Status::invalid_argument(format!(
                "request is not a valid {}: {e}",
                short_type_name::<D>()
            ))
        })
    }
}

fn short_type_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// The generated tonic server and client for `envoygateway.extension.EnvoyGatewayExtension`.
#[allow(missing_docs, clippy::all)]
pub mod service {
    include!(concat!(
        env!("OUT_DIR"),
        "/envoygateway.extension.EnvoyGatewayExtension.rs"
    ));
}

/// Descriptors of every Envoy API type plus our contract: the JSON layer and reflection use it.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));
