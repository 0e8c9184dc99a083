//! The hook's output as an Envoy bootstrap, so a real Envoy can check it
//! (`envoy --mode validate -c bootstrap.yaml`).
//!
//! A response is a fleet's listeners, route configurations, clusters and secrets as EG serves
//! them over xDS; Envoy can only load them from a file as `static_resources`. Some things do not
//! carry over as they are, and are rewritten:
//!
//! - **RDS.** Every HTTP connection manager (a network filter whose `typedConfig` `@type` ends
//!   in `HttpConnectionManager`, in every filter chain and the default filter chain) that names
//!   its routes with `rds.routeConfigName` gets that route configuration inline as
//!   `routeConfig`, and loses `rds`. A name with no route configuration in the response is an
//!   error ([`RenderError::MissingRouteConfig`]): Envoy would wait for it forever.
//! - **EDS.** A cluster of `type: EDS` cannot be static (its endpoints come from a separate
//!   stream), so it becomes `STATIC` with an empty `loadAssignment` and no `edsClusterConfig`.
//!   Its other settings (TLS, health checks, circuit breakers, …) are still validated; only
//!   the endpoints are lost, which the response does not carry anyway.
//! - **Repeated secrets.** EG may list the same secret more than once (one per listener that
//!   uses it); over SDS that is one resource, but Envoy rejects duplicate static secret names.
//!   Byte-identical repeats are dropped; differing secrets under one name are kept, and Envoy
//!   reports them.
//!
//! Resources are rendered as canonical proto3 JSON (camelCase), which Envoy's bootstrap loader
//! accepts; the admin interface listens on `127.0.0.1:<admin_port>`.

use serde_json::{Map, Value, json};

use crate::contract::PostTranslateModifyResponse;
use crate::format::{self, Format, FormatError};

/// Message type of listeners.
const LISTENER: &str = "envoy.config.listener.v3.Listener";
/// Message type of route configurations.
const ROUTE_CONFIGURATION: &str = "envoy.config.route.v3.RouteConfiguration";
/// Message type of clusters.
const CLUSTER: &str = "envoy.config.cluster.v3.Cluster";
/// Message type of secrets.
const SECRET: &str = "envoy.extensions.transport_sockets.tls.v3.Secret";

/// Why a response cannot be rendered as a bootstrap.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A resource does not decode as its message type.
    #[error("{kind} #{index}: {source}")]
    Resource {
        /// `listener`, `route configuration`, `cluster` or `secret`.
        kind: &'static str,
        /// Position in its list.
        index: usize,
        /// Why.
        source: FormatError,
    },
    /// An HCM names a route configuration that is not in the response.
    #[error("listener {listener:?}: route configuration {route_config:?} is not in the response")]
    MissingRouteConfig {
        /// The listener holding the HCM.
        listener: String,
        /// The route configuration it names.
        route_config: String,
    },
    /// The bootstrap cannot be written in the requested format.
    #[error("bootstrap: {0}")]
    Encode(String),
}

/// Renders the response as an Envoy bootstrap with everything in `static_resources`, RDS
/// inlined and EDS clusters made static (see the module documentation for why).
pub fn bootstrap(
    response: &PostTranslateModifyResponse,
    admin_port: u16,
) -> Result<Value, RenderError> {
    let routes = convert_all(&response.routes, ROUTE_CONFIGURATION, "route configuration")?;
    let mut listeners = convert_all(&response.listeners, LISTENER, "listener")?;
    for listener in &mut listeners {
        inline_routes(listener, &routes)?;
    }
    let mut clusters = convert_all(&response.clusters, CLUSTER, "cluster")?;
    for cluster in &mut clusters {
        make_static(cluster);
    }
    let mut secrets: Vec<&bytes::Bytes> = Vec::new();
    for secret in &response.secrets {
        if !secrets.contains(&secret) {
            secrets.push(secret);
        }
    }
    let secrets = secrets
        .into_iter()
        .enumerate()
        .map(|(index, bytes)| {
            format::to_json(bytes, SECRET).map_err(|source| RenderError::Resource {
                kind: "secret",
                index,
                source,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "node": {"id": "xds-hook-render", "cluster": "xds-hook-render"},
        "admin": {
            "address": {"socketAddress": {"address": "127.0.0.1", "portValue": admin_port}}
        },
        "staticResources": {
            "listeners": listeners,
            "clusters": clusters,
            "secrets": secrets,
        },
    }))
}

/// Writes a bootstrap as JSON or YAML (the same YAML style as [`format`](mod@format) uses for responses).
/// A bootstrap has no protobuf form here: Envoy reads `-c` files as JSON or YAML.
pub fn encode(bootstrap: &Value, format: Format) -> Result<Vec<u8>, RenderError> {
    if format == Format::Protobuf {
        return Err(RenderError::Encode(
            "write the bootstrap as .yaml or .json".to_owned(),
        ));
    }
    format::encode_text(bootstrap, format, "bootstrap").map_err(|e| match e {
        FormatError::Text { message, .. } => RenderError::Encode(message),
        other => RenderError::Encode(other.to_string()),
    })
}

fn convert_all(
    list: &[bytes::Bytes],
    message: &str,
    kind: &'static str,
) -> Result<Vec<Value>, RenderError> {
    list.iter()
        .enumerate()
        .map(|(index, bytes)| {
            format::to_json(bytes, message).map_err(|source| RenderError::Resource {
                kind,
                index,
                source,
            })
        })
        .collect()
}

/// Replaces `rds` with the named route configuration in every HCM of the listener.
fn inline_routes(listener: &mut Value, routes: &[Value]) -> Result<(), RenderError> {
    let name = listener
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(chains) = listener
        .get_mut("filterChains")
        .and_then(Value::as_array_mut)
    {
        for chain in chains {
            inline_chain(chain, routes, &name)?;
        }
    }
    if let Some(chain) = listener.get_mut("defaultFilterChain") {
        inline_chain(chain, routes, &name)?;
    }
    Ok(())
}

fn inline_chain(chain: &mut Value, routes: &[Value], listener: &str) -> Result<(), RenderError> {
    let filters = chain
        .get_mut("filters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten();
    for filter in filters {
        let Some(config) = filter.get_mut("typedConfig").and_then(Value::as_object_mut) else {
            continue;
        };
        let is_hcm = config
            .get("@type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("HttpConnectionManager"));
        if is_hcm {
            inline_hcm(config, routes, listener)?;
        }
    }
    Ok(())
}

fn inline_hcm(
    hcm: &mut Map<String, Value>,
    routes: &[Value],
    listener: &str,
) -> Result<(), RenderError> {
    let Some(rds) = hcm.get("rds") else {
        return Ok(());
    };
    let wanted = rds
        .get("routeConfigName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let found = routes
        .iter()
        .find(|rc| rc.get("name").and_then(Value::as_str) == Some(wanted))
        .cloned()
        .ok_or_else(|| RenderError::MissingRouteConfig {
            listener: listener.to_owned(),
            route_config: wanted.to_owned(),
        })?;
    hcm.remove("rds");
    hcm.insert("routeConfig".to_owned(), found);
    Ok(())
}

/// Turns an EDS cluster into a static one without endpoints.
fn make_static(cluster: &mut Value) {
    let Some(cluster) = cluster.as_object_mut() else {
        return;
    };
    if cluster.get("type").and_then(Value::as_str) != Some("EDS") {
        return;
    }
    let name = cluster.get("name").cloned().unwrap_or(Value::Null);
    cluster.insert("type".to_owned(), json!("STATIC"));
    cluster.remove("edsClusterConfig");
    cluster.insert("loadAssignment".to_owned(), json!({"clusterName": name}));
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn encode_json(value: Value, message: &str) -> bytes::Bytes {
        format::text_to_binary(&value, message, "test")
            .unwrap()
            .into()
    }

    fn hcm(rds: &str) -> Value {
        json!({
            "name": "envoy.filters.network.http_connection_manager",
            "typedConfig": {
                "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                "statPrefix": "http",
                "rds": {"routeConfigName": rds, "configSource": {"ads": {}, "resourceApiVersion": "V3"}},
            }
        })
    }

    fn response(rds: &str) -> PostTranslateModifyResponse {
        PostTranslateModifyResponse {
            listeners: vec![encode_json(
                json!({
                    "name": "l",
                    "filterChains": [{"filters": [hcm(rds)]}],
                    "defaultFilterChain": {"filters": [hcm(rds)]},
                }),
                LISTENER,
            )],
            routes: vec![encode_json(json!({"name": "rc"}), ROUTE_CONFIGURATION)],
            clusters: vec![encode_json(
                json!({"name": "c", "type": "EDS", "edsClusterConfig": {"serviceName": "c"}}),
                CLUSTER,
            )],
            secrets: Vec::new(),
        }
    }

    #[test]
    fn inlines_routes_and_makes_eds_static() {
        let b = bootstrap(&response("rc"), 9901).unwrap();
        let listener = &b["staticResources"]["listeners"][0];
        for config in [
            &listener["filterChains"][0]["filters"][0]["typedConfig"],
            &listener["defaultFilterChain"]["filters"][0]["typedConfig"],
        ] {
            assert!(config.get("rds").is_none());
            assert_eq!(config["routeConfig"]["name"], "rc");
        }
        let cluster = &b["staticResources"]["clusters"][0];
        assert_eq!(cluster["type"], "STATIC");
        assert!(cluster.get("edsClusterConfig").is_none());
        assert_eq!(cluster["loadAssignment"], json!({"clusterName": "c"}));
        assert_eq!(b["admin"]["address"]["socketAddress"]["portValue"], 9901);
    }

    #[test]
    fn missing_route_config_names_listener_and_route_config() {
        let e = bootstrap(&response("nope"), 9901).unwrap_err().to_string();
        assert!(e.contains("\"l\"") && e.contains("\"nope\""), "{e}");
    }
}
