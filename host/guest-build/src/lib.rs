//! Builds guest crates to `wasm32-wasip2` components from a build script, so
//! that `cargo build` / `cargo test` on a fresh clone need nothing else: the
//! target is added with rustup when it is missing (rustup will not do it by
//! itself when `RUSTUP_AUTO_INSTALL=0`).

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";
/// Cargo profile defined in each guest workspace: small, LTO, panic=abort.
pub const PROFILE: &str = "guest";

#[derive(Debug, thiserror::Error)]
pub enum GuestBuildError {
    #[error("could not run `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}); see its output above")]
    Failed { command: String, status: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} was not produced by the guest build")]
    Missing { path: PathBuf },
}

/// Variables that cargo sets for the outer build and that must not leak into
/// the nested guest build (host rustflags, clippy's wrapper, forced targets).
const SCRUBBED_ENV: &[&str] = &[
    "CARGO_ENCODED_RUSTFLAGS",
    "RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    "CARGO_MAKEFLAGS",
    "MAKEFLAGS",
    "MFLAGS",
];

/// Builds `packages` of the workspace at `manifest` and returns the path of
/// each package's `.wasm`, in the same order.
pub fn build_guests(
    manifest: &Path,
    target_dir: &Path,
    packages: &[&str],
) -> Result<Vec<PathBuf>, GuestBuildError> {
    std::fs::create_dir_all(target_dir).map_err(|source| GuestBuildError::Io {
        path: target_dir.to_owned(),
        source,
    })?;
    // Build scripts run in parallel: two concurrent `rustup target add` could
    // corrupt the toolchain, so installs are serialised on a lock file.
    let lock_path = target_dir.with_extension("lock");
    let lock = std::fs::File::create(&lock_path)
        .and_then(|file| file.lock().map(|()| file))
        .map_err(|source| GuestBuildError::Io {
            path: lock_path,
            source,
        })?;
    ensure_target_installed()?;
    drop(lock);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(&cargo);
    command
        .arg("build")
        .arg("--profile")
        .arg(PROFILE)
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir);
    for package in packages {
        command.arg("-p").arg(package);
    }
    for var in SCRUBBED_ENV {
        command.env_remove(var);
    }
    // A build script's stdout is parsed by cargo as directives.
    command.stdout(std::io::stderr());
    run(&mut command)?;
    packages
        .iter()
        .map(|package| {
            let path = target_dir
                .join(TARGET)
                .join(PROFILE)
                .join(format!("{}.wasm", package.replace('-', "_")));
            if path.is_file() {
                Ok(path)
            } else {
                Err(GuestBuildError::Missing { path })
            }
        })
        .collect()
}

/// A directory for guest builds shared by every build script of this target
/// dir: cargo marks its target root with `CACHEDIR.TAG`, so walk up from
/// `OUT_DIR` to it; guests are then built once, not once per profile.
pub fn shared_target_dir(out_dir: &Path, name: &str) -> PathBuf {
    out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .unwrap_or(out_dir)
        .join("wasm-guests")
        .join(name)
}

/// Tells cargo to rerun the build script when anything under `dir` changes,
/// skipping build outputs.
pub fn rerun_if_changed_under(dir: &Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|name| name == "target") {
            continue;
        }
        if path.is_dir() {
            rerun_if_changed_under(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

fn ensure_target_installed() -> Result<(), GuestBuildError> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let output = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|source| GuestBuildError::Spawn {
            command: format!("{rustc} --print sysroot"),
            source,
        })?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Ok(());
    }
    let mut command = Command::new("rustup");
    command.args(["target", "add", TARGET]);
    run(&mut command)
}

fn run(command: &mut Command) -> Result<(), GuestBuildError> {
    let rendered = format!("{command:?}");
    let status = command.status().map_err(|source| GuestBuildError::Spawn {
        command: rendered.clone(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(GuestBuildError::Failed {
            command: rendered,
            status: status.to_string(),
        })
    }
}
