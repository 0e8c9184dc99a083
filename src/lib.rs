//! xds-hook: an Envoy Gateway `PostTranslateModify` extension server for AI gateways.
//!
//! Envoy Gateway hands the hook every listener, route configuration, cluster and secret it
//! produced, and uses what comes back as the fleet's final configuration. The hook inserts an
//! external processor into the HTTP connection managers that serve AI routes, enables it only
//! on those routes, and adds the cluster that reaches the processor. Every decision comes from
//! the structure of the xDS and from EG's `envoy-gateway` metadata, never from resource names.
//!
//! The pipeline runs one way, one module per stage:
//! [`contract`] (wire messages, resources kept as bytes) → [`index`] (read-only view) →
//! [`select`] (decisions with reasons) → [`mutate`] (wire-level splices, per resource kind) →
//! [`report`] (logs and `explain`). [`hook`] wires the stages; [`server`] and the CLI are
//! front ends; [`config`] and [`format`](mod@format) handle the edges (`format` also reads the dumps users
//! capture with `egctl` and Envoy's admin interface); [`offline`] runs the hook once per Gateway
//! of such a capture, and [`golden`] checks captures against reviewed results; [`render`] turns
//! a response into an Envoy bootstrap so a real Envoy can validate it; [`workload`] generates
//! synthetic fleets for benches and tests.

pub mod config;
pub mod contract;
pub mod format;
pub mod golden;
pub mod hook;
pub mod index;
pub mod mutate;
pub mod offline;
pub mod policy;
pub mod render;
pub mod report;
pub mod select;
pub mod server;
pub mod wire;
pub mod workload;
pub mod xds;

pub use config::Config;
pub use hook::{Hook, Outcome};
