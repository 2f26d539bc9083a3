//! The `lnpolicy strategy` commands, run as the real binary.

use std::process::{Command, Output};

use lnpolicy_tests::test_guest;
use sha2::{Digest, Sha256};

fn lnpolicy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args(args)
        .output()
        .expect("run lnpolicy")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_runs_a_builtin_on_fixture_channels_and_shows_raw_and_guarded() {
    let output = lnpolicy(&["strategy", "check", "builtin:balance_based"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("RAW (ppm/inbound)") && text.contains("GUARDED (ppm/inbound)"));
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("80000")).collect();
    assert_eq!(rows.len(), 6, "one row per fixture channel:\n{text}");
    assert!(text.contains("inactive"), "{text}");
}

#[test]
fn check_shows_clamps_the_guard_applied() {
    let path = test_guest("hostile_out_of_range");
    let output = lnpolicy(&["strategy", "check", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("fee_ppm 4294967295→5000 (bounds)"), "{text}");
}

#[test]
fn check_fails_with_exit_1_when_the_strategy_traps() {
    let path = test_guest("hostile_panic");
    let output = lnpolicy(&["strategy", "check", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("hostile guest panicked on purpose"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_rejects_a_bad_parameter_naming_it() {
    let output = lnpolicy(&[
        "strategy",
        "check",
        "builtin:balance_based",
        "--param",
        "exponent=20",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("parameter `exponent` = 20 is outside [0.1, 10]"),
        "{}",
        stderr(&output)
    );
    let unknown = lnpolicy(&[
        "strategy",
        "check",
        "builtin:balance_based",
        "--param",
        "speed=3",
    ]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("unknown parameter `speed`"),
        "{}",
        stderr(&unknown)
    );
}

#[test]
fn inspect_prints_identity_and_schema() {
    let path = test_guest("good_v1");
    let output = lnpolicy(&["strategy", "inspect", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let sha = hex(&Sha256::digest(std::fs::read(&path).unwrap()));
    assert!(text.contains(&format!("sha256:      {sha}")), "{text}");
    assert!(text.contains("name:        good_v1"), "{text}");
    assert!(
        text.contains("contract:    lnpolicy:strategy@0.3.1"),
        "{text}"
    );
    let builtin = stdout(&lnpolicy(&["strategy", "inspect", "builtin:balance_based"]));
    assert!(
        builtin.contains("max_fee_ppm") && builtin.contains("integer"),
        "{builtin}"
    );
}

#[test]
fn inspect_names_the_file_and_reason_for_a_bad_component() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.wasm");
    std::fs::write(&path, b"not wasm at all").unwrap();
    let output = lnpolicy(&["strategy", "inspect", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("broken.wasm") && err.contains("not a WebAssembly file"),
        "{err}"
    );
    assert_eq!(err.matches("not a WebAssembly file").count(), 1, "{err}");
}

/// A component that would take minutes to compile is stopped at `--compile-timeout` and
/// refused with the limit, naming the file.
#[test]
fn a_component_slow_to_compile_is_refused_at_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.wasm");
    std::fs::write(&path, lnpolicy_tests::slow_to_compile_component()).unwrap();
    let output = lnpolicy(&[
        "strategy",
        "check",
        "--compile-timeout",
        "1",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("nested.wasm: compiling the component took longer than 1s, the limit"),
        "{err}"
    );
}

/// Compiling under `--compile-memory` too small for a strategy file refuses it with the limit;
/// the default limit compiles it, and so does one above a lower hard limit the process is
/// under (systemd's `LimitDATA=`), which the child keeps to instead of failing to start.
#[test]
fn a_component_is_refused_when_compiling_it_needs_more_than_the_memory_limit() {
    let guest = test_guest("good_v1");
    let guest = guest.to_str().unwrap();
    let output = lnpolicy(&["--compile-memory", "8", "strategy", "check", guest]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("good_v1.wasm: compiling the component needed more than 8 MiB"),
        "{err}"
    );
    let output = lnpolicy(&["strategy", "check", guest]);
    assert!(output.status.success(), "{}", stderr(&output));
    let under_a_hard_limit = Command::new("sh")
        .args([
            "-c",
            "ulimit -d 1500000 && exec \"$0\" strategy check \"$1\"",
        ])
        .args([env!("CARGO_BIN_EXE_lnpolicy"), guest])
        .output()
        .unwrap();
    assert!(
        under_a_hard_limit.status.success(),
        "{}",
        stderr(&under_a_hard_limit)
    );
}

/// A component over the sandbox's per-component limits is refused for what it is, not as a
/// failure of the compiler process (the limits are checked where the compiled component is
/// loaded, in the parent).
#[test]
fn a_component_over_the_per_component_limits_is_refused_naming_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.wasm");
    std::fs::write(&path, lnpolicy_tests::component_of_memories(3)).unwrap();
    let output = lnpolicy(&["strategy", "check", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("many.wasm: compiling the component failed")
            && err.contains("exceeds the configured maximum"),
        "{err}"
    );
}

#[test]
fn list_shows_builtins_and_folder_files_and_fails_on_a_rejected_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(test_guest("good_v2"), dir.path().join("mine.wasm")).unwrap();
    let good = lnpolicy(&["strategy", "list", dir.path().to_str().unwrap()]);
    assert!(good.status.success(), "{}", stderr(&good));
    let text = stdout(&good);
    assert!(
        text.contains("balance_based") && text.contains("built-in"),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("mine ")), "{text}");

    std::fs::copy(
        test_guest("hostile_sockets"),
        dir.path().join("sneaky.wasm"),
    )
    .unwrap();
    let bad = lnpolicy(&["strategy", "list", dir.path().to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    let text = stdout(&bad);
    assert!(
        text.contains("sneaky") && text.contains("REJECTED") && text.contains("wasi:sockets"),
        "{text}"
    );
}

#[test]
fn unknown_builtin_lists_the_available_ones() {
    let output = lnpolicy(&["strategy", "check", "builtin:nope"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("balance_based"),
        "{}",
        stderr(&output)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `-v` may go before a subcommand (a unit file may write `lnpolicy -vv daemon`); `lnpolicy
/// -c`'s own flags there are refused, naming the flag.
#[test]
fn verbose_goes_before_a_subcommand_and_run_flags_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().to_str().unwrap();
    let output = lnpolicy(&["-vv", "strategy", "list", folder]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = lnpolicy(&["--dry-run", "strategy", "list", folder]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--dry-run before `strategy` is `lnpolicy -c`'s"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_demo_at_speed_0_is_refused_instead_of_never_ending() {
    let output = lnpolicy(&["demo", "--speed", "0"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--speed"), "{}", stderr(&output));
}

/// The compiler child ends with lnpolicy: killed, lnpolicy leaves no compile running on its
/// own (only lnpolicy holds it to its time limit).
#[cfg(target_os = "linux")]
#[test]
fn a_compile_does_not_outlive_lnpolicy() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.wasm");
    std::fs::write(&path, lnpolicy_tests::slow_to_compile_component()).unwrap();
    let mut parent = Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args(["strategy", "check", "--compile-timeout", "600"])
        .arg(&path)
        .spawn()
        .unwrap();
    let wait_for = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let compiler = || lnpolicy_tests::children_of(parent.id()).first().copied();
    wait_for("the compiler child started", &|| compiler().is_some());
    let compiler = compiler().unwrap();
    // Compiling, its input read whole (a child cut off mid-input would end anyway, on a
    // truncated component).
    wait_for("the compiler child is compiling", &|| {
        lnpolicy_tests::resident_above(compiler, 64 << 10)
    });
    parent.kill().unwrap();
    parent.wait().unwrap();
    // A signal, delivered at once: well within the seconds the compile itself would still
    // take, even in a release build.
    let deadline = Instant::now() + Duration::from_secs(2);
    while lnpolicy_tests::resident_above(compiler, 0) {
        assert!(
            Instant::now() < deadline,
            "the compiler child outlived lnpolicy"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
