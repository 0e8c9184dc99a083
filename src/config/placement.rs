//! `extProc.placement`: the filter types the processor goes after, and those it goes before.
//!
//! Envoy Gateway sorts the HTTP filters it writes by type, in a fixed order
//! (`internal/xds/translator/httpfilters.go`). The defaults follow that order with one change,
//! the Envoy AI Gateway's: the processor runs before Lua, because users' Lua scripts read what
//! the processor set (AI Gateway #1469, #2054), and after buffer (#2227). Users also want to
//! move it (AI Gateway PR #2158, issue #2720), hence two lists that replace the defaults.
//!
//! Entries are filter types as EG names filters (`envoy.filters.http.<type>[/…|.…]`); the full
//! prefix is accepted and stripped. Everything is checked here, with the entry's key, so a
//! list that cannot be applied never reaches a hook.

use serde::Deserialize;

use super::ConfigError;
use crate::xds::names;

/// Types the processor goes after by default: every type EG orders before ext_proc except
/// Lua, in EG's order (EG v1.9 adds csrf). Authentication is among them: the processor must
/// only ever see authenticated requests.
pub(crate) const DEFAULT_AFTER: [&str; 13] = [
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
];

/// Types the processor goes before by default: Lua (which EG orders before ext_proc), then
/// every type EG orders at or after ext_proc, in EG's order.
pub(crate) const DEFAULT_BEFORE: [&str; 15] = [
    "lua",
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
    ROUTER,
];

/// The router: Envoy runs nothing after it and rejects a chain where it is not last, so it is
/// always in `before` and never in `after`.
pub const ROUTER: &str = "router";

const AFTER: &str = "extProc.placement.after";
const BEFORE: &str = "extProc.placement.before";

/// The effective lists, normalised to bare types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacementConfig {
    /// Types the processor goes after.
    pub after: Vec<String>,
    /// Types the processor goes before; always contains the router.
    pub before: Vec<String>,
}

impl Default for PlacementConfig {
    fn default() -> Self {
        Self {
            after: DEFAULT_AFTER.map(str::to_owned).to_vec(),
            before: DEFAULT_BEFORE.map(str::to_owned).to_vec(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPlacement {
    after: Option<Vec<String>>,
    before: Option<Vec<String>>,
}

impl RawPlacement {
    /// A list given replaces its default. A list left out keeps its default less the types the
    /// other list names, so `after: [..., lua]` alone moves Lua without restating `before`.
    pub(super) fn validate(self) -> Result<PlacementConfig, ConfigError> {
        let RawPlacement { after, before } = self;
        let after = after.map(|list| types(AFTER, list)).transpose()?;
        let before = before.map(|list| types(BEFORE, list)).transpose()?;
        if let Some(i) = after.iter().flatten().position(|t| t == ROUTER) {
            return Err(entry(
                AFTER,
                i,
                "\"router\" is terminal: Envoy runs nothing after it".to_owned(),
            ));
        }
        if let (Some(after), Some(before)) = (&after, &before)
            && let Some((i, t)) = before.iter().enumerate().find(|(_, t)| after.contains(t))
        {
            return Err(entry(BEFORE, i, format!("{t:?} is also in {AFTER}")));
        }
        let after = after.unwrap_or_else(|| defaults(&DEFAULT_AFTER, before.as_deref()));
        let mut before = before.unwrap_or_else(|| defaults(&DEFAULT_BEFORE, Some(&after)));
        if !before.iter().any(|t| t == ROUTER) {
            before.push(ROUTER.to_owned());
        }
        Ok(PlacementConfig { after, before })
    }
}

/// A default list without the types the other, given list claims.
fn defaults(list: &[&str], claimed: Option<&[String]>) -> Vec<String> {
    let claimed = claimed.unwrap_or_default();
    list.iter()
        .filter(|t| !claimed.iter().any(|c| c == *t))
        .map(|t| (*t).to_owned())
        .collect()
}

/// Normalises and checks one list.
fn types(key: &'static str, list: Vec<String>) -> Result<Vec<String>, ConfigError> {
    let mut types: Vec<String> = Vec::with_capacity(list.len());
    for (i, given) in list.iter().enumerate() {
        let t = given
            .strip_prefix(names::HTTP_FILTER_PREFIX)
            .unwrap_or(given);
        if t.is_empty() {
            return Err(entry(key, i, "must name a filter type".to_owned()));
        }
        if !t
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(entry(
                key,
                i,
                format!(
                    "{given:?}: a filter type is letters, digits, '_' and '-', the <type> of \
                     {}<type>",
                    names::HTTP_FILTER_PREFIX
                ),
            ));
        }
        if let Some(first) = types.iter().position(|seen| seen == t) {
            return Err(entry(key, i, format!("{t:?} is already at {key}[{first}]")));
        }
        types.push(t.to_owned());
    }
    Ok(types)
}

fn entry(key: &'static str, index: usize, message: String) -> ConfigError {
    ConfigError::InvalidEntry {
        key,
        index,
        message,
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn placement(yaml: &str) -> super::PlacementConfig {
        Config::from_yaml(&format!("extProc:\n  placement:\n{yaml}"))
            .unwrap()
            .ext_proc
            .placement
    }

    fn error(yaml: &str) -> String {
        Config::from_yaml(&format!("extProc:\n  placement:\n{yaml}"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_put_buffer_after_and_lua_before() {
        let p = Config::default().ext_proc.placement;
        assert_eq!(p.after.last().map(String::as_str), Some("buffer"));
        assert_eq!(p.before.first().map(String::as_str), Some("lua"));
        assert_eq!(p.before.last().map(String::as_str), Some("router"));
        assert_eq!(placement("    {}\n"), p);
    }

    #[test]
    fn given_lists_replace_the_defaults_and_full_names_are_normalised() {
        let p = placement(
            "    after: [jwt_authn, envoy.filters.http.buffer, my_auth]\n    before: [envoy.filters.http.lua, router]\n",
        );
        assert_eq!(p.after, ["jwt_authn", "buffer", "my_auth"]);
        assert_eq!(p.before, ["lua", "router"]);
    }

    #[test]
    fn the_router_is_always_before() {
        assert_eq!(placement("    before: [lua]\n").before, ["lua", "router"]);
        assert_eq!(placement("    before: []\n").before, ["router"]);
    }

    #[test]
    fn a_list_left_out_gives_up_what_the_other_claims() {
        let p = placement("    after: [jwt_authn, buffer, lua]\n");
        assert_eq!(p.before.first().map(String::as_str), Some("ext_proc"));
        let p = placement("    before: [buffer, router]\n");
        assert!(p.after.iter().any(|t| t == "jwt_authn"));
        assert!(!p.after.iter().any(|t| t == "buffer"));
    }

    #[test]
    fn bad_entries_are_refused_with_their_key() {
        let cases = [
            (
                "    after: [jwt_authn, buffer, \"\"]\n",
                "extProc.placement.after[2]: must name",
            ),
            (
                "    before: [envoy.filters.http.]\n",
                "extProc.placement.before[0]: must name",
            ),
            (
                "    after: [ext_authz/securitypolicy]\n",
                "extProc.placement.after[0]: \"ext_authz/securitypolicy\": a filter type",
            ),
            (
                "    before: [lua, compressor.gzip]\n",
                "extProc.placement.before[1]: \"compressor.gzip\": a filter type",
            ),
            (
                "    after: [buffer, envoy.filters.http.buffer]\n",
                "extProc.placement.after[1]: \"buffer\" is already at extProc.placement.after[0]",
            ),
            (
                "    after: [buffer, lua]\n    before: [router, envoy.filters.http.lua]\n",
                "extProc.placement.before[1]: \"lua\" is also in extProc.placement.after",
            ),
            (
                "    after: [jwt_authn, router]\n",
                "extProc.placement.after[1]: \"router\" is terminal",
            ),
        ];
        for (yaml, expected) in cases {
            let e = error(yaml);
            assert!(e.starts_with(expected), "{yaml:?} gave {e}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = error("    first: [lua]\n");
        assert!(e.contains("first"), "{e}");
    }
}
