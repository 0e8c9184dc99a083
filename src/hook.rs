//! The `PostTranslateModify` hook: index → select → mutate, and a report of why.
//!
//! Data flows one way: the index reads the request, selection decides from config + index,
//! the mutators splice the decided changes into the original bytes, and the report keeps all
//! of it for logs and `explain`. Every input resource is in the response, in its input position;
//! the processor cluster, when added, is appended after the input clusters.

use bytes::Bytes;

use crate::config::Config;
use crate::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use crate::index::{ChainKind, Index};
use crate::mutate::{
    Artifacts, cluster,
    listener::{self, ChainPatch},
    route,
};
use crate::report::{Change, Report};
use crate::select::{self, ChainDecision, ChainSkip};

/// A configured hook: selection rules and the pre-encoded artefacts it inserts.
#[derive(Debug, Clone)]
pub struct Hook {
    config: Config,
    artifacts: Artifacts,
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
        Self { config, artifacts }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs the hook on one request. Never fails: whatever cannot be read or edited is
    /// returned as it came, with the reason in the report.
    pub fn post_translate_modify(&self, request: PostTranslateModifyRequest) -> Outcome {
        let PostTranslateModifyRequest {
            post_translate_context: _,
            mut clusters,
            secrets,
            mut listeners,
            mut routes,
        } = request;
        let resources_in = [clusters.len(), secrets.len(), listeners.len(), routes.len()];
        let index = Index::build(&listeners, &routes, &clusters);
        let mut decisions =
            select::decide(&self.config.selection, &self.artifacts.filter_name, &index);
        self.patch_listeners(&mut listeners, &index, &mut decisions.listeners);
        let route_changes = self.patch_route_configs(&mut routes, &decisions.route_configs);

        let processor_needed = route_changes.iter().any(|c| *c != Change::NotSelected)
            || (listeners.is_empty() && routes.is_empty());
        let processor_cluster = processor_needed.then(|| {
            cluster::ensure_processor(
                &mut clusters,
                &self.artifacts.cluster_name,
                &self.artifacts.cluster,
            )
        });

        let report = Report {
            index,
            decisions,
            route_changes,
            processor_cluster,
            resources_in,
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

    fn patch_listeners(
        &self,
        listeners: &mut [Bytes],
        index: &Index,
        decisions: &mut [Vec<ChainDecision>],
    ) {
        let entries = index.listeners.iter().zip(decisions.iter_mut());
        for (bytes, (entry, chain_decisions)) in listeners.iter_mut().zip(entries) {
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
            let patched = listener::patch(bytes, &patches, &self.artifacts.http_filter);
            if let Some(new_bytes) = patched.bytes {
                *bytes = Bytes::from(new_bytes);
            }
            for (locator, error) in patched.failed {
                let failed = chains.iter().position(|c| c.locator == locator);
                if let Some(decision) = failed.and_then(|i| chain_decisions.get_mut(i)) {
                    *decision = ChainDecision::Skip(ChainSkip::Unpatchable(error.to_string()));
                }
            }
        }
    }

    fn patch_route_configs(
        &self,
        routes: &mut [Bytes],
        decisions: &[select::RouteConfigDecision],
    ) -> Vec<Change> {
        routes
            .iter_mut()
            .zip(decisions)
            .map(|(bytes, decision)| {
                if decision.selected == 0 {
                    return Change::NotSelected;
                }
                match route::patch(bytes, decision, &self.artifacts) {
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
