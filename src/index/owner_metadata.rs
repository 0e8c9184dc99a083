//! A virtual host's or route's metadata, kept as it came, and the owner EG recorded in it,
//! read on first use.
//!
//! Reading an owner means validating the whole `envoy.config.core.v3.Metadata` as prost
//! would, which was most of the work of indexing a route configuration. Selection needs the
//! owners of only the routes whose metadata carries its annotation: every other route is
//! decided by a byte search ([`OwnerMetadata::mentions`]), which is sound because protobuf
//! writes a map key's bytes as they are. Such a route's owner is read only when something
//! asks for it (the explain table, DEBUG lines), and then once.
//!
//! The metadata is not copied: an [`OwnerMetadata`] is a range of its route configuration's
//! bytes (a `Bytes` slice per route would cost an atomic reference count update each way),
//! so its owner is read through the [`RouteConfigEntry`] that holds it.

use std::fmt;
use std::sync::OnceLock;

use memchr::memmem::Finder;
use prost::Message;

use super::error::{FieldPath, InvalidField, Problem};
use super::owner::{Ownership, ownership};
use super::owner_wire;
use super::text::{Source, Text};
use crate::xds::MetadataView;

/// Metadata whose owner is read when first asked for.
///
/// Kept small (32 bytes): a fleet's index holds one per route, and most are never read.
pub struct OwnerMetadata {
    /// Where the encoded `Metadata` lies in its route configuration's metadata source;
    /// `None` when the resource has no metadata.
    at: Option<Text>,
    /// Boxed: only the owners selection or the report ask for are ever set.
    owner: OnceLock<Box<Ownership>>,
}

impl OwnerMetadata {
    /// Metadata at `at` in its route configuration's source (`None`: there is none), unread.
    pub(super) fn at(at: Option<Text>) -> Self {
        Self {
            at,
            owner: OnceLock::new(),
        }
    }

    /// Metadata decoded as `records` (one per record of the field, which protobuf merges:
    /// reading their concatenation is reading the merge), copied to the end of `source`.
    pub(super) fn copied(records: &[bytes::Bytes], source: &mut Vec<u8>) -> Self {
        let at = match records {
            [] => None,
            [record] => Some(Text::copied(record, source)),
            records => Some(Text::copied(&records.concat(), source)),
        };
        Self::at(at)
    }

    /// Whether the encoded metadata contains `needle`'s bytes anywhere. `false` proves that no
    /// key or string of the metadata is `needle`; `true` proves nothing. `config` is the
    /// route configuration this metadata was indexed in.
    pub(crate) fn mentions(&self, config: &impl Source, needle: &Finder<'_>) -> bool {
        self.bytes(config)
            .is_some_and(|metadata| needle.find(metadata).is_some())
    }

    /// The owner EG recorded, read now if it was not before. `config` is the route
    /// configuration this metadata was indexed in.
    pub fn ownership(&self, config: &impl Source) -> &Ownership {
        self.owner.get_or_init(|| {
            Box::new(match self.bytes(config) {
                None => Ownership::Unknown,
                Some(metadata) => read(metadata),
            })
        })
    }

    /// The encoded `Metadata`, for readers of other namespaces than EG's (InferencePool
    /// records, the choices `crate::policy` records on routes); `None` when there is none.
    pub(crate) fn bytes<'a>(&self, config: &'a impl Source) -> Option<&'a [u8]> {
        // Metadata of another route configuration: an error of the caller, not of the input.
        Some(config.bytes(self.at?).unwrap_or_default())
    }
}

/// The range, and whether the owner has been read: the owner needs its route configuration.
impl fmt::Debug for OwnerMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerMetadata")
            .field("at", &self.at)
            .field("owner", &self.owner.get())
            .finish()
    }
}

/// The owner in an encoded `Metadata`: straight off the wire when it is in a canonical
/// encoding, by decoding it otherwise; the two give the same answer.
fn read(metadata: &[u8]) -> Ownership {
    owner_wire::ownership(metadata).unwrap_or_else(|| read_exact(metadata))
}

/// The owner in an encoded `Metadata`, by decoding all of it.
pub(super) fn read_exact(metadata: &[u8]) -> Ownership {
    match MetadataView::decode(metadata) {
        Ok(view) => ownership(Some(&view)),
        Err(e) => Ownership::Malformed(InvalidField::new(
            FieldPath::root().field("metadata"),
            Problem::Decode(e),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::records::corruptions;
    use crate::wire::put_len;
    use crate::workload::{self, Preset};
    use bytes::Bytes;
    use prost_types::value::Kind as K;
    use prost_types::{ListValue, Struct, Value};

    fn eg_metadata(resources: &Value) -> Vec<u8> {
        let eg = Struct {
            fields: [("resources".to_owned(), resources.clone())].into(),
        };
        let mut entry = Vec::new();
        put_len(&mut entry, 1, b"envoy-gateway");
        put_len(&mut entry, 2, &eg.encode_to_vec());
        let mut metadata = Vec::new();
        put_len(&mut metadata, 1, &entry);
        metadata
    }

    /// The exact reader's answer, which the fast reader must give too where it answers (it
    /// declines malformed owners, and leaves their errors to the exact reader).
    fn agree(metadata: &[u8]) -> Ownership {
        let exact = read_exact(metadata);
        if let Some(fast) = owner_wire::ownership(metadata) {
            assert_eq!(fast, exact, "metadata {metadata:?}");
        }
        exact
    }

    #[test]
    fn owner_shapes_and_mistakes_read_as_the_exact_reader_reads_them() {
        let v = |kind| Value { kind: Some(kind) };
        let s = |t: &str| v(K::StringValue(t.to_owned()));
        let st = |fields: Vec<(&str, Value)>| {
            v(K::StructValue(Struct {
                fields: fields.into_iter().map(|(k, x)| (k.to_owned(), x)).collect(),
            }))
        };
        let list = |values| v(K::ListValue(ListValue { values }));
        let owned = list(vec![st(vec![
            ("kind", s("HTTPRoute")),
            ("name", s("chat")),
            ("namespace", s("team-a")),
            ("sectionName", v(K::NullValue(0))),
            (
                "annotations",
                st(vec![("a", s("true")), ("b", v(K::BoolValue(true)))]),
            ),
        ])]);
        let cases = [
            (owned, "Owned"),
            (s("oops"), "resources: is a string, not a list"),
            (list(vec![]), "Unknown"),
            (list(vec![s("x"), st(vec![])]), "resources[0]: is a string"),
            (
                list(vec![st(vec![("kind", v(K::NumberValue(1.0)))])]),
                "resources[0].kind: is a number",
            ),
            (
                list(vec![st(vec![("name", list(vec![s("x")]))])]),
                "resources[0].name: is a list",
            ),
            (
                list(vec![st(vec![("annotations", list(vec![]))])]),
                "resources[0].annotations: is a list",
            ),
            (
                list(vec![st(vec![("annotations", v(K::NullValue(0)))])]),
                "Owned",
            ),
            (Value { kind: None }, "resources: is null"),
        ];
        for (i, (resources, expected)) in cases.iter().enumerate() {
            let metadata = eg_metadata(resources);
            let shown = match agree(&metadata) {
                Ownership::Malformed(e) => e.to_string(),
                other => {
                    let fast = owner_wire::ownership(&metadata);
                    assert!(
                        fast.is_some(),
                        "case {i}: a well-formed owner takes the fast path"
                    );
                    format!("{other:?}")
                }
            };
            assert!(shown.contains(expected), "case {i}: {shown}");
        }
    }

    #[test]
    fn a_value_with_two_kinds_takes_the_exact_reader() {
        // Protobuf keeps the last kind; the fast reader declines rather than judge.
        let mut two_kinds = Vec::new();
        put_len(&mut two_kinds, 3, b"first");
        put_len(&mut two_kinds, 3, b"second");
        let mut entry = Vec::new();
        put_len(&mut entry, 1, b"resources");
        put_len(&mut entry, 2, &two_kinds);
        let mut eg = Vec::new();
        put_len(&mut eg, 1, &entry);
        let mut outer = Vec::new();
        put_len(&mut outer, 1, b"envoy-gateway");
        put_len(&mut outer, 2, &eg);
        let mut metadata = Vec::new();
        put_len(&mut metadata, 1, &outer);
        assert_eq!(owner_wire::ownership(&metadata), None);
        let (config, owner) = held(&[&metadata]);
        assert!(
            matches!(owner.ownership(&config), Ownership::Malformed(e) if e.to_string().contains("a string"))
        );
    }

    /// One route's metadata from the generated workload, annotations included.
    fn generated_route_metadata() -> Vec<u8> {
        use crate::wire::{first_len, len_payloads};
        let request = workload::preset(Preset::Small);
        let vhosts = request.routes.iter().flat_map(|rc| len_payloads(rc, 2));
        let routes = vhosts.flatten().flat_map(|vhost| len_payloads(vhost, 3));
        routes
            .flatten()
            .filter_map(|route| first_len(route, 4))
            .find(|metadata| memchr::memmem::find(metadata, b"annotations").is_some())
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    }

    #[test]
    fn every_corruption_of_real_metadata_reads_as_the_exact_reader_or_declines() {
        let original = generated_route_metadata();
        assert!(
            matches!(agree(&original), Ownership::Owned(o) if !o.annotations.is_empty()),
            "the workload's route metadata reads as an annotated owner"
        );
        let (mut answered, mut declined) = (0, 0);
        for (_, bytes) in corruptions(&original) {
            agree(&bytes);
            match owner_wire::ownership(&bytes) {
                Some(_) => answered += 1,
                None => declined += 1,
            }
        }
        assert!(
            answered > declined,
            "{answered} answered, {declined} declined"
        );
    }

    fn named(name: &str) -> Vec<u8> {
        let string = |t: &str| Value {
            kind: Some(K::StringValue(t.to_owned())),
        };
        let owner = Struct {
            fields: [("name".to_owned(), string(name))].into(),
        };
        eg_metadata(&Value {
            kind: Some(K::ListValue(ListValue {
                values: vec![Value {
                    kind: Some(K::StructValue(owner)),
                }],
            })),
        })
    }

    /// Metadata decoded as `records`, and the route configuration that holds the copy.
    fn held(records: &[&[u8]]) -> (crate::index::RouteConfigEntry, OwnerMetadata) {
        let records: Vec<Bytes> = records.iter().map(|r| Bytes::copy_from_slice(r)).collect();
        let mut source = b"other metadata first".to_vec();
        let owner = OwnerMetadata::copied(&records, &mut source);
        let config =
            crate::index::RouteConfigEntry::in_place(String::new(), Vec::new(), &source.into());
        (config, owner)
    }

    #[test]
    fn metadata_in_several_records_is_read_merged() {
        // Protobuf merges the records: the later `envoy-gateway` map entry replaces the first.
        let (config, owner) = held(&[&named("first"), &named("second")]);
        assert!(matches!(owner.ownership(&config), Ownership::Owned(o) if o.name == "second"));
        let (config, one) = held(&[&named("only")]);
        assert!(matches!(one.ownership(&config), Ownership::Owned(o) if o.name == "only"));
        let (config, none) = held(&[]);
        assert!(none.at.is_none());
        assert_eq!(none.ownership(&config), &Ownership::Unknown);
    }

    #[test]
    fn mentions_is_a_byte_search_and_needs_no_read() {
        let (config, owner) = held(&[b"\x0a\x03abc"]);
        assert!(owner.mentions(&config, &Finder::new("abc")));
        assert!(!owner.mentions(&config, &Finder::new("abd")));
        assert!(
            !owner.mentions(&config, &Finder::new("other")),
            "only its own range is searched"
        );
        assert!(owner.owner.get().is_none(), "searching reads no owner");
        assert!(!OwnerMetadata::at(None).mentions(&config, &Finder::new("")));
        assert!(
            Text::new(0..1 << 33).is_none(),
            "ranges beyond 32 bits are refused"
        );
    }
}
