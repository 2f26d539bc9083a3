//! `lnpolicy backtest`: policies run on the simulator in virtual time, each reported per
//! strategy (and experiment arm) against the hindsight-best static fee.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use lnpolicy_backtest::{
    ChannelResult, Comparison, DEFAULT_GRID_PPM, GroupResult, Policy, Progress, Report, Spec,
};
use lnpolicy_policy::config::Config;
use lnpolicy_runtime::RegistryConfig;

use crate::Stdout;
use crate::charge_cmd::load_registry_with;
use crate::sim_cmd::load_scenario;
use crate::strategy_cmd::parse_params;

/// Threads by default on a large machine: each holds a simulated node and a database.
const MAX_DEFAULT_JOBS: usize = 16;
/// Threads at most: half the runtime's pool of guest instances, so that the calls in flight
/// never wait for a slot, whatever else (validations) holds one.
const MAX_JOBS: usize = 32;
/// The wall-clock backstop of one guest call in a backtest (the daemon's is 2 s): far beyond
/// what the fuel limit allows a guest to compute, so only a guest stuck in a host import
/// reaches it.
const BACKTEST_CALL_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

#[derive(Args, Debug)]
pub struct BacktestArgs {
    /// Policy config (charge-lnd format, experiments included); repeat to compare several.
    #[arg(short = 'c', long = "config")]
    configs: Vec<PathBuf>,
    /// Instead of a config: one strategy for every channel; repeat to compare several.
    #[arg(long, required_unless_present = "configs")]
    strategy: Vec<String>,
    /// A parameter of every --strategy, NAME=VALUE (repeatable).
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
    /// Threads running policies and seeds side by side [default: the CPUs, at most 16]. The
    /// report is the same whatever the number.
    #[arg(long)]
    jobs: Option<usize>,
    /// Folder of extra strategy `.wasm` files.
    #[arg(long, default_value = "~/.lnpolicy/strategies")]
    strategies: String,
    /// Print the report as JSON (a list of reports, one per policy, when comparing several).
    #[arg(long)]
    json: bool,
    /// Also show each channel against its own best static fee (JSON always has them, with
    /// what every level of the grid earned).
    #[arg(long)]
    per_channel: bool,
    /// Look for the hindsight-best static fee only up to this fee, ppm: the reference for an
    /// operator who would not charge more [default: 50000, the guard's default ceiling].
    #[arg(long, value_name = "PPM")]
    grid_max_ppm: Option<u32>,
}

pub fn run(args: BacktestArgs) -> Result<ExitCode> {
    let scenario = load_scenario(&args.scenario)?;
    let mut configs: Vec<(String, Config)> = Vec::new();
    for path in &args.configs {
        let config = Config::load(path).map_err(|errors| {
            anyhow::anyhow!(
                "{}",
                errors
                    .0
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })?;
        configs.push((path.display().to_string(), config));
    }
    let params = parse_params(&args.params)?;
    for strategy in &args.strategy {
        let mut text = format!("[default]\nstrategy = {strategy}\n");
        let mut label = strategy.clone();
        for (name, value) in &params {
            text += &format!("{name} = {value}\n");
            label += &format!(" {name}={value}");
        }
        let source = format!("--strategy {strategy}");
        let config = Config::parse(&source, &text).map_err(|e| anyhow::anyhow!("{e}"))?;
        configs.push((label, config));
    }
    if configs.is_empty() {
        bail!("give -c CONFIG or --strategy NAME");
    }
    // The runs share one registry: a quarantine would let one run's failures switch the
    // strategy off for the others, at a point that depends on the threads. Every failed
    // decision is counted in the report instead. Calls are bounded by fuel, which is
    // deterministic; the wall-clock deadline, which a loaded machine or more --jobs would
    // reach sooner, is only a backstop here, so the report does not depend on them.
    let mut runtime = crate::compiling::runtime_config(None);
    runtime.limits.timeout_base = BACKTEST_CALL_DEADLINE;
    let registry = load_registry_with(
        &args.strategies,
        RegistryConfig {
            quarantine_after: u32::MAX,
            ..RegistryConfig::default()
        },
        runtime,
    )?;
    let known = lnpolicy_builtins::names().collect::<Vec<_>>().join(", ");
    let lookup = |name: &str| registry.get(name).map(|s| s.info().params.clone());
    for (_, config) in &configs {
        let (errors, _) = config.check_strategies(&lookup, &known);
        if let Some(first) = errors.first() {
            bail!("{first}");
        }
    }
    if args.seeds == 0 || args.days == 0 || args.cycle_minutes == 0 || args.jobs == Some(0) {
        bail!("--seeds, --days, --cycle-minutes and --jobs must be at least 1");
    }
    if args.jobs.is_some_and(|jobs| jobs > MAX_JOBS) {
        bail!(
            "--jobs is at most {MAX_JOBS}: the sandbox keeps that many strategy instances at once"
        );
    }
    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_DEFAULT_JOBS))
    });
    let spec = Spec {
        scenario: &scenario,
        policies: configs
            .iter()
            .map(|(label, config)| Policy {
                label: label.clone(),
                config,
            })
            .collect(),
        days: args.days,
        seeds: (args.seed..args.seed + args.seeds).collect(),
        cycle_secs: args.cycle_minutes * 60,
        grid_ppm: args
            .grid_max_ppm
            .map_or_else(|| DEFAULT_GRID_PPM.to_vec(), lnpolicy_backtest::grid_up_to),
        jobs,
    };
    let show_progress = std::io::stderr().is_terminal();
    let progress = |p: Progress| {
        if show_progress {
            let width = 30;
            let filled = (p.done * width / p.steps.max(1)) as usize;
            eprint!(
                "\r{} seed(s) [{}{}] {:>3}%",
                spec.seeds.len(),
                "#".repeat(filled),
                ".".repeat(width as usize - filled),
                p.done * 100 / p.steps.max(1)
            );
        }
    };
    let reports = lnpolicy_backtest::run(&spec, &registry, &progress).context("backtest")?;
    if show_progress {
        eprintln!();
    }
    match (args.json, reports.as_slice()) {
        (true, [one]) => writeln!(Stdout, "{}", serde_json::to_string_pretty(one)?)?,
        (true, many) => {
            // Each policy after the first carries its paired comparison with the first.
            let comparisons = lnpolicy_backtest::compare(many);
            let mut listed = Vec::with_capacity(many.len());
            for (i, report) in many.iter().enumerate() {
                let mut value = serde_json::to_value(report)?;
                if let (Some(comparison), Some(fields)) = (
                    i.checked_sub(1).and_then(|i| comparisons.get(i)),
                    value.as_object_mut(),
                ) {
                    fields.insert(
                        "compared_with_first".to_owned(),
                        serde_json::to_value(comparison)?,
                    );
                }
                listed.push(value);
            }
            writeln!(Stdout, "{}", serde_json::to_string_pretty(&listed)?)?;
        }
        (false, [one]) => print_report(one, args.per_channel)?,
        (false, many) => {
            for report in many {
                writeln!(Stdout, "policy: {}", report.policy)?;
                print_report(report, args.per_channel)?;
                writeln!(Stdout)?;
            }
            print_comparisons(&lnpolicy_backtest::compare(many))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Each policy against the first, seed by seed (see [`lnpolicy_backtest::Comparison`]).
fn print_comparisons(comparisons: &[Comparison]) -> Result<()> {
    let Some(first) = comparisons.first() else {
        return Ok(());
    };
    writeln!(
        Stdout,
        "compared with {}, seed by seed (% OF BEST, difference in percentage points):",
        first.baseline
    )?;
    writeln!(
        Stdout,
        "{:<36} {:>8} {:>20} {:>12}",
        "POLICY", "MEAN", "95% INTERVAL", "BETTER ON"
    )?;
    for c in comparisons {
        let (mean, interval) = match &c.paired {
            Some(p) => (
                format!("{:+.1}", p.difference),
                format!("{:+.1} to {:+.1}", p.interval.low, p.interval.high),
            ),
            None => (
                c.differences
                    .first()
                    .map_or_else(|| "-".to_owned(), |d| format!("{d:+.1}")),
                "-".to_owned(),
            ),
        };
        writeln!(
            Stdout,
            "{:<36} {:>8} {:>20} {:>12}",
            c.policy,
            mean,
            interval,
            format!("{} of {}", c.better_on, c.differences.len())
        )?;
    }
    Ok(())
}

fn print_report(report: &Report, per_channel: bool) -> Result<()> {
    let seeds: Vec<String> = report.seeds.iter().map(|s| s.seed.to_string()).collect();
    writeln!(
        Stdout,
        "backtest: scenario {}, {} days, a decision every {} min, seeds {}",
        report.scenario,
        report.days,
        report.cycle_secs / 60,
        seeds.join(", ")
    )?;
    writeln!(
        Stdout,
        "{:<36} {:>8} {:>14} {:>16} {:>8} {:>12}",
        "STRATEGY", "CHANNELS", "REVENUE (sat)", "VOLUME (sat)", "SUCCESS", "% OF BEST"
    )?;
    for group in report.groups.iter().chain([&report.total]) {
        print_group(group)?;
    }
    if report.seeds.len() > 1 {
        writeln!(
            Stdout,
            "REVENUE and VOLUME are summed over the {} seeds; CHANNELS are one run's",
            report.seeds.len()
        )?;
    }
    if report.total.failed_decisions > 0 {
        writeln!(
            Stdout,
            "warning: {} decisions failed and left their channel unchanged for a cycle (the first error of each channel is logged above)",
            report.total.failed_decisions
        )?;
    }
    if per_channel {
        print_channels(report)?;
    }
    if report.seeds.len() > 1 {
        writeln!(Stdout, "per seed:")?;
        for seed in &report.seeds {
            writeln!(
                Stdout,
                "  seed {}: revenue {} sat, {} of best static",
                seed.seed,
                seed.total.revenue_msat / 1000,
                percent(seed.total.percent_of_best_static())
            )?;
        }
    }
    writeln!(
        Stdout,
        "% OF BEST: revenue against each channel's hindsight-best static fee (grid search over {} levels up to {} ppm on the same seeded market)",
        report.grid_ppm.len(),
        report.grid_ppm.iter().max().copied().unwrap_or_default()
    )?;
    let top = report.grid_ppm.iter().max().copied().unwrap_or_default();
    let at_top: usize = report
        .seeds
        .iter()
        .map(|seed| {
            seed.channels
                .iter()
                .filter(|c| c.best_static_ppm == top)
                .count()
        })
        .sum();
    if at_top > 0 {
        writeln!(
            Stdout,
            "note: {at_top} channel run(s) earned most at the grid's top level ({top} ppm); % OF BEST measures them against that fee, though a higher one may have earned more"
        )?;
    }
    note_untried(report)?;
    Ok(())
}

/// Names the channels whose best static fee is more than twice the highest fee the policy set
/// on them: a reference the policy never came near, such as a captive peer's, which a
/// strategy's own ceiling may rule out.
fn note_untried(report: &Report) -> Result<()> {
    let mut untried: Vec<&ChannelResult> = report
        .seeds
        .iter()
        .flat_map(|seed| &seed.channels)
        .filter(|c| c.best_static_revenue_msat > 0)
        .filter(|c| c.best_static_ppm > c.highest_fee_ppm.saturating_mul(2))
        .collect();
    if untried.is_empty() {
        return Ok(());
    }
    let stake: i64 = untried.iter().map(|c| c.best_static_revenue_msat).sum();
    let reference = report.total.best_static_revenue_msat.max(1);
    untried.sort_by_key(|c| std::cmp::Reverse(c.best_static_revenue_msat));
    let most = untried[0];
    writeln!(
        Stdout,
        "note: {} channel run(s) earned most at more than twice the highest fee the policy set on them ({:.0}% of the reference); the largest: {}, best {} ppm, the policy's highest {} ppm (--grid-max-ppm measures against a ceiling)",
        untried.len(),
        100.0 * stake as f64 / reference as f64,
        most.peer_alias,
        most.best_static_ppm,
        most.highest_fee_ppm
    )?;
    Ok(())
}

/// Each channel, named by its peer (its id changes with the seed) and summed over the seeds,
/// against its own best static fee; the channels with most at stake first.
fn print_channels(report: &Report) -> Result<()> {
    struct Row<'a> {
        peer: &'a str,
        revenue_msat: i64,
        best_static_revenue_msat: i64,
        best_ppm: Vec<String>,
    }
    let mut rows: Vec<Row<'_>> = Vec::new();
    for channel in report.seeds.iter().flat_map(|seed| &seed.channels) {
        let index = match rows.iter().position(|r| r.peer == channel.peer_alias) {
            Some(index) => index,
            None => {
                rows.push(Row {
                    peer: &channel.peer_alias,
                    revenue_msat: 0,
                    best_static_revenue_msat: 0,
                    best_ppm: Vec::new(),
                });
                rows.len() - 1
            }
        };
        let row = &mut rows[index];
        row.revenue_msat += channel.revenue_msat;
        row.best_static_revenue_msat += channel.best_static_revenue_msat;
        row.best_ppm.push(channel.best_static_ppm.to_string());
    }
    rows.sort_by_key(|row| std::cmp::Reverse(row.best_static_revenue_msat));
    writeln!(
        Stdout,
        "per channel{}:",
        if report.seeds.len() > 1 {
            ", summed over the seeds (BEST FEE: each seed's)"
        } else {
            ""
        }
    )?;
    writeln!(
        Stdout,
        "  {:<34} {:>14} {:>18} {:>10}  BEST FEE (ppm)",
        "PEER", "REVENUE (sat)", "BEST STATIC (sat)", "% OF BEST"
    )?;
    for row in rows {
        let share = (row.best_static_revenue_msat > 0)
            .then(|| 100.0 * row.revenue_msat as f64 / row.best_static_revenue_msat as f64);
        writeln!(
            Stdout,
            "  {:<34} {:>14} {:>18} {:>10}  {}",
            row.peer,
            row.revenue_msat / 1000,
            row.best_static_revenue_msat / 1000,
            percent(share),
            row.best_ppm.join("/")
        )?;
    }
    Ok(())
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}%"))
}

fn print_group(group: &GroupResult) -> Result<()> {
    writeln!(
        Stdout,
        "{:<36} {:>8} {:>14} {:>16} {:>8} {:>12}",
        group.label,
        group.channels,
        group.revenue_msat / 1000,
        group.volume_msat / 1000,
        percent(group.success_rate().map(|r| r * 100.0)),
        percent(group.percent_of_best_static()),
    )?;
    Ok(())
}
