//! `lnpolicy strategy list | inspect | check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use lnpolicy_core::{NodeKind, NullEventSink, ParamDefault, ParamValue};
use lnpolicy_policy::cycle::{CycleInput, run_cycle};
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{NoHistory, RegistryConfig, Runtime, Strategy, StrategyRegistry};
use lnpolicy_store::Store;

use crate::Stdout;

/// Prefix that names a built-in strategy instead of a file.
const BUILTIN_PREFIX: &str = "builtin:";

#[derive(Subcommand)]
pub enum StrategyCommand {
    /// List the built-in strategies and every `.wasm` in DIR, with whether each loads.
    List {
        /// The strategies folder.
        dir: PathBuf,
    },
    /// Show a component's name, version, contract version, sha256 and parameters.
    Inspect {
        /// A `.wasm` file, or `builtin:NAME`.
        file: String,
    },
    /// Load, validate and run a component on built-in fixture channels,
    /// printing its raw decisions and what the guard makes of them.
    Check {
        /// A `.wasm` file, or `builtin:NAME`.
        file: String,
        /// A strategy parameter, `name=value` (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// Which node's rules the guard applies (CLN has no inbound fees).
        #[arg(long, default_value = "lnd", value_parser = ["lnd", "cln"])]
        node: String,
        /// Record the cycle and its decisions into this SQLite database (default: a temporary
        /// one). The strategy's state is never written: the channels are samples.
        #[arg(long)]
        db: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: StrategyCommand) -> Result<ExitCode> {
    match command {
        StrategyCommand::List { dir } => list(&dir),
        StrategyCommand::Inspect { file } => inspect(&file),
        StrategyCommand::Check {
            file,
            params,
            node,
            db,
            json,
        } => check(&file, &params, &node, db.as_deref(), json),
    }
}

fn runtime() -> Result<Runtime> {
    Ok(Runtime::new(crate::compiling::runtime_config(None))?)
}

fn load(runtime: &Runtime, file: &str) -> Result<Strategy> {
    if let Some(name) = file.strip_prefix(BUILTIN_PREFIX) {
        let bytes = lnpolicy_builtins::get(name).with_context(|| {
            format!(
                "no built-in strategy {name:?} (built-ins: {})",
                lnpolicy_builtins::names().collect::<Vec<_>>().join(", ")
            )
        })?;
        return runtime
            .load_builtin_bytes(bytes)
            .with_context(|| format!("built-in {name}"));
    }
    Ok(runtime.load_file(Path::new(file))?)
}

fn list(dir: &Path) -> Result<ExitCode> {
    let runtime = runtime()?;
    writeln!(
        Stdout,
        "{:<24} {:<10} {:<9} {:<16} SOURCE",
        "NAME", "VERSION", "CONTRACT", "SHA256"
    )?;
    for name in lnpolicy_builtins::names() {
        let strategy = load(&runtime, &format!("{BUILTIN_PREFIX}{name}"))?;
        writeln!(
            Stdout,
            "{:<24} {:<10} {:<9} {:<16} built-in",
            name,
            strategy.info().version,
            strategy.contract_version(),
            &strategy.sha256()[..16]
        )?;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "wasm"))
        .collect();
    files.sort();
    let mut failed = false;
    for path in files {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match runtime.load_file(&path) {
            Ok(strategy) => writeln!(
                Stdout,
                "{:<24} {:<10} {:<9} {:<16} {}",
                name,
                strategy.info().version,
                strategy.contract_version(),
                &strategy.sha256()[..16],
                path.display()
            )?,
            Err(err) => {
                failed = true;
                writeln!(Stdout, "{name:<24} REJECTED   {err}")?;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn inspect(file: &str) -> Result<ExitCode> {
    let runtime = runtime()?;
    let strategy = load(&runtime, file)?;
    let info = strategy.info();
    writeln!(Stdout, "name:        {}", info.name)?;
    writeln!(Stdout, "version:     {}", info.version)?;
    writeln!(
        Stdout,
        "contract:    {}@{}",
        lnpolicy_runtime::CONTRACT_PACKAGE,
        strategy.contract_version()
    )?;
    writeln!(Stdout, "sha256:      {}", strategy.sha256())?;
    writeln!(Stdout, "description: {}", info.description)?;
    if info.params.is_empty() {
        writeln!(Stdout, "parameters:  none")?;
    } else {
        writeln!(Stdout, "parameters:")?;
        writeln!(
            Stdout,
            "  {:<24} {:<8} {:<12} {:<16} DESCRIPTION",
            "NAME", "KIND", "DEFAULT", "RANGE"
        )?;
        for param in &info.params {
            let range = match (param.min, param.max) {
                (None, None) => "-".to_owned(),
                (min, max) => format!(
                    "{}..{}",
                    min.map_or(String::new(), |v| v.to_string()),
                    max.map_or(String::new(), |v| v.to_string())
                ),
            };
            writeln!(
                Stdout,
                "  {:<24} {:<8} {:<12} {:<16} {}",
                param.name,
                format!("{:?}", param.kind).to_lowercase(),
                match &param.default {
                    ParamDefault::Required => "required".to_owned(),
                    ParamDefault::Optional => "optional".to_owned(),
                    ParamDefault::Value(value) => show_value(value),
                },
                range,
                param.description
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show_value(value: &ParamValue) -> String {
    match value {
        ParamValue::Integer(i) => i.to_string(),
        ParamValue::Float(f) => f.to_string(),
        ParamValue::Boolean(b) => b.to_string(),
        ParamValue::Text(t) => format!("{t:?}"),
    }
}

fn check(
    file: &str,
    raw_params: &[String],
    node: &str,
    db: Option<&Path>,
    json: bool,
) -> Result<ExitCode> {
    let runtime = Arc::new(runtime()?);
    let strategy = load(&runtime, file)?;
    let name = strategy.info().name.clone();
    let given = parse_params(raw_params)?;
    let params = lnpolicy_policy::params::resolve(&strategy.info().params, &given)?;
    let temp = tempfile::tempdir().context("creating a temporary folder")?;
    let db_path = db.map_or_else(|| temp.path().join("check.db"), Path::to_owned);
    let store = Arc::new(Store::open(&db_path)?);
    let registry = StrategyRegistry::new(
        runtime.clone(),
        Arc::new(NullEventSink),
        RegistryConfig::default(),
    );
    registry.add_loaded_builtin(&name, strategy);
    let node = if node == "cln" {
        NodeKind::Cln
    } else {
        NodeKind::Lnd
    };
    let guard = GuardConfig::new(node);
    let channels = lnpolicy_core::fixtures::channels();
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let report = run_cycle(
        &registry,
        &store,
        CycleInput {
            strategy: &name,
            version: None,
            params: &params,
            channels: &channels,
            now,
            history: Arc::new(NoHistory),
            guard: &guard,
            rules: None,
            dry_run: true,
        },
    )?;
    if json {
        let outcomes: Vec<_> = report
            .outcomes
            .iter()
            .map(|o| serde_json::json!({"raw": o.raw, "guarded": o.guarded}))
            .collect();
        let out = serde_json::json!({
            "strategy": name,
            "sha256": report.strategy_sha256,
            "error": report.error.as_ref().map(ToString::to_string),
            "decisions": outcomes,
            "logs": report.logs,
            "truncations": report.truncations,
        });
        writeln!(Stdout, "{}", serde_json::to_string_pretty(&out)?)?;
    } else {
        print_check(&channels, &report)?;
    }
    Ok(if report.error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_check(
    channels: &[lnpolicy_core::Channel],
    report: &lnpolicy_policy::cycle::CycleReport,
) -> Result<()> {
    if let Some(error) = &report.error {
        writeln!(Stdout, "strategy failed: {error}")?;
        writeln!(Stdout, "no channel would change.")?;
        return Ok(());
    }
    writeln!(
        Stdout,
        "{:<20} {:>6} {:>13} {:>20} {:>22}  REASON / CLAMPS",
        "CHANNEL", "LOCAL", "CURRENT", "RAW (ppm/inbound)", "GUARDED (ppm/inbound)"
    )?;
    for (channel, outcome) in channels.iter().zip(&report.outcomes) {
        let local = 100 * channel.local_balance_sat / channel.capacity_sat.max(1);
        let raw = &outcome.raw.change;
        let raw_text = if raw.is_empty() {
            "unchanged".to_owned()
        } else {
            format!(
                "{}/{}",
                raw.fee_ppm.map_or("-".into(), |v| v.to_string()),
                raw.inbound_fee_ppm.map_or("-".into(), |v| v.to_string())
            )
        };
        let guarded = match &outcome.guarded.policy {
            Some(p) => format!("{}/{}", p.fee_ppm, p.inbound_fee_ppm),
            None => "no update".to_owned(),
        };
        let clamps: Vec<String> = outcome
            .guarded
            .clamps
            .iter()
            .map(|c| {
                format!(
                    "{} {}→{} ({})",
                    c.field,
                    c.requested,
                    c.applied,
                    rule_name(c.rule)
                )
            })
            .collect();
        writeln!(
            Stdout,
            "{:<20} {:>5}% {:>13} {:>20} {:>22}  {}{}",
            lnpolicy_core::short_channel_id(channel.id),
            local,
            format!(
                "{}/{}",
                channel.local_policy.fee_ppm, channel.local_policy.inbound_fee_ppm
            ),
            raw_text,
            guarded,
            outcome.raw.reason,
            if clamps.is_empty() {
                String::new()
            } else {
                format!(" [{}]", clamps.join(", "))
            }
        )?;
    }
    for log in &report.logs {
        writeln!(Stdout, "log {:?}: {}", log.level, log.message)?;
    }
    for note in &report.truncations {
        writeln!(Stdout, "cut: {note}")?;
    }
    Ok(())
}

/// `--param NAME=VALUE` arguments as (name, text) pairs.
pub fn parse_params(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_owned(), v.to_owned())),
            None => bail!("--param {pair:?}: expected NAME=VALUE"),
        })
        .collect()
}

/// A registry holding every built-in, plus `strategy` if it is a `.wasm` file
/// (registered under its file stem).
pub fn registry_with(strategy: &str) -> Result<StrategyRegistry> {
    let runtime = Arc::new(runtime()?);
    let registry =
        StrategyRegistry::new(runtime, Arc::new(NullEventSink), RegistryConfig::default());
    for name in lnpolicy_builtins::names() {
        let bytes = lnpolicy_builtins::get(name).expect("listed built-in");
        registry
            .add_builtin(name, bytes)
            .with_context(|| format!("built-in {name}"))?;
    }
    if strategy.ends_with(".wasm") {
        let stem = Path::new(strategy)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A file, unlike a built-in, is compiled under the compile limits.
        let loaded = registry.runtime().load_file(Path::new(strategy))?;
        registry.add_loaded_builtin(&stem, loaded);
    } else if lnpolicy_builtins::get(strategy).is_none() {
        bail!(
            "no built-in strategy {strategy:?} (built-ins: {}); give a .wasm file for your own",
            lnpolicy_builtins::names().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(registry)
}

fn rule_name(rule: lnpolicy_core::Rule) -> String {
    serde_json::to_value(rule)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
