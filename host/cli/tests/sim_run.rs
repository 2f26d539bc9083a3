//! `lnpolicy sim run`: the real engine and client against a simulated node.

use std::process::Command;

fn sim_run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args(["sim", "run"])
        .args(args)
        .output()
        .expect("run lnpolicy");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The number after `label` in the final "done:" line.
fn done_count(out: &str, label: &str) -> u64 {
    let done = out
        .lines()
        .find(|l| l.starts_with("done:"))
        .unwrap_or_else(|| panic!("{out}"));
    let words: Vec<&str> = done.split_whitespace().collect();
    let at = words
        .iter()
        .position(|w| *w == label)
        .unwrap_or_else(|| panic!("{done}"));
    words[at - 1].parse().unwrap()
}

#[test]
fn runs_cycles_over_lnd_and_applies_updates() {
    let (ok, out, err) = sim_run(&["--hours", "6"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("balance_based over LND gRPC: 14 channels, 6 cycles"),
        "{out}"
    );
    assert!(
        done_count(&out, "policy") > 0,
        "balance_based moves fees: {out}"
    );
    assert_eq!(done_count(&out, "failed"), 0, "{out}");
}

#[test]
fn runs_over_cln_with_another_builtin() {
    let (ok, out, err) = sim_run(&[
        "--hours",
        "3",
        "--node",
        "cln",
        "--strategy",
        "hill_climber",
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("hill_climber over CLN JSON-RPC"), "{out}");
    assert_eq!(done_count(&out, "failed"), 0, "{out}");
}

#[test]
fn unknown_strategy_and_bad_parameter_are_clear_errors() {
    let (ok, _, err) = sim_run(&["--strategy", "nope"]);
    assert!(!ok);
    assert!(err.contains("no built-in strategy \"nope\""), "{err}");
    let (ok, _, err) = sim_run(&["--param", "exponent=99"]);
    assert!(!ok);
    assert!(err.contains("parameter `exponent`"), "{err}");
}

/// A strategy file given to `sim run` is compiled under the compile limits, like one in the
/// strategies folder.
#[test]
fn a_strategy_file_is_compiled_under_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested.wasm");
    std::fs::write(&path, lnpolicy_tests::slow_to_compile_component()).unwrap();
    let (ok, _, err) = sim_run(&[
        "--hours",
        "1",
        "--compile-timeout",
        "1",
        "--strategy",
        path.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("nested.wasm: compiling the component took longer than 1s, the limit"),
        "{err}"
    );
}
