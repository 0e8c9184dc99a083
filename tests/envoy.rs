//! A real Envoy in the loop: the hook's output, rendered as a bootstrap
//! (`xds_hook::render`), must pass `envoy --mode validate` for every golden case, every
//! corpus scenario and every Gateway of the captured dumps (`testdata/captured`). Unit tests can only check what we think Envoy accepts; this checks what
//! it does accept (filter order constraints, typed config fields, cluster references).
//!
//! The Envoy binary comes from `ENVOY_BIN`, else `target/envoy-venv/bin/envoy` (what
//! `scripts/install-envoy` installs). Without one the tests print a notice and pass, so the
//! fast tests run alone; CI sets `XDS_HOOK_REQUIRE_ENVOY=1`, which turns that into a failure.
//!
//! Inputs that cannot load in Envoy themselves are listed with their reason; for those the
//! output must fail exactly as the input does (the hook made nothing worse), or validate.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use envoy_types::pb::envoy::config::cluster::v3::Cluster;
use envoy_types::pb::envoy::config::route::v3::route_action::ClusterSpecifier;
use envoy_types::pb::envoy::config::route::v3::{RouteConfiguration, route};
use prost::Message as _;
use xds_hook::contract::{PostTranslateModifyRequest, PostTranslateModifyResponse};
use xds_hook::format::{self, Format};
use xds_hook::{Config, Hook, render};

use crate::{corpus, support};

/// Golden cases whose input cannot load in Envoy, and why.
const GOLDEN_INPUT_FAILS: &[(&str, &str)] = &[
    (
        "eg-internal-listeners",
        "the stats listener's inline routes use prometheus_stats, a cluster EG defines in its \
         bootstrap, not in xDS",
    ),
    (
        "existing-filters-ordering",
        "its wasm filter loads /var/lib/eg/wasm/filter.wasm, absent on this machine",
    ),
    (
        "upstream-no-codec",
        "the cluster's upstream filters deliberately lack the codec Envoy requires last",
    ),
    (
        "malformed-hcm-type",
        "an HCM's typed config is deliberately malformed",
    ),
    (
        "missing-route-config",
        "an HCM names a route configuration the request does not carry",
    ),
];

/// Golden inputs are minimal and leave out most backend clusters their routes name; Envoy
/// would refuse the routes for that alone. This adds an empty STATIC cluster for each such
/// name, so that validation judges what the hook wrote.
fn with_stub_backends(mut request: PostTranslateModifyRequest) -> PostTranslateModifyRequest {
    let present: std::collections::HashSet<String> = request
        .clusters
        .iter()
        .filter_map(|c| Cluster::decode(c.as_ref()).ok())
        .map(|c| c.name)
        .collect();
    let mut missing: Vec<String> = request
        .routes
        .iter()
        .filter_map(|r| RouteConfiguration::decode(r.as_ref()).ok())
        .flat_map(|rc| rc.virtual_hosts)
        .flat_map(|vhost| vhost.routes)
        .filter_map(|route| match route.action? {
            route::Action::Route(action) => action.cluster_specifier,
            _ => None,
        })
        .flat_map(|target| match target {
            ClusterSpecifier::Cluster(name) => vec![name],
            ClusterSpecifier::WeightedClusters(weighted) => {
                weighted.clusters.into_iter().map(|c| c.name).collect()
            }
            _ => Vec::new(),
        })
        .filter(|name| !present.contains(name))
        .collect();
    missing.sort();
    missing.dedup();
    for name in missing {
        let stub = serde_json::json!({
            "name": name,
            "type": "STATIC",
            "connectTimeout": "1s",
            "loadAssignment": {"clusterName": name},
        });
        let bytes =
            format::text_to_binary(&stub, "envoy.config.cluster.v3.Cluster", "stub").unwrap();
        request.clusters.push(bytes.into());
    }
    request
}

/// Corpus scenarios whose input cannot load here, and why.
const CORPUS_INPUT_FAILS: &[(&str, &str)] = &[
    (
        "httproute-with-tls-and-http",
        "Envoy 1.36 to 1.40 crash (SIGSEGV) validating the input itself, at the cluster's \
         static SDS secret system_ca_certificates",
    ),
    (
        "ratelimit",
        "the rate limit cluster's TLS trusts /certs/ca.crt, absent on this machine",
    ),
    (
        "wasm",
        "the wasm code source cluster's TLS trusts /certs/ca.crt, absent on this machine",
    ),
];

/// Corpus scenarios whose input an Envoy older than 1.37 cannot load, and why: EG writes
/// fields those versions do not know. The hook never writes them; the check still runs, and
/// the output must fail exactly as the input does.
const CORPUS_INPUT_FAILS_BEFORE_1_37: &[(&str, &str)] = &[(
    "http-route-direct-response",
    "EG writes DirectResponseAction.body_format, new in Envoy 1.37",
)];

/// The `(major, minor)` version of an Envoy binary, from `envoy --version`
/// (`envoy  version: <sha>/1.36.4/Clean/RELEASE/BoringSSL`).
pub fn envoy_version(bin: &Path) -> (u32, u32) {
    let output = Command::new(bin).arg("--version").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    text.split('/')
        .find_map(|part| {
            let mut numbers = part.trim().split('.');
            let major = numbers.next()?.parse().ok()?;
            let minor = numbers.next()?.parse().ok()?;
            numbers.next()?.parse::<u32>().ok()?;
            Some((major, minor))
        })
        .unwrap_or_else(|| panic!("no version in {text:?}"))
}

/// How long one `envoy --mode validate` may take.
const VALIDATE_TIMEOUT: Duration = Duration::from_secs(60);
/// How many validations run at once (the CI machine has 2 cores).
const PARALLEL: usize = 2;

/// The Envoy binary, or `None` (with a notice) when there is none and none is required.
pub fn envoy_bin() -> Option<PathBuf> {
    let required = std::env::var_os("XDS_HOOK_REQUIRE_ENVOY").is_some_and(|v| v == "1");
    if let Some(bin) = std::env::var_os("ENVOY_BIN").filter(|v| !v.is_empty()) {
        let bin = PathBuf::from(bin);
        if bin.exists() {
            return Some(bin);
        }
        assert!(
            !required,
            "ENVOY_BIN={} does not exist; run scripts/install-envoy",
            bin.display()
        );
        eprintln!(
            "ENVOY_BIN={} does not exist; Envoy checks skipped",
            bin.display()
        );
        return None;
    }
    let fallback = support::repo().join("target/envoy-venv/bin/envoy");
    if fallback.exists() {
        return Some(fallback);
    }
    assert!(
        !required,
        "XDS_HOOK_REQUIRE_ENVOY=1 but no Envoy: set ENVOY_BIN or run scripts/install-envoy"
    );
    eprintln!(
        "no Envoy (ENVOY_BIN unset, {} absent): Envoy checks skipped; run scripts/install-envoy",
        fallback.display()
    );
    None
}

/// One bootstrap to validate: a label, and the response it renders.
struct Job {
    label: String,
    response: PostTranslateModifyResponse,
}

/// Renders and validates a response. `Err` holds the first error line, with the file path
/// replaced by `FILE` so that an input and an output can be compared.
fn check(bin: &Path, dir: &Path, job: &Job) -> Result<(), String> {
    let bootstrap = render::bootstrap(&job.response, 9901).map_err(|e| format!("render: {e}"))?;
    let file = dir.join(format!("{}.yaml", job.label.replace('/', "_")));
    std::fs::write(&file, render::encode(&bootstrap, Format::Yaml).unwrap()).unwrap();
    let mut child = Command::new(bin)
        .args([
            "--mode",
            "validate",
            "--disable-hot-restart",
            "--log-level",
            "warn",
            "-c",
        ])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {}: {e}", bin.display()));
    let deadline = Instant::now() + VALIDATE_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {VALIDATE_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if status.success() {
        return Ok(());
    }
    let mut output = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut output)
        .unwrap();
    Err(first_error(&output).replace(&file.display().to_string(), "FILE"))
}

/// The first error line of Envoy's output, without its log prefix. Protobuf marks its debug
/// strings with a random `goo.gle/debug…` token (so nobody parses them); that is dropped, and
/// when the message is such a dump, its first lines are kept to tell errors apart.
fn first_error(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains("[critical]") || l.contains("[error]"))
        .or_else(|| lines.iter().position(|l| !l.trim().is_empty()));
    let Some(at) = at else {
        return "(no output)".to_owned();
    };
    let mut message = strip_log_prefix(lines[at]);
    if let Some(start) = message.find("goo.gle/debug") {
        message.truncate(start);
        for line in lines.iter().skip(at + 1).take(3) {
            message.push_str(" | ");
            message.push_str(line.trim());
        }
    }
    message.trim_end().to_owned()
}

/// `[time][pid][level][logger] [source:line] message` → `message`.
fn strip_log_prefix(line: &str) -> String {
    let mut rest = line.trim_start();
    while let Some(tail) = rest.strip_prefix('[') {
        match tail.find(']') {
            Some(end) => rest = tail[end + 1..].trim_start(),
            None => break,
        }
    }
    rest.to_owned()
}

/// Validates every job, `PARALLEL` at a time, returning results in job order.
fn validate_all(bin: &Path, jobs: &[Job]) -> Vec<Result<(), String>> {
    let dir = tempfile::tempdir().unwrap();
    let next = Mutex::new(0..jobs.len());
    let results = Mutex::new(vec![Ok(()); jobs.len()]);
    std::thread::scope(|scope| {
        for _ in 0..PARALLEL {
            scope.spawn(|| {
                loop {
                    let Some(i) = next.lock().unwrap().next() else {
                        break;
                    };
                    let result = check(bin, dir.path(), &jobs[i]);
                    results.lock().unwrap()[i] = result;
                }
            });
        }
    });
    results.into_inner().unwrap()
}

/// Checks one case: its output must validate, unless its input is listed as failing, in
/// which case the input must fail and the output must validate or fail the same way.
/// Returns a problem, if any.
fn judge(
    name: &str,
    allowed: &[(&str, &str)],
    input: Option<&Result<(), String>>,
    output: &Result<(), String>,
) -> Option<String> {
    let reason = allowed.iter().find(|(n, _)| *n == name).map(|(_, r)| *r);
    match (reason, input, output) {
        (None, _, Ok(())) => None,
        (None, _, Err(e)) => Some(format!("{name}: output does not load: {e}")),
        (Some(reason), Some(Err(before)), after) => match after {
            Ok(()) => None,
            Err(after) if comparable(after) == comparable(before) => {
                eprintln!("{name}: input and output fail alike ({reason}): {after}");
                None
            }
            Err(after) => Some(format!(
                "{name}: input fails with {before:?} ({reason}) but output with {after:?}"
            )),
        },
        (Some(_), Some(Ok(())), _) => Some(format!(
            "{name}: listed as failing to load, but its input validates; remove it from the list"
        )),
        (Some(_), None, _) => Some(format!("{name}: input not validated")),
    }
}

/// An error message with what differs between an input and its output taken out: the JSON
/// position (`near 1:1391 (offset 1390)`, moved by what the hook added before it) and the
/// spacing, which protobuf varies at random in its messages so that nobody parses them.
fn comparable(message: &str) -> String {
    let words: Vec<&str> = message.split_whitespace().collect();
    let mut kept = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let is_position = words[i] == "near"
            && words.get(i + 1).is_some_and(|w| w.contains(':'))
            && words.get(i + 2) == Some(&"(offset");
        if is_position {
            i += 4;
        } else {
            kept.push(words[i]);
            i += 1;
        }
    }
    kept.join(" ")
}

#[test]
fn errors_compare_without_their_position_and_spacing() {
    assert_eq!(
        comparable("in   a.b: message X, near 1:1391  (offset 1390): no such  field"),
        comparable("in a.b:   message X, near  1:1506 (offset 1505):   no such field")
    );
    assert_ne!(
        comparable("no such field: 'a'"),
        comparable("no such field: 'b'")
    );
}

/// Runs the input (when allow-listed) and the output of every case through Envoy.
fn run(
    bin: &Path,
    cases: Vec<(
        String,
        PostTranslateModifyResponse,
        PostTranslateModifyResponse,
    )>,
    allowed: &[(&str, &str)],
) -> (usize, Vec<String>) {
    let mut jobs = Vec::new();
    let mut index = Vec::new();
    for (name, input, output) in cases {
        let input_job = allowed.iter().any(|(n, _)| *n == name).then(|| {
            jobs.push(Job {
                label: format!("{name}-input"),
                response: input,
            });
            jobs.len() - 1
        });
        jobs.push(Job {
            label: format!("{name}-output"),
            response: output,
        });
        index.push((name, input_job, jobs.len() - 1));
    }
    let results = validate_all(bin, &jobs);
    let problems: Vec<String> = index
        .iter()
        .filter_map(|(name, input, output)| {
            judge(name, allowed, input.map(|i| &results[i]), &results[*output])
        })
        .collect();
    for (name, _) in allowed {
        assert!(
            index.iter().any(|(n, _, _)| n == name),
            "allow-listed case {name} does not exist"
        );
    }
    (index.len(), problems)
}

fn case_name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn golden_outputs_load_in_envoy() {
    let Some(bin) = envoy_bin() else { return };
    let cases = support::subdirs(&support::repo().join("testdata/golden"))
        .into_iter()
        .map(|dir| {
            let config_path = dir.join("config.yaml");
            let config = if config_path.exists() {
                Config::from_file(&config_path).unwrap()
            } else {
                Config::default()
            };
            let request = with_stub_backends(support::golden_case_request(&dir));
            let output = support::eg_flow::golden_response(config, &dir, request.clone());
            (case_name(&dir), corpus::echo(&request), output)
        })
        .collect();
    let (n, problems) = run(&bin, cases, GOLDEN_INPUT_FAILS);
    assert!(
        problems.is_empty(),
        "{} of {n} golden case(s) do not load in Envoy:\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!("{n} golden case(s) checked with {}", bin.display());
}

#[test]
fn annotated_corpus_outputs_load_in_envoy() {
    let Some(bin) = envoy_bin() else { return };
    let hook = Hook::new(Config::default());
    let cases: Vec<_> = corpus::scenarios()
        .into_iter()
        .map(|dir| {
            let mut request = format::read_resource_dir(&dir).unwrap();
            request.routes = corpus::annotated_routes(&dir);
            let output = hook.post_translate_modify(request.clone()).response;
            (case_name(&dir), corpus::echo(&request), output)
        })
        .collect();
    if cases.is_empty() {
        return;
    }
    let mut allowed = CORPUS_INPUT_FAILS.to_vec();
    if envoy_version(&bin) < (1, 37) {
        allowed.extend_from_slice(CORPUS_INPUT_FAILS_BEFORE_1_37);
    }
    let (n, problems) = run(&bin, cases, &allowed);
    assert!(
        problems.is_empty(),
        "{} of {n} corpus scenario(s) do not load in Envoy:\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!("{n} corpus scenario(s) checked with {}", bin.display());
}

#[test]
fn captured_dump_outputs_load_in_envoy() {
    let Some(bin) = envoy_bin() else { return };
    let hook = Hook::new(Config::default());
    let mut cases = Vec::new();
    for dir in support::subdirs(&support::repo().join("testdata/captured")) {
        let name = case_name(&dir);
        let Ok(format::Input::Dump(dump)) = format::read_input(&crate::captured::case(&name))
        else {
            panic!("{name}: not a dump");
        };
        for gateway in dump.gateways {
            let request = with_stub_backends(gateway.request);
            let output = hook.post_translate_modify(request.clone()).response;
            let label = format!("{name}-{}", gateway.name.replace('/', "_"));
            cases.push((label, corpus::echo(&request), output));
        }
    }
    let (n, problems) = run(&bin, cases, &[]);
    assert!(
        problems.is_empty(),
        "{} of {n} captured Gateway(s) do not load in Envoy:\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!("{n} captured Gateway(s) checked with {}", bin.display());
}
