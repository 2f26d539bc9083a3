//! The daemon's copy of the node's history: settled and failed forwards, the
//! collector's resume points, and channel snapshots.

use lnpolicy_core::{ChannelId, FailedForward, FailureReason, FeeChange, Forward, NodeChannel};
use rusqlite::{OptionalExtension, params};

use crate::{
    Store, StoreError, channel_id_from_sql, channel_id_to_sql, time_from_sql, time_to_sql, to_sql,
};

/// What a channel's own fees earned over a span: its outbound fee on the forwards that left
/// by it, and its inbound fee (negative for a discount) on those that came in by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Earned {
    /// Forwards that left by the channel.
    pub forwards: u64,
    pub fee_msat: i64,
}

/// A history stream the collector pages through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Forwards,
    FailedForwards,
    /// Forwards settled or failed after the node listed them in flight (CLN's
    /// `updated_index`); their rows go to the two tables above.
    ResolvedForwards,
    /// Parts of our own payments, for rebalancing costs (`payments.rs`).
    PaymentParts,
}

impl Stream {
    fn as_str(self) -> &'static str {
        match self {
            Stream::Forwards => "forwards",
            Stream::FailedForwards => "failed_forwards",
            Stream::ResolvedForwards => "resolved_forwards",
            Stream::PaymentParts => "payment_parts",
        }
    }
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

    /// Moves an LND forwards cursor written as a log offset (below 2^32: the LND client paged
    /// by offset before it paged by time) to the time of the last stored forward, where LND's
    /// time-keyed log resumes without gaps or repeats. Returns the new cursor when it moved.
    /// Only for LND: a Core Lightning cursor is its `created_index`.
    pub fn lnd_forwards_cursor_to_time(&self) -> Result<Option<u64>, StoreError> {
        self.write("moving the LND forwards cursor to a time", |tx| {
            let moved: Option<i64> = tx
                .query_row(
                    "UPDATE collector_cursors
                     SET next_index = (SELECT MAX(at_ns) FROM forwards)
                     WHERE stream = 'forwards' AND next_index BETWEEN 1 AND 4294967295
                       AND EXISTS (SELECT 1 FROM forwards)
                     RETURNING next_index",
                    [],
                    |row| row.get(0),
                )
                .optional()
                .map_err(self.sql("moving the LND forwards cursor to a time"))?;
            Ok(moved.map(|v| v as u64))
        })
    }

    /// Stores one page of settled forwards and the cursor after it in one
    /// transaction. Rows already present (a page fetched twice) are skipped,
    /// so history is never duplicated. Returns how many rows were new.
    pub fn add_forwards(&self, forwards: &[Forward], next_index: u64) -> Result<usize, StoreError> {
        self.write("storing forwards", |tx| {
            let added = self.insert_forwards(tx, forwards)?;
            self.set_cursor(tx, Stream::Forwards, next_index)?;
            Ok(added)
        })
    }

    /// Stores LND forwards read again behind the cursor, leaving the cursor alone. LND keeps
    /// each forward's `timestamp_ns` unique, so one already stored at that time is that
    /// forward, also when a store from the offset-paging client keeps it under its offset.
    /// Returns how many were new.
    pub fn add_lnd_forwards_read_again(&self, forwards: &[Forward]) -> Result<usize, StoreError> {
        self.write("storing forwards read again", |tx| {
            self.insert_forwards_with(
                tx,
                "INSERT OR IGNORE INTO forwards
                 (node_index, at_ns, chan_in, chan_out, amt_in_msat, amt_out_msat, fee_msat)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
                 WHERE NOT EXISTS (SELECT 1 FROM forwards WHERE at_ns = ?2)",
                forwards,
            )
        })
    }

    /// Same as [`Store::add_forwards`] for failed forwards.
    pub fn add_failed_forwards(
        &self,
        failures: &[FailedForward],
        next_index: u64,
    ) -> Result<usize, StoreError> {
        self.write("storing failed forwards", |tx| {
            let added = self.insert_failures(tx, failures)?;
            self.set_cursor(tx, Stream::FailedForwards, next_index)?;
            Ok(added)
        })
    }

    /// One page of [`Stream::ResolvedForwards`] and its cursor, in one transaction. The rows
    /// keep the index the created-order streams give them, so a forward both streams saw is
    /// stored once. Returns how many rows were new.
    pub fn add_resolved_forwards(
        &self,
        forwards: &[Forward],
        failures: &[FailedForward],
        next_index: u64,
    ) -> Result<usize, StoreError> {
        self.write("storing resolved forwards", |tx| {
            let added = self.insert_forwards(tx, forwards)? + self.insert_failures(tx, failures)?;
            self.set_cursor(tx, Stream::ResolvedForwards, next_index)?;
            Ok(added)
        })
    }

    fn insert_forwards(
        &self,
        tx: &rusqlite::Transaction<'_>,
        forwards: &[Forward],
    ) -> Result<usize, StoreError> {
        self.insert_forwards_with(
            tx,
            "INSERT OR IGNORE INTO forwards
             (node_index, at_ns, chan_in, chan_out, amt_in_msat, amt_out_msat, fee_msat)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            forwards,
        )
    }

    /// Runs `insert`, whose parameters are a forward's columns in table order, per forward,
    /// then gives the new rows their outgoing channel's share of the fee.
    fn insert_forwards_with(
        &self,
        tx: &rusqlite::Transaction<'_>,
        insert: &str,
        forwards: &[Forward],
    ) -> Result<usize, StoreError> {
        let mut insert = tx
            .prepare_cached(insert)
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
        share_out_fees(tx).map_err(self.sql("sharing forwards' fees between their channels"))?;
        Ok(added)
    }

    fn insert_failures(
        &self,
        tx: &rusqlite::Transaction<'_>,
        failures: &[FailedForward],
    ) -> Result<usize, StoreError> {
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
        Ok(added)
    }

    pub(crate) fn set_cursor(
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
                 FROM forwards WHERE at_ns >= ?1 AND at_ns < ?2 ORDER BY at_ns, node_index",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![to_sql(from_ns), to_sql(to_ns)], forward_from_row)?
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
                 FROM failed_forwards WHERE at_ns >= ?1 AND at_ns < ?2 ORDER BY at_ns, node_index",
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

    /// Records `pubkey` and `kind` as the node whose history this database holds, the first
    /// time it is asked; after that, refuses another node or implementation
    /// ([`StoreError::OtherNode`]).
    pub fn bind_node(
        &self,
        pubkey: &str,
        kind: lnpolicy_core::NodeKind,
        at: u64,
    ) -> Result<(), StoreError> {
        let pubkey = pubkey.to_ascii_lowercase();
        let name = |kind: &str, pubkey: &str| format!("the {kind} node {pubkey}");
        let kind = match kind {
            lnpolicy_core::NodeKind::Lnd => "LND",
            lnpolicy_core::NodeKind::Cln => "CLN",
        };
        let read = |conn: &rusqlite::Connection| {
            conn.query_row(
                "SELECT pubkey, kind FROM node_identity WHERE id = 1",
                [],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )
            .optional()
            .map_err(self.sql("reading which node the history is of"))
        };
        let stored = read(&self.lock())?;
        let stored = match stored {
            Some(stored) => stored,
            None => self.write("recording which node the history is of", |tx| {
                tx.execute(
                    "INSERT OR IGNORE INTO node_identity (id, pubkey, kind, since)
                     VALUES (1, ?1, ?2, ?3)",
                    params![pubkey, kind, time_to_sql(at)],
                )
                .map_err(self.sql("recording which node the history is of"))?;
                Ok(read(tx)?.unwrap_or_else(|| (pubkey.clone(), kind.to_owned())))
            })?,
        };
        // The same key on another implementation (a CLN node restored from an LND seed, a
        // simulated node switched over) has other logs all the same.
        if stored.0 == pubkey && stored.1 == kind {
            return Ok(());
        }
        Err(StoreError::OtherNode {
            path: self.path().to_path_buf(),
            stored: name(&stored.1, &stored.0),
            node: name(kind, &pubkey),
        })
    }

    /// Records what every channel looked like at `at` (unix seconds), and each channel's
    /// policy as a fee change when it differs from the one before `at`. Snapshots come in
    /// time order (one per collection), so a change is never followed by an older snapshot.
    pub fn add_channel_snapshot(
        &self,
        at: u64,
        channels: &[NodeChannel],
    ) -> Result<(), StoreError> {
        let rows = channels
            .iter()
            .map(|c| Ok((c, self.encode_json("a channel snapshot", c)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write("storing a channel snapshot", |tx| {
            let sql = self.sql("storing a channel snapshot");
            let mut insert = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO channel_snapshots (at, channel_id, channel_json)
                     VALUES (?1, ?2, ?3)",
                )
                .map_err(&sql)?;
            let mut previous = tx
                .prepare_cached(
                    "SELECT fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base_fee_msat
                     FROM channel_fee_changes
                     WHERE channel_id = ?1 AND at < ?2 ORDER BY at DESC LIMIT 1",
                )
                .map_err(&sql)?;
            let mut record = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO channel_fee_changes
                     (channel_id, at, fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base_fee_msat)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(&sql)?;
            // A snapshot retaken at the same second replaces the first one, change included.
            let mut unrecord = tx
                .prepare_cached("DELETE FROM channel_fee_changes WHERE channel_id = ?1 AND at = ?2")
                .map_err(&sql)?;
            for (channel, json) in &rows {
                let id = channel_id_to_sql(channel.id);
                insert
                    .execute(params![time_to_sql(at), id, json])
                    .map_err(&sql)?;
                let policy = &channel.local_policy;
                let level = fee_level(policy);
                let before: Option<FeeLevel> = previous
                    .query_row(params![id, time_to_sql(at)], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                    })
                    .optional()
                    .map_err(&sql)?;
                if before == Some(level) {
                    unrecord
                        .execute(params![id, time_to_sql(at)])
                        .map_err(&sql)?;
                } else {
                    record
                        .execute(params![
                            id,
                            time_to_sql(at),
                            level.0,
                            level.1,
                            level.2,
                            level.3
                        ])
                        .map_err(&sql)?;
                }
            }
            // Older snapshots go, but for each channel's first (its age, the history's start)
            // and last (a channel that closed): at a collection every 10 minutes, 1,000
            // channels' snapshots are about 135 MB a day. At most a batch per call, so the
            // first collection after an upgrade does not hold the lock for the whole backlog.
            tx.prepare_cached(
                "DELETE FROM channel_snapshots WHERE rowid IN (
                     SELECT s.rowid FROM channel_snapshots s
                     WHERE s.at < ?1
                       AND s.at > (SELECT MIN(at) FROM channel_snapshots f
                                   WHERE f.channel_id = s.channel_id)
                       AND s.at < (SELECT MAX(at) FROM channel_snapshots l
                                   WHERE l.channel_id = s.channel_id)
                     LIMIT ?2)",
            )
            .and_then(|mut prune| {
                prune.execute(params![
                    time_to_sql(at.saturating_sub(SNAPSHOTS_KEPT_SECS)),
                    SNAPSHOT_PRUNE_BATCH
                ])
            })
            .map_err(&sql)?;
            // Failed forwards are read over the flow windows only, and a node that is probed
            // fails many times a day more than it forwards.
            tx.prepare_cached(
                "DELETE FROM failed_forwards WHERE rowid IN (
                     SELECT rowid FROM failed_forwards WHERE at_ns < ?1 LIMIT ?2)",
            )
            .and_then(|mut prune| {
                prune.execute(params![
                    to_sql(at.saturating_sub(FAILURES_KEPT_SECS).saturating_mul(NS_PER_SEC)),
                    SNAPSHOT_PRUNE_BATCH
                ])
            })
            .map_err(&sql)?;
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

    /// Whether any snapshot of `channel` taken in `[from, to)` (unix seconds) shows it
    /// inactive (its peer offline) or disabled: a span in which it could not forward.
    pub fn channel_down_between(
        &self,
        channel: lnpolicy_core::ChannelId,
        from: u64,
        to: u64,
    ) -> Result<bool, StoreError> {
        self.lock()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM channel_snapshots
                 WHERE channel_id = ?1 AND at >= ?2 AND at < ?3
                   AND (json_extract(channel_json, '$.active') = 0
                        OR json_extract(channel_json, '$.local_policy.disabled') = 1))",
                params![
                    channel_id_to_sql(channel),
                    time_to_sql(from),
                    time_to_sql(to)
                ],
                |row| row.get(0),
            )
            .map_err(self.sql("reading whether a channel was down"))
    }

    /// When the latest collection ran (unix seconds): its snapshot is the newest one kept.
    pub fn last_collection_at(&self) -> Result<Option<u64>, StoreError> {
        self.lock()
            .query_row("SELECT MAX(at) FROM channel_snapshots", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
            .map(|at| at.map(time_from_sql))
            .map_err(self.sql("reading when the last collection ran"))
    }

    /// When collections took a snapshot of `channel` in `[from, to]` (unix seconds), oldest
    /// first: where they stop for long, nobody watched the channel, or the node.
    pub fn snapshot_times(
        &self,
        channel: lnpolicy_core::ChannelId,
        from: u64,
        to: u64,
    ) -> Result<Vec<u64>, StoreError> {
        self.lock()
            .prepare_cached(
                "SELECT at FROM channel_snapshots
                 WHERE channel_id = ?1 AND at >= ?2 AND at <= ?3 ORDER BY at",
            )
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![
                        channel_id_to_sql(channel),
                        time_to_sql(from),
                        time_to_sql(to)
                    ],
                    |row| row.get(0).map(time_from_sql),
                )?
                .collect()
            })
            .map_err(self.sql("reading when a channel was collected"))
    }

    /// Whether `channel` had the fees of `fees` (rates and base fees, both directions) over
    /// `[from, to)` (unix seconds), as far as the store saw: no level begun inside it, and the
    /// level in force before `to` is `fees`. What was in force before the store first saw the
    /// channel is unknown, so a span that begins before then was not seen to hold anything:
    /// a channel switched over from an hourly tool may have had several levels in it.
    pub fn held_fees(
        &self,
        channel: lnpolicy_core::ChannelId,
        from: u64,
        to: u64,
        fees: &lnpolicy_core::FeePolicy,
    ) -> Result<bool, StoreError> {
        let conn = self.lock();
        let sql = self.sql("reading which fees a channel held");
        let begun_inside: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM channel_fee_changes
                 WHERE channel_id = ?1 AND at > ?2 AND at < ?3)",
                params![
                    channel_id_to_sql(channel),
                    time_to_sql(from),
                    time_to_sql(to)
                ],
                |row| row.get(0),
            )
            .map_err(&sql)?;
        if begun_inside {
            return Ok(false);
        }
        let in_force: Option<FeeLevel> = conn
            .query_row(
                "SELECT fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base_fee_msat
                 FROM channel_fee_changes
                 WHERE channel_id = ?1 AND at < ?2 ORDER BY at DESC LIMIT 1",
                params![channel_id_to_sql(channel), time_to_sql(to)],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .optional()
            .map_err(&sql)?;
        Ok(in_force.is_some_and(|level| level == fee_level(fees)))
    }

    /// The most `channel`'s own fee earned on one forward out with `at_ns` in
    /// `[from_ns, to_ns)`; 0 without any.
    pub fn largest_fee_out(
        &self,
        channel: lnpolicy_core::ChannelId,
        from_ns: u64,
        to_ns: u64,
    ) -> Result<i64, StoreError> {
        self.lock()
            .query_row(
                "SELECT COALESCE(MAX(COALESCE(out_fee_msat, fee_msat)), 0) FROM forwards
                 WHERE chan_out = ?1 AND at_ns >= ?2 AND at_ns < ?3",
                params![channel_id_to_sql(channel), to_sql(from_ns), to_sql(to_ns)],
                |row| row.get(0),
            )
            .map_err(self.sql("reading a channel's largest fee"))
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
    /// Whole sats of each forward, summed: LND's `amt_in`/`amt_out` drop each forward's
    /// msat, and charge-lnd's activity conditions add those up.
    pub sats_in: u64,
    pub sats_out: u64,
    pub htlcs_in: u32,
    pub htlcs_out: u32,
    /// Fees of the forwards that left through the channel, as the node counts them (on LND
    /// with the inbound fee of the channel each came in by).
    pub fees_msat: u64,
    /// What the channel's own fees earned ([`Earned`]).
    pub own_fees_msat: i64,
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
            "SELECT chan_out, SUM(amt_out_msat), COUNT(*), SUM(fee_msat),
                    SUM(COALESCE(out_fee_msat, fee_msat)), SUM(amt_out_msat / 1000)
             FROM forwards WHERE at_ns >= ?1 AND at_ns < ?2 GROUP BY chan_out",
        )
        .and_then(|mut stmt| {
            let rows = stmt.query_map(range, |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, i64>(5)?,
                ))
            })?;
            for row in rows {
                let (chan, msat, count, fees, own, sats) = row?;
                let t = totals.entry(channel_id_from_sql(chan)).or_default();
                t.msat_out = msat as u64;
                t.sats_out = sats as u64;
                t.htlcs_out = u32::try_from(count).unwrap_or(u32::MAX);
                t.fees_msat = fees as u64;
                t.own_fees_msat += own;
            }
            Ok(())
        })
        .map_err(self.sql("summing outgoing forwards"))?;
        conn.prepare_cached(
            "SELECT chan_in, SUM(amt_in_msat), COUNT(*),
                    SUM(fee_msat - COALESCE(out_fee_msat, fee_msat)), SUM(amt_in_msat / 1000)
             FROM forwards WHERE at_ns >= ?1 AND at_ns < ?2 GROUP BY chan_in",
        )
        .and_then(|mut stmt| {
            let rows = stmt.query_map(range, |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                ))
            })?;
            for row in rows {
                let (chan, msat, count, inbound, sats) = row?;
                let t = totals.entry(channel_id_from_sql(chan)).or_default();
                t.msat_in = msat as u64;
                t.sats_in = sats as u64;
                t.htlcs_in = u32::try_from(count).unwrap_or(u32::MAX);
                t.own_fees_msat += inbound;
            }
            Ok(())
        })
        .map_err(self.sql("summing incoming forwards"))?;
        Ok(totals)
    }

    /// Forwards `channel` refused for want of outbound liquidity with `at_ns` in
    /// `[from_ns, to_ns)`: demand it could not serve, whatever its fee.
    pub fn liquidity_failures(
        &self,
        channel: lnpolicy_core::ChannelId,
        from_ns: u64,
        to_ns: u64,
    ) -> Result<u64, StoreError> {
        self.lock()
            .query_row(
                "SELECT COUNT(*) FROM failed_forwards
                 WHERE chan_out = ?1 AND at_ns >= ?2 AND at_ns < ?3 AND reason = ?4",
                params![
                    channel_id_to_sql(channel),
                    to_sql(from_ns),
                    to_sql(to_ns),
                    reason_str(FailureReason::InsufficientBalance)
                ],
                |row| row.get::<_, i64>(0),
            )
            .map(|count| u64::try_from(count).unwrap_or(0))
            .map_err(self.sql("counting a channel's liquidity failures"))
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
    /// Unix seconds of the oldest record the store holds, the first forward or the first
    /// channel snapshot, whichever is older; `None` for an empty store. The collector pages
    /// the node's whole forwarding history in, so flow before this time never happened or
    /// predates the node's own records.
    pub fn history_start(&self) -> Result<Option<u64>, StoreError> {
        self.lock()
            .query_row(
                "SELECT MIN(t) FROM (SELECT MIN(at_ns) / 1000000000 AS t FROM forwards
                                     UNION ALL SELECT MIN(at) FROM channel_snapshots)",
                [],
                |row| row.get::<_, Option<i64>>(0),
            )
            .map(|start| start.map(time_from_sql))
            .map_err(self.sql("reading when the history starts"))
    }

    /// What `channel`'s own fees earned on forwards with `at_ns` in `[from_ns, to_ns)` (see
    /// [`Earned`]).
    pub fn fees_earned(
        &self,
        channel: lnpolicy_core::ChannelId,
        from_ns: u64,
        to_ns: u64,
    ) -> Result<i64, StoreError> {
        Ok(self.earned(channel, from_ns, to_ns)?.fee_msat)
    }

    /// What `channel`'s own fees earned on forwards with `at_ns` in `[from_ns, to_ns)`, and how
    /// many left by it. A forward's fee is shared between its two channels (migration 12).
    pub fn earned(
        &self,
        channel: lnpolicy_core::ChannelId,
        from_ns: u64,
        to_ns: u64,
    ) -> Result<Earned, StoreError> {
        self.lock()
            .query_row(
                "SELECT (SELECT COUNT(*) FROM forwards
                         WHERE chan_out = ?1 AND at_ns >= ?2 AND at_ns < ?3),
                        (SELECT COALESCE(SUM(COALESCE(out_fee_msat, fee_msat)), 0) FROM forwards
                         WHERE chan_out = ?1 AND at_ns >= ?2 AND at_ns < ?3)
                      + (SELECT COALESCE(SUM(fee_msat - COALESCE(out_fee_msat, fee_msat)), 0)
                         FROM forwards WHERE chan_in = ?1 AND at_ns >= ?2 AND at_ns < ?3)",
                params![channel_id_to_sql(channel), to_sql(from_ns), to_sql(to_ns)],
                |row| {
                    Ok(Earned {
                        forwards: row.get::<_, i64>(0)? as u64,
                        fee_msat: row.get(1)?,
                    })
                },
            )
            .map_err(self.sql("summing a channel's fees"))
    }
}

const NS_PER_SEC: u64 = 1_000_000_000;

impl Store {
    /// `channel`'s outbound policy changes as the snapshots saw them (and as lnpolicy applied
    /// them, from the moment it did), each with
    /// the fees it earned until the next change (or `now`, unix seconds). Only
    /// changes in force after `since` are returned, so the first one is the
    /// level that held at `since`; oldest first, empty for an unknown channel.
    ///
    /// A change is a snapshot whose fees (outbound and inbound, base and rate)
    /// differ from the channel's previous snapshot's; they are kept apart when
    /// the snapshot is stored, so this reads only the changes, not every snapshot.
    pub fn fee_history(
        &self,
        channel: ChannelId,
        since: u64,
        now: u64,
    ) -> Result<Vec<FeeChange>, StoreError> {
        let conn = self.lock();
        let levels: Vec<(u64, u32, u32, i32)> = conn
            .prepare_cached(
                "SELECT at, fee_ppm, base_fee_msat, inbound_fee_ppm FROM channel_fee_changes
                 WHERE channel_id = ?1 AND at <= ?2
                   AND at >= COALESCE((SELECT MAX(at) FROM channel_fee_changes
                                       WHERE channel_id = ?1 AND at <= ?3), 0)
                 ORDER BY at",
            )
            .and_then(|mut stmt| {
                let range = params![
                    channel_id_to_sql(channel),
                    time_to_sql(now),
                    time_to_sql(since)
                ];
                stmt.query_map(range, |row| {
                    Ok((
                        time_from_sql(row.get(0)?),
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                    ))
                })?
                .collect()
            })
            .map_err(self.sql("reading a channel's policy changes"))?;
        if levels.is_empty() {
            return Ok(Vec::new());
        }
        let ends: Vec<u64> = levels
            .iter()
            .skip(1)
            .map(|level| level.0)
            .chain(std::iter::once(now))
            .collect();
        let Some(first) = ends.iter().position(|&end| end > since) else {
            return Ok(Vec::new());
        };
        let mut changes: Vec<FeeChange> = levels[first..]
            .iter()
            .zip(&ends[first..])
            .map(
                |(&(at, fee_ppm, base_fee_msat, inbound_fee_ppm), &end)| FeeChange {
                    at,
                    fee_ppm,
                    base_fee_msat,
                    inbound_fee_ppm,
                    revenue_msat: 0,
                    hours: end.saturating_sub(at) as f64 / 3600.0,
                },
            )
            .collect();
        // One pass over the channel's forwards, each added to the segment it fell in.
        let from_ns = changes[0].at.saturating_mul(NS_PER_SEC);
        let to_ns = now.saturating_mul(NS_PER_SEC);
        let mut stmt = conn
            .prepare_cached(
                "SELECT at_ns, COALESCE(out_fee_msat, fee_msat) FROM forwards
                 WHERE chan_out = ?1 AND at_ns >= ?2 AND at_ns < ?3
                 UNION ALL
                 SELECT at_ns, fee_msat - COALESCE(out_fee_msat, fee_msat) FROM forwards
                 WHERE chan_in = ?1 AND at_ns >= ?2 AND at_ns < ?3
                 ORDER BY 1",
            )
            .map_err(self.sql("reading a channel's forwards"))?;
        let mut rows = stmt
            .query(params![
                channel_id_to_sql(channel),
                to_sql(from_ns),
                to_sql(to_ns)
            ])
            .map_err(self.sql("reading a channel's forwards"))?;
        let mut segment = 0;
        let mut earned = vec![0i64; changes.len()];
        while let Some(row) = rows
            .next()
            .map_err(self.sql("reading a channel's forwards"))?
        {
            let at_ns = row
                .get::<_, i64>(0)
                .map_err(self.sql("reading a channel's forwards"))? as u64;
            let fee_msat = row
                .get::<_, i64>(1)
                .map_err(self.sql("reading a channel's forwards"))?;
            while segment + 1 < changes.len()
                && at_ns >= changes[segment + 1].at.saturating_mul(NS_PER_SEC)
            {
                segment += 1;
            }
            earned[segment] += fee_msat;
        }
        // A level whose inbound discount cost more than its fees earned earned nothing.
        for (change, earned) in changes.iter_mut().zip(earned) {
            change.revenue_msat = u64::try_from(earned).unwrap_or(0);
        }
        Ok(changes)
    }
}

/// Writes `out_fee_msat` of every forward stored without it: the outgoing channel's share of
/// the fee ([`Forward::outbound_share_msat`]), from the outgoing channel's outbound level and
/// the incoming one's inbound fees as the snapshots saw them when the forward settled (the
/// first level seen, for a forward older than every snapshot of its channel). Returns how
/// many rows it wrote.
pub(crate) fn share_out_fees(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<usize> {
    let mut unshared = tx.prepare_cached(
        "SELECT node_index, at_ns, chan_in, chan_out, amt_in_msat, amt_out_msat, fee_msat
         FROM forwards WHERE out_fee_msat IS NULL LIMIT ?1",
    )?;
    let mut at_or_before = tx.prepare_cached(
        "SELECT fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base_fee_msat
         FROM channel_fee_changes
         WHERE channel_id = ?1 AND at <= ?2 ORDER BY at DESC LIMIT 1",
    )?;
    let mut first = tx.prepare_cached(
        "SELECT fee_ppm, base_fee_msat, inbound_fee_ppm, inbound_base_fee_msat
         FROM channel_fee_changes
         WHERE channel_id = ?1 ORDER BY at LIMIT 1",
    )?;
    let mut level =
        |channel: lnpolicy_core::ChannelId, at: u64| -> rusqlite::Result<Option<FeeLevel>> {
            let read =
                |row: &rusqlite::Row<'_>| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?));
            let channel = channel_id_to_sql(channel);
            match at_or_before
                .query_row(params![channel, to_sql(at)], read)
                .optional()?
            {
                Some(level) => Ok(Some(level)),
                None => first.query_row([channel], read).optional(),
            }
        };
    let mut write =
        tx.prepare_cached("UPDATE forwards SET out_fee_msat = ?1 WHERE node_index = ?2")?;
    let mut shared = 0;
    // In batches, so a store of years of forwards opened for the first time after migration
    // 12 does not hold them all in memory; every row gets a value, so each batch is new rows.
    loop {
        let batch: Vec<Forward> = unshared
            .query_map([SHARE_BATCH], forward_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        if batch.is_empty() {
            return Ok(shared);
        }
        for forward in &batch {
            let at = forward.at_ns / NS_PER_SEC;
            let outbound = level(forward.chan_out, at)?;
            let inbound = level(forward.chan_in, at)?;
            let share = forward.outbound_share_msat(
                outbound.map(|(ppm, base, _, _)| (base, ppm)),
                inbound.map_or((0, 0), |(_, _, ppm, base)| (base, ppm)),
            );
            write.execute(params![to_sql(share), to_sql(forward.index)])?;
        }
        shared += batch.len();
    }
}

/// A channel's fees as `channel_fee_changes` keeps them: (fee_ppm, base_fee_msat,
/// inbound_fee_ppm, inbound_base_fee_msat). A change of any of them is a fee change.
pub(crate) type FeeLevel = (u32, u32, i32, i32);

pub(crate) fn fee_level(policy: &lnpolicy_core::FeePolicy) -> FeeLevel {
    (
        policy.fee_ppm,
        policy.base_fee_msat,
        policy.inbound_fee_ppm,
        policy.inbound_base_fee_msat,
    )
}

/// How long every snapshot is kept: rollback, the only reader of snapshots between a
/// channel's first and last, judges no change older than this.
pub const SNAPSHOTS_KEPT_SECS: u64 = 60 * 86_400;

/// How long failed forwards are kept: rollback judges a change up to [`SNAPSHOTS_KEPT_SECS`]
/// after it on the failures of the window before it (30 days at most), and the flow windows
/// read 30 days.
const FAILURES_KEPT_SECS: u64 = SNAPSHOTS_KEPT_SECS + 32 * 86_400;

/// Snapshots older than [`SNAPSHOTS_KEPT_SECS`], and failed forwards older than
/// [`FAILURES_KEPT_SECS`], removed per collection, at most.
const SNAPSHOT_PRUNE_BATCH: i64 = 50_000;

/// Forwards given their share per batch by [`share_out_fees`].
const SHARE_BATCH: i64 = 10_000;

/// A forward from a row of `node_index, at_ns, chan_in, chan_out, amt_in_msat, amt_out_msat,
/// fee_msat`.
fn forward_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Forward> {
    Ok(Forward {
        index: row.get::<_, i64>(0)? as u64,
        at_ns: row.get::<_, i64>(1)? as u64,
        chan_in: channel_id_from_sql(row.get(2)?),
        chan_out: channel_id_from_sql(row.get(3)?),
        amt_in_msat: row.get::<_, i64>(4)? as u64,
        amt_out_msat: row.get::<_, i64>(5)? as u64,
        fee_msat: row.get::<_, i64>(6)? as u64,
    })
}
