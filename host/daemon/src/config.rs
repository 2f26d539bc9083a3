//! Loading the config the way `lnpolicy -c --check` does (syntax, every key, strategies and
//! their parameters, guard ranges), and watching its files so that an edit is picked up
//! without a signal.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lnpolicy_core::NodeKind;
use lnpolicy_policy::config::{Config, ConfigError};
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{StrategyRegistry, is_content_change};
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc::UnboundedSender;

use crate::DaemonError;
use crate::control::{Control, ReloadCause};

/// An editor or `cp` writes a file in several steps: wait this long after the last change
/// so that the file is read once, complete.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// How long the watch thread sleeps when no change is waiting (it wakes on any event anyway).
const IDLE: Duration = Duration::from_secs(3600);

/// A config that cannot be used, with every error found (each `FILE:LINE: key KEY: ...`).
#[derive(Debug, thiserror::Error)]
#[error("{} error(s) in {}: {}", errors.len(), path.display(), list(errors))]
pub struct ConfigRejected {
    pub path: PathBuf,
    pub errors: Vec<ConfigError>,
}

fn list(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Loads `path` and checks it against the strategies `registry` has now and the guard
/// profile of `kind` (charge-lnd's, as `lnpolicy -c` runs it). Notes are logged.
pub(crate) fn load(
    path: &Path,
    registry: &StrategyRegistry,
    kind: NodeKind,
) -> Result<Config, ConfigRejected> {
    let rejected = |errors| ConfigRejected {
        path: path.to_owned(),
        errors,
    };
    let config = Config::load(path).map_err(|errors| rejected(errors.0))?;
    let known = lnpolicy_builtins::names().collect::<Vec<_>>().join(", ");
    let lookup = |name: &str| registry.get(name).map(|s| s.info().params.clone());
    let (mut errors, mut notes) = config.check_strategies(&lookup, &known);
    let (guard_errors, guard_notes) =
        config.validate_guard(&GuardConfig::charge_lnd_compatible(kind));
    errors.extend(guard_errors);
    notes.extend(guard_notes);
    if !errors.is_empty() {
        return Err(rejected(errors));
    }
    for note in config.notes().iter().chain(&notes) {
        tracing::info!(config = %path.display(), note = %note, "config note");
    }
    Ok(config)
}

/// Logs each error of a rejected config on its own line, with its location as fields.
pub(crate) fn log_rejection(rejected: &ConfigRejected, cause: ReloadCause) {
    for error in &rejected.errors {
        tracing::error!(
            cause = cause.as_str(),
            file = %error.file.display(),
            line = error.line,
            key = error.key.as_deref(),
            error = %error,
            "config rejected; the running config stays in effect"
        );
    }
}

/// A name starting with a dot: an editor's swap file, the daemon's own database copies.
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with('.'))
}

/// A file created, or renamed into place (an editor's save, a deploy's `mv`).
fn is_appearance(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{ModifyKind, RenameMode};
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Modify(ModifyKind::Name(
                RenameMode::To | RenameMode::Both | RenameMode::Any
            ))
    )
}

/// Every file a config is read from that a reload should follow: the file itself and the
/// `use_config` files it includes, recursively, then the `file://` lists they read.
fn files(config: &Config) -> (BTreeSet<PathBuf>, BTreeSet<PathBuf>) {
    let mut configs = BTreeSet::from([config.path().to_owned()]);
    let mut lists: BTreeSet<PathBuf> = config.list_files().map(Path::to_owned).collect();
    for (path, included) in config.includes() {
        configs.insert(path.to_owned());
        let (more_configs, more_lists) = files(included);
        configs.extend(more_configs);
        lists.extend(more_lists);
    }
    (configs, lists)
}

/// The folders holding a link on the way to any of `files` (`/srv/current` in
/// `/srv/current/charge.config` when `current` is a link): where a swap of that link shows.
fn followed_links<'a>(files: impl Iterator<Item = &'a PathBuf>) -> BTreeSet<PathBuf> {
    files
        .flat_map(|file| file.ancestors().skip(1))
        .filter(|folder| {
            std::fs::symlink_metadata(folder).is_ok_and(|meta| meta.file_type().is_symlink())
        })
        .map(folder_of)
        .collect()
}

/// The folder a file is in, for the watcher.
fn folder_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Follows the config's files until dropped. The folders are watched rather than the files,
/// because editors replace a file by renaming a new one over it, which ends a watch on the
/// old file.
pub(crate) struct ConfigWatcher {
    watcher: Option<notify::RecommendedWatcher>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        // Dropping the watcher closes the event channel, which ends the thread.
        self.watcher.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl ConfigWatcher {
    /// Sends `Control::Reload` once the files have been quiet for a moment after a change:
    /// to one of `config`'s files, or, while `rejected` (the last reload failed), a file
    /// appearing in their folders, which may be one the rejected config lacked (changes to
    /// other files, such as a database kept beside the config, are not, nor hidden files such
    /// as its copies); writes to that file push the reload back until it is quiet.
    pub(crate) fn start(
        config: &Config,
        control: UnboundedSender<Control>,
        rejected: Arc<AtomicBool>,
    ) -> Result<ConfigWatcher, DaemonError> {
        let (configs, lists) = files(config);
        let names: BTreeSet<OsString> = configs
            .iter()
            .chain(&lists)
            .filter_map(|f| f.file_name().map(ToOwned::to_owned))
            .collect();
        let folders: BTreeSet<PathBuf> = configs.iter().map(|f| folder_of(f)).collect();
        let list_folders: BTreeSet<PathBuf> = lists
            .iter()
            .map(|f| folder_of(f))
            .filter(|folder| !folders.contains(folder))
            .collect();
        let (tx, rx) = channel::<notify::Result<notify::Event>>();
        let watch_error = |path: &Path| {
            let path = path.to_owned();
            move |source| DaemonError::ConfigWatch { path, source }
        };
        // Where each file resolves to: a config reached through a link that is swapped (a
        // Kubernetes ConfigMap's `..data`, a deploy's `ln -sfn`) changes without an event
        // naming it, only one for the link beside it.
        let followed: Vec<PathBuf> = configs.iter().chain(&lists).cloned().collect();
        let resolve = move || -> Vec<Option<PathBuf>> {
            followed
                .iter()
                .map(|file| std::fs::canonicalize(file).ok())
                .collect()
        };
        let mut resolved = resolve();
        let main_file = config.path().to_owned();
        let loaded = config.clone();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = tx.send(event);
        })
        .map_err(watch_error(&main_file))?;
        for folder in &folders {
            watcher
                .watch(folder, RecursiveMode::NonRecursive)
                .map_err(watch_error(folder))?;
        }
        // A file reached through a linked folder (`current -> releases/v2`) changes when the
        // link is swapped in the folder holding it, which the file's own folder (the old
        // target, as inotify follows the link) never hears of.
        let link_folders: BTreeSet<PathBuf> = followed_links(configs.iter().chain(&lists))
            .into_iter()
            .filter(|folder| !folders.contains(folder))
            .collect();
        // Neither these nor a folder of lists that cannot be watched (no read permission, the
        // inotify limit) may stop the daemon: SIGHUP still reloads.
        let optional = [
            (
                &link_folders,
                "a link swapped in this folder is not followed",
            ),
            (
                &list_folders,
                "file:// lists in this folder are not followed",
            ),
        ];
        for (folders, what) in optional {
            for folder in folders {
                if let Err(error) = watcher.watch(folder, RecursiveMode::NonRecursive) {
                    tracing::warn!(
                        folder = %folder.display(),
                        %error,
                        "{what}; send SIGHUP after a change"
                    );
                }
            }
        }
        let thread =
            std::thread::Builder::new()
                .name("lnpolicy-config-watch".into())
                .spawn(move || {
                    // The changed file and when to reload: quiet time is counted from the
                    // last change to one of our files, whatever else changes in the folders.
                    // An edit made after `config` was read but before the folders were
                    // watched sent no event: the files are read again now that a later edit
                    // would send one.
                    let mut due = match Config::load(&main_file) {
                        Ok(now) if now == loaded => None,
                        _ => Some((main_file.clone(), Instant::now())),
                    };
                    loop {
                        let wait = due
                            .as_ref()
                            .map_or(IDLE, |(_, at)| at.saturating_duration_since(Instant::now()));
                        match rx.recv_timeout(wait) {
                            Ok(Ok(event)) if is_content_change(&event.kind) => {
                                if let Some(path) = event.paths.iter().find(|p| {
                                    p.file_name().is_some_and(|name| names.contains(name))
                                }) {
                                    due = Some((path.clone(), Instant::now() + DEBOUNCE));
                                } else if let Some(path) = event.paths.first() {
                                    let now_resolved = resolve();
                                    // Still being written: the file that set the reload due.
                                    let written = due
                                        .as_ref()
                                        .is_some_and(|(due, _)| event.paths.contains(due));
                                    if now_resolved != resolved
                                        || written
                                        || (rejected.load(Ordering::Acquire)
                                            && is_appearance(&event.kind)
                                            && !is_hidden(path))
                                    {
                                        resolved = now_resolved;
                                        due = Some((path.clone(), Instant::now() + DEBOUNCE));
                                    }
                                }
                            }
                            // The kernel dropped events (its queue overflowed): one of ours
                            // may have been among them.
                            Ok(Ok(event)) if event.need_rescan() => {
                                due = Some((main_file.clone(), Instant::now() + DEBOUNCE));
                            }
                            Ok(Ok(_)) | Err(RecvTimeoutError::Timeout) => {}
                            Ok(Err(error)) => {
                                tracing::warn!(%error, "config watch error; reloading to be safe");
                                due = Some((main_file.clone(), Instant::now() + DEBOUNCE));
                            }
                            Err(RecvTimeoutError::Disconnected) => return,
                        }
                        if let Some((path, at)) = due.take() {
                            if Instant::now() < at {
                                due = Some((path, at));
                            } else if control
                                .send(Control::Reload(ReloadCause::FileChanged(path)))
                                .is_err()
                            {
                                return;
                            }
                        }
                    }
                })
                .map_err(|source| DaemonError::ConfigWatch {
                    path: config.path().to_owned(),
                    source: notify::Error::io(source),
                })?;
        Ok(ConfigWatcher {
            watcher: Some(watcher),
            thread: Some(thread),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use lnpolicy_policy::config::Config;

    use super::ConfigWatcher;
    use crate::control::{Control, ReloadCause};

    const FIRST: &str = "[all]\nstrategy = static\nfee_ppm = 100\n";

    /// Waits up to `limit` for the watcher to ask for a reload.
    fn reload_within(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<Control>,
        limit: Duration,
    ) -> Option<ReloadCause> {
        let until = std::time::Instant::now() + limit;
        while std::time::Instant::now() < until {
            if let Ok(Control::Reload(cause)) = rx.try_recv() {
                return Some(cause);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    #[test]
    fn an_edit_made_before_the_watch_began_is_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("charge.config");
        std::fs::write(&path, FIRST).unwrap();
        let loaded = Config::load(&path).unwrap();
        // The edit lands after the load read the file and before its folder is watched.
        std::fs::write(&path, FIRST.replace("100", "900")).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _watch = ConfigWatcher::start(&loaded, tx, Arc::new(AtomicBool::new(false))).unwrap();
        match reload_within(&mut rx, Duration::from_secs(10)) {
            Some(ReloadCause::FileChanged(changed)) => assert_eq!(changed, path),
            other => panic!("expected a reload for the edit, got {other:?}"),
        }
    }

    #[test]
    fn an_unchanged_config_is_not_reloaded_when_the_watch_begins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("charge.config");
        std::fs::write(&path, FIRST).unwrap();
        let loaded = Config::load(&path).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _watch = ConfigWatcher::start(&loaded, tx, Arc::new(AtomicBool::new(false))).unwrap();
        assert!(reload_within(&mut rx, Duration::from_secs(1)).is_none());
    }
}
