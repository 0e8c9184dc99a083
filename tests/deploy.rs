//! The container and Kubernetes files agree with the code and with each other.
//!
//! `docker build` and a cluster are not available where tests run, so these checks read the
//! files: the Dockerfile's stages and the binary it copies, and the names, ports, paths and
//! limits that the Deployment, Service, ConfigMap, certificates and the `EnvoyGateway`
//! configuration must share. A renamed port or Secret fails here, not in a rollout.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use xds_hook::config::{Config, ListenAddr};

use crate::support;

fn deploy(file: &str) -> PathBuf {
    support::repo().join("deploy").join(file)
}

/// Every document of a YAML file.
fn documents(file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(deploy(file)).unwrap();
    serde_saphyr::from_multiple(&text).unwrap_or_else(|e| panic!("deploy/{file}: {e}"))
}

fn document(file: &str) -> Value {
    let mut docs = documents(file);
    assert_eq!(docs.len(), 1, "deploy/{file}: one document");
    docs.remove(0)
}

fn str_of<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} missing or not a string"))
}

fn u64_of(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} missing or not a number"))
}

/// `name` and `targetPort` of a named container port.
fn container_port(container: &Value, name: &str) -> u64 {
    let ports = container["ports"].as_array().unwrap();
    let port = ports.iter().find(|p| p["name"] == name).unwrap();
    port["containerPort"].as_u64().unwrap()
}

/// A Kubernetes quantity in bytes (`256Mi`, `4M`, `1048576`).
fn quantity(text: &str) -> u64 {
    let units = [
        ("Ki", 1u64 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("k", 1_000),
        ("K", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    for (suffix, factor) in units {
        if let Some(n) = text.strip_suffix(suffix) {
            return n.parse::<u64>().unwrap() * factor;
        }
    }
    text.parse().unwrap()
}

#[test]
fn quantities_parse_like_kubernetes() {
    assert_eq!(quantity("256Mi"), 268_435_456);
    assert_eq!(quantity("4M"), 4_000_000);
    assert_eq!(quantity("1024"), 1024);
}

#[test]
fn kustomization_lists_existing_files() {
    let k = document("kustomization.yaml");
    let resources = k["resources"].as_array().unwrap();
    assert!(!resources.is_empty());
    for r in resources {
        let file = r.as_str().unwrap();
        assert!(
            deploy(file).is_file(),
            "deploy/{file} is listed but missing"
        );
    }
}

#[test]
fn deployment_service_config_and_envoy_gateway_agree() {
    let deployment = document("deployment.yaml");
    let service = document("service.yaml");
    let pdb = document("pdb.yaml");
    let configmap = document("configmap.yaml");
    let eg = document("envoy-gateway.yaml");
    let certificates = documents("certificate.yaml");
    let namespace = str_of(&deployment, "/metadata/namespace");

    // Deployment: two replicas, hardened, probes on the admin endpoints.
    assert_eq!(u64_of(&deployment, "/spec/replicas"), 2);
    let pod = &deployment["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    assert_eq!(deployment["spec"]["selector"]["matchLabels"], *labels);
    let spec = &pod["spec"];
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    assert_ne!(u64_of(spec, "/securityContext/runAsUser"), 0);
    let container = &spec["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        assert_eq!(str_of(container, &format!("/{probe}/httpGet/path")), path);
        assert_eq!(
            str_of(container, &format!("/{probe}/httpGet/port")),
            "admin"
        );
    }

    // The hook's configuration comes from the ConfigMap, at the path the args name.
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let config_path = args[args.iter().position(|a| *a == "--config").unwrap() + 1];
    assert_eq!(args.last(), Some(&"serve"));
    let mount_of = |volume: &str| {
        let mounts = container["volumeMounts"].as_array().unwrap();
        str_of(
            mounts.iter().find(|m| m["name"] == volume).unwrap(),
            "/mountPath",
        )
        .to_owned()
    };
    let volume = |name: &str| {
        spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        str_of(&volume("config"), "/configMap/name"),
        str_of(&configmap, "/metadata/name")
    );
    let key = config_path
        .strip_prefix(&format!("{}/", mount_of("config")))
        .unwrap();
    let config = Config::from_yaml(str_of(&configmap, &format!("/data/{key}"))).unwrap();
    let server = &config.server;

    // Ports: config ↔ container ports ↔ Service ↔ EG.
    let grpc_port = container_port(container, "grpc");
    let admin_port = container_port(container, "admin");
    assert!(server.listen.contains(&ListenAddr::Tcp(
        ([0, 0, 0, 0], u16::try_from(grpc_port).unwrap()).into()
    )));
    assert_eq!(u64::from(server.admin_listen.unwrap().port()), admin_port);
    assert!(
        server.admin_listen.unwrap().ip().is_unspecified(),
        "kubelet probes the pod IP"
    );
    assert_eq!(
        pod["metadata"]["annotations"]["prometheus.io/port"],
        admin_port.to_string()
    );
    assert_eq!(service["spec"]["selector"], *labels);
    assert_eq!(pdb["spec"]["selector"]["matchLabels"], *labels);
    assert!(u64_of(&pdb, "/spec/minAvailable") >= 1);
    let service_port = &service["spec"]["ports"][0];
    assert_eq!(service_port["targetPort"], "grpc");
    let fqdn = &eg["extensionManager"]["service"]["fqdn"];
    assert_eq!(
        str_of(fqdn, "/hostname"),
        format!(
            "{}.{namespace}.svc.cluster.local",
            str_of(&service, "/metadata/name")
        )
    );
    assert_eq!(fqdn["port"], service_port["port"]);
    for doc in [&service, &pdb, &configmap] {
        assert_eq!(str_of(doc, "/metadata/namespace"), namespace);
    }

    // Limits and lifecycle: EG never sends what the hook refuses; the hook drains before
    // the kubelet kills it.
    let eg_max = quantity(str_of(&eg, "/extensionManager/maxMessageSize"));
    assert!(
        u64::try_from(server.max_message_bytes).unwrap() >= eg_max,
        "server.maxMessageBytes {} < EG maxMessageSize {eg_max}",
        server.max_message_bytes
    );
    let termination = Duration::from_secs(u64_of(spec, "/terminationGracePeriodSeconds"));
    assert!(server.shutdown_grace < termination);

    // EG's hooks: one post-translation call that sees listeners and routes.
    let hooks = &eg["extensionManager"]["hooks"]["xdsTranslator"];
    assert!(
        hooks["post"]
            .as_array()
            .unwrap()
            .contains(&"Translation".into())
    );
    for kind in ["listener", "route", "cluster", "secret"] {
        assert_eq!(hooks["translation"][kind]["includeAll"], true, "{kind}");
    }
    assert_eq!(eg["extensionManager"]["failOpen"], false);

    // TLS: the files the config reads are in the mounted Secret; the Secret is the one the
    // serving Certificate writes, for the name EG dials; EG trusts the CA that signs it.
    let tls = server.tls.as_ref().unwrap();
    let tls_mount = PathBuf::from(mount_of("tls"));
    assert!(tls.cert_file.starts_with(&tls_mount) && tls.key_file.starts_with(&tls_mount));
    let secret = str_of(&volume("tls"), "/secret/secretName").to_owned();
    let cert = |secret: &str| {
        certificates
            .iter()
            .find(|c| c["kind"] == "Certificate" && c["spec"]["secretName"] == secret)
            .unwrap_or_else(|| panic!("no Certificate writes Secret {secret}"))
            .clone()
    };
    let serving = cert(&secret);
    let dns: Vec<&str> = serving["spec"]["dnsNames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert!(dns.contains(&str_of(fqdn, "/hostname")), "{dns:?}");
    let ca_ref = &eg["extensionManager"]["service"]["tls"]["certificateRef"];
    let ca = cert(str_of(ca_ref, "/name"));
    assert_eq!(ca["spec"]["isCA"], true);
    let issuer = certificates
        .iter()
        .find(|d| {
            d["kind"] == "Issuer" && d["metadata"]["name"] == serving["spec"]["issuerRef"]["name"]
        })
        .unwrap();
    assert_eq!(issuer["spec"]["ca"]["secretName"], ca["spec"]["secretName"]);
    assert_eq!(str_of(ca_ref, "/namespace"), namespace);
}

/// `FROM image AS name` stages, each with its instructions (continuations joined).
fn dockerfile_stages() -> Vec<(String, Vec<(String, String)>)> {
    let text = std::fs::read_to_string(support::repo().join("Dockerfile")).unwrap();
    let mut stages: Vec<(String, Vec<(String, String)>)> = Vec::new();
    for line in text.replace("\\\n", " ").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (instruction, rest) = line.split_once(' ').unwrap();
        let instruction = instruction.to_ascii_uppercase();
        if instruction == "FROM" {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let name = match words.as_slice() {
                [_, as_, name] if as_.eq_ignore_ascii_case("as") => (*name).to_owned(),
                [image] => (*image).to_owned(),
                _ => panic!("unexpected FROM {rest}"),
            };
            stages.push((name, Vec::new()));
        } else {
            let stage = stages.last_mut().expect("instruction before FROM");
            stage.1.push((instruction, rest.trim().to_owned()));
        }
    }
    stages
}

fn instruction<'a>(stage: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    stage
        .iter()
        .filter(|(i, _)| i == name)
        .map(|(_, rest)| rest.as_str())
        .collect()
}

#[test]
fn dockerfile_copies_the_release_binary_into_a_non_root_runtime() {
    let manifest: toml_lite::Manifest = toml_lite::read(&support::repo().join("Cargo.toml"));
    let bin = manifest.bin_name;
    let stages = dockerfile_stages();
    assert!(stages.len() >= 2, "multi-stage: {stages:?}");
    let (runtime_name, runtime) = stages.last().unwrap();

    // The runtime copies one file from a build stage: that stage's release binary.
    let copies = instruction(runtime, "COPY");
    let from_build: Vec<&str> = copies
        .iter()
        .copied()
        .filter(|c| c.starts_with("--from="))
        .collect();
    assert_eq!(from_build.len(), 1, "{copies:?}");
    let words: Vec<&str> = from_build[0].split_whitespace().collect();
    let [from, source, destination] = words.as_slice() else {
        panic!("COPY {}", from_build[0]);
    };
    let build_name = from.strip_prefix("--from=").unwrap();
    let (_, build) = stages.iter().find(|(n, _)| n == build_name).unwrap();
    let workdir = instruction(build, "WORKDIR").last().copied().unwrap();
    assert_eq!(*source, format!("{workdir}/target/release/{bin}"));
    let runs = instruction(build, "RUN");
    assert!(
        runs.iter().any(|r| r.contains("cargo build")
            && r.contains("--release")
            && r.contains("--locked")
            && r.contains(&format!("--bin {bin}"))),
        "{runs:?}"
    );
    // What the build needs is copied in: the manifest, lock file, build script, protos,
    // sources and every declared test target (cargo reads them all).
    let copied: Vec<&str> = instruction(build, "COPY")
        .iter()
        .flat_map(|c| {
            let words: Vec<&str> = c.split_whitespace().collect();
            words[..words.len() - 1].to_vec()
        })
        .collect();
    // Cargo refuses a manifest whose declared targets are missing, so every directory that
    // holds a declared test, bench or example target must be copied too.
    let manifest = std::fs::read_to_string(support::repo().join("Cargo.toml")).unwrap();
    let target_dirs = [
        ("[[test]]", "tests"),
        ("[[bench]]", "benches"),
        ("[[example]]", "examples"),
    ]
    .into_iter()
    .filter(|(table, _)| manifest.lines().any(|l| l.trim() == *table))
    .map(|(_, dir)| dir);
    for needed in ["Cargo.toml", "Cargo.lock", "build.rs", "proto", "src"]
        .into_iter()
        .chain(target_dirs)
    {
        assert!(
            copied.contains(&needed),
            "build stage does not copy {needed}: {copied:?}"
        );
    }

    // Non-root by number, and the entrypoint is the copied binary.
    let user = instruction(runtime, "USER")
        .last()
        .copied()
        .unwrap_or("root");
    let uid: u32 = user.split(':').next().unwrap().parse().unwrap_or_else(|_| {
        panic!("USER {user} in stage {runtime_name} must be numeric for runAsNonRoot")
    });
    assert_ne!(uid, 0);
    let entrypoint = instruction(runtime, "ENTRYPOINT").last().copied().unwrap();
    let entrypoint: Vec<String> = serde_json::from_str(entrypoint).unwrap();
    assert_eq!(entrypoint.first().map(String::as_str), Some(*destination));
    // The ports it exposes are the defaults.
    let exposed = instruction(runtime, "EXPOSE").join(" ");
    let defaults = Config::default().server;
    for port in [
        match defaults.listen.first() {
            Some(ListenAddr::Tcp(addr)) => addr.port(),
            other => panic!("default listen {other:?}"),
        },
        defaults.admin_listen.unwrap().port(),
    ] {
        assert!(
            exposed.split_whitespace().any(|p| p == port.to_string()),
            "EXPOSE {exposed}"
        );
    }
    // Deployment runs as the same user.
    let deployment = document("deployment.yaml");
    assert_eq!(
        u64_of(&deployment, "/spec/template/spec/securityContext/runAsUser"),
        u64::from(uid)
    );
}

/// Just enough of Cargo.toml: the binary's name.
mod toml_lite {
    use std::path::Path;

    pub struct Manifest {
        pub bin_name: String,
    }

    /// The `name` in `[[bin]]` (or `[package]` when there is no `[[bin]]`).
    pub fn read(path: &Path) -> Manifest {
        let text = std::fs::read_to_string(path).unwrap();
        let mut section = String::new();
        let (mut package, mut bin) = (None, None);
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line.to_owned();
                continue;
            }
            let Some(value) = line.strip_prefix("name = ") else {
                continue;
            };
            let value = value.trim_matches('"').to_owned();
            match section.as_str() {
                "[package]" => package = Some(value),
                "[[bin]]" if bin.is_none() => bin = Some(value),
                _ => {}
            }
        }
        Manifest {
            bin_name: bin.or(package).unwrap(),
        }
    }
}

/// EG is set up for InferencePools the way the hook reads them, and the example pool is one
/// the hook serves, behind a route that names it.
#[test]
fn envoy_gateway_and_the_inference_pool_example_agree_with_the_hook() {
    use xds_hook::inference::pool;
    let eg = document("envoy-gateway.yaml");
    let manager = &eg["extensionManager"];
    let backends = manager["backendResources"].as_array().unwrap();
    let (group, version) = pool::API_VERSION.split_once('/').unwrap();
    assert!(
        backends
            .iter()
            .any(|b| b["group"] == group && b["version"] == version && b["kind"] == pool::KIND),
        "backendResources lacks {}: {backends:?}",
        pool::API_VERSION
    );
    let post = manager["hooks"]["xdsTranslator"]["post"]
        .as_array()
        .unwrap();
    for hook in ["Translation", "Cluster", "Route"] {
        assert!(
            post.contains(&hook.into()),
            "hooks.xdsTranslator.post lacks {hook}"
        );
    }

    let example = documents("inference-pool-example.yaml");
    let object = example
        .iter()
        .find(|d| d["kind"] == pool::KIND)
        .expect("an InferencePool");
    assert_eq!(object["apiVersion"], pool::API_VERSION);
    let parsed = pool::parse(object).unwrap();
    let route = example.iter().find(|d| d["kind"] == "HTTPRoute").unwrap();
    let backend = &route["spec"]["rules"][0]["backendRefs"][0];
    assert_eq!(backend["group"], group);
    assert_eq!(backend["kind"], pool::KIND);
    assert_eq!(backend["name"], parsed.key.name.as_str());
    assert_eq!(
        route["metadata"]["namespace"],
        parsed.key.namespace.as_str()
    );
}
