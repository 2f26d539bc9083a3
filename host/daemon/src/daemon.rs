//! The main loop: wait for the next due run or a control message, run it, repeat. One task
//! does everything that touches the node and the store, so reloads and shutdown happen
//! between node calls and never race a cycle.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lnpolicy_collector::{CollectConfig, CollectError, collect};
use lnpolicy_core::NodeClient;
use lnpolicy_engine::{
    ConfiguredOutcome, ConfiguredPlan, EngineError, record_analyses, record_node_facts,
    run_configured_on,
};
use lnpolicy_policy::apply::{ReconcileError, reconcile_pending};
use lnpolicy_policy::config::Config;
use lnpolicy_policy::configured::PlanOutcome;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{RegistryConfig, Runtime, StrategyRegistry};
use lnpolicy_store::{Store, StoreError};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tracing::Instrument;

use crate::clock::Clock;
use crate::config::{self, ConfigWatcher};
use crate::control::{self, Control, ReloadCause};
use crate::events::DaemonEvents;
use crate::metrics::{Metrics, RunStatus};
use crate::sim::SimNode;
use crate::snapshot::{Snapshot, SnapshotError};
use crate::{DaemonError, DaemonOptions, DbLock, NodeSource, http};

const DAY_SECS: u64 = 86_400;
const NS: u64 = 1_000_000_000;

/// Runs the daemon until SIGTERM or SIGINT (then `Ok`), or until it cannot start.
///
/// Taking the [`DbLock`] is the caller's first step, before connecting to the node, so that a
/// second daemon is refused before it touches anything; `run` holds it until it returns.
pub async fn run(
    options: DaemonOptions,
    node: NodeSource,
    lock: DbLock,
) -> Result<(), DaemonError> {
    // First, so that a signal during start-up (compiling strategies can take seconds) is
    // handled like one between cycles: before the first cycle, it stops the daemon cleanly.
    let (control_tx, mut control_rx) = unbounded_channel();
    control::forward_signals(control_tx.clone())?;
    let store = Arc::new(Store::open(&options.db)?);
    let removed = Snapshot::remove_leftovers(&options.db, Snapshot::LEFTOVER_AGE);
    if removed > 0 {
        tracing::info!(
            removed,
            "removed database copies that killed runs left behind"
        );
    }
    let metrics = Arc::new(Metrics::default());
    let events = Arc::new(DaemonEvents::new(
        Arc::clone(&store),
        Arc::clone(&metrics),
        control_tx.clone(),
    ));
    let registry = Arc::new(registry(&options, Arc::clone(&events) as _)?);
    std::fs::create_dir_all(&options.strategies).map_err(|source| DaemonError::CreateDir {
        path: options.strategies.clone(),
        source,
    })?;
    let strategies_watch = registry.watch(&options.strategies)?;

    let (client, mut clock): (Box<dyn NodeClient>, Clock) = match node {
        NodeSource::Client(client) => (client, Clock::Wall),
        NodeSource::Sim { scenario, speed } => {
            let (sim, client) = SimNode::start(*scenario, speed).await?;
            (Box::new(client), Clock::Sim(Box::new(sim)))
        }
    };
    let kind = client.kind();
    let config = match config::load(&options.config, &registry, kind) {
        Ok(config) => config,
        Err(rejected) => {
            // systemd's stop signals every process of the unit, a compile in flight included,
            // which leaves the config naming a strategy that did not load. Asked to stop, the
            // daemon stops (status 0), saying what it found wrong on the way.
            if let Some(signal) = stop_pending(&mut control_rx).await {
                tracing::warn!(error = %rejected, "config rejected at start-up");
                tracing::info!(signal, "stopped during start-up");
                return Ok(());
            }
            return Err(rejected.into());
        }
    };

    let config_rejected = Arc::new(AtomicBool::new(false));
    let config_watch =
        ConfigWatcher::start(&config, control_tx.clone(), Arc::clone(&config_rejected))?;
    if let Some(addr) = options.metrics {
        let bound = http::serve(addr, Arc::clone(&metrics)).await?;
        tracing::info!(metrics = %bound, path = "/metrics", "serving metrics");
    }
    events.started();
    tracing::info!(
        pid = std::process::id(),
        lock = %lock.path().display(),
        db = %options.db.display(),
        config = %options.config.display(),
        strategies = %options.strategies.display(),
        node = ?kind,
        collect_every_secs = options.collect_every.as_secs(),
        decide_every_secs = options.decide_every.as_secs(),
        "daemon started"
    );

    let mut daemon = Daemon {
        guard: GuardConfig::charge_lnd_compatible(kind),
        options,
        store,
        registry,
        metrics,
        client,
        config,
        config_watch,
        config_rejected,
        control_tx,
        cycles: 0,
    };
    let mut lock = lock;
    let stopped_by = daemon.schedule(&mut clock, control_rx, &mut lock).await;
    let pending = daemon.store.pending_intents()?.len();
    if pending > 0 {
        tracing::warn!(
            pending,
            "update intents left pending by the abandoned run; the next start reconciles them against the node"
        );
    }
    tracing::info!(
        signal = stopped_by,
        cycles = daemon.cycles,
        "daemon stopped"
    );
    // The client before the clock: with --sim, the clock owns the node the client talks to.
    drop(daemon);
    drop(clock);
    // The watcher waits for a compile in flight, which records its outcome in the database:
    // before the lock goes, so that no other process runs beside that write.
    drop(strategies_watch);
    drop(lock);
    Ok(())
}

/// Whether `lock` still guards the database, taking it again if its file was deleted (see
/// [`DbLock::reassert`]). When another process holds the file now (a cron `lnpolicy -c` that
/// found none), this run is skipped, and the next slot tries again.
fn lock_is_ours(lock: &mut DbLock) -> bool {
    match lock.reassert() {
        Ok(false) => true,
        Ok(true) => {
            tracing::warn!(
                lock = %lock.path().display(),
                "the database lock file was deleted or replaced; locked again"
            );
            true
        }
        Err(error @ DaemonError::AlreadyRunning { .. }) => {
            tracing::error!(
                %error,
                "the database lock file was deleted and another process locked its replacement; skipping this run so that one process manages the node"
            );
            false
        }
        Err(error) => {
            tracing::error!(%error, "the database lock file cannot be checked; skipping this run");
            false
        }
    }
}

/// The stop signal among the messages that came, or come within a moment: the signal that
/// killed a compile reaches the child and this process at once, but its message arrives
/// through another task.
async fn stop_pending(control: &mut UnboundedReceiver<Control>) -> Option<&'static str> {
    let first_stop = async {
        while let Some(message) = control.recv().await {
            if let Control::Shutdown(signal) = message {
                return Some(signal);
            }
        }
        None
    };
    tokio::time::timeout(STOP_SIGNAL_GRACE, first_stop)
        .await
        .ok()
        .flatten()
}

/// How long a failed start waits for the message of a stop signal that may have caused it.
const STOP_SIGNAL_GRACE: Duration = Duration::from_millis(500);

/// Every built-in strategy, with the compile cache so that a restart does not recompile. A
/// built-in that does not load is logged and left out rather than stopping the daemon: a
/// config that names it is rejected by the config check like any unknown strategy.
fn registry(
    options: &DaemonOptions,
    events: Arc<dyn lnpolicy_core::EventSink>,
) -> Result<StrategyRegistry, DaemonError> {
    let runtime = Arc::new(Runtime::new(options.runtime.clone())?);
    let registry = StrategyRegistry::new(runtime, events, RegistryConfig::default());
    for name in lnpolicy_builtins::names() {
        let bytes = lnpolicy_builtins::get(name).expect("a listed built-in exists");
        if let Err(error) = registry.add_builtin(name, bytes) {
            tracing::error!(strategy = name, %error, "built-in strategy does not load; left out");
        }
    }
    Ok(registry)
}

struct Daemon {
    options: DaemonOptions,
    store: Arc<Store>,
    registry: Arc<StrategyRegistry>,
    metrics: Arc<Metrics>,
    client: Box<dyn NodeClient>,
    config: Config,
    guard: GuardConfig,
    /// Replaced after each successful reload: the set of included files may have changed.
    config_watch: ConfigWatcher,
    /// The last reload was rejected: until one succeeds, a strategy loading or any file
    /// changing in the config's folders tries again (what it lacked may have appeared).
    config_rejected: Arc<AtomicBool>,
    control_tx: UnboundedSender<Control>,
    /// Config cycles started, for the logs.
    cycles: u64,
}

/// What woke the main loop.
enum Wake {
    Control(Control),
    Due,
}

/// A run that was allowed to finish, or abandoned on shutdown.
struct Interruptible<T> {
    /// `None` when abandoned.
    output: Option<T>,
    after: AfterRun,
}

/// What arrived while a run was in flight, for the main loop to act on once it is over.
struct AfterRun {
    /// The signal that asked to stop during the run.
    shutdown: Option<&'static str>,
    /// Reloads asked for during the run; done after it, so that a cycle uses one config.
    reloads: Vec<ReloadCause>,
}

#[derive(Debug, thiserror::Error)]
enum CycleError {
    #[error("catching up with the node's history: {0}")]
    CatchUp(#[from] CollectError),
    #[error("reconciling pending updates: {0}")]
    Reconcile(#[from] ReconcileError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("copying the database for a dry run: {0}")]
    Snapshot(#[from] SnapshotError),
    #[error("opening the dry run's copy of the database: {0}")]
    Copy(#[from] StoreError),
}

impl Daemon {
    /// The schedule: a config cycle at start and every `decide_every`, a collection every
    /// `collect_every` in between, each only while `lock` is ours. Returns the signal that
    /// stopped it.
    async fn schedule(
        &mut self,
        clock: &mut Clock,
        mut control: UnboundedReceiver<Control>,
        lock: &mut DbLock,
    ) -> &'static str {
        let collect_every = self.options.collect_every.as_secs().max(1);
        let decide_every = self.options.decide_every.as_secs().max(1);
        let mut next_decide = clock.now();
        let mut next_collect = next_decide + collect_every;
        let end = self
            .options
            .run_for
            .map(|run_for| next_decide.saturating_add(run_for.as_secs()));
        loop {
            let due = next_decide.min(next_collect);
            if end.is_some_and(|end| due > end) {
                return "run-for elapsed";
            }
            let wake = tokio::select! {
                biased;
                Some(message) = control.recv() => Wake::Control(message),
                () = clock.wait_until(due) => Wake::Due,
            };
            let after_run = match wake {
                Wake::Control(Control::Shutdown(signal)) => return signal,
                Wake::Control(Control::Reload(cause)) => {
                    self.reload(cause);
                    continue;
                }
                Wake::Due => {
                    let now = clock.now();
                    // The slot that was due, not a comparison with the clock: after a clock set
                    // back, the wait ends by the monotonic clock with the wall clock still short.
                    let decided = next_decide <= next_collect;
                    let run = if !lock_is_ours(lock) {
                        AfterRun {
                            shutdown: None,
                            reloads: Vec::new(),
                        }
                    } else if decided {
                        self.decide(&mut control, clock, now).await
                    } else {
                        self.collect(&mut control, now).await
                    };
                    (next_decide, next_collect) = reschedule(
                        Slots {
                            decide: next_decide,
                            collect: next_collect,
                        },
                        decided,
                        clock.now(),
                        decide_every,
                        collect_every,
                    );
                    run
                }
            };
            if let Some(signal) = after_run.shutdown {
                return signal;
            }
            for cause in after_run.reloads {
                self.reload(cause);
            }
        }
    }

    /// One config cycle: catch up with the node's history, reconcile what a crash left
    /// pending, then collect, decide, apply. Its logs carry the cycle's number and scheduled
    /// time as span fields.
    async fn decide(
        &mut self,
        control: &mut UnboundedReceiver<Control>,
        clock: &Clock,
        scheduled: u64,
    ) -> AfterRun {
        self.cycles += 1;
        let span = tracing::info_span!("cycle", cycle = self.cycles, at = scheduled);
        self.decide_in_span(control, clock, scheduled)
            .instrument(span)
            .await
    }

    async fn decide_in_span(
        &mut self,
        control: &mut UnboundedReceiver<Control>,
        clock: &Clock,
        scheduled: u64,
    ) -> AfterRun {
        let started = Instant::now();
        let mut decided_at = scheduled;
        let work = async {
            // After a long downtime the catch-up can take minutes; the cycle then decides at
            // the time it ends, not at the time it was due, so that its updates and the
            // windows they are judged on carry the time they were really sent.
            let collected = collect(
                self.client.as_ref(),
                &self.store,
                scheduled,
                &CollectConfig::to_the_end(),
            )
            .await?;
            let now = clock.now().max(scheduled);
            decided_at = now;
            let reconciled = reconcile_pending(self.client.as_ref(), &self.store, now).await?;
            if !reconciled.applied.is_empty() || !reconciled.not_applied.is_empty() {
                tracing::info!(
                    applied = reconciled.applied.len(),
                    not_applied = reconciled.not_applied.len(),
                    "reconciled updates left pending by an earlier run"
                );
                self.metrics.record_reconciled(&reconciled);
            }
            let dry_run = self.options.dry_run;
            // A dry run decides on a copy: its decisions never reach the database's reports.
            // The node facts a cycle keeps go to the real database first, or the copy's
            // lookups would be repeated every cycle.
            if dry_run {
                record_node_facts(
                    self.client.as_ref(),
                    &self.store,
                    &collected.node_channels,
                    now,
                )
                .await?;
            }
            let snapshot = dry_run
                .then(|| Snapshot::of(&self.options.db))
                .transpose()?;
            let copy = match &snapshot {
                Some(snapshot) => Some(Store::open(snapshot.path())?),
                None => None,
            };
            let plan = ConfiguredPlan::new(&self.config, &self.guard, dry_run);
            let outcome = run_configured_on(
                self.client.as_ref(),
                copy.as_ref().unwrap_or(&self.store),
                &self.registry,
                plan,
                collected,
                now,
            )
            .await?;
            if dry_run {
                record_analyses(&self.store, &outcome.views, now)?;
            }
            Ok::<_, CycleError>(outcome)
        };
        let run = finish_or_abandon(work, control, self.options.shutdown_grace).await;
        let elapsed_ms = elapsed_ms(started);
        self.count_quarantined();
        match &run.output {
            Some(Ok(outcome)) => {
                self.metrics.record_cycle(outcome);
                log_cycle(outcome, decided_at, elapsed_ms);
                self.update_revenue(decided_at);
            }
            Some(Err(error)) => {
                self.metrics.record_cycle_end(RunStatus::Failed);
                tracing::error!(%error, elapsed_ms, "cycle failed; the next one runs on schedule");
                // The windows end now even when the node cannot be read: a gauge left at the
                // last good run would show yesterday's revenue through an outage.
                self.update_revenue(clock.now().max(decided_at));
            }
            None => {
                self.metrics.record_cycle_end(RunStatus::Abandoned);
                tracing::warn!(
                    elapsed_ms,
                    "cycle abandoned on shutdown; an update it had in flight stays pending and is reconciled at the next start"
                );
            }
        }
        run.after
    }

    /// Brings the stored history up to date between cycles, so that the activity windows and
    /// the revenue gauge follow the node closely even when decisions are rare.
    async fn collect(&mut self, control: &mut UnboundedReceiver<Control>, now: u64) -> AfterRun {
        let started = Instant::now();
        let settings = CollectConfig::default();
        let work = collect(self.client.as_ref(), &self.store, now, &settings);
        let run = finish_or_abandon(work, control, self.options.shutdown_grace).await;
        let elapsed_ms = elapsed_ms(started);
        match &run.output {
            Some(Ok(report)) => {
                self.metrics.record_collection(RunStatus::Ok);
                self.metrics.set_channels(report.channels);
                tracing::info!(
                    at = now,
                    channels = report.channels,
                    forwards = report.forwards_added,
                    failures = report.failures_added,
                    resolved = report.resolved_added,
                    payment_parts = report.payment_parts_added,
                    elapsed_ms,
                    "collected"
                );
                self.update_revenue(now);
            }
            Some(Err(error)) => {
                self.metrics.record_collection(RunStatus::Failed);
                tracing::error!(at = now, %error, elapsed_ms, "collection failed");
                self.update_revenue(now);
            }
            None => self.metrics.record_collection(RunStatus::Abandoned),
        }
        run.after
    }

    /// Swaps in the new config only if it loads and checks completely; otherwise the running
    /// one stays, and every error is logged with its file and line. After a strategy changed,
    /// a running config that no longer checks (its strategy gone, a parameter renamed) is
    /// reported the same way: its sections then decide nothing until it is fixed.
    fn reload(&mut self, cause: ReloadCause) {
        if matches!(cause, ReloadCause::Sighup) {
            let released = self.registry.release_quarantined();
            if !released.is_empty() {
                tracing::info!(strategies = ?released, "quarantine lifted by SIGHUP");
                self.count_quarantined();
            }
        }
        let path = self.options.config.clone();
        // Set while loading, so that a file appearing as the load finds it missing is not
        // passed over; cleared once the config loads.
        self.config_rejected.store(true, Ordering::Release);
        match config::load(&path, &self.registry, self.client.kind()) {
            Ok(config) => {
                self.config_rejected.store(false, Ordering::Release);
                match ConfigWatcher::start(
                    &config,
                    self.control_tx.clone(),
                    Arc::clone(&self.config_rejected),
                ) {
                    Ok(watch) => self.config_watch = watch,
                    Err(error) => {
                        tracing::warn!(%error, "config reloaded, but its files are no longer watched; SIGHUP still reloads")
                    }
                }
                self.config = config;
                self.metrics.record_config_reload(true);
                tracing::info!(
                    cause = cause.as_str(),
                    changed = %changed_file(&cause, &path).display(),
                    config = %path.display(),
                    "config reloaded"
                );
            }
            Err(rejected) => {
                self.metrics.record_config_reload(false);
                config::log_rejection(&rejected, cause);
            }
        }
    }

    fn count_quarantined(&self) {
        let statuses = self.registry.statuses();
        self.metrics
            .set_quarantined(statuses.iter().filter(|s| s.quarantined).count());
    }

    /// The fees earned over the last day and week, from the forwards collected so far.
    fn update_revenue(&self, now: u64) {
        let to_ns = now.saturating_mul(NS);
        let earned = |days: u64| -> Result<u64, lnpolicy_store::StoreError> {
            let from_ns = to_ns.saturating_sub(days * DAY_SECS * NS);
            Ok(self
                .store
                .flow_totals(from_ns, to_ns)?
                .values()
                .map(|t| t.fees_msat)
                .sum())
        };
        match (earned(1), earned(7)) {
            (Ok(day), Ok(week)) => self.metrics.set_revenue(day, week),
            (Err(error), _) | (_, Err(error)) => {
                tracing::warn!(%error, "could not sum the revenue for the metrics")
            }
        }
    }
}

fn changed_file<'a>(cause: &'a ReloadCause, config: &'a Path) -> &'a Path {
    match cause {
        ReloadCause::FileChanged(path) => path,
        ReloadCause::Sighup | ReloadCause::StrategyChanged => config,
    }
}

/// Runs `work` to completion unless a shutdown arrives; then gives it `grace` more (a second
/// signal cuts that short) and drops it if it is still running. Dropping only ever happens
/// at an await point, i.e. during a node call: every store write before it is committed, and
/// an update whose node call was cut keeps its pending intent for reconciliation.
async fn finish_or_abandon<T>(
    work: impl Future<Output = T>,
    control: &mut UnboundedReceiver<Control>,
    grace: Duration,
) -> Interruptible<T> {
    tokio::pin!(work);
    let mut reloads = Vec::new();
    let signal = loop {
        tokio::select! {
            // A signal first: a run woken at the same time is not taken on to its next call.
            biased;
            Some(message) = control.recv() => match message {
                Control::Reload(cause) => reloads.push(cause),
                Control::Shutdown(signal) => break signal,
            },
            output = &mut work => {
                let after = AfterRun { shutdown: None, reloads };
                return Interruptible { output: Some(output), after };
            }
        }
    };
    let after = AfterRun {
        shutdown: Some(signal),
        reloads,
    };
    if grace.is_zero() {
        // Not polled again: it could go on to its next node call, an update among them.
        tracing::warn!(signal, "--shutdown-grace 0: abandoning the run in flight");
        return Interruptible {
            output: None,
            after,
        };
    }
    tracing::info!(
        signal,
        grace_secs = grace.as_secs_f64(),
        "shutting down: letting the run in flight finish"
    );
    let deadline = tokio::time::sleep(grace);
    tokio::pin!(deadline);
    let output = loop {
        tokio::select! {
            output = &mut work => break Some(output),
            () = &mut deadline => {
                tracing::warn!(signal, "the run in flight did not finish in the grace period; abandoning it");
                break None;
            }
            Some(message) = control.recv() => {
                if let Control::Shutdown(second) = message {
                    tracing::warn!(signal = second, "second signal; abandoning the run in flight");
                    break None;
                }
            }
        }
    };
    Interruptible { output, after }
}

/// When the next config cycle and the next collection are due.
struct Slots {
    decide: u64,
    collect: u64,
}

/// The slots after a run (a cycle when `decided`, else a collection) that ended at `ended`:
/// the first slot of the grid after its end, so a run that took longer than its interval is
/// not followed by the slots it covered, one after another; a collection follows a cycle
/// `collect_every` later. No slot is more than its interval after `ended`: a clock set back
/// moves the grid with it instead of holding the schedule for as long as the step.
fn reschedule(
    slots: Slots,
    decided: bool,
    ended: u64,
    decide_every: u64,
    collect_every: u64,
) -> (u64, u64) {
    let (decide, collect) = if decided {
        (
            after(slots.decide, decide_every, ended),
            ended + collect_every,
        )
    } else {
        (slots.decide, after(slots.collect, collect_every, ended))
    };
    (
        decide.min(ended + decide_every),
        collect.min(ended + collect_every),
    )
}

/// The first time after `now` on the grid `last + k * every`: a run that overran, or a
/// daemon that was suspended, skips the missed runs instead of running them back to back.
fn after(last: u64, every: u64, now: u64) -> u64 {
    if now < last {
        return last + every;
    }
    last + ((now - last) / every + 1) * every
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `decided_at` is the time the cycle decided at, later than the span's `at` when its
/// catch-up took long.
fn log_cycle(outcome: &ConfiguredOutcome, decided_at: u64, elapsed_ms: u64) {
    let mut decided = 0;
    let mut clamps = 0;
    for (channel, plan) in outcome.channels.iter().zip(&outcome.plans) {
        match &plan.outcome {
            PlanOutcome::Decided { guarded, .. } => {
                decided += 1;
                clamps += guarded.clamps.len();
            }
            PlanOutcome::Failed(error) => tracing::warn!(
                channel = channel.id,
                section = plan.section.as_ref().map(|s| s.name.as_str()),
                strategy = plan.strategy.as_deref(),
                %error,
                "channel left unchanged"
            ),
            PlanOutcome::NoPolicy | PlanOutcome::Held(_) => {}
        }
    }
    if outcome.applied.is_none() {
        for candidate in &outcome.rollbacks {
            tracing::info!(
                channel = candidate.channel_id,
                fee_ppm = candidate.current.fee_ppm,
                new_fee_ppm = candidate.restore.fee_ppm,
                reason = %candidate.reason(),
                "dry run: would roll back"
            );
        }
        for update in outcome.updates().iter().filter(|u| u.is_worth_sending()) {
            let (from, to) = (&update.channel.local_policy, &update.desired);
            tracing::info!(
                channel = update.channel.id,
                fee_ppm = from.fee_ppm,
                new_fee_ppm = to.fee_ppm,
                base_fee_msat = from.base_fee_msat,
                new_base_fee_msat = to.base_fee_msat,
                inbound_fee_ppm = from.inbound_fee_ppm,
                new_inbound_fee_ppm = to.inbound_fee_ppm,
                disabled = from.disabled,
                new_disabled = to.disabled,
                held_by_cap = outcome.would_hold.contains(&update.channel.id),
                "dry run: would update"
            );
        }
    }
    let applied = outcome.applied.as_ref();
    tracing::info!(
        channels = outcome.channels.len(),
        decided_at,
        forwards = outcome.collected.forwards_added,
        decided,
        clamps,
        applied = applied.map_or(0, |a| a.applied.len()),
        failed = applied.map_or(0, |a| a.failed.len()),
        below_delta = applied.map_or(0, |a| a.below_delta),
        unchanged = applied.map_or(0, |a| a.unchanged),
        held = applied.map_or(0, |a| a.held.len())
            + outcome.rolled_back.as_ref().map_or(0, |r| r.held.len()),
        rolled_back = outcome.rolled_back.as_ref().map_or(0, |r| r.applied.len()),
        dry_run = applied.is_none(),
        elapsed_ms,
        "cycle done"
    );
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Poll;
    use std::time::Duration;

    use super::{Control, Slots, after, finish_or_abandon, reschedule};

    /// With no grace, a stop already queued abandons the run without polling it: a poll could
    /// take it to its next node call.
    #[tokio::test]
    async fn no_grace_polls_the_run_no_more_after_the_signal() {
        for _ in 0..32 {
            let polls = AtomicUsize::new(0);
            let work = std::future::poll_fn(|_| {
                polls.fetch_add(1, Ordering::Relaxed);
                Poll::<()>::Pending
            });
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            tx.send(Control::Shutdown("SIGTERM")).unwrap();
            let run = finish_or_abandon(work, &mut rx, Duration::ZERO).await;
            assert!(run.output.is_none());
            assert_eq!(run.after.shutdown, Some("SIGTERM"));
            assert_eq!(polls.load(Ordering::Relaxed), 0, "polled after the signal");
        }
    }

    #[test]
    fn a_run_that_overran_is_not_followed_by_another_at_once() {
        let slots = || Slots {
            decide: 1_000,
            collect: 1_300,
        };
        // A cycle due at 1,000 (every 600) that took 900 s: the next is at 2,200, not 1,600.
        assert_eq!(reschedule(slots(), true, 1_900, 600, 300), (2_200, 2_200));
        assert_eq!(reschedule(slots(), true, 1_010, 600, 300), (1_600, 1_310));
        // A collection due at 1,300 that ran until 1,700 leaves the cycle where it was.
        assert_eq!(reschedule(slots(), false, 1_700, 600, 300), (1_000, 1_900));
    }

    #[test]
    fn a_clock_set_back_moves_the_slots_with_it() {
        let slots = || Slots {
            decide: 10_000,
            collect: 10_300,
        };
        // The clock went back an hour while a cycle due at 10,000 ran: the next cycle is one
        // interval after it ended on the new clock, not an hour and an interval.
        assert_eq!(reschedule(slots(), true, 6_410, 600, 300), (7_010, 6_710));
        // Likewise after a collection: the cycle is not held for the hour.
        assert_eq!(reschedule(slots(), false, 6_710, 600, 300), (7_310, 7_010));
    }

    #[test]
    fn missed_runs_are_skipped_not_replayed() {
        assert_eq!(after(100, 10, 100), 110);
        assert_eq!(after(100, 10, 105), 110);
        assert_eq!(after(100, 10, 110), 120);
        assert_eq!(after(100, 10, 137), 140);
        // The clock went backwards (sim restarted, NTP): just the next slot.
        assert_eq!(after(100, 10, 50), 110);
    }
}
