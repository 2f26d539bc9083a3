//! Opens a TCP connection in `decide`, so the component imports
//! `wasi:sockets`: the host must refuse to load it or deny the connection.

use std::net::TcpStream;

use hostile_common::{ChannelView, Decision, Guest, Param, StrategyInfo};

struct HostileSockets;

impl Guest for HostileSockets {
    fn info() -> StrategyInfo {
        hostile_common::info(
            "hostile_sockets",
            "Connects to 127.0.0.1:9, then returns one valid decision per channel.",
        )
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        let reason = match TcpStream::connect("127.0.0.1:9") {
            Ok(stream) => format!("connected to {:?}", stream.peer_addr()),
            Err(error) => format!("could not connect to 127.0.0.1:9: {error}"),
        };
        Ok(hostile_common::fee_for_each(&channels, 100, &reason))
    }
}

hostile_common::bindings::export!(HostileSockets with_types_in hostile_common::bindings);
