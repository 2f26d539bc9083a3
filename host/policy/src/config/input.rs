//! The facts a config's conditions look at, for one channel, as plain data: the engine
//! gathers them from the node and the collector, and matching is a pure function of them, so
//! every matcher can be tested without a node.

use std::collections::BTreeMap;

use lnpolicy_core::{ChannelId, FeePolicy};

/// Everything the conditions of a config may ask about one channel.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MatchInput {
    pub channel: ChannelFacts,
    /// Every open channel with the same peer, this one included (charge-lnd's `node.*shared*`
    /// conditions and `sum_peer_chans` look at all of them).
    pub shared_channels: Vec<SharedChannel>,
    pub peer: PeerFacts,
    /// Forwarding counts of this channel over the last `key` seconds. Must hold every period
    /// [`Config::activity_periods`](super::Config::activity_periods) lists.
    pub activity: BTreeMap<u64, ActivityCounts>,
    pub chain: ChainFacts,
}

/// One channel as the node reports it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelFacts {
    pub id: ChannelId,
    pub peer_pubkey: String,
    pub capacity_sat: u64,
    /// Settled local balance, without pending HTLCs.
    pub local_balance_sat: u64,
    /// Settled remote balance, without pending HTLCs.
    pub remote_balance_sat: u64,
    /// Fee of the commitment transaction, paid by the opener.
    pub commit_fee_sat: u64,
    pub pending_htlcs: Vec<PendingHtlc>,
    /// We opened the channel.
    pub initiator: bool,
    pub private: bool,
    pub active: bool,
    /// Our current outbound fee rate on this channel.
    pub local_fee_ppm: u32,
    /// The peer's policy toward us, when the graph knows it.
    pub peer_policy: Option<FeePolicy>,
}

impl ChannelFacts {
    /// Our side of the channel as the balance conditions see it: the settled balance, our
    /// outgoing pending HTLCs (still ours until they settle) and, when we opened the channel,
    /// the commitment fee (reserved from the opener's balance, returned on a cooperative close).
    pub fn local_total_sat(&self) -> u64 {
        self.local_balance_sat + self.pending_sat(false) + self.commit_fee_if(self.initiator)
    }

    /// The peer's side, counted the same way as [`ChannelFacts::local_total_sat`].
    pub fn remote_total_sat(&self) -> u64 {
        self.remote_balance_sat + self.pending_sat(true) + self.commit_fee_if(!self.initiator)
    }

    fn commit_fee_if(&self, opener: bool) -> u64 {
        if opener { self.commit_fee_sat } else { 0 }
    }

    fn pending_sat(&self, incoming: bool) -> u64 {
        self.pending_htlcs
            .iter()
            .filter(|h| h.incoming == incoming)
            .map(|h| h.amount_sat)
            .sum()
    }
}

/// One HTLC in flight on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PendingHtlc {
    /// Offered by the peer (it will add to our balance when it settles).
    pub incoming: bool,
    pub amount_sat: u64,
    /// Block height at which it times out.
    pub expiry_height: u32,
}

/// One channel with the peer, reduced to what the `node.*shared*` conditions need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SharedChannel {
    pub active: bool,
    /// Counted as [`ChannelFacts::local_total_sat`].
    pub local_sat: u64,
    /// Counted as [`ChannelFacts::remote_total_sat`].
    pub remote_sat: u64,
}

impl From<&ChannelFacts> for SharedChannel {
    fn from(channel: &ChannelFacts) -> Self {
        SharedChannel {
            active: channel.active,
            local_sat: channel.local_total_sat(),
            remote_sat: channel.remote_total_sat(),
        }
    }
}

/// The peer as the public graph shows it; `None` when the graph does not know the peer (then
/// conditions on it do not hold).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeerFacts {
    pub public_channels: Option<u32>,
    pub public_capacity_sat: Option<u64>,
}

/// Settled forwards through the channel over one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActivityCounts {
    /// Forwards that arrived through this channel.
    pub htlcs_in: u64,
    /// Forwards that left through this channel.
    pub htlcs_out: u64,
    /// Sum of the incoming amounts of the forwards that arrived here.
    pub sats_in: u64,
    /// Sum of the outgoing amounts of the forwards that left here.
    pub sats_out: u64,
}

/// The node's view of the chain.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChainFacts {
    pub block_height: u32,
    pub synced_to_chain: bool,
    /// The node's fee estimate in sat/vB per confirmation target. Must hold every target
    /// [`Config::conf_targets`](super::Config::conf_targets) lists.
    pub fee_rate_sat_vb: BTreeMap<u32, f64>,
}
