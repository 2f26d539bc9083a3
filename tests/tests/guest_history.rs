//! A real guest asks the host imports `fee-history`, `competitor-fees` and `rebalance-cost`
//! and gets what the engine built from lnpolicy's own SQLite store: the fee levels the
//! collector saw, each with the fees it earned, the peers' fee percentiles from the node's
//! graph, and what the node's rebalances cost the channels they refilled.
//!
//! The `history_probe` test guest leaves fees alone and writes what it was told into each
//! decision's reason; `static` changes every channel's fee in between.

use std::collections::BTreeMap;

use lnpolicy_core::{ChannelId, NodeClient, NodeKind};
use lnpolicy_engine::{ConfiguredOutcome, ConfiguredPlan, run_configured};
use lnpolicy_policy::config::Config;
use lnpolicy_policy::configured::PlanOutcome;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_sim::{InProcessNode, LiveSimulation, Scenario, Simulation};
use lnpolicy_store::{Store, fee_percentiles};
use lnpolicy_tests::{registry_of, test_guest};

const PROBE: &str = "\
[default]
strategy = history_probe
";

/// A level no channel of the `balanced` scenario starts with.
const NEW_FEE: u32 = 321;

const STATIC: &str = "\
[default]
strategy = static
fee_ppm = 321
";

const HOUR: u64 = 3600;

/// What the probe reported for one channel.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    changes: usize,
    fees: Vec<u32>,
    revenue: Vec<u64>,
    p50: Option<u32>,
    rebalanced: u64,
    /// What `rebalance-cost` said of a channel not in the call.
    foreign: String,
}

fn parse_list<T: std::str::FromStr>(text: &str) -> Vec<T> {
    text.split(',')
        .filter(|item| !item.is_empty())
        .map(|item| item.parse().ok().expect("a number"))
        .collect()
}

fn parse_reason(reason: &str) -> Seen {
    let fields: BTreeMap<&str, &str> = reason
        .split(' ')
        .map(|field| field.split_once('=').expect("key=value"))
        .collect();
    Seen {
        changes: fields["changes"].parse().unwrap(),
        fees: parse_list(fields["fees"]),
        revenue: parse_list(fields["revenue"]),
        p50: match fields["p50"] {
            "none" => None,
            p50 => Some(p50.parse().unwrap()),
        },
        rebalanced: fields["rebalanced"]
            .parse()
            .expect("every channel of the call has a cost"),
        foreign: fields["foreign"].to_owned(),
    }
}

/// The probe's report per channel: every channel must have been decided by it.
fn seen(outcome: &ConfiguredOutcome) -> BTreeMap<ChannelId, Seen> {
    outcome
        .plans
        .iter()
        .map(|plan| match &plan.outcome {
            PlanOutcome::Decided { raw, guarded, .. } => {
                assert_eq!(plan.strategy.as_deref(), Some("history_probe"));
                let node = outcome
                    .channels
                    .iter()
                    .find(|c| c.id == plan.channel_id)
                    .unwrap();
                assert!(
                    guarded
                        .policy
                        .is_none_or(|policy| policy.fee_ppm == node.local_policy.fee_ppm),
                    "the probe leaves fees alone"
                );
                (plan.channel_id, parse_reason(&raw.reason))
            }
            other => panic!("channel {} was not decided: {other:?}", plan.channel_id),
        })
        .collect()
}

/// Fees earned per outgoing channel from the node's forwards in `[from, to)` (unix seconds).
async fn earned(node: &InProcessNode, from: u64, to: u64) -> BTreeMap<ChannelId, u64> {
    let mut earned = BTreeMap::new();
    let mut index = 0;
    loop {
        let page = node.forwards(index, 500).await.unwrap();
        if page.forwards.is_empty() {
            return earned;
        }
        for forward in &page.forwards {
            if (from * 1_000_000_000..to * 1_000_000_000).contains(&forward.at_ns) {
                *earned.entry(forward.chan_out).or_default() += forward.fee_msat;
            }
        }
        index = page.next_index;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_sees_the_stored_fee_history_and_competitor_fees() {
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    live.advance(6 * HOUR);
    let node = InProcessNode::new(live.shared());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let registry = registry_of(&[
        (
            "history_probe",
            std::fs::read(test_guest("history_probe"))
                .unwrap()
                .as_slice(),
        ),
        ("static", lnpolicy_builtins::get("static").unwrap()),
    ]);
    let probe = Config::parse("probe.config", PROBE).unwrap();
    let fixed = Config::parse("static.config", STATIC).unwrap();
    let guard = GuardConfig::charge_lnd_compatible(NodeKind::Lnd);
    let now = |live: &LiveSimulation| live.simulation().now_ns() / 1_000_000_000;
    let cycle = async |config: &Config, at: u64| {
        run_configured(
            &node,
            &store,
            &registry,
            ConfiguredPlan::new(config, &guard, false),
            at,
        )
        .await
        .unwrap()
    };

    // t0: the store has seen each channel once, at its starting fee.
    let t0 = now(&live);
    let first = cycle(&probe, t0).await;
    let initial: BTreeMap<ChannelId, u32> = first
        .channels
        .iter()
        .map(|c| (c.id, c.local_policy.fee_ppm))
        .collect();
    assert!(initial.len() > 5 && initial.values().all(|&fee| fee != NEW_FEE));
    let seen_t0 = seen(&first);
    let mut with_competitors = 0;
    for channel in &first.channels {
        let seen = &seen_t0[&channel.id];
        assert_eq!(seen.changes, 1, "channel {}: {seen:?}", channel.id);
        assert_eq!(seen.fees, [initial[&channel.id]]);
        assert_eq!(seen.revenue, [0], "nothing earned in no time");
        assert_eq!(seen.rebalanced, 0, "no rebalance yet");
        assert_eq!(
            seen.foreign, "none",
            "a channel not in the call has no answer"
        );
        let expected = node
            .peer_info(&channel.peer_pubkey)
            .await
            .unwrap()
            .and_then(|info| fee_percentiles(&info.fee_rates_ppm))
            .map(|fees| fees.p50_ppm);
        assert_eq!(
            seen.p50, expected,
            "competitor fees of channel {}",
            channel.id
        );
        with_competitors += usize::from(expected.is_some());
    }
    assert!(
        with_competitors > 0,
        "the graph knows other channels of some peers"
    );

    // t1: every channel moves to NEW_FEE, its level from then on (the next collection, at t2,
    // sees nothing new).
    live.advance(6 * HOUR);
    let t1 = now(&live);
    let changed = cycle(&fixed, t1).await;
    assert_eq!(changed.updates().len(), initial.len());
    // The operator refills the second channel from the first, for 2,500 msat of fees.
    let (drained, refilled) = (changed.channels[0].id, changed.channels[1].id);
    live.rebalance(drained, refilled, 50_000_000, 2_500, 0)
        .unwrap();
    live.advance(6 * HOUR);
    let t2 = now(&live);
    let second = cycle(&probe, t2).await;
    live.advance(12 * HOUR);
    let t3 = now(&live);
    let third = cycle(&probe, t3).await;

    let before = earned(&node, t0, t1).await;
    for (seen, to) in [(seen(&second), t2), (seen(&third), t3)] {
        let after = earned(&node, t1, to).await;
        for (id, seen) in &seen {
            assert_eq!(seen.changes, 2, "channel {id} at {to}: {seen:?}");
            assert_eq!(seen.fees, [initial[id], NEW_FEE], "channel {id} at {to}");
            assert_eq!(seen.p50, seen_t0[id].p50, "channel {id}");
            let cost = if *id == refilled { 2_500 } else { 0 };
            assert_eq!(
                seen.rebalanced, cost,
                "channel {id}: only the refilled one paid"
            );
            assert_eq!(
                seen.revenue,
                [
                    before.get(id).copied().unwrap_or(0),
                    after.get(id).copied().unwrap_or(0)
                ],
                "channel {id} at {to}: the revenue of each level"
            );
        }
    }
    let after = earned(&node, t1, t3).await;
    assert!(
        before.values().any(|&msat| msat > 0) && after.values().any(|&msat| msat > 0),
        "the market forwarded through us at both levels: {before:?} {after:?}"
    );
}
