//! `extensions.yaml`: which routes of a captured request carry which extension objects, so a
//! golden case can play EG's calling order ([`super::flow`]) from the resources as EG built
//! them, before any hook.
//!
//! ```yaml
//! - route: httproute/default/llm/rule/0/match/0/*   # every xDS route of that name
//!   objects:                                       # the IR route's extensionRefs
//!   - {apiVersion: inference.networking.k8s.io/v1, kind: InferencePool, ...}
//! ```
//!
//! Routes are named here because that is how a person writes a test; [`super::flow::run`] is
//! given positions. A name matches every route of that name (EG names a route the same in
//! every listener's route configuration, and translates it once per listener).

use bytes::Bytes;
use serde::Deserialize;

use super::flow::ExtendedRoute;
use crate::contract::PostTranslateModifyRequest;
use crate::index::Index;

/// The file's name in a golden case.
pub const FILE: &str = "extensions.yaml";

/// One entry of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    route: String,
    objects: Vec<serde_json::Value>,
}

/// Why the file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ExtensionsError {
    /// It cannot be read.
    #[error(transparent)]
    Read(#[from] std::io::Error),
    /// Not a list of `{route, objects}`.
    #[error("{0}")]
    Yaml(String),
    /// An entry names no route of the request.
    #[error("[{index}].route: no route named {route:?} in the request")]
    NoRoute {
        /// The entry's position.
        index: usize,
        /// The name it gave.
        route: String,
    },
}

/// The routes of `request` that `yaml` names, with their objects as EG marshals them (JSON).
pub fn extended_routes(
    yaml: &str,
    request: &PostTranslateModifyRequest,
) -> Result<Vec<ExtendedRoute>, ExtensionsError> {
    let entries: Vec<Entry> =
        serde_saphyr::from_str(yaml).map_err(|e| ExtensionsError::Yaml(e.to_string()))?;
    let index = Index::build(&request.listeners, &request.routes, &request.clusters);
    let mut routes = Vec::new();
    for (at, entry) in entries.into_iter().enumerate() {
        let objects: Vec<Bytes> = entry
            .objects
            .iter()
            .map(|o| Bytes::from(o.to_string()))
            .collect();
        let before = routes.len();
        for (rc, config) in index.route_configs.iter().enumerate() {
            let Ok(vhosts) = &config.virtual_hosts else {
                continue;
            };
            for (vh, vhost) in vhosts.iter().enumerate() {
                for (r, route) in vhost.routes.iter().enumerate() {
                    if config.text(route.name) == entry.route {
                        routes.push(ExtendedRoute {
                            route_config: rc,
                            virtual_host: vh,
                            route: r,
                            objects: objects.clone(),
                        });
                    }
                }
            }
        }
        if routes.len() == before {
            return Err(ExtensionsError::NoRoute {
                index: at,
                route: entry.route,
            });
        }
    }
    Ok(routes)
}
