//! The inbound-fee field report (seeds/002): an LND operator set −X ppm inbound and +X ppm
//! outbound on every channel so that LND senders see an unchanged price. CLN and LDK senders
//! ignore inbound fees and see +X. With X = 1000 routed payments fell to under half; with
//! X = 200 most came back. Reproduced with 60% non-LND senders in a competitive market.

use lnpolicy_core::FeePolicy;
use lnpolicy_sim::{Scenario, Simulation};

const DAYS: u64 = 14;

/// A well-connected, cheap LND routing node: twelve large channels, low fees, peers that
/// charge little toward it, and senders that know it (own hop success 0.75).
fn node() -> Scenario {
    let fees = [100, 150, 200, 250, 300, 120, 180, 220, 280, 140, 260, 160];
    let peer = [0, 50, 100, 10, 150, 25, 75, 200, 0, 100, 50, 120];
    let mut toml = String::from(
        "seed = 2\n\
         [node]\nkind = \"lnd\"\nalias = \"field-report\"\n\
         [market]\npayments_per_day = 800\nown_hop_success = 0.75\n\
         senders = { lnd = 0.40, cln = 0.33, ldk = 0.27 }\n",
    );
    for (i, (fee, peer)) in fees.iter().zip(peer).enumerate() {
        toml += &format!(
            "[[channels]]\npeer_alias = \"peer{i}\"\ncapacity_sat = 20_000_000\n\
             local_sat = 10_000_000\npolicy = {{ base_fee_msat = 0, fee_ppm = {fee} }}\n\
             peer_policy = {{ base_fee_msat = 0, fee_ppm = {peer} }}\n"
        );
    }
    Scenario::from_toml(&toml, "field-report.toml").unwrap()
}

struct Outcome {
    forwards: u64,
    /// `[lnd, cln, ldk]`
    by_sender: [u64; 3],
    /// Forwards that paid more than LND's rule requires (senders blind to the discount).
    overpaying: usize,
}

/// The fee an LND node requires: max(0, outbound + inbound), inbound on amount + outbound.
fn required(out: &FeePolicy, inbound: &FeePolicy, amt_out_msat: u64) -> u64 {
    let out_fee = u64::from(out.base_fee_msat) + amt_out_msat * u64::from(out.fee_ppm) / 1_000_000;
    let on = (amt_out_msat + out_fee) as i64;
    let in_fee = i64::from(inbound.inbound_base_fee_msat)
        + on * i64::from(inbound.inbound_fee_ppm) / 1_000_000;
    (out_fee as i64 + in_fee).max(0) as u64
}

/// Forwards over the run with −`x` inbound and +`x` outbound on every channel.
fn run(x: u32) -> Outcome {
    let mut sim = Simulation::new(node());
    let channels: Vec<_> = sim
        .state()
        .channels
        .iter()
        .map(|c| (c.id, c.local_policy))
        .collect();
    for (id, mut policy) in channels {
        policy.fee_ppm += x;
        policy.inbound_fee_ppm = -(x as i32);
        sim.set_policy(id, policy).unwrap();
    }
    sim.advance(DAYS * 86_400);
    let state = sim.state();
    let policy = |id| state.channel(id).unwrap().local_policy;
    let mut overpaying = 0;
    for f in &state.forwards {
        let need = required(&policy(f.chan_out), &policy(f.chan_in), f.amt_out_msat);
        assert!(f.fee_msat >= need, "forward {f:?} paid less than {need}");
        overpaying += usize::from(f.fee_msat > need);
    }
    let m = sim.market_totals();
    Outcome {
        forwards: m.forwards,
        by_sender: m.forwards_by_sender,
        overpaying,
    }
}

#[test]
fn inbound_discount_of_1000_halves_routing_and_200_keeps_most() {
    let base = run(0);
    let x200 = run(200);
    let x1000 = run(1_000);
    let ratio = |o: &Outcome| o.forwards as f64 / base.forwards as f64;
    println!(
        "baseline {} forwards {:?}; X=200 kept {:.3}; X=1000 kept {:.3}",
        base.forwards,
        base.by_sender,
        ratio(&x200),
        ratio(&x1000)
    );
    assert!(base.forwards > 2_000, "baseline routes {}", base.forwards);
    assert!(
        ratio(&x1000) < 0.5,
        "X=1000 kept {:.3} of baseline",
        ratio(&x1000)
    );
    assert!(
        ratio(&x200) > 0.8,
        "X=200 kept {:.3} of baseline",
        ratio(&x200)
    );

    // The mechanism: LND senders see the same price and keep coming; the others leave.
    let non_lnd = |o: &Outcome| o.by_sender[1] + o.by_sender[2];
    assert!(x1000.by_sender[0] as f64 >= 0.95 * base.by_sender[0] as f64);
    assert!((non_lnd(&x1000) as f64) < 0.3 * non_lnd(&base) as f64);
    // Non-LND senders who still come pay the full outbound fee, above what LND requires.
    assert_eq!(base.overpaying, 0);
    assert!(
        x1000.overpaying as u64 >= non_lnd(&x1000) / 2,
        "{}",
        x1000.overpaying
    );
}

/// One channel gives a 500 ppm inbound discount: the discount LND senders take is that
/// channel's cost in `own_revenue_msat`, not a fall in the revenue of the channels its
/// traffic left by, and the shares add up to what the node earned.
#[test]
fn an_inbound_discount_is_the_giving_channels_own_cost() {
    let mut sim = Simulation::new(node());
    let giver = sim.state().channels[0].clone();
    let policy = FeePolicy {
        inbound_fee_ppm: -500,
        fee_ppm: 600,
        ..giver.local_policy
    };
    sim.set_policy(giver.id, policy).unwrap();
    sim.advance(3 * 86_400);
    let totals = sim.totals();
    let node: u64 = totals.iter().map(|t| t.revenue_msat).sum();
    let own: i64 = totals.iter().map(|t| t.own_revenue_msat).sum();
    assert_eq!(own, i64::try_from(node).unwrap());
    let given = sim.channel_totals(giver.id).unwrap();
    assert!(given.forwards_in > 0);
    assert!(
        given.own_revenue_msat < i64::try_from(given.revenue_msat).unwrap(),
        "{given:?}"
    );
    let mut credited = 0;
    for t in totals.iter().filter(|t| t.id != giver.id) {
        let whole = i64::try_from(t.revenue_msat).unwrap();
        assert!(t.own_revenue_msat >= whole, "{t:?}");
        credited += t.own_revenue_msat - whole;
    }
    assert!(
        credited > 0,
        "LND senders took the discount on some forwards"
    );
}
