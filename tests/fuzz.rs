//! The long fuzz run (`scripts/fuzz`), from `cargo test` but only when asked.
//!
//! The fuzz crate needs nightly compiler flags and minutes of building, so the normal suite
//! never builds it; `XDS_HOOK_FUZZ_SECONDS` opts in. Inputs the fuzzers find do not stay in
//! `fuzz/`: once fixed, each becomes an ordinary test next to the behaviour it breaks
//! (`bad_input`, `hostile`), so a regression fails `cargo test` on stable.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::process::Command;

use crate::support;

/// `XDS_HOOK_FUZZ_SECONDS=600 cargo test fuzz::long_run -- --nocapture` runs `scripts/fuzz`
/// (every target, that many seconds each) and fails if any target finds a crash.
#[test]
fn long_run() {
    let Some(seconds) = std::env::var_os("XDS_HOOK_FUZZ_SECONDS") else {
        eprintln!("fuzz::long_run skipped: set XDS_HOOK_FUZZ_SECONDS to run scripts/fuzz");
        return;
    };
    let status = Command::new(support::repo().join("scripts/fuzz"))
        .env("FUZZ_SECONDS", seconds)
        .status()
        .expect("scripts/fuzz runs");
    assert!(status.success(), "scripts/fuzz: {status}");
}
