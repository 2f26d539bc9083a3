//! What the analytics last made of each channel (migration 0019), for reports.

use std::collections::BTreeMap;

use lnpolicy_core::{ChannelAnalysis, ChannelId};
use rusqlite::params;

use crate::{
    Store, StoreError, channel_id_from_sql, channel_id_to_sql, time_from_sql, time_to_sql,
};

impl Store {
    /// Replaces each channel's analysis with the one made at `at`.
    pub fn record_channel_analyses(
        &self,
        analyses: &[(ChannelId, ChannelAnalysis)],
        at: u64,
    ) -> Result<(), StoreError> {
        const WHAT: &str = "recording the channels' analyses";
        self.write(WHAT, |tx| {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO channel_analyses (channel_id, at, analysis_json)
                     VALUES (?1, ?2, ?3)",
                )
                .map_err(self.sql(WHAT))?;
            for (channel, analysis) in analyses {
                let json = serde_json::to_string(analysis)
                    .expect("an analysis is numbers and names, always serializable");
                stmt.execute(params![channel_id_to_sql(*channel), time_to_sql(at), json])
                    .map_err(self.sql(WHAT))?;
            }
            Ok(())
        })
    }

    /// Each channel's latest analysis and when it was made; a row this version cannot read
    /// is left out.
    pub fn channel_analyses(
        &self,
    ) -> Result<BTreeMap<ChannelId, (u64, ChannelAnalysis)>, StoreError> {
        let sql = self.sql("reading the channels' analyses");
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached("SELECT channel_id, at, analysis_json FROM channel_analyses")
            .map_err(&sql)?;
        let rows = stmt
            .query_map([], |row| {
                Ok((
                    channel_id_from_sql(row.get(0)?),
                    time_from_sql(row.get(1)?),
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(&sql)?;
        let mut analyses = BTreeMap::new();
        for row in rows {
            let (channel, at, json) = row.map_err(&sql)?;
            if let Ok(analysis) = serde_json::from_str(&json) {
                analyses.insert(channel, (at, analysis));
            }
        }
        Ok(analyses)
    }
}

#[cfg(test)]
mod tests {
    use lnpolicy_core::{ChannelAnalysis, FlowClass, Profitability};

    use crate::Store;

    fn analysis(flow_class: FlowClass, profitability: Profitability) -> ChannelAnalysis {
        ChannelAnalysis {
            flow_class,
            profitability,
            revenue_rate_msat_per_hour: 12.5,
            history_secs: 3600,
            rebalance_cost_msat: 7_000,
        }
    }

    #[test]
    fn each_cycle_replaces_a_channels_analysis_and_an_unreadable_one_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
        let sink = analysis(FlowClass::Sink, Profitability::Underwater);
        let source = analysis(FlowClass::Source, Profitability::Profitable);
        store
            .record_channel_analyses(&[(1, sink), (2, sink)], 100)
            .unwrap();
        store.record_channel_analyses(&[(1, source)], 200).unwrap();
        let analyses = store.channel_analyses().unwrap();
        assert_eq!(analyses[&1], (200, source));
        assert_eq!(
            analyses[&2],
            (100, sink),
            "a channel not in the cycle keeps its own"
        );

        store
            .lock()
            .execute(
                "UPDATE channel_analyses SET analysis_json = '{\"flow_class\":\"spiral\"}' \
                 WHERE channel_id = 2",
                [],
            )
            .unwrap();
        assert_eq!(store.channel_analyses().unwrap().len(), 1);

        // Stored before rebalancing costs were read: none.
        store
            .lock()
            .execute(
                "UPDATE channel_analyses SET analysis_json = json_remove(analysis_json, \
                 '$.rebalance_cost_msat') WHERE channel_id = 1",
                [],
            )
            .unwrap();
        let older = store.channel_analyses().unwrap()[&1].1;
        assert_eq!(
            older,
            ChannelAnalysis {
                rebalance_cost_msat: 0,
                ..source
            }
        );
    }
}
