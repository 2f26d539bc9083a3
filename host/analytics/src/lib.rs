//! Analytics: what a strategy knows about a channel beyond the node's own
//! answer — flow per window, the SOURCE / SINK / BALANCED / CONGESTED class,
//! revenue rate since the last fee change — computed from the daemon's copy
//! of the history, so it survives the node purging its logs.

use std::collections::HashMap;

use lnpolicy_core::{
    Channel, ChannelId, FailureCount, FlowClass, FlowStats, NodeChannel, NodeInfo, NodeKind,
    Profitability, SharedChannels, Window,
};
use lnpolicy_store::{AppliedChange, FlowTotals, SeenFeeChange, Store, StoreError};

const NS: u64 = 1_000_000_000;
/// Bitcoin's target block interval, for a channel's age in seconds from its age in blocks.
const SECS_PER_BLOCK: u64 = 600;

/// Thresholds of the classifications.
#[derive(Debug, Clone)]
pub struct AnalyticsConfig {
    /// |out − in| / capacity over the week above which a channel is a SOURCE
    /// (net outflow) or a SINK (net inflow); 0.5 as cl-revenue-ops uses.
    pub flow_class_threshold: f64,
    /// Share of HTLC slots in use above which a channel is CONGESTED.
    pub congestion_share: f64,
    /// Age in days after which a channel without a forward for a month is a ZOMBIE.
    pub zombie_after_days: u64,
    /// What opening a channel costs when the node does not say (its funding transaction is
    /// not in the wallet): charged to channels we opened.
    pub estimated_open_cost_sat: u64,
    /// ROI (earned − cost) / cost at or above which a channel is PROFITABLE, and below whose
    /// negative a channel is UNDERWATER; in between it is BREAK_EVEN.
    pub break_even_band: f64,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            flow_class_threshold: 0.5,
            congestion_share: 0.5,
            zombie_after_days: 30,
            estimated_open_cost_sat: 2_000,
            break_even_band: 0.1,
        }
    }
}

/// One window's totals and failure counts, per channel.
type WindowData = (
    Window,
    HashMap<ChannelId, FlowTotals>,
    HashMap<ChannelId, Vec<FailureCount>>,
);

/// Builds the views for one decision cycle at unix time `now`.
pub fn channel_views(
    store: &Store,
    node: &NodeInfo,
    channels: &[NodeChannel],
    now: u64,
    config: &AnalyticsConfig,
) -> Result<Vec<Channel>, StoreError> {
    let now_ns = now.saturating_mul(NS);
    let mut windows: Vec<WindowData> = Vec::new();
    for window in Window::ALL {
        let from_ns = now_ns.saturating_sub(window.seconds() * NS);
        let totals = store.flow_totals(from_ns, now_ns)?;
        let mut failures: HashMap<ChannelId, Vec<FailureCount>> = HashMap::new();
        for (channel, reason, count) in store.failure_counts(from_ns, now_ns)? {
            failures
                .entry(channel)
                .or_default()
                .push(FailureCount { reason, count });
        }
        windows.push((window, totals, failures));
    }
    let ids: Vec<ChannelId> = channels.iter().map(|c| c.id).collect();
    let ours: HashMap<ChannelId, AppliedChange> = store
        .last_applied_changes(&ids)?
        .into_iter()
        .map(|change| (change.channel_id, change))
        .collect();
    let seen = store.last_seen_fee_changes(&ids)?;
    let last_policy_changes = store.last_policy_changes(&ids)?;
    let open_costs = store.open_costs()?;
    let learned_floors = store.learned_htlc_floors()?;
    let history_start = store.history_start()?.unwrap_or(now);
    // Over the span the earnings are read over: a forwarding log purged before lnpolicy read
    // it must not leave older rebalances weighed against younger earnings.
    let rebalance_costs = store.rebalance_costs(history_start)?;
    let aliased: Vec<ChannelId> = channels
        .iter()
        .filter(|c| funding_block(c.id) > node.block_height)
        .map(|c| c.id)
        .collect();
    let first_seen = store.first_seen(&aliased)?;
    channels
        .iter()
        .map(|c| {
            let flow: Vec<FlowStats> = windows
                .iter()
                .map(|(window, totals, failures)| {
                    let t = totals.get(&c.id).copied().unwrap_or_default();
                    FlowStats {
                        window: *window,
                        sats_in: t.msat_in / 1000,
                        sats_out: t.msat_out / 1000,
                        htlcs_in: t.htlcs_in,
                        htlcs_out: t.htlcs_out,
                        fees_earned_msat: t.fees_msat,
                        failures: failures.get(&c.id).cloned().unwrap_or_default(),
                    }
                })
                .collect();
            let (age_blocks, opened_at) =
                age(c.id, node.block_height, first_seen.get(&c.id).copied(), now);
            let last_fee_change = fees_since(c, ours.get(&c.id), seen.get(&c.id).copied());
            let history_secs = now.saturating_sub(history_start.max(opened_at));
            let revenue_rate = revenue_rate(store, c.id, last_fee_change, history_secs, now)?;
            let costs = ChannelCosts {
                open_sat: match (c.initiator, open_costs.get(&c.id)) {
                    (false, _) => 0,
                    (true, Some(&known)) => known,
                    (true, None) => config.estimated_open_cost_sat,
                },
                rebalance_msat: rebalance_costs.get(&c.id).copied().unwrap_or(0),
                earned_msat: u64::try_from(store.fees_earned(c.id, 0, now_ns)?).unwrap_or(0),
            };
            Ok(Channel {
                node: node.kind,
                id: c.id,
                channel_point: c.channel_point.clone(),
                peer_pubkey: c.peer_pubkey.clone(),
                capacity_sat: c.capacity_sat,
                local_balance_sat: c.local_balance_sat,
                remote_balance_sat: c.remote_balance_sat,
                local_reserve_sat: c.local_reserve_sat,
                remote_reserve_sat: c.remote_reserve_sat,
                pending_htlcs: u32::try_from(c.pending_htlcs.len()).unwrap_or(u32::MAX),
                pending_in_sat: c.pending_sat(true),
                pending_out_sat: c.pending_sat(false),
                commit_fee_sat: c.commit_fee_sat,
                max_accepted_htlcs: c.max_accepted_htlcs,
                max_in_flight_msat: c.max_in_flight_msat,
                // The CLN client reports the policy's own minimum there, not a negotiated one.
                min_htlc_floor_msat: match node.kind {
                    NodeKind::Lnd => c.min_htlc_msat,
                    NodeKind::Cln => 0,
                }
                .max(learned_floors.get(&c.id).copied().unwrap_or(0)),
                // What Core Lightning lowers a larger `htlcmax` to: the capacity less the
                // reserve the peer has us keep (the max in flight bounds it as well).
                max_htlc_ceiling_msat: match node.kind {
                    NodeKind::Lnd => 0,
                    NodeKind::Cln => c
                        .capacity_sat
                        .saturating_sub(c.local_reserve_sat)
                        .saturating_mul(1000),
                },
                active: c.active,
                private: c.private,
                initiator: c.initiator,
                age_blocks,
                open_cost_sat: if c.initiator {
                    open_costs.get(&c.id).copied()
                } else {
                    None
                },
                rebalance_cost_msat: costs.rebalance_msat,
                shared: SharedChannels::sum(
                    channels
                        .iter()
                        .filter(|other| other.peer_pubkey == c.peer_pubkey)
                        .map(|other| {
                            (
                                other.active,
                                other.local_balance_sat,
                                other.remote_balance_sat,
                            )
                        }),
                ),
                local_policy: c.local_policy,
                peer_policy: c.peer_policy,
                flow_class: flow_class(c, &flow, config),
                profitability: profitability(&flow, age_blocks, history_secs, &costs, config),
                flow,
                history_secs,
                revenue_rate_msat_per_hour: revenue_rate,
                last_fee_change,
                last_policy_change: last_policy_changes.get(&c.id).copied(),
            })
        })
        .collect()
}

/// When the channel's current fees began: lnpolicy's last fee change, unless the fees are no
/// longer the ones it set (changed since by hand or by another tool) or were set back to them
/// after such a change, then when the snapshots saw them change; for a channel lnpolicy never
/// changed, when the snapshots saw its fees change, if they did. The revenue rate is measured from there, and the guard's minimum
/// interval counts from there.
fn fees_since(
    channel: &NodeChannel,
    ours: Option<&AppliedChange>,
    seen: Option<SeenFeeChange>,
) -> Option<u64> {
    match (ours, seen) {
        // Set back to lnpolicy's fees after someone changed them, and a collection saw it:
        // what was earned before that was earned at the other fees.
        (Some(change), Some(seen))
            if channel.local_policy.same_fees(&change.applied)
                && seen.at > change.at
                && seen.to_fees_of(&channel.local_policy) =>
        {
            Some(seen.at)
        }
        (Some(change), _) if channel.local_policy.same_fees(&change.applied) => Some(change.at),
        (Some(change), seen) => Some(seen.map_or(change.at, |seen| seen.at.max(change.at))),
        (None, seen) => seen.map(|seen| seen.at),
    }
}

fn week(flow: &[FlowStats]) -> Option<&FlowStats> {
    flow.iter().find(|f| f.window == Window::Week)
}

/// SOURCE when liquidity leaves through the channel faster than it comes
/// back (net outflow over half the capacity in a week), SINK the reverse.
/// CONGESTED first, when the HTLCs in flight in one direction fill more than
/// `congestion_share` of the slots: each direction has its own limit, and the
/// node reports one (LND the peer's, for what we offer; CLN ours, for what we
/// accept), so neither direction is held against the two together.
pub fn flow_class(
    channel: &NodeChannel,
    flow: &[FlowStats],
    config: &AnalyticsConfig,
) -> FlowClass {
    let slots = f64::from(channel.max_accepted_htlcs);
    let incoming = channel.pending_htlcs.iter().filter(|h| h.incoming).count();
    let busiest = incoming.max(channel.pending_htlcs.len() - incoming);
    if slots > 0.0 && busiest as f64 > config.congestion_share * slots {
        return FlowClass::Congested;
    }
    let Some(week) = week(flow) else {
        return FlowClass::Unknown;
    };
    if week.htlcs_in == 0 && week.htlcs_out == 0 || channel.capacity_sat == 0 {
        return FlowClass::Unknown;
    }
    let net = (week.sats_out as f64 - week.sats_in as f64) / channel.capacity_sat as f64;
    if net > config.flow_class_threshold {
        FlowClass::Source
    } else if net < -config.flow_class_threshold {
        FlowClass::Sink
    } else {
        FlowClass::Balanced
    }
}

/// What a channel has cost and earned so far, as the store knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelCosts {
    /// Opening cost (0 when the peer opened the channel).
    pub open_sat: u64,
    /// What the rebalances that refilled the channel paid in routing fees, over the stored
    /// history (any tool's: they are read from the node's payments).
    pub rebalance_msat: u64,
    /// Fees earned on forwards out through the channel, over the stored history.
    pub earned_msat: u64,
}

impl ChannelCosts {
    /// (earned − cost) / cost, with the opening cost's `share` (0..=1) weighed against what
    /// was earned over that share of the channel's life (rebalancing costs are all within the
    /// stored history, so they count whole); `None` when the channel cost nothing.
    pub fn roi(&self, share: f64) -> Option<f64> {
        (self.open_sat > 0 || self.rebalance_msat > 0).then(|| {
            let cost_msat =
                self.open_sat as f64 * 1000.0 * share.clamp(0.0, 1.0) + self.rebalance_msat as f64;
            (self.earned_msat as f64 - cost_msat) / cost_msat.max(1.0)
        })
    }
}

/// The block height in a short channel id.
fn funding_block(id: ChannelId) -> u32 {
    u32::try_from(id >> 40).unwrap_or(u32::MAX)
}

/// A channel's age in blocks and when it opened (unix seconds), from the funding height in
/// its short channel id. An alias id (LND's private and zero-conf channels use heights from
/// 16,000,000 on) has no funding height: such a channel is as old as lnpolicy's first sight
/// of it, not a channel opened this block, which would leave it without history.
fn age(id: ChannelId, tip: u32, first_seen: Option<u64>, now: u64) -> (u32, u64) {
    let block = funding_block(id);
    if block <= tip {
        let blocks = tip - block;
        return (
            blocks,
            now.saturating_sub(u64::from(blocks) * SECS_PER_BLOCK),
        );
    }
    let opened_at = first_seen.unwrap_or(now).min(now);
    let blocks = (now - opened_at) / SECS_PER_BLOCK;
    (u32::try_from(blocks).unwrap_or(u32::MAX), opened_at)
}

/// ZOMBIE: old, and no forward in or out for a month of history, whatever it earned before
/// (with less history than a month, idle may only mean not yet collected). Otherwise by ROI:
/// PROFITABLE above the band, UNDERWATER below its negative, BREAK_EVEN within; a channel that
/// cost nothing is PROFITABLE once it earns and UNKNOWN before. Below the band a channel is
/// UNDERWATER only when it is old enough as for ZOMBIE, else UNKNOWN: a channel younger than
/// `zombie_after_days` has not had the time to earn its cost, and with less than a month of
/// history (a fresh install) its earnings before are unknown; pricing either up as a loss
/// would keep away the traffic it needs. When the history reaches back less far than the
/// channel's opening (a forwarding log deleted before lnpolicy read it, or a node that
/// forwarded nothing for a while; the store cannot tell them apart), what it earned is weighed
/// against the share of its cost that history covers, by time: the whole cost against a
/// fraction of its earnings would read a paid-off channel as a loss.
pub fn profitability(
    flow: &[FlowStats],
    age_blocks: u32,
    history_secs: u64,
    costs: &ChannelCosts,
    config: &AnalyticsConfig,
) -> Profitability {
    let month_forwards = flow
        .iter()
        .find(|f| f.window == Window::Month)
        .map_or(0, |f| f.htlcs_in + f.htlcs_out);
    // ~144 blocks a day.
    let old_enough = u64::from(age_blocks) >= config.zombie_after_days * 144
        && history_secs >= Window::Month.seconds();
    if month_forwards == 0 && old_enough {
        return Profitability::Zombie;
    }
    let age_secs = u64::from(age_blocks) * SECS_PER_BLOCK;
    let share = if age_secs > history_secs {
        history_secs as f64 / age_secs as f64
    } else {
        1.0
    };
    match costs.roi(share) {
        // No history at all: nothing to weigh the cost against.
        Some(_) if history_secs == 0 => Profitability::Unknown,
        Some(roi) if roi >= config.break_even_band => Profitability::Profitable,
        Some(roi) if roi <= -config.break_even_band && old_enough => Profitability::Underwater,
        Some(roi) if roi <= -config.break_even_band => Profitability::Unknown,
        Some(_) => Profitability::BreakEven,
        None if costs.earned_msat > 0 => Profitability::Profitable,
        None => Profitability::Unknown,
    }
}

/// What the channel's own fees earned per hour (its share of each forward's fee, see
/// `Store::fees_earned`) since the last fee change, or when there was none, over the month as
/// far as history reaches (a channel opened three days ago earned its month's fees in three
/// days): the hill climber's feedback signal, the same money before and after a change.
fn revenue_rate(
    store: &Store,
    channel: ChannelId,
    last_change: Option<u64>,
    history_secs: u64,
    now: u64,
) -> Result<f64, StoreError> {
    let (since, hours_secs) = match last_change {
        Some(since) if since < now => (since, now - since),
        Some(_) => return Ok(0.0),
        None => (
            now.saturating_sub(Window::Month.seconds()),
            history_secs.min(Window::Month.seconds()),
        ),
    };
    if hours_secs == 0 {
        return Ok(0.0);
    }
    let fees = store.fees_earned(channel, since * NS, now * NS)?;
    Ok(fees as f64 * 3600.0 / hours_secs as f64)
}
