//! EG's calling order, as one function: the Route and Cluster hooks while EG builds the xDS,
//! then `PostTranslateModify` on the result.
//!
//! `PostTranslateModify` acts on what the other two hooks wrote, so a test of it must start
//! from their output, exactly as EG produces it. EG (`internal/xds/translator`) calls, for each
//! IR route that carries extension objects, `PostRouteModify` with the route it just built,
//! then `PostClusterModify` for each cluster the route sends to, the first time that cluster is
//! built (a cluster shared by several routes is modified once); the objects are the same in
//! both calls. Then it calls `PostTranslateModify` with every resource. [`run`] does that on a
//! request holding the resources as EG built them, before any hook.
//!
//! Routes are named by position, so this function reads no names to decide anything; the
//! names in [`Call`] are for reports.

use std::collections::BTreeSet;
use std::fmt;

use bytes::Bytes;
use prost::Message;

use super::{DESTINATION_HEADER, Decision, Refusal};
use crate::contract::{
    ExtensionResource, PostClusterExtensionContext, PostClusterModifyRequest,
    PostRouteExtensionContext, PostRouteModifyRequest, PostTranslateModifyRequest,
};
use crate::hook::{Hook, Outcome};
use crate::index::Index;
use crate::wire::{self, WireError};
use crate::xds::{RouteConfigurationView, VirtualHostView};

/// An IR route EG translated with extension objects (its `extensionRefs`, which include the
/// custom backends of its rule), and where its xDS route is in the request.
#[derive(Debug, Clone)]
pub struct ExtendedRoute {
    /// Position of the route configuration.
    pub route_config: usize,
    /// Position of the virtual host in it.
    pub virtual_host: usize,
    /// Position of the route in the virtual host.
    pub route: usize,
    /// The objects, as EG marshals them (JSON).
    pub objects: Vec<Bytes>,
}

/// Which per-resource hook was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookName {
    /// `PostRouteModify`.
    Route,
    /// `PostClusterModify`.
    Cluster,
}

impl fmt::Display for HookName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HookName::Route => "PostRouteModify",
            HookName::Cluster => "PostClusterModify",
        })
    }
}

/// One per-resource hook call, in the order made.
#[derive(Debug, Clone)]
pub struct Call {
    /// Which hook.
    pub hook: HookName,
    /// The resource's name, for reports.
    pub resource: String,
    /// What the hook decided.
    pub decision: Decision,
    /// Objects of other kinds in the context, which the hook ignored.
    pub ignored: Vec<super::context::ObjectKind>,
}

/// The three hooks' work on one translation.
#[derive(Debug)]
pub struct Translation {
    /// The Route and Cluster hook calls, in order.
    pub calls: Vec<Call>,
    /// What `PostTranslateModify` was given: EG's resources with those hooks' changes.
    pub request: PostTranslateModifyRequest,
    /// What `PostTranslateModify` answered, and why.
    pub outcome: Outcome,
}

impl Translation {
    /// The calls as an `explain`-style table, then `PostTranslateModify`'s own explanation.
    pub fn explain(&self, route_annotation: &str) -> String {
        let mut out = String::from("ROUTE AND CLUSTER HOOKS (EG's order)\n");
        let rows: Vec<[String; 3]> = self
            .calls
            .iter()
            .map(|c| {
                let done = match (&c.decision, c.hook) {
                    (Decision::Pool(_), HookName::Route) => {
                        ": recorded in its metadata, auto_host_rewrite false".to_owned()
                    }
                    (Decision::Pool(_), HookName::Cluster) => {
                        format!(": ORIGINAL_DST on {DESTINATION_HEADER}, recorded in its metadata")
                    }
                    _ => String::new(),
                };
                let ignored = c
                    .ignored
                    .iter()
                    .map(|k| format!("; ignored {k}"))
                    .collect::<String>();
                [
                    c.hook.to_string(),
                    c.resource.clone(),
                    format!("{}{done}{ignored}", c.decision),
                ]
            })
            .collect();
        let rows: Vec<[&str; 3]> = rows
            .iter()
            .map(|r| r.each_ref().map(String::as_str))
            .collect();
        crate::report::table::table(&mut out, &["hook", "resource", "decision"], &rows);
        out.push('\n');
        out.push_str(&self.outcome.report.explain(route_annotation));
        out
    }
}

/// Why EG's order could not be played through.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// A route position that is not in the request.
    #[error("route_configs[{0}] virtual_hosts[{1}] routes[{2}] is not in the request")]
    NoSuchRoute(usize, usize, usize),
    /// A hook refused a call, as EG would be told.
    #[error("{hook} on {resource}: {refusal}")]
    Refused {
        /// Which hook.
        hook: HookName,
        /// The resource.
        resource: String,
        /// Why.
        refusal: Refusal,
    },
    /// A hook's answer could not be put back in place.
    #[error("putting back {0}: {1}")]
    Splice(String, WireError),
}

/// Calls the Route and Cluster hooks as EG does for `routes`, then `PostTranslateModify`.
pub fn run(
    hook: &Hook,
    mut request: PostTranslateModifyRequest,
    routes: &[ExtendedRoute],
) -> Result<Translation, FlowError> {
    let index = Index::build(&request.listeners, &request.routes, &request.clusters);
    let mut calls = Vec::new();
    let mut built: BTreeSet<usize> = BTreeSet::new();
    for extended in routes {
        let ExtendedRoute {
            route_config: rc,
            virtual_host: vh,
            route: r,
            objects,
        } = extended;
        let missing = || FlowError::NoSuchRoute(*rc, *vh, *r);
        let entry = index.route_configs.get(*rc).ok_or_else(missing)?;
        let route_entry = entry
            .virtual_hosts
            .as_ref()
            .ok()
            .and_then(|v| v.get(*vh)?.routes.get(*r))
            .ok_or_else(missing)?;
        let config_bytes = request.routes.get(*rc).ok_or_else(missing)?;
        let route_bytes = nth_route(config_bytes, *vh, *r).ok_or_else(missing)?;
        let resources: Vec<ExtensionResource> = objects
            .iter()
            .map(|o| ExtensionResource {
                unstructured_bytes: o.clone(),
            })
            .collect();
        let name = format!("route {:?}", entry.text(route_entry.name));
        let context = PostRouteExtensionContext {
            extension_resources: resources.clone(),
            ..Default::default()
        };
        let answer = hook
            .post_route_modify(PostRouteModifyRequest {
                route: Some(Bytes::copy_from_slice(route_bytes)),
                post_route_context: Some(context.encode_to_vec().into()),
            })
            .map_err(|refusal| FlowError::Refused {
                hook: HookName::Route,
                resource: name.clone(),
                refusal,
            })?;
        if let Some(new_route) = answer.response.route.filter(|b| b.as_ref() != route_bytes) {
            let replaced = replace_route(config_bytes, *vh, *r, &new_route)
                .map_err(|e| FlowError::Splice(name.clone(), e))?;
            if let Some(slot) = request.routes.get_mut(*rc) {
                *slot = Bytes::from(replaced);
            }
        }
        calls.push(Call {
            hook: HookName::Route,
            resource: name,
            decision: answer.decision,
            ignored: answer.ignored,
        });
        let targets = route_entry
            .targets
            .clusters()
            .map(|(t, _)| t)
            .unwrap_or_default();
        for target in targets {
            let name = entry.text(*target);
            let Some(position) = index.clusters.position(name) else {
                continue;
            };
            if !built.insert(position) {
                continue;
            }
            let Some(slot) = request.clusters.get_mut(position) else {
                continue;
            };
            let context = PostClusterExtensionContext {
                backend_extension_resources: resources.clone(),
            };
            let resource = format!("cluster {name:?}");
            let answer = hook
                .inference()
                .post_cluster_modify(PostClusterModifyRequest {
                    cluster: Some(slot.clone()),
                    post_cluster_context: Some(context.encode_to_vec().into()),
                })
                .map_err(|refusal| FlowError::Refused {
                    hook: HookName::Cluster,
                    resource: resource.clone(),
                    refusal,
                })?;
            if let Some(cluster) = answer.response.cluster {
                *slot = cluster;
            }
            calls.push(Call {
                hook: HookName::Cluster,
                resource,
                decision: answer.decision,
                ignored: answer.ignored,
            });
        }
    }
    let outcome = hook.post_translate_modify(request.clone());
    Ok(Translation {
        calls,
        request,
        outcome,
    })
}

/// The encoded route at (virtual host `vh`, route `r`) of a route configuration.
fn nth_route(route_config: &[u8], vh: usize, r: usize) -> Option<&[u8]> {
    let vhost = wire::len_payloads(route_config, RouteConfigurationView::VIRTUAL_HOSTS)
        .nth(vh)?
        .ok()?;
    wire::len_payloads(vhost, VirtualHostView::ROUTES)
        .nth(r)?
        .ok()
}

/// The route configuration with the route at (`vh`, `r`) replaced by `route`.
fn replace_route(
    route_config: &[u8],
    vh: usize,
    r: usize,
    route: &[u8],
) -> Result<Vec<u8>, WireError> {
    let replaced = wire::rewrite_len_fields(route_config, |number, v, vhost| {
        if number != RouteConfigurationView::VIRTUAL_HOSTS || v != vh {
            return Ok(None);
        }
        wire::rewrite_len_fields(vhost, |number, i, _| {
            Ok::<_, WireError>(
                (number == VirtualHostView::ROUTES && i == r).then(|| route.to_vec()),
            )
        })
    })?;
    Ok(replaced.unwrap_or_else(|| route_config.to_vec()))
}
