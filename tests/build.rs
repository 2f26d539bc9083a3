//! Builds the hostile test guests (a separate workspace, never built natively).

use std::path::{Path, PathBuf};

fn main() {
    let guests = Path::new(env!("CARGO_MANIFEST_DIR")).join("hostile-guests");
    lnpolicy_guest_build::rerun_if_changed_under(&guests);
    lnpolicy_guest_build::rerun_if_changed_under(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit"),
    );
    let mut packages: Vec<String> = std::fs::read_dir(&guests)
        .expect("tests/hostile-guests is readable")
        .flatten()
        .filter(|entry| {
            std::fs::read_to_string(entry.path().join("Cargo.toml"))
                .is_ok_and(|manifest| manifest.contains("cdylib"))
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    packages.sort();
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo"));
    let target_dir = lnpolicy_guest_build::shared_target_dir(&out_dir, "hostile");
    let names: Vec<&str> = packages.iter().map(String::as_str).collect();
    let built = lnpolicy_guest_build::build_guests(&guests.join("Cargo.toml"), &target_dir, &names)
        .unwrap_or_else(|err| panic!("building hostile guests: {err}"));
    let dir = built[0].parent().expect("wasm files have a parent dir");
    println!("cargo:rustc-env=LNPOLICY_TEST_GUESTS={}", dir.display());
}
