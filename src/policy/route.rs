//! `PostRouteModify`: a team opts its HTTPRoute in or out by policy, without annotations.
//!
//! EG v1.9+ calls the hook for each xDS route built from an HTTPRoute (or GRPCRoute) that a
//! policy targets, with those policies in `post_route_context.extension_policies`: the ones
//! targeting one of its rules first, then those targeting the whole route, each group oldest
//! first. The first of ours that EG accepted and that takes a side decides: `routes: All` opts
//! the route in, `routes: None` opts it out, `routes: Annotation` leaves it to the annotation
//! (the next policy may still decide). An invalid one decides too: the route stays
//! unprocessed, with the error. The choice is recorded on the route ([`super::choice`]) for
//! `PostTranslateModify`; only `routes` counts on a route, the processor is its Gateway's.
//!
//! Routes without such policies come back as they came, and so does everything on any
//! failure: EG takes the returned route as final.

use bytes::Bytes;

use super::choice::RouteChoice;
use super::object::Delivered;
use super::spec::Routes;
use crate::contract::ExtensionResource;
use crate::xds::RouteView;

/// The route with the choice of `policies` (a decoded context's `extension_policies`)
/// recorded on it; as it came when none takes a side or the record cannot be written.
pub(crate) fn record(route: Option<Bytes>, policies: &[ExtensionResource]) -> Option<Bytes> {
    let Some(bytes) = route.as_ref().filter(|_| !policies.is_empty()) else {
        return route;
    };
    let name = route_name(bytes);
    let Some(choice) = decide(policies, &name) else {
        return route;
    };
    tracing::debug!(route = %name, ?choice, "PostRouteModify");
    match choice.record(bytes) {
        Ok(Some(recorded)) => Some(recorded.into()),
        Ok(None) => route,
        Err(e) => {
            tracing::warn!(route = %name, error = %e, "PostRouteModify: cannot record the policy's choice; route left as is");
            route
        }
    }
}

/// The choice the route's policies make, if one takes a side.
pub(crate) fn decide(policies: &[ExtensionResource], route: &str) -> Option<RouteChoice> {
    for (i, resource) in policies.iter().enumerate() {
        let policy = match Delivered::read(&resource.unstructured_bytes) {
            Delivered::Policy(policy) => policy,
            Delivered::Foreign { api_version, kind } => {
                tracing::debug!(route, %api_version, %kind, "extension_policies[{i}]: not a ProcessorPolicy, ignored");
                continue;
            }
            Delivered::Unreadable(e) => {
                tracing::warn!(route, error = %e, "extension_policies[{i}]: unreadable, ignored");
                continue;
            }
        };
        if !policy.counts_anywhere() {
            tracing::debug!(route, policy = %policy.id, "ProcessorPolicy not accepted by EG, ignored");
            continue;
        }
        let id = policy.id.to_string();
        match &policy.spec {
            Err(error) => {
                tracing::warn!(route, policy = %id, %error, "invalid ProcessorPolicy: route left unprocessed");
                return Some(RouteChoice::Invalid {
                    policy: id,
                    error: error.to_string(),
                });
            }
            Ok(spec) => match spec.routes {
                Routes::Annotation => {}
                Routes::All => return Some(RouteChoice::In { policy: id }),
                Routes::None => return Some(RouteChoice::Out { policy: id }),
            },
        }
    }
    None
}

/// The route's name, for logs.
fn route_name(route: &[u8]) -> String {
    let name = crate::wire::first_len(route, RouteView::NAME).unwrap_or_default();
    String::from_utf8_lossy(name).into_owned()
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::contract::{
        PostRouteExtensionContext, PostRouteModifyRequest, PostRouteModifyResponse,
    };

    fn resource(json: &str) -> ExtensionResource {
        ExtensionResource {
            unstructured_bytes: Bytes::copy_from_slice(json.as_bytes()),
        }
    }

    fn policy(name: &str, spec: &str, accepted: &str) -> ExtensionResource {
        resource(&format!(
            r#"{{"apiVersion":"policy.xds-hook.dev/v1alpha1","kind":"ProcessorPolicy","metadata":{{"name":"{name}","namespace":"team-a"}},"spec":{{"targetRefs":[{{"group":"gateway.networking.k8s.io","kind":"HTTPRoute","name":"chat"}}]{spec}}},"status":{{"ancestors":[{{"ancestorRef":{{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"ai","namespace":"team-a","sectionName":"http"}},"conditions":[{{"lastTransitionTime":null,"message":"m","reason":"r","status":"{accepted}","type":"Accepted"}}],"controllerName":"gateway.envoyproxy.io/gatewayclass-controller"}}]}}}}"#
        ))
    }

    fn request(policies: Vec<ExtensionResource>) -> PostRouteModifyRequest {
        let mut route = Vec::new();
        crate::wire::put_len(&mut route, RouteView::NAME, b"httproute/team-a/chat/rule/0");
        let context = PostRouteExtensionContext {
            extension_resources: Vec::new(),
            hostnames: vec!["*".to_owned()],
            extension_policies: policies,
        };
        PostRouteModifyRequest {
            route: Some(route.into()),
            post_route_context: Some(context.encode_to_vec().into()),
        }
    }

    #[test]
    fn the_first_accepted_policy_that_takes_a_side_decides() {
        let policies = vec![
            resource(r#"{"apiVersion":"foo.example.io/v1","kind":"Bar"}"#),
            policy("deferring", "", "True"),
            policy("rejected", r#","routes":"None""#, "False"),
            policy("in", r#","routes":"All""#, "True"),
            policy("out", r#","routes":"None""#, "True"),
        ];
        assert_eq!(
            decide(&policies, "r"),
            Some(RouteChoice::In {
                policy: "team-a/in".to_owned()
            })
        );
        let invalid = vec![policy("bad", r#","routes":"Some""#, "True")];
        assert!(matches!(
            decide(&invalid, "r"),
            Some(RouteChoice::Invalid { policy, .. }) if policy == "team-a/bad"
        ));
        assert_eq!(decide(&[policy("deferring", "", "True")], "r"), None);
    }

    /// The route as `PostRouteModify` returns it (the hook decodes the context once for the
    /// pools and the policies).
    fn post_route_modify(request: PostRouteModifyRequest) -> PostRouteModifyResponse {
        crate::Hook::new(crate::Config::default())
            .post_route_modify(request)
            .expect("no pool in the context")
            .response
    }

    #[test]
    fn the_route_carries_the_choice_and_is_echoed_without_one() {
        let plain = request(vec![policy("deferring", "", "True")]);
        let echoed = post_route_modify(plain.clone());
        assert_eq!(echoed.route, plain.route);

        let opted_out = request(vec![policy("out", r#","routes":"None""#, "True")]);
        let answer = post_route_modify(opted_out.clone()).route.unwrap();
        assert_ne!(Some(&answer), opted_out.route.as_ref());
        let again = post_route_modify(PostRouteModifyRequest {
            route: Some(answer.clone()),
            ..opted_out
        });
        assert_eq!(again.route, Some(answer), "recorded twice");
    }
}
