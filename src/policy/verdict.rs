//! What became of each delivered policy, for `explain` and the logs: one verdict per policy and
//! Gateway (or listener) of this request that EG reports it at, or one for the whole policy
//! when it counts nowhere here.
//!
//! The words are fixed (`applied`, `invalid`, `superseded`, `ignored`) and the reasons are
//! typed ([`Outcome`]), displayed in one place.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::PolicyId;
use super::error::{ReadError, SpecError};
use super::object::Delivered;
use super::spec::Routes;
use super::status::{Acceptance, GatewayRef, Target};

/// The policy deciding one Gateway or listener, and the level it attached at.
pub(super) type Decider = Option<(usize, Target)>;

/// One row: a policy, where, and what became of it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `namespace/name`, or `extension_resources[i]` for an object that names no policy.
    pub policy: String,
    /// The Gateway or listener; `None` when the row is about the whole object.
    pub target: Option<Target>,
    /// What became of it.
    pub outcome: Outcome,
}

/// What became of a policy at one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It decides these virtual hosts.
    Applied {
        /// How many.
        virtual_hosts: usize,
        /// Which of their routes it selects.
        routes: Routes,
    },
    /// It decides these virtual hosts but is invalid: they stay unprocessed.
    Invalid {
        /// How many.
        virtual_hosts: usize,
        /// What is wrong.
        error: SpecError,
    },
    /// Other policies decide there: a listener's own, or an older one.
    Superseded {
        /// The deciding policies, with the level each attached at.
        by: Vec<(PolicyId, Target)>,
    },
    /// EG did not accept it there.
    NotAccepted(Acceptance),
    /// Accepted for a listener without any virtual host in this request.
    NoVirtualHost,
    /// No ancestor in its status is a Gateway of this request.
    NoAncestorHere {
        /// The ancestors it has.
        ancestors: Vec<Target>,
    },
    /// The request holds no listeners or routes: its processor cluster is added, as the
    /// configuration's is.
    ClustersOnly,
    /// Another extension's kind.
    Foreign {
        /// `apiVersion`.
        api_version: String,
        /// `kind`.
        kind: String,
    },
    /// Not readable.
    Unreadable(ReadError),
}

impl Outcome {
    /// The verdict in one word.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Applied { .. } | Outcome::ClustersOnly => "applied",
            Outcome::Invalid { .. } => "invalid",
            Outcome::Superseded { .. } => "superseded",
            Outcome::NotAccepted(_)
            | Outcome::NoVirtualHost
            | Outcome::NoAncestorHere { .. }
            | Outcome::Foreign { .. }
            | Outcome::Unreadable(_) => "ignored",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Applied {
                virtual_hosts,
                routes,
            } => write!(
                f,
                "decides {}, routes: {routes:?}",
                counted(*virtual_hosts, "virtual host")
            ),
            Outcome::Invalid {
                virtual_hosts,
                error,
            } => write!(
                f,
                "{error}; left unprocessed: {}",
                counted(*virtual_hosts, "virtual host")
            ),
            Outcome::Superseded { by } => {
                f.write_str("decided by ")?;
                for (n, (policy, level)) in by.iter().enumerate() {
                    let sep = if n == 0 { "" } else { ", " };
                    write!(f, "{sep}policy {policy} ({level})")?;
                }
                Ok(())
            }
            Outcome::NotAccepted(acceptance) => write!(f, "EG reports {acceptance}"),
            Outcome::NoVirtualHost => {
                f.write_str("accepted, but no virtual host of this request is on it")
            }
            Outcome::NoAncestorHere { ancestors } if ancestors.is_empty() => f.write_str(
                "no status ancestors: EG attached it to no listener (a sectionName naming none?)",
            ),
            Outcome::NoAncestorHere { ancestors } => {
                f.write_str("EG reports it for no Gateway of this request, only for ")?;
                for (n, target) in ancestors.iter().enumerate() {
                    let sep = if n == 0 { "" } else { ", " };
                    write!(f, "{sep}{target}")?;
                }
                Ok(())
            }
            Outcome::ClustersOnly => f.write_str(
                "the request has no listeners or routes: only its processor cluster is added",
            ),
            Outcome::Foreign { api_version, kind } => {
                write!(f, "not a ProcessorPolicy ({api_version} {kind})")
            }
            Outcome::Unreadable(e) => e.fmt(f),
        }
    }
}

/// `1 virtual host`, `2 virtual hosts`.
pub(crate) fn counted(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// The verdicts on `delivered`, given each virtual host's target (per route configuration,
/// per virtual host) and each target's deciding policy.
pub(super) fn verdicts(
    delivered: &[Delivered],
    targets: &[Vec<Option<Target>>],
    deciders: &BTreeMap<Target, Decider>,
    clusters_only: bool,
) -> Vec<Verdict> {
    let vhosts: Vec<&Target> = targets.iter().flatten().flatten().collect();
    let gateways: BTreeSet<&GatewayRef> = vhosts.iter().map(|t| &t.gateway).collect();
    let mut out = Vec::new();
    for (i, d) in delivered.iter().enumerate() {
        let unnamed = |outcome| Verdict {
            policy: format!("extension_resources[{i}]"),
            target: None,
            outcome,
        };
        let policy = match d {
            Delivered::Policy(policy) => policy,
            Delivered::Foreign { api_version, kind } => {
                out.push(unnamed(Outcome::Foreign {
                    api_version: api_version.clone(),
                    kind: kind.clone(),
                }));
                continue;
            }
            Delivered::Unreadable(e) => {
                out.push(unnamed(Outcome::Unreadable(e.clone())));
                continue;
            }
        };
        let id = policy.id.to_string();
        let here: Vec<_> = policy
            .ancestors
            .iter()
            .filter(|a| gateways.contains(&a.gateway))
            .collect();
        if here.is_empty() {
            let outcome = if clusters_only && policy.counts_anywhere() {
                Outcome::ClustersOnly
            } else {
                Outcome::NoAncestorHere {
                    ancestors: policy.ancestors.iter().map(|a| a.target()).collect(),
                }
            };
            out.push(Verdict {
                policy: id,
                target: None,
                outcome,
            });
            continue;
        }
        for ancestor in here {
            let target = ancestor.target();
            let outcome = if ancestor.acceptance == Acceptance::Accepted {
                let covered: Vec<&Target> = vhosts
                    .iter()
                    .copied()
                    .filter(|t| {
                        t.gateway == target.gateway
                            && (target.section.is_none() || t.section == target.section)
                    })
                    .collect();
                at_target(delivered, policy, i, &target, &covered, deciders)
            } else {
                Outcome::NotAccepted(ancestor.acceptance.clone())
            };
            out.push(Verdict {
                policy: id.clone(),
                target: Some(target),
                outcome,
            });
        }
    }
    out
}

/// What an accepted policy does at `target`, whose virtual hosts are `covered`.
fn at_target(
    delivered: &[Delivered],
    policy: &super::object::Policy,
    i: usize,
    target: &Target,
    covered: &[&Target],
    deciders: &BTreeMap<Target, Decider>,
) -> Outcome {
    if covered.is_empty() {
        return Outcome::NoVirtualHost;
    }
    let decider = |t: &Target| deciders.get(t).cloned().flatten();
    let decided = covered
        .iter()
        .filter(|t| decider(t).is_some_and(|(j, level)| j == i && level == *target))
        .count();
    if decided > 0 {
        return match &policy.spec {
            Ok(spec) => Outcome::Applied {
                virtual_hosts: decided,
                routes: spec.routes,
            },
            Err(error) => Outcome::Invalid {
                virtual_hosts: decided,
                error: error.clone(),
            },
        };
    }
    let mut by: Vec<(PolicyId, Target)> = covered
        .iter()
        .filter_map(|t| decider(t))
        .filter_map(|(j, level)| {
            let other = delivered.get(j)?.policy()?;
            Some((other.id.clone(), level))
        })
        .collect();
    by.sort();
    by.dedup();
    Outcome::Superseded { by }
}
