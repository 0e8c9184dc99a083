//! Admission and size limits, and the one place their failures become gRPC statuses.
//!
//! A fleet's `PostTranslateModify` request can be hundreds of MiB, and the hook holds it and
//! its response while it works, so calls beyond `server.maxConcurrentCalls` are refused at once
//! with `RESOURCE_EXHAUSTED` (before their body is read) rather than queued until the process
//! runs out of memory. The permit travels with the call into the blocking hook task and the
//! response body, so it is released only when the memory is.
//!
//! Message size is enforced by tonic while it reads the gRPC frame header (before buffering),
//! but tonic reports it as `OUT_OF_RANGE`; gRPC's own servers say `RESOURCE_EXHAUSTED`, and so
//! does EG's client-side limit. [`Limits::remap`] rewrites it, naming the configuration key.

use std::sync::Arc;

use http::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Code, Status};

/// The gRPC path of the one expensive method.
pub const POST_TRANSLATE_MODIFY_PATH: &str =
    "/envoygateway.extension.EnvoyGatewayExtension/PostTranslateModify";

/// The server's limits.
#[derive(Debug)]
pub struct Limits {
    permits: Arc<Semaphore>,
    max_concurrent_calls: usize,
    max_message_bytes: usize,
}

/// Held by one admitted `PostTranslateModify` call until its memory is released; cloned into
/// the request extensions (for the hook task) and the response body.
#[derive(Debug, Clone)]
pub struct CallPermit {
    _held: Arc<OwnedSemaphorePermit>,
}

impl Limits {
    /// Limits for `max_concurrent_calls` calls of at most `max_message_bytes` each.
    pub fn new(max_concurrent_calls: usize, max_message_bytes: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent_calls)),
            max_concurrent_calls,
            max_message_bytes,
        }
    }

    /// Admits a call to `path`: `Ok(None)` for cheap methods, `Ok(Some(permit))` for an admitted
    /// `PostTranslateModify`, `Err(RESOURCE_EXHAUSTED)` when all permits are taken.
    pub fn admit(&self, path: &str) -> Result<Option<CallPermit>, Status> {
        if path != POST_TRANSLATE_MODIFY_PATH {
            return Ok(None);
        }
        match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => Ok(Some(CallPermit {
                _held: Arc::new(permit),
            })),
            Err(_) => Err(Status::resource_exhausted(format!(
                "{} PostTranslateModify calls already in progress (server.maxConcurrentCalls); \
                 retry later",
                self.max_concurrent_calls
            ))),
        }
    }

    /// Rewrites tonic's message-size `OUT_OF_RANGE` in a header or trailer map into
    /// `RESOURCE_EXHAUSTED` naming `server.maxMessageBytes`. Returns the status code the map
    /// carries afterwards, if it carries one.
    pub fn remap(&self, map: &mut HeaderMap) -> Option<Code> {
        let status = Status::from_header_map(map)?;
        if status.code() != Code::OutOfRange || !status.message().contains("length too large") {
            return Some(status.code());
        }
        let direction = if status.message().contains("decoded") {
            "request"
        } else {
            "response"
        };
        let remapped = Status::resource_exhausted(format!(
            "{direction} message is larger than server.maxMessageBytes ({} bytes): {}",
            self.max_message_bytes,
            status.message()
        ));
        match remapped.add_header(map) {
            Ok(()) => Some(Code::ResourceExhausted),
            Err(_) => Some(status.code()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excess_calls_are_refused_until_a_permit_is_released() {
        let limits = Limits::new(1, 10);
        assert!(
            limits
                .admit("/grpc.health.v1.Health/Check")
                .unwrap()
                .is_none()
        );
        let first = limits.admit(POST_TRANSLATE_MODIFY_PATH).unwrap().unwrap();
        let copy = first.clone();
        let refused = limits.admit(POST_TRANSLATE_MODIFY_PATH).unwrap_err();
        assert_eq!(refused.code(), Code::ResourceExhausted);
        assert!(refused.message().contains("server.maxConcurrentCalls"));
        drop(first);
        assert!(
            limits.admit(POST_TRANSLATE_MODIFY_PATH).is_err(),
            "a clone still holds it"
        );
        drop(copy);
        assert!(limits.admit(POST_TRANSLATE_MODIFY_PATH).unwrap().is_some());
    }

    #[test]
    fn size_out_of_range_becomes_resource_exhausted_naming_the_limit() {
        let limits = Limits::new(1, 65536);
        let mut map = HeaderMap::new();
        Status::out_of_range(
            "Error, decoded message length too large: found 70000 bytes, the limit is: 65536 bytes",
        )
        .add_header(&mut map)
        .unwrap();
        assert_eq!(limits.remap(&mut map), Some(Code::ResourceExhausted));
        let status = Status::from_header_map(&map).unwrap();
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert!(
            status
                .message()
                .starts_with("request message is larger than server.maxMessageBytes (65536 bytes)"),
            "{}",
            status.message()
        );

        let mut other = HeaderMap::new();
        Status::out_of_range("index 3")
            .add_header(&mut other)
            .unwrap();
        assert_eq!(limits.remap(&mut other), Some(Code::OutOfRange));
        assert_eq!(limits.remap(&mut HeaderMap::new()), None);
    }
}
