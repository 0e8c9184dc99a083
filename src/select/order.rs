//! Where the processor goes in an HCM's HTTP filter list.
//!
//! The configured placement (`extProc.placement`) lists the filter types the processor goes
//! after and those it goes before. It goes right before the first filter of a `before` type, or
//! else right after the last filter of an `after` type; a filter of a type in neither list keeps
//! its place and constrains nothing. By default that is where Envoy Gateway's canonical order
//! puts the first ext_proc (after authentication and buffer, before rate limits and the
//! router), except that it goes before Lua, where the AI Gateway puts its own processor.
//!
//! When a custom order puts a `before` filter ahead of an `after` one, the `after` list wins,
//! so authentication still runs first, but the processor never goes past the router.
//!
//! Filters are recognised by type, the way EG names them: `envoy.filters.http.<type>` with any
//! suffix (`/policy`, `.gzip`, `_rule`), matched by prefix (the longest listed type wins); a
//! filter with some other name is recognised by its typed_config type
//! (`envoy.extensions.filters.http.<type>.*`). The policy is built once per hook, so this
//! recognition allocates nothing.

use std::{cmp::Reverse, fmt, sync::Arc};

use crate::config::{PlacementConfig, ROUTER};
use crate::index::HttpFilterEntry;
use crate::xds::names;

/// Which side of the processor a listed filter type goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The processor goes after filters of this type (`placement.after`).
    After,
    /// The processor goes before filters of this type (`placement.before`).
    Before,
}

impl Side {
    fn word(self) -> &'static str {
        match self {
            Side::After => "after",
            Side::Before => "before",
        }
    }
}

/// The placement lists, ready for matching.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    /// Every listed type with its side, longest first, so that a filter takes the most
    /// specific type its name starts with.
    types: Vec<(Arc<str>, Side)>,
}

impl Default for Policy {
    fn default() -> Self {
        Self::new(&PlacementConfig::default())
    }
}

impl Policy {
    /// Builds the policy for validated lists.
    pub(crate) fn new(config: &PlacementConfig) -> Self {
        let after = config.after.iter().map(|t| (t, Side::After));
        let before = config.before.iter().map(|t| (t, Side::Before));
        let mut types: Vec<(Arc<str>, Side)> = after
            .chain(before)
            .map(|(t, side)| (Arc::from(t.as_str()), side))
            .collect();
        types.sort_by_key(|(t, _)| Reverse(t.len()));
        Self { types }
    }

    /// The listed type of a filter, with its side; `None` when its type is not listed.
    pub(crate) fn recognise(&self, filter: &HttpFilterEntry) -> Option<&(Arc<str>, Side)> {
        if let Some(rest) = filter.name.strip_prefix(names::HTTP_FILTER_PREFIX)
            && let Some(listed) = self.types.iter().find(|(t, _)| rest.starts_with(&**t))
        {
            return Some(listed);
        }
        let config_type = filter.config_type.as_deref()?;
        let rest = config_type.strip_prefix(names::HTTP_FILTER_TYPE_PREFIX)?;
        let segment = rest.split('.').next()?;
        self.types.iter().find(|(t, _)| **t == *segment)
    }

    /// Computes where the processor goes among `filters`.
    pub(crate) fn placement(&self, filters: &[HttpFilterEntry]) -> Placement {
        let (mut last_after, mut first_before, mut router) = (None, None, None);
        for (i, filter) in filters.iter().enumerate() {
            match self.recognise(filter) {
                Some((t, Side::After)) => last_after = Some((i, t)),
                Some((t, Side::Before)) => {
                    first_before.get_or_insert((i, t));
                    if router.is_none() && &**t == ROUTER {
                        router = Some(i);
                    }
                }
                None => {}
            }
        }
        let anchor = |(index, listed): (usize, &Arc<str>)| Anchor {
            name: filters
                .get(index)
                .map(|f| f.name.clone())
                .unwrap_or_default(),
            index,
            listed: Arc::clone(listed),
        };
        match (last_after, first_before) {
            (Some(late), Some(early)) if late.0 > early.0 => Placement {
                index: (late.0 + 1).min(router.unwrap_or(filters.len())),
                rule: Rule::Conflict(Conflict {
                    early: anchor(early),
                    late: anchor(late),
                }),
            },
            (after, before) => Placement {
                index: match (after, before) {
                    (_, Some((b, _))) => b,
                    (Some((a, _)), None) => a + 1,
                    (None, None) => filters.len(),
                },
                rule: Rule::Ordered {
                    after: after.map(anchor),
                    before: before.map(anchor),
                },
            },
        }
    }
}

/// Where to insert, and the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Index in `http_filters` the new filter takes.
    pub index: usize,
    /// Why there.
    pub rule: Rule,
}

/// The rule that decided a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// Right after the last filter of an `after` type and before the first of a `before`
    /// type; `None` where the list has no filter in this HCM.
    Ordered {
        /// The last filter the processor goes after.
        after: Option<Anchor>,
        /// The first filter the processor goes before.
        before: Option<Anchor>,
    },
    /// The existing order has no position satisfying both lists.
    Conflict(Conflict),
}

/// A filter that decided the position: its name, its index in the input `http_filters`, and
/// the listed type it was recognised as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Filter name.
    pub name: String,
    /// Index in the input `http_filters`.
    pub index: usize,
    /// The listed type it matched.
    pub listed: Arc<str>,
}

/// A user-customised filter order that puts a `before` filter ahead of an `after` one.
/// Authentication must still run first, so the processor goes after the last `after` filter
/// (and never past the router).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The first filter the processor should precede.
    pub early: Anchor,
    /// The last filter the processor should follow.
    pub late: Anchor,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "custom filter order: {} (http_filters[{}]) runs before {} (http_filters[{}]); \
             inserted after the latter so authentication still runs first",
            self.early.name, self.early.index, self.late.name, self.late.index
        )
    }
}

/// `processor at http_filters[N]` and the rule: the text `explain` and the DEBUG log show.
impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "processor at http_filters[{}]", self.index)?;
        let (after, before) = match &self.rule {
            Rule::Conflict(conflict) => return write!(f, "; {conflict}"),
            Rule::Ordered { after, before } => (after, before),
        };
        let anchor = |f: &mut fmt::Formatter<'_>, a: &Anchor, side: Side| {
            let word = side.word();
            let (name, index, listed) = (&a.name, a.index, &a.listed);
            write!(
                f,
                "{word} {name} (http_filters[{index}], placement.{word}: {listed})"
            )
        };
        f.write_str(": ")?;
        match (after, before) {
            (None, None) => f.write_str("no ordered filter: appended"),
            (Some(a), None) => anchor(f, a, Side::After),
            (None, Some(b)) => anchor(f, b, Side::Before),
            (Some(a), Some(b)) => {
                anchor(f, a, Side::After)?;
                f.write_str(", ")?;
                anchor(f, b, Side::Before)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

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
        Policy::default().placement(&filters(names))
    }

    /// Asserts where the processor goes among `names`, and why.
    #[track_caller]
    fn assert_placed(policy: &Policy, names: &[&str], index: usize, why: &str) {
        let p = policy.placement(&filters(names));
        let expected = format!("processor at http_filters[{index}]: {why}");
        assert_eq!((p.index, p.to_string()), (index, expected));
    }

    /// A policy from `extProc.placement` written in YAML.
    fn configured(placement: &str) -> Policy {
        let yaml = format!("extProc:\n  placement: {placement}\n");
        Policy::new(&Config::from_yaml(&yaml).unwrap().ext_proc.placement)
    }

    fn listed(policy: &Policy, filter: &HttpFilterEntry) -> Option<(String, Side)> {
        policy
            .recognise(filter)
            .map(|(t, side)| (t.to_string(), *side))
    }

    fn by_config_type(config_type: &str) -> HttpFilterEntry {
        HttpFilterEntry {
            name: "some-filter".into(),
            config_type: Some(config_type.into()),
        }
    }

    #[test]
    fn recognises_eg_names_with_suffixes() {
        let policy = Policy::default();
        let f = filters(&[
            "envoy.filters.http.ext_proc/envoyextensionpolicy/default/p/0",
            "envoy.filters.http.compressor.gzip",
            "envoy.filters.http.oauth2_first-route",
            "envoy.filters.http.router",
            "my-custom-thing",
        ]);
        let types: Vec<_> = f.iter().map(|f| listed(&policy, f)).collect();
        assert_eq!(
            types,
            [
                Some(("ext_proc".to_owned(), Side::Before)),
                Some(("compressor".to_owned(), Side::Before)),
                Some(("oauth2".to_owned(), Side::After)),
                Some(("router".to_owned(), Side::Before)),
                None
            ]
        );
    }

    #[test]
    fn recognises_by_config_type_when_the_name_says_nothing() {
        let policy = Policy::default();
        let jwt = by_config_type("envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication");
        assert_eq!(
            listed(&policy, &jwt),
            Some(("jwt_authn".to_owned(), Side::After))
        );
        let lua = by_config_type("envoy.extensions.filters.http.lua.v3.Lua");
        assert_eq!(
            listed(&policy, &lua),
            Some(("lua".to_owned(), Side::Before))
        );
    }

    #[test]
    fn goes_right_before_the_router_on_a_plain_hcm() {
        assert_placed(
            &Policy::default(),
            &["envoy.filters.http.router"],
            0,
            "before envoy.filters.http.router (http_filters[0], placement.before: router)",
        );
    }

    #[test]
    fn goes_after_authentication_and_before_existing_ext_proc() {
        let filters = [
            "envoy.filters.http.custom_response",
            "envoy.filters.http.jwt_authn",
            "envoy.filters.http.buffer",
            "envoy.filters.http.ext_proc/envoyextensionpolicy/ns/p/0",
            "envoy.filters.http.wasm/envoyextensionpolicy/ns/p/0",
            "envoy.filters.http.rbac",
            "envoy.filters.http.router",
        ];
        assert_placed(
            &Policy::default(),
            &filters,
            3,
            "after envoy.filters.http.buffer (http_filters[2], placement.after: buffer), \
             before envoy.filters.http.ext_proc/envoyextensionpolicy/ns/p/0 (http_filters[3], \
             placement.before: ext_proc)",
        );
    }

    #[test]
    fn goes_after_buffer_and_before_lua() {
        let filters = [
            "envoy.filters.http.jwt_authn",
            "envoy.filters.http.buffer",
            "envoy.filters.http.lua/envoyextensionpolicy/ns/p/0",
            "envoy.filters.http.ext_proc/envoyextensionpolicy/ns/p/0",
            "envoy.filters.http.router",
        ];
        assert_placed(
            &Policy::default(),
            &filters,
            2,
            "after envoy.filters.http.buffer (http_filters[1], placement.after: buffer), \
             before envoy.filters.http.lua/envoyextensionpolicy/ns/p/0 (http_filters[2], \
             placement.before: lua)",
        );
        // Listing Lua in `after` alone moves the processor behind it.
        assert_placed(
            &configured("{after: [jwt_authn, buffer, lua]}"),
            &filters,
            3,
            "after envoy.filters.http.lua/envoyextensionpolicy/ns/p/0 (http_filters[2], \
             placement.after: lua), before \
             envoy.filters.http.ext_proc/envoyextensionpolicy/ns/p/0 (http_filters[3], \
             placement.before: ext_proc)",
        );
    }

    #[test]
    fn custom_response_first_does_not_pull_the_processor_before_authentication() {
        // The AI Gateway stops at the first of a list containing custom_response.
        let p = at(&[
            "envoy.filters.http.custom_response",
            "envoy.filters.http.ext_authz",
            "envoy.filters.http.router",
        ]);
        assert_eq!(p.index, 2);
    }

    #[test]
    fn unknown_filters_keep_their_place() {
        let p = at(&[
            "x",
            "envoy.filters.http.cors",
            "y",
            "envoy.filters.http.router",
        ]);
        assert_eq!(p.index, 3);
        let policy = Policy::default();
        assert_placed(&policy, &["x", "y"], 2, "no ordered filter: appended");
        assert_placed(
            &policy,
            &["envoy.filters.http.cors", "x"],
            1,
            "after envoy.filters.http.cors (http_filters[0], placement.after: cors)",
        );
    }

    #[test]
    fn conflicting_custom_order_puts_it_after_authentication_and_reports_it() {
        // Lua, a `before` type, ahead of authentication is such an order too.
        for early in ["envoy.filters.http.ratelimit", "envoy.filters.http.lua/0"] {
            let p = at(&[
                early,
                "envoy.filters.http.jwt_authn",
                "envoy.filters.http.router",
            ]);
            assert_eq!(p.index, 2, "{early}");
            let Rule::Conflict(c) = p.rule else {
                panic!("no conflict: {p:?}");
            };
            assert_eq!((c.early.name.as_str(), c.early.index), (early, 0));
            assert_eq!(
                (c.late.name.as_str(), c.late.index),
                ("envoy.filters.http.jwt_authn", 1)
            );
        }
    }

    #[test]
    fn conflict_never_goes_past_the_router() {
        let p = at(&["envoy.filters.http.router", "envoy.filters.http.jwt_authn"]);
        assert_eq!(p.index, 0);
        assert!(matches!(p.rule, Rule::Conflict(_)));
    }

    #[test]
    fn configured_types_replace_the_defaults() {
        let policy = configured("{after: [jwt_authn, my_auth], before: [ratelimit]}");
        // buffer and local_ratelimit are no longer listed: they constrain nothing.
        assert_placed(
            &policy,
            &[
                "envoy.filters.http.my_auth/securitypolicy/ns/p",
                "envoy.filters.http.buffer",
                "envoy.filters.http.local_ratelimit",
                "envoy.filters.http.ratelimit",
                "envoy.filters.http.router",
            ],
            3,
            "after envoy.filters.http.my_auth/securitypolicy/ns/p (http_filters[0], \
             placement.after: my_auth), before envoy.filters.http.ratelimit (http_filters[3], \
             placement.before: ratelimit)",
        );
        let my_auth = by_config_type("envoy.extensions.filters.http.my_auth.v1.Config");
        assert_eq!(
            listed(&policy, &my_auth),
            Some(("my_auth".to_owned(), Side::After))
        );
    }

    #[test]
    fn the_longest_listed_type_wins() {
        let policy = configured("{after: [ext], before: [ext_proc]}");
        let f = filters(&["envoy.filters.http.ext_proc/x", "envoy.filters.http.ext_y"]);
        assert_eq!(
            listed(&policy, &f[0]),
            Some(("ext_proc".to_owned(), Side::Before))
        );
        assert_eq!(
            listed(&policy, &f[1]),
            Some(("ext".to_owned(), Side::After))
        );
    }

    #[test]
    fn the_router_bounds_a_configured_policy_too() {
        // `before: []` still holds the router, so a conflict never passes it.
        let policy = configured("{after: [jwt_authn], before: []}");
        let p = policy.placement(&filters(&[
            "envoy.filters.http.router",
            "envoy.filters.http.jwt_authn",
        ]));
        assert_eq!(p.index, 0);
        assert!(matches!(p.rule, Rule::Conflict(_)));
    }
}
