//! Integration tests, one binary (see `autotests = false` in Cargo.toml).

mod bad_input;
mod cli;
mod contract;
mod corpus;
mod daemon;
mod daemon_tls;
mod dataplane;
mod dataplane_aigw;
mod dataplane_inference;
mod deploy;
mod eg_calls;
mod envoy;
mod fuzz;
mod golden;
mod hostile;
mod inference;
mod load;
mod passthrough;
mod properties;
mod server;
mod support;
mod workload;
