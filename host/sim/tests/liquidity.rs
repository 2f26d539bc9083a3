//! Liquidity: a channel that only ever sends drains, then fails forwards with
//! INSUFFICIENT_BALANCE (recorded in the node's failure log, as LND/CLN report them);
//! a balance-aware fee keeps more forwards succeeding.

use lnpolicy_core::FailureReason;
use lnpolicy_sim::{RebalanceRefused, Scenario, Simulation};

const DAY: u64 = 86_400;

#[test]
fn a_one_way_channel_drains_then_fails_with_insufficient_balance() {
    let mut sim = Simulation::new(Scenario::builtin("one-way-drains").unwrap());
    let sink = sim.state().channels[0].clone();
    assert_eq!(sim.scenario().channels[0].peer_alias, "Big Exchange");
    let mut daily = Vec::new();
    for _ in 0..30 {
        let before = sim.channel_totals(sink.id).unwrap().clone();
        sim.advance(DAY);
        let after = sim.channel_totals(sink.id).unwrap();
        daily.push((
            after.forwards_out - before.forwards_out,
            after.failures_insufficient_balance - before.failures_insufficient_balance,
        ));
    }
    let state = sim.state();
    let now = state.channel(sink.id).unwrap();
    assert!(
        now.local_balance_sat < sink.capacity_sat / 10,
        "still {} of {} local",
        now.local_balance_sat,
        sink.capacity_sat
    );
    let failures: Vec<_> = state
        .failures
        .iter()
        .filter(|f| f.chan_out == Some(sink.id) && f.reason == FailureReason::InsufficientBalance)
        .collect();
    assert!(failures.len() > 20, "{} failures", failures.len());
    // It routed first and failed later: the first failure comes after many forwards.
    let first_failure = failures[0].at_ns;
    let routed_before = state
        .forwards
        .iter()
        .filter(|f| f.chan_out == sink.id && f.at_ns < first_failure)
        .count();
    assert!(
        routed_before > 50,
        "only {routed_before} forwards before the first failure"
    );
    // The first day routes freely; once drained, only what trickles back in can leave
    // (the sink also sends a little), and attempts fail about as often as they succeed.
    let first_day = daily[0].0;
    let late: u64 = daily[25..].iter().map(|d| d.0).sum();
    let late_failures: u64 = daily[25..].iter().map(|d| d.1).sum();
    assert!(
        first_day > 3 * late / 5,
        "first day {first_day}, last 5 days {late}: {daily:?}"
    );
    assert!(2 * late_failures > late, "{daily:?}");
}

/// Every 6 hours: a high fee on channels below 20% local, a low one above 60%.
fn balance_aware(sim: &mut Simulation) {
    let updates: Vec<_> = sim
        .state()
        .channels
        .iter()
        .map(|c| {
            let ratio = c.local_balance_sat as f64 / c.capacity_sat as f64;
            let mut policy = c.local_policy;
            policy.fee_ppm = if ratio < 0.2 {
                2_500
            } else if ratio > 0.6 {
                100
            } else {
                500
            };
            (c.id, policy)
        })
        .collect();
    for (id, policy) in updates {
        if sim.state().channel(id).unwrap().local_policy != policy {
            sim.set_policy(id, policy).unwrap();
        }
    }
}

#[test]
fn a_balance_aware_fee_keeps_more_forwards_succeeding() {
    let start = Simulation::new(Scenario::builtin("one-way-drains").unwrap());
    let mut fixed = start.clone();
    let mut aware = start;
    for _ in 0..(30 * 4) {
        fixed.advance(6 * 3_600);
        balance_aware(&mut aware);
        aware.advance(6 * 3_600);
    }
    let drained = |sim: &Simulation| {
        sim.state()
            .failures
            .iter()
            .filter(|f| f.reason == FailureReason::InsufficientBalance)
            .count() as f64
    };
    let success = |sim: &Simulation| {
        let m = sim.market_totals();
        m.forwards as f64 / (m.forwards + m.failures) as f64
    };
    assert!(
        drained(&aware) < 0.5 * drained(&fixed),
        "aware {} fixed {}",
        drained(&aware),
        drained(&fixed)
    );
    assert!(success(&aware) > success(&fixed));
}

#[test]
fn a_rebalance_moves_liquidity_and_its_fee_and_refuses_what_a_side_cannot_carry() {
    let mut sim = Simulation::new(Scenario::builtin("balanced").unwrap());
    let (a, b) = (
        sim.state().channels[0].clone(),
        sim.state().channels[1].clone(),
    );
    sim.rebalance(a.id, b.id, 100_000_000, 2_000_000, 0)
        .unwrap();
    let after = |sim: &Simulation, id| sim.state().channel(id).unwrap().clone();
    let (a2, b2) = (after(&sim, a.id), after(&sim, b.id));
    assert_eq!(
        a2.local_balance_sat,
        a.local_balance_sat - 102_000,
        "amount and fee left"
    );
    assert_eq!(a2.remote_balance_sat, a.remote_balance_sat + 102_000);
    assert_eq!(
        b2.local_balance_sat,
        b.local_balance_sat + 100_000,
        "the amount came back"
    );
    assert_eq!(sim.state().rebalances.len(), 1);
    assert_eq!(sim.state().rebalances[0].fee_msat, 2_000_000);

    let too_much = (a2.local_balance_sat + 1) * 1000;
    assert_eq!(
        sim.rebalance(a.id, b.id, too_much, 0, 0),
        Err(RebalanceRefused::Outbound {
            channel: a.id,
            needed_msat: too_much,
        })
    );
    // Into the channel that has received the most it can: its peer has nothing left to give.
    let full = sim
        .state()
        .channels
        .iter()
        .filter(|c| c.id != a.id)
        .min_by_key(|c| c.remote_balance_sat)
        .unwrap()
        .clone();
    let beyond_peer = (full.remote_balance_sat + 1) * 1000;
    let richest = sim
        .state()
        .channels
        .iter()
        .filter(|c| c.id != full.id)
        .max_by_key(|c| c.local_balance_sat)
        .unwrap()
        .clone();
    assert!(richest.local_balance_sat > full.remote_balance_sat + 1_000);
    assert_eq!(
        sim.rebalance(richest.id, full.id, beyond_peer, 0, 0),
        Err(RebalanceRefused::Inbound {
            channel: full.id,
            needed_msat: beyond_peer,
        })
    );
    assert_eq!(
        sim.rebalance(a.id, a.id, 1, 0, 0),
        Err(RebalanceRefused::SameChannel(a.id))
    );
    let offline = sim.state().channels[2].id;
    sim.state_mut().channels[2].active = false;
    assert_eq!(
        sim.rebalance(a.id, offline, 1_000, 0, 0),
        Err(RebalanceRefused::Inactive(offline))
    );
    assert_eq!(sim.state().rebalances.len(), 1, "a refusal changes nothing");
    assert_eq!(after(&sim, a.id), a2);
}

#[test]
fn a_rebalance_that_fails_in_flight_gives_back_what_it_moved() {
    let mut sim = Simulation::new(Scenario::builtin("balanced").unwrap());
    let before = sim.state().channels.clone();
    let (a, b) = (before[0].id, before[1].id);
    sim.rebalance(a, b, 100_000_000, 2_000_000, 3600).unwrap();
    assert_ne!(sim.state().channels, before);
    assert!(sim.fail_rebalance(0));
    assert_eq!(sim.state().channels, before, "what it moved went back");
    assert!(sim.state().rebalances[0].failed);
    assert!(
        !sim.fail_rebalance(0),
        "a failed rebalance does not fail twice"
    );

    sim.rebalance(a, b, 100_000_000, 2_000_000, 0).unwrap();
    assert!(!sim.fail_rebalance(1), "a settled rebalance cannot fail");
    assert!(!sim.fail_rebalance(7), "no such rebalance");
}
