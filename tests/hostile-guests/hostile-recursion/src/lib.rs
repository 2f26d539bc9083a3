//! Recurses without a base case in `decide`: the guest's stack must overflow
//! into a trap, not take the host down.

use std::hint::black_box;

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileRecursion;

/// Calls itself forever and uses each result after the call, so the
/// recursion cannot become a loop.
#[expect(unconditional_recursion, reason = "the guest must exhaust its stack")]
fn descend(depth: u64) -> u64 {
    let frame = black_box([depth; 8]);
    black_box(descend(black_box(depth + 1))).wrapping_add(frame[7])
}

impl Guest for HostileRecursion {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_recursion",
            "Never returns from decide: it recurses until the stack overflows.",
        )
    }

    fn decide(_params: Vec<Param>, _channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        Err(format!("recursion returned {}", descend(0)))
    }
}

hostile_common::bindings::export!(HostileRecursion with_types_in hostile_common::bindings);
