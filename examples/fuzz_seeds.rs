//! Writes seed corpora for the fuzz targets in `fuzz/` from the golden cases, so that no
//! generated corpus needs to be committed: `scripts/fuzz` runs this before fuzzing.
//!
//! `cargo run --example fuzz_seeds -- <corpus dir>` writes
//! - `request/<case>.pb`: each `testdata/<case>/input.yaml` as the binary gRPC request;
//! - `hcm/<case>-<n>.pb`: every HTTP connection manager found in those requests' listeners,
//!   and one with a split `scheme_header_transformation`;
//! - `config/<name>.yaml`: the cases' configuration files and a few small ones.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use prost::Message;
use xds_hook::format::{self, Format};
use xds_hook::wire;
use xds_hook::xds::names;

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
    for kind in ["request", "hcm", "config"] {
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
    }
    // A shape no golden case has: the template's HCM with scheme_header_transformation split
    // over two records, the second saying match_upstream: false (it once won over ours: see
    // bad_input::split_scheme_header_transformation_still_ends_up_matching_upstream).
    if let Some(hcm) = template_hcm {
        let mut split = hcm;
        wire::put_len(&mut split, 48, &[]);
        let mut explicit_false = Vec::new();
        wire::put_varint(&mut explicit_false, 2, 0);
        wire::put_len(&mut split, 48, &explicit_false);
        std::fs::write(
            out.join("hcm")
                .join("split-scheme-header-transformation.pb"),
            split,
        )?;
    }
    for (name, text) in CONFIGS {
        std::fs::write(out.join("config").join(format!("{name}.yaml")), text)?;
    }
    Ok(())
}

/// The HCM bytes of every chain of an encoded listener.
fn hcms_of(listener: &[u8]) -> Vec<Vec<u8>> {
    let chains = [3, 25]
        .into_iter()
        .flat_map(|n| wire::len_payloads(listener, n).filter_map(Result::ok));
    let anys = chains.flat_map(|chain| {
        wire::len_payloads(chain, 3)
            .filter_map(Result::ok)
            .filter_map(|filter| wire::first_len(filter, 4))
    });
    anys.filter(|any| {
        wire::first_len(any, 1).is_some_and(|url| url.ends_with(names::HCM_TYPE.as_bytes()))
    })
    .filter_map(|any| wire::first_len(any, 2).map(<[u8]>::to_vec))
    .collect()
}
