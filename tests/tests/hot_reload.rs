//! Hot reload through the real folder watcher (notify): swaps go live while
//! calls continue, corrupt replacements keep the old version, deletion
//! unloads, quarantine lifts when the file changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lnpolicy_core::{Channel, StrategyEventKind, fixtures};
use lnpolicy_runtime::{CallError, DecideCall, DecideOutput, NoHistory, StrategyRegistry};
use lnpolicy_tests::{Harness, test_guest};

/// How long to wait for the watcher before declaring the test failed. Not a
/// performance assertion: reloads take ~50 ms; this only bounds a hang.
const PATIENCE: Duration = Duration::from_secs(20);

/// A call on the fixture channels with no parameters, history or state.
fn call_on(channels: &[Channel]) -> DecideCall<'_> {
    DecideCall {
        params: &[],
        channels,
        now: 1_780_000_000,
        history: Arc::new(NoHistory),
        state: Default::default(),
    }
}

fn decide(registry: &StrategyRegistry, name: &str) -> Result<DecideOutput, CallError> {
    registry.decide(name, call_on(&fixtures::channels()))
}

/// A call in the cycle `hours` after the usual one: failures count once per cycle.
fn decide_at(
    registry: &StrategyRegistry,
    name: &str,
    hours: u64,
) -> Result<DecideOutput, CallError> {
    let channels = fixtures::channels();
    let mut call = call_on(&channels);
    call.now += hours * 3600;
    registry.decide(name, call)
}

/// The fee every active channel got, which tells good_v1 (111) from good_v2 (222).
fn fee(output: &DecideOutput) -> u32 {
    output
        .decisions
        .iter()
        .find_map(|d| d.change.fee_ppm)
        .expect("an active channel")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn has_event(h: &Harness, name: &str, kind: StrategyEventKind) -> bool {
    h.store
        .events(Some(name))
        .unwrap()
        .iter()
        .any(|e| e.kind == kind)
}

#[test]
fn changed_file_goes_live_while_calls_continue() {
    let h = Harness::new();
    h.install(&test_guest("good_v1"), "live");
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    assert_eq!(
        fee(&decide(&h.registry, "live").unwrap()),
        111,
        "loaded at start"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let registry = h.registry.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let output = decide(&registry, "live").expect("no call fails during a swap");
                seen.push(fee(&output));
            }
            seen
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    h.install(&test_guest("good_v2"), "live");
    wait_for("v2 to go live", || {
        decide(&h.registry, "live").is_ok_and(|output| fee(&output) == 222)
    });
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let seen = caller.join().expect("caller thread");
    assert!(
        seen.contains(&111) && seen.contains(&222),
        "calls spanned the swap"
    );
    let first_v2 = seen.iter().position(|&f| f == 222).unwrap();
    assert!(
        seen[first_v2..].iter().all(|&f| f == 222),
        "never back to v1 after the swap"
    );
    assert!(has_event(&h, "live", StrategyEventKind::Reloaded));
}

#[test]
fn corrupt_replacement_keeps_the_old_version() {
    let h = Harness::new();
    h.install(&test_guest("good_v1"), "steady");
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    let good = std::fs::read(test_guest("good_v2")).unwrap();
    h.install_bytes(&good[..good.len() / 3], "steady");
    wait_for("the rejection", || {
        has_event(&h, "steady", StrategyEventKind::Rejected)
    });
    let rejected = h
        .store
        .events(Some("steady"))
        .unwrap()
        .into_iter()
        .find(|e| e.kind == StrategyEventKind::Rejected)
        .unwrap();
    assert!(
        rejected.detail.contains("previous version keeps running"),
        "{}",
        rejected.detail
    );
    assert_eq!(fee(&decide(&h.registry, "steady").unwrap()), 111);
}

/// Removing a folder file that replaced a built-in brings the built-in back, with the same
/// parameters: the audit trail says so rather than only "removed".
#[test]
fn deleting_a_file_that_replaced_a_built_in_says_the_built_in_runs_again() {
    let h = Harness::new();
    let builtin = std::fs::read(test_guest("good_v2")).unwrap();
    h.registry.add_builtin("both", &builtin).unwrap();
    let path = h.install(&test_guest("good_v1"), "both");
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    assert_eq!(fee(&decide(&h.registry, "both").unwrap()), 111);
    std::fs::remove_file(path).unwrap();
    wait_for("the built-in back", || {
        decide(&h.registry, "both").is_ok_and(|output| fee(&output) == 222)
    });
    let removed = h
        .store
        .events(Some("both"))
        .unwrap()
        .into_iter()
        .rev()
        .find(|e| e.kind == StrategyEventKind::Unloaded)
        .unwrap();
    assert!(
        removed
            .detail
            .contains("the built-in both runs from the next cycle"),
        "{}",
        removed.detail
    );
}

#[test]
fn deleting_the_file_unloads_the_strategy() {
    let h = Harness::new();
    let path = h.install(&test_guest("good_v1"), "doomed");
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    assert!(decide(&h.registry, "doomed").is_ok());
    std::fs::remove_file(path).unwrap();
    wait_for("the unload", || h.registry.get("doomed").is_none());
    assert_eq!(
        decide(&h.registry, "doomed").unwrap_err(),
        CallError::Unknown("doomed".into())
    );
    assert!(has_event(&h, "doomed", StrategyEventKind::Unloaded));
}

#[test]
fn new_file_is_picked_up_without_restart() {
    let h = Harness::new();
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    assert!(h.registry.get("late").is_none());
    h.install(&test_guest("good_v2"), "late");
    wait_for("the new strategy", || h.registry.get("late").is_some());
    assert_eq!(fee(&decide(&h.registry, "late").unwrap()), 222);
}

#[test]
fn quarantine_lifts_when_the_file_changes() {
    let h = Harness::new();
    h.install(&test_guest("hostile_panic"), "shaky");
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    for hour in 0..3 {
        assert!(matches!(
            decide_at(&h.registry, "shaky", hour),
            Err(CallError::Trap { .. })
        ));
    }
    assert_eq!(
        decide(&h.registry, "shaky").unwrap_err(),
        CallError::Quarantined { failures: 3 }
    );
    h.install(&test_guest("good_v1"), "shaky");
    wait_for("the replacement", || decide(&h.registry, "shaky").is_ok());
    assert_eq!(fee(&decide(&h.registry, "shaky").unwrap()), 111);
}

/// Reading a quarantined strategy's file (a backup, `sha256sum`, the registry's own read),
/// setting its time or writing the same bytes again changes nothing it holds: the quarantine
/// stays.
#[test]
fn reading_touching_or_rewriting_the_same_file_does_not_lift_quarantine() {
    let h = Harness::new();
    let path = h.install(&test_guest("hostile_panic"), "shaky");
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    for hour in 0..3 {
        assert!(decide_at(&h.registry, "shaky", hour).is_err());
    }
    let bytes = std::fs::read(&path).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();
    h.install_bytes(&bytes, "shaky");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        decide(&h.registry, "shaky").unwrap_err(),
        CallError::Quarantined { failures: 3 },
    );
}

/// The registry's own read of a file opens it, which the watcher sees: acted on, that read
/// would read it again, forever, and an invalid file would add a rejection to the audit trail
/// every 150 ms.
#[test]
fn the_watcher_does_not_act_on_its_own_reads() {
    let h = Harness::new();
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    h.install_bytes(b"not a component", "broken");
    std::thread::sleep(Duration::from_millis(2000));
    let rejected = h
        .store
        .events(Some("broken"))
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == StrategyEventKind::Rejected)
        .count();
    assert_eq!(rejected, 1);
}

/// A cycle runs the version its parameters were checked against: a file replaced (or removed)
/// after that still gets the old version's call, recorded under the old version's hash.
#[test]
fn a_cycle_runs_the_version_it_was_prepared_with() {
    let h = Harness::new();
    h.install(&test_guest("good_v1"), "live");
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    let prepared = h.registry.get("live").expect("v1 loaded");
    h.install(&test_guest("good_v2"), "live");
    wait_for("v2 to go live", || {
        h.registry
            .get("live")
            .is_some_and(|now| now.sha256() != prepared.sha256())
    });
    let guard = lnpolicy_policy::guard::GuardConfig::new(lnpolicy_core::NodeKind::Lnd);
    let report = lnpolicy_policy::cycle::run_cycle(
        &h.registry,
        &h.store,
        lnpolicy_policy::cycle::CycleInput {
            strategy: "live",
            version: Some(&prepared),
            params: &[],
            channels: &fixtures::channels(),
            now: 1_780_000_000,
            history: Arc::new(NoHistory),
            guard: &guard,
            rules: None,
            dry_run: true,
        },
    )
    .unwrap();
    assert_eq!(report.strategy_sha256, prepared.sha256());
    let fee = report
        .outcomes
        .iter()
        .find_map(|o| o.raw.change.fee_ppm)
        .expect("an active channel");
    assert_eq!(fee, 111, "v1 ran, not the v2 now in the folder");
}

/// A cycle that pinned a quarantined version does not run it, even when the file is
/// replaced between preparing the cycle and calling the strategy.
#[test]
fn a_pinned_quarantined_version_stays_quarantined_after_a_replacement() {
    let h = Harness::new();
    h.install(&test_guest("hostile_panic"), "shaky");
    let _watcher = h.registry.watch(&h.strategies_dir()).unwrap();
    for hour in 0..3 {
        assert!(decide_at(&h.registry, "shaky", hour).is_err());
    }
    let prepared = h
        .registry
        .get("shaky")
        .expect("the panicking version is loaded");
    h.install(&test_guest("good_v1"), "shaky");
    wait_for("the replacement", || {
        h.registry
            .get("shaky")
            .is_some_and(|now| now.sha256() != prepared.sha256())
    });
    let pinned = h
        .registry
        .decide_version("shaky", &prepared, call_on(&fixtures::channels()));
    assert_eq!(
        pinned.unwrap_err(),
        CallError::Quarantined { failures: 3 },
        "the quarantined version was called again"
    );
    assert_eq!(fee(&decide(&h.registry, "shaky").unwrap()), 111);
}
