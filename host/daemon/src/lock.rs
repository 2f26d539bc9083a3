//! One daemon per database: two daemons on one database would both decide and both send
//! updates, and each would take the other's pending intents for its own crash leftovers.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::DaemonError;

/// An exclusive lock on `<db>.lock`, held until dropped or until the process ends (the OS
/// releases it even on SIGKILL, so a crash never leaves a stale lock behind). The file keeps
/// the holder's pid so that the refused daemon can say who holds it; the file itself is never
/// removed, because removing it would let a third process lock a new file while the second
/// still waits on the old one.
#[derive(Debug)]
pub struct DbLock {
    path: PathBuf,
    database: PathBuf,
    file: File,
}

/// The database file `db` names, however it is reached: one lock per file. A file not
/// created yet is where it will be: a dangling symlink's target, in its folder resolved.
fn resolved(db: &Path) -> PathBuf {
    let mut path = db.to_path_buf();
    // A bounded walk along a chain of links, as the OS bounds it.
    for _ in 0..40 {
        if let Ok(file) = std::fs::canonicalize(&path) {
            return file;
        }
        match std::fs::read_link(&path) {
            Ok(target) => path = path.parent().unwrap_or(Path::new("")).join(target),
            Err(_) => break,
        }
    }
    let folder = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(folder), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => path,
    }
}

impl DbLock {
    /// Takes the lock of database `db` without waiting.
    pub fn acquire(db: &Path) -> Result<DbLock, DaemonError> {
        let mut name = resolved(db).into_os_string();
        name.push(".lock");
        let path = PathBuf::from(name);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| DaemonError::CreateDir {
                path: dir.to_owned(),
                source,
            })?;
        }
        let file = take(&path)?;
        tracing::debug!(lock = %path.display(), pid = std::process::id(), "database lock taken");
        Ok(DbLock {
            path,
            database: db.to_owned(),
            file,
        })
    }

    /// Takes the lock again if its file was deleted or replaced since it was taken (by hand,
    /// by a clean-up job): the old file, now nameless, would refuse nobody. `Ok(true)` when
    /// it was taken again; `AlreadyRunning` when another process locked the new file first,
    /// and then this one must not run until it can take it.
    pub fn reassert(&mut self) -> Result<bool, DaemonError> {
        if !replaced(&self.path, &self.file) {
            return Ok(false);
        }
        self.file = take(&self.path)?;
        Ok(true)
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The database this lock guards.
    pub fn database(&self) -> &Path {
        &self.database
    }
}

/// Locks the file at `path`, creating it, and writes this process's pid into it. A file
/// deleted between being opened and being locked is opened afresh: the lock must be on the
/// file that the path names, the one the next process will open.
fn take(path: &Path) -> Result<File, DaemonError> {
    let io_error = |source| DaemonError::Lock {
        path: path.to_owned(),
        source,
    };
    let mut attempts = 0;
    let mut file = loop {
        attempts += 1;
        if attempts > MAX_ATTEMPTS {
            return Err(io_error(std::io::Error::other(
                "the lock file was deleted or replaced each time it was opened",
            )));
        }
        // Not truncated on open: until the lock is ours the content is the holder's pid.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) if !replaced(path, &file) => break file,
            Ok(()) => continue,
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                // The holder may not have written its pid yet: then it is just not named.
                let pid = file
                    .read_to_string(&mut text)
                    .ok()
                    .and_then(|_| text.trim().parse().ok());
                return Err(DaemonError::AlreadyRunning {
                    path: path.to_owned(),
                    pid,
                });
            }
            Err(TryLockError::Error(source)) => return Err(io_error(source)),
        }
    };
    file.set_len(0).map_err(io_error)?;
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    writeln!(file, "{}", std::process::id()).map_err(io_error)?;
    file.sync_all().map_err(io_error)?;
    Ok(file)
}

/// Opening and locking tried this many times while the file keeps being replaced.
const MAX_ATTEMPTS: u32 = 8;

/// Whether `path` no longer names `file`: deleted, or another file in its place (another
/// device or inode). A failed look at either that is not "not found" says nothing, and
/// counts as the same file: taking a second lock on it would conflict with our own.
fn replaced(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Err(error), _) => error.kind() == std::io::ErrorKind::NotFound,
        (Ok(named), Ok(held)) => named.dev() != held.dev() || named.ino() != held.ino(),
        (Ok(_), Err(_)) => false,
    }
}
