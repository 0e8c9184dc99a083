//! Command line: `serve`, `apply`, `render`, `explain`, `test`, `config`, `gen`.
//!
//! Flags are parsed by clap, the configuration is loaded and validated before any work or any
//! bind, and failures end in one line (the whole cause chain, [`one_line`]) and a distinct exit
//! code:
//! 64 for bad usage or configuration, 65 for bad input data, 1 for anything else (and for
//! `explain --route` when the HTTPRoute is not in the input, and `test` when a case fails).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use xds_hook::config::{ConfigFile, ListenAddr};
use xds_hook::format::{Format, Input};
use xds_hook::offline::{self, Run, RunError};
use xds_hook::report::{self, graph, json, route::RouteQuery};
use xds_hook::{Config, Hook, format, golden, render};

/// Envoy Gateway PostTranslateModify extension server for AI gateways.
///
/// Inserts an ext_proc filter into the HTTP connection managers that serve annotated
/// HTTPRoutes, enables it on those routes only, and adds the processor's cluster. Every decision
/// comes from xDS structure and Envoy Gateway's metadata, never from resource names.
#[derive(Debug, Parser)]
#[command(name = "xds-hook", version)]
struct Cli {
    /// YAML configuration file; without it the embedded defaults apply.
    #[arg(long, short, global = true, env = "XDS_HOOK_CONFIG")]
    config: Option<PathBuf>,

    /// Log filter (tracing env-filter syntax), e.g. `info` or `xds_hook=debug`.
    #[arg(long, global = true, env = "XDS_HOOK_LOG", default_value = "info")]
    log: String,

    /// Log format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// For apply, render and explain: ProcessorPolicies as EG delivers them (a YAML list of
    /// the objects, status included), given to every hook call as its context.
    #[arg(long, global = true, value_name = "FILE")]
    policies: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExplainFormat {
    Text,
    Json,
    Dot,
    Mermaid,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gRPC extension server.
    Serve {
        /// gRPC address, `host:port` or `unix:///path`; repeat for several (replaces
        /// server.listen).
        #[arg(long, value_name = "ADDR")]
        listen: Vec<ListenAddr>,
        /// Admin HTTP address for /healthz, /readyz, /metrics (replaces server.adminListen).
        #[arg(long, value_name = "ADDR")]
        admin_listen: Option<std::net::SocketAddr>,
    },
    /// Run the hook on captured xDS and write the result: a response for a request, the same
    /// dump for an egctl or Envoy dump (one hook call per Gateway).
    Apply {
        /// Input: a request (.pb, .json, .yaml, or a directory of listeners/routes/clusters/
        /// secrets.yaml), `egctl x translate` or `egctl config envoy-proxy` output, or Envoy's
        /// /config_dump (.json or .yaml; told apart by content).
        #[arg(long, short)]
        input: PathBuf,
        /// Output file: .pb (one Gateway's response), .json or .yaml (the input's shape).
        #[arg(long, short)]
        output: PathBuf,
        /// Run only this Gateway (`namespace/name`) or pod (`pod-namespace/pod`) of a dump.
        #[arg(long, value_name = "NS/NAME")]
        gateway: Option<String>,
    },
    /// Run the hook on captured xDS and write the result as an Envoy bootstrap, for
    /// `envoy --mode validate -c FILE` (RDS inlined, EDS clusters made static).
    Render {
        /// Input: as for `apply`.
        #[arg(long, short)]
        input: PathBuf,
        /// Bootstrap file: .yaml or .json.
        #[arg(long, short)]
        output: PathBuf,
        /// Port of the bootstrap's admin interface (on 127.0.0.1).
        #[arg(long, default_value_t = 9901)]
        admin_port: u16,
        /// The Gateway or pod to render, required when a dump holds several (one Envoy
        /// serves one Gateway).
        #[arg(long, value_name = "NS/NAME")]
        gateway: Option<String>,
    },
    /// Print what the hook decides for captured xDS, and why: one section per Gateway.
    Explain {
        /// Input: as for `apply`.
        #[arg(long, short)]
        input: PathBuf,
        /// Explain only this Gateway (`namespace/name`) or pod of a dump.
        #[arg(long, value_name = "NS/NAME")]
        gateway: Option<String>,
        /// Answer about one HTTPRoute: its xDS routes, chains, clusters and why (exit 1 when
        /// the input has no route built from it).
        #[arg(long, value_name = "NS/NAME")]
        route: Option<RouteQuery>,
        /// text (tables), json (for tools), dot (Graphviz) or mermaid.
        #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
        format: ExplainFormat,
    },
    /// Run golden cases: every DIR/<case>/ with an input, optional config.yaml, output.yaml and
    /// optional explain.txt. Prints a diff per mismatch and `N passed, N failed`; exit 1 on any
    /// failure.
    Test {
        /// Directory of case folders.
        dir: PathBuf,
        /// Write the expectations (output.yaml; explain.txt where present) instead of
        /// comparing.
        #[arg(long)]
        update: bool,
    },
    /// Print the effective configuration (embedded defaults merged with --config).
    Config,
    /// Write a synthetic, deterministic EG-shaped request (for benches and experiments).
    #[cfg(feature = "workload")]
    Gen {
        /// Size preset: small, fleet or huge.
        #[arg(long, default_value = "small")]
        preset: xds_hook::workload::Preset,
        /// Override one knob of the preset, `name=value` (repeatable); see bench/README.md.
        #[arg(long = "knob", value_name = "NAME=VALUE")]
        knobs: Vec<String>,
        /// Request file: .pb, .json or .yaml.
        #[arg(long, short)]
        output: PathBuf,
    },
}

/// Exit code for bad usage or configuration (EX_USAGE).
const EXIT_USAGE: u8 = 64;
/// Exit code for bad input data (EX_DATAERR).
const EXIT_DATA: u8 = 65;

pub(crate) fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let Err(e) = init_logging(&cli.log, cli.log_format) {
        eprintln!("xds-hook: --log: {}", one_line(&e));
        return ExitCode::from(EXIT_USAGE);
    }
    let (config, config_file) = match load_config(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("xds-hook: {}", one_line(&e));
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let policies = cli.policies.as_deref();
    let reads_policies = matches!(
        cli.command,
        Command::Apply { .. } | Command::Render { .. } | Command::Explain { .. }
    );
    if policies.is_some() && !reads_policies {
        // A test case carries its own policies.yaml; serve gets them from EG.
        eprintln!("xds-hook: --policies applies to apply, render and explain only");
        return ExitCode::from(EXIT_USAGE);
    }
    let result = match cli.command {
        Command::Serve {
            listen,
            admin_listen,
        } => serve(config, config_file, listen, admin_listen).map(|()| Done::Ok),
        Command::Apply {
            input,
            output,
            gateway,
        } => apply(config, (&input, policies), &output, gateway.as_deref()).map(|()| Done::Ok),
        Command::Render {
            input,
            output,
            admin_port,
            gateway,
        } => render(
            config,
            (&input, policies),
            &output,
            admin_port,
            gateway.as_deref(),
        )
        .map(|()| Done::Ok),
        Command::Explain {
            input,
            gateway,
            route,
            format,
        } => explain(
            config,
            (&input, policies),
            gateway.as_deref(),
            route.as_ref(),
            format,
        ),
        Command::Test { dir, update } => test(&config, &dir, update),
        Command::Config => config
            .to_yaml()
            .map(|yaml| {
                print!("{yaml}");
                Done::Ok
            })
            .map_err(anyhow::Error::from),
        #[cfg(feature = "workload")]
        Command::Gen {
            preset,
            knobs,
            output,
        } => match generate_spec(preset, &knobs) {
            Ok(spec) => generate(&spec, &output).map(|()| Done::Ok),
            Err(e) => {
                eprintln!("xds-hook: {}", one_line(&e));
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    match result {
        Ok(Done::Ok) => ExitCode::SUCCESS,
        Ok(Done::NotOk) => ExitCode::from(1),
        Err(e) => {
            eprintln!("xds-hook: {}", one_line(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The error and its causes on one line, each said once. Our errors name their cause in
/// their own message (`reading config.yaml: No such file or directory`) and also expose it as
/// their source, for callers that walk the chain; a cause whose text its error already
/// ends with is not repeated.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain().map(ToString::to_string) {
        if !line.ends_with(&cause) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&cause);
        }
    }
    line
}

/// How a command that ran to its end went.
enum Done {
    /// Exit 0.
    Ok,
    /// Exit 1 without an error message: the command printed its answer (an HTTPRoute not in
    /// the input, a golden case that fails).
    NotOk,
}

/// 64 when the command line asked for what the input cannot give (`--gateway` naming no
/// Gateway, `.pb` output of several), 65 for bad input data, 1 for the rest.
fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(run) = cause.downcast_ref::<RunError>() {
            return if run.is_usage() {
                EXIT_USAGE
            } else {
                EXIT_DATA
            };
        }
        if cause.downcast_ref::<golden::KitError>().is_some() {
            return EXIT_USAGE;
        }
        if cause.downcast_ref::<format::FormatError>().is_some()
            || cause.downcast_ref::<render::RenderError>().is_some()
        {
            return EXIT_DATA;
        }
    }
    1
}

fn init_logging(filter: &str, format: LogFormat) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    }
    .map_err(|e| anyhow::anyhow!(e))
}

/// The configuration, and the file it came from (which `serve` watches for changes).
fn load_config(path: Option<&Path>) -> anyhow::Result<(Config, Option<ConfigFile>)> {
    match path {
        Some(path) => {
            let file = ConfigFile::read(path)?;
            Ok((file.config.clone(), Some(file)))
        }
        None => Ok((Config::default(), None)),
    }
}

fn serve(
    mut config: Config,
    config_file: Option<ConfigFile>,
    listen: Vec<ListenAddr>,
    admin_listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    if !listen.is_empty() {
        config.server.listen = listen;
    }
    if let Some(admin_listen) = admin_listen {
        config.server.admin_listen = Some(admin_listen);
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let result = runtime.block_on(xds_hook::server::serve(
        config,
        config_file,
        xds_hook::server::shutdown_signal(),
    ));
    // A hook task still running after the grace period must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(result?)
}

/// The input file, and the `--policies` file its calls get.
type Inputs<'a> = (&'a Path, Option<&'a Path>);

/// Reads the input (and policies) and runs the hook once per Gateway (only `gateway`'s, when
/// given).
fn run_on(
    config: Config,
    (input, policies): Inputs<'_>,
    gateway: Option<&str>,
) -> anyhow::Result<Run> {
    let mut read = format::read_input(input).map_err(|e| match e {
        // It names the file already.
        format::FormatError::Io { .. } => anyhow::Error::new(e),
        e => anyhow::Error::new(e).context(format!("reading {}", input.display())),
    })?;
    if let Some(path) = policies {
        xds_hook::policy::fixture::attach_file(&mut read, path)?;
    }
    let run = offline::run(&Hook::new(config), read, gateway)?;
    for call in &run.calls {
        // A dump's calls log inside a span naming their Gateway, so each INFO line says whose.
        let span = call
            .origin
            .as_ref()
            .map(|o| tracing::info_span!("gateway", name = %o.name).entered());
        if let Some(outcome) = &call.outcome {
            outcome.report.log();
        }
        drop(span);
    }
    Ok(run)
}

fn apply(
    config: Config,
    input: Inputs<'_>,
    output: &Path,
    gateway: Option<&str>,
) -> anyhow::Result<()> {
    let out_format = Format::from_path(output)?;
    let run = run_on(config, input, gateway)?;
    let (bytes, notes) = run.output(out_format)?;
    for note in notes {
        tracing::warn!("{note}");
    }
    format::write(output, &bytes)?;
    Ok(())
}

fn render(
    config: Config,
    input: Inputs<'_>,
    output: &Path,
    admin_port: u16,
    gateway: Option<&str>,
) -> anyhow::Result<()> {
    let out_format = Format::from_path(output)?;
    if out_format == Format::Protobuf {
        anyhow::bail!(
            "{}: write the bootstrap as .yaml or .json (Envoy reads those)",
            output.display()
        );
    }
    let run = run_on(config, input, gateway)?;
    let response = run.single_response("render")?.cloned().unwrap_or_default();
    let bootstrap = render::bootstrap(&response, admin_port)?;
    format::write(output, &render::encode(&bootstrap, out_format)?)?;
    Ok(())
}

fn explain(
    config: Config,
    input: Inputs<'_>,
    gateway: Option<&str>,
    route: Option<&RouteQuery>,
    format: ExplainFormat,
) -> anyhow::Result<Done> {
    let annotation = config.selection.route_annotation.clone();
    let run = run_on(config, input, gateway)?;
    let sections = run.sections();
    let text = match (format, route) {
        (ExplainFormat::Text, None) => report::explain_sections(&sections, &annotation),
        (ExplainFormat::Json, None) => json_text(&json::explain(&sections, &annotation))?,
        (ExplainFormat::Dot, _) => graph::dot(&graph::build(&sections, route)),
        (ExplainFormat::Mermaid, _) => graph::mermaid(&graph::build(&sections, route)),
        (ExplainFormat::Text | ExplainFormat::Json, Some(query)) => {
            let api = match run.input() {
                Input::Dump(dump) => {
                    format::gateway_api::http_route(&dump.doc, &query.namespace, &query.name)
                }
                Input::Request(_) => Default::default(),
            };
            let answer = report::route::answer(&sections, query, &annotation, &api);
            let text = if format == ExplainFormat::Json {
                json_text(&answer)?
            } else {
                answer.text()
            };
            print!("{text}");
            return Ok(if answer.found { Done::Ok } else { Done::NotOk });
        }
    };
    print!("{text}");
    Ok(Done::Ok)
}

fn json_text<T: serde::Serialize>(value: &T) -> anyhow::Result<String> {
    let bytes = format::encode_text(value, Format::Json, "explain")?;
    Ok(String::from_utf8(bytes)?)
}

fn test(config: &Config, dir: &Path, update: bool) -> anyhow::Result<Done> {
    let mut out = String::new();
    let all_passed = golden::run_all(dir, config, update, &mut out)?;
    print!("{out}");
    Ok(if all_passed { Done::Ok } else { Done::NotOk })
}

#[cfg(feature = "workload")]
fn generate_spec(
    preset: xds_hook::workload::Preset,
    knobs: &[String],
) -> anyhow::Result<xds_hook::workload::Spec> {
    let mut spec = preset.spec();
    for knob in knobs {
        spec.set(knob).context("--knob")?;
    }
    Ok(spec)
}

#[cfg(feature = "workload")]
fn generate(spec: &xds_hook::workload::Spec, output: &Path) -> anyhow::Result<()> {
    let out_format = Format::from_path(output)?;
    let request = xds_hook::workload::generate(spec);
    format::write(output, &format::encode_request(&request, out_format)?)?;
    Ok(())
}
