//! Hot reload: watches the strategies folder and syncs the registry with
//! every file that changed, after a short quiet period so that a file being
//! written is read once, complete.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use crate::{RuntimeError, StrategyRegistry};

const DEBOUNCE: Duration = Duration::from_millis(150);

/// Keeps the folder watched until dropped.
pub struct FolderWatcher {
    watcher: Option<notify::RecommendedWatcher>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FolderWatcher {
    fn drop(&mut self) {
        // Dropping the watcher closes the event channel, which ends the thread.
        self.watcher.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl StrategyRegistry {
    /// Loads `dir` now and then follows its changes until the returned
    /// watcher is dropped.
    pub fn watch(self: &Arc<Self>, dir: &Path) -> Result<FolderWatcher, RuntimeError> {
        let dir = dir.canonicalize().map_err(|source| RuntimeError::Folder {
            path: dir.to_owned(),
            source,
        })?;
        let (tx, rx) = channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = tx.send(event);
        })
        .map_err(|source| RuntimeError::Watch {
            path: dir.clone(),
            source,
        })?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|source| RuntimeError::Watch {
                path: dir.clone(),
                source,
            })?;
        self.sync_dir(&dir)?;
        let registry = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("lnpolicy-strategy-watch".into())
            .spawn(move || {
                let mut pending: BTreeSet<PathBuf> = BTreeSet::new();
                let mut rescan = false;
                // Quiet time counts from the last change: events that are not (someone
                // reading the folder) must not put the sync off.
                let mut last_change = Instant::now();
                loop {
                    let wait = if pending.is_empty() && !rescan {
                        DEBOUNCE
                    } else {
                        (last_change + DEBOUNCE).saturating_duration_since(Instant::now())
                    };
                    match rx.recv_timeout(wait) {
                        // The registry's own reads would otherwise trigger reads forever.
                        Ok(Ok(event)) if !event.need_rescan() && !is_content_change(&event.kind) => {}
                        Ok(Ok(event)) => {
                            last_change = Instant::now();
                            rescan |= event.need_rescan();
                            // Event paths may be spelled differently from our
                            // canonical folder: key files by name within it.
                            pending.extend(
                                event
                                    .paths
                                    .iter()
                                    .filter_map(|p| p.file_name())
                                    .map(|name| dir.join(name)),
                            );
                        }
                        Ok(Err(err)) => {
                            tracing::warn!(folder = %dir.display(), error = %err, "watch error; rescanning");
                            last_change = Instant::now();
                            rescan = true;
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            if rescan {
                                rescan = false;
                                pending.clear();
                                if let Err(err) = registry.sync_dir(&dir) {
                                    tracing::warn!(error = %err, "rescan failed");
                                }
                            }
                            for path in std::mem::take(&mut pending) {
                                registry.sync_file(&path);
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .map_err(|source| RuntimeError::Folder {
                path: PathBuf::from("<watch thread>"),
                source,
            })?;
        Ok(FolderWatcher {
            watcher: Some(watcher),
            thread: Some(thread),
        })
    }
}

/// Whether a watch event may have changed what a file holds: a file created, written,
/// renamed or removed, or (for notify's polling fallback, which sees writes no other way) its
/// modification time changed. Opening or reading one, the registry's own reads among them, and
/// other metadata do not: acted on, each read would cause another.
pub fn is_content_change(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{MetadataKind, ModifyKind};
    match kind {
        EventKind::Modify(ModifyKind::Metadata(MetadataKind::WriteTime)) => true,
        EventKind::Modify(ModifyKind::Metadata(_)) => false,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Access(_) | EventKind::Any | EventKind::Other => false,
    }
}
