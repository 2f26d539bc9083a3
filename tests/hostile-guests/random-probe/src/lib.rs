//! Prices every channel from the guest's randomness (std's hasher keys come from
//! `wasi:random`), so a test can tell which stream a call was given.

use std::hash::{BuildHasher, RandomState};

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct RandomProbe;

impl Guest for RandomProbe {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "random_probe",
            "Sets each channel's fee from the guest's random stream.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let keys = RandomState::new();
        Ok(channels
            .iter()
            .map(|channel| {
                let draw = keys.hash_one(channel.channel_id) % 1000;
                hostile_common::set_fee(channel.channel_id, 1 + draw as u32, "random".into())
            })
            .collect())
    }
}

hostile_common::bindings::export!(RandomProbe with_types_in hostile_common::bindings);
