//! Build-time assembly of the extension contract, without `protoc`.
//!
//! Two artefacts come out of here:
//! - the tonic service glue for `envoygateway.extension.EnvoyGatewayExtension`, generated with
//!   tonic's manual builder so that the message types stay our own hand-written, pass-through
//!   structs (`src/contract.rs`);
//! - one `FileDescriptorSet` holding every Envoy API file plus our `proto/extension/*.proto`.
//!   It drives canonical proto3 JSON/YAML I/O (`Any` needs every type) and gRPC reflection.
//!
//! The Envoy descriptors are the ones `envoy-types` was generated from (it ships them as
//! `src/generated/types.bin`), so the JSON layer and the typed structs agree on one API version.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

use prost::Message;
use prost_types::FileDescriptorSet;

const CONTRACT_FILES: [&str; 2] = [
    "proto/extension/context.proto",
    "proto/extension/service.proto",
];

type BuildResult<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> BuildResult<()> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    for file in CONTRACT_FILES {
        println!("cargo:rerun-if-changed={file}");
    }
    println!("cargo:rerun-if-changed=Cargo.lock");

    let envoy = envoy_descriptor_set(&manifest_dir)?;
    let contract = compile_contract(&manifest_dir, envoy.clone())?;
    let mut all = envoy;
    all.file.extend(contract.file);
    fs::write(out_dir.join("descriptors.bin"), all.encode_to_vec())?;

    generate_service(&out_dir);
    Ok(())
}

/// The `envoy-types` version pinned in Cargo.toml (`=0.7.7`); its descriptors are read here.
const ENVOY_TYPES_VERSION: &str = "0.7.7";

/// Finds the descriptor set shipped inside the resolved `envoy-types` package: asks cargo
/// where the package is (works with vendored or patched sources), and falls back to the
/// registry cache when cargo cannot answer offline (a first `cargo build` has not downloaded
/// dev-dependencies, which `cargo metadata` wants).
fn envoy_descriptor_set(manifest_dir: &Path) -> BuildResult<FileDescriptorSet> {
    let dir = match envoy_types_dir_from_metadata(manifest_dir) {
        Ok(dir) => dir,
        Err(metadata_error) => envoy_types_dir_from_registry().ok_or_else(|| {
            format!("cannot locate envoy-types {ENVOY_TYPES_VERSION}: {metadata_error}")
        })?,
    };
    let path = dir.join("src/generated/types.bin");
    println!("cargo:rerun-if-changed={}", path.display());
    let bytes = fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    Ok(FileDescriptorSet::decode(bytes.as_slice())?)
}

fn envoy_types_dir_from_metadata(manifest_dir: &Path) -> BuildResult<PathBuf> {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let target = env::var("TARGET")?;
    let output = Command::new(cargo)
        .current_dir(manifest_dir)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &target])
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )
        .into());
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let manifest = metadata
        .get("packages")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .find(|package| package.get("name").and_then(|n| n.as_str()) == Some("envoy-types"))
        .and_then(|package| package.get("manifest_path")?.as_str())
        .ok_or("envoy-types is not among the resolved packages")?;
    Ok(Path::new(manifest)
        .parent()
        .ok_or("envoy-types manifest has no parent directory")?
        .to_path_buf())
}

fn envoy_types_dir_from_registry() -> Option<PathBuf> {
    let cargo_home = env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
    let package = format!("envoy-types-{ENVOY_TYPES_VERSION}");
    fs::read_dir(cargo_home.join("registry/src"))
        .ok()?
        .filter_map(Result::ok)
        .map(|index| index.path().join(&package))
        .find(|dir| dir.join("src/generated/types.bin").is_file())
}

/// Compiles our contract files, resolving Envoy imports from the Envoy descriptor set.
fn compile_contract(
    manifest_dir: &Path,
    envoy: FileDescriptorSet,
) -> BuildResult<FileDescriptorSet> {
    let mut resolver = protox::file::ChainFileResolver::new();
    resolver.add(protox::file::IncludeFileResolver::new(
        manifest_dir.to_path_buf(),
    ));
    resolver.add(protox::file::DescriptorSetFileResolver::new(envoy));
    resolver.add(protox::file::GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    compiler.include_imports(false).include_source_info(true);
    compiler.open_files(CONTRACT_FILES)?;
    Ok(compiler.file_descriptor_set())
}

/// Generates the server (and a client, used by tests and tools) for our hand-written messages.
fn generate_service(out_dir: &Path) {
    use tonic_build::manual::{Builder, Method, Service};

    let rpcs = [
        ("post_route_modify", "PostRouteModify"),
        ("post_virtual_host_modify", "PostVirtualHostModify"),
        ("post_http_listener_modify", "PostHTTPListenerModify"),
        ("post_cluster_modify", "PostClusterModify"),
        ("post_endpoints_modify", "PostEndpointsModify"),
        ("post_translate_modify", "PostTranslateModify"),
    ];
    let mut service = Service::builder()
        .name("EnvoyGatewayExtension")
        .package("envoygateway.extension");
    for (method, route) in rpcs {
        service = service.method(
            Method::builder()
                .name(method)
                .route_name(route)
                .input_type(format!("crate::contract::{route}Request"))
                .output_type(format!("crate::contract::{route}Response"))
                .codec_path("crate::contract::ContractCodec")
                .build(),
        );
    }
    Builder::new().out_dir(out_dir).compile(&[service.build()]);
}
