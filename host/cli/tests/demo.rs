//! `lnpolicy demo` runs the daemon on the simulated node and ends with the experiment report.

use std::process::Command;

#[test]
fn demo_runs_the_experiment_and_prints_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args(["demo", "--days", "8", "--speed", "200000", "--dir"])
        .arg(dir.path())
        .env_remove("CONFIG_LOCATION")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("day   1:"), "progress lines:\n{stdout}");
    assert!(
        stdout.contains("day   8:"),
        "runs the days asked:\n{stdout}"
    );
    assert!(stdout.contains("Experiment demo"), "{stdout}");
    assert!(
        stdout.contains("hill_climber") && stdout.contains("balance_based"),
        "{stdout}"
    );
    assert!(stdout.contains("VERDICT: "), "{stdout}");
    let page = std::fs::read_to_string(dir.path().join("demo-report.html")).unwrap();
    assert!(page.contains("<svg"), "the HTML report has charts");
    assert!(dir.path().join("lnpolicy.db").exists());
}
