//! `lnpolicy status`: what the daemon is doing now, from its database alone,
//! so it works while the daemon runs, after it stopped, and on a copy.

use lnpolicy_core::{ChannelId, short_channel_id};
use lnpolicy_store::Store;
use serde::Serialize;

use crate::ReportError;

#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub generated_at: u64,
    /// The latest cycle of each strategy, by name.
    pub strategies: Vec<StrategyStatus>,
    /// Updates recorded but not known to have reached the node, oldest first:
    /// many, or old ones, mean the daemon stopped mid-update or the node hangs.
    pub pending_intents: Vec<PendingIntent>,
    pub quarantined: Vec<Quarantine>,
    pub experiments: Vec<ExperimentStatus>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StrategyStatus {
    pub strategy: String,
    pub last_started_at: u64,
    pub last_finished_at: Option<u64>,
    /// `ok`, `failed`, `quarantined`, or `unfinished` (running now, or
    /// interrupted by a crash).
    pub status: &'static str,
    pub error: Option<String>,
    /// Channels the latest cycle was given.
    pub channels: u32,
    pub last_ok_at: Option<u64>,
    pub cycles: u64,
    pub failed_cycles: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PendingIntent {
    pub id: i64,
    pub channel_id: ChannelId,
    pub short_channel_id: String,
    pub created_at: u64,
    pub from_fee_ppm: u32,
    pub to_fee_ppm: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Quarantine {
    pub strategy: String,
    pub since: u64,
    pub sha256: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExperimentStatus {
    pub name: String,
    pub channels_a: u32,
    pub channels_b: u32,
    pub started_at: u64,
    pub last_assigned_at: u64,
}

/// Reads the status as of `now` (Unix seconds).
pub fn status_report(store: &Store, now: u64) -> Result<StatusReport, ReportError> {
    let strategies = store
        .strategy_cycles()?
        .into_iter()
        .map(|c| StrategyStatus {
            strategy: c.last.strategy,
            last_started_at: c.last.started_at,
            last_finished_at: c.last.finished_at,
            status: c.last.status.map_or("unfinished", |s| s.as_str()),
            error: c.last.error,
            channels: c.last.channels,
            last_ok_at: c.last_ok_at,
            cycles: c.total,
            failed_cycles: c.failed,
        })
        .collect();
    let pending_intents = store
        .pending_intents()?
        .into_iter()
        .map(|i| PendingIntent {
            id: i.id,
            channel_id: i.channel_id,
            short_channel_id: short_channel_id(i.channel_id),
            created_at: i.created_at,
            from_fee_ppm: i.previous.fee_ppm,
            to_fee_ppm: i.desired.fee_ppm,
        })
        .collect();
    let quarantined = store
        .quarantined_strategies()?
        .into_iter()
        .map(|e| Quarantine {
            strategy: e.strategy,
            since: e.at,
            sha256: e.sha256,
            detail: e.detail,
        })
        .collect();
    let experiments = store
        .experiment_summaries()?
        .into_iter()
        .map(|e| ExperimentStatus {
            name: e.name,
            channels_a: e.channels_a,
            channels_b: e.channels_b,
            started_at: e.first_assigned_at,
            last_assigned_at: e.last_assigned_at,
        })
        .collect();
    Ok(StatusReport {
        generated_at: now,
        strategies,
        pending_intents,
        quarantined,
        experiments,
    })
}
