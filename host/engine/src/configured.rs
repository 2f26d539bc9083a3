//! One cycle driven by a charge-lnd style config: collect, gather what the config's
//! conditions and strategies ask about (activity, the peer's graph totals, on-chain fee
//! estimates, what opening each channel cost, the guests' fee history and peers' fee
//! levels from the store), decide per section, apply what is worth sending. Node calls
//! beyond the collector's are made only when something needs them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use lnpolicy_analytics::AnalyticsConfig;
use lnpolicy_collector::{CollectConfig, CollectReport, collect};
use lnpolicy_core::{
    Channel, ChannelId, FeeChange, FeePercentiles, NodeChannel, NodeClient, NodeError, NodeInfo,
    PeerInfo,
};
use lnpolicy_policy::apply::{ApplyReport, PlannedUpdate, apply_updates, held_by_cap};
use lnpolicy_policy::config::{
    ActivityCounts, ChainFacts, ChannelFacts, Config, MatchInput, PeerFacts, PendingHtlc,
    SharedChannel,
};
use lnpolicy_policy::configured::{self, ChannelPlan, ConfiguredChannel, PlanOutcome};
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_policy::rollback::{self, Candidate};
use lnpolicy_runtime::{HistorySource, NoHistory, StrategyRegistry};
use lnpolicy_store::{Store, fee_percentiles};

use crate::EngineError;

/// What a config-driven cycle runs with.
pub struct ConfiguredPlan<'a> {
    pub config: &'a Config,
    /// The daemon-wide limits; sections' `guard.*` keys adjust them per channel.
    pub guard: &'a GuardConfig,
    /// Answers that take precedence over the store's (tests pin what a guest sees); where
    /// it has none, guests get the store's fee history and peer fees. [`ConfiguredPlan::new`]
    /// sets [`NoHistory`], which leaves every answer to the store.
    pub history: Arc<dyn HistorySource>,
    /// Decide and record, but send nothing.
    pub dry_run: bool,
    /// How long to wait between readings of the node's chain sync when it says it is not
    /// synced and a condition reads `onchain.synced_to_chain` (see [`CHAIN_SYNC_READINGS`]);
    /// zero (backtests, whose clock is virtual) reads again at once.
    pub chain_sync_wait: Duration,
}

impl<'a> ConfiguredPlan<'a> {
    /// A plan whose guests see lnpolicy's own history, as the daemon, backtests and
    /// `lnpolicy -c` run it.
    pub fn new(config: &'a Config, guard: &'a GuardConfig, dry_run: bool) -> Self {
        ConfiguredPlan {
            config,
            guard,
            history: Arc::new(NoHistory),
            dry_run,
            chain_sync_wait: Duration::from_secs(10),
        }
    }
}

/// Readings of the node's chain sync before "not synced" is believed: LND reports
/// `synced_to_chain = false` for a few seconds after every block, and a section such as
/// `onchain.synced_to_chain = false` with `strategy = disable` would otherwise switch every
/// channel off until the next run.
pub const CHAIN_SYNC_READINGS: u32 = 6;

/// What one config-driven cycle did.
#[derive(Debug)]
pub struct ConfiguredOutcome {
    pub collected: CollectReport,
    /// The channels as the node reported them, in the order of `plans`.
    pub channels: Vec<NodeChannel>,
    /// What the conditions looked at, per channel, in the same order.
    pub inputs: Vec<MatchInput>,
    /// What the strategies were shown (balances, flow, classes, revenue rate), per channel,
    /// in the same order.
    pub views: Vec<Channel>,
    pub plans: Vec<ChannelPlan>,
    /// `None` on a dry run.
    pub applied: Option<ApplyReport>,
    /// On a dry run, the channels whose update `guard.max_updates_per_hour` would hold now
    /// (rollbacks, which a dry run does not make, spend none of it); empty otherwise.
    pub would_hold: BTreeSet<ChannelId>,
    /// Changes that qualified for rollback this cycle (restored unless a dry run).
    pub rollbacks: Vec<Candidate>,
    /// What restoring them did; `None` on a dry run.
    pub rolled_back: Option<ApplyReport>,
    /// Node calls made besides the collector's and the updates.
    pub extra_node_calls: u32,
}

impl ConfiguredOutcome {
    /// Every decided channel's update, as the applier takes them: the guarded policy, or the
    /// node's own where the guard left the channel as it is (counted as unchanged, never sent).
    pub fn updates(&self) -> Vec<PlannedUpdate> {
        planned_updates(&self.channels, &self.plans)
    }
}

/// Runs collect → decide (per config section) → apply once at unix time `now`.
pub async fn run_configured(
    node: &dyn NodeClient,
    store: &Store,
    registry: &StrategyRegistry,
    plan: ConfiguredPlan<'_>,
    now: u64,
) -> Result<ConfiguredOutcome, EngineError> {
    let collected = collect(node, store, now, &CollectConfig::to_the_end()).await?;
    run_configured_on(node, store, registry, plan, collected, now).await
}

/// How long strategies' per-channel state (`ch:<id>` keys) outlives a closed channel: a
/// channel that reopens within it, or a collection that missed it, keeps its history.
const CLOSED_STATE_KEPT_SECS: u64 = 30 * 86_400;

/// How long each cycle's decisions are kept whole unless `store.keep_decisions_days` says:
/// a quarter of "why did this fee not change?", three months of flow windows behind it.
const DEFAULT_KEEP_DECISIONS_DAYS: u32 = 90;

/// Decisions a cycle looks at for folding: an hourly cycle gets through a year of a
/// 200-channel node's backlog in under four days.
const DECISIONS_FOLDED_PER_CYCLE: usize = 20_000;

/// Folds decisions older than the config's detail period into daily counts, a batch per
/// cycle. A dry run, which records only facts, leaves them. Housekeeping: a fold that fails
/// is logged and the cycle goes on.
fn fold_old_decisions(store: &Store, config: &Config, now: u64) {
    let keep_days = config
        .keep_decisions_days()
        .unwrap_or(DEFAULT_KEEP_DECISIONS_DAYS);
    let before = now.saturating_sub(u64::from(keep_days) * 86_400);
    match store.fold_old_decisions(before, now, DECISIONS_FOLDED_PER_CYCLE) {
        Ok(fold) if fold.folded > 0 => tracing::info!(
            folded = fold.folded,
            examined = fold.examined,
            keep_days,
            "old decisions that changed nothing folded into daily counts"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "old decisions not folded this cycle"),
    }
}

/// [`run_configured`] after its collection: `collected` read the node's history to the end,
/// and the cycle decides at `now`, which the daemon reads once that catch-up is over.
pub async fn run_configured_on(
    node: &dyn NodeClient,
    store: &Store,
    registry: &StrategyRegistry,
    plan: ConfiguredPlan<'_>,
    collected: CollectReport,
    now: u64,
) -> Result<ConfiguredOutcome, EngineError> {
    let mut extra_node_calls = 0;
    let mut info = match &collected.node_info {
        Some(info) => info.clone(),
        None => {
            extra_node_calls += 1;
            node.get_info().await?
        }
    };
    let mut waited = Duration::ZERO;
    if plan.config.reads_chain_sync() {
        for _ in 1..CHAIN_SYNC_READINGS {
            if info.synced_to_chain {
                break;
            }
            if !plan.chain_sync_wait.is_zero() {
                tokio::time::sleep(plan.chain_sync_wait).await;
                waited += plan.chain_sync_wait;
            }
            info = node.get_info().await?;
            extra_node_calls += 1;
        }
    }
    // The cycle decides once the node has been read, so what it records is stamped then.
    let now = now.saturating_add(waited.as_secs());
    let channels = collected.node_channels.clone();
    let removed = store.prune_closed_channel_state(now.saturating_sub(CLOSED_STATE_KEPT_SECS))?;
    if removed > 0 {
        tracing::info!(
            removed,
            "strategy state of channels closed a month ago removed"
        );
    }
    if !plan.dry_run {
        fold_old_decisions(store, plan.config, now);
    }
    extra_node_calls += record_open_costs(node, store, &channels, now).await?;
    let mut analytics = AnalyticsConfig::default();
    if let Some(cost) = plan.config.estimated_open_cost_sat() {
        analytics.estimated_open_cost_sat = cost;
    }
    let views = crate::analysed_views(store, &info, &channels, now, &analytics)?;

    let mut fee_rates = BTreeMap::new();
    for target in plan.config.conf_targets() {
        fee_rates.insert(target, chain_fee_rate(node, target).await?);
        extra_node_calls += 1;
    }
    let peers = if plan.config.needs_peer_graph() {
        let mut peers = BTreeMap::new();
        let pubkeys: BTreeSet<&str> = channels.iter().map(|c| c.peer_pubkey.as_str()).collect();
        for pubkey in pubkeys {
            peers.insert(pubkey.to_owned(), node.peer_info(pubkey).await?);
            extra_node_calls += 1;
        }
        peers
    } else {
        BTreeMap::new()
    };
    let inputs = match_inputs(
        store,
        &info,
        &channels,
        plan.config,
        &fee_rates,
        &peers,
        now,
    )?;
    let configured: Vec<ConfiguredChannel<'_>> = views
        .iter()
        .zip(&channels)
        .zip(&inputs)
        .map(|((view, node), input)| ConfiguredChannel { view, node, input })
        .collect();

    let selected = configured::select(store, plan.config, &configured, now)?;
    let guard = plan.config.node_guard(plan.guard);
    let rules = selected.rollback_rules(&guard);
    let rollbacks = rollback::candidates(store, &views, &rules, now)?;
    let rolled_back = if plan.dry_run || rollbacks.is_empty() {
        None
    } else {
        Some(
            rollback::execute(
                node,
                store,
                &rollbacks,
                &channels,
                now,
                plan.config.max_updates_per_hour(),
            )
            .await?,
        )
    };
    let mut held: BTreeMap<ChannelId, String> = rollback::held(store, &rules, now)?
        .into_iter()
        .map(|(id, until)| (id, format!("rolled back; the strategy resumes at {until}")))
        .collect();
    for candidate in &rollbacks {
        held.insert(candidate.channel_id, candidate.reason());
    }
    let prepared = configured::prepare(selected, registry, store, &configured, &guard, &held, now)?
        .with_dry_run(plan.dry_run);
    for target in prepared.conf_targets() {
        if let std::collections::btree_map::Entry::Vacant(entry) = fee_rates.entry(target) {
            entry.insert(chain_fee_rate(node, target).await?);
            extra_node_calls += 1;
        }
    }
    let mut stored = StoreHistory::load(store, &channels, now)?;
    extra_node_calls += refresh_peer_fees(node, store, &mut stored, &peers, now).await?;
    let history = Arc::new(CycleHistory {
        pinned: plan.history,
        stored,
        rates: fee_rates,
    });
    let plans = configured::decide(prepared, registry, store, &configured, &guard, history, now)?;
    drop(configured);
    let updates = planned_updates(&channels, &plans);
    let mut would_hold = BTreeSet::new();
    let applied = if plan.dry_run {
        would_hold = held_by_cap(
            store,
            node.kind(),
            &updates,
            now,
            plan.config.max_updates_per_hour(),
        )?;
        None
    } else {
        Some(
            apply_updates(
                node,
                store,
                &updates,
                now,
                plan.config.max_updates_per_hour(),
            )
            .await?,
        )
    };
    Ok(ConfiguredOutcome {
        collected,
        channels,
        inputs,
        views,
        plans,
        would_hold,
        applied,
        rollbacks,
        rolled_back,
        extra_node_calls,
    })
}

fn planned_updates(channels: &[NodeChannel], plans: &[ChannelPlan]) -> Vec<PlannedUpdate> {
    channels
        .iter()
        .zip(plans)
        .filter_map(|(channel, plan)| match &plan.outcome {
            PlanOutcome::Decided {
                decision_id,
                guarded,
                ..
            } => Some(PlannedUpdate {
                channel: channel.clone(),
                desired: guarded.policy.unwrap_or(channel.local_policy),
                decision_id: Some(*decision_id),
                min_fee_ppm_delta: plan.min_fee_ppm_delta,
                min_inbound_fee_ppm_delta: plan.min_inbound_fee_ppm_delta,
            }),
            _ => None,
        })
        .collect()
}

/// How long a channel whose open cost the node did not report waits before it is asked
/// again. A node that could not find a funding transaction (a bookkeeper enabled after the
/// open, a pruned wallet) rarely finds it later, and each lookup costs it a bookkeeping
/// query per txid or its whole wallet history: asking every cycle would repeat that work,
/// and a refusal's warning, for nothing.
const OPEN_COST_RETRY_SECS: u64 = 24 * 3600;

/// The node facts a cycle keeps in the store between cycles (what opening each channel cost,
/// each peer's fee levels), fetched where missing or stale. A cycle does this by itself; a
/// daemon that decides on a copy of the database (`--dry-run`) calls it on the real one
/// first, so that the lookups are kept and not repeated every cycle. Returns the node calls.
pub async fn record_node_facts(
    node: &dyn NodeClient,
    store: &Store,
    channels: &[NodeChannel],
    now: u64,
) -> Result<u32, EngineError> {
    let mut calls = record_open_costs(node, store, channels, now).await?;
    let mut stored = StoreHistory::load(store, channels, now)?;
    calls += refresh_peer_fees(node, store, &mut stored, &BTreeMap::new(), now).await?;
    Ok(calls)
}

/// Fetches what opening our channels cost, once: only for channels we opened with no cost
/// on record, not asked in the last [`OPEN_COST_RETRY_SECS`], and only their funding txids.
/// Records what was found and when each was asked, also when the node refused. Returns the
/// node calls made.
async fn record_open_costs(
    node: &dyn NodeClient,
    store: &Store,
    channels: &[NodeChannel],
    now: u64,
) -> Result<u32, EngineError> {
    let known = store.open_costs()?;
    let asked = store.open_cost_lookups()?;
    let due = |c: &NodeChannel| {
        asked
            .get(&c.id)
            .is_none_or(|&at| now.saturating_sub(at) >= OPEN_COST_RETRY_SECS)
    };
    let missing: Vec<(ChannelId, String)> = channels
        .iter()
        .filter(|c| c.initiator && !known.contains_key(&c.id) && due(c))
        .map(|c| (c.id, funding_txid(c)))
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let txids: Vec<String> = missing
        .iter()
        .map(|(_, txid)| txid.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let ids: Vec<ChannelId> = missing.iter().map(|(id, _)| *id).collect();
    // Open costs only refine the profitability class: no failure here holds the fees back.
    let fees = match node.funding_fees(&txids).await {
        Ok(fees) => fees,
        Err(error @ NodeError::Unavailable { .. }) => {
            tracing::warn!(
                %error,
                channels = ids.len(),
                "funding fees not read; open costs stay unknown, asked again next cycle"
            );
            return Ok(1);
        }
        // Refused, no bookkeeper, or a wallet too large to list within the call timeout.
        Err(error) => {
            tracing::warn!(
                %error,
                channels = ids.len(),
                "the node did not report funding fees; open costs stay unknown, asked again in a day"
            );
            store.record_open_cost_lookup(&[], &ids, now)?;
            return Ok(1);
        }
    };
    let by_txid: BTreeMap<String, u64> = fees
        .into_iter()
        .map(|f| (f.txid.to_ascii_lowercase(), f.fee_sat))
        .collect();
    // The share of every channel the transaction opened, those with a cost on record too: one
    // listed only now (its peer waited for more confirmations) takes part of theirs.
    let found: Vec<(ChannelId, u64)> = channels
        .iter()
        .filter(|c| c.initiator)
        .filter_map(|c| {
            let txid = funding_txid(c);
            let fee = *by_txid.get(&txid)?;
            Some((c.id, share_of_funding_fee(fee, c.id, &txid, channels)))
        })
        .collect();
    store.record_open_cost_lookup(&found, &ids, now)?;
    Ok(1)
}

/// The part of a funding transaction's fee, `fee_sat`, that opening channel `id` cost: the
/// nodes report the fee of the whole transaction, and one transaction can open several of our
/// channels (LND's `BatchOpenChannel`, CLN's `multifundchannel`). Split evenly among the
/// channels we opened with it that are open now (each output costs about the same block
/// space), the remainder's sats to the lowest ids, so the parts add up to the fee; split again
/// when another of them is listed later.
fn share_of_funding_fee(fee_sat: u64, id: ChannelId, txid: &str, channels: &[NodeChannel]) -> u64 {
    let mut siblings: Vec<ChannelId> = channels
        .iter()
        .filter(|c| c.initiator && funding_txid(c) == txid)
        .map(|c| c.id)
        .collect();
    siblings.sort_unstable();
    let count = siblings.len().max(1) as u64;
    let rank = siblings.iter().position(|&c| c == id).unwrap_or(0) as u64;
    fee_sat / count + u64::from(rank < fee_sat % count)
}

/// A channel's funding txid, lowercase: its channel point's part before the `:`.
fn funding_txid(channel: &NodeChannel) -> String {
    let point = &channel.channel_point;
    point
        .split_once(':')
        .map_or(point.as_str(), |(txid, _)| txid)
        .to_ascii_lowercase()
}

/// The facts every channel's conditions look at.
fn match_inputs(
    store: &Store,
    info: &NodeInfo,
    channels: &[NodeChannel],
    config: &Config,
    fee_rates: &BTreeMap<u32, Option<f64>>,
    peers: &BTreeMap<String, Option<PeerInfo>>,
    now: u64,
) -> Result<Vec<MatchInput>, EngineError> {
    const NS: u64 = 1_000_000_000;
    let mut activity = BTreeMap::new();
    for period in config.activity_periods() {
        let to_ns = now.saturating_mul(NS);
        let from_ns = to_ns.saturating_sub(period.saturating_mul(NS));
        activity.insert(period, store.flow_totals(from_ns, to_ns)?);
    }
    let chain = ChainFacts {
        block_height: info.block_height,
        synced_to_chain: info.synced_to_chain,
        fee_rate_sat_vb: fee_rates
            .iter()
            .filter_map(|(target, rate)| rate.map(|rate| (*target, rate)))
            .collect(),
    };
    let facts: Vec<ChannelFacts> = channels.iter().map(channel_facts).collect();
    Ok(channels
        .iter()
        .zip(&facts)
        .map(|(channel, own)| MatchInput {
            channel: own.clone(),
            shared_channels: facts
                .iter()
                .filter(|other| other.peer_pubkey == channel.peer_pubkey)
                .map(SharedChannel::from)
                .collect(),
            peer: peers
                .get(&channel.peer_pubkey)
                .and_then(Option::as_ref)
                .map(|peer| PeerFacts {
                    public_channels: Some(peer.public_channels),
                    public_capacity_sat: Some(peer.public_capacity_sat),
                })
                .unwrap_or_default(),
            activity: activity
                .iter()
                .map(|(period, totals)| {
                    let t = totals.get(&channel.id).copied().unwrap_or_default();
                    let counts = ActivityCounts {
                        htlcs_in: t.htlcs_in.into(),
                        htlcs_out: t.htlcs_out.into(),
                        sats_in: t.sats_in,
                        sats_out: t.sats_out,
                    };
                    (*period, counts)
                })
                .collect(),
            chain: chain.clone(),
        })
        .collect())
}

fn channel_facts(channel: &NodeChannel) -> ChannelFacts {
    ChannelFacts {
        id: channel.id,
        peer_pubkey: channel.peer_pubkey.clone(),
        capacity_sat: channel.capacity_sat,
        local_balance_sat: channel.local_balance_sat,
        remote_balance_sat: channel.remote_balance_sat,
        commit_fee_sat: channel.commit_fee_sat,
        pending_htlcs: channel
            .pending_htlcs
            .iter()
            .map(|h| PendingHtlc {
                incoming: h.incoming,
                amount_sat: h.amount_msat / 1000,
                expiry_height: h.expiry_height,
            })
            .collect(),
        initiator: channel.initiator,
        private: channel.private,
        active: channel.active,
        local_fee_ppm: channel.local_policy.fee_ppm,
        peer_policy: channel.peer_policy,
    }
}

/// How long a peer's stored fee levels are used before the graph is asked again: fee
/// levels move slowly, and asking for every peer every cycle would cost a graph query each.
const PEER_FEES_MAX_AGE: u64 = 24 * 3600;

/// How far back guests can look into a channel's fee history.
const FEE_HISTORY_DAYS: u64 = 90;

/// Refreshes the fee levels of peers never asked about or asked more than
/// [`PEER_FEES_MAX_AGE`] ago, in the store and in `history`, reusing `known` (this cycle's
/// answers, when the config asked). A peer the node fails on keeps its old levels: stale
/// competitor fees are no reason to skip a cycle. Returns the node calls made.
async fn refresh_peer_fees(
    node: &dyn NodeClient,
    store: &Store,
    history: &mut StoreHistory,
    known: &BTreeMap<String, Option<PeerInfo>>,
    now: u64,
) -> Result<u32, EngineError> {
    let mut calls = 0;
    for (pubkey, row) in &mut history.peer_fees {
        let fresh = row.is_some_and(|(at, _)| now.saturating_sub(at) < PEER_FEES_MAX_AGE);
        if fresh {
            continue;
        }
        let info = match known.get(pubkey) {
            Some(info) => info.clone(),
            None => {
                calls += 1;
                match node.peer_info(pubkey).await {
                    Ok(info) => info,
                    Err(error) => {
                        tracing::warn!(peer = pubkey, %error, "could not refresh the peer's fee levels; keeping the old ones");
                        continue;
                    }
                }
            }
        };
        let fees = info.and_then(|info| fee_percentiles(&info.fee_rates_ppm));
        store.record_peer_fees(pubkey, now, fees)?;
        *row = Some((now, fees));
    }
    Ok(calls)
}

/// The node's on-chain fee estimate for `conf_target` blocks. A refusal (say, a macaroon
/// without `onchain:read`, or a node with no estimator yet) costs only the sections that
/// price by it, which then see no estimate and leave their fee rates alone, as charge-lnd
/// leaves such a channel; a node that cannot be reached fails the cycle as any call does.
async fn chain_fee_rate(node: &dyn NodeClient, conf_target: u32) -> Result<Option<f64>, NodeError> {
    match node.fee_rate(conf_target).await {
        Err(error) if !error.is_transient() => {
            tracing::warn!(conf_target, %error, "no on-chain fee estimate this cycle; fee rates priced by it stay as they are");
            Ok(None)
        }
        answer => answer,
    }
}

/// What the store knows about the cycle's channels and peers, read once before the guests
/// run so the host imports answer from memory and never reach the node.
#[derive(Debug, Default)]
pub struct StoreHistory {
    fee_history: BTreeMap<ChannelId, Vec<FeeChange>>,
    /// Each peer's stored row: when its levels were last asked and what they were; `None`
    /// for a peer never asked.
    peer_fees: BTreeMap<String, Option<(u64, Option<FeePercentiles>)>>,
    /// Each channel's rebalances over the stored history: when each arrived, what it cost.
    rebalances: BTreeMap<ChannelId, Vec<(u64, u64)>>,
    now: u64,
}

impl StoreHistory {
    /// The last 90 days of each channel's fee changes, the stored fee levels of each
    /// channel's peer, as of `now`, and every stored rebalance's cost to each channel.
    pub fn load(store: &Store, channels: &[NodeChannel], now: u64) -> Result<Self, EngineError> {
        let since = now.saturating_sub(FEE_HISTORY_DAYS * 24 * 3600);
        let mut history = StoreHistory {
            now,
            ..StoreHistory::default()
        };
        for channel in channels {
            history
                .fee_history
                .insert(channel.id, store.fee_history(channel.id, since, now)?);
            if !history.peer_fees.contains_key(&channel.peer_pubkey) {
                let row = store.peer_fees(&channel.peer_pubkey)?;
                history.peer_fees.insert(channel.peer_pubkey.clone(), row);
            }
        }
        for charge in store.rebalance_charges(0)? {
            history
                .rebalances
                .entry(charge.channel_id)
                .or_default()
                .push((charge.at, charge.cost_msat));
        }
        Ok(history)
    }
}

impl HistorySource for StoreHistory {
    /// The changes still in force after `since`: the first is the level that held at `since`.
    fn fee_history(&self, channel: ChannelId, since: u64) -> Vec<FeeChange> {
        let Some(changes) = self.fee_history.get(&channel) else {
            return Vec::new();
        };
        if since >= self.now {
            return Vec::new();
        }
        let later = changes.partition_point(|change| change.at <= since);
        changes[later.saturating_sub(1)..].to_vec()
    }

    fn competitor_fees(&self, peer_pubkey: &str) -> Option<FeePercentiles> {
        self.peer_fees.get(peer_pubkey).copied().flatten()?.1
    }

    fn rebalance_cost_msat(&self, channel: ChannelId, since: u64) -> u64 {
        self.rebalances.get(&channel).map_or(0, |charges| {
            charges
                .iter()
                .filter(|(at, _)| *at >= since)
                .map(|(_, cost)| cost)
                .sum()
        })
    }
}

/// The cycle's history: the plan's pinned answers over the store's, with the on-chain fee
/// estimates fetched for the cycle.
struct CycleHistory {
    pinned: Arc<dyn HistorySource>,
    stored: StoreHistory,
    rates: BTreeMap<u32, Option<f64>>,
}

impl HistorySource for CycleHistory {
    fn fee_history(&self, channel: ChannelId, since: u64) -> Vec<FeeChange> {
        let pinned = self.pinned.fee_history(channel, since);
        if pinned.is_empty() {
            self.stored.fee_history(channel, since)
        } else {
            pinned
        }
    }

    fn competitor_fees(&self, peer_pubkey: &str) -> Option<FeePercentiles> {
        self.pinned
            .competitor_fees(peer_pubkey)
            .or_else(|| self.stored.competitor_fees(peer_pubkey))
    }

    fn chain_fee_rate(&self, conf_target: u32) -> Option<f64> {
        self.rates.get(&conf_target).copied().flatten()
    }

    fn rebalance_cost_msat(&self, channel: ChannelId, since: u64) -> u64 {
        match self.pinned.rebalance_cost_msat(channel, since) {
            0 => self.stored.rebalance_cost_msat(channel, since),
            pinned => pinned,
        }
    }
}
