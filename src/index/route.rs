//! Route side of the index: virtual hosts with their Gateway, routes with their HTTPRoute,
//! and where each route sends traffic.

use std::fmt;

use bytes::Bytes;
use prost::Message;

use super::owner_metadata::OwnerMetadata;
use crate::xds::{RouteActionView, RouteConfigurationView, RouteView, VirtualHostView};

/// One route configuration of the request.
pub struct RouteConfigEntry {
    /// Name, as referenced by RDS.
    pub name: String,
    /// Its virtual hosts, or why it could not be read.
    pub virtual_hosts: Result<Vec<VirtualHostEntry>, String>,
    /// The bytes its virtual hosts' and routes' [`OwnerMetadata`] lie in: the route
    /// configuration itself, or copies of the metadata when it was decoded.
    metadata_source: Bytes,
}

/// One virtual host.
pub struct VirtualHostEntry {
    /// Name.
    pub name: String,
    /// The Gateway (and listener, as section name) it was built for, read when first asked.
    pub gateway: OwnerMetadata,
    /// Its routes, in order.
    pub routes: Vec<RouteEntry>,
}

/// One route.
pub struct RouteEntry {
    /// Name.
    pub name: String,
    /// The HTTPRoute it was built from, read when first asked.
    pub owner: OwnerMetadata,
    /// Where it sends traffic.
    pub targets: Targets,
}

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Targets {
    /// Not a forwarding route (redirect, direct response, ...).
    None,
    /// One named cluster (`cluster`).
    Cluster(String),
    /// A traffic split (`weighted_clusters`): the clusters, in order.
    Weighted(Vec<String>),
    /// The cluster is chosen per request from a header.
    Header(String),
    /// Some other cluster specifier (plugins).
    Other,
}

impl RouteConfigEntry {
    /// Indexes one encoded route configuration.
    pub fn read(bytes: &Bytes) -> Self {
        // Read off the wire; the same answer as decoding, without building what is not kept.
        super::scan::read(bytes).unwrap_or_else(|| Self::read_exact(bytes))
    }

    /// Read off the wire: metadata stays where it is in `bytes`.
    pub(super) fn in_place(
        name: String,
        virtual_hosts: Vec<VirtualHostEntry>,
        bytes: &Bytes,
    ) -> Self {
        Self {
            name,
            virtual_hosts: Ok(virtual_hosts),
            metadata_source: bytes.clone(),
        }
    }

    /// See [`OwnerMetadata`].
    pub(super) fn metadata_source(&self) -> &[u8] {
        &self.metadata_source
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
                    metadata_source: source.into(),
                }
            }
            Err(e) => Self {
                name: super::fallback_name(bytes),
                virtual_hosts: Err(e.to_string()),
                metadata_source: Bytes::new(),
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
            name,
            gateway: OwnerMetadata::copied(&metadata, source),
            routes: routes
                .into_iter()
                .map(|route| RouteEntry::read(route, source))
                .collect(),
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
            name,
            owner: OwnerMetadata::copied(&metadata, source),
            targets: route.map_or(Targets::None, targets),
        }
    }
}

pub(super) fn targets(action: RouteActionView) -> Targets {
    let RouteActionView {
        cluster,
        cluster_header,
        weighted_clusters,
    } = action;
    match (cluster, cluster_header, weighted_clusters) {
        (Some(cluster), _, _) => Targets::Cluster(cluster),
        (None, Some(header), _) => Targets::Header(header),
        (None, None, Some(weighted)) => {
            Targets::Weighted(weighted.clusters.into_iter().map(|c| c.name).collect())
        }
        (None, None, None) => Targets::Other,
    }
}

impl Targets {
    /// The clusters traffic goes to, and whether they are a weighted split.
    pub fn clusters(&self) -> Option<(&[String], bool)> {
        match self {
            Targets::Cluster(cluster) => Some((std::slice::from_ref(cluster), false)),
            Targets::Weighted(clusters) => Some((clusters, true)),
            Targets::None | Targets::Header(_) | Targets::Other => None,
        }
    }
}

/// Shown with the owners read, as the index answers for them; where the metadata lies is not
/// shown, so that both ways of reading a route configuration show the same.
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
            .field("name", &vhost.name)
            .field("gateway", vhost.gateway.ownership(config))
            .field("routes", &routes)
            .finish()
    }
}

impl fmt::Debug for Shown<'_, RouteEntry> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Shown(config, route) = *self;
        f.debug_struct("RouteEntry")
            .field("name", &route.name)
            .field("owner", route.owner.ownership(config))
            .field("targets", &route.targets)
            .finish()
    }
}
