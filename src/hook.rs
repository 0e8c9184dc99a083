//! The `PostTranslateModify` hook: index → select → mutate, and a report of why.
//!
//! Data flows one way: the index reads the request, selection decides from config + index,
//! the mutators splice the decided changes into the original bytes, and the report keeps all
//! of it for logs and `explain`. Listeners and route configurations are patched first; the
//! clusters their selected routes target are then prepared for the upstream processor. Every
//! input resource is in the response, in its input position; the processor cluster, when added,
//! is appended after the input clusters. InferencePool routes get their endpoint pickers last
//! (`crate::inference`), after the processors.
//!
//! With ProcessorPolicies in the request (`crate::policy`), the stages run once per processor,
//! each pass on the previous one's output with only its own virtual hosts open, and the passes
//! are folded into one report. Without them, the one pass is exactly the hook as it always ran.

use bytes::Bytes;

use crate::config::Config;
use prost::Message;

use crate::contract::{
    PostRouteExtensionContext, PostRouteModifyRequest, PostRouteModifyResponse,
    PostTranslateModifyRequest, PostTranslateModifyResponse,
};
use crate::index::{self, ChainKind, ClusterEntry, Index};
use crate::inference::{Answer, Inference, Refusal};
use crate::mutate::{
    Artifacts, cluster,
    listener::{self, ChainPatch},
    route,
};
use crate::policy::{self, Plan, merge::Pass};
use crate::report::{ChainFailure, Change, ClusterOutcome, Report, UpstreamReport};
use crate::select::cluster::ClusterDecision;
use crate::select::upstream::{self, Targeted};
use crate::select::{self, ChainDecision, Policy, Scope, Unscoped};

/// A configured hook: selection rules, the placement policy and the pre-encoded artefacts it
/// inserts, all prepared once from the configuration.
#[derive(Debug, Clone)]
pub struct Hook {
    config: Config,
    placement: Policy,
    artifacts: Artifacts,
    inference: Inference,
}

/// The response, and the report that explains it.
#[derive(Debug)]
pub struct Outcome {
    /// What goes back to EG.
    pub response: PostTranslateModifyResponse,
    /// Why.
    pub report: Report,
}

impl Hook {
    /// Prepares a hook for a validated configuration.
    pub fn new(config: Config) -> Self {
        let artifacts = Artifacts::new(&config.ext_proc);
        let placement = Policy::new(&config.ext_proc.placement);
        let inference = Inference::new(&config, &artifacts.enable_on_route);
        Self {
            config,
            placement,
            artifacts,
            inference,
        }
    }

    /// The InferencePool side: the Route and Cluster hooks, and its part of this one.
    pub fn inference(&self) -> &Inference {
        &self.inference
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `PostRouteModify`: the route's InferencePool recorded (`crate::inference`), then its
    /// ProcessorPolicy choice (`crate::policy::route`), from one decoding of the context. A
    /// context that does not decode, or a malformed pool, is refused: EG keeps its last good
    /// configuration.
    pub fn post_route_modify(
        &self,
        request: PostRouteModifyRequest,
    ) -> Result<Answer<PostRouteModifyResponse>, Refusal> {
        let PostRouteModifyRequest {
            route,
            post_route_context,
        } = request;
        let context = match post_route_context {
            None => PostRouteExtensionContext::default(),
            Some(bytes) => PostRouteExtensionContext::decode(bytes)
                .map_err(|e| Refusal::UndecodableContext(e.to_string(), "PostRoute"))?,
        };
        let mut answer = self
            .inference
            .route_with(route, &context.extension_resources)?;
        let route = answer.response.route.take();
        answer.response.route = policy::route::record(route, &context.extension_policies);
        Ok(answer)
    }

    /// Runs the hook on one request. Never fails: whatever cannot be read or edited is
    /// returned as it came, with the reason in the report.
    pub fn post_translate_modify(&self, request: PostTranslateModifyRequest) -> Outcome {
        let PostTranslateModifyRequest {
            post_translate_context,
            mut clusters,
            secrets,
            mut listeners,
            mut routes,
        } = request;
        let resources_in = [clusters.len(), secrets.len(), listeners.len(), routes.len()];
        let index = Index::build(&listeners, &routes, &clusters);
        let delivered = policy::delivered(post_translate_context.as_ref());
        let plan = Plan::new(&self.config.ext_proc, delivered, &index);
        let mut lists = Lists {
            clusters: &mut clusters,
            listeners: &mut listeners,
            routes: &mut routes,
        };
        // Pools last: their filters go after the processors, their clusters after theirs.
        let report = if plan.is_unscoped() {
            let pass = self.pass(&mut lists, &index, &Unscoped, &self.artifacts, true);
            let inference = (self.inference).post_translate_modify(
                &mut listeners,
                &mut routes,
                &mut clusters,
                &index,
            );
            pass.into_report(index, resources_in, inference)
        } else {
            let passes = self.scoped_passes(&mut lists, &index, &plan);
            let inference = (self.inference).post_translate_modify(
                &mut listeners,
                &mut routes,
                &mut clusters,
                &index,
            );
            let mut report =
                policy::merge::report(index, plan, passes, &self.artifacts, resources_in);
            report.inference = inference;
            report
        };
        Outcome {
            response: PostTranslateModifyResponse {
                clusters,
                secrets,
                listeners,
                routes,
            },
            report,
        }
    }

    /// One pass per processor of `plan`, each on the previous one's output: a pass that
    /// changed something moved record positions, so the next one reads a new index; after a
    /// pass that changed nothing, the same index still describes the lists.
    fn scoped_passes(&self, lists: &mut Lists<'_>, index: &Index, plan: &Plan) -> Vec<Pass> {
        let mut passes: Vec<Pass> = Vec::with_capacity(plan.processors.len());
        let mut rebuilt: Option<Index> = None;
        for (p, processor) in plan.processors.iter().enumerate() {
            if passes
                .last()
                .is_some_and(|previous| !previous.changed_nothing())
            {
                rebuilt = Some(Index::build(lists.listeners, lists.routes, lists.clusters));
            }
            let current = rebuilt.as_ref().unwrap_or(index);
            let artifacts = processor.artifacts.as_ref().unwrap_or(&self.artifacts);
            let scope = plan.scope(p);
            passes.push(self.pass(lists, current, &scope, artifacts, processor.upstream));
        }
        passes
    }

    /// One processor's pass: select within `scope`, then patch listeners, route
    /// configurations and (when `upstream`) backend clusters with `artifacts`, and add the
    /// processor cluster when anything was selected or the request carries only clusters.
    fn pass<S: Scope + ?Sized>(
        &self,
        lists: &mut Lists<'_>,
        index: &Index,
        scope: &S,
        artifacts: &Artifacts,
        upstream: bool,
    ) -> Pass {
        let decisions = select::decide(
            &self.config.selection,
            &artifacts.filter_name,
            &self.placement,
            index,
            scope,
        );
        let chain_failures =
            self.patch_listeners(lists.listeners, index, &decisions.listeners, artifacts);
        let route_changes =
            self.patch_route_configs(lists.routes, index, &decisions.route_configs, artifacts);
        let upstream = if upstream {
            self.patch_backend_clusters(
                lists.clusters,
                index,
                &decisions,
                &route_changes,
                artifacts,
            )
        } else {
            UpstreamReport::default()
        };

        let processor_needed = route_changes.iter().any(|c| *c != Change::NotSelected)
            || (lists.listeners.is_empty() && lists.routes.is_empty());
        let processor_cluster = processor_needed.then(|| {
            cluster::ensure_processor(
                lists.clusters,
                index.clusters.position(&artifacts.cluster_name),
                &artifacts.cluster_name,
                &artifacts.cluster,
            )
        });
        Pass {
            decisions,
            chain_failures,
            route_changes,
            upstream,
            processor_cluster,
        }
    }

    /// Makes the decided chain patches; returns the chains whose patch could not be made
    /// (they go back as they came).
    fn patch_listeners(
        &self,
        listeners: &mut [Bytes],
        index: &Index,
        decisions: &[Vec<ChainDecision>],
        artifacts: &Artifacts,
    ) -> Vec<ChainFailure> {
        let mut failures = Vec::new();
        let entries = index.listeners.iter().zip(decisions);
        for (li, (bytes, (entry, chain_decisions))) in listeners.iter_mut().zip(entries).enumerate()
        {
            let Ok(chains) = &entry.chains else { continue };
            let patches: Vec<ChainPatch> = chains
                .iter()
                .zip(chain_decisions.iter())
                .filter_map(|(chain, decision)| match (&chain.kind, decision) {
                    (ChainKind::Http(http), ChainDecision::Patch(insertion)) => Some(ChainPatch {
                        locator: chain.locator,
                        hcm_filter: http.filter_index,
                        insertion: insertion.clone(),
                    }),
                    _ => None,
                })
                .collect();
            if patches.is_empty() {
                continue;
            }
            let patched = listener::patch(bytes, &patches, &artifacts.http_filter);
            if let Some(new_bytes) = patched.bytes {
                *bytes = Bytes::from(new_bytes);
            }
            failures.extend(
                patched
                    .failed
                    .into_iter()
                    .map(|(locator, error)| ChainFailure {
                        listener: li,
                        locator,
                        error: error.to_string(),
                    }),
            );
        }
        failures
    }

    /// Prepares every cluster a selected route of a patched route configuration targets.
    fn patch_backend_clusters(
        &self,
        clusters: &mut [Bytes],
        index: &Index,
        decisions: &select::Decisions,
        route_changes: &[Change],
        artifacts: &Artifacts,
    ) -> UpstreamReport {
        let usable = |route_config: usize| {
            matches!(
                route_changes.get(route_config),
                Some(Change::Changed | Change::Unchanged)
            )
        };
        let Targeted {
            clusters: targeted,
            unresolved,
        } = upstream::targeted(index, decisions, usable);
        let outcomes = targeted
            .into_iter()
            .filter_map(|(position, (used_by, also_used_by))| {
                let bytes = clusters.get_mut(position)?;
                let entry = ClusterEntry::read(bytes);
                let decision = select::cluster::decide_cluster(
                    &entry,
                    &used_by,
                    &artifacts.filter_name,
                    &artifacts.cluster_name,
                );
                let change = match &decision {
                    ClusterDecision::Skip(_) => Change::NotSelected,
                    ClusterDecision::Patch(patch) => {
                        match cluster::patch_upstream(bytes, patch, &artifacts.upstream) {
                            Ok(Some(new_bytes)) => {
                                *bytes = Bytes::from(new_bytes);
                                Change::Changed
                            }
                            Ok(None) => Change::Unchanged,
                            Err(e) => Change::Failed(e.to_string()),
                        }
                    }
                };
                Some(ClusterOutcome {
                    position,
                    name: entry.map_or_else(|_| index::fallback_name(bytes), |e| e.name),
                    used_by,
                    also_used_by,
                    decision,
                    change,
                })
            })
            .collect();
        UpstreamReport {
            clusters: outcomes,
            unresolved,
        }
    }

    fn patch_route_configs(
        &self,
        routes: &mut [Bytes],
        index: &Index,
        decisions: &[select::RouteConfigDecision],
        artifacts: &Artifacts,
    ) -> Vec<Change> {
        routes
            .iter_mut()
            .zip(index.route_configs.iter().zip(decisions))
            .map(|(bytes, (entry, decision))| {
                if decision.selected == 0 {
                    return Change::NotSelected;
                }
                match route::patch(bytes, entry, decision, artifacts) {
                    Ok(Some(new_bytes)) => {
                        *bytes = Bytes::from(new_bytes);
                        Change::Changed
                    }
                    Ok(None) => Change::Unchanged,
                    Err(e) => Change::Failed(e.to_string()),
                }
            })
            .collect()
    }
}

/// The request's resource lists, edited in place by each pass.
struct Lists<'a> {
    clusters: &'a mut Vec<Bytes>,
    listeners: &'a mut Vec<Bytes>,
    routes: &'a mut Vec<Bytes>,
}
