//! The daemon's copy of the node's history: settled and failed forwards, the
//! collector's resume points, and channel snapshots.

use lnpolicy_core::{FailedForward, FailureReason, Forward, NodeChannel};
use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError, channel_id_from_sql, channel_id_to_sql, time_to_sql};

/// A history stream the collector pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Forwards,
    FailedForwards,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Forwards => "forwards",
            Stream::FailedForwards => "failed_forwards",
        }
    }
}

fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn reason_str(reason: FailureReason) -> &'static str {
    match reason {
        FailureReason::InsufficientBalance => "insufficient_balance",
        FailureReason::FeeInsufficient => "fee_insufficient",
        FailureReason::IncorrectCltv => "incorrect_cltv",
        FailureReason::ChannelUnavailable => "channel_unavailable",
        FailureReason::Other => "other",
    }
}

fn reason_from(text: &str) -> FailureReason {
    match text {
        "insufficient_balance" => FailureReason::InsufficientBalance,
        "fee_insufficient" => FailureReason::FeeInsufficient,
        "incorrect_cltv" => FailureReason::IncorrectCltv,
        "channel_unavailable" => FailureReason::ChannelUnavailable,
        _ => FailureReason::Other,
    }
}

impl Store {
    /// Where `stream` resumes (0 before the first page).
    pub fn cursor(&self, stream: Stream) -> Result<u64, StoreError> {
        let value: Option<i64> = self
            .lock()
            .query_row(
                "SELECT next_index FROM collector_cursors WHERE stream = ?1",
                [stream.as_str()],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sql("reading a collector cursor"))?;
        Ok(value.map_or(0, |v| v as u64))
    }

    /// Stores one page of settled forwards and the cursor after it in one
    /// transaction. Rows already present (a page fetched twice) are skipped,
    /// so history is never duplicated. Returns how many rows were new.
    pub fn add_forwards(&self, forwards: &[Forward], next_index: u64) -> Result<usize, StoreError> {
        self.write("storing forwards", |tx| {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO forwards
                     (node_index, at_ns, chan_in, chan_out, amt_in_msat, amt_out_msat, fee_msat)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(self.sql("storing forwards"))?;
            let mut added = 0;
            for f in forwards {
                added += insert
                    .execute(params![
                        to_sql(f.index),
                        to_sql(f.at_ns),
                        channel_id_to_sql(f.chan_in),
                        channel_id_to_sql(f.chan_out),
                        to_sql(f.amt_in_msat),
                        to_sql(f.amt_out_msat),
                        to_sql(f.fee_msat),
                    ])
                    .map_err(self.sql("storing forwards"))?;
            }
            self.set_cursor(tx, Stream::Forwards, next_index)?;
            Ok(added)
        })
    }

    /// Same as [`Store::add_forwards`] for failed forwards.
    pub fn add_failed_forwards(
        &self,
        failures: &[FailedForward],
        next_index: u64,
    ) -> Result<usize, StoreError> {
        self.write("storing failed forwards", |tx| {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO failed_forwards
                     (node_index, at_ns, chan_in, chan_out, amt_in_msat, reason)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(self.sql("storing failed forwards"))?;
            let mut added = 0;
            for f in failures {
                added += insert
                    .execute(params![
                        to_sql(f.index),
                        to_sql(f.at_ns),
                        channel_id_to_sql(f.chan_in),
                        f.chan_out.map(channel_id_to_sql),
                        to_sql(f.amt_in_msat),
                        reason_str(f.reason),
                    ])
                    .map_err(self.sql("storing failed forwards"))?;
            }
            self.set_cursor(tx, Stream::FailedForwards, next_index)?;
            Ok(added)
        })
    }

    fn set_cursor(
        &self,
        tx: &rusqlite::Transaction<'_>,
        stream: Stream,
        next_index: u64,
    ) -> Result<(), StoreError> {
        // A cursor never moves back: a stale page must not rewind the stream.
        tx.execute(
            "INSERT INTO collector_cursors (stream, next_index) VALUES (?1, ?2)
             ON CONFLICT (stream) DO UPDATE SET next_index = MAX(next_index, excluded.next_index)",
            params![stream.as_str(), to_sql(next_index)],
        )
        .map_err(self.sql("moving a collector cursor"))?;
        Ok(())
    }

    /// Settled forwards with `at_ns` in `[from_ns, to_ns)`, oldest first.
    pub fn forwards_between(&self, from_ns: u64, to_ns: u64) -> Result<Vec<Forward>, StoreError> {
        self.lock()
            .prepare_cached(
                "SELECT node_index, at_ns, chan_in, chan_out, amt_in_msat, amt_out_msat, fee_msat
                 FROM forwards WHERE at_ns >= ?1 AND at_ns < ?2 ORDER BY node_index",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![to_sql(from_ns), to_sql(to_ns)], |row| {
                    Ok(Forward {
                        index: row.get::<_, i64>(0)? as u64,
                        at_ns: row.get::<_, i64>(1)? as u64,
                        chan_in: channel_id_from_sql(row.get(2)?),
                        chan_out: channel_id_from_sql(row.get(3)?),
                        amt_in_msat: row.get::<_, i64>(4)? as u64,
                        amt_out_msat: row.get::<_, i64>(5)? as u64,
                        fee_msat: row.get::<_, i64>(6)? as u64,
                    })
                })?
                .collect()
            })
            .map_err(self.sql("reading forwards"))
    }

    /// Failed forwards with `at_ns` in `[from_ns, to_ns)`, oldest first.
    pub fn failed_forwards_between(
        &self,
        from_ns: u64,
        to_ns: u64,
    ) -> Result<Vec<FailedForward>, StoreError> {
        self.lock()
            .prepare_cached(
                "SELECT node_index, at_ns, chan_in, chan_out, amt_in_msat, reason
                 FROM failed_forwards WHERE at_ns >= ?1 AND at_ns < ?2 ORDER BY node_index",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![to_sql(from_ns), to_sql(to_ns)], |row| {
                    Ok(FailedForward {
                        index: row.get::<_, i64>(0)? as u64,
                        at_ns: row.get::<_, i64>(1)? as u64,
                        chan_in: channel_id_from_sql(row.get(2)?),
                        chan_out: row.get::<_, Option<i64>>(3)?.map(channel_id_from_sql),
                        amt_in_msat: row.get::<_, i64>(4)? as u64,
                        reason: reason_from(&row.get::<_, String>(5)?),
                    })
                })?
                .collect()
            })
            .map_err(self.sql("reading failed forwards"))
    }

    /// Records what every channel looked like at `at` (unix seconds).
    pub fn add_channel_snapshot(
        &self,
        at: u64,
        channels: &[NodeChannel],
    ) -> Result<(), StoreError> {
        let rows = channels
            .iter()
            .map(|c| Ok((c.id, self.encode_json("a channel snapshot", c)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write("storing a channel snapshot", |tx| {
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO channel_snapshots (at, channel_id, channel_json)
                     VALUES (?1, ?2, ?3)",
                )
                .map_err(self.sql("storing a channel snapshot"))?;
            for (id, json) in &rows {
                insert
                    .execute(params![time_to_sql(at), channel_id_to_sql(*id), json])
                    .map_err(self.sql("storing a channel snapshot"))?;
            }
            Ok(())
        })
    }

    /// The channels as of the latest snapshot, if any was taken.
    pub fn latest_channels(&self) -> Result<Vec<NodeChannel>, StoreError> {
        let rows: Vec<String> = self
            .lock()
            .prepare_cached(
                "SELECT channel_json FROM channel_snapshots
                 WHERE at = (SELECT MAX(at) FROM channel_snapshots) ORDER BY channel_id",
            )
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
            .map_err(self.sql("reading the latest channel snapshot"))?;
        rows.iter()
            .map(|json| self.decode_json(|| "a channel snapshot".into(), json))
            .collect()
    }

    /// Number of stored settled forwards (collector progress, tests).
    pub fn forward_count(&self) -> Result<u64, StoreError> {
        self.lock()
            .query_row("SELECT COUNT(*) FROM forwards", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(self.sql("counting forwards"))
    }
}

/// Forwarding totals of one channel over a time range, for analytics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowTotals {
    pub msat_in: u64,
    pub msat_out: u64,
    pub htlcs_in: u32,
    pub htlcs_out: u32,
    /// Fees earned on forwards that left through the channel.
    pub fees_msat: u64,
}

impl Store {
    /// Per-channel totals of settled forwards with `at_ns` in `[from_ns, to_ns)`,
    /// summed by SQLite so a month of history is one indexed pass.
    pub fn flow_totals(
        &self,
        from_ns: u64,
        to_ns: u64,
    ) -> Result<std::collections::HashMap<lnpolicy_core::ChannelId, FlowTotals>, StoreError> {
        let conn = self.lock();
        let mut totals: std::collections::HashMap<_, FlowTotals> = Default::default();
        let range = params![to_sql(from_ns), to_sql(to_ns)];
        conn.prepare_cached(
            "SELECT chan_out, SUM(amt_out_msat), COUNT(*), SUM(fee_msat) FROM forwards
             WHERE at_ns >= ?1 AND at_ns < ?2 GROUP BY chan_out",
        )
        .and_then(|mut stmt| {
            let rows = stmt.query_map(range, |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                ))
            })?;
            for row in rows {
                let (chan, msat, count, fees) = row?;
                let t = totals.entry(channel_id_from_sql(chan)).or_default();
                t.msat_out = msat as u64;
                t.htlcs_out = u32::try_from(count).unwrap_or(u32::MAX);
                t.fees_msat = fees as u64;
            }
            Ok(())
        })
        .map_err(self.sql("summing outgoing forwards"))?;
        conn.prepare_cached(
            "SELECT chan_in, SUM(amt_in_msat), COUNT(*) FROM forwards
             WHERE at_ns >= ?1 AND at_ns < ?2 GROUP BY chan_in",
        )
        .and_then(|mut stmt| {
            let rows = stmt.query_map(range, |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (chan, msat, count) = row?;
                let t = totals.entry(channel_id_from_sql(chan)).or_default();
                t.msat_in = msat as u64;
                t.htlcs_in = u32::try_from(count).unwrap_or(u32::MAX);
            }
            Ok(())
        })
        .map_err(self.sql("summing incoming forwards"))?;
        Ok(totals)
    }

    /// Failed forwards per (outgoing channel, reason) with `at_ns` in
    /// `[from_ns, to_ns)`; a failure with no outgoing channel counts against
    /// the incoming one.
    pub fn failure_counts(
        &self,
        from_ns: u64,
        to_ns: u64,
    ) -> Result<Vec<(lnpolicy_core::ChannelId, FailureReason, u32)>, StoreError> {
        self.lock()
            .prepare_cached(
                "SELECT COALESCE(chan_out, chan_in), reason, COUNT(*) FROM failed_forwards
                 WHERE at_ns >= ?1 AND at_ns < ?2 GROUP BY 1, 2 ORDER BY 1, 2",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![to_sql(from_ns), to_sql(to_ns)], |row| {
                    Ok((
                        channel_id_from_sql(row.get(0)?),
                        reason_from(&row.get::<_, String>(1)?),
                        u32::try_from(row.get::<_, i64>(2)?).unwrap_or(u32::MAX),
                    ))
                })?
                .collect()
            })
            .map_err(self.sql("counting failed forwards"))
    }
}

impl Store {
    /// Fees earned on forwards leaving through `channel` with `at_ns` in `[from_ns, to_ns)`.
    pub fn fees_out(
        &self,
        channel: lnpolicy_core::ChannelId,
        from_ns: u64,
        to_ns: u64,
    ) -> Result<u64, StoreError> {
        self.lock()
            .query_row(
                "SELECT COALESCE(SUM(fee_msat), 0) FROM forwards
                 WHERE chan_out = ?1 AND at_ns >= ?2 AND at_ns < ?3",
                params![channel_id_to_sql(channel), to_sql(from_ns), to_sql(to_ns)],
                |row| row.get::<_, i64>(0),
            )
            .map(|v| v as u64)
            .map_err(self.sql("summing a channel's fees"))
    }
}
