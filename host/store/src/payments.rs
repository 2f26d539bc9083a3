//! Parts of our own payments (migration 0021), kept for what rebalancing cost each channel.

use std::collections::HashMap;

use lnpolicy_core::{ChannelId, PaymentPart, UnresolvedPayment};
use rusqlite::params;

use crate::{
    Store, StoreError, Stream, channel_id_from_sql, channel_id_to_sql, time_from_sql, time_to_sql,
    to_sql,
};

/// How long a part waits for the other side of its payment, after the newest part stored,
/// before it is taken for a payment that was not a rebalance and dropped. The two sides of a
/// circular payment usually settle seconds apart, but a peer that goes offline before
/// settling one side can delay it for as long as an HTLC may be held: two weeks (2016
/// blocks, the longest timeout nodes accept by default).
const UNPAIRED_KEPT_SECS: u64 = 14 * 86_400;

impl Store {
    /// Stores one page of [`Stream::PaymentParts`], the payments it passed over unresolved
    /// and its cursor in one transaction, and drops the parts two weeks older than the newest
    /// that no other side joined: payments that were not to ourselves (an invoice paid to us,
    /// one we paid), which cost no channel anything and would otherwise pile up. Returns how
    /// many rows were new.
    pub fn add_payment_parts(
        &self,
        parts: &[PaymentPart],
        unresolved: &[UnresolvedPayment],
        next_index: u64,
    ) -> Result<usize, StoreError> {
        const WHAT: &str = "storing payment parts";
        self.write(WHAT, |tx| {
            let added = self.insert_payment_parts(tx, parts)?;
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO unresolved_payments (node_index, started)
                     VALUES (?1, ?2)",
                )
                .map_err(self.sql(WHAT))?;
            for payment in unresolved {
                stmt.execute(params![
                    to_sql(payment.index),
                    time_to_sql(payment.started_secs)
                ])
                .map_err(self.sql(WHAT))?;
            }
            self.set_cursor(tx, Stream::PaymentParts, next_index)?;
            Ok(added)
        })
    }

    /// Payments passed over while unresolved, oldest first.
    pub fn unresolved_payments(&self) -> Result<Vec<UnresolvedPayment>, StoreError> {
        const WHAT: &str = "reading the payments still unresolved";
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "SELECT node_index, started FROM unresolved_payments ORDER BY node_index",
            )
            .map_err(self.sql(WHAT))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(UnresolvedPayment {
                    index: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                    started_secs: time_from_sql(row.get(1)?),
                })
            })
            .map_err(self.sql(WHAT))?;
        rows.collect::<Result<_, _>>().map_err(self.sql(WHAT))
    }

    /// Closes an unresolved payment: stores the parts it resolved to (none when it failed, was
    /// not a rebalance or is gone from the node), and no longer reads it again. The cursor
    /// stays where it is. Returns how many rows were new.
    pub fn resolve_payment(&self, index: u64, parts: &[PaymentPart]) -> Result<usize, StoreError> {
        const WHAT: &str = "storing a payment that resolved";
        self.write(WHAT, |tx| {
            let added = self.insert_payment_parts(tx, parts)?;
            tx.execute(
                "DELETE FROM unresolved_payments WHERE node_index = ?1",
                params![to_sql(index)],
            )
            .map_err(self.sql(WHAT))?;
            Ok(added)
        })
    }

    /// Adds the parts not stored yet, then drops the unpaired ones gone stale (see
    /// [`Store::add_payment_parts`]).
    fn insert_payment_parts(
        &self,
        tx: &rusqlite::Transaction<'_>,
        parts: &[PaymentPart],
    ) -> Result<usize, StoreError> {
        const WHAT: &str = "storing payment parts";
        let mut added = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR IGNORE INTO payment_parts (node_index, part, at, channel_id,
                             payment_hash, sent, amount_msat, fee_msat)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )
                .map_err(self.sql(WHAT))?;
            for p in parts {
                added += stmt
                    .execute(params![
                        to_sql(p.index),
                        p.part,
                        time_to_sql(p.at_secs),
                        p.channel.map(channel_id_to_sql),
                        p.payment_hash.to_ascii_lowercase(),
                        p.sent,
                        to_sql(p.amount_msat),
                        to_sql(p.fee_msat),
                    ])
                    .map_err(self.sql(WHAT))?;
            }
        }
        tx.execute(
            "DELETE FROM payment_parts AS p
             WHERE p.at < (SELECT MAX(at) FROM payment_parts) - ?1
               AND NOT EXISTS (SELECT 1 FROM payment_parts AS other
                               WHERE other.payment_hash = p.payment_hash
                                 AND other.sent <> p.sent)",
            params![to_sql(UNPAIRED_KEPT_SECS)],
        )
        .map_err(self.sql(WHAT))?;
        Ok(added)
    }

    /// What rebalancing cost each channel from `since` (unix seconds) on, msat: the sum of
    /// its [`Store::rebalance_charges`].
    pub fn rebalance_costs(&self, since: u64) -> Result<HashMap<ChannelId, u64>, StoreError> {
        let mut costs = HashMap::new();
        for charge in self.rebalance_charges(since)? {
            *costs.entry(charge.channel_id).or_insert(0) += charge.cost_msat;
        }
        Ok(costs)
    }

    /// Each rebalance from `since` (unix seconds) on, charged to the channels it arrived by
    /// (the ones whose outbound liquidity it bought): the routing fees of the payment to
    /// ourselves, shared by the amount each received, dated when it arrived. A payment that
    /// arrived partly by a channel the node no longer knows leaves that share uncharged.
    pub fn rebalance_charges(&self, since: u64) -> Result<Vec<RebalanceCharge>, StoreError> {
        const WHAT: &str = "reading rebalancing costs";
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(
                "WITH paid AS (
                     SELECT payment_hash, SUM(fee_msat) AS fee FROM payment_parts
                     WHERE sent = 1 AND at >= ?1 GROUP BY payment_hash),
                 arrived AS (
                     SELECT payment_hash, SUM(amount_msat) AS amount FROM payment_parts
                     WHERE sent = 0 AND at >= ?1 GROUP BY payment_hash),
                 refilled AS (
                     SELECT payment_hash, channel_id, SUM(amount_msat) AS amount, MAX(at) AS at
                     FROM payment_parts
                     WHERE sent = 0 AND channel_id IS NOT NULL AND at >= ?1
                     GROUP BY payment_hash, channel_id)
                 SELECT r.channel_id, r.at,
                        CAST(ROUND(CAST(p.fee AS REAL) * r.amount / a.amount) AS INTEGER)
                 FROM refilled AS r
                 JOIN paid AS p USING (payment_hash)
                 JOIN arrived AS a USING (payment_hash)
                 WHERE a.amount > 0
                 ORDER BY r.at, r.channel_id",
            )
            .map_err(self.sql(WHAT))?;
        let rows = stmt
            .query_map([time_to_sql(since)], |row| {
                Ok(RebalanceCharge {
                    channel_id: channel_id_from_sql(row.get(0)?),
                    at: time_from_sql(row.get(1)?),
                    cost_msat: u64::try_from(row.get::<_, i64>(2)?).unwrap_or(0),
                })
            })
            .map_err(self.sql(WHAT))?;
        rows.collect::<Result<_, _>>().map_err(self.sql(WHAT))
    }
}

/// One rebalance's cost to one channel it refilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebalanceCharge {
    pub channel_id: ChannelId,
    /// Unix seconds when it arrived by the channel.
    pub at: u64,
    pub cost_msat: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(
        index: u64,
        at: u64,
        channel: u64,
        hash: &str,
        sent: bool,
        amount: u64,
        fee: u64,
    ) -> PaymentPart {
        PaymentPart {
            index,
            part: 0,
            at_secs: at,
            channel: Some(channel),
            payment_hash: hash.to_owned(),
            sent,
            amount_msat: amount,
            fee_msat: fee,
        }
    }

    #[test]
    fn a_rebalance_costs_the_channel_it_refilled_also_when_its_sides_come_pages_apart() {
        let store = Store::open_in_memory().unwrap();
        // Sent by channel 1, paying 700 msat, arriving by channel 2 one page later.
        store
            .add_payment_parts(&[part(1, 1000, 1, "AA", true, 1_000_000, 700)], &[], 1)
            .unwrap();
        assert!(store.rebalance_costs(0).unwrap().is_empty());
        store
            .add_payment_parts(&[part(2, 1001, 2, "aa", false, 1_000_000, 0)], &[], 2)
            .unwrap();
        assert_eq!(store.cursor(Stream::PaymentParts).unwrap(), 2);
        let costs = store.rebalance_costs(0).unwrap();
        assert_eq!(costs.get(&2), Some(&700));
        assert_eq!(costs.get(&1), None, "the channel it left by gained nothing");
        assert!(
            store.rebalance_costs(1002).unwrap().is_empty(),
            "from after it, nothing"
        );
    }

    #[test]
    fn payments_not_to_ourselves_cost_nothing_and_are_dropped_after_two_weeks() {
        let store = Store::open_in_memory().unwrap();
        store
            .add_payment_parts(
                &[
                    // An invoice paid to us, and one we paid with a fee: neither a rebalance.
                    part(1, 1000, 1, "bb", false, 5_000_000, 0),
                    part(2, 1000, 2, "cc", true, 5_000_000, 900),
                    // A rebalance, as old.
                    part(3, 1000, 1, "dd", true, 2_000_000, 300),
                    part(4, 1000, 2, "dd", false, 2_000_000, 0),
                ],
                &[],
                4,
            )
            .unwrap();
        assert_eq!(store.rebalance_costs(0).unwrap(), HashMap::from([(2, 300)]));
        store
            .add_payment_parts(
                &[part(5, 1000 + UNPAIRED_KEPT_SECS + 1, 3, "ee", false, 1, 0)],
                &[],
                5,
            )
            .unwrap();
        let kept: Vec<i64> = store
            .lock()
            .prepare("SELECT node_index FROM payment_parts ORDER BY node_index")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(kept, [3, 4, 5]);
        assert_eq!(store.rebalance_costs(0).unwrap(), HashMap::from([(2, 300)]));
    }

    #[test]
    fn a_rebalance_in_parts_shares_its_fee_by_what_each_channel_received() {
        let store = Store::open_in_memory().unwrap();
        let mut parts = vec![
            part(7, 50, 1, "ff", true, 3_000_000, 400),
            part(7, 50, 4, "ff", true, 1_000_000, 200),
            part(7, 50, 2, "ff", false, 3_000_000, 0),
            part(7, 50, 3, "ff", false, 1_000_000, 0),
        ];
        for (i, p) in parts.iter_mut().enumerate() {
            p.part = i as u32;
        }
        // A part of another payment arrived by a channel the node forgot.
        let mut forgotten = part(8, 60, 0, "99", true, 1_000_000, 100);
        let mut arrived = part(8, 60, 0, "99", false, 1_000_000, 0);
        forgotten.part = 0;
        arrived.part = 1;
        forgotten.channel = Some(2);
        arrived.channel = None;
        parts.extend([forgotten, arrived]);
        assert_eq!(store.add_payment_parts(&parts, &[], 8).unwrap(), 6);
        assert_eq!(
            store.add_payment_parts(&parts, &[], 8).unwrap(),
            0,
            "a page read twice adds nothing"
        );
        assert_eq!(
            store.rebalance_costs(0).unwrap(),
            HashMap::from([(2, 450), (3, 150)])
        );
        let charge = |channel_id, cost_msat| RebalanceCharge {
            channel_id,
            at: 50,
            cost_msat,
        };
        assert_eq!(
            store.rebalance_charges(0).unwrap(),
            [charge(2, 450), charge(3, 150)],
            "each channel's share, dated when it arrived"
        );
        assert!(store.rebalance_charges(51).unwrap().is_empty());
    }

    #[test]
    fn a_payment_passed_over_in_flight_is_read_again_until_it_resolves() {
        let store = Store::open_in_memory().unwrap();
        let in_flight = UnresolvedPayment {
            index: 5,
            started_secs: 150,
        };
        store
            .add_payment_parts(&[part(6, 200, 1, "12", true, 1_000, 10)], &[in_flight], 6)
            .unwrap();
        store.add_payment_parts(&[], &[in_flight], 6).unwrap();
        assert_eq!(store.unresolved_payments().unwrap(), [in_flight]);
        let settled = [
            part(5, 300, 3, "34", true, 2_000_000, 900),
            part(5, 300, 4, "34", false, 2_000_000, 0),
        ];
        let mut settled = settled.to_vec();
        settled[1].part = 1;
        assert_eq!(store.resolve_payment(5, &settled).unwrap(), 2);
        assert!(store.unresolved_payments().unwrap().is_empty());
        assert_eq!(
            store.cursor(Stream::PaymentParts).unwrap(),
            6,
            "the cursor stays"
        );
        assert_eq!(store.rebalance_costs(0).unwrap(), HashMap::from([(4, 900)]));
    }
}
