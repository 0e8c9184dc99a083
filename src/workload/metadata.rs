//! EG's `filter_metadata["envoy-gateway"]`, encoded deterministically.
//!
//! envoy-types models `Metadata` and `Struct` with `HashMap`s, whose encoding order changes
//! from run to run; a generator that must give the same bytes for the same seed cannot use
//! them. These local messages are wire-identical (same field numbers) with ordered maps, and
//! the encoded metadata is spliced into the resource at its field number
//! ([`with_records`]), where EG's own encoder would put it.

use std::collections::BTreeMap;

use prost::Message;

use crate::wire;

#[derive(Clone, PartialEq, prost::Message)]
struct MetadataMsg {
    #[prost(btree_map = "string, message", tag = "1")]
    filter_metadata: BTreeMap<String, StructMsg>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct StructMsg {
    #[prost(btree_map = "string, message", tag = "1")]
    fields: BTreeMap<String, ValueMsg>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ValueMsg {
    #[prost(oneof = "Kind", tags = "3, 5, 6")]
    kind: Option<Kind>,
}

#[derive(Clone, PartialEq, prost::Oneof)]
enum Kind {
    #[prost(string, tag = "3")]
    Text(String),
    #[prost(message, tag = "5")]
    Struct(StructMsg),
    #[prost(message, tag = "6")]
    List(ListMsg),
}

#[derive(Clone, PartialEq, prost::Message)]
struct ListMsg {
    #[prost(message, repeated, tag = "1")]
    values: Vec<ValueMsg>,
}

/// The Kubernetes object EG records as a resource's owner.
#[derive(Debug, Clone, Copy)]
pub(super) struct OwnerRef<'a> {
    /// `Gateway`, `HTTPRoute`, `TCPRoute`, ...
    pub kind: &'a str,
    /// Object name.
    pub name: &'a str,
    /// Object namespace.
    pub namespace: &'a str,
    /// Gateway listener or rule name.
    pub section: Option<&'a str>,
    /// Forwarded annotations, `gateway.envoyproxy.io/` already stripped (as EG does).
    pub annotations: &'a [(&'a str, &'a str)],
}

fn text(s: &str) -> ValueMsg {
    ValueMsg {
        kind: Some(Kind::Text(s.to_owned())),
    }
}

fn object(fields: BTreeMap<String, ValueMsg>) -> ValueMsg {
    ValueMsg {
        kind: Some(Kind::Struct(StructMsg { fields })),
    }
}

/// An encoded `envoy.config.core.v3.Metadata` naming `owner`, in EG's shape.
pub(super) fn owned_by(owner: OwnerRef<'_>) -> Vec<u8> {
    let mut entry = BTreeMap::from([
        ("kind".to_owned(), text(owner.kind)),
        ("name".to_owned(), text(owner.name)),
        ("namespace".to_owned(), text(owner.namespace)),
    ]);
    if let Some(section) = owner.section {
        entry.insert("sectionName".to_owned(), text(section));
    }
    if !owner.annotations.is_empty() {
        let annotations = owner
            .annotations
            .iter()
            .map(|(k, v)| ((*k).to_owned(), text(v)))
            .collect();
        entry.insert("annotations".to_owned(), object(annotations));
    }
    let resources = ValueMsg {
        kind: Some(Kind::List(ListMsg {
            values: vec![object(entry)],
        })),
    };
    MetadataMsg {
        filter_metadata: BTreeMap::from([(
            crate::xds::names::EG_METADATA.to_owned(),
            StructMsg {
                fields: BTreeMap::from([("resources".to_owned(), resources)]),
            },
        )]),
    }
    .encode_to_vec()
}

/// `message` with a length-delimited record numbered `number` per payload, placed before the
/// first record with a higher number: where a protobuf encoder that writes fields in number
/// order (EG's, prost's) would have put them.
pub(super) fn with_records<'a>(
    message: Vec<u8>,
    number: u32,
    payloads: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<u8> {
    let at = wire::fields(&message)
        .map_while(Result::ok)
        .take_while(|f| f.number <= number)
        .map(|f| f.record.len())
        .sum::<usize>();
    let (head, tail) = message.split_at(at.min(message.len()));
    let mut out = Vec::with_capacity(message.len() + 256);
    out.extend_from_slice(head);
    for payload in payloads {
        wire::put_len(&mut out, number, payload);
    }
    out.extend_from_slice(tail);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::{Annotation, Ownership, owner::ownership};
    use crate::xds::MetadataView;

    #[test]
    fn reads_back_as_the_owner_with_annotations() {
        let bytes = owned_by(OwnerRef {
            kind: "HTTPRoute",
            name: "chat",
            namespace: "team-a",
            section: Some("rule-0"),
            annotations: &[("ai-gateway-generated", "true")],
        });
        let view = MetadataView::decode(bytes.as_slice()).unwrap();
        let Ownership::Owned(owner) = ownership(Some(&view)) else {
            panic!("not owned")
        };
        assert_eq!(owner.qualified_name(), "team-a/chat");
        assert_eq!(owner.section_name.as_deref(), Some("rule-0"));
        assert_eq!(
            owner.annotations.get("ai-gateway-generated"),
            Some(&Annotation::Text("true".into()))
        );
    }

    #[test]
    fn records_go_where_field_order_puts_them() {
        let mut m = Vec::new();
        wire::put_len(&mut m, 1, b"a");
        wire::put_len(&mut m, 5, b"c");
        let out = with_records(m, 3, [&b"b1"[..], &b"b2"[..]]);
        let numbers: Vec<u32> = wire::fields(&out).map(|f| f.unwrap().number).collect();
        assert_eq!(numbers, [1, 3, 3, 5]);
    }
}
