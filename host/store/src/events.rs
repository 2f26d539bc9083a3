use lnpolicy_core::{EventSink, StrategyEvent, StrategyEventKind};
use rusqlite::params;
use serde::Deserialize;
use serde::de::IntoDeserializer;

use crate::{Store, StoreError, time_from_sql, time_to_sql};

impl Store {
    /// Appends one entry to the strategy audit trail; returns its id.
    pub fn record_event(&self, event: &StrategyEvent) -> Result<i64, StoreError> {
        self.lock()
            .query_row(
                "INSERT INTO strategy_events (at, strategy, sha256, kind, detail)
                 VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                params![
                    time_to_sql(event.at),
                    event.strategy,
                    event.sha256,
                    event.kind.as_str(),
                    event.detail
                ],
                |row| row.get(0),
            )
            .map_err(self.sql("recording a strategy event"))
    }

    /// The audit trail in the order it happened, of one strategy or of all.
    pub fn events(&self, strategy: Option<&str>) -> Result<Vec<StrategyEvent>, StoreError> {
        const COLUMNS: &str = "SELECT at, strategy, sha256, kind, detail FROM strategy_events";
        let conn = self.lock();
        let read = |row: &rusqlite::Row<'_>| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        };
        let rows = match strategy {
            Some(name) => conn
                .prepare(&format!("{COLUMNS} WHERE strategy = ?1 ORDER BY id"))
                .and_then(|mut stmt| stmt.query_map([name], read)?.collect()),
            None => conn
                .prepare(&format!("{COLUMNS} ORDER BY id"))
                .and_then(|mut stmt| stmt.query_map([], read)?.collect()),
        };
        let rows: Vec<_> = rows.map_err(self.sql("reading strategy events"))?;
        rows.into_iter()
            .map(|(at, strategy, sha256, kind, detail)| {
                Ok(StrategyEvent {
                    at: time_from_sql(at),
                    strategy,
                    sha256,
                    kind: self.parse_kind(&kind)?,
                    detail,
                })
            })
            .collect()
    }

    /// Reads a kind back through its serde name, which core keeps equal to
    /// `as_str`; the comparison catches the day the two drift apart.
    fn parse_kind(&self, text: &str) -> Result<StrategyEventKind, StoreError> {
        let parsed: Result<StrategyEventKind, serde::de::value::Error> =
            StrategyEventKind::deserialize(text.into_deserializer());
        match parsed {
            Ok(kind) if kind.as_str() == text => Ok(kind),
            _ => Err(self.invalid(format!(
                "unknown strategy event kind {text:?} (written by a newer lnpolicy?)"
            ))),
        }
    }
}

/// The daemon hands the store to the runtime as its sink. A lost audit entry
/// must not stop fee management, so a failed insert is logged, not raised.
impl EventSink for Store {
    fn record(&self, event: &StrategyEvent) {
        if let Err(error) = self.record_event(event) {
            tracing::error!(
                %error,
                strategy = %event.strategy,
                kind = event.kind.as_str(),
                detail = %event.detail,
                "strategy event lost"
            );
        }
    }
}
