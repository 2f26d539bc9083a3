//! The one SQLite database of lnpolicy. Every table and every query lives here
//! so the schema has a single owner: it changes only through numbered
//! migrations in `migrations/`, and other crates never write SQL of their own.
//!
//! What it keeps: the strategy audit trail, each decision cycle with the raw and
//! guarded decision per channel, the update intents that make node calls
//! recoverable after a crash, the key/value state strategies carry between
//! cycles, and the daemon's own copy of the node's forwarding history.

mod analyses;
mod costs;
mod cycles;
mod decisions;
mod error;
mod events;
mod experiments;
mod history;
mod htlc_limits;
mod intents;
mod migrations;
mod payments;
mod peer_fees;
pub mod reports;
mod state;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use lnpolicy_core::ChannelId;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use cycles::{Cycle, CycleStatus, ProgressSummary};
pub use decisions::{DecisionRecord, Fold, StoredDecision};
pub use error::StoreError;
pub use experiments::Arm;
pub use history::{Earned, FlowTotals, SNAPSHOTS_KEPT_SECS, Stream};
pub use intents::{AppliedChange, Intent, IntentOutcome, IntentStatus, SeenFeeChange};
pub use payments::RebalanceCharge;
pub use peer_fees::fee_percentiles;

/// Long enough to ride out another process's write (the CLI inspecting the
/// daemon's database), short enough that a stuck lock surfaces as an error.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Handle on the database, shared by the daemon's threads.
///
/// One connection behind a mutex: SQLite serialises writers anyway, and a
/// single connection keeps each method's statements in one consistent view
/// without a pool.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if missing) the database at `path` and brings its schema
    /// up to date.
    ///
    /// WAL lets the CLI read while the daemon writes. `synchronous` is left at
    /// FULL so an intent is on disk before the node is called.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |cause| StoreError::Open {
            path: path.to_path_buf(),
            cause,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                path = %path.display(),
                mode,
                "SQLite refused WAL journal mode; readers will block the daemon's writes"
            );
        }
        Store::setup(conn, path.to_path_buf())
    }

    /// Opens the database at `path` for reading only, for reports beside a running daemon:
    /// nothing is migrated or written. Refuses a database of another schema version than this
    /// binary's, naming the path: a newer one as [`Store::open`] does, an older one
    /// ([`StoreError::TooOld`]) because upgrading it is for the process that writes to it.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        let open_err = |cause| StoreError::Open {
            path: path.to_path_buf(),
            cause,
        };
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        let version = migrations::user_version(&conn, path)?;
        migrations::refuse_if_newer(version, path)?;
        if version < migrations::latest_version() {
            return Err(StoreError::TooOld {
                path: path.to_path_buf(),
                found: version,
                known: migrations::latest_version(),
            });
        }
        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    /// Copies the database at `source` to `dest` (which must not exist) as it is at one
    /// instant, without writing to `source` or migrating it: for a run that must change
    /// nothing while another process, a daemon, may be writing. `Ok(false)`: there is no
    /// database at `source` yet. Refuses a database a newer lnpolicy wrote, naming `source`.
    pub fn snapshot(source: &Path, dest: &Path) -> Result<bool, StoreError> {
        let failed = |cause: String| StoreError::Snapshot {
            source_path: source.to_path_buf(),
            dest: dest.to_path_buf(),
            cause,
        };
        match std::fs::metadata(source) {
            Ok(_) => {}
            // A link to nowhere is a mistake to report, not "no database yet".
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return match std::fs::symlink_metadata(source) {
                    Ok(_) => Err(failed("it is a link to a file that does not exist".into())),
                    Err(_) => Ok(false),
                };
            }
            Err(e) => return Err(failed(e.to_string())),
        }
        let dest_text = dest
            .to_str()
            .ok_or_else(|| failed("the destination path is not valid UTF-8".into()))?;
        let open_err = |cause| StoreError::Open {
            path: source.to_path_buf(),
            cause,
        };
        let conn = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        migrations::refuse_if_newer(migrations::user_version(&conn, source)?, source)?;
        conn.execute("VACUUM INTO ?1", [dest_text])
            .map_err(|cause| failed(cause.to_string()))?;
        Ok(true)
    }

    /// A private database that disappears on drop, for tools and tests that
    /// must not leave files behind.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|cause| StoreError::Open {
            path: path.clone(),
            cause,
        })?;
        Store::setup(conn, path)
    }

    fn setup(mut conn: Connection, path: PathBuf) -> Result<Store, StoreError> {
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|cause| StoreError::Open {
                path: path.clone(),
                cause,
            })?;
        migrations::migrate(&mut conn, &path)?;
        let store = Store {
            conn: Mutex::new(conn),
            path,
        };
        // Forwards stored before their fee was shared between their channels (migration 12),
        // or by an older lnpolicy still running on the upgraded database. Looked for with a
        // read first: a report must not queue behind a daemon's writes for nothing.
        let unshared: bool = store
            .lock()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM forwards WHERE out_fee_msat IS NULL)",
                [],
                |row| row.get(0),
            )
            .map_err(store.sql("looking for forwards without their channels' shares"))?;
        let shared = if unshared {
            store.write(
                "sharing stored forwards' fees between their channels",
                |tx| {
                    history::share_out_fees(tx)
                        .map_err(store.sql("sharing stored forwards' fees between their channels"))
                },
            )?
        } else {
            0
        };
        if shared > 0 {
            tracing::info!(
                forwards = shared,
                "shared stored forwards' fees between their channels"
            );
        }
        Ok(store)
    }

    /// Where the database lives (`:memory:` for an in-memory one).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The number of the last migration applied.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        migrations::user_version(&self.lock(), &self.path)
    }

    /// Runs SQLite's full consistency check (the crash and fault tests end with it); any
    /// answer but "ok" is returned as the error's text.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare("PRAGMA integrity_check")
            .map_err(self.sql("checking integrity"))?;
        let lines = stmt
            .query_map([], |row| row.get::<_, String>(0))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.sql("checking integrity"))?;
        if lines == ["ok"] {
            Ok(())
        } else {
            Err(StoreError::Integrity {
                path: self.path.clone(),
                report: lines.join("; "),
            })
        }
    }

    /// A thread that panicked while holding the lock cannot have left a
    /// transaction open (rusqlite rolls back on drop), so the connection is
    /// still sound and poisoning is ignored rather than spread to every caller.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` in an IMMEDIATE transaction: taking the write lock up front
    /// means the busy timeout applies, instead of a deferred transaction
    /// failing at once when it tries to upgrade from read to write.
    fn write<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(self.sql(op))?;
        let value = f(&tx)?;
        tx.commit().map_err(self.sql(op))?;
        Ok(value)
    }

    fn sql(&self, op: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |cause| StoreError::Sql {
            path: self.path.clone(),
            op,
            cause,
        }
    }

    fn invalid(&self, what: String) -> StoreError {
        StoreError::Invalid {
            path: self.path.clone(),
            what,
        }
    }

    fn encode_json<T: serde::Serialize>(
        &self,
        what: &str,
        value: &T,
    ) -> Result<String, StoreError> {
        serde_json::to_string(value).map_err(|cause| StoreError::Json {
            path: self.path.clone(),
            what: format!("encoding {what}"),
            cause,
        })
    }

    fn decode_json<T: serde::de::DeserializeOwned>(
        &self,
        what: impl FnOnce() -> String,
        text: &str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(text).map_err(|cause| StoreError::Json {
            path: self.path.clone(),
            what: format!("decoding {}", what()),
            cause,
        })
    }
}

/// SQLite integers are signed; short channel ids use all 64 bits, so they are
/// stored bit-cast rather than range-checked.
pub fn channel_id_to_sql(id: ChannelId) -> i64 {
    id as i64
}

/// Inverse of [`channel_id_to_sql`].
pub fn channel_id_from_sql(value: i64) -> ChannelId {
    value as u64
}

/// Unix seconds are bit-cast like channel ids: exact both ways, with no error
/// path for values that never occur in practice.
fn time_to_sql(at: u64) -> i64 {
    at as i64
}

fn time_from_sql(value: i64) -> u64 {
    value as u64
}

/// Counts, amounts and indexes: SQLite integers are signed, and no real value comes near the
/// top of a u64, so one beyond is kept as the largest i64.
fn to_sql(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// `LIMIT` takes an i64; anything beyond it means "no limit" anyway.
fn limit_to_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
