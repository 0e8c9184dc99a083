//! The status EG computed for a policy: one ancestor per Gateway, or Gateway listener, it
//! resolved a target to, each with an `Accepted` condition.
//!
//! EG discards any stored status and sends the one it just computed, for every target of the
//! policy (other Gateways included), so this is what decides whether the policy counts for a
//! Gateway of this call: only an ancestor naming that Gateway (and listener, through
//! `sectionName`) with `Accepted: "True"` does. Ancestors of other kinds, and fields we do not
//! need (`controllerName`, `observedGeneration`, `lastTransitionTime`), are passed over. A
//! status that does not have this shape reads as having no ancestors: the policy then counts
//! nowhere, and `explain` says so.

use std::fmt;

use serde::Deserialize;

/// The Gateway API group of the Gateways EG names as ancestors.
pub(crate) const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// A Gateway, by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GatewayRef {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl fmt::Display for GatewayRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A Gateway or one of its listeners, as a policy attaches to it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    /// The Gateway.
    pub gateway: GatewayRef,
    /// The listener (`sectionName`), or `None` for the whole Gateway.
    pub section: Option<String>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.section {
            Some(listener) => write!(f, "Gateway {} listener {listener}", self.gateway),
            None => write!(f, "Gateway {}", self.gateway),
        }
    }
}

/// One ancestor of a policy's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ancestor {
    /// The Gateway.
    pub gateway: GatewayRef,
    /// The listener, when the policy targets one.
    pub section: Option<String>,
    /// What EG says about it.
    pub acceptance: Acceptance,
}

impl Ancestor {
    /// The Gateway or listener.
    pub fn target(&self) -> Target {
        Target {
            gateway: self.gateway.clone(),
            section: self.section.clone(),
        }
    }
}

/// EG's `Accepted` condition for one ancestor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// `Accepted: "True"`.
    Accepted,
    /// Another status, with EG's reason and message.
    NotAccepted {
        /// `status` (`False`, `Unknown`).
        status: String,
        /// `reason`.
        reason: String,
        /// `message`.
        message: String,
    },
    /// No `Accepted` condition.
    NoCondition,
}

impl fmt::Display for Acceptance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Acceptance::Accepted => f.write_str("Accepted=True"),
            Acceptance::NotAccepted {
                status,
                reason,
                message,
            } => write!(f, "Accepted={status} ({reason}: {message})"),
            Acceptance::NoCondition => f.write_str("no Accepted condition"),
        }
    }
}

/// `status`, as much of it as matters.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawStatus {
    #[serde(default)]
    ancestors: Vec<RawAncestor>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAncestor {
    ancestor_ref: RawParentRef,
    #[serde(default)]
    conditions: Vec<RawCondition>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawParentRef {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    section_name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawCondition {
    #[serde(rename = "type")]
    kind: String,
    status: String,
    #[serde(default)]
    reason: String,
    #[serde(default)]
    message: String,
}

impl RawStatus {
    /// Reads `status`; absent or not of this shape reads as no ancestors.
    pub(super) fn read(status: Option<serde_json::Value>) -> Self {
        status
            .and_then(|value| serde_json::from_value(value).ok())
            .unwrap_or_default()
    }

    /// The Gateway ancestors; a reference without a namespace is in the policy's
    /// (`policy_namespace`), as Gateway API defaults it.
    pub(super) fn ancestors(self, policy_namespace: &str) -> Vec<Ancestor> {
        self.ancestors
            .into_iter()
            .filter(|a| {
                let r = &a.ancestor_ref;
                r.kind.as_deref().unwrap_or("Gateway") == "Gateway"
                    && r.group.as_deref().unwrap_or(GATEWAY_GROUP) == GATEWAY_GROUP
            })
            .map(|a| {
                let RawParentRef {
                    name,
                    namespace,
                    section_name,
                    ..
                } = a.ancestor_ref;
                let acceptance = match a.conditions.into_iter().find(|c| c.kind == "Accepted") {
                    Some(c) if c.status == "True" => Acceptance::Accepted,
                    Some(c) => Acceptance::NotAccepted {
                        status: c.status,
                        reason: c.reason,
                        message: c.message,
                    },
                    None => Acceptance::NoCondition,
                };
                Ancestor {
                    gateway: GatewayRef {
                        namespace: namespace
                            .filter(|ns| !ns.is_empty())
                            .unwrap_or_else(|| policy_namespace.to_owned()),
                        name,
                    },
                    section: section_name.filter(|s| !s.is_empty()),
                    acceptance,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejected_and_foreign_ancestors_read_as_eg_wrote_them() {
        let status = serde_json::json!({"ancestors": [
            {"ancestorRef": {"group": "gateway.networking.k8s.io", "kind": "Gateway",
                "name": "gateway-1", "namespace": "envoy-gateway", "sectionName": "http"},
             "conditions": [{"lastTransitionTime": null, "message": "No section name no-such-rule found for HTTPRoute default/httproute-1",
                "reason": "TargetNotFound", "status": "False", "type": "Accepted"}],
             "controllerName": "gateway.envoyproxy.io/gatewayclass-controller"},
            {"ancestorRef": {"group": "example.io", "kind": "Mesh", "name": "m"}, "conditions": []},
            {"ancestorRef": {"name": "local"}, "conditions": []}
        ]});
        let ancestors = RawStatus::read(Some(status)).ancestors("team-a");
        assert_eq!(ancestors.len(), 2);
        assert_eq!(
            ancestors[0].target().to_string(),
            "Gateway envoy-gateway/gateway-1 listener http"
        );
        assert_eq!(
            ancestors[0].acceptance.to_string(),
            "Accepted=False (TargetNotFound: No section name no-such-rule found for HTTPRoute default/httproute-1)"
        );
        assert_eq!(ancestors[1].gateway.to_string(), "team-a/local");
        assert_eq!(ancestors[1].acceptance, Acceptance::NoCondition);
    }

    #[test]
    fn a_status_of_another_shape_has_no_ancestors() {
        let status = serde_json::json!({"ancestors": "none"});
        assert!(RawStatus::read(Some(status)).ancestors("x").is_empty());
        assert!(RawStatus::read(None).ancestors("x").is_empty());
    }
}
