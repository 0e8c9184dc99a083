//! Cluster side of the index: which cluster has which name, and, for the clusters an AI route
//! targets, which backend each endpoint group belongs to and which upstream filters it has.
//!
//! A fleet has tens of thousands of clusters and only the AI backends matter, so the index
//! reads every cluster's name (field 1, nothing past it) and decodes a cluster further only
//! when selection asks for it. Backend identity comes from EG's metadata: EG writes one
//! endpoint group (`LocalityLbEndpoints`) per backendRef and stamps it with the Service or
//! Backend it came from; clusters whose endpoints arrive by EDS carry no endpoints here, so
//! they carry no backend identity either.

use std::net::IpAddr;

use bytes::Bytes;
use prost::Message;

use super::error::{FieldPath, InvalidField, Problem};
use super::names::Names;
use super::owner::{Ownership, ownership};
use crate::xds::{
    ClusterView, EndpointView, HttpProtocolOptionsView, LbEndpointView, LocalityLbEndpointsView,
    MetadataView, names,
};

/// Cluster name → position of its first occurrence in the request.
#[derive(Debug, Default)]
pub struct ClusterNames(Names);

impl ClusterNames {
    /// Reads the name of every cluster, and nothing else of it.
    pub(crate) fn read(clusters: &[Bytes]) -> Self {
        Self(Names::new(clusters.iter().map(|c| super::name_of(c))))
    }

    /// Position of the cluster named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.0.first(name)
    }
}

/// One cluster a selected route targets, as far as the upstream side needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClusterEntry {
    /// Name.
    pub name: String,
    /// Where its endpoints are, and whose they are.
    pub endpoints: Endpoints,
    /// Its upstream HTTP filters, if it has `HttpProtocolOptions`.
    pub upstream_filters: UpstreamFilters,
}

/// The endpoints of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoints {
    /// No `load_assignment`: the endpoints (and the backend identity) arrive by EDS.
    Eds,
    /// Inline endpoint groups, in order.
    Inline(Vec<EndpointGroup>),
}

/// One `LocalityLbEndpoints`: EG writes one per backendRef (or one per zone of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointGroup {
    /// The backend it was built from: the group's metadata, else its first host's.
    pub backend: Ownership,
    /// `locality.region`: EG's name for the backendRef (`<cluster>/backend/<j>`), empty in
    /// zone-aware clusters and outside EG.
    pub region: String,
    /// Failover priority.
    pub priority: u32,
    /// Per host, the DNS name the processor may use as `upstream_host` (never an IP literal).
    pub hosts: Vec<Option<String>>,
}

/// The cluster's upstream HTTP filter chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum UpstreamFilters {
    /// No `HttpProtocolOptions` entry.
    NoProtocolOptions,
    /// The filters of the existing `HttpProtocolOptions`, in order.
    Filters(Vec<UpstreamFilter>),
    /// `HttpProtocolOptions` is present but cannot be read.
    Malformed(InvalidField),
}

/// One upstream HTTP filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UpstreamFilter {
    /// Name.
    pub name: String,
    /// Whether its config is the upstream codec (the terminal filter).
    pub is_codec: bool,
}

impl ClusterEntry {
    /// Decodes one cluster's upstream-relevant parts; the error says what could not be read.
    pub(crate) fn read(bytes: &Bytes) -> Result<Self, InvalidField> {
        let ClusterView {
            name,
            load_assignment,
            typed_extension_protocol_options,
        } = ClusterView::decode(bytes.clone())
            .map_err(|e| InvalidField::new(FieldPath::root(), Problem::Decode(e)))?;
        let endpoints = match load_assignment {
            None => Endpoints::Eds,
            Some(assignment) => Endpoints::Inline(
                assignment
                    .endpoints
                    .into_iter()
                    .enumerate()
                    .map(|(g, group)| EndpointGroup::read(g, group))
                    .collect(),
            ),
        };
        let upstream_filters =
            match typed_extension_protocol_options.get(names::HTTP_PROTOCOL_OPTIONS_KEY) {
                None => UpstreamFilters::NoProtocolOptions,
                Some(any) => match HttpProtocolOptionsView::decode(any.value.clone()) {
                    Ok(options) => UpstreamFilters::Filters(
                        options
                            .http_filters
                            .into_iter()
                            .map(|f| UpstreamFilter {
                                is_codec: f.typed_config.is_some_and(|c| {
                                    crate::xds::type_name(&c.type_url) == names::UPSTREAM_CODEC_TYPE
                                }),
                                name: f.name,
                            })
                            .collect(),
                    ),
                    Err(e) => UpstreamFilters::Malformed(InvalidField::new(
                        FieldPath::root()
                            .field("typed_extension_protocol_options")
                            .key(names::HTTP_PROTOCOL_OPTIONS_KEY),
                        Problem::Decode(e),
                    )),
                },
            };
        Ok(Self {
            name,
            endpoints,
            upstream_filters,
        })
    }
}

impl EndpointGroup {
    /// Reads `load_assignment.endpoints[g]`.
    fn read(g: usize, group: LocalityLbEndpointsView) -> Self {
        let LocalityLbEndpointsView {
            locality,
            lb_endpoints,
            priority,
            metadata,
        } = group;
        let at = FieldPath::root()
            .field("load_assignment")
            .field("endpoints")
            .index(g);
        let backend = match ownership(metadata.as_ref()) {
            Ownership::Unknown => lb_endpoints
                .first()
                .map_or(Ownership::Unknown, first_host_ownership),
            known => known,
        };
        let backend = match backend {
            Ownership::Malformed(e) => Ownership::Malformed(e.within(at)),
            other => other,
        };
        Self {
            backend,
            region: locality.map(|l| l.region).unwrap_or_default(),
            priority,
            hosts: lb_endpoints.iter().map(upstream_host).collect(),
        }
    }
}

/// The owner recorded on a host, decoding its metadata only now.
fn first_host_ownership(host: &LbEndpointView) -> Ownership {
    let at = FieldPath::root().field("lb_endpoints").index(0);
    match host.metadata.clone().map(MetadataView::decode).transpose() {
        Ok(metadata) => match ownership(metadata.as_ref()) {
            Ownership::Malformed(e) => Ownership::Malformed(e.within(at)),
            other => other,
        },
        Err(e) => Ownership::Malformed(InvalidField::new(at.field("metadata"), Problem::Decode(e))),
    }
}

/// The host's DNS name: its `hostname`, else a socket address that is not an IP literal.
fn upstream_host(host: &LbEndpointView) -> Option<String> {
    let EndpointView { address, hostname } = host.endpoint.as_ref()?;
    let from_address = || {
        address
            .as_ref()
            .and_then(|a| a.socket_address.as_ref())
            .map(|s| s.address.clone())
    };
    [Some(hostname.clone()), from_address()]
        .into_iter()
        .flatten()
        .find(|name| !name.is_empty() && name.parse::<IpAddr>().is_err())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::endpoint::{AddressView, SocketAddressView};

    fn host(hostname: &str, address: &str) -> LbEndpointView {
        LbEndpointView {
            endpoint: Some(EndpointView {
                address: Some(AddressView {
                    socket_address: Some(SocketAddressView {
                        address: address.to_owned(),
                    }),
                }),
                hostname: hostname.to_owned(),
            }),
            metadata: None,
        }
    }

    #[test]
    fn upstream_host_is_a_dns_name_never_an_ip() {
        assert_eq!(
            upstream_host(&host("", "api.openai.com")).as_deref(),
            Some("api.openai.com")
        );
        assert_eq!(
            upstream_host(&host("bedrock.local", "10.0.0.1")).as_deref(),
            Some("bedrock.local")
        );
        assert_eq!(upstream_host(&host("", "10.0.0.1")), None);
        assert_eq!(upstream_host(&host("", "::1")), None);
        assert_eq!(upstream_host(&host("192.168.1.1", "")), None);
    }
}
