//! Automatic rollback: a change that made a channel earn clearly less is undone.
//!
//! After a change, once `rollback_window` has passed, the channel's revenue rate over that
//! window is compared with its rate over the same length before the change; when it fell by
//! more than `rollback_threshold`, the fees the change replaced are restored (recorded as a
//! decision of the pseudo-strategy `rollback`, sent like any update with its intent; the rest
//! of the policy stays as the node has it now, and the restored fees, with the section's fee
//! properties over them, pass the section's guard without its step limits: bounds, inbound rules and the minimum interval hold), and the
//! channel is held for one more window per rollback it had in the last 30 days, so the
//! strategy cannot undo the undo at once. The fall must hold without the largest forward before
//! the change (one large payment cannot make it alone). A change with fewer than
//! [`MIN_FORWARDS_BEFORE`] forwards in the window before it is not weighed, nor one whose fall
//! may not be its fees' doing (`not_the_fees`: another level in the window before, a node or
//! daemon that may have been down, a raise followed by a lack of liquidity, a channel offline
//! or disabled), nor one whose window ended more than a window (at least a day, and at least
//! the minimum interval) ago (the fee has earned since). A rollback is never itself
//! rolled back, and a channel whose policy changed since (by hand, or by another tool) is left
//! alone.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use lnpolicy_core::{
    Channel, ChannelId, Clamp, Decision, FeePolicy, GuardedDecision, NodeChannel, NodeClient,
    PolicyChange,
};
use lnpolicy_store::{
    AppliedChange, CycleStatus, DecisionRecord, SNAPSHOTS_KEPT_SECS, Store, StoreError,
};

use crate::apply::{ApplyReport, PlannedUpdate, apply_updates, held_by_cap};
use crate::config::RollbackKeys;
use crate::guard::{GuardConfig, guard};
use crate::overlay::Overlay;

/// The strategy name rollbacks are recorded under.
pub const ROLLBACK_STRATEGY: &str = "rollback";

const NS: u64 = 1_000_000_000;

/// Forwards out in the window before a change, at least, for its revenue to be weighed: with
/// fewer, a fall is as likely chance as the change (one forward before and none after is a
/// coin toss, five and none is not).
pub const MIN_FORWARDS_BEFORE: u64 = 5;

/// How long after its window a change may still be judged, at least.
const JUDGED_AT_LEAST_SECS: u64 = 86_400;

/// A span without a collection longer than this many times the usual span between them, and
/// than [`UNWATCHED_AT_LEAST_SECS`], means nobody watched: the node may have been down, and a
/// node that is down earns nothing whatever its fees.
const UNWATCHED_FACTOR: u64 = 3;
const UNWATCHED_AT_LEAST_SECS: u64 = 3600;
/// How far back the usual span between collections is read (or a window, if longer).
const USUAL_SPACING_OVER_SECS: u64 = 7 * 86_400;

/// How much a run's start may wander (a cron run's collection takes longer some days): a level
/// begun this long after the start of the window before a change still counts as held over it,
/// and a change is judged this long before its window has passed. At most a tenth of the window.
const START_TOLERANCE_SECS: u64 = 15 * 60;

fn start_tolerance(window: u64) -> u64 {
    START_TOLERANCE_SECS.min(window / 10)
}

/// What the outbound fee takes from a 100,000-sat payment, msat: a raise or a cut of the base
/// fee and the rate together.
fn fee_on_a_payment(policy: &FeePolicy) -> u64 {
    u64::from(policy.base_fee_msat) + u64::from(policy.fee_ppm) * 100
}

/// How far back a channel's earlier rollbacks lengthen its hold.
const REPEATS_SPAN_SECS: u64 = 30 * 86_400;

/// A channel's rollback settings, defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct RollbackRule {
    pub threshold: f64,
    pub window_secs: u64,
    /// The section's guard, which a restored fee passes like any decision (its step limits
    /// aside: a rollback is one move back, not the first of several).
    pub guard: GuardConfig,
    /// The section's fee properties, which a restore ends at like any decision: a fee the
    /// section fixes is not restored to what it was before the change.
    pub fees: Overlay,
}

impl RollbackRule {
    /// The rule a section's keys give, when they enable rollback, with the section's guard
    /// and fee properties.
    pub fn from_keys(keys: &RollbackKeys, guard: GuardConfig, fees: Overlay) -> Option<Self> {
        keys.enabled.unwrap_or(false).then(|| RollbackRule {
            threshold: keys.threshold.unwrap_or(0.25),
            window_secs: keys.window_secs.unwrap_or(86_400),
            guard: GuardConfig {
                max_fee_step_ppm: None,
                max_inbound_step_ppm: None,
                ..guard
            },
            fees,
        })
    }
}

/// A change that qualifies for rollback.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub channel_id: ChannelId,
    pub changed_at: u64,
    /// The policy to send: the node's current one with the fees the change replaced, as the
    /// guard lets them through. Only fees are rolled back; HTLC limits, the cltv delta and
    /// the disabled flag stay as they are now, since the operator may have changed them since.
    pub restore: FeePolicy,
    /// What the guard changed in the fees the change replaced (bounds tightened since).
    pub clamps: Vec<Clamp>,
    /// What the change set (and the node still has).
    pub current: FeePolicy,
    pub rate_before_msat_per_hour: f64,
    pub rate_after_msat_per_hour: f64,
    pub rule: RollbackRule,
}

impl Candidate {
    /// One sentence for the decision record and the operator.
    pub fn reason(&self) -> String {
        format!(
            "rollback: revenue fell from {:.0} to {:.0} msat/h ({:.0}%, threshold {:.0}%) in the {} h after the change at {}; restoring {} ppm",
            self.rate_before_msat_per_hour,
            self.rate_after_msat_per_hour,
            100.0 * (self.rate_after_msat_per_hour / self.rate_before_msat_per_hour - 1.0),
            100.0 * self.rule.threshold,
            self.rule.window_secs / 3600,
            self.changed_at,
            self.restore.fee_ppm
        )
    }
}

/// Channels lnpolicy rolled back recently, with when the hold ends: no strategy decides them
/// until then. The hold lasts one window per rollback of the channel in the last 30 days, so
/// a strategy that keeps returning to a fee that cut revenue waits longer each time instead
/// of flipping the channel every other window.
pub fn held(
    store: &Store,
    rules: &BTreeMap<ChannelId, RollbackRule>,
    now: u64,
) -> Result<BTreeMap<ChannelId, u64>, StoreError> {
    let ruled: Vec<ChannelId> = rules.keys().copied().collect();
    let mut held = BTreeMap::new();
    for change in store.last_applied_changes(&ruled)? {
        if change.strategy.as_deref() != Some(ROLLBACK_STRATEGY) {
            continue;
        }
        let Some(rule) = rules.get(&change.channel_id) else {
            continue;
        };
        let rollbacks = store
            .applied_count_since(
                ROLLBACK_STRATEGY,
                change.channel_id,
                now.saturating_sub(REPEATS_SPAN_SECS),
            )?
            .max(1);
        let until = change
            .at
            .saturating_add(rule.window_secs.saturating_mul(u64::from(rollbacks)));
        if now < until {
            held.insert(change.channel_id, until);
        }
    }
    Ok(held)
}

/// The changes that qualify for rollback now, among `channels` (as the node reports them).
/// A change whose restored fees the guard holds (the minimum interval) or reduces to the
/// current ones is not a candidate.
pub fn candidates(
    store: &Store,
    channels: &[Channel],
    rules: &BTreeMap<ChannelId, RollbackRule>,
    now: u64,
) -> Result<Vec<Candidate>, StoreError> {
    let ruled: Vec<ChannelId> = channels
        .iter()
        .map(|c| c.id)
        .filter(|id| rules.contains_key(id))
        .collect();
    let mut found = Vec::new();
    for change in store.last_applied_changes(&ruled)? {
        let Some(rule) = rules.get(&change.channel_id).cloned() else {
            continue;
        };
        if change.strategy.as_deref() == Some(ROLLBACK_STRATEGY) {
            continue;
        }
        let Some(channel) = channels.iter().find(|c| c.id == change.channel_id) else {
            continue;
        };
        if !channel.local_policy.same_fees(&change.applied) {
            continue;
        }
        let window = rule.window_secs;
        // Judged once its window has passed, for a while: later, the fee has earned since and
        // that first window says little of it (rollback just switched on, or the channel just
        // moved into a section that has it). The while is a window, at least a day (a daily
        // `lnpolicy -c` from cron must land in it) and at least the minimum interval (the
        // restore waits for it).
        // Never after the snapshots that tell whether the channel was down are gone. A run from
        // cron that starts a little earlier than the day before still judges (on the part of
        // the window that has passed).
        let tolerance = start_tolerance(window);
        let judged_from = change.at.saturating_add(window - tolerance);
        let judged_until = change
            .at
            .saturating_add(window)
            .saturating_add(
                window
                    .max(JUDGED_AT_LEAST_SECS)
                    .max(rule.guard.min_update_interval_secs),
            )
            .min(change.at.saturating_add(SNAPSHOTS_KEPT_SECS));
        if window == 0 || now < judged_from || now >= judged_until {
            continue;
        }
        if change.at < window {
            continue;
        }
        let earned = |from: u64, to: u64| store.earned(change.channel_id, from * NS, to * NS);
        let per_hour = |fee_msat: i64, secs: u64| fee_msat as f64 * 3600.0 / secs as f64;
        let earned_before = earned(change.at - window, change.at)?;
        if earned_before.forwards < MIN_FORWARDS_BEFORE {
            continue;
        }
        // Amounts are heavy-tailed: the fall must hold without the largest forward before the
        // change, so one large payment cannot make it alone.
        let largest =
            store.largest_fee_out(change.channel_id, (change.at - window) * NS, change.at * NS)?;
        let before = per_hour(earned_before.fee_msat, window);
        let before_robust = per_hour(earned_before.fee_msat.saturating_sub(largest), window);
        let after_end = now.min(change.at + window);
        let earned_after = earned(change.at, after_end)?;
        let after = per_hour(earned_after.fee_msat, after_end - change.at);
        if before_robust > 0.0 && after < before_robust * (1.0 - rule.threshold) {
            if let Some(why) = not_the_fees(
                store,
                &change,
                window,
                (after_end, earned_after.forwards),
                now,
            )? {
                tracing::info!(
                    channel = change.channel_id,
                    changed_at = change.at,
                    "revenue fell after a change, but {why}: not rolled back"
                );
                continue;
            }
            let previous = &change.previous;
            let follows_level = rule.fees.inbound_level_ppm.is_some();
            let decision = rule.fees.apply(&Decision {
                channel_id: change.channel_id,
                change: PolicyChange {
                    fee_ppm: Some(previous.fee_ppm),
                    base_fee_msat: Some(previous.base_fee_msat),
                    inbound_fee_ppm: (!follows_level).then_some(previous.inbound_fee_ppm),
                    inbound_base_fee_msat: Some(previous.inbound_base_fee_msat),
                    ..PolicyChange::default()
                },
                reason: String::new(),
            });
            let level = rule.fees.inbound_level_ppm;
            let guarded = guard(&rule.guard, channel, &decision, level, now);
            let Some(restore) = guarded.policy else {
                continue;
            };
            found.push(Candidate {
                channel_id: change.channel_id,
                changed_at: change.at,
                restore,
                clamps: guarded.clamps,
                current: change.applied,
                rate_before_msat_per_hour: before,
                rate_after_msat_per_hour: after,
                rule,
            });
        }
    }
    Ok(found)
}

/// Why a fall of revenue after `change` may not be its fees' doing, if it may not: the cases
/// a rollback does not judge, since restoring the old fee would then be a guess. The window
/// after it ends at `after_end`, and the channel made `forwards` forwards out in it.
fn not_the_fees(
    store: &Store,
    change: &AppliedChange,
    window: u64,
    (after_end, forwards): (u64, u64),
    now: u64,
) -> Result<Option<&'static str>, StoreError> {
    let id = change.channel_id;
    // A run from cron starts a little earlier or later each day: a level begun within this
    // much of the window's start still counts as before it.
    let level_from = change.at - window + start_tolerance(window);
    if !store.held_fees(id, level_from, change.at, &change.previous)? {
        return Ok(Some(
            "the window before it did not hold the fees a rollback would restore throughout",
        ));
    }
    // The revenue after is judged as the fees' doing only while they were the fees: a level
    // set by hand meanwhile (and set back since) earned some of it.
    if !store.held_fees(id, change.at, after_end, &change.applied)? {
        return Ok(Some(
            "its fees did not hold throughout the window after it (set by hand or by another tool for a while)",
        ));
    }
    let week_before = change
        .at
        .saturating_sub(window.max(USUAL_SPACING_OVER_SECS));
    let collected = store.snapshot_times(id, week_before, now)?;
    // Unwatched, the same level at both ends of a gap says nothing of what held inside it (a
    // stopped daemon while another tool set fees).
    if unwatched(&collected, change.at - window, change.at) {
        return Ok(Some(
            "collections stopped for long in the window before it, so its fees are not known",
        ));
    }
    if fee_on_a_payment(&change.applied) > fee_on_a_payment(&change.previous) {
        let refused = |from: u64, to: u64| store.liquidity_failures(id, from * NS, to * NS);
        let before = refused(change.at - window, change.at)?;
        let after = refused(change.at, after_end)?;
        // Per second of each window: the one after may not have passed whole yet.
        let more_than_before = u128::from(after) * u128::from(window)
            > u128::from(before) * u128::from(after_end - change.at);
        if more_than_before && after >= MIN_FORWARDS_BEFORE.max(forwards) {
            return Ok(Some(
                "after the raise the channel refused more forwards for want of liquidity than it made",
            ));
        }
    }
    if unwatched(&collected, change.at, after_end) {
        return Ok(Some(
            "collections stopped for long in the window after it (the node may have been down)",
        ));
    }
    if store.channel_down_between(id, change.at, after_end)? {
        return Ok(Some(
            "the channel was offline or disabled in the window after it",
        ));
    }
    Ok(None)
}

/// Whether, among collection times `collected` (oldest first), the part of `(from, to)` that a
/// span between two of them covers is longer than usual spans allow: collections failed or
/// stopped there, so the node may not have been forwarding. Usual is the 75th percentile of
/// the spans before `from`, so that a few manual runs between daily ones do not make the daily
/// span look long; with fewer than 4 of those (a young database), the median of all.
fn unwatched(collected: &[u64], from: u64, to: u64) -> bool {
    let spans = || collected.windows(2).map(|w| (w[0], w[1]));
    let percentile = |mut lengths: Vec<u64>, share: f64| {
        lengths.sort_unstable();
        lengths[((lengths.len() - 1) as f64 * share).round() as usize]
    };
    let before: Vec<u64> = spans()
        .filter(|&(_, b)| b <= from)
        .map(|(a, b)| b - a)
        .collect();
    let usual = if before.len() >= 4 {
        percentile(before, 0.75)
    } else {
        let all: Vec<u64> = spans().map(|(a, b)| b - a).collect();
        if all.is_empty() {
            return false;
        }
        percentile(all, 0.5)
    };
    let limit = usual
        .saturating_mul(UNWATCHED_FACTOR)
        .max(UNWATCHED_AT_LEAST_SECS);
    spans().any(|(a, b)| b.min(to).saturating_sub(a.max(from)) > limit)
}

/// Restores the candidates' previous policies: decisions recorded under
/// [`ROLLBACK_STRATEGY`], then one update each with its intent. Restores spend the node-wide
/// hourly cap like any update. One it holds is neither recorded nor sent (a recorded rollback
/// would read as done), and is a candidate again at the next run.
pub async fn execute(
    node: &dyn NodeClient,
    store: &Store,
    candidates: &[Candidate],
    channels: &[NodeChannel],
    now: u64,
    max_updates_per_hour: Option<NonZeroU32>,
) -> Result<ApplyReport, StoreError> {
    let planned: Vec<PlannedUpdate> = candidates
        .iter()
        .filter_map(|candidate| {
            let channel = channels.iter().find(|c| c.id == candidate.channel_id)?;
            Some(PlannedUpdate {
                channel: channel.clone(),
                desired: candidate.restore,
                decision_id: None,
                min_fee_ppm_delta: 0,
                min_inbound_fee_ppm_delta: 0,
            })
        })
        .collect();
    let held = held_by_cap(store, node.kind(), &planned, now, max_updates_per_hour)?;
    let restoring: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| !held.contains(&c.channel_id))
        .collect();
    let mut report = if restoring.is_empty() {
        ApplyReport::default()
    } else {
        let ids = record_rollbacks(store, &restoring, now)?;
        let updates: Vec<PlannedUpdate> = planned
            .into_iter()
            .filter_map(|mut update| {
                update.decision_id = Some(*ids.get(&update.channel.id)?);
                Some(update)
            })
            .collect();
        for candidate in &restoring {
            tracing::warn!(channel = candidate.channel_id, reason = %candidate.reason(), "rolling back");
        }
        apply_updates(node, store, &updates, now, max_updates_per_hour).await?
    };
    report.held.extend(
        candidates
            .iter()
            .map(|c| c.channel_id)
            .filter(|id| held.contains(id)),
    );
    Ok(report)
}

/// One [`ROLLBACK_STRATEGY`] cycle with a decision per restore; the decision ids by channel.
fn record_rollbacks(
    store: &Store,
    restoring: &[&Candidate],
    now: u64,
) -> Result<BTreeMap<ChannelId, i64>, StoreError> {
    let count = u32::try_from(restoring.len()).unwrap_or(u32::MAX);
    let cycle = store.begin_cycle(ROLLBACK_STRATEGY, "", now, count)?;
    let guarded: Vec<GuardedDecision> = restoring
        .iter()
        .map(|c| GuardedDecision {
            channel_id: c.channel_id,
            policy: Some(c.restore),
            clamps: c.clamps.clone(),
        })
        .collect();
    let reasons: Vec<String> = restoring.iter().map(|c| c.reason()).collect();
    let records: Vec<DecisionRecord<'_>> = guarded
        .iter()
        .zip(&reasons)
        .map(|(guarded, reason)| DecisionRecord {
            cycle_id: cycle,
            at: now,
            strategy: ROLLBACK_STRATEGY,
            strategy_sha256: "",
            raw: None,
            guarded,
            reason,
        })
        .collect();
    let ids = store.record_decisions(&records)?;
    store.finish_cycle(cycle, now, CycleStatus::Ok, None)?;
    Ok(restoring.iter().map(|c| c.channel_id).zip(ids).collect())
}

#[cfg(test)]
mod tests {
    use lnpolicy_core::{FailedForward, FailureReason, Forward, NodeKind, fixtures};
    use lnpolicy_store::IntentOutcome;

    use super::*;

    const CHANGED_AT: u64 = 1_700_000_000;
    const WINDOW: u64 = 86_400;

    /// Hourly collections with 10 hours missing in the window after the change are unwatched,
    /// also in a database only hours old; the same gap before it, a daily cron's day-long spans
    /// (with or without a few manual runs between), a gap just over the usual span or none at
    /// all are not.
    #[test]
    fn a_long_stop_in_collections_leaves_the_window_unwatched() {
        const H: u64 = 3600;
        let hourly_without = |gap: std::ops::Range<u64>| -> Vec<u64> {
            (0..48u64)
                .filter(|h| !gap.contains(h))
                .map(|h| h * H)
                .collect()
        };
        let (from, to) = (24 * H, 48 * H);
        assert!(unwatched(&hourly_without(30..40), from, to));
        assert!(!unwatched(&hourly_without(5..15), from, to));
        assert!(!unwatched(&hourly_without(30..32), from, to));
        assert!(!unwatched(&hourly_without(0..0), from, to));
        let daily = [0, 24 * H, 48 * H, 72 * H];
        assert!(!unwatched(&daily, 24 * H, 48 * H));
        let mut burst: Vec<u64> = (0..8).map(|d| d * 24 * H).collect();
        burst.extend((1..=4).map(|m| 7 * 24 * H + m * 300));
        burst.push(8 * 24 * H);
        burst.sort_unstable();
        assert!(
            !unwatched(&burst, 7 * 24 * H, 8 * 24 * H),
            "a few manual runs between daily ones"
        );
        let young = [0, H, 2 * H, 13 * H, 14 * H];
        assert!(unwatched(&young, 0, 12 * H), "a young database's 11 hours");
        assert!(!unwatched(&[], from, to));
        assert!(!unwatched(&[from], from, to));
    }

    /// Collections stopped for 18 hours of the day before the change (lnpolicy was stopped while
    /// another tool may have moved the fees and moved them back): the same level at both ends
    /// of the stop says nothing of the hours between, so the change is not judged. Watched
    /// every hour, the same change is rolled back.
    #[test]
    fn a_long_stop_in_the_window_before_leaves_the_change_unjudged() {
        let hourly_but = |stop: std::ops::Range<u64>| -> Vec<(u64, bool, bool)> {
            (0..24 * 4)
                .map(|h| CHANGED_AT - WINDOW - 2 * 86_400 + h * 3600)
                .filter(|at| !stop.contains(at) && *at <= CHANGED_AT + WINDOW)
                .map(|at| (at, true, false))
                .collect()
        };
        let stopped = hourly_but(CHANGED_AT - 20 * 3600..CHANGED_AT - 2 * 3600);
        assert!(judged_at(10, CHANGED_AT + WINDOW, &stopped).is_empty());
        let watched = hourly_but(0..0);
        assert_eq!(judged_at(10, CHANGED_AT + WINDOW, &watched).len(), 1);
    }

    /// The fee lnpolicy set was replaced by hand for part of the window after it, then set
    /// back: the fall in that window is not its fees' doing, so the change is not judged.
    /// Watched the same way without the hand-set level, it is rolled back.
    #[test]
    fn a_level_set_by_hand_in_the_window_after_leaves_the_change_unjudged() {
        let forwards: Vec<(u64, u64)> = (1..=10).map(|i| (CHANGED_AT - 3600 * i, 100)).collect();
        let hourly: Vec<(u64, bool, bool)> = (0..48)
            .map(|h| CHANGED_AT - WINDOW + h * 3600)
            .map(|at| (at, true, false))
            .collect();
        let judge = |by_hand| {
            judged_on(
                &forwards,
                &[],
                CHANGED_AT + WINDOW,
                (&hourly, by_hand),
                |_| {},
            )
            .len()
        };
        let after = CHANGED_AT + 6 * 3600..CHANGED_AT + 12 * 3600;
        assert_eq!(judge(after), 0);
        assert_eq!(judge(0..0), 1);
    }

    /// Records `channel`'s change from `previous` (seen by a collection an hour before the
    /// window before it) to its policy as applied at CHANGED_AT; returns the rule that judges
    /// it (25% over a day).
    fn applied_at_changed_at(
        store: &Store,
        channel: &Channel,
        previous: &FeePolicy,
    ) -> RollbackRule {
        let seen = fixtures::node_channel(channel.id, "peer", *previous);
        store
            .add_channel_snapshot(CHANGED_AT - WINDOW - 3600, &[seen])
            .unwrap();
        let intent = store
            .record_intent(
                channel.id,
                None,
                previous,
                &channel.local_policy,
                CHANGED_AT,
            )
            .unwrap();
        store
            .resolve_intent(intent, IntentOutcome::Applied, CHANGED_AT)
            .unwrap();
        RollbackRule {
            threshold: 0.25,
            window_secs: WINDOW,
            guard: GuardConfig::charge_lnd_compatible(NodeKind::Lnd),
            fees: Overlay::default(),
        }
    }

    /// A change from 100 to 900 ppm at CHANGED_AT, `before` forwards in the window before it
    /// and none after, judged a window later.
    fn judged(before: u64) -> Vec<Candidate> {
        judged_at(before, CHANGED_AT + WINDOW, &[])
    }

    /// As [`judged`], judged at `now`, with a snapshot of the channel at each of `snapshots`
    /// (its time, and whether it was active and whether disabled).
    fn judged_at(before: u64, now: u64, snapshots: &[(u64, bool, bool)]) -> Vec<Candidate> {
        judged_by(before, now, snapshots, |_| {})
    }

    /// As [`judged_at`], with the rule as `adjust` leaves it.
    fn judged_by(
        before: u64,
        now: u64,
        snapshots: &[(u64, bool, bool)],
        adjust: impl FnOnce(&mut RollbackRule),
    ) -> Vec<Candidate> {
        let forwards: Vec<(u64, u64)> =
            (1..=before).map(|i| (CHANGED_AT - 3600 * i, 100)).collect();
        judged_on(&forwards, &[], now, (snapshots, 0..0), adjust)
    }

    /// As [`judged_by`], with forwards out of the channel at the times and fees of `forwards`,
    /// and forwards it refused for want of liquidity at the times of `short`; the snapshots
    /// taken in `by_hand` see 1000 ppm, set by hand.
    fn judged_on(
        forwards: &[(u64, u64)],
        short: &[u64],
        now: u64,
        (snapshots, by_hand): (&[(u64, bool, bool)], std::ops::Range<u64>),
        adjust: impl FnOnce(&mut RollbackRule),
    ) -> Vec<Candidate> {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let mut channel = fixtures::channels().remove(0);
        let previous = channel.local_policy;
        channel.local_policy.fee_ppm = 900;
        channel.last_fee_change = Some(CHANGED_AT);
        let forwards: Vec<Forward> = forwards
            .iter()
            .zip(1..)
            .map(|(&(at, fee_msat), index)| Forward {
                index,
                at_ns: at * NS,
                chan_in: 7,
                chan_out: channel.id,
                amt_in_msat: 1_000_000 + fee_msat,
                amt_out_msat: 1_000_000,
                fee_msat,
            })
            .collect();
        store
            .add_forwards(&forwards, forwards.len() as u64)
            .unwrap();
        let refused: Vec<FailedForward> = short
            .iter()
            .zip(1..)
            .map(|(&at, index)| FailedForward {
                index,
                at_ns: at * NS,
                chan_in: 7,
                chan_out: Some(channel.id),
                amt_in_msat: 1_000_000,
                reason: FailureReason::InsufficientBalance,
            })
            .collect();
        store
            .add_failed_forwards(&refused, refused.len() as u64)
            .unwrap();
        let mut rule = applied_at_changed_at(&store, &channel, &previous);
        adjust(&mut rule);
        for &(at, active, disabled) in snapshots {
            let fees = if at < CHANGED_AT {
                previous
            } else if by_hand.contains(&at) {
                FeePolicy {
                    fee_ppm: 1000,
                    ..channel.local_policy
                }
            } else {
                channel.local_policy
            };
            let mut seen = fixtures::node_channel(channel.id, "peer", fees);
            seen.active = active;
            seen.local_policy.disabled = disabled;
            store.add_channel_snapshot(at, &[seen]).unwrap();
        }
        let rules = BTreeMap::from([(channel.id, rule)]);
        candidates(&store, &[channel], &rules, now).unwrap()
    }

    /// LND: a channel moved from 100 to 110 ppm while the channel its traffic comes in by
    /// started a 50 ppm inbound discount. Senders pay 100 msat per forward before and 60 after;
    /// the channel's own fee earned 110. The discount is not its fee's doing.
    #[test]
    fn a_discount_given_by_another_channel_is_not_a_fall_after_this_ones_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db")).unwrap();
        let level = |fee_ppm: u32, inbound_fee_ppm: i32| FeePolicy {
            base_fee_msat: 0,
            fee_ppm,
            inbound_base_fee_msat: 0,
            inbound_fee_ppm,
            min_htlc_msat: 1_000,
            max_htlc_msat: 990_000_000,
            time_lock_delta: 80,
            disabled: false,
        };
        let mut channel = fixtures::channels().remove(0);
        channel.local_policy = level(100, 0);
        let snapshot = |at: u64, ours: FeePolicy, theirs: FeePolicy| {
            let seen = [
                fixtures::node_channel(channel.id, "peer", ours),
                fixtures::node_channel(7, "other", theirs),
            ];
            store.add_channel_snapshot(at, &seen).unwrap();
        };
        snapshot(CHANGED_AT - WINDOW, level(100, 0), level(100, 0));
        snapshot(CHANGED_AT, level(110, 0), level(100, -50));
        let paying = |index: u64, at: u64, fee_msat: u64| Forward {
            index,
            at_ns: at * NS,
            chan_in: 7,
            chan_out: channel.id,
            amt_in_msat: 1_000_000 + fee_msat,
            amt_out_msat: 1_000_000,
            fee_msat,
        };
        let forwards: Vec<Forward> = (1..=10)
            .map(|i| match i {
                1..=5 => paying(i, CHANGED_AT - 3_600 * i, 100),
                _ => paying(i, CHANGED_AT + 3_600 * i, 60),
            })
            .collect();
        store.add_forwards(&forwards, 10).unwrap();
        let previous = channel.local_policy;
        channel.local_policy = level(110, 0);
        let rule = applied_at_changed_at(&store, &channel, &previous);
        let rules = BTreeMap::from([(channel.id, rule)]);
        let found = candidates(&store, &[channel], &rules, CHANGED_AT + WINDOW).unwrap();
        assert!(found.is_empty(), "{found:?}");
    }

    /// Judged from a window after the change (15 minutes early for a run whose start
    /// wandered, on the part of the window that has passed) until a window later.
    #[test]
    fn a_change_is_judged_only_in_the_window_after_its_own() {
        let five = MIN_FORWARDS_BEFORE;
        let early = CHANGED_AT + WINDOW - START_TOLERANCE_SECS;
        assert!(judged_at(five, early - 1, &[]).is_empty(), "too early");
        let found = judged_at(five, early, &[]);
        assert_eq!(found.len(), 1, "a cron run 15 minutes early");
        assert_eq!(found[0].rate_after_msat_per_hour, 0.0);
        assert_eq!(judged_at(five, CHANGED_AT + 2 * WINDOW - 1, &[]).len(), 1);
        assert!(
            judged_at(five, CHANGED_AT + 2 * WINDOW, &[]).is_empty(),
            "a window late: rollback just switched on must not undo a fee that earned since"
        );
        assert!(judged_at(five, CHANGED_AT + 60 * 86_400, &[]).is_empty());
    }

    /// A 6-hour window under a 12-hour minimum interval: the restore waits for the interval,
    /// and the change is still judged then (and a daily run still lands in its time).
    #[test]
    fn a_short_window_is_judged_for_as_long_as_the_restore_must_wait() {
        let short = |rule: &mut RollbackRule| {
            rule.window_secs = 6 * 3600;
            rule.guard.min_update_interval_secs = 12 * 3600;
        };
        let five = MIN_FORWARDS_BEFORE;
        let at = |hours: u64| CHANGED_AT + hours * 3600;
        assert!(
            judged_by(five, at(8), &[], short).is_empty(),
            "the interval holds it"
        );
        assert_eq!(judged_by(five, at(13), &[], short).len(), 1);
        assert_eq!(
            judged_by(five, at(29), &[], short).len(),
            1,
            "a day after its window"
        );
        assert!(judged_by(five, at(30), &[], short).is_empty());
    }

    /// A minimum interval holds the restore: 45 days, and the change is judged once the
    /// interval is over; 70 days, past the 60 days snapshots are kept, and whether the channel
    /// was down after the change is unknown by then, so it is never judged.
    #[test]
    fn a_change_is_not_judged_once_its_snapshots_are_gone() {
        let interval = |days: u64| {
            move |rule: &mut RollbackRule| rule.guard.min_update_interval_secs = days * 86_400
        };
        let five = MIN_FORWARDS_BEFORE;
        let hours = |hours: u64| CHANGED_AT + hours * 3_600;
        assert_eq!(
            judged_by(five, hours(45 * 24 + 1), &[], interval(45)).len(),
            1
        );
        assert!(judged_by(five, hours(70 * 24 + 1), &[], interval(70)).is_empty());
    }

    #[test]
    fn a_fall_while_the_channel_was_down_is_not_the_fees() {
        let five = MIN_FORWARDS_BEFORE;
        let now = CHANGED_AT + WINDOW;
        let up = (CHANGED_AT + 3_600, true, false);
        assert_eq!(judged_at(five, now, &[up]).len(), 1, "up all along");
        let offline = (CHANGED_AT + 7_200, false, false);
        assert!(
            judged_at(five, now, &[up, offline]).is_empty(),
            "peer offline"
        );
        let disabled = (CHANGED_AT + 7_200, true, true);
        assert!(judged_at(five, now, &[up, disabled]).is_empty(), "disabled");
        let before_it = (CHANGED_AT - 7_200, false, false);
        let after_it = (CHANGED_AT + WINDOW, false, false);
        assert_eq!(
            judged_at(five, now, &[before_it, up, after_it]).len(),
            1,
            "down outside the window judged"
        );
    }

    /// The change replaced a 1000 msat base fee and no discount; the section now fixes
    /// the base fee and the inbound pair, or derives the discount from a 60 ppm level. The restore sends the
    /// old rate with the section's base fee and the discount the level gives that rate.
    #[test]
    fn a_restore_ends_where_the_sections_fee_properties_put_it() {
        let restore = |fees: Overlay| {
            let found = judged_by(MIN_FORWARDS_BEFORE, CHANGED_AT + WINDOW, &[], |rule| {
                rule.fees = fees;
            });
            assert_eq!(found.len(), 1);
            found[0].restore
        };
        let before = restore(Overlay::default());
        assert_eq!(
            (before.fee_ppm, before.base_fee_msat, before.inbound_fee_ppm),
            (100, 1000, 0)
        );
        let fixed = restore(Overlay {
            base_fee_msat: Some(10),
            inbound_fee_ppm: Some(-30),
            inbound_base_fee_msat: Some(-5),
            ..Overlay::default()
        });
        assert_eq!(
            (
                fixed.fee_ppm,
                fixed.base_fee_msat,
                fixed.inbound_fee_ppm,
                fixed.inbound_base_fee_msat
            ),
            (100, 10, -30, -5)
        );
        let levelled = restore(Overlay {
            inbound_level_ppm: Some(60),
            ..Overlay::default()
        });
        assert_eq!(levelled.inbound_fee_ppm, -40, "60 − the restored 100 ppm");
        assert!(!levelled.disabled);
    }

    #[test]
    fn one_large_payment_before_the_change_is_no_fall_of_revenue() {
        // 100 ppm before: one payment paid 5,000,000 msat, four paid 50,000. 900 ppm after:
        // twenty paid 45,000. The sum fell by 83%, while forwards went from 5 to 20 at 9 times
        // the rate.
        let mut forwards = vec![(CHANGED_AT - 3600, 5_000_000)];
        forwards.extend((2..=5).map(|h| (CHANGED_AT - 3600 * h, 50_000)));
        forwards.extend((1..=20).map(|h| (CHANGED_AT + 1000 * h, 45_000)));
        let judge = |forwards: &[(u64, u64)]| {
            judged_on(forwards, &[], CHANGED_AT + WINDOW, (&[], 0..0), |_| {})
        };
        assert!(
            judge(&forwards).is_empty(),
            "rolled back a change that quadrupled forwards"
        );
        assert_eq!(
            judge(&forwards[..5]).len(),
            1,
            "with no forward after the change, it is rolled back"
        );
        // Twenty large payments before, twenty small ones after: the raise lost the large
        // payments, revenue fell by 82% whatever the largest one, and it is rolled back.
        let mut lost: Vec<(u64, u64)> =
            (1..=20).map(|h| (CHANGED_AT - 3600 * h, 500_000)).collect();
        lost.extend((1..=20).map(|h| (CHANGED_AT + 1000 * h, 90_000)));
        assert_eq!(
            judge(&lost).len(),
            1,
            "a raise that lost the large payments"
        );
    }

    /// After the change the channel made no forward and refused 5 for want of liquidity: its
    /// balance, not its fee, held revenue back. Refusing fewer than 5, it is judged.
    #[test]
    fn a_fall_while_the_channel_lacked_liquidity_is_not_the_fees() {
        let forwards: Vec<(u64, u64)> = (1..=10).map(|h| (CHANGED_AT - 3600 * h, 100)).collect();
        let refused: Vec<u64> = (1..=5).map(|h| CHANGED_AT + 600 * h).collect();
        let judge =
            |short: &[u64]| judged_on(&forwards, short, CHANGED_AT + WINDOW, (&[], 0..0), |_| {});
        assert!(judge(&refused).is_empty(), "rolled back a drained channel");
        assert_eq!(judge(&refused[..1]).len(), 1, "one refusal: judged");
    }

    #[test]
    fn a_fall_is_weighed_only_with_enough_forwards_before_the_change() {
        assert!(
            judged(MIN_FORWARDS_BEFORE - 1).is_empty(),
            "four forwards, then none: chance as likely as the change"
        );
        let found = judged(MIN_FORWARDS_BEFORE);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].restore.fee_ppm, 100);
        assert_eq!(found[0].rate_after_msat_per_hour, 0.0);
    }
}
