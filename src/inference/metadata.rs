//! The pool a route or cluster serves, recorded in its metadata by the Route and Cluster hooks
//! and read back by `PostTranslateModify`, which has no Kubernetes client and no context to
//! learn it from otherwise.
//!
//! `filter_metadata["xds-hook.inference"]` holds one string per fact, so nothing is ever
//! parsed out of a composite string:
//!
//! ```yaml
//! xds-hook.inference:
//!   pool_namespace: team-a
//!   pool_name: vllm
//!   endpoint_picker: vllm-epp        # the picker's Service, in the pool's namespace
//!   endpoint_picker_port: "9002"
//!   failure_mode: FailClose          # or FailOpen
//!   body_mode: FULL_DUPLEX_STREAMED  # or BUFFERED
//! ```
//!
//! The namespace is the hook's own, so nothing else writes or reads these keys, and its name
//! is what `PostTranslateModify` byte-searches for to skip everything without a pool unread.

use prost::Message;
use prost_types::value::Kind;

use super::pool::{BodyMode, EndpointPicker, FailureMode, Pool, PoolKey};
use crate::mutate::metadata::{self, Entries};
use crate::wire::{self, WireError};
use crate::xds::MetadataView;

/// The `filter_metadata` namespace of the pool record.
pub(crate) const NAMESPACE: &str = "xds-hook.inference";
const POOL_NAMESPACE: &str = "pool_namespace";
const POOL_NAME: &str = "pool_name";
const ENDPOINT_PICKER: &str = "endpoint_picker";
const ENDPOINT_PICKER_PORT: &str = "endpoint_picker_port";
const FAILURE_MODE: &str = "failure_mode";
const BODY_MODE: &str = "body_mode";

/// A pool record that cannot be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter_metadata[{NAMESPACE:?}]: {0}")]
pub struct InvalidRecord(pub String);

/// Records `pool` in the `Metadata` field `field` of `message`; `None` when it already is.
pub(crate) fn record(
    message: &[u8],
    field: u32,
    pool: &Pool,
) -> Result<Option<Vec<u8>>, WireError> {
    let port = pool.picker.port.to_string();
    let values = [
        (POOL_NAMESPACE, pool.key.namespace.as_str()),
        (POOL_NAME, pool.key.name.as_str()),
        (ENDPOINT_PICKER, pool.picker.service.as_str()),
        (ENDPOINT_PICKER_PORT, port.as_str()),
        (FAILURE_MODE, pool.picker.failure_mode.as_str()),
        (BODY_MODE, pool.body_mode.as_str()),
    ];
    let entries = Entries {
        namespace: NAMESPACE,
        values: &values,
    };
    metadata::set_in(message, field, entries)
}

/// The pool recorded in the `Metadata` field `field` of `message`, if any.
pub(crate) fn read_field(message: &[u8], field: u32) -> Result<Option<Pool>, InvalidRecord> {
    // Split records of a message field merge; reading their concatenation reads the merge.
    let mut merged = Vec::new();
    for record in wire::len_payloads(message, field) {
        let record = record.map_err(|e| InvalidRecord(e.to_string()))?;
        merged.extend_from_slice(record);
    }
    read(&merged)
}

/// The pool recorded in an encoded `Metadata`, if any.
pub(crate) fn read(metadata: &[u8]) -> Result<Option<Pool>, InvalidRecord> {
    let view =
        MetadataView::decode(metadata).map_err(|e| InvalidRecord(format!("not metadata: {e}")))?;
    let Some(fields) = view.filter_metadata.get(NAMESPACE).map(|s| &s.fields) else {
        return Ok(None);
    };
    let text = |key: &str| match fields.get(key).and_then(|v| v.kind.as_ref()) {
        Some(Kind::StringValue(s)) => Ok(s.as_str()),
        _ => Err(InvalidRecord(format!("{key} is missing or not a string"))),
    };
    let port = text(ENDPOINT_PICKER_PORT)?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| InvalidRecord(format!("{ENDPOINT_PICKER_PORT}: {port:?} is not a port")))?;
    let failure_mode = FailureMode::parse(text(FAILURE_MODE)?)
        .ok_or_else(|| InvalidRecord(format!("{FAILURE_MODE}: unknown mode")))?;
    let body_mode = BodyMode::parse(text(BODY_MODE)?)
        .ok_or_else(|| InvalidRecord(format!("{BODY_MODE}: unknown mode")))?;
    let pool = Pool {
        key: PoolKey {
            namespace: text(POOL_NAMESPACE)?.to_owned(),
            name: text(POOL_NAME)?.to_owned(),
        },
        picker: EndpointPicker {
            service: text(ENDPOINT_PICKER)?.to_owned(),
            port,
            failure_mode,
        },
        body_mode,
    };
    // The record becomes DNS and filter names: hold it to what the pool object was held to.
    let labels = [&pool.key.namespace, &pool.key.name, &pool.picker.service];
    if let Some(bad) = labels.iter().find(|l| !crate::config::is_dns_label(l)) {
        return Err(InvalidRecord(format!("{bad:?} is not a DNS label")));
    }
    Ok(Some(pool))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::xds::RouteView as route;

    pub(crate) fn pool() -> Pool {
        Pool {
            key: PoolKey {
                namespace: "team-a".into(),
                name: "vllm".into(),
            },
            picker: EndpointPicker {
                service: "vllm-epp".into(),
                port: 9002,
                failure_mode: FailureMode::FailOpen,
            },
            body_mode: BodyMode::Buffered,
        }
    }

    #[test]
    fn a_record_reads_back_and_is_written_once() {
        let mut route_bytes = Vec::new();
        wire::put_len(&mut route_bytes, 14, b"route-name");
        let recorded = record(&route_bytes, route::METADATA, &pool())
            .unwrap()
            .unwrap();
        assert_eq!(
            read_field(&recorded, route::METADATA).unwrap(),
            Some(pool())
        );
        assert_eq!(record(&recorded, route::METADATA, &pool()).unwrap(), None);
        assert_eq!(read_field(&route_bytes, route::METADATA).unwrap(), None);
    }

    #[test]
    fn a_damaged_record_says_what_is_wrong() {
        let mut damaged = pool();
        damaged.key.name = "Not A Label".into();
        let recorded = record(&[], route::METADATA, &damaged).unwrap().unwrap();
        let e = read_field(&recorded, route::METADATA).unwrap_err();
        assert_eq!(
            e.to_string(),
            "filter_metadata[\"xds-hook.inference\"]: \"Not A Label\" is not a DNS label"
        );
    }
}
