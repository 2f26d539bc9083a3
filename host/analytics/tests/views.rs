//! Channel views computed from a real SQLite history.

use lnpolicy_analytics::{AnalyticsConfig, channel_views};
use lnpolicy_core::{
    FailedForward, FailureReason, FeePolicy, FlowClass, Forward, NodeChannel, NodeInfo, NodeKind,
    PaymentPart, Profitability, Window,
};
use lnpolicy_store::Store;

const NOW: u64 = 1_780_000_000;
const NS: u64 = 1_000_000_000;

fn node() -> NodeInfo {
    NodeInfo {
        kind: NodeKind::Lnd,
        pubkey: "02aa".into(),
        alias: "test".into(),
        version: "0.21".into(),
        block_height: 900_000,
        synced_to_chain: true,
        synced_to_graph: true,
    }
}

fn channel(id: u64, capacity_sat: u64) -> NodeChannel {
    NodeChannel {
        id,
        channel_point: format!("{id:064x}:0"),
        peer_pubkey: format!("03{id:064x}"),
        capacity_sat,
        local_balance_sat: capacity_sat / 2,
        remote_balance_sat: capacity_sat / 2,
        commit_fee_sat: 0,
        unsettled_balance_sat: 0,
        local_reserve_sat: 0,
        remote_reserve_sat: 0,
        pending_htlcs: Vec::new(),
        max_accepted_htlcs: 483,
        max_in_flight_msat: capacity_sat * 1000,
        min_htlc_msat: 1,
        active: true,
        private: false,
        initiator: true,
        total_sent_sat: 0,
        total_received_sat: 0,
        local_policy: FeePolicy::default(),
        peer_policy: None,
    }
}

/// A forward of `sats` from `chan_in` to `chan_out`, `days_ago` days before NOW.
fn forward(index: u64, chan_in: u64, chan_out: u64, sats: u64, days_ago: u64) -> Forward {
    Forward {
        index,
        at_ns: (NOW - days_ago * 86_400) * NS,
        chan_in,
        chan_out,
        amt_in_msat: sats * 1000 + 500,
        amt_out_msat: sats * 1000,
        fee_msat: 500,
    }
}

#[test]
fn windows_classes_and_failures_come_from_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let source = 800_000u64 << 40;
    let sink = 800_001u64 << 40;
    let idle = 700_000u64 << 40;
    // 650k sats left through `source` this week (from `sink`), 100k came back:
    // a net outflow of 0.55 of the capacity.
    let forwards = vec![
        forward(1, sink, source, 350_000, 1),
        forward(2, sink, source, 300_000, 3),
        forward(3, source, sink, 100_000, 5),
        forward(4, sink, source, 50_000, 20),
        // Outside every window; history reaches back 35 days.
        forward(5, sink, source, 10_000, 35),
    ];
    store.add_forwards(&forwards, 5).unwrap();
    let failure = FailedForward {
        index: 1,
        at_ns: (NOW - 3600) * NS,
        chan_in: sink,
        chan_out: Some(source),
        amt_in_msat: 1,
        reason: FailureReason::InsufficientBalance,
    };
    store.add_failed_forwards(&[failure], 1).unwrap();
    let channels = [
        channel(source, 1_000_000),
        channel(sink, 1_000_000),
        channel(idle, 1_000_000),
    ];
    let views =
        channel_views(&store, &node(), &channels, NOW, &AnalyticsConfig::default()).unwrap();

    let src = &views[0];
    let week = src.flow.iter().find(|f| f.window == Window::Week).unwrap();
    assert_eq!(
        (week.sats_out, week.sats_in, week.htlcs_out, week.htlcs_in),
        (650_000, 100_000, 2, 1)
    );
    let day = src.flow.iter().find(|f| f.window == Window::Day).unwrap();
    assert_eq!(
        day.htlcs_out, 1,
        "only the forward of a day ago counts in the day window"
    );
    assert_eq!(day.failures.len(), 1);
    let month = src.flow.iter().find(|f| f.window == Window::Month).unwrap();
    assert_eq!(month.htlcs_out, 3);
    assert_eq!(month.fees_earned_msat, 1500);
    assert_eq!(src.flow_class, FlowClass::Source, "{week:?}");
    assert_eq!(views[1].flow_class, FlowClass::Sink);
    assert_eq!(
        views[2].flow_class,
        FlowClass::Unknown,
        "no forwards, no class"
    );
    assert_eq!(
        views[2].profitability,
        Profitability::Zombie,
        "old and idle for a month"
    );
    assert_eq!(views[2].age_blocks, 200_000);
    assert!((src.revenue_rate_msat_per_hour - 1500.0 / 720.0).abs() < 1e-9);
}

#[test]
fn profitability_weighs_what_was_earned_against_the_open_cost() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    // The first five opened 45 days (6,480 blocks), `new` two days, before the node's height
    // of 900,000.
    let [paid_off, even, underwater, estimated, theirs, new] = [
        893_520u64 << 40,
        893_520 << 40 | 1,
        893_520 << 40 | 2,
        893_520 << 40 | 3,
        893_520 << 40 | 4,
        899_712 << 40,
    ];
    // Fees out: 500 msat per forward. paid_off earned 4,000 sat on a 1,000 sat open.
    let mut forwards = Vec::new();
    let mut index = 0;
    let mut add = |out: u64, count: u64| {
        for _ in 0..count {
            index += 1;
            forwards.push(Forward {
                fee_msat: 1_000_000,
                ..forward(index, theirs, out, 10_000, 2)
            });
        }
    };
    add(paid_off, 4); // 4,000 sat earned, cost 1,000 → ROI 3
    add(even, 1); //     1,000 sat earned, cost 1,000 → ROI 0
    add(underwater, 1); // 1,000 sat earned, cost 5,000 → ROI −0.8
    add(estimated, 1); // 1,000 sat earned, no node figure: the 2,000 sat estimate → ROI −0.5
    add(new, 1); // 1,000 sat earned, cost 5,000 → ROI −0.8, but two days old
    index += 1;
    forwards.push(forward(index, paid_off, theirs, 10_000, 2)); // the peer's channel earns 500 msat
    store.add_forwards(&forwards, index).unwrap();
    store
        .record_open_cost_lookup(
            &[
                (paid_off, 1_000),
                (even, 1_000),
                (underwater, 5_000),
                (theirs, 9_000),
                (new, 5_000),
            ],
            &[paid_off, even, underwater, theirs, new],
            NOW,
        )
        .unwrap();
    let mut channels: Vec<NodeChannel> = [paid_off, even, underwater, estimated, theirs, new]
        .into_iter()
        .map(|id| channel(id, 1_000_000))
        .collect();
    channels[4].initiator = false;
    let classes = |store: &Store| -> Vec<Profitability> {
        channel_views(store, &node(), &channels, NOW, &AnalyticsConfig::default())
            .unwrap()
            .iter()
            .map(|v| v.profitability)
            .collect()
    };
    use Profitability::{BreakEven, Profitable, Underwater, Unknown};
    assert_eq!(
        classes(&store),
        [Profitable; 5]
            .into_iter()
            .chain([Unknown])
            .collect::<Vec<_>>(),
        "two days of history of 45-day-old channels: 1,000 sat earned in them is more than two \
         45ths of any of their costs; the new channel is two days old"
    );
    store
        .add_channel_snapshot(NOW - 40 * 86_400, &channels)
        .unwrap();
    assert_eq!(
        classes(&store),
        [
            Profitable, Profitable, Underwater, Underwater, Profitable, Unknown
        ],
        "40 of 45 days: `even` earned its 1,000 sat cost's 40/45 (889 sat) with 12% to spare"
    );
    store
        .add_channel_snapshot(NOW - 45 * 86_400, &channels)
        .unwrap();
    assert_eq!(
        classes(&store),
        [
            Profitable, BreakEven, Underwater, Underwater, Profitable, Unknown
        ],
        "the whole of their lives: the whole cost"
    );
    let views =
        channel_views(&store, &node(), &channels, NOW, &AnalyticsConfig::default()).unwrap();
    assert_eq!(views[0].open_cost_sat, Some(1_000));
    assert_eq!(
        views[3].open_cost_sat, None,
        "the estimate is not shown as the node's figure"
    );
    assert_eq!(
        views[4].open_cost_sat, None,
        "the peer paid for its channel: a cost recorded for it is not charged"
    );
}

#[test]
fn history_reaches_back_to_the_first_record_or_the_channels_opening() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let old = 800_000u64 << 40;
    // opened 288 blocks (two days) before the node's height of 900,000
    let young = 899_712u64 << 40;
    let channels = [channel(old, 1_000_000), channel(young, 1_000_000)];
    let history = |store: &Store| -> Vec<u64> {
        channel_views(store, &node(), &channels, NOW, &AnalyticsConfig::default())
            .unwrap()
            .iter()
            .map(|view| view.history_secs)
            .collect()
    };
    assert_eq!(history(&store), [0, 0], "an empty store has no history");
    store
        .add_forwards(&[forward(1, young, old, 10_000, 20)], 1)
        .unwrap();
    assert_eq!(
        history(&store),
        [20 * 86_400, 2 * 86_400],
        "from the first forward, and never before the channel opened"
    );
    store
        .add_channel_snapshot(NOW - 45 * 86_400, &[channel(old, 1_000_000)])
        .unwrap();
    assert_eq!(
        history(&store),
        [45 * 86_400, 2 * 86_400],
        "an older snapshot shows the store was watching before the first forward"
    );
}

/// Until lnpolicy changes a fee, the revenue rate is the month window's fees over the hours
/// of history behind it; and a month without forwards makes a ZOMBIE only when a month of
/// history stands behind it.
#[test]
fn a_short_history_neither_dilutes_the_revenue_rate_nor_makes_zombies() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let earner = 800_000u64 << 40;
    let idle = 700_000u64 << 40;
    // opened two days before the node's height of 900,000
    let young = 899_712u64 << 40;
    let dead = 600_000u64 << 40;
    let channels = [
        channel(earner, 1_000_000),
        channel(idle, 1_000_000),
        channel(young, 1_000_000),
        channel(dead, 1_000_000),
    ];
    let views = |store: &Store| {
        channel_views(store, &node(), &channels, NOW, &AnalyticsConfig::default()).unwrap()
    };
    store
        .add_forwards(
            &[
                forward(1, idle, earner, 10_000, 10),
                forward(2, earner, young, 10_000, 1),
            ],
            2,
        )
        .unwrap();
    let short = views(&store);
    let rates: Vec<f64> = short.iter().map(|v| v.revenue_rate_msat_per_hour).collect();
    assert_eq!(
        rates,
        [500.0 / 240.0, 0.0, 500.0 / 48.0, 0.0],
        "over the 10 days of history, and the 2 days the young channel has been open"
    );
    assert_ne!(
        short[3].profitability,
        Profitability::Zombie,
        "10 days of history cannot show a month without forwards"
    );

    store
        .add_channel_snapshot(NOW - 40 * 86_400, &channels)
        .unwrap();
    let long = views(&store);
    assert!((long[0].revenue_rate_msat_per_hour - 500.0 / 720.0).abs() < 1e-9);
    assert_eq!(long[3].profitability, Profitability::Zombie);
    assert_ne!(
        long[1].profitability,
        Profitability::Zombie,
        "a forward in, none out: not idle"
    );
}

/// Channel `a` gives a 300 ppm inbound discount, `b` charges 500 ppm; ten forwards of
/// 1,000,000 sat came in by `a` and left by `b` over ten days, with 40 days of history and no
/// fee change yet. Each channel's rate is its own share: `b` its 500 ppm, `a` the discount.
/// The same money a rate after a change counts, so a first change is not judged against the
/// whole fee.
#[test]
fn the_revenue_rate_before_any_change_counts_the_channels_own_share() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let [a, b] = [800_000u64 << 40, 801_000 << 40];
    let with = |id: u64, fee_ppm: u32, inbound_fee_ppm: i32| NodeChannel {
        local_policy: FeePolicy {
            fee_ppm,
            inbound_fee_ppm,
            ..FeePolicy::default()
        },
        ..channel(id, 10_000_000)
    };
    let channels = [with(a, 0, -300), with(b, 500, 0)];
    store
        .add_channel_snapshot(NOW - 40 * 86_400, &channels)
        .unwrap();
    // 500,000 msat out, less 300 ppm of 1,000,500,000 msat (300,150): 199,850 paid.
    let forwards: Vec<Forward> = (1..=10)
        .map(|i| Forward {
            amt_in_msat: 1_000_000_000 + 199_850,
            fee_msat: 199_850,
            ..forward(i, a, b, 1_000_000, i)
        })
        .collect();
    store.add_forwards(&forwards, 10).unwrap();
    let views =
        channel_views(&store, &node(), &channels, NOW, &AnalyticsConfig::default()).unwrap();
    let hours = 30.0 * 24.0;
    assert_eq!(views[1].last_fee_change, None);
    assert!(
        (views[1].revenue_rate_msat_per_hour - 10.0 * 500_000.0 / hours).abs() < 1e-6,
        "{}",
        views[1].revenue_rate_msat_per_hour
    );
    assert!(
        (views[0].revenue_rate_msat_per_hour + 10.0 * 300_150.0 / hours).abs() < 1e-6,
        "{}",
        views[0].revenue_rate_msat_per_hour
    );
}

/// LND gives private and zero-conf channels an alias short channel id, whose "block" is
/// 16,000,000 or more: such a channel is dated from lnpolicy's first snapshot of it.
#[test]
fn an_alias_channel_is_as_old_as_lnpolicys_first_sight_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let alias = (16_000_000u64 << 40) | 4;
    let other = 800_000u64 << 40;
    let channels = [channel(alias, 1_000_000), channel(other, 1_000_000)];
    let views = |store: &Store| {
        channel_views(store, &node(), &channels, NOW, &AnalyticsConfig::default()).unwrap()
    };
    assert_eq!(
        (views(&store)[0].age_blocks, views(&store)[0].history_secs),
        (0, 0),
        "never seen: new"
    );
    store
        .add_channel_snapshot(NOW - 60 * 86_400, &channels)
        .unwrap();
    let seen = views(&store);
    assert_eq!(seen[0].age_blocks, 60 * 144);
    assert_eq!(seen[0].history_secs, 60 * 86_400);
    assert_eq!(
        seen[0].profitability,
        Profitability::Zombie,
        "two idle months"
    );
    assert_eq!(
        seen[1].age_blocks, 100_000,
        "a real height is used as before"
    );
}

/// An alias channel whose forwards the first collection read from the node's log, 20 days
/// back, while lnpolicy's first snapshot is from now: it is dated from its first forward, so
/// its month window is spread over the 20 days it covers, not over none.
#[test]
fn an_alias_channel_with_older_forwards_is_dated_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let alias = (16_000_000u64 << 40) | 4;
    let other = 800_000u64 << 40;
    let channels = [channel(alias, 1_000_000), channel(other, 1_000_000)];
    store.add_channel_snapshot(NOW, &channels).unwrap();
    store
        .add_forwards(
            &[
                forward(1, other, alias, 10_000, 20),
                forward(2, alias, other, 5_000, 3),
            ],
            3,
        )
        .unwrap();
    let views =
        channel_views(&store, &node(), &channels, NOW, &AnalyticsConfig::default()).unwrap();
    assert_eq!(views[0].history_secs, 20 * 86_400);
    assert_eq!(views[0].age_blocks, 20 * 144);
}

/// lnpolicy set 100 ppm ten days ago; two days ago the operator set 1,000 ppm by hand, which
/// the next snapshot saw. The revenue rate is the 1,000 ppm level's: from that snapshot on,
/// not blended with the eight days before. Back at lnpolicy's own level, its change dates it
/// while no collection saw when; once one did, that collection does.
#[test]
fn a_fee_changed_by_hand_starts_the_revenue_rate_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let id = 800_000u64 << 40;
    let at_ppm = |fee_ppm: u32| {
        let mut c = channel(id, 1_000_000);
        c.local_policy.fee_ppm = fee_ppm;
        c
    };
    store
        .add_channel_snapshot(NOW - 20 * 86_400, &[at_ppm(50)])
        .unwrap();
    let intent = store
        .record_intent(
            id,
            None,
            &at_ppm(50).local_policy,
            &at_ppm(100).local_policy,
            NOW - 10 * 86_400,
        )
        .unwrap();
    store
        .resolve_intent(
            intent,
            lnpolicy_store::IntentOutcome::Applied,
            NOW - 10 * 86_400,
        )
        .unwrap();
    store
        .add_channel_snapshot(NOW - 10 * 86_400 + 600, &[at_ppm(100)])
        .unwrap();
    store
        .add_channel_snapshot(NOW - 2 * 86_400, &[at_ppm(1_000)])
        .unwrap();
    store
        .add_forwards(
            &[forward(1, 7, id, 10_000, 5), forward(2, 7, id, 10_000, 1)],
            2,
        )
        .unwrap();
    let view = |channel: NodeChannel| {
        channel_views(
            &store,
            &node(),
            &[channel],
            NOW,
            &AnalyticsConfig::default(),
        )
        .unwrap()
        .remove(0)
    };
    let by_hand = view(at_ppm(1_000));
    assert_eq!(by_hand.last_fee_change, Some(NOW - 2 * 86_400));
    assert!(
        (by_hand.revenue_rate_msat_per_hour - 500.0 / 48.0).abs() < 1e-9,
        "{}",
        by_hand.revenue_rate_msat_per_hour
    );
    let ours = view(at_ppm(100));
    assert_eq!(
        ours.last_fee_change,
        Some(NOW - 10 * 86_400),
        "set back to lnpolicy's fees, but no collection saw when"
    );
    // A collection saw the fees set back: the two days at 1,000 ppm are not lnpolicy's.
    store
        .add_channel_snapshot(NOW - 3_600, &[at_ppm(100)])
        .unwrap();
    let set_back = view(at_ppm(100));
    assert_eq!(set_back.last_fee_change, Some(NOW - 3_600));
}

/// 483 slots a direction: 125 HTLCs each way fill neither half (the sum would have); 250 one
/// way do.
#[test]
fn congestion_is_judged_per_direction() {
    use lnpolicy_analytics::flow_class;
    use lnpolicy_core::PendingHtlc;
    let config = AnalyticsConfig::default();
    let with = |incoming: usize, outgoing: usize| {
        let mut ch = channel(1, 1_000_000);
        ch.max_accepted_htlcs = 483;
        let htlc = |incoming| PendingHtlc {
            incoming,
            ..PendingHtlc::default()
        };
        ch.pending_htlcs = std::iter::repeat_n(htlc(true), incoming)
            .chain(std::iter::repeat_n(htlc(false), outgoing))
            .collect();
        flow_class(&ch, &[], &config)
    };
    assert_eq!(
        with(125, 125),
        FlowClass::Unknown,
        "no history, not congested"
    );
    assert_eq!(with(250, 0), FlowClass::Congested);
    assert_eq!(with(10, 250), FlowClass::Congested);
}

/// The guard floors a requested smallest HTLC at the channel's negotiated one, which only LND
/// reports: the CLN client fills the same field with the policy's own minimum, which must not
/// become a floor (it would keep an operator from lowering a minimum set earlier). What a node
/// set when asked for less is a floor on either.
#[test]
fn htlc_limit_floors_come_from_lnd_and_from_what_a_node_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let channels = [NodeChannel {
        min_htlc_msat: 1000,
        ..channel(1, 1_000_000)
    }];
    let floor = |kind: NodeKind| {
        let node = NodeInfo { kind, ..node() };
        channel_views(&store, &node, &channels, NOW, &AnalyticsConfig::default()).unwrap()[0]
            .min_htlc_floor_msat
    };
    assert_eq!(floor(NodeKind::Lnd), 1000);
    assert_eq!(floor(NodeKind::Cln), 0);
    store.record_htlc_floor(1, 2000, NOW).unwrap();
    assert_eq!(floor(NodeKind::Lnd), 2000);
    assert_eq!(floor(NodeKind::Cln), 2000);
}

/// Core Lightning lowers a largest HTLC above the capacity less the reserve the peer has us
/// keep; LND has no such limit besides capacity and max in flight.
#[test]
fn core_lightnings_htlc_ceiling_is_the_capacity_less_our_reserve() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    let channels = [NodeChannel {
        local_reserve_sat: 10_000,
        ..channel(1, 1_000_000)
    }];
    let ceiling = |kind: NodeKind| {
        let node = NodeInfo { kind, ..node() };
        channel_views(&store, &node, &channels, NOW, &AnalyticsConfig::default()).unwrap()[0]
            .max_htlc_ceiling_msat
    };
    assert_eq!(ceiling(NodeKind::Cln), 990_000_000);
    assert_eq!(ceiling(NodeKind::Lnd), 0);
}

#[test]
fn rebalancing_that_refilled_a_channel_is_among_its_costs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("db")).unwrap();
    // Four channels the peers opened (no opening cost), 45 days old, each earning 1,000 sat.
    let [free, even, underwater, source] = [
        893_520u64 << 40,
        893_520 << 40 | 1,
        893_520 << 40 | 2,
        893_520 << 40 | 3,
    ];
    let forwards: Vec<Forward> = [free, even, underwater, source]
        .into_iter()
        .enumerate()
        .map(|(i, out)| Forward {
            fee_msat: 1_000_000,
            ..forward(i as u64 + 1, source, out, 10_000, 2)
        })
        .collect();
    store.add_forwards(&forwards, 4).unwrap();
    let at = NOW - 86_400;
    let part = |index: u64, channel: u64, hash: &str, sent: bool, fee_msat: u64| PaymentPart {
        index,
        part: 0,
        at_secs: at,
        channel: Some(channel),
        payment_hash: hash.into(),
        sent,
        amount_msat: 500_000_000,
        fee_msat,
    };
    // Rebalances out of `source`: 1,000 sat into `even`, 5,000 sat into `underwater`; and a
    // payment of ours out of `free` that was not a rebalance (it came back by no channel).
    store
        .add_payment_parts(
            &[
                part(1, source, "01", true, 1_000_000),
                part(2, even, "01", false, 0),
                part(3, source, "02", true, 5_000_000),
                part(4, underwater, "02", false, 0),
                part(5, free, "03", true, 9_000_000),
            ],
            &[],
            5,
        )
        .unwrap();
    let mut channels: Vec<NodeChannel> = [free, even, underwater, source]
        .into_iter()
        .map(|id| channel(id, 1_000_000))
        .collect();
    for c in &mut channels {
        c.initiator = false;
    }
    store
        .add_channel_snapshot(NOW - 45 * 86_400, &channels)
        .unwrap();
    let views =
        channel_views(&store, &node(), &channels, NOW, &AnalyticsConfig::default()).unwrap();
    let classes: Vec<Profitability> = views.iter().map(|v| v.profitability).collect();
    assert_eq!(
        views
            .iter()
            .map(|v| v.rebalance_cost_msat)
            .collect::<Vec<_>>(),
        [0, 1_000_000, 5_000_000, 0]
    );
    use Profitability::{BreakEven, Profitable, Underwater};
    assert_eq!(
        classes,
        [Profitable, BreakEven, Underwater, Profitable],
        "the channel a rebalance refilled pays for it; the one it left by does not"
    );
}
