//! Sample channels covering the situations strategies must handle, for
//! `lnpolicy strategy check` and tests: balanced, drained, full, inactive,
//! private and small, and one that already carries an inbound discount.

use crate::{
    Channel, ChannelId, FeePolicy, FlowClass, FlowStats, NodeChannel, NodeKind, Profitability,
    SharedChannels, Window,
};

/// A common routing policy: 1 sat base, 100 ppm, cltv 80.
fn typical_policy() -> FeePolicy {
    FeePolicy {
        base_fee_msat: 1000,
        fee_ppm: 100,
        inbound_base_fee_msat: 0,
        inbound_fee_ppm: 0,
        min_htlc_msat: 1000,
        max_htlc_msat: 990_000_000,
        time_lock_delta: 80,
        disabled: false,
    }
}

fn channel(n: u64, capacity_sat: u64, local_sat: u64) -> Channel {
    let id = ((800_000 + n) << 40) | (n << 16) | 1;
    let mut policy = typical_policy();
    policy.max_htlc_msat = capacity_sat * 990;
    Channel {
        node: NodeKind::Lnd,
        id,
        channel_point: format!("{:064x}:{}", n * 0x1111, n % 3),
        peer_pubkey: format!("02{:064x}", n * 0x9e37_79b9),
        capacity_sat,
        local_balance_sat: local_sat,
        remote_balance_sat: capacity_sat - local_sat,
        local_reserve_sat: capacity_sat / 100,
        remote_reserve_sat: capacity_sat / 100,
        pending_htlcs: 0,
        pending_in_sat: 0,
        pending_out_sat: 0,
        commit_fee_sat: 2_500,
        max_accepted_htlcs: 483,
        max_in_flight_msat: capacity_sat * 990,
        min_htlc_floor_msat: 1,
        max_htlc_ceiling_msat: 0,
        active: true,
        private: false,
        initiator: n.is_multiple_of(2),
        age_blocks: 10_000 + 1000 * n as u32,
        open_cost_sat: n.is_multiple_of(2).then_some(1_500 + 100 * n),
        rebalance_cost_msat: 0,
        shared: SharedChannels::sum([(true, local_sat, capacity_sat - local_sat)]),
        local_policy: policy,
        peer_policy: Some(FeePolicy {
            fee_ppm: 50 * n as u32,
            ..typical_policy()
        }),
        flow: Window::ALL
            .iter()
            .map(|&window| {
                let days = window.seconds() / 86_400;
                FlowStats {
                    window,
                    sats_in: 20_000 * n * days,
                    sats_out: 15_000 * n * days,
                    htlcs_in: (3 * n * days) as u32,
                    htlcs_out: (2 * n * days) as u32,
                    fees_earned_msat: 1_500 * n * days,
                    failures: Vec::new(),
                }
            })
            .collect(),
        history_secs: 90 * 86_400,
        flow_class: FlowClass::Balanced,
        profitability: Profitability::Profitable,
        revenue_rate_msat_per_hour: 62.5 * n as f64,
        last_fee_change: None,
        last_policy_change: None,
    }
}

/// Six channels, one per situation listed in the module doc.
pub fn channels() -> Vec<Channel> {
    let balanced = channel(1, 2_000_000, 1_000_000);
    let mut drained = channel(2, 5_000_000, 150_000);
    drained.flow_class = FlowClass::Source;
    let mut full = channel(3, 1_000_000, 960_000);
    full.flow_class = FlowClass::Sink;
    let mut inactive = channel(4, 3_000_000, 1_200_000);
    inactive.active = false;
    inactive.shared = SharedChannels::sum([(false, 1_200_000, 1_800_000)]);
    let mut private_small = channel(5, 100_000, 40_000);
    private_small.private = true;
    private_small.profitability = Profitability::Zombie;
    private_small.flow.iter_mut().for_each(|f| {
        f.sats_in = 0;
        f.sats_out = 0;
        f.htlcs_in = 0;
        f.htlcs_out = 0;
        f.fees_earned_msat = 0;
    });
    let mut discounted = channel(6, 10_000_000, 2_500_000);
    discounted.local_policy.fee_ppm = 600;
    discounted.local_policy.inbound_fee_ppm = -200;
    discounted.profitability = Profitability::Underwater;
    vec![balanced, drained, full, inactive, private_small, discounted]
}

/// `count` channels with varied balances, for benchmarks and batch tests.
pub fn many_channels(count: usize) -> Vec<Channel> {
    (0..count as u64)
        .map(|n| {
            let capacity = 1_000_000 + (n % 17) * 250_000;
            let local = capacity * (n % 11) / 10;
            channel(n + 1, capacity, local)
        })
        .collect()
}

/// A channel as a node lists it: 1,000,000 sat at even balance, reserves of 1%, active,
/// public, opened by us, no HTLCs in flight, with `local_policy` and no peer policy.
pub fn node_channel(id: ChannelId, peer_pubkey: &str, local_policy: FeePolicy) -> NodeChannel {
    NodeChannel {
        id,
        channel_point: format!("{id:064x}:0"),
        peer_pubkey: peer_pubkey.to_owned(),
        capacity_sat: 1_000_000,
        local_balance_sat: 500_000,
        remote_balance_sat: 500_000,
        commit_fee_sat: 0,
        unsettled_balance_sat: 0,
        local_reserve_sat: 10_000,
        remote_reserve_sat: 10_000,
        pending_htlcs: Vec::new(),
        max_accepted_htlcs: 483,
        max_in_flight_msat: 990_000_000,
        min_htlc_msat: 1000,
        active: true,
        private: false,
        initiator: true,
        total_sent_sat: 0,
        total_received_sat: 0,
        local_policy,
        peer_policy: None,
    }
}
