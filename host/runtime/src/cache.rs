//! Compiled components cached on disk, keyed by content hash and by the
//! engine's compatibility hash (which covers the wasmtime version and every
//! setting that changes code, such as fuel): a `.cwasm` from another engine
//! is never loaded. `deserialize` trusts its input, so the cache directory
//! must be private to this host.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::LoadError;

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
    pub(crate) fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
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
        let ours = format!("-{}.cwasm", self.engine_key);
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let other_engine = name.ends_with(".cwasm") && !name.ends_with(&ours);
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

    pub(crate) fn load(
        &self,
        engine: &Engine,
        sha256: &str,
        bytes: &[u8],
    ) -> Result<(Component, CacheOutcome), LoadError> {
        let Some(path) = self.entry(sha256) else {
            return Ok((compile(engine, bytes)?, CacheOutcome::Compiled));
        };
        if path.is_file() {
            // SAFETY: the file was written by `Component::serialize` of an
            // engine with the same compatibility hash, into our own cache dir.
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(component) => return Ok((component, CacheOutcome::Hit)),
                Err(err) => {
                    tracing::warn!(path = %path.display(), error = %err, "discarding unusable cache entry")
                }
            }
        }
        let component = compile(engine, bytes)?;
        if let Err(err) = write_entry(&path, &component) {
            tracing::warn!(path = %path.display(), error = %err, "could not write compile cache entry");
        }
        Ok((component, CacheOutcome::Compiled))
    }

    fn entry(&self, sha256: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|dir| dir.join(format!("{sha256}-{}.cwasm", self.engine_key)))
    }
}

/// How old a temporary cache file must be before it counts as a crash's leftover.
const STALE_TMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, LoadError> {
    Component::new(engine, bytes).map_err(|err| LoadError::Compile(crate::error_chain(&err)))
}

/// Written to a temporary name and renamed, so a crash never leaves a torn entry.
fn write_entry(path: &Path, component: &Component) -> std::io::Result<()> {
    let bytes = component
        .serialize()
        .map_err(|err| std::io::Error::other(crate::error_chain(&err)))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use wasmtime::Engine;

    use super::CompileCache;

    /// Another engine's entries and an hour-old temporary file go; this engine's entries and
    /// a fresh temporary file (another process writing) stay, as does anything else.
    #[test]
    fn stale_files_are_removed_when_the_cache_opens() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let key = CompileCache::new(&engine, None).engine_key;
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
        write("notes.txt", Duration::from_secs(7200));
        CompileCache::new(&engine, Some(dir.path().to_owned()));
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [ours, format!("cc-{key}.tmp43"), "notes.txt".to_owned()]
        );
    }
}
