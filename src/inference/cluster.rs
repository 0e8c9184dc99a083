//! `PostClusterModify` for a pool's cluster: hand endpoint choice to the picker.
//!
//! EG builds a custom backend's cluster as EDS with no endpoints. The picker names the pod for
//! each request in the `x-gateway-destination-endpoint` header, which an `ORIGINAL_DST`
//! cluster reads (`original_dst_lb_config.use_http_header`) to connect straight to it. Envoy
//! accepts `ORIGINAL_DST` only with `lb_policy: CLUSTER_PROVIDED` and without endpoints, so
//! what contradicts that goes: the discovery type, EDS config, `load_assignment`,
//! `load_balancing_policy` and any other `lb_config`. Every other record (connect timeout,
//! circuit breakers, TLS, EG's metadata, fields newer than our Envoy API) is copied as it
//! came, and the pool is recorded in the metadata for `PostTranslateModify`.

use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    DiscoveryType, LbPolicy, OriginalDstLbConfig,
};
use prost::Message;

use super::pool::Pool;
use super::{DESTINATION_HEADER, metadata};
use crate::wire::{self, WireError};
use crate::xds::ClusterView;

/// Records replaced or dropped: the discovery type oneof (`type`, `cluster_type`), EDS config,
/// `lb_policy`, `load_assignment`, `load_balancing_policy`, and the `lb_config` oneof
/// (`ring_hash`, `original_dst`, `least_request`, `maglev`, `round_robin`).
const REPLACED: [u32; 11] = [
    ClusterView::TYPE,
    ClusterView::CLUSTER_TYPE,
    ClusterView::EDS_CLUSTER_CONFIG,
    ClusterView::LB_POLICY,
    ClusterView::LOAD_ASSIGNMENT,
    ClusterView::LOAD_BALANCING_POLICY,
    ClusterView::RING_HASH_LB_CONFIG,
    ClusterView::ORIGINAL_DST_LB_CONFIG,
    ClusterView::LEAST_REQUEST_LB_CONFIG,
    ClusterView::MAGLEV_LB_CONFIG,
    ClusterView::ROUND_ROBIN_LB_CONFIG,
];

/// The cluster of `pool`'s rule, made `ORIGINAL_DST` on the picker's header. A cluster that
/// already is comes back byte for byte: the replaced records are appended at the end in a
/// fixed order, and the pool record is only written when it differs.
pub(crate) fn original_dst(cluster: &[u8], pool: &Pool) -> Result<Vec<u8>, WireError> {
    let mut kept = Vec::with_capacity(cluster.len() + 64);
    for field in wire::fields(cluster) {
        let field = field?;
        if !REPLACED.contains(&field.number) {
            kept.extend_from_slice(field.record);
        }
    }
    let mut out = match metadata::record(&kept, ClusterView::METADATA, pool)? {
        Some(recorded) => recorded,
        None => kept,
    };
    wire::put_varint(
        &mut out,
        ClusterView::TYPE,
        enum_value(DiscoveryType::OriginalDst as i32),
    );
    wire::put_varint(
        &mut out,
        ClusterView::LB_POLICY,
        enum_value(LbPolicy::ClusterProvided as i32),
    );
    let lb_config = OriginalDstLbConfig {
        use_http_header: true,
        http_header_name: DESTINATION_HEADER.to_owned(),
        ..Default::default()
    };
    wire::put_len(
        &mut out,
        ClusterView::ORIGINAL_DST_LB_CONFIG,
        &lb_config.encode_to_vec(),
    );
    Ok(out)
}

fn enum_value(value: i32) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use envoy_types::pb::envoy::config::cluster::v3::Cluster;
    use envoy_types::pb::envoy::config::cluster::v3::cluster::ClusterDiscoveryType;

    use super::*;
    use crate::inference::metadata::tests::pool;

    fn eg_cluster() -> Vec<u8> {
        let json = serde_json::json!({
            "name": "httproute/team-a/llm/rule/0",
            "type": "EDS",
            "connectTimeout": "10s",
            "edsClusterConfig": {"edsConfig": {"ads": {}, "resourceApiVersion": "V3"},
                "serviceName": "httproute/team-a/llm/rule/0"},
            "loadBalancingPolicy": {"policies": [{"typedExtensionConfig": {
                "name": "envoy.load_balancing_policies.least_request",
                "typedConfig": {"@type": "type.googleapis.com/envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest"}}}]},
            "circuitBreakers": {"thresholds": [{"maxRetries": 1024}]},
            "perConnectionBufferLimitBytes": 32768,
            "metadata": {"filterMetadata": {"envoy-gateway": {"resources": [
                {"kind": "HTTPRoute", "name": "llm", "namespace": "team-a"}]}}}
        });
        crate::format::text_to_binary(&json, "envoy.config.cluster.v3.Cluster", "test").unwrap()
    }

    #[test]
    fn becomes_original_dst_keeping_the_rest() {
        let mut input = eg_cluster();
        // A field newer than our Envoy API survives.
        let mut unknown = Vec::new();
        wire::put_len(&mut unknown, 9002, b"from-a-newer-envoy-api");
        input.extend_from_slice(&unknown);
        let out = original_dst(&input, &pool()).unwrap();
        let before = Cluster::decode(input.as_slice()).unwrap();
        let after = Cluster::decode(out.as_slice()).unwrap();
        assert_eq!(
            after.cluster_discovery_type,
            Some(ClusterDiscoveryType::Type(
                DiscoveryType::OriginalDst.into()
            ))
        );
        assert_eq!(after.lb_policy(), LbPolicy::ClusterProvided);
        assert_eq!(after.eds_cluster_config, None);
        assert_eq!(after.load_balancing_policy, None);
        assert_eq!(after.connect_timeout, before.connect_timeout);
        assert_eq!(after.circuit_breakers, before.circuit_breakers);
        assert_eq!(
            after.per_connection_buffer_limit_bytes,
            before.per_connection_buffer_limit_bytes
        );
        let metadata = after.metadata.unwrap().filter_metadata;
        assert!(metadata.contains_key("envoy-gateway"));
        assert!(metadata.contains_key(metadata::NAMESPACE));
        assert_eq!(
            metadata::read_field(&out, ClusterView::METADATA).unwrap(),
            Some(pool())
        );
        assert!(wire::fields(&out).any(|f| f.is_ok_and(|f| f.record == unknown)));
        assert_eq!(original_dst(&out, &pool()).unwrap(), out, "idempotent");
    }
}
