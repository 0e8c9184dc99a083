//! The route side of the index, fast path: route configurations with metadata left on the wire.
//!
//! Decoding EG's owner metadata into `prost_types::Struct` trees was most of the hook's time
//! on a fleet (tens of thousands of routes, each with a `resources[]` struct). These views are
//! the ones in `crate::xds` with `metadata` kept as raw map entries (zero-copy slices of the
//! request), which [`super::owner_wire`] reads without building trees.
//!
//! The fast path either gives exactly what the exact path (`RouteConfigEntry::read` with the
//! `crate::xds` views) gives, or `None`: it decodes everything those views decode, its views
//! accept a superset of what they accept (metadata is any bytes here), and `owner_wire`
//! declines whatever it cannot prove prost would read the same way. A `None` sends the whole
//! route configuration down the exact path, which then also produces the exact error text.

use bytes::Bytes;
use prost::Message;

use super::owner::Ownership;
use super::owner_wire;
use super::route::{RouteConfigEntry, RouteEntry, Targets, VirtualHostEntry, targets};
use crate::xds::RouteActionView;

/// `envoy.config.route.v3.RouteConfiguration`, as [`crate::xds::RouteConfigurationView`].
#[derive(Clone, PartialEq, prost::Message)]
struct RouteConfigurationScan {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "2")]
    virtual_hosts: Vec<VirtualHostScan>,
}

/// `envoy.config.route.v3.VirtualHost`, as [`crate::xds::VirtualHostView`].
#[derive(Clone, PartialEq, prost::Message)]
struct VirtualHostScan {
    #[prost(string, tag = "1")]
    name: String,
    #[prost(message, repeated, tag = "3")]
    routes: Vec<RouteScan>,
    #[prost(message, optional, tag = "24")]
    metadata: Option<RawMetadata>,
}

/// `envoy.config.route.v3.Route`, as [`crate::xds::RouteView`].
#[derive(Clone, PartialEq, prost::Message)]
struct RouteScan {
    #[prost(string, tag = "14")]
    name: String,
    #[prost(message, optional, tag = "4")]
    metadata: Option<RawMetadata>,
    #[prost(message, optional, tag = "2")]
    route: Option<RouteActionView>,
}

/// `envoy.config.core.v3.Metadata` with its `filter_metadata` map entries undecoded. Two
/// `metadata` records merge into one list of entries, as they merge into one map.
#[derive(Clone, PartialEq, prost::Message)]
struct RawMetadata {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    filter_metadata: Vec<Bytes>,
}

/// Indexes one encoded route configuration, or `None` to ask for the exact path.
pub(super) fn read(bytes: &Bytes) -> Option<RouteConfigEntry> {
    let RouteConfigurationScan {
        name,
        virtual_hosts,
    } = RouteConfigurationScan::decode(bytes.clone()).ok()?;
    // Loops, not `collect::<Option<Vec<_>>>()`, which cannot size its vector up front.
    let mut entries = Vec::with_capacity(virtual_hosts.len());
    for scan in virtual_hosts {
        entries.push(virtual_host(scan)?);
    }
    Some(RouteConfigEntry {
        name,
        virtual_hosts: Ok(entries),
    })
}

fn virtual_host(scan: VirtualHostScan) -> Option<VirtualHostEntry> {
    let VirtualHostScan {
        name,
        routes,
        metadata,
    } = scan;
    let mut entries = Vec::with_capacity(routes.len());
    for scan in routes {
        entries.push(route(scan)?);
    }
    Some(VirtualHostEntry {
        name,
        gateway: ownership(metadata)?,
        routes: entries,
    })
}

fn route(scan: RouteScan) -> Option<RouteEntry> {
    let RouteScan {
        name,
        metadata,
        route,
    } = scan;
    Some(RouteEntry {
        name,
        owner: ownership(metadata)?,
        targets: route.map_or(Targets::None, targets),
    })
}

fn ownership(metadata: Option<RawMetadata>) -> Option<Ownership> {
    match metadata {
        None => Some(Ownership::Unknown),
        Some(metadata) => owner_wire::ownership(&metadata.filter_metadata),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{self, Preset};

    /// The exact path's answer, for comparison.
    fn exact(bytes: &Bytes) -> String {
        format!("{:?}", RouteConfigEntry::read_exact(bytes))
    }

    fn fast(bytes: &Bytes) -> Option<String> {
        read(bytes).map(|entry| format!("{entry:?}"))
    }

    #[test]
    fn generated_fleet_takes_the_fast_path_with_the_exact_answer() {
        let request = workload::preset(Preset::Small);
        for config in &request.routes {
            assert_eq!(fast(config).as_deref(), Some(exact(config).as_str()));
        }
    }

    /// A route configuration whose one route has `metadata` (an encoded `Metadata`).
    fn with_route_metadata(metadata: &[u8]) -> Bytes {
        use crate::wire::put_len;
        let mut route = Vec::new();
        put_len(&mut route, 14, b"r");
        put_len(&mut route, 4, metadata);
        let mut vhost = Vec::new();
        put_len(&mut vhost, 1, b"v");
        put_len(&mut vhost, 3, &route);
        let mut config = Vec::new();
        put_len(&mut config, 1, b"rc");
        put_len(&mut config, 2, &vhost);
        config.into()
    }

    fn eg_metadata(resources: prost_types::Value) -> Vec<u8> {
        use prost_types::Struct;
        let eg = Struct {
            fields: [("resources".to_owned(), resources)].into(),
        };
        let mut entry = Vec::new();
        crate::wire::put_len(&mut entry, 1, b"envoy-gateway");
        crate::wire::put_len(&mut entry, 2, &eg.encode_to_vec());
        let mut metadata = Vec::new();
        crate::wire::put_len(&mut metadata, 1, &entry);
        metadata
    }

    #[test]
    fn owner_shapes_and_mistakes_read_as_the_exact_path_reads_them() {
        use prost_types::value::Kind as K;
        use prost_types::{ListValue, Struct, Value};
        let v = |kind| Value { kind: Some(kind) };
        let s = |t: &str| v(K::StringValue(t.to_owned()));
        let st = |fields: Vec<(&str, Value)>| {
            v(K::StructValue(Struct {
                fields: fields.into_iter().map(|(k, x)| (k.to_owned(), x)).collect(),
            }))
        };
        let list = |values| v(K::ListValue(ListValue { values }));
        let cases = [
            list(vec![st(vec![
                ("kind", s("HTTPRoute")),
                ("name", s("chat")),
                ("namespace", s("team-a")),
                ("sectionName", v(K::NullValue(0))),
                (
                    "annotations",
                    st(vec![("a", s("true")), ("b", v(K::BoolValue(true)))]),
                ),
            ])]),
            s("oops"),
            list(vec![]),
            list(vec![s("x"), st(vec![])]),
            list(vec![st(vec![("kind", v(K::NumberValue(1.0)))])]),
            list(vec![st(vec![("name", list(vec![s("x")]))])]),
            list(vec![st(vec![("annotations", list(vec![]))])]),
            list(vec![st(vec![("annotations", v(K::NullValue(0)))])]),
            Value { kind: None },
        ];
        for (i, resources) in cases.into_iter().enumerate() {
            let config = with_route_metadata(&eg_metadata(resources));
            assert_eq!(
                fast(&config).as_deref(),
                Some(exact(&config).as_str()),
                "case {i}"
            );
        }
        // A Value with two kinds: protobuf keeps the last; the fast path declines.
        let mut two_kinds = Vec::new();
        crate::wire::put_len(&mut two_kinds, 3, b"first");
        crate::wire::put_len(&mut two_kinds, 3, b"second");
        let mut eg = Vec::new();
        let mut entry = Vec::new();
        crate::wire::put_len(&mut entry, 1, b"resources");
        crate::wire::put_len(&mut entry, 2, &two_kinds);
        crate::wire::put_len(&mut eg, 1, &entry);
        let mut outer = Vec::new();
        crate::wire::put_len(&mut outer, 1, b"envoy-gateway");
        crate::wire::put_len(&mut outer, 2, &eg);
        let mut metadata = Vec::new();
        crate::wire::put_len(&mut metadata, 1, &outer);
        let config = with_route_metadata(&metadata);
        assert_eq!(fast(&config), None);
        assert!(exact(&config).contains("resources is a string, not a list"));
    }

    #[test]
    fn every_corruption_gives_the_exact_answer_or_falls_back() {
        // Corrupt one byte at a time (and truncate) across a whole route configuration,
        // metadata included: where the fast path answers, it must answer as the exact one.
        let request = workload::preset(Preset::Small);
        let original = request.routes[0].to_vec();
        let (mut answered, mut declined) = (0, 0);
        for at in 0..original.len() {
            for replace in [0x00, 0x0a, 0x12, 0x1a, 0x2a, 0xff, original[at] ^ 0x01] {
                let mut bytes = original.clone();
                bytes[at] = replace;
                let bytes = Bytes::from(bytes);
                match fast(&bytes) {
                    Some(answer) => {
                        answered += 1;
                        assert_eq!(answer, exact(&bytes), "byte {at} set to {replace:#x}");
                    }
                    None => declined += 1,
                }
            }
            let cut = Bytes::copy_from_slice(&original[..at]);
            if let Some(answer) = fast(&cut) {
                assert_eq!(answer, exact(&cut), "cut at {at}");
            }
        }
        assert!(
            answered > declined,
            "{answered} answered, {declined} declined"
        );
    }
}
