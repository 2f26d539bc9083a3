//! A valid strategy built against contract 0.9.0 instead of the host's 0.1.0:
//! the host must refuse to load it.

wit_bindgen::generate!({
    world: "fee-strategy",
    path: "wit",
});

use exports::lnpolicy::strategy::strategy::Guest;
use lnpolicy::strategy::types::{ChannelView, Decision, Param, StrategyInfo};

struct OtherContract;

impl Guest for OtherContract {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "other_contract".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Built for contract 0.9.0; sets 100 ppm on every channel.".to_owned(),
            params: Vec::new(),
        }
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        Ok(channels
            .iter()
            .map(|channel| Decision {
                channel_id: channel.channel_id,
                fee_ppm: Some(100),
                base_fee_msat: None,
                inbound_fee_ppm: None,
                inbound_base_fee_msat: None,
                min_htlc_msat: None,
                max_htlc_msat: None,
                time_lock_delta: None,
                disabled: None,
                reason: "other contract".to_owned(),
            })
            .collect())
    }
}

export!(OtherContract);
