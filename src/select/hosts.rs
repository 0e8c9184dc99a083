//! What the hosts of one AI backend cluster are told: the backend name the processor looks
//! them up by (on each host, or on the cluster when its endpoints come by EDS) and each
//! endpoint group's priority.
//!
//! Two derivations: the AI Gateway's contract for HTTPRoutes it generated
//! ([`super::backend_name`]), and EG's backend metadata for any other HTTPRoute.

use super::backend_name::{
    Generated, RefEntry, Unnamed, processor_name, ref_in_name, refs_of_rule, rule_in_name,
};
use super::upstream::BackendRef;
use crate::index::{EndpointGroup, Endpoints, Ownership};

/// The metadata written for a cluster's hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostNames {
    /// Endpoints arrive by EDS: no hosts in the request, so the name (when one is right for
    /// every host) goes in the cluster's metadata, which the processor reads next.
    Eds(Result<String, Unnamed>),
    /// Per endpoint group, in order.
    Groups(Vec<GroupNames>),
}

/// What the hosts of one endpoint group are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupNames {
    /// `per_route_rule_backend_name`, or why it cannot be named.
    pub backend_name: Result<String, Unnamed>,
    /// Per host, `upstream_host` when the host has a DNS name.
    pub upstream_hosts: Vec<Option<String>>,
    /// The group's new failover priority, when the backendRef sets one it does not have.
    pub priority: Option<u32>,
}

/// What the hosts of the cluster `cluster_name` with `endpoints` are told, for the HTTPRoute
/// rule `backend_ref` whose routes reach it.
pub(crate) fn host_names(
    cluster_name: &str,
    endpoints: &Endpoints,
    backend_ref: &BackendRef,
) -> HostNames {
    match &backend_ref.generated {
        Some(generated) => generated_host_names(cluster_name, endpoints, backend_ref, generated),
        None => derived_host_names(endpoints, backend_ref),
    }
}

/// The rule a generated HTTPRoute's cluster serves, with its refs.
struct Contract<'a> {
    namespace: &'a str,
    route: &'a str,
    rule: usize,
    refs: Vec<RefEntry>,
    /// The ref of a per-backendRef cluster (`…/rule/<i>/backend/<j>`).
    cluster_ref: Option<usize>,
}

impl Contract<'_> {
    /// The name and the priority to write for ref `j`.
    fn names(&self, j: usize) -> Result<(String, u32), Unnamed> {
        let entry = self.refs.get(j).ok_or(Unnamed::RefOutOfRange {
            j,
            refs: self.refs.len(),
            rule: self.rule,
        })?;
        let name = processor_name(self.namespace, &entry.backend, self.route, self.rule, j);
        Ok((name, entry.priority))
    }
}

/// What the hosts of the cluster `cluster_name` with `endpoints` are told, for the HTTPRoute
/// rule `r` whose routes reach it and the controller's record of it.
fn generated_host_names(
    cluster_name: &str,
    endpoints: &Endpoints,
    r: &BackendRef,
    generated: &Generated,
) -> HostNames {
    let contract = match contract(cluster_name, r, generated) {
        Ok(contract) => contract,
        Err(why) => {
            return match endpoints {
                Endpoints::Eds => HostNames::Eds(Err(why)),
                Endpoints::Inline(groups) => HostNames::Groups(
                    groups
                        .iter()
                        .map(|g| GroupNames::unnamed(g, why.clone()))
                        .collect(),
                ),
            };
        }
    };
    match endpoints {
        Endpoints::Eds => {
            let j = match (contract.cluster_ref, contract.refs.len()) {
                (Some(j), _) => Ok(j),
                (None, 1) => Ok(0),
                (None, n) => Err(Unnamed::EdsSeveralRefs(n)),
            };
            HostNames::Eds(j.and_then(|j| contract.names(j)).map(|(name, _)| name))
        }
        Endpoints::Inline(groups) => {
            let positions = positional_refs(groups, contract.refs.len());
            HostNames::Groups(
                groups
                    .iter()
                    .zip(positions)
                    .map(|(group, position)| {
                        let j = ref_in_name(
                            &group.region,
                            &r.route_namespace,
                            &r.route_name,
                            contract.rule,
                        )
                        .or(contract.cluster_ref)
                        .map_or(position, Ok);
                        match j.and_then(|j| contract.names(j)) {
                            Ok((name, priority)) => GroupNames {
                                backend_name: Ok(name),
                                upstream_hosts: group.hosts.clone(),
                                // 0 is both "unset" and "0": only a set priority moves a group.
                                priority: (priority > 0 && priority != group.priority)
                                    .then_some(priority),
                            },
                            Err(why) => GroupNames::unnamed(group, why),
                        }
                    })
                    .collect(),
            )
        }
    }
}

fn contract<'a>(
    cluster_name: &str,
    r: &'a BackendRef,
    generated: &Generated,
) -> Result<Contract<'a>, Unnamed> {
    let priorities = generated
        .priorities
        .as_deref()
        .map_err(|json_type| Unnamed::Annotation(format!("is a {json_type}, not a string")))?;
    let rule = generated
        .rule
        .or_else(|| rule_in_name(cluster_name, &r.route_namespace, &r.route_name))
        .ok_or(Unnamed::NoRuleIndex)?;
    Ok(Contract {
        namespace: &r.route_namespace,
        route: &r.route_name,
        rule,
        refs: refs_of_rule(priorities, rule)?,
        cluster_ref: ref_in_name(cluster_name, &r.route_namespace, &r.route_name, rule),
    })
}

/// Each group's ref by position, for groups whose locality does not say: the ordinal of its
/// backend among the distinct backends (zone groups of one backend share it), when there are
/// as many as the rule has refs; otherwise why not.
fn positional_refs(groups: &[EndpointGroup], refs: usize) -> Vec<Result<usize, Unnamed>> {
    let ordinals = distinct_backend_ordinals(groups);
    let distinct = ordinals.iter().max().map_or(0, |m| m + 1);
    ordinals
        .into_iter()
        .map(|j| {
            if distinct == refs {
                Ok(j)
            } else {
                Err(Unnamed::CountMismatch {
                    groups: distinct,
                    refs,
                })
            }
        })
        .collect()
}

impl GroupNames {
    /// A group whose hosts get no name, for `why`.
    pub fn unnamed(group: &EndpointGroup, why: Unnamed) -> Self {
        Self {
            backend_name: Err(why),
            upstream_hosts: group.hosts.clone(),
            priority: None,
        }
    }
}

/// The legacy name from an endpoint group's EG backend (HTTPRoutes the AI Gateway did not
/// generate).
pub(super) fn derived_name(
    backend: &Ownership,
    r: &BackendRef,
    j: usize,
) -> Result<String, Unnamed> {
    match backend {
        Ownership::Owned(owner) => Ok(processor_name(
            &owner.namespace,
            &owner.name,
            &r.route_name,
            r.rule,
            j,
        )),
        Ownership::Unknown => Err(Unnamed::NoOwner),
        Ownership::Malformed(e) => Err(Unnamed::OwnerMalformed(e.clone())),
    }
}

/// Names from EG's backend metadata, for HTTPRoutes the AI Gateway did not generate.
fn derived_host_names(endpoints: &Endpoints, backend_ref: &BackendRef) -> HostNames {
    let Endpoints::Inline(groups) = endpoints else {
        return HostNames::Eds(Err(Unnamed::EdsWithoutContract));
    };
    let refs = ref_indices(groups, backend_ref.weighted_ref);
    HostNames::Groups(
        groups
            .iter()
            .zip(refs)
            .map(|(group, j)| GroupNames {
                backend_name: derived_name(&group.backend, backend_ref, j),
                upstream_hosts: group.hosts.clone(),
                priority: None,
            })
            .collect(),
    )
}

/// The ref index of each endpoint group: the weighted position, or the ordinal of the group's
/// backend among the distinct backends in order (zone-split groups of one backend share it).
fn ref_indices(groups: &[EndpointGroup], weighted_ref: Option<usize>) -> Vec<usize> {
    match weighted_ref {
        Some(j) => vec![j; groups.len()],
        None => distinct_backend_ordinals(groups),
    }
}

/// The ordinal of each group's backend among the distinct backends, in order; groups without
/// a known backend each count as their own.
fn distinct_backend_ordinals(groups: &[EndpointGroup]) -> Vec<usize> {
    let mut seen: Vec<&Ownership> = Vec::new();
    groups
        .iter()
        .map(
            |group| match seen.iter().position(|b| **b == group.backend) {
                Some(j) if group.backend != Ownership::Unknown => j,
                _ => {
                    seen.push(&group.backend);
                    seen.len() - 1
                }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Owner;

    fn backend(name: &str) -> Ownership {
        Ownership::Owned(Owner {
            kind: "Backend".into(),
            name: name.into(),
            namespace: "ai".into(),
            section_name: None,
            annotations: Default::default(),
        })
    }

    fn group(owner: Ownership) -> EndpointGroup {
        EndpointGroup {
            backend: owner,
            region: String::new(),
            priority: 0,
            hosts: vec![None],
        }
    }

    #[test]
    fn ref_index_counts_distinct_backends_and_keeps_zone_groups_together() {
        let groups = [
            group(backend("openai")),
            group(backend("openai")),
            group(backend("bedrock")),
            group(Ownership::Unknown),
            group(Ownership::Unknown),
        ];
        assert_eq!(ref_indices(&groups, None), vec![0, 0, 1, 2, 3]);
        assert_eq!(ref_indices(&groups, Some(4)), vec![4; 5]);
    }

    #[test]
    fn derived_names_use_the_eg_backend_and_the_rules_order() {
        let r = BackendRef {
            route_namespace: "team-a".into(),
            route_name: "chat".into(),
            rule: 2,
            weighted_ref: None,
            generated: None,
        };
        assert_eq!(
            derived_name(&backend("openai"), &r, 1).as_deref(),
            Ok("ai/openai/route/chat/rule/2/ref/1")
        );
        assert_eq!(
            derived_name(&Ownership::Unknown, &r, 0),
            Err(Unnamed::NoOwner)
        );
    }
}
