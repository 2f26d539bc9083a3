//! Asks for the extreme value of every numeric policy field.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileOutOfRange;

impl Guest for HostileOutOfRange {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_out_of_range",
            "Returns one decision per channel with every numeric field at its extreme.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        Ok(channels
            .iter()
            .map(|channel| Decision {
                channel_id: channel.channel_id,
                fee_ppm: Some(u32::MAX),
                base_fee_msat: Some(u32::MAX),
                inbound_fee_ppm: Some(i32::MIN),
                inbound_base_fee_msat: Some(i32::MIN),
                min_htlc_msat: Some(u64::MAX),
                max_htlc_msat: Some(0),
                time_lock_delta: Some(u32::MAX),
                disabled: None,
                reason: "out of range".to_owned(),
            })
            .collect())
    }
}

hostile_common::bindings::export!(HostileOutOfRange with_types_in hostile_common::bindings);
