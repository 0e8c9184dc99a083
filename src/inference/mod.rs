//! InferencePool backends (Gateway API Inference Extension, GIE): EG's Cluster, Route and
//! Translation hooks, which together send each request to the model server pod its pool's
//! endpoint picker (EPP) chooses.
//!
//! EG treats InferencePool as a custom backend (`extensionManager.backendResources`): it
//! builds an EDS cluster without endpoints for the rule, and hands the pool object to the
//! extension with the rule's route and cluster. Then:
//!
//! - `PostClusterModify` (`cluster`) makes that cluster `ORIGINAL_DST` on the picker's
//!   `x-gateway-destination-endpoint` header, and records the pool in its metadata;
//! - `PostRouteModify` (`route`) records the pool in the route's metadata (`metadata`);
//! - `PostTranslateModify` (`select`, `apply`) finds pool routes by that record, adds one
//!   picker filter per pool to every HCM serving them, disabled and enabled on the pool's
//!   routes only, and one picker cluster per pool (`epp`).
//!
//! Pools are recognised by the objects EG passes (`context`, [`pool`]) and by the records
//! the hook wrote, never by a resource's name. Clusters and routes without a pool come back
//! byte for byte. A pool the hook cannot serve is refused with the field at fault
//! ([`Refusal`], `INVALID_ARGUMENT`), so EG keeps its last good configuration and logs why.
//! [`flow`] runs the three hooks in EG's order, for tests and for reasoning about them.

pub(crate) mod apply;
pub(crate) mod cluster;
pub(crate) mod context;
pub(crate) mod epp;
pub mod extensions;
pub mod flow;
pub(crate) mod metadata;
pub mod pool;
pub mod report;
pub(crate) mod route;
pub(crate) mod select;

use std::fmt;

use bytes::Bytes;
use prost::Message;

use crate::config::{Config, InferenceConfig, PlacementConfig, ROUTER};
use crate::contract::{
    ExtensionResource, PostClusterExtensionContext, PostClusterModifyRequest,
    PostClusterModifyResponse, PostRouteModifyResponse,
};
use crate::index::Index;
use crate::select::Policy;
use crate::wire::WireError;
use context::{InvalidContext, ObjectKind};
use pool::PoolKey;
pub use report::Report;

/// The request header an endpoint picker names its chosen endpoint in (`<ip>:<port>`), read
/// by the pool's `ORIGINAL_DST` cluster (GIE's endpoint picker protocol).
pub const DESTINATION_HEADER: &str = "x-gateway-destination-endpoint";

/// The pool side of a configured hook, prepared once per configuration.
#[derive(Debug, Clone)]
pub struct Inference {
    config: InferenceConfig,
    /// The AI processor's filter name: the picker filters follow it.
    processor: String,
    /// The encoded `FilterConfig` that enables a disabled filter on a route.
    enable_on_route: Vec<u8>,
    /// Recognises the router, which the picker filters precede.
    router: Policy,
    finder: select::RecordFinder,
}

/// What a Route or Cluster hook call decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The resource serves this pool, and says so now.
    Pool(PoolKey),
    /// The context names no InferencePool: the resource comes back as it came.
    NoPool,
    /// The route names a pool but forwards nothing (a redirect, a direct response): it comes
    /// back as it came.
    NoRouteAction(PoolKey),
}

impl Decision {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Pool(_) => "pool",
            Decision::NoPool => "no_pool",
            Decision::NoRouteAction(_) => "no_route_action",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Pool(pool) => write!(f, "InferencePool {pool}"),
            Decision::NoPool => f.write_str("no InferencePool in the context"),
            Decision::NoRouteAction(pool) => write!(
                f,
                "InferencePool {pool}, but the route forwards nothing (redirect or direct \
                 response): unchanged"
            ),
        }
    }
}

/// A Route or Cluster hook's answer, and why.
#[derive(Debug, Clone)]
pub struct Answer<T> {
    /// What goes back to EG.
    pub response: T,
    /// What was decided.
    pub decision: Decision,
    /// Objects of other kinds in the context, ignored.
    pub ignored: Vec<ObjectKind>,
}

/// A Route or Cluster hook call the hook refuses (`INVALID_ARGUMENT`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The context is unusable (a malformed pool, two pools, not JSON).
    #[error(transparent)]
    Context(#[from] InvalidContext),
    /// The context does not decode.
    #[error("{1} context does not decode: {0}")]
    UndecodableContext(String, &'static str),
    /// The route or cluster to change does not parse.
    #[error("{what} {pool}: {source}")]
    Resource {
        /// `route` or `cluster`.
        what: &'static str,
        /// The pool it serves.
        pool: PoolKey,
        /// What is wrong.
        source: WireError,
    },
}

impl Refusal {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Context(e) => e.label(),
            Refusal::UndecodableContext(..) => "malformed_context",
            Refusal::Resource { .. } => "malformed_resource",
        }
    }
}

impl Inference {
    /// Prepares the pool side for a configuration; `enable_on_route` is the per-route config
    /// that enables a disabled filter (the processor's, shared).
    pub fn new(config: &Config, enable_on_route: &[u8]) -> Self {
        let router = PlacementConfig {
            after: Vec::new(),
            before: vec![ROUTER.to_owned()],
        };
        Self {
            config: config.inference.clone(),
            processor: config.ext_proc.filter_name.clone(),
            enable_on_route: enable_on_route.to_vec(),
            router: Policy::new(&router),
            finder: select::RecordFinder::default(),
        }
    }

    /// `PostRouteModify`'s part for pools, on a context already decoded (its
    /// `extension_resources`; `crate::Hook::post_route_modify` decodes it once for pools and
    /// policies): records the route's pool; any other route comes back as it came.
    pub(crate) fn route_with(
        &self,
        route: Option<Bytes>,
        resources: &[ExtensionResource],
    ) -> Result<Answer<PostRouteModifyResponse>, Refusal> {
        self.answer(route, resources, "route", |route, pool| {
            route::record_pool(route, pool)
        })
        .map(|answer| Answer {
            response: PostRouteModifyResponse {
                route: answer.response,
            },
            decision: answer.decision,
            ignored: answer.ignored,
        })
    }

    /// `PostClusterModify`: makes a pool's cluster `ORIGINAL_DST`; any other cluster comes
    /// back as it came.
    pub fn post_cluster_modify(
        &self,
        request: PostClusterModifyRequest,
    ) -> Result<Answer<PostClusterModifyResponse>, Refusal> {
        let PostClusterModifyRequest {
            cluster,
            post_cluster_context,
        } = request;
        let resources = decode(
            post_cluster_context,
            "PostCluster",
            |c: PostClusterExtensionContext| c.backend_extension_resources,
        )?;
        self.answer(cluster, &resources, "cluster", |cluster, pool| {
            cluster::original_dst(cluster, pool).map(Some)
        })
        .map(|answer| Answer {
            response: PostClusterModifyResponse {
                cluster: answer.response,
            },
            decision: answer.decision,
            ignored: answer.ignored,
        })
    }

    /// The shared part of both hooks: read the context, edit a pool's resource.
    fn answer(
        &self,
        resource: Option<Bytes>,
        resources: &[ExtensionResource],
        what: &'static str,
        edit: impl FnOnce(&[u8], &pool::Pool) -> Result<Option<Vec<u8>>, WireError>,
    ) -> Result<Answer<Option<Bytes>>, Refusal> {
        let backends = context::read(resources)?;
        let unchanged = |decision| Answer {
            response: resource.clone(),
            decision,
            ignored: backends.ignored.clone(),
        };
        let (Some(pool), Some(bytes)) = (&backends.pool, &resource) else {
            return Ok(unchanged(Decision::NoPool));
        };
        match edit(bytes, pool) {
            Ok(Some(edited)) => Ok(Answer {
                response: Some(Bytes::from(edited)),
                decision: Decision::Pool(pool.key.clone()),
                ignored: backends.ignored.clone(),
            }),
            Ok(None) => Ok(unchanged(Decision::NoRouteAction(pool.key.clone()))),
            Err(source) => Err(Refusal::Resource {
                what,
                pool: pool.key.clone(),
                source,
            }),
        }
    }

    /// The pool part of `PostTranslateModify`, after the AI processor's: the lists are edited
    /// in place and picker clusters appended; `index` is the request's, as it came.
    pub fn post_translate_modify(
        &self,
        listeners: &mut [Bytes],
        routes: &mut [Bytes],
        clusters: &mut Vec<Bytes>,
        index: &Index,
    ) -> Report {
        let found = self.finder.find(index);
        if found.is_empty() {
            return Report::empty(&self.config);
        }
        let select::Plan {
            pools,
            routes: pool_routes,
            chains,
        } = select::plan(found, index, clusters);
        let chains = apply::listeners(
            listeners,
            chains,
            &pools,
            &self.config,
            &self.router,
            &self.processor,
        );
        let routes = apply::route_configs(routes, pool_routes, &self.enable_on_route);
        let pickers = apply::clusters(clusters, pools, index, &self.config);
        Report {
            routes,
            chains,
            pickers,
            ..Report::empty(&self.config)
        }
    }
}

/// The objects of an encoded context (absent: none).
fn decode<C: Message + Default>(
    context: Option<Bytes>,
    hook: &'static str,
    objects: impl FnOnce(C) -> Vec<ExtensionResource>,
) -> Result<Vec<ExtensionResource>, Refusal> {
    match context {
        None => Ok(Vec::new()),
        Some(bytes) => C::decode(bytes)
            .map(objects)
            .map_err(|e| Refusal::UndecodableContext(e.to_string(), hook)),
    }
}
