//! `lnpolicy sim serve`: the simulated node over the real LND and CLN
//! protocols, for pointing lnpolicy or any other tool at it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use lnpolicy_sim::cln_server::{ClnServer, ClnServerConfig, FaultConfig, MethodFaults};
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig};
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};

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
        /// Share of calls answered with an error (fault injection), 0..1.
        #[arg(long, default_value_t = 0.0)]
        error_rate: f64,
        /// Stop after this many real seconds (default: run until Ctrl-C).
        #[arg(long)]
        duration: Option<u64>,
    },
}

pub fn run(command: SimCommand) -> Result<ExitCode> {
    match command {
        SimCommand::Serve {
            scenario,
            dir,
            grpc_listen,
            speed,
            error_rate,
            duration,
        } => {
            if !(0.0..=1.0).contains(&error_rate) {
                bail!("--error-rate {error_rate}: expected a share between 0 and 1");
            }
            let scenario = load_scenario(&scenario)?;
            let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
            runtime.block_on(serve(
                scenario,
                dir,
                grpc_listen,
                speed,
                error_rate,
                duration,
            ))?;
            Ok(ExitCode::SUCCESS)
        }
    }
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

async fn serve(
    scenario: Scenario,
    dir: Option<PathBuf>,
    grpc_listen: SocketAddr,
    speed: u64,
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
    println!(
        "simulated node {} ({}) with {} channels",
        info.alias,
        info.pubkey,
        live.simulation().state().channels.len()
    );
    println!("LND gRPC:      {}", lnd.addr());
    println!("  tls cert:    {}", lnd.cert_path().display());
    println!(
        "  macaroon:    {} (exactly lnpolicy's methods)",
        lnd.lnpolicy_macaroon_path().display()
    );
    println!("  admin:       {}", lnd.admin_macaroon_path().display());
    println!("CLN JSON-RPC:  {}", cln.socket_path().display());
    println!("market: {speed} virtual seconds per second; Ctrl-C stops");
    let deadline = duration.map(|secs| tokio::time::Instant::now() + Duration::from_secs(secs));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => live.advance(speed),
            _ = tokio::signal::ctrl_c() => break,
            _ = async { if let Some(d) = deadline { tokio::time::sleep_until(d).await } else { std::future::pending().await } } => break,
        }
    }
    lnd.shutdown().await;
    cln.shutdown().await;
    Ok(())
}
