//! Domain types every lnpolicy crate shares. The WIT contract in `wit/` mirrors
//! these; the runtime converts between the two at the sandbox boundary.

mod channel;
mod decision;
mod events;
pub mod fixtures;
mod node;
mod strategy;

pub use channel::{
    Channel, ChannelId, FailureCount, FailureReason, FeePolicy, FlowClass, FlowStats,
    Profitability, SharedChannels, Window, short_channel_id,
};
pub use decision::{Clamp, Decision, GuardedDecision, PolicyChange, Rule};
pub use events::{EventSink, NullEventSink, StrategyEvent, StrategyEventKind};
pub use node::{
    FailedForward, FailedForwardPage, Forward, ForwardPage, FundingFee, NodeChannel, NodeClient,
    NodeError, NodeInfo, PeerInfo, PendingHtlc, ResolvedPage,
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
