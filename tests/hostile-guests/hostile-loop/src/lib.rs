//! Spins forever in `decide`: the host's CPU budget must stop it.

use std::hint::black_box;

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileLoop;

impl Guest for HostileLoop {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_loop",
            "Never returns from decide: it spins forever.",
        )
    }

    fn decide(_params: Vec<Param>, _channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let mut spins: u64 = 0;
        loop {
            spins = black_box(spins.wrapping_add(1));
        }
    }
}

hostile_common::bindings::export!(HostileLoop with_types_in hostile_common::bindings);
