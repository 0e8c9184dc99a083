//! EG's calling order (`xds_hook::inference::flow`) on a golden case with an
//! `extensions.yaml` (`xds_hook::inference::extensions`), for tests that need more than the
//! kit's comparison (losslessness, Envoy validation, the data plane).

use std::path::Path;

use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::inference::flow::{self, ExtendedRoute, Translation};
use xds_hook::{Config, Hook};

/// The case's `extensions.yaml`, if it has one.
pub fn extensions_path(dir: &Path) -> Option<std::path::PathBuf> {
    Some(dir.join(xds_hook::inference::extensions::FILE)).filter(|p| p.exists())
}

/// The routes of `request` that `extensions` names, with their objects as EG marshals them.
pub fn extended_routes(
    request: &PostTranslateModifyRequest,
    extensions: &Path,
) -> Vec<ExtendedRoute> {
    let text = std::fs::read_to_string(extensions).unwrap();
    xds_hook::inference::extensions::extended_routes(&text, request)
        .unwrap_or_else(|e| panic!("{}: {e}", extensions.display()))
}

/// Runs the three hooks in EG's order on `request` with the case's extensions.
pub fn run(hook: &Hook, request: PostTranslateModifyRequest, extensions: &Path) -> Translation {
    let routes = extended_routes(&request, extensions);
    flow::run(hook, request, &routes).unwrap_or_else(|e| panic!("{}: {e}", extensions.display()))
}

/// A golden case's final response: through EG's order when the case has `extensions.yaml`,
/// else `PostTranslateModify` alone.
pub fn golden_response(
    config: Config,
    dir: &Path,
    request: PostTranslateModifyRequest,
) -> PostTranslateModifyResponse {
    let hook = Hook::new(config);
    match extensions_path(dir) {
        Some(extensions) => run(&hook, request, &extensions).outcome.response,
        None => hook.post_translate_modify(request).response,
    }
}
