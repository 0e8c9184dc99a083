//! `PostRouteModify` for a route to a pool: record the pool, and keep the request's Host.
//!
//! The pool goes into the route's metadata, where `PostTranslateModify` finds it (the Route
//! hook knows the pool; the Translation hook only sees xDS). The route's action gets
//! `auto_host_rewrite: false`, as the AI Gateway and EG's example extension set it: with an
//! `ORIGINAL_DST` cluster the upstream host is the pod the picker chose, whose address is no
//! Host a model server expects. An explicit rewrite the HTTPRoute asked for (a literal, a
//! header, a path regex) is left as it is. A route without a forwarding action (a redirect, a
//! direct response) sends nothing to the pool and comes back unchanged.

use envoy_types::pb::google::protobuf::BoolValue;
use prost::Message;

use super::metadata;
use super::pool::Pool;
use crate::wire::{self, Payload, WireError};
use crate::xds::{RouteActionView, RouteView};

/// The route with `pool` recorded; `Ok(None)` when it has no forwarding action. A route
/// already recorded comes back byte for byte.
pub(crate) fn record_pool(route: &[u8], pool: &Pool) -> Result<Option<Vec<u8>>, WireError> {
    let Some(action) = wire::single_len(route, RouteView::ROUTE)? else {
        return Ok(None);
    };
    let with_host = if keeps_host(action)? {
        None
    } else {
        let splice = wire::splice_single(route, RouteView::ROUTE, |action| {
            no_auto_host_rewrite(action).map(Payload::from)
        })?;
        Some(splice.to_vec())
    };
    let base = with_host.as_deref().unwrap_or(route);
    let recorded = metadata::record(base, RouteView::METADATA, pool)?;
    Ok(Some(
        recorded.or(with_host).unwrap_or_else(|| route.to_vec()),
    ))
}

/// Whether the action already keeps the Host: an explicit rewrite, or exactly one
/// `auto_host_rewrite` that reads false.
fn keeps_host(action: &[u8]) -> Result<bool, WireError> {
    let mut autos = Vec::new();
    for field in wire::fields(action) {
        let field = field?;
        if RouteActionView::EXPLICIT_HOST_REWRITES.contains(&field.number) {
            return Ok(true);
        }
        if field.number == RouteActionView::AUTO_HOST_REWRITE {
            autos.push(field.payload);
        }
    }
    Ok(match autos.as_slice() {
        [only] => BoolValue::decode(*only).is_ok_and(|b| !b.value),
        _ => false,
    })
}

/// The action with every `auto_host_rewrite` record replaced by one that reads false.
fn no_auto_host_rewrite(action: &[u8]) -> Result<Vec<u8>, WireError> {
    let mut out = Vec::with_capacity(action.len() + 2);
    for field in wire::fields(action) {
        let field = field?;
        if field.number != RouteActionView::AUTO_HOST_REWRITE {
            out.extend_from_slice(field.record);
        }
    }
    wire::put_len(
        &mut out,
        RouteActionView::AUTO_HOST_REWRITE,
        &BoolValue { value: false }.encode_to_vec(),
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::route::v3::{Route, route, route_action};

    use super::*;
    use crate::inference::metadata::tests::pool;

    fn eg_route(extra: serde_json::Value) -> Vec<u8> {
        let mut json = serde_json::json!({
            "name": "httproute/team-a/llm/rule/0/match/0/*",
            "match": {"prefix": "/"},
            "route": {"cluster": "httproute/team-a/llm/rule/0",
                "upgradeConfigs": [{"upgradeType": "websocket"}]},
            "metadata": {"filterMetadata": {"envoy-gateway": {"resources": [
                {"kind": "HTTPRoute", "name": "llm", "namespace": "team-a"}]}}}
        });
        if let (Some(action), Some(extra)) = (json["route"].as_object_mut(), extra.as_object()) {
            action.extend(extra.clone());
        }
        crate::format::text_to_binary(&json, "envoy.config.route.v3.Route", "test").unwrap()
    }

    fn host_rewrite(bytes: &[u8]) -> Option<route_action::HostRewriteSpecifier> {
        match Route::decode(bytes).unwrap().action {
            Some(route::Action::Route(action)) => action.host_rewrite_specifier,
            _ => None,
        }
    }

    #[test]
    fn records_the_pool_and_turns_auto_host_rewrite_off() {
        for extra in [
            serde_json::json!({}),
            serde_json::json!({"autoHostRewrite": true}),
        ] {
            let mut input = eg_route(extra);
            // A field newer than our Envoy API survives, at the route and in its action.
            let mut unknown = Vec::new();
            wire::put_len(&mut unknown, 9002, b"from-a-newer-envoy-api");
            input.extend_from_slice(&unknown);
            let input = wire::rewrite_single::<WireError>(&input, RouteView::ROUTE, |action| {
                Ok([action, unknown.as_slice()].concat())
            })
            .unwrap();
            let out = record_pool(&input, &pool()).unwrap().unwrap();
            let action = wire::single_len(&out, RouteView::ROUTE).unwrap().unwrap();
            for message in [out.as_slice(), action] {
                assert!(wire::fields(message).any(|f| f.is_ok_and(|f| f.record == unknown)));
            }
            assert_eq!(
                host_rewrite(&out),
                Some(route_action::HostRewriteSpecifier::AutoHostRewrite(
                    BoolValue { value: false }
                ))
            );
            assert_eq!(
                metadata::read_field(&out, RouteView::METADATA).unwrap(),
                Some(pool())
            );
            assert_eq!(record_pool(&out, &pool()).unwrap().unwrap(), out);
        }
    }

    #[test]
    fn an_explicit_host_rewrite_is_kept() {
        let input = eg_route(serde_json::json!({"hostRewriteLiteral": "models.internal"}));
        let out = record_pool(&input, &pool()).unwrap().unwrap();
        assert_eq!(
            host_rewrite(&out),
            Some(route_action::HostRewriteSpecifier::HostRewriteLiteral(
                "models.internal".into()
            ))
        );
    }

    #[test]
    fn a_route_without_an_action_is_not_touched() {
        let json = serde_json::json!({"name": "redirect", "match": {"prefix": "/"},
            "redirect": {"httpsRedirect": true}});
        let bytes =
            crate::format::text_to_binary(&json, "envoy.config.route.v3.Route", "t").unwrap();
        assert_eq!(record_pool(&bytes, &pool()).unwrap(), None);
    }
}
