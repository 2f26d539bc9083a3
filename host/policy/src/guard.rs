//! The guard: the one gate between a strategy's output and the node.
//!
//! Strategies are untrusted code, so nothing they return is sent as is. The guard turns a raw
//! [`Decision`] into a [`GuardedDecision`]: the complete policy to send (LND overwrites omitted
//! fields, so a partial update is never safe) or `None`, plus one [`Clamp`] per value it had to
//! change, so an operator can read why a fee is not what the strategy asked for.
//!
//! Two kinds of rule apply:
//! - Limits on a *change* (bounds, step, HTLC limits, cltv) apply only to the fields a strategy
//!   sets. An operator's existing out-of-range value is theirs, and a strategy that only moves
//!   the fee rate must not rewrite their base fee behind their back.
//! - Limits on *what the node may be sent* apply to every policy the guard emits, requested or
//!   not: no inbound fee on Core Lightning, no positive inbound fee unless the operator enabled
//!   it (LND rejects the whole update otherwise), and no inbound discount larger than the
//!   outbound fee (the total fee would turn negative: the node would pay to forward).

use lnpolicy_core::{
    Channel, Clamp, Decision, FeePolicy, GuardedDecision, NodeKind, PolicyChange, Rule,
};
use serde::Deserialize;
use thiserror::Error;

/// The operator's limits on what any strategy may do to a channel.
///
/// Deserialised from the operator's configuration; every field but `node` has a default so a
/// minimal config is safe. Run [`GuardConfig::validate`] once when loading: [`guard`] refuses to
/// emit anything under an invalid config rather than guess what the operator meant.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct GuardConfig {
    /// Decides whether inbound fees exist at all.
    pub node: NodeKind,
    /// A floor keeps a buggy strategy from giving liquidity away.
    #[serde(default)]
    pub min_fee_ppm: u32,
    /// A ceiling keeps a buggy strategy from pricing the channel out of every route; 5000 ppm
    /// (0.5%) is well above the 90th percentile of public fees.
    #[serde(default = "default_max_fee")]
    pub max_fee_ppm: u32,
    #[serde(default)]
    pub min_base_fee_msat: u32,
    #[serde(default = "default_max_fee")]
    pub max_base_fee_msat: u32,
    /// LND rejects positive inbound fees unless it runs with `accept-positive-inbound-fees`, and
    /// the whole update fails with them; only the operator knows how their node is configured.
    #[serde(default)]
    pub allow_positive_inbound: bool,
    /// The largest discount a strategy may grant; must be <= 0 so that "no inbound fee" stays
    /// allowed.
    #[serde(default = "default_min_inbound")]
    pub min_inbound_fee_ppm: i32,
    /// Caps positive inbound fees; must be >= 0 because the guard may raise a discount up to 0.
    #[serde(default)]
    pub max_inbound_fee_ppm: i32,
    #[serde(default = "default_min_inbound")]
    pub min_inbound_base_fee_msat: i32,
    #[serde(default)]
    pub max_inbound_base_fee_msat: i32,
    /// Senders route on gossip that lags: a large rise fails their payments until it spreads, and
    /// a strategy that steps towards its target can still see what each move did to the flow.
    /// `None` = no limit.
    #[serde(default)]
    pub max_fee_step_ppm: Option<u32>,
    #[serde(default)]
    pub max_inbound_step_ppm: Option<u32>,
    /// Peers rate-limit channel updates (many accept about two a day), and a fee needs time in
    /// the graph before its effect on flow can be measured.
    #[serde(default = "default_min_update_interval")]
    pub min_update_interval_secs: u64,
    /// LND validates the cltv delta on every update (24..=2016 by default); sending a value it
    /// rejects would fail the fee change along with it.
    #[serde(default = "default_min_time_lock_delta")]
    pub min_time_lock_delta: u32,
    #[serde(default = "default_max_time_lock_delta")]
    pub max_time_lock_delta: u32,
}

const fn default_max_fee() -> u32 {
    5000
}

const fn default_min_inbound() -> i32 {
    -5000
}

const fn default_min_update_interval() -> u64 {
    3600
}

const fn default_min_time_lock_delta() -> u32 {
    24
}

const fn default_max_time_lock_delta() -> u32 {
    2016
}

/// Why a [`GuardConfig`] cannot be enforced as written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GuardConfigError {
    #[error("{min_key} ({min}) is above {max_key} ({max}): no value would be allowed")]
    InvertedRange {
        min_key: &'static str,
        min: i64,
        max_key: &'static str,
        max: i64,
    },
    #[error(
        "{min_key} ({min}) must be <= 0 and {max_key} ({max}) >= 0: the guard must be able to \
         fall back to no inbound fee (Core Lightning, positive fees disabled, total fee floor)"
    )]
    InboundRangeExcludesZero {
        min_key: &'static str,
        min: i64,
        max_key: &'static str,
        max: i64,
    },
}

impl GuardConfig {
    /// The defaults for `node`, the same a config that names only the node gets.
    pub fn new(node: NodeKind) -> Self {
        GuardConfig {
            node,
            min_fee_ppm: 0,
            max_fee_ppm: default_max_fee(),
            min_base_fee_msat: 0,
            max_base_fee_msat: default_max_fee(),
            allow_positive_inbound: false,
            min_inbound_fee_ppm: default_min_inbound(),
            max_inbound_fee_ppm: 0,
            min_inbound_base_fee_msat: default_min_inbound(),
            max_inbound_base_fee_msat: 0,
            max_fee_step_ppm: None,
            max_inbound_step_ppm: None,
            min_update_interval_secs: default_min_update_interval(),
            min_time_lock_delta: default_min_time_lock_delta(),
            max_time_lock_delta: default_max_time_lock_delta(),
        }
    }

    /// Limits for running an existing charge-lnd config: its decisions pass unchanged
    /// (no step limit, no minimum interval, ceilings high enough for the "9999 sat base
    /// fee" trick operators use to stop routing), while the rules that always hold (the
    /// inbound clamp, no inbound on CLN, LND's cltv range) and ceilings against typos stay.
    /// Sections tighten them with `guard.*` keys.
    pub fn charge_lnd_compatible(node: NodeKind) -> Self {
        GuardConfig {
            max_fee_ppm: 50_000,
            max_base_fee_msat: 10_000_000,
            min_update_interval_secs: 0,
            ..GuardConfig::new(node)
        }
    }

    /// Checks that every range can be honoured together with the rules that always hold, so a
    /// mistake surfaces when the config is loaded, not as silently odd fees later.
    pub fn validate(&self) -> Result<(), GuardConfigError> {
        let ranges = [
            (
                "min_fee_ppm",
                i64::from(self.min_fee_ppm),
                "max_fee_ppm",
                i64::from(self.max_fee_ppm),
            ),
            (
                "min_base_fee_msat",
                i64::from(self.min_base_fee_msat),
                "max_base_fee_msat",
                i64::from(self.max_base_fee_msat),
            ),
            (
                "min_time_lock_delta",
                i64::from(self.min_time_lock_delta),
                "max_time_lock_delta",
                i64::from(self.max_time_lock_delta),
            ),
        ];
        for (min_key, min, max_key, max) in ranges {
            if min > max {
                return Err(GuardConfigError::InvertedRange {
                    min_key,
                    min,
                    max_key,
                    max,
                });
            }
        }
        let inbound = [
            (
                "min_inbound_fee_ppm",
                i64::from(self.min_inbound_fee_ppm),
                "max_inbound_fee_ppm",
                i64::from(self.max_inbound_fee_ppm),
            ),
            (
                "min_inbound_base_fee_msat",
                i64::from(self.min_inbound_base_fee_msat),
                "max_inbound_base_fee_msat",
                i64::from(self.max_inbound_base_fee_msat),
            ),
        ];
        for (min_key, min, max_key, max) in inbound {
            if min > 0 || max < 0 {
                return Err(GuardConfigError::InboundRangeExcludesZero {
                    min_key,
                    min,
                    max_key,
                    max,
                });
            }
        }
        Ok(())
    }
}

/// Makes `decision` safe to send for `channel` at unix time `now`.
///
/// `policy` is `None` (leave the channel alone) when:
/// - the decision is for another channel: a caller bug, reported with a warning and no clamps
///   (the runtime already matches ids, so this only guards against a wrong pairing);
/// - the config is invalid (see [`GuardConfig::validate`]): nothing is safe to send;
/// - the decision changes nothing, or nothing survives the guard (its clamps still say why);
/// - the channel is on LND without a graph edge (cltv delta 0): the one clamp is `NoGraphEdge`,
///   since LND refuses the update and a complete policy cannot be formed from unknown fields;
/// - the channel was updated less than `min_update_interval_secs` ago: the only clamp is a
///   `MinInterval` one on field `"policy"` with `requested` = `now` and `applied` = the earliest
///   time an update is allowed. The held policy is not recorded: the strategy decides afresh
///   next cycle. A fee change that is due while something else still waits goes out with its
///   HTLC limits, cltv and a disabling, but a channel it would enable stays disabled (a
///   `MinInterval` clamp on `disabled`).
///
/// `inbound_level_ppm` is charge-lnd's `inbound_level_ppm` property: the inbound rate becomes
/// min(0, level − the outbound rate being emitted), whatever rate the decision or an
/// `inbound_fee_ppm` property asked for (charge-lnd computes the level last), so a discount
/// follows the outbound fee the bounds and step limit let through, not the one the strategy
/// asked for.
///
/// Each clamp records one rule's effect on one field, with `requested` the value before that
/// rule; a value that several rules touch shows as a chain, in the order the rules ran.
pub fn guard(
    config: &GuardConfig,
    channel: &Channel,
    decision: &Decision,
    inbound_level_ppm: Option<u32>,
    now: u64,
) -> GuardedDecision {
    let leave = |clamps| GuardedDecision {
        channel_id: channel.id,
        policy: None,
        clamps,
    };
    if decision.channel_id != channel.id {
        tracing::warn!(
            channel = channel.id,
            decision = decision.channel_id,
            "guard called with a decision for another channel; leaving the channel unchanged"
        );
        return leave(Vec::new());
    }
    if let Err(error) = config.validate() {
        tracing::error!(
            channel = channel.id,
            %error,
            "invalid guard config; leaving the channel unchanged"
        );
        return leave(Vec::new());
    }
    if decision.change.is_empty() && inbound_level_ppm.is_none() {
        return leave(Vec::new());
    }
    if config.node == NodeKind::Lnd && channel.local_policy.time_lock_delta == 0 {
        // LND's smallest cltv delta is 18: 0 means the policy was not in the graph.
        return leave(vec![Clamp {
            field: "time_lock_delta".to_owned(),
            requested: 0,
            applied: 0,
            rule: Rule::NoGraphEdge,
        }]);
    }

    let mut clamps = Clamps::default();
    let mut policy = guarded_policy(
        config,
        channel,
        &decision.change,
        inbound_level_ppm,
        &mut clamps,
    );
    if policy == channel.local_policy {
        return leave(clamps.0);
    }
    // A fee change waits on the last fee change only (lnpolicy's, or one made by hand since):
    // re-enabling a channel must not hold its next fee back. Anything else waits on
    // lnpolicy's last change of any kind, which a fee changed by hand does not push back. HTLC
    // limits and cltv ride along with a fee change that is due (the same channel update), and
    // so does disabling (a fee meant for a disabled channel must not go live on an enabled
    // one), but enabling waits: a flag near a threshold flips at most twice an interval.
    let waiting = |last: Option<u64>| {
        last.map(|last| last.saturating_add(config.min_update_interval_secs))
            .filter(|&earliest| now < earliest)
    };
    let fees_change = !policy.same_fees(&channel.local_policy);
    let held_until = if fees_change {
        waiting(channel.last_fee_change)
    } else {
        waiting(channel.last_policy_change)
    };
    if let Some(earliest) = held_until {
        return leave(vec![Clamp {
            field: "policy".to_owned(),
            requested: wide(now),
            applied: wide(earliest),
            rule: Rule::MinInterval,
        }]);
    }
    if fees_change
        && channel.local_policy.disabled
        && !policy.disabled
        && waiting(channel.last_policy_change).is_some()
    {
        let current = channel.local_policy.disabled;
        let kept = clamps.limit(
            "disabled",
            Rule::MinInterval,
            i64::from(policy.disabled),
            i64::from(current),
            i64::from(current),
        );
        policy.disabled = kept != 0;
    }
    // A channel from an LND that did not yet check can carry a smallest HTLC below the
    // negotiated one. LND checks the value even when a policy update leaves it alone, so every
    // one there would be refused: one that goes out anyway takes it up to the floor. A change
    // of the disabled flag alone goes by another call, which checks nothing of the kind.
    let flag_only = FeePolicy {
        disabled: channel.local_policy.disabled,
        ..policy
    } == channel.local_policy;
    if !flag_only
        && policy.min_htlc_msat < channel.min_htlc_floor_msat
        && channel.min_htlc_floor_msat <= policy.max_htlc_msat
    {
        policy.min_htlc_msat = clamps.limit(
            "min_htlc_msat",
            Rule::HtlcLimits,
            policy.min_htlc_msat,
            channel.min_htlc_floor_msat,
            u64::MAX,
        );
    }
    GuardedDecision {
        channel_id: channel.id,
        policy: Some(policy),
        clamps: clamps.0,
    }
}

/// The policy the node should end up with: `change` on top of the current policy, every
/// requested value limited, and the always-rules applied to the result.
fn guarded_policy(
    config: &GuardConfig,
    channel: &Channel,
    change: &PolicyChange,
    inbound_level_ppm: Option<u32>,
    clamps: &mut Clamps,
) -> FeePolicy {
    let current = &channel.local_policy;
    let mut policy = change.applied_to(current);

    if let Some(requested) = change.fee_ppm {
        let stepped = match config.max_fee_step_ppm {
            Some(step) => clamps.limit(
                "fee_ppm",
                Rule::MaxStep,
                requested,
                current.fee_ppm.saturating_sub(step),
                current.fee_ppm.saturating_add(step),
            ),
            None => requested,
        };
        // Bounds run last: when the current fee is out of range, reaching the range at once is
        // what the operator asked for, however far it is.
        policy.fee_ppm = clamps.limit(
            "fee_ppm",
            Rule::Bounds,
            stepped,
            config.min_fee_ppm,
            config.max_fee_ppm,
        );
    }
    let requested_inbound_ppm = match inbound_level_ppm {
        Some(level) => {
            let rate = (i64::from(level) - i64::from(policy.fee_ppm)).min(0);
            Some(i32::try_from(rate).unwrap_or(i32::MIN))
        }
        None => change.inbound_fee_ppm,
    };
    if let Some(requested) = change.base_fee_msat {
        policy.base_fee_msat = clamps.limit(
            "base_fee_msat",
            Rule::Bounds,
            requested,
            config.min_base_fee_msat,
            config.max_base_fee_msat,
        );
    }

    match config.node {
        NodeKind::Cln => {
            policy.inbound_fee_ppm = clamps.limit(
                "inbound_fee_ppm",
                Rule::NoInboundOnNode,
                requested_inbound_ppm.unwrap_or(policy.inbound_fee_ppm),
                0,
                0,
            );
            policy.inbound_base_fee_msat = clamps.limit(
                "inbound_base_fee_msat",
                Rule::NoInboundOnNode,
                policy.inbound_base_fee_msat,
                0,
                0,
            );
        }
        NodeKind::Lnd => {
            policy.inbound_fee_ppm = guard_inbound(
                config,
                clamps,
                InboundField {
                    name: "inbound_fee_ppm",
                    requested: requested_inbound_ppm,
                    current: current.inbound_fee_ppm,
                    step: config.max_inbound_step_ppm,
                    min: config.min_inbound_fee_ppm,
                    max: config.max_inbound_fee_ppm,
                    outbound: policy.fee_ppm,
                },
            );
            policy.inbound_base_fee_msat = guard_inbound(
                config,
                clamps,
                InboundField {
                    name: "inbound_base_fee_msat",
                    requested: change.inbound_base_fee_msat,
                    current: current.inbound_base_fee_msat,
                    step: None,
                    min: config.min_inbound_base_fee_msat,
                    max: config.max_inbound_base_fee_msat,
                    outbound: policy.base_fee_msat,
                },
            );
        }
    }

    if change.min_htlc_msat.is_some() || change.max_htlc_msat.is_some() {
        (policy.min_htlc_msat, policy.max_htlc_msat) = guard_htlc_limits(channel, change, clamps);
    }
    if let Some(requested) = change.time_lock_delta {
        policy.time_lock_delta = clamps.limit(
            "time_lock_delta",
            Rule::Bounds,
            requested,
            config.min_time_lock_delta,
            config.max_time_lock_delta,
        );
    }
    if config.node == NodeKind::Cln {
        policy.time_lock_delta = clamps.limit(
            "time_lock_delta",
            Rule::NotPerChannelOnNode,
            policy.time_lock_delta,
            current.time_lock_delta,
            current.time_lock_delta,
        );
    }
    policy.disabled = guard_disabled(config, channel, clamps, policy.disabled);
    policy
}

/// The disabled flag a node can be sent: unchanged on Core Lightning (no per-channel switch),
/// and on LND a channel whose peer is offline is not enabled (LND refuses, and re-enables on
/// its own a channel it disabled for being offline). Recorded as 1 = disabled.
fn guard_disabled(
    config: &GuardConfig,
    channel: &Channel,
    clamps: &mut Clamps,
    requested: bool,
) -> bool {
    let current = channel.local_policy.disabled;
    let rule = match config.node {
        NodeKind::Cln => Rule::NotPerChannelOnNode,
        NodeKind::Lnd if !channel.active && !requested => Rule::ChannelInactive,
        NodeKind::Lnd => return requested,
    };
    let kept = clamps.limit(
        "disabled",
        rule,
        i64::from(requested),
        i64::from(current),
        i64::from(current),
    );
    kept != 0
}

/// One of the two inbound components (rate or base) with what its rules need.
struct InboundField {
    name: &'static str,
    requested: Option<i32>,
    current: i32,
    step: Option<u32>,
    min: i32,
    max: i32,
    /// The matching outbound component of the policy being emitted.
    outbound: u32,
}

fn guard_inbound(config: &GuardConfig, clamps: &mut Clamps, field: InboundField) -> i32 {
    let ceiling = if config.allow_positive_inbound {
        i32::MAX
    } else {
        0
    };
    let mut value = field.requested.unwrap_or(field.current);
    value = clamps.limit(
        field.name,
        Rule::PositiveInboundDisabled,
        value,
        i32::MIN,
        ceiling,
    );
    if field.requested.is_some() {
        if let Some(step) = field.step {
            // Step from the value the node would keep anyway: a positive fee the operator has
            // disabled is going to 0 regardless, and stepping from it could land above 0 again.
            let from = field.current.min(ceiling);
            value = clamps.limit(
                field.name,
                Rule::MaxStep,
                value,
                from.saturating_sub_unsigned(step),
                from.saturating_add_unsigned(step),
            );
        }
        value = clamps.limit(field.name, Rule::Bounds, value, field.min, field.max);
    }
    // Checked against the outbound value being emitted, not the current one: a strategy that only
    // lowers its outbound fee must not leave a discount that now exceeds it.
    let floor = i32::try_from(-i64::from(field.outbound)).unwrap_or(i32::MIN);
    clamps.limit(
        field.name,
        Rule::InboundNotBelowOutbound,
        value,
        floor,
        i32::MAX,
    )
}

/// Requested HTLC limits, kept only if they form a consistent pair with whatever is not requested.
fn guard_htlc_limits(channel: &Channel, change: &PolicyChange, clamps: &mut Clamps) -> (u64, u64) {
    let current = &channel.local_policy;
    // At least 1 msat, which every implementation accepts (a 0 minimum is "unset" to some), and
    // on LND at least the channel's negotiated minimum: below it LND refuses the update, fees
    // and all.
    let floor = channel.min_htlc_floor_msat.max(1);
    let min = change.min_htlc_msat.map_or(current.min_htlc_msat, |v| {
        clamps.limit("min_htlc_msat", Rule::HtlcLimits, v, floor, u64::MAX)
    });
    let ceiling = max_htlc_ceiling(channel);
    // At least 1 msat: both clients send 0 as "keep the node's value", so a requested 0
    // would be recorded as set and never reach the node.
    let max = change.max_htlc_msat.map_or(current.max_htlc_msat, |v| {
        clamps.limit("max_htlc_msat", Rule::HtlcLimits, v, 1, ceiling)
    });
    if min <= max {
        return (min, max);
    }
    // No repair is obviously right (raise the max? lower the min?), so keep what the node has.
    let min = clamps.limit(
        "min_htlc_msat",
        Rule::HtlcLimits,
        min,
        current.min_htlc_msat,
        current.min_htlc_msat,
    );
    let max = clamps.limit(
        "max_htlc_msat",
        Rule::HtlcLimits,
        max,
        current.max_htlc_msat,
        current.max_htlc_msat,
    );
    (min, max)
}

/// The largest HTLC maximum a node keeps for `channel`: within its capacity (the reserve would
/// tighten this, but capacity is a limit every node enforces and never rejects a value below),
/// the max in flight where the node reports it (LND refuses a larger one, and the fee change
/// sent with it), and the capacity less our reserve on Core Lightning, which lowers a larger
/// one to that. At least 1 msat, the smallest largest HTLC the guard lets through.
pub fn max_htlc_ceiling(channel: &Channel) -> u64 {
    [channel.max_in_flight_msat, channel.max_htlc_ceiling_msat]
        .into_iter()
        .filter(|&limit| limit > 0)
        .fold(channel.capacity_sat.saturating_mul(1000), u64::min)
        .max(1)
}

/// The clamps of one decision, in the order the rules ran.
#[derive(Default)]
struct Clamps(Vec<Clamp>);

impl Clamps {
    /// Limits `value` to `lo..=hi`, recording a clamp if that changed it. `hi` wins should the
    /// range be empty; callers never build one.
    fn limit<T>(&mut self, field: &str, rule: Rule, value: T, lo: T, hi: T) -> T
    where
        T: Ord + Copy + TryInto<i64>,
    {
        let applied = value.max(lo).min(hi);
        if applied != value {
            self.0.push(Clamp {
                field: field.to_owned(),
                requested: wide(value),
                applied: wide(applied),
                rule,
            });
        }
        applied
    }
}

/// Clamps store values as `i64`; only msat amounts above ~9.2e18 (more than all bitcoin) saturate.
fn wide<T: TryInto<i64>>(value: T) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use lnpolicy_core::{FlowClass, Profitability, SharedChannels};
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as ValueError, MapDeserializer};

    use super::*;

    const NOW: u64 = 1_000_000;

    fn channel() -> Channel {
        Channel {
            node: NodeKind::Lnd,
            id: 7,
            channel_point: "00ff:0".to_owned(),
            peer_pubkey: "02aa".to_owned(),
            capacity_sat: 1_000_000,
            local_balance_sat: 500_000,
            remote_balance_sat: 500_000,
            local_reserve_sat: 10_000,
            remote_reserve_sat: 10_000,
            pending_htlcs: 0,
            pending_in_sat: 0,
            pending_out_sat: 0,
            commit_fee_sat: 0,
            max_accepted_htlcs: 483,
            max_in_flight_msat: 990_000_000,
            min_htlc_floor_msat: 1,
            max_htlc_ceiling_msat: 0,
            active: true,
            private: false,
            initiator: true,
            age_blocks: 10_000,
            open_cost_sat: None,
            rebalance_cost_msat: 0,
            shared: SharedChannels::default(),
            local_policy: FeePolicy {
                base_fee_msat: 1000,
                fee_ppm: 100,
                inbound_base_fee_msat: 0,
                inbound_fee_ppm: 0,
                min_htlc_msat: 1000,
                max_htlc_msat: 990_000_000,
                time_lock_delta: 80,
                disabled: false,
            },
            peer_policy: None,
            flow: Vec::new(),
            history_secs: 0,
            flow_class: FlowClass::Unknown,
            profitability: Profitability::Unknown,
            revenue_rate_msat_per_hour: 0.0,
            last_fee_change: None,
            last_policy_change: None,
        }
    }

    fn lnd() -> GuardConfig {
        GuardConfig::new(NodeKind::Lnd)
    }

    fn run(config: &GuardConfig, channel: &Channel, change: PolicyChange) -> GuardedDecision {
        let decision = Decision {
            channel_id: channel.id,
            change,
            reason: "test".to_owned(),
        };
        guard(config, channel, &decision, None, NOW)
    }

    fn clamp(field: &str, requested: i64, applied: i64, rule: Rule) -> Clamp {
        Clamp {
            field: field.to_owned(),
            requested,
            applied,
            rule,
        }
    }

    fn fee(ppm: u32) -> PolicyChange {
        PolicyChange {
            fee_ppm: Some(ppm),
            ..PolicyChange::default()
        }
    }

    fn inbound(ppm: i32) -> PolicyChange {
        PolicyChange {
            inbound_fee_ppm: Some(ppm),
            ..PolicyChange::default()
        }
    }

    #[test]
    fn in_range_change_passes_unclamped_as_a_full_policy() {
        let channel = channel();
        let out = run(&lnd(), &channel, fee(250));
        assert_eq!(out.channel_id, 7);
        assert_eq!(
            out.policy,
            Some(FeePolicy {
                fee_ppm: 250,
                ..channel.local_policy
            })
        );
        assert!(out.clamps.is_empty());
    }

    #[test]
    fn decision_for_another_channel_changes_nothing() {
        let channel = channel();
        let decision = Decision {
            channel_id: 8,
            change: fee(250),
            reason: String::new(),
        };
        let out = guard(&lnd(), &channel, &decision, None, NOW);
        assert_eq!(
            out,
            GuardedDecision {
                channel_id: 7,
                policy: None,
                clamps: Vec::new()
            }
        );
    }

    #[test]
    fn invalid_config_changes_nothing() {
        let config = GuardConfig {
            min_fee_ppm: 10,
            max_fee_ppm: 5,
            ..lnd()
        };
        let out = run(&config, &channel(), fee(250));
        assert_eq!(out.policy, None);
        assert!(out.clamps.is_empty());
    }

    #[test]
    fn empty_decision_leaves_even_an_unsafe_current_policy_alone() {
        let mut channel = channel();
        channel.local_policy.inbound_fee_ppm = -1000;
        let out = run(&lnd(), &channel, PolicyChange::default());
        assert_eq!(out.policy, None);
        assert!(out.clamps.is_empty());
    }

    #[test]
    fn requesting_the_current_values_is_no_update() {
        let channel = channel();
        let out = run(&lnd(), &channel, fee(channel.local_policy.fee_ppm));
        assert_eq!(out.policy, None);
        assert!(out.clamps.is_empty());
    }

    #[test]
    fn min_interval_holds_a_change_until_it_has_elapsed() {
        let mut channel = channel();
        channel.last_fee_change = Some(NOW - 3599);
        let out = run(&lnd(), &channel, fee(250));
        assert_eq!(out.policy, None);
        assert_eq!(
            out.clamps,
            vec![clamp(
                "policy",
                NOW as i64,
                NOW as i64 + 1,
                Rule::MinInterval
            )]
        );

        channel.last_fee_change = Some(NOW - 3600);
        assert_eq!(
            run(&lnd(), &channel, fee(250)).policy.map(|p| p.fee_ppm),
            Some(250)
        );
    }

    #[test]
    fn a_status_change_waits_on_any_change_and_does_not_hold_a_fee_change() {
        let mut channel = channel();
        channel.last_fee_change = Some(NOW - 86_400);
        channel.last_policy_change = Some(NOW - 600);
        let disable = PolicyChange {
            disabled: Some(true),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &channel, disable);
        assert_eq!(out.policy, None, "the flag changed ten minutes ago");
        assert_eq!(out.clamps[0].rule, Rule::MinInterval);
        assert_eq!(
            run(&lnd(), &channel, fee(250)).policy.map(|p| p.fee_ppm),
            Some(250),
            "the fees last changed a day ago"
        );
        channel.last_policy_change = Some(NOW - 3600);
        assert_eq!(
            run(&lnd(), &channel, disable).policy.map(|p| p.disabled),
            Some(true)
        );
    }

    /// A section disabled the channel ten minutes ago; another now moves its fee and, as
    /// charge-lnd's properties do, asks for it enabled: the fee and the HTLC limit go out, the
    /// flag waits for the interval, and then goes with the next fee change. A disabling goes
    /// with its fee at once.
    #[test]
    fn a_fee_change_goes_out_alone_while_a_flag_change_waits() {
        let mut channel = channel();
        channel.local_policy.disabled = true;
        channel.last_fee_change = Some(NOW - 86_400);
        channel.last_policy_change = Some(NOW - 600);
        let enable_at = |fee_ppm| PolicyChange {
            fee_ppm: Some(fee_ppm),
            max_htlc_msat: Some(500_000_000),
            disabled: Some(false),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &channel, enable_at(250));
        let policy = out.policy.expect("the fee change is due");
        assert_eq!(policy.fee_ppm, 250);
        assert!(policy.disabled, "the flag changed ten minutes ago");
        assert_eq!(policy.max_htlc_msat, 500_000_000);
        assert_eq!(out.clamps, vec![clamp("disabled", 0, 1, Rule::MinInterval)]);
        channel.last_policy_change = Some(NOW - 3600);
        let policy = run(&lnd(), &channel, enable_at(250)).policy.unwrap();
        assert!(!policy.disabled);
        assert_eq!(policy.max_htlc_msat, 500_000_000);
        // Disabling goes with the fee meant for it at once, interval or not.
        channel.local_policy.disabled = false;
        channel.last_policy_change = Some(NOW - 600);
        let disable_at = PolicyChange {
            disabled: Some(true),
            ..enable_at(1)
        };
        let out = run(&lnd(), &channel, disable_at);
        let policy = out.policy.expect("the fee change is due");
        assert!(policy.disabled);
        assert!(out.clamps.iter().all(|c| c.rule != Rule::MinInterval));
    }

    /// The operator changed the fees by hand ten minutes ago (the view dates the current level
    /// then); lnpolicy last touched the channel a day ago. A fee change waits; disabling the
    /// channel does not.
    #[test]
    fn a_fee_changed_by_hand_holds_fee_changes_only() {
        let mut channel = channel();
        channel.last_fee_change = Some(NOW - 600);
        channel.last_policy_change = Some(NOW - 86_400);
        assert_eq!(run(&lnd(), &channel, fee(250)).policy, None);
        let disable = PolicyChange {
            disabled: Some(true),
            ..PolicyChange::default()
        };
        assert_eq!(
            run(&lnd(), &channel, disable).policy.map(|p| p.disabled),
            Some(true)
        );
    }

    #[test]
    fn min_interval_is_silent_when_nothing_would_change() {
        let mut channel = channel();
        channel.last_fee_change = Some(NOW);
        let config = GuardConfig {
            max_fee_ppm: 100,
            ..lnd()
        };
        let out = run(&config, &channel, fee(400));
        assert_eq!(out.policy, None);
        assert_eq!(out.clamps, vec![clamp("fee_ppm", 400, 100, Rule::Bounds)]);
    }

    #[test]
    fn fee_outside_bounds_is_clamped() {
        let config = GuardConfig {
            min_fee_ppm: 50,
            max_fee_ppm: 2000,
            ..lnd()
        };
        let channel = channel();
        let out = run(&config, &channel, fee(u32::MAX));
        assert_eq!(out.policy.map(|p| p.fee_ppm), Some(2000));
        assert_eq!(
            out.clamps,
            vec![clamp("fee_ppm", u32::MAX.into(), 2000, Rule::Bounds)]
        );

        let out = run(&config, &channel, fee(0));
        assert_eq!(out.policy.map(|p| p.fee_ppm), Some(50));
        assert_eq!(out.clamps, vec![clamp("fee_ppm", 0, 50, Rule::Bounds)]);
    }

    #[test]
    fn step_limits_how_far_the_fee_moves() {
        let config = GuardConfig {
            max_fee_step_ppm: Some(30),
            ..lnd()
        };
        let out = run(&config, &channel(), fee(1000));
        assert_eq!(out.policy.map(|p| p.fee_ppm), Some(130));
        assert_eq!(out.clamps, vec![clamp("fee_ppm", 1000, 130, Rule::MaxStep)]);

        let out = run(&config, &channel(), fee(0));
        assert_eq!(out.policy.map(|p| p.fee_ppm), Some(70));
    }

    #[test]
    fn bounds_win_over_step_for_an_out_of_range_fee() {
        let mut channel = channel();
        channel.local_policy.fee_ppm = 9000;
        let config = GuardConfig {
            max_fee_step_ppm: Some(100),
            ..lnd()
        };
        let out = run(&config, &channel, fee(8000));
        assert_eq!(out.policy.map(|p| p.fee_ppm), Some(5000));
        assert_eq!(
            out.clamps,
            vec![
                clamp("fee_ppm", 8000, 8900, Rule::MaxStep),
                clamp("fee_ppm", 8900, 5000, Rule::Bounds)
            ]
        );
    }

    #[test]
    fn unrequested_out_of_range_values_are_kept() {
        let mut channel = channel();
        channel.local_policy.fee_ppm = 9000;
        channel.local_policy.base_fee_msat = 9000;
        channel.local_policy.time_lock_delta = 5000;
        let out = run(
            &lnd(),
            &channel,
            PolicyChange {
                disabled: Some(true),
                ..PolicyChange::default()
            },
        );
        assert_eq!(
            out.policy,
            Some(FeePolicy {
                disabled: true,
                ..channel.local_policy
            })
        );
        assert!(out.clamps.is_empty());
    }

    #[test]
    fn base_fee_outside_bounds_is_clamped() {
        let config = GuardConfig {
            min_base_fee_msat: 100,
            max_base_fee_msat: 2000,
            ..lnd()
        };
        let change = PolicyChange {
            base_fee_msat: Some(3000),
            ..PolicyChange::default()
        };
        let out = run(&config, &channel(), change);
        assert_eq!(out.policy.map(|p| p.base_fee_msat), Some(2000));
        assert_eq!(
            out.clamps,
            vec![clamp("base_fee_msat", 3000, 2000, Rule::Bounds)]
        );
    }

    #[test]
    fn cln_drops_requested_inbound_fees() {
        let config = GuardConfig::new(NodeKind::Cln);
        let change = PolicyChange {
            fee_ppm: Some(200),
            inbound_fee_ppm: Some(-50),
            inbound_base_fee_msat: Some(-10),
            ..PolicyChange::default()
        };
        let out = run(&config, &channel(), change);
        let policy = out.policy.expect("fee change goes through");
        assert_eq!(
            (
                policy.fee_ppm,
                policy.inbound_fee_ppm,
                policy.inbound_base_fee_msat
            ),
            (200, 0, 0)
        );
        assert_eq!(
            out.clamps,
            vec![
                clamp("inbound_fee_ppm", -50, 0, Rule::NoInboundOnNode),
                clamp("inbound_base_fee_msat", -10, 0, Rule::NoInboundOnNode),
            ]
        );
    }

    #[test]
    fn cln_never_emits_an_inbound_fee_even_one_it_reported() {
        let mut channel = channel();
        channel.local_policy.inbound_fee_ppm = -20;
        let out = run(&GuardConfig::new(NodeKind::Cln), &channel, fee(200));
        assert_eq!(out.policy.map(|p| p.inbound_fee_ppm), Some(0));
        assert_eq!(
            out.clamps,
            vec![clamp("inbound_fee_ppm", -20, 0, Rule::NoInboundOnNode)]
        );
    }

    #[test]
    fn cln_inbound_only_request_is_no_update_with_a_note() {
        let out = run(&GuardConfig::new(NodeKind::Cln), &channel(), inbound(-50));
        assert_eq!(out.policy, None);
        assert_eq!(
            out.clamps,
            vec![clamp("inbound_fee_ppm", -50, 0, Rule::NoInboundOnNode)]
        );
    }

    #[test]
    fn positive_inbound_needs_the_operator_to_enable_it() {
        let mut channel = channel();
        channel.local_policy.inbound_fee_ppm = -40;
        let out = run(&lnd(), &channel, inbound(30));
        assert_eq!(out.policy.map(|p| p.inbound_fee_ppm), Some(0));
        assert_eq!(
            out.clamps,
            vec![clamp(
                "inbound_fee_ppm",
                30,
                0,
                Rule::PositiveInboundDisabled
            )]
        );

        let config = GuardConfig {
            allow_positive_inbound: true,
            max_inbound_fee_ppm: 20,
            ..lnd()
        };
        let out = run(&config, &channel, inbound(30));
        assert_eq!(out.policy.map(|p| p.inbound_fee_ppm), Some(20));
        assert_eq!(
            out.clamps,
            vec![clamp("inbound_fee_ppm", 30, 20, Rule::Bounds)]
        );
    }

    #[test]
    fn a_disabled_positive_inbound_fee_is_removed_from_any_update() {
        let mut channel = channel();
        channel.local_policy.inbound_base_fee_msat = 5;
        let out = run(&lnd(), &channel, fee(200));
        assert_eq!(out.policy.map(|p| p.inbound_base_fee_msat), Some(0));
        assert_eq!(
            out.clamps,
            vec![clamp(
                "inbound_base_fee_msat",
                5,
                0,
                Rule::PositiveInboundDisabled
            )]
        );
    }

    #[test]
    fn step_limits_how_far_the_inbound_fee_moves() {
        let mut channel = channel();
        channel.local_policy.fee_ppm = 1000;
        let config = GuardConfig {
            max_inbound_step_ppm: Some(25),
            ..lnd()
        };
        let out = run(&config, &channel, inbound(-500));
        assert_eq!(out.policy.map(|p| p.inbound_fee_ppm), Some(-25));
        assert_eq!(
            out.clamps,
            vec![clamp("inbound_fee_ppm", -500, -25, Rule::MaxStep)]
        );
    }

    #[test]
    fn inbound_step_starts_from_zero_when_a_positive_fee_is_going_away() {
        let mut channel = channel();
        channel.local_policy.inbound_fee_ppm = 300;
        let config = GuardConfig {
            max_inbound_step_ppm: Some(100),
            ..lnd()
        };
        let out = run(&config, &channel, inbound(200));
        assert_eq!(out.policy.map(|p| p.inbound_fee_ppm), Some(0));
        assert_eq!(
            out.clamps,
            vec![clamp(
                "inbound_fee_ppm",
                200,
                0,
                Rule::PositiveInboundDisabled
            )]
        );
    }

    #[test]
    fn inbound_discount_is_bounded() {
        let mut channel = channel();
        channel.local_policy.fee_ppm = 3000;
        let config = GuardConfig {
            min_inbound_fee_ppm: -800,
            ..lnd()
        };
        let out = run(&config, &channel, inbound(i32::MIN));
        assert_eq!(out.policy.map(|p| p.inbound_fee_ppm), Some(-800));
        assert_eq!(
            out.clamps,
            vec![clamp(
                "inbound_fee_ppm",
                i32::MIN.into(),
                -800,
                Rule::Bounds
            )]
        );
    }

    #[test]
    fn inbound_discount_never_exceeds_the_outbound_fee() {
        let change = PolicyChange {
            inbound_fee_ppm: Some(-1000),
            inbound_base_fee_msat: Some(-1000),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &channel(), change);
        let policy = out
            .policy
            .expect("discount up to the outbound fee goes through");
        assert_eq!(
            (policy.inbound_fee_ppm, policy.inbound_base_fee_msat),
            (-100, -1000)
        );
        assert_eq!(
            out.clamps,
            vec![clamp(
                "inbound_fee_ppm",
                -1000,
                -100,
                Rule::InboundNotBelowOutbound
            )]
        );
    }

    fn with_level(config: &GuardConfig, channel: &Channel, change: PolicyChange) -> FeePolicy {
        let decision = Decision {
            channel_id: channel.id,
            change,
            reason: "test".to_owned(),
        };
        guard(config, channel, &decision, Some(100), NOW)
            .policy
            .expect("an update")
    }

    #[test]
    fn inbound_level_follows_the_outbound_fee_the_guard_lets_through() {
        let mut channel = channel();
        channel.local_policy.fee_ppm = 300;
        let bounded = GuardConfig {
            max_fee_ppm: 1000,
            ..lnd()
        };
        let policy = with_level(&bounded, &channel, fee(2000));
        assert_eq!(
            (policy.fee_ppm, policy.inbound_fee_ppm),
            (1000, -900),
            "min(0, 100 − 1000), not 100 − 2000"
        );
        let stepped = GuardConfig {
            max_fee_step_ppm: Some(50),
            ..lnd()
        };
        let policy = with_level(&stepped, &channel, fee(2000));
        assert_eq!((policy.fee_ppm, policy.inbound_fee_ppm), (350, -250));
        let kept = with_level(&lnd(), &channel, PolicyChange::default());
        assert_eq!(
            (kept.fee_ppm, kept.inbound_fee_ppm),
            (300, -200),
            "a level alone is an update, against the current fee"
        );
        let low = with_level(&lnd(), &channel, fee(50));
        assert_eq!(low.inbound_fee_ppm, 0, "never a positive inbound fee");
        let explicit = PolicyChange {
            inbound_fee_ppm: Some(-20),
            ..fee(2000)
        };
        assert_eq!(
            with_level(&bounded, &channel, explicit).inbound_fee_ppm,
            -900,
            "the level wins over an explicit inbound rate, as in charge-lnd"
        );
        let cln = GuardConfig::new(NodeKind::Cln);
        channel.node = NodeKind::Cln;
        let decision = Decision {
            channel_id: channel.id,
            change: fee(2000),
            reason: String::new(),
        };
        let out = guard(&cln, &channel, &decision, Some(100), NOW);
        assert_eq!(out.policy.map(|p| p.inbound_fee_ppm), Some(0));
        assert!(
            out.clamps
                .contains(&clamp("inbound_fee_ppm", -1900, 0, Rule::NoInboundOnNode)),
            "{:?}",
            out.clamps
        );
    }

    #[test]
    fn cln_keeps_the_cltv_delta_and_the_disabled_flag() {
        let mut channel = channel();
        channel.node = NodeKind::Cln;
        let cln = GuardConfig::new(NodeKind::Cln);
        let change = PolicyChange {
            time_lock_delta: Some(40),
            disabled: Some(true),
            ..PolicyChange::default()
        };
        let out = run(&cln, &channel, change);
        assert_eq!(
            out.policy, None,
            "nothing CLN could apply: no update at all"
        );
        assert_eq!(
            out.clamps,
            vec![
                clamp("time_lock_delta", 40, 80, Rule::NotPerChannelOnNode),
                clamp("disabled", 1, 0, Rule::NotPerChannelOnNode),
            ]
        );
        let with_fee = run(
            &cln,
            &channel,
            PolicyChange {
                fee_ppm: Some(250),
                ..change
            },
        );
        assert_eq!(
            with_fee.policy,
            Some(FeePolicy {
                fee_ppm: 250,
                ..channel.local_policy
            })
        );
    }

    #[test]
    fn lnd_disables_any_channel_but_enables_only_one_whose_peer_is_online() {
        let mut channel = channel();
        let disable = PolicyChange {
            disabled: Some(true),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &channel, disable);
        assert_eq!(out.policy.map(|p| p.disabled), Some(true));
        channel.active = false;
        let out = run(&lnd(), &channel, disable);
        assert_eq!(out.policy.map(|p| p.disabled), Some(true));

        channel.local_policy.disabled = true;
        let enable = PolicyChange {
            disabled: Some(false),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &channel, enable);
        assert_eq!(out.policy, None, "an offline peer's channel stays disabled");
        assert_eq!(
            out.clamps,
            vec![clamp("disabled", 0, 1, Rule::ChannelInactive)]
        );
        channel.active = true;
        let out = run(&lnd(), &channel, enable);
        assert_eq!(out.policy.map(|p| p.disabled), Some(false));
    }

    #[test]
    fn an_lnd_channel_without_a_graph_edge_is_left_alone_with_the_reason() {
        let mut channel = channel();
        channel.local_policy.time_lock_delta = 0;
        let with_cltv = PolicyChange {
            time_lock_delta: Some(80),
            ..fee(400)
        };
        for change in [fee(400), with_cltv] {
            let out = run(&lnd(), &channel, change);
            assert_eq!(out.policy, None);
            assert_eq!(
                out.clamps,
                vec![clamp("time_lock_delta", 0, 0, Rule::NoGraphEdge)]
            );
        }
        let level_only = Decision {
            channel_id: channel.id,
            change: PolicyChange::default(),
            reason: "test".to_owned(),
        };
        let level = guard(&lnd(), &channel, &level_only, Some(100), NOW);
        assert_eq!(
            level.policy, None,
            "an inbound level alone is no way round it"
        );

        let out = run(&GuardConfig::new(NodeKind::Cln), &channel, fee(400));
        assert_eq!(
            out.policy.map(|p| p.fee_ppm),
            Some(400),
            "Core Lightning always knows its own policy"
        );
        channel.local_policy.time_lock_delta = 18;
        let out = run(&lnd(), &channel, fee(400));
        assert_eq!(out.policy.map(|p| p.fee_ppm), Some(400));
    }

    #[test]
    fn lowering_the_outbound_fee_shrinks_an_unchanged_discount() {
        let mut channel = channel();
        channel.local_policy.fee_ppm = 1000;
        channel.local_policy.inbound_fee_ppm = -600;
        let out = run(&lnd(), &channel, fee(400));
        let policy = out.policy.expect("fee change goes through");
        assert_eq!((policy.fee_ppm, policy.inbound_fee_ppm), (400, -400));
        assert_eq!(
            out.clamps,
            vec![clamp(
                "inbound_fee_ppm",
                -600,
                -400,
                Rule::InboundNotBelowOutbound
            )]
        );
    }

    #[test]
    fn min_htlc_is_at_least_one_msat() {
        let change = PolicyChange {
            min_htlc_msat: Some(0),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &channel(), change);
        assert_eq!(out.policy.map(|p| p.min_htlc_msat), Some(1));
        assert_eq!(
            out.clamps,
            vec![clamp("min_htlc_msat", 0, 1, Rule::HtlcLimits)]
        );
    }

    /// Both clients send a largest HTLC of 0 as "keep the node's value": a requested 0 would be
    /// recorded as set while the node kept its own.
    #[test]
    fn max_htlc_is_at_least_one_msat() {
        let mut lowest = channel();
        lowest.local_policy.min_htlc_msat = 1;
        let change = PolicyChange {
            max_htlc_msat: Some(0),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &lowest, change);
        assert_eq!(out.policy.map(|p| p.max_htlc_msat), Some(1));
        assert_eq!(
            out.clamps,
            vec![clamp("max_htlc_msat", 0, 1, Rule::HtlcLimits)]
        );
    }

    /// LND refuses a smallest HTLC below the channel's negotiated one, and the fee sent with it.
    #[test]
    fn min_htlc_is_at_least_the_negotiated_minimum() {
        let negotiated = Channel {
            min_htlc_floor_msat: 1000,
            ..channel()
        };
        let change = PolicyChange {
            min_htlc_msat: Some(1),
            fee_ppm: Some(200),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &negotiated, change);
        assert_eq!(out.policy.map(|p| p.min_htlc_msat), Some(1000));
        assert_eq!(out.policy.map(|p| p.fee_ppm), Some(200));
        assert_eq!(
            out.clamps,
            vec![clamp("min_htlc_msat", 1, 1000, Rule::HtlcLimits)]
        );
        let above = PolicyChange {
            min_htlc_msat: Some(1001),
            ..change
        };
        assert_eq!(
            run(&lnd(), &negotiated, above)
                .policy
                .map(|p| p.min_htlc_msat),
            Some(1001)
        );
    }

    /// A fee change on a channel whose smallest HTLC is below the negotiated one (set before LND
    /// checked) raises it too, or LND would refuse the fee; a decision that changes nothing
    /// sends nothing for it alone.
    #[test]
    fn a_change_raises_a_current_min_htlc_below_the_negotiated_minimum() {
        let old = Channel {
            min_htlc_floor_msat: 1000,
            local_policy: FeePolicy {
                min_htlc_msat: 1,
                ..channel().local_policy
            },
            ..channel()
        };
        let fee_only = PolicyChange {
            fee_ppm: Some(200),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &old, fee_only);
        assert_eq!(out.policy.map(|p| p.min_htlc_msat), Some(1000));
        assert_eq!(out.policy.map(|p| p.fee_ppm), Some(200));
        assert_eq!(
            out.clamps,
            vec![clamp("min_htlc_msat", 1, 1000, Rule::HtlcLimits)]
        );
        let same_fee = PolicyChange {
            fee_ppm: Some(old.local_policy.fee_ppm),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &old, same_fee);
        assert_eq!(out.policy, None);
        assert_eq!(out.clamps, vec![]);
        let disable = PolicyChange {
            disabled: Some(true),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &old, disable);
        assert_eq!(
            out.policy.map(|p| (p.disabled, p.min_htlc_msat)),
            Some((true, 1)),
            "a change of the flag alone goes by a call that does not check the minimum"
        );
        let max_below_the_floor = Channel {
            local_policy: FeePolicy {
                max_htlc_msat: 999,
                ..old.local_policy
            },
            ..old
        };
        let out = run(&lnd(), &max_below_the_floor, fee_only);
        assert_eq!(out.policy.map(|p| p.min_htlc_msat), Some(1));
    }

    /// LND refuses a largest HTLC above the max in flight, and the fee sent with it; capacity
    /// bounds it where the max in flight is not known.
    #[test]
    fn max_htlc_is_at_most_the_max_in_flight_and_the_capacity() {
        let change = PolicyChange {
            max_htlc_msat: Some(u64::MAX),
            fee_ppm: Some(200),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &channel(), change);
        assert_eq!(out.policy.map(|p| p.max_htlc_msat), Some(990_000_000));
        assert_eq!(out.policy.map(|p| p.fee_ppm), Some(200));
        assert_eq!(
            out.clamps,
            vec![clamp(
                "max_htlc_msat",
                i64::MAX,
                990_000_000,
                Rule::HtlcLimits
            )]
        );
        let unknown = Channel {
            max_in_flight_msat: 0,
            ..channel()
        };
        let out = run(&lnd(), &unknown, change);
        assert_eq!(out.policy.map(|p| p.max_htlc_msat), Some(1_000_000_000));
        let reserved = Channel {
            max_htlc_ceiling_msat: 500_000_000,
            ..channel()
        };
        let out = run(&lnd(), &reserved, change);
        assert_eq!(
            out.policy.map(|p| p.max_htlc_msat),
            Some(500_000_000),
            "within the node's own ceiling (Core Lightning's capacity less our reserve)"
        );
    }

    #[test]
    fn inconsistent_htlc_limits_keep_the_current_ones() {
        let channel = channel();
        let change = PolicyChange {
            fee_ppm: Some(200),
            min_htlc_msat: Some(5000),
            max_htlc_msat: Some(4000),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &channel, change);
        let policy = out.policy.expect("the fee change still goes through");
        assert_eq!(
            (policy.min_htlc_msat, policy.max_htlc_msat),
            (1000, 990_000_000)
        );
        assert_eq!(
            out.clamps,
            vec![
                clamp("min_htlc_msat", 5000, 1000, Rule::HtlcLimits),
                clamp("max_htlc_msat", 4000, 990_000_000, Rule::HtlcLimits),
            ]
        );

        let change = PolicyChange {
            max_htlc_msat: Some(500),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &channel, change);
        assert_eq!(out.policy, None);
        assert_eq!(
            out.clamps,
            vec![clamp("max_htlc_msat", 500, 990_000_000, Rule::HtlcLimits)]
        );
    }

    #[test]
    fn time_lock_delta_is_bounded() {
        let change = PolicyChange {
            time_lock_delta: Some(6),
            ..PolicyChange::default()
        };
        let out = run(&lnd(), &channel(), change);
        assert_eq!(out.policy.map(|p| p.time_lock_delta), Some(24));
        assert_eq!(
            out.clamps,
            vec![clamp("time_lock_delta", 6, 24, Rule::Bounds)]
        );

        let change = PolicyChange {
            time_lock_delta: Some(u32::MAX),
            ..PolicyChange::default()
        };
        assert_eq!(
            run(&lnd(), &channel(), change)
                .policy
                .map(|p| p.time_lock_delta),
            Some(2016)
        );
    }

    #[test]
    fn validate_rejects_ranges_that_cannot_be_honoured() {
        assert_eq!(lnd().validate(), Ok(()));
        let inverted = |config: GuardConfig| match config.validate() {
            Err(GuardConfigError::InvertedRange { min_key, .. }) => min_key,
            other => panic!("expected an inverted range, got {other:?}"),
        };
        assert_eq!(
            inverted(GuardConfig {
                min_fee_ppm: 6000,
                ..lnd()
            }),
            "min_fee_ppm"
        );
        assert_eq!(
            inverted(GuardConfig {
                max_base_fee_msat: 0,
                min_base_fee_msat: 1,
                ..lnd()
            }),
            "min_base_fee_msat"
        );
        assert_eq!(
            inverted(GuardConfig {
                max_time_lock_delta: 10,
                ..lnd()
            }),
            "min_time_lock_delta"
        );

        let excludes_zero = |config: GuardConfig| match config.validate() {
            Err(GuardConfigError::InboundRangeExcludesZero { min_key, .. }) => min_key,
            other => panic!("expected an inbound range without 0, got {other:?}"),
        };
        assert_eq!(
            excludes_zero(GuardConfig {
                min_inbound_fee_ppm: 1,
                ..lnd()
            }),
            "min_inbound_fee_ppm"
        );
        assert_eq!(
            excludes_zero(GuardConfig {
                max_inbound_base_fee_msat: -1,
                ..lnd()
            }),
            "min_inbound_base_fee_msat"
        );
    }

    #[test]
    fn a_config_naming_only_the_node_gets_the_defaults() {
        let entries = [("node", "cln")]
            .into_iter()
            .map(|(k, v)| (k, v.into_deserializer()));
        let config = GuardConfig::deserialize(MapDeserializer::<_, ValueError>::new(entries))
            .expect("only the node is required");
        assert_eq!(config, GuardConfig::new(NodeKind::Cln));
        assert_eq!(
            (
                config.max_fee_ppm,
                config.min_inbound_fee_ppm,
                config.min_time_lock_delta
            ),
            (5000, -5000, 24)
        );
    }
}
