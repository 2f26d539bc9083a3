//! The simulated node's state as the protocol servers see it: plain data
//! that the market engine advances and the LND/CLN servers read and write
//! under one lock.

use lnpolicy_core::{ChannelId, FailedForward, FeePolicy, Forward, NodeChannel, NodeInfo};

/// A public channel elsewhere in the graph (not ours), for graph queries:
/// peers' other channels and competitor fees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphChannel {
    pub id: ChannelId,
    pub channel_point: String,
    pub node1_pubkey: String,
    pub node2_pubkey: String,
    pub capacity_sat: u64,
    /// node1's policy for forwards from node1 to node2.
    pub node1_policy: FeePolicy,
    pub node2_policy: FeePolicy,
    /// Unix seconds of the last gossip update.
    pub last_update: u64,
}

/// Why the simulated node refused a policy update (LND's validation rules).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRejection {
    #[error("channel {0} not found")]
    NotFound(ChannelId),
    #[error("time lock delta {value} outside [{min}, {max}]")]
    TimeLockDelta { value: u32, min: u32, max: u32 },
    #[error("positive inbound fees are not accepted (accept-positive-inbound-fees is off)")]
    PositiveInbound,
    #[error("invalid htlc limits: {0}")]
    HtlcLimits(String),
}

/// Everything the servers expose. Indexes: `forwards[i].index == i + 1`,
/// likewise for `failures`, so paging is by position.
#[derive(Debug, Clone)]
pub struct NodeState {
    pub info: NodeInfo,
    pub channels: Vec<NodeChannel>,
    pub forwards: Vec<Forward>,
    pub failures: Vec<FailedForward>,
    pub graph: Vec<GraphChannel>,
    /// LND's `accept-positive-inbound-fees`.
    pub accept_positive_inbound: bool,
    /// Virtual time, unix nanoseconds.
    pub now_ns: u64,
    /// Every RPC method served, in order, by its protocol name
    /// (e.g. "lnrpc.Lightning/ListChannels", "listpeerchannels").
    pub calls: Vec<String>,
    /// When each channel's policy changed last (unix seconds), for gossip timestamps.
    pub policy_updated_at: Vec<(ChannelId, u64)>,
}

/// LND's default bounds on time_lock_delta.
pub const MIN_TIME_LOCK_DELTA: u32 = 24;
pub const MAX_TIME_LOCK_DELTA: u32 = 2016;

impl NodeState {
    pub fn channel(&self, id: ChannelId) -> Option<&NodeChannel> {
        self.channels.iter().find(|c| c.id == id)
    }

    pub fn channel_by_point(&self, point: &str) -> Option<&NodeChannel> {
        self.channels.iter().find(|c| c.channel_point == point)
    }

    pub fn now_secs(&self) -> u64 {
        self.now_ns / 1_000_000_000
    }

    /// Applies a full policy to one of our channels after LND's checks.
    pub fn set_policy(&mut self, id: ChannelId, policy: FeePolicy) -> Result<(), PolicyRejection> {
        if !(MIN_TIME_LOCK_DELTA..=MAX_TIME_LOCK_DELTA).contains(&policy.time_lock_delta) {
            return Err(PolicyRejection::TimeLockDelta {
                value: policy.time_lock_delta,
                min: MIN_TIME_LOCK_DELTA,
                max: MAX_TIME_LOCK_DELTA,
            });
        }
        if !self.accept_positive_inbound
            && (policy.inbound_fee_ppm > 0 || policy.inbound_base_fee_msat > 0)
        {
            return Err(PolicyRejection::PositiveInbound);
        }
        let now = self.now_secs();
        let channel = self
            .channels
            .iter_mut()
            .find(|c| c.id == id)
            .ok_or(PolicyRejection::NotFound(id))?;
        if policy.max_htlc_msat != 0 && policy.min_htlc_msat > policy.max_htlc_msat {
            return Err(PolicyRejection::HtlcLimits(format!(
                "min_htlc {} above max_htlc {}",
                policy.min_htlc_msat, policy.max_htlc_msat
            )));
        }
        channel.local_policy = policy;
        match self.policy_updated_at.iter_mut().find(|(c, _)| *c == id) {
            Some(entry) => entry.1 = now,
            None => self.policy_updated_at.push((id, now)),
        }
        Ok(())
    }
}
