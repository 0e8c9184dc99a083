//! Captured documents (dumps) compared as documents: what a run must keep of its input.

use xds_hook::format::Node;

/// Walks input and output together: every key of the input is in the output at the same
/// position, every scalar equal, lists at least as long; only the resources the hook reads
/// (an `Any` of listener, route configuration, cluster or secret) may differ inside.
pub fn assert_kept(input: &Node, output: &Node, path: &str) {
    const RESOURCES: [&str; 4] = ["Listener", "RouteConfiguration", "Cluster", "Secret"];
    let is_resource = |n: &Node| {
        n.get("@type")
            .and_then(Node::as_str)
            .is_some_and(|t| RESOURCES.iter().any(|r| t.ends_with(&format!(".{r}"))))
    };
    match (input, output) {
        (Node::Map(a), Node::Map(b)) => {
            if is_resource(input) {
                assert!(is_resource(output), "{path}: still that resource");
                return;
            }
            assert!(b.len() >= a.len(), "{path}: keys dropped");
            for (i, ((ka, va), (kb, vb))) in a.iter().zip(b).enumerate() {
                assert_eq!(ka, kb, "{path}: key {i} moved or renamed");
                assert_kept(va, vb, &format!("{path}.{ka}"));
            }
            assert_eq!(a.len(), b.len(), "{path}: keys added");
        }
        (Node::List(a), Node::List(b)) => {
            assert!(b.len() >= a.len(), "{path}: entries dropped");
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                assert_kept(va, vb, &format!("{path}[{i}]"));
            }
        }
        (a, b) => assert_eq!(a, b, "{path}"),
    }
}

/// Every protobuf field name of a document: not the keys of maps keyed by data (filter
/// names, whose values are still messages) nor anything inside metadata (`Struct`s).
pub fn field_names(node: &Node, out: &mut Vec<String>) {
    const KEYED_BY_NAME: [&str; 4] = [
        "typedPerFilterConfig",
        "typed_per_filter_config",
        "typedExtensionProtocolOptions",
        "typed_extension_protocol_options",
    ];
    const STRUCTS: [&str; 2] = ["filterMetadata", "filter_metadata"];
    match node {
        Node::Map(entries) => {
            for (key, value) in entries {
                out.push(key.clone());
                if KEYED_BY_NAME.contains(&key.as_str()) {
                    for inner in value.entries().into_iter().flatten().map(|(_, v)| v) {
                        field_names(inner, out);
                    }
                } else if !STRUCTS.contains(&key.as_str()) {
                    field_names(value, out);
                }
            }
        }
        Node::List(items) => items.iter().for_each(|i| field_names(i, out)),
        _ => {}
    }
}
