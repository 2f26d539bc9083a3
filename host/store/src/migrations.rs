use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::StoreError;

struct Migration {
    file: &'static str,
    sql: &'static str,
}

/// Migration `i` (0-based) takes the schema from version `i` to `i + 1`; the
/// version is kept in `PRAGMA user_version`. Append only: a released file
/// never changes, since databases in the field have already run it.
const MIGRATIONS: &[Migration] = &[
    Migration {
        file: "0001_initial.sql",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        file: "0002_history.sql",
        sql: include_str!("../migrations/0002_history.sql"),
    },
    Migration {
        file: "0003_experiments.sql",
        sql: include_str!("../migrations/0003_experiments.sql"),
    },
    Migration {
        file: "0004_channel_costs.sql",
        sql: include_str!("../migrations/0004_channel_costs.sql"),
    },
    Migration {
        file: "0005_peer_fees.sql",
        sql: include_str!("../migrations/0005_peer_fees.sql"),
    },
    Migration {
        file: "0006_fee_changes.sql",
        sql: include_str!("../migrations/0006_fee_changes.sql"),
    },
    Migration {
        file: "0007_open_cost_lookups.sql",
        sql: include_str!("../migrations/0007_open_cost_lookups.sql"),
    },
    Migration {
        file: "0008_cycle_read_indexes.sql",
        sql: include_str!("../migrations/0008_cycle_read_indexes.sql"),
    },
    Migration {
        file: "0009_resolved_forwards_cursor.sql",
        sql: include_str!("../migrations/0009_resolved_forwards_cursor.sql"),
    },
    Migration {
        file: "0010_fee_change_index.sql",
        sql: include_str!("../migrations/0010_fee_change_index.sql"),
    },
    Migration {
        file: "0011_intents_by_time.sql",
        sql: include_str!("../migrations/0011_intents_by_time.sql"),
    },
    Migration {
        file: "0012_outbound_fee_share.sql",
        sql: include_str!("../migrations/0012_outbound_fee_share.sql"),
    },
    Migration {
        file: "0013_experiment_departures.sql",
        sql: include_str!("../migrations/0013_experiment_departures.sql"),
    },
    Migration {
        file: "0014_inbound_base_fee_changes.sql",
        sql: include_str!("../migrations/0014_inbound_base_fee_changes.sql"),
    },
    Migration {
        file: "0015_node_identity.sql",
        sql: include_str!("../migrations/0015_node_identity.sql"),
    },
    Migration {
        file: "0016_experiment_arm_definitions.sql",
        sql: include_str!("../migrations/0016_experiment_arm_definitions.sql"),
    },
    Migration {
        file: "0017_learned_htlc_floors.sql",
        sql: include_str!("../migrations/0017_learned_htlc_floors.sql"),
    },
    Migration {
        file: "0018_channel_updates_per_intent.sql",
        sql: include_str!("../migrations/0018_channel_updates_per_intent.sql"),
    },
    Migration {
        file: "0019_channel_analyses.sql",
        sql: include_str!("../migrations/0019_channel_analyses.sql"),
    },
    Migration {
        file: "0020_competitor_fees_toward_the_peer.sql",
        sql: include_str!("../migrations/0020_competitor_fees_toward_the_peer.sql"),
    },
    Migration {
        file: "0021_payment_parts.sql",
        sql: include_str!("../migrations/0021_payment_parts.sql"),
    },
    Migration {
        file: "0022_decision_tallies.sql",
        sql: include_str!("../migrations/0022_decision_tallies.sql"),
    },
    Migration {
        file: "0023_experiment_assignment_splits.sql",
        sql: include_str!("../migrations/0023_experiment_assignment_splits.sql"),
    },
];

pub(crate) fn latest_version() -> u32 {
    MIGRATIONS.len() as u32
}

pub(crate) fn user_version(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    let sql_err = |cause| StoreError::Sql {
        path: path.to_path_buf(),
        op: "reading the schema version",
        cause,
    };
    let raw: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql_err)?;
    u32::try_from(raw).map_err(|_| StoreError::Invalid {
        path: path.to_path_buf(),
        what: format!("schema version {raw} is negative: not an lnpolicy database"),
    })
}

pub(crate) fn refuse_if_newer(version: u32, path: &Path) -> Result<(), StoreError> {
    let known = latest_version();
    if version > known {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found: version,
            known,
            latest_file: MIGRATIONS[MIGRATIONS.len() - 1].file,
        });
    }
    Ok(())
}

/// Applies each missing migration in its own transaction, so a failure leaves
/// the database at the last good version rather than half-migrated.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let version = user_version(conn, path)?;
    refuse_if_newer(version, path)?;
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let target = index as u32 + 1;
        let migrate_err = |cause| StoreError::Migrate {
            path: path.to_path_buf(),
            version: target,
            file: migration.file,
            cause,
        };
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(migrate_err)?;
        // Another process may have migrated while this one waited for the lock.
        let current = user_version(&tx, path)?;
        refuse_if_newer(current, path)?;
        if current >= target {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(migrate_err)?;
        tx.pragma_update(None, "user_version", target)
            .map_err(migrate_err)?;
        tx.commit().map_err(migrate_err)?;
        tracing::info!(path = %path.display(), version = target, file = migration.file, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file name's number is the version it migrates to; a file listed out
    /// of order would silently skip or repeat a migration.
    #[test]
    fn files_are_numbered_in_order() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            let prefix = format!("{:04}_", index + 1);
            assert!(
                migration.file.starts_with(&prefix),
                "{} listed at position {}",
                migration.file,
                index + 1
            );
            assert!(migration.file.ends_with(".sql"));
        }
    }
}
