use lnpolicy_core::{ChannelId, Decision, GuardedDecision};
use rusqlite::params;

use crate::{
    Store, StoreError, channel_id_from_sql, channel_id_to_sql, limit_to_sql, time_from_sql,
    time_to_sql,
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
