//! A real Envoy running a bootstrap, for data-plane tests: started, awaited on its admin
//! `/ready`, and always stopped.
//!
//! The guard kills and reaps Envoy when dropped, also while a failed assertion unwinds, so no
//! test leaves an Envoy behind; on failure it prints the end of Envoy's log, which is usually
//! the fastest way to see why a request was not routed or processed.
//!
//! Hot restart is disabled: Envoy then opens no shared memory and no domain sockets, so Envoys
//! of parallel tests cannot clash, and a killed Envoy leaves nothing behind in `/dev/shm`
//! (with hot restart on, `--use-dynamic-base-id` avoids clashes but a SIGKILL leaks the
//! shared memory segment). `--use-dynamic-base-id` is passed as well, so that turning hot
//! restart back on stays safe. One worker thread keeps the test light on a small machine.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::upstream;

/// How long Envoy may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How many lines of Envoy's log a failure prints.
const LOG_TAIL_LINES: usize = 300;

/// A running Envoy; killed when dropped.
pub struct EnvoyProcess {
    child: Child,
    log: PathBuf,
}

/// Ports [`free_port`] draws from: below Linux's ephemeral range (32768–60999), so that no
/// other test binding `127.0.0.1:0` can take a port between the draw and Envoy's bind.
const ENVOY_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A port that is free now, for Envoy to bind itself (a listener or its admin), and that no
/// other call in this test process was given (two draws before Envoy binds could match).
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<std::collections::BTreeSet<u16>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut given = GIVEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for _ in 0..1_000 {
        let port = fastrand::u16(ENVOY_PORTS);
        if !given.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    panic!("no free port in {ENVOY_PORTS:?}");
}

impl EnvoyProcess {
    /// Starts `bin` with the bootstrap at `config` (whose admin listens on
    /// `127.0.0.1:admin_port`), logging to `log`, and waits until `/ready` answers 200.
    /// Panics, with Envoy's log, when it exits or is not ready in time.
    pub async fn start(bin: &Path, config: &Path, admin_port: u16, log: &Path) -> Self {
        let log_file = File::create(log).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(config)
            .args([
                "--concurrency",
                "1",
                "--disable-hot-restart",
                "--use-dynamic-base-id",
                "--log-level",
                "info",
                "--component-log-level",
                "ext_proc:debug,router:debug",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log_file.try_clone().unwrap()))
            .stderr(Stdio::from(log_file))
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        // From here on the guard exists, so any panic below still kills Envoy.
        let mut envoy = Self {
            child,
            log: log.to_owned(),
        };
        envoy.wait_ready(admin_port).await;
        envoy
    }

    /// Polls `GET /ready` on the admin port until it answers 200, Envoy exits, or
    /// [`READY_TIMEOUT`] passes.
    async fn wait_ready(&mut self, admin_port: u16) {
        let started = Instant::now();
        let mut last = String::from("no attempt");
        while started.elapsed() < READY_TIMEOUT {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("Envoy exited before it was ready ({status})");
            }
            match upstream::send(admin_port, "GET", "127.0.0.1", "/ready", b"").await {
                Ok(reply) if reply.status == 200 => {
                    eprintln!("Envoy ready after {:?}", started.elapsed());
                    return;
                }
                Ok(reply) => last = format!("status {}", reply.status),
                Err(e) => last = e,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("Envoy not ready after {READY_TIMEOUT:?} (last /ready: {last})");
    }

    /// Envoy's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }
}

impl Drop for EnvoyProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..];
            eprintln!(
                "---- Envoy log ({}, last {} of {} lines) ----\n{}\n---- end of Envoy log ----",
                self.log.display(),
                tail.len(),
                lines.len(),
                tail.join("\n")
            );
        }
    }
}
