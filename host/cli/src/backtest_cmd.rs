//! `lnpolicy backtest`: a policy run on the simulator in virtual time, reported per strategy
//! (and experiment arm) against the hindsight-best static fee.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use lnpolicy_backtest::{DEFAULT_GRID_PPM, GroupResult, Progress, Report, Spec};
use lnpolicy_policy::config::Config;

use crate::charge_cmd::load_registry;
use crate::sim_cmd::load_scenario;
use crate::strategy_cmd::parse_params;

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// Policy config (charge-lnd format, experiments included).
    #[arg(short = 'c', long = "config", conflicts_with = "strategy")]
    config: Option<PathBuf>,
    /// Instead of a config: one strategy for every channel.
    #[arg(long, required_unless_present = "config")]
    strategy: Option<String>,
    /// A parameter of --strategy, NAME=VALUE (repeatable).
    #[arg(long = "param", requires = "strategy")]
    params: Vec<String>,
    /// A scenario file, or a built-in scenario (balanced, one-way-drains, lnd-heavy, cln-heavy).
    #[arg(long, default_value = "balanced")]
    scenario: String,
    /// Virtual days per run.
    #[arg(long, default_value_t = 30)]
    days: u64,
    /// First seed (replaces the scenario's own).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many seeds: SEED, SEED+1, ...
    #[arg(long, default_value_t = 1)]
    seeds: u64,
    /// Minutes of virtual time between decisions.
    #[arg(long, default_value_t = 60)]
    cycle_minutes: u64,
    /// Folder of extra strategy `.wasm` files.
    #[arg(long, default_value = "~/.lnpolicy/strategies")]
    strategies: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: BacktestArgs) -> Result<ExitCode> {
    let scenario = load_scenario(&args.scenario)?;
    let config = match (&args.config, &args.strategy) {
        (Some(path), _) => Config::load(path).map_err(|errors| {
            anyhow::anyhow!(
                "{}",
                errors
                    .0
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?,
        (None, Some(strategy)) => {
            let mut text = format!("[default]\nstrategy = {strategy}\n");
            for (name, value) in parse_params(&args.params)? {
                text += &format!("{name} = {value}\n");
            }
            Config::parse("--strategy", &text).map_err(|e| anyhow::anyhow!("{e}"))?
        }
        (None, None) => bail!("give -c CONFIG or --strategy NAME"),
    };
    let registry = load_registry(&args.strategies)?;
    let known = lnpolicy_builtins::names().collect::<Vec<_>>().join(", ");
    let lookup = |name: &str| registry.get(name).map(|s| s.info().params.clone());
    let (errors, _) = config.check_strategies(&lookup, &known);
    if let Some(first) = errors.first() {
        bail!("{first}");
    }
    if args.seeds == 0 || args.days == 0 || args.cycle_minutes == 0 {
        bail!("--seeds, --days and --cycle-minutes must be at least 1");
    }
    let spec = Spec {
        scenario: &scenario,
        config: &config,
        days: args.days,
        seeds: (args.seed..args.seed + args.seeds).collect(),
        cycle_secs: args.cycle_minutes * 60,
        grid_ppm: DEFAULT_GRID_PPM.to_vec(),
    };
    let show_progress = std::io::stderr().is_terminal();
    let progress = |p: Progress| {
        if show_progress {
            let width = 30;
            let filled = (p.done * width / p.steps.max(1)) as usize;
            eprint!(
                "\rseed {}/{} [{}{}] {:>3}%",
                p.seed_index + 1,
                p.seeds,
                "#".repeat(filled),
                ".".repeat(width as usize - filled),
                p.done * 100 / p.steps.max(1)
            );
        }
    };
    let report = tokio::runtime::Runtime::new()?
        .block_on(lnpolicy_backtest::run(&spec, &registry, &progress))
        .context("backtest")?;
    if show_progress {
        eprintln!();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(report: &Report) {
    let seeds: Vec<String> = report.seeds.iter().map(|s| s.seed.to_string()).collect();
    println!(
        "backtest: scenario {}, {} days, a decision every {} min, seeds {}",
        report.scenario,
        report.days,
        report.cycle_secs / 60,
        seeds.join(", ")
    );
    println!(
        "{:<36} {:>8} {:>14} {:>16} {:>8} {:>12}",
        "STRATEGY", "CHANNELS", "REVENUE (sat)", "VOLUME (sat)", "SUCCESS", "% OF BEST"
    );
    for group in report.groups.iter().chain([&report.total]) {
        print_group(group);
    }
    if report.seeds.len() > 1 {
        println!("per seed:");
        for seed in &report.seeds {
            println!(
                "  seed {}: revenue {} sat, {} of best static",
                seed.seed,
                seed.total.revenue_msat / 1000,
                percent(seed.total.percent_of_best_static())
            );
        }
    }
    println!(
        "% OF BEST: revenue against each channel's hindsight-best static fee (grid search over {} levels on the same seeded market)",
        DEFAULT_GRID_PPM.len()
    );
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}%"))
}

fn print_group(group: &GroupResult) {
    println!(
        "{:<36} {:>8} {:>14} {:>16} {:>8} {:>12}",
        group.label,
        group.channels,
        group.revenue_msat / 1000,
        group.volume_msat / 1000,
        percent(group.success_rate().map(|r| r * 100.0)),
        percent(group.percent_of_best_static()),
    );
}
