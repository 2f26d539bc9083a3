//! The activity report and the status on a real SQLite file with the awkward cases a
//! running daemon leaves: failed and quarantined strategies, a cycle cut short, a failed
//! and a pending update, and a rollback recorded the way `lnpolicy_policy::rollback`
//! records it (a decision of the pseudo-strategy `rollback`).

use lnpolicy_core::{
    Clamp, FeePolicy, Forward, GuardedDecision, Rule, StrategyEvent, StrategyEventKind,
};
use lnpolicy_report::{activity_report, status_report, text};
use lnpolicy_store::{CycleStatus, DecisionRecord, IntentOutcome, Store};

const NOW: u64 = 1_740_830_400;
const HOUR: u64 = 3600;

fn policy(fee_ppm: u32) -> FeePolicy {
    FeePolicy {
        fee_ppm,
        ..FeePolicy::default()
    }
}

/// One decision of `strategy` at `at` in its own finished cycle.
fn decide(store: &Store, strategy: &str, at: u64, guarded: &GuardedDecision, reason: &str) -> i64 {
    let cycle = store.begin_cycle(strategy, "ab", at, 1).unwrap();
    let id = store
        .record_decision(&DecisionRecord {
            cycle_id: cycle,
            at,
            strategy,
            strategy_sha256: "ab",
            raw: None,
            guarded,
            reason,
        })
        .unwrap();
    store
        .finish_cycle(cycle, at + 1, CycleStatus::Ok, None)
        .unwrap();
    id
}

fn event(strategy: &str, kind: StrategyEventKind, at: u64, detail: &str) -> StrategyEvent {
    StrategyEvent {
        at,
        strategy: strategy.into(),
        sha256: "cd".into(),
        kind,
        detail: detail.into(),
    }
}

#[test]
fn activity_and_status_of_a_busy_database() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();

    // hill raises channel 1, revenue falls, the rollback restores 100 ppm.
    let up = decide(&store, "hill", NOW - 48 * HOUR, &raise_for(1), "explore up");
    let intent = store
        .record_intent(1, Some(up), &policy(100), &policy(300), NOW - 48 * HOUR)
        .unwrap();
    store
        .resolve_intent(intent, IntentOutcome::Applied, NOW - 48 * HOUR)
        .unwrap();
    let restore = GuardedDecision {
        channel_id: 1,
        policy: Some(policy(100)),
        clamps: Vec::new(),
    };
    let undo = decide(
        &store,
        "rollback",
        NOW - 20 * HOUR,
        &restore,
        "rollback: revenue fell from 900 to 100 msat/h; restoring 100 ppm",
    );
    let intent = store
        .record_intent(1, Some(undo), &policy(300), &policy(100), NOW - 20 * HOUR)
        .unwrap();
    store
        .resolve_intent(intent, IntentOutcome::Applied, NOW - 20 * HOUR)
        .unwrap();

    // hill's update of channel 2 is refused by the node; another is in flight.
    let refused = decide(&store, "hill", NOW - 10 * HOUR, &raise_for(2), "explore up");
    let intent = store
        .record_intent(
            2,
            Some(refused),
            &policy(100),
            &policy(300),
            NOW - 10 * HOUR,
        )
        .unwrap();
    store
        .resolve_intent(
            intent,
            IntentOutcome::Failed("peer offline".into()),
            NOW - 10 * HOUR,
        )
        .unwrap();
    let pending = decide(&store, "hill", NOW - HOUR, &raise_for(2), "explore up");
    store
        .record_intent(2, Some(pending), &policy(100), &policy(300), NOW - HOUR)
        .unwrap();

    // `broken` fails until quarantined; `flaky` was quarantined, then fixed.
    for at in [NOW - 3 * HOUR, NOW - 2 * HOUR] {
        let cycle = store.begin_cycle("broken", "cd", at, 2).unwrap();
        store
            .finish_cycle(cycle, at, CycleStatus::Failed, Some("trap: unreachable"))
            .unwrap();
    }
    let cycle = store.begin_cycle("broken", "cd", NOW - HOUR, 2).unwrap();
    store
        .finish_cycle(
            cycle,
            NOW - HOUR,
            CycleStatus::Quarantined,
            Some("trap: unreachable"),
        )
        .unwrap();
    for e in [
        event("broken", StrategyEventKind::Loaded, NOW - 4 * HOUR, "v1"),
        event(
            "broken",
            StrategyEventKind::Quarantined,
            NOW - HOUR,
            "3 failed cycles in a row; not called until its file changes",
        ),
        event(
            "flaky",
            StrategyEventKind::Quarantined,
            NOW - 9 * HOUR,
            "3 failed",
        ),
        event("flaky", StrategyEventKind::Reloaded, NOW - 8 * HOUR, "v2"),
    ] {
        store.record_event(&e).unwrap();
    }
    // A cycle the daemon never finished (it died, or is running now).
    store.begin_cycle("flaky", "ef", NOW - 60, 4).unwrap();

    // Revenue: channel 1 earned under hill, then under the rollback.
    let forwards: Vec<Forward> = [(NOW - 30 * HOUR, 5000), (NOW - 2 * HOUR, 700)]
        .into_iter()
        .enumerate()
        .map(|(i, (at, fee))| Forward {
            index: i as u64,
            at_ns: at * 1_000_000_000,
            chan_in: 2,
            chan_out: 1,
            amt_in_msat: 10_000_000 + fee,
            amt_out_msat: 10_000_000,
            fee_msat: fee,
        })
        .collect();
    store.add_forwards(&forwards, 2).unwrap();
    store
        .record_assignments("fees", 0.5, &[(1, lnpolicy_store::Arm::A)], NOW - 50 * HOUR)
        .unwrap();

    let activity = activity_report(&store, NOW).unwrap();
    let strategy = |name: &str| {
        activity
            .strategies
            .iter()
            .find(|s| s.strategy.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name} missing: {activity:#?}"))
    };
    let hill = strategy("hill");
    assert_eq!(hill.counts.decisions, 3);
    assert_eq!(hill.counts.clamped, 3);
    assert_eq!(hill.counts.applied, 1);
    assert_eq!(hill.counts.failed, 1);
    assert_eq!(hill.counts.pending, 1);
    assert_eq!(
        hill.counts.rolled_back, 1,
        "the rollback undid hill's change"
    );
    assert_eq!((hill.revenue_msat.day, hill.revenue_msat.week), (0, 5000));
    let rollback = strategy("rollback");
    assert_eq!(
        (rollback.counts.applied, rollback.counts.rolled_back),
        (1, 0)
    );
    assert_eq!(rollback.revenue_msat.day, 700);
    let broken = strategy("broken");
    assert_eq!(
        (broken.cycles, broken.failed_cycles, broken.channels),
        (3, 3, 0)
    );

    let channel = &activity.channels[0];
    assert_eq!(channel.strategy.as_deref(), Some("rollback"));
    assert_eq!(channel.counts.rolled_back, 1);
    assert_eq!(channel.revenue_msat.week, 5700);

    let table = text::activity_table(&activity);
    assert!(
        table.contains("ROLLED BACK") && table.contains("broken"),
        "{table}"
    );

    let status = status_report(&store, NOW).unwrap();
    let names: Vec<&str> = status
        .strategies
        .iter()
        .map(|s| s.strategy.as_str())
        .collect();
    assert_eq!(names, ["broken", "flaky", "hill", "rollback"]);
    assert_eq!(status.strategies[0].status, "quarantined");
    assert_eq!(
        status.strategies[0].error.as_deref(),
        Some("trap: unreachable")
    );
    assert_eq!(status.strategies[0].last_ok_at, None);
    assert_eq!(status.strategies[1].status, "unfinished");
    assert_eq!(status.pending_intents.len(), 1);
    assert_eq!(status.pending_intents[0].to_fee_ppm, 300);
    let quarantined: Vec<&str> = status
        .quarantined
        .iter()
        .map(|q| q.strategy.as_str())
        .collect();
    assert_eq!(quarantined, ["broken"], "flaky was reloaded since");
    assert_eq!(status.experiments[0].channels_a, 1);

    let table = text::status_table(&status);
    assert!(
        table.contains("Quarantined strategies (not called"),
        "{table}"
    );
    assert!(
        table.contains("never"),
        "broken never had an ok cycle: {table}"
    );
    assert!(
        serde_json::to_string(&status)
            .unwrap()
            .contains("\"unfinished\"")
    );
}

/// hill asking for 900 ppm and the guard's max step holding it to 300.
fn raise_for(channel: u64) -> GuardedDecision {
    GuardedDecision {
        channel_id: channel,
        policy: Some(policy(300)),
        clamps: vec![Clamp {
            field: "fee_ppm".into(),
            requested: 900,
            applied: 300,
            rule: Rule::MaxStep,
        }],
    }
}

#[test]
fn an_empty_database_reports_nothing_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let activity = activity_report(&store, NOW).unwrap();
    assert!(activity.channels.is_empty() && activity.strategies.is_empty());
    assert!(text::activity_table(&activity).contains("No strategy has run yet."));
    let status = text::status_table(&status_report(&store, NOW).unwrap());
    assert!(status.contains("no cycle has run yet") && status.contains("Experiments: none"));
}
