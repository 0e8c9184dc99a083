//! Inserting the processor into one HTTP connection manager, on the wire.
//!
//! The new `HttpFilter` record goes just before the record of the filter it must precede;
//! repeated fields keep record order, so this is exactly a list insertion, and every other
//! record of the HCM (known to us or not) is copied untouched.

use prost::encoding::WireType;

use crate::select::Insertion;
use crate::wire::{self, WireError};
use crate::xds::{HcmView, SchemeHeaderTransformationView};

/// Returns the HCM with `http_filter` inserted at the planned position and, if planned,
/// `scheme_header_transformation.match_upstream` set.
///
/// `match_upstream` goes into the last `scheme_header_transformation` record: protobuf merges
/// split records and the last value of a scalar wins, so writing it into an earlier one could be
/// overridden by a later `match_upstream: false`.
pub(crate) fn patch(
    hcm: &[u8],
    insertion: &Insertion,
    http_filter: &[u8],
) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(hcm.len() + http_filter.len() + 8);
    let mut filters_seen = 0;
    let mut inserted = false;
    let mut scheme_pending = insertion.set_match_upstream;
    let mut transformations_left =
        wire::len_payloads(hcm, HcmView::SCHEME_HEADER_TRANSFORMATION).count();
    for field in wire::fields(hcm) {
        let field = field?;
        let length_delimited = field.wire_type == WireType::LengthDelimited;
        let transformation =
            length_delimited && field.number == HcmView::SCHEME_HEADER_TRANSFORMATION;
        if transformation {
            transformations_left = transformations_left.saturating_sub(1);
        }
        if length_delimited && field.number == HcmView::HTTP_FILTERS {
            if !inserted && filters_seen == insertion.placement.index {
                wire::put_len(&mut out, HcmView::HTTP_FILTERS, http_filter);
                inserted = true;
            }
            filters_seen += 1;
            out.extend_from_slice(field.record);
        } else if transformation && transformations_left == 0 && scheme_pending {
            put_transformation(&mut out, field.payload);
            scheme_pending = false;
        } else {
            out.extend_from_slice(field.record);
        }
    }
    if !inserted {
        wire::put_len(&mut out, HcmView::HTTP_FILTERS, http_filter);
    }
    if scheme_pending {
        put_transformation(&mut out, &[]);
    }
    Ok(out)
}

/// Appends `scheme_header_transformation`: the fields of `existing`, then `match_upstream:
/// true` (the last record of a scalar wins, so it holds however `existing` set it).
fn put_transformation(out: &mut Vec<u8>, existing: &[u8]) {
    let mut transformation = Vec::with_capacity(existing.len() + 2);
    transformation.extend_from_slice(existing);
    wire::put_varint(
        &mut transformation,
        SchemeHeaderTransformationView::MATCH_UPSTREAM,
        1,
    );
    wire::put_len(out, HcmView::SCHEME_HEADER_TRANSFORMATION, &transformation);
}
