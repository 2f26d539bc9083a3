//! A/B experiments: a config section splits its channels between two
//! strategies, arm A and arm B.
//!
//! A channel's arm is drawn once, deterministically, from the experiment's
//! name and the channel id ([`arm_for`]), then recorded in the store. From
//! then on the recorded arm is the answer ([`assign`]): changing the split,
//! reloading the config, restarting the daemon or even changing the rule in a
//! later release never moves a channel to the other arm mid-experiment. A new
//! experiment (a fresh, independent draw) needs a new name.

use std::collections::BTreeMap;

use lnpolicy_core::ChannelId;
use lnpolicy_store::{Store, StoreError};
use sha2::{Digest, Sha256};

pub use lnpolicy_store::Arm;

/// The arm `channel` falls in for `experiment` when a fraction `split` of
/// channels goes to arm A.
///
/// The channel's position in `[0, 1)` is the first 8 bytes of
/// `SHA-256(experiment name as UTF-8 || channel id as 8 big-endian bytes)`,
/// read as a big-endian u64 and divided by 2^64; the channel is in arm A when
/// that position is below `split`. The id has a fixed width, so no two
/// (name, id) pairs hash the same input.
///
/// A cryptographic hash, rather than `std`'s hasher or a quick mix: its output
/// is fixed by the standard, with no per-process seed and no dependence on
/// platform, endianness or Rust version, so a channel gets the same arm on
/// every machine and in every release; and it is uniform even over the
/// structured short channel ids (block height, transaction index, output)
/// that a peer cannot choose freely anyway, so the share of A is `split`
/// within sampling error, and arms under different experiment names are
/// independent of one another.
///
/// `split` is expected in `[0, 1]` (the config parser checks it): 0 puts every
/// channel in B and 1 every channel in A; below 0 acts as 0, above 1 as 1.
pub fn arm_for(experiment: &str, channel: ChannelId, split: f64) -> Arm {
    if position(experiment, channel) < split {
        Arm::A
    } else {
        Arm::B
    }
}

/// The channel's position in `[0, 1)`. Only the top 53 bits of the hash are
/// used: they convert to f64 exactly, whereas all 64 would round the largest
/// values up to 1.0 and put them in arm B even at `split = 1`.
fn position(experiment: &str, channel: ChannelId) -> f64 {
    let digest = Sha256::new()
        .chain_update(experiment.as_bytes())
        .chain_update(channel.to_be_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64
}

/// The arm of each of `channels` in `experiment`, in the order given.
///
/// A channel already recorded for this experiment keeps its recorded arm,
/// whatever `split` is now; a channel seen for the first time is assigned by
/// [`arm_for`] and recorded at `now`, all in one transaction.
pub fn assign(
    store: &Store,
    experiment: &str,
    split: f64,
    channels: &[ChannelId],
    now: u64,
) -> Result<Vec<(ChannelId, Arm)>, StoreError> {
    let mut arms = store.experiment_arms(experiment)?;
    let new: BTreeMap<ChannelId, Arm> = channels
        .iter()
        .filter(|channel| !arms.contains_key(channel))
        .map(|&channel| (channel, arm_for(experiment, channel, split)))
        .collect();
    if !new.is_empty() {
        let new: Vec<(ChannelId, Arm)> = new.into_iter().collect();
        let recorded = store.record_assignments(experiment, split, &new, now)?;
        if recorded == new.len() {
            arms.extend(new);
        } else {
            // Another process (the CLI next to the daemon) assigned some of
            // these between our read and our write, and its rows stand: take
            // the arms from the store rather than from `new`.
            arms = store.experiment_arms(experiment)?;
        }
    }
    // Every channel is now in `arms`: read from the store, recorded just now,
    // or re-read after another process recorded it.
    Ok(channels
        .iter()
        .map(|&channel| (channel, arms[&channel]))
        .collect())
}
