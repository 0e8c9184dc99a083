//! Golden cases, run through the same kit as `xds-hook test` ([`xds_hook::golden`]):
//!
//! - `testdata/golden/<case>/`: `input.yaml` (a PostTranslateModifyRequest in canonical proto3 JSON, as
//!   YAML), optional `config.yaml`, and the reviewed `output.yaml` (the response) and
//!   `explain.txt` (the decision table);
//! - `testdata/captured/<case>/`: xDS as users capture it (`egctl x translate`, `egctl config
//!   envoy-proxy`, Envoy's `/config_dump`), with `output.yaml` (or `output.json`) the same dump
//!   as `apply` writes it.
//!
//! Each case is its own test (`cargo test golden::cases::already_patched`); a case folder
//! not listed here fails `every_case_is_listed` (after running it, so its diffs show too). `UPDATE_GOLDEN=1 cargo test golden`
//! rewrites the expectations; review the diff before committing it. The kit also checks that the
//! hook is idempotent on every output; request cases are also checked for losslessness here.
//!
//! A case with `extensions.yaml` (InferencePool backends) runs the Route and Cluster hooks in
//! EG's order first, in the kit as in `xds-hook test`, and its explanation lists those calls
//! too.

use std::path::{Path, PathBuf};

use xds_hook::golden::{self, CaseResult};
use xds_hook::{Config, Hook, format};

use crate::support::{self, eg_flow};

/// Runs one case folder through the kit and fails with its diffs; request cases are also
/// checked for losslessness (every input resource in the response).
fn check(dir: &Path) {
    let result = golden::run_case(dir, &Config::default(), support::updating());
    if let CaseResult::Failed(problems) = &result {
        panic!("{} failed:\n{}", dir.display(), problems.join("\n"));
    }
    if !dir.parent().is_some_and(|p| p.ends_with("testdata/golden")) {
        return;
    }
    let config = match dir.join("config.yaml") {
        path if path.exists() => Config::from_file(&path).unwrap(),
        _ => Config::default(),
    };
    let hook = Hook::new(config);
    match eg_flow::extensions_path(dir) {
        Some(extensions) => {
            let request = format::read_request(&dir.join("input.yaml")).unwrap();
            let translation = eg_flow::run(&hook, request, &extensions);
            support::assert_nothing_lost(&translation.request, &translation.outcome.response);
        }
        None => {
            let request = support::golden_case_request(dir);
            let outcome = hook.post_translate_modify(request.clone());
            support::assert_nothing_lost(&request, &outcome.response);
        }
    }
}

/// One test per case folder of `$dir` (names with `_` for `-`).
macro_rules! cases {
    ($dir:literal: $($case:ident),* $(,)?) => {
        /// The case folders listed in this module.
        pub const LISTED: &[&str] = &[$(stringify!($case)),*];
        $(
            #[test]
            fn $case() {
                super::check(&super::case_dir($dir, stringify!($case)));
            }
        )*
    };
}

fn case_dir(dir: &str, case: &str) -> PathBuf {
    support::repo().join(dir).join(case.replace('_', "-"))
}

mod cases {
    cases!("testdata/golden":
        aigw_names_eds,
        aigw_names_group_count,
        aigw_names_per_backend_clusters,
        aigw_names_rule_cluster,
        already_patched,
        annotation_false_and_no_metadata,
        clusters_only,
        custom_filter_order_conflict,
        custom_response_before_auth,
        default_and_team_a,
        eg_internal_listeners,
        existing_filters_ordering,
        existing_route_metadata,
        gateway_in_envoy_gateway_namespace,
        gateway_in_envoy_gateway_system,
        gateway_opt_in_annotation,
        http_and_tcp_chains,
        https_sni_chains,
        inference_next_to_ai_route,
        inference_one_pool,
        inference_shared_route_config,
        inference_two_pools,
        inline_route_config,
        malformed_hcm_type,
        missing_route_config,
        mixed_namespaces_and_schemes,
        namespace_allow_list,
        nothing_annotated,
        placement_before_lua,
        placement_configured,
        policy_ignored_and_invalid,
        policy_listener_override,
        policy_route_choices,
        policy_two_tenants,
        processor_cluster_present,
        shared_route_config,
        upstream_already_patched,
        upstream_eds_cluster,
        upstream_existing_protocol_options,
        upstream_no_codec,
        upstream_several_namespaces,
        upstream_shared_cluster,
        upstream_weighted_clusters,
    );
}

mod captured {
    cases!("testdata/captured":
        admin_config_dump_snake_case,
        envoy_proxy_already_patched,
        envoy_proxy_two_pods,
        translate_routes_only_json,
        translate_three_gateways,
    );
}

#[test]
fn every_case_is_listed() {
    let mut unlisted = Vec::new();
    for (dir, listed) in [
        ("testdata/golden", cases::LISTED),
        ("testdata/captured", captured::LISTED),
    ] {
        for case in golden::cases(&support::repo().join(dir)).unwrap() {
            let name = case
                .file_name()
                .unwrap()
                .to_string_lossy()
                .replace('-', "_");
            if !listed.contains(&name.as_str()) {
                check(&case);
                unlisted.push(case.display().to_string());
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "golden cases without their own test (add them to tests/golden.rs): {}",
        unlisted.join(", ")
    );
}

/// The repository's own golden cases pass through the binary's kit, InferencePool cases
/// (`extensions.yaml`: EG's order of hooks) included; an `extensions.yaml` naming no route is
/// an error naming the file and the entry.
#[test]
fn test_kit_runs_the_repository_goldens_and_eg_order_cases() {
    let testdata = support::repo().join("testdata/golden");
    let out = crate::cli::run(&["test", testdata.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ok      inference-one-pool"), "{text}");
    assert!(
        text.lines()
            .last()
            .unwrap_or_default()
            .ends_with(" 0 failed"),
        "{text}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("cases/pool");
    std::fs::create_dir_all(&case).unwrap();
    for file in ["input.yaml", "output.yaml"] {
        std::fs::copy(
            testdata.join("inference-one-pool").join(file),
            case.join(file),
        )
        .unwrap();
    }
    std::fs::write(
        case.join("extensions.yaml"),
        "- route: nowhere\n  objects: []\n",
    )
    .unwrap();
    let out = crate::cli::run(&["test", tmp.path().join("cases").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("extensions.yaml: [0].route: no route named \"nowhere\""),
        "{text}"
    );
}
