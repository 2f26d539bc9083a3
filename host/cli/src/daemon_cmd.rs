//! `lnpolicy daemon -c FILE`: the config of `lnpolicy -c`, run on a schedule until SIGTERM,
//! with the same node flags (LND, `--cln-rpc`) or an in-process simulated node (`--sim`).
//! The behaviour lives in `lnpolicy-daemon`; this is flags, logging and exit status.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use lnpolicy_daemon::{DaemonOptions, DbLock, NodeSource, parse_interval};
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

use crate::charge_cmd::{NodeArgs, expand_home};

#[derive(Args)]
pub struct DaemonArgs {
    /// charge-lnd style policy config; reloaded on SIGHUP and whenever one of its files
    /// changes (a config with errors is rejected and the running one kept).
    #[arg(short = 'c', long = "config", env = "CONFIG_LOCATION")]
    config: PathBuf,
    #[command(flatten)]
    node: NodeArgs,
    /// Manage an in-process simulated node instead of LND/CLN: a scenario file or a built-in
    /// scenario (balanced, one-way-drains, lnd-heavy, cln-heavy). Its virtual time is the
    /// daemon's clock. Without --db, the database is a temporary one.
    #[arg(long, value_name = "SCENARIO", conflicts_with = "cln_rpc")]
    sim: Option<String>,
    /// Virtual seconds per wall second with --sim.
    #[arg(long, default_value_t = 60, requires = "sim", value_parser = clap::value_parser!(u64).range(1..))]
    speed: u64,
    /// How often to collect channels and forwarding history between cycles (e.g. 30s, 10m, 1h).
    #[arg(long, default_value = "10m", value_parser = parse_interval)]
    collect_every: Duration,
    /// How often to run the config: collect, decide, apply (e.g. 15m, 1h, 1d).
    #[arg(long, default_value = "1h", value_parser = parse_interval)]
    decide_every: Duration,
    /// Serve Prometheus metrics at http://ADDR/metrics (port 0 picks one; it is logged).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<SocketAddr>,
    /// Log lines as text or as one JSON object each.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// After SIGTERM/SIGINT, how long the cycle in flight may still run before it is
    /// abandoned (its update in flight is then reconciled at the next start); 0 abandons at once.
    #[arg(long, default_value = "30s", value_parser = parse_grace)]
    shutdown_grace: Duration,
    /// Watch only: decide on schedule and log each update that would be sent ("dry run: would
    /// update"), on a copy of the database; send nothing, record nothing but the node's history.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn parse_grace(text: &str) -> Result<Duration, String> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    parse_interval(text)
}

/// Runs the daemon; exit status 0 after SIGTERM/SIGINT, 1 when it cannot start (another
/// daemon holds the database, the config has errors, the node cannot be reached).
/// `db_typed`: whether `--db` was given on the command line.
pub fn run(args: DaemonArgs, db_typed: bool, verbose: u8) -> Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    // SIGHUP's default action ends the process, and systemd does not restart a unit that
    // ended on it: a reload sent while the daemon still connects to the node would stop fee
    // management for good. Handled from here on (a handler, once installed, stays for the
    // process's life); one before the daemon forwards signals is dropped, as the config is
    // read after that anyway. SIGTERM and SIGINT keep their default until then: a stop.
    let early_hangups = {
        let _context = runtime.enter();
        signal(SignalKind::hangup()).context("listening for SIGHUP")?
    };
    init_logs(args.log_format, verbose);
    // A simulated node's history must not mix with a real node's: with --sim only a --db typed
    // for it is used, not the default nor LNPOLICY_DB, which name the real node's database.
    let temporary_db = match &args.sim {
        Some(_) if !db_typed => Some(
            tempfile::Builder::new()
                .prefix("lnpolicy-daemon-")
                .tempdir()
                .context("creating a temporary database folder")?,
        ),
        _ => None,
    };
    let db = match &temporary_db {
        Some(dir) => dir.path().join("lnpolicy.db"),
        None => expand_home(&args.node.db),
    };
    let lock = DbLock::acquire(&db)?;
    let compile_cache = db.parent().map(|dir| dir.join("compile-cache"));
    let options = DaemonOptions {
        config: args.config,
        db,
        strategies: expand_home(&args.node.strategies),
        runtime: crate::compiling::runtime_config(compile_cache),
        collect_every: args.collect_every,
        decide_every: args.decide_every,
        metrics: args.metrics,
        shutdown_grace: args.shutdown_grace,
        dry_run: args.dry_run,
        run_for: None,
    };
    let scenario = args
        .sim
        .as_deref()
        .map(crate::sim_cmd::load_scenario)
        .transpose()?;
    runtime.block_on(async {
        let node = match scenario {
            Some(scenario) => NodeSource::Sim {
                scenario: Box::new(scenario),
                speed: args.speed,
            },
            None => NodeSource::Client(args.node.connect().await?),
        };
        drop(early_hangups);
        lnpolicy_daemon::run(options, node, lock).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Daemons log at info even without `-v` (`-vv` debug, as for every command; `RUST_LOG`
/// overrides), to stderr, where systemd and container runtimes collect it.
fn init_logs(format: LogFormat, verbose: u8) {
    let level = if verbose >= 2 { "debug" } else { "info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_current_span(true).init(),
    }
}
