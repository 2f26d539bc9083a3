use std::collections::HashMap;

use lnpolicy_core::{ChannelId, FeePolicy};
use rusqlite::{OptionalExtension, params};

use crate::history::{FeeLevel, fee_level, share_out_fees};
use crate::{
    Store, StoreError, channel_id_from_sql, channel_id_to_sql, time_from_sql, time_to_sql,
};

/// What became of a policy update sent to the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntentOutcome {
    Applied,
    /// The node refused or the call failed; the text is kept for the operator.
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntentStatus {
    /// Recorded, not yet known to have reached the node: after a crash, the
    /// node's actual policy decides whether it was applied.
    Pending,
    Applied,
    Failed,
}

impl IntentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IntentStatus::Pending => "pending",
            IntentStatus::Applied => "applied",
            IntentStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<IntentStatus> {
        [
            IntentStatus::Pending,
            IntentStatus::Applied,
            IntentStatus::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// A policy update the daemon meant to make, with the policy it replaces so
/// that recovery can tell "applied" from "never sent" and undo is possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub id: i64,
    pub created_at: u64,
    pub channel_id: ChannelId,
    pub decision_id: Option<i64>,
    pub previous: FeePolicy,
    pub desired: FeePolicy,
    pub status: IntentStatus,
    pub resolved_at: Option<u64>,
    pub error: Option<String>,
}

const INTENT_COLUMNS: &str = "SELECT id, created_at, channel_id, decision_id, previous_json, \
     policy_json, status, resolved_at, error FROM update_intents";

type IntentRow = (
    i64,
    i64,
    i64,
    Option<i64>,
    String,
    String,
    String,
    Option<i64>,
    Option<String>,
);

fn read_intent(row: &rusqlite::Row<'_>) -> rusqlite::Result<IntentRow> {
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
    /// Records an update as pending. Call it, and let it return, before the
    /// node is asked: once this returns the row is committed to disk, so a
    /// crash during the node call leaves evidence to reconcile.
    pub fn record_intent(
        &self,
        channel_id: ChannelId,
        decision_id: Option<i64>,
        previous: &FeePolicy,
        desired: &FeePolicy,
        at: u64,
    ) -> Result<i64, StoreError> {
        let previous_json = self.encode_json("the previous policy", previous)?;
        let policy_json = self.encode_json("the desired policy", desired)?;
        self.lock()
            .query_row(
                "INSERT INTO update_intents (created_at, channel_id, decision_id,
                                             policy_json, previous_json)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                params![
                    time_to_sql(at),
                    channel_id_to_sql(channel_id),
                    decision_id,
                    policy_json,
                    previous_json
                ],
                |row| row.get(0),
            )
            .map_err(self.sql("recording an update intent"))
    }

    /// Replaces a pending intent's policy with the one the node reports it set, before the
    /// intent is resolved as applied: part of an update can be beyond the node (Core
    /// Lightning's cltv delta, LND's disabled flag without the permission to set it).
    pub fn amend_intent_policy(&self, id: i64, applied: &FeePolicy) -> Result<(), StoreError> {
        let policy_json = self.encode_json("the applied policy", applied)?;
        let changed = self
            .lock()
            .execute(
                "UPDATE update_intents SET policy_json = ?2 WHERE id = ?1 AND status = 'pending'",
                params![id, policy_json],
            )
            .map_err(self.sql("amending an update intent"))?;
        if changed == 1 {
            Ok(())
        } else {
            Err(StoreError::IntentNotPending {
                path: self.path.clone(),
                id,
                state: "not pending".to_owned(),
            })
        }
    }

    /// Settles a pending intent. Refused for an unknown or already settled
    /// one: that means two parties think they own the update.
    pub fn resolve_intent(
        &self,
        id: i64,
        outcome: IntentOutcome,
        at: u64,
    ) -> Result<(), StoreError> {
        let (status, error) = match outcome {
            IntentOutcome::Applied => (IntentStatus::Applied, None),
            IntentOutcome::Failed(error) => (IntentStatus::Failed, Some(error)),
        };
        self.write("resolving an update intent", |tx| {
            let changed = tx
                .execute(
                    "UPDATE update_intents SET status = ?2, resolved_at = ?3, error = ?4
                     WHERE id = ?1 AND status = 'pending'",
                    params![id, status.as_str(), time_to_sql(at), error],
                )
                .map_err(self.sql("resolving an update intent"))?;
            if changed == 1 {
                if status == IntentStatus::Applied {
                    self.record_applied_fees(tx, id, at)?;
                }
                return Ok(());
            }
            let current: Option<String> = tx
                .query_row(
                    "SELECT status FROM update_intents WHERE id = ?1",
                    [id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(self.sql("resolving an update intent"))?;
            Err(StoreError::IntentNotPending {
                path: self.path.clone(),
                id,
                state: match current {
                    None => "no such intent".to_owned(),
                    Some(status) => format!("already resolved ({status})"),
                },
            })
        })
    }

    /// Enters the fees an applied intent set as the channel's level from `at` on in
    /// `channel_fee_changes`, which otherwise learns of them at the next snapshot: the forwards
    /// between are shared between their channels (see `share_out_fees`) at the level really in
    /// force, those already stored included. A later row of the same level, that snapshot's,
    /// is then no change and goes; so does a row of another level begun in the same second
    /// when the update goes back to the level before it.
    fn record_applied_fees(
        &self,
        tx: &rusqlite::Transaction<'_>,
        id: i64,
        at: u64,
    ) -> Result<(), StoreError> {
        let sql = self.sql("entering the fees an update set");
        let (channel, policy_json, fees_changed): (i64, String, bool) = tx
            .query_row(
                "SELECT channel_id, policy_json, fees_changed FROM update_intents WHERE id = ?1",
                [id],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )
            .map_err(&sql)?;
        if !fees_changed {
            return Ok(());
        }
        let policy: FeePolicy = self.decode_json(|| format!("update intent {id}"), &policy_json)?;
        let level = fee_level(&policy);
        let read = |row: &rusqlite::Row<'_>| {
            Ok((
                row.get::<_, i64>(0)?,
                (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?),
            ))
        };
        let before: Option<(i64, FeeLevel)> = tx
            .query_row(
                "SELECT at, fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base_fee_msat
                 FROM channel_fee_changes
                 WHERE channel_id = ?1 AND at < ?2 ORDER BY at DESC LIMIT 1",
                params![channel, time_to_sql(at)],
                read,
            )
            .optional()
            .map_err(&sql)?;
        if before.is_some_and(|(_, seen)| seen == level) {
            // Back to the level before: a level a collection saw begin in this very second
            // (set by hand just before the update) held for no time.
            let superseded = tx
                .execute(
                    "DELETE FROM channel_fee_changes WHERE channel_id = ?1 AND at = ?2",
                    params![channel, time_to_sql(at)],
                )
                .map_err(&sql)?;
            if superseded == 0 {
                return Ok(());
            }
        } else {
            tx.execute(
                "INSERT OR REPLACE INTO channel_fee_changes
                 (channel_id, at, fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base_fee_msat)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![channel, time_to_sql(at), level.0, level.1, level.2, level.3],
            )
            .map_err(&sql)?;
        }
        let after: Option<(i64, FeeLevel)> = tx
            .query_row(
                "SELECT at, fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base_fee_msat
                 FROM channel_fee_changes
                 WHERE channel_id = ?1 AND at > ?2 ORDER BY at LIMIT 1",
                params![channel, time_to_sql(at)],
                read,
            )
            .optional()
            .map_err(&sql)?;
        if let Some((next_at, seen)) = after
            && seen == level
        {
            tx.execute(
                "DELETE FROM channel_fee_changes WHERE channel_id = ?1 AND at = ?2",
                params![channel, next_at],
            )
            .map_err(&sql)?;
        }
        // An intent resolved late (reconciled after a timeout) is dated when it was sent:
        // forwards stored since were shared at the level before it, and are shared again.
        let from_ns = time_to_sql(at.saturating_mul(1_000_000_000));
        for sql_text in [
            "UPDATE forwards SET out_fee_msat = NULL WHERE chan_out = ?1 AND at_ns >= ?2",
            "UPDATE forwards SET out_fee_msat = NULL WHERE chan_in = ?1 AND at_ns >= ?2",
        ] {
            tx.execute(sql_text, params![channel, from_ns])
                .map_err(&sql)?;
        }
        share_out_fees(tx).map_err(&sql)?;
        Ok(())
    }

    /// Intents whose outcome is unknown, oldest first: what startup must
    /// reconcile against the node before the first cycle.
    pub fn pending_intents(&self) -> Result<Vec<Intent>, StoreError> {
        let rows: Vec<IntentRow> = self
            .lock()
            .prepare(&format!(
                "{INTENT_COLUMNS} WHERE status = 'pending' ORDER BY id"
            ))
            .and_then(|mut stmt| stmt.query_map([], read_intent)?.collect())
            .map_err(self.sql("reading pending update intents"))?;
        rows.into_iter().map(|row| self.to_intent(row)).collect()
    }

    pub fn intent(&self, id: i64) -> Result<Option<Intent>, StoreError> {
        let row = self
            .lock()
            .query_row(
                &format!("{INTENT_COLUMNS} WHERE id = ?1"),
                [id],
                read_intent,
            )
            .optional()
            .map_err(self.sql("reading an update intent"))?;
        row.map(|row| self.to_intent(row)).transpose()
    }

    fn to_intent(&self, row: IntentRow) -> Result<Intent, StoreError> {
        let (
            id,
            created_at,
            channel_id,
            decision_id,
            previous,
            desired,
            status,
            resolved_at,
            error,
        ) = row;
        let status = IntentStatus::parse(&status).ok_or_else(|| {
            self.invalid(format!("update intent {id} has unknown status {status:?}"))
        })?;
        Ok(Intent {
            id,
            created_at: time_from_sql(created_at),
            channel_id: channel_id_from_sql(channel_id),
            decision_id,
            previous: self.decode_json(|| format!("previous policy of intent {id}"), &previous)?,
            desired: self.decode_json(|| format!("desired policy of intent {id}"), &desired)?,
            status,
            resolved_at: resolved_at.map(time_from_sql),
            error,
        })
    }
}

impl Store {
    /// When lnpolicy last changed anything in the policy of each of `channels` (unix
    /// seconds): the guard's minimum interval for a change that leaves the fees alone starts
    /// there.
    pub fn last_policy_changes(
        &self,
        channels: &[ChannelId],
    ) -> Result<HashMap<ChannelId, u64>, StoreError> {
        self.last_changes(
            "SELECT MAX(resolved_at) FROM update_intents
             WHERE channel_id = ?1 AND status = 'applied'",
            channels,
        )
    }

    /// When the snapshots last saw the fees of each of `channels` change, whoever changed
    /// them, and to what: the first snapshot of a channel is no change. Channels whose fees
    /// never changed under lnpolicy's eyes are absent. One indexed lookup per channel.
    pub fn last_seen_fee_changes(
        &self,
        channels: &[ChannelId],
    ) -> Result<HashMap<ChannelId, SeenFeeChange>, StoreError> {
        let conn = self.lock();
        let sql = self.sql("reading the last fee changes seen");
        let mut stmt = conn
            .prepare_cached(
                "SELECT at, fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base_fee_msat
                 FROM channel_fee_changes
                 WHERE channel_id = ?1
                   AND at > (SELECT MIN(at) FROM channel_fee_changes WHERE channel_id = ?1)
                 ORDER BY at DESC LIMIT 1",
            )
            .map_err(&sql)?;
        let mut seen = HashMap::new();
        for &channel in channels {
            let row = stmt
                .query_row([channel_id_to_sql(channel)], |row| {
                    Ok(SeenFeeChange {
                        at: time_from_sql(row.get(0)?),
                        level: (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?),
                    })
                })
                .optional()
                .map_err(&sql)?;
            if let Some(change) = row {
                seen.insert(channel, change);
            }
        }
        Ok(seen)
    }

    /// When each of `channels` was first seen (unix seconds): its first snapshot or its
    /// first stored forward, in or out, whichever is earlier. The age of a channel whose
    /// short channel id is an alias, which carries no funding height; the node's forwarding
    /// log, read whole at the first collection, may go back further than the snapshots.
    pub fn first_seen(
        &self,
        channels: &[ChannelId],
    ) -> Result<HashMap<ChannelId, u64>, StoreError> {
        self.last_changes(
            "SELECT MIN(at) FROM (
                 SELECT MIN(at) AS at FROM channel_snapshots WHERE channel_id = ?1
                 UNION ALL SELECT MIN(at_ns) / 1000000000 FROM forwards WHERE chan_in = ?1
                 UNION ALL SELECT MIN(at_ns) / 1000000000 FROM forwards WHERE chan_out = ?1
             )",
            channels,
        )
    }

    /// One indexed lookup per channel, so a cycle's cost follows its channels, not the
    /// number of updates ever made.
    fn last_changes(
        &self,
        sql: &str,
        channels: &[ChannelId],
    ) -> Result<HashMap<ChannelId, u64>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(sql)
            .map_err(self.sql("reading the last policy changes"))?;
        let mut last = HashMap::new();
        for &channel in channels {
            let at: Option<i64> = stmt
                .query_row([channel_id_to_sql(channel)], |row| row.get(0))
                .map_err(self.sql("reading the last policy changes"))?;
            if let Some(at) = at {
                last.insert(channel, time_from_sql(at));
            }
        }
        Ok(last)
    }
}

impl Store {
    /// How many updates decided by `strategy` were applied to `channel` since `since`
    /// (unix seconds).
    pub fn applied_count_since(
        &self,
        strategy: &str,
        channel: ChannelId,
        since: u64,
    ) -> Result<u32, StoreError> {
        self.lock()
            .prepare_cached(
                "SELECT COUNT(*)
                 FROM update_intents i JOIN decisions d ON d.id = i.decision_id
                 WHERE i.channel_id = ?1 AND i.status = 'applied' AND i.resolved_at >= ?3
                   AND d.strategy = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row(
                    params![channel_id_to_sql(channel), strategy, time_to_sql(since)],
                    |row| row.get(0),
                )
            })
            .map_err(self.sql("counting applied updates"))
    }
}

impl Store {
    /// How many channel updates the updates sent at or after `since` (unix seconds)
    /// broadcast, whatever decided them: those applied and those still pending (a call
    /// without an answer may have reached the node and its peers). One the node refused
    /// changed nothing and is not counted; one that changed LND's disabled flag with anything
    /// else is two (migration 0018). This is what the node-wide hourly cap spends.
    pub fn updates_sent_since(&self, since: u64) -> Result<u32, StoreError> {
        self.lock()
            .prepare_cached(
                "SELECT COALESCE(SUM(channel_updates), 0) FROM update_intents
                 WHERE created_at >= ?1 AND status <> 'failed'",
            )
            .and_then(|mut stmt| stmt.query_row([time_to_sql(since)], |row| row.get(0)))
            .map_err(self.sql("counting the updates sent in the last hour"))
    }
}

/// A change of a channel's fees a collection saw: when, and to which fees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeenFeeChange {
    pub at: u64,
    level: FeeLevel,
}

impl SeenFeeChange {
    /// Whether the fees it changed to are those of `policy`.
    pub fn to_fees_of(&self, policy: &FeePolicy) -> bool {
        self.level == fee_level(policy)
    }
}

/// The last policy change lnpolicy applied to a channel, with what it replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedChange {
    pub intent_id: i64,
    pub channel_id: ChannelId,
    /// Unix seconds the node confirmed it.
    pub at: u64,
    pub previous: FeePolicy,
    pub applied: FeePolicy,
    /// The strategy of the decision behind it (`None` for updates without a decision).
    pub strategy: Option<String>,
}

/// id, channel, resolved at, previous and applied policy JSON, strategy.
type AppliedChangeRow = (i64, i64, Option<i64>, String, String, Option<String>);

impl Store {
    /// The last applied change of the fees of each of `channels` that has one, in the order
    /// given: what rollback weighs and may undo. A change of only the disabled flag, HTLC
    /// limits or cltv delta (say, re-enabling a channel when its peer returns) earns nothing
    /// by itself, and must not hide the fee change before it. Last is the latest confirmed
    /// (the latest intent among those confirmed in the same second).
    pub fn last_applied_changes(
        &self,
        channels: &[ChannelId],
    ) -> Result<Vec<AppliedChange>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT i.id, i.channel_id, i.resolved_at, i.previous_json, i.policy_json,
                        d.strategy
                 FROM update_intents i LEFT JOIN decisions d ON d.id = i.decision_id
                 WHERE i.channel_id = ?1 AND i.status = 'applied' AND i.fees_changed = 1
                 ORDER BY i.resolved_at DESC, i.id DESC LIMIT 1",
            )
            .map_err(self.sql("reading the last applied changes"))?;
        let mut rows: Vec<AppliedChangeRow> = Vec::new();
        for &channel in channels {
            let row = stmt
                .query_row([channel_id_to_sql(channel)], |row| row.try_into())
                .optional()
                .map_err(self.sql("reading the last applied changes"))?;
            rows.extend(row);
        }
        drop(stmt);
        drop(conn);
        rows.into_iter()
            .map(|(id, channel, at, previous, applied, strategy)| {
                Ok(AppliedChange {
                    intent_id: id,
                    channel_id: channel_id_from_sql(channel),
                    at: at.map_or(0, time_from_sql),
                    previous: self
                        .decode_json(|| format!("previous policy of intent {id}"), &previous)?,
                    applied: self
                        .decode_json(|| format!("desired policy of intent {id}"), &applied)?,
                    strategy,
                })
            })
            .collect()
    }
}
