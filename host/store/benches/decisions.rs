//! What folding old decisions costs and saves: a 200-channel node decided hourly for 200
//! days (960,000 decisions, an update sent every tenth hour, 40 channels in an A/B
//! experiment from day 20), folded with a 90-day detail period in the batches a cycle takes.
//! Prints the time per batch and the database's pages in use before and after.

use std::time::Instant;

use lnpolicy_core::{Decision, FeePolicy, GuardedDecision, PolicyChange};
use lnpolicy_store::{Arm, DecisionRecord, IntentOutcome, Store};

const CHANNELS: u64 = 200;
const DAYS: u64 = 200;
const HOUR: u64 = 3_600;
const BATCH: usize = 20_000;

fn policy(fee_ppm: u32) -> FeePolicy {
    FeePolicy {
        base_fee_msat: 1000,
        fee_ppm,
        min_htlc_msat: 1_000,
        max_htlc_msat: 990_000_000,
        time_lock_delta: 80,
        ..FeePolicy::default()
    }
}

/// Bytes in pages the database uses: deleted rows free pages for reuse, not the file.
fn used_bytes(path: &std::path::Path) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    let pragma = |name: &str| -> u64 {
        conn.pragma_query_value(None, name, |row| row.get::<_, i64>(0))
            .unwrap() as u64
    };
    (pragma("page_count") - pragma("freelist_count")) * pragma("page_size")
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lnpolicy.db");
    let store = Store::open(&path).unwrap();
    let start = Instant::now();
    let joined: Vec<(u64, Arm)> = (1..=40)
        .map(|id| (id, if id % 2 == 0 { Arm::A } else { Arm::B }))
        .collect();
    store
        .record_assignments("fees", 0.5, &joined, 20 * 24 * HOUR)
        .unwrap();
    for hour in 0..DAYS * 24 {
        let at = hour * HOUR;
        let cycle = store.begin_cycle("hill_climber", "", at, 200).unwrap();
        let sends = hour % 10 == 0;
        let decisions: Vec<(Decision, GuardedDecision)> = (1..=CHANNELS)
            .map(|channel_id| {
                let raw = Decision {
                    channel_id,
                    change: PolicyChange {
                        fee_ppm: Some(500 + (hour % 7) as u32),
                        ..PolicyChange::default()
                    },
                    reason: "position 512 ppm, step 25 ppm: revenue 1.2x the last".into(),
                };
                let guarded = GuardedDecision {
                    channel_id,
                    policy: sends.then(|| policy(500)),
                    clamps: Vec::new(),
                };
                (raw, guarded)
            })
            .collect();
        let records: Vec<DecisionRecord<'_>> = decisions
            .iter()
            .map(|(raw, guarded)| DecisionRecord {
                cycle_id: cycle,
                at,
                strategy: "hill_climber",
                strategy_sha256: "0f3a",
                raw: Some(raw),
                guarded,
                reason: &raw.reason,
            })
            .collect();
        let ids = store.record_decisions(&records).unwrap();
        if sends {
            let intent = store
                .record_intent(1, Some(ids[0]), &policy(400), &policy(500), at)
                .unwrap();
            store
                .resolve_intent(intent, IntentOutcome::Applied, at)
                .unwrap();
        }
    }
    let filled = used_bytes(&path);
    println!(
        "{} decisions recorded in {:.1} s; database {:.0} MB in use",
        CHANNELS * DAYS * 24,
        start.elapsed().as_secs_f64(),
        filled as f64 / 1e6
    );
    let before = (DAYS - 90) * 24 * HOUR;
    let mut times = Vec::new();
    let mut folded = 0;
    loop {
        let start = Instant::now();
        let fold = store
            .fold_old_decisions(before, DAYS * 24 * HOUR, BATCH)
            .unwrap();
        if fold.examined == 0 {
            break;
        }
        times.push(start.elapsed().as_secs_f64() * 1e3);
        folded += fold.folded;
    }
    times.sort_by(f64::total_cmp);
    println!(
        "folded {folded} in {} batches of {BATCH}: median {:.0} ms, slowest {:.0} ms",
        times.len(),
        times[times.len() / 2],
        times[times.len() - 1]
    );
    println!(
        "database {:.0} MB in use after folding ({:.0}% of before)",
        used_bytes(&path) as f64 / 1e6,
        100.0 * used_bytes(&path) as f64 / filled as f64
    );
}
