//! Building hostile inputs: a small EG-shaped request, and wire-level surgery on it.

use prost::Message;
use prost::encoding::WireType;
use xds_hook::contract::PostTranslateModifyRequest;
use xds_hook::format::{self, Format};
use xds_hook::wire::put_len;

use crate::support::{at, inject};

/// One gateway `gw` with an HTTP listener whose HCM uses RDS `gw/http`; its virtual host has
/// an annotated route `ai` and a plain route `web`; two clusters and a secret.
pub const BASE: &str = r#"
listeners:
- name: gw/http
  address: {socketAddress: {address: 0.0.0.0, portValue: 10080}}
  filterChains:
  - name: gw/http
    filters:
    - name: envoy.filters.network.http_connection_manager
      typedConfig:
        '@type': type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        statPrefix: http-10080
        rds: {configSource: {ads: {}, resourceApiVersion: V3}, routeConfigName: gw/http}
        httpFilters:
        - name: envoy.filters.http.router
          typedConfig: {'@type': type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
routes:
- name: gw/http
  virtualHosts:
  - name: gw/http/example_com
    domains: [example.com]
    metadata: {filterMetadata: {envoy-gateway: {resources: [{kind: Gateway, name: gw, namespace: default, sectionName: http}]}}}
    routes:
    - name: ai
      match: {prefix: /v1}
      metadata: {filterMetadata: {envoy-gateway: {resources: [{kind: HTTPRoute, name: ai, namespace: default, annotations: {ai-gateway-generated: "true"}}]}}}
      route: {cluster: ai}
    - name: web
      match: {prefix: /}
      metadata: {filterMetadata: {envoy-gateway: {resources: [{kind: HTTPRoute, name: web, namespace: default}]}}}
      route: {cluster: web}
clusters:
- {name: ai, type: STATIC, connectTimeout: 1s}
- {name: web, type: STATIC, connectTimeout: 1s}
secrets:
- name: cert
  tlsCertificate: {certificateChain: {inlineString: not-a-real-cert}}
"#;

/// Paths into [`BASE`]'s resources: (field number, occurrence) steps.
pub const HCM: &[(u32, usize)] = &[(3, 0), (3, 0), (4, 0), (2, 0)];
pub const HCM_ANY: &[(u32, usize)] = &[(3, 0), (3, 0), (4, 0)];
pub const VHOST: &[(u32, usize)] = &[(2, 0)];
pub const AI_ROUTE: &[(u32, usize)] = &[(2, 0), (3, 0)];
pub const AI_METADATA: &[(u32, usize)] = &[(2, 0), (3, 0), (4, 0)];

pub fn yaml(text: &str) -> PostTranslateModifyRequest {
    format::decode_request(text.as_bytes(), Format::Yaml).unwrap()
}

pub fn base() -> PostTranslateModifyRequest {
    yaml(BASE)
}

/// [`BASE`] with one piece of its YAML text replaced.
pub fn base_with(from: &str, to: &str) -> PostTranslateModifyRequest {
    assert!(BASE.contains(from), "{from:?} not in BASE");
    yaml(&BASE.replace(from, to))
}

pub fn encode(request: PostTranslateModifyRequest) -> Vec<u8> {
    request.encode_to_vec()
}

pub fn record(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_len(&mut out, number, payload);
    out
}

/// `message` with its length-delimited record at `path` replaced by the raw `replacement`
/// record (which may have another wire type).
pub fn replace_record(message: &[u8], path: &[(u32, usize)], replacement: &[u8]) -> Vec<u8> {
    let (&(number, occurrence), parent) = path.split_last().unwrap();
    let parent_bytes = at(message, parent);
    let mut rebuilt = Vec::new();
    let mut seen = 0;
    for field in xds_hook::wire::fields(parent_bytes) {
        let field = field.unwrap();
        if field.number == number && field.wire_type == WireType::LengthDelimited {
            seen += 1;
            if seen == occurrence + 1 {
                rebuilt.extend_from_slice(replacement);
                continue;
            }
        }
        rebuilt.extend_from_slice(field.record);
    }
    set_at(message, parent, &rebuilt)
}

/// `message` with the payload of the message at `path` replaced by `payload`.
pub fn set_at(message: &[u8], path: &[(u32, usize)], payload: &[u8]) -> Vec<u8> {
    match path.split_first() {
        None => payload.to_vec(),
        Some((&(number, occurrence), rest)) => xds_hook::wire::rewrite_len_fields::<
            xds_hook::wire::WireError,
        >(message, |n, i, inner| {
            Ok((n == number && i == occurrence).then(|| set_at(inner, rest, payload)))
        })
        .unwrap()
        .unwrap(),
    }
}

/// A `google.protobuf.Struct` nested `depth` levels deep (`{k: {k: {...}}}`), built on the wire
/// from the inside out so that building it needs no recursion.
pub fn nested_struct(depth: usize) -> Vec<u8> {
    let mut inner = Vec::new();
    for _ in 0..depth {
        let value = record(5, &inner); // Value.struct_value
        let mut entry = record(1, b"k");
        entry.extend(record(2, &value));
        inner = record(1, &entry); // Struct.fields entry
    }
    inner
}

/// [`BASE`] with a `filter_metadata["example.com/deep"]` Struct of `depth` levels on route `ai`.
pub fn deep_metadata(depth: usize) -> Vec<u8> {
    let mut request = base();
    let mut entry = record(1, b"example.com/deep");
    entry.extend(record(2, &nested_struct(depth)));
    request.routes[0] = inject(&request.routes[0], AI_METADATA, &record(1, &entry)).into();
    encode(request)
}

/// [`BASE`]'s route `ai`, `copies` times in its virtual host (and `web` after them).
pub fn many_routes(copies: usize) -> Vec<u8> {
    let mut request = base();
    let ai = record(3, at(&request.routes[0], AI_ROUTE));
    let vhost = at(&request.routes[0], VHOST);
    let mut grown = Vec::with_capacity(vhost.len() + ai.len() * copies);
    for field in xds_hook::wire::fields(vhost) {
        let field = field.unwrap();
        if field.record == ai.as_slice() {
            for _ in 0..copies {
                grown.extend_from_slice(&ai);
            }
        } else {
            grown.extend_from_slice(field.record);
        }
    }
    request.routes[0] = set_at(&request.routes[0], VHOST, &grown).into();
    encode(request)
}

pub fn with_listener_name(name: &[u8]) -> Vec<u8> {
    let mut request = base();
    request.listeners[0] =
        replace_record(&request.listeners[0], &[(1, 0)], &record(1, name)).into();
    encode(request)
}
