//! Panics in `decide`: the trap must become a failed cycle, not a host crash.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostilePanic;

impl Guest for HostilePanic {
    fn info() -> StrategyInfo {
        hostile_common::info("hostile_panic", "Panics in decide.")
    }

    fn decide(_params: Vec<Param>, _channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        panic!("hostile guest panicked on purpose")
    }
}

hostile_common::bindings::export!(HostilePanic with_types_in hostile_common::bindings);
