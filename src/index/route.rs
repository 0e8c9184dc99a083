//! Route side of the index: virtual hosts with their Gateway, routes with their HTTPRoute,
//! and where each route sends traffic.
//!
//! A fleet's route configurations hold tens of thousands of routes, and the index keeps their
//! strings (names, cluster targets) and metadata as [`Text`] ranges of the route
//! configuration's bytes rather than copies: one handle per route configuration instead of
//! several allocations per route. Read them through the [`RouteConfigEntry`].

use std::fmt;
use std::sync::{LazyLock, OnceLock};

use bytes::Bytes;
use prost::Message;

use super::error::{FieldPath, InvalidField, Problem};
use super::owner_metadata::OwnerMetadata;
use super::text::Source;
pub(crate) use super::text::Text;
use crate::xds::{RouteActionView, RouteConfigurationView, RouteView, VirtualHostView};

/// One route configuration of the request.
pub struct RouteConfigEntry {
    /// Name, as referenced by RDS.
    pub name: String,
    /// Its virtual hosts, or why it could not be read.
    pub virtual_hosts: Result<Vec<VirtualHostEntry>, InvalidField>,
    /// The bytes its [`Text`]s and [`OwnerMetadata`] lie in: the route configuration itself,
    /// or copies of what was kept when it was decoded.
    source: Bytes,
    /// Whether `source` mentions [`OURS`], searched once when first asked.
    ours: OnceLock<bool>,
}

/// What every metadata namespace this project writes on routes contains
/// (`xds-hook.inference`, `policy.xds-hook.dev`): one search for it tells whether any record of
/// ours can be in a route configuration, so the readers of each record kind do not each search
/// every route configuration of a request that has none (most requests).
const OURS: &str = "xds-hook.";

/// One virtual host.
pub struct VirtualHostEntry {
    /// Name.
    pub name: Text,
    /// The Gateway (and listener, as section name) it was built for, read when first asked.
    pub gateway: OwnerMetadata,
    /// Its routes, in order.
    pub routes: Vec<RouteEntry>,
    /// Its whole record (key, length and payload) in the route configuration, when read in
    /// place: patching goes straight to it instead of walking the route configuration again.
    pub record: Option<Text>,
}

/// One route.
pub struct RouteEntry {
    /// Name.
    pub name: Text,
    /// The HTTPRoute it was built from, read when first asked.
    pub owner: OwnerMetadata,
    /// Where it sends traffic.
    pub targets: Targets,
    /// Its whole record in the route configuration, when read in place (see
    /// [`VirtualHostEntry::record`]).
    pub record: Option<Text>,
}

/// Where a route sends traffic; names are read with [`RouteConfigEntry::text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Not a forwarding route (redirect, direct response, ...).
    None,
    /// One named cluster (`cluster`).
    Cluster(Text),
    /// A traffic split (`weighted_clusters`): the clusters, in order.
    Weighted(Vec<Text>),
    /// The cluster is chosen per request from a header.
    Header(Text),
    /// Some other cluster specifier (plugins).
    Other,
}

impl RouteConfigEntry {
    /// Read off the wire: texts and metadata stay where they are in `bytes`.
    pub(super) fn in_place(
        name: String,
        virtual_hosts: Vec<VirtualHostEntry>,
        bytes: &Bytes,
    ) -> Self {
        Self {
            name,
            virtual_hosts: Ok(virtual_hosts),
            source: bytes.clone(),
            ours: OnceLock::new(),
        }
    }

    /// Whether the entry's [`Text`]s are ranges of the route configuration's own bytes (read
    /// off the wire), rather than of copies (decoded); only then are record positions known.
    pub(crate) fn is_in_place(&self) -> bool {
        self.virtual_hosts
            .as_ref()
            .is_ok_and(|vhosts| vhosts.iter().all(|v| v.record.is_some()))
    }

    /// A name or target of this route configuration's entries. The index checked it is
    /// UTF-8; a `Text` of another route configuration reads as whatever lies there, or empty.
    pub fn text(&self, text: Text) -> &str {
        let bytes = self.bytes(text).unwrap_or_default();
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    /// Whether the names, targets and metadata this entry keeps contain `needle`'s bytes
    /// anywhere: `false` proves no route of it carries a metadata key `needle`.
    pub(crate) fn mentions(&self, needle: &memchr::memmem::Finder<'_>) -> bool {
        needle.find(&self.source).is_some()
    }

    /// Whether the names, targets and metadata this entry keeps mention [`OURS`]: `false`
    /// proves that no route of it carries a record of ours. Searched once per entry.
    pub(crate) fn mentions_ours(&self) -> bool {
        static NEEDLE: LazyLock<memchr::memmem::Finder<'static>> =
            LazyLock::new(|| memchr::memmem::Finder::new(OURS));
        *self.ours.get_or_init(|| self.mentions(&NEEDLE))
    }

    /// The bytes at `at`, if they are within this route configuration's source.
    pub(super) fn bytes(&self, at: Text) -> Option<&[u8]> {
        self.source.get(at.range())
    }

    /// Indexes one encoded route configuration by decoding all of its metadata.
    pub(super) fn read_exact(bytes: &Bytes) -> Self {
        match RouteConfigurationView::decode(bytes.clone()) {
            Ok(RouteConfigurationView {
                name,
                virtual_hosts,
            }) => {
                let mut source = Vec::new();
                let virtual_hosts = virtual_hosts
                    .into_iter()
                    .map(|vhost| VirtualHostEntry::read(vhost, &mut source))
                    .collect();
                Self {
                    name,
                    virtual_hosts: Ok(virtual_hosts),
                    source: source.into(),
                    ours: OnceLock::new(),
                }
            }
            Err(e) => Self {
                name: super::fallback_name(bytes),
                virtual_hosts: Err(InvalidField::new(FieldPath::root(), Problem::Decode(e))),
                source: Bytes::new(),
                ours: OnceLock::new(),
            },
        }
    }
}

impl VirtualHostEntry {
    fn read(view: VirtualHostView, source: &mut Vec<u8>) -> Self {
        let VirtualHostView {
            name,
            routes,
            metadata,
        } = view;
        Self {
            name: Text::copied(name.as_bytes(), source),
            gateway: OwnerMetadata::copied(&metadata, source),
            routes: routes
                .into_iter()
                .map(|route| RouteEntry::read(route, source))
                .collect(),
            record: None,
        }
    }
}

impl RouteEntry {
    fn read(view: RouteView, source: &mut Vec<u8>) -> Self {
        let RouteView {
            name,
            metadata,
            route,
        } = view;
        Self {
            name: Text::copied(name.as_bytes(), source),
            owner: OwnerMetadata::copied(&metadata, source),
            targets: route.map_or(Targets::None, |action| targets(action, source)),
            record: None,
        }
    }
}

fn targets(action: RouteActionView, source: &mut Vec<u8>) -> Targets {
    let RouteActionView {
        cluster,
        cluster_header,
        weighted_clusters,
    } = action;
    let mut text = |t: String| Text::copied(t.as_bytes(), source);
    match (cluster, cluster_header, weighted_clusters) {
        (Some(cluster), _, _) => Targets::Cluster(text(cluster)),
        (None, Some(header), _) => Targets::Header(text(header)),
        (None, None, Some(weighted)) => Targets::Weighted(
            weighted
                .clusters
                .into_iter()
                .map(|c| text(c.name))
                .collect(),
        ),
        (None, None, None) => Targets::Other,
    }
}

impl Targets {
    /// The clusters traffic goes to, and whether they are a weighted split.
    pub fn clusters(&self) -> Option<(&[Text], bool)> {
        match self {
            Targets::Cluster(cluster) => Some((std::slice::from_ref(cluster), false)),
            Targets::Weighted(clusters) => Some((clusters, true)),
            Targets::None | Targets::Header(_) | Targets::Other => None,
        }
    }
}

/// Shown with texts and owners read, as the index answers for them; where they lie is not
/// shown, so that both ways of reading a route configuration show the same.
impl Source for RouteConfigEntry {
    fn bytes(&self, at: Text) -> Option<&[u8]> {
        RouteConfigEntry::bytes(self, at)
    }
}

impl fmt::Debug for RouteConfigEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let virtual_hosts = match &self.virtual_hosts {
            Ok(vhosts) => Ok(vhosts.iter().map(|v| Shown(self, v)).collect::<Vec<_>>()),
            Err(e) => Err(e),
        };
        f.debug_struct("RouteConfigEntry")
            .field("name", &self.name)
            .field("virtual_hosts", &virtual_hosts)
            .finish()
    }
}

/// An entry of a route configuration, for Debug.
struct Shown<'a, T>(&'a RouteConfigEntry, &'a T);

impl fmt::Debug for Shown<'_, VirtualHostEntry> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Shown(config, vhost) = *self;
        let routes: Vec<_> = vhost.routes.iter().map(|r| Shown(config, r)).collect();
        f.debug_struct("VirtualHostEntry")
            .field("name", &config.text(vhost.name))
            .field("gateway", vhost.gateway.ownership(config))
            .field("routes", &routes)
            .finish()
    }
}

impl fmt::Debug for Shown<'_, RouteEntry> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Shown(config, route) = *self;
        f.debug_struct("RouteEntry")
            .field("name", &config.text(route.name))
            .field("owner", route.owner.ownership(config))
            .field("targets", &Shown(config, &route.targets))
            .finish()
    }
}

impl fmt::Debug for Shown<'_, Targets> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Shown(config, targets) = *self;
        match targets {
            Targets::None => f.write_str("None"),
            Targets::Cluster(c) => f.debug_tuple("Cluster").field(&config.text(*c)).finish(),
            Targets::Weighted(cs) => {
                let names: Vec<&str> = cs.iter().map(|c| config.text(*c)).collect();
                f.debug_tuple("Weighted").field(&names).finish()
            }
            Targets::Header(h) => f.debug_tuple("Header").field(&config.text(*h)).finish(),
            Targets::Other => f.write_str("Other"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one search stands for each record kind's own: every namespace we write on routes
    /// contains it, and a route configuration without it has no record of ours.
    #[test]
    fn every_namespace_of_ours_contains_the_shared_needle() {
        for namespace in [
            crate::inference::metadata::NAMESPACE,
            crate::policy::choice::METADATA_NAMESPACE,
        ] {
            assert!(namespace.contains(OURS), "{namespace}");
        }
        let with = Bytes::from_static(b"..policy.xds-hook.dev..");
        let without = Bytes::from_static(b"..envoy-gateway..");
        assert!(RouteConfigEntry::in_place(String::new(), Vec::new(), &with).mentions_ours());
        assert!(!RouteConfigEntry::in_place(String::new(), Vec::new(), &without).mentions_ours());
    }

    #[test]
    fn texts_are_ranges_of_their_route_configuration() {
        let bytes = Bytes::from_static(b"..name..");
        let config = RouteConfigEntry::in_place(String::new(), Vec::new(), &bytes);
        let name = bytes.get(2..6).unwrap_or_default();
        let text = Text::within(&bytes, name).expect("a slice of the bytes");
        assert_eq!(config.text(text), "name");
        assert_eq!(
            Text::within(&bytes, b"name"),
            None,
            "not a slice of the bytes"
        );
        assert_eq!(Text::within(&bytes, b""), Some(Text::default()));
        assert_eq!(config.text(Text::new(6..60).unwrap_or_default()), "");
        let mut source = b"abc".to_vec();
        let copied = Text::copied(b"def", &mut source);
        let decoded = RouteConfigEntry::in_place(String::new(), Vec::new(), &source.into());
        assert_eq!(decoded.text(copied), "def");
    }
}
