//! The smallest HTLC a node set instead of the one asked for (migration 0017): Core Lightning
//! raises one below the peer's minimum to that minimum, and lists the minimum nowhere else.

use std::collections::HashMap;

use lnpolicy_core::ChannelId;
use rusqlite::params;

use crate::{Store, StoreError, channel_id_from_sql, channel_id_to_sql, time_to_sql, to_sql};

impl Store {
    /// Records that the node set `channel`'s smallest HTLC to `min_floor_msat` at `at` when
    /// asked for less; replaces the floor learned before.
    pub fn record_htlc_floor(
        &self,
        channel: ChannelId,
        min_floor_msat: u64,
        at: u64,
    ) -> Result<(), StoreError> {
        self.write("recording the smallest HTLC a node kept", |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO learned_htlc_floors (channel_id, min_floor_msat, learned_at)
                 VALUES (?1, ?2, ?3)",
                params![
                    channel_id_to_sql(channel),
                    to_sql(min_floor_msat),
                    time_to_sql(at)
                ],
            )
            .map_err(self.sql("recording the smallest HTLC a node kept"))?;
            Ok(())
        })
    }

    /// Every channel's learned floor for its smallest HTLC, msat.
    pub fn learned_htlc_floors(&self) -> Result<HashMap<ChannelId, u64>, StoreError> {
        let sql = self.sql("reading the smallest HTLCs a node kept");
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT channel_id, min_floor_msat FROM learned_htlc_floors")
            .map_err(&sql)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    channel_id_from_sql(row.get(0)?),
                    row.get::<_, i64>(1)?.max(0) as u64,
                ))
            })
            .map_err(&sql)?;
        rows.collect::<Result<_, _>>().map_err(&sql)
    }
}
