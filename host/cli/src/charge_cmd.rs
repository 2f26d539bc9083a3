//! charge-lnd's command line: `lnpolicy -c FILE [--dry-run] [--check]` with its node flags,
//! defaults and environment variables, plus `--cln-rpc` for Core Lightning, and
//! `test-channel`, which explains one channel's decision.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use lnpolicy_collector::{CollectConfig, collect};
use lnpolicy_core::{
    Channel, ChannelId, FeePolicy, NodeChannel, NodeClient, NodeKind, NullEventSink, Window,
    short_channel_id,
};
use lnpolicy_daemon::{DbLock, Snapshot};
use lnpolicy_engine::{ConfiguredOutcome, ConfiguredPlan, run_configured_on};
use lnpolicy_node::cln::{ClnClient, ClnConfig};
use lnpolicy_node::lnd::{LndClient, LndConfig};
use lnpolicy_policy::apply::{ApplyReport, reconcile_pending};
use lnpolicy_policy::config::{self, Config, MatchInput, Note};
use lnpolicy_policy::configured::{ChannelPlan, PlanOutcome};
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{RegistryConfig, Runtime, RuntimeConfig, StrategyRegistry};
use lnpolicy_store::Store;

use crate::Stdout;

/// Where the node is and how to reach it: charge-lnd's flags and environment variables,
/// or `--cln-rpc` for Core Lightning.
#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// LND's directory.
    #[arg(long, env = "LND_DIR", default_value = "~/.lnd")]
    pub lnddir: String,
    /// LND's gRPC endpoint.
    #[arg(long, env = "GRPC_LOCATION", default_value = "localhost:10009")]
    pub grpc: String,
    /// LND's TLS certificate [default: LNDDIR/tls.cert].
    #[arg(long, env = "TLS_CERT_PATH")]
    pub tlscert: Option<PathBuf>,
    /// Macaroon [default: charge-lnd.macaroon, else lnpolicy.macaroon, else admin.macaroon
    /// in LNDDIR/data/chain/bitcoin/NETWORK/].
    #[arg(long, env = "MACAROON_PATH")]
    pub macaroon: Option<PathBuf>,
    /// Bitcoin network LND runs on (for the default macaroon path).
    #[arg(long, default_value = "mainnet")]
    pub network: String,
    /// Core Lightning's RPC socket; selects CLN instead of LND.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["tlscert", "macaroon"])]
    pub cln_rpc: Option<PathBuf>,
    /// Core Lightning: how long after a fee rise the previous fee is still accepted
    /// (`setchannel enforcedelay`; e.g. 10m, 1h; 0 enforces a rise at once) [default: CLN's
    /// own, 10 minutes].
    #[arg(long, value_name = "PERIOD", requires = "cln_rpc", value_parser = parse_enforce_delay)]
    pub cln_enforce_delay: Option<u32>,
    /// lnpolicy's database: decisions, update intents, history, experiment arms.
    #[arg(long, env = "LNPOLICY_DB", default_value = DEFAULT_DB)]
    pub db: String,
    /// Folder of strategy `.wasm` files; a file named like a built-in replaces it.
    #[arg(
        long,
        env = "LNPOLICY_STRATEGIES",
        default_value = "~/.lnpolicy/strategies"
    )]
    pub strategies: String,
    /// charge-lnd's `--electrum-server` (its on-chain fee source before it asked LND):
    /// accepted so an existing cron line keeps working, and ignored with a warning.
    #[arg(long, hide = true, value_name = "HOST:PORT")]
    pub electrum_server: Option<String>,
    /// charge-lnd's `--circuitbreaker`: accepted so an existing cron line keeps working, and
    /// ignored with a warning (lnpolicy sets no circuitbreaker limits).
    #[arg(long, hide = true, value_name = "HOST:PORT")]
    pub circuitbreaker: Option<String>,
}

/// A period in charge-lnd's syntax, or 0, in whole seconds CLN takes (`u32`).
fn parse_enforce_delay(text: &str) -> Result<u32, String> {
    if text.trim() == "0" {
        return Ok(0);
    }
    let secs = config::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a period: expected e.g. 0, 10m, 1h or seconds"))?;
    u32::try_from(secs).map_err(|_| format!("{text:?} is longer than CLN accepts"))
}

/// `--db` when not given; `lnpolicy daemon --sim` keeps simulated history out of it.
pub(crate) const DEFAULT_DB: &str = "~/.lnpolicy/lnpolicy.db";

pub(crate) fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(path),
    }
}

impl NodeArgs {
    fn lnd_config(&self) -> LndConfig {
        let lnddir = expand_home(&self.lnddir);
        let macaroon = self
            .macaroon
            .clone()
            .unwrap_or_else(|| LndConfig::default_macaroon(&lnddir, &self.network));
        let tls = self
            .tlscert
            .clone()
            .unwrap_or_else(|| lnddir.join("tls.cert"));
        LndConfig::new(self.grpc.clone(), tls, macaroon)
    }

    pub(crate) async fn connect(&self) -> Result<Box<dyn NodeClient>> {
        let ignored = [
            (
                "--electrum-server",
                &self.electrum_server,
                "lnpolicy takes on-chain fee estimates from the node",
            ),
            (
                "--circuitbreaker",
                &self.circuitbreaker,
                "lnpolicy sets no circuitbreaker limits",
            ),
        ];
        for (flag, _, why) in ignored.iter().filter(|(_, given, _)| given.is_some()) {
            eprintln!("warning: charge-lnd's {flag} is ignored: {why}");
        }
        if let Some(socket) = &self.cln_rpc {
            let mut config = ClnConfig::new(socket);
            config.enforce_delay_secs = self.cln_enforce_delay;
            let client = ClnClient::connect(config)
                .await
                .with_context(|| format!("connecting to Core Lightning at {}", socket.display()))?;
            return Ok(Box::new(client));
        }
        let config = self.lnd_config();
        let client = LndClient::connect(&config)
            .await
            .with_context(|| format!("connecting to LND at {}", config.address))?;
        Ok(Box::new(client))
    }

    fn kind(&self) -> NodeKind {
        if self.cln_rpc.is_some() {
            NodeKind::Cln
        } else {
            NodeKind::Lnd
        }
    }
}

/// Every built-in strategy and every `.wasm` of the strategies folder (when it exists). A run
/// that writes the database (`cached`) keeps them compiled in `compile-cache/` next to it, as
/// the daemon does, so a run from cron loads them instead of compiling every one each time;
/// runs that record nothing (checks, dry runs) write nothing there either.
pub fn load_registry(node: &NodeArgs, cached: bool) -> Result<StrategyRegistry> {
    let db = expand_home(&node.db);
    let cache_dir = cached
        .then(|| db.parent().map(|dir| dir.join("compile-cache")))
        .flatten();
    load_registry_with(
        &node.strategies,
        RegistryConfig::default(),
        crate::compiling::runtime_config(cache_dir),
    )
}

/// [`load_registry`] with the registry's and the runtime's own settings.
pub fn load_registry_with(
    strategies: &str,
    config: RegistryConfig,
    runtime: RuntimeConfig,
) -> Result<StrategyRegistry> {
    let runtime = Arc::new(Runtime::new(runtime)?);
    let registry = StrategyRegistry::new(runtime, Arc::new(NullEventSink), config);
    for name in lnpolicy_builtins::names() {
        let bytes = lnpolicy_builtins::get(name).expect("listed built-in");
        registry
            .add_builtin(name, bytes)
            .with_context(|| format!("built-in {name}"))?;
    }
    let folder = expand_home(strategies);
    if folder.is_dir() {
        registry.sync_dir(&folder)?;
    }
    Ok(registry)
}

/// Loads the config and checks its strategies and parameters against `registry`; prints
/// every error (file:line: key: message) and every note, and fails when there are errors.
fn load_config(path: &Path, registry: &StrategyRegistry, kind: NodeKind) -> Result<Config> {
    let config = match Config::load(path) {
        Ok(config) => config,
        Err(errors) => {
            for error in &errors.0 {
                eprintln!("error: {error}");
            }
            bail!("{} error(s) in {}", errors.0.len(), path.display());
        }
    };
    let known = lnpolicy_builtins::names().collect::<Vec<_>>().join(", ");
    let lookup = |name: &str| registry.get(name).map(|s| s.info().params.clone());
    let (mut errors, mut notes) = config.check_strategies(&lookup, &known);
    let (guard_errors, guard_notes) =
        config.validate_guard(&GuardConfig::charge_lnd_compatible(kind));
    errors.extend(guard_errors);
    notes.extend(guard_notes);
    for note in config.notes().iter().chain(&notes) {
        print_note(note);
    }
    if !errors.is_empty() {
        for error in &errors {
            eprintln!("error: {error}");
        }
        bail!("{} error(s) in {}", errors.len(), path.display());
    }
    Ok(config)
}

fn print_note(note: &Note) {
    eprintln!("note: {note}");
}

/// `lnpolicy -c FILE --check`: parse and validate only, no node needed.
pub fn check(path: &Path, node: &NodeArgs) -> Result<ExitCode> {
    let report = config::check(path);
    if !report.is_ok() {
        for error in &report.errors {
            eprintln!("error: {error}");
        }
        for note in &report.notes {
            print_note(note);
        }
        eprintln!("{} error(s) in {}", report.errors.len(), path.display());
        return Ok(ExitCode::FAILURE);
    }
    let registry = load_registry(node, false)?;
    let config = load_config(path, &registry, node.kind())?;
    writeln!(
        Stdout,
        "{}: OK ({} sections{})",
        path.display(),
        config.sections().len() + usize::from(config.fallback().is_some()),
        if config.includes().next().is_some() {
            ", with includes"
        } else {
            ""
        }
    )?;
    Ok(ExitCode::SUCCESS)
}

/// `lnpolicy -c FILE [--dry-run]`: one cycle against the node, then the table.
pub fn run(path: &Path, node: &NodeArgs, dry_run: bool, verbose: u8) -> Result<ExitCode> {
    let registry = load_registry(node, !dry_run)?;
    let config = load_config(path, &registry, node.kind())?;
    let outcome = if dry_run {
        let snapshot = snapshot(node)?;
        cycle(snapshot.path(), &registry, &config, node, true)?
    } else {
        let lock = lock_database(node)?;
        cycle(lock.database(), &registry, &config, node, false)?
    };
    let printed = print_table(&outcome, dry_run, verbose);
    // Failed updates, rollbacks' restores included, and channels whose section or strategy
    // failed (left alone, as when charge-lnd's strategy raises) decide the exit code, even
    // when the reader has gone (`| head`): cron must hear of a strategy that fails every run.
    let update_failed = [&outcome.applied, &outcome.rolled_back]
        .into_iter()
        .flatten()
        .any(|report| !report.failed.is_empty());
    let strategy_failed = outcome
        .plans
        .iter()
        .any(|plan| matches!(plan.outcome, PlanOutcome::Failed(_)));
    if update_failed || strategy_failed {
        return Ok(ExitCode::FAILURE);
    }
    printed?;
    Ok(ExitCode::SUCCESS)
}

/// `lnpolicy rollback -c FILE [--execute]`: the changes whose revenue fell past their
/// section's `rollback_threshold`; `--execute` restores the previous policies.
pub fn rollback(path: &Path, node: &NodeArgs, execute: bool) -> Result<ExitCode> {
    let registry = load_registry(node, execute)?;
    let config = load_config(path, &registry, node.kind())?;
    // Held from before the candidates are read until they are restored, so that they cannot
    // change hands in between.
    let lock = execute.then(|| lock_database(node)).transpose()?;
    if let Some(lock) = &lock {
        // The intents left pending are resolved in the database the restores are recorded in.
        tokio::runtime::Runtime::new()?.block_on(async {
            let client = node.connect().await?;
            let store = Store::open(lock.database())?;
            reconcile(client.as_ref(), &store, unix_now()?, true).await
        })?;
    }
    let snapshot = snapshot(node)?;
    let outcome = cycle(snapshot.path(), &registry, &config, node, true)?;
    if outcome.rollbacks.is_empty() {
        writeln!(Stdout, "no rollback candidates")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        Stdout,
        "{:<16} {:>12} {:>14} {:>14} {:>10} {:>10}",
        "CHANNEL", "CHANGED AT", "BEFORE msat/h", "AFTER msat/h", "NOW ppm", "RESTORE"
    )?;
    for c in &outcome.rollbacks {
        writeln!(
            Stdout,
            "{:<16} {:>12} {:>14.0} {:>14.0} {:>10} {:>10}",
            short_channel_id(c.channel_id),
            c.changed_at,
            c.rate_before_msat_per_hour,
            c.rate_after_msat_per_hour,
            c.current.fee_ppm,
            c.restore.fee_ppm
        )?;
    }
    let Some(lock) = lock else {
        writeln!(
            Stdout,
            "{} candidate(s); run with --execute to restore them",
            outcome.rollbacks.len()
        )?;
        return Ok(ExitCode::SUCCESS);
    };
    let report = tokio::runtime::Runtime::new()?.block_on(async {
        let client = node.connect().await?;
        let store = Store::open(lock.database())?;
        let now = unix_now()?;
        anyhow::Ok(
            lnpolicy_policy::rollback::execute(
                client.as_ref(),
                &store,
                &outcome.rollbacks,
                &outcome.channels,
                now,
                config.max_updates_per_hour(),
            )
            .await?,
        )
    })?;
    let printed = writeln!(
        Stdout,
        "{} rolled back, {} failed{}",
        report.applied.len(),
        report.failed.len(),
        held_by_cap(&report)
    );
    // Failed restores decide the exit code even when the reader has gone (`| head`).
    if !report.failed.is_empty() {
        return Ok(ExitCode::FAILURE);
    }
    printed?;
    Ok(ExitCode::SUCCESS)
}

/// `lnpolicy test-channel CHAN_ID`: a dry run, explained for one channel.
pub fn test_channel(path: &Path, node: &NodeArgs, channel: &str, verbose: u8) -> Result<ExitCode> {
    let wanted = parse_channel_id(channel)?;
    let registry = load_registry(node, false)?;
    let config = load_config(path, &registry, node.kind())?;
    let snapshot = snapshot(node)?;
    let outcome = cycle(snapshot.path(), &registry, &config, node, true)?;
    let Some(index) = outcome.channels.iter().position(|c| c.id == wanted) else {
        bail!(
            "channel {} is not open on this node",
            short_channel_id(wanted)
        );
    };
    let channel = &outcome.channels[index];
    let input = &outcome.inputs[index];
    let plan = &outcome.plans[index];
    writeln!(
        Stdout,
        "channel {} ({}) with {}",
        short_channel_id(channel.id),
        channel.id,
        channel.peer_pubkey
    )?;
    explain_sections(&config, input, verbose)?;
    explain_view(&outcome.views[index])?;
    explain_plan(channel, plan)?;
    Ok(ExitCode::SUCCESS)
}

/// What the strategy was shown besides the policy: the analytics it decides on.
fn explain_view(view: &Channel) -> Result<()> {
    writeln!(Stdout, "what the strategy sees:")?;
    let settled = view.local_balance_sat + view.remote_balance_sat;
    let local_share = match settled {
        0 => "no settled balance".to_owned(),
        _ => format!(
            "{:.0}% local",
            100.0 * view.local_balance_sat as f64 / settled as f64
        ),
    };
    writeln!(
        Stdout,
        "  balance: {} sat local, {} sat remote ({local_share}) of {} sat; {} HTLC(s) pending of {}",
        view.local_balance_sat,
        view.remote_balance_sat,
        view.capacity_sat,
        view.pending_htlcs,
        view.max_accepted_htlcs
    )?;
    writeln!(
        Stdout,
        "  {:<6} {:>12} {:>12} {:>9} {:>9} {:>12} {:>7}",
        "window", "out sat", "in sat", "HTLCs out", "HTLCs in", "fees msat", "failed"
    )?;
    for flow in &view.flow {
        let window = match flow.window {
            Window::Day => "1d",
            Window::Week => "7d",
            Window::Month => "30d",
        };
        let failed: u32 = flow.failures.iter().map(|f| f.count).sum();
        writeln!(
            Stdout,
            "  {window:<6} {:>12} {:>12} {:>9} {:>9} {:>12} {failed:>7}",
            flow.sats_out, flow.sats_in, flow.htlcs_out, flow.htlcs_in, flow.fees_earned_msat
        )?;
    }
    writeln!(
        Stdout,
        "  flow class: {}; profitability: {}; opening cost: {}; rebalancing cost: {} sat; {} h of forwarding history",
        view.flow_class.name(),
        view.profitability.name(),
        match (view.open_cost_sat, view.initiator) {
            (Some(sat), _) => format!("{sat} sat"),
            (None, false) => "none (the peer opened it)".to_owned(),
            (None, true) => "not known to the node".to_owned(),
        },
        view.rebalance_cost_msat / 1000,
        view.history_secs / 3600
    )?;
    let since = match view.last_fee_change {
        Some(at) => format!("since lnpolicy's last fee change at {at}"),
        None => format!(
            "over the last {} h of history, at most 30 days (lnpolicy never changed its fees)",
            (view.history_secs / 3600).min(30 * 24)
        ),
    };
    writeln!(
        Stdout,
        "  revenue rate: {:.0} msat/h {since}",
        view.revenue_rate_msat_per_hour
    )?;
    Ok(())
}

fn explain_sections(config: &Config, input: &MatchInput, verbose: u8) -> Result<()> {
    writeln!(Stdout, "sections:")?;
    for section in config.sections().iter().chain(config.fallback()) {
        let verdict = if section.name == config::FALLBACK_SECTION {
            "fallback (applies when no final section matched)".to_owned()
        } else {
            match section.mismatch(input)? {
                None if section.is_final() => "matches (final)".to_owned(),
                None => "matches (non-final: keys merged, search goes on)".to_owned(),
                Some(config::Mismatch::Condition { key, line }) => {
                    format!("no: {key} (line {line}) does not hold")
                }
                Some(config::Mismatch::YoungChannel {
                    period_secs,
                    age_secs,
                }) => format!(
                    "no: channel is {age_secs} s old, younger than chan.activity_period ({period_secs} s)"
                ),
                Some(config::Mismatch::UnknownNamespace(namespace)) => {
                    format!("no: unknown namespace `{namespace}.`")
                }
            }
        };
        writeln!(
            Stdout,
            "  [{}] {}:{}: {verdict}",
            section.name,
            section.file.display(),
            section.line
        )?;
    }
    if verbose > 0 {
        writeln!(Stdout, "facts: {input:#?}")?;
    }
    Ok(())
}

fn explain_plan(channel: &NodeChannel, plan: &ChannelPlan) -> Result<()> {
    if let Some(section) = &plan.section {
        writeln!(
            Stdout,
            "deciding section: [{}] ({}:{})",
            section.name,
            section.file.display(),
            section.line
        )?;
    }
    if let Some((name, arm)) = &plan.experiment {
        writeln!(Stdout, "experiment: {name}, arm {}", arm.as_str())?;
    }
    if let Some(strategy) = &plan.strategy {
        writeln!(Stdout, "strategy: {strategy}")?;
    }
    writeln!(Stdout, "current: {}", show_policy(&channel.local_policy))?;
    match &plan.outcome {
        PlanOutcome::NoPolicy => writeln!(Stdout, "result: no section applies; left unchanged")?,
        PlanOutcome::Failed(error) => writeln!(Stdout, "result: left unchanged: {error}")?,
        PlanOutcome::Held(reason) => writeln!(Stdout, "result: held: {reason}")?,
        PlanOutcome::Decided { raw, guarded, .. } => {
            writeln!(Stdout, "strategy output: {:?}", raw.change)?;
            writeln!(Stdout, "reason: {}", raw.reason)?;
            for clamp in &guarded.clamps {
                writeln!(Stdout, "guard: {clamp:?}")?;
            }
            match &guarded.policy {
                Some(policy) => writeln!(Stdout, "guarded: {}", show_policy(policy))?,
                None => writeln!(Stdout, "guarded: no update")?,
            }
            writeln!(Stdout, "action: {}", action(channel, plan, false))?;
        }
    }
    Ok(())
}

fn parse_channel_id(text: &str) -> Result<ChannelId> {
    if let Ok(id) = text.parse::<u64>() {
        return Ok(id);
    }
    let parts: Vec<&str> = text.split(['x', ':']).collect();
    if let [block, tx, out] = parts[..]
        && let (Ok(block), Ok(tx), Ok(out)) =
            (block.parse::<u64>(), tx.parse::<u64>(), out.parse::<u64>())
        && block < 1 << 24
        && tx < 1 << 24
        && out < 1 << 16
    {
        return Ok(block << 40 | tx << 16 | out);
    }
    bail!("{text:?} is not a channel id (a number, BLOCKxTXxOUT or BLOCK:TX:OUT)")
}

/// The database's lock, as the daemon takes it, for a run that sends updates: every such run
/// reconciles the update intents left pending, and two processes on one database would each
/// take the other's in-flight intents for crash leftovers.
fn lock_database(node: &NodeArgs) -> Result<DbLock> {
    Ok(DbLock::acquire(&expand_home(&node.db))?)
}

/// A copy of the database for a run that must change nothing (see [`Snapshot`]); says so
/// when there is no database yet.
fn snapshot(node: &NodeArgs) -> Result<Snapshot> {
    let db = expand_home(&node.db);
    // A dry run interrupted (Ctrl-C) leaves its copy behind; cron-only operators run no
    // daemon to clear them, so each dry run clears the day-old ones.
    Snapshot::remove_leftovers(&db, Snapshot::LEFTOVER_AGE);
    let snapshot = Snapshot::of(&db)?;
    if !snapshot.found_database() {
        eprintln!(
            "note: no database at {} yet: this run starts from an empty one (no history)",
            db.display()
        );
    }
    Ok(snapshot)
}

/// Resolves the update intents an earlier run left pending, from the node's policies now.
async fn reconcile(client: &dyn NodeClient, store: &Store, now: u64, report: bool) -> Result<()> {
    let reconciled = reconcile_pending(client, store, now).await?;
    if report && (!reconciled.applied.is_empty() || !reconciled.not_applied.is_empty()) {
        eprintln!(
            "reconciled updates left pending by an earlier run: {} applied, {} not applied",
            reconciled.applied.len(),
            reconciled.not_applied.len()
        );
    }
    Ok(())
}

pub(crate) fn unix_now() -> Result<u64> {
    Ok(std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs())
}

/// One cycle of `config` against the node, on the database at `db`.
fn cycle(
    db: &Path,
    registry: &StrategyRegistry,
    config: &Config,
    node: &NodeArgs,
    dry_run: bool,
) -> Result<ConfiguredOutcome> {
    let tokio = tokio::runtime::Runtime::new()?;
    tokio.block_on(async {
        let client = node.connect().await?;
        let store = Store::open(db)?;
        // A long catch-up (the first run in weeks) comes first: the run then decides, and
        // dates its updates, at the time it ends, as the daemon does.
        let started = unix_now()?;
        let collected = collect(
            client.as_ref(),
            &store,
            started,
            &CollectConfig::to_the_end(),
        )
        .await?;
        let now = unix_now()?.max(started);
        // On a dry run's snapshot a pending intent may be a daemon's update in flight: it is
        // resolved in the copy, for this run's view, and not reported.
        reconcile(client.as_ref(), &store, now, !dry_run).await?;
        let guard = GuardConfig::charge_lnd_compatible(client.kind());
        let outcome = run_configured_on(
            client.as_ref(),
            &store,
            registry,
            ConfiguredPlan::new(config, &guard, dry_run),
            collected,
            now,
        )
        .await?;
        Ok(outcome)
    })
}

fn show_policy(p: &FeePolicy) -> String {
    let mut text = format!("{} ppm + {} msat", p.fee_ppm, p.base_fee_msat);
    if p.inbound_fee_ppm != 0 || p.inbound_base_fee_msat != 0 {
        text += &format!(
            ", inbound {} ppm {} msat",
            p.inbound_fee_ppm, p.inbound_base_fee_msat
        );
    }
    if p.disabled {
        text += ", disabled";
    }
    text
}

/// What happens (or happened, after an apply) to one channel.
fn action(channel: &NodeChannel, plan: &ChannelPlan, applied: bool) -> String {
    match &plan.outcome {
        PlanOutcome::NoPolicy => "no policy".into(),
        PlanOutcome::Failed(error) => format!("error: {error}"),
        PlanOutcome::Held(reason) => format!("held: {reason}"),
        PlanOutcome::Decided { guarded, .. } => match guarded.policy {
            None => "unchanged".into(),
            Some(policy) if policy == channel.local_policy => "unchanged".into(),
            Some(_) => {
                let update = lnpolicy_policy::apply::PlannedUpdate {
                    channel: channel.clone(),
                    desired: guarded.policy.unwrap_or(channel.local_policy),
                    decision_id: None,
                    min_fee_ppm_delta: plan.min_fee_ppm_delta,
                    min_inbound_fee_ppm_delta: plan.min_inbound_fee_ppm_delta,
                };
                match (update.is_worth_sending(), applied) {
                    (false, _) => "below delta".into(),
                    (true, false) => "update".into(),
                    (true, true) => "applied".into(),
                }
            }
        },
    }
}

fn print_table(outcome: &ConfiguredOutcome, dry_run: bool, verbose: u8) -> Result<()> {
    writeln!(
        Stdout,
        "{:<16} {:<20} {:<14} {:<36} {:<36} ACTION",
        "CHANNEL", "SECTION", "STRATEGY", "CURRENT", "NEW"
    )?;
    let failed: Vec<ChannelId> = outcome
        .applied
        .as_ref()
        .map(|a| a.failed.iter().map(|(id, _)| *id).collect())
        .unwrap_or_default();
    let held: Vec<ChannelId> = [&outcome.applied, &outcome.rolled_back]
        .into_iter()
        .flatten()
        .flat_map(|report| report.held.iter().copied())
        .chain(outcome.would_hold.iter().copied())
        .collect();
    let in_part: &[(ChannelId, FeePolicy)] = outcome
        .applied
        .as_ref()
        .map_or(&[], |a| a.applied_in_part.as_slice());
    for (channel, plan) in outcome.channels.iter().zip(&outcome.plans) {
        let mut new = match &plan.outcome {
            PlanOutcome::Decided { guarded, .. } => guarded
                .policy
                .map_or_else(|| "-".to_owned(), |p| show_policy(&p)),
            _ => "-".to_owned(),
        };
        let mut action = action(channel, plan, !dry_run);
        if let Some((_, set)) = in_part.iter().find(|(id, _)| *id == channel.id) {
            new = show_policy(set);
            action = "applied in part".into();
        } else if failed.contains(&channel.id) {
            action = "update failed".into();
        } else if held.contains(&channel.id) {
            action = "held by guard.max_updates_per_hour".into();
        }
        let strategy = match (&plan.strategy, &plan.experiment) {
            (Some(s), Some((_, arm))) => format!("{s} ({})", arm.as_str()),
            (Some(s), None) => s.clone(),
            (None, _) => "-".into(),
        };
        writeln!(
            Stdout,
            "{:<16} {:<20} {:<14} {:<36} {:<36} {action}",
            short_channel_id(channel.id),
            plan.section.as_ref().map_or("-", |s| s.name.as_str()),
            strategy,
            show_policy(&channel.local_policy),
            new,
        )?;
        if verbose > 0
            && let PlanOutcome::Decided { raw, guarded, .. } = &plan.outcome
        {
            writeln!(Stdout, "    reason: {}", raw.reason)?;
            for clamp in &guarded.clamps {
                writeln!(Stdout, "    guard: {clamp:?}")?;
            }
        }
    }
    if let Some(report) = &outcome.rolled_back {
        for candidate in &outcome.rollbacks {
            writeln!(
                Stdout,
                "{}: {}",
                short_channel_id(candidate.channel_id),
                candidate.reason()
            )?;
        }
        writeln!(
            Stdout,
            "{} change(s) rolled back, {} failed{}",
            report.applied.len(),
            report.failed.len(),
            held_by_cap(report)
        )?;
    }
    let updates = outcome.updates();
    let worth = updates.iter().filter(|u| u.is_worth_sending()).count();
    match &outcome.applied {
        None if outcome.would_hold.is_empty() => writeln!(
            Stdout,
            "dry run: {worth} update(s) would be sent; nothing was sent"
        )?,
        None => writeln!(
            Stdout,
            "dry run: {} update(s) would be sent, {} held by guard.max_updates_per_hour; nothing \
             was sent",
            worth - outcome.would_hold.len(),
            outcome.would_hold.len()
        )?,
        Some(report) => writeln!(
            Stdout,
            "{} update(s) applied, {} failed, {} below delta, {} unchanged{}",
            report.applied.len(),
            report.failed.len(),
            report.below_delta,
            report.unchanged,
            held_by_cap(report)
        )?,
    }
    Ok(())
}

/// The tail of a summary line counting the updates the hourly cap held, if any.
fn held_by_cap(report: &ApplyReport) -> String {
    if report.held.is_empty() {
        return String::new();
    }
    format!(", {} held by guard.max_updates_per_hour", report.held.len())
}

#[cfg(test)]
mod tests {
    use super::parse_channel_id;

    #[test]
    fn channel_ids_in_every_form() {
        let id = 800_000u64 << 40 | 12 << 16 | 1;
        assert_eq!(parse_channel_id(&id.to_string()).unwrap(), id);
        assert_eq!(parse_channel_id("800000x12x1").unwrap(), id);
        assert_eq!(parse_channel_id("800000:12:1").unwrap(), id);
        assert!(parse_channel_id("800000x12").is_err());
        assert!(parse_channel_id("x").is_err());
    }
}
