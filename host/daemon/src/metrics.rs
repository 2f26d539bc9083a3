//! The daemon's counters and gauges, in Prometheus' text format. Everything is derived from
//! what the daemon already has in hand (cycle outcomes, registry events, the store), so a
//! metric can never disagree with the audit trail it summarises.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use lnpolicy_engine::ConfiguredOutcome;
use lnpolicy_policy::apply::ReconcileReport;
use lnpolicy_policy::configured::PlanOutcome;

/// One metric: name, type, help text and its samples (labels as written, value).
type Family = (&'static str, &'static str, &'static str, Vec<(String, u64)>);

/// How a scheduled run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Ok,
    Failed,
    /// Stopped at an await point on shutdown; its update in flight, if any, stays pending.
    Abandoned,
}

impl RunStatus {
    const ALL: [RunStatus; 3] = [RunStatus::Ok, RunStatus::Failed, RunStatus::Abandoned];

    fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Abandoned => "abandoned",
        }
    }
}

/// One counter per label value, in the order the labels are listed.
#[derive(Default)]
struct ByStatus([AtomicU64; 3]);

impl ByStatus {
    fn add(&self, status: RunStatus) {
        let index = RunStatus::ALL
            .iter()
            .position(|s| *s == status)
            .expect("listed");
        self.0[index].fetch_add(1, Ordering::Relaxed);
    }
}

/// Counters only go up; gauges are set from the latest cycle or collection.
#[derive(Default)]
pub struct Metrics {
    cycles: ByStatus,
    collections: ByStatus,
    decisions: AtomicU64,
    clamps: AtomicU64,
    guest_failures: AtomicU64,
    quarantines: AtomicU64,
    updates_applied: AtomicU64,
    updates_failed: AtomicU64,
    channels_failed: AtomicU64,
    updates_unanswered: AtomicU64,
    rollbacks: AtomicU64,
    updates_below_delta: AtomicU64,
    updates_unchanged: AtomicU64,
    updates_held: AtomicU64,
    reconciled_applied: AtomicU64,
    reconciled_not_applied: AtomicU64,
    config_reloads_ok: AtomicU64,
    config_reloads_rejected: AtomicU64,
    strategy_reloads: AtomicU64,
    revenue_1d_msat: AtomicU64,
    revenue_7d_msat: AtomicU64,
    channels: AtomicU64,
    quarantined: AtomicU64,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

impl Metrics {
    /// Counts what a finished config cycle decided and sent.
    pub(crate) fn record_cycle(&self, outcome: &ConfiguredOutcome) {
        self.cycles.add(RunStatus::Ok);
        for plan in &outcome.plans {
            match &plan.outcome {
                PlanOutcome::Decided { guarded, .. } => {
                    add(&self.decisions, 1);
                    add(&self.clamps, guarded.clamps.len());
                }
                PlanOutcome::Failed(_) => add(&self.channels_failed, 1),
                PlanOutcome::NoPolicy | PlanOutcome::Held(_) => {}
            }
        }
        for report in [&outcome.applied, &outcome.rolled_back]
            .into_iter()
            .flatten()
        {
            add(&self.updates_applied, report.applied.len());
            let unanswered = report.failed.iter().filter(|(_, e)| e.outcome_unknown());
            let unanswered = unanswered.count();
            add(&self.updates_unanswered, unanswered);
            add(&self.updates_failed, report.failed.len() - unanswered);
            add(&self.updates_below_delta, report.below_delta);
            add(&self.updates_unchanged, report.unchanged);
            add(&self.updates_held, report.held.len());
        }
        if let Some(rolled_back) = &outcome.rolled_back {
            add(&self.rollbacks, rolled_back.applied.len());
        }
        self.set_channels(outcome.channels.len());
    }

    /// A cycle that ended without an outcome: failed or abandoned.
    pub(crate) fn record_cycle_end(&self, status: RunStatus) {
        self.cycles.add(status);
    }

    pub(crate) fn record_collection(&self, status: RunStatus) {
        self.collections.add(status);
    }

    pub(crate) fn record_reconciled(&self, report: &ReconcileReport) {
        add(&self.reconciled_applied, report.applied.len());
        add(&self.reconciled_not_applied, report.not_applied.len());
    }

    pub(crate) fn record_config_reload(&self, ok: bool) {
        add(
            if ok {
                &self.config_reloads_ok
            } else {
                &self.config_reloads_rejected
            },
            1,
        );
    }

    pub(crate) fn record_guest_failure(&self) {
        add(&self.guest_failures, 1);
    }

    pub(crate) fn record_quarantine(&self) {
        add(&self.quarantines, 1);
    }

    pub(crate) fn record_strategy_reload(&self) {
        add(&self.strategy_reloads, 1);
    }

    pub(crate) fn set_quarantined(&self, strategies: usize) {
        self.quarantined.store(strategies as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_channels(&self, channels: usize) {
        self.channels.store(channels as u64, Ordering::Relaxed);
    }

    pub(crate) fn set_revenue(&self, day_msat: u64, week_msat: u64) {
        self.revenue_1d_msat.store(day_msat, Ordering::Relaxed);
        self.revenue_7d_msat.store(week_msat, Ordering::Relaxed);
    }

    /// The exposition text (format version 0.0.4).
    pub fn render(&self) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let one = |c: &AtomicU64| vec![(String::new(), get(c))];
        let labeled = |key: &str, values: &[(&str, &AtomicU64)]| -> Vec<(String, u64)> {
            values
                .iter()
                .map(|(value, c)| (format!("{{{key}=\"{value}\"}}"), get(c)))
                .collect()
        };
        let by_status = |counters: &ByStatus| -> Vec<(String, u64)> {
            let values: Vec<(&str, &AtomicU64)> = RunStatus::ALL
                .iter()
                .map(|s| s.as_str())
                .zip(&counters.0)
                .collect();
            labeled("status", &values)
        };
        let families: [Family; 15] = [
            (
                "lnpolicy_cycles_total",
                "counter",
                "Config cycles (collect, decide, apply) by how they ended.",
                by_status(&self.cycles),
            ),
            (
                "lnpolicy_collections_total",
                "counter",
                "Collect-only runs between cycles by how they ended.",
                by_status(&self.collections),
            ),
            (
                "lnpolicy_decisions_total",
                "counter",
                "Channel decisions made by strategies and recorded after the guard.",
                one(&self.decisions),
            ),
            (
                "lnpolicy_clamps_total",
                "counter",
                "Limits the guard applied to strategies' decisions.",
                one(&self.clamps),
            ),
            (
                "lnpolicy_channels_failed_total",
                "counter",
                "Channels a cycle left unchanged because their section could not be run (its strategy missing, quarantined or failing, a parameter it does not take).",
                one(&self.channels_failed),
            ),
            (
                "lnpolicy_guest_failures_total",
                "counter",
                "Strategy calls that trapped, timed out or returned malformed output.",
                one(&self.guest_failures),
            ),
            (
                "lnpolicy_quarantines_total",
                "counter",
                "Strategies quarantined after failing cycles in a row.",
                one(&self.quarantines),
            ),
            (
                "lnpolicy_updates_total",
                "counter",
                "Policy updates by result: sent and applied, sent and refused, sent without an \
                 answer (reconciled later), or not sent (below delta, unchanged, held by the \
                 hourly cap).",
                labeled(
                    "result",
                    &[
                        ("applied", &self.updates_applied),
                        ("failed", &self.updates_failed),
                        ("unanswered", &self.updates_unanswered),
                        ("below_delta", &self.updates_below_delta),
                        ("unchanged", &self.updates_unchanged),
                        ("held", &self.updates_held),
                    ],
                ),
            ),
            (
                "lnpolicy_rollbacks_total",
                "counter",
                "Changes rolled back because the channel's revenue fell (also in updates_total).",
                one(&self.rollbacks),
            ),
            (
                "lnpolicy_reconciled_total",
                "counter",
                "Update intents left pending by a crash, resolved against the node.",
                labeled(
                    "result",
                    &[
                        ("applied", &self.reconciled_applied),
                        ("not_applied", &self.reconciled_not_applied),
                    ],
                ),
            ),
            (
                "lnpolicy_config_reloads_total",
                "counter",
                "Config reloads (SIGHUP or a changed file) by result.",
                labeled(
                    "result",
                    &[
                        ("ok", &self.config_reloads_ok),
                        ("rejected", &self.config_reloads_rejected),
                    ],
                ),
            ),
            (
                "lnpolicy_strategy_reloads_total",
                "counter",
                "Strategies loaded, replaced or removed from the strategies folder while running.",
                one(&self.strategy_reloads),
            ),
            (
                "lnpolicy_revenue_msat",
                "gauge",
                "Routing fees earned over the window, from the collected forwards.",
                labeled(
                    "window",
                    &[("1d", &self.revenue_1d_msat), ("7d", &self.revenue_7d_msat)],
                ),
            ),
            (
                "lnpolicy_channels",
                "gauge",
                "Channels the node reported at the last collection.",
                one(&self.channels),
            ),
            (
                "lnpolicy_quarantined_strategies",
                "gauge",
                "Strategies quarantined after the last cycle: not called, their channels left as they are.",
                one(&self.quarantined),
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, samples) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{name}{labels} {value}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use lnpolicy_collector::CollectReport;
    use lnpolicy_core::NodeError;
    use lnpolicy_engine::ConfiguredOutcome;
    use lnpolicy_policy::apply::ApplyReport;

    use super::Metrics;

    #[test]
    fn rollbacks_and_unanswered_updates_are_counted_apart() {
        let metrics = Metrics::default();
        let timeout = || NodeError::Timeout {
            method: "lnrpc.Lightning/UpdateChannelPolicy",
        };
        let refused = || NodeError::Rejected {
            method: "lnrpc.Lightning/UpdateChannelPolicy",
            detail: "time lock delta too small".into(),
        };
        metrics.record_cycle(&ConfiguredOutcome {
            collected: CollectReport::default(),
            channels: Vec::new(),
            inputs: Vec::new(),
            views: Vec::new(),
            plans: Vec::new(),
            would_hold: Default::default(),
            applied: Some(ApplyReport {
                applied: vec![1],
                failed: vec![(2, timeout()), (3, refused())],
                held: vec![8, 9],
                ..ApplyReport::default()
            }),
            rollbacks: Vec::new(),
            rolled_back: Some(ApplyReport {
                applied: vec![4, 5],
                failed: vec![(6, refused())],
                held: vec![7],
                ..ApplyReport::default()
            }),
            extra_node_calls: 0,
        });
        let text = metrics.render();
        for series in [
            "lnpolicy_updates_total{result=\"applied\"} 3",
            "lnpolicy_updates_total{result=\"failed\"} 2",
            "lnpolicy_updates_total{result=\"unanswered\"} 1",
            "lnpolicy_rollbacks_total 2",
            "lnpolicy_updates_total{result=\"held\"} 3",
        ] {
            assert!(text.lines().any(|line| line == series), "{series}\n{text}");
        }
    }
}
