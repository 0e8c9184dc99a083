//! The hand-written wire structs match the contract in `proto/` field for field.

use prost_reflect::{Kind, MessageDescriptor};
use xds_hook::format::descriptor;

/// (message, field name, number, expected Envoy type or None for our own messages)
const FIELDS: &[(&str, &str, u32, Option<&str>)] = &[
    (
        "PostTranslateModifyRequest",
        "post_translate_context",
        1,
        None,
    ),
    (
        "PostTranslateModifyRequest",
        "clusters",
        2,
        Some("envoy.config.cluster.v3.Cluster"),
    ),
    (
        "PostTranslateModifyRequest",
        "secrets",
        3,
        Some("envoy.extensions.transport_sockets.tls.v3.Secret"),
    ),
    (
        "PostTranslateModifyRequest",
        "listeners",
        4,
        Some("envoy.config.listener.v3.Listener"),
    ),
    (
        "PostTranslateModifyRequest",
        "routes",
        5,
        Some("envoy.config.route.v3.RouteConfiguration"),
    ),
    (
        "PostTranslateModifyResponse",
        "clusters",
        1,
        Some("envoy.config.cluster.v3.Cluster"),
    ),
    (
        "PostTranslateModifyResponse",
        "secrets",
        2,
        Some("envoy.extensions.transport_sockets.tls.v3.Secret"),
    ),
    (
        "PostTranslateModifyResponse",
        "listeners",
        3,
        Some("envoy.config.listener.v3.Listener"),
    ),
    (
        "PostTranslateModifyResponse",
        "routes",
        4,
        Some("envoy.config.route.v3.RouteConfiguration"),
    ),
    (
        "PostRouteModifyRequest",
        "route",
        1,
        Some("envoy.config.route.v3.Route"),
    ),
    ("PostRouteModifyRequest", "post_route_context", 2, None),
    (
        "PostRouteModifyResponse",
        "route",
        1,
        Some("envoy.config.route.v3.Route"),
    ),
    (
        "PostVirtualHostModifyRequest",
        "virtual_host",
        1,
        Some("envoy.config.route.v3.VirtualHost"),
    ),
    (
        "PostVirtualHostModifyResponse",
        "virtual_host",
        1,
        Some("envoy.config.route.v3.VirtualHost"),
    ),
    (
        "PostHTTPListenerModifyRequest",
        "listener",
        1,
        Some("envoy.config.listener.v3.Listener"),
    ),
    (
        "PostHTTPListenerModifyResponse",
        "listener",
        1,
        Some("envoy.config.listener.v3.Listener"),
    ),
    (
        "PostClusterModifyRequest",
        "cluster",
        1,
        Some("envoy.config.cluster.v3.Cluster"),
    ),
    (
        "PostClusterModifyResponse",
        "cluster",
        1,
        Some("envoy.config.cluster.v3.Cluster"),
    ),
    (
        "PostEndpointsModifyRequest",
        "load_assignment",
        1,
        Some("envoy.config.endpoint.v3.ClusterLoadAssignment"),
    ),
    (
        "PostEndpointsModifyResponse",
        "load_assignment",
        1,
        Some("envoy.config.endpoint.v3.ClusterLoadAssignment"),
    ),
];

fn message(name: &str) -> MessageDescriptor {
    descriptor(&format!("envoygateway.extension.{name}")).unwrap()
}

#[test]
fn proto_contract_has_the_numbers_and_types_the_wire_structs_assume() {
    for (msg, field, number, envoy) in FIELDS {
        let f = message(msg)
            .get_field_by_name(field)
            .unwrap_or_else(|| panic!("{msg}.{field} missing from proto/"));
        assert_eq!(f.number(), *number, "{msg}.{field}");
        match (f.kind(), envoy) {
            (Kind::Message(m), Some(expected)) => {
                assert_eq!(m.full_name(), *expected, "{msg}.{field}")
            }
            (Kind::Message(m), None) => assert!(
                m.full_name().starts_with("envoygateway.extension."),
                "{msg}.{field}"
            ),
            (other, _) => panic!("{msg}.{field} is {other:?}"),
        }
    }
}

#[test]
fn every_proto_field_is_covered_by_the_wire_structs() {
    for msg in ["PostTranslateModifyRequest", "PostTranslateModifyResponse"] {
        let declared: Vec<String> = message(msg).fields().map(|f| f.name().to_owned()).collect();
        let covered: Vec<String> = FIELDS
            .iter()
            .filter(|f| f.0 == msg)
            .map(|f| f.1.to_owned())
            .collect();
        assert_eq!(declared, covered, "{msg}");
    }
}

#[test]
fn service_has_the_six_eg_methods() {
    let service = xds_hook::format::pool()
        .unwrap()
        .get_service_by_name("envoygateway.extension.EnvoyGatewayExtension")
        .unwrap();
    let methods: Vec<String> = service.methods().map(|m| m.name().to_owned()).collect();
    assert_eq!(
        methods,
        [
            "PostRouteModify",
            "PostVirtualHostModify",
            "PostHTTPListenerModify",
            "PostClusterModify",
            "PostEndpointsModify",
            "PostTranslateModify"
        ]
    );
}

/// The contexts the Route and Cluster hooks read: the objects are field 1 of each context and
/// `unstructured_bytes` is field 1 of `ExtensionResource`, as `xds_hook::contract` declares.
#[test]
fn extension_contexts_carry_their_objects_where_the_wire_structs_read_them() {
    let cases = [
        ("PostRouteExtensionContext", "extension_resources", 1),
        (
            "PostClusterExtensionContext",
            "backend_extension_resources",
            1,
        ),
    ];
    for (msg, field, number) in cases {
        let f = message(msg).get_field_by_name(field).unwrap();
        assert_eq!(f.number(), number, "{msg}.{field}");
        assert!(f.is_list(), "{msg}.{field}");
        match f.kind() {
            Kind::Message(m) => {
                assert_eq!(m.full_name(), "envoygateway.extension.ExtensionResource")
            }
            other => panic!("{msg}.{field} is {other:?}"),
        }
    }
    let bytes = message("ExtensionResource")
        .get_field_by_name("unstructured_bytes")
        .unwrap();
    assert_eq!(bytes.number(), 1);
    assert!(matches!(bytes.kind(), Kind::Bytes));
}

/// A context field: name, number, and the message type (`None`: a scalar).
type ContextField = (&'static str, u32, Option<&'static str>);

/// The extension contexts `xds_hook::policy` decodes: (message, field, number, kind), every
/// field of each message listed.
#[test]
fn context_messages_have_the_numbers_and_kinds_the_wire_structs_assume() {
    let resource = "envoygateway.extension.ExtensionResource";
    let fields: &[(&str, &[ContextField])] = &[
        (
            "PostTranslateExtensionContext",
            &[("extension_resources", 1, Some(resource))],
        ),
        (
            "PostRouteExtensionContext",
            &[
                ("extension_resources", 1, Some(resource)),
                ("hostnames", 2, None),
                ("extension_policies", 3, Some(resource)),
            ],
        ),
        ("ExtensionResource", &[("unstructured_bytes", 1, None)]),
    ];
    for (msg, expected) in fields {
        let descriptor = message(msg);
        let declared: Vec<&str> = expected.iter().map(|f| f.0).collect();
        let names: Vec<String> = descriptor.fields().map(|f| f.name().to_owned()).collect();
        assert_eq!(names, declared, "{msg}");
        for (field, number, message_type) in *expected {
            let f = descriptor.get_field_by_name(field).unwrap();
            assert_eq!(f.number(), *number, "{msg}.{field}");
            match (f.kind(), message_type) {
                (Kind::Message(m), Some(expected)) => assert_eq!(m.full_name(), *expected),
                (Kind::String, None) => assert!(f.is_list(), "{msg}.{field}"),
                (Kind::Bytes, None) => assert!(!f.is_list(), "{msg}.{field}"),
                (other, _) => panic!("{msg}.{field} is {other:?}"),
            }
        }
    }
}
