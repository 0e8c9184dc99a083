//! Listener side of the index: which filter chains carry an HTTP connection manager, and what
//! that HCM routes with and filters through.
//!
//! A chain is judged on its own: a TCP proxy chain next to an HTTP chain on one listener is
//! simply "no HCM" while its neighbour is indexed as HTTP. Whether a listener is one of EG's
//! internal ones (readiness, stats) is never asked: those have no RDS, which is what counts.

use std::fmt;

use bytes::Bytes;
use prost::Message;

use super::error::{FieldPath, InvalidField, Problem};
use crate::xds::{self, FilterChainView, HcmView, ListenerView, NetworkFilterView, names};

/// One listener of the request.
#[derive(Debug)]
pub struct ListenerEntry {
    /// Listener name.
    pub name: String,
    /// Its chains, or why the listener could not be read.
    pub chains: Result<Vec<ChainEntry>, InvalidField>,
}

/// Where a chain sits in its listener; also its field path in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChainLocator {
    /// `filter_chains[i]`.
    FilterChain(usize),
    /// `default_filter_chain`.
    Default,
}

impl ChainLocator {
    /// The chain's path in its listener.
    pub fn path(self) -> FieldPath {
        match self {
            ChainLocator::FilterChain(i) => FieldPath::root().field("filter_chains").index(i),
            ChainLocator::Default => FieldPath::root().field("default_filter_chain"),
        }
    }

    /// The path of the chain's network filter `index`.
    pub(crate) fn filter_path(self, index: usize) -> FieldPath {
        self.path().field("filters").index(index)
    }
}

impl fmt::Display for ChainLocator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainLocator::FilterChain(i) => write!(f, "filter_chains[{i}]"),
            ChainLocator::Default => f.write_str("default_filter_chain"),
        }
    }
}

/// One filter chain.
#[derive(Debug)]
pub struct ChainEntry {
    /// Where it is.
    pub locator: ChainLocator,
    /// Its name, possibly empty.
    pub name: String,
    /// What it is.
    pub kind: ChainKind,
}

/// What a chain is, as far as the hook is concerned.
#[derive(Debug)]
pub enum ChainKind {
    /// An HCM that takes its routes from RDS: the only kind the hook can patch.
    Http(HttpChain),
    /// No HCM (TCP proxy, TLS passthrough, UDP, ...): the network filter names.
    NoHcm(Vec<String>),
    /// An HCM the hook cannot or must not patch.
    Unusable(Unusable),
}

/// Why an HCM cannot be patched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    /// Routes are inline (`route_config`), as in EG's readiness and stats listeners.
    InlineRouteConfig,
    /// Routes come from scoped RDS.
    ScopedRoutes,
    /// Neither RDS nor inline routes.
    NoRouteSpecifier,
    /// The HCM's configuration comes from ECDS, not inline.
    ConfigDiscovery,
    /// typed_config holds another message type.
    UnexpectedType(String),
    /// typed_config is absent or does not decode; the error says where.
    Malformed(InvalidField),
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::InlineRouteConfig => f.write_str("HCM has an inline route_config, not RDS"),
            Unusable::ScopedRoutes => f.write_str("HCM uses scoped_routes, not RDS"),
            Unusable::NoRouteSpecifier => f.write_str("HCM has no route specifier"),
            Unusable::ConfigDiscovery => {
                f.write_str("HCM config comes from ECDS (config_discovery)")
            }
            Unusable::UnexpectedType(t) => write!(f, "HCM typed_config is of type {t}"),
            Unusable::Malformed(e) => write!(f, "malformed HCM: {e}"),
        }
    }
}

/// A patchable HCM.
#[derive(Debug)]
pub struct HttpChain {
    /// Index of the HCM in the chain's `filters`.
    pub filter_index: usize,
    /// The RDS route configuration name.
    pub route_config: String,
    /// Its HTTP filters, in order.
    pub http_filters: Vec<HttpFilterEntry>,
    /// Whether `scheme_header_transformation.match_upstream` is already set.
    pub match_upstream: bool,
}

/// One HTTP filter of an HCM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpFilterEntry {
    /// Filter name.
    pub name: String,
    /// Message type of its typed_config, when inline.
    pub config_type: Option<String>,
}

impl ListenerEntry {
    /// Indexes one encoded listener by decoding it with the prost views.
    pub(super) fn read_exact(bytes: &Bytes) -> Self {
        match ListenerView::decode(bytes.clone()) {
            Ok(view) => {
                let ListenerView {
                    name,
                    filter_chains,
                    default_filter_chain,
                } = view;
                let chains = filter_chains
                    .into_iter()
                    .enumerate()
                    .map(|(i, chain)| ChainEntry::read(ChainLocator::FilterChain(i), chain))
                    .chain(default_filter_chain.map(|c| ChainEntry::read(ChainLocator::Default, c)))
                    .collect();
                Self {
                    name,
                    chains: Ok(chains),
                }
            }
            Err(e) => Self {
                name: super::fallback_name(bytes),
                chains: Err(InvalidField::new(FieldPath::root(), Problem::Decode(e))),
            },
        }
    }
}

impl ChainEntry {
    fn read(locator: ChainLocator, chain: FilterChainView) -> Self {
        let FilterChainView { filters, name } = chain;
        let hcm = filters
            .iter()
            .enumerate()
            .find(|(_, filter)| is_hcm(filter))
            .map(|(index, filter)| read_hcm(locator.filter_path(index), index, filter));
        let kind =
            hcm.unwrap_or_else(|| ChainKind::NoHcm(filters.into_iter().map(|f| f.name).collect()));
        Self {
            locator,
            name,
            kind,
        }
    }
}

/// A network filter is the HCM when its config says so or, config aside, its name does.
fn is_hcm(filter: &NetworkFilterView) -> bool {
    match &filter.typed_config {
        Some(any) => {
            xds::type_name(&any.type_url) == names::HCM_TYPE || filter.name == names::HCM_FILTER
        }
        None => filter.name == names::HCM_FILTER,
    }
}

/// Reads the HCM network filter `filter_index`, at `at` in its listener.
fn read_hcm(at: FieldPath, filter_index: usize, filter: &NetworkFilterView) -> ChainKind {
    let Some(any) = &filter.typed_config else {
        return ChainKind::Unusable(if filter.config_discovery.is_some() {
            Unusable::ConfigDiscovery
        } else {
            Unusable::Malformed(InvalidField::new(
                at.field("typed_config"),
                Problem::Missing,
            ))
        });
    };
    let type_name = xds::type_name(&any.type_url);
    if type_name != names::HCM_TYPE {
        return ChainKind::Unusable(Unusable::UnexpectedType(type_name.to_owned()));
    }
    let hcm = match HcmView::decode(any.value.clone()) {
        Ok(hcm) => hcm,
        Err(e) => {
            let at = at.field("typed_config").field("value");
            return ChainKind::Unusable(Unusable::Malformed(InvalidField::new(
                at,
                Problem::Decode(e),
            )));
        }
    };
    let route_config = match (&hcm.rds, &hcm.route_config, &hcm.scoped_routes) {
        (Some(rds), _, _) => rds.route_config_name.clone(),
        (None, Some(_), _) => return ChainKind::Unusable(Unusable::InlineRouteConfig),
        (None, None, Some(_)) => return ChainKind::Unusable(Unusable::ScopedRoutes),
        (None, None, None) => return ChainKind::Unusable(Unusable::NoRouteSpecifier),
    };
    ChainKind::Http(HttpChain {
        filter_index,
        route_config,
        http_filters: hcm
            .http_filters
            .into_iter()
            .map(|f| HttpFilterEntry {
                name: f.name,
                config_type: f
                    .typed_config
                    .map(|any| xds::type_name(&any.type_url).to_owned()),
            })
            .collect(),
        match_upstream: hcm
            .scheme_header_transformation
            .is_some_and(|s| s.match_upstream),
    })
}
