//! A native test harness for strategies (not built for `wasm32`).
//!
//! A strategy's logic is ordinary Rust over [`Host`], so it can be tested with `cargo test`
//! on the developer's machine instead of by loading a component into the daemon. This
//! module supplies the pieces: an in-memory [`TestHost`], a [`ChannelBuilder`] with
//! realistic defaults, a set of typical [`fixtures`], and [`run`], which calls the strategy
//! exactly as the component export does and then rejects output the host would reject.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    ChannelView, Decision, FailureCounts, FeeChange, FeePercentiles, FlowClass, FlowStats,
    FlowWindows, Host, LogLevel, NodeKind, Param, ParamDefault, ParamKind, ParamValue, Policy,
    Profitability, SharedChannels, Strategy, StrategyInfo, decide_with_defaults,
};

/// The clock [`TestHost::new`] starts at: 2026-01-01 00:00:00 UTC.
pub const DEFAULT_NOW: u64 = 1_767_225_600;

/// An in-memory [`Host`]: a settable clock, a state map, captured logs and canned answers
/// to the history queries. Every field is public so tests can arrange and inspect it.
#[derive(Debug, Clone, PartialEq)]
pub struct TestHost {
    /// What [`Host::now`] returns.
    pub now: u64,
    /// The strategy's persisted key/value state.
    pub state: BTreeMap<String, Vec<u8>>,
    /// Every line the strategy logged, in order.
    pub logs: Vec<(LogLevel, String)>,
    /// Fee changes per channel id, oldest first; [`Host::fee_history`] answers from them as
    /// the host does: the level in force at `since` and every later one, none from `now` on.
    pub fee_history: BTreeMap<u64, Vec<FeeChange>>,
    /// Competitor fee percentiles per peer public key.
    pub competitor_fees: BTreeMap<String, FeePercentiles>,
    /// On-chain fee estimates, sat/vB, per confirmation target.
    pub chain_fee_rates: BTreeMap<u32, f64>,
    /// Each channel's rebalances: when each arrived (unix seconds) and what it cost, msat.
    /// [`Host::rebalance_cost_msat`] sums those from `since` on, 0 for a channel not here
    /// (the host answers `None` only for a channel not in the call, which this host does not
    /// track).
    pub rebalances: BTreeMap<u64, Vec<(u64, u64)>>,
}

impl TestHost {
    /// An empty host whose clock reads [`DEFAULT_NOW`].
    pub fn new() -> Self {
        TestHost {
            now: DEFAULT_NOW,
            state: BTreeMap::new(),
            logs: Vec::new(),
            fee_history: BTreeMap::new(),
            competitor_fees: BTreeMap::new(),
            chain_fee_rates: BTreeMap::new(),
            rebalances: BTreeMap::new(),
        }
    }

    /// Moves the clock forward, e.g. between two simulated cycles.
    pub fn advance(&mut self, seconds: u64) {
        self.now = self.now.saturating_add(seconds);
    }
}

impl Default for TestHost {
    fn default() -> Self {
        Self::new()
    }
}

impl Host for TestHost {
    fn now(&self) -> u64 {
        self.now
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        self.logs.push((level, message.to_owned()));
    }

    fn state_get(&self, key: &str) -> Option<Vec<u8>> {
        self.state.get(key).cloned()
    }

    fn state_set(&mut self, key: &str, value: &[u8]) {
        self.state.insert(key.to_owned(), value.to_vec());
    }

    fn state_delete(&mut self, key: &str) {
        self.state.remove(key);
    }

    fn fee_history(&self, channel_id: u64, since: u64) -> Vec<FeeChange> {
        let Some(changes) = self.fee_history.get(&channel_id) else {
            return Vec::new();
        };
        if since >= self.now {
            return Vec::new();
        }
        let later = changes.partition_point(|change| change.at <= since);
        changes[later.saturating_sub(1)..]
            .iter()
            .filter(|change| change.at <= self.now)
            .copied()
            .collect()
    }

    fn competitor_fees(&self, peer_pubkey: &str) -> Option<FeePercentiles> {
        self.competitor_fees.get(peer_pubkey).copied()
    }

    fn chain_fee_rate(&self, conf_target: u32) -> Option<f64> {
        self.chain_fee_rates.get(&conf_target).copied()
    }

    fn rebalance_cost_msat(&self, channel_id: u64, since: u64) -> Option<u64> {
        let charges = self
            .rebalances
            .get(&channel_id)
            .map_or(&[][..], Vec::as_slice);
        Some(
            charges
                .iter()
                .filter(|(at, _)| *at >= since)
                .map(|(_, cost)| cost)
                .sum(),
        )
    }
}

/// A short channel id in LND's 64-bit form from its block height, transaction index and
/// output index (`block << 40 | tx << 16 | output`).
pub fn scid(block: u32, tx: u32, output: u16) -> u64 {
    (u64::from(block) << 40) | (u64::from(tx & 0xff_ffff) << 16) | u64::from(output)
}

/// The policy LND-like nodes start with in these tests: 1 sat base, 100 ppm, CLTV delta 40,
/// HTLCs from 1 sat up to 99% of `capacity_sat`, no inbound fee, enabled.
pub fn default_policy(capacity_sat: u64) -> Policy {
    Policy {
        base_fee_msat: 1_000,
        fee_ppm: 100,
        inbound_base_fee_msat: 0,
        inbound_fee_ppm: 0,
        min_htlc_msat: 1_000,
        max_htlc_msat: capacity_sat.saturating_mul(990),
        time_lock_delta: 40,
        disabled: false,
    }
}

/// How a [`ChannelBuilder`] splits the capacity between the two sides.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Split {
    Ratio(f64),
    Sats { local: u64, remote: u64 },
}

/// Flow statistics of a window without any forwards or failures.
pub fn no_flow() -> FlowStats {
    FlowStats {
        sats_in: 0,
        sats_out: 0,
        htlcs_in: 0,
        htlcs_out: 0,
        fees_earned_msat: 0,
        failures: FailureCounts {
            insufficient_balance: 0,
            fee_insufficient: 0,
            incorrect_cltv: 0,
            channel_unavailable: 0,
            other: 0,
        },
    }
}

/// Builds a [`ChannelView`] from sensible defaults: 1,000,000 sat capacity, half of it on
/// our side, active, public, opened by us, about five months old, reserves of 1% each,
/// [`default_policy`] on both sides, no flow history.
///
/// ```
/// use lnpolicy_sdk::testing::ChannelBuilder;
/// let drained = ChannelBuilder::new(7).capacity_sat(2_000_000).local_ratio(0.1).build();
/// assert_eq!(drained.local_balance_sat, 200_000);
/// assert_eq!(drained.remote_balance_sat, 1_800_000);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use = "finish the channel with .build()"]
pub struct ChannelBuilder {
    view: ChannelView,
    split: Split,
    explicit_policy: bool,
    explicit_shared: bool,
}

impl ChannelBuilder {
    /// Starts a channel with the given id; its peer key and funding outpoint are derived
    /// from the id, so different ids give different peers.
    pub fn new(channel_id: u64) -> Self {
        let capacity_sat = 1_000_000;
        ChannelBuilder {
            view: ChannelView {
                node: NodeKind::Lnd,
                channel_id,
                peer_pubkey: format!("02{channel_id:064x}"),
                capacity_sat,
                local_balance_sat: 0,
                remote_balance_sat: 0,
                local_reserve_sat: 0,
                remote_reserve_sat: 0,
                pending_htlcs: 0,
                pending_in_sat: 0,
                pending_out_sat: 0,
                commit_fee_sat: 0,
                max_accepted_htlcs: 483,
                active: true,
                private: false,
                initiator: true,
                age_blocks: 20_000,
                open_cost_sat: None,
                shared: SharedChannels {
                    active_channels: 0,
                    active_local_sat: 0,
                    active_remote_sat: 0,
                    inactive_channels: 0,
                    inactive_local_sat: 0,
                    inactive_remote_sat: 0,
                },
                local_policy: default_policy(capacity_sat),
                peer_policy: Some(default_policy(capacity_sat)),
                flow: FlowWindows {
                    day: no_flow(),
                    week: no_flow(),
                    month: no_flow(),
                },
                history_secs: 30 * 86_400,
                flow_class: FlowClass::Unknown,
                profitability: Profitability::Unknown,
                revenue_rate_msat_per_hour: 0.0,
                last_fee_change: None,
            },
            split: Split::Ratio(0.5),
            explicit_policy: false,
            explicit_shared: false,
        }
    }

    /// What opening the channel cost on chain (`None`: the peer opened it, or unknown).
    pub fn open_cost_sat(mut self, cost: Option<u64>) -> Self {
        self.view.open_cost_sat = cost;
        self
    }

    /// Commitment fee held back from the opener's side.
    pub fn commit_fee_sat(mut self, fee: u64) -> Self {
        self.view.commit_fee_sat = fee;
        self
    }

    /// In-flight HTLC amounts: offered by the peer (`incoming`) and by us (`outgoing`).
    pub fn pending_sat(mut self, incoming: u64, outgoing: u64) -> Self {
        self.view.pending_in_sat = incoming;
        self.view.pending_out_sat = outgoing;
        self
    }

    /// All channels with this peer; by default only this one.
    pub fn shared(mut self, shared: SharedChannels) -> Self {
        self.view.shared = shared;
        self.explicit_shared = true;
        self
    }

    /// Channel capacity; balances, reserves and the default max HTLC follow it.
    pub fn capacity_sat(mut self, capacity_sat: u64) -> Self {
        self.view.capacity_sat = capacity_sat;
        self
    }

    /// Puts this fraction (clamped to `0.0..=1.0`) of the capacity on our side, the rest
    /// on the peer's.
    pub fn local_ratio(mut self, ratio: f64) -> Self {
        self.split = Split::Ratio(ratio);
        self
    }

    /// Sets both balances exactly, whatever the capacity.
    pub fn balances_sat(mut self, local: u64, remote: u64) -> Self {
        self.split = Split::Sats { local, remote };
        self
    }

    /// The node kind (LND by default); inbound fees exist only on LND.
    pub fn node(mut self, node: NodeKind) -> Self {
        self.view.node = node;
        self
    }

    /// Whether the peer is connected and the channel usable.
    pub fn active(mut self, active: bool) -> Self {
        self.view.active = active;
        self
    }

    /// Whether the channel is unannounced.
    pub fn private(mut self, private: bool) -> Self {
        self.view.private = private;
        self
    }

    /// Whether we opened the channel.
    pub fn initiator(mut self, initiator: bool) -> Self {
        self.view.initiator = initiator;
        self
    }

    /// Blocks since the funding transaction confirmed.
    pub fn age_blocks(mut self, blocks: u32) -> Self {
        self.view.age_blocks = blocks;
        self
    }

    /// HTLCs in flight right now.
    pub fn pending_htlcs(mut self, pending: u32) -> Self {
        self.view.pending_htlcs = pending;
        self
    }

    /// The peer's node public key, hex.
    pub fn peer_pubkey(mut self, pubkey: &str) -> Self {
        self.view.peer_pubkey = pubkey.to_owned();
        self
    }

    /// Our current outbound fee rate, ppm.
    pub fn fee_ppm(mut self, ppm: u32) -> Self {
        self.view.local_policy.fee_ppm = ppm;
        self
    }

    /// Our current outbound base fee, millisatoshi.
    pub fn base_fee_msat(mut self, msat: u32) -> Self {
        self.view.local_policy.base_fee_msat = msat;
        self
    }

    /// Our current inbound fee rate, ppm (negative is a discount).
    pub fn inbound_fee_ppm(mut self, ppm: i32) -> Self {
        self.view.local_policy.inbound_fee_ppm = ppm;
        self
    }

    /// Our current inbound base fee, millisatoshi (negative is a discount).
    pub fn inbound_base_fee_msat(mut self, msat: i32) -> Self {
        self.view.local_policy.inbound_base_fee_msat = msat;
        self
    }

    /// Replaces our whole current policy (its max HTLC then no longer follows the capacity).
    pub fn local_policy(mut self, policy: Policy) -> Self {
        self.view.local_policy = policy;
        self.explicit_policy = true;
        self
    }

    /// The peer's policy toward us, or `None` when gossip has not told us.
    pub fn peer_policy(mut self, policy: Option<Policy>) -> Self {
        self.view.peer_policy = policy;
        self
    }

    /// Sets the flow statistics of the last day, week and 30 days.
    pub fn flow(mut self, windows: FlowWindows) -> Self {
        self.view.flow = windows;
        self
    }

    /// Days of forwarding history behind the flow windows (30 unless set).
    pub fn history_days(mut self, days: f64) -> Self {
        self.view.history_secs = (days * 86_400.0).round() as u64;
        self
    }

    /// Net flow classification.
    pub fn flow_class(mut self, class: FlowClass) -> Self {
        self.view.flow_class = class;
        self
    }

    /// Profitability classification.
    pub fn profitability(mut self, profitability: Profitability) -> Self {
        self.view.profitability = profitability;
        self
    }

    /// Fees earned per hour since the last fee change, millisatoshi.
    pub fn revenue_rate_msat_per_hour(mut self, rate: f64) -> Self {
        self.view.revenue_rate_msat_per_hour = rate;
        self
    }

    /// Unix time of our last policy change.
    pub fn last_fee_change(mut self, at: u64) -> Self {
        self.view.last_fee_change = Some(at);
        self
    }

    /// The finished view.
    pub fn build(self) -> ChannelView {
        let mut view = self.view;
        let capacity = view.capacity_sat;
        let (local, remote) = match self.split {
            Split::Ratio(ratio) => {
                let ratio = if ratio.is_nan() {
                    0.5
                } else {
                    ratio.clamp(0.0, 1.0)
                };
                let local = ((capacity as f64) * ratio).round() as u64;
                (local, capacity - local.min(capacity))
            }
            Split::Sats { local, remote } => (local, remote),
        };
        view.local_balance_sat = local;
        view.remote_balance_sat = remote;
        view.local_reserve_sat = capacity / 100;
        view.remote_reserve_sat = capacity / 100;
        if !self.explicit_policy {
            view.local_policy.max_htlc_msat = capacity.saturating_mul(990);
        }
        if let Some(peer) = view.peer_policy.as_mut() {
            peer.max_htlc_msat = capacity.saturating_mul(990);
        }
        if !self.explicit_shared {
            let (active, inactive) = if view.active { (1, 0) } else { (0, 1) };
            let (own_local, own_remote) = (local, remote);
            view.shared = SharedChannels {
                active_channels: active,
                active_local_sat: own_local * u64::from(active),
                active_remote_sat: own_remote * u64::from(active),
                inactive_channels: inactive,
                inactive_local_sat: own_local * u64::from(inactive),
                inactive_remote_sat: own_remote * u64::from(inactive),
            };
        }
        view
    }
}

/// A handful of typical channels, with distinct ids, in this order:
///
/// 1. balanced: 1 M sat, 50% local;
/// 2. drained: 2 M sat, 5% local, a liquidity source;
/// 3. full: 1 M sat, 95% local, a liquidity sink;
/// 4. inactive: 1 M sat, 50% local, peer offline;
/// 5. private and small: 100 k sat, 30% local, opened by the peer;
/// 6. with an inbound discount: 5 M sat, 70% local, 300 ppm out, −50 ppm in.
pub fn fixtures() -> Vec<ChannelView> {
    vec![
        ChannelBuilder::new(scid(800_000, 1, 0)).build(),
        ChannelBuilder::new(scid(800_100, 2, 1))
            .capacity_sat(2_000_000)
            .local_ratio(0.05)
            .flow_class(FlowClass::Source)
            .build(),
        ChannelBuilder::new(scid(800_200, 3, 0))
            .local_ratio(0.95)
            .flow_class(FlowClass::Sink)
            .build(),
        ChannelBuilder::new(scid(800_300, 4, 0))
            .active(false)
            .build(),
        ChannelBuilder::new(scid(800_400, 5, 0))
            .capacity_sat(100_000)
            .local_ratio(0.3)
            .private(true)
            .initiator(false)
            .build(),
        ChannelBuilder::new(scid(800_500, 6, 0))
            .capacity_sat(5_000_000)
            .local_ratio(0.7)
            .fee_ppm(300)
            .inbound_fee_ppm(-50)
            .build(),
    ]
}

/// Runs a strategy on a batch the way the host does, and checks the result the way the
/// host does.
///
/// Before the call it checks [`Strategy::info`] as the host does when loading a component
/// (plus the consistency of each parameter's default and bounds). It then fills in
/// parameter defaults exactly as the component export does and calls
/// [`Strategy::decide`]. On success it requires exactly one decision per channel of the
/// batch: a decision for a channel not in the batch, two for the same channel, or none for
/// some channel is an `Err` describing the violation (the host would refuse the whole
/// batch). A strategy's own `Err` is passed through unchanged.
pub fn run<S: Strategy>(
    host: &mut dyn Host,
    params: &[Param],
    channels: &[ChannelView],
) -> Result<Vec<Decision>, String> {
    check_info(&S::info()).map_err(|err| format!("the host would refuse info(): {err}"))?;
    let decisions = decide_with_defaults::<S>(host, params.to_vec(), channels)?;
    check_batch(channels, &decisions)
        .map_err(|err| format!("the host would refuse the batch: {err}"))?;
    Ok(decisions)
}

fn check_batch(channels: &[ChannelView], decisions: &[Decision]) -> Result<(), String> {
    let batch: BTreeSet<u64> = channels.iter().map(|c| c.channel_id).collect();
    let mut decided = BTreeSet::new();
    for decision in decisions {
        let id = decision.channel_id;
        if !batch.contains(&id) {
            return Err(format!(
                "decision for channel {id}, which is not in the batch"
            ));
        }
        if !decided.insert(id) {
            return Err(format!("channel {id} decided twice"));
        }
    }
    let missing: Vec<String> = batch
        .difference(&decided)
        .map(|id| id.to_string())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("no decision for channel {}", missing.join(", ")))
    }
}

/// The host's limits on `info()` (host/runtime/src/strategy.rs), mirrored so that a guest's
/// own tests fail where the host would refuse it.
const MAX_DESCRIPTION_BYTES: usize = 4096;
const MAX_PARAMS: usize = 128;

fn check_info(info: &StrategyInfo) -> Result<(), String> {
    let valid_name = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    if !valid_name(&info.name) {
        return Err(format!(
            "name {:?} must be 1-64 characters of a-z, 0-9, _ or -",
            info.name
        ));
    }
    if info.version.is_empty() || info.version.len() > 64 {
        return Err("version must be 1-64 characters".into());
    }
    if info.description.len() > MAX_DESCRIPTION_BYTES {
        return Err(format!(
            "description is over the host's {MAX_DESCRIPTION_BYTES}-byte limit"
        ));
    }
    if info.params.len() > MAX_PARAMS {
        return Err(format!(
            "{} parameters, over the host's limit of {MAX_PARAMS}",
            info.params.len()
        ));
    }
    let mut seen = BTreeSet::new();
    for spec in &info.params {
        let name = &spec.name;
        if !valid_name(name) {
            return Err(format!(
                "parameter name {name:?} must be 1-64 characters of a-z, 0-9, _ or -"
            ));
        }
        if !seen.insert(name.as_str()) {
            return Err(format!("parameter {name} declared twice"));
        }
        let numeric = matches!(
            spec.kind,
            ParamKind::Integer | ParamKind::Float | ParamKind::ConfTarget
        );
        if spec.description.len() > MAX_DESCRIPTION_BYTES {
            return Err(format!(
                "parameter {name} has a description over the host's {MAX_DESCRIPTION_BYTES}-byte limit"
            ));
        }
        if !numeric && (spec.min.is_some() || spec.max.is_some()) {
            return Err(format!("parameter {name} has bounds but is not a number"));
        }
        if spec.min.is_some_and(f64::is_nan) || spec.max.is_some_and(f64::is_nan) {
            return Err(format!("parameter {name} has a bound that is not a number"));
        }
        if let (Some(min), Some(max)) = (spec.min, spec.max)
            && min > max
        {
            return Err(format!("parameter {name} has min {min} above max {max}"));
        }
        let value = match &spec.default {
            ParamDefault::Required | ParamDefault::Optional => continue,
            ParamDefault::Value(value) => value,
        };
        let default = match (&spec.kind, value) {
            (ParamKind::ConfTarget, ParamValue::Integer(v)) if u32::try_from(*v).is_err() => {
                return Err(format!(
                    "parameter {name} has its default {v}, not a number of blocks"
                ));
            }
            (ParamKind::Integer | ParamKind::ConfTarget, ParamValue::Integer(v)) => *v as f64,
            (ParamKind::Float, ParamValue::Integer(v)) => *v as f64,
            (ParamKind::Float, ParamValue::Float(v)) if v.is_finite() => *v,
            (ParamKind::Boolean, ParamValue::Boolean(_))
            | (ParamKind::Text, ParamValue::Text(_)) => continue,
            (kind, value) => {
                return Err(format!(
                    "parameter {name} is {kind:?} but its default is {value:?}"
                ));
            }
        };
        if spec.min.is_some_and(|min| default < min) || spec.max.is_some_and(|max| default > max) {
            return Err(format!(
                "parameter {name} has its default {default} out of bounds"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParamSpec, Params, Runway, local_ratio, runway_days};

    /// A 1,000,000 sat channel at even balance whose last 30 days sent `out` and received
    /// `inn` sat, over `days` of history.
    fn month_flow(out: u64, inn: u64, days: f64) -> ChannelView {
        let mut windows = FlowWindows {
            day: no_flow(),
            week: no_flow(),
            month: no_flow(),
        };
        windows.month.sats_out = out;
        windows.month.sats_in = inn;
        ChannelBuilder::new(1)
            .flow(windows)
            .history_days(days)
            .build()
    }

    #[test]
    fn runway_is_half_the_capacity_over_net_daily_outflow() {
        // net 25,000 sat a day against half of 1,000,000 sat: 20 days
        let draining = month_flow(30 * 30_000, 30 * 5_000, 30.0);
        assert_eq!(runway_days(&draining), Some(20.0));
        let rule = |target_days| Runway {
            target_days,
            max_factor: 3.0,
        };
        assert_eq!(rule(30.0).factor(&draining), 1.5);
        assert_eq!(rule(10.0).factor(&draining), 1.0, "runway beyond target");
        assert_eq!(rule(0.0).factor(&draining), 1.0, "switched off");
        assert_eq!(rule(200.0).factor(&draining), 3.0, "capped");
        // filling, or no flow at all: not draining
        assert_eq!(runway_days(&month_flow(1_000, 2_000, 30.0)), None);
        assert_eq!(runway_days(&month_flow(0, 0, 30.0)), None);
        assert_eq!(rule(30.0).factor(&month_flow(0, 0, 30.0)), 1.0);
        // the balance left is the balance curve's to price, not the runway's: a nearly
        // empty channel with the same flow has the same runway
        let empty = ChannelBuilder::new(2)
            .balances_sat(5_000, 995_000)
            .flow(draining.flow)
            .build();
        assert_eq!(runway_days(&empty), Some(20.0));
        assert_eq!(rule(30.0).factor(&empty), 1.5);
        // a fast drain: the factor is at its cap, not unbounded
        assert_eq!(rule(30.0).factor(&month_flow(30 * 1_000_000, 0, 30.0)), 3.0);
        // the parameters read back as declared
        let specs = Runway::params(45.0);
        let read = Runway::read(&Params::new(vec![], &specs)).unwrap();
        assert_eq!(read, rule(45.0));
    }

    #[test]
    fn runway_spreads_the_month_over_the_history_behind_it() {
        let runway = |days| runway_days(&month_flow(250_000, 0, days)).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // 250,000 sat net out: over 10 days of history 25,000 a day, 20 days of runway
        assert!(close(runway(10.0), 20.0));
        // the same flow over a full month is a slower drain
        assert!(close(runway(30.0), 60.0));
        // more than 30 days of history still means a 30-day window
        assert!(close(runway(400.0), 60.0));
        // an hour of history counts as a day, so one payment is not a drain's daily rate
        assert!(close(runway(0.04), 2.0));
    }

    /// Sets every channel to the `fee_ppm` parameter and logs once.
    struct Flat;

    impl Strategy for Flat {
        fn info() -> StrategyInfo {
            StrategyInfo {
                name: "flat".into(),
                version: "0.1.0".into(),
                description: "Same fee everywhere.".into(),
                params: vec![ParamSpec::integer("fee_ppm", "Fee.", 123).range(0.0, 1000.0)],
            }
        }

        fn decide(
            host: &mut dyn Host,
            params: &Params,
            channels: &[ChannelView],
        ) -> Result<Vec<Decision>, String> {
            let fee = params.u32("fee_ppm")?;
            host.log(LogLevel::Info, "deciding");
            Ok(channels
                .iter()
                .map(|c| Decision::set(c.channel_id).fee_ppm(fee).reason("flat"))
                .collect())
        }
    }

    /// Returns whatever the `mode` parameter asks for, to exercise the batch checks.
    struct Broken;

    impl Strategy for Broken {
        fn info() -> StrategyInfo {
            StrategyInfo {
                name: "broken".into(),
                version: "0.0.1".into(),
                description: "Wrong on purpose.".into(),
                params: vec![ParamSpec::text("mode", "What to get wrong.", "missing")],
            }
        }

        fn decide(
            _host: &mut dyn Host,
            params: &Params,
            channels: &[ChannelView],
        ) -> Result<Vec<Decision>, String> {
            let mut out: Vec<Decision> = channels
                .iter()
                .map(|c| Decision::unchanged(c.channel_id, "x"))
                .collect();
            match params.text("mode")? {
                "missing" => {
                    out.pop();
                }
                "duplicate" => out.push(out[0].clone()),
                "unknown" => out.push(Decision::unchanged(99, "x")),
                other => return Err(format!("mode {other} failed")),
            }
            Ok(out)
        }
    }

    #[test]
    fn run_fills_defaults_and_passes_the_host() {
        let mut host = TestHost::new();
        let decisions = run::<Flat>(&mut host, &[], &fixtures()).unwrap();
        assert_eq!(decisions.len(), 6);
        assert!(decisions.iter().all(|d| d.fee_ppm == Some(123)));
        assert_eq!(host.logs, vec![(LogLevel::Info, "deciding".to_owned())]);

        let passed = [Param::new("fee_ppm", 7)];
        let decisions = run::<Flat>(&mut host, &passed, &fixtures()).unwrap();
        assert!(decisions.iter().all(|d| d.fee_ppm == Some(7)));
    }

    #[test]
    fn run_passes_parameter_errors_through() {
        let passed = [Param::new("fee_ppm", 5000)];
        let err = run::<Flat>(&mut TestHost::new(), &passed, &fixtures()).unwrap_err();
        assert_eq!(err, "parameter `fee_ppm`: 5000 is above the maximum 1000");
    }

    #[test]
    fn run_rejects_what_the_host_rejects() {
        let channels = fixtures();
        let mode = |m: &str| [Param::new("mode", m)];
        let missing = run::<Broken>(&mut TestHost::new(), &[], &channels).unwrap_err();
        assert_eq!(
            missing,
            format!(
                "the host would refuse the batch: no decision for channel {}",
                channels[5].channel_id
            )
        );
        let twice = run::<Broken>(&mut TestHost::new(), &mode("duplicate"), &channels);
        assert!(twice.unwrap_err().contains("decided twice"));
        let unknown = run::<Broken>(&mut TestHost::new(), &mode("unknown"), &channels);
        assert!(
            unknown
                .unwrap_err()
                .contains("channel 99, which is not in the batch")
        );
        let own = run::<Broken>(&mut TestHost::new(), &mode("boom"), &channels);
        assert_eq!(own, Err("mode boom failed".into()));
    }

    #[test]
    fn check_info_catches_what_the_host_and_config_would() {
        let base = Flat::info();
        assert_eq!(check_info(&base), Ok(()));
        let with = |edit: fn(&mut StrategyInfo)| {
            let mut info = base.clone();
            edit(&mut info);
            check_info(&info).unwrap_err()
        };
        assert!(with(|i| i.name = "Flat".into()).contains("name"));
        assert!(with(|i| i.version.clear()).contains("version"));
        assert!(with(|i| i.params.push(i.params[0].clone())).contains("declared twice"));
        assert!(with(|i| i.params[0].name = "fee ppm".into()).contains("parameter name"));
        assert!(
            with(|i| i.params[0].default = ParamDefault::Value(ParamValue::Float(1.0)))
                .contains("default")
        );
        assert!(
            with(|i| i.params[0].default = ParamDefault::Value(ParamValue::Integer(5000)))
                .contains("out of bounds")
        );
        assert!(with(|i| i.params[0].min = Some(2000.0)).contains("above max"));
        assert!(with(|i| i.params[0].kind = ParamKind::Boolean).contains("not a number"));
        assert!(with(|i| i.params[0].min = Some(f64::NAN)).contains("not a number"));
        assert!(with(|i| i.description = "x".repeat(5000)).contains("4096-byte"));
        assert!(
            with(|i| i.params = (0..200)
                .map(|n| ParamSpec {
                    name: format!("p{n}"),
                    ..i.params[0].clone()
                })
                .collect())
            .contains("200 parameters")
        );
    }

    #[test]
    fn test_host_answers_from_memory() {
        let mut host = TestHost::new();
        assert_eq!(host.now(), DEFAULT_NOW);
        host.advance(3600);
        assert_eq!(host.now(), DEFAULT_NOW + 3600);

        host.state_set("k", b"v");
        assert_eq!(host.state_get("k"), Some(b"v".to_vec()));
        host.state_delete("k");
        assert_eq!(host.state_get("k"), None);

        let change = |at| FeeChange {
            at,
            fee_ppm: 100,
            base_fee_msat: 1000,
            inbound_fee_ppm: 0,
            revenue_msat: 0,
            hours: 1.0,
        };
        host.fee_history
            .insert(1, vec![change(10), change(20), change(30)]);
        let ats = |host: &TestHost, since| -> Vec<u64> {
            host.fee_history(1, since).iter().map(|c| c.at).collect()
        };
        assert_eq!(ats(&host, 20), vec![20, 30]);
        assert_eq!(
            ats(&host, 25),
            vec![20, 30],
            "the level in force at `since` first"
        );
        assert_eq!(ats(&host, 5), vec![10, 20, 30]);
        assert!(ats(&host, host.now).is_empty());
        host.now = 25;
        assert_eq!(ats(&host, 5), vec![10, 20], "none after now");
        assert!(host.fee_history(2, 0).is_empty());

        let fees = FeePercentiles {
            channels: 12,
            p25_ppm: 1,
            p50_ppm: 100,
            p75_ppm: 569,
            p90_ppm: 2000,
        };
        host.competitor_fees.insert("02ab".into(), fees);
        assert_eq!(host.competitor_fees("02ab"), Some(fees));
        assert_eq!(host.competitor_fees("03cd"), None);
    }

    #[test]
    fn channel_builder_defaults_are_sensible() {
        let c = ChannelBuilder::new(42).build();
        assert_eq!(c.capacity_sat, 1_000_000);
        assert_eq!(
            (c.local_balance_sat, c.remote_balance_sat),
            (500_000, 500_000)
        );
        assert_eq!(
            (c.local_reserve_sat, c.remote_reserve_sat),
            (10_000, 10_000)
        );
        assert!(c.active && !c.private && c.initiator);
        assert_eq!(c.local_policy.base_fee_msat, 1_000);
        assert_eq!(c.local_policy.fee_ppm, 100);
        assert_eq!(c.local_policy.time_lock_delta, 40);
        assert_eq!(c.local_policy.max_htlc_msat, 990_000_000);
        assert_eq!(c.peer_pubkey.len(), 66);
        assert_ne!(c.peer_pubkey, ChannelBuilder::new(43).build().peer_pubkey);
    }

    #[test]
    fn channel_builder_splits_and_follows_capacity() {
        let c = ChannelBuilder::new(1)
            .local_ratio(0.25)
            .capacity_sat(400_000)
            .build();
        assert_eq!(
            (c.local_balance_sat, c.remote_balance_sat),
            (100_000, 300_000)
        );
        assert_eq!(c.local_policy.max_htlc_msat, 396_000_000);
        let c = ChannelBuilder::new(1).local_ratio(7.0).build();
        assert_eq!((c.local_balance_sat, c.remote_balance_sat), (1_000_000, 0));
        let c = ChannelBuilder::new(1).balances_sat(0, 0).build();
        assert_eq!(local_ratio(&c), 0.5);
        let policy = Policy {
            max_htlc_msat: 5,
            ..default_policy(1)
        };
        let c = ChannelBuilder::new(1).local_policy(policy).build();
        assert_eq!(c.local_policy, policy);
    }

    #[test]
    fn fixtures_cover_the_typical_shapes() {
        let f = fixtures();
        let ids: BTreeSet<u64> = f.iter().map(|c| c.channel_id).collect();
        assert_eq!(ids.len(), f.len());
        let ratios: Vec<f64> = f.iter().map(local_ratio).collect();
        assert_eq!(ratios, vec![0.5, 0.05, 0.95, 0.5, 0.3, 0.7]);
        assert!(!f[3].active);
        assert!(f[4].private);
        assert_eq!(f[5].local_policy.inbound_fee_ppm, -50);
    }

    #[test]
    fn scid_packs_block_tx_and_output() {
        assert_eq!(scid(800_000, 1, 2), (800_000 << 40) | (1 << 16) | 2);
    }
}
