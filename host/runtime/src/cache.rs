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
        CompileCache {
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
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
