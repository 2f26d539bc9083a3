//! What the daemon needs from a Lightning node, and nothing more: the
//! `NodeClient` trait is the method whitelist. LND and CLN clients implement
//! it (`lnpolicy-node`); the simulator serves both protocols behind it.

use serde::{Deserialize, Serialize};

use crate::{ChannelId, FailureReason, FeePolicy, NodeKind};

/// Identity and sync state of the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub kind: NodeKind,
    pub pubkey: String,
    pub alias: String,
    pub version: String,
    pub block_height: u32,
    pub synced_to_chain: bool,
    pub synced_to_graph: bool,
}

/// A channel as the node reports it, with both directions' policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeChannel {
    /// Short channel id (LND's u64 form; CLN's `BxTxO` converted).
    pub id: ChannelId,
    /// Funding outpoint `txid:index` (LND addresses updates by it).
    pub channel_point: String,
    pub peer_pubkey: String,
    pub capacity_sat: u64,
    pub local_balance_sat: u64,
    pub remote_balance_sat: u64,
    /// On-chain fee of the commitment transaction, paid by the opener.
    pub commit_fee_sat: u64,
    /// Sum of pending HTLC amounts.
    pub unsettled_balance_sat: u64,
    pub local_reserve_sat: u64,
    pub remote_reserve_sat: u64,
    pub pending_htlcs: u32,
    pub max_accepted_htlcs: u32,
    /// Largest HTLC the channel may carry in flight, msat.
    pub max_in_flight_msat: u64,
    /// Smallest HTLC the peer accepts from us, msat.
    pub min_htlc_msat: u64,
    pub active: bool,
    pub private: bool,
    /// We opened (and funded) the channel.
    pub initiator: bool,
    pub total_sent_sat: u64,
    pub total_received_sat: u64,
    /// Our policy for forwards leaving through this channel.
    pub local_policy: FeePolicy,
    /// The peer's policy toward us, when the graph knows it.
    pub peer_policy: Option<FeePolicy>,
}

/// One settled forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// The node's own position of this event in its log (LND offset index,
    /// CLN created_index): the collector's resume point.
    pub index: u64,
    /// Unix time in nanoseconds when it settled.
    pub at_ns: u64,
    pub chan_in: ChannelId,
    pub chan_out: ChannelId,
    pub amt_in_msat: u64,
    pub amt_out_msat: u64,
    pub fee_msat: u64,
}

/// A page of settled forwards; `next_index` is where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardPage {
    pub forwards: Vec<Forward>,
    pub next_index: u64,
}

/// A forward that failed at our node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedForward {
    /// Position in the node's log where it has one (CLN); a sequence number otherwise.
    pub index: u64,
    pub at_ns: u64,
    pub chan_in: ChannelId,
    pub chan_out: Option<ChannelId>,
    pub amt_in_msat: u64,
    pub reason: FailureReason,
}

/// A page of failed forwards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedForwardPage {
    pub failures: Vec<FailedForward>,
    pub next_index: u64,
}

/// Why a node call failed. Messages name the method and what the node said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    #[error("cannot reach the node ({method}): {detail}")]
    Unavailable {
        method: &'static str,
        detail: String,
    },
    #[error("the node refused {method}: permission denied ({detail})")]
    PermissionDenied {
        method: &'static str,
        detail: String,
    },
    #[error("the node rejected {method}: {detail}")]
    Rejected {
        method: &'static str,
        detail: String,
    },
    #[error("{method} timed out")]
    Timeout { method: &'static str },
    #[error("unexpected answer to {method}: {detail}")]
    Protocol {
        method: &'static str,
        detail: String,
    },
    #[error("channel {channel} is unknown to the node")]
    UnknownChannel { channel: ChannelId },
}

impl NodeError {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            NodeError::Unavailable { .. } | NodeError::Timeout { .. }
        )
    }
}

/// The only operations lnpolicy performs on a node. There is deliberately
/// no generic call: a client cannot do anything not listed here, and the
/// one write is a channel's forwarding policy.
#[async_trait::async_trait]
pub trait NodeClient: Send + Sync {
    fn kind(&self) -> NodeKind;

    async fn get_info(&self) -> Result<NodeInfo, NodeError>;

    /// Open channels with our policy and the peer's policy toward us.
    async fn list_channels(&self) -> Result<Vec<NodeChannel>, NodeError>;

    /// Settled forwards whose index is above `from_index` (0 = from the
    /// start), oldest first, at most `limit`. `next_index` is the index of
    /// the last one returned (`from_index` when none), so passing it back
    /// continues the stream without gaps or repeats.
    async fn forwards(&self, from_index: u64, limit: u32) -> Result<ForwardPage, NodeError>;

    /// Failed forwards above `from_index`, same paging as [`NodeClient::forwards`],
    /// where the node reports them (CLN keeps them; LND streams them and the
    /// client buffers what it saw).
    async fn failed_forwards(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<FailedForwardPage, NodeError>;

    /// Outbound fee rates (ppm) of the peer's other public channels, from the graph.
    async fn peer_fee_rates(&self, peer_pubkey: &str) -> Result<Vec<u32>, NodeError>;

    /// Sets one channel's full forwarding policy.
    async fn update_policy(
        &self,
        channel: &NodeChannel,
        policy: &FeePolicy,
    ) -> Result<(), NodeError>;
}
