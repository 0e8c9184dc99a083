//! Selection's inputs besides the configuration: who decides each virtual host's routes
//! ([`Gate`]), and a route's own choice ([`RouteChoice`]).
//!
//! Without policies the configuration file decides every virtual host ([`Unscoped`]): its
//! Gateway scoping, then the route annotation. With ProcessorPolicies ([`crate::policy`]) the
//! policy that targets a virtual host's Gateway, or listener, decides it instead, and
//! selection runs once per processor, every other processor's virtual hosts closed. A route
//! may also carry its own choice, which `PostRouteModify` recorded from a policy targeting its
//! HTTPRoute; it replaces the annotation (in or out) but never opens a closed virtual host.

use std::fmt;

use super::NotSelected;
use crate::index::InvalidField;
use crate::policy::{PolicyError, PolicyId, RouteChoice, Target};

/// Who decides the routes of one virtual host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// The configuration file: its Gateway scoping, then the route annotation.
    Config,
    /// A policy selecting annotated routes (the file's Gateway scoping does not apply).
    Annotated,
    /// A policy selecting every route EG built from an HTTPRoute or GRPCRoute.
    All,
    /// No route, for this reason.
    Closed(NotSelected),
}

/// Answers [`Gate`]s and route choices by position in the index.
pub(crate) trait Scope {
    /// The gate of virtual host `virtual_host` of route configuration `route_config`.
    fn gate(&self, route_config: usize, virtual_host: usize) -> Gate;
    /// The choice recorded on a route, if any.
    fn route_choice(
        &self,
        route_config: usize,
        virtual_host: usize,
        route: usize,
    ) -> Option<&RouteChoice>;
}

/// The configuration decides everything; no route has a choice.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Unscoped;

impl Scope for Unscoped {
    fn gate(&self, _: usize, _: usize) -> Gate {
        Gate::Config
    }

    fn route_choice(&self, _: usize, _: usize, _: usize) -> Option<&RouteChoice> {
        None
    }
}

/// Why a policy leaves a route out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Excluded {
    /// The policy deciding the Gateway or listener selects no route (`routes: None`).
    OptedOut {
        /// The policy.
        policy: PolicyId,
        /// What it targets here.
        target: Target,
    },
    /// The policy deciding the Gateway or listener is invalid: its targets stay unprocessed
    /// rather than fall to a processor it did not name.
    InvalidPolicy(PolicyError),
    /// Another processor serves this virtual host (a pass of another processor says so; the
    /// report shows the decision of the virtual host's own pass).
    OtherProcessor,
    /// The route's HTTPRoute (or rule) opted out through a policy.
    RouteOptedOut {
        /// The policy, `namespace/name`.
        policy: String,
    },
    /// The route's policy is invalid: the route stays unprocessed.
    RoutePolicyInvalid {
        /// The policy, `namespace/name`.
        policy: String,
        /// What is wrong with it, as PostRouteModify recorded it.
        error: String,
    },
    /// The choice recorded on the route cannot be read.
    ChoiceUnreadable(InvalidField),
}

impl fmt::Display for Excluded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Excluded::OptedOut { policy, target } => {
                write!(f, "{target} opted out by policy {policy} (routes: None)")
            }
            Excluded::InvalidPolicy(e) => write!(f, "{e}"),
            Excluded::OtherProcessor => f.write_str("served by another processor"),
            Excluded::RouteOptedOut { policy } => {
                write!(f, "HTTPRoute opted out by policy {policy}")
            }
            Excluded::RoutePolicyInvalid { policy, error } => {
                write!(f, "ProcessorPolicy {policy}: {error}")
            }
            Excluded::ChoiceUnreadable(e) => write!(f, "route {e}"),
        }
    }
}

/// How a route's choice bears on it: opted in (no annotation needed), or left out.
pub(super) fn apply(choice: Option<&RouteChoice>) -> Result<bool, NotSelected> {
    let excluded = match choice {
        None => return Ok(false),
        Some(RouteChoice::In { .. }) => return Ok(true),
        Some(RouteChoice::Out { policy }) => Excluded::RouteOptedOut {
            policy: policy.clone(),
        },
        Some(RouteChoice::Invalid { policy, error }) => Excluded::RoutePolicyInvalid {
            policy: policy.clone(),
            error: error.clone(),
        },
        Some(RouteChoice::Unreadable(e)) => Excluded::ChoiceUnreadable(e.clone()),
    };
    Err(NotSelected::Policy(excluded))
}
