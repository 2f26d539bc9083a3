//! Returns valid decisions whose reasons are 4 MiB each.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

const REASON_BYTES: usize = 4 * 1024 * 1024;

struct HostileHugeReason;

impl Guest for HostileHugeReason {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_huge_reason",
            "Returns one valid decision per channel with a 4 MiB reason.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        Ok(hostile_common::fee_for_each(
            &channels,
            100,
            &"x".repeat(REASON_BYTES),
        ))
    }
}

hostile_common::bindings::export!(HostileHugeReason with_types_in hostile_common::bindings);
