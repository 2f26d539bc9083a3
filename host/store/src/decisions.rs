use lnpolicy_core::{ChannelId, Decision, GuardedDecision};
use rusqlite::params;

use crate::{
    Store, StoreError, channel_id_from_sql, channel_id_to_sql, limit_to_sql,
    reports::rollback_condition, time_from_sql, time_to_sql,
};

/// One channel's outcome in a cycle, as handed to [`Store::record_decision`].
#[derive(Debug, Clone, Copy)]
pub struct DecisionRecord<'a> {
    pub cycle_id: i64,
    pub at: u64,
    pub strategy: &'a str,
    pub strategy_sha256: &'a str,
    /// `None` when the guest produced nothing for the channel (trap, timeout),
    /// which must stay distinguishable from "asked for no change".
    pub raw: Option<&'a Decision>,
    pub guarded: &'a GuardedDecision,
    /// Why the channel ended up as it did: the strategy's reason, or the
    /// host's when the strategy gave none.
    pub reason: &'a str,
}

/// What one [`Store::fold_old_decisions`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fold {
    /// Decisions looked at (each is looked at once, folded or kept).
    pub examined: usize,
    /// Those of them folded into daily counts.
    pub folded: usize,
}

/// A decision read back, with its JSON parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDecision {
    pub id: i64,
    pub cycle_id: i64,
    pub at: u64,
    pub channel_id: ChannelId,
    pub strategy: String,
    pub strategy_sha256: String,
    pub raw: Option<Decision>,
    pub guarded: GuardedDecision,
    pub reason: String,
}

const DECISION_COLUMNS: &str = "SELECT id, cycle_id, at, channel_id, strategy, strategy_sha256, \
     raw_json, guarded_json, reason FROM decisions";

type DecisionRow = (
    i64,
    i64,
    i64,
    i64,
    String,
    String,
    Option<String>,
    String,
    String,
);

fn read_decision(row: &rusqlite::Row<'_>) -> rusqlite::Result<DecisionRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

impl Store {
    /// Stores one channel's decision; returns the id an update intent refers to.
    pub fn record_decision(&self, record: &DecisionRecord<'_>) -> Result<i64, StoreError> {
        Ok(self.record_decisions(std::slice::from_ref(record))?[0])
    }

    /// Stores a cycle's decisions in one transaction (one disk sync for the
    /// whole batch, not one per channel); returns their ids in order. The
    /// channel is the guarded decision's; a raw decision for another channel
    /// is refused, as it would make the audit trail lie.
    pub fn record_decisions(&self, records: &[DecisionRecord<'_>]) -> Result<Vec<i64>, StoreError> {
        let mut rows = Vec::with_capacity(records.len());
        for record in records {
            let channel_id = record.guarded.channel_id;
            if let Some(raw) = record.raw
                && raw.channel_id != channel_id
            {
                return Err(self.invalid(format!(
                    "decision of cycle {} is for channel {} but was guarded as channel {channel_id}",
                    record.cycle_id, raw.channel_id
                )));
            }
            let raw_json = record
                .raw
                .map(|raw| self.encode_json("a raw decision", raw))
                .transpose()?;
            let guarded_json = self.encode_json("a guarded decision", record.guarded)?;
            let clamps = i64::try_from(record.guarded.clamps.len()).unwrap_or(i64::MAX);
            rows.push((record, channel_id, raw_json, guarded_json, clamps));
        }
        self.write("recording decisions", |tx| {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO decisions (cycle_id, at, channel_id, strategy, strategy_sha256,
                                            raw_json, guarded_json, clamps, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
                )
                .map_err(self.sql("recording decisions"))?;
            rows.iter()
                .map(|(record, channel_id, raw_json, guarded_json, clamps)| {
                    insert
                        .query_row(
                            params![
                                record.cycle_id,
                                time_to_sql(record.at),
                                channel_id_to_sql(*channel_id),
                                record.strategy,
                                record.strategy_sha256,
                                raw_json,
                                guarded_json,
                                clamps,
                                record.reason
                            ],
                            |row| row.get(0),
                        )
                        .map_err(self.sql("recording decisions"))
                })
                .collect()
        })
    }

    /// Every decision of one cycle, in the order they were made.
    pub fn decisions_for_cycle(&self, cycle_id: i64) -> Result<Vec<StoredDecision>, StoreError> {
        let rows: Vec<DecisionRow> = self
            .lock()
            .prepare(&format!(
                "{DECISION_COLUMNS} WHERE cycle_id = ?1 ORDER BY id"
            ))
            .and_then(|mut stmt| stmt.query_map([cycle_id], read_decision)?.collect())
            .map_err(self.sql("reading a cycle's decisions"))?;
        rows.into_iter().map(|row| self.to_decision(row)).collect()
    }

    /// A channel's latest decisions, newest first: the history behind
    /// "why is this channel's fee what it is?".
    pub fn decisions_for_channel(
        &self,
        channel_id: ChannelId,
        limit: usize,
    ) -> Result<Vec<StoredDecision>, StoreError> {
        let rows: Vec<DecisionRow> = self
            .lock()
            .prepare(&format!(
                "{DECISION_COLUMNS} WHERE channel_id = ?1 ORDER BY id DESC LIMIT ?2"
            ))
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![channel_id_to_sql(channel_id), limit_to_sql(limit)],
                    read_decision,
                )?
                .collect()
            })
            .map_err(self.sql("reading a channel's decisions"))?;
        rows.into_iter().map(|row| self.to_decision(row)).collect()
    }

    /// Folds decisions made before `before` into daily counts per channel and strategy
    /// (`decision_tallies`), but for those an update intent refers to, rollbacks, the first
    /// of each strategy's run on a channel (in time order, as reports read them), and those
    /// made on a day their channel joined or left an experiment: reports count the folded ones
    /// as before, and what they read row by row stays. Looks at up to `limit` decisions in
    /// the order they were recorded, each once: the first call after an upgrade meets the
    /// whole backlog, and must not hold the database for all of it. It stops at the first
    /// made at `before` or later, and passes over (keeping) one stamped after `now`, from a
    /// clock that ran ahead. The newest decision is never folded, so that SQLite, which gives
    /// a new row the largest id plus one, never gives an id already looked at again.
    pub fn fold_old_decisions(
        &self,
        before: u64,
        now: u64,
        limit: usize,
    ) -> Result<Fold, StoreError> {
        const OP: &str = "folding old decisions";
        self.write(OP, |tx| {
            let cursor: i64 = tx
                .query_row("SELECT through_id FROM decision_fold_cursor", [], |row| {
                    row.get(0)
                })
                .map_err(self.sql(OP))?;
            let ids: Vec<(i64, i64)> = tx
                .prepare_cached(
                    "SELECT id, at FROM decisions
                     WHERE id > ?1 AND id < (SELECT MAX(id) FROM decisions)
                     ORDER BY id LIMIT ?2",
                )
                .and_then(|mut stmt| {
                    stmt.query_map(params![cursor, limit_to_sql(limit)], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })?
                    .collect()
                })
                .map_err(self.sql(OP))?;
            // Up to the first decision still young: ids follow time unless the clock was set
            // back, and a decision kept by that stays (keeping is always safe).
            let (before, now) = (time_to_sql(before), time_to_sql(now));
            let examined = ids
                .iter()
                .take_while(|(_, at)| *at < before || *at > now)
                .count();
            let Some(&(through, _)) = ids[..examined].last() else {
                return Ok(Fold::default());
            };
            let ahead = ids[..examined].iter().filter(|(_, at)| *at > now).count();
            if ahead > 0 {
                tracing::warn!(
                    ahead,
                    "decisions stamped later than now (a clock that ran ahead) are kept whole"
                );
            }
            let folded = tx
                .execute(
                    &format!(
                        "CREATE TEMP TABLE folding AS
                         SELECT r.id, r.channel_id, r.strategy, r.at / 86400 AS day,
                                json_extract(r.guarded_json, '$.policy') IS NOT NULL AS proposed,
                                r.clamps > 0 AS clamped
                         FROM decisions r
                         WHERE r.id > ?1 AND r.id <= ?2 AND r.at < ?3
                           AND NOT EXISTS (SELECT 1 FROM update_intents i
                                           WHERE i.decision_id = r.id)
                           AND NOT ({rollback})
                           AND r.strategy IS (SELECT p.strategy FROM decisions p
                                              WHERE p.channel_id = r.channel_id
                                                AND (p.at, p.id) < (r.at, r.id)
                                              ORDER BY p.at DESC, p.id DESC LIMIT 1)
                           AND NOT EXISTS (SELECT 1 FROM experiment_assignments a
                                           WHERE a.channel_id = r.channel_id
                                             AND (a.assigned_at / 86400 = r.at / 86400
                                                  OR a.left_at / 86400 = r.at / 86400))",
                        rollback = rollback_condition()
                    ),
                    params![cursor, through, before],
                )
                .and_then(|_| {
                    tx.execute(
                        "INSERT INTO decision_tallies
                             (channel_id, strategy, day, decisions, proposed, clamped)
                         SELECT channel_id, strategy, day, COUNT(*), SUM(proposed), SUM(clamped)
                         FROM folding WHERE true GROUP BY channel_id, strategy, day
                         ON CONFLICT (channel_id, strategy, day) DO UPDATE SET
                             decisions = decisions + excluded.decisions,
                             proposed = proposed + excluded.proposed,
                             clamped = clamped + excluded.clamped",
                        [],
                    )
                })
                .and_then(|_| {
                    tx.execute(
                        "DELETE FROM decisions WHERE id IN (SELECT id FROM folding)",
                        [],
                    )
                })
                .and_then(|folded| {
                    tx.execute("DROP TABLE temp.folding", [])?;
                    tx.execute("UPDATE decision_fold_cursor SET through_id = ?1", [through])?;
                    Ok(folded)
                })
                .map_err(self.sql(OP))?;
            Ok(Fold { examined, folded })
        })
    }

    fn to_decision(&self, row: DecisionRow) -> Result<StoredDecision, StoreError> {
        let (
            id,
            cycle_id,
            at,
            channel_id,
            strategy,
            strategy_sha256,
            raw_json,
            guarded_json,
            reason,
        ) = row;
        let raw = raw_json
            .map(|json| self.decode_json(|| format!("raw decision {id}"), &json))
            .transpose()?;
        let guarded = self.decode_json(|| format!("guarded decision {id}"), &guarded_json)?;
        Ok(StoredDecision {
            id,
            cycle_id,
            at: time_from_sql(at),
            channel_id: channel_id_from_sql(channel_id),
            strategy,
            strategy_sha256,
            raw,
            guarded,
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use lnpolicy_core::{Clamp, FeePolicy, Rule};
    use proptest::prelude::*;

    use super::*;
    use crate::{Arm, CycleStatus, IntentOutcome};

    const DAY: u64 = 86_400;

    fn policy(fee_ppm: u32) -> FeePolicy {
        FeePolicy {
            base_fee_msat: 1000,
            fee_ppm,
            inbound_base_fee_msat: 0,
            inbound_fee_ppm: 0,
            min_htlc_msat: 1,
            max_htlc_msat: 990_000_000,
            time_lock_delta: 80,
            disabled: false,
        }
    }

    /// One decision to record: what reports read of it, and whether an update was sent.
    #[derive(Debug, Clone)]
    struct Step {
        channel: ChannelId,
        at: u64,
        strategy: &'static str,
        reason: &'static str,
        proposed: bool,
        clamped: bool,
        sent: bool,
    }

    fn record(store: &Store, step: &Step) -> i64 {
        let cycle = store.begin_cycle(step.strategy, "", step.at, 1).unwrap();
        let clamp = Clamp {
            field: "fee_ppm".into(),
            requested: 9_000,
            applied: 5_000,
            rule: Rule::Bounds,
        };
        let guarded = GuardedDecision {
            channel_id: step.channel,
            policy: step.proposed.then(|| policy(200)),
            clamps: if step.clamped {
                vec![clamp]
            } else {
                Vec::new()
            },
        };
        let id = store
            .record_decision(&DecisionRecord {
                cycle_id: cycle,
                at: step.at,
                strategy: step.strategy,
                strategy_sha256: "",
                raw: None,
                guarded: &guarded,
                reason: step.reason,
            })
            .unwrap();
        if step.sent {
            let intent = store
                .record_intent(step.channel, Some(id), &policy(100), &policy(200), step.at)
                .unwrap();
            store
                .resolve_intent(intent, IntentOutcome::Applied, step.at)
                .unwrap();
        }
        store
            .finish_cycle(cycle, step.at, CycleStatus::Ok, None)
            .unwrap();
        id
    }

    fn kept_ids(store: &Store) -> Vec<i64> {
        store
            .lock()
            .prepare("SELECT id FROM decisions ORDER BY id")
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
            .unwrap()
    }

    /// Everything reports read that involves decisions.
    fn reports(store: &Store) -> impl PartialEq + std::fmt::Debug {
        (
            store.activity_counts().unwrap(),
            store.strategy_changes().unwrap(),
            store.experiment_arm_strategies("fees").unwrap(),
            store.experiment_arm_strategies("other").unwrap(),
        )
    }

    fn daily(channel: ChannelId, day: u64, strategy: &'static str) -> Step {
        Step {
            channel,
            at: day * DAY + DAY / 2,
            strategy,
            reason: "left as is",
            proposed: false,
            clamped: false,
            sent: false,
        }
    }

    /// A hundred days of one channel: what reports read row by row stays, the rest of what is
    /// older than the detail period becomes counts, and the reports read the same.
    #[test]
    fn old_decisions_that_changed_nothing_are_counted_and_deleted() {
        let store = Store::open_in_memory().unwrap();
        let mut ids = Vec::new();
        for day in 0..100 {
            let mut step = daily(1, day, if (30..60).contains(&day) { "b" } else { "a" });
            match day {
                10 => step.sent = true,
                20 => step.reason = "rolled back: revenue fell",
                25 => {
                    step.proposed = true;
                    step.clamped = true;
                }
                40 => {
                    store
                        .record_assignments("fees", 0.5, &[(1, Arm::A)], step.at + 3_600)
                        .unwrap();
                }
                _ => {}
            }
            ids.push(record(&store, &step));
        }
        store
            .record_experiment_departures(&[(1, None)], 50 * DAY + 7 * 3_600)
            .unwrap();
        let before = reports(&store);

        let fold = store
            .fold_old_decisions(95 * DAY, 100 * DAY, 1_000)
            .unwrap();

        let kept: Vec<i64> = [0, 10, 20, 30, 40, 50, 60]
            .iter()
            .map(|&day| ids[day])
            .chain(ids[95..].iter().copied())
            .collect();
        assert_eq!(kept_ids(&store), kept);
        assert_eq!(
            fold,
            Fold {
                examined: 95,
                folded: 95 - 7
            }
        );
        assert_eq!(reports(&store), before);
        assert_eq!(
            store.experiment_arm_strategies("fees").unwrap(),
            vec![(Arm::A, "b".into(), 9)],
            "days 41 to 49, counted from the tallies"
        );
        assert_eq!(
            store
                .fold_old_decisions(95 * DAY, 100 * DAY, 1_000)
                .unwrap(),
            Fold::default(),
            "each decision is looked at once"
        );
    }

    /// SQLite numbers a new row after the largest id left: the newest decision is never
    /// folded, so a decision recorded after a fold is never numbered below the fold's cursor
    /// and passed over for good.
    #[test]
    fn decisions_recorded_after_a_fold_are_folded_later() {
        let store = Store::open_in_memory().unwrap();
        for day in 0..3 {
            record(&store, &daily(1, day, "a"));
        }
        let fold = store.fold_old_decisions(10 * DAY, 20 * DAY, 100).unwrap();
        assert_eq!((fold.examined, fold.folded), (2, 1), "all but the newest");
        let kept = kept_ids(&store);
        let later = record(&store, &daily(1, 3, "a"));
        assert!(kept.iter().all(|&id| id < later), "{kept:?} then {later}");
        let fold = store.fold_old_decisions(10 * DAY, 20 * DAY, 100).unwrap();
        assert_eq!(
            (fold.examined, fold.folded),
            (1, 1),
            "day 2, now that it is not the newest"
        );
        assert_eq!(kept_ids(&store).len(), 2, "the first and the newest");
    }

    /// A decision stamped after `now` (a clock that ran ahead) is passed over and kept; the
    /// fold goes on past it.
    #[test]
    fn a_decision_from_a_clock_ahead_is_kept_and_passed_over() {
        let store = Store::open_in_memory().unwrap();
        let first = record(&store, &daily(1, 0, "a"));
        let ahead = record(&store, &daily(1, 400, "a"));
        record(&store, &daily(1, 1, "a"));
        record(&store, &daily(1, 2, "a"));
        let newest = record(&store, &daily(1, 3, "a"));
        assert_eq!(
            store.fold_old_decisions(10 * DAY, 60 * DAY, 100).unwrap(),
            Fold {
                examined: 4,
                folded: 2
            }
        );
        assert_eq!(kept_ids(&store), [first, ahead, newest]);
    }

    /// A decision is folded only once it is older than `before`; a young one holds the fold
    /// where it stands, and one after it stamped earlier (a clock set back) waits with it.
    #[test]
    fn young_decisions_stop_the_fold() {
        let store = Store::open_in_memory().unwrap();
        let first = record(&store, &daily(1, 0, "a"));
        record(&store, &daily(1, 1, "a"));
        let young = record(&store, &daily(1, 50, "a"));
        let set_back = record(&store, &daily(1, 2, "a"));
        let newest = record(&store, &daily(1, 51, "a"));
        assert_eq!(
            store.fold_old_decisions(10 * DAY, 60 * DAY, 100).unwrap(),
            Fold {
                examined: 2,
                folded: 1
            }
        );
        assert_eq!(kept_ids(&store), [first, young, set_back, newest]);
        assert_eq!(
            store.fold_old_decisions(10 * DAY, 60 * DAY, 100).unwrap(),
            Fold::default()
        );
    }

    /// Decisions from `start` on, often several at one time (a cycle); now and then the clock
    /// goes back up to half a day, never below `floor`.
    fn steps(start: u64, floor: u64) -> impl Strategy<Value = Vec<Step>> {
        let step = (
            1..4u64,
            prop_oneof![1 => Just(0i64), 3 => -12 * 3_600..36 * 3_600i64],
            prop::sample::select(vec!["a", "a", "a", "b", "rollback"]),
            prop::sample::select(vec!["left as is", "raised", "rolled back: revenue fell"]),
            any::<bool>(),
            any::<bool>(),
            prop::bool::weighted(0.1),
        );
        prop::collection::vec(step, 1..80).prop_map(move |raw| {
            let mut at = start;
            raw.into_iter()
                .map(
                    |(channel, gap, strategy, reason, proposed, clamped, sent)| {
                        at = at.saturating_add_signed(gap).max(floor);
                        Step {
                            channel,
                            at,
                            strategy,
                            reason,
                            proposed,
                            clamped,
                            sent: sent && proposed,
                        }
                    },
                )
                .collect()
        })
    }

    /// Folds until a call looks at nothing; returns how many it folded.
    fn fold_all(store: &Store, before: u64, now: u64, limit: usize) -> usize {
        let mut folded = 0;
        loop {
            let fold = store.fold_old_decisions(before, now, limit).unwrap();
            if fold.examined == 0 {
                return folded;
            }
            folded += fold.folded;
        }
    }

    type Join = (&'static str, ChannelId, u64, Option<u64>);

    fn join(store: &Store, (experiment, channel, joined, stay): Join) {
        store
            .record_assignments(experiment, 0.5, &[(channel, Arm::B)], joined)
            .unwrap();
        if let Some(stay) = stay {
            store
                .record_experiment_departures(&[(channel, None)], joined + stay)
                .unwrap();
        }
    }

    fn history() -> impl Strategy<Value = (Vec<Step>, Vec<Join>, u64, Vec<Step>, u64)> {
        let join = (
            prop::sample::select(vec!["fees", "other"]),
            1..4u64,
            0..60 * DAY,
            prop::option::of(0..60 * DAY),
        );
        let joins = prop::collection::vec(join, 0..3);
        (steps(0, 0), joins, 0..70 * DAY, 0..40 * DAY).prop_flat_map(
            |(first, joins, before, later)| {
                let end = first.iter().map(|s| s.at).max().unwrap_or(0);
                (
                    Just(first),
                    Just(joins),
                    Just(before),
                    steps(end, before),
                    Just(before + later),
                )
            },
        )
    }

    proptest! {
        /// Whatever the history (clock set back now and then), batch size and detail periods,
        /// and with decisions recorded between two folds: folding changes no report, and
        /// nothing foldable is left behind the cursor.
        #[test]
        fn folding_changes_no_report(
            (first, joins, before, second, later) in history(),
            limit in 1..40usize,
        ) {
            let folded = Store::open_in_memory().unwrap();
            let whole = Store::open_in_memory().unwrap();
            for step in &first {
                record(&folded, step);
                record(&whole, step);
            }
            for &j in &joins {
                join(&folded, j);
                join(&whole, j);
            }
            let now = |steps: &[Step]| steps.iter().map(|s| s.at).max().unwrap_or(0);
            fold_all(&folded, before, now(&first), limit);
            for step in &second {
                record(&folded, step);
                record(&whole, step);
            }
            let end = now(&first).max(now(&second));
            fold_all(&folded, later, end, limit);
            prop_assert_eq!(reports(&folded), reports(&whole));
            let recent = first.iter().chain(&second).filter(|s| s.at >= later).count();
            prop_assert!(kept_ids(&folded).len() >= recent);
            folded
                .lock()
                .execute("UPDATE decision_fold_cursor SET through_id = 0", [])
                .unwrap();
            prop_assert_eq!(fold_all(&folded, later, end, limit), 0, "left behind");
        }
    }
}
