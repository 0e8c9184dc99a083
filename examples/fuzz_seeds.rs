//! Writes seed corpora for the fuzz targets in `fuzz/` from the golden cases, so that no
//! generated corpus needs to be committed: `scripts/fuzz` runs this before fuzzing.
//!
//! `cargo run --example fuzz_seeds -- <corpus dir>` writes
//! - `request/<case>.pb`: each `testdata/<case>/input.yaml` as the binary gRPC request;
//! - `hcm/<case>-<n>.pb`: every HTTP connection manager found in those requests' listeners,
//!   and one with a split `scheme_header_transformation`;
//! - `config/<name>.yaml`: the cases' configuration files and a few small ones;
//! - `readers_listener/`, `readers_route/`, `readers_owner/`: every listener, route
//!   configuration and EG metadata (route, virtual host) of those requests and, when
//!   `../shared/corpus/eg-xds` is present, of its scenarios: the differential targets' seeds.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use prost::Message;
use xds_hook::contract::PostTranslateModifyRequest;
use xds_hook::format::{self, Format};
use xds_hook::wire;
use xds_hook::xds::{
    AnyView, FilterChainView, ListenerView, NetworkFilterView, RouteConfigurationView, RouteView,
    VirtualHostView, names,
};

/// The golden case the `hcm` target builds its request from.
const TEMPLATE_CASE: &str = "mixed-namespaces-and-schemes";

const CONFIGS: [(&str, &str); 4] = [
    ("empty", ""),
    (
        "ext-proc",
        "extProc:\n  filterName: envoy.filters.http.ext_proc/x\n  messageTimeout: 2500ms\n  socketPath: /tmp/p.sock\n",
    ),
    (
        "selection",
        "selection:\n  routeAnnotation: gateway.envoyproxy.io/ai\n  gatewayNamespaces: [team-a, envoy-gateway]\n  gatewayAnnotation: managed\n",
    ),
    (
        "server",
        "server:\n  listen: 127.0.0.1:9000\n  maxMessageBytes: 1048576\n",
    ),
];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fuzz_seeds: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .context("usage: fuzz_seeds <corpus dir>")?;
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    for kind in [
        "request",
        "hcm",
        "config",
        "readers_listener",
        "readers_route",
        "readers_owner",
    ] {
        std::fs::create_dir_all(out.join(kind))?;
    }
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&testdata)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    cases.sort();
    let mut template_hcm: Option<Vec<u8>> = None;
    for case in cases.iter().filter(|p| p.is_dir()) {
        let name = case.file_name().and_then(|n| n.to_str()).unwrap_or("case");
        let input = std::fs::read(case.join("input.yaml"))?;
        let request = format::decode_request(&input, Format::Yaml)
            .with_context(|| format!("{}", case.display()))?;
        std::fs::write(
            out.join("request").join(format!("{name}.pb")),
            request.encode_to_vec(),
        )?;
        let hcms = request.listeners.iter().flat_map(|l| hcms_of(l));
        for (n, hcm) in hcms.enumerate() {
            std::fs::write(out.join("hcm").join(format!("{name}-{n}.pb")), &hcm)?;
            if name == TEMPLATE_CASE {
                template_hcm.get_or_insert(hcm);
            }
        }
        if let Ok(config) = std::fs::read(case.join("config.yaml")) {
            std::fs::write(out.join("config").join(format!("{name}.yaml")), config)?;
        }
        reader_seeds(&out, name, &request)?;
    }
    // A shape no golden case has: the template's HCM with scheme_header_transformation split
    // over two records, the second saying match_upstream: false (it once won over ours: see
    // bad_input::split_scheme_header_transformation_still_ends_up_matching_upstream).
    if let Some(hcm) = template_hcm {
        let mut split = hcm;
        let scheme = xds_hook::xds::HcmView::SCHEME_HEADER_TRANSFORMATION;
        wire::put_len(&mut split, scheme, &[]);
        let mut explicit_false = Vec::new();
        let match_upstream = xds_hook::xds::SchemeHeaderTransformationView::MATCH_UPSTREAM;
        wire::put_varint(&mut explicit_false, match_upstream, 0);
        wire::put_len(&mut split, scheme, &explicit_false);
        std::fs::write(
            out.join("hcm")
                .join("split-scheme-header-transformation.pb"),
            split,
        )?;
    }
    for (name, text) in CONFIGS {
        std::fs::write(out.join("config").join(format!("{name}.yaml")), text)?;
    }
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/eg-xds");
    if corpus.is_dir() {
        for scenario in std::fs::read_dir(&corpus)? {
            let scenario = scenario?.path();
            if !scenario.is_dir() {
                continue;
            }
            let name = scenario.file_name().and_then(|n| n.to_str()).unwrap_or("x");
            let request = format::read_resource_dir(&scenario)
                .with_context(|| format!("{}", scenario.display()))?;
            reader_seeds(&out, &format!("corpus-{name}"), &request)?;
        }
    }
    Ok(())
}

/// The differential targets' seeds from one request: its listeners, route configurations,
/// and the metadata of its virtual hosts and routes.
fn reader_seeds(
    out: &Path,
    name: &str,
    request: &PostTranslateModifyRequest,
) -> anyhow::Result<()> {
    for (n, listener) in request.listeners.iter().enumerate() {
        std::fs::write(
            out.join("readers_listener").join(format!("{name}-{n}.pb")),
            listener,
        )?;
    }
    let mut metadata = Vec::new();
    for (n, config) in request.routes.iter().enumerate() {
        std::fs::write(
            out.join("readers_route").join(format!("{name}-{n}.pb")),
            config,
        )?;
        for vhost in wire::len_payloads(config, RouteConfigurationView::VIRTUAL_HOSTS) {
            let Ok(vhost) = vhost else { continue };
            metadata.extend(wire::len_payloads(vhost, VirtualHostView::METADATA).flatten());
            for route in wire::len_payloads(vhost, VirtualHostView::ROUTES).flatten() {
                metadata.extend(wire::len_payloads(route, RouteView::METADATA).flatten());
            }
        }
    }
    for (n, md) in metadata.iter().enumerate() {
        std::fs::write(out.join("readers_owner").join(format!("{name}-{n}.pb")), md)?;
    }
    Ok(())
}

/// The HCM bytes of every chain of an encoded listener.
fn hcms_of(listener: &[u8]) -> Vec<Vec<u8>> {
    let chains = [
        ListenerView::FILTER_CHAINS,
        ListenerView::DEFAULT_FILTER_CHAIN,
    ]
    .into_iter()
    .flat_map(|n| wire::len_payloads(listener, n).filter_map(Result::ok));
    let anys = chains.flat_map(|chain| {
        wire::len_payloads(chain, FilterChainView::FILTERS)
            .filter_map(Result::ok)
            .filter_map(|filter| wire::first_len(filter, NetworkFilterView::TYPED_CONFIG))
    });
    anys.filter(|any| {
        wire::first_len(any, AnyView::TYPE_URL)
            .is_some_and(|url| url.ends_with(names::HCM_TYPE.as_bytes()))
    })
    .filter_map(|any| wire::first_len(any, AnyView::VALUE).map(<[u8]>::to_vec))
    .collect()
}
