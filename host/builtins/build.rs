//! Builds every crate under `guest-strategies/` to a component and embeds it.

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().expect("workspace root");
    let guests_dir = root.join("guest-strategies");
    for dir in [&guests_dir, &root.join("sdk"), &root.join("wit")] {
        lnpolicy_guest_build::rerun_if_changed_under(dir);
    }
    let mut packages: Vec<String> = std::fs::read_dir(&guests_dir)
        .expect("guest-strategies/ is readable")
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    packages.sort();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let target_dir = lnpolicy_guest_build::shared_target_dir(&out_dir, "builtin");
    let names: Vec<&str> = packages.iter().map(String::as_str).collect();
    let wasm = lnpolicy_guest_build::build_guests(&root.join("Cargo.toml"), &target_dir, &names)
        .unwrap_or_else(|err| panic!("building guest strategies: {err}"));
    let entries: String = packages
        .iter()
        .zip(&wasm)
        .map(|(package, path)| {
            format!(
                "    ({:?}, include_bytes!({:?})),\n",
                package.replace('-', "_"),
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
