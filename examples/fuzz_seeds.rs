//! Writes seed corpora for the fuzz targets in `fuzz/` from the golden cases, so that no
//! generated corpus needs to be committed: `scripts/fuzz` runs this before fuzzing.
//!
//! `cargo run --features fuzzing --example fuzz_seeds -- <corpus dir>` writes
//! - `request/<case>.pb`: each `testdata/golden/<case>/input.yaml` as the binary gRPC request;
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
use xds_hook::format::{self, Format};
use xds_hook::fuzzing::{self, Seeds};

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
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/golden");
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
        let seeds = fuzzing::seeds(&request);
        for (n, hcm) in seeds.hcms.iter().enumerate() {
            std::fs::write(out.join("hcm").join(format!("{name}-{n}.pb")), hcm)?;
        }
        if name == TEMPLATE_CASE {
            template_hcm = seeds.hcms.first().cloned();
        }
        if let Ok(config) = std::fs::read(case.join("config.yaml")) {
            std::fs::write(out.join("config").join(format!("{name}.yaml")), config)?;
        }
        reader_seeds(&out, name, &seeds)?;
    }
    if let Some(hcm) = template_hcm {
        std::fs::write(
            out.join("hcm")
                .join("split-scheme-header-transformation.pb"),
            fuzzing::with_split_scheme_header_transformation(&hcm),
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
            reader_seeds(&out, &format!("corpus-{name}"), &fuzzing::seeds(&request))?;
        }
    }
    Ok(())
}

/// The differential targets' seeds from one request: its listeners, route configurations,
/// and the metadata of its virtual hosts and routes.
fn reader_seeds(out: &Path, name: &str, seeds: &Seeds) -> anyhow::Result<()> {
    let targets = [
        ("readers_listener", &seeds.listeners),
        ("readers_route", &seeds.route_configs),
        ("readers_owner", &seeds.owner_metadata),
    ];
    for (target, resources) in targets {
        for (n, bytes) in resources.iter().enumerate() {
            std::fs::write(out.join(target).join(format!("{name}-{n}.pb")), bytes)?;
        }
    }
    Ok(())
}
