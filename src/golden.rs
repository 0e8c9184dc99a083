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
//! - optionally `explain.txt`, what `explain` prints.
//!
//! A case passes when both match and the hook is idempotent on its output (a second run
//! changes nothing). A mismatch shows as a unified diff. `--update` writes the expectations
//! instead (`output.yaml` always, `explain.txt` when the case has one), for review in the
//! repository's own diff. This crate's own `testdata/` runs through the same function.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::format::{self, Format, FormatError};
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
    let mut input = format::read_input(&input)
        .map_err(|e| CaseError::Format(input.display().to_string(), e))?;
    crate::policy::fixture::attach_from(case, &mut input)
        .map_err(|e| CaseError::Format(case.display().to_string(), e))?;
    let run = offline::run(&hook, input, None)?;

    let (output_file, output_format) = if case.join("output.json").exists() {
        ("output.json", Format::Json)
    } else {
        ("output.yaml", Format::Yaml)
    };
    let (output, _notes) = run.output(output_format)?;
    let output = String::from_utf8(output).map_err(|e| CaseError::NotText(output_file, e))?;
    let mut expectations = vec![(output_file, output)];
    if case.join("explain.txt").exists() {
        expectations.push(("explain.txt", explain(&run, &annotation)));
    }

    let mut problems = Vec::new();
    let not_idempotent = run.not_idempotent(&hook);
    if !not_idempotent.is_empty() {
        problems.push(format!(
            "not idempotent: a second run changes {}",
            not_idempotent.join(", ")
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
