//! Which policy decides each virtual host, which processor serves it, and what became of every
//! delivered policy.
//!
//! A virtual host belongs to the Gateway, and listener, that EG recorded in its metadata
//! (`kind: Gateway`, `sectionName`: the listener); nothing is read from names. A policy counts
//! for it only where EG's status says `Accepted: "True"` for that Gateway (listener-level:
//! with that `sectionName`). Precedence: a listener's policy over its Gateway's policy over the
//! configuration file; among policies at one level, the oldest (`creationTimestamp`), then by
//! namespace and name, as Gateway API resolves conflicts. The others are reported superseded.
//!
//! The deciding policy's `routes` gives the virtual host's [`Gate`]. An invalid policy still
//! decides: its virtual hosts stay unprocessed, with the error, rather than fall to a processor
//! it did not name. Each policy with settings of its own gets a processor ([`super::processor`]),
//! and selection runs once per processor ([`Plan::scope`]), the configuration's first.

use std::collections::{BTreeMap, BTreeSet};

use super::choice::{self, RouteChoices};
use super::error::PolicyError;
use super::object::{Delivered, Policy};
use super::processor::{self, Processor, Source};
use super::spec::{Routes, Spec};
use super::status::{Acceptance, GatewayRef, Target};
use super::verdict::{Decider, Verdict, verdicts};
use crate::config::ExtProcConfig;
use crate::index::{Index, Ownership, RouteConfigEntry, VirtualHostEntry};
use crate::policy::RouteChoice;
use crate::select::{Excluded, Gate, NotSelected, Scope};

/// Everything decided about policies for one request.
#[derive(Debug)]
pub struct Plan {
    /// What each `extension_resources` entry is.
    pub delivered: Vec<Delivered>,
    /// The processors, one pass each; the configuration's is first.
    pub processors: Vec<Processor>,
    /// Per route configuration, per virtual host: who decides it, in which pass, how.
    pub vhosts: Vec<Vec<VhostPlan>>,
    /// The choices recorded on routes by `PostRouteModify`.
    pub choices: RouteChoices,
    /// What became of each delivered policy, for `explain` and the logs.
    pub verdicts: Vec<Verdict>,
}

/// The plan for one virtual host.
#[derive(Debug, Clone)]
pub struct VhostPlan {
    /// Who decides it.
    pub source: Source,
    /// The processor whose pass decides it.
    pub pass: usize,
    /// Its gate in that pass.
    pub gate: Gate,
}

impl Plan {
    /// Plans a request: `delivered` are its policies, `index` its resources.
    pub fn new(ext_proc: &ExtProcConfig, delivered: Vec<Delivered>, index: &Index) -> Self {
        // Without policies no virtual host's Gateway is read: the configuration decides all.
        let targets: Vec<Vec<Option<Target>>> = if delivered.is_empty() {
            Vec::new()
        } else {
            index
                .route_configs
                .iter()
                .map(|rc| match &rc.virtual_hosts {
                    Ok(vhosts) => vhosts.iter().map(|v| vhost_target(rc, v)).collect(),
                    Err(_) => Vec::new(),
                })
                .collect()
        };
        let mut order: Vec<(usize, &Policy)> = delivered
            .iter()
            .enumerate()
            .filter_map(|(i, d)| Some((i, d.policy()?)))
            .collect();
        order.sort_by(|a, b| a.1.precedence().cmp(&b.1.precedence()));

        let mut deciders: BTreeMap<Target, Decider> = BTreeMap::new();
        for target in targets.iter().flatten().flatten() {
            deciders
                .entry(target.clone())
                .or_insert_with(|| decider(&order, target));
        }

        let mut processors = vec![Processor {
            source: Source::Config,
            artifacts: None,
            upstream: true,
        }];
        let clusters_only = index.listeners.is_empty() && index.route_configs.is_empty();
        let mut passes: BTreeMap<usize, Result<usize, PolicyError>> = BTreeMap::new();
        let deciding: BTreeSet<usize> = deciders.values().flatten().map(|(i, _)| *i).collect();
        for (i, policy) in &order {
            let serves = deciding.contains(i) || (clusters_only && policy.counts_anywhere());
            if serves && let Ok(spec) = &policy.spec {
                if spec.routes == Routes::None {
                    continue;
                }
                passes.insert(*i, processor_for(ext_proc, policy, spec, &mut processors));
            }
        }

        let vhosts = targets
            .iter()
            .map(|vhs| {
                vhs.iter()
                    .map(|target| {
                        let decided = target.as_ref().and_then(|t| deciders.get(t)).cloned();
                        vhost_plan(&delivered, &passes, decided.flatten())
                    })
                    .collect()
            })
            .collect();
        let verdicts = verdicts(&delivered, &targets, &deciders, clusters_only);
        Self {
            choices: choice::route_choices(index),
            delivered,
            processors,
            vhosts,
            verdicts,
        }
    }

    /// Whether the configuration alone decides: no policy delivered, no route choice.
    pub fn is_unscoped(&self) -> bool {
        self.delivered.is_empty() && self.choices.is_empty()
    }

    /// The scope of processor `pass`'s selection.
    pub fn scope(&self, pass: usize) -> PassScope<'_> {
        PassScope { plan: self, pass }
    }

    /// The plan of one virtual host, if the index has it.
    pub fn vhost(&self, route_config: usize, virtual_host: usize) -> Option<&VhostPlan> {
        self.vhosts.get(route_config)?.get(virtual_host)
    }
}

/// One processor's view: its own virtual hosts open as planned, every other one closed.
#[derive(Debug, Clone, Copy)]
pub struct PassScope<'a> {
    plan: &'a Plan,
    pass: usize,
}

impl Scope for PassScope<'_> {
    fn gate(&self, route_config: usize, virtual_host: usize) -> Gate {
        match self.plan.vhost(route_config, virtual_host) {
            Some(v) if v.pass == self.pass => v.gate.clone(),
            None if self.pass == 0 => Gate::Config,
            _ => Gate::Closed(NotSelected::Policy(Excluded::OtherProcessor)),
        }
    }

    fn route_choice(
        &self,
        route_config: usize,
        virtual_host: usize,
        route: usize,
    ) -> Option<&RouteChoice> {
        self.plan.choices.get(&(route_config, virtual_host, route))
    }
}

/// The Gateway and listener EG recorded on a virtual host.
fn vhost_target(rc: &RouteConfigEntry, vhost: &VirtualHostEntry) -> Option<Target> {
    match vhost.gateway.ownership(rc) {
        Ownership::Owned(owner) if owner.kind == "Gateway" => Some(Target {
            gateway: GatewayRef {
                namespace: owner.namespace.clone(),
                name: owner.name.clone(),
            },
            section: owner.section_name.clone(),
        }),
        _ => None,
    }
}

/// The policy deciding `target`: its listener's, else its Gateway's, each the first in
/// precedence order that EG accepted there.
fn decider(order: &[(usize, &Policy)], target: &Target) -> Decider {
    let gateway = Target {
        gateway: target.gateway.clone(),
        section: None,
    };
    let levels = target.section.is_some().then_some(target).into_iter();
    levels.chain([&gateway]).find_map(|level| {
        order
            .iter()
            .find(|(_, policy)| accepted_at(policy, level))
            .map(|(i, _)| (*i, level.clone()))
    })
}

/// Whether EG accepted `policy` for exactly `target`.
pub(super) fn accepted_at(policy: &Policy, target: &Target) -> bool {
    policy.ancestors.iter().any(|a| {
        a.acceptance == Acceptance::Accepted
            && a.gateway == target.gateway
            && a.section == target.section
    })
}

/// The pass serving a valid policy's virtual hosts: a processor of its own when it sets one,
/// the configuration's otherwise (without upstream filters when it turns them off).
fn processor_for(
    ext_proc: &ExtProcConfig,
    policy: &Policy,
    spec: &Spec,
    processors: &mut Vec<Processor>,
) -> Result<usize, PolicyError> {
    let wanted = if spec.has_own_processor() {
        Processor {
            source: Source::Policy(policy.id.clone()),
            artifacts: Some(processor::build(ext_proc, &policy.id, spec)),
            upstream: spec.upstream_filters,
        }
    } else if spec.upstream_filters {
        return Ok(0);
    } else {
        Processor {
            source: Source::Config,
            artifacts: None,
            upstream: false,
        }
    };
    let shared = processors.iter().position(|p| {
        p.artifacts.is_none() && wanted.artifacts.is_none() && p.upstream == wanted.upstream
    });
    Ok(shared.unwrap_or_else(|| {
        processors.push(wanted);
        processors.len() - 1
    }))
}

fn vhost_plan(
    delivered: &[Delivered],
    passes: &BTreeMap<usize, Result<usize, PolicyError>>,
    decided: Decider,
) -> VhostPlan {
    let Some((i, level)) = decided else {
        return VhostPlan {
            source: Source::Config,
            pass: 0,
            gate: Gate::Config,
        };
    };
    let Some(policy) = delivered.get(i).and_then(Delivered::policy) else {
        return VhostPlan {
            source: Source::Config,
            pass: 0,
            gate: Gate::Config,
        };
    };
    let closed = |why| (0, Gate::Closed(NotSelected::Policy(why)));
    let (pass, gate) = match (&policy.spec, passes.get(&i)) {
        (Err(error), _) => closed(Excluded::InvalidPolicy(PolicyError {
            policy: policy.id.clone(),
            error: error.clone(),
        })),
        (Ok(_), Some(Err(error))) => closed(Excluded::InvalidPolicy(error.clone())),
        (Ok(spec), pass) => match spec.routes {
            Routes::None => closed(Excluded::OptedOut {
                policy: policy.id.clone(),
                target: level,
            }),
            Routes::Annotation => (pass_of(pass), Gate::Annotated),
            Routes::All => (pass_of(pass), Gate::All),
        },
    };
    VhostPlan {
        source: Source::Policy(policy.id.clone()),
        pass,
        gate,
    }
}

fn pass_of(pass: Option<&Result<usize, PolicyError>>) -> usize {
    match pass {
        Some(Ok(pass)) => *pass,
        _ => 0,
    }
}
