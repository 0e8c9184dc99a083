//! Integration tests, one binary (see `autotests = false` in Cargo.toml).
//!
//! The library denies `unwrap`, `expect`, indexing and `panic!` (`[lints]` in Cargo.toml):
//! input must never crash the hook. Tests are the opposite: a broken expectation should stop
//! the test right there, so the allowances are made once, here, for every test module.

//! `unreachable_pub` guards the library's surface; a test module's helpers are shared
//! between test modules of this one binary, and `pub` says so.
#![allow(
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod bad_input;
mod captured;
mod cli;
mod contract;
mod corpus;
mod daemon;
mod daemon_tls;
mod dataplane;
mod dataplane_aigw;
mod dataplane_inference;
mod dataplane_policy;
mod deploy;
mod eg_calls;
mod envoy;
mod explain;
mod fuzz;
mod golden;
mod hostile;
mod inference;
mod load;
mod passthrough;
mod policy;
mod policy_crd;
mod properties;
mod server;
mod support;
mod workload;
