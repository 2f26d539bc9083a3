//! Reads `/etc/passwd` in `decide`, so the component imports
//! `wasi:filesystem`: the host must refuse to load it or deny the read.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileFilesystem;

impl Guest for HostileFilesystem {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_filesystem",
            "Reads /etc/passwd, then returns one valid decision per channel.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let reason = match std::fs::read_to_string("/etc/passwd") {
            Ok(text) => format!("read {} bytes of /etc/passwd", text.len()),
            Err(error) => format!("could not read /etc/passwd: {error}"),
        };
        Ok(hostile_common::fee_for_each(&channels, 100, &reason))
    }
}

hostile_common::bindings::export!(HostileFilesystem with_types_in hostile_common::bindings);
