//! Logs 1 KiB lines forever: the host's log budget must stop it.

use hostile_common::{ChannelView, Decision, Guest, LogLevel, Param, StrategyInfo, host};

const LINE_BYTES: usize = 1024;

struct HostileLogSpam;

impl Guest for HostileLogSpam {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_log_spam",
            "Never returns from decide: it logs 1 KiB lines forever.",
        )
    }

    fn decide(_params: Vec<Param>, _channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let line = "x".repeat(LINE_BYTES);
        loop {
            host::log(LogLevel::Info, &line);
        }
    }
}

hostile_common::bindings::export!(HostileLogSpam with_types_in hostile_common::bindings);
