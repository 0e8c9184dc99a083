//! Carrying the pool plan out on the wire: picker filters into HCMs, per-route enables into
//! route configurations, picker clusters into the cluster list.
//!
//! This runs after the AI processor was wired, on the bytes as that step left them, so the
//! listeners to edit are read again: the picker filters go right before the router, which is
//! after the AI processor wherever it was placed (the processor may rewrite the body the
//! picker chooses by). Filters and per-route entries already there are left alone, so the hook
//! stays idempotent. Routes are found again by position (virtual host, route), which the
//! processor step does not change.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;

use super::epp;
use super::pool::{Pool, PoolKey};
use super::report::{ChainChange, ChainOutcome, EppPlacement, PickerCluster, RouteChange};
use super::select::{ChainNeed, PoolRoute, RouteDecision};
use crate::config::InferenceConfig;
use crate::index::{ChainKind, HttpFilterEntry, Index};
use crate::mutate::listener::{self, ChainPatch};
use crate::mutate::{cluster, route::per_filter_config_keys};
use crate::select::{Insertion, Placement, Policy, Rule};
use crate::wire::{self, Payload, Splice, WireError};
use crate::xds::{RouteConfigurationView, RouteView, VirtualHostView, map_entry};

/// Inserts the picker filters each chain needs; one outcome per need, in order.
pub(crate) fn listeners(
    listeners: &mut [Bytes],
    needs: Vec<ChainNeed>,
    pools: &BTreeMap<PoolKey, Pool>,
    config: &InferenceConfig,
    router: &Policy,
    processor: &str,
) -> Vec<ChainOutcome> {
    let filters: BTreeMap<&PoolKey, Vec<u8>> = pools
        .iter()
        .map(|(key, pool)| (key, epp::http_filter(pool, config)))
        .collect();
    let mut by_listener: BTreeMap<usize, Vec<ChainNeed>> = BTreeMap::new();
    for need in needs {
        by_listener.entry(need.listener).or_default().push(need);
    }
    let mut outcomes = Vec::new();
    for (position, needs) in by_listener {
        match listeners.get_mut(position) {
            Some(bytes) => {
                outcomes.extend(patch_listener(bytes, needs, &filters, router, processor))
            }
            None => outcomes.extend(needs.into_iter().map(|need| ChainOutcome {
                need,
                change: ChainChange::Failed("listener not in the request".to_owned()),
            })),
        }
    }
    outcomes
}

/// A chain being patched: where the filters go, which are missing, how many went in.
struct Pending {
    need: ChainNeed,
    hcm_filter: usize,
    placement: EppPlacement,
    missing: Vec<PoolKey>,
    inserted: usize,
    failed: Option<String>,
}

fn patch_listener(
    bytes: &mut Bytes,
    needs: Vec<ChainNeed>,
    filters: &BTreeMap<&PoolKey, Vec<u8>>,
    router: &Policy,
    processor: &str,
) -> Vec<ChainOutcome> {
    let current = crate::index::read_listener(bytes);
    let mut outcomes = Vec::new();
    let mut pending = Vec::new();
    for need in needs {
        let chain = current
            .chains
            .as_ref()
            .ok()
            .and_then(|chains| chains.iter().find(|c| c.locator == need.locator));
        let Some(ChainKind::Http(http)) = chain.map(|c| &c.kind) else {
            let why = "the chain no longer holds an RDS HCM".to_owned();
            outcomes.push(ChainOutcome {
                need,
                change: ChainChange::Failed(why),
            });
            continue;
        };
        let missing: Vec<PoolKey> = need
            .pools
            .iter()
            .filter(|p| {
                let name = epp::filter_name(p);
                !http.http_filters.iter().any(|f| f.name == name)
            })
            .cloned()
            .collect();
        if missing.is_empty() {
            outcomes.push(ChainOutcome {
                need,
                change: ChainChange::Present,
            });
            continue;
        }
        pending.push(Pending {
            hcm_filter: http.filter_index,
            placement: placement(&http.http_filters, router, processor),
            missing,
            inserted: 0,
            failed: None,
            need,
        });
    }
    let rounds: BTreeSet<PoolKey> = pending.iter().flat_map(|p| p.missing.clone()).collect();
    for pool in &rounds {
        let Some(filter) = filters.get(pool) else {
            continue;
        };
        let patches: Vec<ChainPatch> = pending
            .iter()
            .filter(|p| p.failed.is_none() && p.missing.contains(pool))
            .map(|p| ChainPatch {
                locator: p.need.locator,
                hcm_filter: p.hcm_filter,
                insertion: Insertion {
                    placement: Placement {
                        index: p.placement.index + p.inserted,
                        rule: Rule::Ordered {
                            after: None,
                            before: None,
                        },
                    },
                    set_match_upstream: false,
                },
            })
            .collect();
        let patched = listener::patch(bytes, &patches, filter);
        if let Some(new_bytes) = patched.bytes {
            *bytes = Bytes::from(new_bytes);
        }
        for p in pending.iter_mut() {
            if !patches.iter().any(|patch| patch.locator == p.need.locator) {
                continue;
            }
            match patched.failed.iter().find(|(l, _)| *l == p.need.locator) {
                Some((_, e)) => p.failed = Some(e.to_string()),
                None => p.inserted += 1,
            }
        }
    }
    outcomes.extend(pending.into_iter().map(|p| ChainOutcome {
        change: match p.failed {
            Some(e) => ChainChange::Failed(e),
            None => ChainChange::Inserted {
                pools: p.missing,
                placement: p.placement,
            },
        },
        need: p.need,
    }));
    outcomes
}

/// Right before the router (the picker's choice must be made when the router picks the
/// host); before the last filter, which Envoy requires to be terminal, when no router is
/// recognised. The AI processor, when present, is named as the filter it follows.
fn placement(filters: &[HttpFilterEntry], router: &Policy, processor: &str) -> EppPlacement {
    let placed = router.placement(filters);
    let index = match placed.rule {
        Rule::Ordered {
            before: Some(_), ..
        } => placed.index,
        _ => filters.len().saturating_sub(1),
    };
    let anchor = |i: usize| filters.get(i).map(|f| (f.name.clone(), i));
    let after = filters
        .iter()
        .position(|f| f.name == processor)
        .filter(|i| *i < index)
        .and_then(anchor);
    EppPlacement {
        index,
        after,
        before: anchor(index),
    }
}

/// Enables each pool route's filter; one change per pool route, in order.
pub(crate) fn route_configs(
    routes: &mut [Bytes],
    pool_routes: Vec<PoolRoute>,
    enable_on_route: &[u8],
) -> Vec<super::report::RouteOutcome> {
    let mut by_config: BTreeMap<usize, BTreeMap<(usize, usize), String>> = BTreeMap::new();
    for route in &pool_routes {
        if let RouteDecision::Enable { pool, .. } = &route.decision {
            by_config
                .entry(route.route_config)
                .or_default()
                .insert((route.virtual_host, route.route), epp::filter_name(pool));
        }
    }
    let mut results: BTreeMap<usize, Result<BTreeSet<(usize, usize)>, String>> = BTreeMap::new();
    for (position, enable) in &by_config {
        let Some(bytes) = routes.get_mut(*position) else {
            continue;
        };
        let mut enabled = BTreeSet::new();
        let result = enable_routes(bytes, enable, enable_on_route, &mut enabled);
        results.insert(
            *position,
            match result {
                Ok(Some(new_bytes)) => {
                    *bytes = Bytes::from(new_bytes);
                    Ok(enabled)
                }
                Ok(None) => Ok(enabled),
                Err(e) => Err(e.to_string()),
            },
        );
    }
    pool_routes
        .into_iter()
        .map(|route| {
            let change = match (&route.decision, results.get(&route.route_config)) {
                (RouteDecision::Skip(_), _) => RouteChange::Skipped,
                (_, Some(Err(e))) => RouteChange::Failed(e.clone()),
                (_, Some(Ok(now))) if now.contains(&(route.virtual_host, route.route)) => {
                    RouteChange::Enabled
                }
                (_, Some(Ok(_))) => RouteChange::AlreadyEnabled,
                (_, None) => RouteChange::Failed("route configuration not in the request".into()),
            };
            super::report::RouteOutcome { route, change }
        })
        .collect()
}

/// Adds `typed_per_filter_config[<filter>]` to the routes at `enable` (virtual host, route)
/// that lack it, recording which it added.
fn enable_routes(
    route_config: &[u8],
    enable: &BTreeMap<(usize, usize), String>,
    enable_on_route: &[u8],
    enabled: &mut BTreeSet<(usize, usize)>,
) -> Result<Option<Vec<u8>>, WireError> {
    let splice = wire::splice_len_fields(route_config, |number, vh, vhost| {
        let wanted = enable.range((vh, 0)..=(vh, usize::MAX)).next().is_some();
        if number != RouteConfigurationView::VIRTUAL_HOSTS || !wanted {
            return Ok(None);
        }
        let nested = wire::splice_len_fields(vhost, |number, r, route| {
            let Some(name) = enable
                .get(&(vh, r))
                .filter(|_| number == VirtualHostView::ROUTES)
            else {
                return Ok(None);
            };
            if per_filter_config_keys(route).any(|k| k.is_ok_and(|k| k == name.as_bytes())) {
                return Ok(None);
            }
            let mut entry = Vec::with_capacity(name.len() + enable_on_route.len() + 8);
            wire::put_len(&mut entry, map_entry::KEY, name.as_bytes());
            wire::put_len(&mut entry, map_entry::VALUE, enable_on_route);
            let mut splice = Splice::new(route);
            splice.append(RouteView::TYPED_PER_FILTER_CONFIG, &entry);
            enabled.insert((vh, r));
            Ok::<_, WireError>(Some(Payload::from(splice)))
        })?;
        Ok::<_, WireError>(nested.map(Payload::from))
    })?;
    Ok(splice.map(|s| s.to_vec()))
}

/// Adds each pool's picker cluster unless one of its name is there.
pub(crate) fn clusters(
    clusters: &mut Vec<Bytes>,
    pools: BTreeMap<PoolKey, Pool>,
    index: &Index,
    config: &InferenceConfig,
) -> Vec<PickerCluster> {
    pools
        .into_values()
        .map(|pool| {
            let name = epp::cluster_name(&pool.key);
            let bytes = Bytes::from(epp::cluster(&pool, config));
            let outcome =
                cluster::ensure_processor(clusters, index.clusters.position(&name), &name, &bytes);
            PickerCluster {
                pool,
                name,
                outcome,
            }
        })
        .collect()
}
