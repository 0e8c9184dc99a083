//! Request bytes → `PostTranslateModifyRequest` → the hook, as the gRPC server runs it.
//!
//! Bytes that do not decode are what the codec answers with INVALID_ARGUMENT; bytes that do
//! are run through every fuzz hook, and the response must hold every input resource, in order,
//! with the unpatched ones byte-identical.

#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use prost::Message;
use xds_hook::contract::PostTranslateModifyRequest;

fuzz_target!(|data: &[u8]| {
    // The server decodes from a Bytes buffer, so resources are slices of it: do the same.
    let Ok(request) = PostTranslateModifyRequest::decode(Bytes::copy_from_slice(data)) else {
        return;
    };
    for hook in xds_hook_fuzz::hooks() {
        xds_hook_fuzz::run_checked(hook, &request);
    }
});
