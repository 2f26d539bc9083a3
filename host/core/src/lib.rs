//! Domain types every lnpolicy crate shares. The WIT contract in `wit/` mirrors
//! these; the runtime converts between the two at the sandbox boundary.

mod channel;
mod decision;
mod events;
pub mod fixtures;
mod node;
mod strategy;

pub use channel::{
    Channel, ChannelAnalysis, ChannelId, FailureCount, FailureReason, FeePolicy, FlowClass,
    FlowStats, Profitability, SharedChannels, Window, short_channel_id,
};
pub use decision::{Clamp, Decision, GuardedDecision, PolicyChange, Rule};
pub use events::{EventSink, NullEventSink, StrategyEvent, StrategyEventKind};
pub use node::{
    FailedForward, FailedForwardPage, Forward, ForwardPage, FundingFee, NodeChannel, NodeClient,
    NodeError, NodeInfo, PaymentPart, PaymentPartPage, PeerInfo, PendingHtlc, ResolvedPage,
    UnresolvedPayment,
};
pub use strategy::{
    FeeChange, FeePercentiles, Param, ParamDefault, ParamKind, ParamSpec, ParamValue, StrategyInfo,
};

/// Which implementation the node runs; decides which policy fields exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// LND: inbound fees exist.
    Lnd,
    /// Core Lightning: no inbound fees.
    Cln,
}

impl NodeKind {
    /// How many channel updates the node broadcasts to go from `current` to `desired`: what
    /// the hourly cap spends. LND sets the disabled flag by a call of its own, so a change of
    /// the flag together with anything else is two; Core Lightning cannot change the flag.
    pub fn channel_updates(self, current: &FeePolicy, desired: &FeePolicy) -> u32 {
        if current == desired {
            0
        } else if self == NodeKind::Lnd
            && current.disabled != desired.disabled
            && current.differs_beyond_flag(desired)
        {
            2
        } else {
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{FeePolicy, NodeKind};

    #[test]
    fn lnd_broadcasts_a_change_of_the_flag_with_anything_else_as_two_updates() {
        let now = FeePolicy {
            fee_ppm: 100,
            time_lock_delta: 40,
            ..FeePolicy::default()
        };
        let fee = FeePolicy {
            fee_ppm: 200,
            ..now
        };
        let flag = FeePolicy {
            disabled: true,
            ..now
        };
        let both = FeePolicy {
            disabled: true,
            ..fee
        };
        let cltv_and_flag = FeePolicy {
            time_lock_delta: 80,
            ..flag
        };
        let count = |kind: NodeKind, to: &FeePolicy| kind.channel_updates(&now, to);
        assert_eq!(count(NodeKind::Lnd, &now), 0);
        assert_eq!(count(NodeKind::Lnd, &fee), 1);
        assert_eq!(count(NodeKind::Lnd, &flag), 1);
        assert_eq!(count(NodeKind::Lnd, &both), 2);
        assert_eq!(count(NodeKind::Lnd, &cltv_and_flag), 2);
        assert_eq!(
            count(NodeKind::Cln, &both),
            1,
            "Core Lightning keeps the flag"
        );
    }
}
