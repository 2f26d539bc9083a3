//! A well-behaved strategy, version 1 of a pair used by hot-reload tests: it
//! sets 111 ppm on every active channel, counts its calls in the host state
//! under "calls" and logs one line per call.

use hostile_common::{ChannelView, Decision, Guest, LogLevel, Param, StrategyInfo, host};

struct GoodV1;

impl Guest for GoodV1 {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "good_v1",
            "Sets 111 ppm on every active channel and counts its calls.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let calls = hostile_common::bump_counter("calls");
        host::log(
            LogLevel::Info,
            &format!("good_v1 call {calls} for {} channels", channels.len()),
        );
        Ok(hostile_common::fee_for_active(&channels, 111, "v1"))
    }
}

hostile_common::bindings::export!(GoodV1 with_types_in hostile_common::bindings);
