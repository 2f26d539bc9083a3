use serde::{Deserialize, Serialize};

use crate::NodeKind;

/// Short channel id in LND's 64-bit form (block << 40 | tx << 16 | output).
pub type ChannelId = u64;

/// The `BLOCKxTXxOUTPUT` form operators and CLN use for a channel id.
pub fn short_channel_id(id: ChannelId) -> String {
    format!("{}x{}x{}", id >> 40, (id >> 16) & 0xff_ffff, id & 0xffff)
}

/// One direction of a channel's forwarding policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FeePolicy {
    pub base_fee_msat: u32,
    pub fee_ppm: u32,
    pub inbound_base_fee_msat: i32,
    pub inbound_fee_ppm: i32,
    pub min_htlc_msat: u64,
    pub max_htlc_msat: u64,
    pub time_lock_delta: u32,
    pub disabled: bool,
}

impl FeePolicy {
    /// The same four fees (base, rate and the inbound pair): what a forward pays, and what
    /// every node reports, while cltv and HTLC limits are not settable per channel everywhere
    /// (CLN).
    pub fn same_fees(&self, other: &FeePolicy) -> bool {
        (
            self.base_fee_msat,
            self.fee_ppm,
            self.inbound_base_fee_msat,
            self.inbound_fee_ppm,
        ) == (
            other.base_fee_msat,
            other.fee_ppm,
            other.inbound_base_fee_msat,
            other.inbound_fee_ppm,
        )
    }

    /// Whether anything but the disabled flag differs: LND sets the flag alone by
    /// `UpdateChanStatus` and everything else by `UpdateChannelPolicy`.
    pub fn differs_beyond_flag(&self, other: &FeePolicy) -> bool {
        FeePolicy {
            disabled: other.disabled,
            ..*self
        } != *other
    }
}

/// The time span a block of flow statistics covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    Day,
    Week,
    Month,
}

impl Window {
    pub const ALL: [Window; 3] = [Window::Day, Window::Week, Window::Month];

    pub fn seconds(self) -> u64 {
        match self {
            Window::Day => 86_400,
            Window::Week => 7 * 86_400,
            Window::Month => 30 * 86_400,
        }
    }
}

/// Why a forward failed, in the categories strategies care about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    InsufficientBalance,
    FeeInsufficient,
    IncorrectCltv,
    ChannelUnavailable,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCount {
    pub reason: FailureReason,
    pub count: u32,
}

/// Forwarding statistics of one channel over one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowStats {
    pub window: Window,
    pub sats_in: u64,
    pub sats_out: u64,
    pub htlcs_in: u32,
    pub htlcs_out: u32,
    pub fees_earned_msat: u64,
    pub failures: Vec<FailureCount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowClass {
    Source,
    Sink,
    Balanced,
    Congested,
    Unknown,
}

impl FlowClass {
    /// The name JSON gives it, for tables that must agree with JSON.
    pub fn name(self) -> &'static str {
        match self {
            FlowClass::Source => "source",
            FlowClass::Sink => "sink",
            FlowClass::Balanced => "balanced",
            FlowClass::Congested => "congested",
            FlowClass::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Profitability {
    Profitable,
    BreakEven,
    Underwater,
    Zombie,
    Unknown,
}

impl Profitability {
    /// The name JSON gives it, for tables that must agree with JSON.
    pub fn name(self) -> &'static str {
        match self {
            Profitability::Profitable => "profitable",
            Profitability::BreakEven => "break_even",
            Profitability::Underwater => "underwater",
            Profitability::Zombie => "zombie",
            Profitability::Unknown => "unknown",
        }
    }
}

/// Settled balances of all our channels with one peer, by whether they are usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SharedChannels {
    pub active_channels: u32,
    pub active_local_sat: u64,
    pub active_remote_sat: u64,
    pub inactive_channels: u32,
    pub inactive_local_sat: u64,
    pub inactive_remote_sat: u64,
}

impl SharedChannels {
    /// Sums `channels` (each: active, local sat, remote sat).
    pub fn sum(channels: impl IntoIterator<Item = (bool, u64, u64)>) -> Self {
        let mut shared = SharedChannels::default();
        for (active, local, remote) in channels {
            if active {
                shared.active_channels += 1;
                shared.active_local_sat += local;
                shared.active_remote_sat += remote;
            } else {
                shared.inactive_channels += 1;
                shared.inactive_local_sat += local;
                shared.inactive_remote_sat += remote;
            }
        }
        shared
    }
}

/// Everything the host knows about one channel when it asks a strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// Decides whether inbound fees exist for this channel.
    pub node: NodeKind,
    pub id: ChannelId,
    pub channel_point: String,
    pub peer_pubkey: String,
    pub capacity_sat: u64,
    pub local_balance_sat: u64,
    pub remote_balance_sat: u64,
    pub local_reserve_sat: u64,
    pub remote_reserve_sat: u64,
    pub pending_htlcs: u32,
    /// In-flight HTLCs the peer offered us.
    pub pending_in_sat: u64,
    /// In-flight HTLCs we offered the peer.
    pub pending_out_sat: u64,
    /// Held back from the opener's side.
    pub commit_fee_sat: u64,
    pub max_accepted_htlcs: u32,
    /// The most we may have in flight to the peer at once, as the node reports it; LND refuses
    /// a largest HTLC above it, and the whole update with it. 0 when not known.
    pub max_in_flight_msat: u64,
    /// The smallest HTLC minimum a policy update may set: on LND the channel's negotiated
    /// minimum (LND refuses one below it, and the whole update with it); on either, the one the
    /// node set when asked for less (Core Lightning raises a lower one to the peer's minimum,
    /// which it lists nowhere else). 0 when not known.
    pub min_htlc_floor_msat: u64,
    /// The largest HTLC maximum the node keeps besides capacity and max in flight: Core
    /// Lightning lowers a larger one to the capacity less the reserve the peer has us keep.
    /// 0 when none.
    pub max_htlc_ceiling_msat: u64,
    pub active: bool,
    pub private: bool,
    pub initiator: bool,
    pub age_blocks: u32,
    /// What opening the channel cost us on chain; `None` when the peer opened it or the
    /// node does not say.
    pub open_cost_sat: Option<u64>,
    /// Routing fees of the rebalances that refilled the channel, over the stored history
    /// (host-side only: among the profitability class's costs, not in the WIT view).
    pub rebalance_cost_msat: u64,
    /// All our channels with this peer, this one included.
    pub shared: SharedChannels,
    pub local_policy: FeePolicy,
    pub peer_policy: Option<FeePolicy>,
    pub flow: Vec<FlowStats>,
    /// Seconds of forwarding history behind `flow` (see the WIT's `history-secs`).
    pub history_secs: u64,
    pub flow_class: FlowClass,
    pub profitability: Profitability,
    pub revenue_rate_msat_per_hour: f64,
    /// When the channel's current fees began (unix seconds): lnpolicy's last fee change, or the
    /// collection that saw them changed by other hands since.
    pub last_fee_change: Option<u64>,
    /// When lnpolicy last changed anything in its policy: fees, the disabled flag, HTLC
    /// limits or cltv delta. A change that leaves the fees alone waits its minimum interval
    /// from here, so a flag near a threshold cannot flip every cycle.
    pub last_policy_change: Option<u64>,
}

/// What the analytics last made of a channel, kept so that reports can show it without a node.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChannelAnalysis {
    pub flow_class: FlowClass,
    pub profitability: Profitability,
    pub revenue_rate_msat_per_hour: f64,
    /// Seconds of forwarding history behind the figures.
    pub history_secs: u64,
    /// Routing fees of the rebalances that refilled the channel (0 in analyses stored before
    /// lnpolicy read them).
    #[serde(default)]
    pub rebalance_cost_msat: u64,
}

impl ChannelAnalysis {
    pub fn of(view: &Channel) -> Self {
        ChannelAnalysis {
            flow_class: view.flow_class,
            profitability: view.profitability,
            revenue_rate_msat_per_hour: view.revenue_rate_msat_per_hour,
            history_secs: view.history_secs,
            rebalance_cost_msat: view.rebalance_cost_msat,
        }
    }
}
