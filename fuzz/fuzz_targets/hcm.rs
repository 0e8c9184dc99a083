//! Arbitrary bytes as an HTTP connection manager, two ways.
//!
//! 1. Straight into the HCM mutator (`xds_hook::fuzzing::hcm_patch_holds`), the first byte
//!    choosing the insertion index and whether `match_upstream` is set. When it succeeds, the
//!    output must keep every input record in order, hold exactly one more `http_filters` record
//!    at the planned place, and, when the input decodes as an HCM, decode too with the change
//!    made.
//! 2. As the typed_config of a real listener (golden case `mixed-namespaces-and-schemes`,
//!    `listeners[0].filter_chains[0].filters[0]`, whose routes are selected), through the whole
//!    hook: nothing lost, and a chain reported as patched (of an HCM Envoy's own type reads)
//!    holds the processor once and matches the upstream scheme.

#![no_main]

use std::sync::OnceLock;

use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use xds_hook::contract::PostTranslateModifyRequest;
use xds_hook::report::ChainDecision;

/// listeners[0] → filter_chains[0] → filters[0] → typed_config → value.
const HCM_PATH: &[(u32, usize)] = &[(3, 0), (3, 0), (4, 0), (2, 0)];

fn template() -> &'static PostTranslateModifyRequest {
    static REQUEST: OnceLock<PostTranslateModifyRequest> = OnceLock::new();
    REQUEST.get_or_init(|| {
        xds_hook_fuzz::golden(include_str!(
            "../../testdata/golden/mixed-namespaces-and-schemes/input.yaml"
        ))
    })
}

fn check_mutator(data: &[u8]) {
    if let Err(violation) = xds_hook::fuzzing::hcm_patch_holds(data) {
        panic!("{violation}");
    }
}

fn check_pipeline(data: &[u8]) {
    let mut request = template().clone();
    let Some(listener) = xds_hook_fuzz::replace_at(&request.listeners[0], HCM_PATH, data) else {
        panic!("template has an HCM at {HCM_PATH:?}");
    };
    request.listeners[0] = listener.into();
    // The hook reads only the HCM fields it needs and passes the rest through as bytes, so
    // Envoy's full type is the judge only of inputs it accepts.
    let envoy_reads_it = HttpConnectionManager::decode(data).is_ok();
    for hook in xds_hook_fuzz::hooks() {
        let outcome = xds_hook_fuzz::run_checked(hook, &request);
        let decision = &outcome.report.decisions.listeners[0][0];
        if envoy_reads_it && matches!(decision, ChainDecision::Patch(_)) {
            let out = xds_hook_fuzz::payload_at(&outcome.response.listeners[0], HCM_PATH)
                .expect("patched chain keeps its HCM");
            let view = HttpConnectionManager::decode(out).expect("patched HCM decodes");
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
