//! Sleeps for as long as a duration can say before deciding: waiting costs no fuel, so only
//! the host's clock can end it.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileSleep;

impl Guest for HostileSleep {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_sleep",
            "Sleeps for the longest duration there is, then sets 100 ppm everywhere.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        std::thread::sleep(std::time::Duration::MAX);
        Ok(hostile_common::fee_for_each(&channels, 100, "woke up"))
    }
}

hostile_common::bindings::export!(HostileSleep with_types_in hostile_common::bindings);
