//! The route side of the index, fast path: route configurations read straight off the wire.
//!
//! Decoding route configurations with prost meant a `String`, a `Vec` or a `Bytes` for every
//! field of every route, on tens of thousands of routes per call. This reads the same fields
//! from the request bytes in one walk, allocating only what the index keeps. Metadata is kept
//! as a slice of the request, unread ([`super::owner_metadata`]). Each virtual host's and
//! route's record position is kept too, so that the patch goes straight to the selected
//! routes (`crate::mutate::route`) instead of walking the route configuration again.
//!
//! The fast path either gives exactly what the exact path (`RouteConfigEntry::read_exact`,
//! prost with the `crate::xds` views) gives, or `None`: it reads every field those views
//! declare, with the same wire types, the same UTF-8 checks and the same "last one wins" for
//! strings, and declines (`None`) what it would have to merge (a singular message field split
//! over several records) or cannot judge cheaply. EG writes neither. A `None` sends the whole
//! route configuration down the exact path, which then also produces the exact error text.

use bytes::Bytes;

use super::owner_metadata::OwnerMetadata;
use super::records::{Once, Reader};
use super::route::{RouteConfigEntry, RouteEntry, Targets, Text, VirtualHostEntry};
use crate::xds::{
    ClusterWeightView, RouteActionView, RouteConfigurationView, RouteView, VirtualHostView,
    WeightedClustersView,
};

/// Lists reused from one route configuration to the next, so that each virtual host's routes
/// and each configuration's virtual hosts are allocated once, at their exact size, instead of
/// grown by doubling (with 10–20 routes per virtual host, three to four reallocations and a
/// third of the capacity unused).
#[derive(Default)]
pub(super) struct Scratch {
    virtual_hosts: Vec<VirtualHostEntry>,
    routes: Vec<RouteEntry>,
}

/// Moves the scratch list's items into a list of exactly their number; the scratch keeps its
/// capacity for the next one.
fn exact<T>(scratch: &mut Vec<T>) -> Vec<T> {
    let mut list = Vec::with_capacity(scratch.len());
    list.append(scratch);
    list
}

/// Indexes one encoded route configuration, or `None` to ask for the exact path.
pub(super) fn read(bytes: &Bytes, scratch: &mut Scratch) -> Option<RouteConfigEntry> {
    let mut name = "";
    scratch.virtual_hosts.clear();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        match record.number {
            RouteConfigurationView::NAME => name = record.text()?,
            RouteConfigurationView::VIRTUAL_HOSTS => {
                let whole = Text::within(bytes, record.whole)?;
                let vhost = virtual_host(bytes, record.len()?, whole, &mut scratch.routes)?;
                scratch.virtual_hosts.push(vhost);
            }
            _ => {}
        }
    }
    Some(RouteConfigEntry::in_place(
        name.to_owned(),
        exact(&mut scratch.virtual_hosts),
        bytes,
    ))
}

/// A virtual host, from its payload within the route configuration `config`.
fn virtual_host(
    config: &Bytes,
    bytes: &[u8],
    whole: Text,
    routes: &mut Vec<RouteEntry>,
) -> Option<VirtualHostEntry> {
    let mut name = "";
    routes.clear();
    let mut metadata = Once::default();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        match record.number {
            VirtualHostView::NAME => name = record.text()?,
            VirtualHostView::ROUTES => {
                let whole = Text::within(config, record.whole)?;
                routes.push(route(config, record.len()?, whole)?);
            }
            VirtualHostView::METADATA => metadata.set(record)?,
            _ => {}
        }
    }
    Some(VirtualHostEntry {
        name: Text::within(config, name.as_bytes())?,
        gateway: kept(metadata, config)?,
        routes: exact(routes),
        record: Some(whole),
    })
}

/// A route, from its payload within the route configuration `config`.
fn route(config: &Bytes, bytes: &[u8], whole: Text) -> Option<RouteEntry> {
    let mut name = "";
    let mut action = Once::default();
    let mut metadata = Once::default();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        match record.number {
            RouteView::NAME => name = record.text()?,
            RouteView::ROUTE => action.set(record)?,
            RouteView::METADATA => metadata.set(record)?,
            _ => {}
        }
    }
    Some(RouteEntry {
        name: Text::within(config, name.as_bytes())?,
        owner: kept(metadata, config)?,
        targets: match action.0 {
            Some(action) => targets(config, action)?,
            None => Targets::None,
        },
        record: Some(whole),
    })
}

/// A `RouteAction`'s cluster specifier, as the exact path reads the prost view.
fn targets(config: &[u8], bytes: &[u8]) -> Option<Targets> {
    let (mut cluster, mut header) = (None, None);
    let mut weighted = Once::default();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        match record.number {
            RouteActionView::CLUSTER => cluster = Some(record.text()?),
            RouteActionView::CLUSTER_HEADER => header = Some(record.text()?),
            RouteActionView::WEIGHTED_CLUSTERS => weighted.set(record)?,
            _ => {}
        }
    }
    // Read (and so checked) even when `cluster` wins, as prost decodes every field.
    let weighted = match weighted.0 {
        Some(bytes) => Some(weighted_names(config, bytes)?),
        None => None,
    };
    let text = |t: &str| Text::within(config, t.as_bytes());
    Some(match (cluster, header, weighted) {
        (Some(cluster), _, _) => Targets::Cluster(text(cluster)?),
        (None, Some(header), _) => Targets::Header(text(header)?),
        (None, None, Some(weighted)) => Targets::Weighted(weighted),
        (None, None, None) => Targets::Other,
    })
}

fn weighted_names(config: &[u8], bytes: &[u8]) -> Option<Vec<Text>> {
    let mut names = Vec::new();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        if record.number == WeightedClustersView::CLUSTERS {
            let name = cluster_weight_name(record.len()?)?;
            names.push(Text::within(config, name.as_bytes())?);
        }
    }
    Some(names)
}

fn cluster_weight_name(bytes: &[u8]) -> Option<&str> {
    let mut name = "";
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        if record.number == ClusterWeightView::NAME {
            name = record.text()?;
        }
    }
    Some(name)
}

/// Metadata read as `metadata`, kept unread where it lies in `config`.
fn kept(metadata: Once<'_>, config: &[u8]) -> Option<OwnerMetadata> {
    let at = match metadata.0 {
        None => None,
        Some(metadata) => Some(Text::within(config, metadata)?),
    };
    Some(OwnerMetadata::at(at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::records::hold_to_exact;
    use crate::workload::{self, Preset};
    use bytes::Bytes;
    use prost::Message;

    /// The exact path's answer, for comparison.
    fn exact(bytes: &Bytes) -> String {
        format!("{:?}", RouteConfigEntry::read_exact(bytes))
    }

    fn fast(bytes: &Bytes) -> Option<String> {
        read(bytes, &mut Scratch::default()).map(|entry| format!("{entry:?}"))
    }

    #[test]
    fn generated_fleet_takes_the_fast_path_with_the_exact_answer() {
        let request = workload::preset(Preset::Small);
        for config in &request.routes {
            assert_eq!(fast(config).as_deref(), Some(exact(config).as_str()));
        }
    }

    /// The index reads every route configuration of a request with one scratch; what a
    /// configuration given up half way leaves in it must not leak into the next one.
    #[test]
    fn a_shared_scratch_gives_each_configuration_its_own_lists() {
        let request = workload::preset(Preset::Small);
        let mut scratch = Scratch::default();
        for config in &request.routes {
            // Given up inside a route, after earlier routes were pushed...
            let entry = read(config, &mut Scratch::default()).unwrap();
            let routes = &entry.virtual_hosts.as_ref().unwrap()[0].routes;
            assert!(routes.len() >= 2, "{}", entry.name);
            let second = routes[1].record.unwrap().range();
            let payload_len = crate::wire::fields(&config[second.clone()])
                .next()
                .unwrap()
                .unwrap()
                .payload
                .len();
            let mut broken = config.to_vec();
            broken[second.end - payload_len] = 0x07; // wire type 7: no such thing
            // ... and at a second virtual host, truncated, after the first was pushed.
            let mut longer = config.to_vec();
            longer.extend_from_slice(&[0x12, 0x05, 0x0a]);
            for given_up in [broken, longer] {
                assert!(read(&Bytes::from(given_up), &mut scratch).is_none());
                let shared = read(config, &mut scratch).map(|entry| format!("{entry:?}"));
                assert_eq!(shared.as_deref(), Some(exact(config).as_str()));
            }
        }
    }

    /// A route configuration whose one route has `metadata`, one record per entry.
    fn with_route_metadata(metadata: &[&[u8]]) -> Bytes {
        use crate::wire::put_len;
        let mut route = Vec::new();
        put_len(&mut route, 14, b"r");
        for record in metadata {
            put_len(&mut route, 4, record);
        }
        let mut vhost = Vec::new();
        put_len(&mut vhost, 1, b"v");
        put_len(&mut vhost, 3, &route);
        let mut config = Vec::new();
        put_len(&mut config, 1, b"rc");
        put_len(&mut config, 2, &vhost);
        config.into()
    }

    fn eg_metadata(name: &str) -> Vec<u8> {
        use prost_types::value::Kind;
        use prost_types::{ListValue, Struct, Value};
        let string = |t: &str| Value {
            kind: Some(Kind::StringValue(t.to_owned())),
        };
        let owner = Struct {
            fields: [("name".to_owned(), string(name))].into(),
        };
        let resources = Value {
            kind: Some(Kind::ListValue(ListValue {
                values: vec![Value {
                    kind: Some(Kind::StructValue(owner)),
                }],
            })),
        };
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
    fn metadata_is_kept_unread_and_split_metadata_takes_the_exact_path() {
        let one = with_route_metadata(&[&eg_metadata("chat")]);
        assert_eq!(fast(&one).as_deref(), Some(exact(&one).as_str()));
        assert!(exact(&one).contains(r#"name: "chat""#));
        // Bad bytes inside metadata do not make the route configuration unreadable: they
        // are the route's owner's problem, found if it is ever read.
        let bad = with_route_metadata(&[b"\xff\xff"]);
        let entry = read(&bad, &mut Scratch::default())
            .expect("the fast path keeps metadata it does not read");
        assert!(entry.virtual_hosts.is_ok());
        assert_eq!(format!("{entry:?}"), exact(&bad));
        assert!(exact(&bad).contains("Malformed"));
        // Two records merge in protobuf: the fast path declines, the exact one reads both.
        let split = with_route_metadata(&[&eg_metadata("first"), &eg_metadata("second")]);
        assert!(fast(&split).is_none());
        assert!(exact(&split).contains(r#"name: "second""#));
    }

    #[test]
    fn every_corruption_gives_the_exact_answer_or_falls_back() {
        // Across a whole route configuration, metadata included: where the fast path
        // answers, it must answer as the exact one.
        let request = workload::preset(Preset::Small);
        let (answered, declined) = hold_to_exact(&request.routes[..1], fast, exact);
        assert!(
            answered > declined,
            "{answered} answered, {declined} declined"
        );
    }
}
