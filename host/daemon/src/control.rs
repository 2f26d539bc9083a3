//! What can interrupt the schedule: signals and config file changes, funnelled into one
//! channel so that the main loop handles them one at a time, between node calls.

use std::path::PathBuf;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc::UnboundedSender;

use crate::DaemonError;

#[derive(Debug)]
pub(crate) enum Control {
    Reload(ReloadCause),
    /// SIGTERM or SIGINT, named for the log.
    Shutdown(&'static str),
}

#[derive(Debug, Clone)]
pub(crate) enum ReloadCause {
    Sighup,
    FileChanged(PathBuf),
    /// A strategy loaded, changed or went away in the folder: the config is checked again
    /// against the strategies now loaded (one rejected for naming a strategy that had not
    /// loaded yet may pass now; a running one may no longer).
    StrategyChanged,
}

impl ReloadCause {
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            ReloadCause::Sighup => "SIGHUP",
            ReloadCause::FileChanged(_) => "file changed",
            ReloadCause::StrategyChanged => "strategy changed",
        }
    }
}

/// Installs the handlers now (a signal before this returns would still kill the process
/// the default way) and forwards SIGHUP, SIGTERM and SIGINT to `control`.
pub(crate) fn forward_signals(control: UnboundedSender<Control>) -> Result<(), DaemonError> {
    let mut hangup = signal(SignalKind::hangup()).map_err(DaemonError::Signals)?;
    let mut terminate = signal(SignalKind::terminate()).map_err(DaemonError::Signals)?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(DaemonError::Signals)?;
    tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                _ = hangup.recv() => Control::Reload(ReloadCause::Sighup),
                _ = terminate.recv() => Control::Shutdown("SIGTERM"),
                _ = interrupt.recv() => Control::Shutdown("SIGINT"),
            };
            if control.send(message).is_err() {
                return;
            }
        }
    });
    Ok(())
}
