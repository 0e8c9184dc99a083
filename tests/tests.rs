//! Integration tests, one binary (see `autotests = false` in Cargo.toml).

mod bad_input;
mod cli;
mod contract;
mod corpus;
mod envoy;
mod fuzz;
mod golden;
mod hostile;
mod passthrough;
mod server;
mod support;
