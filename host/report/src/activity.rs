//! The activity report: per channel and per strategy, what lnpolicy decided
//! and what became of it, next to what the channels earned recently.
//!
//! Counts cover the whole database. Revenue covers the last 1, 7 and 30 days:
//! per channel it is what the channel's own fees earned (its outbound fee on
//! forwards out, and its inbound fee on forwards in); per
//! strategy it is the fees earned while the strategy was the one deciding the
//! channel (from its first decision there until another strategy's), so a
//! strategy is credited with what happened under its fees and no more.

use std::collections::{BTreeMap, BTreeSet};

use lnpolicy_core::{ChannelAnalysis, ChannelId, short_channel_id};
use lnpolicy_store::Store;
use lnpolicy_store::reports::{ActivityCounts, StrategyChange};
use serde::Serialize;

use crate::ReportError;
use crate::time::DAY;

const NS: u64 = 1_000_000_000;

/// The revenue windows, in days.
const WINDOWS: [u64; 3] = [1, 7, 30];

#[derive(Debug, Clone, Serialize)]
pub struct ActivityReport {
    pub generated_at: u64,
    pub channels: Vec<ChannelActivity>,
    pub strategies: Vec<StrategyActivity>,
}

/// What happened to decisions and updates (all time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub decisions: u64,
    /// Decisions whose guarded result was a policy to send.
    pub proposed: u64,
    /// Decisions the guard changed.
    pub clamped: u64,
    /// Updates the node accepted.
    pub applied: u64,
    /// Updates the node refused, or that never arrived.
    pub failed: u64,
    /// Updates sent whose outcome is not known yet.
    pub pending: u64,
    /// Changes undone by a rollback.
    pub rolled_back: u64,
}

impl Counts {
    fn add(&mut self, other: &ActivityCounts) {
        self.decisions += other.decisions;
        self.proposed += other.proposed;
        self.clamped += other.clamped;
        self.applied += other.applied;
        self.failed += other.failed;
        self.pending += other.pending;
        self.rolled_back += other.rolled_back;
    }
}

/// What the channels' own fees earned over the last 1, 7 and 30 days, msat: outbound fees on
/// forwards out, inbound fees (negative for a discount) on forwards in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Revenue {
    #[serde(rename = "1d")]
    pub day: i64,
    #[serde(rename = "7d")]
    pub week: i64,
    #[serde(rename = "30d")]
    pub month: i64,
}

impl Revenue {
    fn window_mut(&mut self, days: u64) -> &mut i64 {
        match days {
            1 => &mut self.day,
            7 => &mut self.week,
            _ => &mut self.month,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelActivity {
    pub channel_id: ChannelId,
    pub short_channel_id: String,
    /// The strategy of the channel's latest decision.
    pub strategy: Option<String>,
    pub counts: Counts,
    pub revenue_msat: Revenue,
    /// What the analytics made of the channel in the latest cycle (flow class, profitability,
    /// revenue rate), and when; `None` before any cycle analysed it.
    pub analysis: Option<ChannelAnalysis>,
    pub analysed_at: Option<u64>,
    /// Missing from the latest collection: the channel has closed, and its analysis is how it
    /// ended.
    pub closed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct StrategyActivity {
    /// `None` collects updates that refer to no decision.
    pub strategy: Option<String>,
    /// Channels the strategy has decided on.
    pub channels: usize,
    pub cycles: u64,
    /// Cycles that failed (trap, timeout, bad output) or quarantined it.
    pub failed_cycles: u64,
    pub counts: Counts,
    pub revenue_msat: Revenue,
}

/// Builds the activity report as of `now` (Unix seconds).
pub fn activity_report(store: &Store, now: u64) -> Result<ActivityReport, ReportError> {
    let counts = store.activity_counts()?;
    let changes = store.strategy_changes()?;
    let cycles = store.strategy_cycles()?;

    let mut channel_revenue: BTreeMap<ChannelId, Revenue> = BTreeMap::new();
    for days in WINDOWS {
        let from = now.saturating_sub(days * DAY);
        for (channel, totals) in store.flow_totals(from * NS, now * NS)? {
            *channel_revenue.entry(channel).or_default().window_mut(days) = totals.own_fees_msat;
        }
    }
    let (latest_snapshot, snapshots) = store.last_snapshots()?;
    let analyses = store.channel_analyses()?;
    let channel_ids: BTreeSet<ChannelId> = counts
        .iter()
        .map(|c| c.channel_id)
        .chain(channel_revenue.keys().copied())
        .chain(snapshots.keys().copied())
        .collect();
    let mut latest_strategy: BTreeMap<ChannelId, &str> = BTreeMap::new();
    for change in &changes {
        latest_strategy.insert(change.channel_id, &change.strategy);
    }
    let channels = channel_ids
        .into_iter()
        .map(|channel_id| {
            let mut total = Counts::default();
            counts
                .iter()
                .filter(|c| c.channel_id == channel_id)
                .for_each(|c| total.add(c));
            ChannelActivity {
                channel_id,
                short_channel_id: short_channel_id(channel_id),
                strategy: latest_strategy.get(&channel_id).map(|s| (*s).to_owned()),
                counts: total,
                revenue_msat: channel_revenue
                    .get(&channel_id)
                    .copied()
                    .unwrap_or_default(),
                analysis: analyses.get(&channel_id).map(|(_, analysis)| *analysis),
                analysed_at: analyses.get(&channel_id).map(|(at, _)| *at),
                closed: latest_snapshot.is_some_and(|latest| {
                    snapshots
                        .get(&channel_id)
                        .is_none_or(|last| last.at < latest)
                }),
            }
        })
        .collect();

    let mut strategies: BTreeMap<Option<String>, StrategyActivity> = BTreeMap::new();
    fn row(
        strategies: &mut BTreeMap<Option<String>, StrategyActivity>,
        name: Option<String>,
    ) -> &mut StrategyActivity {
        strategies
            .entry(name.clone())
            .or_insert_with(|| StrategyActivity {
                strategy: name,
                channels: 0,
                cycles: 0,
                failed_cycles: 0,
                counts: Counts::default(),
                revenue_msat: Revenue::default(),
            })
    }
    for c in &counts {
        let row = row(&mut strategies, c.strategy.clone());
        row.counts.add(c);
        if c.decisions > 0 {
            row.channels += 1;
        }
    }
    for c in &cycles {
        let row = row(&mut strategies, Some(c.last.strategy.clone()));
        row.cycles = c.total;
        row.failed_cycles = c.failed;
    }
    for (strategy, revenue) in strategy_revenue(store, &changes, now)? {
        row(&mut strategies, Some(strategy)).revenue_msat = revenue;
    }
    Ok(ActivityReport {
        generated_at: now,
        channels,
        strategies: strategies.into_values().collect(),
    })
}

/// Fees per strategy and window, each channel's forwards credited to the
/// strategy deciding it at the time (see the module doc).
fn strategy_revenue(
    store: &Store,
    changes: &[StrategyChange],
    now: u64,
) -> Result<BTreeMap<String, Revenue>, ReportError> {
    let mut revenue: BTreeMap<String, Revenue> = BTreeMap::new();
    let oldest = now.saturating_sub(WINDOWS[WINDOWS.len() - 1] * DAY);
    for (i, change) in changes.iter().enumerate() {
        let end = changes
            .get(i + 1)
            .filter(|next| next.channel_id == change.channel_id)
            .map_or(now, |next| next.at);
        if end <= oldest {
            continue;
        }
        for days in WINDOWS {
            let from = change.at.max(now.saturating_sub(days * DAY));
            let to = end.min(now);
            if from >= to {
                continue;
            }
            let fees = store.fees_earned(change.channel_id, from * NS, to * NS)?;
            *revenue
                .entry(change.strategy.clone())
                .or_default()
                .window_mut(days) += fees;
        }
    }
    Ok(revenue)
}

#[cfg(test)]
mod tests {
    use lnpolicy_core::{FeePolicy, Forward, GuardedDecision};
    use lnpolicy_store::{CycleStatus, DecisionRecord, IntentOutcome};

    use super::*;

    fn decide(store: &Store, strategy: &str, channel: ChannelId, at: u64) -> i64 {
        let cycle = store.begin_cycle(strategy, "", at, 1).unwrap();
        let guarded = GuardedDecision {
            channel_id: channel,
            policy: Some(FeePolicy::default()),
            clamps: Vec::new(),
        };
        let id = store
            .record_decision(&DecisionRecord {
                cycle_id: cycle,
                at,
                strategy,
                strategy_sha256: "",
                raw: None,
                guarded: &guarded,
                reason: "",
            })
            .unwrap();
        store
            .finish_cycle(cycle, at, CycleStatus::Ok, None)
            .unwrap();
        id
    }

    /// A forward worth `fee` msat out through `channel`, `ago` seconds before `now`.
    fn earn(store: &Store, index: u64, channel: ChannelId, now: u64, ago: u64, fee: u64) {
        let forward = Forward {
            index,
            at_ns: (now - ago) * NS,
            chan_in: if channel == 2 { 1 } else { 2 },
            chan_out: channel,
            amt_in_msat: 1_000_000 + fee,
            amt_out_msat: 1_000_000,
            fee_msat: fee,
        };
        store.add_forwards(&[forward], index + 1).unwrap();
    }

    #[test]
    fn revenue_goes_to_the_strategy_deciding_at_the_time() {
        let store = Store::open_in_memory().unwrap();
        let now = 100 * DAY;
        decide(&store, "hill", 1, now - 20 * DAY);
        let applied = decide(&store, "flow", 1, now - 3 * DAY);
        let intent = store
            .record_intent(
                1,
                Some(applied),
                &FeePolicy::default(),
                &FeePolicy::default(),
                now - 3 * DAY,
            )
            .unwrap();
        store
            .resolve_intent(intent, IntentOutcome::Applied, now - 3 * DAY)
            .unwrap();
        earn(&store, 1, 1, now, 10 * DAY, 1000); // hill, in the 30-day window
        earn(&store, 2, 1, now, 5 * DAY, 2000); // hill, in the 7-day window
        earn(&store, 3, 1, now, 2 * DAY, 4000); // flow
        earn(&store, 4, 1, now, 3600, 8000); // flow, in the 1-day window
        earn(&store, 5, 2, now, 3600, 16000); // a channel no strategy decides

        let report = activity_report(&store, now).unwrap();
        let by_name = |name: &str| {
            report
                .strategies
                .iter()
                .find(|s| s.strategy.as_deref() == Some(name))
                .unwrap()
        };
        assert_eq!(
            by_name("hill").revenue_msat,
            Revenue {
                day: 0,
                week: 2000,
                month: 3000
            }
        );
        assert_eq!(
            by_name("flow").revenue_msat,
            Revenue {
                day: 8000,
                week: 12000,
                month: 12000
            }
        );
        assert_eq!(by_name("flow").counts.applied, 1);
        assert_eq!(by_name("hill").cycles, 1);

        assert_eq!(report.channels.len(), 2);
        let first = &report.channels[0];
        assert_eq!(first.strategy.as_deref(), Some("flow"));
        assert_eq!(first.counts.decisions, 2);
        assert_eq!(
            first.revenue_msat,
            Revenue {
                day: 8000,
                week: 14000,
                month: 15000
            }
        );
        assert_eq!(report.channels[1].strategy, None);
        assert_eq!(report.channels[1].revenue_msat.day, 16000);
    }
}
