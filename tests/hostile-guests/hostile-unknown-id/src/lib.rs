//! Returns one decision per channel, the first aimed at a channel id that is
//! not in the batch.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileUnknownId;

impl Guest for HostileUnknownId {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_unknown_id",
            "Returns one decision per channel, one of them for a channel not in the batch.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let mut decisions = hostile_common::fee_for_each(&channels, 100, "unknown id");
        let stranger = (0..=u64::MAX)
            .find(|id| channels.iter().all(|channel| channel.channel_id != *id))
            .ok_or("every channel id is in the batch")?;
        if let Some(first) = decisions.first_mut() {
            first.channel_id = stranger;
        }
        Ok(decisions)
    }
}

hostile_common::bindings::export!(HostileUnknownId with_types_in hostile_common::bindings);
