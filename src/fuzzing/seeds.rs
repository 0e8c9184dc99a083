//! The resources of a request the fuzz targets start from (`cargo run --features fuzzing
//! --example fuzz_seeds` writes them under `fuzz/corpus/`).

use crate::contract::PostTranslateModifyRequest;
use crate::wire;
use crate::xds::{
    AnyView, FilterChainView, ListenerView, NetworkFilterView, RouteConfigurationView, RouteView,
    VirtualHostView, names,
};

/// One request's seeds, per target.
#[derive(Debug, Default)]
pub struct Seeds {
    /// Every HCM (`typed_config` value) of every chain, default chains included: `hcm`.
    pub hcms: Vec<Vec<u8>>,
    /// Every listener: `readers_listener`.
    pub listeners: Vec<Vec<u8>>,
    /// Every route configuration: `readers_route`.
    pub route_configs: Vec<Vec<u8>>,
    /// The metadata of every virtual host and route: `readers_owner`.
    pub owner_metadata: Vec<Vec<u8>>,
}

/// The seeds `request` holds.
pub fn seeds(request: &PostTranslateModifyRequest) -> Seeds {
    let mut seeds = Seeds {
        hcms: request.listeners.iter().flat_map(|l| hcms_of(l)).collect(),
        listeners: request.listeners.iter().map(|l| l.to_vec()).collect(),
        route_configs: request.routes.iter().map(|r| r.to_vec()).collect(),
        owner_metadata: Vec::new(),
    };
    for config in &request.routes {
        let vhosts = wire::len_payloads(config, RouteConfigurationView::VIRTUAL_HOSTS).flatten();
        for vhost in vhosts {
            let metadata = wire::len_payloads(vhost, VirtualHostView::METADATA).flatten();
            seeds.owner_metadata.extend(metadata.map(<[u8]>::to_vec));
            for route in wire::len_payloads(vhost, VirtualHostView::ROUTES).flatten() {
                let metadata = wire::len_payloads(route, RouteView::METADATA).flatten();
                seeds.owner_metadata.extend(metadata.map(<[u8]>::to_vec));
            }
        }
    }
    seeds
}

/// An HCM with `scheme_header_transformation` split over two records, the second saying
/// `match_upstream: false`: a shape no golden case has (it once won over ours: see
/// `bad_input::split_scheme_header_transformation_still_ends_up_matching_upstream`).
pub fn with_split_scheme_header_transformation(hcm: &[u8]) -> Vec<u8> {
    use crate::xds::{HcmView, SchemeHeaderTransformationView};
    let mut split = hcm.to_vec();
    wire::put_len(&mut split, HcmView::SCHEME_HEADER_TRANSFORMATION, &[]);
    let mut explicit_false = Vec::new();
    wire::put_varint(
        &mut explicit_false,
        SchemeHeaderTransformationView::MATCH_UPSTREAM,
        0,
    );
    wire::put_len(
        &mut split,
        HcmView::SCHEME_HEADER_TRANSFORMATION,
        &explicit_false,
    );
    split
}

/// The HCM bytes of every chain of an encoded listener.
fn hcms_of(listener: &[u8]) -> Vec<Vec<u8>> {
    let chains = [
        ListenerView::FILTER_CHAINS,
        ListenerView::DEFAULT_FILTER_CHAIN,
    ]
    .into_iter()
    .flat_map(|n| wire::len_payloads(listener, n).filter_map(Result::ok));
    let anys = chains.flat_map(|chain| {
        wire::len_payloads(chain, FilterChainView::FILTERS)
            .filter_map(Result::ok)
            .filter_map(|filter| wire::first_len(filter, NetworkFilterView::TYPED_CONFIG))
    });
    anys.filter(|any| {
        wire::first_len(any, AnyView::TYPE_URL)
            .is_some_and(|url| url.ends_with(names::HCM_TYPE.as_bytes()))
    })
    .filter_map(|any| wire::first_len(any, AnyView::VALUE).map(<[u8]>::to_vec))
    .collect()
}
