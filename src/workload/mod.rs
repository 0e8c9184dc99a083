//! Synthetic Envoy Gateway requests of any size, for benches, the `gen` subcommand and tests.
//!
//! Captured fleets are private and small samples do not show how the hook scales, so this
//! builds `PostTranslateModifyRequest`s shaped like EG's translator output (checked against the
//! corpus of EG's own test outputs): HTTPS listeners with SNI chains, TLS passthrough and TCP
//! proxy chains, plain HTTP listeners, route configurations whose virtual hosts and routes carry
//! `filter_metadata["envoy-gateway"]` with the Gateway and HTTPRoute (annotations forwarded the
//! way EG does), clusters with endpoints and owner metadata, SDS secrets, several namespaces,
//! and both of EG's naming schemes mixed. A [`Spec`] sets the sizes; [`Preset`] names three.
//!
//! Generation is deterministic: every choice is drawn from the spec's seed and the resource's
//! position, never from a clock, so the same spec always gives the same bytes. It builds with
//! envoy-types and encodes each resource once; the module is not on the hook's path.
//!
//! (Named `workload`, not `gen`: `gen` is a reserved keyword in Rust 2024.)

mod clusters;
mod listener;
mod metadata;
mod names;
mod routes;
mod secret;
mod spec;

use bytes::Bytes;
use envoy_types::pb::google::protobuf::Any;
use prost::{Message, Name};

use crate::contract::PostTranslateModifyRequest;

pub use routes::AI_ANNOTATION;
pub use spec::{KNOBS, Preset, Spec, SpecError};

/// Generates the request `spec` describes: listeners, then the route configurations their
/// HCMs reference (in chain order), clusters and secrets.
pub fn generate(spec: &Spec) -> PostTranslateModifyRequest {
    let mut listeners = Vec::with_capacity(spec.listeners);
    let mut routes = Vec::new();
    let mut next_route = 0;
    for index in 0..spec.listeners {
        let generated = listener::listener(spec, index);
        listeners.push(Bytes::from(generated.listener));
        for slot in &generated.slots {
            let config = routes::route_configuration(spec, slot, &mut next_route);
            routes.push(Bytes::from(config));
        }
    }
    PostTranslateModifyRequest {
        post_translate_context: None,
        clusters: (0..spec.clusters)
            .map(|i| Bytes::from(clusters::cluster(spec, i)))
            .collect(),
        secrets: (0..spec.secrets)
            .map(|i| Bytes::from(secret::secret(spec, i)))
            .collect(),
        listeners,
        routes,
    }
}

/// Generates a preset's request.
pub fn preset(preset: Preset) -> PostTranslateModifyRequest {
    generate(&preset.spec())
}

/// Packs a message into an `Any`, as EG does for every typed config.
fn any<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: message.encode_to_vec(),
    }
}
