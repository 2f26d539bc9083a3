//! Declares 200 parameters whose descriptions all point at the same 1 MiB: copied whole,
//! 200 MiB for the host at load, for a declaration it refuses anyway.

use hostile_common::bindings::lnpolicy::strategy::types::{ParamDefault, ParamKind, ParamSpec};
use hostile_common::{ChannelView, Decision, Guest, NeverFree, Param, StrategyInfo};

#[global_allocator]
static ALLOCATOR: NeverFree = NeverFree;

struct HostileAliasedInfo;

impl Guest for HostileAliasedInfo {
    fn info() -> StrategyInfo {
        let description = hostile_common::shared_text(1 << 20);
        let mut info = hostile_common::info(
            "hostile_aliased_info",
            "Declares 200 parameters whose descriptions share one 1 MiB string.",
        );
        info.params = (0..200)
            .map(|i| ParamSpec {
                name: format!("p{i}"),
                kind: ParamKind::Text,
                description: description(),
                default: ParamDefault::Optional,
                min: None,
                max: None,
            })
            .collect();
        info
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        Ok(hostile_common::fee_for_each(&channels, 100, "never loaded"))
    }
}

hostile_common::bindings::export!(HostileAliasedInfo with_types_in hostile_common::bindings);
