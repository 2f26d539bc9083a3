//! A/B assignment: deterministic from the experiment name and channel id, split within sampling
//! error, and stable across restarts and changes of the split once recorded.

use std::path::PathBuf;

use lnpolicy_core::ChannelId;
use lnpolicy_policy::experiment::{Arm, arm_for, assign};
use lnpolicy_store::Store;

const NAME: &str = "fees-2025";

/// Distinct, realistically structured short channel ids: block height, transaction index, output.
fn scid(i: u64) -> ChannelId {
    ((700_000 + i / 7) << 40) | ((i * 37 % 4000) << 16) | (i % 3)
}

fn scids(range: std::ops::Range<u64>) -> Vec<ChannelId> {
    range.map(scid).collect()
}

/// Whether `count` successes in `n` draws is within 3 standard deviations of `n * p`.
fn within_three_sigma(count: usize, n: usize, p: f64) -> bool {
    let n = n as f64;
    let sigma = (n * p * (1.0 - p)).sqrt();
    (count as f64 - n * p).abs() <= 3.0 * sigma
}

#[test]
fn the_same_inputs_give_the_same_arm() {
    for channel in scids(0..1000) {
        for split in [0.1, 0.5, 0.9] {
            assert_eq!(arm_for(NAME, channel, split), arm_for(NAME, channel, split));
        }
    }
}

/// Positions computed once from the documented rule (SHA-256 of the name and the big-endian id,
/// first 8 bytes over 2^64): channel 1 sits at 0.0809, the two scids at 0.1309 and 0.8537.
#[test]
fn known_channels_sit_where_the_documented_rule_puts_them() {
    let cases: [(ChannelId, f64, f64); 3] = [
        (1, 0.08, 0.09),
        ((781_250 << 40) | (10 << 16) | 1, 0.13, 0.14),
        ((850_000 << 40) | (1234 << 16) | 1, 0.85, 0.86),
    ];
    for (channel, below, above) in cases {
        assert_eq!(arm_for(NAME, channel, below), Arm::B, "{channel}");
        assert_eq!(arm_for(NAME, channel, above), Arm::A, "{channel}");
    }
}

/// Different names draw independently: about half of the channels land in a different arm.
#[test]
fn changing_the_experiment_name_changes_some_arms() {
    let channels = scids(0..10_000);
    let moved = channels
        .iter()
        .filter(|&&c| arm_for(NAME, c, 0.5) != arm_for("fees-2026", c, 0.5))
        .count();
    assert!(within_three_sigma(moved, channels.len(), 0.5), "{moved}");
}

#[test]
fn the_share_of_a_is_the_split_within_sampling_error() {
    let channels = scids(0..10_000);
    for split in [0.1, 0.5, 0.9] {
        let in_a = channels
            .iter()
            .filter(|&&c| arm_for(NAME, c, split) == Arm::A)
            .count();
        assert!(
            within_three_sigma(in_a, channels.len(), split),
            "split {split}: {in_a} of {} in A",
            channels.len()
        );
    }
}

#[test]
fn split_zero_is_all_b_and_split_one_all_a() {
    let mut channels = scids(0..2000);
    channels.extend([0, 1, u64::MAX, u64::MAX - 1, 1 << 63]);
    for channel in channels {
        assert_eq!(arm_for(NAME, channel, 0.0), Arm::B, "{channel}");
        assert_eq!(arm_for(NAME, channel, 1.0), Arm::A, "{channel}");
    }
}

/// Raising the split only moves channels from B to A, so it is one cut through fixed positions.
#[test]
fn a_larger_split_keeps_every_channel_of_a_smaller_one_in_a() {
    for channel in scids(0..2000) {
        for (low, high) in [(0.1, 0.5), (0.5, 0.9), (0.25, 0.26)] {
            if arm_for(NAME, channel, low) == Arm::A {
                assert_eq!(arm_for(NAME, channel, high), Arm::A, "{channel}");
            }
        }
    }
}

/// A database file under Cargo's scratch folder for integration tests, removed on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new(name: &str) -> TempDb {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{name}-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        TempDb(dir)
    }

    fn path(&self) -> PathBuf {
        self.0.join("lnpolicy.db")
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn recorded_arms_survive_restarts_and_a_changed_split() {
    let db = TempDb::new("experiment-restarts");
    let old = scids(0..500);
    let new = scids(500..1000);

    let first = {
        let store = Store::open(&db.path()).unwrap();
        assign(&store, NAME, 0.5, &old, 100).unwrap()
    };
    assert_eq!(first.iter().map(|&(c, _)| c).collect::<Vec<_>>(), old);
    for &(channel, arm) in &first {
        assert_eq!(arm, arm_for(NAME, channel, 0.5));
    }
    // The test means something only if the new split would move some old channels.
    assert!(first.iter().any(|&(c, arm)| arm != arm_for(NAME, c, 0.1)));

    // Restart with the split lowered and new channels opened, in a mixed order.
    let mixed: Vec<ChannelId> = new.iter().zip(&old).flat_map(|(&n, &o)| [n, o]).collect();
    let second = {
        let store = Store::open(&db.path()).unwrap();
        assign(&store, NAME, 0.1, &mixed, 200).unwrap()
    };
    assert_eq!(second.iter().map(|&(c, _)| c).collect::<Vec<_>>(), mixed);
    for &(channel, arm) in &second {
        let expected = match first.iter().find(|&&(c, _)| c == channel) {
            Some(&(_, recorded)) => recorded,
            None => arm_for(NAME, channel, 0.1),
        };
        assert_eq!(arm, expected, "{channel}");
    }

    // Another restart, another split: nothing moves, and the store holds every channel.
    let store = Store::open(&db.path()).unwrap();
    let third = assign(&store, NAME, 0.9, &mixed, 300).unwrap();
    assert_eq!(third, second);
    let stored = store.experiment_arms(NAME).unwrap();
    assert_eq!(stored.len(), 1000);
    for &(channel, arm) in &second {
        assert_eq!(stored[&channel], arm);
    }
    // Each channel keeps the split it drew at, for the report to tell the two groups apart.
    for assignment in store.experiment_assignments(NAME).unwrap() {
        let expected = if old.contains(&assignment.channel_id) {
            0.5
        } else {
            0.1
        };
        assert_eq!(assignment.split, Some(expected));
    }
}

#[test]
fn assign_keeps_the_given_order_and_tolerates_duplicates() {
    let store = Store::open_in_memory().unwrap();
    let channels = [scid(3), scid(1), scid(3), scid(2), scid(1)];
    let arms = assign(&store, NAME, 0.5, &channels, 1).unwrap();
    let expected: Vec<(ChannelId, Arm)> = channels
        .iter()
        .map(|&c| (c, arm_for(NAME, c, 0.5)))
        .collect();
    assert_eq!(arms, expected);
    assert_eq!(store.experiment_arms(NAME).unwrap().len(), 3);
    // Experiments are independent: the same channels in another one are drawn afresh.
    assert_eq!(
        assign(&store, "other", 1.0, &channels, 2).unwrap(),
        channels.iter().map(|&c| (c, Arm::A)).collect::<Vec<_>>()
    );
    assert!(assign(&store, NAME, 0.5, &[], 3).unwrap().is_empty());
}
