//! A ProcessorPolicy as Envoy Gateway delivers it: one `ExtensionResource`, the JSON of the
//! whole unstructured object (`apiVersion`, `kind`, `metadata`, `spec`, and the `status` EG
//! has just computed, with an ancestor per Gateway or listener it attached the policy to).
//!
//! EG hands an extension every kind listed in its `policyResources`, so objects of other kinds
//! are told apart by group and kind (EG itself ignores the version when it filters policies
//! per extension) and left out. The status is read leniently (EG writes it, and fields such
//! as `lastTransitionTime: null` or `observedGeneration` do not matter here); the spec is
//! validated strictly, on its own ([`super::spec`]), so a policy with a wrong spec still has a
//! name and ancestors and can claim its targets.

use serde::Deserialize;

use super::error::ReadError;
use super::spec::{self, Spec};
use super::status::{Acceptance, Ancestor, RawStatus};
use super::{GROUP, KIND, PolicyId};

/// What one delivered object turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// A ProcessorPolicy.
    Policy(Box<Policy>),
    /// An object of another kind (another extension's policy): ignored.
    Foreign {
        /// Its `apiVersion`.
        api_version: String,
        /// Its `kind`.
        kind: String,
    },
    /// Not readable as a Kubernetes object; it names nothing, so it affects nothing.
    Unreadable(ReadError),
}

/// A ProcessorPolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Namespace and name.
    pub id: PolicyId,
    /// `metadata.creationTimestamp` (RFC 3339, UTC, so it sorts as text), for precedence.
    pub created: Option<String>,
    /// The Gateways and listeners EG reports it attached to, and whether it accepted it there.
    pub ancestors: Vec<Ancestor>,
    /// The validated spec, or what is wrong with it.
    pub spec: Result<Spec, super::error::SpecError>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawObject {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: RawMetadata,
    #[serde(default)]
    spec: serde_json::Value,
    #[serde(default)]
    status: Option<serde_json::Value>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    creation_timestamp: Option<String>,
}

impl Delivered {
    /// Reads one `ExtensionResource.unstructured_bytes`.
    pub fn read(json: &[u8]) -> Self {
        let raw: RawObject = match serde_json::from_slice(json) {
            Ok(raw) => raw,
            Err(e) => return Delivered::Unreadable(ReadError::Json(e.to_string())),
        };
        let group = raw.api_version.split('/').next().unwrap_or_default();
        if group != GROUP || raw.kind != KIND {
            return Delivered::Foreign {
                api_version: raw.api_version,
                kind: raw.kind,
            };
        }
        let RawMetadata {
            name,
            namespace,
            creation_timestamp,
        } = raw.metadata;
        if name.is_empty() {
            return Delivered::Unreadable(ReadError::Unnamed("name"));
        }
        if namespace.is_empty() {
            return Delivered::Unreadable(ReadError::Unnamed("namespace"));
        }
        let ancestors = RawStatus::read(raw.status).ancestors(&namespace);
        Delivered::Policy(Box::new(Policy {
            id: PolicyId { namespace, name },
            created: creation_timestamp.filter(|t| !t.is_empty()),
            ancestors,
            spec: spec::read(raw.spec),
        }))
    }

    /// The policy, when this is one.
    pub fn policy(&self) -> Option<&Policy> {
        match self {
            Delivered::Policy(policy) => Some(policy),
            Delivered::Foreign { .. } | Delivered::Unreadable(_) => None,
        }
    }
}

impl Policy {
    /// Whether EG accepted the policy anywhere (a request without routes cannot tell where).
    pub fn counts_anywhere(&self) -> bool {
        self.ancestors
            .iter()
            .any(|a| a.acceptance == Acceptance::Accepted)
    }

    /// Precedence among policies at the same level, as Gateway API resolves conflicts: the
    /// oldest first, then by namespace and name. A policy without a timestamp (EG's file
    /// provider, hand-written test input) sorts by namespace and name among its like.
    pub fn precedence(&self) -> (Option<&str>, &PolicyId) {
        (self.created.as_deref(), &self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly what EG v1.9 sends for a listener-targeted policy (its `extensionpolicy-with-
    /// valid-target` testdata, re-encoded with Go's json.Encoder), with our group and kind.
    const EG_SHAPED: &str = r#"{"apiVersion":"policy.xds-hook.dev/v1alpha1","kind":"ProcessorPolicy","metadata":{"name":"test2","namespace":"envoy-gateway"},"spec":{"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"gateway-1","sectionName":"http2"}]},"status":{"ancestors":[{"ancestorRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"gateway-1","namespace":"envoy-gateway","sectionName":"http2"},"conditions":[{"lastTransitionTime":null,"message":"Policy has been accepted.","reason":"Accepted","status":"True","type":"Accepted"}],"controllerName":"gateway.envoyproxy.io/gatewayclass-controller"}]}}
"#;

    #[test]
    fn an_eg_shaped_policy_reads_with_its_ancestor() {
        let Delivered::Policy(policy) = Delivered::read(EG_SHAPED.as_bytes()) else {
            panic!("not read as a policy");
        };
        assert_eq!(policy.id.to_string(), "envoy-gateway/test2");
        assert!(policy.spec.is_ok(), "{:?}", policy.spec);
        let [ancestor] = policy.ancestors.as_slice() else {
            panic!("{:?}", policy.ancestors);
        };
        assert_eq!(ancestor.gateway.to_string(), "envoy-gateway/gateway-1");
        assert_eq!(ancestor.section.as_deref(), Some("http2"));
        assert_eq!(ancestor.acceptance, Acceptance::Accepted);
    }

    #[test]
    fn other_kinds_are_foreign_and_broken_json_names_nothing() {
        let foreign = br#"{"apiVersion":"foo.example.io/v1alpha1","kind":"Bar","metadata":{"name":"x","namespace":"y"}}"#;
        assert_eq!(
            Delivered::read(foreign),
            Delivered::Foreign {
                api_version: "foo.example.io/v1alpha1".to_owned(),
                kind: "Bar".to_owned()
            }
        );
        assert!(matches!(
            Delivered::read(b"{not json"),
            Delivered::Unreadable(ReadError::Json(_))
        ));
        let unnamed = br#"{"apiVersion":"policy.xds-hook.dev/v1alpha1","kind":"ProcessorPolicy","metadata":{"namespace":"y"}}"#;
        assert_eq!(
            Delivered::read(unnamed),
            Delivered::Unreadable(ReadError::Unnamed("name"))
        );
    }
}
