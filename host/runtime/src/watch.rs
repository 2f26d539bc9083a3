//! Hot reload: watches the strategies folder and syncs the registry with
//! every file that changed, after a short quiet period so that a file being
//! written is read once, complete.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::{RecursiveMode, Watcher};

use crate::registry::{Synced, is_strategy_file};
use crate::{RuntimeError, StrategyRegistry};

const DEBOUNCE: Duration = Duration::from_millis(150);

/// Keeps the folder watched until dropped.
pub struct FolderWatcher {
    watcher: Option<notify::RecommendedWatcher>,
    thread: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Drop for FolderWatcher {
    fn drop(&mut self) {
        // Dropping the watcher closes the event channel, which ends the thread; the flag ends
        // a sync of many changed files after the one being loaded, so that a stop waits for
        // one compile at most, not for every file queued.
        self.stop.store(true, Ordering::Relaxed);
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
        let mut retries = Retries {
            first: self.retry_after(),
            due: BTreeMap::new(),
        };
        for path in self.sync_dir_until(&dir, || false)? {
            retries.record(&path, Synced::HostFailed);
        }
        let registry = Arc::clone(self);
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
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
                            // Event paths may be spelled differently from our
                            // canonical folder: key files by name within it. Only
                            // strategy files count: a log written beside them every
                            // moment must not hold their reloads back.
                            let strategies: Vec<PathBuf> = event
                                .paths
                                .iter()
                                .filter_map(|p| p.file_name())
                                .map(|name| dir.join(name))
                                .filter(|path| is_strategy_file(path))
                                .collect();
                            if strategies.is_empty() && !event.need_rescan() {
                                continue;
                            }
                            last_change = Instant::now();
                            rescan |= event.need_rescan();
                            pending.extend(strategies);
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
                                let stop = || stopped.load(Ordering::Relaxed);
                                match registry.sync_dir_until(&dir, stop) {
                                    Ok(failed) => {
                                        for path in failed {
                                            retries.record(&path, Synced::HostFailed);
                                        }
                                    }
                                    Err(err) => tracing::warn!(error = %err, "rescan failed"),
                                }
                            }
                            pending.extend(retries.due_now());
                            for path in std::mem::take(&mut pending) {
                                if stopped.load(Ordering::Relaxed) {
                                    return;
                                }
                                retries.record(&path, registry.sync_file(&path));
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
            stop,
        })
    }
}

/// The longest wait before a file the host failed to load is tried again.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(3600);

/// Files the host failed to load: when each is tried again, and the wait that led there.
struct Retries {
    first: Duration,
    due: BTreeMap<PathBuf, (Instant, Duration)>,
}

impl Retries {
    fn record(&mut self, path: &Path, synced: Synced) {
        match synced {
            Synced::Done => {
                self.due.remove(path);
            }
            Synced::HostFailed => {
                let wait = self
                    .due
                    .get(path)
                    .map_or(self.first, |&(_, wait)| (wait * 2).min(MAX_RETRY_WAIT));
                self.due
                    .insert(path.to_owned(), (Instant::now() + wait, wait));
            }
        }
    }

    /// The files whose time has come; they stay listed until their next sync is recorded.
    fn due_now(&self) -> Vec<PathBuf> {
        let now = Instant::now();
        self.due
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(path, _)| path.clone())
            .collect()
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

#[cfg(all(test, unix))]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use lnpolicy_core::{EventSink, StrategyEvent, StrategyEventKind};

    use crate::{
        ChildCompiler, Compiler, RegistryConfig, Runtime, RuntimeConfig, StrategyRegistry,
    };

    #[derive(Default)]
    struct Recorded(Mutex<Vec<StrategyEventKind>>);

    impl EventSink for Recorded {
        fn record(&self, event: &StrategyEvent) {
            self.0.lock().unwrap().push(event.kind);
        }
    }

    impl Recorded {
        fn rejected(&self) -> usize {
            let events = self.0.lock().unwrap();
            events
                .iter()
                .filter(|kind| **kind == StrategyEventKind::Rejected)
                .count()
        }
    }

    /// A file written beside the strategies more often than the quiet period (a log) does not
    /// hold back the load of a strategy file dropped in meanwhile.
    #[test]
    fn writes_to_other_files_do_not_hold_a_strategy_back() {
        let dir = tempfile::tempdir().unwrap();
        let events = Arc::new(Recorded::default());
        let registry = Arc::new(StrategyRegistry::new(
            Arc::new(Runtime::new(RuntimeConfig::default()).unwrap()),
            events.clone(),
            RegistryConfig::default(),
        ));
        let watcher = registry.watch(dir.path()).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (stop, log) = (stop.clone(), dir.path().join("daemon.log"));
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::fs::write(&log, b"another line\n").unwrap();
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        std::fs::write(dir.path().join("broken.wasm"), b"not a component").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while events.rejected() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
        drop(watcher);
        assert_eq!(
            events.rejected(),
            1,
            "the strategy file was read while the log was written"
        );
    }

    /// A file the host failed to load (its compiler process ended for no reason of the
    /// component's) is tried again after `retry_after`, with no change to the file: the
    /// stand-in compiler fails its first run and serves the compiled component after.
    #[cfg(unix)]
    #[test]
    fn a_file_the_host_failed_to_load_is_tried_again() {
        let dir = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        let (marker, artifact) = (work.path().join("failed-once"), work.path().join("cwasm"));
        let script = format!(
            "cat > /dev/null; if [ -e {m} ]; then cat {a}; else touch {m}; exit 1; fi",
            m = marker.display(),
            a = artifact.display()
        );
        let runtime = Runtime::new(RuntimeConfig {
            compiler: Compiler::Child(ChildCompiler {
                program: "sh".into(),
                args: vec!["-c".into(), script.into()],
                timeout: Duration::from_secs(30),
                max_memory_bytes: 1 << 30,
            }),
            ..RuntimeConfig::default()
        })
        .unwrap();
        let component = b"\0asm\x0d\0\x01\0";
        std::fs::write(
            &artifact,
            runtime.engine().precompile_component(component).unwrap(),
        )
        .unwrap();
        std::fs::write(dir.path().join("s.wasm"), component).unwrap();
        let events = Arc::new(Recorded::default());
        let registry = Arc::new(StrategyRegistry::new(
            Arc::new(runtime),
            events.clone(),
            RegistryConfig {
                retry_after: Duration::from_millis(100),
                ..RegistryConfig::default()
            },
        ));
        let watcher = registry.watch(dir.path()).unwrap();
        assert_eq!(events.rejected(), 1, "the compiler failed at start");
        let deadline = Instant::now() + Duration::from_secs(10);
        while events.rejected() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(400));
        drop(watcher);
        // Tried again and refused for what it is (no strategy export): not tried a third time.
        assert_eq!(events.rejected(), 2);
    }

    /// Stopping the watcher while it loads a batch of changed files waits for the file being
    /// loaded, not for every file queued behind it: each would take up to the compile limit.
    #[test]
    fn a_stop_waits_for_the_load_in_progress_not_the_queue() {
        const FILES: usize = 5;
        let dir = tempfile::tempdir().unwrap();
        // Every compile runs into its time limit: a stand-in for files that are slow to compile.
        let runtime = Runtime::new(RuntimeConfig {
            compiler: Compiler::Child(ChildCompiler {
                program: "sh".into(),
                args: vec!["-c".into(), "exec sleep 30".into()],
                timeout: Duration::from_millis(300),
                max_memory_bytes: 1 << 30,
            }),
            ..RuntimeConfig::default()
        })
        .unwrap();
        let events = Arc::new(Recorded::default());
        let registry = Arc::new(StrategyRegistry::new(
            Arc::new(runtime),
            events.clone(),
            RegistryConfig::default(),
        ));
        let watcher = registry.watch(dir.path()).unwrap();
        for n in 0..FILES {
            let bytes = [b"\0asm\x0d\0\x01\0".as_slice(), &[n as u8]].concat();
            std::fs::write(dir.path().join(format!("slow{n}.wasm")), bytes).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while events.rejected() == 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            events.rejected() >= 1,
            "the first file was refused on its limit"
        );
        drop(watcher);
        assert!(
            events.rejected() < FILES,
            "stopped after the load in progress: {} of {FILES} loaded",
            events.rejected()
        );
    }
}
