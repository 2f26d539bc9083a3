//! Compiled components cached on disk, keyed by content hash and by the
//! engine's compatibility hash (which covers the wasmtime version and every
//! setting that changes code, such as fuel): a `.cwasm` from another engine
//! is never loaded. `deserialize` runs its input as native code, so the cache is used only
//! while its folder and entries are private: the folder is made `0700` (an existing one of
//! this user's is tightened), and an entry is read or written only when the folder and the
//! entry belong to this user and neither is writable by group or others (anything else is
//! compiled afresh, with a warning).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::compile::{Compiler, compile};
use crate::{LoadError, SandboxLimits};

pub(crate) struct CompileCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

/// Where a component came from, for load-cost measurements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Compiled now (and written to the cache if there is one).
    Compiled,
    /// Loaded from a cached `.cwasm`.
    Hit,
}

impl CompileCache {
    /// `limits` go into the key with the engine's settings: the instance pool checks a
    /// component against them when it loads, so a refusal under one pool says nothing of
    /// another.
    pub(crate) fn new(engine: &Engine, limits: &SandboxLimits, dir: Option<PathBuf>) -> Self {
        if let Some(dir) = &dir
            && let Err(error) = create_private_dir(dir)
        {
            tracing::warn!(path = %dir.display(), %error, "could not create the compile cache folder");
        }
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        (
            limits.max_instances,
            limits.max_memories,
            limits.max_table_elements,
            limits.max_memory_bytes,
            limits.max_concurrent_calls,
        )
            .hash(&mut hasher);
        let cache = CompileCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
        };
        cache.remove_stale();
        cache
    }

    /// Removes what this engine can never use: entries of another engine (an older release,
    /// other settings) and temporary files a crash left behind more than an hour ago (a
    /// younger one may be another process's write in flight). Without this the folder only
    /// grows, by one entry per strategy version and per upgrade.
    fn remove_stale(&self) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let ours = format!("-{}.", self.engine_key);
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let other_engine = [".cwasm", REJECTED]
                .iter()
                .any(|ext| name.ends_with(ext) && !name.ends_with(&format!("{ours}{}", &ext[1..])));
            let stale_tmp = path
                .extension()
                .is_some_and(|ext| ext.to_string_lossy().starts_with("tmp"))
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|at| at.elapsed().is_ok_and(|age| age > STALE_TMP_AGE));
            if (other_engine || stale_tmp)
                && let Err(error) = std::fs::remove_file(&path)
            {
                tracing::warn!(path = %path.display(), %error, "could not remove a stale compile cache file");
            }
        }
    }

    /// The component of `bytes` (whose hash is `sha256`): from the cache, or compiled by
    /// `compiler` and cached.
    pub(crate) fn load(
        &self,
        engine: &Engine,
        compiler: &Compiler,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), LoadError> {
        let Some(path) = self.entry(sha256, ".cwasm") else {
            return Ok((
                compile(engine, compiler, bytes)?.component,
                CacheOutcome::Compiled,
            ));
        };
        if !private(&path) {
            tracing::warn!(path = %path.display(), "compile cache folder or entry not private to this user: compiling instead, not cached");
            return Ok((
                compile(engine, compiler, bytes)?.component,
                CacheOutcome::Compiled,
            ));
        }
        if path.is_file() {
            // SAFETY: the file was written by `Component::serialize` of an engine with the
            // same compatibility hash, into our own cache folder, which nobody else can write.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "discarding unusable cache entry")
                }
            }
        }
        let rejected = path.with_extension(&REJECTED[1..]);
        if let Some(reason) = rejected_earlier(compiler, &rejected) {
            return Err(LoadError::RejectedEarlier {
                reason,
                path: rejected,
            });
        }
        let compiled = match compile(engine, compiler, bytes) {
            Ok(compiled) => compiled,
            Err(error) => {
                if let Some(record) = Rejection::of(&error)
                    && let Err(err) = write_private(&rejected, record.to_text(&error).as_bytes())
                {
                    tracing::warn!(path = %rejected.display(), error = %err, "could not remember a component that does not compile");
                }
                return Err(error);
            }
        };
        let serialized = match compiled.serialized {
            Some(serialized) => Ok(serialized),
            None => compiled
                .component
                .serialize()
                .map_err(|err| std::io::Error::other(crate::error_chain(&err))),
        };
        if let Err(err) = serialized.and_then(|bytes| write_private(&path, &bytes)) {
            tracing::warn!(path = %path.display(), error = %err, "could not write compile cache entry");
        }
        // A refusal that no longer held (a limit raised, or expired) is over.
        let _ = std::fs::remove_file(&rejected);
        Ok((compiled.component, CacheOutcome::Compiled))
    }

    fn entry(&self, sha256: &str, extension: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|dir| dir.join(format!("{sha256}-{}{extension}", self.engine_key)))
    }
}

/// The file that remembers why a component did not compile, beside where its entry would be:
/// compiling it again would fail again, after as long, on every start and every run.
const REJECTED: &str = ".rejected";

/// How long a refusal on a limit holds: a host that was busy at boot, or short of memory as a
/// whole, can make a good component run into one, and should not lose it for good.
const LIMIT_REFUSAL_HOLDS: Duration = Duration::from_secs(86_400);

/// The reason recorded in `path` for a component that did not compile, while it still holds:
/// a compile error always, a refusal on a limit for [`LIMIT_REFUSAL_HOLDS`] and while the
/// limit of `compiler` is no higher. `None` for a record that is unreadable or not private.
fn rejected_earlier(compiler: &Compiler, path: &Path) -> Option<String> {
    if !path.is_file() || !private(path) {
        return None;
    }
    let text = std::fs::read_to_string(path).ok()?;
    let (head, reason) = text.split_once('\n')?;
    let recent = || {
        std::fs::metadata(path)
            .and_then(|meta| meta.modified())
            .is_ok_and(|at| at.elapsed().is_ok_and(|age| age < LIMIT_REFUSAL_HOLDS))
    };
    let limits = match compiler {
        Compiler::InProcess => None,
        Compiler::Child(child) => Some((child.timeout, child.memory_limit())),
    };
    let holds = match Rejection::parse(head)? {
        Rejection::Invalid => true,
        Rejection::Timeout(then) => recent() && limits.is_some_and(|(now, _)| now <= then),
        Rejection::Memory(then) => recent() && limits.is_some_and(|(_, now)| now <= then),
    };
    holds.then(|| reason.trim().to_owned())
}

/// What a remembered rejection was, so that one on a limit is retried once the limit is raised.
/// Recorded on the first line of the file (`invalid`, `timeout <ms>`, `memory <bytes>`), the
/// message on the next.
enum Rejection {
    Invalid,
    Timeout(Duration),
    Memory(u64),
}

impl Rejection {
    /// The verdicts on the component itself; the compiler process failing is not one.
    fn of(error: &LoadError) -> Option<Rejection> {
        match error {
            LoadError::Compile(_) => Some(Rejection::Invalid),
            LoadError::CompileTimeout { limit } => Some(Rejection::Timeout(*limit)),
            LoadError::CompileMemory { limit } => Some(Rejection::Memory(*limit)),
            _ => None,
        }
    }

    fn to_text(&self, error: &LoadError) -> String {
        let head = match self {
            Rejection::Invalid => "invalid".to_owned(),
            Rejection::Timeout(limit) => format!("timeout {}", limit.as_millis()),
            Rejection::Memory(limit) => format!("memory {limit}"),
        };
        format!("{head}\n{error}\n")
    }

    fn parse(head: &str) -> Option<Rejection> {
        match head.split_once(' ') {
            None if head == "invalid" => Some(Rejection::Invalid),
            Some(("timeout", ms)) => ms
                .parse()
                .ok()
                .map(|ms| Rejection::Timeout(Duration::from_millis(ms))),
            Some(("memory", bytes)) => bytes.parse().ok().map(Rejection::Memory),
            _ => None,
        }
    }
}

/// How old a temporary cache file must be before it counts as a crash's leftover.
const STALE_TMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Written to a temporary name and renamed, so a crash never leaves a torn file.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    // A name no other write uses: processes in other containers sharing the folder may have
    // the same process id, and one process writes a `.cwasm` and a `.rejected` of one hash.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = path.with_extension(format!(
        "tmp{}-{nanos}-{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let mut options = std::fs::OpenOptions::new();
    // A new file only: a name planted in advance (a link to another file) is an error.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(&tmp)?, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Creates `dir` (and missing parents) readable and writable by this user only, and takes
/// group and others' access away from an existing one of this user's (older releases created
/// it under the process umask).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let folder = std::fs::metadata(dir)?;
        if folder.uid() == own_uid() && folder.mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

#[cfg(unix)]
fn own_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether nobody but this user can have written `entry` (which need not exist yet): the
/// folder is this user's and not writable by group or others, and an existing entry is a
/// regular file (not a link) of this user's that group and others cannot write either.
#[cfg(unix)]
fn private(entry: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let closed = |meta: &std::fs::Metadata| meta.uid() == own_uid() && meta.mode() & 0o022 == 0;
    let Some(Ok(folder)) = entry.parent().map(std::fs::metadata) else {
        return false;
    };
    if !folder.is_dir() || !closed(&folder) {
        return false;
    }
    match std::fs::symlink_metadata(entry) {
        Ok(file) => file.file_type().is_file() && closed(&file),
        Err(error) => error.kind() == std::io::ErrorKind::NotFound,
    }
}

#[cfg(not(unix))]
fn private(_entry: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use wasmtime::Engine;

    use super::{CacheOutcome, CompileCache};
    use crate::compile::{ChildCompiler, Compiler};
    use crate::{LoadError, SandboxLimits};

    /// An empty component: the preamble of the component binary format.
    const EMPTY_COMPONENT: &[u8] = b"\0asm\x0d\0\x01\0";

    /// A cached entry is used while the cache is private; one others could have written is
    /// compiled afresh instead, never run.
    #[cfg(unix)]
    #[test]
    fn an_entry_others_can_write_is_not_loaded() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("cache");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o775)).unwrap();
        let engine = Engine::default();
        let cache = CompileCache::new(&engine, &SandboxLimits::default(), Some(dir.clone()));
        let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(
            mode(&dir) & 0o777,
            0o700,
            "an older release's folder is tightened"
        );
        let load = || {
            cache
                .load(&engine, &Compiler::InProcess, "ab", EMPTY_COMPONENT)
                .unwrap()
                .1
        };
        assert_eq!(load(), CacheOutcome::Compiled);
        assert_eq!(load(), CacheOutcome::Hit);
        let entry = cache.entry("ab", ".cwasm").unwrap();
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert_eq!(load(), CacheOutcome::Compiled, "a world-writable entry");
        std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(load(), CacheOutcome::Hit);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(load(), CacheOutcome::Compiled, "a world-writable folder");
    }

    /// Another engine's entries and an hour-old temporary file go; this engine's entries and
    /// a fresh temporary file (another process writing) stay, as does anything else.
    #[test]
    fn stale_files_are_removed_when_the_cache_opens() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let key = CompileCache::new(&engine, &SandboxLimits::default(), None).engine_key;
        let write = |name: &str, age: Duration| {
            let path = dir.path().join(name);
            std::fs::write(&path, b"x").unwrap();
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(SystemTime::now() - age)
                .unwrap();
        };
        let ours = format!("aa-{key}.cwasm");
        write(&ours, Duration::ZERO);
        write("aa-0123456789abcdef.cwasm", Duration::ZERO);
        write(&format!("bb-{key}.tmp42"), Duration::from_secs(7200));
        write(&format!("cc-{key}.tmp43"), Duration::ZERO);
        write(&format!("dd-{key}.rejected"), Duration::ZERO);
        write("dd-0123456789abcdef.rejected", Duration::ZERO);
        write("notes.txt", Duration::from_secs(7200));
        CompileCache::new(
            &engine,
            &SandboxLimits::default(),
            Some(dir.path().to_owned()),
        );
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ours,
                format!("cc-{key}.tmp43"),
                format!("dd-{key}.rejected"),
                "notes.txt".to_owned()
            ]
        );
    }

    /// A component that does not compile is remembered, and refused on later loads without
    /// compiling it again; a fresh cache folder, or deleting the record, compiles it again.
    #[test]
    fn a_component_that_does_not_compile_is_not_compiled_again() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompileCache::new(
            &engine,
            &SandboxLimits::default(),
            Some(dir.path().to_owned()),
        );
        let broken = [EMPTY_COMPONENT, b"\x63"].concat();
        let first = cache
            .load(&engine, &Compiler::InProcess, "ee", &broken)
            .err()
            .unwrap();
        assert!(matches!(first, LoadError::Compile(_)), "{first}");
        let again = cache
            .load(&engine, &Compiler::InProcess, "ee", &broken)
            .err()
            .unwrap();
        let LoadError::RejectedEarlier { reason, path } = &again else {
            panic!("compiled again: {again}");
        };
        assert_eq!(reason, &first.to_string());
        assert!(
            again.to_string().contains("delete it to try again"),
            "{again}"
        );
        std::fs::remove_file(path).unwrap();
        let third = cache
            .load(&engine, &Compiler::InProcess, "ee", &broken)
            .err()
            .unwrap();
        assert!(matches!(third, LoadError::Compile(_)), "{third}");
        let valid = cache.load(&engine, &Compiler::InProcess, "ff", EMPTY_COMPONENT);
        assert_eq!(
            valid.unwrap().1,
            CacheOutcome::Compiled,
            "other components compile"
        );
    }

    /// A refusal is remembered under the instance pool's limits it was made under: with
    /// others (a component over `max_memories`, then the limit raised) it is compiled again.
    #[test]
    fn a_refusal_under_other_pool_limits_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let broken = [EMPTY_COMPONENT, b"\x63"].concat();
        let load = |limits: &SandboxLimits| {
            CompileCache::new(&engine, limits, Some(dir.path().to_owned()))
                .load(&engine, &Compiler::InProcess, "ee", &broken)
                .err()
                .unwrap()
        };
        let first = load(&SandboxLimits::default());
        assert!(matches!(first, LoadError::Compile(_)), "{first}");
        let same = load(&SandboxLimits::default());
        assert!(matches!(same, LoadError::RejectedEarlier { .. }), "{same}");
        let raised = SandboxLimits {
            max_memories: SandboxLimits::default().max_memories + 1,
            ..SandboxLimits::default()
        };
        let other = load(&raised);
        assert!(matches!(other, LoadError::Compile(_)), "{other}");
    }

    /// A component refused on a limit is refused again while the limit stays and for a day,
    /// and compiled again once the limit is raised or the day is over; a compile that then
    /// succeeds ends the record.
    #[cfg(unix)]
    #[test]
    fn a_timeout_is_remembered_for_a_day_or_until_the_limit_is_raised() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompileCache::new(
            &engine,
            &SandboxLimits::default(),
            Some(dir.path().to_owned()),
        );
        let stuck = |timeout| {
            Compiler::Child(ChildCompiler {
                program: "sh".into(),
                args: vec!["-c".into(), "exec sleep 30".into()],
                timeout,
                max_memory_bytes: 1 << 30,
            })
        };
        let short = Duration::from_millis(50);
        let load = |compiler: &Compiler| cache.load(&engine, compiler, "aa", EMPTY_COMPONENT);
        let refusal = |compiler: &Compiler| load(compiler).err().unwrap();
        let first = refusal(&stuck(short));
        assert!(matches!(first, LoadError::CompileTimeout { .. }), "{first}");
        let same = refusal(&stuck(short));
        assert!(matches!(same, LoadError::RejectedEarlier { .. }), "{same}");
        let raised = refusal(&stuck(short * 2));
        assert!(
            matches!(raised, LoadError::CompileTimeout { .. }),
            "{raised}"
        );
        let record = cache.entry("aa", ".rejected").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&record)
            .unwrap()
            .set_modified(SystemTime::now() - Duration::from_secs(86_400 + 60))
            .unwrap();
        let a_day_later = refusal(&stuck(short * 2));
        assert!(
            matches!(a_day_later, LoadError::CompileTimeout { .. }),
            "compiled again after a day: {a_day_later}"
        );
        let in_process = load(&Compiler::InProcess);
        assert_eq!(
            in_process.unwrap().1,
            CacheOutcome::Compiled,
            "no limit in-process"
        );
        assert!(
            !record.exists(),
            "the record ends with a successful compile"
        );
    }
}
