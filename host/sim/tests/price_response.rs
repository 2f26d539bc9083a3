//! Demand reacts to price: with everything else fixed (same seed, so the very same payments
//! arrive), forwards through a channel fall as its fee rises, and revenue has an interior
//! maximum — the shape that makes fee optimisation meaningful.

use lnpolicy_sim::{Scenario, Simulation};

const DAYS: u64 = 14;

/// (fee, forwards out, revenue msat) for a static fee on channel `k` of the balanced node.
fn sweep(k: usize) -> Vec<(u32, u64, u64)> {
    let start = Simulation::new(Scenario::builtin("balanced").unwrap());
    (0..=5_000)
        .step_by(500)
        .map(|fee| {
            let mut sim = start.clone();
            let channel = &sim.state().channels[k];
            let (id, mut policy) = (channel.id, channel.local_policy);
            policy.fee_ppm = fee;
            policy.base_fee_msat = 0;
            sim.set_policy(id, policy).unwrap();
            sim.advance(DAYS * 86_400);
            let t = sim.channel_totals(id).unwrap();
            (fee, t.forwards_out, t.revenue_msat)
        })
        .collect()
}

fn check(k: usize) {
    let points = sweep(k);
    println!("channel {k}: (fee ppm, forwards, revenue msat) {points:?}");
    let forwards: Vec<u64> = points.iter().map(|p| p.1).collect();
    let revenue: Vec<u64> = points.iter().map(|p| p.2).collect();
    // Falls overall, and never rises by more than noise from one step to the next.
    assert!(forwards[0] > 2 * forwards[2], "channel {k}: {points:?}");
    assert!(forwards[2] > forwards[10], "channel {k}: {points:?}");
    for w in forwards.windows(2) {
        assert!(w[1] <= w[0] + w[0] / 20 + 3, "channel {k}: {points:?}");
    }
    // Revenue peaks strictly inside the sweep, clearly above both ends.
    let (best, &max) = revenue.iter().enumerate().max_by_key(|(_, r)| **r).unwrap();
    assert!(
        best > 0 && best < revenue.len() - 1,
        "channel {k}: peak at the edge {points:?}"
    );
    assert!(
        max as f64 > 1.3 * *revenue.last().unwrap() as f64,
        "channel {k}: {points:?}"
    );
    // At 0 ppm only senders still holding the old policy (gossip delay) pay anything.
    assert!(revenue[0] * 20 < max, "channel {k}: {points:?}");
}

#[test]
fn forwards_fall_and_revenue_peaks_inside_on_a_large_channel() {
    check(2);
}

#[test]
fn forwards_fall_and_revenue_peaks_inside_on_a_mid_channel() {
    check(1);
}
