//! Where the processor goes in an HCM's HTTP filter list.
//!
//! Envoy Gateway sorts HTTP filters by type in a fixed canonical order; the processor belongs
//! where EG would put the first `ext_proc`: after everything EG runs before ext_proc (fault
//! injection, CORS, header mutation and, above all, authentication) and before everything EG
//! runs at or after it (other ext_procs, wasm, rbac, rate limits, compression, the router).
//! A filter of a type EG does not order keeps its place and constrains nothing.
//!
//! Filters are recognised by type, the way EG names them: `envoy.filters.http.<type>` with any
//! suffix (`/policy`, `.gzip`, `_rule`), matched by prefix in EG's own order; a filter with some
//! other name is recognised by its typed_config type (`envoy.extensions.filters.http.<type>.*`).

use std::fmt;

use crate::index::HttpFilterEntry;
use crate::xds::names;

/// Filter types EG orders before ext_proc, in EG's order.
const BEFORE_EXT_PROC: [&str; 14] = [
    "custom_response",
    "health_check",
    "fault",
    "cors",
    "csrf",
    "header_mutation",
    "ext_authz",
    "api_key_auth",
    "basic_auth",
    "oauth2",
    "jwt_authn",
    "stateful_session",
    "buffer",
    "lua",
];

/// Filter types EG orders at or after ext_proc, in EG's order.
const AT_OR_AFTER_EXT_PROC: [&str; 14] = [
    "ext_proc",
    "wasm",
    "dynamic_modules",
    "geoip",
    "rbac",
    "local_ratelimit",
    "ratelimit",
    "bandwidth_limit",
    "grpc_web",
    "grpc_stats",
    "credential_injector",
    "compressor",
    "dynamic_forward_proxy",
    "router",
];

/// Where a filter stands relative to ext_proc in EG's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rank {
    /// EG runs it before ext_proc.
    Before,
    /// EG runs it at or after ext_proc.
    AtOrAfter,
    /// EG does not order this type.
    Unordered,
}

/// The EG filter type of a filter, when it is one EG orders.
pub fn filter_type(filter: &HttpFilterEntry) -> Option<&'static str> {
    let ordered = || BEFORE_EXT_PROC.iter().chain(AT_OR_AFTER_EXT_PROC.iter());
    if let Some(rest) = filter.name.strip_prefix(names::HTTP_FILTER_PREFIX)
        && let Some(t) = ordered().find(|t| rest.starts_with(**t))
    {
        return Some(t);
    }
    let config_type = filter.config_type.as_deref()?;
    let rest = config_type.strip_prefix(names::HTTP_FILTER_TYPE_PREFIX)?;
    let segment = rest.split('.').next()?;
    ordered().find(|t| **t == segment).copied()
}

/// The rank of a filter.
pub fn rank(filter: &HttpFilterEntry) -> Rank {
    match filter_type(filter) {
        Some(t) if BEFORE_EXT_PROC.contains(&t) => Rank::Before,
        Some(_) => Rank::AtOrAfter,
        None => Rank::Unordered,
    }
}

/// Where to insert, and whether the existing order forced a compromise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Index in `http_filters` the new filter takes.
    pub index: usize,
    /// Set when the existing order has no position satisfying EG's order.
    pub conflict: Option<Conflict>,
}

/// A user-customised filter order that puts an after-ext_proc filter before a before-ext_proc
/// one. Authentication must still run first, so the processor goes after the last
/// before-ext_proc filter (and before the router).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The first filter EG orders at or after ext_proc, and its index.
    pub early: (String, usize),
    /// The last filter EG orders before ext_proc, and its index.
    pub late: (String, usize),
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "custom filter order: {} (http_filters[{}]) runs before {} (http_filters[{}]); \
             inserted after the latter so authentication still runs first",
            self.early.0, self.early.1, self.late.0, self.late.1
        )
    }
}

/// Computes where the processor goes among `filters`.
pub fn placement(filters: &[HttpFilterEntry]) -> Placement {
    let ranks: Vec<Rank> = filters.iter().map(rank).collect();
    let last_before = ranks.iter().rposition(|r| *r == Rank::Before);
    let first_after = ranks.iter().position(|r| *r == Rank::AtOrAfter);
    match (last_before, first_after) {
        (Some(before), Some(after)) if before > after => {
            let router = filters
                .iter()
                .position(|f| filter_type(f) == Some("router"))
                .unwrap_or(filters.len());
            let name = |i: usize| filters.get(i).map(|f| f.name.clone()).unwrap_or_default();
            Placement {
                index: (before + 1).min(router),
                conflict: Some(Conflict {
                    early: (name(after), after),
                    late: (name(before), before),
                }),
            }
        }
        (_, Some(after)) => Placement {
            index: after,
            conflict: None,
        },
        (Some(before), None) => Placement {
            index: before + 1,
            conflict: None,
        },
        (None, None) => Placement {
            index: filters.len(),
            conflict: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(names: &[&str]) -> Vec<HttpFilterEntry> {
        names
            .iter()
            .map(|n| HttpFilterEntry {
                name: (*n).to_owned(),
                config_type: None,
            })
            .collect()
    }

    fn at(names: &[&str]) -> Placement {
        placement(&filters(names))
    }

    #[test]
    fn recognises_eg_names_with_suffixes() {
        let f = filters(&[
            "envoy.filters.http.ext_proc/envoyextensionpolicy/default/p/0",
            "envoy.filters.http.compressor.gzip",
            "envoy.filters.http.oauth2_first-route",
            "envoy.filters.http.router",
            "my-custom-thing",
        ]);
        let types: Vec<_> = f.iter().map(filter_type).collect();
        assert_eq!(
            types,
            [
                Some("ext_proc"),
                Some("compressor"),
                Some("oauth2"),
                Some("router"),
                None
            ]
        );
    }

    #[test]
    fn recognises_by_config_type_when_the_name_says_nothing() {
        let f = HttpFilterEntry {
            name: "authn".into(),
            config_type: Some(
                "envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication".into(),
            ),
        };
        assert_eq!(rank(&f), Rank::Before);
    }

    #[test]
    fn goes_right_before_the_router_on_a_plain_hcm() {
        assert_eq!(at(&["envoy.filters.http.router"]).index, 0);
    }

    #[test]
    fn goes_after_authentication_and_before_existing_ext_proc() {
        let p = at(&[
            "envoy.filters.http.custom_response",
            "envoy.filters.http.jwt_authn",
            "envoy.filters.http.buffer",
            "envoy.filters.http.ext_proc/envoyextensionpolicy/ns/p/0",
            "envoy.filters.http.wasm/envoyextensionpolicy/ns/p/0",
            "envoy.filters.http.rbac",
            "envoy.filters.http.router",
        ]);
        assert_eq!(
            p,
            Placement {
                index: 3,
                conflict: None
            }
        );
    }

    #[test]
    fn custom_response_first_does_not_pull_the_processor_before_authentication() {
        // The Go reference stops at the first of a list containing custom_response.
        let p = at(&[
            "envoy.filters.http.custom_response",
            "envoy.filters.http.ext_authz",
            "envoy.filters.http.router",
        ]);
        assert_eq!(p.index, 2);
    }

    #[test]
    fn unknown_filters_keep_their_place() {
        assert_eq!(
            at(&[
                "x",
                "envoy.filters.http.cors",
                "y",
                "envoy.filters.http.router"
            ])
            .index,
            3
        );
        assert_eq!(at(&["x", "y"]).index, 2);
        assert_eq!(at(&["envoy.filters.http.lua/0", "x"]).index, 1);
    }

    #[test]
    fn conflicting_custom_order_puts_it_after_authentication_and_reports_it() {
        let p = at(&[
            "envoy.filters.http.ratelimit",
            "envoy.filters.http.jwt_authn",
            "envoy.filters.http.router",
        ]);
        assert_eq!(p.index, 2);
        let c = p.conflict.unwrap();
        assert_eq!(c.early, ("envoy.filters.http.ratelimit".to_owned(), 0));
        assert_eq!(c.late, ("envoy.filters.http.jwt_authn".to_owned(), 1));
    }

    #[test]
    fn conflict_never_goes_past_the_router() {
        let p = at(&["envoy.filters.http.router", "envoy.filters.http.jwt_authn"]);
        assert_eq!(p.index, 0);
        assert!(p.conflict.is_some());
    }
}
