//! Returns 60,000 decisions whose reasons all point at the same 16 MiB: copied whole, each
//! reason would ask the host for 16 MiB, a terabyte in all.

use hostile_common::{ChannelView, Decision, Guest, NeverFree, Param, StrategyInfo};

#[global_allocator]
static ALLOCATOR: NeverFree = NeverFree;

struct HostileAliasedReasons;

impl Guest for HostileAliasedReasons {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_aliased_reasons",
            "Returns 60,000 decisions whose reasons share one 16 MiB string.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let reason = hostile_common::shared_text(16 << 20);
        let id = channels.first().map_or(0, |c| c.channel_id);
        Ok((0..60_000)
            .map(|_| hostile_common::set_fee(id, 100, reason()))
            .collect())
    }
}

hostile_common::bindings::export!(HostileAliasedReasons with_types_in hostile_common::bindings);
