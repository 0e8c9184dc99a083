//! Policies for offline runs, written readably: a `policies.yaml` beside a captured input.
//!
//! In a request file the policies would sit in `postTranslateContext.extensionResources[]
//! .unstructuredBytes`, base64 of JSON, which nobody can review. So a golden case (this
//! crate's and `xds-hook test`'s), and `--policies` of `apply`, `render` and `explain`, keep
//! them as a YAML list of the objects as EG delivers them, status included, and this module
//! turns them into the context
//! EG would send: each object the compact JSON of the whole object with its keys sorted and a
//! trailing newline (Go's `json.Encoder` on an unstructured object), in list order. Every
//! call of a dump gets all of them, as if each Gateway were targeted; the hook honours a policy
//! only where its status names that call's Gateway, so the others count nowhere.

use std::path::Path;

use bytes::Bytes;
use prost::Message;

use crate::contract::{ExtensionResource, PostTranslateExtensionContext};
use crate::format::{FormatError, Input};

/// The file a golden case keeps its policies in.
pub const FILE: &str = "policies.yaml";

/// Reads a YAML list of policy objects, or a Kubernetes `List` of them (`kubectl get
/// processorpolicies -A -o yaml`).
pub fn read(path: &Path) -> Result<Vec<serde_json::Value>, FormatError> {
    let what = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| FormatError::Io {
        path: what.clone(),
        source,
    })?;
    match crate::format::parse_yaml(&bytes, &what)? {
        serde_json::Value::Array(objects) => Ok(objects),
        serde_json::Value::Object(mut list) if list.get("items").is_some_and(|i| i.is_array()) => {
            match list.remove("items") {
                Some(serde_json::Value::Array(objects)) => Ok(objects),
                _ => Ok(Vec::new()),
            }
        }
        serde_json::Value::Null => Ok(Vec::new()),
        _ => Err(FormatError::Text {
            what,
            message: "expected a list of policy objects, or a List with items".to_owned(),
        }),
    }
}

/// The `PostTranslateExtensionContext` EG would send with these objects.
pub fn context(objects: &[serde_json::Value]) -> Bytes {
    let extension_resources = objects
        .iter()
        .map(|object| {
            // serde_json's maps are sorted by key, as Go's encoder writes an unstructured map.
            let mut json = object.to_string().into_bytes();
            json.push(b'\n');
            ExtensionResource {
                unstructured_bytes: json.into(),
            }
        })
        .collect();
    PostTranslateExtensionContext {
        extension_resources,
    }
    .encode_to_vec()
    .into()
}

/// Gives every call of `input` the context.
pub(crate) fn attach(input: &mut Input, context: &Bytes) {
    match input {
        Input::Request(request) => request.post_translate_context = Some(context.clone()),
        Input::Dump(dump) => {
            for gateway in &mut dump.gateways {
                gateway.request.post_translate_context = Some(context.clone());
            }
        }
    }
}

/// Attaches the policies of the file `path` (`--policies`) to every call of `input`.
pub fn attach_file(input: &mut Input, path: &Path) -> Result<(), FormatError> {
    attach(input, &context(&read(path)?));
    Ok(())
}

/// Attaches `dir/policies.yaml`, when there is one, to `input`.
pub fn attach_from(dir: &Path, input: &mut Input) -> Result<(), FormatError> {
    let path = dir.join(FILE);
    if path.exists() {
        attach_file(input, &path)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_travel_as_eg_encodes_them() {
        let object: serde_json::Value = serde_json::from_str(
            r#"{"spec": {"b": 1, "a": null}, "apiVersion": "policy.xds-hook.dev/v1alpha1"}"#,
        )
        .unwrap();
        let context = PostTranslateExtensionContext::decode(context(&[object])).unwrap();
        let [resource] = context.extension_resources.as_slice() else {
            panic!("one resource");
        };
        assert_eq!(
            resource.unstructured_bytes.as_ref(),
            b"{\"apiVersion\":\"policy.xds-hook.dev/v1alpha1\",\"spec\":{\"a\":null,\"b\":1}}\n"
        );
    }

    #[test]
    fn a_list_and_a_kubernetes_list_read_alike() {
        let dir = tempfile::tempdir().unwrap();
        let object = "apiVersion: policy.xds-hook.dev/v1alpha1\n  kind: ProcessorPolicy";
        let plain = dir.path().join("plain.yaml");
        std::fs::write(&plain, format!("- {object}\n")).unwrap();
        let listed = dir.path().join("listed.yaml");
        std::fs::write(
            &listed,
            format!("apiVersion: v1\nkind: List\nitems:\n- {object}\n"),
        )
        .unwrap();
        assert_eq!(read(&plain).unwrap(), read(&listed).unwrap());
        assert_eq!(read(&plain).unwrap().len(), 1);
    }
}
