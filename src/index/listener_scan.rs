//! The listener side of the index, fast path: listeners read straight off the wire.
//!
//! Decoding a listener with the prost views meant a `String` or `Bytes` for every filter name,
//! type URL and configuration of every chain, most of which the index drops again. This reads
//! the same fields in one walk and allocates only what [`ListenerEntry`] keeps.
//!
//! As with route configurations ([`super::scan`]), the answer is either exactly what the
//! exact path (`ListenerEntry::read_exact`) gives or `None`: the same wire types, UTF-8 checks
//! and "last one wins" for strings and bytes, and a decline for whatever the fast path does not
//! judge itself. That is a singular message split over several records (protobuf merges them),
//! a malformed HCM (whose error text prost writes), and the messages whose mere presence
//! counts (`config_discovery`, an inline `route_config`, `scoped_routes`): prost validates their
//! contents too, and EG writes them only on its few internal listeners.

use super::error::{FieldPath, InvalidField, Problem};
use super::listener::ListenerEntry;
use super::listener::{ChainEntry, ChainKind, ChainLocator, HttpChain, HttpFilterEntry, Unusable};
use super::records::{Once, Reader, VARINT};
use crate::xds::{
    self, AnyView, FilterChainView, HcmView, HttpFilterView, ListenerView, NetworkFilterView,
    RdsView, SchemeHeaderTransformationView, names,
};

/// Indexes one encoded listener, or `None` to ask for the exact path.
pub(super) fn read(bytes: &[u8]) -> Option<ListenerEntry> {
    let mut name = "";
    let mut chains = Vec::new();
    let mut default_chain = Once::default();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        match record.number {
            ListenerView::NAME => name = record.text()?,
            ListenerView::FILTER_CHAINS => {
                let locator = ChainLocator::FilterChain(chains.len());
                chains.push(chain(locator, record.len()?)?);
            }
            ListenerView::DEFAULT_FILTER_CHAIN => default_chain.set(record)?,
            _ => {}
        }
    }
    if let Some(default_chain) = default_chain.0 {
        chains.push(chain(ChainLocator::Default, default_chain)?);
    }
    Some(ListenerEntry {
        name: name.to_owned(),
        chains: Ok(chains),
    })
}

/// A network filter as far as the index reads it.
struct Filter<'a> {
    name: &'a str,
    /// `typed_config`: type URL and value.
    typed_config: Option<(&'a str, &'a [u8])>,
}

impl Filter<'_> {
    /// As `listener::is_hcm` judges the prost view.
    fn is_hcm(&self) -> bool {
        self.name == names::HCM_FILTER
            || self
                .typed_config
                .is_some_and(|(type_url, _)| xds::type_name(type_url) == names::HCM_TYPE)
    }
}

fn chain(locator: ChainLocator, bytes: &[u8]) -> Option<ChainEntry> {
    let mut name = "";
    let mut filters = Vec::new();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        match record.number {
            FilterChainView::FILTERS => filters.push(filter(record.len()?)?),
            FilterChainView::NAME => name = record.text()?,
            _ => {}
        }
    }
    let hcm = filters.iter().position(Filter::is_hcm);
    let kind = match hcm.and_then(|index| Some((index, filters.get(index)?))) {
        Some((index, hcm)) => read_hcm(locator.filter_path(index), index, hcm)?,
        None => ChainKind::NoHcm(filters.iter().map(|f| f.name.to_owned()).collect()),
    };
    Some(ChainEntry {
        locator,
        name: name.to_owned(),
        kind,
    })
}

fn filter(bytes: &[u8]) -> Option<Filter<'_>> {
    let mut name = "";
    let mut typed_config = Once::default();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        match record.number {
            NetworkFilterView::NAME => name = record.text()?,
            NetworkFilterView::TYPED_CONFIG => typed_config.set(record)?,
            // Its contents are validated by prost, not here.
            NetworkFilterView::CONFIG_DISCOVERY => return None,
            _ => {}
        }
    }
    let typed_config = match typed_config.0 {
        Some(any) => Some(any_fields(any)?),
        None => None,
    };
    Some(Filter { name, typed_config })
}

/// A `google.protobuf.Any`: its type URL and value.
fn any_fields(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let (mut type_url, mut value) = ("", &[][..]);
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        match record.number {
            AnyView::TYPE_URL => type_url = record.text()?,
            AnyView::VALUE => value = record.len()?,
            _ => {}
        }
    }
    Some((type_url, value))
}

/// As `listener::read_hcm` reads the prost views; `None` where prost would fail (the exact
/// path then writes its error) or where the fast path does not judge.
fn read_hcm(at: FieldPath, filter_index: usize, filter: &Filter<'_>) -> Option<ChainKind> {
    let Some((type_url, value)) = filter.typed_config else {
        return Some(ChainKind::Unusable(Unusable::Malformed(InvalidField::new(
            at.field("typed_config"),
            Problem::Missing,
        ))));
    };
    let type_name = xds::type_name(type_url);
    if type_name != names::HCM_TYPE {
        return Some(ChainKind::Unusable(Unusable::UnexpectedType(
            type_name.to_owned(),
        )));
    }
    let mut rds = Once::default();
    let mut scheme = Once::default();
    let mut http_filters = Vec::new();
    let mut reader = Reader::new(value);
    while let Some(record) = reader.next()? {
        match record.number {
            HcmView::RDS => rds.set(record)?,
            HcmView::HTTP_FILTERS => http_filters.push(http_filter(record.len()?)?),
            HcmView::SCHEME_HEADER_TRANSFORMATION => scheme.set(record)?,
            HcmView::ROUTE_CONFIG | HcmView::SCOPED_ROUTES => return None,
            _ => {}
        }
    }
    // Every field prost would decode is read before judging, so that bytes prost refuses
    // anywhere (found by the `readers_listener` fuzz target in `scheme_header_transformation`
    // of an HCM without RDS) send the chain to the exact path, which reports them.
    let match_upstream = match scheme.0 {
        Some(scheme) => match_upstream(scheme)?,
        None => false,
    };
    let route_config = match rds.0 {
        Some(rds) => last_text(rds, RdsView::ROUTE_CONFIG_NAME)?,
        None => return Some(ChainKind::Unusable(Unusable::NoRouteSpecifier)),
    };
    Some(ChainKind::Http(HttpChain {
        filter_index,
        route_config: route_config.to_owned(),
        http_filters,
        match_upstream,
    }))
}

fn http_filter(bytes: &[u8]) -> Option<HttpFilterEntry> {
    let mut name = "";
    let mut typed_config = Once::default();
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        match record.number {
            HttpFilterView::NAME => name = record.text()?,
            HttpFilterView::TYPED_CONFIG => typed_config.set(record)?,
            _ => {}
        }
    }
    let config_type = match typed_config.0 {
        Some(any) => Some(xds::type_name(last_text(any, AnyView::TYPE_URL)?).to_owned()),
        None => None,
    };
    Some(HttpFilterEntry {
        name: name.to_owned(),
        config_type,
    })
}

/// The string field `number` of a message with no other field read, last record winning
/// (empty when absent).
fn last_text(bytes: &[u8], number: u32) -> Option<&str> {
    let mut text = "";
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        if record.number == number {
            text = record.text()?;
        }
    }
    Some(text)
}

/// `SchemeHeaderTransformation.match_upstream`, a `bool`, last record winning.
fn match_upstream(bytes: &[u8]) -> Option<bool> {
    let mut value = false;
    let mut reader = Reader::new(bytes);
    while let Some(record) = reader.next()? {
        if record.number == SchemeHeaderTransformationView::MATCH_UPSTREAM {
            if record.wire_type != VARINT {
                return None;
            }
            // A varint is non-zero when any of its 7-bit groups is.
            value = record.payload.iter().any(|byte| byte & 0x7f != 0);
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::records::hold_to_exact;
    use crate::workload::{self, Preset};
    use bytes::Bytes;

    fn exact(bytes: &Bytes) -> String {
        format!("{:?}", ListenerEntry::read_exact(bytes))
    }

    fn fast(bytes: &Bytes) -> Option<String> {
        read(bytes).map(|entry| format!("{entry:?}"))
    }

    #[test]
    fn generated_listeners_take_the_fast_path_with_the_exact_answer() {
        let request = workload::preset(Preset::Small);
        for listener in &request.listeners {
            assert_eq!(fast(listener).as_deref(), Some(exact(listener).as_str()));
        }
    }

    #[test]
    fn every_corruption_gives_the_exact_answer_or_falls_back() {
        // An HTTPS listener (SNI chains, each an HCM with filters and scheme settings), a TLS
        // passthrough one, a plain HTTP one and HTTP next to TCP proxy chains: every field the
        // fast path reads.
        let request = workload::preset(Preset::Small);
        let (answered, declined) = hold_to_exact(request.listeners.iter().take(4), fast, exact);
        assert!(
            answered > declined,
            "{answered} answered, {declined} declined"
        );
    }

    #[test]
    fn what_protobuf_would_merge_or_validate_takes_the_exact_path() {
        use crate::wire::put_len;
        let mut hcm = Vec::new();
        put_len(&mut hcm, HcmView::RDS, b"\x12\x02rc");
        let mut any = Vec::new();
        put_len(&mut any, AnyView::TYPE_URL, names::HCM_TYPE.as_bytes());
        put_len(&mut any, AnyView::VALUE, &hcm);
        let listener = |filter: &[u8]| {
            let mut chain = Vec::new();
            put_len(&mut chain, FilterChainView::FILTERS, filter);
            let mut listener = Vec::new();
            put_len(&mut listener, ListenerView::FILTER_CHAINS, &chain);
            Bytes::from(listener)
        };
        let mut plain = Vec::new();
        put_len(&mut plain, NetworkFilterView::TYPED_CONFIG, &any);
        let plain = listener(&plain);
        assert_eq!(fast(&plain).as_deref(), Some(exact(&plain).as_str()));
        assert!(exact(&plain).contains(r#"route_config: "rc""#));

        let mut split = Vec::new();
        put_len(&mut split, NetworkFilterView::TYPED_CONFIG, &any);
        put_len(&mut split, NetworkFilterView::TYPED_CONFIG, &any);
        assert_eq!(fast(&listener(&split)), None);

        let mut discovered = Vec::new();
        put_len(
            &mut discovered,
            NetworkFilterView::NAME,
            names::HCM_FILTER.as_bytes(),
        );
        put_len(&mut discovered, NetworkFilterView::CONFIG_DISCOVERY, b"");
        let discovered = listener(&discovered);
        assert_eq!(fast(&discovered), None);
        assert!(exact(&discovered).contains("ConfigDiscovery"));
    }
}
