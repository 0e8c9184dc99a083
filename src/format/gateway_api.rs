//! The Gateway API objects `egctl x translate` prints beside the xDS (`httpRoutes`, …), read
//! only to explain: they say which annotations an HTTPRoute really carries (EG forwards only
//! those under `gateway.envoyproxy.io/`, so the xDS cannot show a misplaced one) and why EG
//! built no route from it (its status conditions). Nothing here feeds the hook.

use super::node::Node;

/// What the input's Gateway API objects (`egctl x translate` prints them beside the xDS) say
/// about the HTTPRoute.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ApiObject {
    /// The input carries no Gateway API objects.
    #[default]
    Absent,
    /// It carries some, but not this HTTPRoute.
    NotListed,
    /// The HTTPRoute as the input lists it.
    Listed {
        /// Its annotations, key and value.
        annotations: Vec<(String, String)>,
        /// Its status conditions that are not `True`, as `Type=Status (Reason): message`.
        failing_conditions: Vec<String>,
    },
}

/// What `doc` (an `egctl x translate` output) says about HTTPRoute `namespace/name`.
pub fn http_route(doc: &Node, namespace: &str, name: &str) -> ApiObject {
    let Some(Node::List(routes)) = doc.get("httpRoutes") else {
        let has_objects = ["gatewayClass", "gateways"]
            .iter()
            .any(|k| doc.get(k).is_some());
        return if has_objects {
            ApiObject::NotListed
        } else {
            ApiObject::Absent
        };
    };
    let found = routes.iter().find(|route| {
        let metadata = route.get("metadata");
        let field = |key: &str| metadata.and_then(|m| m.get(key)).and_then(Node::as_str);
        field("name") == Some(name) && field("namespace").unwrap_or("default") == namespace
    });
    let Some(route) = found else {
        return ApiObject::NotListed;
    };
    let annotations = route
        .get("metadata")
        .and_then(|m| m.get("annotations"))
        .and_then(Node::entries)
        .unwrap_or_default()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let parents = match route.get("status").and_then(|s| s.get("parents")) {
        Some(Node::List(parents)) => parents.as_slice(),
        _ => &[],
    };
    let failing_conditions = parents
        .iter()
        .filter_map(|p| match p.get("conditions") {
            Some(Node::List(conditions)) => Some(conditions),
            _ => None,
        })
        .flatten()
        .filter(|c| c.get("status").and_then(Node::as_str) != Some("True"))
        .map(|c| {
            let text = |key: &str| c.get(key).and_then(Node::as_str).unwrap_or_default();
            format!(
                "{}={} ({}): {}",
                text("type"),
                text("status"),
                text("reason"),
                text("message")
            )
        })
        .collect();
    ApiObject::Listed {
        annotations,
        failing_conditions,
    }
}
