//! A closed standard output (`lnpolicy ... | head -1`) ends the command quietly, without a
//! panic.

use std::process::{Command, Stdio};

#[test]
fn a_closed_stdout_ends_the_command_quietly_with_success() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args(["strategy", "inspect", "builtin:hill_climber"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lnpolicy");
    // Closed before lnpolicy has loaded the strategy, so its first line already fails.
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait for lnpolicy");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
}
