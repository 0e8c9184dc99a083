//! Integration tests, one binary (see `autotests = false` in Cargo.toml).

mod bad_input;
mod captured;
mod cli;
mod contract;
mod corpus;
mod daemon;
mod daemon_tls;
mod dataplane;
mod dataplane_aigw;
mod dataplane_policy;
mod deploy;
mod eg_calls;
mod envoy;
mod explain;
mod fuzz;
mod golden;
mod hostile;
mod load;
mod passthrough;
mod policy;
mod policy_crd;
mod properties;
mod server;
mod support;
mod workload;
