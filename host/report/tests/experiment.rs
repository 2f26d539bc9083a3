//! Experiment reports on real SQLite files, filled the way the daemon fills
//! them: assignments, forwards, snapshots, cycles with decisions, and update
//! intents recorded and resolved, all through the store's public API.

use lnpolicy_core::{ChannelId, FeePolicy, Forward, GuardedDecision, NodeChannel};
use lnpolicy_report::{
    ExperimentOptions, ExperimentReport, Outcome, ReportError, experiment_report, html, text,
};
use lnpolicy_store::{Arm, CycleStatus, DecisionRecord, IntentOutcome, Store};
use tempfile::TempDir;

const DAY: u64 = 86_400;
const NS: u64 = 1_000_000_000;
/// A fixed "now" (2025-03-01 12:00 UTC), so reports are reproducible.
const NOW: u64 = 1_740_830_400;
const CYCLE: u64 = 6 * 3600;

/// SplitMix64, for test data that is noisy but the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * self.uniform()).cos()
    }

    /// Knuth's method; the rates here are small.
    fn poisson(&mut self, mean: f64) -> u64 {
        let limit = (-mean).exp();
        let (mut k, mut p) = (0, 1.0);
        loop {
            p *= self.uniform();
            if p <= limit {
                return k;
            }
            k += 1;
        }
    }
}

/// One channel in the experiment.
struct Spec {
    arm: Arm,
    /// Days before `NOW` it joined.
    joined_days_ago: f64,
    /// Days before `NOW` it closed, if it did.
    closed_days_ago: Option<f64>,
    /// The arm's typical earnings, sat per day; each channel differs from it
    /// by a log-normal factor, as channels with different peers do.
    mean_sat_per_day: f64,
}

fn channel_id(n: u64) -> ChannelId {
    ((850_000 + n) << 40) | ((n * 7) << 16) | (n % 2)
}

fn policy(fee_ppm: u32) -> FeePolicy {
    FeePolicy {
        base_fee_msat: 1000,
        fee_ppm,
        min_htlc_msat: 1000,
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
        capacity_sat: 5_000_000,
        local_balance_sat: 2_500_000,
        remote_balance_sat: 2_500_000,
        commit_fee_sat: 2_000,
        unsettled_balance_sat: 0,
        local_reserve_sat: 50_000,
        remote_reserve_sat: 50_000,
        pending_htlcs: Vec::new(),
        max_accepted_htlcs: 483,
        max_in_flight_msat: 4_950_000_000,
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

/// Arm A runs `static` at 100 ppm throughout; arm B runs `hill_climber`,
/// which moves its channels to 500 ppm a day after they join.
fn fee_of(arm: Arm, at: u64, joined: u64) -> u32 {
    match arm {
        Arm::B if at >= joined + DAY + CYCLE => 500,
        _ => 100,
    }
}

/// Writes the experiment `name` with `specs` into a new database file.
fn build(name: &str, specs: &[Spec], seed: u64) -> (TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let mut rng = Rng(seed);
    let ids: Vec<ChannelId> = (1..=specs.len() as u64).map(channel_id).collect();
    let joined: Vec<u64> = specs
        .iter()
        .map(|s| NOW - (s.joined_days_ago * DAY as f64) as u64)
        .collect();
    let closed: Vec<Option<u64>> = specs
        .iter()
        .map(|s| s.closed_days_ago.map(|d| NOW - (d * DAY as f64) as u64))
        .collect();
    let open_at = |i: usize, at: u64| closed[i].is_none_or(|c| at < c);

    // Channels join in batches, as the daemon assigns them when first seen.
    for (i, spec) in specs.iter().enumerate() {
        store
            .record_assignments(name, 0.5, &[(ids[i], spec.arm)], joined[i])
            .unwrap();
    }

    // Forwards: a Poisson number a day, each fee exponential around the
    // channel's typical size, amounts following from the fee rate.
    let mut forwards = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let factor = (0.6 * rng.normal()).exp();
        let per_forward_sat = 6.0;
        let per_day = spec.mean_sat_per_day * factor / per_forward_sat;
        let first = joined[i] - 2 * DAY; // earlier forwards must not count
        let end = closed[i].unwrap_or(NOW);
        let mut day_start = first;
        while day_start < end {
            for _ in 0..rng.poisson(per_day) {
                let at = day_start + (rng.uniform() * DAY as f64) as u64;
                if at >= end {
                    continue;
                }
                let fee_msat = (per_forward_sat * 1000.0 * -rng.uniform().ln()) as u64 + 1;
                let ppm = u64::from(fee_of(spec.arm, at, joined[i]));
                forwards.push(Forward {
                    index: 0,
                    at_ns: at * NS,
                    chan_in: ids[(i + 1) % ids.len()],
                    chan_out: ids[i],
                    amt_in_msat: 0,
                    amt_out_msat: fee_msat * 1_000_000 / ppm,
                    fee_msat,
                });
            }
            day_start += DAY;
        }
    }
    forwards.sort_by_key(|f| f.at_ns);
    for (index, f) in forwards.iter_mut().enumerate() {
        f.index = index as u64;
        f.amt_in_msat = f.amt_out_msat + f.fee_msat;
    }
    for page in forwards.chunks(500) {
        store
            .add_forwards(page, page[page.len() - 1].index + 1)
            .unwrap();
    }

    // A snapshot every 6 hours up to now, of the channels open at the time.
    let start = joined.iter().min().unwrap() - DAY;
    let mut at = start;
    while at <= NOW {
        let open: Vec<NodeChannel> = (0..specs.len())
            .filter(|&i| open_at(i, at))
            .map(|i| node_channel(ids[i], fee_of(specs[i].arm, at, joined[i])))
            .collect();
        store.add_channel_snapshot(at, &open).unwrap();
        at += 6 * 3600;
    }

    // A cycle every 6 hours per arm strategy; B's change a day after a
    // channel joins goes through an intent, recorded before and resolved after.
    let mut at = start;
    while at <= NOW {
        for (arm, strategy) in [(Arm::A, "static"), (Arm::B, "hill_climber")] {
            let members: Vec<usize> = (0..specs.len())
                .filter(|&i| specs[i].arm == arm && joined[i] <= at && open_at(i, at))
                .collect();
            if members.is_empty() {
                continue;
            }
            let cycle = store
                .begin_cycle(strategy, "00", at, members.len() as u32)
                .unwrap();
            let guarded: Vec<GuardedDecision> = members
                .iter()
                .map(|&i| {
                    let change =
                        arm == Arm::B && at >= joined[i] + DAY && at < joined[i] + DAY + CYCLE;
                    GuardedDecision {
                        channel_id: ids[i],
                        policy: change.then(|| policy(500)),
                        clamps: Vec::new(),
                    }
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
                    reason: if g.policy.is_some() {
                        "explore up"
                    } else {
                        "hold"
                    },
                })
                .collect();
            let decision_ids = store.record_decisions(&records).unwrap();
            for (g, decision) in guarded.iter().zip(decision_ids) {
                if let Some(desired) = &g.policy {
                    let intent = store
                        .record_intent(g.channel_id, Some(decision), &policy(100), desired, at)
                        .unwrap();
                    store
                        .resolve_intent(intent, IntentOutcome::Applied, at + 2)
                        .unwrap();
                }
            }
            store
                .finish_cycle(cycle, at + 5, CycleStatus::Ok, None)
                .unwrap();
        }
        at += CYCLE;
    }
    (dir, store)
}

/// `per_arm` channels in each arm, joined 14 days ago, earning `a` and `b`
/// sat per day typically.
fn specs(per_arm: usize, days: f64, a: f64, b: f64) -> Vec<Spec> {
    (0..2 * per_arm)
        .map(|i| {
            let arm = if i.is_multiple_of(2) { Arm::A } else { Arm::B };
            Spec {
                arm,
                joined_days_ago: days,
                closed_days_ago: None,
                mean_sat_per_day: if arm == Arm::A { a } else { b },
            }
        })
        .collect()
}

fn report(store: &Store, name: &str) -> ExperimentReport {
    experiment_report(store, name, NOW, &ExperimentOptions::default()).unwrap()
}

#[test]
fn an_arm_earning_five_times_as_much_is_named_the_winner() {
    let mut specs = specs(12, 14.0, 40.0, 200.0);
    specs[0].closed_days_ago = Some(5.0);
    specs.push(Spec {
        arm: Arm::B,
        joined_days_ago: 0.25,
        closed_days_ago: None,
        mean_sat_per_day: 200.0,
    });
    let (_dir, store) = build("fees-2025", &specs, 1);
    let report = report(&store, "fees-2025");

    assert_eq!(report.verdict.outcome, Outcome::BBetter, "{report:#?}");
    assert_eq!(report.verdict.label, "B better");
    assert_eq!(report.difference, "B - A");
    let welch = report.revenue.welch.unwrap();
    let bootstrap = report.revenue.bootstrap.unwrap();
    assert!(welch.interval.low > 0.0 && bootstrap.low > 0.0);
    let (a, b) = (
        report.revenue.mean_a.unwrap(),
        report.revenue.mean_b.unwrap(),
    );
    assert!(b / a > 3.0 && b / a < 8.0, "A {a}, B {b}");

    assert_eq!(report.arms[0].strategies[0].strategy, "static");
    assert_eq!(report.arms[1].strategies[0].strategy, "hill_climber");
    assert_eq!((report.arms[0].channels, report.arms[1].channels), (12, 13));
    assert_eq!(report.arms[1].compared_channels, 12, "the newcomer waits");

    let closed = &report.channels[0];
    assert!(closed.closed);
    assert!((closed.channel_days - 9.0).abs() < 0.26, "{closed:?}");
    let open = &report.channels[1];
    assert!(!open.closed && open.until == NOW);
    assert!((open.channel_days - 14.0).abs() < 1e-9);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("1 channel(s) closed"))
    );
    assert!(report.notes.iter().any(|n| n.contains("not compared")));

    let last_fee = |arm: usize| report.fee_ppm[arm].points.last().unwrap().value;
    assert_eq!(last_fee(0), 100.0, "A never changed (snapshot rate)");
    assert!(
        last_fee(1) > 400.0,
        "B moved to 500 ppm, but the newcomer is still at 100"
    );
    assert!(report.daily_revenue[1].points.len() >= 13);

    // Volume per day follows from the fee rate: B charges 5x as much per sat,
    // so earning 5x means similar volume.
    assert!(report.volume.mean_a.unwrap() > 0.0);

    let table = text::experiment_table(&report);
    assert!(table.contains("VERDICT: B better"), "{table}");
    assert!(table.contains("hill_climber"));
    let page = html::experiment_html(&report);
    assert!(page.contains("<svg") && page.contains("B better"));
    for external in ["<script", "<link", "src=", "href=", "url("] {
        assert!(
            !page.contains(external),
            "the page must be self-contained: {external}"
        );
    }
    assert!(!page.contains("NaN"));

    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["verdict"]["outcome"], "b_better");
    assert_eq!(json["difference"], "B - A");
    assert!(
        json["revenue"]["welch"]["degrees_of_freedom"]
            .as_f64()
            .unwrap()
            > 5.0
    );
}

/// A channel of arm B closed three days into the experiment: too short to compare, and the
/// report says that B's mean leaves it out (a channel its fees drove away would flatter B).
#[test]
fn a_channel_that_closed_too_soon_to_compare_is_named_not_counted() {
    let mut specs = specs(6, 14.0, 100.0, 100.0);
    specs[1].closed_days_ago = Some(11.0);
    let (_dir, store) = build("survivors", &specs, 3);
    let report = report(&store, "survivors");
    let gone = &report.channels[1];
    assert!(gone.closed && !gone.compared, "{gone:?}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("1 channel(s) of arm B closed before")),
        "{:?}",
        report.notes
    );
    assert!(
        !report
            .notes
            .iter()
            .any(|n| n.contains("closed; each counts")),
        "it counts nowhere: {:?}",
        report.notes
    );
}

/// A channel moved to another section 7 days ago earned under another strategy since: only
/// its week in the experiment counts for its arm, and the decisions made for it since are
/// not its arm's.
#[test]
fn a_channel_moved_out_of_the_experiment_counts_until_it_left() {
    let specs = specs(6, 14.0, 100.0, 100.0);
    let (_dir, store) = build("moved", &specs, 4);
    let before = report(&store, "moved");
    let moved = before.channels[3].channel_id;
    let left_at = NOW - 7 * DAY;
    assert_eq!(
        store
            .record_experiment_departures(&[(moved, None)], left_at)
            .unwrap(),
        1
    );
    let after = report(&store, "moved");
    let line = &after.channels[3];
    assert_eq!((line.left_at, line.until), (Some(left_at), left_at));
    assert!((line.channel_days - 7.0).abs() < 1e-9, "{line:?}");
    let own_week: i64 = store
        .daily_out(moved, line.assigned_at * NS, left_at * NS)
        .unwrap()
        .iter()
        .map(|d| d.fees_msat)
        .sum();
    assert_eq!(line.fees_msat, own_week);
    assert!(line.fees_msat < before.channels[3].fees_msat, "{line:?}");
    assert!(line.remarks().contains(&"left") && !line.closed);
    assert!(
        after
            .notes
            .iter()
            .any(|n| n.contains("0 channel(s) of arm A and 1 of arm B left")),
        "{:?}",
        after.notes
    );
    let decisions =
        |r: &ExperimentReport| -> u64 { r.arms[1].strategies.iter().map(|s| s.decisions).sum() };
    assert!(decisions(&after) < decisions(&before));

    // Another section sets a fee far from the arm's after it left: the arm's fee chart does
    // not show it.
    let last_b_fee = |r: &ExperimentReport| r.fee_ppm[1].points.last().unwrap().value;
    let outlier = store
        .record_intent(moved, None, &policy(500), &policy(50_000), NOW - DAY)
        .unwrap();
    store
        .resolve_intent(outlier, IntentOutcome::Applied, NOW - DAY)
        .unwrap();
    let later = report(&store, "moved");
    assert_eq!(
        last_b_fee(&later),
        last_b_fee(&after),
        "{:?}",
        later.fee_ppm
    );
    assert_eq!(
        store
            .record_experiment_departures(&[(moved, None)], NOW)
            .unwrap(),
        0,
        "the first departure is final"
    );
}

#[test]
fn reports_are_reproducible() {
    let (_dir, store) = build("fees", &specs(6, 10.0, 50.0, 60.0), 3);
    let first = serde_json::to_string(&report(&store, "fees")).unwrap();
    let second = serde_json::to_string(&report(&store, "fees")).unwrap();
    assert_eq!(first, second);
}

#[test]
fn the_mirror_case_names_a() {
    let (_dir, store) = build("fees", &specs(10, 14.0, 200.0, 40.0), 5);
    assert_eq!(report(&store, "fees").verdict.outcome, Outcome::ABetter);
}

#[test]
fn identical_arms_are_not_yet_distinguishable() {
    let (_dir, store) = build("same", &specs(12, 21.0, 80.0, 80.0), 2);
    let report = report(&store, "same");
    assert_eq!(
        report.verdict.outcome,
        Outcome::NotYetDistinguishable,
        "{:#?}",
        report.revenue
    );
    assert!(report.revenue.welch.unwrap().interval.contains(0.0));
    assert!(report.revenue.bootstrap.unwrap().contains(0.0));
    assert!(
        report
            .verdict
            .reasons
            .iter()
            .any(|r| r.contains("contains 0")),
        "{:?}",
        report.verdict.reasons
    );
}

#[test]
fn too_little_data_says_what_is_missing() {
    let (_dir, store) = build("young", &specs(3, 2.0, 40.0, 200.0), 4);
    let report = report(&store, "young");
    assert_eq!(report.verdict.outcome, Outcome::NotYetDistinguishable);
    let reasons = report.verdict.reasons.join("\n");
    assert!(
        reasons.contains("arm A has 0 channel(s) with at least 7 day(s)"),
        "two days each: none compared yet; {reasons}"
    );
    assert!(reasons.contains("arm B has 0 channel(s)"), "{reasons}");
    assert!(reasons.contains("5 are needed"), "{reasons}");
    assert!(
        reasons.contains("has run 2.0 day(s); 7 are needed"),
        "{reasons}"
    );
    assert!(report.revenue.welch.is_none());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("6 channel(s) with less than 7 day(s)")),
        "{:?}",
        report.notes
    );
}

#[test]
fn one_channel_per_arm_has_no_interval() {
    let (_dir, store) = build("tiny", &specs(1, 10.0, 40.0, 200.0), 6);
    let report = report(&store, "tiny");
    assert_eq!(report.verdict.outcome, Outcome::NotYetDistinguishable);
    assert!(report.revenue.welch.is_none());
    assert!(
        report
            .revenue
            .unavailable
            .as_deref()
            .unwrap()
            .contains("at least 2 are needed")
    );
    assert!(text::experiment_table(&report).contains("no revenue interval"));
}

#[test]
fn an_unknown_experiment_names_the_known_ones() {
    let (_dir, store) = build("fees-2025", &specs(2, 3.0, 1.0, 1.0), 7);
    let error =
        experiment_report(&store, "fees-2024", NOW, &ExperimentOptions::default()).unwrap_err();
    assert!(matches!(error, ReportError::UnknownExperiment { .. }));
    assert_eq!(
        error.to_string(),
        "no experiment named \"fees-2024\" in the database (it has: fees-2025)"
    );
}

#[test]
fn options_are_checked() {
    let (_dir, store) = build("fees", &specs(2, 3.0, 1.0, 1.0), 8);
    for options in [
        ExperimentOptions {
            min_channels_per_arm: 1,
            ..ExperimentOptions::default()
        },
        ExperimentOptions {
            permutation_rounds: 0,
            ..ExperimentOptions::default()
        },
    ] {
        assert!(matches!(
            experiment_report(&store, "fees", NOW, &options),
            Err(ReportError::InvalidOptions(_))
        ));
    }
}

/// The report runs to the latest collection: read a month later (a stopped daemon, or a
/// simulated market's database read on the machine's clock), its rates are the same.
#[test]
fn a_report_read_later_covers_the_data_not_the_days_since() {
    let (_dir, store) = build("later", &specs(6, 14.0, 40.0, 200.0), 3);
    let options = ExperimentOptions::default();
    let then = report(&store, "later");
    let later = experiment_report(&store, "later", NOW + 30 * DAY, &options).unwrap();
    assert_eq!(later.revenue.mean_a, then.revenue.mean_a);
    assert_eq!(later.revenue.mean_b, then.revenue.mean_b);
    assert_eq!(later.days_running, then.days_running);
    assert_eq!(later.data_until, then.data_until);
    assert_eq!(later.generated_at, NOW + 30 * DAY);
    assert!(
        later
            .notes
            .iter()
            .any(|n| n.contains("the report runs up to then")),
        "{:?}",
        later.notes
    );
}
