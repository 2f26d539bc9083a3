use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError, channel_id_to_sql, time_to_sql};

impl Store {
    pub fn state_get(&self, strategy: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.lock()
            .query_row(
                "SELECT value FROM strategy_state WHERE strategy = ?1 AND key = ?2",
                [strategy, key],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.sql("reading strategy state"))
    }

    /// All of a strategy's state, as handed to it at the start of a cycle.
    pub fn state_all(&self, strategy: &str) -> Result<BTreeMap<String, Vec<u8>>, StoreError> {
        self.lock()
            .prepare("SELECT key, value FROM strategy_state WHERE strategy = ?1")
            .and_then(|mut stmt| {
                stmt.query_map([strategy], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect()
            })
            .map_err(self.sql("reading strategy state"))
    }

    /// Applies a cycle's writes in order (`Some` sets, `None` deletes) in one
    /// transaction: a strategy must never see half of a cycle's state.
    pub fn state_apply(
        &self,
        strategy: &str,
        writes: &[(String, Option<Vec<u8>>)],
        at: u64,
    ) -> Result<(), StoreError> {
        self.write("writing strategy state", |tx| {
            let mut set = tx
                .prepare_cached(
                    "INSERT INTO strategy_state (strategy, key, value, updated_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (strategy, key)
                     DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                )
                .map_err(self.sql("writing strategy state"))?;
            let mut delete = tx
                .prepare_cached("DELETE FROM strategy_state WHERE strategy = ?1 AND key = ?2")
                .map_err(self.sql("writing strategy state"))?;
            for (key, value) in writes {
                match value {
                    Some(value) => set.execute(params![strategy, key, value, time_to_sql(at)]),
                    None => delete.execute(params![strategy, key]),
                }
                .map_err(self.sql("writing strategy state"))?;
            }
            Ok(())
        })
    }

    /// Removes every strategy's `ch:<id>` and `ch:<id>:…` keys of channels that closed before
    /// `closed_before` (unix seconds): missing from the latest collection, their last snapshot
    /// older than that. Guests cannot list their keys, so without this a per-channel entry
    /// outlived its channel and the state budget filled as channels came and went. Returns
    /// how many entries went.
    pub fn prune_closed_channel_state(&self, closed_before: u64) -> Result<usize, StoreError> {
        let sql = self.sql("removing the state of closed channels");
        self.write("removing the state of closed channels", |tx| {
            let keys: Vec<(String, String)> = tx
                .prepare_cached("SELECT strategy, key FROM strategy_state WHERE key LIKE 'ch:%'")
                .and_then(|mut stmt| {
                    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                        .collect()
                })
                .map_err(&sql)?;
            if keys.is_empty() {
                return Ok(0);
            }
            let latest: Option<i64> = tx
                .query_row("SELECT MAX(at) FROM channel_snapshots", [], |row| {
                    row.get(0)
                })
                .map_err(&sql)?;
            let Some(latest) = latest else {
                return Ok(0);
            };
            // One index seek per channel named in a key, not a scan of every snapshot.
            let mut last_seen = tx
                .prepare_cached("SELECT MAX(at) FROM channel_snapshots WHERE channel_id = ?1")
                .map_err(&sql)?;
            let mut closed = BTreeMap::new();
            let mut delete = tx
                .prepare_cached("DELETE FROM strategy_state WHERE strategy = ?1 AND key = ?2")
                .map_err(&sql)?;
            let mut removed = 0;
            for (strategy, key) in keys {
                let Ok(id) = key["ch:".len()..].split(':').next().unwrap_or("").parse() else {
                    continue;
                };
                let gone = match closed.get(&id) {
                    Some(&gone) => gone,
                    None => {
                        let last: Option<i64> = last_seen
                            .query_row([channel_id_to_sql(id)], |row| row.get(0))
                            .map_err(&sql)?;
                        let gone = last
                            .is_some_and(|last| last < latest && last < time_to_sql(closed_before));
                        closed.insert(id, gone);
                        gone
                    }
                };
                if gone {
                    removed += delete.execute(params![strategy, key]).map_err(&sql)?;
                }
            }
            Ok(removed)
        })
    }
}
