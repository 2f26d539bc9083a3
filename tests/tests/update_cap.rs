//! The node-wide cap on updates per hour (`guard.max_updates_per_hour`) against the
//! simulator's node: updates sent by earlier runs in the last hour spend it, the largest
//! changes go first (a status change before any fee move), and what it holds is sent by a
//! later run once the hour has room, never twice and never beyond the cap.

use std::collections::BTreeMap;
use std::num::NonZeroU32;

use lnpolicy_core::{
    Channel, ChannelId, FeePolicy, Forward, NodeChannel, NodeClient, NodeKind, fixtures,
};
use lnpolicy_policy::apply::{ApplyReport, PlannedUpdate, apply_updates};
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_policy::overlay::Overlay;
use lnpolicy_policy::rollback::{self, ROLLBACK_STRATEGY, RollbackRule};
use lnpolicy_sim::{InProcessNode, LiveSimulation, Scenario, Simulation};
use lnpolicy_store::Store;

/// The update that moves `channel`'s fee rate by `percent` of it (and flips its disabled flag
/// when `toggle`), from the policy the node has now.
fn moved(channel: &NodeChannel, percent: u32, toggle: bool) -> PlannedUpdate {
    let now = channel.local_policy;
    PlannedUpdate {
        channel: channel.clone(),
        desired: FeePolicy {
            fee_ppm: now.fee_ppm + now.fee_ppm * percent / 100,
            disabled: now.disabled != toggle,
            ..now
        },
        decision_id: None,
        min_fee_ppm_delta: 0,
        min_inbound_fee_ppm_delta: 0,
    }
}

async fn policies(node: &InProcessNode) -> Vec<(ChannelId, FeePolicy)> {
    let channels = node.list_channels().await.unwrap();
    channels.iter().map(|c| (c.id, c.local_policy)).collect()
}

/// The channels whose policy differs between two readings.
fn changed(before: &[(ChannelId, FeePolicy)], after: &[(ChannelId, FeePolicy)]) -> Vec<ChannelId> {
    before
        .iter()
        .zip(after)
        .filter(|(b, a)| b.1 != a.1)
        .map(|(b, _)| b.0)
        .collect()
}

#[tokio::test]
async fn the_cap_sends_the_largest_changes_and_holds_the_rest_until_the_hour_has_room() {
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let node = InProcessNode::new(live.shared());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let cap = NonZeroU32::new(3);
    let channels = node.list_channels().await.unwrap();
    assert!(channels.len() >= 6);
    assert!(channels[..6].iter().all(|c| c.local_policy.fee_ppm >= 100));
    let id = |i: usize| channels[i].id;
    let apply = |updates: Vec<PlannedUpdate>, now| {
        let (node, store) = (&node, &store);
        async move {
            apply_updates(node, store, &updates, now, cap)
                .await
                .unwrap()
        }
    };
    let sent = |report: &ApplyReport| {
        let mut sent = report.applied.clone();
        sent.sort_unstable();
        sent
    };

    // An earlier run, at 9,000, spends one of the three.
    let report = apply(vec![moved(&channels[5], 5, false)], 9_000).await;
    assert_eq!((report.applied, report.held), (vec![id(5)], vec![]));

    // Two left for five updates: the status change, then the largest relative move.
    let before = policies(&node).await;
    let report = apply(
        vec![
            moved(&channels[0], 1, false),
            moved(&channels[1], 50, false),
            moved(&channels[2], 200, false),
            moved(&channels[3], 0, true),
            moved(&channels[4], 10, false),
        ],
        10_000,
    )
    .await;
    let mut expected = vec![id(2), id(3)];
    expected.sort_unstable();
    assert_eq!(sent(&report), expected);
    assert_eq!(report.held, vec![id(0), id(1), id(4)], "in the order given");
    assert_eq!(report.node_calls, 2);
    let after = policies(&node).await;
    let mut seen = changed(&before, &after);
    seen.sort_unstable();
    assert_eq!(seen, expected, "the node saw exactly the updates sent");

    // The same run again in the same hour: nothing left, nothing sent.
    let current = node.list_channels().await.unwrap();
    let held_again = vec![
        moved(&current[0], 1, false),
        moved(&current[1], 50, false),
        moved(&current[4], 10, false),
    ];
    let report = apply(held_again.clone(), 10_500).await;
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(report.held.len(), 3);
    assert_eq!(policies(&node).await, after, "a full hour sends nothing");

    // The window is 59 minutes: at 12,539 the update of 9,000 still counts, at 12,540 it no
    // longer does; the two of 10,000 still do.
    let report = apply(held_again.clone(), 12_539).await;
    assert!(report.applied.is_empty(), "{report:?}");
    let report = apply(held_again, 12_540).await;
    assert_eq!(report.applied, vec![id(1)]);
    assert_eq!(report.held, vec![id(0), id(4)]);

    // 59 minutes after 10,000: two more.
    let current = node.list_channels().await.unwrap();
    let report = apply(
        vec![moved(&current[0], 1, false), moved(&current[4], 10, false)],
        13_540,
    )
    .await;
    assert_eq!(report.applied, vec![id(0), id(4)]);
    assert!(report.held.is_empty());
    assert_eq!(store.updates_sent_since(13_540 - 3_539).unwrap(), 3);
}

#[tokio::test]
async fn without_a_cap_every_update_is_sent_and_below_delta_ones_do_not_spend_it() {
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let node = InProcessNode::new(live.shared());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let channels = node.list_channels().await.unwrap();
    let updates: Vec<PlannedUpdate> = channels.iter().map(|c| moved(c, 20, false)).collect();
    let report = apply_updates(&node, &store, &updates, 1_000, None)
        .await
        .unwrap();
    assert_eq!(report.applied.len(), channels.len());
    assert!(report.held.is_empty());

    // A move below its delta and an unchanged policy are not sent, so they take no room.
    let current = node.list_channels().await.unwrap();
    let mut small = moved(&current[0], 1, false);
    small.min_fee_ppm_delta = 1_000_000;
    let same = moved(&current[1], 0, false);
    let real = moved(&current[2], 30, false);
    let report = apply_updates(
        &node,
        &store,
        &[small, same, real],
        5_000,
        NonZeroU32::new(1),
    )
    .await
    .unwrap();
    assert_eq!(
        (report.below_delta, report.unchanged, report.applied),
        (1, 1, vec![current[2].id])
    );
}

/// The guarded policy goes to the node whole. charge-lnd would keep an inbound rate that moves
/// less than its delta at the node's value even while the outbound rate changes: here that
/// would leave a discount of 990 ppm on a 985 ppm fee, which the guard had raised to 985.
#[tokio::test]
async fn the_guarded_policy_is_sent_whole_even_when_the_inbound_move_is_below_its_delta() {
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let node = InProcessNode::new(live.shared());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let channel = node.list_channels().await.unwrap().remove(0);
    let set = |channel: &NodeChannel, fee_ppm, inbound_fee_ppm, delta| PlannedUpdate {
        channel: channel.clone(),
        desired: FeePolicy {
            fee_ppm,
            inbound_fee_ppm,
            ..channel.local_policy
        },
        decision_id: None,
        min_fee_ppm_delta: delta,
        min_inbound_fee_ppm_delta: delta,
    };
    apply_updates(&node, &store, &[set(&channel, 1000, -990, 0)], 1_000, None)
        .await
        .unwrap();
    let channel = node.list_channels().await.unwrap().remove(0);
    let report = apply_updates(&node, &store, &[set(&channel, 985, -985, 10)], 5_000, None)
        .await
        .unwrap();
    assert_eq!(report.applied, vec![channel.id]);
    let now = node.list_channels().await.unwrap().remove(0);
    assert_eq!(
        (now.local_policy.fee_ppm, now.local_policy.inbound_fee_ppm),
        (985, -985)
    );
}

/// The channels as rollback sees them: what it reads is the id and the policy now.
fn views(channels: &[NodeChannel]) -> Vec<Channel> {
    channels
        .iter()
        .map(|c| Channel {
            node: NodeKind::Lnd,
            id: c.id,
            capacity_sat: c.capacity_sat,
            local_policy: c.local_policy,
            ..fixtures::channels().remove(0)
        })
        .collect()
}

fn rollbacks_recorded(store: &Store, channel: ChannelId) -> usize {
    let decisions = store.decisions_for_channel(channel, 100).unwrap();
    decisions
        .iter()
        .filter(|d| d.strategy == ROLLBACK_STRATEGY)
        .count()
}

/// Two changes that cut revenue qualify for rollback in a run with room for one restore: the
/// other is held, leaves no rollback decision behind (reports would count it as done), and is
/// restored by the next run once the hour has room.
#[tokio::test]
async fn a_rollback_the_cap_holds_is_not_recorded_and_a_later_run_restores_it() {
    const CHANGED_AT: u64 = 100_000;
    const WINDOW: u64 = 21_600;
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let node = InProcessNode::new(live.shared());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let channels = node.list_channels().await.unwrap();
    let (first, second, other) = (&channels[0], &channels[1], &channels[2]);
    let (low, high) = (first.id.min(second.id), first.id.max(second.id));
    let original: BTreeMap<ChannelId, u32> = channels
        .iter()
        .map(|c| (c.id, c.local_policy.fee_ppm))
        .collect();

    // Both held their fees for the window before the change (a collection saw them), earned
    // in it, and earned nothing after it.
    store
        .add_channel_snapshot(CHANGED_AT - WINDOW, &channels)
        .unwrap();
    let forwards: Vec<Forward> = [first.id, second.id]
        .into_iter()
        .flat_map(|chan_out| (1..=10).map(move |i| (chan_out, i)))
        .enumerate()
        .map(|(n, (chan_out, i))| Forward {
            index: n as u64 + 1,
            at_ns: (CHANGED_AT - 600 * i) * 1_000_000_000,
            chan_in: other.id,
            chan_out,
            amt_in_msat: 1_001_000,
            amt_out_msat: 1_000_000,
            fee_msat: 1_000,
        })
        .collect();
    store.add_forwards(&forwards, 21).unwrap();
    let change = [moved(first, 400, false), moved(second, 400, false)];
    let report = apply_updates(&node, &store, &change, CHANGED_AT, None)
        .await
        .unwrap();
    assert_eq!(report.applied.len(), 2);

    let now = CHANGED_AT + WINDOW;
    let spent = apply_updates(&node, &store, &[moved(other, 10, false)], now - 60, None)
        .await
        .unwrap();
    assert_eq!(spent.applied, vec![other.id]);
    let rule = RollbackRule {
        threshold: 0.25,
        window_secs: WINDOW,
        guard: GuardConfig::charge_lnd_compatible(NodeKind::Lnd),
        fees: Overlay::default(),
    };
    let rules = BTreeMap::from([(first.id, rule.clone()), (second.id, rule)]);
    let cap = NonZeroU32::new(2);
    let fee_now = |channels: &[NodeChannel], id: ChannelId| {
        channels
            .iter()
            .find(|c| c.id == id)
            .unwrap()
            .local_policy
            .fee_ppm
    };

    let current = node.list_channels().await.unwrap();
    let found = rollback::candidates(&store, &views(&current), &rules, now).unwrap();
    assert_eq!(found.len(), 2, "both changes cut revenue");
    let report = rollback::execute(&node, &store, &found, &current, now, cap)
        .await
        .unwrap();
    assert_eq!(
        report.applied,
        vec![low],
        "equal moves: the lower channel id first"
    );
    assert_eq!(report.held, vec![high]);
    let after = node.list_channels().await.unwrap();
    assert_eq!(fee_now(&after, low), original[&low], "restored");
    assert_eq!(
        fee_now(&after, high),
        original[&high] * 5,
        "still at the changed fee"
    );
    assert_eq!(rollbacks_recorded(&store, low), 1);
    assert_eq!(
        rollbacks_recorded(&store, high),
        0,
        "a held rollback is not recorded"
    );

    let later = now + 3_540;
    let found = rollback::candidates(&store, &views(&after), &rules, later).unwrap();
    let ids: Vec<ChannelId> = found.iter().map(|c| c.channel_id).collect();
    assert_eq!(
        ids,
        vec![high],
        "the held one qualifies again, the restored one does not"
    );
    let report = rollback::execute(&node, &store, &found, &after, later, cap)
        .await
        .unwrap();
    assert_eq!((report.applied, report.held), (vec![high], vec![]));
    let last = node.list_channels().await.unwrap();
    assert_eq!(fee_now(&last, high), original[&high]);
    assert_eq!(rollbacks_recorded(&store, high), 1);
}

/// On LND a change of the disabled flag together with a fee is two channel updates (the policy
/// call, then the status call), and the cap spends two for it: the node broadcasts no more than
/// the cap allows, and an update that no longer fits holds the less urgent ones behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_lnd_a_fee_with_the_disabled_flag_spends_two_of_the_cap() {
    use lnpolicy_node::lnd::permissions::{UPDATE_CHAN_STATUS, UPDATE_CHANNEL_POLICY};
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
    assert_eq!(client.kind(), NodeKind::Lnd);
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let cap = NonZeroU32::new(3);
    let broadcast = || {
        let state = live.shared();
        let state = state.lock().unwrap();
        state
            .calls
            .iter()
            .filter(|m| *m == UPDATE_CHANNEL_POLICY || *m == UPDATE_CHAN_STATUS)
            .count()
    };
    let channels = client.list_channels().await.unwrap();
    assert!(channels.len() >= 5 && channels.iter().all(|c| !c.local_policy.disabled));
    let id = |i: usize| channels[i].id;

    // Three of three: the flag with a fee (two), then the larger of the two fee moves.
    let report = apply_updates(
        &client,
        &store,
        &[
            moved(&channels[0], 10, false),
            moved(&channels[1], 50, false),
            moved(&channels[2], 20, true),
        ],
        10_000,
        cap,
    )
    .await
    .unwrap();
    assert_eq!(report.applied, vec![id(1), id(2)]);
    assert_eq!(report.held, vec![id(0)]);
    assert_eq!(broadcast(), 3, "no more channel updates than the cap");
    assert_eq!(store.updates_sent_since(10_000).unwrap(), 3);

    // A fresh hour with two spent by fee moves: the flag with a fee does not fit in the one
    // left, and the fee move behind it waits too rather than go first.
    apply_updates(
        &client,
        &store,
        &[
            moved(&channels[3], 5, false),
            moved(&channels[0], 10, false),
        ],
        20_000,
        cap,
    )
    .await
    .unwrap();
    let current = client.list_channels().await.unwrap();
    let report = apply_updates(
        &client,
        &store,
        &[moved(&current[4], 5, true), moved(&current[1], 90, false)],
        20_600,
        cap,
    )
    .await
    .unwrap();
    assert!(report.applied.is_empty(), "{report:?}");
    assert_eq!(report.held, vec![id(4), id(1)]);
    assert_eq!(broadcast(), 5);
}

/// Whatever runs come at whatever times, with fee moves and flag changes in any mix, the node
/// broadcasts no more channel updates in any 59 minutes than the cap: LND sends a change of
/// the disabled flag as a call of its own, so an update is one broadcast for the flag and one
/// for everything else it changes.
#[test]
fn no_window_of_the_cap_broadcasts_more_than_it_allows() {
    use proptest::prelude::*;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let run = prop::collection::vec(
        (
            1u64..4_000,
            prop::collection::vec((0usize..8, 0u32..60, any::<bool>()), 0..8),
        ),
        1..8,
    );
    proptest!(ProptestConfig::with_cases(48), |(cap in 1u32..6, runs in run)| {
        let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
        let node = InProcessNode::new(live.shared());
        prop_assert_eq!(node.kind(), NodeKind::Lnd);
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
        let mut now = 100_000;
        let mut sent: Vec<(u64, u32, usize)> = Vec::new();
        for (gap, wanted) in runs {
            now += gap;
            let before = runtime.block_on(policies(&node));
            let channels = runtime.block_on(node.list_channels()).unwrap();
            let mut updates: Vec<PlannedUpdate> = Vec::new();
            for (index, percent, toggle) in wanted {
                let channel = &channels[index % channels.len()];
                if updates.iter().all(|u| u.channel.id != channel.id) {
                    updates.push(moved(channel, percent, toggle));
                }
            }
            let report = runtime
                .block_on(apply_updates(&node, &store, &updates, now, NonZeroU32::new(cap)))
                .unwrap();
            let after = runtime.block_on(policies(&node));
            let broadcasts: u32 = before
                .iter()
                .zip(&after)
                .map(|((_, was), (_, is))| {
                    let flag = u32::from(was.disabled != is.disabled);
                    let rest = u32::from(FeePolicy { disabled: is.disabled, ..*was } != *is);
                    flag + rest
                })
                .sum();
            sent.push((now, broadcasts, report.applied.len()));
            let window: Vec<&(u64, u32, usize)> =
                sent.iter().filter(|(at, _, _)| *at + 3_540 > now).collect();
            let in_window: u32 = window.iter().map(|(_, n, _)| n).sum();
            // Under a cap of 1, a flag with a fee (two) goes alone in an empty hour.
            let alone = window.iter().map(|(_, _, updates)| updates).sum::<usize>() == 1;
            prop_assert!(
                in_window <= cap || (alone && in_window == 2),
                "{in_window} broadcasts in the window at {now}, cap {cap}: {sent:?}"
            );
        }
    });
}

/// Under a cap of 1, an LND update that changes the disabled flag and the fee (two channel
/// updates) goes alone once an hour has passed with nothing sent; it would otherwise never fit,
/// and, first in line, hold every other update with it for good.
#[test]
fn under_a_cap_of_one_a_flag_with_a_fee_goes_alone_in_an_empty_hour() {
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let node = InProcessNode::new(live.shared());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let cap = NonZeroU32::new(1);
    let channels = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            let channels = node.list_channels().await.unwrap();
            let first = apply_updates(
                &node,
                &store,
                &[
                    moved(&channels[0], 20, true),
                    moved(&channels[1], 50, false),
                ],
                10_000,
                cap,
            )
            .await
            .unwrap();
            assert_eq!(first.applied, vec![channels[0].id], "the flag first, alone");
            assert_eq!(first.held, vec![channels[1].id]);
            let current = node.list_channels().await.unwrap();
            let next = apply_updates(&node, &store, &[moved(&current[1], 50, false)], 13_600, cap)
                .await
                .unwrap();
            assert_eq!(
                next.applied,
                vec![channels[1].id],
                "then the rest, an hour later"
            );
            current
        });
    assert!(channels[0].local_policy.disabled);
}
