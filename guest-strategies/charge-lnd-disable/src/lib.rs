//! `disable`: charge-lnd's strategy that disables forwarding through a channel.
//!
//! Operators use it for channels too drained to carry a typical payment, so senders stop
//! trying (and failing) through them. Only the enabled state changes; the host applies no
//! properties for it.

use lnpolicy_sdk::{ChannelView, Decision, Host, Params, Strategy, StrategyInfo};

/// The strategy; see the crate documentation.
pub struct Disable;

impl Strategy for Disable {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "disable".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "charge-lnd's `disable`: disables the channel and changes nothing else."
                .into(),
            params: vec![],
        }
    }

    fn decide(
        _host: &mut dyn Host,
        _params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String> {
        Ok(channels
            .iter()
            .map(|c| {
                Decision::set(c.channel_id)
                    .disabled(true)
                    .reason("disable: channel disabled")
            })
            .collect())
    }
}

lnpolicy_sdk::export_strategy!(Disable);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::Decision;
    use lnpolicy_sdk::testing::{TestHost, fixtures, run};

    use super::Disable;

    #[test]
    fn every_channel_is_disabled_and_nothing_else_changes() {
        let channels = fixtures();
        let decisions = run::<Disable>(&mut TestHost::new(), &[], &channels).unwrap();
        for (channel, decision) in channels.iter().zip(decisions) {
            let expected = Decision::set(channel.channel_id)
                .disabled(true)
                .reason("disable: channel disabled");
            assert_eq!(decision, expected);
        }
    }
}
