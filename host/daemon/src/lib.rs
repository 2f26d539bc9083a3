//! The long-running lnpolicy (`lnpolicy daemon`): what turns the one-shot config cycle of
//! `lnpolicy -c` into something an operator leaves running next to the node.
//!
//! - **Schedule**: the collector runs every `collect_every` and a full config cycle
//!   (collect, decide, apply) every `decide_every`, on the daemon's clock: wall time against
//!   a real node, virtual time against the in-process simulator (`sim`).
//! - **Reload**: strategies follow the strategies folder (the runtime's watcher); the config
//!   is reloaded on SIGHUP or when one of its files changes (`config`), and a config that
//!   does not load or check leaves the running one in place.
//! - **Crash safety**: pending update intents are reconciled against the node before any
//!   cycle; SIGTERM/SIGINT let the cycle in flight finish (or abandon it at an await point,
//!   which leaves its intent pending for that reconciliation).
//! - **One instance per database** (`lock`), **metrics** over HTTP (`metrics`, `http`).

mod clock;
mod config;
mod control;
mod daemon;
mod events;
mod http;
mod lock;
mod metrics;
mod sim;
mod snapshot;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lnpolicy_core::NodeClient;
use lnpolicy_sim::Scenario;

pub use config::ConfigRejected;
pub use daemon::run;
pub use lock::DbLock;
pub use metrics::Metrics;
pub use snapshot::{Snapshot, SnapshotError};

/// Which node the daemon manages.
pub enum NodeSource {
    /// A node the caller connected to (LND or Core Lightning); the clock is the wall clock.
    Client(Box<dyn NodeClient>),
    /// A simulated node run in-process: its market advances `speed` virtual seconds per wall
    /// second, served over the real LND gRPC protocol on loopback and reached through the real
    /// LND client. Virtual time is the daemon's clock.
    Sim { scenario: Box<Scenario>, speed: u64 },
}

/// Everything `run` needs besides the node and the database lock.
pub struct DaemonOptions {
    /// The charge-lnd style config.
    pub config: PathBuf,
    /// The database; `run` requires its [`DbLock`] to be held.
    pub db: PathBuf,
    /// The strategies folder, watched for changes (created when missing).
    pub strategies: PathBuf,
    /// The sandbox's limits, where components are compiled, and where they are cached between
    /// restarts (`cache_dir`; `None` compiles on each start).
    pub runtime: lnpolicy_runtime::RuntimeConfig,
    pub collect_every: Duration,
    pub decide_every: Duration,
    /// Where to serve `GET /metrics`; port 0 picks a free one (logged).
    pub metrics: Option<SocketAddr>,
    /// How long a cycle in flight may still run after SIGTERM/SIGINT before it is abandoned.
    pub shutdown_grace: Duration,
    /// Decide on schedule and log what would be sent, on a copy of the database: send nothing
    /// and record nothing but the node's history.
    pub dry_run: bool,
    /// Stop by itself after this much time on the daemon's clock (virtual time with a
    /// simulated node): for demos and bounded runs. `None` runs until a signal.
    pub run_for: Option<Duration>,
}

/// Why the daemon did not start or stopped with an error. Every variant names what the
/// operator has to look at.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(
        "another lnpolicy process{} holds {}: one process at a time per database",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        path.display()
    )]
    AlreadyRunning { path: PathBuf, pid: Option<u32> },
    #[error("cannot use the lock file {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create {}: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] lnpolicy_store::StoreError),
    #[error(transparent)]
    Runtime(#[from] lnpolicy_runtime::RuntimeError),
    #[error(transparent)]
    Config(#[from] ConfigRejected),
    #[error("cannot watch the config {}: {source}", path.display())]
    ConfigWatch {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen for signals: {0}")]
    Signals(#[source] std::io::Error),
    #[error("the simulation scenario: {0}")]
    Scenario(#[from] lnpolicy_sim::ScenarioError),
    #[error("cannot start the simulated node: {0}")]
    SimServer(#[from] lnpolicy_sim::lnd_server::LndServerError),
    #[error("cannot reach the simulated node: {0}")]
    SimConnect(#[from] lnpolicy_node::lnd::LndError),
}

/// Parses an interval in charge-lnd's period syntax (`45s`, `10m`, `1h`, `7d` or seconds).
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    lnpolicy_policy::config::parse_duration(text)
        .map(Duration::from_secs)
        .ok_or_else(|| {
            format!(
                "{text:?} is not a period: expected e.g. 45s, 10m, 1h, 7d or a number of seconds"
            )
        })
}
