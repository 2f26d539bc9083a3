//! `lnpolicy demo` runs the daemon on the simulated node and ends with the experiment report.

use std::process::Command;

use lnpolicy_sim::{Scenario, Simulation};

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

/// The example of an operator who rebalances: the demo's daemon collects the rebalances from
/// the simulated LND, and the report charges each to the channel it refilled, never to the
/// one it left by.
#[test]
fn a_rebalancing_operators_costs_reach_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/backtest/rebalancing-operator.toml"
    );
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
            .args(args)
            .env_remove("CONFIG_LOCATION")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    let dir_arg = dir.path().to_str().unwrap();
    run(&[
        "demo",
        "--days",
        "5",
        "--speed",
        "400000",
        "--scenario",
        file,
        "--dir",
        dir_arg,
    ]);
    let db = dir.path().join("lnpolicy.db");
    let report: serde_json::Value = serde_json::from_str(&run(&[
        "report",
        "--db",
        db.to_str().unwrap(),
        "--format",
        "json",
    ]))
    .unwrap();

    let scenario = Scenario::from_file(std::path::Path::new(file)).unwrap();
    let sim = Simulation::new(scenario.clone());
    let id_of = |alias: &str| {
        let k = scenario
            .channels
            .iter()
            .position(|c| c.peer_alias == alias)
            .unwrap();
        sim.state().channels[k].id
    };
    // 1M sat at 600 ppm into the exchange, 0.8M sat at 400 ppm into the merchant.
    let refilled = [
        (id_of("Exchange One"), 600_000),
        (id_of("merchant.example"), 320_000),
    ];
    let mut total = 0;
    for channel in report["channels"].as_array().unwrap() {
        let id = channel["channel_id"].as_u64().unwrap();
        let cost = channel["analysis"]["rebalance_cost_msat"].as_u64().unwrap();
        match refilled.iter().find(|(refilled, _)| *refilled == id) {
            Some((_, each)) => assert_eq!(cost % each, 0, "{channel}"),
            None => assert_eq!(cost, 0, "not refilled: {channel}"),
        }
        total += cost;
    }
    assert!(
        total > 0,
        "some of the scheduled rebalances were made and counted"
    );
}
