//! `lnpolicy report` and `lnpolicy status`, run as the real binary on a database written
//! through the store's public API the way the daemon writes it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use lnpolicy_core::{
    ChannelAnalysis, ChannelId, FeePolicy, FlowClass, Forward, GuardedDecision, NodeChannel,
    Profitability,
};
use lnpolicy_store::{Arm, CycleStatus, DecisionRecord, IntentOutcome, Store};
use tempfile::TempDir;

const DAY: u64 = 86_400;
/// A channel seen two days ago and missing from the collections since: it closed.
const CLOSED: ChannelId = (840_100 << 40) | (1 << 16);
/// A channel known only from a forward before the first collection: it closed before.
const NEVER_COLLECTED: ChannelId = (840_050 << 40) | (1 << 16);

fn lnpolicy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args(args)
        .env_remove("LNPOLICY_DB")
        .output()
        .expect("run lnpolicy")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn policy(fee_ppm: u32) -> FeePolicy {
    FeePolicy {
        base_fee_msat: 1000,
        fee_ppm,
        max_htlc_msat: 990_000_000,
        time_lock_delta: 80,
        ..FeePolicy::default()
    }
}

fn node_channel(id: ChannelId, fee_ppm: u32) -> NodeChannel {
    NodeChannel {
        id,
        channel_point: format!("{id:064x}:0"),
        peer_pubkey: format!("02{id:064x}"),
        capacity_sat: 2_000_000,
        local_balance_sat: 1_000_000,
        remote_balance_sat: 1_000_000,
        commit_fee_sat: 2_000,
        unsettled_balance_sat: 0,
        local_reserve_sat: 20_000,
        remote_reserve_sat: 20_000,
        pending_htlcs: Vec::new(),
        max_accepted_htlcs: 483,
        max_in_flight_msat: 1_980_000_000,
        min_htlc_msat: 1000,
        active: true,
        private: false,
        initiator: true,
        total_sent_sat: 0,
        total_received_sat: 0,
        local_policy: policy(fee_ppm),
        peer_policy: None,
    }
}

/// Experiment `fees` over 14 days with 8 channels per arm: B's channels earn about five
/// times A's, each channel with its own level and day-to-day noise. B's strategy raised
/// every B channel from 100 to 500 ppm on the first day; one of its later updates is
/// still pending.
fn database() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lnpolicy.db");
    let store = Store::open(&path).unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let start = now - 14 * DAY;
    let ids: Vec<ChannelId> = (1..=16)
        .map(|n: u64| ((840_000 + n) << 40) | (n << 16))
        .collect();
    let arm = |i: usize| if i.is_multiple_of(2) { Arm::A } else { Arm::B };
    let assignments: Vec<(ChannelId, Arm)> = (0..ids.len()).map(|i| (ids[i], arm(i))).collect();
    store
        .record_assignments("fees", 0.5, &assignments, start)
        .unwrap();

    // A linear congruential generator is plenty for noise in a test.
    let mut state = 12_345u64;
    let mut noise = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut forwards = Vec::new();
    for (i, &id) in ids.iter().enumerate() {
        let level = 0.5 + 1.5 * noise();
        let sat_per_day = if arm(i) == Arm::B { 250.0 } else { 50.0 } * level;
        for day in 0..14 {
            for hour in (0..24).step_by(3) {
                let fee_msat = (sat_per_day * 1000.0 / 8.0 * 2.0 * noise()) as u64 + 1;
                forwards.push(Forward {
                    index: 0,
                    at_ns: (start + day * DAY + hour * 3600 + 60) * 1_000_000_000,
                    chan_in: ids[(i + 1) % ids.len()],
                    chan_out: id,
                    amt_in_msat: fee_msat * 10_001,
                    amt_out_msat: fee_msat * 10_000,
                    fee_msat,
                });
            }
        }
    }
    forwards.push(Forward {
        index: 0,
        at_ns: (start + 60) * 1_000_000_000,
        chan_in: ids[0],
        chan_out: NEVER_COLLECTED,
        amt_in_msat: 1_001_000,
        amt_out_msat: 1_000_000,
        fee_msat: 1_000,
    });
    forwards.sort_by_key(|f| f.at_ns);
    for (index, f) in forwards.iter_mut().enumerate() {
        f.index = index as u64;
    }
    store
        .add_forwards(&forwards, forwards.len() as u64)
        .unwrap();
    let channels: Vec<NodeChannel> = (0..ids.len())
        .map(|i| node_channel(ids[i], if arm(i) == Arm::B { 500 } else { 100 }))
        .collect();
    store
        .add_channel_snapshot(now - 2 * DAY, &[node_channel(CLOSED, 100)])
        .unwrap();
    store.add_channel_snapshot(now - 60, &channels).unwrap();
    let analysis = |flow_class, profitability| ChannelAnalysis {
        flow_class,
        profitability,
        revenue_rate_msat_per_hour: 1500.0,
        history_secs: 14 * DAY,
        rebalance_cost_msat: 0,
    };
    store
        .record_channel_analyses(
            &[
                (
                    ids[0],
                    ChannelAnalysis {
                        rebalance_cost_msat: 2_500_400,
                        ..analysis(FlowClass::Sink, Profitability::Underwater)
                    },
                ),
                (
                    ids[1],
                    analysis(FlowClass::Source, Profitability::Profitable),
                ),
                (CLOSED, analysis(FlowClass::Sink, Profitability::Zombie)),
            ],
            now - 120,
        )
        .unwrap();

    for (strategy, which, at) in [
        ("static", Arm::A, start + 3600),
        ("hill_climber", Arm::B, start + 3600),
        ("hill_climber", Arm::B, now - 600),
    ] {
        let members: Vec<ChannelId> = assignments
            .iter()
            .filter(|(_, a)| *a == which)
            .map(|(id, _)| *id)
            .collect();
        let cycle = store
            .begin_cycle(strategy, "00", at, members.len() as u32)
            .unwrap();
        let first_change = which == Arm::B && at < now - DAY;
        let guarded: Vec<GuardedDecision> = members
            .iter()
            .map(|&id| GuardedDecision {
                channel_id: id,
                policy: (which == Arm::B).then(|| policy(if first_change { 500 } else { 520 })),
                clamps: Vec::new(),
            })
            .collect();
        let records: Vec<DecisionRecord<'_>> = guarded
            .iter()
            .map(|g| DecisionRecord {
                cycle_id: cycle,
                at,
                strategy,
                strategy_sha256: "00",
                raw: None,
                guarded: g,
                reason: "test",
            })
            .collect();
        let decisions = store.record_decisions(&records).unwrap();
        if which == Arm::B {
            for (g, decision) in guarded.iter().zip(decisions) {
                let (from, to) = if first_change { (100, 500) } else { (500, 520) };
                let intent = store
                    .record_intent(g.channel_id, Some(decision), &policy(from), &policy(to), at)
                    .unwrap();
                if first_change {
                    store
                        .resolve_intent(intent, IntentOutcome::Applied, at + 1)
                        .unwrap();
                } else {
                    break; // one update left pending, as after a crash
                }
            }
        }
        store
            .finish_cycle(cycle, at + 5, CycleStatus::Ok, None)
            .unwrap();
    }
    (dir, path)
}

fn db_arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn experiment_report_as_table_json_and_html() {
    let (dir, db) = database();

    let output = lnpolicy(&["report", "--experiment", "fees", "--db", db_arg(&db)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.contains("VERDICT: B better"), "{table}");
    assert!(
        table.contains("hill_climber") && table.contains("static"),
        "{table}"
    );

    let output = lnpolicy(&[
        "report",
        "--experiment",
        "fees",
        "--db",
        db_arg(&db),
        "--format",
        "json",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["verdict"]["outcome"], "b_better");
    assert_eq!(json["verdict"]["label"], "B better");
    assert_eq!(json["arms"][1]["channels"], 8);
    assert!(
        json["revenue"]["welch"]["interval"]["low"]
            .as_f64()
            .unwrap()
            > 0.0
    );

    let page = dir.path().join("fees.html");
    let output = lnpolicy(&[
        "report",
        "--experiment",
        "fees",
        "--db",
        db_arg(&db),
        "--format",
        "html",
        "--output",
        page.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).is_empty(), "the page goes to the file only");
    let html = std::fs::read_to_string(&page).expect("the HTML file was written");
    assert!(html.contains("<svg"), "charts are inline SVG");
    assert!(html.contains("B better"));
    assert!(!html.contains("<script"));
}

#[test]
fn stricter_options_withhold_the_verdict() {
    let (_dir, db) = database();
    let output = lnpolicy(&[
        "report",
        "--experiment",
        "fees",
        "--db",
        db_arg(&db),
        "--min-days",
        "30",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(
        table.contains("VERDICT: not yet distinguishable"),
        "{table}"
    );
    assert!(table.contains("30 are needed"), "{table}");
}

#[test]
fn activity_report_and_status() {
    let (_dir, db) = database();

    let output = lnpolicy(&["report", "--db", db_arg(&db)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(
        table.contains("ROLLED BACK") && table.contains("hill_climber"),
        "{table}"
    );

    let output = lnpolicy(&["report", "--db", db_arg(&db), "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let hill = json["strategies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["strategy"] == "hill_climber")
        .unwrap();
    assert_eq!(hill["counts"]["applied"], 8);
    assert_eq!(hill["counts"]["pending"], 1);
    assert_eq!(hill["cycles"], 2);
    assert!(hill["revenue_msat"]["30d"].as_u64().unwrap() > 0);
    let channels = json["channels"].as_array().unwrap();
    assert_eq!(channels[0]["analysis"]["flow_class"], "sink");
    assert_eq!(channels[0]["analysis"]["profitability"], "underwater");
    assert_eq!(channels[0]["analysis"]["rebalance_cost_msat"], 2_500_400);
    assert_eq!(channels[1]["analysis"]["flow_class"], "source");
    assert!(channels[2]["analysis"].is_null(), "no cycle analysed it");
    let row = |scid: &str| {
        table
            .lines()
            .find(|line| line.starts_with(scid))
            .unwrap_or_else(|| panic!("no row for {scid} in:\n{table}"))
            .split_whitespace()
            .take(5)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let scid = |i: usize| channels[i]["short_channel_id"].as_str().unwrap().to_owned();
    assert!(
        row(&scid(0)).ends_with("sink underwater 2500"),
        "{}",
        row(&scid(0))
    );
    assert!(
        row(&scid(1)).ends_with("source profitable 0"),
        "{}",
        row(&scid(1))
    );
    assert!(row(&scid(2)).ends_with("- - -"), "{}", row(&scid(2)));
    let last = channels.len() - 1;
    assert_eq!(channels[last]["channel_id"], CLOSED);
    let never = channels
        .iter()
        .find(|c| c["channel_id"] == NEVER_COLLECTED)
        .unwrap();
    assert_eq!(never["closed"], true, "{never}");
    assert_eq!(
        (&channels[last]["closed"], &channels[0]["closed"]),
        (&serde_json::json!(true), &serde_json::json!(false))
    );
    assert!(
        row(&scid(last)).ends_with("closed zombie 0"),
        "how it ended: {}",
        row(&scid(last))
    );

    let output = lnpolicy(&["status", "--db", db_arg(&db)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let status = stdout(&output);
    assert!(status.contains("Pending updates (1;"), "{status}");
    assert!(status.contains("500 -> 520"), "{status}");
    assert!(status.contains("Quarantined strategies: none"), "{status}");
    let experiments = status
        .lines()
        .find(|l| l.starts_with("fees "))
        .expect("the experiment is listed");
    assert!(
        experiments
            .split_whitespace()
            .take(3)
            .eq(["fees", "8", "8"]),
        "{status}"
    );

    let output = lnpolicy(&["status", "--db", db_arg(&db), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["strategies"].as_array().unwrap().len(), 2);
}

#[test]
fn mistakes_are_explained() {
    let (dir, db) = database();
    let missing = dir.path().join("nothing-here.db");
    let output = lnpolicy(&["status", "--db", missing.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no database at"),
        "{}",
        stderr(&output)
    );
    assert!(!missing.exists(), "a report never creates a database");

    let output = lnpolicy(&["report", "--experiment", "fess", "--db", db_arg(&db)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("(it has: fees)"),
        "{}",
        stderr(&output)
    );

    let output = lnpolicy(&["report", "--db", db_arg(&db), "--format", "html"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("add --experiment"),
        "{}",
        stderr(&output)
    );
}

/// `status` and `report` beside a daemon of another version: a database of an older schema is
/// refused and left as it was (upgrading it under a running older daemon would stop that
/// daemon's next start), and one of the current schema is read without a write.
#[test]
fn reports_never_migrate_or_write_the_database() {
    let (_dir, db) = database();
    let schema = |db: &Path| -> (i64, bool) {
        let conn = rusqlite::Connection::open(db).unwrap();
        let version = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        let newest_table: bool = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master
                 WHERE name = 'decision_tallies')",
                [],
                |row| row.get(0),
            )
            .unwrap();
        (version, newest_table)
    };
    let (current, _) = schema(&db);
    let output = lnpolicy(&["status", "--db", db_arg(&db)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // Back to before the newest migration, 0022, which creates the table: a migration would
    // bring the table back.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch(&format!(
            "DROP TABLE decision_tallies; DROP TABLE decision_fold_cursor;
             DROP INDEX update_intents_by_decision; DROP INDEX decisions_by_channel_time;
             DROP INDEX experiment_assignments_by_channel; PRAGMA user_version = {};",
            current - 1
        ))
        .unwrap();
    for args in [
        vec!["status", "--db", db_arg(&db)],
        vec!["report", "--experiment", "fees", "--db", db_arg(&db)],
    ] {
        let output = lnpolicy(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).contains("older than this lnpolicy's")
                && stderr(&output).contains(db_arg(&db)),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(schema(&db), (current - 1, false), "left as it was");
}
