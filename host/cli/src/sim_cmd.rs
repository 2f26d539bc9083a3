//! `lnpolicy sim serve`: the simulated node over the real LND and CLN
//! protocols, for pointing lnpolicy or any other tool at it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::sync::Arc;

use lnpolicy_core::{NodeClient, NodeKind};
use lnpolicy_engine::{CyclePlan, run_once};
use lnpolicy_node::cln::{ClnClient, ClnConfig};
use lnpolicy_node::lnd::LndClient;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::NoHistory;
use lnpolicy_sim::cln_server::{ClnServer, ClnServerConfig, FaultConfig, MethodFaults};
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig};
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use lnpolicy_store::Store;

use crate::Stdout;

#[derive(Subcommand)]
pub enum SimCommand {
    /// Serve a simulated node (LND gRPC over TLS and CLN JSON-RPC) until interrupted.
    Serve {
        /// A scenario file, or the name of a built-in one (balanced, one-way-drains, lnd-heavy, cln-heavy).
        #[arg(long)]
        scenario: String,
        /// Where to write the TLS certificate, macaroons and the CLN socket (default: a new temporary folder).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The gRPC listen address.
        #[arg(long, default_value = "127.0.0.1:0")]
        grpc_listen: SocketAddr,
        /// Virtual seconds the market advances per real second.
        #[arg(long, default_value_t = 60)]
        speed: u64,
        /// Run the market on the machine's clock: it starts `--history-days` before now, plays
        /// that history at once, then keeps pace with the clock. `lnpolicy -c` and the daemon
        /// read the machine's clock, so pointed at such a node their windows hold its forwards.
        #[arg(long, conflicts_with = "speed")]
        wall_clock: bool,
        /// With --wall-clock: days of market history played before the node is served.
        #[arg(long, default_value_t = 7, requires = "wall_clock")]
        history_days: u64,
        /// Share of calls answered with an error (fault injection), 0..1.
        #[arg(long, default_value_t = 0.0)]
        error_rate: f64,
        /// Stop after this many real seconds (default: run until Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
    },
    /// Run lnpolicy's full cycle (collect, decide, apply) against a simulated node over the
    /// real LND or CLN protocol, in virtual time, and print what it earned.
    Run {
        /// A scenario file, or the name of a built-in one.
        #[arg(long, default_value = "balanced")]
        scenario: String,
        /// The strategy: a built-in name or a `.wasm` file.
        #[arg(long, default_value = "balance_based")]
        strategy: String,
        /// A strategy parameter, `name=value` (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Which protocol lnpolicy speaks to the simulated node.
        #[arg(long, default_value = "lnd", value_parser = ["lnd", "cln"])]
        node: String,
        /// Virtual hours to run.
        #[arg(long, default_value_t = 72)]
        hours: u64,
        /// Virtual minutes between cycles.
        #[arg(long, default_value_t = 60)]
        cycle_minutes: u64,
    },
}

pub fn run(command: SimCommand) -> Result<ExitCode> {
    match command {
        SimCommand::Serve {
            scenario,
            dir,
            grpc_listen,
            speed,
            wall_clock,
            history_days,
            error_rate,
            duration,
        } => {
            if !(0.0..=1.0).contains(&error_rate) {
                bail!("--error-rate {error_rate}: expected a share between 0 and 1");
            }
            let mut scenario = load_scenario(&scenario)?;
            let pace = if wall_clock {
                let history = history_days.saturating_mul(86_400);
                scenario.start_unix = crate::charge_cmd::unix_now()?.saturating_sub(history);
                // The scenario's height belongs to its own date; estimated from the new one.
                scenario.node.block_height = None;
                Pace::WallClock { history }
            } else {
                Pace::Speed(speed)
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(serve(
                scenario,
                dir,
                grpc_listen,
                pace,
                error_rate,
                duration,
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        SimCommand::Run {
            scenario,
            strategy,
            params,
            node,
            hours,
            cycle_minutes,
        } => {
            if cycle_minutes == 0 {
                bail!("--cycle-minutes must be at least 1");
            }
            let run = SimRun {
                scenario: load_scenario(&scenario)?,
                strategy,
                params: crate::strategy_cmd::parse_params(&params)?,
                node: if node == "cln" {
                    NodeKind::Cln
                } else {
                    NodeKind::Lnd
                },
                cycles: hours * 60 / cycle_minutes,
                cycle_secs: cycle_minutes * 60,
            };
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(run_cycles(run))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

struct SimRun {
    scenario: Scenario,
    strategy: String,
    params: Vec<(String, String)>,
    node: NodeKind,
    cycles: u64,
    cycle_secs: u64,
}

/// Drives the real engine and the real client against the simulated node.
async fn run_cycles(run: SimRun) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary folder")?;
    let mut live = LiveSimulation::new(Simulation::try_new(run.scenario)?);
    let registry = crate::strategy_cmd::registry_with(&run.strategy)?;
    let name = registry_name(&run.strategy);
    let strategy = registry.get(&name).context("strategy just registered")?;
    let params = lnpolicy_policy::params::resolve(&strategy.info().params, &run.params)?;
    let guard = GuardConfig {
        min_update_interval_secs: run.cycle_secs,
        ..GuardConfig::new(run.node)
    };
    let store = Store::open(&dir.path().join("lnpolicy.db"))?;
    let lnd;
    let cln;
    let client: Box<dyn NodeClient> = match run.node {
        NodeKind::Lnd => {
            lnd = LndServer::start(live.shared(), LndServerConfig::new(dir.path().join("lnd")))
                .await?;
            Box::new(LndClient::connect(&lnd.client_config(lnd.lnpolicy_macaroon_path())).await?)
        }
        NodeKind::Cln => {
            let socket = dir.path().join("lightning-rpc");
            cln = ClnServer::start(live.shared(), &socket, ClnServerConfig::default()).await?;
            Box::new(ClnClient::connect(ClnConfig::new(cln.socket_path())).await?)
        }
    };
    writeln!(
        Stdout,
        "{name} over {}: {} channels, {} cycles of {} min",
        if run.node == NodeKind::Lnd {
            "LND gRPC"
        } else {
            "CLN JSON-RPC"
        },
        live.simulation().state().channels.len(),
        run.cycles,
        run.cycle_secs / 60
    )?;
    writeln!(
        Stdout,
        "{:>6} {:>10} {:>14} {:>9} {:>8}",
        "HOUR", "FORWARDS", "REVENUE (sat)", "UPDATES", "FAILED"
    )?;
    let mut updates = 0;
    let mut failed_cycles = 0;
    for cycle in 1..=run.cycles {
        live.advance(run.cycle_secs);
        let now = live.simulation().now_ns() / 1_000_000_000;
        let plan = CyclePlan {
            strategy: &name,
            params: &params,
            guard: &guard,
            history: Arc::new(NoHistory),
            dry_run: false,
            min_fee_ppm_delta: 0,
            max_updates_per_hour: None,
        };
        match run_once(client.as_ref(), &store, &registry, plan, now).await {
            Ok(outcome) => {
                if let Some(error) = &outcome.decided.error {
                    failed_cycles += 1;
                    writeln!(Stdout, "cycle {cycle}: strategy failed: {error}")?;
                }
                updates += outcome.applied.map_or(0, |a| a.applied.len());
            }
            Err(error) => {
                failed_cycles += 1;
                writeln!(Stdout, "cycle {cycle}: {error}")?;
            }
        }
        if cycle == run.cycles || (cycle * run.cycle_secs).is_multiple_of(6 * 3600) {
            let revenue: u64 = live
                .simulation()
                .totals()
                .iter()
                .map(|t| t.revenue_msat)
                .sum();
            let market = live.simulation().market_totals();
            writeln!(
                Stdout,
                "{:>6} {:>10} {:>14} {updates:>9} {:>8}",
                cycle * run.cycle_secs / 3600,
                market.forwards,
                revenue / 1000,
                market.failures
            )?;
        }
    }
    let calls = live.shared().lock().map(|s| s.calls.len()).unwrap_or(0);
    writeln!(
        Stdout,
        "done: {updates} policy updates, {calls} node calls, {failed_cycles} failed cycles"
    )?;
    Ok(())
}

/// The registry name of a strategy argument: a built-in's name or a file's stem.
fn registry_name(strategy: &str) -> String {
    Path::new(strategy)
        .file_stem()
        .filter(|_| strategy.ends_with(".wasm"))
        .map_or_else(
            || strategy.to_owned(),
            |stem| stem.to_string_lossy().into_owned(),
        )
}

/// A file path if one exists by that name, else a built-in scenario.
pub fn load_scenario(name: &str) -> Result<Scenario> {
    if Path::new(name).is_file() {
        return Ok(Scenario::from_file(name)?);
    }
    Scenario::builtin(name).with_context(|| {
        let names: Vec<&str> = lnpolicy_sim::scenario::BUILTIN
            .iter()
            .map(|(n, _)| *n)
            .collect();
        format!(
            "no scenario file {name:?} and no built-in scenario of that name (built-ins: {})",
            names.join(", ")
        )
    })
}

/// How the served market's clock runs.
enum Pace {
    /// Virtual seconds per real second, from the scenario's start.
    Speed(u64),
    /// `history` seconds played at once, then the machine's clock.
    WallClock { history: u64 },
}

async fn serve(
    scenario: Scenario,
    dir: Option<PathBuf>,
    grpc_listen: SocketAddr,
    pace: Pace,
    error_rate: f64,
    duration: Option<u64>,
) -> Result<()> {
    let temp;
    let dir = match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            dir
        }
        None => {
            temp = tempfile::tempdir().context("creating a temporary folder")?;
            temp.path().to_owned()
        }
    };
    let faults = FaultConfig::uniform(
        scenario.seed,
        MethodFaults {
            error_rate,
            ..MethodFaults::default()
        },
    );
    let mut live = LiveSimulation::new(Simulation::try_new(scenario)?);
    if let Pace::WallClock { history } = pace {
        live.advance(history);
    }
    let lnddir = dir.join("lnd");
    let mut lnd_config = LndServerConfig::new(&lnddir);
    lnd_config.listen = grpc_listen;
    lnd_config.faults = faults.clone();
    let lnd = LndServer::start(live.shared(), lnd_config).await?;
    let socket = dir.join("lightning-rpc");
    let cln = ClnServer::start(
        live.shared(),
        &socket,
        ClnServerConfig {
            faults,
            ..ClnServerConfig::default()
        },
    )
    .await?;
    let info = live
        .shared()
        .lock()
        .map(|s| s.info.clone())
        .unwrap_or_else(|e| e.into_inner().info.clone());
    writeln!(
        Stdout,
        "simulated node {} ({}) with {} channels",
        info.alias,
        info.pubkey,
        live.simulation().state().channels.len()
    )?;
    writeln!(Stdout, "LND gRPC:      {}", lnd.addr())?;
    writeln!(Stdout, "  tls cert:    {}", lnd.cert_path().display())?;
    writeln!(
        Stdout,
        "  macaroon:    {} (exactly lnpolicy's methods)",
        lnd.lnpolicy_macaroon_path().display()
    )?;
    writeln!(
        Stdout,
        "  admin:       {}",
        lnd.admin_macaroon_path().display()
    )?;
    writeln!(Stdout, "CLN JSON-RPC:  {}", cln.socket_path().display())?;
    match pace {
        Pace::Speed(speed) => writeln!(
            Stdout,
            "market: {speed} virtual seconds per second; Ctrl-C stops"
        )?,
        Pace::WallClock { history } => writeln!(
            Stdout,
            "market: on this machine's clock, {} days of history; Ctrl-C stops",
            history / 86_400
        )?,
    }
    let deadline = duration.map(|secs| tokio::time::Instant::now() + Duration::from_secs(secs));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => live.advance(match pace {
                Pace::Speed(speed) => speed,
                // What the market owes the clock, so that it never drifts from it.
                Pace::WallClock { .. } => crate::charge_cmd::unix_now()?
                    .saturating_sub(live.simulation().state().now_ns / 1_000_000_000),
            }),
            _ = tokio::signal::ctrl_c() => break,
            _ = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } else { std::future::pending().await } } => break,
        }
    }
    lnd.shutdown().await;
    cln.shutdown().await;
    Ok(())
}
