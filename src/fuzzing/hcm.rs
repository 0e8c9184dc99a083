//! The HCM mutator's contract on arbitrary bytes: when `mutate::hcm::patch` succeeds, its
//! output keeps every input record in order, holds exactly one more `http_filters` record at
//! the planned place and, when the input decodes as an HCM, decodes too with the change made.

use prost::Message;
use prost::encoding::WireType;

use crate::Config;
use crate::mutate::{self, Artifacts};
use crate::select::{Insertion, Placement, Rule};
use crate::wire;
use crate::xds::HcmView;

/// The mutator broke its contract on one input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HCM patch (insert at {index}, match_upstream {match_upstream}): {what}")]
pub struct Violation {
    /// The planned insertion index.
    pub index: usize,
    /// Whether `match_upstream` was to be set.
    pub match_upstream: bool,
    /// What does not hold.
    pub what: &'static str,
}

/// Patches `data` as an HCM, the first byte choosing the insertion index (low 3 bits) and
/// whether `match_upstream` is set (high bit), and checks the result. Inputs the mutator
/// refuses (not protobuf) are fine: they are left alone by the hook.
pub fn hcm_patch_holds(data: &[u8]) -> Result<(), Violation> {
    let control = data.first().copied().unwrap_or(0);
    let insertion = Insertion {
        placement: Placement {
            index: usize::from(control & 7),
            rule: Rule::Ordered {
                after: None,
                before: None,
            },
        },
        set_match_upstream: control & 0x80 != 0,
    };
    let violation = |what| Violation {
        index: insertion.placement.index,
        match_upstream: insertion.set_match_upstream,
        what,
    };
    let filter = Artifacts::new(&Config::default().ext_proc).http_filter;
    let Ok(out) = mutate::hcm::patch(data, &insertion, &filter) else {
        return Ok(());
    };
    if !wire::fields(&out).all(|f| f.is_ok()) {
        return Err(violation("the patched HCM does not parse as records"));
    }
    if kept_records(&out) != expected_records(data, &insertion, &filter) {
        return Err(violation(
            "records not kept in order, or the filter not inserted at the planned place",
        ));
    }
    let Ok(before) = HcmView::decode(data) else {
        return Ok(());
    };
    let Ok(after) = HcmView::decode(&out[..]) else {
        return Err(violation("a decodable HCM no longer decodes"));
    };
    if after.http_filters.len() != before.http_filters.len() + 1 {
        return Err(violation("not exactly one more HTTP filter"));
    }
    let matches_upstream = after
        .scheme_header_transformation
        .is_some_and(|s| s.match_upstream);
    if insertion.set_match_upstream && !matches_upstream {
        return Err(violation("match_upstream not set as planned"));
    }
    Ok(())
}

/// The input's records (but `scheme_header_transformation`, which the patch may edit), with
/// the filter's record before `http_filters[index]` or, past the last filter, at the end.
fn expected_records(data: &[u8], insertion: &Insertion, filter: &[u8]) -> Vec<Vec<u8>> {
    let mut inserted = Vec::new();
    wire::put_len(&mut inserted, HcmView::HTTP_FILTERS, filter);
    let next_filter = filter_records(data)
        .into_iter()
        .nth(insertion.placement.index);
    let mut expected = Vec::new();
    let mut placed = false;
    for record in kept_record_slices(data) {
        if next_filter.is_some_and(|next| std::ptr::eq(record, next)) {
            expected.push(inserted.clone());
            placed = true;
        }
        expected.push(record.to_vec());
    }
    if !placed {
        expected.push(inserted);
    }
    expected
}

fn kept_records(message: &[u8]) -> Vec<Vec<u8>> {
    kept_record_slices(message)
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect()
}

/// Records of a message other than `scheme_header_transformation`.
fn kept_record_slices(message: &[u8]) -> Vec<&[u8]> {
    wire::fields(message)
        .map_while(Result::ok)
        .filter(|f| f.number != HcmView::SCHEME_HEADER_TRANSFORMATION)
        .map(|f| f.record)
        .collect()
}

fn filter_records(message: &[u8]) -> Vec<&[u8]> {
    wire::fields(message)
        .map_while(Result::ok)
        .filter(|f| f.number == HcmView::HTTP_FILTERS && f.wire_type == WireType::LengthDelimited)
        .map(|f| f.record)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generated HCMs hold as they are and with the control byte (their first) varied, and
    /// bytes that are not protobuf are refused, not a violation.
    #[test]
    fn generated_hcms_and_garbage_hold() {
        let request = crate::workload::preset(crate::workload::Preset::Small);
        let seeds = crate::fuzzing::seeds(&request);
        assert!(!seeds.hcms.is_empty());
        for hcm in &seeds.hcms {
            assert_eq!(hcm_patch_holds(hcm), Ok(()));
            for control in [0u8, 3, 0x80, 0x87] {
                let mut data = hcm.clone();
                if let Some(first) = data.first_mut() {
                    *first = control;
                }
                assert_eq!(hcm_patch_holds(&data), Ok(()));
            }
        }
        assert_eq!(hcm_patch_holds(&[0xff, 0xff, 0xff]), Ok(()));
    }
}
