//! Read-only queries behind `lnpolicy report` and `lnpolicy status`: what each
//! experiment arm earned, what each strategy did to each channel, and what the
//! daemon is doing now. Nothing here writes; the report crate combines these
//! into numbers, so the SQL stays in the one crate that owns the schema.

use std::collections::BTreeMap;

use lnpolicy_core::{ChannelId, NodeChannel, StrategyEvent, StrategyEventKind};
use rusqlite::params;

use crate::{
    Arm, Cycle, Store, StoreError, channel_id_from_sql, channel_id_to_sql, time_from_sql, to_sql,
};

/// Nanoseconds in a UTC day: forwards are stamped in nanoseconds, and reports
/// bucket them by calendar day.
const DAY_NS: i64 = 86_400_000_000_000;

/// The strategy name rollbacks are recorded under (`lnpolicy_policy::rollback::ROLLBACK_STRATEGY`;
/// the store cannot depend on the policy crate, which depends on it).
pub const ROLLBACK_STRATEGY: &str = "rollback";

/// Reason words that also mark a decision as a rollback (case-insensitive,
/// anywhere in the reason), for rollbacks made by another name: the schema has
/// no rollback column, so a decision's strategy and reason are all that say so.
pub const ROLLBACK_MARKERS: &[&str] = &["rollback", "roll back", "rolled back", "rolling back"];

/// One channel's place in an experiment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assignment {
    pub channel_id: ChannelId,
    pub arm: Arm,
    /// Unix seconds: when the channel joined; its time in the experiment starts here.
    pub assigned_at: u64,
    /// Unix seconds: when a cycle first placed the channel outside the experiment; its time
    /// in the experiment ends here.
    pub left_at: Option<u64>,
    /// The share of channels in arm A when this one drew its arm; unknown for channels
    /// assigned before lnpolicy recorded it.
    pub split: Option<f64>,
}

/// An experiment as the assignments table knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentSummary {
    pub name: String,
    pub channels_a: u32,
    pub channels_b: u32,
    pub first_assigned_at: u64,
    pub last_assigned_at: u64,
}

/// Settled forwards that left through one channel during one UTC day, and what its own fees
/// earned that day ([`crate::Earned`]: its inbound discounts on forwards that came in by it
/// count against it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayOut {
    /// Days since 1970-01-01 (UTC).
    pub day: u64,
    pub fees_msat: i64,
    pub amt_out_msat: u64,
    pub forwards: u64,
}

/// A channel as its most recent snapshot showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastSnapshot {
    /// Unix seconds of that snapshot: for a channel missing from later
    /// snapshots, the last time it was known to be open.
    pub at: u64,
    pub channel: NodeChannel,
}

/// An update that reached the node, as far as the fee rate goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedFee {
    pub channel_id: ChannelId,
    /// Unix seconds when the node confirmed it.
    pub at: u64,
    /// The rate it replaced: the channel's rate before lnpolicy's first change.
    pub previous_fee_ppm: u32,
    pub fee_ppm: u32,
}

/// What happened to one channel under one strategy, over the whole database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityCounts {
    pub channel_id: ChannelId,
    /// The strategy that made the decisions; `None` for update intents that
    /// refer to no decision (made outside a cycle).
    pub strategy: Option<String>,
    pub decisions: u64,
    /// Decisions whose guarded result was a policy to send (not "leave as is").
    pub proposed: u64,
    /// Decisions the guard changed at least one value of.
    pub clamped: u64,
    /// Rollbacks that undid a change of this strategy on this channel (a
    /// decision of [`ROLLBACK_STRATEGY`] or with a [`ROLLBACK_MARKERS`] reason,
    /// credited to the strategy of the last applied change before it; to the
    /// rollback's own strategy when there was none).
    pub rolled_back: u64,
    pub applied: u64,
    pub failed: u64,
    pub pending: u64,
}

/// One strategy's cycles: the latest, and how they have gone overall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyCycles {
    pub last: Cycle,
    /// When the latest cycle that ended `ok` finished.
    pub last_ok_at: Option<u64>,
    pub total: u64,
    /// Cycles that ended `failed` or `quarantined`.
    pub failed: u64,
}

/// From `at` on, `strategy` made the decisions for `channel_id` (until the
/// channel's next [`StrategyChange`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyChange {
    pub channel_id: ChannelId,
    pub at: u64,
    pub strategy: String,
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn parse_arm(text: &str) -> Option<Arm> {
    match text {
        "a" => Some(Arm::A),
        "b" => Some(Arm::B),
        _ => None,
    }
}

/// The SQL condition that marks a row of `decisions` as a rollback.
pub(crate) fn rollback_condition() -> String {
    ROLLBACK_MARKERS
        .iter()
        .map(|marker| format!("instr(lower(r.reason), '{marker}') > 0"))
        .chain([format!("r.strategy = '{ROLLBACK_STRATEGY}'")])
        .collect::<Vec<_>>()
        .join(" OR ")
}

impl Store {
    /// Every experiment with its arm sizes, by name.
    pub fn experiment_summaries(&self) -> Result<Vec<ExperimentSummary>, StoreError> {
        let rows: Vec<(String, i64, i64, i64, i64)> = self
            .lock()
            .prepare(
                "SELECT experiment, SUM(arm = 'a'), SUM(arm = 'b'),
                        MIN(assigned_at), MAX(assigned_at)
                 FROM experiment_assignments GROUP BY experiment ORDER BY experiment",
            )
            .and_then(|mut stmt| stmt.query_map([], |row| row.try_into())?.collect())
            .map_err(self.sql("summarising experiments"))?;
        Ok(rows
            .into_iter()
            .map(|(name, a, b, first, last)| ExperimentSummary {
                name,
                channels_a: u32::try_from(a).unwrap_or(0),
                channels_b: u32::try_from(b).unwrap_or(0),
                first_assigned_at: time_from_sql(first),
                last_assigned_at: time_from_sql(last),
            })
            .collect())
    }

    /// The channels of `experiment` with their arms and when they joined, by
    /// channel id; empty for an unknown experiment.
    pub fn experiment_assignments(&self, experiment: &str) -> Result<Vec<Assignment>, StoreError> {
        /// Channel, arm, assigned at, left at, split: as stored.
        type Row = (i64, String, i64, Option<i64>, Option<f64>);
        let rows: Vec<Row> = self
            .lock()
            .prepare(
                "SELECT channel_id, arm, assigned_at, left_at, split FROM experiment_assignments
                 WHERE experiment = ?1 ORDER BY channel_id",
            )
            .and_then(|mut stmt| {
                stmt.query_map([experiment], |row| row.try_into())?
                    .collect()
            })
            .map_err(self.sql("reading experiment assignments"))?;
        rows.into_iter()
            .map(|(channel, arm, at, left, split)| {
                let arm = parse_arm(&arm).ok_or_else(|| {
                    self.invalid(format!("experiment {experiment:?} has unknown arm {arm:?}"))
                })?;
                Ok(Assignment {
                    channel_id: channel_id_from_sql(channel),
                    arm,
                    assigned_at: time_from_sql(at),
                    left_at: left.map(time_from_sql),
                    split,
                })
            })
            .collect()
    }

    /// How many decisions each strategy made, per arm, for the channels of
    /// `experiment` while they were in it: which strategy each arm actually
    /// ran, since the assignments do not record it.
    pub fn experiment_arm_strategies(
        &self,
        experiment: &str,
    ) -> Result<Vec<(Arm, String, u64)>, StoreError> {
        let rows: Vec<(String, String, i64)> = self
            .lock()
            .prepare(
                "SELECT a.arm, d.strategy, SUM(d.decisions) AS n
                 FROM experiment_assignments a
                 JOIN (SELECT channel_id, at, strategy, 1 AS decisions FROM decisions
                       UNION ALL
                       SELECT channel_id, day * 86400, strategy, decisions FROM decision_tallies
                      ) d ON d.channel_id = a.channel_id AND d.at >= a.assigned_at
                             AND (a.left_at IS NULL OR d.at < a.left_at)
                 WHERE a.experiment = ?1
                 GROUP BY a.arm, d.strategy ORDER BY a.arm, n DESC, d.strategy",
            )
            .and_then(|mut stmt| {
                stmt.query_map([experiment], |row| row.try_into())?
                    .collect()
            })
            .map_err(self.sql("reading the strategies of experiment arms"))?;
        rows.into_iter()
            .map(|(arm, strategy, n)| {
                let arm = parse_arm(&arm).ok_or_else(|| {
                    self.invalid(format!("experiment {experiment:?} has unknown arm {arm:?}"))
                })?;
                Ok((arm, strategy, count(n)))
            })
            .collect()
    }

    /// Forwards out through `channel` with `at_ns` in `[from_ns, to_ns)`, and what its fees earned,
    /// summed per UTC day, oldest first; days without forwards are absent.
    pub fn daily_out(
        &self,
        channel: ChannelId,
        from_ns: u64,
        to_ns: u64,
    ) -> Result<Vec<DayOut>, StoreError> {
        let rows: Vec<(i64, i64, i64, i64)> = self
            .lock()
            .prepare_cached(
                "SELECT day, SUM(fee), SUM(amt), SUM(n) FROM (
                     SELECT at_ns / ?4 AS day, COALESCE(out_fee_msat, fee_msat) AS fee,
                            amt_out_msat AS amt, 1 AS n
                     FROM forwards WHERE chan_out = ?1 AND at_ns >= ?2 AND at_ns < ?3
                     UNION ALL
                     SELECT at_ns / ?4, fee_msat - COALESCE(out_fee_msat, fee_msat), 0, 0
                     FROM forwards WHERE chan_in = ?1 AND at_ns >= ?2 AND at_ns < ?3)
                 GROUP BY 1 ORDER BY 1",
            )
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![
                        channel_id_to_sql(channel),
                        to_sql(from_ns),
                        to_sql(to_ns),
                        DAY_NS
                    ],
                    |row| row.try_into(),
                )?
                .collect()
            })
            .map_err(self.sql("summing a channel's forwards per day"))?;
        Ok(rows
            .into_iter()
            .map(|(day, fees, amt, n)| DayOut {
                day: count(day),
                fees_msat: fees,
                amt_out_msat: count(amt),
                forwards: count(n),
            })
            .collect())
    }

    /// Each channel's most recent snapshot, and the time of the latest
    /// snapshot of any channel (`None` before the first collection). A channel
    /// whose last snapshot is older than that latest one was missing from the
    /// latest collection: it has closed.
    pub fn last_snapshots(
        &self,
    ) -> Result<(Option<u64>, BTreeMap<ChannelId, LastSnapshot>), StoreError> {
        let conn = self.lock();
        let latest: Option<i64> = conn
            .query_row("SELECT MAX(at) FROM channel_snapshots", [], |row| {
                row.get(0)
            })
            .map_err(self.sql("reading the latest snapshot time"))?;
        let rows: Vec<(i64, i64, String)> = conn
            .prepare(
                "SELECT s.channel_id, s.at, s.channel_json FROM channel_snapshots s
                 JOIN (SELECT channel_id, MAX(at) AS at FROM channel_snapshots GROUP BY channel_id) l
                   ON s.channel_id = l.channel_id AND s.at = l.at",
            )
            .and_then(|mut stmt| {
                stmt.query_map([], |row| row.try_into())?
                    .collect()
            })
            .map_err(self.sql("reading each channel's last snapshot"))?;
        drop(conn);
        let snapshots = rows
            .into_iter()
            .map(|(channel, at, json)| {
                let channel = channel_id_from_sql(channel);
                let snapshot = LastSnapshot {
                    at: time_from_sql(at),
                    channel: self
                        .decode_json(|| format!("the last snapshot of channel {channel}"), &json)?,
                };
                Ok((channel, snapshot))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((latest.map(time_from_sql), snapshots))
    }

    /// Every applied update's fee rate change, in the order the updates
    /// reached the node: the fee history lnpolicy itself made.
    pub fn applied_fee_changes(&self) -> Result<Vec<AppliedFee>, StoreError> {
        let rows: Vec<(i64, i64, i64, i64)> = self
            .lock()
            .prepare(
                "SELECT channel_id, resolved_at, json_extract(previous_json, '$.fee_ppm'),
                        json_extract(policy_json, '$.fee_ppm')
                 FROM update_intents WHERE status = 'applied' ORDER BY resolved_at, id",
            )
            .and_then(|mut stmt| stmt.query_map([], |row| row.try_into())?.collect())
            .map_err(self.sql("reading applied fee changes"))?;
        Ok(rows
            .into_iter()
            .map(|(channel, at, previous, fee)| AppliedFee {
                channel_id: channel_id_from_sql(channel),
                at: time_from_sql(at),
                previous_fee_ppm: u32::try_from(previous).unwrap_or(0),
                fee_ppm: u32::try_from(fee).unwrap_or(0),
            })
            .collect())
    }

    /// Decisions and update outcomes per (channel, strategy), over the whole
    /// database. An intent counts under the strategy of its decision.
    pub fn activity_counts(&self) -> Result<Vec<ActivityCounts>, StoreError> {
        let conn = self.lock();
        let decisions: Vec<(i64, String, i64, i64, i64)> = conn
            .prepare(
                "SELECT channel_id, strategy, SUM(decisions), SUM(proposed), SUM(clamped) FROM (
                     SELECT channel_id, strategy, 1 AS decisions,
                            json_extract(guarded_json, '$.policy') IS NOT NULL AS proposed,
                            clamps > 0 AS clamped
                     FROM decisions
                     UNION ALL
                     SELECT channel_id, strategy, decisions, proposed, clamped
                     FROM decision_tallies)
                 GROUP BY channel_id, strategy",
            )
            .and_then(|mut stmt| stmt.query_map([], |row| row.try_into())?.collect())
            .map_err(self.sql("counting decisions"))?;
        let rollbacks: Vec<(i64, String, i64)> = conn
            .prepare(&format!(
                "SELECT channel_id, undone, COUNT(*) FROM (
                     SELECT r.channel_id, COALESCE(
                         (SELECT d.strategy FROM update_intents i
                          JOIN decisions d ON d.id = i.decision_id
                          WHERE i.channel_id = r.channel_id AND i.status = 'applied'
                            AND i.resolved_at <= r.at AND i.decision_id < r.id
                            AND d.strategy <> r.strategy
                          ORDER BY i.id DESC LIMIT 1),
                         r.strategy) AS undone
                     FROM decisions r WHERE {})
                 GROUP BY channel_id, undone",
                rollback_condition()
            ))
            .and_then(|mut stmt| stmt.query_map([], |row| row.try_into())?.collect())
            .map_err(self.sql("counting rollbacks"))?;
        let intents: Vec<(i64, Option<String>, i64, i64, i64)> = conn
            .prepare(
                "SELECT i.channel_id, d.strategy, SUM(i.status = 'applied'),
                        SUM(i.status = 'failed'), SUM(i.status = 'pending')
                 FROM update_intents i LEFT JOIN decisions d ON d.id = i.decision_id
                 GROUP BY i.channel_id, d.strategy",
            )
            .and_then(|mut stmt| stmt.query_map([], |row| row.try_into())?.collect())
            .map_err(self.sql("counting update intents"))?;
        let mut counts: BTreeMap<(ChannelId, Option<String>), ActivityCounts> = BTreeMap::new();
        fn row(
            counts: &mut BTreeMap<(ChannelId, Option<String>), ActivityCounts>,
            channel: i64,
            strategy: Option<String>,
        ) -> &mut ActivityCounts {
            let channel_id = channel_id_from_sql(channel);
            counts
                .entry((channel_id, strategy.clone()))
                .or_insert_with(|| ActivityCounts {
                    channel_id,
                    strategy,
                    ..ActivityCounts::default()
                })
        }
        for (channel, strategy, n, proposed, clamped) in decisions {
            let row = row(&mut counts, channel, Some(strategy));
            row.decisions = count(n);
            row.proposed = count(proposed);
            row.clamped = count(clamped);
        }
        for (channel, strategy, n) in rollbacks {
            row(&mut counts, channel, Some(strategy)).rolled_back = count(n);
        }
        for (channel, strategy, applied, failed, pending) in intents {
            let row = row(&mut counts, channel, strategy);
            row.applied = count(applied);
            row.failed = count(failed);
            row.pending = count(pending);
        }
        Ok(counts.into_values().collect())
    }

    /// For every channel with decisions, each point where the deciding
    /// strategy changed (its first decision included), oldest first per
    /// channel: the spans over which a channel's revenue is credited to a
    /// strategy.
    pub fn strategy_changes(&self) -> Result<Vec<StrategyChange>, StoreError> {
        let rows: Vec<(i64, i64, String)> = self
            .lock()
            .prepare(
                "SELECT channel_id, at, strategy FROM (
                     SELECT channel_id, at, id, strategy,
                            LAG(strategy) OVER (PARTITION BY channel_id ORDER BY at, id) AS previous
                     FROM decisions)
                 WHERE previous IS NULL OR previous <> strategy
                 ORDER BY channel_id, at, id",
            )
            .and_then(|mut stmt| stmt.query_map([], |row| row.try_into())?.collect())
            .map_err(self.sql("reading strategy changes"))?;
        Ok(rows
            .into_iter()
            .map(|(channel, at, strategy)| StrategyChange {
                channel_id: channel_id_from_sql(channel),
                at: time_from_sql(at),
                strategy,
            })
            .collect())
    }

    /// Per strategy, by name: its latest cycle and how its cycles have gone.
    pub fn strategy_cycles(&self) -> Result<Vec<StrategyCycles>, StoreError> {
        let rows: Vec<(i64, Option<i64>, i64, i64)> = self
            .lock()
            .prepare(
                "SELECT MAX(id),
                        MAX(CASE WHEN status = 'ok' THEN finished_at END),
                        COUNT(*), COUNT(CASE WHEN status IN ('failed', 'quarantined') THEN 1 END)
                 FROM cycles GROUP BY strategy ORDER BY strategy",
            )
            .and_then(|mut stmt| stmt.query_map([], |row| row.try_into())?.collect())
            .map_err(self.sql("summarising cycles"))?;
        rows.into_iter()
            .map(|(last_id, last_ok_at, total, failed)| {
                let last = self
                    .cycle(last_id)?
                    .ok_or_else(|| self.invalid(format!("cycle {last_id} vanished while read")))?;
                Ok(StrategyCycles {
                    last,
                    last_ok_at: last_ok_at.map(time_from_sql),
                    total: count(total),
                    failed: count(failed),
                })
            })
            .collect()
    }

    /// Strategies quarantined now, with the event that quarantined them, by
    /// name. Quarantine lasts until the strategy is loaded again (a changed
    /// file, or a restart, which loads every strategy afresh) or released (SIGHUP),
    /// so a strategy is quarantined when its latest load, reload, unload, release or
    /// quarantine event is a quarantine.
    pub fn quarantined_strategies(&self) -> Result<Vec<StrategyEvent>, StoreError> {
        let rows: Vec<(i64, String, String, String)> = self
            .lock()
            .prepare(
                "SELECT q.at, q.strategy, q.sha256, q.detail FROM strategy_events q
                 WHERE q.kind = 'quarantined' AND q.id = (
                     SELECT MAX(e.id) FROM strategy_events e
                     WHERE e.strategy = q.strategy
                       AND e.kind IN ('quarantined', 'loaded', 'reloaded', 'unloaded', 'released'))
                 ORDER BY q.strategy",
            )
            .and_then(|mut stmt| stmt.query_map([], |row| row.try_into())?.collect())
            .map_err(self.sql("reading quarantined strategies"))?;
        Ok(rows
            .into_iter()
            .map(|(at, strategy, sha256, detail)| StrategyEvent {
                at: time_from_sql(at),
                strategy,
                sha256,
                kind: StrategyEventKind::Quarantined,
                detail,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use lnpolicy_core::{FeePolicy, Forward, GuardedDecision, NodeChannel, StrategyEvent};

    use super::*;
    use crate::{CycleStatus, DecisionRecord, IntentOutcome};

    const DAY: u64 = 86_400;
    const NS: u64 = 1_000_000_000;

    fn policy(fee_ppm: u32) -> FeePolicy {
        FeePolicy {
            fee_ppm,
            base_fee_msat: 1000,
            ..FeePolicy::default()
        }
    }

    fn channel(id: ChannelId, fee_ppm: u32) -> NodeChannel {
        crate::tests::node_channel(id, policy(fee_ppm))
    }

    /// One decision of `strategy` on `channel` at `at`, in a cycle of its own.
    fn decide(store: &Store, strategy: &str, channel: ChannelId, at: u64, reason: &str) -> i64 {
        let cycle = store.begin_cycle(strategy, "", at, 1).unwrap();
        let guarded = GuardedDecision {
            channel_id: channel,
            policy: Some(policy(200)),
            clamps: Vec::new(),
        };
        let id = store
            .record_decision(&DecisionRecord {
                cycle_id: cycle,
                at,
                strategy,
                strategy_sha256: "",
                raw: None,
                guarded: &guarded,
                reason,
            })
            .unwrap();
        store
            .finish_cycle(cycle, at, CycleStatus::Ok, None)
            .unwrap();
        id
    }

    fn apply(store: &Store, channel: ChannelId, decision: i64, from: u32, to: u32, at: u64) {
        let intent = store
            .record_intent(channel, Some(decision), &policy(from), &policy(to), at)
            .unwrap();
        store
            .resolve_intent(intent, IntentOutcome::Applied, at)
            .unwrap();
    }

    #[test]
    fn experiments_list_arm_sizes_and_assignments_keep_their_time() {
        let store = Store::open_in_memory().unwrap();
        store
            .record_assignments("fees", 0.5, &[(1, Arm::A), (2, Arm::B), (3, Arm::B)], 100)
            .unwrap();
        store
            .record_assignments("fees", 0.9, &[(4, Arm::A)], 200)
            .unwrap();
        store
            .record_assignments("other", 0.5, &[(1, Arm::B)], 50)
            .unwrap();
        assert_eq!(
            store.experiment_summaries().unwrap(),
            vec![
                ExperimentSummary {
                    name: "fees".into(),
                    channels_a: 2,
                    channels_b: 2,
                    first_assigned_at: 100,
                    last_assigned_at: 200,
                },
                ExperimentSummary {
                    name: "other".into(),
                    channels_a: 0,
                    channels_b: 1,
                    first_assigned_at: 50,
                    last_assigned_at: 50,
                },
            ]
        );
        let fees = store.experiment_assignments("fees").unwrap();
        assert_eq!(fees.len(), 4);
        assert_eq!(
            fees[3],
            Assignment {
                channel_id: 4,
                arm: Arm::A,
                assigned_at: 200,
                left_at: None,
                split: Some(0.9),
            }
        );
        assert_eq!(fees[0].split, Some(0.5));
        assert!(store.experiment_assignments("nope").unwrap().is_empty());
    }

    /// Channel 1 moves to experiment "other", 2 to a section without one, 3 stays, 4 is not in
    /// this run (a failed matcher): only 1 and 2 leave "fees", and only once.
    #[test]
    fn a_channel_placed_elsewhere_leaves_its_experiment() {
        let store = Store::open_in_memory().unwrap();
        store
            .record_assignments(
                "fees",
                0.5,
                &[(1, Arm::A), (2, Arm::B), (3, Arm::A), (4, Arm::B)],
                100,
            )
            .unwrap();
        let placed = [(1, Some("other")), (2, None), (3, Some("fees"))];
        assert_eq!(store.record_experiment_departures(&placed, 500).unwrap(), 2);
        assert_eq!(store.record_experiment_departures(&placed, 900).unwrap(), 0);
        let left: Vec<(u64, Option<u64>)> = store
            .experiment_assignments("fees")
            .unwrap()
            .iter()
            .map(|a| (a.channel_id, a.left_at))
            .collect();
        assert_eq!(left, [(1, Some(500)), (2, Some(500)), (3, None), (4, None)]);
    }

    #[test]
    fn arm_strategies_count_only_decisions_after_joining() {
        let store = Store::open_in_memory().unwrap();
        store
            .record_assignments("fees", 0.5, &[(1, Arm::A), (2, Arm::B)], 100)
            .unwrap();
        decide(&store, "static", 1, 50, "before the experiment");
        decide(&store, "hill", 1, 150, "");
        decide(&store, "hill", 1, 250, "");
        decide(&store, "flow", 2, 150, "");
        assert_eq!(
            store.experiment_arm_strategies("fees").unwrap(),
            vec![(Arm::A, "hill".into(), 2), (Arm::B, "flow".into(), 1)]
        );
    }

    #[test]
    fn daily_out_buckets_by_utc_day_within_the_range() {
        let store = Store::open_in_memory().unwrap();
        let forward = |index: u64, at: u64, chan_out: ChannelId, fee: u64| Forward {
            index,
            at_ns: at * NS,
            chan_in: 9,
            chan_out,
            amt_in_msat: 1_000_000 + fee,
            amt_out_msat: 1_000_000,
            fee_msat: fee,
        };
        let page = [
            forward(1, 10 * DAY + 5, 1, 100),
            forward(2, 10 * DAY + 80_000, 1, 200),
            forward(3, 11 * DAY, 1, 300),
            forward(4, 11 * DAY + 1, 2, 999),
            forward(5, 12 * DAY, 1, 400),
        ];
        store.add_forwards(&page, 6).unwrap();
        let days = store.daily_out(1, 10 * DAY * NS, 12 * DAY * NS).unwrap();
        assert_eq!(
            days,
            vec![
                DayOut {
                    day: 10,
                    fees_msat: 300,
                    amt_out_msat: 2_000_000,
                    forwards: 2
                },
                DayOut {
                    day: 11,
                    fees_msat: 300,
                    amt_out_msat: 1_000_000,
                    forwards: 1
                },
            ],
            "channel 2's forward and the one at the range's end are left out"
        );
    }

    #[test]
    fn last_snapshots_tell_closed_channels_by_their_absence() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.last_snapshots().unwrap(), (None, BTreeMap::new()));
        store
            .add_channel_snapshot(100, &[channel(1, 10), channel(2, 20)])
            .unwrap();
        store.add_channel_snapshot(200, &[channel(1, 11)]).unwrap();
        let (latest, last) = store.last_snapshots().unwrap();
        assert_eq!(latest, Some(200));
        assert_eq!(last[&1].at, 200);
        assert_eq!(last[&1].channel.local_policy.fee_ppm, 11);
        assert_eq!(last[&2].at, 100, "closed after the snapshot at 100");
    }

    #[test]
    fn applied_fee_changes_leave_out_failed_and_pending_updates() {
        let store = Store::open_in_memory().unwrap();
        let decision = decide(&store, "hill", 1, 100, "");
        apply(&store, 1, decision, 100, 150, 110);
        let failed = store
            .record_intent(1, Some(decision), &policy(150), &policy(900), 120)
            .unwrap();
        store
            .resolve_intent(failed, IntentOutcome::Failed("refused".into()), 121)
            .unwrap();
        store
            .record_intent(1, None, &policy(150), &policy(800), 130)
            .unwrap();
        assert_eq!(
            store.applied_fee_changes().unwrap(),
            vec![AppliedFee {
                channel_id: 1,
                at: 110,
                previous_fee_ppm: 100,
                fee_ppm: 150
            }]
        );
    }

    #[test]
    fn activity_counts_credit_rollbacks_to_the_strategy_undone() {
        let store = Store::open_in_memory().unwrap();
        let first = decide(&store, "hill", 1, 100, "explore up");
        apply(&store, 1, first, 100, 150, 100);
        decide(&store, "hill", 1, 200, "hold");
        let cycle = store.begin_cycle("hill", "", 250, 1).unwrap();
        let clamped = GuardedDecision {
            channel_id: 1,
            policy: None,
            clamps: vec![lnpolicy_core::Clamp {
                field: "fee_ppm".into(),
                requested: 5,
                applied: 150,
                rule: lnpolicy_core::Rule::MinInterval,
            }],
        };
        store
            .record_decision(&DecisionRecord {
                cycle_id: cycle,
                at: 250,
                strategy: "hill",
                strategy_sha256: "",
                raw: None,
                guarded: &clamped,
                reason: "",
            })
            .unwrap();
        let rollback = decide(
            &store,
            ROLLBACK_STRATEGY,
            1,
            300,
            "rollback: revenue fell; restoring 100 ppm",
        );
        apply(&store, 1, rollback, 150, 100, 300);
        let failed = store
            .record_intent(2, None, &policy(1), &policy(2), 400)
            .unwrap();
        store
            .resolve_intent(failed, IntentOutcome::Failed("gone".into()), 401)
            .unwrap();
        store
            .record_intent(2, None, &policy(1), &policy(3), 500)
            .unwrap();

        let counts = store.activity_counts().unwrap();
        let hill = counts
            .iter()
            .find(|c| c.channel_id == 1 && c.strategy.as_deref() == Some("hill"))
            .unwrap();
        assert_eq!(
            (
                hill.decisions,
                hill.proposed,
                hill.clamped,
                hill.applied,
                hill.rolled_back
            ),
            (3, 2, 1, 1, 1)
        );
        let undo = counts
            .iter()
            .find(|c| c.strategy.as_deref() == Some(ROLLBACK_STRATEGY))
            .unwrap();
        assert_eq!((undo.decisions, undo.applied, undo.rolled_back), (1, 1, 0));
        let manual = counts.iter().find(|c| c.channel_id == 2).unwrap();
        assert_eq!(manual.strategy, None);
        assert_eq!((manual.failed, manual.pending), (1, 1));
    }

    #[test]
    fn strategy_changes_mark_where_a_channel_changed_hands() {
        let store = Store::open_in_memory().unwrap();
        decide(&store, "hill", 1, 100, "");
        decide(&store, "hill", 1, 200, "");
        decide(&store, "flow", 1, 300, "");
        decide(&store, "hill", 1, 400, "");
        decide(&store, "flow", 2, 150, "");
        let change = |channel_id, at, strategy: &str| StrategyChange {
            channel_id,
            at,
            strategy: strategy.into(),
        };
        assert_eq!(
            store.strategy_changes().unwrap(),
            vec![
                change(1, 100, "hill"),
                change(1, 300, "flow"),
                change(1, 400, "hill"),
                change(2, 150, "flow"),
            ]
        );
    }

    #[test]
    fn strategy_cycles_show_the_latest_and_the_failures() {
        let store = Store::open_in_memory().unwrap();
        decide(&store, "hill", 1, 100, "");
        let failed = store.begin_cycle("hill", "", 200, 3).unwrap();
        store
            .finish_cycle(failed, 201, CycleStatus::Failed, Some("trap"))
            .unwrap();
        store.begin_cycle("flow", "", 300, 1).unwrap();
        let cycles = store.strategy_cycles().unwrap();
        assert_eq!(cycles.len(), 2);
        assert_eq!(cycles[0].last.strategy, "flow");
        assert_eq!(cycles[0].last.status, None, "still running");
        assert_eq!(cycles[0].last_ok_at, None);
        assert_eq!(cycles[1].last.error.as_deref(), Some("trap"));
        assert_eq!(cycles[1].last_ok_at, Some(100));
        assert_eq!((cycles[1].total, cycles[1].failed), (2, 1));
    }

    #[test]
    fn quarantine_lasts_until_the_strategy_is_loaded_again() {
        let store = Store::open_in_memory().unwrap();
        let event = |strategy: &str, kind, at| StrategyEvent {
            at,
            strategy: strategy.into(),
            sha256: "ab".into(),
            kind,
            detail: format!("{} at {at}", kind.as_str()),
        };
        use StrategyEventKind::*;
        for e in [
            event("bad", Loaded, 1),
            event("bad", CallFailed, 2),
            event("bad", Quarantined, 3),
            event("bad", CallFailed, 4),
            event("fixed", Quarantined, 5),
            event("fixed", Reloaded, 6),
            event("lifted", Quarantined, 7),
            event("lifted", Released, 8),
        ] {
            store.record_event(&e).unwrap();
        }
        let quarantined = store.quarantined_strategies().unwrap();
        assert_eq!(quarantined, vec![event("bad", Quarantined, 3)]);
    }
}
