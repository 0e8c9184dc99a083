//! xds-hook: an Envoy Gateway `PostTranslateModify` extension server for AI gateways.
//!
//! Envoy Gateway hands the hook every listener, route configuration, cluster and secret it
//! produced, and uses what comes back as the fleet's final configuration. The hook inserts an
//! external processor into the HTTP connection managers that serve AI routes, enables it only
//! on those routes, and adds the cluster that reaches the processor. Every decision comes from
//! the structure of the xDS and from EG's `envoy-gateway` metadata, never from resource names.
//!
//! The pipeline runs one way, one module per stage: [`contract`] (wire messages, resources
//! kept as bytes) → `index` (read-only view) → `select` (decisions with reasons) → `mutate`
//! (wire-level splices, per resource kind) → [`report`] (logs and `explain`). [`hook`] wires
//! the stages; [`server`] and the CLI are front ends; [`config`] and [`format`](mod@format)
//! handle the edges (`format` also reads the dumps users capture with `egctl` and Envoy's admin
//! interface); [`offline`] runs the hook once per Gateway of such a capture, and [`golden`]
//! checks captures against reviewed results; [`render`] turns a response into an Envoy
//! bootstrap so a real Envoy can validate it. [`inference`] serves InferencePool backends
//! through EG's Route, Cluster and Translation hooks; [`policy`] reads ProcessorPolicies.
//!
//! # Public API
//!
//! What someone embedding the hook needs, and what the binary is built from:
//!
//! - [`Hook`] (`Hook::new(Config)`, `post_translate_modify(request) -> Outcome`,
//!   `post_route_modify`, and `inference().post_cluster_modify`) and [`Outcome`] (the
//!   response and its [`report::Report`]);
//! - [`Config`] (`Config::from_yaml`, `from_file`, `to_yaml`) and its errors;
//! - [`contract`]: EG's extension messages, resources kept as encoded bytes, and the gRPC
//!   service traits;
//! - [`format`](mod@format): requests, responses and captured dumps in `.pb`, `.json` and `.yaml`;
//!   [`wire`]: reading and splicing those encoded resources without a schema;
//! - [`report`]: decisions and outcomes as text (`explain`), JSON and graphs, and the types a
//!   report holds (the index's chains and owners, selection's decisions);
//! - [`inference`]: EG's hook order for a translation with extension routes (`flow`,
//!   `extensions`), InferencePool objects (`pool`) and their report; [`policy`]:
//!   ProcessorPolicy objects (`spec`), the files that carry them (`fixture`) and their
//!   verdicts;
//! - [`server::serve`]: the production gRPC server; [`offline`], [`golden`] and [`render`]:
//!   what `apply`, `test` and `render` run;
//! - `workload` (feature `workload`, on by default, off in the image): synthetic fleets for
//!   benches and tests; `fuzzing` (feature `fuzzing`): the fuzz targets' oracles and seeds.
//!
//! The stages' own modules (`index`, `select`, `mutate`, and `xds`, the views and field
//! numbers of Envoy's messages) are private: the integration tests read Envoy's own types
//! where they need a second opinion, and the fuzz targets go through `fuzzing`.

pub mod config;
pub mod contract;
pub mod format;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod golden;
pub mod hook;
pub(crate) mod index;
pub mod inference;
pub(crate) mod mutate;
pub mod offline;
pub mod policy;
pub mod render;
pub mod report;
pub(crate) mod select;
pub mod server;
pub mod wire;
#[cfg(any(test, feature = "workload"))]
pub mod workload;
pub(crate) mod xds;

pub use config::Config;
pub use hook::{Hook, Outcome};
