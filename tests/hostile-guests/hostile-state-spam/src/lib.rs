//! Stores 64 KiB values under new keys forever: the host's state quota must
//! stop it.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo, host};

const VALUE_BYTES: usize = 64 * 1024;

struct HostileStateSpam;

impl Guest for HostileStateSpam {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_state_spam",
            "Never returns from decide: it stores 64 KiB values under new keys forever.",
        )
    }

    fn decide(_params: Vec<Param>, _channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let value = vec![0xAB; VALUE_BYTES];
        let mut key: u64 = 0;
        loop {
            host::state_set(&format!("spam-{key}"), &value);
            key = key.wrapping_add(1);
        }
    }
}

hostile_common::bindings::export!(HostileStateSpam with_types_in hostile_common::bindings);
