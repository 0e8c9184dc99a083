//! What can be wrong with a delivered policy, and where.
//!
//! A policy is read in two layers: the object (JSON, `apiVersion`, `kind`, `metadata`,
//! `status`), then its `spec`. An object that cannot be read names nothing, so it can affect
//! nothing; a policy whose spec is wrong still has a name and a status, so it claims its
//! targets and leaves them unprocessed with this error (see [`super::resolve`]). Each error
//! names the field path the way the CRD spells it (`spec.processor.socketPath`), and
//! [`PolicyError`] prefixes the policy, so a line reads
//! `ProcessorPolicy team-a/p: spec.processor.socketPath: must be absolute`.

use std::fmt;

use super::PolicyId;

/// An object EG delivered that cannot be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The context itself does not decode.
    #[error("post_translate_context does not decode: {0}")]
    Context(String),
    /// Not JSON, or not an object with the shape every Kubernetes object has.
    #[error("not a Kubernetes object: {0}")]
    Json(String),
    /// A ProcessorPolicy without a name or namespace: nothing could refer to it.
    #[error("ProcessorPolicy without metadata.{0}")]
    Unnamed(&'static str),
}

/// A field of a policy's spec that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// Where, from the object's root (`spec.processor.socketPath`).
    pub path: String,
    /// What is wrong there.
    pub problem: Problem,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

impl SpecError {
    /// `problem` at `spec.<path>`.
    pub(super) fn at(path: &str, problem: Problem) -> Self {
        Self {
            path: if path.is_empty() {
                "spec".to_owned()
            } else {
                format!("spec.{path}")
            },
            problem,
        }
    }
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The JSON does not fit the schema (an unknown field, a wrong type, an unknown value).
    #[error("{0}")]
    Schema(String),
    /// A Unix socket path that is relative.
    #[error("must be absolute")]
    NotAbsolute,
    /// Not exactly one way of reaching the processor.
    #[error("exactly one of socketPath, address and service must be set, found {0}")]
    Endpoints(usize),
    /// A duration that does not parse.
    #[error("{0:?} is not a duration (like 5s or 250ms)")]
    Duration(String),
    /// A zero duration.
    #[error("must be positive")]
    NotPositive,
    /// An address that is not `host:port`.
    #[error("{0:?} is not host:port")]
    HostPort(String),
    /// A port out of range.
    #[error("{0} is not a port (1 to 65535)")]
    Port(u32),
    /// A Kubernetes name that is not a DNS label.
    #[error("{0:?} is not a DNS label")]
    Name(String),
    /// A target kind the policy cannot attach to.
    #[error("kind {0:?} cannot be targeted (Gateway, HTTPRoute or GRPCRoute)")]
    TargetKind(String),
    /// A full-duplex body without trailers, which Envoy refuses.
    #[error("must be Send when the body is FullDuplexStreamed (Envoy refuses it otherwise)")]
    FullDuplexTrailers,
    /// Neither `targetRefs` nor `targetSelectors`.
    #[error("has neither targetRefs nor targetSelectors")]
    NoTargets,
}

/// A policy's spec error, with the policy it is in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ProcessorPolicy {policy}: {error}")]
pub struct PolicyError {
    /// The policy.
    pub policy: PolicyId,
    /// What is wrong in it.
    pub error: SpecError,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_policy_and_the_field() {
        let e = PolicyError {
            policy: PolicyId {
                namespace: "team-a".to_owned(),
                name: "p".to_owned(),
            },
            error: SpecError::at("processor.socketPath", Problem::NotAbsolute),
        };
        assert_eq!(
            e.to_string(),
            "ProcessorPolicy team-a/p: spec.processor.socketPath: must be absolute"
        );
    }
}
