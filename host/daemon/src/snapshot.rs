//! A copy of the database for runs that must change nothing: dry runs, `test-channel`, the
//! listing of rollback candidates, and every cycle of a `daemon --dry-run`. Such a run needs no
//! lock (it works beside a daemon), and what it records (decisions, reconciled intents,
//! experiment draws) is dropped with the copy, so it never reaches the real database's reports.

use std::path::{Path, PathBuf};

use lnpolicy_store::{Store, StoreError};

/// The copy, in a hidden folder next to the database (on the disk that already holds it; the
/// system's temporary folder is often a small memory-backed one), deleted on drop.
#[derive(Debug)]
pub struct Snapshot {
    _dir: tempfile::TempDir,
    path: PathBuf,
    found: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("creating a folder for a snapshot of {}: {cause}", db.display())]
    Folder { db: PathBuf, cause: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Snapshot {
    /// Copies the database at `db` as it is now; without a database there yet, the copy is
    /// an empty one ([`Snapshot::found_database`] says which).
    pub fn of(db: &Path) -> Result<Snapshot, SnapshotError> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(".lnpolicy-snapshot-");
        let dir = match db.parent().filter(|p| p.is_dir()) {
            Some(folder) => builder.tempdir_in(folder),
            None => builder.tempdir(),
        }
        .map_err(|cause| SnapshotError::Folder {
            db: db.to_path_buf(),
            cause,
        })?;
        let path = dir.path().join("lnpolicy.db");
        let found = Store::snapshot(db, &path)?;
        Ok(Snapshot {
            _dir: dir,
            path,
            found,
        })
    }

    /// Where the copy is; open it with [`Store::open`].
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether there was a database to copy.
    pub fn found_database(&self) -> bool {
        self.found
    }
}
