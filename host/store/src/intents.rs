use lnpolicy_core::{ChannelId, FeePolicy};
use rusqlite::{OptionalExtension, params};

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

/// An update changed one of the four fees, not only the disabled flag, HTLC limits or cltv
/// delta (which earn nothing by themselves).
const FEES_CHANGED: &str = "(json_extract(previous_json, '$.fee_ppm')
         IS NOT json_extract(policy_json, '$.fee_ppm')
     OR json_extract(previous_json, '$.base_fee_msat')
         IS NOT json_extract(policy_json, '$.base_fee_msat')
     OR json_extract(previous_json, '$.inbound_fee_ppm')
         IS NOT json_extract(policy_json, '$.inbound_fee_ppm')
     OR json_extract(previous_json, '$.inbound_base_fee_msat')
         IS NOT json_extract(policy_json, '$.inbound_base_fee_msat'))";

impl Store {
    /// When lnpolicy last changed each channel's fees (unix seconds): strategies' revenue
    /// rate since the last fee change and the guard's minimum interval for a fee change
    /// start there. A status-only change (re-enabling a channel) neither restarts the one
    /// nor holds the next fee change back.
    pub fn last_fee_changes(
        &self,
    ) -> Result<std::collections::HashMap<lnpolicy_core::ChannelId, u64>, StoreError> {
        self.last_changes_where(FEES_CHANGED)
    }

    /// When lnpolicy last changed anything in each channel's policy (unix seconds): the
    /// guard's minimum interval for a change that leaves the fees alone starts there.
    pub fn last_policy_changes(
        &self,
    ) -> Result<std::collections::HashMap<lnpolicy_core::ChannelId, u64>, StoreError> {
        self.last_changes_where("TRUE")
    }

    fn last_changes_where(
        &self,
        filter: &str,
    ) -> Result<std::collections::HashMap<lnpolicy_core::ChannelId, u64>, StoreError> {
        self.lock()
            .prepare_cached(&format!(
                "SELECT channel_id, MAX(resolved_at) FROM update_intents
                 WHERE status = 'applied' AND {filter} GROUP BY channel_id"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([], |row| {
                    Ok((channel_id_from_sql(row.get(0)?), time_from_sql(row.get(1)?)))
                })?
                .collect()
            })
            .map_err(self.sql("reading the last policy changes"))
    }
}

impl Store {
    /// How many updates decided by `strategy` were applied to each channel since `since`
    /// (unix seconds).
    pub fn applied_count_since(
        &self,
        strategy: &str,
        since: u64,
    ) -> Result<std::collections::HashMap<ChannelId, u32>, StoreError> {
        self.lock()
            .prepare_cached(
                "SELECT i.channel_id, COUNT(*)
                 FROM update_intents i JOIN decisions d ON d.id = i.decision_id
                 WHERE i.status = 'applied' AND d.strategy = ?1 AND i.resolved_at >= ?2
                 GROUP BY i.channel_id",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![strategy, time_to_sql(since)], |row| {
                    Ok((channel_id_from_sql(row.get(0)?), row.get::<_, u32>(1)?))
                })?
                .collect()
            })
            .map_err(self.sql("counting applied updates"))
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
    /// Every channel's last applied change of its fees: what rollback weighs and may undo.
    /// A change of only the disabled flag, HTLC limits or cltv delta (say, re-enabling a
    /// channel when its peer returns) earns nothing by itself, and must not hide the fee
    /// change before it.
    pub fn last_applied_changes(&self) -> Result<Vec<AppliedChange>, StoreError> {
        let rows: Vec<AppliedChangeRow> = self
            .lock()
            .prepare_cached(&format!(
                "SELECT i.id, i.channel_id, i.resolved_at, i.previous_json, i.policy_json,
                        d.strategy
                 FROM update_intents i LEFT JOIN decisions d ON d.id = i.decision_id
                 WHERE i.id IN (
                     SELECT MAX(id) FROM update_intents
                     WHERE status = 'applied'
                       AND {FEES_CHANGED}
                     GROUP BY channel_id)
                 ORDER BY i.channel_id"
            ))
            .and_then(|mut stmt| stmt.query_map([], |row| row.try_into())?.collect())
            .map_err(self.sql("reading the last applied changes"))?;
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
