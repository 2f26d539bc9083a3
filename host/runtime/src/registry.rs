//! The set of strategies the daemon can call: built-ins plus the `.wasm`
//! files of the strategies folder, each swapped atomically on change, with
//! failure counting and quarantine.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lnpolicy_core::{EventSink, StrategyEvent, StrategyEventKind};
use sha2::{Digest, Sha256};

use crate::strategy::Health;
use crate::{
    CallError, DecideCall, DecideOutput, FileLoadError, Runtime, RuntimeError, Strategy,
    read_capped,
};

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Failed cycles in a row after which a strategy is no longer called
    /// until its file changes, the daemon restarts or `release_quarantined` lifts it.
    pub quarantine_after: u32,
    /// When the folder's watcher tries a file again that the host failed to load (the
    /// compiler process killed, no instance slot free, the file unreadable): doubled after
    /// each failure, up to an hour. Nothing else would bring such a file back.
    pub retry_after: Duration,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            quarantine_after: 3,
            retry_after: Duration::from_secs(60),
        }
    }
}

/// What syncing one file came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synced {
    /// Loaded, unloaded, unchanged or refused for what it is.
    Done,
    /// Not loaded for the host's own reasons: worth trying again later.
    HostFailed,
}

/// Where a loaded strategy came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrategySource {
    /// Shipped inside the binary.
    Builtin,
    /// A file of the strategies folder (canonical path).
    File(PathBuf),
}

/// A loaded strategy as `lnpolicy strategy list` shows it.
#[derive(Debug, Clone)]
pub struct StrategyStatus {
    pub name: String,
    pub source: StrategySource,
    pub sha256: String,
    pub version: String,
    pub contract_version: String,
    pub consecutive_failures: u32,
    pub quarantined: bool,
}

struct Entry {
    strategy: Arc<Strategy>,
    source: StrategySource,
}

pub struct StrategyRegistry {
    runtime: Arc<Runtime>,
    events: Arc<dyn EventSink>,
    config: RegistryConfig,
    folder: RwLock<HashMap<String, Entry>>,
    builtins: RwLock<HashMap<String, Entry>>,
}

impl StrategyRegistry {
    pub fn new(runtime: Arc<Runtime>, events: Arc<dyn EventSink>, config: RegistryConfig) -> Self {
        StrategyRegistry {
            runtime,
            events,
            config,
            folder: RwLock::new(HashMap::new()),
            builtins: RwLock::new(HashMap::new()),
        }
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Registers a strategy shipped in the binary under `name`.
    pub fn add_builtin(&self, name: &str, bytes: &[u8]) -> Result<(), crate::LoadError> {
        self.add_loaded_builtin(name, self.runtime.load_builtin_bytes(bytes)?);
        Ok(())
    }

    /// Registers `strategy`, loaded by this registry's runtime, as a built-in named `name`: a
    /// caller that has loaded it already need not compile it a second time.
    pub fn add_loaded_builtin(&self, name: &str, strategy: Strategy) {
        let sha256 = strategy.sha256().to_owned();
        // Registered before it is told: whoever hears of it can use it at once.
        write(&self.builtins).insert(
            name.to_owned(),
            Entry {
                strategy: Arc::new(strategy),
                source: StrategySource::Builtin,
            },
        );
        self.record(
            name,
            &sha256,
            StrategyEventKind::Loaded,
            "built-in".into(),
            None,
        );
    }

    /// Loads every `.wasm` of `dir` and unloads folder strategies whose file
    /// is gone. Bad files are recorded and skipped.
    pub fn sync_dir(&self, dir: &Path) -> Result<(), RuntimeError> {
        self.sync_dir_until(dir, || false).map(drop)
    }

    /// [`StrategyRegistry::sync_dir`], stopping before the next file once `stop` says so.
    /// Returns the files the host failed to load.
    pub(crate) fn sync_dir_until(
        &self,
        dir: &Path,
        stop: impl Fn() -> bool,
    ) -> Result<Vec<PathBuf>, RuntimeError> {
        let folder_error = |source| RuntimeError::Folder {
            path: dir.to_owned(),
            source,
        };
        let dir = dir.canonicalize().map_err(folder_error)?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(folder_error)?
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| is_strategy_file(path))
            .collect();
        files.sort();
        let gone: Vec<PathBuf> = read(&self.folder)
            .values()
            .filter_map(|entry| match &entry.source {
                StrategySource::File(path) if path.parent() == Some(&dir) && !path.exists() => {
                    Some(path.clone())
                }
                _ => None,
            })
            .collect();
        let mut host_failed = Vec::new();
        for path in gone.iter().chain(&files) {
            if stop() {
                break;
            }
            if self.sync_file(path) == Synced::HostFailed {
                host_failed.push(path.clone());
            }
        }
        Ok(host_failed)
    }

    /// Brings the registry in line with one file: loads it if new or
    /// changed, keeps the running version if the new one is invalid, and
    /// unloads it if the file is gone.
    pub fn sync_file(&self, path: &Path) -> Synced {
        if !is_strategy_file(path) {
            return Synced::Done;
        }
        let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
            return Synced::Done;
        };
        let bytes = match read_capped(path, self.runtime.limits().max_component_bytes) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                self.unload(&name, path);
                return Synced::Done;
            }
            Err(err) => {
                // Too large, or not a regular file: a verdict on the file. Anything else
                // (permissions, the disk) may pass.
                let verdict = matches!(
                    err.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
                );
                let error = FileLoadError::Io {
                    path: path.to_owned(),
                    error: err,
                };
                let (detail, synced) = if verdict {
                    (error.to_string(), Synced::Done)
                } else {
                    (format!("{error}; tried again later"), Synced::HostFailed)
                };
                self.record(&name, "", StrategyEventKind::Rejected, detail, None);
                return synced;
            }
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let previous = read(&self.folder)
            .get(&name)
            .map(|entry| entry.strategy.sha256().to_owned());
        if previous.as_deref() == Some(sha256.as_str()) {
            return Synced::Done;
        }
        match self.runtime.load_bytes(&bytes) {
            Ok(strategy) => {
                if read(&self.builtins).contains_key(&name) {
                    tracing::warn!(strategy = %name, path = %path.display(), "folder file overrides the built-in strategy of the same name");
                }
                let detail = format!(
                    "{} {} from {}",
                    strategy.info().name,
                    strategy.info().version,
                    path.display()
                );
                let kind = if previous.is_some() {
                    StrategyEventKind::Reloaded
                } else {
                    StrategyEventKind::Loaded
                };
                write(&self.folder).insert(
                    name.clone(),
                    Entry {
                        strategy: Arc::new(strategy),
                        source: StrategySource::File(path.to_owned()),
                    },
                );
                self.record(&name, &sha256, kind, detail, None);
                Synced::Done
            }
            Err(error) => {
                let synced = if error.is_host_trouble() {
                    Synced::HostFailed
                } else {
                    Synced::Done
                };
                let error = FileLoadError::Invalid {
                    path: path.to_owned(),
                    error,
                };
                let detail = match (&previous, synced) {
                    (Some(_), Synced::HostFailed) => format!(
                        "{error}; the previous version keeps running, and the file is tried again later"
                    ),
                    (Some(_), Synced::Done) => {
                        format!("{error}; the previous version keeps running")
                    }
                    (None, Synced::HostFailed) => format!("{error}; tried again later"),
                    (None, Synced::Done) => error.to_string(),
                };
                self.record(&name, &sha256, StrategyEventKind::Rejected, detail, None);
                synced
            }
        }
    }

    /// The first wait before a file the host failed to load is tried again.
    pub(crate) fn retry_after(&self) -> Duration {
        self.config.retry_after
    }

    fn unload(&self, name: &str, path: &Path) {
        let mut folder = write(&self.folder);
        let is_this_file = folder
            .get(name)
            .is_some_and(|entry| entry.source == StrategySource::File(path.to_owned()));
        if is_this_file && let Some(entry) = folder.remove(name) {
            drop(folder);
            let detail = if read(&self.builtins).contains_key(name) {
                tracing::warn!(strategy = %name, path = %path.display(), "folder file removed: the built-in strategy of the same name runs from the next cycle");
                format!(
                    "{} was removed; the built-in {name} runs from the next cycle",
                    path.display()
                )
            } else {
                format!("{} was removed", path.display())
            };
            self.record(
                name,
                entry.strategy.sha256(),
                StrategyEventKind::Unloaded,
                detail,
                None,
            );
        }
    }

    /// The strategy called `name`: a folder file wins over a built-in.
    pub fn get(&self, name: &str) -> Option<Arc<Strategy>> {
        let from_folder = read(&self.folder).get(name).map(|e| e.strategy.clone());
        from_folder.or_else(|| read(&self.builtins).get(name).map(|e| e.strategy.clone()))
    }

    /// Lifts every quarantine, so that the strategies are called again: an operator's answer
    /// to a failure that was the host's or the node's, or that is fixed, for a built-in that has
    /// no file to change. Each gets a `Released` event; returns their names.
    pub fn release_quarantined(&self) -> Vec<String> {
        let entries: Vec<(String, Arc<Strategy>)> = read(&self.folder)
            .iter()
            .chain(read(&self.builtins).iter())
            .map(|(name, entry)| (name.clone(), Arc::clone(&entry.strategy)))
            .collect();
        let mut released = Vec::new();
        for (name, strategy) in entries {
            let lifted = {
                let mut health = lock_health(&strategy);
                let quarantined = health.quarantined;
                if quarantined {
                    *health = Health::default();
                }
                quarantined
            };
            if lifted {
                self.record(
                    &name,
                    strategy.sha256(),
                    StrategyEventKind::Released,
                    "quarantine lifted by SIGHUP".into(),
                    None,
                );
                released.push(name);
            }
        }
        released
    }

    pub fn statuses(&self) -> Vec<StrategyStatus> {
        let status = |name: &String, entry: &Entry| StrategyStatus {
            name: name.clone(),
            source: entry.source.clone(),
            sha256: entry.strategy.sha256().to_owned(),
            version: entry.strategy.info().version.clone(),
            contract_version: entry.strategy.contract_version().to_owned(),
            consecutive_failures: health(&entry.strategy).failures(),
            quarantined: health(&entry.strategy).quarantined,
        };
        let mut all: Vec<StrategyStatus> = read(&self.folder)
            .iter()
            .map(|(name, entry)| status(name, entry))
            .collect();
        let builtins = read(&self.builtins);
        all.extend(
            builtins
                .iter()
                .filter(|(name, _)| !all.iter().any(|s| &s.name == *name))
                .map(|(name, entry)| status(name, entry))
                .collect::<Vec<_>>(),
        );
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Calls strategy `name` on a batch, counting failures toward quarantine
    /// and recording every failure and truncation as an event.
    pub fn decide(&self, name: &str, call: DecideCall<'_>) -> Result<DecideOutput, CallError> {
        let strategy = self
            .get(name)
            .ok_or_else(|| CallError::Unknown(name.to_owned()))?;
        self.decide_version(name, &strategy, call)
    }

    /// Like [`StrategyRegistry::decide`] with the version `strategy` of `name`, taken from
    /// [`StrategyRegistry::get`] earlier: a cycle runs the version whose schema its parameters
    /// were checked against, and records that version's hash, even if the file was replaced
    /// or removed since. Failures and quarantine are that version's own, so a quarantined
    /// version stays uncalled however its file changed since it was pinned.
    pub fn decide_version(
        &self,
        name: &str,
        strategy: &Arc<Strategy>,
        call: DecideCall<'_>,
    ) -> Result<DecideOutput, CallError> {
        let now = call.now;
        let before = health(strategy);
        if before.quarantined {
            return Err(CallError::Quarantined {
                failures: before.failures(),
            });
        }
        let result = strategy.decide(call);
        match &result {
            Ok(output) => {
                lock_health(strategy).record(now, false);
                if !output.truncations.is_empty() {
                    let detail = output.truncations.join("; ");
                    self.record(
                        name,
                        strategy.sha256(),
                        StrategyEventKind::OutputTruncated,
                        detail,
                        Some(now),
                    );
                }
            }
            Err(error) => {
                // A failure of the host's own is not the guest's to answer for.
                let counted = !matches!(error, CallError::Host(_));
                let quarantined = counted && {
                    let mut health = lock_health(strategy);
                    health.record(now, true);
                    let now_quarantined =
                        !health.quarantined && health.failures() >= self.config.quarantine_after;
                    health.quarantined |= now_quarantined;
                    now_quarantined
                };
                let kind = if counted {
                    StrategyEventKind::CallFailed
                } else {
                    StrategyEventKind::HostFailed
                };
                self.record(name, strategy.sha256(), kind, error.to_string(), Some(now));
                if quarantined {
                    let detail = format!(
                        "{} failed cycles in a row; not called until its file changes, the daemon restarts or is sent SIGHUP",
                        self.config.quarantine_after
                    );
                    self.record(
                        name,
                        strategy.sha256(),
                        StrategyEventKind::Quarantined,
                        detail,
                        Some(now),
                    );
                }
            }
        }
        result
    }

    fn record(
        &self,
        name: &str,
        sha256: &str,
        kind: StrategyEventKind,
        detail: String,
        at: Option<u64>,
    ) {
        match kind {
            StrategyEventKind::Loaded
            | StrategyEventKind::Reloaded
            | StrategyEventKind::Unloaded => {
                tracing::info!(strategy = name, sha256, event = kind.as_str(), detail = %detail, "strategy event");
            }
            _ => {
                tracing::warn!(strategy = name, sha256, event = kind.as_str(), detail = %detail, "strategy event")
            }
        }
        let at = at.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        self.events.record(&StrategyEvent {
            at,
            strategy: name.to_owned(),
            sha256: sha256.to_owned(),
            kind,
            detail,
        });
    }
}

fn lock_health(strategy: &Strategy) -> std::sync::MutexGuard<'_, Health> {
    strategy
        .health
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn health(strategy: &Strategy) -> Health {
    *lock_health(strategy)
}

pub(crate) fn is_strategy_file(path: &Path) -> bool {
    path.extension().is_some_and(|ext| ext == "wasm")
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
