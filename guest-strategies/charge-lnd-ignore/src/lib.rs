//! `ignore`: charge-lnd's strategy that leaves a channel entirely alone.
//!
//! Operators use it to exempt channels (a friend's node, a channel managed by hand) from
//! every other rule. It changes no field, and the host neither applies charge-lnd's
//! properties nor re-enables the channel for it.

use lnpolicy_sdk::{ChannelView, Decision, Host, Params, Strategy, StrategyInfo};

/// The strategy; see the crate documentation.
pub struct Ignore;

impl Strategy for Ignore {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "ignore".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "charge-lnd's `ignore`: changes nothing about the channel, not even \
                          its enabled state."
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
            .map(|c| Decision::unchanged(c.channel_id, "ignore: channel left as it is"))
            .collect())
    }
}

lnpolicy_sdk::export_strategy!(Ignore);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{TestHost, fixtures, run};

    use super::Ignore;

    #[test]
    fn every_channel_is_left_unchanged_with_a_reason() {
        let decisions = run::<Ignore>(&mut TestHost::new(), &[], &fixtures()).unwrap();
        assert_eq!(decisions.len(), fixtures().len());
        for decision in decisions {
            assert!(decision.is_unchanged());
            assert_eq!(decision.reason, "ignore: channel left as it is");
        }
    }
}
