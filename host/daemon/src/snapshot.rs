//! A copy of the database for runs that must change nothing: dry runs, `test-channel`, the
//! listing of rollback candidates, and every cycle of a `daemon --dry-run`. Such a run needs no
//! lock (it works beside a daemon), and what it records (decisions, reconciled intents,
//! experiment draws) is dropped with the copy, so it never reaches the real database's reports.

use std::path::{Path, PathBuf};

use lnpolicy_store::{Store, StoreError};

/// How the folders of the copies are named.
const PREFIX: &str = ".lnpolicy-snapshot-";

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
        builder.prefix(PREFIX);
        let dir = match folder_of(db) {
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

    /// A copy untouched this long belongs to a run that was killed: no dry run lasts a day.
    pub const LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(86_400);

    /// Deletes the copies next to `db` that a killed run left behind (a run that ends in any
    /// other way deletes its own): those untouched for `older_than`, so that the copy of a
    /// dry run going on beside is left alone. Returns how many went; a folder that cannot be
    /// read or removed is skipped with a warning.
    pub fn remove_leftovers(db: &Path, older_than: std::time::Duration) -> usize {
        let Some(folder) = folder_of(db) else {
            return 0;
        };
        let Ok(entries) = std::fs::read_dir(folder) else {
            return 0;
        };
        let mut removed = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|at| at.elapsed().ok())
                .is_some_and(|age| age >= older_than);
            if !name.to_string_lossy().starts_with(PREFIX) || !stale {
                continue;
            }
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => removed += 1,
                Err(error) => tracing::warn!(
                    path = %entry.path().display(),
                    %error,
                    "could not remove a database copy a killed run left behind"
                ),
            }
        }
        removed
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

/// The folder `db` is in, if it exists: `.` for a bare file name.
fn folder_of(db: &Path) -> Option<&Path> {
    let folder = match db.parent() {
        Some(parent) if parent.as_os_str().is_empty() => Path::new("."),
        Some(parent) => parent,
        None => return None,
    };
    folder.is_dir().then_some(folder)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Snapshot;

    #[test]
    fn leftovers_of_killed_runs_are_removed_and_a_copy_in_use_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("lnpolicy.db");
        lnpolicy_store::Store::open(&db).unwrap();
        let in_use = Snapshot::of(&db).unwrap();
        let left = dir.path().join(".lnpolicy-snapshot-killed");
        std::fs::create_dir(&left).unwrap();
        std::fs::write(left.join("lnpolicy.db"), b"old copy").unwrap();
        let other = dir.path().join("notes");
        std::fs::create_dir(&other).unwrap();

        assert_eq!(
            Snapshot::remove_leftovers(&db, Duration::from_secs(3600)),
            0
        );
        assert_eq!(Snapshot::remove_leftovers(&db, Duration::ZERO), 2);
        assert!(!left.exists() && other.exists() && db.exists());
        assert!(
            !in_use.path().exists(),
            "with no age limit, even a copy in use goes"
        );
    }
}
