//! A read-only index of the request: listener → filter chain → HCM → route configuration →
//! virtual host → route, with Gateway and HTTPRoute ownership from EG's metadata.
//!
//! The index records what the xDS says and nothing else: no configuration, no decisions. It
//! never mutates and never fails as a whole. A resource that cannot be read is indexed as
//! malformed, with the reason, so that later stages can leave it exactly as it came and say why.
//! Names are kept only to join RDS references and to report; no decision looks inside them.
//! Route and virtual host metadata is kept unread and its owner read when first asked for
//! ([`OwnerMetadata`]), so that an index costs a walk over the request, not a decode of it.

pub(crate) mod cluster;
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) mod differential;
pub(crate) mod error;
mod listener;
mod listener_scan;
mod names;
pub(crate) mod owner;
mod owner_metadata;
mod owner_wire;
mod records;
mod route;
mod scan;
mod text;

use std::borrow::Cow;

use bytes::Bytes;
use memchr::memmem::Finder;

use names::Names;

pub(crate) use cluster::{ClusterEntry, ClusterNames, EndpointGroup, Endpoints, UpstreamFilters};
pub(crate) use error::{FieldPath, InvalidField, Problem};
pub(crate) use listener::{ChainEntry, HttpFilterEntry, ListenerEntry, Unusable};
pub use listener::{ChainKind, ChainLocator};
pub use owner::Ownership;
pub(crate) use owner::{Annotation, Owner};
pub(crate) use owner_metadata::OwnerMetadata;
pub(crate) use route::{RouteConfigEntry, RouteEntry, Targets, Text, VirtualHostEntry};

/// Everything the hook knows about one request, in request order.
#[derive(Debug, Default)]
pub struct Index {
    /// One entry per listener, same order as the request.
    pub listeners: Vec<ListenerEntry>,
    /// One entry per route configuration, same order as the request.
    pub route_configs: Vec<RouteConfigEntry>,
    /// Every cluster's name (nothing else of a cluster is read here).
    pub clusters: ClusterNames,
    by_name: Names,
}

impl Index {
    /// Reads every listener and route configuration of a request, and every cluster's name.
    pub(crate) fn build(listeners: &[Bytes], route_configs: &[Bytes], clusters: &[Bytes]) -> Self {
        let listeners = listeners.iter().map(read_listener).collect();
        let mut scratch = scan::Scratch::default();
        let route_configs: Vec<RouteConfigEntry> = route_configs
            .iter()
            .map(|bytes| read_route_config(bytes, &mut scratch))
            .collect();
        let by_name = Names::new(route_configs.iter().map(|rc| rc.name.as_str()));
        Self {
            listeners,
            route_configs,
            clusters: ClusterNames::read(clusters),
            by_name,
        }
    }

    /// Positions of the route configurations named `name`, in order (more than one only in
    /// broken input).
    pub fn route_configs_named(&self, name: &str) -> impl Iterator<Item = usize> + '_ {
        self.by_name.all(name)
    }

    /// The name of route `r` of virtual host `vh` of route configuration `rc`, when the index
    /// could read it.
    pub fn route_name(&self, rc: usize, vh: usize, r: usize) -> Option<&str> {
        let config = self.route_configs.get(rc)?;
        let route = config.virtual_hosts.as_ref().ok()?.get(vh)?.routes.get(r)?;
        Some(config.text(route.name))
    }

    /// How reports name that route: `route "<name>"`, or its position when its name cannot be
    /// read.
    pub fn route_place(&self, rc: usize, vh: usize, r: usize) -> String {
        match self.route_name(rc, vh, r) {
            Some(name) => format!("route {name:?}"),
            None => format!("route_configs[{rc}] virtual_hosts[{vh}] routes[{r}]"),
        }
    }

    /// Every route whose metadata mentions `needle` (a namespace of ours: the records of
    /// `crate::inference` and `crate::policy`), by (route configuration, virtual host, route)
    /// position, with its encoded `Metadata`, in request order. A route configuration without
    /// any record of ours costs one byte search, shared by every caller; its routes are not
    /// looked at.
    pub(crate) fn routes_mentioning<'a>(
        &'a self,
        needle: &'a Finder<'_>,
    ) -> impl Iterator<Item = ((usize, usize, usize), &'a [u8])> + 'a {
        self.route_configs
            .iter()
            .enumerate()
            .filter(|(_, rc)| rc.mentions_ours() && rc.mentions(needle))
            .filter_map(|(at, rc)| Some((at, rc, rc.virtual_hosts.as_ref().ok()?)))
            .flat_map(move |(at, rc, vhosts)| {
                vhosts.iter().enumerate().flat_map(move |(vh, vhost)| {
                    vhost
                        .routes
                        .iter()
                        .enumerate()
                        .filter_map(move |(r, route)| {
                            if !route.owner.mentions(rc, needle) {
                                return None;
                            }
                            Some(((at, vh, r), route.owner.bytes(rc)?))
                        })
                })
            })
    }
}

/// Indexes one encoded listener: off the wire when the fast reader can, by decoding otherwise
/// (the same answer, `index::differential` holds them to it).
pub(crate) fn read_listener(bytes: &Bytes) -> ListenerEntry {
    listener_scan::read(bytes).unwrap_or_else(|| ListenerEntry::read_exact(bytes))
}

/// Indexes one encoded route configuration, the same way; `scratch` carries lists reused
/// across the route configurations of a request.
fn read_route_config(bytes: &Bytes, scratch: &mut scan::Scratch) -> RouteConfigEntry {
    scan::read(bytes, scratch).unwrap_or_else(|| RouteConfigEntry::read_exact(bytes))
}

/// The name of a resource that could not be decoded, read straight from field 1 so that the
/// report can still point at it. Envoy's listeners, route configurations and clusters all
/// keep their name in field 1.
pub(crate) fn fallback_name(resource: &[u8]) -> String {
    name_of(resource).into_owned()
}

/// [`fallback_name`], borrowed from the resource when it is UTF-8.
fn name_of(resource: &[u8]) -> Cow<'_, str> {
    // ListenerView::NAME, RouteConfigurationView::NAME and ClusterView::NAME are all 1.
    let name = crate::wire::first_len(resource, crate::xds::ListenerView::NAME).unwrap_or_default();
    // `from_utf8_lossy` walks UTF-8 in chunks even when it is valid, which names always are.
    match std::str::from_utf8(name) {
        Ok(name) => Cow::Borrowed(name),
        Err(_) => String::from_utf8_lossy(name),
    }
}
