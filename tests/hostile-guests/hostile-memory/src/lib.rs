//! Grows a vector without end in `decide`: the host's memory limit must stop it.

use std::hint::black_box;

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileMemory;

impl Guest for HostileMemory {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_memory",
            "Never returns from decide: it grows a vector until memory runs out.",
        )
    }

    fn decide(_params: Vec<Param>, _channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let mut hoard: Vec<u64> = Vec::new();
        loop {
            hoard.push(black_box(hoard.len() as u64));
            black_box(&mut hoard);
        }
    }
}

hostile_common::bindings::export!(HostileMemory with_types_in hostile_common::bindings);
