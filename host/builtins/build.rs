//! Builds every crate under `guest-strategies/` to a component and embeds it.
//!
//! A built-in is named by `[package.metadata.lnpolicy] builtin-name` in its Cargo.toml,
//! else by its directory with `-` → `_`. The explicit name exists because some names a
//! config must resolve (charge-lnd's `static`) cannot be Rust package names.

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().expect("workspace root");
    let guests_dir = root.join("guest-strategies");
    for dir in [&guests_dir, &root.join("sdk"), &root.join("wit")] {
        lnpolicy_guest_build::rerun_if_changed_under(dir);
    }
    // (built-in name, package name), sorted by built-in name so `names()` is sorted.
    let mut guests: Vec<(String, String)> = std::fs::read_dir(&guests_dir)
        .expect("guest-strategies/ is readable")
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| {
            let package = entry.file_name().to_string_lossy().into_owned();
            (builtin_name(&entry.path(), &package), package)
        })
        .collect();
    guests.sort();
    if let Some(pair) = guests.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        panic!(
            "guest-strategies/{} and guest-strategies/{} are both the built-in {:?}",
            pair[0].1, pair[1].1, pair[0].0
        );
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let target_dir = lnpolicy_guest_build::shared_target_dir(&out_dir, "builtin");
    let packages: Vec<&str> = guests.iter().map(|(_, package)| package.as_str()).collect();
    let wasm = lnpolicy_guest_build::build_guests(&root.join("Cargo.toml"), &target_dir, &packages)
        .unwrap_or_else(|err| panic!("building guest strategies: {err}"));
    let entries: String = guests
        .iter()
        .zip(&wasm)
        .map(|((name, _), path)| {
            format!(
                "    ({name:?}, include_bytes!({:?})),\n",
                path.display().to_string()
            )
        })
        .collect();
    std::fs::write(
        out_dir.join("builtins.rs"),
        format!("pub static BUILTINS: &[(&str, &[u8])] = &[\n{entries}];\n"),
    )
    .expect("writing builtins.rs");
}

/// The built-in name of the guest crate in `dir` (whose package is `package`).
fn builtin_name(dir: &Path, package: &str) -> String {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|err| panic!("reading {}: {err}", manifest.display()));
    let table: toml::Table = text
        .parse()
        .unwrap_or_else(|err| panic!("parsing {}: {err}", manifest.display()));
    let explicit = table
        .get("package")
        .and_then(|package| package.get("metadata"))
        .and_then(|metadata| metadata.get("lnpolicy"))
        .and_then(|lnpolicy| lnpolicy.get("builtin-name"));
    match explicit {
        None => package.replace('-', "_"),
        Some(toml::Value::String(name)) => name.clone(),
        Some(other) => panic!(
            "{}: [package.metadata.lnpolicy] builtin-name must be a string, not {other}",
            manifest.display()
        ),
    }
}
