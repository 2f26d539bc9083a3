//! The A/B experiment report: what each arm's channels earned per day in the
//! experiment, whether the difference is real, and how fees moved.
//!
//! The unit of comparison is the channel, because channels are what the
//! experiment assigns to arms: each channel gives one revenue rate (its fees
//! over its days in the experiment), every channel counts once whatever its
//! size, and the arms are compared on the mean of those rates. Forwards on one
//! channel are not independent of each other (same peer, same liquidity), so
//! treating each forward or each day as a sample would overstate certainty.

use std::collections::{BTreeMap, BTreeSet};

use lnpolicy_core::{ChannelId, short_channel_id};
use lnpolicy_store::reports::{AppliedFee, Assignment, LastSnapshot};
use lnpolicy_store::{Arm, Store};
use serde::Serialize;

use crate::ReportError;
use crate::stats::{self, Interval, Welch};
use crate::time::{DAY, format_date};

const NS: u64 = 1_000_000_000;

/// What the verdict asks of the data; the defaults are what `lnpolicy report`
/// uses unless told otherwise.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExperimentOptions {
    /// Of both intervals (0.95 for 95%).
    pub confidence: f64,
    /// Channels each arm needs in the comparison before a verdict: fewer make
    /// any interval mostly noise, and a verdict from two channels would mostly
    /// say which peers happened to route.
    pub min_channels_per_arm: usize,
    /// Days since the first assignment before a verdict, and days each channel must have
    /// been in the experiment to be compared: payment demand has a weekly rhythm, fees take
    /// days to move traffic, and a channel's rate over a day or two swings with a single
    /// forward.
    pub min_days: f64,
    pub bootstrap_resamples: usize,
    /// Random re-splits the randomization test draws.
    pub permutation_rounds: usize,
    /// Seed of the bootstrap and the randomization test: the same database and seed give the
    /// same report.
    pub seed: u64,
}

impl Default for ExperimentOptions {
    fn default() -> Self {
        ExperimentOptions {
            confidence: 0.95,
            min_channels_per_arm: 5,
            min_days: 7.0,
            bootstrap_resamples: 10_000,
            permutation_rounds: 10_000,
            seed: 0x6c6e_706f_6c69_6379, // "lnpolicy"
        }
    }
}

/// The full report, as printed, rendered to HTML or serialised to JSON.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentReport {
    pub experiment: String,
    /// Unix seconds the report was made.
    pub generated_at: u64,
    /// The end of the data it covers: the latest collection (`generated_at` in a database
    /// with none), "now" for open channels.
    pub data_until: u64,
    /// The first channel's assignment.
    pub started_at: u64,
    pub days_running: f64,
    /// Which way differences are taken: always `"B - A"`, so a positive
    /// difference means arm B earned more.
    pub difference: &'static str,
    pub options: ExperimentOptions,
    /// Arm A, then arm B.
    pub arms: Vec<ArmSummary>,
    /// Revenue per channel-day, sat: what the verdict is about.
    pub revenue: Comparison,
    /// Volume (amount forwarded out) per channel-day, sat: context, since a
    /// strategy can trade volume for margin.
    pub volume: Comparison,
    pub verdict: Verdict,
    pub channels: Vec<ChannelResult>,
    /// Mean fee rate (ppm) of each arm's channels over time.
    pub fee_ppm: Vec<ArmSeries>,
    /// Revenue per channel-day (sat) of each arm, per complete UTC day.
    pub daily_revenue: Vec<ArmSeries>,
    /// Caveats about the data the numbers rest on.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArmSummary {
    /// `"a"` or `"b"`.
    pub arm: &'static str,
    /// The strategies that decided this arm's channels since they joined,
    /// most decisions first (the assignments do not record the strategy).
    pub strategies: Vec<StrategyUse>,
    pub channels: usize,
    /// Channels in the comparison: at least `min_days` in the experiment.
    pub compared_channels: usize,
    pub channel_days: f64,
    /// What the channels' own fees earned: inbound discounts they gave count against them.
    pub fees_msat: i64,
    pub volume_msat: u64,
    pub forwards: u64,
    /// Mean over the compared channels of each one's fees per day, sat.
    pub revenue_sat_per_channel_day: Option<f64>,
    /// Mean over the compared channels of each one's volume per day, sat.
    pub volume_sat_per_channel_day: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StrategyUse {
    pub strategy: String,
    pub decisions: u64,
}

/// Arm B against arm A on one per-channel metric.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub metric: &'static str,
    pub unit: &'static str,
    pub mean_a: Option<f64>,
    pub mean_b: Option<f64>,
    /// `mean_b - mean_a`.
    pub difference: Option<f64>,
    /// The difference as a fraction of arm A's mean (0.5 = B is 50% higher).
    pub relative: Option<f64>,
    pub welch: Option<Welch>,
    pub bootstrap: Option<Interval>,
    /// Two-sided p-value of the randomization test of B − A (see [`stats::permutation_p_value`]).
    pub permutation_p: Option<f64>,
    /// Why the intervals are missing, when they are.
    pub unavailable: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    ABetter,
    BBetter,
    NotYetDistinguishable,
}

impl Outcome {
    /// The verdict as operators read it.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::ABetter => "A better",
            Outcome::BBetter => "B better",
            Outcome::NotYetDistinguishable => "not yet distinguishable",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub outcome: Outcome,
    /// [`Outcome::label`], for JSON readers.
    pub label: &'static str,
    /// Why: the interval that decided it, or what is missing.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelResult {
    pub channel_id: ChannelId,
    pub short_channel_id: String,
    pub arm: &'static str,
    pub assigned_at: u64,
    /// End of the channel's time in the experiment: now, when a cycle placed it outside
    /// the experiment, or its last snapshot if it closed while in it.
    pub until: u64,
    pub closed: bool,
    /// When a cycle placed the channel outside the experiment (another section, or none).
    pub left_at: Option<u64>,
    pub channel_days: f64,
    /// What the channels' own fees earned: inbound discounts they gave count against them.
    pub fees_msat: i64,
    pub volume_msat: u64,
    pub forwards: u64,
    pub revenue_sat_per_day: Option<f64>,
    pub volume_sat_per_day: Option<f64>,
    /// Whether the channel is in the comparison (long enough in the experiment).
    pub compared: bool,
}

impl ChannelResult {
    /// Why a reader should look twice at the channel's line.
    pub fn remarks(&self) -> Vec<&'static str> {
        let mut remarks = Vec::new();
        if self.closed {
            remarks.push("closed");
        }
        if self.left_at.is_some() {
            remarks.push("left");
        }
        if !self.compared {
            remarks.push("not compared");
        }
        remarks
    }
}

/// One line of a chart: `(unix seconds, value)` points in time order.
#[derive(Debug, Clone, Serialize)]
pub struct ArmSeries {
    pub arm: &'static str,
    pub points: Vec<Point>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub at: u64,
    pub value: f64,
}

/// A channel's time in the experiment with what it earned, per UTC day.
struct Exposure {
    assignment: Assignment,
    until: u64,
    closed: bool,
    days: Vec<lnpolicy_store::reports::DayOut>,
}

impl Exposure {
    fn channel_days(&self) -> f64 {
        self.until.saturating_sub(self.assignment.assigned_at) as f64 / DAY as f64
    }

    /// The part of UTC day `day` the channel spent in the experiment, in days.
    fn share_of_day(&self, day: u64) -> f64 {
        let start = self.assignment.assigned_at.max(day * DAY);
        let end = self.until.min((day + 1) * DAY);
        end.saturating_sub(start) as f64 / DAY as f64
    }
}

/// Builds the report for `experiment` as of `now` (Unix seconds), over the data up to the
/// latest collection: nothing after it is in the database, so counting the days since would
/// dilute every rate (a daemon stopped a week ago, or a simulated market, whose clock is not
/// the machine's).
pub fn experiment_report(
    store: &Store,
    experiment: &str,
    now: u64,
    options: &ExperimentOptions,
) -> Result<ExperimentReport, ReportError> {
    check_options(options)?;
    let assignments = store.experiment_assignments(experiment)?;
    let Some(started_at) = assignments.iter().map(|a| a.assigned_at).min() else {
        return Err(ReportError::UnknownExperiment {
            name: experiment.to_owned(),
            known: store
                .experiment_summaries()?
                .into_iter()
                .map(|s| s.name)
                .collect(),
        });
    };
    let split_note = split_changes(&assignments);
    let (latest_snapshot, snapshots) = store.last_snapshots()?;
    let data_until = latest_snapshot.unwrap_or(now).max(started_at);
    let mut exposures = Vec::with_capacity(assignments.len());
    for assignment in assignments {
        let last = snapshots.get(&assignment.channel_id);
        let closed_at = match (last, latest_snapshot) {
            (Some(last), Some(latest)) if last.at < latest => Some(last.at),
            _ => None,
        };
        let (end, closed) = match (assignment.left_at, closed_at) {
            (Some(left), Some(closed)) if closed < left => (closed, true),
            (Some(left), _) => (left.min(data_until), false),
            (None, Some(closed)) => (closed, true),
            (None, None) => (data_until, false),
        };
        let until = end.max(assignment.assigned_at);
        let days = store.daily_out(
            assignment.channel_id,
            assignment.assigned_at.saturating_mul(NS),
            until.saturating_mul(NS),
        )?;
        exposures.push(Exposure {
            assignment,
            until,
            closed,
            days,
        });
    }

    let channels: Vec<ChannelResult> = exposures
        .iter()
        .map(|e| channel_result(e, options))
        .collect();
    let values = |arm: &'static str, metric: fn(&ChannelResult) -> Option<f64>| -> Vec<f64> {
        channels
            .iter()
            .filter(|c| c.arm == arm && c.compared)
            .filter_map(metric)
            .collect()
    };
    let revenue_a = values("a", |c| c.revenue_sat_per_day);
    let revenue_b = values("b", |c| c.revenue_sat_per_day);
    let revenue = compare("revenue", &revenue_a, &revenue_b, options);
    let volume = compare(
        "volume",
        &values("a", |c| c.volume_sat_per_day),
        &values("b", |c| c.volume_sat_per_day),
        options,
    );

    let mut arm_strategies: BTreeMap<Arm, Vec<StrategyUse>> = BTreeMap::new();
    for (arm, strategy, decisions) in store.experiment_arm_strategies(experiment)? {
        arm_strategies.entry(arm).or_default().push(StrategyUse {
            strategy,
            decisions,
        });
    }
    let arms: Vec<ArmSummary> = [Arm::A, Arm::B]
        .into_iter()
        .map(|arm| arm_summary(arm, &channels, arm_strategies.remove(&arm)))
        .collect();

    let days_running = data_until.saturating_sub(started_at) as f64 / DAY as f64;
    let verdict = verdict(&arms, days_running, &revenue, options);
    let mut notes = notes(&channels, latest_snapshot, now, options);
    notes.extend(definition_changes(&store.arm_definitions(experiment)?));
    notes.extend(split_note);
    let fee_changes = store.applied_fee_changes()?;
    Ok(ExperimentReport {
        experiment: experiment.to_owned(),
        generated_at: now,
        data_until,
        started_at,
        days_running,
        difference: "B - A",
        options: options.clone(),
        arms,
        revenue,
        volume,
        verdict,
        fee_ppm: [Arm::A, Arm::B]
            .into_iter()
            .map(|arm| {
                fee_series(
                    arm,
                    &exposures,
                    &fee_changes,
                    &snapshots,
                    started_at,
                    data_until,
                )
            })
            .collect(),
        daily_revenue: [Arm::A, Arm::B]
            .into_iter()
            .map(|arm| daily_revenue(arm, &exposures, started_at, data_until))
            .collect(),
        channels,
        notes,
    })
}

fn check_options(options: &ExperimentOptions) -> Result<(), ReportError> {
    let invalid = |what: &str| Err(ReportError::InvalidOptions(what.to_owned()));
    if !(options.confidence > 0.0 && options.confidence < 1.0) {
        return invalid("the confidence level must be strictly between 0 and 1");
    }
    if options.min_channels_per_arm < 2 {
        return invalid("each arm needs at least 2 channels for an interval");
    }
    if options.bootstrap_resamples < 100 {
        return invalid("the bootstrap needs at least 100 resamples");
    }
    if options.permutation_rounds < 100 {
        return invalid("the randomization test needs at least 100 rounds");
    }
    if options.min_days.is_nan() || options.min_days < 0.0 {
        return invalid("minimum days cannot be negative");
    }
    Ok(())
}

fn channel_result(exposure: &Exposure, options: &ExperimentOptions) -> ChannelResult {
    let channel_days = exposure.channel_days();
    let fees_msat: i64 = exposure.days.iter().map(|d| d.fees_msat).sum();
    let volume_msat: u64 = exposure.days.iter().map(|d| d.amt_out_msat).sum();
    let per_day = |msat: f64| (channel_days > 0.0).then(|| msat / 1000.0 / channel_days);
    let id = exposure.assignment.channel_id;
    ChannelResult {
        channel_id: id,
        short_channel_id: short_channel_id(id),
        arm: exposure.assignment.arm.as_str(),
        assigned_at: exposure.assignment.assigned_at,
        until: exposure.until,
        closed: exposure.closed,
        left_at: exposure.assignment.left_at,
        channel_days,
        fees_msat,
        volume_msat,
        forwards: exposure.days.iter().map(|d| d.forwards).sum(),
        revenue_sat_per_day: per_day(fees_msat as f64),
        volume_sat_per_day: per_day(volume_msat as f64),
        compared: channel_days > 0.0 && channel_days >= options.min_days,
    }
}

fn arm_summary(
    arm: Arm,
    channels: &[ChannelResult],
    strategies: Option<Vec<StrategyUse>>,
) -> ArmSummary {
    let mine: Vec<&ChannelResult> = channels.iter().filter(|c| c.arm == arm.as_str()).collect();
    let compared: Vec<&ChannelResult> = mine.iter().copied().filter(|c| c.compared).collect();
    let mean_of = |metric: fn(&ChannelResult) -> Option<f64>| {
        let values: Vec<f64> = compared.iter().filter_map(|c| metric(c)).collect();
        (!values.is_empty()).then(|| stats::mean(&values))
    };
    ArmSummary {
        arm: arm.as_str(),
        strategies: strategies.unwrap_or_default(),
        channels: mine.len(),
        compared_channels: compared.len(),
        channel_days: mine.iter().map(|c| c.channel_days).sum(),
        fees_msat: mine.iter().map(|c| c.fees_msat).sum(),
        volume_msat: mine.iter().map(|c| c.volume_msat).sum(),
        forwards: mine.iter().map(|c| c.forwards).sum(),
        revenue_sat_per_channel_day: mean_of(|c| c.revenue_sat_per_day),
        volume_sat_per_channel_day: mean_of(|c| c.volume_sat_per_day),
    }
}

fn compare(metric: &'static str, a: &[f64], b: &[f64], options: &ExperimentOptions) -> Comparison {
    let mean = |values: &[f64]| (!values.is_empty()).then(|| stats::mean(values));
    let (mean_a, mean_b) = (mean(a), mean(b));
    let difference = mean_a.zip(mean_b).map(|(a, b)| b - a);
    let relative = difference
        .zip(mean_a)
        .and_then(|(d, a)| (a > 0.0).then(|| d / a));
    let intervals = stats::welch_interval(a, b, options.confidence).and_then(|welch| {
        let bootstrap = stats::bootstrap_interval(
            a,
            b,
            options.confidence,
            options.bootstrap_resamples,
            options.seed,
        )?;
        let p = stats::permutation_p_value(a, b, options.permutation_rounds, options.seed)?;
        Ok((welch, bootstrap, p))
    });
    let (welch, bootstrap, permutation_p, unavailable) = match intervals {
        Ok((welch, bootstrap, p)) => (Some(welch), Some(bootstrap), Some(p), None),
        Err(error) => (None, None, None, Some(error.to_string())),
    };
    Comparison {
        metric,
        unit: "sat per channel-day",
        mean_a,
        mean_b,
        difference,
        relative,
        welch,
        bootstrap,
        permutation_p,
        unavailable,
    }
}

/// The rule: a verdict names an arm only when both arms have enough channels,
/// the experiment has run long enough, Welch's and the bootstrap interval
/// for B − A both lie entirely on the same side of 0, and the randomization test
/// rejects "no difference" at the same confidence.
fn verdict(
    arms: &[ArmSummary],
    days_running: f64,
    revenue: &Comparison,
    options: &ExperimentOptions,
) -> Verdict {
    let mut missing = Vec::new();
    for arm in arms {
        if arm.compared_channels < options.min_channels_per_arm {
            missing.push(format!(
                "arm {} has {} channel(s) with at least {} day(s) in the experiment; {} are needed",
                arm.arm.to_uppercase(),
                arm.compared_channels,
                options.min_days,
                options.min_channels_per_arm
            ));
        }
    }
    if days_running < options.min_days {
        missing.push(format!(
            "the experiment has run {days_running:.1} day(s); {} are needed",
            options.min_days
        ));
    }
    let undecided = |reasons| Verdict {
        outcome: Outcome::NotYetDistinguishable,
        label: Outcome::NotYetDistinguishable.label(),
        reasons,
    };
    if !missing.is_empty() {
        return undecided(missing);
    }
    let (Some(welch), Some(bootstrap)) = (&revenue.welch, &revenue.bootstrap) else {
        return undecided(vec![format!(
            "no interval: {}",
            revenue.unavailable.as_deref().unwrap_or("not computed")
        )]);
    };
    let percent = 100.0 * options.confidence;
    let describe = |name: &str, i: &Interval| {
        format!(
            "{name} {percent:.0}% interval for B - A: [{:.3}, {:.3}] sat per channel-day",
            i.low, i.high
        )
    };
    let side = |i: &Interval| {
        if i.contains(0.0) {
            None
        } else if i.low > 0.0 {
            Some(Outcome::BBetter)
        } else {
            Some(Outcome::ABetter)
        }
    };
    let p = revenue.permutation_p.unwrap_or(1.0);
    let alpha = 1.0 - options.confidence;
    match (side(&welch.interval), side(bootstrap)) {
        (Some(w), Some(b)) if w == b && p < alpha => Verdict {
            outcome: w,
            label: w.label(),
            reasons: vec![
                format!("{}, which excludes 0", describe("Welch", &welch.interval)),
                format!("{}, which agrees", describe("bootstrap", bootstrap)),
                format!("randomization test p = {p:.4}, below {alpha:.2}"),
            ],
        },
        (Some(w), Some(b)) if w == b => undecided(vec![
            format!("{}, which excludes 0", describe("Welch", &welch.interval)),
            format!("{}, which agrees", describe("bootstrap", bootstrap)),
            format!(
                "but the randomization test gives p = {p:.4}, not below {alpha:.2}: re-splitting \
                 the same channels at random often gives as large a difference (with skewed \
                 revenue and arms of unequal size, the intervals are too narrow)"
            ),
        ]),
        (None, None) => undecided(vec![
            format!("{}, which contains 0", describe("Welch", &welch.interval)),
            format!("{}, which contains 0", describe("bootstrap", bootstrap)),
        ]),
        _ => undecided(vec![
            describe("Welch", &welch.interval),
            describe("bootstrap", bootstrap),
            "the two intervals disagree about 0: too few channels or too skewed to trust either"
                .to_owned(),
        ]),
    }
}

/// A note for each arm whose strategy or parameters changed during the experiment: its revenue
/// mixes them, and nothing in the assignments tells them apart. Definitions all run from the
/// first cycle are sections sharing the experiment, not a change.
fn definition_changes(definitions: &[(Arm, String, u64)]) -> Vec<String> {
    [Arm::A, Arm::B]
        .into_iter()
        .filter_map(|arm| {
            let mine: Vec<&(Arm, String, u64)> =
                definitions.iter().filter(|(of, _, _)| *of == arm).collect();
            let first = mine.iter().map(|(_, _, at)| *at).min()?;
            let runs: Vec<String> = mine
                .iter()
                .map(|(_, definition, at)| format!("{definition} from {}", format_date(*at)))
                .collect();
            mine.iter().any(|(_, _, at)| *at > first).then(|| {
                format!(
                    "arm {} ran {}: its revenue mixes them; to compare one with another, give \
                     the change a new experiment.name",
                    arm.as_str().to_uppercase(),
                    runs.join(", then ")
                )
            })
        })
        .collect()
}

/// A note when channels drew their arms at different splits (`experiment.split` changed
/// under the same name): arm membership then follows when a channel joined, and the
/// randomization test, which re-splits every channel with one chance, no longer fits.
/// Channels assigned before splits were recorded are left out.
fn split_changes(assignments: &[Assignment]) -> Option<String> {
    let mut splits: Vec<(f64, u64, usize)> = Vec::new();
    for assignment in assignments {
        let Some(split) = assignment.split else {
            continue;
        };
        match splits.iter_mut().find(|(known, _, _)| *known == split) {
            Some((_, first, count)) => {
                *first = (*first).min(assignment.assigned_at);
                *count += 1;
            }
            None => splits.push((split, assignment.assigned_at, 1)),
        }
    }
    if splits.len() < 2 {
        return None;
    }
    splits.sort_by_key(|&(_, first, _)| first);
    let runs: Vec<String> = splits
        .iter()
        .map(|(split, first, count)| {
            format!(
                "{split} for {count} channel(s) from {}",
                format_date(*first)
            )
        })
        .collect();
    Some(format!(
        "channels drew their arms at different splits (the share in arm A): {}; which arm a \
         channel is in then follows when it joined, not chance alone, and the randomization \
         test assumes one chance for every channel: to compare at a new split, give it a new \
         experiment.name",
        runs.join(", then ")
    ))
}

fn notes(
    channels: &[ChannelResult],
    latest_snapshot: Option<u64>,
    now: u64,
    options: &ExperimentOptions,
) -> Vec<String> {
    let mut notes = Vec::new();
    match latest_snapshot {
        None => notes.push(
            "no channel snapshots in the database: closed channels cannot be told from open \
             ones, so every channel counts until now"
                .to_owned(),
        ),
        Some(at) if now.abs_diff(at) > DAY => notes.push(format!(
            "the latest collection in the database is from {}: the report runs up to then \
             (a daemon stopped since, or a simulated market on its own clock)",
            format_date(at)
        )),
        Some(_) => {}
    }
    let short = channels.iter().filter(|c| !c.compared && !c.closed).count();
    if short > 0 {
        notes.push(format!(
            "{short} channel(s) with less than {} day(s) in the experiment are listed but not compared",
            options.min_days
        ));
    }
    let closed = channels.iter().filter(|c| c.closed && c.compared).count();
    if closed > 0 {
        notes.push(format!(
            "{closed} channel(s) closed; each counts up to its last snapshot"
        ));
    }
    let left = |arm: Arm| {
        channels
            .iter()
            .filter(|c| c.left_at.is_some() && c.arm == arm.as_str())
            .count()
    };
    let (left_a, left_b) = (left(Arm::A), left(Arm::B));
    if left_a + left_b > 0 {
        notes.push(format!(
            "{left_a} channel(s) of arm A and {left_b} of arm B left the experiment (remark \
             \"left\": a run placed them in another section, or none) and count up to that \
             run; if the section matches on something the arms' fees move, such as the \
             balance, which channels leave depends on the arm, and the comparison can favour \
             the arm whose channels left"
        ));
    }
    for arm in [Arm::A, Arm::B] {
        let gone = channels
            .iter()
            .filter(|c| c.closed && !c.compared && c.arm == arm.as_str())
            .count();
        if gone > 0 {
            notes.push(format!(
                "{gone} channel(s) of arm {} closed before {} day(s) in the experiment and are \
                 not compared: if the arm's fees made peers close them, its mean looks better \
                 than it was",
                arm.as_str().to_uppercase(),
                options.min_days
            ));
        }
    }
    notes
}

/// The mean fee rate of `arm`'s channels in the experiment, after every event
/// that changes it: a channel joining, an applied update, a channel closing.
///
/// A channel's rate at a time is the one its latest applied update set; before
/// its first one, the rate that update replaced; for a channel lnpolicy never
/// updated, the rate of its last snapshot. Channels with none of these are
/// left out.
fn fee_series(
    arm: Arm,
    exposures: &[Exposure],
    changes: &[AppliedFee],
    snapshots: &BTreeMap<ChannelId, LastSnapshot>,
    started_at: u64,
    now: u64,
) -> ArmSeries {
    let mine: Vec<&Exposure> = exposures
        .iter()
        .filter(|e| e.assignment.arm == arm)
        .collect();
    let ids: BTreeSet<ChannelId> = mine.iter().map(|e| e.assignment.channel_id).collect();
    let mut history: BTreeMap<ChannelId, Vec<&AppliedFee>> = BTreeMap::new();
    for change in changes {
        if ids.contains(&change.channel_id) {
            history.entry(change.channel_id).or_default().push(change);
        }
    }
    let fee_at = |channel: ChannelId, at: u64| -> Option<u32> {
        match history.get(&channel) {
            Some(changes) => Some(
                changes
                    .iter()
                    .rev()
                    .find(|c| c.at <= at)
                    .map_or(changes[0].previous_fee_ppm, |c| c.fee_ppm),
            ),
            None => snapshots
                .get(&channel)
                .map(|s| s.channel.local_policy.fee_ppm),
        }
    };
    let mut times: Vec<u64> = mine
        .iter()
        .flat_map(|e| [e.assignment.assigned_at, e.until])
        .chain(history.values().flatten().map(|c| c.at))
        .chain([started_at, now])
        .filter(|&t| (started_at..=now).contains(&t))
        .collect();
    times.sort_unstable();
    times.dedup();
    let points = times
        .into_iter()
        .filter_map(|at| {
            let fees: Vec<f64> = mine
                .iter()
                .filter(|e| {
                    e.assignment.assigned_at <= at
                        && (at < e.until || (e.until == now && at == now))
                })
                .filter_map(|e| fee_at(e.assignment.channel_id, at))
                .map(f64::from)
                .collect();
            (!fees.is_empty()).then(|| Point {
                at,
                value: stats::mean(&fees),
            })
        })
        .collect();
    ArmSeries {
        arm: arm.as_str(),
        points,
    }
}

/// `arm`'s fees per channel-day on each complete UTC day since the experiment
/// began: the day's fees of its channels over the part of the day they spent
/// in the experiment, so arms of different sizes and half days compare fairly.
/// Today is left out: a rate from its first hours would swing with every forward.
fn daily_revenue(arm: Arm, exposures: &[Exposure], started_at: u64, now: u64) -> ArmSeries {
    let mine: Vec<&Exposure> = exposures
        .iter()
        .filter(|e| e.assignment.arm == arm)
        .collect();
    let points = (started_at / DAY..now / DAY)
        .filter_map(|day| {
            let exposure: f64 = mine.iter().map(|e| e.share_of_day(day)).sum();
            let fees_msat: i64 = mine
                .iter()
                .flat_map(|e| e.days.iter().filter(|d| d.day == day))
                .map(|d| d.fees_msat)
                .sum();
            (exposure > 0.0).then(|| Point {
                at: day * DAY,
                value: fees_msat as f64 / 1000.0 / exposure,
            })
        })
        .collect();
    ArmSeries {
        arm: arm.as_str(),
        points,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lognormal values (σ = 1.5, like per-channel revenue: a few channels earn most) from a
    /// xorshift stream and the Box–Muller transform.
    fn lognormal(state: &mut u64, n: usize) -> Vec<f64> {
        let mut uniform = || {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            (*state >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                let (u, v) = (uniform().max(f64::MIN_POSITIVE), uniform());
                let normal = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                (1.5 * normal).exp()
            })
            .collect()
    }

    fn arm(name: &'static str, channels: usize) -> ArmSummary {
        ArmSummary {
            arm: name,
            strategies: Vec::new(),
            channels,
            compared_channels: channels,
            channel_days: 30.0 * channels as f64,
            fees_msat: 0,
            volume_msat: 0,
            forwards: 0,
            revenue_sat_per_channel_day: None,
            volume_sat_per_channel_day: None,
        }
    }

    /// Two sections sharing an experiment run two parameter sets from the start: no change.
    /// A set first run later is one, and only its arm is named.
    #[test]
    fn only_a_definition_that_came_later_is_a_change() {
        let run = |arm, definition: &str, at| (arm, definition.to_owned(), at);
        let together = [
            run(Arm::B, "static(fee_ppm=200)", 100),
            run(Arm::B, "static(fee_ppm=300)", 100),
        ];
        assert!(definition_changes(&together).is_empty());
        let later = [
            run(Arm::A, "static(fee_ppm=100)", 100),
            run(Arm::B, "static(fee_ppm=200)", 100),
            run(Arm::B, "static(fee_ppm=300)", 100 + DAY),
        ];
        let notes = definition_changes(&later);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with("arm B ran static(fee_ppm=200)"),
            "{}",
            notes[0]
        );
    }

    /// One split, however many channels and whenever they joined, is no change; channels that
    /// joined at a second split are named with theirs, and unrecorded splits are left out.
    #[test]
    fn a_split_changed_under_the_same_name_is_noted() {
        let joined = |channel_id, at, split| Assignment {
            channel_id,
            arm: Arm::A,
            assigned_at: at,
            left_at: None,
            split,
        };
        let one = [
            joined(1, 100, None),
            joined(2, 100, Some(0.5)),
            joined(3, 100 + DAY, Some(0.5)),
        ];
        assert_eq!(split_changes(&one), None);
        let changed = [
            joined(1, 100, Some(0.5)),
            joined(2, 100, Some(0.5)),
            joined(3, 100 + 3 * DAY, Some(0.9)),
        ];
        let note = split_changes(&changed).expect("a note");
        assert!(
            note.contains(
                "0.5 for 2 channel(s) from 1970-01-01, then 0.9 for 1 channel(s) from 1970-01-04"
            ),
            "{note}"
        );
    }

    /// Both arms drawn from one distribution, 5 channels against 45: Welch's interval and the
    /// bootstrap agree on a winner in over a tenth of such experiments (the small arm's mean
    /// is usually below the true one, and its spread underestimated with it). The verdict may
    /// name one in at most the 5% its confidence allows.
    #[test]
    fn a_small_arm_beside_a_large_one_does_not_make_chance_a_winner() {
        let options = ExperimentOptions {
            bootstrap_resamples: 1_000,
            permutation_rounds: 1_000,
            ..ExperimentOptions::default()
        };
        let arms = [arm("a", 5), arm("b", 45)];
        let mut state = 0x2545_f491_4f6c_dd1d;
        let trials = 200;
        let (mut intervals_agree, mut named) = (0, 0);
        for _ in 0..trials {
            let a = lognormal(&mut state, 5);
            let b = lognormal(&mut state, 45);
            let revenue = compare("revenue", &a, &b, &options);
            let (welch, bootstrap) = (revenue.welch.unwrap(), revenue.bootstrap.unwrap());
            if !welch.interval.contains(0.0)
                && !bootstrap.contains(0.0)
                && (welch.interval.low > 0.0) == (bootstrap.low > 0.0)
            {
                intervals_agree += 1;
            }
            if verdict(&arms, 30.0, &revenue, &options).outcome != Outcome::NotYetDistinguishable {
                named += 1;
            }
        }
        assert!(
            intervals_agree > trials / 10,
            "the intervals alone mislead here: {intervals_agree} of {trials}"
        );
        assert!(named <= trials / 20, "{named} of {trials} named a winner");
    }
}
