//! `ignore_fees`: charge-lnd's strategy that keeps a channel's fees as they are.
//!
//! In charge-lnd it still sets the section's HTLC limits and `time_lock_delta` and
//! re-enables the channel. Those are properties, which the lnpolicy host applies on top of
//! every strategy's decision, so the guest's own part is to change nothing.

use lnpolicy_sdk::{ChannelView, Decision, Host, Params, Strategy, StrategyInfo};

/// The strategy; see the crate documentation.
pub struct IgnoreFees;

impl Strategy for IgnoreFees {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "ignore_fees".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "charge-lnd's `ignore_fees`: keeps the channel's fees; the section's \
                          HTLC limits and time_lock_delta still apply and the channel is \
                          re-enabled."
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
            .map(|c| Decision::unchanged(c.channel_id, "ignore_fees: fees kept"))
            .collect())
    }
}

lnpolicy_sdk::export_strategy!(IgnoreFees);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{TestHost, fixtures, run};

    use super::IgnoreFees;

    #[test]
    fn fees_are_kept_on_every_channel() {
        let decisions = run::<IgnoreFees>(&mut TestHost::new(), &[], &fixtures()).unwrap();
        assert_eq!(decisions.len(), fixtures().len());
        for decision in decisions {
            assert!(decision.is_unchanged());
            assert_eq!(decision.reason, "ignore_fees: fees kept");
        }
    }
}
