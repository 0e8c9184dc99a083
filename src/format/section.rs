//! The sections of an Envoy config dump the hook reads, and how their resources are taken out
//! and put back.
//!
//! EG hands the hook a Gateway's dynamic listeners, route configurations, clusters and
//! secrets; in a dump those are the active entries of four `envoy.admin.v3` sections
//! (`dynamicListeners[].activeState.listener`, `dynamicRouteConfigs[].routeConfig`,
//! `dynamicActiveClusters[].cluster`, `dynamicActiveSecrets[].secret`). Everything else (static
//! resources from the bootstrap, warming and error states, endpoints, version stamps) is not
//! what EG sends, so it is not read and stays in the document as it came.
//!
//! A section is written in one key style: `egctl` writes camelCase, Envoy's own
//! `/config_dump` snake_case. Both are read; a resource the hook changed is written back in
//! its section's style, so a dump comes back as it went in.

use bytes::Bytes;
use serde_json::Value;

use super::node::{KeyPath, Node};
use super::{FormatError, KeyStyle};
use crate::xds::names::TYPE_URL_PREFIX;

/// One of the four sections the hook reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ListenersConfigDump`.
    Listeners,
    /// `RoutesConfigDump`.
    Routes,
    /// `ClustersConfigDump`.
    Clusters,
    /// `SecretsConfigDump`.
    Secrets,
}

/// Where a kind's resources sit in its section, in both key styles.
struct Shape {
    /// The section message.
    section: &'static str,
    /// The list of dynamic entries: camelCase, snake_case.
    list: [&'static str; 2],
    /// The keys from an entry down to its resource (`activeState.listener`).
    inner: &'static [[&'static str; 2]],
    /// The resource message.
    resource: &'static str,
}

impl Kind {
    /// Every kind, in the order of the request's fields.
    pub const ALL: [Kind; 4] = [Kind::Clusters, Kind::Secrets, Kind::Listeners, Kind::Routes];

    fn shape(self) -> Shape {
        match self {
            Kind::Listeners => Shape {
                section: "envoy.admin.v3.ListenersConfigDump",
                list: ["dynamicListeners", "dynamic_listeners"],
                inner: &[["activeState", "active_state"], ["listener", "listener"]],
                resource: "envoy.config.listener.v3.Listener",
            },
            Kind::Routes => Shape {
                section: "envoy.admin.v3.RoutesConfigDump",
                list: ["dynamicRouteConfigs", "dynamic_route_configs"],
                inner: &[["routeConfig", "route_config"]],
                resource: "envoy.config.route.v3.RouteConfiguration",
            },
            Kind::Clusters => Shape {
                section: "envoy.admin.v3.ClustersConfigDump",
                list: ["dynamicActiveClusters", "dynamic_active_clusters"],
                inner: &[["cluster", "cluster"]],
                resource: "envoy.config.cluster.v3.Cluster",
            },
            Kind::Secrets => Shape {
                section: "envoy.admin.v3.SecretsConfigDump",
                list: ["dynamicActiveSecrets", "dynamic_active_secrets"],
                inner: &[["secret", "secret"]],
                resource: "envoy.extensions.transport_sockets.tls.v3.Secret",
            },
        }
    }

    /// The kind whose section has this message name, if the hook reads it.
    pub(crate) fn of_section(message: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.shape().section == message)
    }

    /// The resource's message name.
    pub fn resource(self) -> &'static str {
        self.shape().resource
    }

    /// The resources' name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Listeners => "listener",
            Kind::Routes => "route configuration",
            Kind::Clusters => "cluster",
            Kind::Secrets => "secret",
        }
    }
}

/// Where one resource the hook was given sits, and the style to write it back in.
#[derive(Debug, Clone)]
pub struct Slot {
    /// The resource (an `Any`) in the document.
    pub path: KeyPath,
    /// Its section's key style.
    pub style: KeyStyle,
}

/// A section's key style: snake_case when any of its own keys has an underscore (every
/// multi-word field of the admin messages does in that style, none in the other).
pub(crate) fn style_of(section: &Node) -> KeyStyle {
    let snake = section
        .entries()
        .is_some_and(|entries| entries.iter().any(|(k, _)| k.contains('_')));
    if snake {
        KeyStyle::Snake
    } else {
        KeyStyle::Camel
    }
}

/// Reads the active dynamic resources of one section at `path`, in order: their bytes, and
/// where each came from. Entries without an active resource (warming or error only) are skipped.
pub fn read(kind: Kind, section: &Node, path: &KeyPath) -> Result<Vec<(Bytes, Slot)>, FormatError> {
    let shape = kind.shape();
    let style = style_of(section);
    let Some((list_key, list)) = section.get_any(&shape.list) else {
        return Ok(Vec::new());
    };
    let list_path = path.key(list_key);
    let Node::List(entries) = list else {
        return Err(invalid(&list_path, "expected a list"));
    };
    let mut out = Vec::with_capacity(entries.len());
    'entries: for (i, entry) in entries.iter().enumerate() {
        let mut at = list_path.index(i);
        if entry.entries().is_none() {
            return Err(invalid(&at, "expected a mapping"));
        }
        let mut resource = entry;
        for names in shape.inner {
            match resource.get_any(names) {
                Some((key, inner)) => {
                    at = at.key(key);
                    resource = inner;
                }
                None => continue 'entries,
            }
        }
        let bytes = to_binary(resource, shape.resource, &at)?;
        out.push((Bytes::from(bytes), Slot { path: at, style }));
    }
    Ok(out)
}

/// The resource at `path` (an `Any` in JSON) as protobuf bytes of `message`.
fn to_binary(resource: &Node, message: &str, path: &KeyPath) -> Result<Vec<u8>, FormatError> {
    let Value::Object(mut fields) = resource.to_value() else {
        return Err(invalid(path, "expected a mapping"));
    };
    match fields.remove("@type") {
        None => {}
        Some(Value::String(url)) if url.strip_prefix(TYPE_URL_PREFIX) == Some(message) => {}
        Some(other) => {
            return Err(invalid(
                path,
                &format!("\"@type\" is {other}, expected \"{TYPE_URL_PREFIX}{message}\""),
            ));
        }
    }
    super::text_to_binary(&Value::Object(fields), message, &path.to_string())
}

/// A resource the hook changed, as the `Any` to put at its slot: `@type` first, then its
/// fields in the slot's key style.
pub(crate) fn to_node(kind: Kind, binary: &[u8], style: KeyStyle) -> Result<Node, FormatError> {
    let message = kind.resource();
    let value = super::to_json_styled(binary, message, style)?;
    let mut entries = vec![(
        "@type".to_owned(),
        Node::String(format!("{TYPE_URL_PREFIX}{message}")),
    )];
    if let Node::Map(fields) = Node::from(value) {
        entries.extend(fields);
    }
    Ok(Node::Map(entries))
}

/// Appends resources the hook added to `section` as new dynamic entries, creating its list
/// when the section has none. `false` when the section is not a mapping.
pub(crate) fn append(
    kind: Kind,
    section: &mut Node,
    resources: Vec<Node>,
    style: KeyStyle,
) -> bool {
    let shape = kind.shape();
    let Node::Map(fields) = section else {
        return false;
    };
    let existing = fields
        .iter()
        .position(|(k, _)| shape.list.contains(&k.as_str()));
    let at = match existing {
        Some(at) => at,
        None => {
            fields.push((
                spelled(shape.list, style).to_owned(),
                Node::List(Vec::new()),
            ));
            fields.len() - 1
        }
    };
    let Some((_, Node::List(list))) = fields.get_mut(at) else {
        return false;
    };
    for resource in resources {
        // Only clusters are ever added, and their entry holds the resource directly.
        let mut entry = resource;
        for names in shape.inner.iter().rev() {
            entry = Node::Map(vec![(spelled(*names, style).to_owned(), entry)]);
        }
        list.push(entry);
    }
    true
}

/// A key as written in `style`, from its two spellings.
fn spelled([camel, snake]: [&'static str; 2], style: KeyStyle) -> &'static str {
    match style {
        KeyStyle::Camel => camel,
        KeyStyle::Snake => snake,
    }
}

/// An input error at `path`.
pub fn invalid(path: &KeyPath, message: &str) -> FormatError {
    FormatError::Text {
        what: path.to_string(),
        message: message.to_owned(),
    }
}
