//! Which routes serve pools, which HCMs need which picker filters, and whether each pool
//! route's cluster was prepared for it: decisions for `PostTranslateModify`, from metadata.
//!
//! A pool route is one whose metadata carries the pool record the Route hook wrote. Most
//! requests have none, so a route configuration whose bytes do not contain the record's
//! namespace anywhere is not looked into (protobuf writes a map key's bytes as they are, so
//! its absence proves there is no record); only the routes of the others have their metadata
//! searched, and only those that mention it are decoded. An HCM needs a pool's filter when its
//! route configuration has one of the pool's routes. A pool route's cluster should carry the
//! Cluster hook's record of the same pool; when it does not, the route is still enabled (the
//! picker runs), and the report says why its requests will not reach the pod it chose.

use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use memchr::memmem::Finder;

use super::metadata::{self, InvalidRecord};
use super::pool::{Pool, PoolKey};
use crate::index::{ChainKind, ChainLocator, Index, RouteConfigEntry, RouteEntry};
use crate::xds::ClusterView;

/// Every decision about pools for one request.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The pools with at least one route to enable, by identity.
    pub pools: BTreeMap<PoolKey, Pool>,
    /// Every route with a pool record, in request order.
    pub routes: Vec<PoolRoute>,
    /// Every HCM serving pool routes, with the pools whose filters it needs.
    pub chains: Vec<ChainNeed>,
}

/// A route whose metadata records a pool, where it is in the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolRoute {
    /// Position of its route configuration.
    pub route_config: usize,
    /// Position of its virtual host.
    pub virtual_host: usize,
    /// Its position in the virtual host.
    pub route: usize,
    /// What happens to it.
    pub decision: RouteDecision,
}

/// What happens to a pool route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteDecision {
    /// Its pool's filter is enabled on it; `clusters` are the clusters it sends to, each
    /// recorded for the pool, or what is wrong with them.
    Enable {
        /// The pool.
        pool: PoolKey,
        /// Its clusters, checked.
        clusters: Result<Vec<String>, ClusterProblem>,
    },
    /// Left as it is.
    Skip(RouteSkip),
}

/// Why a pool route is left as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteSkip {
    /// Its pool record cannot be read.
    InvalidRecord(InvalidRecord),
    /// It records a pool an earlier route records with another picker.
    Conflict(PoolKey),
}

impl fmt::Display for RouteSkip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteSkip::InvalidRecord(e) => write!(f, "pool record unreadable: {e}"),
            RouteSkip::Conflict(pool) => write!(
                f,
                "records pool {pool} with another endpoint picker than an earlier route; \
                 the earlier one is kept"
            ),
        }
    }
}

/// Why a pool route's requests will not go where its picker says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterProblem {
    /// The route picks no cluster by name (a redirect, a header, a plugin).
    NoCluster,
    /// It names a cluster the request lacks.
    Missing(String),
    /// The cluster has no pool record: EG did not call the Cluster hook for it.
    Unrecorded(String),
    /// The cluster is recorded for another pool.
    OtherPool(String, PoolKey),
    /// The cluster's record cannot be read.
    InvalidRecord(String, InvalidRecord),
}

impl fmt::Display for ClusterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterProblem::NoCluster => f.write_str("the route names no cluster"),
            ClusterProblem::Missing(c) => write!(f, "cluster {c:?} is not in the request"),
            ClusterProblem::Unrecorded(c) => write!(
                f,
                "cluster {c:?} was not prepared for the pool (no ORIGINAL_DST record): is \
                 Cluster in EG's hooks.xdsTranslator.post?"
            ),
            ClusterProblem::OtherPool(c, other) => {
                write!(f, "cluster {c:?} is prepared for pool {other}")
            }
            ClusterProblem::InvalidRecord(c, e) => write!(f, "cluster {c:?}: {e}"),
        }
    }
}

/// An HCM whose route configuration has pool routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainNeed {
    /// Position of its listener.
    pub listener: usize,
    /// Its chain.
    pub locator: ChainLocator,
    /// The pools whose filters it needs, in order.
    pub pools: Vec<PoolKey>,
}

/// A route whose metadata mentions the pool record's namespace, and what the record says.
#[derive(Debug)]
pub(crate) struct Found {
    route_config: usize,
    virtual_host: usize,
    route: usize,
    record: Result<Option<Pool>, InvalidRecord>,
}

/// The byte search that decides which routes are read; built once per hook.
#[derive(Debug, Clone)]
pub(crate) struct RecordFinder(Finder<'static>);

impl Default for RecordFinder {
    fn default() -> Self {
        Self(Finder::new(metadata::NAMESPACE))
    }
}

impl RecordFinder {
    /// Every route with a pool record (or one that cannot be read), in request order.
    /// ([`Index::routes_mentioning`]).
    pub(crate) fn find(&self, index: &Index) -> Vec<Found> {
        index
            .routes_mentioning(&self.0)
            .map(|((route_config, virtual_host, route), metadata)| Found {
                route_config,
                virtual_host,
                route,
                record: metadata::read(metadata),
            })
            .collect()
    }
}

/// Decides what happens to every route found, and which HCMs need which filters.
pub(crate) fn plan(found: Vec<Found>, index: &Index, clusters: &[Bytes]) -> Plan {
    let mut plan = Plan::default();
    for Found {
        route_config,
        virtual_host,
        route,
        record,
    } in found
    {
        let decision = match record {
            Ok(None) => continue,
            Err(e) => RouteDecision::Skip(RouteSkip::InvalidRecord(e)),
            Ok(Some(pool)) => match plan.pools.get(&pool.key) {
                Some(first) if *first != pool => RouteDecision::Skip(RouteSkip::Conflict(pool.key)),
                _ => {
                    let entry = index.route_configs.get(route_config);
                    let route_entry = entry.and_then(|rc| {
                        rc.virtual_hosts
                            .as_ref()
                            .ok()?
                            .get(virtual_host)?
                            .routes
                            .get(route)
                    });
                    let clusters = match (entry, route_entry) {
                        (Some(rc), Some(r)) => check_clusters(index, clusters, rc, r, &pool.key),
                        _ => Err(ClusterProblem::NoCluster),
                    };
                    let key = pool.key.clone();
                    plan.pools.entry(key.clone()).or_insert(pool);
                    RouteDecision::Enable {
                        pool: key,
                        clusters,
                    }
                }
            },
        };
        plan.routes.push(PoolRoute {
            route_config,
            virtual_host,
            route,
            decision,
        });
    }
    plan.chains = chains(index, &plan.routes);
    plan
}

/// The pools whose routes each route configuration holds, by position.
fn pools_by_route_config(routes: &[PoolRoute]) -> BTreeMap<usize, Vec<PoolKey>> {
    let mut by_config: BTreeMap<usize, Vec<PoolKey>> = BTreeMap::new();
    for route in routes {
        if let RouteDecision::Enable { pool, .. } = &route.decision {
            let pools = by_config.entry(route.route_config).or_default();
            if !pools.contains(pool) {
                pools.push(pool.clone());
            }
        }
    }
    by_config
}

fn chains(index: &Index, routes: &[PoolRoute]) -> Vec<ChainNeed> {
    let by_config = pools_by_route_config(routes);
    if by_config.is_empty() {
        return Vec::new();
    }
    let mut needs = Vec::new();
    for (l, listener) in index.listeners.iter().enumerate() {
        let Ok(chains) = &listener.chains else {
            continue;
        };
        for chain in chains {
            let ChainKind::Http(http) = &chain.kind else {
                continue;
            };
            let mut pools: Vec<PoolKey> = index
                .route_configs_named(&http.route_config)
                .filter_map(|rc| by_config.get(&rc))
                .flatten()
                .cloned()
                .collect();
            pools.sort();
            pools.dedup();
            if !pools.is_empty() {
                needs.push(ChainNeed {
                    listener: l,
                    locator: chain.locator,
                    pools,
                });
            }
        }
    }
    needs
}

/// The clusters a pool route sends to, each of which must be recorded for `pool`.
fn check_clusters(
    index: &Index,
    clusters: &[Bytes],
    rc: &RouteConfigEntry,
    route: &RouteEntry,
    pool: &PoolKey,
) -> Result<Vec<String>, ClusterProblem> {
    let (targets, _) = route.targets.clusters().ok_or(ClusterProblem::NoCluster)?;
    let mut names = Vec::with_capacity(targets.len());
    for target in targets {
        let name = rc.text(*target).to_owned();
        let Some(bytes) = index.clusters.position(&name).and_then(|p| clusters.get(p)) else {
            return Err(ClusterProblem::Missing(name));
        };
        match metadata::read_field(bytes, ClusterView::METADATA) {
            Ok(Some(recorded)) if recorded.key == *pool => names.push(name),
            Ok(Some(recorded)) => return Err(ClusterProblem::OtherPool(name, recorded.key)),
            Ok(None) => return Err(ClusterProblem::Unrecorded(name)),
            Err(e) => return Err(ClusterProblem::InvalidRecord(name, e)),
        }
    }
    Ok(names)
}
