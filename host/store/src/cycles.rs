use rusqlite::{OptionalExtension, params};

use crate::{Store, StoreError, limit_to_sql, time_from_sql, time_to_sql};

/// How a decision cycle ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CycleStatus {
    Ok,
    Failed,
    /// The failure that pushed the strategy into quarantine.
    Quarantined,
}

impl CycleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CycleStatus::Ok => "ok",
            CycleStatus::Failed => "failed",
            CycleStatus::Quarantined => "quarantined",
        }
    }

    fn parse(text: &str) -> Option<CycleStatus> {
        [
            CycleStatus::Ok,
            CycleStatus::Failed,
            CycleStatus::Quarantined,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

/// One decision cycle as stored; `finished_at` and `status` are `None` while it
/// runs, or forever if the daemon died during it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    pub id: i64,
    pub strategy: String,
    pub sha256: String,
    pub started_at: u64,
    pub finished_at: Option<u64>,
    pub channels: u32,
    pub status: Option<CycleStatus>,
    pub error: Option<String>,
}

const CYCLE_COLUMNS: &str =
    "SELECT id, strategy, sha256, started_at, finished_at, channels, status, error FROM cycles";

type CycleRow = (
    i64,
    String,
    String,
    i64,
    Option<i64>,
    i64,
    Option<String>,
    Option<String>,
);

fn read_cycle(row: &rusqlite::Row<'_>) -> rusqlite::Result<CycleRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

impl Store {
    /// Opens a cycle before the strategy is called, so a cycle that never
    /// finishes (crash, hang) is still visible; returns the id decisions refer to.
    pub fn begin_cycle(
        &self,
        strategy: &str,
        sha256: &str,
        at: u64,
        channels: u32,
    ) -> Result<i64, StoreError> {
        self.lock()
            .query_row(
                "INSERT INTO cycles (strategy, sha256, started_at, channels)
                 VALUES (?1, ?2, ?3, ?4) RETURNING id",
                params![strategy, sha256, time_to_sql(at), channels],
                |row| row.get(0),
            )
            .map_err(self.sql("beginning a cycle"))
    }

    /// Records how a cycle ended; refused for an unknown or already finished one.
    pub fn finish_cycle(
        &self,
        id: i64,
        at: u64,
        status: CycleStatus,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write("finishing a cycle", |tx| {
            let changed = tx
                .execute(
                    "UPDATE cycles SET finished_at = ?2, status = ?3, error = ?4
                     WHERE id = ?1 AND finished_at IS NULL",
                    params![id, time_to_sql(at), status.as_str(), error],
                )
                .map_err(self.sql("finishing a cycle"))?;
            if changed == 1 {
                return Ok(());
            }
            let previous: Option<Option<String>> = tx
                .query_row("SELECT status FROM cycles WHERE id = ?1", [id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(self.sql("finishing a cycle"))?;
            Err(StoreError::CycleNotOpen {
                path: self.path.clone(),
                id,
                state: match previous {
                    None => "no such cycle".to_owned(),
                    Some(status) => format!(
                        "already finished ({})",
                        status.as_deref().unwrap_or("unknown")
                    ),
                },
            })
        })
    }

    pub fn cycle(&self, id: i64) -> Result<Option<Cycle>, StoreError> {
        let row = self
            .lock()
            .query_row(&format!("{CYCLE_COLUMNS} WHERE id = ?1"), [id], read_cycle)
            .optional()
            .map_err(self.sql("reading a cycle"))?;
        row.map(|row| self.to_cycle(row)).transpose()
    }

    /// The latest cycles, newest first, for status displays.
    pub fn recent_cycles(&self, limit: usize) -> Result<Vec<Cycle>, StoreError> {
        let rows: Vec<CycleRow> = self
            .lock()
            .prepare(&format!("{CYCLE_COLUMNS} ORDER BY id DESC LIMIT ?1"))
            .and_then(|mut stmt| stmt.query_map([limit_to_sql(limit)], read_cycle)?.collect())
            .map_err(self.sql("reading cycles"))?;
        rows.into_iter().map(|row| self.to_cycle(row)).collect()
    }

    fn to_cycle(&self, row: CycleRow) -> Result<Cycle, StoreError> {
        let (id, strategy, sha256, started_at, finished_at, channels, status, error) = row;
        let status = status
            .map(|text| {
                CycleStatus::parse(&text)
                    .ok_or_else(|| self.invalid(format!("cycle {id} has unknown status {text:?}")))
            })
            .transpose()?;
        let channels = u32::try_from(channels).map_err(|_| {
            self.invalid(format!(
                "cycle {id} has an impossible channel count {channels}"
            ))
        })?;
        Ok(Cycle {
            id,
            strategy,
            sha256,
            started_at: time_from_sql(started_at),
            finished_at: finished_at.map(time_from_sql),
            channels,
            status,
            error,
        })
    }
}

/// Where a run stands, for progress lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgressSummary {
    pub cycles: u64,
    /// Unix seconds of the latest cycle.
    pub last_cycle_at: u64,
    pub updates_applied: u64,
    /// Fees earned on all stored forwards.
    pub fees_msat: u64,
}

impl Store {
    /// Cycles, applied updates and fees so far; `None` before the first cycle.
    pub fn progress_summary(&self) -> Result<Option<ProgressSummary>, StoreError> {
        let conn = self.lock();
        let (cycles, last): (i64, Option<i64>) = conn
            .query_row("SELECT COUNT(*), MAX(started_at) FROM cycles", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .map_err(self.sql("counting cycles"))?;
        let Some(last) = last else {
            return Ok(None);
        };
        let applied: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM update_intents WHERE status = 'applied'",
                [],
                |row| row.get(0),
            )
            .map_err(self.sql("counting applied updates"))?;
        let fees: i64 = conn
            .query_row(
                "SELECT COALESCE(SUM(fee_msat), 0) FROM forwards",
                [],
                |row| row.get(0),
            )
            .map_err(self.sql("summing fees"))?;
        Ok(Some(ProgressSummary {
            cycles: cycles.max(0) as u64,
            last_cycle_at: time_from_sql(last),
            updates_applied: applied.max(0) as u64,
            fees_msat: fees.max(0) as u64,
        }))
    }
}
