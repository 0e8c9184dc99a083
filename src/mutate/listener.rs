//! Patching listeners: rewrite only the path listener → chain → filter → typed_config → HCM.
//!
//! Each chain is patched on its own: if one chain's bytes turn out to be unpatchable (a
//! typed_config split over several records, say), that chain is left as it came and the failure
//! is returned for the report, while the listener's other chains are still patched.

use crate::index::ChainLocator;
use crate::select::Insertion;
use crate::wire::{self, Payload, Splice, WireError};
use crate::xds::{AnyView, FilterChainView, ListenerView, NetworkFilterView};

/// One chain to patch: where it is, which of its filters is the HCM, and how.
#[derive(Debug, Clone)]
pub(crate) struct ChainPatch {
    /// The chain.
    pub locator: ChainLocator,
    /// Index of the HCM in the chain's `filters`.
    pub hcm_filter: usize,
    /// The insertion to make.
    pub insertion: Insertion,
}

/// Result of patching one listener.
#[derive(Debug, Default)]
pub(crate) struct ListenerPatch {
    /// The new listener bytes, when at least one chain was patched.
    pub bytes: Option<Vec<u8>>,
    /// Chains that could not be patched, and why.
    pub failed: Vec<(ChainLocator, WireError)>,
}

/// Applies `patches` to an encoded listener.
pub(crate) fn patch(
    listener_bytes: &[u8],
    patches: &[ChainPatch],
    http_filter: &[u8],
) -> ListenerPatch {
    let mut failed = Vec::new();
    let rebuilt =
        wire::splice_len_fields::<WireError>(listener_bytes, |number, occurrence, chain| {
            let locator = match number {
                ListenerView::FILTER_CHAINS => ChainLocator::FilterChain(occurrence),
                ListenerView::DEFAULT_FILTER_CHAIN if occurrence == 0 => ChainLocator::Default,
                _ => return Ok(None),
            };
            let Some(patch) = patches.iter().find(|p| p.locator == locator) else {
                return Ok(None);
            };
            match patch_chain(chain, patch, http_filter) {
                Ok(splice) => Ok(Some(splice.into())),
                Err(e) => {
                    failed.push((locator, e));
                    Ok(None)
                }
            }
        });
    match rebuilt {
        Ok(splice) => ListenerPatch {
            bytes: splice.map(|s| s.to_vec()),
            failed,
        },
        // The listener decoded as a view, so its records parse; keep it whole regardless.
        Err(e) => ListenerPatch {
            bytes: None,
            failed: patches.iter().map(|p| (p.locator, e.clone())).collect(),
        },
    }
}

/// Splices the HCM's new bytes into the chain through filter → typed_config → `Any.value`,
/// so the listener is written once, whatever the depth.
fn patch_chain<'a>(
    chain: &'a [u8],
    patch: &ChainPatch,
    http_filter: &[u8],
) -> Result<Splice<'a>, WireError> {
    let mut found = false;
    let rebuilt =
        wire::splice_len_fields::<WireError>(chain, |number, occurrence, network_filter| {
            if number != FilterChainView::FILTERS || occurrence != patch.hcm_filter {
                return Ok(None);
            }
            found = true;
            let filter =
                wire::splice_single(network_filter, NetworkFilterView::TYPED_CONFIG, |any| {
                    let any = wire::splice_single(any, AnyView::VALUE, |hcm| {
                        super::hcm::patch(hcm, &patch.insertion, http_filter).map(Payload::from)
                    })?;
                    Ok::<_, WireError>(any.into())
                })?;
            Ok(Some(filter.into()))
        })?;
    match (found, rebuilt) {
        (true, Some(splice)) => Ok(splice),
        _ => Err(WireError::Missing {
            number: FilterChainView::FILTERS,
        }),
    }
}
