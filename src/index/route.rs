//! Route side of the index: virtual hosts with their Gateway, routes with their HTTPRoute,
//! and where each route sends traffic.

use bytes::Bytes;
use prost::Message;

use super::owner_metadata::OwnerMetadata;
use crate::xds::{RouteActionView, RouteConfigurationView, RouteView, VirtualHostView};

/// One route configuration of the request.
#[derive(Debug)]
pub struct RouteConfigEntry {
    /// Name, as referenced by RDS.
    pub name: String,
    /// Its virtual hosts, or why it could not be read.
    pub virtual_hosts: Result<Vec<VirtualHostEntry>, String>,
}

/// One virtual host.
#[derive(Debug)]
pub struct VirtualHostEntry {
    /// Name.
    pub name: String,
    /// The Gateway (and listener, as section name) it was built for, read when first asked.
    pub gateway: OwnerMetadata,
    /// Its routes, in order.
    pub routes: Vec<RouteEntry>,
}

/// One route.
#[derive(Debug)]
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

    /// Indexes one encoded route configuration by decoding all of its metadata.
    pub(super) fn read_exact(bytes: &Bytes) -> Self {
        match RouteConfigurationView::decode(bytes.clone()) {
            Ok(RouteConfigurationView {
                name,
                virtual_hosts,
            }) => Self {
                name,
                virtual_hosts: Ok(virtual_hosts
                    .into_iter()
                    .map(VirtualHostEntry::read)
                    .collect()),
            },
            Err(e) => Self {
                name: super::fallback_name(bytes),
                virtual_hosts: Err(e.to_string()),
            },
        }
    }
}

impl VirtualHostEntry {
    fn read(view: VirtualHostView) -> Self {
        let VirtualHostView {
            name,
            routes,
            metadata,
        } = view;
        Self {
            name,
            gateway: OwnerMetadata::from_records(metadata),
            routes: routes.into_iter().map(RouteEntry::read).collect(),
        }
    }
}

impl RouteEntry {
    fn read(view: RouteView) -> Self {
        let RouteView {
            name,
            metadata,
            route,
        } = view;
        Self {
            name,
            owner: OwnerMetadata::from_records(metadata),
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
