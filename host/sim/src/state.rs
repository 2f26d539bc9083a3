//! The simulated node's state as the protocol servers see it: plain data
//! that the market engine advances and the LND/CLN servers read and write
//! under one lock.

use std::collections::BTreeMap;

use lnpolicy_core::{ChannelId, FailedForward, FeePolicy, Forward, NodeChannel, NodeInfo};
use serde::{Deserialize, Serialize};

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

/// One point of the node's on-chain fee estimates: what it takes to confirm
/// within `blocks` blocks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeEstimate {
    /// Confirmation target, blocks.
    pub blocks: u32,
    pub sat_per_vb: f64,
}

/// The estimate for confirmation within `conf_target` blocks: the one for the largest target
/// not above it, else the fastest (the rule the CLN client applies to `feerates`, so both
/// protocols answer alike). `None` without estimates.
pub fn fee_rate_at(estimates: &[FeeEstimate], conf_target: u32) -> Option<f64> {
    estimates
        .iter()
        .filter(|e| e.blocks <= conf_target)
        .max_by_key(|e| e.blocks)
        .or_else(|| estimates.iter().min_by_key(|e| e.blocks))
        .map(|e| e.sat_per_vb)
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
/// likewise for `failures`, so paging is by position (until
/// [`LiveSimulation::delete_forwards_before`](crate::LiveSimulation::delete_forwards_before)
/// deletes the start of an LND log, which LND pages by time).
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
    /// The node's fee estimates by ascending target; empty: the node has none.
    pub fee_estimates: Vec<FeeEstimate>,
    /// What the funding transaction of each channel we opened cost our wallet, sat.
    pub funding_fees: BTreeMap<ChannelId, u64>,
    /// Settled forwards whose HTLC was held downstream: position in `forwards` → when it
    /// arrived (unix ns). Until `now_ns` reaches the forward's `at_ns`, CLN lists it
    /// `offered` under the created_index of its arrival, and LND not at all.
    pub held_forwards: BTreeMap<usize, u64>,
    /// CLN's `setchannel enforcedelay` given with each channel's last policy change, seconds:
    /// how long the previous fee is still accepted. A channel without one gets the scenario's
    /// `enforce_delay_secs`.
    pub enforce_delays: BTreeMap<ChannelId, u64>,
    /// Circular payments the node made to itself, in the order they started: LND lists them
    /// by `payment_index` (position + 1), in flight until they settle; CLN as two channel
    /// moves each once they have settled ([`NodeState::settled_rebalances`]).
    pub rebalances: Vec<Rebalance>,
}

/// A payment the node made to itself, out by one channel and back in by another, as the
/// rebalancing tools operators run make them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebalance {
    /// Unix seconds it started.
    pub started_secs: u64,
    /// Unix seconds it settles (in flight until then).
    pub at_secs: u64,
    pub payment_hash: String,
    /// The channel it left by, which paid the amount and the fee.
    pub out_channel: ChannelId,
    /// The channel it came back by, which gained the amount.
    pub in_channel: ChannelId,
    pub amount_msat: u64,
    /// What the route charged, msat.
    pub fee_msat: u64,
    /// It failed (at `at_secs`) instead of settling: nothing moved, and it cost nothing.
    pub failed: bool,
}

/// Where a rebalance stands at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RebalanceState {
    InFlight,
    Settled,
    Failed,
}

impl Rebalance {
    /// Where it stands at `now` (unix seconds).
    pub fn state(&self, now: u64) -> RebalanceState {
        match (self.at_secs <= now, self.failed) {
            (false, _) => RebalanceState::InFlight,
            (true, false) => RebalanceState::Settled,
            (true, true) => RebalanceState::Failed,
        }
    }
}

/// LND's default bounds on time_lock_delta.
pub const MIN_TIME_LOCK_DELTA: u32 = 24;
pub const MAX_TIME_LOCK_DELTA: u32 = 2016;

impl NodeState {
    pub fn channel(&self, id: ChannelId) -> Option<&NodeChannel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// Our channels' ids, in the order the node lists them.
    pub fn channel_ids(&self) -> Vec<ChannelId> {
        self.channels.iter().map(|c| c.id).collect()
    }

    pub fn channel_by_point(&self, point: &str) -> Option<&NodeChannel> {
        self.channels.iter().find(|c| c.channel_point == point)
    }

    pub fn now_secs(&self) -> u64 {
        self.now_ns / 1_000_000_000
    }

    /// The node's estimate for confirmation within `conf_target` blocks (see [`fee_rate_at`]).
    pub fn fee_rate(&self, conf_target: u32) -> Option<f64> {
        fee_rate_at(&self.fee_estimates, conf_target)
    }

    /// Unix seconds at which block `height` was mined, counting back from now at one block
    /// per 10 minutes (the engine's clock and height advance together).
    pub fn block_time(&self, height: u32) -> u64 {
        let behind = u64::from(self.info.block_height.saturating_sub(height));
        self.now_secs().saturating_sub(behind * 600)
    }

    /// The wallet deposit that paid for every channel we opened: the servers list it as a
    /// transaction of ours that paid no fee (someone else sent it). Its txid is made from our
    /// node key, so it differs between nodes and never matches a funding txid.
    pub fn deposit_txid(&self) -> String {
        match self.info.pubkey.get(2..66) {
            Some(hex) => hex.to_owned(),
            None => format!("{:064x}", 0xd3_u64),
        }
    }

    /// The funding txid of one of our channels (its channel point's txid).
    pub fn funding_txid(channel: &NodeChannel) -> &str {
        channel
            .channel_point
            .split_once(':')
            .map_or(channel.channel_point.as_str(), |(txid, _)| txid)
    }

    /// The rebalances settled by now (not failed), in the order they settled (the order CLN
    /// creates their channel moves in; one settled at the same second as another keeps its
    /// start order).
    pub fn settled_rebalances(&self) -> Vec<&Rebalance> {
        let now = self.now_secs();
        let mut settled: Vec<&Rebalance> = self
            .rebalances
            .iter()
            .filter(|r| r.state(now) == RebalanceState::Settled)
            .collect();
        settled.sort_by_key(|r| r.at_secs);
        settled
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
