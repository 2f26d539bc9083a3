//! `lnpolicy report` and `lnpolicy status`: read-only views of lnpolicy's database, safe to
//! run while the daemon writes to it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use lnpolicy_report::{
    ExperimentOptions, activity_report, experiment_report, html, status_report, text,
};
use lnpolicy_store::Store;

use crate::Stdout;
use crate::charge_cmd::{DEFAULT_DB, expand_home};

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Compare the two arms of this A/B experiment (its `experiment.name`); without it, the
    /// report shows what each strategy did to each channel and what the channels earned.
    #[arg(long, value_name = "NAME")]
    experiment: Option<String>,
    /// lnpolicy's database.
    #[arg(long, env = "LNPOLICY_DB", default_value = DEFAULT_DB)]
    db: String,
    /// `html` is a self-contained page with charts, for experiments only.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    format: ReportFormat,
    /// Write the report to this file instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Seed of the bootstrap interval and the randomization test (the same seed and data give
    /// the same report).
    #[arg(long)]
    seed: Option<u64>,
    /// Channels each arm needs (each `--min-days` or more in the experiment) before a verdict.
    #[arg(long, value_name = "N")]
    min_channels: Option<usize>,
    /// Days the experiment must have run before a verdict, and each channel compared.
    #[arg(long, value_name = "DAYS")]
    min_days: Option<f64>,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// lnpolicy's database.
    #[arg(long, env = "LNPOLICY_DB", default_value = DEFAULT_DB)]
    db: String,
    /// `json` for monitoring scripts.
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    format: StatusFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum ReportFormat {
    Table,
    Json,
    Html,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StatusFormat {
    Table,
    Json,
}

/// Opens the database for reading only: a report never migrates or writes the database a
/// daemon (perhaps an older binary) is running on. `Store::open` would also create a missing
/// file, and a report on a fresh empty database would only hide a wrong `--db`.
fn open(db: &str) -> Result<Store> {
    let path = expand_home(db);
    if !path.exists() {
        bail!(
            "no database at {} (give --db or LNPOLICY_DB; the daemon and `lnpolicy -c` create it)",
            path.display()
        );
    }
    Ok(Store::open_read_only(&path)?)
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn emit(text: &str, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("writing the report to {}", path.display())),
        None => Ok(write!(Stdout, "{text}")?),
    }
}

pub fn report(args: ReportArgs) -> Result<ExitCode> {
    let store = open(&args.db)?;
    let now = now();
    let text = match &args.experiment {
        Some(name) => {
            let defaults = ExperimentOptions::default();
            let options = ExperimentOptions {
                seed: args.seed.unwrap_or(defaults.seed),
                min_channels_per_arm: args.min_channels.unwrap_or(defaults.min_channels_per_arm),
                min_days: args.min_days.unwrap_or(defaults.min_days),
                ..defaults
            };
            let report = experiment_report(&store, name, now, &options)?;
            match args.format {
                ReportFormat::Table => text::experiment_table(&report),
                ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
                ReportFormat::Html => html::experiment_html(&report),
            }
        }
        None => {
            if args.seed.is_some() || args.min_channels.is_some() || args.min_days.is_some() {
                bail!("--seed, --min-channels and --min-days apply to --experiment reports only");
            }
            let report = activity_report(&store, now)?;
            match args.format {
                ReportFormat::Table => text::activity_table(&report),
                ReportFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
                ReportFormat::Html => {
                    bail!("--format html is for experiment reports: add --experiment NAME")
                }
            }
        }
    };
    emit(&text, args.output.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

pub fn status(args: StatusArgs) -> Result<ExitCode> {
    let store = open(&args.db)?;
    let report = status_report(&store, now())?;
    let text = match args.format {
        StatusFormat::Table => text::status_table(&report),
        StatusFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    emit(&text, None)?;
    Ok(ExitCode::SUCCESS)
}
