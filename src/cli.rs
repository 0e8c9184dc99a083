//! Command line: `serve`, `apply`, `render`, `explain`, `config`, `gen`.
//!
//! Flags are parsed by clap, the configuration is loaded and validated before any work or any
//! bind, and failures end in one line (`{:#}`, the whole cause chain) and a distinct exit code:
//! 64 for bad usage or configuration, 65 for bad input data, 1 for anything else.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};

use xds_hook::config::{EndpointPickerTls, ListenAddr};
use xds_hook::{Config, Hook, format, render};

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

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
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
    /// Run the hook on a captured request and write the response.
    Apply {
        /// Request: .pb, .json or .yaml, or a directory of listeners/routes/clusters/secrets.yaml.
        #[arg(long, short)]
        input: PathBuf,
        /// Response file: .pb, .json or .yaml.
        #[arg(long, short)]
        output: PathBuf,
    },
    /// Run the hook on a captured request and write the result as an Envoy bootstrap, for
    /// `envoy --mode validate -c FILE` (RDS inlined, EDS clusters made static).
    Render {
        /// Request: .pb, .json or .yaml, or a directory of listeners/routes/clusters/secrets.yaml.
        #[arg(long, short)]
        input: PathBuf,
        /// Bootstrap file: .yaml or .json.
        #[arg(long, short)]
        output: PathBuf,
        /// Port of the bootstrap's admin interface (on 127.0.0.1).
        #[arg(long, default_value_t = 9901)]
        admin_port: u16,
    },
    /// Print what the hook decides for a captured request, and why.
    Explain {
        /// Request: .pb, .json or .yaml, or a directory of listeners/routes/clusters/secrets.yaml.
        #[arg(long, short)]
        input: PathBuf,
    },
    /// Print the effective configuration (embedded defaults merged with --config).
    Config,
    /// Write a synthetic, deterministic EG-shaped request (for benches and experiments).
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

pub fn main() -> ExitCode {
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
        eprintln!("xds-hook: --log: {e:#}");
        return ExitCode::from(EXIT_USAGE);
    }
    let config = match load_config(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("xds-hook: {e:#}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = match cli.command {
        Command::Serve {
            listen,
            admin_listen,
        } => serve(config, cli.config, listen, admin_listen),
        Command::Apply { input, output } => apply(config, &input, &output),
        Command::Render {
            input,
            output,
            admin_port,
        } => render(config, &input, &output, admin_port),
        Command::Explain { input } => explain(config, &input),
        Command::Config => {
            print!("{}", describe(&config));
            Ok(())
        }
        Command::Gen {
            preset,
            knobs,
            output,
        } => match generate_spec(preset, &knobs) {
            Ok(spec) => generate(&spec, &output),
            Err(e) => {
                eprintln!("xds-hook: {e:#}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xds-hook: {e:#}");
            let data = e.chain().any(|c| {
                c.downcast_ref::<format::FormatError>().is_some()
                    || c.downcast_ref::<render::RenderError>().is_some()
            });
            ExitCode::from(if data { EXIT_DATA } else { 1 })
        }
    }
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

fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => Ok(Config::from_file(path)?),
        None => Ok(Config::default()),
    }
}

fn serve(
    mut config: Config,
    config_file: Option<PathBuf>,
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
        xds_hook::server::shutdown::signal(),
    ));
    // A hook task still running after the grace period must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    Ok(result?)
}

fn apply(config: Config, input: &Path, output: &Path) -> anyhow::Result<()> {
    let out_format = format::Format::from_path(output)?;
    let request =
        format::read_request(input).with_context(|| format!("reading {}", input.display()))?;
    let outcome = Hook::new(config).post_translate_modify(request);
    outcome.report.log();
    let bytes = format::encode_response(&outcome.response, out_format)?;
    format::write(output, &bytes)?;
    Ok(())
}

fn render(config: Config, input: &Path, output: &Path, admin_port: u16) -> anyhow::Result<()> {
    let out_format = format::Format::from_path(output)?;
    if out_format == format::Format::Protobuf {
        anyhow::bail!(
            "{}: write the bootstrap as .yaml or .json (Envoy reads those)",
            output.display()
        );
    }
    let request =
        format::read_request(input).with_context(|| format!("reading {}", input.display()))?;
    let outcome = Hook::new(config).post_translate_modify(request);
    outcome.report.log();
    let bootstrap = render::bootstrap(&outcome.response, admin_port)?;
    format::write(output, &render::encode(&bootstrap, out_format)?)?;
    Ok(())
}

fn explain(config: Config, input: &Path) -> anyhow::Result<()> {
    let annotation = config.selection.route_annotation.clone();
    let request =
        format::read_request(input).with_context(|| format!("reading {}", input.display()))?;
    let outcome = Hook::new(config).post_translate_modify(request);
    print!("{}", outcome.report.explain(&annotation));
    Ok(())
}

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

fn generate(spec: &xds_hook::workload::Spec, output: &Path) -> anyhow::Result<()> {
    let out_format = format::Format::from_path(output)?;
    let request = xds_hook::workload::generate(spec);
    format::write(output, &format::encode_request(&request, out_format)?)?;
    Ok(())
}

fn describe(config: &Config) -> String {
    let s = &config.selection;
    let e = &config.ext_proc;
    let server = &config.server;
    let listen = server
        .listen
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let tls = match &server.tls {
        None => " null  # plaintext".to_owned(),
        Some(t) => format!(
            "\n    certFile: {}\n    keyFile: {}\n    clientCaFile: {}\n    reloadInterval: {}",
            t.cert_file.display(),
            t.key_file.display(),
            t.client_ca_file.as_ref().map_or_else(
                || "null  # no client certificate required".to_owned(),
                |p| p.display().to_string()
            ),
            humantime::format_duration(t.reload_interval),
        ),
    };
    let namespaces = s
        .gateway_namespaces
        .as_ref()
        .map(|set| format!("[{}]", set.iter().cloned().collect::<Vec<_>>().join(", ")))
        .unwrap_or_else(|| "null  # all namespaces".to_owned());
    format!(
        "selection:\n  routeAnnotation: {}\n  gatewayNamespaces: {}\n  gatewayAnnotation: {}\n\
         extProc:\n  filterName: {}\n  clusterName: {}\n  socketPath: {}\n  messageTimeout: {}\n  metadataNamespace: {}\n  \
         placement:\n    after: [{}]\n    before: [{}]\n\
         inference:\n  messageTimeout: {}\n  endpointPickerTls:\n    caFile: {}\n\
         server:\n  listen: [{}]\n  adminListen: {}\n  maxMessageBytes: {}\n  maxConcurrentCalls: {}\n  maxQueuedCalls: {}\n  queueTimeout: {}\n  maxCallTime: {}\n  configReloadInterval: {}\n  shutdownGrace: {}\n  tls:{}\n",
        s.route_annotation,
        namespaces,
        s.gateway_annotation
            .as_deref()
            .unwrap_or("null  # no opt-in required"),
        e.filter_name,
        e.cluster_name,
        e.socket_path,
        humantime::format_duration(e.message_timeout),
        e.metadata_namespace,
        e.placement.after.join(", "),
        e.placement.before.join(", "),
        humantime::format_duration(config.inference.message_timeout),
        match &config.inference.endpoint_picker_tls {
            EndpointPickerTls::Unverified => "null  # the picker's certificate is not verified",
            EndpointPickerTls::Verified { ca_file } => ca_file,
        },
        listen,
        server
            .admin_listen
            .map_or_else(|| "null  # disabled".to_owned(), |a| a.to_string()),
        server.max_message_bytes,
        server.max_concurrent_calls,
        server.max_queued_calls,
        humantime::format_duration(server.queue_timeout),
        humantime::format_duration(server.max_call_time),
        humantime::format_duration(server.config_reload_interval),
        humantime::format_duration(server.shutdown_grace),
        tls,
    )
}
