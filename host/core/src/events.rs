use serde::{Deserialize, Serialize};

/// Something that happened to a strategy: the audit trail operators read when
/// asking "why did my fee not change?".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StrategyEvent {
    /// Unix seconds.
    pub at: u64,
    /// The name the strategy is known by (its file stem or built-in name).
    pub strategy: String,
    /// Content hash of the component, hex; empty when the file could not be read.
    pub sha256: String,
    pub kind: StrategyEventKind,
    /// Human-readable detail: the error, the trap message, what was cut.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyEventKind {
    /// Loaded for the first time.
    Loaded,
    /// A changed file replaced the running version.
    Reloaded,
    /// A file failed validation; the previous version (if any) keeps running.
    Rejected,
    /// The file was removed.
    Unloaded,
    /// A call trapped, timed out, returned an error or malformed output.
    CallFailed,
    /// The host could not run a call (no thread, no instance slot): not the guest's failure,
    /// and not counted toward quarantine.
    HostFailed,
    /// The guest's output was accepted but something in it was cut (reason, log).
    OutputTruncated,
    /// Too many failed cycles in a row: not called until its file changes, the daemon
    /// restarts or is sent SIGHUP.
    Quarantined,
    /// Its quarantine was lifted by SIGHUP: called again.
    Released,
}

impl StrategyEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StrategyEventKind::Loaded => "loaded",
            StrategyEventKind::Reloaded => "reloaded",
            StrategyEventKind::Rejected => "rejected",
            StrategyEventKind::Unloaded => "unloaded",
            StrategyEventKind::CallFailed => "call_failed",
            StrategyEventKind::HostFailed => "host_failed",
            StrategyEventKind::OutputTruncated => "output_truncated",
            StrategyEventKind::Quarantined => "quarantined",
            StrategyEventKind::Released => "released",
        }
    }
}

/// Where strategy events go (the store, in the daemon). Must not block for long:
/// it is called from the reload thread and from decision cycles.
pub trait EventSink: Send + Sync {
    fn record(&self, event: &StrategyEvent);
}

/// Drops events; for tools that only inspect a file.
pub struct NullEventSink;

impl EventSink for NullEventSink {
    fn record(&self, _event: &StrategyEvent) {}
}
