//! The index's fast wire readers held to their exact, decoding paths, on any bytes: the
//! oracle of the `readers` fuzz target (feature `fuzzing`) and of the unit tests.
//!
//! Three parts of the index have two readers (bench/README.md says where each fast one pays):
//! listeners (`listener_scan` / prost views), route configurations (`scan` / prost views) and
//! owner metadata (`owner_wire` / `prost_types::Struct`). A fast reader may decline (`None`),
//! and the exact one then answers; where it answers, its answer must be the exact one's, to
//! the byte of every error text. Answers are compared as their `Debug` text, which shows every
//! field the rest of the hook reads (route configurations show names, targets and metadata as
//! text, not as positions, so the two readers' different buffers compare equal).

use bytes::Bytes;

use super::listener::ListenerEntry;
use super::route::RouteConfigEntry;

/// Which pair of readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pair {
    /// `envoy.config.listener.v3.Listener`.
    Listener,
    /// `envoy.config.route.v3.RouteConfiguration`.
    RouteConfig,
    /// `envoy.config.core.v3.Metadata` holding EG's owner.
    Owner,
}

/// A fast reader answered differently from the exact one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pair:?}: the fast reader answered\n{fast}\nbut the exact one\n{exact}")]
pub struct Disagreement {
    /// Which readers.
    pub pair: Pair,
    /// The fast reader's answer.
    pub fast: String,
    /// The exact reader's answer.
    pub exact: String,
}

/// Runs both readers of `pair` on `bytes`: `Ok(true)` when the fast one answered (and agreed),
/// `Ok(false)` when it declined.
pub fn readers_agree(pair: Pair, bytes: &Bytes) -> Result<bool, Disagreement> {
    let (fast, exact) = match pair {
        Pair::Listener => (
            super::listener_scan::read(bytes).map(|entry| format!("{entry:?}")),
            format!("{:?}", ListenerEntry::read_exact(bytes)),
        ),
        Pair::RouteConfig => (
            super::scan::read(bytes, &mut super::scan::Scratch::default())
                .map(|entry| format!("{entry:?}")),
            format!("{:?}", RouteConfigEntry::read_exact(bytes)),
        ),
        Pair::Owner => (
            super::owner_wire::ownership(bytes).map(|owner| format!("{owner:?}")),
            format!("{:?}", super::owner_metadata::read_exact(bytes)),
        ),
    };
    match fast {
        None => Ok(false),
        Some(fast) if fast == exact => Ok(true),
        Some(fast) => Err(Disagreement { pair, fast, exact }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{self, Preset};

    #[test]
    fn generated_resources_take_the_fast_paths_and_agree() {
        let request = workload::preset(Preset::Small);
        for listener in &request.listeners {
            assert_eq!(readers_agree(Pair::Listener, listener), Ok(true));
        }
        for config in &request.routes {
            assert_eq!(readers_agree(Pair::RouteConfig, config), Ok(true));
        }
    }

    /// Found by `readers_listener`: an HCM without RDS whose `scheme_header_transformation`
    /// prost refuses. The fast reader answered "no route specifier" before reading it.
    #[test]
    fn an_hcm_prost_refuses_is_never_judged_by_the_fast_reader() {
        use crate::wire::put_len;
        use crate::xds::{
            AnyView, FilterChainView, HcmView, ListenerView, NetworkFilterView,
            SchemeHeaderTransformationView, names,
        };
        let mut scheme = Vec::new();
        // match_upstream as a fixed32: prost wants a varint.
        scheme.push(u8::try_from(SchemeHeaderTransformationView::MATCH_UPSTREAM << 3 | 5).unwrap());
        scheme.extend_from_slice(&[1, 0, 0, 0]);
        let mut hcm = Vec::new();
        put_len(&mut hcm, HcmView::SCHEME_HEADER_TRANSFORMATION, &scheme);
        let mut any = Vec::new();
        put_len(
            &mut any,
            AnyView::TYPE_URL,
            format!("{}{}", names::TYPE_URL_PREFIX, names::HCM_TYPE).as_bytes(),
        );
        put_len(&mut any, AnyView::VALUE, &hcm);
        let mut filter = Vec::new();
        put_len(
            &mut filter,
            NetworkFilterView::NAME,
            names::HCM_FILTER.as_bytes(),
        );
        put_len(&mut filter, NetworkFilterView::TYPED_CONFIG, &any);
        let mut chain = Vec::new();
        put_len(&mut chain, FilterChainView::FILTERS, &filter);
        let mut listener = Vec::new();
        put_len(&mut listener, ListenerView::NAME, b"l");
        put_len(&mut listener, ListenerView::FILTER_CHAINS, &chain);
        let listener = Bytes::from(listener);
        assert_eq!(readers_agree(Pair::Listener, &listener), Ok(false));
        let exact = format!("{:?}", ListenerEntry::read_exact(&listener));
        assert!(exact.contains("Malformed"), "{exact}");
    }

    /// Found by `readers_owner`: an owner whose `kind` is a number, in a resource where a later
    /// field's value has a wire type prost refuses. The fast reader named the `kind`; the exact
    /// one cannot decode the metadata at all. A malformed owner now takes the exact reader.
    #[test]
    fn a_malformed_owner_is_named_by_the_exact_reader() {
        let metadata = Bytes::from_static(
            b"\x0a\x73\x0a\x0d\x65\x6e\x76\x6f\x79\x2d\x67\x61\x74\x65\x77\x61\x79\x12\x62\x0a\
            \x60\x0a\x09\x72\x65\x73\x6f\x75\x72\x63\x65\x73\x12\x53\x32\x51\x0a\x4f\x2a\x4d\
            \x0a\x0c\x0a\x04\x6e\x61\x6d\x65\x12\x04\x1a\x02\x67\x77\x0a\x11\x0a\x04\x6b\x69\
            \x6e\x64\x12\x09\x11\x07\x47\x61\x75\x65\x77\x61\x79\x0a\x15\x0a\x0b\x61\x6e\x6e\
            \x6f\x74\x61\x74\x69\x6f\x6e\x73\x12\x06\x30\x04\x68\x74\x74\x70\x0a\x13\x0a\x09\
            \x6e\x61\x6d\x65\x73\x3e\x61\x63\x65\x12\x06\x1a\x04\x73\x68\x6f\x70",
        );
        assert_eq!(readers_agree(Pair::Owner, &metadata), Ok(false));
        let exact = format!("{:?}", super::super::owner_metadata::read_exact(&metadata));
        assert!(exact.contains("Malformed"), "{exact}");
    }

    #[test]
    fn garbage_is_declined_or_agreed_on() {
        for pair in [Pair::Listener, Pair::RouteConfig, Pair::Owner] {
            for bytes in [&b""[..], b"\x0a\x05abc", b"\xff\xff\xff", b"\x0a\x00"] {
                readers_agree(pair, &Bytes::copy_from_slice(bytes)).unwrap();
            }
        }
    }
}
