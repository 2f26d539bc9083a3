//! What each peer's other counterparties charge toward it, refreshed from the
//! node's graph at most daily and read by guests through `competitor-fees`.

use lnpolicy_core::FeePercentiles;
use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError, time_from_sql, time_to_sql};

/// Nearest-rank percentiles of `ppm`; `None` for an empty list (a peer with no
/// other public channels has no level to compare against).
pub fn fee_percentiles(ppm: &[u32]) -> Option<FeePercentiles> {
    let mut sorted = ppm.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let rank = |percent: usize| sorted[(percent * n).div_ceil(100).max(1) - 1];
    (n > 0).then(|| FeePercentiles {
        channels: u32::try_from(n).unwrap_or(u32::MAX),
        p25_ppm: rank(25),
        p50_ppm: rank(50),
        p75_ppm: rank(75),
        p90_ppm: rank(90),
    })
}

impl Store {
    /// Records a refresh of `peer_pubkey`'s fee levels at `at` (unix seconds),
    /// replacing the previous one; `None` when the peer has no other public channels.
    pub fn record_peer_fees(
        &self,
        peer_pubkey: &str,
        at: u64,
        fees: Option<FeePercentiles>,
    ) -> Result<(), StoreError> {
        self.write("recording peer fees", |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO peer_fees
                 (peer_pubkey, refreshed_at, channels, p25_ppm, p50_ppm, p75_ppm, p90_ppm)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    peer_pubkey,
                    time_to_sql(at),
                    fees.map(|f| f.channels),
                    fees.map(|f| f.p25_ppm),
                    fees.map(|f| f.p50_ppm),
                    fees.map(|f| f.p75_ppm),
                    fees.map(|f| f.p90_ppm),
                ],
            )
            .map_err(self.sql("recording peer fees"))?;
            Ok(())
        })
    }

    /// The last refresh of `peer_pubkey`: when it happened and what it found,
    /// or `None` if the peer was never refreshed.
    pub fn peer_fees(
        &self,
        peer_pubkey: &str,
    ) -> Result<Option<(u64, Option<FeePercentiles>)>, StoreError> {
        type Row = (
            i64,
            Option<u32>,
            Option<u32>,
            Option<u32>,
            Option<u32>,
            Option<u32>,
        );
        let row: Option<Row> = self
            .lock()
            .prepare_cached(
                "SELECT refreshed_at, channels, p25_ppm, p50_ppm, p75_ppm, p90_ppm
                 FROM peer_fees WHERE peer_pubkey = ?1",
            )
            .and_then(|mut stmt| {
                stmt.query_row([peer_pubkey], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                    ))
                })
                .optional()
            })
            .map_err(self.sql("reading peer fees"))?;
        Ok(row.map(|(at, channels, p25, p50, p75, p90)| {
            let fees = match (channels, p25, p50, p75, p90) {
                (Some(channels), Some(p25_ppm), Some(p50_ppm), Some(p75_ppm), Some(p90_ppm)) => {
                    Some(FeePercentiles {
                        channels,
                        p25_ppm,
                        p50_ppm,
                        p75_ppm,
                        p90_ppm,
                    })
                }
                _ => None,
            };
            (time_from_sql(at), fees)
        }))
    }
}
