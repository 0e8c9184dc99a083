//! The InferencePool object (`inference.networking.k8s.io/v1`), as EG passes it to the Route
//! and Cluster hooks: the unstructured JSON of the Kubernetes object.
//!
//! Only what the data plane needs is read: the pool's identity, its endpoint picker (a Service
//! name, port and failure mode) and the body mode annotation. The selector and target ports
//! matter to the picker, not to Envoy. Defaults are GIE's (`kind: Service`, port 9002,
//! `FailClose`), applied here too because the CRD's defaulting may not have run on every
//! object. Anything present but unusable is an [`InvalidPool`] naming the field, so EG's log
//! says what to fix: a pool this module cannot route is never half-configured.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::config::is_dns_label;

/// The `apiVersion` of the pools the hook serves (GIE v1).
pub const API_VERSION: &str = "inference.networking.k8s.io/v1";
/// The `kind` of the pools the hook serves.
pub const KIND: &str = "InferencePool";
/// GIE's default endpoint picker port, when `endpointPickerRef.port` is unset.
pub const DEFAULT_EPP_PORT: u16 = 9002;
/// Pool annotation that selects how bodies reach the picker: `buffered` or `duplex` (the
/// default). The AI Gateway's key, kept so that pools written for it work unchanged.
pub const BODY_MODE_ANNOTATION: &str = "aigateway.envoyproxy.io/processing-body-mode";

/// A pool's identity: its namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PoolKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl fmt::Display for PoolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A pool, as far as Envoy needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// Which pool.
    pub key: PoolKey,
    /// Its endpoint picker, a Service in the pool's namespace.
    pub picker: EndpointPicker,
    /// How request and response bodies reach the picker.
    pub body_mode: BodyMode,
}

/// A pool's endpoint picker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPicker {
    /// The Service's name.
    pub service: String,
    /// The Service's port.
    pub port: u16,
    /// What Envoy does when the picker cannot be reached or does not answer.
    pub failure_mode: FailureMode,
}

/// `spec.endpointPickerRef.failureMode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureMode {
    /// The request goes on without the picker's choice (ext_proc `failure_mode_allow`).
    FailOpen,
    /// The request fails (GIE's default).
    FailClose,
}

/// How bodies reach the picker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyMode {
    /// `FULL_DUPLEX_STREAMED`: chunks flow as they arrive (GIE's protocol, the default).
    FullDuplexStreamed,
    /// `BUFFERED`: the whole body, once (annotation value `buffered`).
    Buffered,
}

impl FailureMode {
    /// The name GIE gives it, also what the metadata records.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureMode::FailOpen => "FailOpen",
            FailureMode::FailClose => "FailClose",
        }
    }

    /// The mode named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        [FailureMode::FailOpen, FailureMode::FailClose]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

impl BodyMode {
    /// Envoy's name for it, also what the metadata records.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyMode::FullDuplexStreamed => "FULL_DUPLEX_STREAMED",
            BodyMode::Buffered => "BUFFERED",
        }
    }

    /// The mode named `text` (Envoy's name), if any.
    pub fn parse(text: &str) -> Option<Self> {
        [BodyMode::FullDuplexStreamed, BodyMode::Buffered]
            .into_iter()
            .find(|m| m.as_str() == text)
    }
}

impl EndpointPicker {
    /// The picker's Service host, in the pool's namespace (`namespace`).
    pub fn host(&self, namespace: &str) -> String {
        format!("{}.{namespace}.svc", self.service)
    }
}

/// A pool object the hook cannot use, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("InferencePool {pool}: {field}: {problem}")]
pub struct InvalidPool {
    /// `namespace/name`, as far as the object says.
    pub pool: String,
    /// The field, as a path (`spec.endpointPickerRef.port.number`).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

#[derive(Deserialize)]
struct RawPool {
    metadata: RawMetadata,
    spec: RawSpec,
}

#[derive(Deserialize)]
struct RawMetadata {
    name: String,
    namespace: String,
    annotations: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSpec {
    endpoint_picker_ref: Option<RawPickerRef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPickerRef {
    group: Option<String>,
    kind: Option<String>,
    name: String,
    port: Option<RawPort>,
    failure_mode: Option<String>,
}

#[derive(Deserialize)]
struct RawPort {
    number: u16,
}

/// Reads a pool from its object (already known to be an InferencePool v1).
pub fn parse(object: &Value) -> Result<Pool, InvalidPool> {
    let pool = shown_identity(object);
    let fail = |field: &str, problem: String| InvalidPool {
        pool: pool.clone(),
        field: field.to_owned(),
        problem,
    };
    let raw: RawPool = serde_path_to_error::deserialize(object).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." {
            "object".to_owned()
        } else {
            path
        };
        fail(&field, e.inner().to_string())
    })?;
    let RawPool {
        metadata:
            RawMetadata {
                name,
                namespace,
                annotations,
            },
        spec: RawSpec {
            endpoint_picker_ref,
        },
    } = raw;
    for (field, value) in [("metadata.name", &name), ("metadata.namespace", &namespace)] {
        if !is_dns_label(value) {
            return Err(fail(field, format!("{value:?} is not a DNS label")));
        }
    }
    let picker = endpoint_picker_ref.ok_or_else(|| {
        fail(
            "spec.endpointPickerRef",
            "missing: the pool's requests are routed by its endpoint picker".to_owned(),
        )
    })?;
    let picker = endpoint_picker(picker, &fail)?;
    let body_mode = match annotations
        .as_ref()
        .and_then(|a| a.get(BODY_MODE_ANNOTATION))
    {
        None => BodyMode::FullDuplexStreamed,
        Some(value) => match value.as_str() {
            "duplex" => BodyMode::FullDuplexStreamed,
            "buffered" => BodyMode::Buffered,
            other => {
                return Err(fail(
                    &format!("metadata.annotations[{BODY_MODE_ANNOTATION:?}]"),
                    format!("{other:?}: expected \"duplex\" or \"buffered\""),
                ));
            }
        },
    };
    Ok(Pool {
        key: PoolKey { namespace, name },
        picker,
        body_mode,
    })
}

fn endpoint_picker(
    raw: RawPickerRef,
    fail: &impl Fn(&str, String) -> InvalidPool,
) -> Result<EndpointPicker, InvalidPool> {
    let RawPickerRef {
        group,
        kind,
        name,
        port,
        failure_mode,
    } = raw;
    if let Some(group) = group.filter(|g| !g.is_empty()) {
        return Err(fail(
            "spec.endpointPickerRef.group",
            format!("{group:?}: only the core group (\"\") is supported"),
        ));
    }
    if let Some(kind) = kind.filter(|k| k != "Service") {
        return Err(fail(
            "spec.endpointPickerRef.kind",
            format!("{kind:?}: only Service is supported"),
        ));
    }
    if !is_dns_label(&name) {
        return Err(fail(
            "spec.endpointPickerRef.name",
            format!("{name:?} is not a Service name"),
        ));
    }
    let port = match port {
        None => DEFAULT_EPP_PORT,
        Some(RawPort { number: 0 }) => {
            return Err(fail(
                "spec.endpointPickerRef.port.number",
                "0 is not a port".to_owned(),
            ));
        }
        Some(RawPort { number }) => number,
    };
    let failure_mode = match failure_mode.as_deref() {
        None => FailureMode::FailClose,
        Some(text) => FailureMode::parse(text).ok_or_else(|| {
            fail(
                "spec.endpointPickerRef.failureMode",
                format!("{text:?}: expected FailOpen or FailClose"),
            )
        })?,
    };
    Ok(EndpointPicker {
        service: name,
        port,
        failure_mode,
    })
}

/// `namespace/name` for error messages, from whatever the object says.
fn shown_identity(object: &Value) -> String {
    let text = |key: &str| {
        object
            .get("metadata")
            .and_then(|m| m.get(key))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned()
    };
    format!("{}/{}", text("namespace"), text("name"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A pool as EG sends it: defaults applied by the CRD, status and server fields included.
    pub(crate) fn eg_pool() -> Value {
        json!({
            "apiVersion": API_VERSION, "kind": KIND,
            "metadata": {"name": "vllm", "namespace": "team-a", "generation": 1,
                "uid": "0b8e5c4e-1111-2222-3333-444455556666"},
            "spec": {
                "appProtocol": "http",
                "endpointPickerRef": {"failureMode": "FailClose", "group": "", "kind": "Service",
                    "name": "vllm-epp", "port": {"number": 9002}},
                "selector": {"matchLabels": {"app": "vllm"}},
                "targetPorts": [{"number": 8000}]
            },
            "status": {"parents": []}
        })
    }

    #[test]
    fn reads_an_eg_object() {
        let pool = parse(&eg_pool()).unwrap();
        assert_eq!(pool.key.to_string(), "team-a/vllm");
        assert_eq!(
            pool.picker,
            EndpointPicker {
                service: "vllm-epp".into(),
                port: 9002,
                failure_mode: FailureMode::FailClose
            }
        );
        assert_eq!(pool.picker.host("team-a"), "vllm-epp.team-a.svc");
        assert_eq!(pool.body_mode, BodyMode::FullDuplexStreamed);
    }

    #[test]
    fn applies_gie_defaults_and_the_annotation() {
        let mut object = eg_pool();
        object["spec"]["endpointPickerRef"] = json!({"name": "epp"});
        object["metadata"]["annotations"] = json!({BODY_MODE_ANNOTATION: "buffered"});
        let pool = parse(&object).unwrap();
        assert_eq!(pool.picker.port, DEFAULT_EPP_PORT);
        assert_eq!(pool.picker.failure_mode, FailureMode::FailClose);
        assert_eq!(pool.body_mode, BodyMode::Buffered);
        object["spec"]["endpointPickerRef"]["failureMode"] = json!("FailOpen");
        assert_eq!(
            parse(&object).unwrap().picker.failure_mode,
            FailureMode::FailOpen
        );
    }

    #[test]
    fn errors_name_the_pool_and_the_field() {
        let cases: [(&[&str], Value, &str); 8] = [
            (
                &["spec", "endpointPickerRef", "port", "number"],
                json!("9002"),
                "InferencePool team-a/vllm: spec.endpointPickerRef.port.number: invalid type: string \"9002\", expected u16",
            ),
            (
                &["spec", "endpointPickerRef", "port", "number"],
                json!(70000),
                "InferencePool team-a/vllm: spec.endpointPickerRef.port.number: invalid value: integer `70000`, expected u16",
            ),
            (
                &["spec", "endpointPickerRef", "port", "number"],
                json!(0),
                "InferencePool team-a/vllm: spec.endpointPickerRef.port.number: 0 is not a port",
            ),
            (
                &["spec", "endpointPickerRef", "failureMode"],
                json!("Sometimes"),
                "InferencePool team-a/vllm: spec.endpointPickerRef.failureMode: \"Sometimes\": expected FailOpen or FailClose",
            ),
            (
                &["spec", "endpointPickerRef", "kind"],
                json!("ExternalName"),
                "InferencePool team-a/vllm: spec.endpointPickerRef.kind: \"ExternalName\": only Service is supported",
            ),
            (
                &["spec", "endpointPickerRef", "name"],
                json!("Not_A.Name"),
                "InferencePool team-a/vllm: spec.endpointPickerRef.name: \"Not_A.Name\" is not a Service name",
            ),
            (
                &["spec", "endpointPickerRef"],
                Value::Null,
                "InferencePool team-a/vllm: spec.endpointPickerRef: missing: the pool's requests are routed by its endpoint picker",
            ),
            (
                &["metadata", "annotations"],
                json!({BODY_MODE_ANNOTATION: "chunked"}),
                "InferencePool team-a/vllm: metadata.annotations[\"aigateway.envoyproxy.io/processing-body-mode\"]: \"chunked\": expected \"duplex\" or \"buffered\"",
            ),
        ];
        for (path, value, expected) in cases {
            let mut object = eg_pool();
            let slot = path.iter().fold(&mut object, |v, key| &mut v[*key]);
            *slot = value;
            assert_eq!(parse(&object).unwrap_err().to_string(), expected);
        }
        let mut object = eg_pool();
        object["metadata"].as_object_mut().unwrap().remove("name");
        assert_eq!(
            parse(&object).unwrap_err().to_string(),
            "InferencePool team-a/?: metadata: missing field `name`"
        );
    }
}
