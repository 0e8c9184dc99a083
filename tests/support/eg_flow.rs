//! Test inputs for EG's calling order (`xds_hook::inference::flow`): which routes carry which
//! extension objects, written as EG's IR holds them.
//!
//! A golden case with InferencePool backends has, beside `input.yaml` (the resources as EG
//! builds them, before any hook), an `extensions.yaml`:
//!
//! ```yaml
//! - route: httproute/default/llm/rule/0/match/0/*   # every xDS route of that name
//!   objects:                                       # the IR route's extensionRefs
//!   - {apiVersion: inference.networking.k8s.io/v1, kind: InferencePool, ...}
//! ```
//!
//! Routes are named here because that is how a person writes a test; the library is given
//! positions. A name matches every route of that name (EG names a route the same in every
//! listener's route configuration, and translates it once per listener).

use std::path::Path;

use serde::Deserialize;
use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::index::Index;
use xds_hook::inference::flow::{self, ExtendedRoute, Translation};
use xds_hook::{Config, Hook};

/// One entry of `extensions.yaml`.
#[derive(Debug, Deserialize)]
struct Extended {
    route: String,
    objects: Vec<serde_json::Value>,
}

/// The case's `extensions.yaml`, if it has one.
pub fn extensions_path(dir: &Path) -> Option<std::path::PathBuf> {
    Some(dir.join("extensions.yaml")).filter(|p| p.exists())
}

/// The routes of `request` that `extensions` names, with their objects as EG marshals them.
pub fn extended_routes(
    request: &PostTranslateModifyRequest,
    extensions: &Path,
) -> Vec<ExtendedRoute> {
    let text = std::fs::read_to_string(extensions).unwrap();
    let entries: Vec<Extended> =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", extensions.display()));
    let index = Index::build(&request.listeners, &request.routes, &request.clusters);
    let mut routes = Vec::new();
    for entry in entries {
        let objects: Vec<bytes::Bytes> = entry
            .objects
            .iter()
            .map(|o| serde_json::to_vec(o).unwrap().into())
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
        assert!(routes.len() > before, "no route named {:?}", entry.route);
    }
    routes
}

/// Runs the three hooks in EG's order on `request` with the case's extensions.
pub fn run(hook: &Hook, request: PostTranslateModifyRequest, extensions: &Path) -> Translation {
    let routes = extended_routes(&request, extensions);
    flow::run(hook, request, &routes).unwrap_or_else(|e| panic!("{}: {e}", extensions.display()))
}

/// A golden case's final response: through EG's order when the case has `extensions.yaml`,
/// else `PostTranslateModify` alone.
pub fn golden_response(
    config: Config,
    dir: &Path,
    request: PostTranslateModifyRequest,
) -> PostTranslateModifyResponse {
    let hook = Hook::new(config);
    match extensions_path(dir) {
        Some(extensions) => run(&hook, request, &extensions).outcome.response,
        None => hook.post_translate_modify(request).response,
    }
}
