//! Writes newlines and terminal escape sequences into every text the host shows: its version,
//! its description and its decisions' reasons, to forge log lines and repaint terminals.

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

/// A line that would pass for the daemon's own in its log, then an escape sequence that
/// clears the operator's screen.
const FORGED: &str = "ok\n2026-01-01T00:00:00Z  INFO lnpolicy: all channels healthy\u{1b}[2J";

struct HostileForgedLines;

impl Guest for HostileForgedLines {
    fn info() -> StrategyInfo {
        StrategyInfo {
            version: "1.0\u{1b}[31m".to_owned(),
            description: FORGED.to_owned(),
            ..hostile_common::info("hostile_forged_lines", "")
        }
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        Ok(hostile_common::fee_for_each(&channels, 100, FORGED))
    }
}

hostile_common::bindings::export!(HostileForgedLines with_types_in hostile_common::bindings);
