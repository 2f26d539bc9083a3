//! `lnpolicy backtest`, run as the real binary.

use std::path::PathBuf;
use std::process::{Command, Output};

fn lnpolicy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args(args)
        .output()
        .expect("run lnpolicy")
}

fn static_300() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/backtest/static-300.config")
        .to_string_lossy()
        .into_owned()
}

/// One day of `config` (static 300 ppm) against static 1300 ppm, which must succeed.
fn static_300_against_1300(config: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "backtest",
        "-c",
        config,
        "--strategy",
        "static",
        "--param",
        "fee_ppm=1300",
        "--days",
        "1",
    ];
    args.extend_from_slice(extra);
    let output = lnpolicy(&args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn several_policies_are_compared_on_one_hindsight_grid() {
    let config = static_300();
    let output = static_300_against_1300(&config, &["--json"]);
    let reports: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let reports = reports.as_array().expect("one report per policy");
    let labels: Vec<&str> = reports
        .iter()
        .map(|r| r["policy"].as_str().unwrap())
        .collect();
    assert_eq!(labels, [config.as_str(), "static fee_ppm=1300"]);
    let total = |i: usize, field: &str| reports[i]["total"][field].as_u64().unwrap();
    assert_eq!(
        total(0, "best_static_revenue_msat"),
        total(1, "best_static_revenue_msat")
    );
    assert_ne!(total(0, "revenue_msat"), total(1, "revenue_msat"));
    // The table's two figures are in the JSON too, from the same totals.
    let share = reports[1]["total"]["percent_of_best_static"]
        .as_f64()
        .unwrap();
    let expected =
        100.0 * total(1, "revenue_msat") as f64 / total(1, "best_static_revenue_msat") as f64;
    assert!(
        (share - expected).abs() < 1e-9,
        "{share} against {expected}"
    );
    let tried = total(1, "forwards") + total(1, "failures");
    let success = reports[1]["total"]["success_rate"].as_f64().unwrap();
    assert!((success - total(1, "forwards") as f64 / tried as f64).abs() < 1e-12);
    assert!(reports[0].get("compared_with_first").is_none());
    let compared = &reports[1]["compared_with_first"];
    assert_eq!(compared["baseline"], config.as_str());
    assert_eq!(
        compared["differences"].as_array().unwrap().len(),
        1,
        "one seed"
    );
    assert!(compared["paired"].is_null(), "no interval from one seed");

    // one policy: one report, not a list, as before
    let output = lnpolicy(&["backtest", "-c", &config, "--days", "1", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["policy"], config.as_str());
    assert_eq!(report["total"], reports[0]["total"]);
}

#[test]
fn the_text_output_compares_each_policy_with_the_first_seed_by_seed() {
    let config = static_300();
    let output = static_300_against_1300(&config, &["--seeds", "2"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let heading = format!("compared with {config}, seed by seed");
    let after = stdout
        .split_once(&heading)
        .unwrap_or_else(|| panic!("no comparison in:\n{stdout}"))
        .1;
    let row = after
        .lines()
        .find(|line| line.starts_with("static fee_ppm=1300"))
        .unwrap_or_else(|| panic!("no row for the second policy in:\n{after}"));
    assert!(row.ends_with("of 2"), "{row}");
    assert!(row.contains(" to "), "two seeds give an interval: {row}");
}

#[test]
fn each_channel_is_shown_against_a_grid_cut_at_the_ceiling() {
    let config = static_300();
    let json = static_300_against_1300(&config, &["--grid-max-ppm", "900", "--json"]);
    let reports: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    let report = &reports[1];
    let grid: Vec<u64> = report["grid_ppm"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert_eq!(grid.last(), Some(&900), "the ceiling is the top level");
    assert!(grid.iter().all(|&ppm| ppm <= 900), "{grid:?}");
    let channels = report["seeds"][0]["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 14);
    for channel in channels {
        let curve = channel["static_revenue_msat"].as_object().unwrap();
        // The grid's levels, and the channel's starting fee when it is none of them and not
        // above the ceiling.
        let levels: Vec<u64> = curve.keys().map(|k| k.parse().unwrap()).collect();
        assert!(grid.iter().all(|ppm| levels.contains(ppm)), "{levels:?}");
        assert!(levels.len() <= grid.len() + 1, "{levels:?}");
        assert!(levels.iter().all(|&ppm| ppm <= 900), "{levels:?}");
        assert!(channel["best_static_ppm"].as_u64().unwrap() <= 900);
        assert_eq!(
            curve[&channel["best_static_ppm"].to_string()],
            channel["best_static_revenue_msat"]
        );
    }

    // The static policies set one fee on every channel; channels whose best is more than
    // twice that are named in a note.
    let highest = |report: &serde_json::Value| -> Vec<u64> {
        report["seeds"][0]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["highest_fee_ppm"].as_u64().unwrap())
            .collect()
    };
    assert!(highest(&reports[0]).iter().all(|&ppm| ppm == 300));
    assert!(highest(report).iter().all(|&ppm| ppm == 1300));
    let untried = reports[0]["seeds"][0]["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["best_static_ppm"].as_u64().unwrap() > 600
                && c["best_static_revenue_msat"].as_i64().unwrap() > 0
        })
        .count();
    assert!(untried > 0, "the scenario's best fees are above 600 ppm");

    let text = static_300_against_1300(&config, &["--grid-max-ppm", "900", "--per-channel"]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("up to 900 ppm"), "{stdout}");
    let first = stdout.split_once("policy: static fee_ppm=1300").unwrap().0;
    assert!(
        first.contains(&format!(
            "note: {untried} channel run(s) earned most at more than twice the highest fee"
        )),
        "{first}"
    );
    assert!(
        !stdout
            .split_once("policy: static fee_ppm=1300")
            .unwrap()
            .1
            .contains("more than twice"),
        "1300 ppm is more than half of any level up to 900"
    );
    let policy = stdout
        .split_once("policy: static fee_ppm=1300")
        .unwrap_or_else(|| panic!("no second policy in:\n{stdout}"))
        .1;
    let table = policy
        .split_once("per channel:")
        .unwrap_or_else(|| panic!("no channel table in:\n{policy}"))
        .1;
    for channel in channels {
        let peer = channel["peer_alias"].as_str().unwrap();
        let row = table
            .lines()
            .find(|line| line.trim_start().starts_with(peer))
            .unwrap_or_else(|| panic!("no row for {peer} in:\n{table}"));
        let sat = (channel["revenue_msat"].as_i64().unwrap() / 1000).to_string();
        let revenue = row.trim_start()[peer.len()..].split_whitespace().next();
        assert_eq!(revenue, Some(sat.as_str()), "the REVENUE column of {row}");
    }
}

#[test]
fn an_unknown_strategy_is_named_before_anything_runs() {
    let output = lnpolicy(&[
        "backtest",
        "--strategy",
        "static",
        "--strategy",
        "no_such",
        "--days",
        "1",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("no_such"), "{err}");
}

/// One day of a hill_climber whose parameters fail every call (`min_fee_ppm > max_fee_ppm`).
fn failing_climber(extra: &[&str]) -> Output {
    let mut args = vec![
        "backtest",
        "--strategy",
        "hill_climber",
        "--param",
        "min_fee_ppm=2000",
        "--param",
        "max_fee_ppm=1000",
        "--days",
        "1",
    ];
    args.extend_from_slice(extra);
    lnpolicy(&args)
}

/// A strategy that fails every call: every failed decision is counted, the report says so,
/// and the first error of each channel is logged.
#[test]
fn failed_decisions_are_counted_and_reported() {
    let output = failing_climber(&["--json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let channels = report["total"]["channels"].as_u64().unwrap();
    assert_eq!(
        report["total"]["failed_decisions"].as_u64(),
        Some(channels * 24),
        "every channel's decision failed in each of the 24 cycles"
    );
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("min_fee_ppm"), "the error is logged: {err}");

    let text = failing_climber(&[]);
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(
        out.contains(&format!("warning: {} decisions failed", channels * 24)),
        "{out}"
    );
}

#[test]
fn jobs_beyond_the_sandbox_pool_are_refused() {
    let output = lnpolicy(&["backtest", "--strategy", "static", "--jobs", "33"]);
    assert_eq!(output.status.code(), Some(1));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("--jobs is at most 32"), "{err}");
}
