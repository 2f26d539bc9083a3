//! Asks for positive inbound fees, which LND rejects unless explicitly allowed.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostilePositiveInbound;

impl Guest for HostilePositiveInbound {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_positive_inbound",
            "Returns one decision per channel with positive inbound fees.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        Ok(channels
            .iter()
            .map(|channel| Decision {
                inbound_fee_ppm: Some(500),
                inbound_base_fee_msat: Some(1000),
                ..hostile_common::set_fee(channel.channel_id, 100, "positive inbound".to_owned())
            })
            .collect())
    }
}

hostile_common::bindings::export!(HostilePositiveInbound with_types_in hostile_common::bindings);
