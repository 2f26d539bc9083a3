use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use lnpolicy_core::{
    Clamp, Decision, EventSink, FeePolicy, GuardedDecision, NodeKind, PolicyChange, Rule,
    StrategyEvent, StrategyEventKind,
};
use tempfile::TempDir;

use crate::*;

fn temp_db() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lnpolicy.db");
    (dir, path)
}

fn event(strategy: &str, kind: StrategyEventKind, at: u64) -> StrategyEvent {
    StrategyEvent {
        at,
        strategy: strategy.to_owned(),
        sha256: "ab".repeat(32),
        kind,
        detail: format!("{} at {at}", kind.as_str()),
    }
}

fn policy(fee_ppm: u32) -> FeePolicy {
    FeePolicy {
        base_fee_msat: 1000,
        fee_ppm,
        inbound_base_fee_msat: -100,
        inbound_fee_ppm: -50,
        min_htlc_msat: 1,
        max_htlc_msat: 990_000_000,
        time_lock_delta: 80,
        disabled: false,
    }
}

fn table_names(store: &Store) -> Vec<String> {
    let conn = store.lock();
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .unwrap();
    stmt.query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn migrates_an_empty_file_with_wal_and_foreign_keys() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert!(path.exists());
    assert_eq!(store.path(), path);
    assert_eq!(
        store.schema_version().unwrap(),
        migrations::latest_version()
    );
    assert_eq!(
        table_names(&store),
        [
            "channel_analyses",
            "channel_fee_changes",
            "channel_open_cost_lookups",
            "channel_open_costs",
            "channel_snapshots",
            "collector_cursors",
            "cycles",
            "decision_fold_cursor",
            "decision_tallies",
            "decisions",
            "experiment_arm_definitions",
            "experiment_assignments",
            "failed_forwards",
            "forwards",
            "learned_htlc_floors",
            "node_identity",
            "payment_parts",
            "peer_fees",
            "strategy_events",
            "strategy_state",
            "unresolved_payments",
            "update_intents",
        ]
    );
    let conn = store.lock();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let foreign_keys: i64 = conn
        .pragma_query_value(None, "foreign_keys", |row| row.get(0))
        .unwrap();
    assert_eq!(foreign_keys, 1);
    let busy: i64 = conn
        .pragma_query_value(None, "busy_timeout", |row| row.get(0))
        .unwrap();
    assert_eq!(busy, 5000);
}

#[test]
fn reopening_keeps_data_and_does_not_rerun_migrations() {
    let (_dir, path) = temp_db();
    {
        let store = Store::open(&path).unwrap();
        store
            .record_event(&event("s", StrategyEventKind::Loaded, 1))
            .unwrap();
        store
            .state_apply("s", &[("k".into(), Some(vec![1, 2]))], 1)
            .unwrap();
    }
    // Rerunning 0001 would fail on CREATE TABLE, so a successful open with the
    // data intact shows the recorded version was honoured.
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        migrations::latest_version()
    );
    assert_eq!(
        store.events(None).unwrap(),
        [event("s", StrategyEventKind::Loaded, 1)]
    );
    assert_eq!(store.state_get("s", "k").unwrap(), Some(vec![1, 2]));
}

#[test]
fn refuses_a_database_from_a_newer_binary() {
    let (_dir, path) = temp_db();
    drop(Store::open(&path).unwrap());
    let future = migrations::latest_version() + 1;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", future)
        .unwrap();

    let error = Store::open(&path)
        .err()
        .expect("newer schema must be refused");
    assert!(
        matches!(error, StoreError::TooNew { found, known, .. }
            if found == future && known == migrations::latest_version()),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains(&format!("version {future}")), "{message}");
    assert!(
        message.contains(&format!("version {}", migrations::latest_version())),
        "{message}"
    );
    assert!(
        message.contains("0023_experiment_assignment_splits.sql"),
        "{message}"
    );
    // Refusing must not touch the file.
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, i64::from(future));
}

#[test]
fn open_errors_name_the_path() {
    let (dir, _) = temp_db();
    let path = dir.path().join("missing-dir").join("x.db");
    let error = Store::open(&path).err().expect("no such directory");
    assert!(matches!(error, StoreError::Open { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("opening {}: ", path.display())),
        "{error}"
    );
}

#[test]
fn events_round_trip_in_order_and_filter_by_strategy() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let kinds = [
        StrategyEventKind::Loaded,
        StrategyEventKind::Reloaded,
        StrategyEventKind::Rejected,
        StrategyEventKind::Unloaded,
        StrategyEventKind::CallFailed,
        StrategyEventKind::OutputTruncated,
        StrategyEventKind::Quarantined,
    ];
    let mut all = Vec::new();
    let mut ids = Vec::new();
    for (i, kind) in kinds.into_iter().enumerate() {
        let strategy = if i % 2 == 0 { "even" } else { "odd" };
        let e = event(strategy, kind, 1_700_000_000 + i as u64);
        ids.push(store.record_event(&e).unwrap());
        all.push(e);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(store.events(None).unwrap(), all);
    let odd: Vec<_> = all
        .iter()
        .filter(|e| e.strategy == "odd")
        .cloned()
        .collect();
    assert_eq!(store.events(Some("odd")).unwrap(), odd);
    assert!(store.events(Some("nobody")).unwrap().is_empty());
}

#[test]
fn unknown_event_kind_is_a_clear_error() {
    let store = Store::open_in_memory().unwrap();
    store
        .lock()
        .execute(
            "INSERT INTO strategy_events (at, strategy, sha256, kind, detail)
             VALUES (1, 's', '', 'exploded', '')",
            [],
        )
        .unwrap();
    let error = store.events(None).unwrap_err();
    assert!(error.to_string().contains("\"exploded\""), "{error}");
}

#[test]
fn event_sink_records_and_survives_a_failed_insert() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let sink: &dyn EventSink = &store;
    let e = event("s", StrategyEventKind::CallFailed, 7);
    sink.record(&e);
    assert_eq!(store.events(Some("s")).unwrap(), std::slice::from_ref(&e));

    store
        .lock()
        .execute_batch("DROP TABLE strategy_events")
        .unwrap();
    sink.record(&e);
}

#[test]
fn cycle_lifecycle() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let first = store.begin_cycle("fee", "aa", 100, 12).unwrap();
    let second = store.begin_cycle("fee", "aa", 200, 3).unwrap();
    assert_eq!(
        store.cycle(first).unwrap().unwrap(),
        Cycle {
            id: first,
            strategy: "fee".into(),
            sha256: "aa".into(),
            started_at: 100,
            finished_at: None,
            channels: 12,
            status: None,
            error: None,
        }
    );

    store
        .finish_cycle(first, 110, CycleStatus::Ok, None)
        .unwrap();
    store
        .finish_cycle(
            second,
            230,
            CycleStatus::Quarantined,
            Some("trap: unreachable"),
        )
        .unwrap();
    let finished = store.cycle(second).unwrap().unwrap();
    assert_eq!(finished.finished_at, Some(230));
    assert_eq!(finished.status, Some(CycleStatus::Quarantined));
    assert_eq!(finished.error.as_deref(), Some("trap: unreachable"));

    let again = store
        .finish_cycle(first, 120, CycleStatus::Failed, Some("late"))
        .unwrap_err();
    assert!(
        matches!(again, StoreError::CycleNotOpen { .. }),
        "{again:?}"
    );
    assert!(
        again.to_string().contains("already finished (ok)"),
        "{again}"
    );
    assert_eq!(
        store.cycle(first).unwrap().unwrap().status,
        Some(CycleStatus::Ok)
    );
    let missing = store
        .finish_cycle(999, 1, CycleStatus::Ok, None)
        .unwrap_err();
    assert!(missing.to_string().contains("no such cycle"), "{missing}");
    assert_eq!(store.cycle(999).unwrap(), None);

    let recent: Vec<i64> = store
        .recent_cycles(10)
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(recent, [second, first]);
    assert_eq!(store.recent_cycles(1).unwrap().len(), 1);
}

#[test]
fn decisions_round_trip() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let cycle = store.begin_cycle("fee", "aa", 100, 2).unwrap();
    // Top bit set: checks the bit-cast survives the trip through SQLite.
    let high = u64::MAX - 5;
    let low = 800_000u64 << 40 | 1 << 16 | 1;

    let raw = Decision {
        channel_id: high,
        change: PolicyChange {
            fee_ppm: Some(5000),
            ..PolicyChange::default()
        },
        reason: "drained".into(),
    };
    let guarded = GuardedDecision {
        channel_id: high,
        policy: Some(policy(2500)),
        clamps: vec![Clamp {
            field: "fee_ppm".into(),
            requested: 5000,
            applied: 2500,
            rule: Rule::MaxStep,
        }],
    };
    let trapped = GuardedDecision {
        channel_id: low,
        policy: None,
        clamps: vec![],
    };
    let first = store
        .record_decision(&DecisionRecord {
            cycle_id: cycle,
            at: 101,
            strategy: "fee",
            strategy_sha256: "aa",
            raw: Some(&raw),
            guarded: &guarded,
            reason: "drained",
        })
        .unwrap();
    let second = store
        .record_decision(&DecisionRecord {
            cycle_id: cycle,
            at: 102,
            strategy: "fee",
            strategy_sha256: "aa",
            raw: None,
            guarded: &trapped,
            reason: "strategy trapped",
        })
        .unwrap();

    let stored = store.decisions_for_cycle(cycle).unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[0],
        StoredDecision {
            id: first,
            cycle_id: cycle,
            at: 101,
            channel_id: high,
            strategy: "fee".into(),
            strategy_sha256: "aa".into(),
            raw: Some(raw.clone()),
            guarded: guarded.clone(),
            reason: "drained".into(),
        }
    );
    assert_eq!(stored[1].id, second);
    assert_eq!(stored[1].raw, None);
    assert_eq!(stored[1].guarded, trapped);
    let clamps: i64 = store
        .lock()
        .query_row("SELECT clamps FROM decisions WHERE id = ?1", [first], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(clamps, 1);

    let later = store.begin_cycle("fee", "aa", 200, 1).unwrap();
    let third = store
        .record_decision(&DecisionRecord {
            cycle_id: later,
            at: 201,
            strategy: "fee",
            strategy_sha256: "aa",
            raw: Some(&raw),
            guarded: &guarded,
            reason: "still drained",
        })
        .unwrap();
    let history: Vec<i64> = store
        .decisions_for_channel(high, 10)
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(history, [third, first]);
    assert_eq!(store.decisions_for_channel(high, 1).unwrap()[0].id, third);
    assert_eq!(store.decisions_for_channel(low, 10).unwrap()[0].id, second);
    assert!(store.decisions_for_cycle(999).unwrap().is_empty());
}

#[test]
fn decisions_need_an_existing_cycle_and_a_consistent_channel() {
    let store = Store::open_in_memory().unwrap();
    let guarded = GuardedDecision {
        channel_id: 1,
        policy: None,
        clamps: vec![],
    };
    let orphan = DecisionRecord {
        cycle_id: 42,
        at: 1,
        strategy: "fee",
        strategy_sha256: "aa",
        raw: None,
        guarded: &guarded,
        reason: "",
    };
    let error = store.record_decision(&orphan).unwrap_err();
    assert!(
        error.to_string().contains("FOREIGN KEY constraint failed"),
        "{error}"
    );

    let cycle = store.begin_cycle("fee", "aa", 1, 1).unwrap();
    let other = Decision {
        channel_id: 2,
        change: PolicyChange::default(),
        reason: String::new(),
    };
    let error = store
        .record_decision(&DecisionRecord {
            cycle_id: cycle,
            raw: Some(&other),
            ..orphan
        })
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid { .. }), "{error:?}");
}

#[test]
fn intent_lifecycle() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let cycle = store.begin_cycle("fee", "aa", 1, 1).unwrap();
    let guarded = GuardedDecision {
        channel_id: u64::MAX,
        policy: Some(policy(200)),
        clamps: vec![],
    };
    let decision = store
        .record_decision(&DecisionRecord {
            cycle_id: cycle,
            at: 1,
            strategy: "fee",
            strategy_sha256: "aa",
            raw: None,
            guarded: &guarded,
            reason: "",
        })
        .unwrap();

    let applied = store
        .record_intent(u64::MAX, Some(decision), &policy(100), &policy(200), 10)
        .unwrap();
    let failed = store
        .record_intent(7, None, &policy(300), &policy(310), 11)
        .unwrap();
    let pending = store.pending_intents().unwrap();
    assert_eq!(
        pending[0],
        Intent {
            id: applied,
            created_at: 10,
            channel_id: u64::MAX,
            decision_id: Some(decision),
            previous: policy(100),
            desired: policy(200),
            status: IntentStatus::Pending,
            resolved_at: None,
            error: None,
        }
    );
    assert_eq!(pending[1].id, failed);

    // Committed before any node call: a second connection sees it at once.
    let seen: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM update_intents WHERE status = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seen, 2);

    store
        .resolve_intent(applied, IntentOutcome::Applied, 12)
        .unwrap();
    store
        .resolve_intent(failed, IntentOutcome::Failed("peer offline".into()), 13)
        .unwrap();
    assert!(store.pending_intents().unwrap().is_empty());
    let resolved = store.intent(applied).unwrap().unwrap();
    assert_eq!(resolved.status, IntentStatus::Applied);
    assert_eq!(resolved.resolved_at, Some(12));
    assert_eq!(resolved.error, None);
    let refused = store.intent(failed).unwrap().unwrap();
    assert_eq!(refused.status, IntentStatus::Failed);
    assert_eq!(refused.error.as_deref(), Some("peer offline"));

    let twice = store
        .resolve_intent(applied, IntentOutcome::Failed("late".into()), 14)
        .unwrap_err();
    assert!(matches!(twice, StoreError::IntentNotPending { id, .. } if id == applied));
    assert!(
        twice.to_string().contains("already resolved (applied)"),
        "{twice}"
    );
    assert_eq!(store.intent(applied).unwrap().unwrap(), resolved);
    let missing = store
        .resolve_intent(999, IntentOutcome::Applied, 14)
        .unwrap_err();
    assert!(missing.to_string().contains("no such intent"), "{missing}");
    assert_eq!(store.intent(999).unwrap(), None);
}

#[test]
fn intents_survive_a_reopen_as_pending() {
    let (_dir, path) = temp_db();
    let id = {
        let store = Store::open(&path).unwrap();
        store
            .record_intent(5, None, &policy(1), &policy(2), 1)
            .unwrap()
    };
    let store = Store::open(&path).unwrap();
    let pending = store.pending_intents().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, id);
    assert_eq!(pending[0].desired, policy(2));
}

#[test]
fn state_apply_sets_deletes_and_overwrites_in_order() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    store
        .state_apply(
            "fee",
            &[
                ("a".into(), Some(b"1".to_vec())),
                ("b".into(), Some(b"2".to_vec())),
                ("c".into(), Some(vec![])),
            ],
            1,
        )
        .unwrap();
    store
        .state_apply("other", &[("a".into(), Some(b"x".to_vec()))], 1)
        .unwrap();
    store
        .state_apply(
            "fee",
            &[
                ("a".into(), None),
                ("b".into(), Some(b"old".to_vec())),
                ("b".into(), Some(b"new".to_vec())),
                ("d".into(), Some(b"4".to_vec())),
                ("d".into(), None),
                ("never".into(), None),
            ],
            2,
        )
        .unwrap();

    let expected = [("b", b"new".to_vec()), ("c", vec![])]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect::<std::collections::BTreeMap<_, _>>();
    assert_eq!(store.state_all("fee").unwrap(), expected);
    assert_eq!(store.state_get("fee", "a").unwrap(), None);
    assert_eq!(store.state_get("fee", "c").unwrap(), Some(vec![]));
    assert_eq!(store.state_get("other", "a").unwrap(), Some(b"x".to_vec()));
    assert!(store.state_all("nobody").unwrap().is_empty());
    let updated: i64 = store
        .lock()
        .query_row(
            "SELECT updated_at FROM strategy_state WHERE strategy = 'fee' AND key = 'b'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(updated, 2);
}

#[test]
fn state_apply_is_all_or_nothing() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    store
        .state_apply(
            "fee",
            &[
                ("keep".into(), Some(b"1".to_vec())),
                ("gone".into(), Some(b"2".to_vec())),
            ],
            1,
        )
        .unwrap();
    let before = store.state_all("fee").unwrap();
    // Make the last write of a batch fail after earlier ones already ran.
    store
        .lock()
        .execute_batch(
            "CREATE TEMP TRIGGER boom BEFORE INSERT ON strategy_state
             WHEN NEW.key = 'boom' BEGIN SELECT RAISE(ABORT, 'boom refused'); END",
        )
        .unwrap();
    let error = store
        .state_apply(
            "fee",
            &[
                ("keep".into(), Some(b"changed".to_vec())),
                ("gone".into(), None),
                ("new".into(), Some(b"3".to_vec())),
                ("boom".into(), Some(b"4".to_vec())),
            ],
            2,
        )
        .unwrap_err();
    assert!(error.to_string().contains("boom refused"), "{error}");
    assert!(
        error
            .to_string()
            .contains(&format!("writing strategy state in {}", path.display())),
        "{error}"
    );
    assert_eq!(store.state_all("fee").unwrap(), before);

    // The connection is usable again after the rollback.
    store
        .state_apply("fee", &[("gone".into(), None)], 3)
        .unwrap();
    assert_eq!(store.state_get("fee", "gone").unwrap(), None);
}

#[test]
fn integrity_check_passes_on_a_fresh_and_used_database() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    store.integrity_check().unwrap();
    store
        .record_event(&event("s", StrategyEventKind::Loaded, 1))
        .unwrap();
    store.integrity_check().unwrap();
    Store::open_in_memory().unwrap().integrity_check().unwrap();
}

#[test]
fn channel_id_helpers_round_trip_all_bits() {
    for id in [0, 1, 1 << 63, u64::MAX, 800_000 << 40] {
        assert_eq!(channel_id_from_sql(channel_id_to_sql(id)), id);
    }
    assert_eq!(channel_id_to_sql(u64::MAX), -1);
}

fn forward(index: u64) -> lnpolicy_core::Forward {
    lnpolicy_core::Forward {
        index,
        at_ns: index * 1_000_000_000,
        chan_in: 1 << 63,
        chan_out: 42,
        amt_in_msat: 1_001_000,
        amt_out_msat: 1_000_000,
        fee_msat: 1000,
    }
}

#[test]
fn forwards_are_stored_once_and_the_cursor_never_moves_back() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert_eq!(store.cursor(crate::Stream::Forwards).unwrap(), 0);
    let page: Vec<_> = (1..=5).map(forward).collect();
    assert_eq!(store.add_forwards(&page, 5).unwrap(), 5);
    assert_eq!(
        store.add_forwards(&page[2..], 5).unwrap(),
        0,
        "a page seen twice adds nothing"
    );
    assert_eq!(store.add_forwards(&page[..1], 1).unwrap(), 0);
    assert_eq!(
        store.cursor(crate::Stream::Forwards).unwrap(),
        5,
        "a stale page does not rewind"
    );
    let stored = store.forwards_between(0, u64::MAX).unwrap();
    assert_eq!(stored, page);
    assert_eq!(store.forward_count().unwrap(), 5);
    drop(store);
    let reopened = Store::open(&path).unwrap();
    assert_eq!(
        reopened.cursor(crate::Stream::Forwards).unwrap(),
        5,
        "resumes after restart"
    );
}

#[test]
fn an_lnd_offset_cursor_moves_to_the_last_forwards_time_once() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert_eq!(
        store.lnd_forwards_cursor_to_time().unwrap(),
        None,
        "nothing collected yet: nothing to move"
    );
    let page: Vec<_> = (1..=5).map(forward).collect();
    store.add_forwards(&page, 5).unwrap();
    store.add_failed_forwards(&[], 3).unwrap();
    assert_eq!(
        store.lnd_forwards_cursor_to_time().unwrap(),
        Some(5_000_000_000)
    );
    assert_eq!(
        store.cursor(crate::Stream::Forwards).unwrap(),
        5_000_000_000
    );
    assert_eq!(
        store.lnd_forwards_cursor_to_time().unwrap(),
        None,
        "a time is above any offset: moved once"
    );
    assert_eq!(
        store.cursor(crate::Stream::FailedForwards).unwrap(),
        3,
        "the failure stream's own sequence stays"
    );
}

#[test]
fn failed_forwards_and_snapshots_round_trip() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let failure = lnpolicy_core::FailedForward {
        index: 9,
        at_ns: 7,
        chan_in: 3,
        chan_out: None,
        amt_in_msat: 5,
        reason: lnpolicy_core::FailureReason::InsufficientBalance,
    };
    store
        .add_failed_forwards(std::slice::from_ref(&failure), 10)
        .unwrap();
    assert_eq!(
        store.failed_forwards_between(0, 100).unwrap(),
        vec![failure]
    );
    assert_eq!(store.cursor(crate::Stream::FailedForwards).unwrap(), 10);
    assert!(store.latest_channels().unwrap().is_empty());
}

#[test]
fn experiment_assignments_are_never_overwritten() {
    let (_dir, path) = temp_db();
    let top_bit = u64::MAX - 7;
    {
        let store = Store::open(&path).unwrap();
        assert!(store.experiment_arms("fees").unwrap().is_empty());
        let added = store
            .record_assignments(
                "fees",
                0.5,
                &[(1, Arm::A), (2, Arm::B), (top_bit, Arm::A)],
                10,
            )
            .unwrap();
        assert_eq!(added, 3);
        // The same channels with the other arm, one new channel, and a
        // duplicate within the batch: only the first sighting of 3 counts.
        let added = store
            .record_assignments(
                "fees",
                0.5,
                &[(1, Arm::B), (2, Arm::A), (3, Arm::B), (3, Arm::A)],
                20,
            )
            .unwrap();
        assert_eq!(added, 1);
        store
            .record_assignments("other", 0.5, &[(1, Arm::B)], 20)
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let expected = [(1, Arm::A), (2, Arm::B), (3, Arm::B), (top_bit, Arm::A)]
        .into_iter()
        .collect::<std::collections::BTreeMap<_, _>>();
    assert_eq!(store.experiment_arms("fees").unwrap(), expected);
    assert_eq!(
        store.experiment_arms("other").unwrap(),
        [(1, Arm::B)].into_iter().collect()
    );
    assert!(store.experiment_arms("nobody").unwrap().is_empty());
    let assigned_at: i64 = store
        .lock()
        .query_row(
            "SELECT assigned_at FROM experiment_assignments
             WHERE experiment = 'fees' AND channel_id = 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(assigned_at, 10);
}

#[test]
fn experiment_arms_are_checked_by_the_schema() {
    let store = Store::open_in_memory().unwrap();
    let insert = |arm: &str| {
        store.lock().execute(
            "INSERT INTO experiment_assignments (experiment, channel_id, arm, assigned_at)
             VALUES ('fees', 1, ?1, 0)",
            [arm],
        )
    };
    let refused = insert("c").unwrap_err().to_string();
    assert!(refused.contains("CHECK constraint failed"), "{refused}");
    assert!(store.experiment_arms("fees").unwrap().is_empty());
    assert_eq!(
        insert("a").unwrap(),
        1,
        "the same row with a real arm is taken"
    );
}

#[test]
fn a_later_lookup_adds_what_was_missing_and_replaces_a_share() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    store
        .record_open_cost_lookup(&[(2, 1500)], &[1, 2], 10)
        .unwrap();
    store
        .record_open_cost_lookup(&[(1, 1200), (2, 750)], &[1], 20)
        .unwrap();
    assert_eq!(
        store.open_costs().unwrap(),
        BTreeMap::from([(1, 1200), (2, 750)]),
        "a batch's fee split again when another of its channels showed up"
    );
}

#[test]
fn open_cost_lookups_round_trip_with_what_they_found() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert!(store.open_cost_lookups().unwrap().is_empty());
    store
        .record_open_cost_lookup(&[(1, 1500), (3, 900)], &[1, 2, 3], 100)
        .unwrap();
    store.record_open_cost_lookup(&[], &[2], 3700).unwrap();
    drop(store);

    let reopened = Store::open(&path).unwrap();
    assert_eq!(
        reopened.open_cost_lookups().unwrap(),
        BTreeMap::from([(1, 100), (2, 3700), (3, 100)]),
        "each channel keeps its latest lookup, found or not"
    );
    assert_eq!(
        reopened.open_costs().unwrap(),
        BTreeMap::from([(1, 1500), (3, 900)]),
        "found costs are kept, unfound ones stay missing"
    );
}

/// A plain open channel with `local_policy`, for the store's tests (reports' too).
pub(crate) fn node_channel(
    id: lnpolicy_core::ChannelId,
    local_policy: FeePolicy,
) -> lnpolicy_core::NodeChannel {
    lnpolicy_core::fixtures::node_channel(id, &"02".repeat(33), local_policy)
}

/// A settled forward of `fee_msat` leaving through `chan_out` at `at` (unix seconds).
fn paid(index: u64, chan_out: u64, at: u64, fee_msat: u64) -> lnpolicy_core::Forward {
    lnpolicy_core::Forward {
        index,
        at_ns: at * 1_000_000_000,
        chan_in: 99,
        chan_out,
        amt_in_msat: 1_000_000 + fee_msat,
        amt_out_msat: 1_000_000,
        fee_msat,
    }
}

/// Channel 1 is at 100 ppm from t=0, 200 ppm from t=7200 and an inbound
/// discount from t=14400; channel 2 stays at 300 ppm. Snapshots are hourly,
/// and the balance moves every hour so only the policy marks a change.
fn history_store(path: &std::path::Path) -> Store {
    let store = Store::open(path).unwrap();
    for hour in 0..6u64 {
        let mut first = policy(if hour < 2 { 100 } else { 200 });
        if hour >= 4 {
            first.inbound_fee_ppm = -100;
        }
        let mut one = node_channel(1, first);
        one.local_balance_sat += hour;
        let two = node_channel(2, policy(300));
        store
            .add_channel_snapshot(hour * 3600, &[one, two])
            .unwrap();
    }
    let forwards = [
        paid(1, 1, 10, 5),
        paid(2, 1, 7199, 7),
        paid(3, 1, 7200, 11),
        paid(4, 2, 7300, 1000),
        paid(5, 1, 14_400, 13),
        paid(6, 1, 20_000, 17),
        paid(7, 1, 30_000, 19),
    ];
    store.add_forwards(&forwards, 8).unwrap();
    store
}

#[test]
fn fee_history_reports_only_policy_changes_with_their_revenue() {
    let (_dir, path) = temp_db();
    let store = history_store(&path);
    let history = store.fee_history(1, 0, 21_600).unwrap();
    let summary: Vec<(u64, u32, i32, u64)> = history
        .iter()
        .map(|c| (c.at, c.fee_ppm, c.inbound_fee_ppm, c.revenue_msat))
        .collect();
    assert_eq!(
        summary,
        [
            (0, 100, -50, 12),
            (7200, 200, -50, 11),
            (14_400, 200, -100, 30)
        ],
        "balance-only snapshots are no change; the other channel's fees and those after `now` count nowhere"
    );
    assert_eq!(
        history.iter().map(|c| c.hours).collect::<Vec<_>>(),
        [2.0, 2.0, 2.0]
    );
    assert!(history.iter().all(|c| c.base_fee_msat == 1000));
    let steady = store.fee_history(2, 0, 21_600).unwrap();
    assert_eq!(steady.len(), 1, "the first snapshot counts as a change");
    assert_eq!((steady[0].at, steady[0].revenue_msat), (0, 1000));
    assert_eq!(steady[0].hours, 6.0);
}

#[test]
fn fee_history_since_keeps_the_level_in_force() {
    let (_dir, path) = temp_db();
    let store = history_store(&path);
    let from_mid_segment = store.fee_history(1, 10_000, 21_600).unwrap();
    assert_eq!(
        from_mid_segment.iter().map(|c| c.at).collect::<Vec<_>>(),
        [7200, 14_400],
        "the change made before `since` and still in force is included"
    );
    let from_a_change = store.fee_history(1, 14_400, 21_600).unwrap();
    assert_eq!(
        from_a_change.iter().map(|c| c.at).collect::<Vec<_>>(),
        [14_400]
    );
    assert!(store.fee_history(1, 21_600, 21_600).unwrap().is_empty());
    assert!(store.fee_history(77, 0, 21_600).unwrap().is_empty());
}

/// A level held over a span: none begun inside it and the same fees in force at its end. What
/// came before the store first saw a channel is unknown, so the first level seen counts as held
/// only from when it was seen.
#[test]
fn held_fees_sees_levels_begun_inside_the_span() {
    let (_dir, path) = temp_db();
    let store = history_store(&path);
    assert!(store.held_fees(2, 0, 21_600, &policy(300)).unwrap());
    assert!(!store.held_fees(2, 0, 21_600, &policy(301)).unwrap());
    assert!(store.held_fees(1, 7200, 14_400, &policy(200)).unwrap());
    assert!(!store.held_fees(1, 7199, 14_400, &policy(200)).unwrap());
    assert!(!store.held_fees(1, 7200, 14_401, &policy(200)).unwrap());
    let late = node_channel(3, policy(500));
    store.add_channel_snapshot(10_000, &[late]).unwrap();
    assert!(
        !store.held_fees(3, 5_000, 20_000, &policy(500)).unwrap(),
        "the level before the first one seen is unknown"
    );
    assert!(store.held_fees(3, 10_000, 20_000, &policy(500)).unwrap());
    assert!(!store.held_fees(3, 10_000, 20_000, &policy(400)).unwrap());
    assert!(!store.held_fees(77, 0, 21_600, &policy(300)).unwrap());
}

/// The largest fee one forward out earned in a span.
#[test]
fn largest_fee_out_is_the_largest_single_forward() {
    let (_dir, path) = temp_db();
    let store = history_store(&path);
    assert_eq!(
        store.largest_fee_out(1, 0, 21_600 * 1_000_000_000).unwrap(),
        17
    );
    assert_eq!(
        store.largest_fee_out(1, 0, 7200 * 1_000_000_000).unwrap(),
        7
    );
    assert_eq!(
        store.largest_fee_out(5, 0, 21_600 * 1_000_000_000).unwrap(),
        0
    );
}

#[test]
fn peer_fees_round_trip_with_their_refresh_time() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let peer = "03".repeat(33);
    assert_eq!(store.peer_fees(&peer).unwrap(), None);
    let fees = fee_percentiles(&[500, 100, 300, 200, 400]).unwrap();
    assert_eq!(
        fees,
        lnpolicy_core::FeePercentiles {
            channels: 5,
            p25_ppm: 200,
            p50_ppm: 300,
            p75_ppm: 400,
            p90_ppm: 500,
        }
    );
    store.record_peer_fees(&peer, 1000, Some(fees)).unwrap();
    assert_eq!(store.peer_fees(&peer).unwrap(), Some((1000, Some(fees))));
    store.record_peer_fees(&peer, 90_000, None).unwrap();
    assert_eq!(
        store.peer_fees(&peer).unwrap(),
        Some((90_000, None)),
        "a peer without other channels keeps its refresh time"
    );
    drop(store);
    let reopened = Store::open(&path).unwrap();
    assert_eq!(reopened.peer_fees(&peer).unwrap(), Some((90_000, None)));
    assert_eq!(reopened.peer_fees(&"02".repeat(33)).unwrap(), None);

    // Levels stored before migration 0020 measured the peer's own onward fees: dropped, so
    // the next cycle reads the levels toward the peer.
    reopened
        .record_peer_fees(&peer, 95_000, Some(fees))
        .unwrap();
    reopened
        .lock()
        .execute_batch(
            "DROP TABLE payment_parts; DROP TABLE unresolved_payments;
             DROP TABLE decision_tallies; DROP TABLE decision_fold_cursor;
             DROP INDEX update_intents_by_decision; DROP INDEX decisions_by_channel_time;
             DROP INDEX experiment_assignments_by_channel;
             ALTER TABLE experiment_assignments DROP COLUMN split; PRAGMA user_version = 19;",
        )
        .unwrap();
    drop(reopened);
    let upgraded = Store::open(&path).unwrap();
    assert_eq!(upgraded.peer_fees(&peer).unwrap(), None);
}

#[test]
fn fee_percentiles_use_nearest_rank() {
    assert_eq!(fee_percentiles(&[]), None);
    let one = fee_percentiles(&[42]).unwrap();
    assert_eq!((one.channels, one.p25_ppm, one.p90_ppm), (1, 42, 42));
    let ten: Vec<u32> = (1..=10).map(|i| i * 10).collect();
    let p = fee_percentiles(&ten).unwrap();
    assert_eq!(
        (p.p25_ppm, p.p50_ppm, p.p75_ppm, p.p90_ppm),
        (30, 50, 80, 90)
    );
}

#[test]
fn upgrading_finds_the_fee_changes_among_existing_snapshots() {
    let (_dir, path) = temp_db();
    let expected = {
        let store = history_store(&path);
        store.fee_history(1, 0, 21_600).unwrap()
    };
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE channel_analyses;
             ALTER TABLE update_intents DROP COLUMN channel_updates;
             DROP TABLE channel_fee_changes; DROP TABLE channel_open_cost_lookups;
             DROP INDEX forwards_by_time; DROP INDEX failed_forwards_by_time;
             DROP INDEX update_intents_applied_by_channel; DROP INDEX forwards_by_chan_out;
             DROP INDEX forwards_without_share; DROP INDEX forwards_by_chan_in;
             ALTER TABLE forwards DROP COLUMN out_fee_msat;
             CREATE INDEX forwards_by_chan_out ON forwards (chan_out, at_ns);
             CREATE INDEX forwards_by_chan_in ON forwards (chan_in, at_ns);
             DROP INDEX update_intents_fee_changes_by_channel;
             ALTER TABLE update_intents DROP COLUMN fees_changed;
             DROP INDEX update_intents_by_created_at;
             ALTER TABLE experiment_assignments DROP COLUMN left_at;
             DROP TABLE node_identity;
             DROP TABLE experiment_arm_definitions;
             DROP TABLE learned_htlc_floors;
             DROP TABLE payment_parts; DROP TABLE unresolved_payments;
             DROP TABLE decision_tallies; DROP TABLE decision_fold_cursor;
             DROP INDEX update_intents_by_decision; DROP INDEX decisions_by_channel_time;
             DROP INDEX experiment_assignments_by_channel;
             ALTER TABLE experiment_assignments DROP COLUMN split;
                 PRAGMA user_version = 5;",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(store.fee_history(1, 0, 21_600).unwrap(), expected);
    assert_eq!(store.fee_history(2, 0, 21_600).unwrap().len(), 1);
}

#[test]
fn a_snapshot_retaken_at_the_same_second_replaces_its_change() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    store
        .add_channel_snapshot(0, &[node_channel(1, policy(100))])
        .unwrap();
    store
        .add_channel_snapshot(60, &[node_channel(1, policy(200))])
        .unwrap();
    store
        .add_channel_snapshot(60, &[node_channel(1, policy(100))])
        .unwrap();
    let history = store.fee_history(1, 0, 120).unwrap();
    assert_eq!(
        history
            .iter()
            .map(|c| (c.at, c.fee_ppm))
            .collect::<Vec<_>>(),
        [(0, 100)]
    );
}

#[test]
fn the_last_applied_change_is_the_last_one_of_the_fees() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let raised = store
        .record_intent(5, None, &policy(100), &policy(400), 10)
        .unwrap();
    store
        .resolve_intent(raised, IntentOutcome::Applied, 11)
        .unwrap();
    let disabled = FeePolicy {
        disabled: true,
        ..policy(400)
    };
    let status_only = store
        .record_intent(5, None, &policy(400), &disabled, 20)
        .unwrap();
    store
        .resolve_intent(status_only, IntentOutcome::Applied, 21)
        .unwrap();
    let changes = store.last_applied_changes(&[5]).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(
        (
            changes[0].intent_id,
            changes[0].at,
            changes[0].applied.fee_ppm
        ),
        (raised, 11, 400),
        "the status change does not hide the fee change before it"
    );
    assert_eq!(
        last_fee_change(&store, 5),
        Some(11),
        "nor restart the time since the last fee change"
    );
    let lowered = store
        .record_intent(5, None, &disabled, &policy(300), 30)
        .unwrap();
    store
        .resolve_intent(lowered, IntentOutcome::Applied, 31)
        .unwrap();
    assert_eq!(
        store.last_applied_changes(&[5]).unwrap()[0].intent_id,
        lowered
    );
    assert_eq!(last_fee_change(&store, 5), Some(31));
}

/// Two fee changes of one channel, confirmed in the opposite order to their intents. lnpolicy
/// confirms an intent at the time it recorded it, so only a clock set back could do this; the
/// store must still name one change, the same for every reader.
fn changes_confirmed_out_of_order(store: &Store) -> (i64, i64) {
    let early = store
        .record_intent(5, None, &policy(100), &policy(200), 10)
        .unwrap();
    let late = store
        .record_intent(5, None, &policy(200), &policy(300), 20)
        .unwrap();
    store
        .resolve_intent(late, IntentOutcome::Applied, 21)
        .unwrap();
    store
        .resolve_intent(early, IntentOutcome::Applied, 30)
        .unwrap();
    (early, late)
}

#[test]
fn the_last_applied_change_is_the_last_confirmed_and_only_for_the_channels_asked() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let (early, _) = changes_confirmed_out_of_order(&store);
    let other = store
        .record_intent(7, None, &policy(100), &policy(150), 40)
        .unwrap();
    store
        .resolve_intent(other, IntentOutcome::Applied, 41)
        .unwrap();
    let changes = store.last_applied_changes(&[7, 5, 9]).unwrap();
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.channel_id, c.intent_id, c.at))
            .collect::<Vec<_>>(),
        [(7, other, 41), (5, early, 30)],
        "in the order asked; the channel without changes is absent"
    );
    assert!(store.last_policy_changes(&[9]).unwrap().is_empty());
}

#[test]
fn upgrading_tells_fee_changes_among_the_updates_already_applied() {
    let (_dir, path) = temp_db();
    {
        let store = Store::open(&path).unwrap();
        changes_confirmed_out_of_order(&store);
        let disabled = FeePolicy {
            disabled: true,
            ..policy(200)
        };
        let status_only = store
            .record_intent(5, None, &policy(200), &disabled, 50)
            .unwrap();
        store
            .resolve_intent(status_only, IntentOutcome::Applied, 51)
            .unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE channel_analyses;
             ALTER TABLE update_intents DROP COLUMN channel_updates;
             DROP INDEX update_intents_fee_changes_by_channel;
             ALTER TABLE update_intents DROP COLUMN fees_changed;
             DROP INDEX update_intents_by_created_at;
             DROP INDEX forwards_by_chan_out; DROP INDEX forwards_without_share;
             DROP INDEX forwards_by_chan_in; ALTER TABLE forwards DROP COLUMN out_fee_msat;
             CREATE INDEX forwards_by_chan_out ON forwards (chan_out, at_ns, fee_msat);
             CREATE INDEX forwards_by_chan_in ON forwards (chan_in, at_ns);
             ALTER TABLE experiment_assignments DROP COLUMN left_at;
             ALTER TABLE channel_fee_changes DROP COLUMN inbound_base_fee_msat;
             DROP TABLE node_identity;
             DROP TABLE experiment_arm_definitions;
             DROP TABLE learned_htlc_floors;
             DROP TABLE payment_parts; DROP TABLE unresolved_payments;
             DROP TABLE decision_tallies; DROP TABLE decision_fold_cursor;
             DROP INDEX update_intents_by_decision; DROP INDEX decisions_by_channel_time;
             DROP INDEX experiment_assignments_by_channel;
             ALTER TABLE experiment_assignments DROP COLUMN split;
                 PRAGMA user_version = 9;",
        )
        .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(
        last_fee_change(&store, 5),
        Some(30),
        "the status-only update applied before the upgrade is not a fee change"
    );
    assert_eq!(
        store.last_policy_changes(&[5]).unwrap(),
        HashMap::from([(5, 51)])
    );
}

#[test]
fn every_cycle_read_of_the_last_changes_searches_an_index() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    changes_confirmed_out_of_order(&store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let reads = [
        "SELECT MAX(resolved_at) FROM update_intents
         WHERE channel_id = 5 AND status = 'applied' AND fees_changed = 1",
        "SELECT MAX(resolved_at) FROM update_intents WHERE channel_id = 5 AND status = 'applied'",
        "SELECT i.id FROM update_intents i LEFT JOIN decisions d ON d.id = i.decision_id
         WHERE i.channel_id = 5 AND i.status = 'applied' AND i.fees_changed = 1
         ORDER BY i.resolved_at DESC, i.id DESC LIMIT 1",
    ];
    for sql in reads {
        let plan: Vec<String> = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([], |row| row.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("; ");
        assert!(
            plan.contains("update_intents_") && plan.contains("(channel_id=?)"),
            "{sql}: {plan}"
        );
        assert!(
            !plan.contains("SCAN") && !plan.contains("TEMP B-TREE"),
            "{sql}: {plan}"
        );
    }
}

#[test]
fn the_hourly_count_spends_sent_and_unanswered_updates_but_not_refused_ones() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let sent = |channel, at| {
        store
            .record_intent(channel, None, &policy(100), &policy(200), at)
            .unwrap()
    };
    let before_the_hour = sent(1, 999);
    store
        .resolve_intent(before_the_hour, IntentOutcome::Applied, 999)
        .unwrap();
    let applied = sent(2, 1_000);
    store
        .resolve_intent(applied, IntentOutcome::Applied, 1_000)
        .unwrap();
    let refused = sent(3, 1_500);
    store
        .resolve_intent(refused, IntentOutcome::Failed("refused".into()), 1_500)
        .unwrap();
    sent(4, 2_000);
    assert_eq!(store.updates_sent_since(1_000).unwrap(), 2);
    assert_eq!(store.updates_sent_since(999).unwrap(), 3);
    assert_eq!(store.updates_sent_since(2_001).unwrap(), 0);

    // The disabled flag with a fee is two channel updates on LND; alone, or kept by the node
    // (the policy recorded as applied has the flag as it was), one.
    let disabled = |fee_ppm| FeePolicy {
        disabled: true,
        ..policy(fee_ppm)
    };
    let flagged = |channel, to: &FeePolicy, at| {
        store
            .record_intent(channel, None, &policy(100), to, at)
            .unwrap()
    };
    flagged(5, &disabled(200), 3_000);
    assert_eq!(store.updates_sent_since(3_000).unwrap(), 2, "pending");
    let alone = flagged(6, &disabled(100), 3_000);
    store
        .resolve_intent(alone, IntentOutcome::Applied, 3_000)
        .unwrap();
    assert_eq!(store.updates_sent_since(3_000).unwrap(), 3);
    let kept = flagged(7, &disabled(200), 3_000);
    store.amend_intent_policy(kept, &policy(200)).unwrap();
    store
        .resolve_intent(kept, IntentOutcome::Applied, 3_000)
        .unwrap();
    assert_eq!(store.updates_sent_since(3_000).unwrap(), 4);
    let cltv = flagged(
        8,
        &FeePolicy {
            time_lock_delta: 144,
            ..disabled(100)
        },
        3_000,
    );
    store
        .resolve_intent(cltv, IntentOutcome::Failed("refused".into()), 3_000)
        .unwrap();
    assert_eq!(store.updates_sent_since(3_000).unwrap(), 4, "refused");

    let conn = rusqlite::Connection::open(&path).unwrap();
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT COALESCE(SUM(channel_updates), 0) FROM update_intents
             WHERE created_at >= 1000 AND status <> 'failed'",
            [],
            |row| row.get(3),
        )
        .unwrap();
    assert!(plan.contains("update_intents_by_created_at"), "{plan}");
}

#[test]
fn a_snapshot_copies_what_is_committed_and_leaves_the_source_alone() {
    let (dir, path) = temp_db();
    assert!(!Store::snapshot(&path, &dir.path().join("none.db")).unwrap());
    let dangling = dir.path().join("dangling.db");
    std::os::unix::fs::symlink(dir.path().join("gone.db"), &dangling).unwrap();
    let error = Store::snapshot(&dangling, &dir.path().join("d.db")).unwrap_err();
    assert!(
        error.to_string().contains("dangling.db") && error.to_string().contains("a link"),
        "{error}"
    );
    let store = Store::open(&path).unwrap();
    let committed = store
        .record_intent(5, None, &policy(100), &policy(200), 10)
        .unwrap();
    // Another process in the middle of a write: what it has not committed is not copied.
    let writer = rusqlite::Connection::open(&path).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    writer
        .execute(
            "UPDATE update_intents SET status = 'applied', resolved_at = 11 WHERE id = ?1",
            [committed],
        )
        .unwrap();
    let copy = dir.path().join("copy.db");
    assert!(Store::snapshot(&path, &copy).unwrap());
    writer.execute_batch("ROLLBACK").unwrap();

    let snapshot = Store::open(&copy).unwrap();
    let pending = snapshot.pending_intents().unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].id, committed);
    snapshot
        .resolve_intent(committed, IntentOutcome::Applied, 12)
        .unwrap();
    assert_eq!(
        store.pending_intents().unwrap().len(),
        1,
        "writing the copy leaves the source as it was"
    );

    // A database from a newer lnpolicy is refused by its own name, not the copy's.
    drop((store, snapshot));
    let future = migrations::latest_version() + 1;
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", future)
        .unwrap();
    let error = Store::snapshot(&path, &dir.path().join("newer.db")).unwrap_err();
    assert!(
        matches!(&error, StoreError::TooNew { path: p, found, .. } if *p == path && *found == future),
        "{error:?}"
    );
    assert!(!dir.path().join("newer.db").exists());
}

/// Channel 1 gives a 500 ppm inbound discount; channel 2 charges 1,000 ppm out; channel 3
/// asks nothing inbound. An LND sender coming in by 1 pays 500 msat to leave by 2, one that
/// ignores inbound fees 1,000, and one coming in by 3 pays 1,000.
fn discounted_forwards(store: &Store) -> Vec<lnpolicy_core::Forward> {
    let level = |ppm: u32, inbound_ppm: i32| FeePolicy {
        base_fee_msat: 0,
        inbound_base_fee_msat: 0,
        inbound_fee_ppm: inbound_ppm,
        ..policy(ppm)
    };
    store
        .add_channel_snapshot(
            0,
            &[
                node_channel(1, level(100, -500)),
                node_channel(2, level(1_000, 0)),
                node_channel(3, level(100, 0)),
            ],
        )
        .unwrap();
    let through = |index: u64, chan_in: u64, fee_msat: u64| lnpolicy_core::Forward {
        chan_in,
        ..paid(index, 2, 600, fee_msat)
    };
    vec![
        through(1, 1, 500),
        through(2, 1, 1_000),
        through(3, 3, 1_000),
    ]
}

#[test]
fn an_inbound_discount_is_not_a_fall_in_the_outgoing_channels_revenue() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let forwards = discounted_forwards(&store);
    store.add_forwards(&forwards, 3).unwrap();
    let to = 3_600 * 1_000_000_000;
    assert_eq!(store.fees_earned(2, 0, to).unwrap(), 3_000, "1,000 each");
    assert_eq!(store.earned(2, 0, to).unwrap().forwards, 3);
    assert_eq!(
        store.fee_history(2, 0, 3_600).unwrap()[0].revenue_msat,
        3_000
    );
    assert_eq!(
        store.fees_earned(1, 0, to).unwrap(),
        -500,
        "the discount it gave"
    );
    assert_eq!(store.fees_earned(3, 0, to).unwrap(), 0);
    let totals = store.flow_totals(0, to).unwrap();
    assert_eq!(
        (totals[&2].own_fees_msat, totals[&1].own_fees_msat),
        (3_000, -500)
    );
    assert_eq!(totals[&2].fees_msat, 2_500, "the node's own figure");
    let stored = store.forwards_between(0, to).unwrap();
    assert_eq!(
        stored.iter().map(|f| f.fee_msat).sum::<u64>(),
        2_500,
        "the node earned what the senders paid, and the shares add up to it"
    );
}

#[test]
fn forwards_stored_before_the_share_existed_get_it_when_the_store_opens() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let forwards = discounted_forwards(&store);
    store.add_forwards(&forwards, 3).unwrap();
    store
        .lock()
        .execute("UPDATE forwards SET out_fee_msat = NULL", [])
        .unwrap();
    drop(store);
    let reopened = Store::open(&path).unwrap();
    assert_eq!(
        reopened.fees_earned(2, 0, 3_600 * 1_000_000_000).unwrap(),
        3_000
    );
}

/// Channel 1 gives a 300 msat inbound base discount and no inbound rate; channel 2 charges
/// 1,000 ppm out. An LND sender coming in by 1 pays 700 msat to leave by 2.
fn base_discounted_forward(store: &Store) -> lnpolicy_core::Forward {
    let level = |ppm: u32, inbound_base_fee_msat: i32| FeePolicy {
        base_fee_msat: 0,
        inbound_base_fee_msat,
        inbound_fee_ppm: 0,
        ..policy(ppm)
    };
    store
        .add_channel_snapshot(
            0,
            &[
                node_channel(1, level(100, -300)),
                node_channel(2, level(1_000, 0)),
            ],
        )
        .unwrap();
    lnpolicy_core::Forward {
        chan_in: 1,
        ..paid(1, 2, 600, 700)
    }
}

#[test]
fn an_inbound_base_discount_is_the_incoming_channels() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let forward = base_discounted_forward(&store);
    store.add_forwards(&[forward], 1).unwrap();
    let to = 3_600 * 1_000_000_000;
    assert_eq!(store.fees_earned(2, 0, to).unwrap(), 1_000);
    assert_eq!(store.fees_earned(1, 0, to).unwrap(), -300);
}

/// A database of schema 13 kept no inbound base fee and gave the outgoing channel the whole
/// fee: upgrading reads the base fee from the snapshots and shares the forward again.
#[test]
fn upgrading_reads_inbound_base_fees_from_the_snapshots_and_shares_again() {
    let (_dir, path) = temp_db();
    {
        let store = Store::open(&path).unwrap();
        let forward = base_discounted_forward(&store);
        store.add_forwards(&[forward], 1).unwrap();
        store
            .lock()
            .execute_batch(
                "DROP TABLE channel_analyses;
             ALTER TABLE update_intents DROP COLUMN channel_updates;
                 ALTER TABLE channel_fee_changes DROP COLUMN inbound_base_fee_msat;
                 UPDATE forwards SET out_fee_msat = fee_msat;
                 DROP TABLE node_identity;
                 DROP TABLE experiment_arm_definitions;
                 DROP TABLE learned_htlc_floors;
                 DROP TABLE payment_parts; DROP TABLE unresolved_payments;
             DROP TABLE decision_tallies; DROP TABLE decision_fold_cursor;
             DROP INDEX update_intents_by_decision; DROP INDEX decisions_by_channel_time;
             DROP INDEX experiment_assignments_by_channel;
             ALTER TABLE experiment_assignments DROP COLUMN split;
                 PRAGMA user_version = 13;",
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    let base: i32 = store
        .lock()
        .query_row(
            "SELECT inbound_base_fee_msat FROM channel_fee_changes WHERE channel_id = 1",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(base, -300);
    assert_eq!(
        store.fees_earned(2, 0, 3_600 * 1_000_000_000).unwrap(),
        1_000
    );
}

/// Before schema 14, a change of only channel 1's inbound base fee (at t=60) was no change:
/// upgrading finds it among the snapshots, and the forward after it is shared at its level.
#[test]
fn upgrading_finds_the_inbound_base_fee_changes_it_missed() {
    let (_dir, path) = temp_db();
    {
        let store = Store::open(&path).unwrap();
        let level = |ppm: u32, inbound_base_fee_msat: i32| FeePolicy {
            base_fee_msat: 0,
            inbound_base_fee_msat,
            inbound_fee_ppm: 0,
            ..policy(ppm)
        };
        for (at, base) in [(0, 0), (60, -300), (120, -300)] {
            store
                .add_channel_snapshot(
                    at,
                    &[
                        node_channel(1, level(100, base)),
                        node_channel(2, level(1_000, 0)),
                    ],
                )
                .unwrap();
        }
        let forward = lnpolicy_core::Forward {
            chan_in: 1,
            ..paid(1, 2, 600, 700)
        };
        store.add_forwards(&[forward], 1).unwrap();
        store
            .lock()
            .execute_batch(
                "DROP TABLE channel_analyses;
             ALTER TABLE update_intents DROP COLUMN channel_updates;
                 DELETE FROM channel_fee_changes WHERE channel_id = 1 AND at = 60;
                 ALTER TABLE channel_fee_changes DROP COLUMN inbound_base_fee_msat;
                 UPDATE forwards SET out_fee_msat = fee_msat;
                 DROP TABLE node_identity;
                 DROP TABLE experiment_arm_definitions;
                 DROP TABLE learned_htlc_floors;
                 DROP TABLE payment_parts; DROP TABLE unresolved_payments;
             DROP TABLE decision_tallies; DROP TABLE decision_fold_cursor;
             DROP INDEX update_intents_by_decision; DROP INDEX decisions_by_channel_time;
             DROP INDEX experiment_assignments_by_channel;
             ALTER TABLE experiment_assignments DROP COLUMN split;
                 PRAGMA user_version = 13;",
            )
            .unwrap();
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(seen_at(&store, 1), Some(60));
    assert_eq!(
        store.fees_earned(2, 0, 3_600 * 1_000_000_000).unwrap(),
        1_000
    );
    assert_eq!(
        store.fees_earned(1, 0, 3_600 * 1_000_000_000).unwrap(),
        -300
    );
}

/// Someone changes only channel 1's inbound base fee: the minimum interval must see it.
#[test]
fn a_change_of_the_inbound_base_fee_alone_is_a_fee_change() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let based = |inbound_base_fee_msat: i32| FeePolicy {
        inbound_base_fee_msat,
        ..policy(100)
    };
    for (at, base) in [(0, 0), (60, 0), (120, -200), (180, -200)] {
        store
            .add_channel_snapshot(at, &[node_channel(1, based(base))])
            .unwrap();
    }
    assert_eq!(seen_at(&store, 1), Some(120));
}

/// When a collection last saw `channel`'s fees change.
fn seen_at(store: &Store, channel: lnpolicy_core::ChannelId) -> Option<u64> {
    store
        .last_seen_fee_changes(&[channel])
        .unwrap()
        .get(&channel)
        .map(|seen| seen.at)
}

/// When lnpolicy last changed `channel`'s fees, as rollback and the revenue rate read it.
fn last_fee_change(store: &Store, channel: lnpolicy_core::ChannelId) -> Option<u64> {
    store
        .last_applied_changes(&[channel])
        .unwrap()
        .first()
        .map(|change| change.at)
}

/// Channel 2's fees without base fees or inbound ones, at `ppm`.
fn flat_level(ppm: u32) -> FeePolicy {
    FeePolicy {
        base_fee_msat: 0,
        inbound_base_fee_msat: 0,
        inbound_fee_ppm: 0,
        ..policy(ppm)
    }
}

/// [`discounted_forwards`]' levels, and lnpolicy's raise of channel 2 from 1,000 to 1,200 ppm
/// sent at t=100 (the intent, pending); and the forward an LND sender coming in by channel 1
/// (−500 ppm inbound) paid at t=200: 700 msat.
fn raise_and_a_forward_after_it(store: &Store) -> (i64, lnpolicy_core::Forward) {
    discounted_forwards(store);
    let intent = store
        .record_intent(2, None, &flat_level(1_000), &flat_level(1_200), 100)
        .unwrap();
    let forward = lnpolicy_core::Forward {
        chan_in: 1,
        ..paid(1, 2, 200, 700)
    };
    (intent, forward)
}

/// The raise applied at t=100, then the forward, before any snapshot saw the raise: the
/// outgoing channel earned 1,200 and the discount was 500, not 1,000 and 300.
#[test]
fn the_fees_an_update_set_are_the_level_from_when_it_was_applied() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let (intent, forward) = raise_and_a_forward_after_it(&store);
    store
        .resolve_intent(intent, IntentOutcome::Applied, 100)
        .unwrap();
    store.add_forwards(&[forward], 1).unwrap();
    let to = 3_600 * 1_000_000_000;
    assert_eq!(store.fees_earned(2, 0, to).unwrap(), 1_200);
    assert_eq!(store.fees_earned(1, 0, to).unwrap(), -500);
    // The next snapshot sees the level lnpolicy entered: no second change.
    store
        .add_channel_snapshot(600, &[node_channel(2, flat_level(1_200))])
        .unwrap();
    let levels: Vec<(u64, u32)> = store
        .fee_history(2, 0, 3_600)
        .unwrap()
        .iter()
        .map(|c| (c.at, c.fee_ppm))
        .collect();
    assert_eq!(levels, [(0, 1_000), (100, 1_200)]);
}

/// The raise timed out and stayed pending while the forward was stored, shared at 1,000 ppm;
/// reconciled as applied at t=100, the forward is shared again at the level really in force.
#[test]
fn forwards_stored_before_a_late_resolution_are_shared_at_its_level() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let (intent, forward) = raise_and_a_forward_after_it(&store);
    store.add_forwards(&[forward], 1).unwrap();
    let to = 3_600 * 1_000_000_000;
    assert_eq!(
        store.fees_earned(2, 0, to).unwrap(),
        1_000,
        "before: 1,000 ppm"
    );
    store
        .resolve_intent(intent, IntentOutcome::Applied, 100)
        .unwrap();
    assert_eq!(store.fees_earned(2, 0, to).unwrap(), 1_200);
    assert_eq!(store.fees_earned(1, 0, to).unwrap(), -500);
}

/// Daily snapshots over 100 days; channel 2 closed on day 10. Snapshots older than 60 days
/// go, but each channel's first and last: ages, the history's start and closed channels are
/// still known, and so is every recent day a rollback may ask about.
#[test]
fn old_snapshots_go_but_each_channels_first_and_last() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    const DAY: u64 = 86_400;
    for day in 0..=100u64 {
        let mut channels = vec![node_channel(1, policy(100))];
        if day <= 10 {
            channels.push(node_channel(2, policy(200)));
        }
        store.add_channel_snapshot(day * DAY, &channels).unwrap();
    }
    let days = |channel: i64| -> Vec<u64> {
        store
            .lock()
            .prepare("SELECT at FROM channel_snapshots WHERE channel_id = ?1 ORDER BY at")
            .unwrap()
            .query_map([channel], |row| row.get::<_, i64>(0))
            .unwrap()
            .map(|at| at.unwrap() as u64 / DAY)
            .collect()
    };
    let kept: Vec<u64> = std::iter::once(0).chain(40..=100).collect();
    assert_eq!(days(1), kept);
    assert_eq!(days(2), [0, 10]);
    assert_eq!(store.history_start().unwrap(), Some(0));
    assert_eq!(
        store.first_seen(&[1, 2]).unwrap(),
        HashMap::from([(1, 0), (2, 0)])
    );
    let (latest, last) = store.last_snapshots().unwrap();
    assert_eq!(latest, Some(100 * DAY));
    assert_eq!(last[&2].at, 10 * DAY);
}

/// A failure a day for 100 days: a collection on day 100 keeps the last 92 days' (a change
/// judged 60 days after it reads the 30 days before it); the 30-day window still counts all
/// of its own.
#[test]
fn failed_forwards_older_than_the_windows_need_go() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    const DAY: u64 = 86_400;
    let failures: Vec<_> = (0..100u64)
        .map(|day| lnpolicy_core::FailedForward {
            index: day + 1,
            at_ns: (day * DAY + 1) * 1_000_000_000,
            chan_in: 3,
            chan_out: Some(4),
            amt_in_msat: 1_000,
            reason: lnpolicy_core::FailureReason::FeeInsufficient,
        })
        .collect();
    store.add_failed_forwards(&failures, 101).unwrap();
    let month_ns = |to: u64| ((to - 30) * DAY * 1_000_000_000, to * DAY * 1_000_000_000);
    let (from, to) = month_ns(100);
    let before = store.failure_counts(from, to).unwrap();
    store
        .add_channel_snapshot(100 * DAY, &[node_channel(4, policy(100))])
        .unwrap();
    let kept: Vec<u64> = store
        .failed_forwards_between(0, u64::MAX)
        .unwrap()
        .iter()
        .map(|f| f.index - 1)
        .collect();
    assert_eq!(kept, (8..100).collect::<Vec<_>>());
    assert_eq!(store.failure_counts(from, to).unwrap(), before);
    assert_eq!(before[0].2, 30);
}

#[test]
fn arm_definitions_keep_when_each_was_first_run() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let run = |definition: &str| ("x".to_owned(), crate::Arm::B, definition.to_owned());
    store
        .record_arm_definitions(&[run("static(fee_ppm=1)")], 10)
        .unwrap();
    store
        .record_arm_definitions(&[run("static(fee_ppm=1)")], 20)
        .unwrap();
    store
        .record_arm_definitions(&[run("static(fee_ppm=2)")], 30)
        .unwrap();
    assert_eq!(
        store.arm_definitions("x").unwrap(),
        [
            (crate::Arm::B, "static(fee_ppm=1)".to_owned(), 10),
            (crate::Arm::B, "static(fee_ppm=2)".to_owned(), 30)
        ]
    );
    assert!(store.arm_definitions("y").unwrap().is_empty());
}

#[test]
fn a_database_belongs_to_one_node_and_implementation() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let key = format!("02{}", "ab".repeat(32));
    store.bind_node(&key, NodeKind::Lnd, 10).unwrap();
    store
        .bind_node(&key.to_ascii_uppercase(), NodeKind::Lnd, 20)
        .unwrap();
    let error = store.bind_node(&key, NodeKind::Cln, 30).unwrap_err();
    assert!(
        matches!(&error, StoreError::OtherNode { stored, node, .. }
            if stored.starts_with("the LND node") && node.starts_with("the CLN node")),
        "{error}"
    );
    let other = format!("03{}", "cd".repeat(32));
    let error = store.bind_node(&other, NodeKind::Lnd, 40).unwrap_err();
    assert!(error.to_string().contains(&other), "{error}");
    drop(store);
    let reopened = Store::open(&path).unwrap();
    assert!(
        reopened.bind_node(&other, NodeKind::Lnd, 50).is_err(),
        "kept"
    );
}

/// Channel 2 closed 40 days ago (no snapshot since); channel 1 is open. Per-channel state of
/// channel 2 goes for every strategy, other keys stay. A daemon that was down for weeks has
/// every channel's last snapshot old: those the latest collection saw stay.
#[test]
fn the_state_of_channels_closed_long_ago_is_removed() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    const DAY: u64 = 86_400;
    let open_and_closed = [node_channel(1, policy(100)), node_channel(2, policy(100))];
    store.add_channel_snapshot(0, &open_and_closed).unwrap();
    store
        .add_channel_snapshot(50 * DAY, &open_and_closed[..1])
        .unwrap();
    for strategy in ["hill_climber", "revenue_max"] {
        let writes: Vec<(String, Option<Vec<u8>>)> = ["ch:1", "ch:2", "ch:2:probe", "pool:abc"]
            .iter()
            .map(|key| (key.to_string(), Some(vec![1])))
            .collect();
        store.state_apply(strategy, &writes, 0).unwrap();
    }
    assert_eq!(
        store.prune_closed_channel_state(0).unwrap(),
        0,
        "closed, but not before 0"
    );
    assert_eq!(store.prune_closed_channel_state(20 * DAY).unwrap(), 4);
    for strategy in ["hill_climber", "revenue_max"] {
        let keys: Vec<String> = store.state_all(strategy).unwrap().into_keys().collect();
        assert_eq!(keys, ["ch:1", "pool:abc"]);
    }

    // Down for weeks: the latest collection saw channel 1, whatever its age.
    assert_eq!(store.prune_closed_channel_state(60 * DAY).unwrap(), 0);
    assert_eq!(store.state_all("hill_climber").unwrap().len(), 2);
}

/// A floor learned from a node's answer replaces the one learned before.
#[test]
fn learned_htlc_floors_keep_the_latest_answer() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    assert!(store.learned_htlc_floors().unwrap().is_empty());
    store.record_htlc_floor(1, 1000, 10).unwrap();
    store.record_htlc_floor(2, 5, 20).unwrap();
    store.record_htlc_floor(2, 7, 30).unwrap();
    let learned = store.learned_htlc_floors().unwrap();
    assert_eq!(learned.len(), 2, "{learned:?}");
    assert_eq!((learned[&1], learned[&2]), (1000, 7));
}

/// lnpolicy set 200 ppm; an operator set 300 by hand, which the collection of the next run saw,
/// and in the same second that run set 200 again. The hand-set level held for no time: the
/// store shows 200 throughout, not 300 from that second on.
#[test]
fn an_update_in_the_second_a_hand_set_level_was_seen_supersedes_it() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    store
        .add_channel_snapshot(1_000, &[node_channel(9, policy(200))])
        .unwrap();
    store
        .add_channel_snapshot(5_000, &[node_channel(9, policy(300))])
        .unwrap();
    let intent = store
        .record_intent(9, None, &policy(300), &policy(200), 5_000)
        .unwrap();
    store
        .resolve_intent(intent, crate::IntentOutcome::Applied, 5_000)
        .unwrap();
    assert!(
        store.held_fees(9, 1_000, 9_000, &policy(200)).unwrap(),
        "{:?}",
        store.fee_history(9, 0, 9_000).unwrap()
    );
}

/// charge-lnd's `chan.min_sats_out` and the like add up LND's whole-sat `amt_out` of each
/// forward, each already without its msat: two forwards of 1.5 sat are 2 sats, not 3.
#[test]
fn activity_sats_are_each_forwards_whole_sats_added_up() {
    let (_dir, path) = temp_db();
    let store = Store::open(&path).unwrap();
    let forward = |index: u64| lnpolicy_core::Forward {
        index,
        at_ns: index * 1_000_000_000,
        chan_in: 8,
        chan_out: 7,
        amt_in_msat: 1_700,
        amt_out_msat: 1_500,
        fee_msat: 200,
    };
    store.add_forwards(&[forward(1), forward(2)], 2).unwrap();
    let totals = store.flow_totals(0, 3_600 * 1_000_000_000).unwrap();
    assert_eq!((totals[&7].msat_out, totals[&7].sats_out), (3_000, 2));
    assert_eq!((totals[&8].msat_in, totals[&8].sats_in), (3_400, 2));
}
