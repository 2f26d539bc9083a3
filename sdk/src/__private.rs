//! Glue used by [`export_strategy!`](crate::export_strategy) inside a component; not part
//! of the public API.

use crate::bindings::lnpolicy::strategy::host as imports;
use crate::{
    ChannelView, Decision, FeeChange, FeePercentiles, Host, LogLevel, Param, Strategy,
    decide_with_defaults,
};

/// [`Host`] backed by the component's real imports.
struct WasmHost;

impl Host for WasmHost {
    fn now(&self) -> u64 {
        imports::now()
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        imports::log(level, message);
    }

    fn state_get(&self, key: &str) -> Option<Vec<u8>> {
        imports::state_get(key)
    }

    fn state_set(&mut self, key: &str, value: &[u8]) {
        imports::state_set(key, value);
    }

    fn state_delete(&mut self, key: &str) {
        imports::state_delete(key);
    }

    fn fee_history(&self, channel_id: u64, since: u64) -> Vec<FeeChange> {
        imports::fee_history(channel_id, since)
    }

    fn competitor_fees(&self, peer_pubkey: &str) -> Option<FeePercentiles> {
        imports::competitor_fees(peer_pubkey)
    }

    fn chain_fee_rate(&self, conf_target: u32) -> Option<f64> {
        imports::chain_fee_rate(conf_target)
    }

    fn rebalance_cost_msat(&self, channel_id: u64, since: u64) -> Option<u64> {
        imports::rebalance_cost(channel_id, since)
    }
}

/// The body of the exported `decide`: defaults filled in, real host.
pub fn decide<S: Strategy>(
    params: Vec<Param>,
    channels: &[ChannelView],
) -> Result<Vec<Decision>, String> {
    decide_with_defaults::<S>(&mut WasmHost, params, channels)
}
