//! Refuses to decide: the host must leave every channel unchanged.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileError;

impl Guest for HostileError {
    fn info() -> StrategyInfo {
        hostile_common::info("hostile_error", "Returns an error from decide.")
    }

    fn decide(_params: Vec<Param>, _channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        Err("strategy refused: no data".to_owned())
    }
}

hostile_common::bindings::export!(HostileError with_types_in hostile_common::bindings);
