//! Backtests through the real engine and real guests on the in-process simulated node.

use std::sync::Arc;

use lnpolicy_backtest::{DEFAULT_GRID_PPM, Policy, Spec, run};
use lnpolicy_core::NullEventSink;
use lnpolicy_policy::config::Config;
use lnpolicy_runtime::{RegistryConfig, Runtime, RuntimeConfig, StrategyRegistry};
use lnpolicy_sim::Scenario;

fn registry() -> StrategyRegistry {
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let registry =
        StrategyRegistry::new(runtime, Arc::new(NullEventSink), RegistryConfig::default());
    registry
        .add_builtin("static", lnpolicy_builtins::get("static").unwrap())
        .unwrap();
    registry
}

fn spec<'a>(scenario: &'a Scenario, config: &'a Config, seeds: Vec<u64>) -> Spec<'a> {
    compare(scenario, vec![("policy", config)], seeds)
}

fn compare<'a>(
    scenario: &'a Scenario,
    policies: Vec<(&str, &'a Config)>,
    seeds: Vec<u64>,
) -> Spec<'a> {
    Spec {
        scenario,
        policies: policies
            .into_iter()
            .map(|(label, config)| Policy {
                label: label.to_owned(),
                config,
            })
            .collect(),
        days: 3,
        seeds,
        cycle_secs: 3600,
        grid_ppm: DEFAULT_GRID_PPM.to_vec(),
        jobs: 2,
    }
}

/// On a market whose channels start with inbound discounts, a static outbound fee keeps them,
/// and so does the grid: a static fee that is a grid level scores its own level's revenue,
/// not a reference that dropped the discounts.
#[test]
fn the_grid_keeps_the_inbound_fees_a_static_outbound_fee_keeps() {
    let scenario = Scenario::builtin("lnd-heavy").unwrap();
    assert!(
        scenario_has_inbound_discounts(&scenario),
        "the test needs a market with inbound discounts"
    );
    let config = Config::parse(
        "static.config",
        "[default]\nstrategy = static\nfee_ppm = 300\n",
    )
    .unwrap();
    let mut spec = spec(&scenario, &config, vec![1]);
    spec.grid_ppm = vec![300];
    let reports = run(&spec, &registry(), &|_| {}).unwrap();
    let seed = &reports[0].seeds[0];
    let level: i64 = seed
        .channels
        .iter()
        .map(|c| c.static_revenue_msat[&300])
        .sum();
    let pct = 100.0 * seed.total.revenue_msat as f64 / level as f64;
    // Only the first hour, at the scenario's own fees before the first cycle, differs.
    assert!((97.0..=103.0).contains(&pct), "{pct:.1}% of its own level");
}

/// Keeping each channel at the fee the scenario gives it is a static fee too: it is among each
/// channel's candidates, though the grid's levels miss most of the balanced scenario's fees, so
/// a policy that keeps every fee scores at most the hindsight best on every channel.
#[test]
fn the_fees_a_scenario_starts_with_are_among_the_candidates() {
    let scenario = Scenario::builtin("balanced").unwrap();
    let config = Config::parse("keep.config", "[default]\nstrategy = ignore\n").unwrap();
    let registry = registry();
    registry
        .add_builtin("ignore", lnpolicy_builtins::get("ignore").unwrap())
        .unwrap();
    let reports = run(&spec(&scenario, &config, vec![1]), &registry, &|_| {}).unwrap();
    let mut seeded = scenario.clone();
    seeded.seed = 1;
    let start = lnpolicy_sim::Simulation::try_new(seeded).unwrap();
    // The fee the scenario starts a channel at.
    let own_fee = |id| start.state().channel(id).unwrap().local_policy.fee_ppm;
    let seed = &reports[0].seeds[0];
    let mut off_grid = 0;
    for channel in &seed.channels {
        let own = own_fee(channel.channel_id);
        off_grid += usize::from(!DEFAULT_GRID_PPM.contains(&own));
        let kept = channel.static_revenue_msat.get(&own).copied();
        assert!(
            kept.is_some_and(|kept| kept >= channel.revenue_msat),
            "{}: kept at {own} ppm it earned {} msat; its curve has {kept:?} there",
            channel.peer_alias,
            channel.revenue_msat,
        );
        assert!(channel.revenue_msat <= channel.best_static_revenue_msat);
    }
    assert!(off_grid > 0, "the test needs fees the grid does not have");

    // A grid cut at 300 ppm (`--grid-max-ppm 300`) keeps only the starting fees below it.
    let mut cut = spec(&scenario, &config, vec![1]);
    cut.grid_ppm = lnpolicy_backtest::grid_up_to(300);
    let reports = run(&cut, &registry, &|_| {}).unwrap();
    let mut below = 0;
    for channel in &reports[0].seeds[0].channels {
        let own = own_fee(channel.channel_id);
        let levels: Vec<u32> = channel.static_revenue_msat.keys().copied().collect();
        assert!(levels.iter().all(|&ppm| ppm <= 300), "{levels:?}");
        below += usize::from(own < 300 && levels.contains(&own));
    }
    assert!(below > 0, "starting fees below the ceiling are candidates");
}

fn scenario_has_inbound_discounts(scenario: &Scenario) -> bool {
    lnpolicy_sim::Simulation::try_new(scenario.clone())
        .unwrap()
        .state()
        .channels
        .iter()
        .any(|c| c.local_policy.inbound_fee_ppm < 0)
}

#[test]
fn a_static_fee_on_the_grid_scores_at_most_the_hindsight_best() {
    let scenario = Scenario::builtin("balanced").unwrap();
    let config = Config::parse(
        "static.config",
        "[default]\nstrategy = static\nfee_ppm = 300\n",
    )
    .unwrap();
    let registry = registry();
    let steps = std::sync::Mutex::new(0u64);
    let reports = run(&spec(&scenario, &config, vec![1, 2]), &registry, &|_| {
        *steps.lock().unwrap() += 1;
    })
    .unwrap();
    let [report] = reports.as_slice() else {
        panic!("one report per policy: {}", reports.len());
    };
    assert_eq!(report.policy, "policy");
    assert_eq!(report.seeds.len(), 2);
    assert_eq!(
        *steps.lock().unwrap(),
        2 * (72 + DEFAULT_GRID_PPM.len() as u64 + 1),
        "progress after every cycle and every grid level, the scenario's own fees one more"
    );
    for seed in &report.seeds {
        assert_eq!(seed.groups.len(), 1);
        let group = &seed.groups[0];
        assert_eq!(group.label, "static");
        assert_eq!(group.channels, 14);
        assert!(group.revenue_msat > 0, "the node earns something");
        // 300 ppm is a grid level: the per-channel best over the grid cannot be below it
        // (up to the first hour at the old fee and the gossip delay).
        let pct = group.percent_of_best_static().unwrap();
        assert!(
            pct <= 105.0,
            "static 300 ppm beat the hindsight best: {pct:.1}%"
        );
        assert!(pct > 20.0, "{pct:.1}%");
        assert!(group.success_rate().unwrap() > 0.5);
        assert_eq!(seed.channels.len(), 14);
        let sum = |f: fn(&lnpolicy_backtest::ChannelResult) -> i64| {
            seed.channels.iter().map(f).sum::<i64>()
        };
        assert_eq!(sum(|c| c.revenue_msat), seed.total.revenue_msat);
        assert_eq!(
            sum(|c| c.best_static_revenue_msat),
            group.best_static_revenue_msat,
            "one label all along: the group's share of each channel's best is all of it"
        );
        for channel in &seed.channels {
            // Every level, and the channel's own fee when that is none of them.
            assert!(
                DEFAULT_GRID_PPM
                    .iter()
                    .all(|ppm| channel.static_revenue_msat.contains_key(ppm))
            );
            assert!(channel.static_revenue_msat.len() <= DEFAULT_GRID_PPM.len() + 1);
            let most = channel.static_revenue_msat.values().max().copied();
            assert_eq!(Some(channel.best_static_revenue_msat), most);
            assert_eq!(
                channel.static_revenue_msat[&channel.best_static_ppm],
                channel.best_static_revenue_msat
            );
        }
    }
    assert_ne!(
        report.seeds[0].total.revenue_msat, report.seeds[1].total.revenue_msat,
        "seeds give different markets"
    );
    let peers = |seed: &lnpolicy_backtest::SeedResult| {
        seed.channels
            .iter()
            .map(|c| c.peer_alias.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(
        peers(&report.seeds[0]).len(),
        14,
        "every channel named apart"
    );
    assert_eq!(
        peers(&report.seeds[0]),
        peers(&report.seeds[1]),
        "the same peers in every seed"
    );
    assert_eq!(
        report.total.revenue_msat,
        report
            .seeds
            .iter()
            .map(|s| s.total.revenue_msat)
            .sum::<i64>()
    );
    assert_eq!(
        report.total.channels, 14,
        "the node's channels, not channels × seeds"
    );
    assert_eq!(report.groups[0].channels, 14);
}

#[test]
fn the_same_seed_gives_the_same_report_and_arms_are_reported_apart() {
    let scenario = Scenario::builtin("balanced").unwrap();
    let config = Config::parse(
        "ab.config",
        "[default]\nstrategy = experiment\nexperiment.name = bt\nexperiment.a = static\n\
         experiment.a.fee_ppm = 100\nexperiment.b = static\nexperiment.b.fee_ppm = 900\n",
    )
    .unwrap();
    let registry = registry();
    let first = run(&spec(&scenario, &config, vec![7]), &registry, &|_| {})
        .unwrap()
        .remove(0);
    let second = run(&spec(&scenario, &config, vec![7]), &registry, &|_| {})
        .unwrap()
        .remove(0);
    assert_eq!(first, second, "a backtest is deterministic");
    let labels: Vec<&str> = first.groups.iter().map(|g| g.label.as_str()).collect();
    assert_eq!(labels, ["static (bt arm a)", "static (bt arm b)"]);
    let channels: usize = first.groups.iter().map(|g| g.channels).sum();
    assert_eq!(channels, 14);
}

#[test]
fn policies_compared_in_one_run_report_what_each_reports_alone() {
    let scenario = Scenario::builtin("balanced").unwrap();
    let cheap = Config::parse("cheap", "[default]\nstrategy = static\nfee_ppm = 100\n").unwrap();
    let dear = Config::parse("dear", "[default]\nstrategy = static\nfee_ppm = 1300\n").unwrap();
    let registry = registry();
    let steps = std::sync::Mutex::new(0u64);
    let both = run(
        &compare(&scenario, vec![("cheap", &cheap), ("dear", &dear)], vec![3]),
        &registry,
        &|_| *steps.lock().unwrap() += 1,
    )
    .unwrap();
    assert_eq!(
        *steps.lock().unwrap(),
        DEFAULT_GRID_PPM.len() as u64 + 1 + 2 * 72,
        "the grid is searched once for both policies"
    );
    let labels: Vec<&str> = both.iter().map(|r| r.policy.as_str()).collect();
    assert_eq!(labels, ["cheap", "dear"]);
    for (report, config) in both.iter().zip([&cheap, &dear]) {
        let alone = run(&spec(&scenario, config, vec![3]), &registry, &|_| {})
            .unwrap()
            .remove(0);
        assert_eq!(report.seeds, alone.seeds, "{}", report.policy);
        assert_eq!(report.total, alone.total, "{}", report.policy);
    }
    assert_ne!(both[0].total.revenue_msat, both[1].total.revenue_msat);
    assert_eq!(
        both[0].total.best_static_revenue_msat, both[1].total.best_static_revenue_msat,
        "one hindsight reference for both"
    );
}

/// Threads share out the runs, and the report is the same however many there are.
#[test]
fn the_report_does_not_depend_on_the_number_of_threads() {
    let scenario = Scenario::builtin("balanced").unwrap();
    let cheap = Config::parse("cheap", "[default]\nstrategy = static\nfee_ppm = 100\n").unwrap();
    let dear = Config::parse("dear", "[default]\nstrategy = static\nfee_ppm = 1300\n").unwrap();
    let registry = registry();
    let mut spec = compare(
        &scenario,
        vec![("cheap", &cheap), ("dear", &dear)],
        vec![4, 5],
    );
    spec.jobs = 1;
    let alone = run(&spec, &registry, &|_| {}).unwrap();
    spec.jobs = 3;
    let finished = std::sync::Mutex::new(Vec::new());
    let shared = run(&spec, &registry, &|p| finished.lock().unwrap().push(p.done)).unwrap();
    assert_eq!(shared, alone);
    let mut finished = finished.into_inner().unwrap();
    finished.sort_unstable();
    let steps = 2 * (DEFAULT_GRID_PPM.len() as u64 + 1 + 2 * 72);
    assert_eq!(
        finished,
        (1..=steps).collect::<Vec<_>>(),
        "each step counted once"
    );
}

/// The hindsight grid reaches the highest fee the backtest's guard lets a policy set, for
/// either node: a grid that stopped short of it could leave a channel's best static fee out
/// (the simulator's private wallet channel, with nobody to compete with, earns most at tens of
/// thousands of ppm) and credit a policy with more than the best static fee earns.
#[test]
fn the_grid_reaches_the_highest_fee_a_policy_can_set() {
    use lnpolicy_core::NodeKind;
    use lnpolicy_policy::guard::GuardConfig;
    for kind in [NodeKind::Lnd, NodeKind::Cln] {
        let ceiling = GuardConfig::charge_lnd_compatible(kind).max_fee_ppm;
        assert_eq!(DEFAULT_GRID_PPM.last(), Some(&ceiling), "{kind:?}");
    }
    assert!(DEFAULT_GRID_PPM.windows(2).all(|pair| pair[0] < pair[1]));
}
