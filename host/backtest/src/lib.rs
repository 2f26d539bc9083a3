//! Backtests: a policy config run on the simulator in virtual time, through the same engine
//! the daemon uses (collect, decide in the sandbox, guard, apply), and measured against the
//! hindsight-best static fee of each channel on the same seeded market.
//!
//! The reference is found by grid search: the seeded run is replayed once per fee level of
//! the grid with every channel held at that level, and each channel's best level is the one
//! that earned it most. Channels interact (a payment enters through one and leaves through
//! another), so this per-channel maximum over uniform runs is an approximation of the best
//! static assignment, and the one SIMULATOR.md asks for.
//!
//! Several policies can be compared in one run: each plays the same seeded markets, and the
//! grid, about half as costly as a policy run, is searched once per seed for all of them;
//! [`compare`] then sets each against the first, seed by seed.
//!
//! Every policy run and grid level is an independent job on its own simulated node and
//! database, so [`Spec::jobs`] threads share them out; the report does not depend on how many,
//! provided the registry bounds guest calls by fuel rather than by the wall clock (the CLI gives
//! them a deadline no loaded machine reaches).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use lnpolicy_core::ChannelId;
use lnpolicy_engine::{ConfiguredPlan, EngineError, run_configured};
use lnpolicy_policy::config::Config;
use lnpolicy_policy::configured::PlanOutcome;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_report::stats::{Paired, paired_interval};
use lnpolicy_runtime::StrategyRegistry;
use lnpolicy_sim::{
    ChannelTotals, InProcessNode, LiveSimulation, Scenario, ScenarioError, Simulation,
};
use lnpolicy_store::{Store, StoreError};
use serde::Serialize;

/// Fee levels of the hindsight grid, ppm: dense where most public fees are, and sparse up to
/// 50,000 ppm (LND senders' 5% limit, and the highest fee the backtest's guard lets a policy
/// set) for a channel nobody competes with, such as a private peer's, whose revenue can keep
/// rising long after other channels' falls: a grid that stopped below its best would credit
/// every policy with more than the best static fee earns.
pub const DEFAULT_GRID_PPM: &[u32] = &[
    0, 10, 25, 50, 75, 100, 150, 200, 300, 400, 500, 650, 800, 1000, 1300, 1700, 2200, 3000, 4000,
    6000, 9000, 14000, 25000, 35000, 50000,
];

/// The default grid cut at `max_ppm`, which is added as its top level: the reference for an
/// operator who will not charge more than that, whatever a channel could have earned above it.
pub fn grid_up_to(max_ppm: u32) -> Vec<u32> {
    let mut grid: Vec<u32> = DEFAULT_GRID_PPM
        .iter()
        .copied()
        .filter(|&ppm| ppm < max_ppm)
        .collect();
    grid.push(max_ppm);
    grid
}

/// One policy of a backtest, with the name its report carries.
pub struct Policy<'a> {
    pub label: String,
    pub config: &'a Config,
}

/// What to run.
pub struct Spec<'a> {
    pub scenario: &'a Scenario,
    /// Run on the same markets and measured against the same hindsight grid.
    pub policies: Vec<Policy<'a>>,
    pub days: u64,
    /// One run per seed (each replaces the scenario's own seed).
    pub seeds: Vec<u64>,
    /// How often the policy decides, virtual seconds.
    pub cycle_secs: u64,
    pub grid_ppm: Vec<u32>,
    /// Threads running policy runs and grid levels side by side (at least one).
    pub jobs: usize,
}

/// Where a long run is, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Finished steps over every seed: one per grid level, one per cycle of a policy run.
    pub done: u64,
    pub steps: u64,
}

/// What one group of channels (a strategy, or one arm of an experiment) did. Serialized with
/// its share of the hindsight best and its success rate, as the table shows them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroupResult {
    /// The strategy, with the experiment and arm for experiment sections; `none` for
    /// channels no section applied to.
    pub label: String,
    pub channels: usize,
    /// What the channels' own fees earned: each forward's fee is shared between the channel
    /// it left by (its outbound fee) and the one it came in by (its inbound fee, negative for
    /// a discount), as the store counts it, so an arm's inbound discounts are its own cost,
    /// not the other arm's. Over all channels, what the node earned.
    pub revenue_msat: i64,
    pub volume_msat: u64,
    pub forwards: u64,
    /// Forwards out through these channels that failed at our node.
    pub failures: u64,
    /// What the same channels earned (counted the same way) at their hindsight-best static
    /// fee.
    pub best_static_revenue_msat: i64,
    /// Decisions that failed (the strategy trapped, timed out or returned something the
    /// host refused), each leaving a channel unchanged for a cycle.
    pub failed_decisions: u64,
}

impl Serialize for GroupResult {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut group = serializer.serialize_struct("GroupResult", 10)?;
        group.serialize_field("label", &self.label)?;
        group.serialize_field("channels", &self.channels)?;
        group.serialize_field("revenue_msat", &self.revenue_msat)?;
        group.serialize_field("volume_msat", &self.volume_msat)?;
        group.serialize_field("forwards", &self.forwards)?;
        group.serialize_field("failures", &self.failures)?;
        group.serialize_field("best_static_revenue_msat", &self.best_static_revenue_msat)?;
        group.serialize_field("failed_decisions", &self.failed_decisions)?;
        group.serialize_field("percent_of_best_static", &self.percent_of_best_static())?;
        group.serialize_field("success_rate", &self.success_rate())?;
        group.end()
    }
}

impl GroupResult {
    /// Settled forwards over settled plus failed ones.
    pub fn success_rate(&self) -> Option<f64> {
        let tried = self.forwards + self.failures;
        (tried > 0).then(|| self.forwards as f64 / tried as f64)
    }

    /// Revenue as a percentage of the hindsight-best static revenue.
    pub fn percent_of_best_static(&self) -> Option<f64> {
        (self.best_static_revenue_msat > 0)
            .then(|| 100.0 * self.revenue_msat as f64 / self.best_static_revenue_msat as f64)
    }

    fn add(&mut self, other: &GroupResult) {
        self.channels += other.channels;
        self.revenue_msat += other.revenue_msat;
        self.volume_msat += other.volume_msat;
        self.forwards += other.forwards;
        self.failures += other.failures;
        self.best_static_revenue_msat += other.best_static_revenue_msat;
        self.failed_decisions += other.failed_decisions;
    }

    /// Sums another seed's run of the same group: the same channels, so they are not added.
    fn add_seed(&mut self, other: &GroupResult) {
        let channels = self.channels.max(other.channels);
        self.add(other);
        self.channels = channels;
    }
}

/// One seed's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedResult {
    pub seed: u64,
    pub groups: Vec<GroupResult>,
    /// The whole node.
    pub total: GroupResult,
    pub channels: Vec<ChannelResult>,
}

/// One channel in one seed's run: what the policy earned on it, and what every static fee of
/// the grid earned on the same market, which shows where a policy falls short and why (a
/// channel whose revenue keeps rising with its fee has no competition).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelResult {
    pub channel_id: ChannelId,
    /// The scenario's name for the peer: it names the same channel in every seed, where the
    /// channel's id does not.
    pub peer_alias: String,
    /// Counted as [`GroupResult::revenue_msat`], over every label the channel had.
    pub revenue_msat: i64,
    pub volume_msat: u64,
    pub forwards: u64,
    pub failures: u64,
    /// The highest outbound fee in force on the channel at the end of a cycle, ppm (what the
    /// policy set, or kept): a best static fee far above it is one the policy never tried.
    pub highest_fee_ppm: u32,
    /// The grid level that earned most; the lower fee on a tie.
    pub best_static_ppm: u32,
    pub best_static_revenue_msat: i64,
    /// What the channel earned at each level of the grid, by ppm.
    pub static_revenue_msat: BTreeMap<u32, i64>,
}

/// One policy's report: every seed, and the groups summed over seeds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The policy's label.
    pub policy: String,
    pub scenario: String,
    pub days: u64,
    pub cycle_secs: u64,
    /// The levels of the hindsight grid, ppm.
    pub grid_ppm: Vec<u32>,
    pub seeds: Vec<SeedResult>,
    pub groups: Vec<GroupResult>,
    pub total: GroupResult,
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error("scenario: {0}")]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("temporary database: {0}")]
    TempDir(std::io::Error),
    #[error("nothing to run: {0}")]
    Empty(&'static str),
    #[error("starting a backtest thread's runtime: {0}")]
    Runtime(std::io::Error),
}

/// Runs every policy of `spec` for every seed; one report per policy, in order. `progress`
/// is called after every step, from whichever thread finished it.
pub fn run(
    spec: &Spec<'_>,
    registry: &StrategyRegistry,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Vec<Report>, BacktestError> {
    if spec.seeds.is_empty() || spec.days == 0 || spec.cycle_secs == 0 {
        return Err(BacktestError::Empty(
            "give at least one seed, one day and a cycle length",
        ));
    }
    if spec.grid_ppm.is_empty() {
        return Err(BacktestError::Empty("the hindsight grid has no fee levels"));
    }
    if spec.policies.is_empty() {
        return Err(BacktestError::Empty("no policy to run"));
    }
    let cycles = (spec.days * 86_400).div_ceil(spec.cycle_secs);
    // The long policy runs first, the short grid levels after: the threads then finish at
    // about the same time.
    let mut jobs = Vec::new();
    for seed in 0..spec.seeds.len() {
        jobs.extend((0..spec.policies.len()).map(|policy| Job::Policy { seed, policy }));
    }
    // One more level than the grid has: each channel at the fee the scenario gives it, a
    // static fee too, which the grid's levels need not include.
    let levels = spec.grid_ppm.len() + 1;
    for seed in 0..spec.seeds.len() {
        jobs.extend((0..levels).map(|level| Job::Grid { seed, level }));
    }
    let steps = spec.seeds.len() as u64 * (levels as u64 + cycles * spec.policies.len() as u64);
    // Counted and shown under one lock, so that the bar never steps back.
    let done = Mutex::new(0u64);
    let step = || {
        let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
        *done += 1;
        progress(Progress { done: *done, steps });
    };
    let outputs = run_jobs(spec, registry, &jobs, cycles, &step)?;

    let mut curves: Vec<BTreeMap<ChannelId, BTreeMap<u32, i64>>> =
        vec![BTreeMap::new(); spec.seeds.len()];
    let mut runs: BTreeMap<(usize, usize), PolicyRun> = BTreeMap::new();
    for (job, output) in jobs.iter().zip(outputs) {
        match (*job, output) {
            (Job::Grid { seed, level }, JobOutput::Grid(totals)) => {
                // A starting fee above the grid's top (`--grid-max-ppm`) is not a fee the
                // reference's operator would charge.
                let own_fees = level == spec.grid_ppm.len();
                let ceiling = spec.grid_ppm.iter().copied().max().unwrap_or_default();
                for (id, ppm, revenue) in totals {
                    if own_fees && ppm > ceiling {
                        continue;
                    }
                    // The scenario's own fee may equal a grid level: the better run stands.
                    curves[seed]
                        .entry(id)
                        .or_default()
                        .entry(ppm)
                        .and_modify(|best| *best = (*best).max(revenue))
                        .or_insert(revenue);
                }
            }
            (Job::Policy { seed, policy }, JobOutput::Policy(run)) => {
                runs.insert((seed, policy), run);
            }
            _ => unreachable!("every job gives the output of its kind"),
        }
    }
    Ok(spec
        .policies
        .iter()
        .enumerate()
        .map(|(policy_index, policy)| {
            let seeds = spec
                .seeds
                .iter()
                .enumerate()
                .map(|(seed_index, &seed)| {
                    measure(
                        seed,
                        &runs[&(seed_index, policy_index)],
                        &curves[seed_index],
                    )
                })
                .collect();
            summarise(spec, &policy.label, seeds)
        })
        .collect())
}

/// One unit of a backtest: a policy's run on one seed, or one level of a seed's grid.
#[derive(Debug, Clone, Copy)]
enum Job {
    Policy { seed: usize, policy: usize },
    Grid { seed: usize, level: usize },
}

enum JobOutput {
    Policy(PolicyRun),
    /// Each channel's fee and revenue with every channel held at the level.
    Grid(Vec<(ChannelId, u32, i64)>),
}

/// Runs `jobs` on `spec.jobs` threads, each with its own single-threaded runtime; the
/// outputs come back in the order of `jobs`. The first failure stops the threads from
/// taking new jobs and is returned.
fn run_jobs(
    spec: &Spec<'_>,
    registry: &StrategyRegistry,
    jobs: &[Job],
    cycles: u64,
    step: &(dyn Fn() + Sync),
) -> Result<Vec<JobOutput>, BacktestError> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let outputs: Mutex<Vec<Option<Result<JobOutput, BacktestError>>>> =
        Mutex::new(jobs.iter().map(|_| None).collect());
    let work = || {
        let runtime = match tokio::runtime::Builder::new_current_thread().build() {
            Ok(runtime) => runtime,
            Err(error) => {
                failed.store(true, Ordering::SeqCst);
                return Err(BacktestError::Runtime(error));
            }
        };
        let _stop_on_panic = StopOnPanic(&failed);
        while !failed.load(Ordering::SeqCst) {
            let index = next.fetch_add(1, Ordering::SeqCst);
            let Some(&job) = jobs.get(index) else { break };
            let (Job::Policy { seed, .. } | Job::Grid { seed, .. }) = job;
            let mut scenario = spec.scenario.clone();
            scenario.seed = spec.seeds[seed];
            let output = match job {
                Job::Policy { policy, .. } => runtime
                    .block_on(run_policy(
                        spec,
                        spec.policies[policy].config,
                        &scenario,
                        registry,
                        cycles,
                        step,
                    ))
                    .map(JobOutput::Policy),
                Job::Grid { level, .. } => {
                    let output = grid_level(spec, &scenario, spec.grid_ppm.get(level).copied());
                    step();
                    output.map(JobOutput::Grid)
                }
            };
            if output.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            outputs.lock().unwrap_or_else(|e| e.into_inner())[index] = Some(output);
        }
        Ok(())
    };
    let threads = spec.jobs.clamp(1, jobs.len().max(1));
    let started: Vec<Result<(), BacktestError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    for result in started {
        result?;
    }
    let mut outputs = outputs.into_inner().unwrap_or_else(|e| e.into_inner());
    // The first failure in job order, for the same error whatever the threads did.
    if let Some(error) = outputs
        .iter_mut()
        .find_map(|output| output.take_if(|o| o.is_err()))
    {
        return Err(error.err().expect("taken because it is an error"));
    }
    Ok(outputs
        .into_iter()
        .map(|output| {
            output
                .expect("no failure, so every job ran")
                .unwrap_or_else(|_| unreachable!("failures returned above"))
        })
        .collect())
}

/// One policy's seeds, and their groups summed.
fn summarise(spec: &Spec<'_>, label: &str, seeds: Vec<SeedResult>) -> Report {
    let mut groups: BTreeMap<String, GroupResult> = BTreeMap::new();
    let mut total = GroupResult {
        label: "all channels".into(),
        ..GroupResult::default()
    };
    for seed in &seeds {
        for group in &seed.groups {
            groups
                .entry(group.label.clone())
                .or_insert_with(|| GroupResult {
                    label: group.label.clone(),
                    ..GroupResult::default()
                })
                .add_seed(group);
        }
        total.add_seed(&seed.total);
    }
    Report {
        policy: label.to_owned(),
        scenario: spec.scenario.name.clone(),
        days: spec.days,
        cycle_secs: spec.cycle_secs,
        grid_ppm: spec.grid_ppm.clone(),
        seeds,
        groups: groups.into_values().collect(),
        total,
    }
}

/// One policy against the run's first, seed by seed: both played the same seeded markets,
/// so the difference on each seed is free of the market's luck, and a few seeds can tell
/// policies apart that their totals' spread would not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub policy: String,
    /// The run's first policy.
    pub baseline: String,
    /// Per seed, the policy's percentage of the hindsight-best static revenue minus the
    /// baseline's, in percentage points; seeds where either has no reference are left out.
    pub differences: Vec<f64>,
    /// Seeds on which the policy scored above the baseline.
    pub better_on: usize,
    /// The 95% paired t interval of the mean difference; `None` below two seeds, or when the
    /// difference is the same on every seed (no spread to draw an interval from).
    pub paired: Option<Paired>,
}

/// Every policy after the first compared with the first (see [`Comparison`]).
pub fn compare(reports: &[Report]) -> Vec<Comparison> {
    let Some((baseline, others)) = reports.split_first() else {
        return Vec::new();
    };
    others
        .iter()
        .map(|report| {
            let differences: Vec<f64> = report
                .seeds
                .iter()
                .zip(&baseline.seeds)
                .filter_map(|(ours, theirs)| {
                    Some(
                        ours.total.percent_of_best_static()?
                            - theirs.total.percent_of_best_static()?,
                    )
                })
                .collect();
            Comparison {
                policy: report.policy.clone(),
                baseline: baseline.policy.clone(),
                better_on: differences.iter().filter(|&&d| d > 0.0).count(),
                paired: paired_interval(&differences, 0.95).ok(),
                differences,
            }
        })
        .collect()
}

/// Stops the other threads from taking new jobs when this one panics.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// One level of the hindsight grid: the seeded market with every channel's outbound rate held
/// at `level` (at the fee the scenario gives it, for `None`), and each channel's fee and what
/// it earned. Everything else stays as the node had it, the inbound fees included: a strategy
/// that sets only the outbound rate keeps them too, and a reference without them would credit
/// the grid with discounts it never gave up.
fn grid_level(
    spec: &Spec<'_>,
    scenario: &Scenario,
    level: Option<u32>,
) -> Result<Vec<(ChannelId, u32, i64)>, BacktestError> {
    let mut sim = Simulation::try_new(scenario.clone())?;
    let mut fees = BTreeMap::new();
    for id in sim.state().channel_ids() {
        if let Some(current) = sim.state().channel(id).map(|c| c.local_policy) {
            let fee_ppm = level.unwrap_or(current.fee_ppm);
            fees.insert(id, fee_ppm);
            if level.is_none() {
                continue;
            }
            let policy = lnpolicy_core::FeePolicy { fee_ppm, ..current };
            if let Err(error) = sim.set_policy(id, policy) {
                tracing::warn!(channel = id, level = fee_ppm, %error, "grid level refused");
            }
        }
    }
    sim.advance(spec.days * 86_400);
    Ok(sim
        .totals()
        .iter()
        .map(|totals| {
            let fee_ppm = fees
                .get(&totals.id)
                .copied()
                .unwrap_or(level.unwrap_or_default());
            (totals.id, fee_ppm, totals.own_revenue_msat)
        })
        .collect())
}

/// A policy run's channels, grouped by label, against the hindsight best. A channel that
/// moved between labels (a balance condition, an experiment section it left) counts for each
/// label with what it did in that label's cycles, and with the share of its hindsight best
/// those cycles make up; it is one of a label's channels where it spent most cycles.
fn measure(
    seed: u64,
    run: &PolicyRun,
    curves: &BTreeMap<ChannelId, BTreeMap<u32, i64>>,
) -> SeedResult {
    let mut groups: BTreeMap<String, GroupResult> = BTreeMap::new();
    let mut total = GroupResult {
        label: "all channels".into(),
        ..GroupResult::default()
    };
    let mut channels = Vec::with_capacity(run.stints.len());
    for (id, stints) in &run.stints {
        let cycles: u64 = stints.values().map(|s| s.cycles).sum();
        let curve = curves.get(id).cloned().unwrap_or_default();
        let (best_ppm, best_static) = best_of(&curve);
        let mut channel_total = Stint::default();
        let majority = stints
            .iter()
            .max_by_key(|(_, s)| s.cycles)
            .map(|(label, _)| label.as_str());
        for (label, stint) in stints {
            let in_majority = majority == Some(label.as_str());
            let channel = GroupResult {
                label: label.clone(),
                channels: usize::from(in_majority),
                revenue_msat: stint.revenue_msat,
                volume_msat: stint.volume_msat,
                forwards: stint.forwards,
                failures: stint.failures,
                best_static_revenue_msat: share_of(best_static, stint.cycles, cycles),
                failed_decisions: if in_majority {
                    run.failed.get(id).copied().unwrap_or(0)
                } else {
                    0
                },
            };
            groups
                .entry(label.clone())
                .or_insert_with(|| GroupResult {
                    label: label.clone(),
                    ..GroupResult::default()
                })
                .add(&channel);
            total.add(&channel);
            channel_total.add(stint);
        }
        channels.push(ChannelResult {
            channel_id: *id,
            peer_alias: run.peer_aliases.get(id).cloned().unwrap_or_default(),
            revenue_msat: channel_total.revenue_msat,
            volume_msat: channel_total.volume_msat,
            forwards: channel_total.forwards,
            failures: channel_total.failures,
            highest_fee_ppm: run.highest_fee_ppm.get(id).copied().unwrap_or_default(),
            best_static_ppm: best_ppm,
            best_static_revenue_msat: best_static,
            static_revenue_msat: curve,
        });
    }
    total.best_static_revenue_msat = channels.iter().map(|c| c.best_static_revenue_msat).sum();
    SeedResult {
        seed,
        groups: groups.into_values().collect(),
        total,
        channels,
    }
}

/// The level of `curve` that earned most, and what it earned; the lower fee on a tie.
fn best_of(curve: &BTreeMap<u32, i64>) -> (u32, i64) {
    let mut best: Option<(u32, i64)> = None;
    for (&ppm, &revenue) in curve {
        if best.is_none_or(|(_, most)| revenue > most) {
            best = Some((ppm, revenue));
        }
    }
    best.unwrap_or_default()
}

/// `part` of `whole` cycles' share of `value`, rounded down.
fn share_of(value: i64, part: u64, whole: u64) -> i64 {
    if whole == 0 {
        return 0;
    }
    (i128::from(value) * i128::from(part) / i128::from(whole)) as i64
}

/// What a channel did in the cycles one label decided it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Stint {
    cycles: u64,
    revenue_msat: i64,
    volume_msat: u64,
    forwards: u64,
    failures: u64,
}

impl Stint {
    /// Adds what the channel did in another stint.
    fn add(&mut self, other: &Stint) {
        self.cycles += other.cycles;
        self.revenue_msat += other.revenue_msat;
        self.volume_msat += other.volume_msat;
        self.forwards += other.forwards;
        self.failures += other.failures;
    }

    /// Adds one cycle: what the channel's totals grew by from `before` to `after`.
    fn add_cycle(&mut self, before: &ChannelTotals, after: &ChannelTotals) {
        self.cycles += 1;
        self.revenue_msat += after.own_revenue_msat - before.own_revenue_msat;
        self.volume_msat += after.volume_out_msat - before.volume_out_msat;
        self.forwards += after.forwards_out - before.forwards_out;
        self.failures += after.failures - before.failures;
    }
}

/// What a policy run left: per channel, what it did under each label, and its failed
/// decisions.
struct PolicyRun {
    stints: BTreeMap<ChannelId, BTreeMap<String, Stint>>,
    failed: BTreeMap<ChannelId, u64>,
    peer_aliases: BTreeMap<ChannelId, String>,
    highest_fee_ppm: BTreeMap<ChannelId, u32>,
}

/// The config's run: one engine cycle every `cycle_secs` through the in-process node. What
/// each channel earns until the next cycle counts for the label (strategy, experiment arm)
/// that decided it in this one.
async fn run_policy(
    spec: &Spec<'_>,
    config: &Config,
    scenario: &Scenario,
    registry: &StrategyRegistry,
    cycles: u64,
    step_done: &(dyn Fn() + Sync),
) -> Result<PolicyRun, BacktestError> {
    let mut live = LiveSimulation::new(Simulation::try_new(scenario.clone())?);
    let node = InProcessNode::new(live.shared());
    let dir = tempfile::tempdir().map_err(BacktestError::TempDir)?;
    let store = Store::open(&dir.path().join("backtest.db"))?;
    let guard = GuardConfig::charge_lnd_compatible(scenario.node.kind);
    let mut stints: BTreeMap<ChannelId, BTreeMap<String, Stint>> = BTreeMap::new();
    let mut failed: BTreeMap<ChannelId, u64> = BTreeMap::new();
    let mut highest_fee_ppm: BTreeMap<ChannelId, u32> = BTreeMap::new();
    for cycle in 0..cycles {
        let now = live.simulation().now_ns() / 1_000_000_000;
        let outcome = run_configured(
            &node,
            &store,
            registry,
            ConfiguredPlan {
                chain_sync_wait: std::time::Duration::ZERO,
                ..ConfiguredPlan::new(config, &guard, false)
            },
            now,
        )
        .await?;
        let mut labels: BTreeMap<ChannelId, String> = BTreeMap::new();
        for plan in &outcome.plans {
            if let PlanOutcome::Failed(error) = &plan.outcome {
                let failures = failed.entry(plan.channel_id).or_default();
                if *failures == 0 {
                    tracing::warn!(channel = plan.channel_id, seed = scenario.seed, %error, "decision failed; the channel stays unchanged this cycle");
                }
                *failures += 1;
            }
            let label = match (&plan.outcome, &plan.strategy, &plan.experiment) {
                (PlanOutcome::NoPolicy, _, _) | (_, None, _) => "none".to_owned(),
                (_, Some(strategy), None) => strategy.clone(),
                (_, Some(strategy), Some((name, arm))) => {
                    format!("{strategy} ({name} arm {})", arm.as_str())
                }
            };
            labels.insert(plan.channel_id, label);
        }
        let before: BTreeMap<ChannelId, ChannelTotals> = live
            .simulation()
            .totals()
            .iter()
            .map(|t| (t.id, t.clone()))
            .collect();
        let step = spec
            .cycle_secs
            .min(spec.days * 86_400 - cycle * spec.cycle_secs);
        live.advance(step);
        // Read after the step: an update the cycle sent is in force by then, so a starting
        // fee the first cycle replaced is not counted. A disabled channel charges nothing.
        for channel in &live.simulation().state().channels {
            let highest = highest_fee_ppm.entry(channel.id).or_default();
            if !channel.local_policy.disabled {
                *highest = (*highest).max(channel.local_policy.fee_ppm);
            }
        }
        for after in live.simulation().totals() {
            let before = before.get(&after.id).cloned().unwrap_or(ChannelTotals {
                id: after.id,
                ..ChannelTotals::default()
            });
            let label = labels.remove(&after.id).unwrap_or_else(|| "none".into());
            stints
                .entry(after.id)
                .or_default()
                .entry(label)
                .or_default()
                .add_cycle(&before, after);
        }
        step_done();
    }
    let simulation = live.simulation();
    let peer_aliases = stints
        .keys()
        .filter_map(|&id| Some((id, simulation.peer_alias(id)?.to_owned())))
        .collect();
    Ok(PolicyRun {
        stints,
        failed,
        peer_aliases,
        highest_fee_ppm,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Channel 1 spent 3 cycles in arm A and 1 in arm B; channel 2 stayed in B. Each label
    /// gets what was earned in its cycles and that share of the hindsight best; a channel
    /// counts in one label only.
    #[test]
    fn a_channel_that_moved_counts_for_each_label_in_its_cycles() {
        let stint = |cycles, revenue_msat| Stint {
            cycles,
            revenue_msat,
            volume_msat: 10 * revenue_msat as u64,
            forwards: cycles,
            failures: 0,
        };
        let run = PolicyRun {
            stints: BTreeMap::from([
                (
                    1,
                    BTreeMap::from([
                        ("a".to_owned(), stint(3, 900)),
                        ("b".to_owned(), stint(1, 50)),
                    ]),
                ),
                (2, BTreeMap::from([("b".to_owned(), stint(4, 400))])),
            ]),
            failed: BTreeMap::from([(1, 2)]),
            peer_aliases: BTreeMap::from([(1, "one".to_owned()), (2, "two".to_owned())]),
            highest_fee_ppm: BTreeMap::from([(1, 700)]),
        };
        let curves = BTreeMap::from([
            (1, BTreeMap::from([(300, 800), (500, 1000), (800, 600)])),
            (2, BTreeMap::from([(100, -5), (300, 400), (500, 400)])),
        ]);
        let result = measure(7, &run, &curves);
        let group = |label: &str| result.groups.iter().find(|g| g.label == label).unwrap();
        let (a, b) = (group("a"), group("b"));
        assert_eq!(
            (
                a.channels,
                a.revenue_msat,
                a.best_static_revenue_msat,
                a.failed_decisions
            ),
            (1, 900, 750, 2)
        );
        assert_eq!(
            (
                b.channels,
                b.revenue_msat,
                b.best_static_revenue_msat,
                b.failed_decisions
            ),
            (1, 450, 650, 0)
        );
        assert_eq!(
            (result.total.channels, result.total.revenue_msat),
            (2, 1350)
        );
        assert_eq!(result.total.best_static_revenue_msat, 1400);
        assert_eq!(result.total.volume_msat, 13_500);
        let channel = |alias: &str| {
            let c = result
                .channels
                .iter()
                .find(|c| c.peer_alias == alias)
                .unwrap();
            (
                c.revenue_msat,
                c.forwards,
                c.best_static_ppm,
                c.best_static_revenue_msat,
                c.static_revenue_msat.len(),
                c.highest_fee_ppm,
            )
        };
        assert_eq!(
            channel("one"),
            (950, 4, 500, 1000, 3, 700),
            "summed over its labels"
        );
        assert_eq!(
            channel("two"),
            (400, 4, 300, 400, 3, 0),
            "a tie goes to the lower fee"
        );
    }

    #[test]
    fn a_grid_cut_at_a_ceiling_ends_at_it() {
        assert_eq!(grid_up_to(2500).last(), Some(&2500));
        assert_eq!(grid_up_to(2500).iter().filter(|&&p| p > 2200).count(), 1);
        assert_eq!(grid_up_to(3000), &DEFAULT_GRID_PPM[..18]);
        assert_eq!(grid_up_to(0), [0]);
    }

    #[test]
    fn the_best_level_of_a_curve_that_only_loses_is_its_least_loss() {
        assert_eq!(
            best_of(&BTreeMap::from([(0, -30), (100, -10), (200, -20)])),
            (100, -10)
        );
        assert_eq!(best_of(&BTreeMap::new()), (0, 0));
    }

    /// A report whose seeds earned `percents` of a 1000 msat reference (`None`: no reference).
    fn report(policy: &str, percents: &[Option<i64>]) -> Report {
        let seeds = percents
            .iter()
            .enumerate()
            .map(|(i, percent)| SeedResult {
                seed: i as u64,
                groups: Vec::new(),
                total: GroupResult {
                    revenue_msat: 10 * percent.unwrap_or(0),
                    best_static_revenue_msat: if percent.is_some() { 1000 } else { 0 },
                    ..GroupResult::default()
                },
                channels: Vec::new(),
            })
            .collect();
        Report {
            policy: policy.into(),
            scenario: "s".into(),
            days: 1,
            cycle_secs: 3600,
            grid_ppm: vec![0],
            seeds,
            groups: Vec::new(),
            total: GroupResult::default(),
        }
    }

    #[test]
    fn policies_are_compared_with_the_first_seed_by_seed() {
        let base = report("base", &[Some(50), Some(60), Some(70), Some(40)]);
        let better = report("better", &[Some(55), Some(58), Some(80), None]);
        let same = report("same", &[Some(50), Some(60), Some(70), Some(40)]);
        let comparisons = compare(&[base.clone(), better, same]);
        assert_eq!(comparisons.len(), 2);

        let c = &comparisons[0];
        assert_eq!((c.policy.as_str(), c.baseline.as_str()), ("better", "base"));
        assert_eq!(
            c.differences,
            [5.0, -2.0, 10.0],
            "the seed without a reference is left out"
        );
        assert_eq!(c.better_on, 2);
        let paired = c.paired.unwrap();
        assert!((paired.difference - 13.0 / 3.0).abs() < 1e-9);
        assert!(
            paired.interval.contains(0.0),
            "three noisy seeds prove nothing"
        );

        let c = &comparisons[1];
        assert_eq!(c.differences, [0.0; 4]);
        assert_eq!(c.better_on, 0);
        assert_eq!(
            c.paired, None,
            "the same on every seed: no spread, so no interval to read as certain"
        );

        assert!(compare(std::slice::from_ref(&base)).is_empty());
        let one_seed = compare(&[report("a", &[Some(10)]), report("b", &[Some(12)])]);
        assert_eq!(one_seed[0].differences, [2.0]);
        assert_eq!(one_seed[0].paired, None, "one seed has no spread");
    }
}
