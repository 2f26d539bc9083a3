//! Returns one decision fewer than the batch has channels.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileTooFew;

impl Guest for HostileTooFew {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_too_few",
            "Returns valid decisions for every channel of the batch but the last.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let mut decisions = hostile_common::fee_for_each(&channels, 100, "too few");
        decisions.pop();
        Ok(decisions)
    }
}

hostile_common::bindings::export!(HostileTooFew with_types_in hostile_common::bindings);
