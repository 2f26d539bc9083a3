//! The engine: one full cycle against a node, in the order the layers are
//! drawn in ARCHITECTURE.md: collect into the store, build channel views
//! from it, decide through the sandbox and the guard, apply what changed.
//! Every node call goes through the `NodeClient` whitelist.

mod configured;

use std::num::NonZeroU32;
use std::sync::Arc;

pub use configured::{
    CHAIN_SYNC_READINGS, ConfiguredOutcome, ConfiguredPlan, StoreHistory, record_node_facts,
    run_configured, run_configured_on,
};

use lnpolicy_analytics::{AnalyticsConfig, channel_views};
use lnpolicy_collector::{CollectConfig, CollectError, CollectReport, collect};
use lnpolicy_core::{
    Channel, ChannelAnalysis, NodeChannel, NodeClient, NodeError, NodeInfo, Param,
};
use lnpolicy_policy::apply::{ApplyReport, PlannedUpdate, apply_updates};
use lnpolicy_policy::cycle::{CycleError, CycleInput, CycleReport, run_cycle};
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{HistorySource, StrategyRegistry};
use lnpolicy_store::{Store, StoreError};

/// Which strategy decides the channels, with what, under which limits.
pub struct CyclePlan<'a> {
    pub strategy: &'a str,
    pub params: &'a [Param],
    pub guard: &'a GuardConfig,
    pub history: Arc<dyn HistorySource>,
    /// Decide and record, but send nothing.
    pub dry_run: bool,
    /// Skip updates that only move the ppm by less than this (charge-lnd's
    /// `min_fee_ppm_delta`, for both directions).
    pub min_fee_ppm_delta: u32,
    /// The node-wide cap on updates sent per hour (`guard.max_updates_per_hour`).
    pub max_updates_per_hour: Option<NonZeroU32>,
}

/// What one cycle did.
#[derive(Debug)]
pub struct CycleOutcome {
    pub collected: CollectReport,
    pub decided: CycleReport,
    /// `None` on a dry run.
    pub applied: Option<ApplyReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Collect(#[from] CollectError),
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cycle(#[from] CycleError),
}

/// Runs collect → decide → apply once at unix time `now`.
pub async fn run_once(
    node: &dyn NodeClient,
    store: &Store,
    registry: &StrategyRegistry,
    plan: CyclePlan<'_>,
    now: u64,
) -> Result<CycleOutcome, EngineError> {
    let collected = collect(node, store, now, &CollectConfig::to_the_end()).await?;
    let info = match &collected.node_info {
        Some(info) => info.clone(),
        None => node.get_info().await?,
    };
    let channels = &collected.node_channels;
    let views = analysed_views(store, &info, channels, now, &AnalyticsConfig::default())?;
    let decided = run_cycle(
        registry,
        store,
        CycleInput {
            strategy: plan.strategy,
            version: None,
            params: plan.params,
            channels: &views,
            now,
            history: plan.history,
            guard: plan.guard,
            rules: None,
            dry_run: plan.dry_run,
        },
    )?;
    if plan.dry_run {
        return Ok(CycleOutcome {
            collected,
            decided,
            applied: None,
        });
    }
    let updates: Vec<PlannedUpdate> = decided
        .outcomes
        .iter()
        .filter_map(|outcome| {
            let channel = channels
                .iter()
                .find(|c| c.id == outcome.guarded.channel_id)?;
            // Left as it is by the guard: applied as unchanged, so the counts say so.
            Some(PlannedUpdate {
                channel: channel.clone(),
                desired: outcome.guarded.policy.unwrap_or(channel.local_policy),
                decision_id: Some(outcome.decision_id),
                min_fee_ppm_delta: plan.min_fee_ppm_delta,
                min_inbound_fee_ppm_delta: plan.min_fee_ppm_delta,
            })
        })
        .collect();
    let applied = apply_updates(node, store, &updates, now, plan.max_updates_per_hour).await?;
    Ok(CycleOutcome {
        collected,
        decided,
        applied: Some(applied),
    })
}

/// The channels as strategies see them at `now`; what the analytics made of each is kept as
/// its latest analysis, for reports, which read only the database.
pub(crate) fn analysed_views(
    store: &Store,
    info: &NodeInfo,
    channels: &[NodeChannel],
    now: u64,
    config: &AnalyticsConfig,
) -> Result<Vec<Channel>, EngineError> {
    let views = channel_views(store, info, channels, now, config)?;
    record_analyses(store, &views, now)?;
    Ok(views)
}

/// Keeps what the analytics made of each of `views` as its channel's latest analysis. A dry
/// run of the daemon, which decides on a copy of the database, records them in the real one
/// with this: they are facts about the node, like its history.
pub fn record_analyses(store: &Store, views: &[Channel], now: u64) -> Result<(), EngineError> {
    let analyses: Vec<_> = views
        .iter()
        .map(|view| (view.id, ChannelAnalysis::of(view)))
        .collect();
    store.record_channel_analyses(&analyses, now)?;
    Ok(())
}
