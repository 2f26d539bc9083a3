//! Same seed, same bytes: a run is a pure function of its scenario. Different seeds give
//! different markets, and a clone replays exactly what the original does.

use lnpolicy_sim::{Scenario, Simulation};

/// Forwards and failures of a week of the balanced scenario, as JSON.
fn week(scenario: Scenario) -> String {
    let mut sim = Simulation::new(scenario);
    sim.advance(7 * 86_400);
    let state = sim.into_state();
    let forwards = serde_json::to_string(&state.forwards).unwrap();
    let failures = serde_json::to_string(&state.failures).unwrap();
    let channels = serde_json::to_string(&state.channels).unwrap();
    format!("{forwards}\n{failures}\n{channels}")
}

#[test]
fn same_seed_gives_identical_bytes() {
    let a = week(Scenario::builtin("balanced").unwrap());
    let b = week(Scenario::builtin("balanced").unwrap());
    assert!(
        a.len() > 10_000,
        "a week should route something: {} bytes",
        a.len()
    );
    assert_eq!(a, b);
}

#[test]
fn a_different_seed_gives_a_different_run() {
    let mut other = Scenario::builtin("balanced").unwrap();
    other.seed += 1;
    assert_ne!(week(Scenario::builtin("balanced").unwrap()), week(other));
}

#[test]
fn a_clone_replays_the_same_run_and_stepping_does_not_matter() {
    let rebalancing = Scenario::from_file(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/backtest/rebalancing-operator.toml"
    )))
    .unwrap();
    for scenario in [Scenario::builtin("one-way-drains").unwrap(), rebalancing] {
        replays(scenario);
    }
}

fn replays(scenario: Scenario) {
    let mut sim = Simulation::new(scenario);
    sim.advance(86_400);
    let mut copy = sim.clone();
    sim.advance(3 * 86_400);
    // Same span in small steps.
    for _ in 0..(3 * 24) {
        copy.advance(3_600);
    }
    assert_eq!(sim.state().forwards, copy.state().forwards);
    assert_eq!(sim.state().failures, copy.state().failures);
    assert_eq!(sim.state().channels, copy.state().channels);
    assert_eq!(sim.totals(), copy.totals());
    assert_eq!(sim.market_totals(), copy.market_totals());
    assert_eq!(sim.state().rebalances, copy.state().rebalances);
}

#[test]
fn forwards_are_indexed_and_timed_in_virtual_time() {
    let mut sim = Simulation::new(Scenario::builtin("balanced").unwrap());
    let start = sim.now_ns();
    sim.advance(2 * 86_400);
    let state = sim.state();
    assert_eq!(state.now_ns, start + 2 * 86_400 * 1_000_000_000);
    for (i, f) in state.forwards.iter().enumerate() {
        assert_eq!(f.index, i as u64 + 1);
        assert!(f.at_ns > start && f.at_ns <= state.now_ns);
        assert_eq!(f.amt_in_msat - f.amt_out_msat, f.fee_msat);
    }
    for (i, f) in state.failures.iter().enumerate() {
        assert_eq!(f.index, i as u64 + 1);
    }
    assert!(state.forwards.windows(2).all(|w| w[0].at_ns <= w[1].at_ns));
}

#[test]
fn run_to_end_stops_at_the_scenario_duration() {
    let mut scenario = Scenario::builtin("balanced").unwrap();
    scenario.duration_days = 0.5;
    let mut sim = Simulation::new(scenario);
    sim.run_to_end();
    assert_eq!(sim.elapsed_secs(), 43_200);
    let routed = sim.state().forwards.len();
    assert!(routed > 0);
    sim.run_to_end();
    assert_eq!(sim.state().forwards.len(), routed);
}
