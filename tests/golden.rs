//! Golden cases: `testdata/<case>/input.yaml` (a PostTranslateModifyRequest in canonical proto3
//! JSON, as YAML), optional `config.yaml`, and the reviewed expectations `output.yaml` (the
//! response) and `explain.txt` (the decision table). `UPDATE_GOLDEN=1 cargo test golden`
//! rewrites the expectations; review the diff before committing it.
//!
//! Every case also checks that nothing is lost and that the hook is idempotent on its output.
//! A case with `extensions.yaml` (InferencePool backends) runs the Route and Cluster hooks in
//! EG's order first (`support::eg_flow`); its explanation lists those calls too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;

use xds_hook::format::{self, Format};
use xds_hook::{Config, Hook};

use crate::support::{self, eg_flow};

fn run_case(dir: &Path) -> Result<(), String> {
    let config_path = dir.join("config.yaml");
    let config = if config_path.exists() {
        Config::from_file(&config_path).map_err(|e| e.to_string())?
    } else {
        Config::default()
    };
    let annotation = config.selection.route_annotation.clone();
    let hook = Hook::new(config);
    let request = format::read_request(&dir.join("input.yaml")).map_err(|e| e.to_string())?;
    // With InferencePool backends, PostTranslateModify gets what the Route and Cluster hooks
    // made of EG's resources: play EG's order.
    let (request, outcome, explain) = match eg_flow::extensions_path(dir) {
        Some(extensions) => {
            let translation = eg_flow::run(&hook, request, &extensions);
            let explain = translation.explain(&annotation);
            (translation.request, translation.outcome, explain)
        }
        None => {
            let outcome = hook.post_translate_modify(request.clone());
            let explain = outcome.report.explain(&annotation);
            (request, outcome, explain)
        }
    };
    support::assert_nothing_lost(&request, &outcome.response);

    let again = hook.post_translate_modify(support::as_request(&outcome.response));
    if again.response != outcome.response {
        return Err(format!("{}: not idempotent", dir.display()));
    }

    let yaml =
        format::encode_response(&outcome.response, Format::Yaml).map_err(|e| e.to_string())?;
    let mut problems = Vec::new();
    if let Err(e) =
        support::check_golden(&dir.join("output.yaml"), &String::from_utf8(yaml).unwrap())
    {
        problems.push(e);
    }
    if let Err(e) = support::check_golden(&dir.join("explain.txt"), &explain) {
        problems.push(e);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

#[test]
fn golden_cases() {
    let cases = support::subdirs(&support::repo().join("testdata"));
    let failures: Vec<String> = cases.iter().filter_map(|dir| run_case(dir).err()).collect();
    assert!(
        failures.is_empty(),
        "{} golden case(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        cases.len() >= 15,
        "expected at least 15 golden cases, found {}",
        cases.len()
    );
}
