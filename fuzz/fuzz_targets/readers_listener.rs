//! Differential: the index's fast Listener reader against its exact, decoding path, on any
//! bytes (`xds_hook::fuzzing::readers_agree`). Where the fast reader answers, the answers must be
//! equal to the byte; a disagreement is a crash.

#![no_main]

use libfuzzer_sys::fuzz_target;
use xds_hook::fuzzing::{Pair, readers_agree};

fuzz_target!(|data: &[u8]| {
    let bytes = bytes::Bytes::copy_from_slice(data);
    if let Err(disagreement) = readers_agree(Pair::Listener, &bytes) {
        panic!("{disagreement}");
    }
});
