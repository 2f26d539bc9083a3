//! A strategy built against contract 0.3.0, frozen in `wit/`: operators' components built
//! before 0.3.1 must keep loading and deciding on a later 0.3 host. It sets 123 ppm on every
//! channel and says how many fee changes `fee-history` gave it, so its imports are linked.

wit_bindgen::generate!({
    world: "fee-strategy",
    path: "wit",
});

use exports::lnpolicy::strategy::strategy::Guest;
use lnpolicy::strategy::host;
use lnpolicy::strategy::types::{ChannelView, Decision, Param, StrategyInfo};

struct Contract030;

impl Guest for Contract030 {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "contract_0_3_0".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: "Built for contract 0.3.0; sets 123 ppm on every channel.".to_owned(),
            params: Vec::new(),
        }
    }

    fn decide(_params: Vec<Param>, channels: Vec<ChannelView>) -> Result<Vec<Decision>, String> {
        Ok(channels
            .iter()
            .map(|channel| Decision {
                channel_id: channel.channel_id,
                fee_ppm: Some(123),
                base_fee_msat: None,
                inbound_fee_ppm: None,
                inbound_base_fee_msat: None,
                min_htlc_msat: None,
                max_htlc_msat: None,
                time_lock_delta: None,
                disabled: None,
                reason: format!(
                    "built for 0.3.0; changes={}",
                    host::fee_history(channel.channel_id, 0).len()
                ),
            })
            .collect())
    }
}

export!(Contract030);
