//! Hostile and broken inputs, by name, each with the outcome it must have.
//!
//! EG's translator is built against a newer Envoy API than ours and we do not control it, so
//! every input below is one it could plausibly send, or that a bug upstream could. Each case
//! has a defined outcome: the gRPC codec refuses the request (`INVALID_ARGUMENT`), or the hook
//! runs and its report shows exactly what was patched, what was skipped and why. Whatever
//! happens, nothing is lost and nothing panics. (`bad_input` covers truncation of every
//! resource, malformed HCM bytes and split records; this table covers the rest.)

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;
use prost::encoding::{WireType, encode_key};
use tonic::Code;
use xds_hook::contract::{ContractCodec, PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::format::{self, Format};
use xds_hook::report::Change;
use xds_hook::select::ChainDecision;
use xds_hook::wire::{put_len, put_varint};
use xds_hook::{Config, Hook, Outcome};

use crate::server::{RawBytes, Running};
use crate::support::{self, at, inject};

/// One gateway `gw` with an HTTP listener whose HCM uses RDS `gw/http`; its virtual host has
/// an annotated route `ai` and a plain route `web`; two clusters and a secret.
const BASE: &str = r#"
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
const HCM: &[(u32, usize)] = &[(3, 0), (3, 0), (4, 0), (2, 0)];
const HCM_ANY: &[(u32, usize)] = &[(3, 0), (3, 0), (4, 0)];
const VHOST: &[(u32, usize)] = &[(2, 0)];
const AI_ROUTE: &[(u32, usize)] = &[(2, 0), (3, 0)];
const AI_METADATA: &[(u32, usize)] = &[(2, 0), (3, 0), (4, 0)];

fn yaml(text: &str) -> PostTranslateModifyRequest {
    format::decode_request(text.as_bytes(), Format::Yaml).unwrap()
}

fn base() -> PostTranslateModifyRequest {
    yaml(BASE)
}

/// [`BASE`] with one piece of its YAML text replaced.
fn base_with(from: &str, to: &str) -> PostTranslateModifyRequest {
    assert!(BASE.contains(from), "{from:?} not in BASE");
    yaml(&BASE.replace(from, to))
}

fn encode(request: PostTranslateModifyRequest) -> Vec<u8> {
    request.encode_to_vec()
}

fn record(number: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_len(&mut out, number, payload);
    out
}

/// `message` with its length-delimited record at `path` replaced by the raw `replacement`
/// record (which may have another wire type).
fn replace_record(message: &[u8], path: &[(u32, usize)], replacement: &[u8]) -> Vec<u8> {
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
fn set_at(message: &[u8], path: &[(u32, usize)], payload: &[u8]) -> Vec<u8> {
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
fn nested_struct(depth: usize) -> Vec<u8> {
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
fn deep_metadata(depth: usize) -> Vec<u8> {
    let mut request = base();
    let mut entry = record(1, b"example.com/deep");
    entry.extend(record(2, &nested_struct(depth)));
    request.routes[0] = inject(&request.routes[0], AI_METADATA, &record(1, &entry)).into();
    encode(request)
}

/// [`BASE`]'s route `ai`, `copies` times in its virtual host (and `web` after them).
fn many_routes(copies: usize) -> Vec<u8> {
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

fn with_listener_name(name: &[u8]) -> Vec<u8> {
    let mut request = base();
    request.listeners[0] =
        replace_record(&request.listeners[0], &[(1, 0)], &record(1, name)).into();
    encode(request)
}

/// What a case must produce.
#[derive(Debug)]
enum Expect {
    /// The request does not decode: the gRPC codec answers INVALID_ARGUMENT and the hook never
    /// runs.
    InvalidArgument,
    /// The hook runs: these counts from its summary, and these phrases in its explanation.
    Ran {
        chains_patched: usize,
        routes_selected: usize,
        malformed: usize,
        reasons: &'static [&'static str],
    },
}

struct Case {
    name: &'static str,
    /// The gRPC request message, encoded.
    input: fn() -> Vec<u8>,
    expect: Expect,
}

const fn ran(
    chains_patched: usize,
    routes_selected: usize,
    malformed: usize,
    reasons: &'static [&'static str],
) -> Expect {
    Expect::Ran {
        chains_patched,
        routes_selected,
        malformed,
        reasons,
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "empty request",
            input: Vec::new,
            // No listeners and no routes reads as EG's clusters-only request.
            expect: ran(0, 0, 0, &["processor cluster added"]),
        },
        Case {
            name: "truncated request",
            input: || {
                let bytes = encode(base());
                bytes[..bytes.len() / 2].to_vec()
            },
            expect: Expect::InvalidArgument,
        },
        Case {
            name: "request field of the wrong wire type (listeners as a varint)",
            input: || {
                let mut bytes = encode(base());
                put_varint(&mut bytes, 4, 1);
                bytes
            },
            expect: Expect::InvalidArgument,
        },
        Case {
            name: "request with a field number 0",
            input: || vec![0x02, 0x00],
            expect: Expect::InvalidArgument,
        },
        Case {
            name: "zero-length listener, route config and cluster",
            input: || {
                let mut request = base();
                request.listeners.push(Bytes::new());
                request.routes.push(Bytes::new());
                request.clusters.push(Bytes::new());
                encode(request)
            },
            expect: ran(1, 1, 0, &["no filter chains"]),
        },
        Case {
            name: "listener filter_chains of the wrong wire type (varint)",
            input: || {
                let mut request = base();
                let mut bad = Vec::new();
                put_varint(&mut bad, 3, 7);
                request.listeners[0] =
                    replace_record(&request.listeners[0], &[(3, 0)], &bad).into();
                encode(request)
            },
            expect: ran(
                0,
                1,
                1,
                &["malformed listener, left as is", "invalid wire type"],
            ),
        },
        Case {
            name: "HCM http_filters of the wrong wire type (fixed32)",
            input: || {
                let mut request = base();
                let mut bad = Vec::new();
                encode_key(5, WireType::ThirtyTwoBit, &mut bad);
                bad.extend_from_slice(&[1, 2, 3, 4]);
                let hcm_path = [HCM, &[(5, 0)]].concat();
                request.listeners[0] =
                    replace_record(&request.listeners[0], &hcm_path, &bad).into();
                encode(request)
            },
            expect: ran(
                0,
                1,
                0,
                &["malformed HCM typed_config", "invalid wire type"],
            ),
        },
        Case {
            name: "route metadata of the wrong wire type (varint)",
            input: || {
                let mut request = base();
                let mut bad = Vec::new();
                put_varint(&mut bad, 4, 1);
                request.routes[0] = replace_record(&request.routes[0], AI_METADATA, &bad).into();
                encode(request)
            },
            expect: ran(
                0,
                0,
                1,
                &["malformed route config, left as is", "is malformed"],
            ),
        },
        Case {
            name: "length prefix past the end of a route config",
            input: || {
                let mut request = base();
                let mut routes = request.routes[0].to_vec();
                routes.extend_from_slice(&[0x12, 0xff, 0xff, 0x03]);
                request.routes[0] = routes.into();
                encode(request)
            },
            expect: ran(0, 0, 1, &["malformed route config, left as is"]),
        },
        Case {
            name: "unterminated group in a listener",
            input: || {
                let mut request = base();
                let mut listener = request.listeners[0].to_vec();
                encode_key(9005, WireType::StartGroup, &mut listener);
                request.listeners[0] = listener.into();
                encode(request)
            },
            expect: ran(0, 1, 1, &["malformed listener, left as is"]),
        },
        Case {
            name: "HCM Any with a wrong type_url (RouteConfiguration)",
            input: || {
                let mut request = base();
                let url = record(
                    1,
                    b"type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
                );
                let any_url = [HCM_ANY, &[(1, 0)]].concat();
                request.listeners[0] = replace_record(&request.listeners[0], &any_url, &url).into();
                encode(request)
            },
            expect: ran(
                0,
                1,
                0,
                &["HCM typed_config is of type envoy.config.route.v3.RouteConfiguration"],
            ),
        },
        Case {
            name: "HCM Any without a value",
            input: || {
                let mut request = base();
                let any_value = [HCM_ANY, &[(2, 0)]].concat();
                request.listeners[0] =
                    replace_record(&request.listeners[0], &any_value, &[]).into();
                encode(request)
            },
            expect: ran(0, 1, 0, &["HCM has no route specifier"]),
        },
        Case {
            name: "filter chain with two HCMs",
            input: || {
                let mut request = base();
                let filter = record(3, at(&request.listeners[0], &[(3, 0), (3, 0)]));
                request.listeners[0] = inject(&request.listeners[0], &[(3, 0)], &filter).into();
                encode(request)
            },
            // Envoy refuses a terminal filter that is not last; the hook patches the first
            // HCM, the one the index reads, and leaves the second as it came.
            expect: ran(1, 1, 0, &["processor at http_filters[0]"]),
        },
        Case {
            name: "RDS names a route config that is not in the request",
            input: || {
                encode(base_with(
                    "routeConfigName: gw/http",
                    "routeConfigName: gw/elsewhere",
                ))
            },
            expect: ran(
                0,
                1,
                0,
                &["route config \"gw/elsewhere\" is not in the request"],
            ),
        },
        Case {
            name: "nested Struct metadata within prost's recursion limit (20 levels)",
            input: || deep_metadata(20),
            expect: ran(1, 1, 0, &[]),
        },
        Case {
            name: "deeply nested Struct metadata (5,000 levels)",
            input: || deep_metadata(5_000),
            // prost stops at its recursion limit (100) with an error, not a stack overflow; so
            // would Envoy's protobuf parser.
            expect: ran(0, 0, 1, &["recursion limit reached", "is malformed"]),
        },
        Case {
            name: "100,000 routes in one virtual host",
            input: || many_routes(100_000),
            expect: ran(1, 100_000, 0, &[]),
        },
        Case {
            name: "duplicate listener names",
            input: || {
                let mut request = base();
                request.listeners.push(request.listeners[0].clone());
                encode(request)
            },
            expect: ran(2, 1, 0, &[]),
        },
        Case {
            name: "duplicate route config names (one with a selected route, one without)",
            input: || {
                let mut request = base();
                let unannotated =
                    base_with("ai-gateway-generated: \"true\"", "unrelated: \"true\"");
                request.routes.insert(0, unannotated.routes[0].clone());
                encode(request)
            },
            expect: ran(1, 1, 0, &["HTTPRoute is not annotated"]),
        },
        Case {
            name: "empty names everywhere, joined by an empty RDS name",
            input: || {
                let mut text = BASE.to_owned();
                for (from, to) in [
                    ("- name: gw/http\n  address", "- name: \"\"\n  address"),
                    (
                        "  - name: gw/http\n    filters",
                        "  - name: \"\"\n    filters",
                    ),
                    ("routeConfigName: gw/http", "routeConfigName: \"\""),
                    (
                        "- name: gw/http\n  virtualHosts",
                        "- name: \"\"\n  virtualHosts",
                    ),
                    ("name: gw/http/example_com", "name: \"\""),
                    ("- name: ai\n", "- name: \"\"\n"),
                ] {
                    assert!(text.contains(from), "{from:?}");
                    text = text.replace(from, to);
                }
                encode(yaml(&text))
            },
            expect: ran(1, 1, 0, &["route config \"\" has selected routes"]),
        },
        Case {
            name: "non-UTF-8 bytes in a listener name",
            input: || with_listener_name(b"gw/\xff\xfe"),
            // Proto3 strings must be UTF-8 (Go's marshaller and Envoy's parser both refuse
            // them): the listener is unreadable and goes back as it came.
            expect: ran(0, 1, 1, &["malformed listener, left as is", "UTF-8"]),
        },
        Case {
            name: "non-UTF-8 bytes in a route name",
            input: || {
                let mut request = base();
                let name = [AI_ROUTE, &[(14, 0)]].concat();
                request.routes[0] =
                    replace_record(&request.routes[0], &name, &record(14, b"ai\xc3\x28")).into();
                encode(request)
            },
            expect: ran(0, 0, 1, &["malformed route config, left as is", "UTF-8"]),
        },
        Case {
            name: "non-UTF-8 bytes in a string the hook does not read (HCM stat_prefix)",
            input: || {
                let mut request = base();
                let stat_prefix = [HCM, &[(2, 0)]].concat();
                request.listeners[0] =
                    replace_record(&request.listeners[0], &stat_prefix, &record(2, b"\xff")).into();
                encode(request)
            },
            expect: ran(1, 1, 0, &[]),
        },
        Case {
            name: "a route config referenced by 1,000 listeners",
            input: || {
                let mut request = base();
                let listener = request.listeners[0].clone();
                request.listeners = vec![listener; 1_000];
                encode(request)
            },
            expect: ran(1_000, 1, 0, &[]),
        },
        Case {
            name: "annotation of JSON type number",
            input: || {
                encode(base_with(
                    "ai-gateway-generated: \"true\"",
                    "ai-gateway-generated: 42",
                ))
            },
            expect: ran(0, 0, 0, &["HTTPRoute annotation is a number"]),
        },
        Case {
            name: "annotation of JSON type list",
            input: || {
                encode(base_with(
                    "ai-gateway-generated: \"true\"",
                    "ai-gateway-generated: [\"true\"]",
                ))
            },
            expect: ran(0, 0, 0, &["HTTPRoute annotation is a list"]),
        },
        Case {
            name: "annotation of JSON type struct",
            input: || {
                encode(base_with(
                    "ai-gateway-generated: \"true\"",
                    "ai-gateway-generated: {enabled: \"true\"}",
                ))
            },
            expect: ran(0, 0, 0, &["HTTPRoute annotation is a struct"]),
        },
        Case {
            name: "annotation on the virtual host but not on the route",
            input: || {
                let text = BASE
                    .replace(", annotations: {ai-gateway-generated: \"true\"}", "")
                    .replace(
                        "sectionName: http}",
                        "sectionName: http, annotations: {ai-gateway-generated: \"true\"}}",
                    );
                encode(yaml(&text))
            },
            expect: ran(0, 0, 0, &["HTTPRoute is not annotated"]),
        },
        Case {
            name: "envoy-gateway metadata resources of the wrong type",
            input: || {
                encode(base_with(
                    "resources: [{kind: HTTPRoute, name: ai, namespace: default, annotations: {ai-gateway-generated: \"true\"}}]",
                    "resources: \"HTTPRoute/default/ai\"",
                ))
            },
            expect: ran(
                0,
                0,
                0,
                &["route metadata: resources is a string, not a list"],
            ),
        },
        Case {
            name: "a cluster in the listener list",
            input: || {
                let mut request = base();
                request.listeners.insert(0, request.clusters[0].clone());
                encode(request)
            },
            // Its name reads as a listener name; it has no filter chains.
            expect: ran(1, 1, 0, &["no filter chains"]),
        },
        Case {
            name: "a listener in the route config list",
            input: || {
                let mut request = base();
                request.routes.insert(0, request.listeners[0].clone());
                encode(request)
            },
            // Its address reads as a virtual host whose name is not UTF-8.
            expect: ran(1, 1, 1, &["malformed route config, left as is"]),
        },
        Case {
            name: "a route config in the cluster list",
            input: || {
                let mut request = base();
                request.clusters.insert(0, request.routes[0].clone());
                encode(request)
            },
            // Clusters are only read for their name, which does not clash with ours.
            expect: ran(1, 1, 0, &["processor cluster added"]),
        },
    ]
}

/// Resources the report does not mark as patched come back byte-identical.
fn assert_unpatched_identical(request: &PostTranslateModifyRequest, outcome: &Outcome) {
    let response = &outcome.response;
    for (i, (before, after)) in request
        .listeners
        .iter()
        .zip(&response.listeners)
        .enumerate()
    {
        let patched = outcome.report.decisions.listeners[i]
            .iter()
            .any(|d| matches!(d, ChainDecision::Patch(_)));
        if !patched {
            assert_eq!(before, after, "listeners[{i}] is not patched");
        }
    }
    for (i, (before, after)) in request.routes.iter().zip(&response.routes).enumerate() {
        if outcome.report.route_changes[i] != Change::Changed {
            assert_eq!(before, after, "routes[{i}] is not patched");
        }
    }
}

fn check(case: &Case, hook: &Hook) {
    let decoded = PostTranslateModifyRequest::decode(Bytes::from((case.input)()));
    let request = match (&case.expect, decoded) {
        (Expect::InvalidArgument, Err(_)) => return,
        (Expect::InvalidArgument, Ok(_)) => {
            panic!("{}: decoded, expected INVALID_ARGUMENT", case.name)
        }
        (Expect::Ran { .. }, Err(e)) => panic!("{}: does not decode: {e}", case.name),
        (Expect::Ran { .. }, Ok(request)) => request,
    };
    let Expect::Ran {
        chains_patched,
        routes_selected,
        malformed,
        reasons,
    } = case.expect
    else {
        unreachable!()
    };
    let started = Instant::now();
    let outcome = hook.post_translate_modify(request.clone());
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{}: took {:?}",
        case.name,
        started.elapsed()
    );
    support::assert_nothing_lost(&request, &outcome.response);
    assert_unpatched_identical(&request, &outcome);
    let summary = outcome.report.summary();
    assert_eq!(
        (
            summary.chains_patched,
            summary.routes_selected,
            summary.malformed
        ),
        (chains_patched, routes_selected, malformed),
        "{}: (chains patched, routes selected, malformed)",
        case.name
    );
    let explain = outcome.report.explain("ai-gateway-generated");
    for reason in reasons {
        assert!(
            explain.contains(reason),
            "{}: no {reason:?} in\n{explain}",
            case.name
        );
    }
    // What the hook returns it accepts again unchanged.
    let again = hook.post_translate_modify(support::as_request(&outcome.response));
    assert_eq!(
        again.response, outcome.response,
        "{}: not idempotent",
        case.name
    );
}

#[test]
fn every_hostile_input_has_its_defined_outcome_and_loses_nothing() {
    let cases = cases();
    assert!(cases.len() >= 20);
    let hook = Hook::new(Config::default());
    // Every case runs, so one failure does not hide the others.
    let failed: Vec<&str> = cases
        .iter()
        .filter(|case| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(case, &hook))).is_err()
        })
        .map(|case| case.name)
        .collect();
    assert!(failed.is_empty(), "failed: {failed:#?}");
}

#[tokio::test]
async fn undecodable_requests_are_invalid_argument_on_the_wire() {
    let server = Running::start(Config::default()).await;
    let mut grpc = tonic::client::Grpc::new(server.channel.clone());
    for case in cases() {
        if !matches!(case.expect, Expect::InvalidArgument) {
            continue;
        }
        grpc.ready().await.unwrap();
        let status = grpc
            .unary::<RawBytes, PostTranslateModifyResponse, _>(
                tonic::Request::new(RawBytes((case.input)())),
                "/envoygateway.extension.EnvoyGatewayExtension/PostTranslateModify"
                    .parse()
                    .unwrap(),
                ContractCodec::<RawBytes, PostTranslateModifyResponse>::default(),
            )
            .await
            .expect_err(case.name);
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{}: {status:?}",
            case.name
        );
    }
    server.stop().await;
}
