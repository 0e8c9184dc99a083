//! Configuration text → `Config`: any text is either a configuration or an error naming what
//! is wrong, never a panic or a stack overflow; and a configuration that validates builds a
//! hook that runs.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use xds_hook::contract::PostTranslateModifyRequest;
use xds_hook::{Config, Hook};

fn request() -> &'static PostTranslateModifyRequest {
    static REQUEST: OnceLock<PostTranslateModifyRequest> = OnceLock::new();
    REQUEST.get_or_init(|| {
        xds_hook_fuzz::golden(include_str!(
            "../../testdata/golden/gateway-opt-in-annotation/input.yaml"
        ))
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Config::from_yaml(text) {
        Ok(config) => {
            let hook = Hook::new(config);
            xds_hook_fuzz::run_checked(&hook, request());
        }
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error says what is wrong");
        }
    }
});
