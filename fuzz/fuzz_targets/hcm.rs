//! Arbitrary bytes as an HTTP connection manager, two ways.
//!
//! 1. Straight into the HCM mutator (`mutate::hcm::patch`), the first byte choosing the
//!    insertion index and whether `match_upstream` is set. When it succeeds, the output must
//!    keep every input record in order, hold exactly one more `http_filters` record at the
//!    planned place, and, when the input decodes as an HCM, decode too with the change made.
//! 2. As the typed_config of a real listener (golden case `mixed-namespaces-and-schemes`,
//!    `listeners[0].filter_chains[0].filters[0]`, whose routes are selected), through the whole
//!    hook: nothing lost, and a chain reported as patched holds the processor.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prost::Message;
use prost::encoding::WireType;
use xds_hook::contract::PostTranslateModifyRequest;
use xds_hook::mutate::Artifacts;
use xds_hook::select::{ChainDecision, Insertion, Placement, Rule};
use xds_hook::xds::HcmView;
use xds_hook::{Config, wire};

/// listeners[0] → filter_chains[0] → filters[0] → typed_config → value.
const HCM_PATH: &[(u32, usize)] = &[(3, 0), (3, 0), (4, 0), (2, 0)];

fn template() -> &'static PostTranslateModifyRequest {
    static REQUEST: OnceLock<PostTranslateModifyRequest> = OnceLock::new();
    REQUEST.get_or_init(|| {
        xds_hook_fuzz::golden(include_str!(
            "../../testdata/mixed-namespaces-and-schemes/input.yaml"
        ))
    })
}

fn artifacts() -> &'static Artifacts {
    static ARTIFACTS: OnceLock<Artifacts> = OnceLock::new();
    ARTIFACTS.get_or_init(|| Artifacts::new(&Config::default().ext_proc))
}

/// Records of a message other than `scheme_header_transformation`, which the patch may edit.
fn kept_records(message: &[u8]) -> Vec<&[u8]> {
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

fn check_mutator(data: &[u8]) {
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
    let filter = &artifacts().http_filter;
    let Ok(out) = xds_hook::mutate::hcm::patch(data, &insertion, filter) else {
        return;
    };
    assert!(
        wire::fields(&out).all(|f| f.is_ok()),
        "patched HCM parses as records"
    );
    let mut expected = kept_records(data);
    let mut inserted = Vec::new();
    wire::put_len(&mut inserted, HcmView::HTTP_FILTERS, filter);
    let filters_before = filter_records(data);
    let at = insertion.placement.index.min(filters_before.len());
    // Before the planned filter's record or, past the last filter, at the end.
    let position = match filters_before.get(at) {
        Some(next) => expected
            .iter()
            .position(|r| std::ptr::eq(*r, *next))
            .expect("filter record among kept records"),
        None => expected.len(),
    };
    expected.insert(position, &inserted);
    assert_eq!(
        kept_records(&out),
        expected,
        "every record kept in order, the filter inserted before http_filters[{at}]"
    );
    if let Ok(before) = HcmView::decode(data) {
        let after = HcmView::decode(&out[..]).expect("a decodable HCM stays decodable");
        assert_eq!(after.http_filters.len(), before.http_filters.len() + 1);
        if insertion.set_match_upstream {
            assert!(
                after
                    .scheme_header_transformation
                    .is_some_and(|s| s.match_upstream),
                "match_upstream set as planned"
            );
        }
    }
}

fn check_pipeline(data: &[u8]) {
    let mut request = template().clone();
    let Some(listener) = xds_hook_fuzz::replace_at(&request.listeners[0], HCM_PATH, data) else {
        panic!("template has an HCM at {HCM_PATH:?}");
    };
    request.listeners[0] = listener.into();
    for hook in xds_hook_fuzz::hooks() {
        let outcome = xds_hook_fuzz::run_checked(hook, &request);
        let decision = &outcome.report.decisions.listeners[0][0];
        if matches!(decision, ChainDecision::Patch(_)) {
            let out = xds_hook_fuzz::payload_at(&outcome.response.listeners[0], HCM_PATH)
                .expect("patched chain keeps its HCM");
            let view = HcmView::decode(out).expect("patched HCM decodes");
            let name = &hook.config().ext_proc.filter_name;
            assert_eq!(
                view.http_filters.iter().filter(|f| &f.name == name).count(),
                1,
                "exactly one processor filter in a patched HCM"
            );
            assert!(
                view.scheme_header_transformation
                    .is_some_and(|s| s.match_upstream),
                "a patched HCM matches the upstream scheme"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    check_mutator(data);
    check_pipeline(data);
});
