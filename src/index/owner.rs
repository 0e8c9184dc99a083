//! Which Kubernetes object produced an xDS resource, read from EG's metadata.
//!
//! EG stamps virtual hosts (with their Gateway) and routes (with their HTTPRoute) with
//! `filter_metadata["envoy-gateway"].resources[]`, each entry a struct of `kind`, `name`,
//! `namespace`, optional `sectionName` and optional `annotations`. Only annotations whose key
//! started with `gateway.envoyproxy.io/` are copied, with that prefix removed. EG writes exactly
//! one entry; the first is the owner. This module turns that untyped Struct into an [`Owner`]
//! or says precisely which part is malformed.

use std::borrow::Cow;
use std::fmt;

use prost_types::{Struct, Value, value::Kind};

use super::error::{FieldPath, InvalidField, Problem};
use crate::xds::{MetadataView, names};

/// The Kubernetes object that produced a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Object kind (`Gateway`, `HTTPRoute`, ...); the kinds EG writes are not allocated.
    pub kind: Cow<'static, str>,
    /// Object name.
    pub name: String,
    /// Object namespace.
    pub namespace: String,
    /// Gateway listener name or route rule name, when EG records one.
    pub section_name: Option<String>,
    /// Annotations EG forwarded, keyed without the `gateway.envoyproxy.io/` prefix.
    pub annotations: Annotations,
}

impl Owner {
    /// `namespace/name`, the way Kubernetes users name objects.
    pub fn qualified_name(&self) -> String {
        if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        }
    }
}

/// The kinds EG names in its metadata, as constants.
const KNOWN_KINDS: [&str; 8] = [
    "HTTPRoute",
    "Gateway",
    "GRPCRoute",
    "Service",
    "Backend",
    "ServiceImport",
    "TCPRoute",
    "TLSRoute",
];

/// An object kind, shared when it is one of the usual ones.
pub(super) fn kind(text: impl AsRef<str> + Into<String>) -> Cow<'static, str> {
    match KNOWN_KINDS.iter().find(|known| **known == text.as_ref()) {
        Some(known) => Cow::Borrowed(known),
        None => Cow::Owned(text.into()),
    }
}

/// The annotations EG forwarded on one object, by key.
///
/// A sorted `Vec`, not a `BTreeMap`: an object carries a handful of them, and a fleet's index
/// holds one set per route, where a map's node would cost more than the entries it holds.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Annotations(Vec<(String, Annotation)>);

impl Annotations {
    /// The value of `key`, if the object has it.
    pub fn get(&self, key: &str) -> Option<&Annotation> {
        let at = self.position(key).ok()?;
        self.0.get(at).map(|(_, value)| value)
    }

    /// Whether the object has `key`.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key`, replacing an earlier value as a map entry would.
    pub(crate) fn insert(&mut self, key: String, value: Annotation) {
        match self.position(&key) {
            Ok(at) => {
                if let Some(slot) = self.0.get_mut(at) {
                    slot.1 = value;
                }
            }
            Err(at) => self.0.insert(at, (key, value)),
        }
    }

    /// Every annotation, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Annotation)> {
        self.0.iter().map(|(key, value)| (key.as_str(), value))
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }
}

impl FromIterator<(String, Annotation)> for Annotations {
    fn from_iter<I: IntoIterator<Item = (String, Annotation)>>(entries: I) -> Self {
        let mut annotations = Self::default();
        for (key, value) in entries {
            annotations.insert(key, value);
        }
        annotations
    }
}

/// Shown as a map, as the annotations are in EG's metadata.
impl fmt::Debug for Annotations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// An annotation value as found in metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Annotation {
    /// A string, as EG writes them.
    Text(String),
    /// Any other JSON type, which EG never writes; kept to explain why it is not honoured.
    Other(&'static str),
}

impl Annotation {
    /// Whether this value turns a feature on: any string except `false` (case-insensitive).
    pub fn is_enabled(&self) -> bool {
        matches!(self, Annotation::Text(text) if !text.eq_ignore_ascii_case("false"))
    }
}

/// What the metadata says about a resource's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ownership {
    /// No `envoy-gateway` metadata: not produced from a Gateway API object we can name.
    Unknown,
    /// The owner recorded by EG.
    Owned(Owner),
    /// The metadata is there but not in EG's shape; the error says where.
    Malformed(InvalidField),
}

/// Reads the owner from a resource's metadata.
pub(crate) fn ownership(metadata: Option<&MetadataView>) -> Ownership {
    let Some(eg) = metadata.and_then(|m| m.filter_metadata.get(names::EG_METADATA)) else {
        return Ownership::Unknown;
    };
    match owner_from_struct(eg) {
        Ok(Some(owner)) => Ownership::Owned(owner),
        Ok(None) => Ownership::Unknown,
        Err(problem) => Ownership::Malformed(problem),
    }
}

fn owner_from_struct(eg: &Struct) -> Result<Option<Owner>, InvalidField> {
    let Some(resources) = eg.fields.get("resources") else {
        return Ok(None);
    };
    let list = match &resources.kind {
        Some(Kind::ListValue(list)) => list,
        other => return Err(wrong_kind(resources_path(), "a list", kind_name(other))),
    };
    let Some(first) = list.values.first() else {
        return Ok(None);
    };
    let entry = match &first.kind {
        Some(Kind::StructValue(entry)) => entry,
        other => {
            return Err(wrong_kind(
                resources_path().index(0),
                "a struct",
                kind_name(other),
            ));
        }
    };
    Ok(Some(Owner {
        kind: kind(string_field(entry, "kind")?.unwrap_or_default()),
        name: string_field(entry, "name")?.unwrap_or_default(),
        namespace: string_field(entry, "namespace")?.unwrap_or_default(),
        section_name: string_field(entry, "sectionName")?,
        annotations: annotations(entry)?,
    }))
}

fn string_field(entry: &Struct, key: &'static str) -> Result<Option<String>, InvalidField> {
    match entry.fields.get(key).map(|v| &v.kind) {
        None | Some(None) | Some(Some(Kind::NullValue(_))) => Ok(None),
        Some(Some(Kind::StringValue(s))) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_kind(
            resources_path().index(0).field(key),
            "a string",
            kind_name(other),
        )),
    }
}

/// `metadata.filter_metadata["envoy-gateway"].resources`: where both owner readers report.
pub(super) fn resources_path() -> FieldPath {
    FieldPath::eg_metadata().field("resources")
}

/// A value of the wrong JSON kind at `path`.
pub(super) fn wrong_kind(
    path: FieldPath,
    expected: &'static str,
    found: &'static str,
) -> InvalidField {
    InvalidField::new(path, Problem::WrongJsonKind { expected, found })
}

fn annotations(entry: &Struct) -> Result<Annotations, InvalidField> {
    let Some(value) = entry.fields.get("annotations") else {
        return Ok(Annotations::default());
    };
    let map = match &value.kind {
        Some(Kind::StructValue(map)) => map,
        Some(Kind::NullValue(_)) | None => return Ok(Annotations::default()),
        other => {
            return Err(wrong_kind(
                resources_path().index(0).field("annotations"),
                "a struct",
                kind_name(other),
            ));
        }
    };
    Ok(map
        .fields
        .iter()
        .map(|(key, value)| (key.clone(), annotation(value)))
        .collect())
}

fn annotation(value: &Value) -> Annotation {
    match &value.kind {
        Some(Kind::StringValue(s)) => Annotation::Text(s.clone()),
        other => Annotation::Other(kind_name(other)),
    }
}

fn kind_name(kind: &Option<Kind>) -> &'static str {
    match kind {
        None | Some(Kind::NullValue(_)) => "null",
        Some(Kind::NumberValue(_)) => "a number",
        Some(Kind::StringValue(_)) => "a string",
        Some(Kind::BoolValue(_)) => "a bool",
        Some(Kind::StructValue(_)) => "a struct",
        Some(Kind::ListValue(_)) => "a list",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value {
            kind: Some(Kind::StringValue(v.into())),
        }
    }

    fn st(fields: Vec<(&str, Value)>) -> Value {
        Value {
            kind: Some(Kind::StructValue(Struct {
                fields: fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            })),
        }
    }

    fn metadata(resources: Value) -> MetadataView {
        let mut eg = Struct::default();
        eg.fields.insert("resources".into(), resources);
        MetadataView {
            filter_metadata: [(names::EG_METADATA.to_owned(), eg)].into(),
        }
    }

    fn list(values: Vec<Value>) -> Value {
        Value {
            kind: Some(Kind::ListValue(prost_types::ListValue { values })),
        }
    }

    #[test]
    fn annotations_behave_as_a_map() {
        let text = |t: &str| Annotation::Text(t.to_owned());
        let annotations: Annotations = [
            ("b".to_owned(), text("1")),
            ("a".to_owned(), text("2")),
            ("b".to_owned(), text("3")),
        ]
        .into_iter()
        .collect();
        assert_eq!(annotations.len(), 2);
        assert_eq!(
            annotations.get("b"),
            Some(&text("3")),
            "a later entry replaces"
        );
        assert!(annotations.contains_key("a") && !annotations.contains_key("c"));
        assert_eq!(
            format!("{annotations:?}"),
            r#"{"a": Text("2"), "b": Text("3")}"#
        );
    }

    #[test]
    fn reads_eg_resource_entry() {
        let md = metadata(list(vec![st(vec![
            ("kind", s("HTTPRoute")),
            ("name", s("chat")),
            ("namespace", s("envoy-gateway")),
            ("sectionName", s("rule-0")),
            ("annotations", st(vec![("ai-gateway-generated", s("true"))])),
        ])]));
        let Ownership::Owned(owner) = ownership(Some(&md)) else {
            panic!()
        };
        assert_eq!(owner.qualified_name(), "envoy-gateway/chat");
        assert_eq!(owner.section_name.as_deref(), Some("rule-0"));
        assert!(
            owner
                .annotations
                .get("ai-gateway-generated")
                .unwrap()
                .is_enabled()
        );
    }

    #[test]
    fn missing_metadata_is_unknown_not_an_error() {
        assert_eq!(ownership(None), Ownership::Unknown);
        assert_eq!(
            ownership(Some(&MetadataView::default())),
            Ownership::Unknown
        );
        assert_eq!(ownership(Some(&metadata(list(vec![])))), Ownership::Unknown);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let md = metadata(s("oops"));
        assert_eq!(
            ownership(Some(&md)),
            Ownership::Malformed(wrong_kind(resources_path(), "a list", "a string"))
        );
        let md = metadata(list(vec![st(vec![("annotations", list(vec![]))])]));
        assert_eq!(
            ownership(Some(&md)),
            Ownership::Malformed(wrong_kind(
                resources_path().index(0).field("annotations"),
                "a struct",
                "a list"
            ))
        );
    }

    #[test]
    fn non_string_annotation_is_kept_but_not_enabled() {
        let md = metadata(list(vec![st(vec![(
            "annotations",
            st(vec![(
                "ai-gateway-generated",
                Value {
                    kind: Some(Kind::BoolValue(true)),
                },
            )]),
        )])]));
        let Ownership::Owned(owner) = ownership(Some(&md)) else {
            panic!()
        };
        assert_eq!(
            owner.annotations.get("ai-gateway-generated"),
            Some(&Annotation::Other("a bool"))
        );
        assert!(
            !owner
                .annotations
                .get("ai-gateway-generated")
                .unwrap()
                .is_enabled()
        );
        assert!(!Annotation::Text("False".into()).is_enabled());
    }
}
