//! `lnpolicy demo`: the daemon against the in-process simulated node with an accelerated
//! clock and a shipped config with an A/B experiment, progress while it runs, and the
//! experiment report at the end. Needs no node and no set-up.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use lnpolicy_daemon::{DaemonOptions, DbLock, NodeSource};
use lnpolicy_report::{ExperimentOptions, experiment_report, html, text};
use lnpolicy_store::Store;

use crate::Stdout;
use crate::sim_cmd::load_scenario;

/// The shipped config.
const CONFIG: &str = include_str!("demo.config");
/// Its experiment.
const EXPERIMENT: &str = "demo";

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Virtual days to run.
    #[arg(long, default_value_t = 14, value_parser = clap::value_parser!(u64).range(1..=365))]
    days: u64,
    /// Virtual seconds per wall second.
    #[arg(long, default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    speed: u64,
    /// A scenario file, or a built-in scenario.
    #[arg(long, default_value = "balanced")]
    scenario: String,
    /// Keep the demo's files (config, database, HTML report) here instead of a temporary
    /// folder.
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let scenario = load_scenario(&args.scenario)?;
    let temp;
    let dir = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let config = dir.join("demo.config");
    std::fs::write(&config, CONFIG).with_context(|| format!("writing {}", config.display()))?;
    let db = dir.join("lnpolicy.db");
    let start = scenario.start_unix;
    let end = start + args.days * 86_400;
    writeln!(
        Stdout,
        "lnpolicy demo: the daemon runs {} on the simulated node '{}' ({} channels) for {} virtual days,",
        config.display(),
        scenario.name,
        scenario.channels.len(),
        args.days
    )?;
    writeln!(
        Stdout,
        "deciding every virtual hour; one virtual day takes {:.1} s. Half the channels run hill_climber, half balance_based.",
        86_400.0 / args.speed as f64
    )?;
    let options = DaemonOptions {
        config,
        db: db.clone(),
        strategies: dir.join("strategies"),
        runtime: crate::compiling::runtime_config(Some(dir.join("cache"))),
        collect_every: Duration::from_secs(6 * 3600),
        decide_every: Duration::from_secs(3600),
        metrics: None,
        shutdown_grace: Duration::from_secs(5),
        dry_run: false,
        run_for: Some(Duration::from_secs(args.days * 86_400)),
    };
    let lock = DbLock::acquire(&db)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let done = Arc::new(AtomicBool::new(false));
    runtime.block_on(async {
        let progress = tokio::spawn(progress(db.clone(), start, Arc::clone(&done)));
        let result = lnpolicy_daemon::run(
            options,
            NodeSource::Sim {
                scenario: Box::new(scenario),
                speed: args.speed,
            },
            lock,
        )
        .await;
        done.store(true, Ordering::Relaxed);
        let shown = progress.await;
        result?;
        shown?
    })?;

    let store = Store::open(&db)?;
    let report = experiment_report(&store, EXPERIMENT, end, &ExperimentOptions::default())?;
    writeln!(Stdout)?;
    write!(Stdout, "{}", text::experiment_table(&report))?;
    let page = dir.join("demo-report.html");
    if args.dir.is_some() {
        std::fs::write(&page, html::experiment_html(&report))
            .with_context(|| format!("writing {}", page.display()))?;
        writeln!(Stdout, "HTML report with charts: {}", page.display())?;
    } else {
        writeln!(
            Stdout,
            "(run with --dir DIR to keep the database and an HTML report with charts)"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per virtual day: strategy calls (one per group of channels per cycle), updates
/// applied, revenue so far.
async fn progress(db: PathBuf, start: u64, done: Arc<AtomicBool>) -> Result<()> {
    let mut shown_day = 0;
    let mut store = None;
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if store.is_none() && db.exists() {
            store = Store::open(&db).ok();
        }
        let Some(Ok(Some(summary))) = store.as_ref().map(Store::progress_summary) else {
            continue;
        };
        let day = summary.last_cycle_at.saturating_sub(start) / 86_400;
        if day > shown_day {
            shown_day = day;
            writeln!(
                Stdout,
                "day {day:>3}: {} strategy calls, {} updates applied, {} sat earned",
                summary.cycles,
                summary.updates_applied,
                summary.fees_msat / 1000
            )?;
        }
    }
    Ok(())
}
