//! One decision cycle of one strategy over a batch of channels: call the
//! guest, pass every decision through the guard, and record it all. Nothing
//! leaves this function that the guard has not seen.

use std::sync::Arc;

use lnpolicy_core::{Channel, Decision, GuardedDecision, Param};
use lnpolicy_runtime::{
    CallError, DecideCall, GuestLog, GuestLogLevel, HistorySource, Strategy, StrategyRegistry,
};
use lnpolicy_store::{CycleStatus, DecisionRecord, Store, StoreError};

use crate::guard::{GuardConfig, guard};
use crate::overlay::Overlay;

/// What a config section adds for one channel: its own guard limits and charge-lnd's
/// properties, laid over the guest's decision before the guard sees it.
#[derive(Debug, Clone)]
pub struct ChannelRules {
    pub guard: GuardConfig,
    pub overlay: Overlay,
}

/// What one cycle needs besides the registry and the store.
pub struct CycleInput<'a> {
    /// The strategy's registry name.
    pub strategy: &'a str,
    /// The version to run: the one whose schema `params` were checked against, even if the
    /// folder has a new one by now. `None` = the registry's current version.
    pub version: Option<&'a Arc<Strategy>>,
    /// Parameters, checked against the strategy's schema, defaults filled.
    pub params: &'a [Param],
    pub channels: &'a [Channel],
    /// Unix seconds (virtual in backtests).
    pub now: u64,
    pub history: Arc<dyn HistorySource>,
    pub guard: &'a GuardConfig,
    /// Per channel, in batch order: replaces `guard` and adds properties (config-driven
    /// cycles). `None` = `guard` for every channel, no properties.
    pub rules: Option<&'a [ChannelRules]>,
    /// Nothing decided will be sent: the guest's state writes are dropped, so that a dry run
    /// (or `test-channel`) does not move a strategy on from a fee the node never had.
    pub dry_run: bool,
}

/// One channel's result: the guest's raw decision and what the guard made of it.
#[derive(Debug, Clone)]
pub struct ChannelOutcome {
    pub decision_id: i64,
    pub raw: Decision,
    pub guarded: GuardedDecision,
}

/// Everything a cycle produced.
#[derive(Debug)]
pub struct CycleReport {
    pub cycle_id: i64,
    pub strategy_sha256: String,
    /// One per channel, in batch order; empty when the call failed.
    pub outcomes: Vec<ChannelOutcome>,
    /// Why the guest produced nothing; every channel then stays as it is.
    pub error: Option<CallError>,
    pub logs: Vec<GuestLog>,
    pub truncations: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CycleError {
    #[error("no strategy named {0:?} is loaded")]
    UnknownStrategy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs one cycle. A failing guest is not an error here: the report says
/// why, the failure is recorded, and no channel gets a decision.
pub fn run_cycle(
    registry: &StrategyRegistry,
    store: &Store,
    input: CycleInput<'_>,
) -> Result<CycleReport, CycleError> {
    let strategy = match input.version {
        Some(version) => Arc::clone(version),
        None => registry
            .get(input.strategy)
            .ok_or_else(|| CycleError::UnknownStrategy(input.strategy.to_owned()))?,
    };
    let sha256 = strategy.sha256().to_owned();
    let channel_count = u32::try_from(input.channels.len()).unwrap_or(u32::MAX);
    let cycle_id = store.begin_cycle(input.strategy, &sha256, input.now, channel_count)?;
    let state = store.state_all(input.strategy)?;
    let result = registry.decide_version(
        input.strategy,
        &strategy,
        DecideCall {
            params: input.params,
            channels: input.channels,
            now: input.now,
            history: input.history,
            state,
        },
    );
    let output = match result {
        Ok(output) => output,
        Err(error) => {
            let status = match error {
                CallError::Quarantined { .. } => CycleStatus::Quarantined,
                _ => CycleStatus::Failed,
            };
            store.finish_cycle(cycle_id, input.now, status, Some(&error.to_string()))?;
            return Ok(CycleReport {
                cycle_id,
                strategy_sha256: sha256,
                outcomes: Vec::new(),
                error: Some(error),
                logs: Vec::new(),
                truncations: Vec::new(),
            });
        }
    };
    for log in &output.logs {
        emit(input.strategy, log);
    }
    if !input.dry_run {
        store.state_apply(input.strategy, &output.state_writes, input.now)?;
    }
    let guarded: Vec<_> = input
        .channels
        .iter()
        .zip(&output.decisions)
        .enumerate()
        .map(
            |(i, (channel, raw))| match input.rules.and_then(|rules| rules.get(i)) {
                Some(rules) => {
                    let decided = rules.overlay.apply(raw);
                    let level = rules.overlay.inbound_level_ppm;
                    guard(&rules.guard, channel, &decided, level, input.now)
                }
                None => guard(input.guard, channel, raw, None, input.now),
            },
        )
        .collect();
    let records: Vec<DecisionRecord<'_>> = output
        .decisions
        .iter()
        .zip(&guarded)
        .map(|(raw, guarded)| DecisionRecord {
            cycle_id,
            at: input.now,
            strategy: input.strategy,
            strategy_sha256: &sha256,
            raw: Some(raw),
            guarded,
            reason: &raw.reason,
        })
        .collect();
    let ids = store.record_decisions(&records)?;
    drop(records);
    let outcomes: Vec<ChannelOutcome> = output
        .decisions
        .into_iter()
        .zip(guarded)
        .zip(ids)
        .map(|((raw, guarded), decision_id)| ChannelOutcome {
            decision_id,
            raw,
            guarded,
        })
        .collect();
    store.finish_cycle(cycle_id, input.now, CycleStatus::Ok, None)?;
    Ok(CycleReport {
        cycle_id,
        strategy_sha256: sha256,
        outcomes,
        error: None,
        logs: output.logs,
        truncations: output.truncations,
    })
}

fn emit(strategy: &str, log: &GuestLog) {
    let message = log.message.as_str();
    match log.level {
        GuestLogLevel::Debug => tracing::debug!(strategy, message, "guest log"),
        GuestLogLevel::Info => tracing::info!(strategy, message, "guest log"),
        GuestLogLevel::Warn => tracing::warn!(strategy, message, "guest log"),
        GuestLogLevel::Error => tracing::error!(strategy, message, "guest log"),
    }
}
