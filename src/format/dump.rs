//! Captured xDS as users hold it: the output of `egctl x translate --to xds`, of
//! `egctl config envoy-proxy`, and Envoy's own `/config_dump`, recognised from their content.
//!
//! - `egctl x translate`: Gateway API objects at the top level (`gatewayClass`, `gateways`, …),
//!   and beside them `xds: {"<ns>/<gateway>": {configs: [...]}}`; with `-t listener|route|…`
//!   each Gateway maps to one bare `*ConfigDump` section instead.
//! - `egctl config envoy-proxy`: `{<pod-namespace>: {<pod>: ConfigDump or section}}`.
//! - Envoy's `/config_dump`: one `{configs: [...]}` (snake_case).
//!
//! Each Gateway (or pod) becomes one request, holding what EG would send the hook for it: the
//! active dynamic listeners, route configurations, clusters and secrets ([`section`]). The
//! document itself is kept whole, keys in input order ([`Node`]), so that [`Dump::replace`] can
//! put each Gateway's response back where its resources came from and leave every other key
//! (Gateway API objects, bootstrap, endpoints, static resources, warming and error states,
//! version stamps, keys we do not know) exactly as it was.
//!
//! This module does not decide anything about the resources and does not call the hook.

use bytes::Bytes;

use super::node::{KeyPath, Node};
use super::section::{self, Kind, Slot, invalid};
use super::{FormatError, KeyStyle};
use crate::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};

/// Which tool wrote the dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// `egctl x translate --to xds`: one entry per Gateway under `xds`.
    Translate,
    /// `egctl config envoy-proxy`: one entry per pod.
    EnvoyProxy,
    /// Envoy's `/config_dump`: one proxy.
    ConfigDump,
}

/// One Gateway's (or pod's) xDS in a dump.
#[derive(Debug, Clone)]
pub struct DumpGateway {
    /// What `--gateway` picks it by: `<namespace>/<name>` of the Gateway or pod; empty for an
    /// Envoy `/config_dump`, which holds one proxy.
    pub name: String,
    /// Where its config dump is in the document.
    pub path: KeyPath,
    /// What EG would send the hook for it.
    pub request: PostTranslateModifyRequest,
    /// How many of the four sections the hook reads it has; none means there is nothing to
    /// send (`-t bootstrap`, `-t endpoint`).
    pub sections: usize,
    /// Where each request resource came from, per kind in [`Kind::ALL`] order.
    slots: [Vec<Slot>; 4],
    /// The first clusters section (its place and style): where added clusters go.
    cluster_section: Option<(KeyPath, KeyStyle)>,
}

impl DumpGateway {
    /// How `explain` titles it.
    pub fn title(&self, kind: DumpKind) -> String {
        match kind {
            DumpKind::Translate => format!("Gateway {}", self.name),
            DumpKind::EnvoyProxy => format!("pod {}", self.name),
            DumpKind::ConfigDump => "Envoy config dump".to_owned(),
        }
    }
}

/// A dump, kept whole, and the requests read from it.
#[derive(Debug, Clone)]
pub struct Dump {
    /// The document, keys in input order.
    pub doc: Node,
    /// Which tool wrote it.
    pub kind: DumpKind,
    /// Its Gateways (or pods), in document order.
    pub gateways: Vec<DumpGateway>,
}

/// What a JSON or YAML document is.
#[derive(Debug)]
pub enum Detected {
    /// A `PostTranslateModifyRequest` (given back, to be read as one), or a document of no
    /// shape we know, which the request reader then rejects naming its first unknown key.
    Request(Node),
    /// One of the dumps.
    Dump(Dump),
}

/// Keys of `egctl x translate`'s Gateway API output, told apart to say what is missing.
const GATEWAY_API_KEYS: [&str; 4] = [
    "gatewayClass",
    "gateways",
    "httpRoutes",
    "envoyProxyForGatewayClass",
];
/// Keys of a `PostTranslateModifyRequest` in either style.
const REQUEST_KEYS: [&str; 6] = [
    "clusters",
    "secrets",
    "listeners",
    "routes",
    "postTranslateContext",
    "post_translate_context",
];

/// Tells a document's shape from its keys and, for a dump, reads every Gateway's request.
pub(crate) fn detect(doc: Node) -> Result<Detected, FormatError> {
    let root = KeyPath::root();
    let Some(entries) = doc.entries() else {
        return Err(invalid(&root, "expected a mapping at the top level"));
    };
    let has = |key: &str| entries.iter().any(|(k, _)| k == key);
    let (kind, gateways) = if let Some(xds) = doc.get("xds") {
        (
            DumpKind::Translate,
            translate_gateways(xds, &root.key("xds"))?,
        )
    } else if has("configs") || has("@type") {
        let gateway = read_gateway(String::new(), &doc, root)?;
        (DumpKind::ConfigDump, vec![gateway])
    } else if entries
        .iter()
        .any(|(k, _)| REQUEST_KEYS.contains(&k.as_str()))
        || entries.is_empty()
    {
        return Ok(Detected::Request(doc));
    } else if let Some(key) = GATEWAY_API_KEYS.iter().find(|k| has(k)) {
        return Err(invalid(
            &root,
            &format!("egctl x translate output ({key:?}) without \"xds\": translate with --to xds"),
        ));
    } else if is_pod_map(&doc) {
        (DumpKind::EnvoyProxy, pod_gateways(&doc)?)
    } else {
        return Ok(Detected::Request(doc));
    };
    Ok(Detected::Dump(Dump {
        doc,
        kind,
        gateways,
    }))
}

fn translate_gateways(xds: &Node, path: &KeyPath) -> Result<Vec<DumpGateway>, FormatError> {
    let Some(entries) = xds.entries() else {
        return Err(invalid(
            path,
            "expected a mapping of Gateway (namespace/name) to its xDS",
        ));
    };
    entries
        .iter()
        .map(|(name, dump)| read_gateway(name.clone(), dump, path.key(name)))
        .collect()
}

/// `egctl config envoy-proxy`: every top-level value is a mapping of pods, and some pod holds
/// a config dump or a section.
fn is_pod_map(doc: &Node) -> bool {
    let Some(namespaces) = doc.entries() else {
        return false;
    };
    namespaces.iter().all(|(_, pods)| pods.entries().is_some())
        && namespaces
            .iter()
            .filter_map(|(_, pods)| pods.entries())
            .flatten()
            .any(|(_, dump)| is_dump(dump))
}

fn is_dump(node: &Node) -> bool {
    matches!(node.get("configs"), Some(Node::List(_)))
        || node.get("@type").and_then(Node::as_str).is_some()
}

fn pod_gateways(doc: &Node) -> Result<Vec<DumpGateway>, FormatError> {
    let mut gateways = Vec::new();
    for (namespace, pods) in doc.entries().unwrap_or_default() {
        let ns_path = KeyPath::root().key(namespace);
        for (pod, dump) in pods.entries().unwrap_or_default() {
            let path = ns_path.key(pod);
            if !is_dump(dump) {
                return Err(invalid(
                    &path,
                    "expected an Envoy config dump (\"configs\") or one of its sections (\"@type\")",
                ));
            }
            gateways.push(read_gateway(format!("{namespace}/{pod}"), dump, path)?);
        }
    }
    Ok(gateways)
}

/// One Gateway's xDS: a whole config dump (`configs: [...]`) or one bare section (`@type`).
fn read_gateway(name: String, dump: &Node, path: KeyPath) -> Result<DumpGateway, FormatError> {
    let mut gateway = DumpGateway {
        name,
        path: path.clone(),
        request: PostTranslateModifyRequest::default(),
        sections: 0,
        slots: Default::default(),
        cluster_section: None,
    };
    if dump.entries().is_none() {
        return Err(invalid(&path, "expected a mapping"));
    }
    match dump.get("configs") {
        Some(Node::List(configs)) => {
            for (i, config) in configs.iter().enumerate() {
                read_section(&mut gateway, config, &path.key("configs").index(i))?;
            }
        }
        Some(_) => return Err(invalid(&path.key("configs"), "expected a list")),
        None => read_section(&mut gateway, dump, &path)?,
    }
    Ok(gateway)
}

/// One entry of `configs` (or a bare section): read when it is one the hook reads, kept as it
/// is otherwise (bootstrap, endpoints, scoped routes, ECDS, …).
fn read_section(
    gateway: &mut DumpGateway,
    section: &Node,
    path: &KeyPath,
) -> Result<(), FormatError> {
    let type_url = match section.get("@type") {
        Some(Node::String(url)) => url,
        Some(_) => return Err(invalid(&path.key("@type"), "expected a type URL")),
        None => {
            return Err(invalid(
                path,
                "expected a config dump section with \"@type\"",
            ));
        }
    };
    let message = crate::xds::type_name(type_url);
    let Some(kind) = Kind::of_section(message) else {
        if message.starts_with("envoy.admin.") {
            return Ok(());
        }
        return Err(invalid(
            &path.key("@type"),
            &format!("{message} is not an Envoy config dump section"),
        ));
    };
    gateway.sections += 1;
    if kind == Kind::Clusters && gateway.cluster_section.is_none() {
        gateway.cluster_section = Some((path.clone(), section::style_of(section)));
    }
    let request = &mut gateway.request;
    let [clusters, secrets, listeners, routes] = &mut gateway.slots;
    let (list, slots) = match kind {
        Kind::Clusters => (&mut request.clusters, clusters),
        Kind::Secrets => (&mut request.secrets, secrets),
        Kind::Listeners => (&mut request.listeners, listeners),
        Kind::Routes => (&mut request.routes, routes),
    };
    for (bytes, slot) in section::read(kind, section, path)? {
        list.push(bytes);
        slots.push(slot);
    }
    Ok(())
}

/// The lists of a request and of a response, per kind.
fn lists<'a>(
    request: &'a PostTranslateModifyRequest,
    response: &'a PostTranslateModifyResponse,
    kind: Kind,
) -> (&'a [Bytes], &'a [Bytes]) {
    match kind {
        Kind::Clusters => (&request.clusters, &response.clusters),
        Kind::Secrets => (&request.secrets, &response.secrets),
        Kind::Listeners => (&request.listeners, &response.listeners),
        Kind::Routes => (&request.routes, &response.routes),
    }
}

impl Dump {
    /// Puts gateway `index`'s response into the document: each resource the hook changed
    /// replaces the one it came from, written in its section's key style; unchanged ones stay
    /// as they were written; added clusters become new entries of the Gateway's first clusters
    /// section. Returns a note for each added resource that has no section to go to (a `-t
    /// route` dump has no clusters).
    pub fn replace(
        &mut self,
        index: usize,
        response: &PostTranslateModifyResponse,
    ) -> Result<Vec<String>, FormatError> {
        let Some(gateway) = self.gateways.get(index) else {
            return Ok(Vec::new());
        };
        let mut notes = Vec::new();
        for (kind, slots) in Kind::ALL.into_iter().zip(&gateway.slots) {
            let (before, after) = lists(&gateway.request, response, kind);
            for ((slot, old), new) in slots.iter().zip(before).zip(after) {
                if old == new {
                    continue;
                }
                let node = section::to_node(kind, new, slot.style)?;
                if let Some(place) = self.doc.at_mut(slot.path.steps()) {
                    *place = node;
                }
            }
            let added = after.get(before.len()..).unwrap_or_default();
            if added.is_empty() {
                continue;
            }
            let placed = match (&gateway.cluster_section, kind) {
                (Some((path, style)), Kind::Clusters) => {
                    let nodes = added
                        .iter()
                        .map(|bytes| section::to_node(kind, bytes, *style))
                        .collect::<Result<Vec<_>, _>>()?;
                    self.doc
                        .at_mut(path.steps())
                        .is_some_and(|section| section::append(kind, section, nodes, *style))
                }
                _ => false,
            };
            if !placed {
                notes.push(format!(
                    "{}: the hook added {} {}(s), but this dump has no section to hold them; not written",
                    gateway.path,
                    added.len(),
                    kind.label()
                ));
            }
        }
        Ok(notes)
    }
}
