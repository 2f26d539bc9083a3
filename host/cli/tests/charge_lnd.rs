//! charge-lnd's command line end to end: the `lnpolicy` binary with a charge-lnd style config
//! against the simulator's real LND server (gRPC, TLS, macaroon). A dry run prints the table
//! and sends nothing; the apply run then leaves the node with exactly the table's policies.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use lnpolicy_core::{FeePolicy, short_channel_id};
use lnpolicy_node::lnd::permissions::{
    CLIENT_METHODS, ESTIMATE_FEE, Permission, UPDATE_CHAN_STATUS, UPDATE_CHANNEL_POLICY,
};
use lnpolicy_sim::cln_server::{FaultConfig, MethodFaults};
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig, LndServerHandle};
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};

const CONFIG: &str = "\
[DEFAULT]
base_fee_msat = 1_000
min_fee_ppm_delta = 5

[leave-private]
chan.private = true
strategy = ignore

[big]
chan.min_capacity = 15_000_000
strategy = static
fee_ppm = 333
time_lock_delta = 60

[theirs]
chan.initiator = false
strategy = cost

[expensive-peer]
chan.min_fee_ppm = 150
strategy = match_peer

[default]
strategy = proportional
min_fee_ppm = 100
max_fee_ppm = 900
";

/// The policy as the table prints it: an independent spelling of the format, so a table
/// that lies about the node fails here.
fn shown(p: &FeePolicy) -> String {
    let mut text = format!("{} ppm + {} msat", p.fee_ppm, p.base_fee_msat);
    if p.inbound_fee_ppm != 0 || p.inbound_base_fee_msat != 0 {
        text += &format!(
            ", inbound {} ppm {} msat",
            p.inbound_fee_ppm, p.inbound_base_fee_msat
        );
    }
    if p.disabled {
        text += ", disabled";
    }
    text
}

struct Row {
    channel: String,
    section: String,
    strategy: String,
    new: String,
    action: String,
}

/// Table rows: fixed-width columns (16, 20, 14, 36, 36, then the action).
fn rows(stdout: &str) -> Vec<Row> {
    stdout
        .lines()
        .skip(1)
        .filter(|line| line.len() > 127 && line.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(|line| Row {
            channel: line[..16].trim().to_owned(),
            section: line[17..37].trim().to_owned(),
            strategy: line[38..52].trim().to_owned(),
            new: line[90..126].trim().to_owned(),
            action: line[127..].trim().to_owned(),
        })
        .collect()
}

fn run_cli(args: Vec<String>) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
        .args(args)
        .env_remove("CONFIG_LOCATION")
        .output()
        .unwrap()
}

/// [`args`] with a macaroon for every method lnpolicy uses but `method`, as an operator's
/// macaroon baked for an older release would be.
fn args_without(method: &str, config: &Path, server: &LndServerHandle, db: &Path) -> Vec<String> {
    let path = server
        .lnpolicy_macaroon_path()
        .with_extension(method.replace('/', "-"));
    let granted: Vec<Permission> = CLIENT_METHODS
        .iter()
        .filter(|m| **m != method)
        .map(|m| Permission::uri(m))
        .collect();
    server.bake_macaroon(&granted, &path).unwrap();
    let mut args = args(config, server, db, &[]);
    let macaroon = args.iter().position(|a| a == "--macaroon").unwrap() + 1;
    args[macaroon] = path.display().to_string();
    args
}

/// Runs the binary off the async runtime; it must succeed. Its standard output.
async fn run_ok(args: Vec<String>) -> String {
    let output = tokio::task::spawn_blocking(move || run_cli(args))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn args(config: &Path, server: &LndServerHandle, db: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-c".into(),
        config.display().to_string(),
        "--grpc".into(),
        server.addr().to_string(),
        "--tlscert".into(),
        server.cert_path().display().to_string(),
        "--macaroon".into(),
        server.lnpolicy_macaroon_path().display().to_string(),
        "--db".into(),
        db.display().to_string(),
        "--strategies".into(),
        db.with_extension("strategies").display().to_string(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// `live` served over LND's protocol from a temporary folder, with the paths of a run's config
/// and database in it (the folder lives as long as the first value).
async fn serve(live: &LiveSimulation) -> (tempfile::TempDir, LndServerHandle, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let server = LndServer::start(live.shared(), LndServerConfig::new(dir.path().join("lnd")))
        .await
        .unwrap();
    let config = dir.path().join("charge.config");
    let db = dir.path().join("lnpolicy.db");
    (dir, server, config, db)
}

/// [`serve`] with [`CONFIG`] written to the run's config path.
async fn serve_config(
    live: &LiveSimulation,
) -> (tempfile::TempDir, LndServerHandle, PathBuf, PathBuf) {
    let served = serve(live).await;
    std::fs::write(&served.2, CONFIG).unwrap();
    served
}

/// Every channel's policy as the node has it now.
fn policies(live: &LiveSimulation) -> Vec<(u64, FeePolicy)> {
    let state = live.shared();
    let state = state.lock().unwrap();
    state
        .channels
        .iter()
        .map(|c| (c.id, c.local_policy))
        .collect()
}

/// The policies of the channels that are up, as the node has them now.
fn active_policies(live: &LiveSimulation) -> Vec<(u64, FeePolicy)> {
    let state = live.shared();
    let state = state.lock().unwrap();
    state
        .channels
        .iter()
        .filter(|c| c.active)
        .map(|c| (c.id, c.local_policy))
        .collect()
}

/// The balanced market at its start.
fn balanced() -> LiveSimulation {
    LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()))
}

/// The balanced market after `secs` of trading.
fn balanced_after(secs: u64) -> LiveSimulation {
    let mut live = balanced();
    live.advance(secs);
    live
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_then_apply_leaves_the_node_with_the_tables_policies() {
    let live = balanced_after(86_400);
    let (_dir, server, config, db) = serve_config(&live).await;
    let before = policies(&live);

    let dry = args(&config, &server, &db, &["--dry-run"]);
    let dry_out = run_ok(dry).await;
    assert!(dry_out.contains("nothing was sent"), "{dry_out}");
    let table = rows(&dry_out);
    assert_eq!(table.len(), before.len(), "one row per channel:\n{dry_out}");
    {
        let state = live.shared();
        let state = state.lock().unwrap();
        for (id, policy) in &before {
            assert_eq!(
                state.channel(*id).unwrap().local_policy,
                *policy,
                "a dry run sends nothing"
            );
        }
    }
    let updates = table.iter().filter(|r| r.action == "update").count();
    assert!(
        updates >= 3,
        "the config changes several channels:\n{dry_out}"
    );
    for strategy in ["static", "cost", "proportional"] {
        assert!(
            table.iter().any(|r| r.strategy == strategy),
            "{strategy} decides some channel:\n{dry_out}"
        );
    }

    let apply = args(&config, &server, &db, &[]);
    let applied_out = run_ok(apply).await;
    assert!(
        applied_out.contains(&format!("{updates} update(s) applied, 0 failed")),
        "{applied_out}"
    );

    let state = live.shared();
    let state = state.lock().unwrap();
    for row in &table {
        let (id, old) = before
            .iter()
            .find(|(id, _)| short_channel_id(*id) == row.channel)
            .unwrap_or_else(|| panic!("row for an unknown channel {}", row.channel));
        let now = state.channel(*id).unwrap().local_policy;
        if row.action == "update" {
            assert_eq!(
                shown(&now),
                row.new,
                "channel {} ({})",
                row.channel,
                row.section
            );
        } else {
            assert_eq!(now, *old, "channel {} was not to change", row.channel);
        }
    }
    let big = table
        .iter()
        .find(|r| r.section == "big")
        .expect("a big channel");
    assert_eq!(big.new, "333 ppm + 1000 msat");
}

fn experiment_config(split: f64, name: &str, extra: &str) -> String {
    format!(
        "{extra}\n[ab]\nstrategy = experiment\nexperiment.name = {name}\nexperiment.a = static\n\
         experiment.a.fee_ppm = 111\nexperiment.b = static\nexperiment.b.fee_ppm = 222\n\
         experiment.split = {split}\n"
    )
}

/// Arms by channel, read from a dry run's table ("static (a)" / "static (b)").
async fn arms(config: &Path, server: &LndServerHandle, db: &Path) -> Vec<(String, String)> {
    let args = args(config, server, db, &["--dry-run"]);
    let stdout = run_ok(args).await;
    rows(&stdout)
        .into_iter()
        .map(|row| {
            let arm = match row.strategy.as_str() {
                "static (a)" => "a",
                "static (b)" => "b",
                other => panic!("not an experiment arm: {other:?}"),
            };
            let fee = if arm == "a" { "111 ppm" } else { "222 ppm" };
            assert!(
                row.new.starts_with(fee) || row.action == "unchanged",
                "arm {arm} runs its own parameters: {}",
                row.new
            );
            (row.channel, arm.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_arms_are_stable_across_restarts_and_config_reloads() {
    const CHANNELS: usize = 400;
    let live = LiveSimulation::new(Simulation::new(Scenario::synthetic(CHANNELS, 1_000.0, 7)));
    let (_dir, server, config, db) = serve(&live).await;

    std::fs::write(&config, experiment_config(0.3, "ab-1", "")).unwrap();
    let first = arms(&config, &server, &db).await;
    assert_eq!(first.len(), CHANNELS);
    let share_a = first.iter().filter(|(_, arm)| arm == "a").count() as f64 / CHANNELS as f64;
    let sigma = (0.3f64 * 0.7 / CHANNELS as f64).sqrt();
    assert!(
        (share_a - 0.3).abs() < 4.0 * sigma,
        "share in arm A {share_a} is not 0.3 within sampling error"
    );

    // A dry run records nothing: the arms are drawn again, at the split the config has then.
    std::fs::write(&config, experiment_config(0.9, "ab-1", "")).unwrap();
    let undecided = arms(&config, &server, &db).await;
    assert!(
        undecided.iter().zip(&first).any(|(a, b)| a.1 != b.1),
        "a dry run fixed the arms"
    );
    // The experiment starts with a run that applies: its arms are recorded.
    std::fs::write(&config, experiment_config(0.3, "ab-1", "")).unwrap();
    run_ok(args(&config, &server, &db, &[])).await;

    // A reloaded config (new split, a new section before it) and a new process: no channel moves.
    std::fs::write(
        &config,
        experiment_config(0.9, "ab-1", "[limits]\nguard.max_fee_ppm = 2000\n"),
    )
    .unwrap();
    let reloaded = arms(&config, &server, &db).await;
    assert_eq!(reloaded, first, "a channel switched arm mid-experiment");

    // A new experiment name is a new, independent draw (at split 0.9 now).
    std::fs::write(&config, experiment_config(0.9, "ab-2", "")).unwrap();
    let fresh = arms(&config, &server, &db).await;
    let moved = fresh.iter().zip(&first).filter(|(a, b)| a.1 != b.1).count();
    assert!(moved > 0, "a new experiment draws anew");
    let share_a = fresh.iter().filter(|(_, arm)| arm == "a").count() as f64 / CHANNELS as f64;
    assert!(
        share_a > 0.8,
        "the new split applies to the new experiment: {share_a}"
    );

    // Applying under the new name ends every channel's time in the old experiment.
    run_ok(args(&config, &server, &db, &[])).await;
    let store = lnpolicy_store::Store::open(&db).unwrap();
    let old = store.experiment_assignments("ab-1").unwrap();
    assert_eq!(old.len(), CHANNELS);
    assert!(old.iter().all(|a| a.left_at.is_some()), "{old:?}");
    let new = store.experiment_assignments("ab-2").unwrap();
    assert_eq!(new.len(), CHANNELS);
    assert!(new.iter().all(|a| a.left_at.is_none()), "{new:?}");
}

/// A split set in a section without a strategy gives part of an experiment's channels
/// another split: none of them is assigned, and the run names the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_experiment_at_two_splits_in_one_cycle_assigns_nothing() {
    let live = balanced_after(3_600);
    let (_dir, server, config, db) = serve(&live).await;
    let without_split =
        experiment_config(0.5, "ab-split", "").replace("experiment.split = 0.5\n", "");
    std::fs::write(
        &config,
        format!("[big]\nchan.min_capacity = 8000000\nexperiment.split = 0.9\n{without_split}"),
    )
    .unwrap();
    let output = run_cli(args(&config, &server, &db, &[]));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(
        stdout.contains("experiment `ab-split` runs at 2 splits this cycle (0.5, 0.9)"),
        "{stdout}"
    );
    let store = lnpolicy_store::Store::open(&db).unwrap();
    assert!(store.experiment_assignments("ab-split").unwrap().is_empty());
}

/// Changing what an arm runs under the same experiment name keeps every channel's arm, so
/// the report names both definitions of the arm instead of silently mixing them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_names_an_arm_whose_parameters_changed_mid_experiment() {
    let live = balanced();
    let (_dir, server, config, db) = serve(&live).await;
    std::fs::write(&config, experiment_config(0.5, "tweak", "")).unwrap();
    run_ok(args(&config, &server, &db, &[])).await;
    run_ok(args(&config, &server, &db, &[])).await;
    // The report tells a change from sections sharing the experiment by the second each
    // definition first ran, and runs from the compile cache can all fall in one second.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    std::fs::write(
        &config,
        experiment_config(0.5, "tweak", "").replace("fee_ppm = 222", "fee_ppm = 333"),
    )
    .unwrap();
    run_ok(args(&config, &server, &db, &[])).await;
    let report = |name: &str| {
        run_ok(vec![
            "report".into(),
            "--db".into(),
            db.display().to_string(),
            "--experiment".into(),
            name.into(),
        ])
    };
    let text = report("tweak").await;
    let note = text
        .lines()
        .find(|line| line.contains("arm B ran"))
        .unwrap_or_else(|| panic!("no note on arm B:\n{text}"));
    assert!(
        note.contains("static(fee_ppm=222") && note.contains("then static(fee_ppm=333"),
        "{note}"
    );
    assert!(!text.contains("arm A ran"), "arm A never changed:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_channel_explains_sections_strategy_output_and_guard() {
    let live = balanced();
    let (_dir, server, config, db) = serve_config(&live).await;
    let (big, before) = {
        let state = live.shared();
        let state = state.lock().unwrap();
        let big = state
            .channels
            .iter()
            .find(|c| c.capacity_sat >= 15_000_000)
            .unwrap();
        (short_channel_id(big.id), big.local_policy)
    };
    // Three forwards out through it in the last hours, by the wall clock `lnpolicy` reads
    // (the simulated market's own clock stands still here).
    let big_id = policies(&live)
        .into_iter()
        .map(|(id, _)| id)
        .find(|id| short_channel_id(*id) == big)
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let forwards: Vec<lnpolicy_core::Forward> = (1..=3u64)
        .map(|i| lnpolicy_core::Forward {
            index: i,
            at_ns: (now - 3_600 * i) * 1_000_000_000,
            chan_in: big_id ^ 1,
            chan_out: big_id,
            amt_in_msat: i * 1_000_000 + 700 * i,
            amt_out_msat: i * 1_000_000,
            fee_msat: 700 * i,
        })
        .collect();
    lnpolicy_store::Store::open(&db)
        .unwrap()
        .add_forwards(&forwards, 4)
        .unwrap();
    let mut cli = vec!["test-channel".to_owned(), big.clone()];
    cli.extend(args(&config, &server, &db, &[]));
    let stdout = run_ok(cli).await;
    for expected in [
        format!("channel {big}"),
        "[leave-private]".to_owned(),
        "no: chan.private (line 6) does not hold".to_owned(),
        "[big]".to_owned(),
        "matches (final)".to_owned(),
        "deciding section: [big]".to_owned(),
        "strategy: static".to_owned(),
        "strategy output:".to_owned(),
        "guarded: 333 ppm + 1000 msat".to_owned(),
        "action: update".to_owned(),
    ] {
        assert!(
            stdout.contains(&expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    let now = {
        let state = live.shared();
        let state = state.lock().unwrap();
        state
            .channels
            .iter()
            .find(|c| short_channel_id(c.id) == big)
            .unwrap()
            .local_policy
    };
    assert_eq!(now, before, "test-channel sends nothing");

    // What the strategy saw: the node's balances and the stored forwards, per window.
    let channel = {
        let state = live.shared();
        let state = state.lock().unwrap();
        state.channel(big_id).unwrap().clone()
    };
    assert!(
        stdout.contains(&format!(
            "balance: {} sat local, {} sat remote",
            channel.local_balance_sat, channel.remote_balance_sat
        )),
        "{stdout}"
    );
    for window in ["1d", "7d", "30d"] {
        let row: Vec<u64> = stdout
            .lines()
            .find_map(|line| line.trim_start().strip_prefix(&format!("{window} ")))
            .unwrap_or_else(|| panic!("a {window} flow row in:\n{stdout}"))
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        // out sat, in sat, HTLCs out, HTLCs in, fees msat, failed
        assert_eq!(row, vec![6_000, 0, 3, 0, 4_200, 0], "{window}: {stdout}");
    }
    assert!(stdout.contains("revenue rate: "), "{stdout}");

    let mut unknown_args = vec!["test-channel".to_owned(), "1x2x3".to_owned()];
    unknown_args.extend(args(&config, &server, &db, &[]));
    let output = tokio::task::spawn_blocking(move || run_cli(unknown_args))
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("channel 1x2x3 is not open on this node"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Beside a daemon (this process holds the database's lock in its place), a run that would send
/// updates is refused before it contacts the node, and runs that change nothing work on a copy:
/// they print their tables and leave the node and the database file as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_in_use_refuses_a_run_and_serves_dry_runs_from_a_copy() {
    let live = balanced_after(3_600);
    let (_dir, server, config, db) = serve_config(&live).await;
    let before = policies(&live);
    drop(lnpolicy_store::Store::open(&db).unwrap());
    let database = || std::fs::read(&db).unwrap();
    let stored = database();

    let held = lnpolicy_daemon::DbLock::acquire(&db).unwrap();
    let refused = args(&config, &server, &db, &[]);
    let refused = tokio::task::spawn_blocking(move || run_cli(refused))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("(pid {})", std::process::id()))
            && stderr.contains("one process at a time per database"),
        "{stderr}"
    );

    let dry = run_ok(args(&config, &server, &db, &["--dry-run"])).await;
    assert!(dry.contains("nothing was sent"), "{dry}");
    let updates = rows(&dry).iter().filter(|r| r.action == "update").count();
    assert!(updates > 0, "{dry}");
    let scid = short_channel_id(before[0].0);
    let mut explain = vec!["test-channel".to_owned(), scid.clone()];
    explain.extend(args(&config, &server, &db, &[]));
    let explained = run_ok(explain).await;
    assert!(
        explained.contains(&format!("channel {scid}")),
        "{explained}"
    );
    let mut candidates = vec!["rollback".to_owned()];
    candidates.extend(args(&config, &server, &db, &[]));
    run_ok(candidates).await;
    assert_eq!(policies(&live), before, "nothing was sent");
    assert!(database() == stored, "the database file was not written");

    drop(held);
    let applied = run_ok(args(&config, &server, &db, &[])).await;
    assert!(
        applied.contains(&format!("{updates} update(s) applied, 0 failed")),
        "{applied}"
    );
    assert_ne!(
        policies(&live),
        before,
        "once the lock is free the run applies"
    );
}

/// A run whose fee updates the node refuses exits 1, also when its reader has gone (`| head`):
/// the updates decide the exit code, not the closed output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_updates_exit_1_even_when_the_output_is_closed() {
    let live = balanced_after(86_400);
    let (_dir, server, config, db) = serve_config(&live).await;
    let refused = MethodFaults {
        error_rate: 1.0,
        ..MethodFaults::default()
    };
    server.set_faults(FaultConfig {
        seed: 1,
        default: MethodFaults::default(),
        per_method: [(UPDATE_CHANNEL_POLICY.to_owned(), refused)].into(),
    });
    let run = args(&config, &server, &db, &[]);
    let output = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lnpolicy"))
            .args(run)
            .env_remove("CONFIG_LOCATION")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "{stderr}");
}

/// charge-lnd's `disable` reaches the node as LND's `UpdateChanStatus` and leaves the fees
/// alone; once disabled nothing more is sent; a fee strategy re-enables the channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_disables_the_channel_once_and_a_fee_strategy_re_enables_it() {
    let live = balanced_after(3_600);
    let (_dir, server, config, db) = serve(&live).await;
    let (id, before) = {
        let state = live.shared();
        let state = state.lock().unwrap();
        let channel = state
            .channels
            .iter()
            .find(|c| c.active && !c.local_policy.disabled)
            .expect("an active, enabled channel");
        (channel.id, channel.local_policy)
    };
    let scid = short_channel_id(id);
    let policy_now = || {
        let state = live.shared();
        let state = state.lock().unwrap();
        state.channel(id).unwrap().local_policy
    };
    let run = |text: String| {
        std::fs::write(&config, text).unwrap();
        run_ok(args(&config, &server, &db, &[]))
    };
    let disable =
        format!("[off]\nchan.id = {scid}\nstrategy = disable\n\n[default]\nstrategy = ignore\n");

    let first = run(disable.clone()).await;
    assert!(first.contains("1 update(s) applied, 0 failed"), "{first}");
    assert_eq!(
        policy_now(),
        FeePolicy {
            disabled: true,
            ..before
        },
        "disabled, every fee as it was"
    );

    let second = run(disable).await;
    assert!(second.contains("0 update(s) applied, 0 failed"), "{second}");
    assert!(policy_now().disabled);

    let fee = before.fee_ppm;
    let third = run(format!("[default]\nstrategy = static\nfee_ppm = {fee}\n")).await;
    let row = rows(&third)
        .into_iter()
        .find(|r| r.channel == scid)
        .expect("a row for the channel");
    assert_eq!(row.action, "applied", "{third}");
    assert_eq!(policy_now(), before, "enabled again, fees unchanged");
}

/// `onchain_fee` prices a channel from LND's `EstimateFee` as charge-lnd does (sat/kw × 4 /
/// 1000, then `int(0.01 / onchain_fee_btc × 223 × sat/vB)`). A node that refuses the estimate
/// (a macaroon without `onchain:read`) costs only the channels that need it: the run goes on,
/// says why and exits 1 for them; the `onchain_fee` channel keeps its fee rate, a channel whose section asks an
/// `onchain.` condition is left as it is (the condition can be neither true nor false), and
/// the other sections apply.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn onchain_fee_follows_the_estimate_and_a_refused_estimate_costs_only_its_section() {
    let live = balanced_after(3_600);
    let (_dir, server, config, db) = serve(&live).await;
    let (id, chain, calm, others, estimate) = {
        let state = live.shared();
        let state = state.lock().unwrap();
        let mut active = state.channels.iter().filter(|c| c.active);
        let chain = active.next().expect("an active channel");
        let calm = active.next().expect("a second active channel");
        let others: Vec<_> = active.map(|c| c.id).collect();
        let estimate = state.fee_rate(6).expect("the market has fee estimates");
        (chain.id, chain.local_policy, calm.id, others, estimate)
    };
    let calm_before = live
        .shared()
        .lock()
        .unwrap()
        .channel(calm)
        .unwrap()
        .local_policy;
    std::fs::write(
        &config,
        format!(
            "[chain]\nchan.id = {}\nstrategy = onchain_fee\n\n\
             [calm]\nchan.id = {}\nonchain.max_fee_rate = 1000\nstrategy = static\nfee_ppm = 777\n\n\
             [default]\nstrategy = static\nfee_ppm = 321\n",
            short_channel_id(id),
            short_channel_id(calm)
        ),
    )
    .unwrap();
    let fee_of = |channel: u64| {
        let state = live.shared();
        let state = state.lock().unwrap();
        state.channel(channel).unwrap().local_policy.fee_ppm
    };

    let refused = args_without(ESTIMATE_FEE, &config, &server, &db);
    let output = tokio::task::spawn_blocking(move || run_cli(refused))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "two channels' sections failed: {stderr}"
    );
    assert!(
        stderr.contains("no on-chain fee estimate") && stderr.contains("EstimateFee"),
        "{stderr}"
    );
    assert_eq!(fee_of(id), chain.fee_ppm, "its fee rate is left alone");
    assert_eq!(fee_of(calm), calm_before.fee_ppm, "not moved to [default]");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("the node gave no on-chain fee estimate for 6 blocks"),
        "{stdout}"
    );
    assert!(
        others.iter().all(|&other| fee_of(other) == 321),
        "the other section applied"
    );

    run_ok(args(&config, &server, &db, &[])).await;
    let sat_per_kw = (estimate * 250.0).round().max(253.0);
    let expected = ((0.01 / 0.1) * (223.0 * (sat_per_kw * 4.0 / 1000.0))) as u32;
    assert_ne!(expected, chain.fee_ppm, "the test needs a change to see");
    assert_eq!(fee_of(id), expected);
    assert_eq!(fee_of(calm), 777);
}

/// A macaroon baked before lnpolicy used `UpdateChanStatus`: re-enabling a disabled channel is
/// refused while its new fee lands. What is recorded as applied is what the node has, the new
/// fee on a channel still disabled, so no report or rule reads the channel as enabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_applied_update_is_recorded_as_the_node_has_it() {
    let live = balanced();
    let (_dir, server, config, db) = serve(&live).await;
    let id = {
        let state = live.shared();
        let mut state = state.lock().unwrap();
        let channel = state.channels.iter_mut().find(|c| c.active).unwrap();
        channel.local_policy.disabled = true;
        channel.id
    };
    std::fs::write(&config, "[default]\nstrategy = static\nfee_ppm = 444\n").unwrap();
    let stdout = run_ok(args_without(UPDATE_CHAN_STATUS, &config, &server, &db)).await;
    let now = {
        let state = live.shared();
        let state = state.lock().unwrap();
        state.channel(id).unwrap().local_policy
    };
    assert_eq!((now.fee_ppm, now.disabled), (444, true));
    let row = rows(&stdout)
        .into_iter()
        .find(|r| r.channel == short_channel_id(id))
        .unwrap();
    assert_eq!(
        (row.action.as_str(), row.new.as_str()),
        ("applied in part", shown(&now).as_str()),
        "{stdout}"
    );
    let store = lnpolicy_store::Store::open(&db).unwrap();
    let recorded = store.last_applied_changes(&[id]).unwrap().remove(0);
    assert_eq!(recorded.applied, now);
}

/// `inbound_discount` under a guard that allows a smaller discount than X: the inbound fee
/// lands at the guard's bound, not at −X. Runs after the first must leave every outbound fee
/// where the first put it, instead of adding the difference run after run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_discount_under_a_tighter_inbound_bound_does_not_ratchet_the_outbound_fee() {
    let live = balanced_after(86_400);
    let (_dir, server, config, db) = serve(&live).await;
    std::fs::write(
        &config,
        "[default]\nstrategy = inbound_discount\nguard.min_inbound_fee_ppm = -5\n",
    )
    .unwrap();
    let fees = || {
        active_policies(&live)
            .iter()
            .map(|(id, p)| (*id, p.fee_ppm, p.inbound_fee_ppm))
            .collect::<Vec<_>>()
    };
    let before = fees();
    run_ok(args(&config, &server, &db, &[])).await;
    let first = fees();
    assert_ne!(
        first, before,
        "the first run discounts and raises the outbound fees"
    );
    assert!(
        first.iter().all(|&(_, _, inbound)| inbound == -5),
        "{first:?}"
    );
    for run in 2..=4 {
        run_ok(args(&config, &server, &db, &[])).await;
        assert_eq!(fees(), first, "run {run} moved a fee");
    }
}

/// A positive inbound fee on a node that accepts them: sent as 0 until the config allows it
/// node-wide, then as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn positive_inbound_fees_go_out_once_the_config_allows_them() {
    let live = balanced_after(86_400);
    live.shared().lock().unwrap().accept_positive_inbound = true;
    let (_dir, server, config, db) = serve(&live).await;
    let section = "[default]\nstrategy = static\nfee_ppm = 300\ninbound_fee_ppm = 40\n";
    let inbound = || {
        active_policies(&live)
            .iter()
            .map(|(_, p)| p.inbound_fee_ppm)
            .collect::<BTreeSet<_>>()
    };
    std::fs::write(&config, section).unwrap();
    run_ok(args(&config, &server, &db, &[])).await;
    assert_eq!(inbound(), BTreeSet::from([0]));
    std::fs::write(
        &config,
        format!("[DEFAULT]\nguard.allow_positive_inbound = true\n{section}"),
    )
    .unwrap();
    run_ok(args(&config, &server, &db, &[])).await;
    assert_eq!(inbound(), BTreeSet::from([40]));
}

/// `guard.max_updates_per_hour` across two runs of `lnpolicy -c` in the same hour: the first
/// sends as many updates as the cap allows, the largest relative changes first, and says
/// which it held; the second, with the hour spent, sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hourly_cap_holds_updates_beyond_it_across_runs() {
    let live = balanced_after(3_600);
    let (_dir, server, config, db) = serve(&live).await;
    let read = || policies(&live);
    let before = read();
    let fee = before.iter().map(|(_, p)| p.fee_ppm).max().unwrap() + 11;
    std::fs::write(
        &config,
        format!(
            "[DEFAULT]\nguard.max_updates_per_hour = 2\n\n[default]\nstrategy = static\nfee_ppm = {fee}\n"
        ),
    )
    .unwrap();
    let held = before.len() - 2;

    // A dry run says which the cap would hold, and holds nothing itself.
    let dry = run_ok(args(&config, &server, &db, &["--dry-run"])).await;
    assert!(
        dry.contains(&format!(
            "dry run: 2 update(s) would be sent, {held} held by guard.max_updates_per_hour"
        )),
        "{dry}"
    );
    assert_eq!(read(), before);

    let first = run_ok(args(&config, &server, &db, &[])).await;
    assert!(
        first.contains(&format!(
            "2 update(s) applied, 0 failed, 0 below delta, 0 unchanged, {held} held by guard.max_updates_per_hour"
        )),
        "{first}"
    );
    // One fee for all: the largest relative change is on the cheapest channels.
    let mut by_urgency = before.clone();
    by_urgency.sort_by_key(|(id, p)| (p.fee_ppm, *id));
    let expected: Vec<String> = by_urgency[..2]
        .iter()
        .map(|(id, _)| short_channel_id(*id))
        .collect();
    let table = rows(&first);
    let mut applied: Vec<String> = table
        .iter()
        .filter(|r| r.action == "applied")
        .map(|r| r.channel.clone())
        .collect();
    applied.sort_by_key(|scid| expected.iter().position(|e| e == scid));
    assert_eq!(applied, expected, "{first}");
    assert_eq!(
        table
            .iter()
            .filter(|r| r.action == "held by guard.max_updates_per_hour")
            .count(),
        held,
        "{first}"
    );
    let after_first = read();
    let changed: Vec<u64> = before
        .iter()
        .zip(&after_first)
        .filter(|(b, a)| b.1 != a.1)
        .map(|(b, _)| b.0)
        .collect();
    assert_eq!(changed.len(), 2, "the node saw two updates");
    assert!(
        after_first
            .iter()
            .all(|(id, p)| !changed.contains(id) || p.fee_ppm == fee)
    );

    let second = run_ok(args(&config, &server, &db, &[])).await;
    assert!(
        second.contains(&format!(
            "0 update(s) applied, 0 failed, 0 below delta, 2 unchanged, {held} held by guard.max_updates_per_hour"
        )),
        "the two channels at the fee already are unchanged: {second}"
    );
    assert_eq!(read(), after_first, "a spent hour sends nothing");
}

/// A channel whose fee lnpolicy raised 100 ppm an hour ago, after ten forwards in the hour
/// before and none since, collected every 10 minutes throughout, with a config that keeps the
/// raised fee and rolls such changes back: its id, its fee now and the fee before.
fn rollback_candidate(
    live: &LiveSimulation,
    db: &Path,
    config: &Path,
) -> (u64, FeePolicy, FeePolicy) {
    let (id, current) = policies(live)
        .into_iter()
        .find(|(_, p)| !p.disabled && p.fee_ppm > 100)
        .expect("an enabled channel above 100 ppm");
    let previous = FeePolicy {
        fee_ppm: current.fee_ppm - 100,
        ..current
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let changed_at = now - 3_600 - 60;
    {
        // Ten forwards in the hour before lnpolicy raised the fee, none since.
        let store = lnpolicy_store::Store::open(db).unwrap();
        let forwards: Vec<lnpolicy_core::Forward> = (1..=10)
            .map(|i| lnpolicy_core::Forward {
                index: i,
                at_ns: (changed_at - 60 * i) * 1_000_000_000,
                chan_in: id ^ 1,
                chan_out: id,
                amt_in_msat: 2_001_000,
                amt_out_msat: 2_000_000,
                fee_msat: 1_000,
            })
            .collect();
        store.add_forwards(&forwards, 11).unwrap();
        let channel = live.shared().lock().unwrap().channel(id).unwrap().clone();
        let collected = |from: u64, to: u64, local_policy: FeePolicy| {
            for at in (from..to).step_by(600) {
                let seen = lnpolicy_core::NodeChannel {
                    local_policy,
                    ..channel.clone()
                };
                store.add_channel_snapshot(at, &[seen]).unwrap();
            }
        };
        collected(changed_at - 3_600, changed_at, previous);
        let intent = store
            .record_intent(id, None, &previous, &current, changed_at)
            .unwrap();
        store
            .resolve_intent(intent, lnpolicy_store::IntentOutcome::Applied, changed_at)
            .unwrap();
        collected(changed_at + 600, now, current);
    }
    // The channel's section keeps the raised fee (a strategy that sets fees: rollback leaves
    // channels under `ignore` alone); the others are ignored.
    std::fs::write(
        config,
        format!(
            "[raised]\nchan.id = {id}\nstrategy = static\nfee_ppm = {}\n\
             enable_auto_rollback = true\nrollback_threshold = 0.5\nrollback_window = 1h\n\
             [default]\nstrategy = ignore\n",
            current.fee_ppm
        ),
    )
    .unwrap();
    (id, current, previous)
}

/// A rollback whose restore the node refuses is a failed update: `lnpolicy -c` exits 1, so a
/// cron job's alert sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rollback_restore_is_a_failed_run() {
    let live = balanced();
    let (_dir, server, config, db) = serve(&live).await;
    let (id, current, _) = rollback_candidate(&live, &db, &config);
    let refused = args_without(UPDATE_CHANNEL_POLICY, &config, &server, &db);
    let output = tokio::task::spawn_blocking(move || run_cli(refused))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("rolled back, 1 failed"), "{stdout}");
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert_eq!(
        policies(&live).iter().find(|(c, _)| *c == id).unwrap().1,
        current
    );
}

/// `lnpolicy rollback` on a change that cut a channel's revenue: without `--execute` it lists
/// the candidate and changes nothing, neither the node nor the database; with it, the previous
/// fee is back on the node and the restore is recorded in the real database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_lists_its_candidate_untouched_and_execute_restores_it() {
    let live = balanced();
    let (_dir, server, config, db) = serve(&live).await;
    let (id, current, previous) = rollback_candidate(&live, &db, &config);
    let rollback = |extra: &[&str]| {
        let mut cli = vec!["rollback".to_owned()];
        cli.extend(args(&config, &server, &db, extra));
        run_ok(cli)
    };
    let stored = std::fs::read(&db).unwrap();

    let listed = rollback(&[]).await;
    let scid = short_channel_id(id);
    assert!(
        listed.contains(&scid) && listed.contains("1 candidate(s); run with --execute"),
        "{listed}"
    );
    assert_eq!(
        policies(&live).iter().find(|(c, _)| *c == id).unwrap().1,
        current
    );
    assert!(
        std::fs::read(&db).unwrap() == stored,
        "listing wrote the database"
    );

    let executed = rollback(&["--execute"]).await;
    assert!(executed.contains("1 rolled back, 0 failed"), "{executed}");
    let restored = policies(&live)
        .into_iter()
        .find(|(c, _)| *c == id)
        .unwrap()
        .1;
    assert_eq!(restored.fee_ppm, previous.fee_ppm);
    let store = lnpolicy_store::Store::open(&db).unwrap();
    let decisions = store.decisions_for_channel(id, 10).unwrap();
    assert_eq!(
        decisions
            .iter()
            .filter(|d| d.strategy == lnpolicy_policy::rollback::ROLLBACK_STRATEGY)
            .count(),
        1,
        "{decisions:?}"
    );
    assert_eq!(rollback(&[]).await.trim_end(), "no rollback candidates");
}

/// `--cln-enforce-delay` reaches Core Lightning with every update, and the market keeps
/// accepting the old fee that long; a bad period, or the flag without `--cln-rpc`, is refused
/// before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cln_enforce_delay_goes_with_every_update() {
    let mut scenario = Scenario::builtin("balanced").unwrap();
    scenario.node.kind = lnpolicy_core::NodeKind::Cln;
    let live = LiveSimulation::new(Simulation::new(scenario));
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lightning-rpc");
    let _server = lnpolicy_sim::cln_server::ClnServer::start(
        live.shared(),
        &socket,
        lnpolicy_sim::cln_server::ClnServerConfig::default(),
    )
    .await
    .unwrap();
    let config = dir.path().join("charge.config");
    std::fs::write(&config, "[default]\nstrategy = static\nfee_ppm = 4321\n").unwrap();
    let cli = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = vec![
            "-c".into(),
            config.display().to_string(),
            "--cln-rpc".into(),
            socket.display().to_string(),
            "--db".into(),
            dir.path().join("lnpolicy.db").display().to_string(),
            "--strategies".into(),
            dir.path().join("strategies").display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let bad = cli(&["--cln-enforce-delay", "soon"]);
    let bad = tokio::task::spawn_blocking(move || run_cli(bad))
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("\"soon\" is not a period"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    assert!(live.shared().lock().unwrap().enforce_delays.is_empty());

    let applied = run_ok(cli(&["--cln-enforce-delay", "30m"])).await;
    assert!(applied.contains("0 failed"), "{applied}");
    let state = live.shared();
    let state = state.lock().unwrap();
    let raised: Vec<u64> = state
        .channels
        .iter()
        .filter(|c| c.local_policy.fee_ppm == 4321)
        .map(|c| c.id)
        .collect();
    assert!(!raised.is_empty());
    for id in raised {
        assert_eq!(state.enforce_delays.get(&id), Some(&1_800), "channel {id}");
    }
}

/// A strategy in the folder that panics on every call leaves every channel unchanged, shown
/// as `error:` in the table, and the run exits 1 so that cron hears of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strategy_that_fails_makes_the_run_exit_1() {
    let live = balanced_after(3_600);
    let (_dir, server, config, db) = serve(&live).await;
    let folder = db.with_extension("strategies");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(
        lnpolicy_tests::test_guest("hostile_panic"),
        folder.join("panicky.wasm"),
    )
    .unwrap();
    std::fs::write(&config, "[default]\nstrategy = panicky\n").unwrap();
    let before = live.shared().lock().unwrap().channels.clone();
    let run = args(&config, &server, &db, &[]);
    let output = tokio::task::spawn_blocking(move || run_cli(run))
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("error:"), "{stdout}");
    assert_eq!(
        live.shared().lock().unwrap().channels,
        before,
        "nothing sent"
    );
}

/// A dry run interrupted earlier left its copy of the database behind: the next dry run
/// removes copies a day old, and leaves a recent one (a dry run going on beside) alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_removes_copies_interrupted_runs_left_behind() {
    let live = balanced_after(3_600);
    let (dir, server, config, db) = serve_config(&live).await;
    let old = dir.path().join(".lnpolicy-snapshot-interrupted");
    let recent = dir.path().join(".lnpolicy-snapshot-running");
    for folder in [&old, &recent] {
        std::fs::create_dir(folder).unwrap();
        std::fs::write(folder.join("lnpolicy.db"), b"copy").unwrap();
    }
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    std::fs::File::open(&old)
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    run_ok(args(&config, &server, &db, &["--dry-run"])).await;
    assert!(!old.exists(), "the day-old copy is removed");
    assert!(recent.exists(), "a recent copy may be a dry run going on");
}

/// An existing charge-lnd cron line with `--electrum-server` or `--circuitbreaker` keeps
/// working: both are accepted and ignored with a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charge_lnds_electrum_and_circuitbreaker_flags_are_ignored_with_a_warning() {
    let live = balanced_after(3_600);
    let (_dir, server, config, db) = serve_config(&live).await;
    let run = args(
        &config,
        &server,
        &db,
        &[
            "--dry-run",
            "--electrum-server",
            "electrum.example:50002",
            "--circuitbreaker",
            "localhost:9234",
        ],
    );
    let output = tokio::task::spawn_blocking(move || run_cli(run))
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    for flag in ["--electrum-server", "--circuitbreaker"] {
        assert!(
            stderr.contains(&format!("charge-lnd's {flag} is ignored")),
            "{stderr}"
        );
    }
}

/// A run compiles the strategies once into `compile-cache/` next to the database, as the
/// daemon does, and the next run loads them from there instead of compiling each again. A dry
/// run, which records nothing, writes nothing there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_keeps_its_compiled_strategies_next_to_the_database() {
    let live = balanced();
    let (dir, server, config, db) = serve_config(&live).await;
    let cached = || -> Vec<(std::ffi::OsString, std::time::SystemTime)> {
        let mut entries: Vec<_> = std::fs::read_dir(dir.path().join("compile-cache"))
            .map(|entries| {
                entries
                    .map(|e| e.unwrap())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "cwasm"))
                    .map(|e| (e.file_name(), e.metadata().unwrap().modified().unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        entries.sort();
        entries
    };
    run_ok(args(&config, &server, &db, &["--dry-run"])).await;
    assert!(!dir.path().join("compile-cache").exists());
    run_ok(args(&config, &server, &db, &[])).await;
    let first = cached();
    assert_eq!(
        first.len(),
        lnpolicy_builtins::names().count(),
        "one entry per built-in: {first:?}"
    );
    run_ok(args(&config, &server, &db, &[])).await;
    assert_eq!(cached(), first, "the second run wrote no entry again");
}

/// A strategy file that does not compile within `--compile-timeout` is refused and the run
/// goes on without it; the refusal is remembered next to the database, so the next run
/// refuses it without compiling it again, until the limit is raised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_remembers_a_strategy_that_did_not_compile_in_time() {
    let live = balanced();
    let (dir, server, config, db) = serve_config(&live).await;
    let folder = db.with_extension("strategies");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("nested.wasm"),
        lnpolicy_tests::slow_to_compile_component(),
    )
    .unwrap();
    let run = |timeout: &str| {
        let args = args(&config, &server, &db, &["--compile-timeout", timeout]);
        async move {
            let output = tokio::task::spawn_blocking(move || run_cli(args))
                .await
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            assert!(output.status.success(), "{stderr}");
            stderr
        }
    };
    let remembered = || {
        std::fs::read_dir(dir.path().join("compile-cache"))
            .unwrap()
            .filter(|e| {
                let path = e.as_ref().unwrap().path();
                path.extension().is_some_and(|x| x == "rejected")
            })
            .count()
    };
    let first = run("1").await;
    assert!(
        first.contains("nested.wasm: compiling the component took longer than 1s"),
        "{first}"
    );
    assert_eq!(remembered(), 1);
    let second = run("1").await;
    assert!(
        second.contains("took longer than 1s, the limit (on an earlier load; remembered in"),
        "{second}"
    );
    let raised = run("2").await;
    assert!(
        raised.contains("nested.wasm: compiling the component took longer than 2s, the limit")
            && !raised.contains("earlier load"),
        "compiled again under the raised limit: {raised}"
    );
}
