//! The golden-test kit: `xds-hook test DIR [--update]`.
//!
//! A platform team keeps captured xDS and the reviewed result side by side, and CI checks that
//! the hook (a new version, or a new configuration) still gives that result. Each folder
//! `DIR/<case>/` holds:
//!
//! - the input: `input.pb`, `input.json`, `input.yaml`, or an `input/` directory of resource
//!   lists; any shape `apply` reads (a request, an `egctl` dump, an Envoy `/config_dump`);
//! - optionally `config.yaml`, the hook's configuration (else the one given to `test`);
//! - optionally `policies.yaml`, ProcessorPolicies as EG delivers them, given to every call
//!   ([`crate::policy::fixture`]);
//! - `output.yaml` (or `output.json`), what `apply` writes: the response, or the same dump with
//!   each Gateway's resources replaced;
//! - optionally `explain.txt`, what `explain` prints;
//! - optionally `extensions.yaml`, which routes carry InferencePools (or other extension
//!   objects) as EG hands them to the Route and Cluster hooks: the input is then a request as
//!   EG built it before any hook, and the three hooks run in EG's order
//!   ([`crate::inference::extensions`]).
//!
//! A case passes when both match and the hook is idempotent on its output (a second run
//! changes nothing). A mismatch shows as a unified diff. `--update` writes the expectations
//! instead (`output.yaml` always, `explain.txt` when the case has one), for review in the
//! repository's own diff. This crate's own `testdata/golden/` runs through the same function.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::contract::PostTranslateModifyRequest;
use crate::format::{self, Format, FormatError};
use crate::inference::extensions::{self, ExtensionsError};
use crate::inference::flow::{self, FlowError};
use crate::offline::{self, Run};
use crate::{Config, Hook, report};

/// Why the kit cannot run at all (a case that fails is not an error of the kit).
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// The directory cannot be listed.
    #[error("{path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The directory holds no case folder.
    #[error("{0}: no case folders (each case is a folder with an input and output.yaml)")]
    NoCases(String),
}

/// Why one case could not be checked at all.
#[derive(Debug, thiserror::Error)]
enum CaseError {
    /// Its `config.yaml` is invalid.
    #[error("{0}: {1}")]
    Config(String, crate::config::ConfigError),
    /// It has no input.
    #[error("{0}: no input (input.pb, input.json, input.yaml or input/)")]
    NoInput(String),
    /// It has several inputs.
    #[error("{0}: more than one input")]
    SeveralInputs(String),
    /// Its input cannot be read, or an expectation cannot be written.
    #[error("{0}: {1}")]
    Format(String, FormatError),
    /// The hook could not run on it.
    #[error(transparent)]
    Run(#[from] offline::RunError),
    /// Its `extensions.yaml` cannot be used.
    #[error("{0}: {1}")]
    Extensions(String, ExtensionsError),
    /// EG's order of hooks could not be played through on it.
    #[error("{0}: {1}")]
    Flow(String, Box<FlowError>),
    /// The output is not text.
    #[error("{0}: {1}")]
    NotText(&'static str, std::string::FromUtf8Error),
}

/// How one case went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseResult {
    /// Everything matched.
    Passed,
    /// `--update` rewrote these expectation files (none: they already matched).
    Updated(Vec<String>),
    /// What did not match or could not be done, each a message (diffs included).
    Failed(Vec<String>),
}

impl CaseResult {
    /// Whether the case counts as passed.
    pub fn passed(&self) -> bool {
        !matches!(self, CaseResult::Failed(_))
    }
}

/// Case folders of `dir`, sorted by name.
pub fn cases(dir: &Path) -> Result<Vec<PathBuf>, KitError> {
    let io = |source| KitError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            cases.push(path);
        }
    }
    cases.sort();
    if cases.is_empty() {
        return Err(KitError::NoCases(dir.display().to_string()));
    }
    Ok(cases)
}

/// Runs every case of `dir`, writing a line per case (with diffs for failures) and the summary
/// line `N passed, N failed` to `out`. Returns whether all passed.
pub fn run_all(
    dir: &Path,
    default_config: &Config,
    update: bool,
    out: &mut String,
) -> Result<bool, KitError> {
    let (mut passed, mut failed) = (0, 0);
    for case in cases(dir)? {
        let name = case_name(&case);
        match run_case(&case, default_config, update) {
            CaseResult::Passed => {
                passed += 1;
                let _ = writeln!(out, "ok      {name}");
            }
            CaseResult::Updated(files) => {
                passed += 1;
                let _ = writeln!(out, "updated {name}: {}", files.join(", "));
            }
            CaseResult::Failed(problems) => {
                failed += 1;
                let _ = writeln!(out, "FAILED  {name}");
                for problem in problems {
                    let _ = writeln!(out, "{}", problem.trim_end());
                }
            }
        }
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    Ok(failed == 0)
}

fn case_name(case: &Path) -> String {
    case.file_name().map_or_else(
        || case.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Runs one case folder: compares (or, with `update`, writes) its expectations.
pub fn run_case(case: &Path, default_config: &Config, update: bool) -> CaseResult {
    match check(case, default_config, update) {
        Ok(result) => result,
        Err(problem) => CaseResult::Failed(vec![problem.to_string()]),
    }
}

fn check(case: &Path, default_config: &Config, update: bool) -> Result<CaseResult, CaseError> {
    let config_path = case.join("config.yaml");
    let config = if config_path.exists() {
        Config::from_file(&config_path)
            .map_err(|e| CaseError::Config(config_path.display().to_string(), e))?
    } else {
        default_config.clone()
    };
    let annotation = config.selection.route_annotation.clone();
    let hook = Hook::new(config);
    let input = input_of(case)?;
    let extensions = case.join(extensions::FILE);
    let produced = if extensions.exists() {
        through_eg_order(&hook, &input, &extensions, &annotation)?
    } else {
        through_offline(case, &hook, &input, &annotation)?
    };

    let mut expectations = vec![(produced.output_file, produced.output)];
    if case.join("explain.txt").exists() {
        expectations.push(("explain.txt", produced.explain));
    }
    let mut problems = Vec::new();
    if !produced.not_idempotent.is_empty() {
        problems.push(format!(
            "not idempotent: a second run changes {}",
            produced.not_idempotent.join(", ")
        ));
    }
    let mut updated = Vec::new();
    for (file, actual) in expectations {
        let path = case.join(file);
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected == actual {
            continue;
        }
        if update {
            format::write(&path, actual.as_bytes())
                .map_err(|e| CaseError::Format(path.display().to_string(), e))?;
            updated.push(file.to_owned());
        } else if !path.exists() {
            problems.push(format!(
                "{}: missing (run with --update to write it)",
                path.display()
            ));
        } else {
            problems.push(diff(&path, &expected, &actual));
        }
    }
    Ok(match (problems.is_empty(), update) {
        (false, _) => CaseResult::Failed(problems),
        (true, true) if !updated.is_empty() => CaseResult::Updated(updated),
        (true, _) => CaseResult::Passed,
    })
}

/// What the hook made of a case: its output file and text, its explanation, and what a
/// second run on the output would change.
struct Produced {
    output_file: &'static str,
    output: String,
    explain: String,
    not_idempotent: Vec<String>,
}

/// A case run as `apply` runs it: one call per Gateway of its input, policies attached.
fn through_offline(
    case: &Path,
    hook: &Hook,
    input: &Path,
    annotation: &str,
) -> Result<Produced, CaseError> {
    let mut input =
        format::read_input(input).map_err(|e| CaseError::Format(input.display().to_string(), e))?;
    crate::policy::fixture::attach_from(case, &mut input)
        .map_err(|e| CaseError::Format(case.display().to_string(), e))?;
    let run = offline::run(hook, input, None)?;
    let (output_file, output_format) = if case.join("output.json").exists() {
        ("output.json", Format::Json)
    } else {
        ("output.yaml", Format::Yaml)
    };
    let (output, _notes) = run.output(output_format)?;
    Ok(Produced {
        output_file,
        output: String::from_utf8(output).map_err(|e| CaseError::NotText(output_file, e))?,
        explain: explain(&run, annotation),
        not_idempotent: run.not_idempotent(hook),
    })
}

/// A case with `extensions.yaml` (InferencePool backends): its request is the resources as EG
/// built them, before any hook, so the Route and Cluster hooks run first, in EG's order
/// ([`crate::inference::flow`]), and `explain.txt` lists their calls too.
fn through_eg_order(
    hook: &Hook,
    input: &Path,
    extensions: &Path,
    annotation: &str,
) -> Result<Produced, CaseError> {
    let request = format::read_request(input)
        .map_err(|e| CaseError::Format(input.display().to_string(), e))?;
    let yaml = std::fs::read_to_string(extensions)
        .map_err(|e| CaseError::Extensions(extensions.display().to_string(), e.into()))?;
    let routes = extensions::extended_routes(&yaml, &request)
        .map_err(|e| CaseError::Extensions(extensions.display().to_string(), e))?;
    let translation = flow::run(hook, request, &routes)
        .map_err(|e| CaseError::Flow(input.display().to_string(), Box::new(e)))?;
    let response = &translation.outcome.response;
    let output = format::encode_response(response, Format::Yaml)
        .map_err(|e| CaseError::Format("output.yaml".to_owned(), e))?;
    let again = hook.post_translate_modify(PostTranslateModifyRequest {
        post_translate_context: translation.request.post_translate_context.clone(),
        clusters: response.clusters.clone(),
        secrets: response.secrets.clone(),
        listeners: response.listeners.clone(),
        routes: response.routes.clone(),
    });
    Ok(Produced {
        output_file: "output.yaml",
        output: String::from_utf8(output).map_err(|e| CaseError::NotText("output.yaml", e))?,
        explain: translation.explain(annotation),
        not_idempotent: if again.response == *response {
            Vec::new()
        } else {
            vec!["the response".to_owned()]
        },
    })
}

/// The case's input: exactly one of `input.pb`, `input.json`, `input.yaml`, `input/`.
fn input_of(case: &Path) -> Result<PathBuf, CaseError> {
    let found: Vec<PathBuf> = ["input.pb", "input.json", "input.yaml", "input"]
        .iter()
        .map(|name| case.join(name))
        .filter(|path| path.exists())
        .collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(CaseError::NoInput(case.display().to_string())),
        _ => Err(CaseError::SeveralInputs(case.display().to_string())),
    }
}

/// What `explain` prints for a run (text).
pub fn explain(run: &Run, route_annotation: &str) -> String {
    report::explain_sections(&run.sections(), route_annotation)
}

/// A unified diff of an expectation file against what the hook gives.
pub fn diff(path: &Path, expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{} (expected)", path.display()), "actual")
        .to_string()
}
