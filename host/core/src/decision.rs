use serde::{Deserialize, Serialize};

use crate::{ChannelId, FeePolicy};

/// What a strategy asked for; `None` keeps the current value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyChange {
    pub fee_ppm: Option<u32>,
    pub base_fee_msat: Option<u32>,
    pub inbound_fee_ppm: Option<i32>,
    pub inbound_base_fee_msat: Option<i32>,
    pub min_htlc_msat: Option<u64>,
    pub max_htlc_msat: Option<u64>,
    pub time_lock_delta: Option<u32>,
    pub disabled: Option<bool>,
}

impl PolicyChange {
    pub fn is_empty(&self) -> bool {
        *self == PolicyChange::default()
    }

    /// The policy that results from applying this change to `current`.
    pub fn applied_to(&self, current: &FeePolicy) -> FeePolicy {
        FeePolicy {
            base_fee_msat: self.base_fee_msat.unwrap_or(current.base_fee_msat),
            fee_ppm: self.fee_ppm.unwrap_or(current.fee_ppm),
            inbound_base_fee_msat: self
                .inbound_base_fee_msat
                .unwrap_or(current.inbound_base_fee_msat),
            inbound_fee_ppm: self.inbound_fee_ppm.unwrap_or(current.inbound_fee_ppm),
            min_htlc_msat: self.min_htlc_msat.unwrap_or(current.min_htlc_msat),
            max_htlc_msat: self.max_htlc_msat.unwrap_or(current.max_htlc_msat),
            time_lock_delta: self.time_lock_delta.unwrap_or(current.time_lock_delta),
            disabled: self.disabled.unwrap_or(current.disabled),
        }
    }
}

/// A strategy's raw output for one channel, exactly as the guest returned it
/// (the reason already cut to the host's limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub channel_id: ChannelId,
    pub change: PolicyChange,
    pub reason: String,
}

/// The guard rule that altered a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Outside the configured min/max.
    Bounds,
    /// Inbound fee would make the total fee negative.
    InboundNotBelowOutbound,
    /// Positive inbound fee without the operator enabling it.
    PositiveInboundDisabled,
    /// The node has no inbound fees (Core Lightning).
    NoInboundOnNode,
    /// Moved more than the maximum step per cycle.
    MaxStep,
    /// Updated again before the minimum interval elapsed.
    MinInterval,
    /// HTLC limits inconsistent with each other or the channel.
    HtlcLimits,
    /// The node cannot set this per channel (Core Lightning: the cltv delta is node-wide and
    /// `setchannel` cannot disable a channel).
    NotPerChannelOnNode,
    /// Enabling waits until the peer is online: LND refuses to enable an inactive channel,
    /// and re-enables one it disabled itself when the peer returns.
    ChannelInactive,
    /// LND lists the channel but its graph holds no edge for it, so the cltv delta and HTLC
    /// limits are unknown (reported as 0) and LND refuses every update until the edge is back.
    NoGraphEdge,
}

/// One value the guard changed, with the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clamp {
    pub field: String,
    pub requested: i64,
    pub applied: i64,
    pub rule: Rule,
}

/// A decision after the guard: the full policy to send, or none to leave the
/// channel as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardedDecision {
    pub channel_id: ChannelId,
    /// The complete policy the node should end up with; `None` = no update.
    pub policy: Option<FeePolicy>,
    pub clamps: Vec<Clamp>,
}
