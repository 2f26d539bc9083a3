//! What opening each channel cost on chain, kept once known (a batch's share split again when
//! another of its channels shows up), and when the node was last asked for it. Only the node's figures are stored: the operator's configured estimate
//! stands in when costs are read for analysis, so a later-found figure needs no precedence rule.

use std::collections::BTreeMap;

use lnpolicy_core::ChannelId;
use rusqlite::params;

use crate::{
    Store, StoreError, channel_id_from_sql, channel_id_to_sql, time_from_sql, time_to_sql,
};

impl Store {
    /// The open cost of every channel that has one, in satoshi.
    pub fn open_costs(&self) -> Result<BTreeMap<ChannelId, u64>, StoreError> {
        let rows = self.per_channel(
            "SELECT channel_id, fee_sat FROM channel_open_costs",
            "reading open costs",
        )?;
        Ok(rows
            .into_iter()
            .map(|(channel, fee)| (channel, fee.max(0) as u64))
            .collect())
    }

    /// When each channel's open cost was last asked of the node (unix seconds), for every
    /// channel ever asked: one the node had no answer for waits before it is asked again.
    pub fn open_cost_lookups(&self) -> Result<BTreeMap<ChannelId, u64>, StoreError> {
        let rows = self.per_channel(
            "SELECT channel_id, asked_at FROM channel_open_cost_lookups",
            "reading open cost lookups",
        )?;
        Ok(rows
            .into_iter()
            .map(|(channel, at)| (channel, time_from_sql(at)))
            .collect())
    }

    /// Rows of `sql`, which selects a channel id and one integer per channel.
    fn per_channel(
        &self,
        sql: &str,
        op: &'static str,
    ) -> Result<Vec<(ChannelId, i64)>, StoreError> {
        let rows: Vec<(i64, i64)> = self
            .lock()
            .prepare(sql)
            .and_then(|mut stmt| stmt.query_map([], |row| row.try_into())?.collect())
            .map_err(self.sql(op))?;
        Ok(rows
            .into_iter()
            .map(|(channel, value)| (channel_id_from_sql(channel), value))
            .collect())
    }

    /// Records one lookup at `at`: the node-reported costs it `found` and that every channel
    /// in `asked` was asked, in one transaction, so no channel is marked asked without the
    /// cost the node gave for it. A cost on record is replaced: a funding fee cannot change,
    /// but its share can, when another channel the same transaction opened shows up later.
    pub fn record_open_cost_lookup(
        &self,
        found: &[(ChannelId, u64)],
        asked: &[ChannelId],
        at: u64,
    ) -> Result<(), StoreError> {
        const OP: &str = "recording an open cost lookup";
        self.write(OP, |tx| {
            for &(channel, fee_sat) in found {
                tx.execute(
                    "INSERT INTO channel_open_costs (channel_id, fee_sat, source, recorded_at)
                     VALUES (?1, ?2, 'node', ?3)
                     ON CONFLICT (channel_id) DO UPDATE
                     SET fee_sat = excluded.fee_sat, recorded_at = excluded.recorded_at
                     WHERE fee_sat <> excluded.fee_sat",
                    params![
                        channel_id_to_sql(channel),
                        i64::try_from(fee_sat).unwrap_or(i64::MAX),
                        time_to_sql(at),
                    ],
                )
                .map_err(self.sql(OP))?;
            }
            for channel in asked {
                tx.execute(
                    "INSERT OR REPLACE INTO channel_open_cost_lookups (channel_id, asked_at)
                     VALUES (?1, ?2)",
                    params![channel_id_to_sql(*channel), time_to_sql(at)],
                )
                .map_err(self.sql(OP))?;
            }
            Ok(())
        })
    }
}
