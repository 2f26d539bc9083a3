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
    /// HTLCs in flight on the channel, both directions: charge-lnd's matchers count them,
    /// add them back to each side's balance and look at how close they are to expiry.
    pub pending_htlcs: Vec<PendingHtlc>,
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

impl NodeChannel {
    /// Sum of the in-flight HTLCs in one direction, satoshi.
    pub fn pending_sat(&self, incoming: bool) -> u64 {
        self.pending_htlcs
            .iter()
            .filter(|h| h.incoming == incoming)
            .map(|h| h.amount_msat / 1000)
            .sum()
    }
}

/// One HTLC in flight on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PendingHtlc {
    /// Offered by the peer (it adds to our side when it settles); `false` for one we offered
    /// (it still counts as ours until it settles).
    pub incoming: bool,
    /// LND reports whole satoshis, so amounts from LND are multiples of 1000.
    pub amount_msat: u64,
    /// Block height at which the HTLC times out: an HTLC close to it risks a force close.
    pub expiry_height: u32,
}

/// A peer as the public graph shows it: how established it is, and what others charge to reach it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PeerInfo {
    /// Public channels of the peer, our channels with it included.
    pub public_channels: u32,
    /// Sum of the capacities of those channels.
    pub public_capacity_sat: u64,
    /// Fee rates (ppm) the peer's other counterparties charge toward it on their public,
    /// enabled channels with it (ours left out): the prices of the routes that reach the peer
    /// without us, the competition of our channel to it. What the peer itself charges onward
    /// is paid whichever way a payment reached it, so it competes with nothing of ours.
    pub fee_rates_ppm: Vec<u32>,
}

/// The on-chain fee our wallet paid for one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FundingFee {
    /// As displayed (big-endian hex, lowercase), the form channel points use: a channel's
    /// opening cost is the entry whose txid is its channel point's txid.
    pub txid: String,
    pub fee_sat: u64,
}

/// One settled forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// The node's own key for this event (LND `timestamp_ns`, CLN
    /// `created_index`): the collector's resume point.
    pub index: u64,
    /// Unix time in nanoseconds when it settled.
    pub at_ns: u64,
    pub chan_in: ChannelId,
    pub chan_out: ChannelId,
    pub amt_in_msat: u64,
    pub amt_out_msat: u64,
    pub fee_msat: u64,
}

impl Forward {
    /// What of this forward's fee (amount in − amount out) its outgoing channel earned, given
    /// the outgoing channel's `(base msat, ppm)` and the incoming channel's inbound
    /// `(base msat, ppm)` in force then. On LND the fee also holds the inbound fee of the channel it came in by,
    /// computed on the amount out plus the outbound fee: a discount when negative, which an
    /// LND sender takes and others do not. That share is what the fee differs from the
    /// outbound fee, kept within the inbound fee asked, so a sender who ignored the discount
    /// leaves the outgoing channel its whole fee, and a difference the inbound rate cannot
    /// explain (a fee changed since the level was seen) stays with the outgoing channel.
    /// Without a known outbound level the whole fee is the outgoing channel's.
    pub fn outbound_share_msat(&self, outbound: Option<(u32, u32)>, inbound: (i32, i32)) -> u64 {
        let Some((base_msat, ppm)) = outbound else {
            return self.fee_msat;
        };
        const MILLION: i128 = 1_000_000;
        let outbound_fee =
            i128::from(base_msat) + i128::from(self.amt_out_msat) * i128::from(ppm) / MILLION;
        let (inbound_base_msat, inbound_ppm) = inbound;
        let inbound_fee = i128::from(inbound_base_msat)
            + (i128::from(self.amt_out_msat) + outbound_fee) * i128::from(inbound_ppm) / MILLION;
        let fee = i128::from(self.fee_msat);
        let inbound_share = (fee - outbound_fee).clamp(inbound_fee.min(0), inbound_fee.max(0));
        u64::try_from(fee - inbound_share).unwrap_or(self.fee_msat)
    }
}

/// A page of settled forwards; `next_index` is where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardPage {
    pub forwards: Vec<Forward>,
    pub next_index: u64,
}

/// One part of one of our own payments, on one of our channels: a part we sent leaves by a
/// channel and pays the route's fee, a part we received arrives by one. A circular rebalance
/// is a payment to ourselves, so its parts are listed both ways under one payment hash, and
/// the channels it arrived by are the ones whose outbound liquidity it bought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentPart {
    /// The node's key for the event (LND's `payment_index`, CLN's `created_index`): the
    /// collector's resume point. Several parts may share one (LND lists a payment whole).
    pub index: u64,
    /// Which of the parts under `index` this is (0 where the node lists parts one by one).
    pub part: u32,
    /// Unix seconds it settled.
    pub at_secs: u64,
    /// `None` when the node no longer knows the channel (closed and forgotten); the fee of a
    /// part sent still counts toward its payment.
    pub channel: Option<ChannelId>,
    /// Hex; what ties the parts of one payment together.
    pub payment_hash: String,
    /// Sent by us (leaving by `channel`) rather than received.
    pub sent: bool,
    /// What left by the channel (the route's fee included) or arrived through it, msat.
    pub amount_msat: u64,
    /// Routing fee this part paid (0 for a part received), msat.
    pub fee_msat: u64,
}

/// A payment of ours the node lists as not yet resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnresolvedPayment {
    pub index: u64,
    /// Unix seconds it started.
    pub started_secs: u64,
}

/// A page of payment parts; `next_index` is where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PaymentPartPage {
    pub parts: Vec<PaymentPart>,
    /// Payments the page passed over because they had not resolved yet: LND numbers a payment
    /// when it starts, so the page's end moves past it, and the collector reads each again
    /// (`payment_parts(index - 1, 1)`) until it has. Empty where the node lists only what
    /// settled (CLN).
    pub unresolved: Vec<UnresolvedPayment>,
    /// How many of the node's events the page went through, whether they gave parts or not
    /// (payments that were not rebalances give none): fewer than asked means the end.
    pub events: usize,
    pub next_index: u64,
}

/// Forwards that resolved after the node had listed them in flight, in the order they
/// resolved; `next_index` is where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedPage {
    pub forwards: Vec<Forward>,
    pub failures: Vec<FailedForward>,
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

    /// Whether the node may have done what was asked although the call failed: no answer
    /// (a timeout, a lost connection) or one that could not be read.
    pub fn outcome_unknown(&self) -> bool {
        self.is_transient() || matches!(self, NodeError::Protocol { .. })
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
    /// continues the stream without gaps or repeats. The index is the node's
    /// key for the event: CLN's `created_index`, LND's `timestamp_ns` (LND's
    /// offsets shift when the start of its log is deleted).
    async fn forwards(&self, from_index: u64, limit: u32) -> Result<ForwardPage, NodeError>;

    /// Failed forwards above `from_index`, same paging as [`NodeClient::forwards`],
    /// where the node reports them (CLN keeps them; LND streams them and the
    /// client buffers what it saw).
    async fn failed_forwards(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<FailedForwardPage, NodeError>;

    /// Forwards the node listed while in flight and that resolved since, settled or failed,
    /// by the node's update index (CLN's `updated_index`) above `from_index` (0 = from the
    /// start), at most `limit` together. [`NodeClient::forwards`] and
    /// [`NodeClient::failed_forwards`] pass over a forward in flight, so a held HTLC does not
    /// stop them, and it arrives here once it resolves; each keeps the index those two give
    /// it, so one seen by both is the same row. `None`: the node lists a forward only once it
    /// has resolved (LND), and those two see everything.
    async fn resolved_forwards(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<Option<ResolvedPage>, NodeError> {
        let _ = (from_index, limit);
        Ok(None)
    }

    /// Parts of our own payments after `from_index` (0 = from the start), at most `limit` of
    /// the node's events, for what rebalances (made by any tool) cost and which channels they
    /// refilled. Passing `next_index` back continues without gaps or repeats. `None` when the
    /// node cannot list them (a Core Lightning older than 25.09, without `listchannelmoves`).
    async fn payment_parts(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<Option<PaymentPartPage>, NodeError> {
        let _ = (from_index, limit);
        Ok(None)
    }

    /// The peer as the public graph knows it: its public channels and capacity, and the fee
    /// rates its other counterparties charge toward it. `None` when the graph does not know the peer
    /// (a peer with only private channels, or gossip not synced yet).
    async fn peer_info(&self, peer_pubkey: &str) -> Result<Option<PeerInfo>, NodeError>;

    /// The node's on-chain fee estimate, sat/vB, to confirm within `conf_target` blocks;
    /// `None` when the node has no estimate. Strategies price a channel's liquidity against
    /// what it would cost to replace it on chain.
    async fn fee_rate(&self, conf_target: u32) -> Result<Option<f64>, NodeError>;

    /// On-chain fees our wallet paid for the transactions `txids` (as displayed, in any
    /// case), one entry per transaction the node knows with a fee, its txid in lowercase; a
    /// txid the node does not know is left out. What opening a channel cost is the entry for
    /// its channel point's txid. Asking only for the txids wanted keeps the node's work to
    /// them; confirmed fees never change, so callers can keep what they have read.
    async fn funding_fees(&self, txids: &[String]) -> Result<Vec<FundingFee>, NodeError>;

    /// Sets one channel's full forwarding policy. Returns the policy the channel has after the
    /// call, as far as the node's answers tell: `policy`, except for what the node could not
    /// or would not set (Core Lightning keeps its node-wide cltv delta and cannot disable a
    /// channel, and adjusts HTLC limits; LND keeps the disabled flag when the macaroon lacks
    /// `UpdateChanStatus`). What lnpolicy records as applied is this policy, not the one asked.
    async fn update_policy(
        &self,
        channel: &NodeChannel,
        policy: &FeePolicy,
    ) -> Result<FeePolicy, NodeError>;
}

#[cfg(test)]
mod tests {
    use super::Forward;

    /// 1,000,000 msat out at 1,000 ppm, in through a channel at −500 ppm inbound: the inbound
    /// fee is −500 on 1,001,000 msat, −500 (truncated as LND does).
    fn paid(fee_msat: u64) -> Forward {
        Forward {
            index: 1,
            at_ns: 0,
            chan_in: 1,
            chan_out: 2,
            amt_in_msat: 1_000_000 + fee_msat,
            amt_out_msat: 1_000_000,
            fee_msat,
        }
    }

    #[test]
    fn the_inbound_discount_is_the_incoming_channels_not_the_outgoing_ones() {
        let outbound = Some((0, 1_000));
        assert_eq!(
            paid(500).outbound_share_msat(outbound, (0, -500)),
            1_000,
            "LND sender"
        );
        assert_eq!(
            paid(1_000).outbound_share_msat(outbound, (0, -500)),
            1_000,
            "ignored it"
        );
        assert_eq!(paid(1_000).outbound_share_msat(outbound, (0, 0)), 1_000);
        // More than the outbound fee (a stale, higher fee): the outgoing channel's.
        assert_eq!(paid(1_300).outbound_share_msat(outbound, (0, -500)), 1_300);
        // Less than the discount explains (a fee cut not seen yet): the outgoing channel's.
        assert_eq!(paid(400).outbound_share_msat(outbound, (0, -500)), 900);
        assert_eq!(paid(800).outbound_share_msat(outbound, (0, 0)), 800);
        // A discount as large as the outbound fee: LND lets the forward through for nothing.
        assert_eq!(paid(0).outbound_share_msat(outbound, (0, -5_000)), 1_000);
    }

    #[test]
    fn a_positive_inbound_fee_paid_is_the_incoming_channels() {
        let outbound = Some((1_000, 1_000));
        // Inbound +100 ppm on 1,002,000 msat: 100.
        assert_eq!(paid(2_100).outbound_share_msat(outbound, (0, 100)), 2_000);
        assert_eq!(
            paid(2_000).outbound_share_msat(outbound, (0, 100)),
            2_000,
            "not paid"
        );
        assert_eq!(paid(2_500).outbound_share_msat(outbound, (0, 100)), 2_400);
    }

    #[test]
    fn an_inbound_base_fee_is_the_incoming_channels_too() {
        let outbound = Some((0, 1_000));
        // −200 msat base and −500 ppm on 1,001,000 msat: −700.
        assert_eq!(paid(300).outbound_share_msat(outbound, (-200, -500)), 1_000);
        assert_eq!(paid(800).outbound_share_msat(outbound, (-200, 0)), 1_000);
        assert_eq!(
            paid(1_000).outbound_share_msat(outbound, (-200, -500)),
            1_000,
            "ignored it"
        );
        assert_eq!(paid(1_250).outbound_share_msat(outbound, (250, 0)), 1_000);
    }

    #[test]
    fn without_a_level_the_fee_is_the_outgoing_channels() {
        assert_eq!(paid(500).outbound_share_msat(None, (0, -500)), 500);
    }
}
