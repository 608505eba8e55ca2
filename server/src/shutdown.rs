//! SIGTERM (Heroku's stop) and SIGINT (Ctrl-C): stop accepting, drain, exit 0.

use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Heroku sends SIGKILL 30 s after SIGTERM; exiting on our own first leaves a clean log line.
const DRAIN_LIMIT: Duration = Duration::from_secs(25);

pub struct Signals {
    term: Signal,
    int: Signal,
}

/// Installed before binding, so a signal that arrives during startup is not lost or fatal.
pub fn install() -> Result<Signals, String> {
    let err = |e: std::io::Error| format!("cannot install signal handlers: {e}");
    Ok(Signals {
        term: signal(SignalKind::terminate()).map_err(err)?,
        int: signal(SignalKind::interrupt()).map_err(err)?,
    })
}

impl Signals {
    /// Resolves on the first signal (which starts listen.rs's graceful shutdown) and arms the
    /// deadline for requests still running.
    pub async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => {}
            _ = self.int.recv() => {}
        }
        eprintln!("webinfer-server: shutting down");
        tokio::spawn(async {
            tokio::time::sleep(DRAIN_LIMIT).await;
            eprintln!(
                "webinfer-server: requests still running after {} s; exiting",
                DRAIN_LIMIT.as_secs()
            );
            std::process::exit(0);
        });
    }
}
