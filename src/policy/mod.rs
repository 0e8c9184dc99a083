//! ProcessorPolicy: which Gateways, listeners and routes are processed, and by which
//! processor, chosen by a Kubernetes policy instead of the configuration file.
//!
//! Envoy Gateway does the Kubernetes side: with `extensionManager.policyResources` listing our
//! kind, it watches the policies, resolves their `targetRefs` and `targetSelectors` (label
//! selectors, ReferenceGrants), computes their status, and hands each one, as JSON, to the
//! calls of the Gateways it targets (`PostTranslateModify`'s context) or of the routes it
//! targets (`PostRouteModify`, EG v1.9+). Nothing here watches or resolves anything: it reads
//! what EG delivers, honours a policy only where EG's status says it is accepted, and decides.
//!
//! - `object`, [`spec`], `status`: a delivered object, read in layers (envelope, status,
//!   spec) so that a wrong spec still has a name and targets; typed errors (`error`).
//! - `resolve`: which policy decides each virtual host (listener over Gateway over the
//!   configuration file), the processors, and a [`resolve::Plan`] that selection runs once per
//!   processor with; [`verdict`]: what became of every policy.
//! - `processor`: a policy's own filter and cluster, named after it.
//! - `route` and `choice`: route-level opt-in and opt-out, recorded on the route by
//!   `PostRouteModify` and read back by selection.
//! - `merge`: the passes folded into one report; `report`: what `explain` shows of it.
//!
//! A request without policies decodes nothing here: its context is absent or empty, and the
//! hook runs exactly as it does without this module (a byte search for route choices aside).

pub(crate) mod choice;
pub(crate) mod error;
pub mod fixture;
pub(crate) mod merge;
pub(crate) mod object;
pub(crate) mod processor;
pub(crate) mod report;
pub(crate) mod resolve;
pub(crate) mod route;
pub mod spec;
pub(crate) mod status;
pub mod verdict;

use std::fmt;

use bytes::Bytes;
use prost::Message;

use crate::contract::PostTranslateExtensionContext;
pub use choice::RouteChoice;
pub use error::{PolicyError, ReadError, SpecError};
pub use object::Delivered;
pub use processor::Source;
pub use resolve::Plan;
pub use status::Target;

/// The API group of ProcessorPolicy (also the route metadata namespace of `choice`).
pub const GROUP: &str = "policy.xds-hook.dev";
/// The served version.
pub const VERSION: &str = "v1alpha1";
/// The kind.
pub const KIND: &str = "ProcessorPolicy";

/// A policy's identity: namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyId {
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The objects of a `PostTranslateModify` context, in EG's order; empty, without decoding
/// anything, when there is no context.
pub(crate) fn delivered(context: Option<&Bytes>) -> Vec<Delivered> {
    let Some(context) = context.filter(|c| !c.is_empty()) else {
        return Vec::new();
    };
    match PostTranslateExtensionContext::decode(context.clone()) {
        Ok(context) => context
            .extension_resources
            .iter()
            .map(|r| Delivered::read(&r.unstructured_bytes))
            .collect(),
        Err(e) => vec![Delivered::Unreadable(ReadError::Context(e.to_string()))],
    }
}
