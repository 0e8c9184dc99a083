//! What a Route or Cluster hook call's context says about the route's backends.
//!
//! EG sends every object the route refers to (extension filters and custom backends alike)
//! as unstructured JSON, and the Cluster hook gets the same list as the Route hook. Only
//! InferencePools of GIE's v1 API are ours; every other kind is ignored, and named in the
//! result so that the caller can log it. One rule has one cluster, and one cluster follows one
//! endpoint picker, so a rule naming two different pools cannot be served and is refused,
//! as the AI Gateway and EG's own example extension refuse it.

use std::fmt;

use serde_json::Value;

use super::pool::{self, InvalidPool, Pool, PoolKey};
use crate::contract::ExtensionResource;

/// The backends one hook call's context names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Backends {
    /// The route's InferencePool, if it has one.
    pub pool: Option<Pool>,
    /// Objects of other kinds, ignored.
    pub ignored: Vec<ObjectKind>,
}

/// The `apiVersion` and `kind` of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectKind {
    /// `apiVersion`, empty when absent.
    pub api_version: String,
    /// `kind`, empty when absent.
    pub kind: String,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind, self.api_version)
    }
}

/// A context the hook cannot act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidContext {
    /// An object is not a JSON object.
    #[error("extension resource {index}: not a JSON object: {problem}")]
    NotAnObject {
        /// Its position in the context.
        index: usize,
        /// What the parser said.
        problem: String,
    },
    /// An InferencePool the hook cannot use.
    #[error(transparent)]
    InvalidPool(#[from] InvalidPool),
    /// Different pools in one rule.
    #[error(
        "InferencePools {}: a rule's requests go to one cluster, which follows one endpoint \
         picker; split the pools over separate rules",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    SeveralPools(Vec<PoolKey>),
}

impl InvalidContext {
    /// The metric label of the refusal.
    pub fn label(&self) -> &'static str {
        match self {
            InvalidContext::NotAnObject { .. } => "malformed_context",
            InvalidContext::InvalidPool(_) => "malformed_pool",
            InvalidContext::SeveralPools(_) => "several_pools",
        }
    }
}

/// Reads the objects of one context.
pub(crate) fn read(resources: &[ExtensionResource]) -> Result<Backends, InvalidContext> {
    let mut backends = Backends::default();
    let mut others: Vec<PoolKey> = Vec::new();
    for (index, resource) in resources.iter().enumerate() {
        let object: Value = serde_json::from_slice(&resource.unstructured_bytes)
            .map_err(|e| e.to_string())
            .and_then(|v: Value| {
                if v.is_object() {
                    Ok(v)
                } else {
                    Err("another JSON value".to_owned())
                }
            })
            .map_err(|problem| InvalidContext::NotAnObject { index, problem })?;
        let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
        let kind = ObjectKind {
            api_version: text("apiVersion").to_owned(),
            kind: text("kind").to_owned(),
        };
        if kind.api_version != pool::API_VERSION || kind.kind != pool::KIND {
            backends.ignored.push(kind);
            continue;
        }
        let found = pool::parse(&object)?;
        match &backends.pool {
            None => backends.pool = Some(found),
            // The same pool named by two backendRefs of the rule (with other weights).
            Some(first) if first.key == found.key => {}
            Some(_) if others.contains(&found.key) => {}
            Some(_) => others.push(found.key),
        }
    }
    match backends.pool.as_ref() {
        Some(first) if !others.is_empty() => {
            others.insert(0, first.key.clone());
            Err(InvalidContext::SeveralPools(others))
        }
        _ => Ok(backends),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use serde_json::json;

    use super::*;

    fn resource(value: &Value) -> ExtensionResource {
        ExtensionResource {
            unstructured_bytes: Bytes::from(serde_json::to_vec(value).unwrap()),
        }
    }

    fn pool_object(name: &str) -> Value {
        json!({"apiVersion": pool::API_VERSION, "kind": pool::KIND,
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"endpointPickerRef": {"name": "epp"}}})
    }

    #[test]
    fn other_kinds_are_ignored_and_named() {
        let filter = json!({"apiVersion": "example.io/v1", "kind": "Filter", "metadata": {}});
        let old = json!({"apiVersion": "inference.networking.x-k8s.io/v1alpha2",
            "kind": "InferencePool", "metadata": {}});
        let backends = read(&[
            resource(&filter),
            resource(&pool_object("p")),
            resource(&old),
        ])
        .unwrap();
        assert_eq!(backends.pool.unwrap().key.to_string(), "default/p");
        let ignored: Vec<String> = backends.ignored.iter().map(ToString::to_string).collect();
        assert_eq!(
            ignored,
            [
                "Filter (example.io/v1)",
                "InferencePool (inference.networking.x-k8s.io/v1alpha2)"
            ]
        );
        assert_eq!(read(&[]).unwrap(), Backends::default());
    }

    #[test]
    fn one_pool_twice_is_one_pool_and_two_pools_are_refused() {
        let p = resource(&pool_object("p"));
        assert!(read(&[p.clone(), p.clone()]).unwrap().pool.is_some());
        let e = read(&[p.clone(), resource(&pool_object("q")), p]).unwrap_err();
        assert_eq!(e.label(), "several_pools");
        assert!(
            e.to_string()
                .starts_with("InferencePools default/p, default/q: "),
            "{e}"
        );
    }

    #[test]
    fn garbage_is_refused_with_its_position() {
        let garbage = ExtensionResource {
            unstructured_bytes: Bytes::from_static(b"[1]"),
        };
        let e = read(&[resource(&pool_object("p")), garbage]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "extension resource 1: not a JSON object: another JSON value"
        );
    }
}
