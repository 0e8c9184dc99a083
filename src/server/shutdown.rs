//! Shutdown: wait for SIGTERM or SIGINT, then drain within a grace period.
//!
//! Kubernetes sends SIGTERM on every rollout and scale-down, and EG retries (or, fail-closed,
//! stalls) a translation whose call is cut off, so in-flight calls get `server.shutdownGrace`
//! to finish. The caller flips health and stops accepting when the signal arrives; what is
//! still running when the grace period ends is dropped with a warning, and the process still
//! exits 0: the shutdown itself was orderly.

use std::future::Future;
use std::time::Duration;

/// Resolves on the first SIGTERM or SIGINT.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch SIGTERM; only SIGINT stops the server");
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => tracing::info!(signal = "SIGINT", "shutting down"),
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "shutting down"),
    }
}

/// Runs `server` until `signal`, then runs `begin` (flip health, stop accepting) and lets
/// `server` drain for at most `grace`. A server that ends by itself ends this too.
pub(crate) async fn drain<E, B>(
    server: impl Future<Output = Result<(), E>>,
    signal: impl Future<Output = ()>,
    grace: Duration,
    begin: impl FnOnce() -> B,
) -> Result<(), E>
where
    B: Future<Output = ()>,
{
    tokio::pin!(server);
    tokio::select! {
        result = &mut server => return result,
        () = signal => {}
    }
    begin().await;
    let started = tokio::time::Instant::now();
    match tokio::time::timeout(grace, server).await {
        Ok(result) => {
            tracing::info!(drained_in = ?started.elapsed(), "in-flight calls finished");
            result
        }
        Err(_) => {
            tracing::warn!(
                grace = %humantime::format_duration(grace),
                "shutdown grace period (server.shutdownGrace) ran out; dropping unfinished calls"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_server_that_does_not_drain_is_cut_at_the_grace_period() {
        let started = tokio::time::Instant::now();
        let result: Result<(), ()> = drain(
            std::future::pending(),
            std::future::ready(()),
            Duration::from_secs(3),
            || async {},
        )
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_draining_server_is_awaited_and_begin_runs_first() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = async move {
            let _ = rx.await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok::<(), ()>(())
        };
        let started = tokio::time::Instant::now();
        let result = drain(
            server,
            std::future::ready(()),
            Duration::from_secs(30),
            || async move {
                let _ = tx.send(());
            },
        )
        .await;
        assert_eq!(result, Ok(()));
        assert_eq!(started.elapsed(), Duration::from_secs(1));
    }
}
