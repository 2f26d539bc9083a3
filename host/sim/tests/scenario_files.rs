//! Scenario files: the shipped ones load and run; broken ones are rejected with an error
//! that names the file and the key (and the line, where the parser knows it).

use lnpolicy_sim::scenario::ShiftSpec;
use lnpolicy_sim::{Scenario, ScenarioError, Simulation};

const GOOD: &str = r#"
seed = 1
[node]
kind = "lnd"
alias = "t"
[[channels]]
peer_alias = "a"
capacity_sat = 1_000_000
local_sat = 500_000
[[channels]]
peer_alias = "b"
capacity_sat = 2_000_000
local_sat = 1_000_000
"#;

/// A daily rebalance of 100,000 sat from `a` into `b` at 500 ppm, from half a day in.
const REBALANCE: &str = r#"
[[rebalances]]
day = 0.5
every_days = 1
from = "a"
to = "b"
amount_sat = 100_000
fee_ppm = 500
"#;

fn parse(src: &str) -> ScenarioError {
    Scenario::from_toml(src, "broken.toml").unwrap_err()
}

#[test]
fn shipped_scenarios_load_from_disk_and_route() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    for name in ["balanced", "one-way-drains", "lnd-heavy", "cln-heavy"] {
        let from_disk = Scenario::from_file(format!("{dir}/{name}.toml")).unwrap();
        assert_eq!(from_disk, Scenario::builtin(name).unwrap(), "{name}");
        assert!((10..=20).contains(&from_disk.channels.len()), "{name}");
        let mut sim = Simulation::new(from_disk);
        sim.advance(86_400);
        assert!(
            sim.state().forwards.len() > 20,
            "{name} routed {}",
            sim.state().forwards.len()
        );
        // Balances only move between the two sides of each channel.
        for (c, spec) in sim.state().channels.iter().zip(&sim.scenario().channels) {
            let total = c.local_balance_sat + c.remote_balance_sat + c.commit_fee_sat;
            assert!(
                total + 1 >= spec.capacity_sat && total <= spec.capacity_sat,
                "{name}"
            );
        }
    }
}

#[test]
fn a_minimal_file_gets_defaults() {
    let s = Scenario::from_toml(GOOD, "good.toml").unwrap();
    assert_eq!(s.duration_days, 30.0);
    assert_eq!(s.market.failure_half_life_secs, 3_600);
    let sim = Simulation::new(s);
    let policy = sim.state().channels[0].local_policy;
    assert_eq!(
        (policy.base_fee_msat, policy.fee_ppm, policy.time_lock_delta),
        (1_000, 1, 80)
    );
    assert!(sim.state().channels.iter().all(|c| c.peer_policy.is_some()));
    assert!(!sim.state().graph.is_empty());
}

#[test]
fn a_type_error_names_key_and_line() {
    let src = GOOD.replace("capacity_sat = 2_000_000", "capacity_sat = \"lots\"");
    let err = parse(&src);
    assert_eq!(err.key(), Some("channels[1].capacity_sat"));
    let ScenarioError::Parse { line, file, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(file, "broken.toml");
    assert_eq!(*line, 12);
    let text = err.to_string();
    assert!(text.starts_with("broken.toml:12:"), "{text}");
    assert!(text.contains("channels[1].capacity_sat"), "{text}");
}

#[test]
fn a_missing_field_names_the_field() {
    let err = parse(&GOOD.replace("local_sat = 500_000\n", ""));
    assert_eq!(err.key(), Some("channels[0].local_sat"), "{err}");
    let err = parse(&GOOD.replace("seed = 1\n", ""));
    assert_eq!(err.key(), Some("seed"), "{err}");
}

#[test]
fn a_misspelt_key_is_rejected_by_name() {
    let src = GOOD.replace(
        "local_sat = 500_000",
        "local_sat = 500_000\npolicy = { fee_pmm = 5 }",
    );
    let err = parse(&src);
    assert!(
        err.key().unwrap().starts_with("channels[0].policy"),
        "{err}"
    );
    assert!(err.to_string().contains("fee_pmm"), "{err}");
}

#[test]
fn out_of_range_values_name_the_key() {
    let cases = [
        (
            GOOD.replace("local_sat = 500_000", "local_sat = 500_000\nbias = 2.0"),
            "channels[0].bias",
        ),
        (
            GOOD.replace("local_sat = 1_000_000", "local_sat = 3_000_000"),
            "channels[1].local_sat",
        ),
        (
            format!("{GOOD}[market]\nsenders = {{ lnd = 0.5, cln = 0.3, ldk = 0.3 }}\n"),
            "market.senders",
        ),
        (
            format!("{GOOD}[[pairs]]\nfrom = \"a\"\nto = \"nobody\"\npayments_per_day = 5\n"),
            "pairs[0].to",
        ),
        (
            GOOD.replace(
                "local_sat = 500_000",
                "local_sat = 500_000\npolicy = { inbound_fee_ppm = 50 }",
            ),
            "channels[0].policy.inbound_fee_ppm",
        ),
        (
            GOOD.replace("peer_alias = \"b\"", "peer_alias = \"a\""),
            "channels[1].peer_alias",
        ),
        (
            format!(
                "{GOOD}[[shifts]]\nday = 5\ncompetitor_fees = 2.0\n\
                 [[shifts]]\nday = 3\ncompetitor_fees = 1.0\n"
            ),
            "shifts[1].day",
        ),
        (
            format!("{GOOD}[[shifts]]\nday = 5\ncompetitor_fees = 0.0\n"),
            "shifts[0].competitor_fees",
        ),
        (
            format!("{GOOD}{REBALANCE}").replace("to = \"b\"", "to = \"c\""),
            "rebalances[0].to",
        ),
        (
            format!("{GOOD}{REBALANCE}").replace("to = \"b\"", "to = \"a\""),
            "rebalances[0].to",
        ),
        (
            format!("{GOOD}{REBALANCE}").replace("every_days = 1", "every_days = 0.01"),
            "rebalances[0].every_days",
        ),
        (
            format!("{GOOD}{REBALANCE}").replace("amount_sat = 100_000", "amount_sat = 0"),
            "rebalances[0].amount_sat",
        ),
        (
            format!("{GOOD}{REBALANCE}").replace("amount_sat = 100_000", "amount_sat = 1_000_000"),
            "rebalances[0].amount_sat",
        ),
        (
            format!("{GOOD}{REBALANCE}").replace("fee_ppm = 500", "fee_ppm = 2_000_000"),
            "rebalances[0].fee_ppm",
        ),
        (
            format!("{GOOD}{REBALANCE}").replace("day = 0.5", "day = -1"),
            "rebalances[0].day",
        ),
    ];
    for (src, key) in cases {
        let err = parse(&src);
        assert!(matches!(err, ScenarioError::Invalid { .. }), "{err:?}");
        assert_eq!(err.key(), Some(key), "{err}");
        assert!(err.to_string().starts_with("broken.toml: "), "{err}");
    }
}

#[test]
fn a_syntax_error_names_the_line_and_its_key() {
    let err = parse(&GOOD.replace("capacity_sat = 1_000_000", "capacity_sat = 1_000_000_"));
    assert_eq!(err.key(), Some("capacity_sat"), "{err}");
    let ScenarioError::Parse { line, .. } = err else {
        panic!("not a parse error");
    };
    assert_eq!(line, 8);
}

#[test]
fn a_missing_file_names_the_file() {
    let err = Scenario::from_file("/nonexistent/lnpolicy.toml").unwrap_err();
    assert!(matches!(err, ScenarioError::Read { .. }));
    assert!(
        err.to_string().contains("/nonexistent/lnpolicy.toml"),
        "{err}"
    );
}

#[test]
fn a_synthetic_node_is_large_and_seeded() {
    let a = Scenario::synthetic(100, 10_000.0, 5);
    assert_eq!(a.channels.len(), 100);
    assert_eq!(a, Scenario::synthetic(100, 10_000.0, 5));
    assert_ne!(a, Scenario::synthetic(100, 10_000.0, 6));
    let mut sim = Simulation::new(a);
    sim.advance(3_600);
    assert!(sim.market_totals().payments > 300);
    assert_eq!(sim.state().channels.len(), 100);
}

#[test]
fn the_chain_section_sets_the_fee_curve_and_stuck_htlcs_are_per_channel() {
    let src = format!(
        "{GOOD}pending_htlcs = 4\n[chain]\nfee_rates = [\n  {{ blocks = 3, sat_per_vb = 50 }},\n  {{ blocks = 1008, sat_per_vb = 1.5 }},\n]\n"
    );
    let s = Scenario::from_toml(&src, "chain.toml").unwrap();
    assert_eq!(s.channels[1].pending_htlcs, 4);
    let sim = Simulation::new(s);
    let state = sim.state();
    assert_eq!(state.fee_rate(2), Some(50.0));
    assert_eq!(state.fee_rate(144), Some(50.0));
    assert_eq!(state.fee_rate(1008), Some(1.5));
    assert_eq!(state.channels[1].pending_htlcs.len(), 4);
    assert!(state.channels[0].pending_htlcs.is_empty());
    // Both channels were opened by us (the default) at the 6-block rate,
    // here the 3-block estimate: 150-200 vB at 50 sat/vB.
    for c in &state.channels {
        let fee = state.funding_fees[&c.id];
        assert!((7_500..=10_000).contains(&fee), "{fee}");
    }

    // Without the section: the default curve.
    let s = Scenario::from_toml(GOOD, "good.toml").unwrap();
    let at: Vec<(u32, f64)> = s
        .chain
        .fee_rates
        .iter()
        .map(|e| (e.blocks, e.sat_per_vb))
        .collect();
    assert_eq!(at, [(2, 20.0), (6, 12.0), (144, 4.0)]);
    // An empty curve: a node without estimates.
    let src = format!("{GOOD}[chain]\nfee_rates = []\n");
    let sim = Simulation::new(Scenario::from_toml(&src, "none.toml").unwrap());
    assert_eq!(sim.state().fee_rate(6), None);
}

#[test]
fn a_bad_fee_curve_or_too_many_htlcs_names_the_key() {
    let curve = |rates: &str| format!("{GOOD}[chain]\nfee_rates = [{rates}]\n");
    for (src, key) in [
        (
            curve("{ blocks = 6, sat_per_vb = 10 }, { blocks = 6, sat_per_vb = 5 }"),
            "chain.fee_rates[1].blocks",
        ),
        (
            curve("{ blocks = 2, sat_per_vb = 10 }, { blocks = 6, sat_per_vb = 11 }"),
            "chain.fee_rates[1].sat_per_vb",
        ),
        (
            curve("{ blocks = 0, sat_per_vb = 10 }"),
            "chain.fee_rates[0].blocks",
        ),
        (
            curve("{ blocks = 2, sat_per_vb = 0 }"),
            "chain.fee_rates[0].sat_per_vb",
        ),
        (
            curve("{ blocks = 2, sat_per_vb = 10, mempool = 3 }"),
            "chain.fee_rates[0].mempool",
        ),
        (
            format!("{GOOD}pending_htlcs = 484\n"),
            "channels[1].pending_htlcs",
        ),
    ] {
        let err = parse(&src);
        assert_eq!(err.key(), Some(key), "{err}");
    }
}

/// The market before a shift is the unshifted market to the forward; from its day on,
/// competing routes that got cheaper take forwards from us.
#[test]
fn a_shift_changes_what_competitors_charge_from_its_day_on() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/backtest/rising-fees.toml"
    );
    let rising = Scenario::from_file(file).unwrap();
    assert_eq!(rising.competitor_fee_scale(0), 1.0);
    assert_eq!(rising.competitor_fee_scale(10 * 86_400 - 1), 1.0);
    assert_eq!(rising.competitor_fee_scale(10 * 86_400), 2.0);

    let steady = Scenario::builtin("balanced").unwrap();
    let mut cheaper = steady.clone();
    cheaper.shifts = vec![ShiftSpec {
        day: 1.0,
        competitor_fees: 0.05,
    }];
    let (mut a, mut b) = (Simulation::new(steady), Simulation::new(cheaper));
    a.advance(86_400);
    b.advance(86_400);
    assert_eq!(a.state().forwards, b.state().forwards, "before the shift");
    let before = a.state().forwards.len();
    a.advance(2 * 86_400);
    b.advance(2 * 86_400);
    let after = |sim: &Simulation| sim.state().forwards.len() - before;
    assert!(
        after(&b) * 2 < after(&a),
        "competitors at 5% of their fees left us {} forwards, against {}",
        after(&b),
        after(&a)
    );
}

#[test]
fn scheduled_rebalances_run_on_their_days_and_skip_what_a_channel_cannot_carry() {
    let scenario = Scenario::from_toml(&format!("{GOOD}{REBALANCE}"), "r.toml").unwrap();
    let mut sim = Simulation::new(scenario.clone());
    let (a, b) = (sim.state().channels[0].id, sim.state().channels[1].id);
    let start = sim.now_ns() / 1_000_000_000;
    sim.advance(3 * 86_400);
    let made: Vec<_> = sim
        .state()
        .rebalances
        .iter()
        .map(|r| {
            (
                r.at_secs - start,
                r.out_channel,
                r.in_channel,
                r.amount_msat,
                r.fee_msat,
            )
        })
        .collect();
    assert_eq!(
        made,
        [43_200, 129_600, 216_000].map(|at| (at, a, b, 100_000_000, 50_000)),
        "at 0.5, 1.5 and 2.5 days"
    );

    // `b`'s peer offline: every one is skipped, and nothing else changes.
    let mut offline = scenario.clone();
    offline.channels[1].active = false;
    let mut sim = Simulation::new(offline.clone());
    sim.advance(3 * 86_400);
    assert!(sim.state().rebalances.is_empty());
    let mut without = offline;
    without.rebalances.clear();
    let mut plain = Simulation::new(without);
    plain.advance(3 * 86_400);
    assert_eq!(plain.state().forwards, sim.state().forwards);
}
