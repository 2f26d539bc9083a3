use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError, time_to_sql};

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
}
