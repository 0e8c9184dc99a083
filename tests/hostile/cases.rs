//! The table: each hostile input with its name and the outcome it must have.

use bytes::Bytes;
use prost::encoding::{WireType, encode_key};
use xds_hook::wire::put_varint;

use super::inputs::*;
use super::{Case, Expect, ran};
use crate::support::{at, inject};

pub fn cases() -> Vec<Case> {
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
                &[
                    "malformed HCM: filter_chains[0].filters[0].typed_config.value: does not decode",
                    "invalid wire type",
                ],
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
            // would Envoy's protobuf parser. The metadata is read as the route's owner, so the
            // route is not selected and the rest of its route configuration stays readable.
            expect: ran(
                0,
                0,
                0,
                &["route metadata: does not decode", "recursion limit reached"],
            ),
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
                    "resources: {kind: HTTPRoute, name: ai, annotations: {ai-gateway-generated: \"true\"}}",
                ))
            },
            expect: ran(
                0,
                0,
                0,
                &[
                    "route metadata.filter_metadata[\"envoy-gateway\"].resources: is a struct, not a list",
                ],
            ),
        },
        Case {
            name: "malformed envoy-gateway metadata without the annotation's key",
            input: || {
                encode(base_with(
                    "resources: [{kind: HTTPRoute, name: ai, namespace: default, annotations: {ai-gateway-generated: \"true\"}}]",
                    "resources: \"HTTPRoute/default/ai\"",
                ))
            },
            // Metadata that does not contain the key cannot carry the annotation: it is not
            // read further, so its shape does not matter.
            expect: ran(0, 0, 0, &["HTTPRoute is not annotated"]),
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
