//! The `lnpolicy` command line: the only place that turns typed errors into
//! `anyhow` reports and exit codes.

mod sim_cmd;
mod strategy_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "lnpolicy",
    version,
    about = "Lightning channel fees set by sandboxed WebAssembly strategies"
)]
struct Cli {
    /// More log output (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect, validate and try strategy components.
    #[command(subcommand)]
    Strategy(strategy_cmd::StrategyCommand),
    /// Run the built-in simulator.
    #[command(subcommand)]
    Sim(sim_cmd::SimCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level)),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Strategy(command) => strategy_cmd::run(command),
        Command::Sim(command) => sim_cmd::run(command),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
