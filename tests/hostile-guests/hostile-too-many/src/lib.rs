//! Returns a decision for every channel plus a duplicate of the first.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileTooMany;

impl Guest for HostileTooMany {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_too_many",
            "Returns a valid decision per channel and the first one twice.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let mut decisions = hostile_common::fee_for_each(&channels, 100, "too many");
        if let Some(first) = decisions.first().cloned() {
            decisions.push(first);
        }
        Ok(decisions)
    }
}

hostile_common::bindings::export!(HostileTooMany with_types_in hostile_common::bindings);
