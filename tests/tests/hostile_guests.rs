//! Every hostile guest is a real component built from tests/hostile-guests.
//! For each: the host survives, nothing unguarded comes out, the event is in
//! SQLite with a clear reason, and the next cycle works.

use std::sync::Arc;

use lnpolicy_core::{Channel, NodeKind, StrategyEventKind, fixtures};
use lnpolicy_policy::cycle::{CycleInput, CycleReport, run_cycle};
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{CallError, NoHistory};
use lnpolicy_tests::{Harness, test_guest};

const NOW: u64 = 1_780_000_000;

fn cycle(h: &Harness, strategy: &str, channels: &[Channel], guard: &GuardConfig) -> CycleReport {
    cycle_at(h, strategy, channels, guard, NOW)
}

fn cycle_at(
    h: &Harness,
    strategy: &str,
    channels: &[Channel],
    guard: &GuardConfig,
    now: u64,
) -> CycleReport {
    run_cycle(
        &h.registry,
        &h.store,
        CycleInput {
            strategy,
            version: None,
            params: &[],
            channels,
            now,
            history: Arc::new(NoHistory),
            guard,
            rules: None,
            dry_run: false,
        },
    )
    .expect("cycle bookkeeping")
}

/// Loads `guest` as strategy `name`, runs one cycle, and checks the common
/// promises; returns the report for guest-specific checks.
fn run_hostile(h: &Harness, guest: &str) -> CycleReport {
    h.install(&test_guest(guest), guest);
    h.registry.sync_dir(&h.strategies_dir()).unwrap();
    assert!(h.registry.get(guest).is_some(), "{guest} should load");
    let guard = GuardConfig::new(NodeKind::Lnd);
    let channels = fixtures::channels();
    let report = cycle(h, guest, &channels, &guard);
    assert_guarded(&report, &channels, &guard);
    assert_next_cycle_works(h);
    report
}

/// Whatever the guest returned, every policy that could reach a node obeys
/// the guard's invariants.
fn assert_guarded(report: &CycleReport, channels: &[Channel], guard: &GuardConfig) {
    if report.error.is_some() {
        assert!(
            report.outcomes.is_empty(),
            "a failed call must decide nothing"
        );
        return;
    }
    assert_eq!(report.outcomes.len(), channels.len());
    for (outcome, channel) in report.outcomes.iter().zip(channels) {
        assert_eq!(outcome.guarded.channel_id, channel.id);
        let Some(policy) = outcome.guarded.policy else {
            continue;
        };
        if outcome.raw.change.fee_ppm.is_some() {
            assert!((guard.min_fee_ppm..=guard.max_fee_ppm).contains(&policy.fee_ppm));
        }
        if outcome.raw.change.base_fee_msat.is_some() {
            assert!(policy.base_fee_msat <= guard.max_base_fee_msat);
        }
        assert!(policy.inbound_fee_ppm <= 0, "positive inbound is disabled");
        assert!(i64::from(policy.inbound_fee_ppm) >= -i64::from(policy.fee_ppm));
        assert!(i64::from(policy.inbound_base_fee_msat) >= -i64::from(policy.base_fee_msat));
        assert!(policy.min_htlc_msat <= policy.max_htlc_msat);
        assert!(policy.max_htlc_msat <= channel.capacity_sat * 1000);
        assert!(
            (guard.min_time_lock_delta..=guard.max_time_lock_delta)
                .contains(&policy.time_lock_delta)
        );
    }
}

/// A well-behaved strategy still works in the same registry and database.
fn assert_next_cycle_works(h: &Harness) {
    h.install(&test_guest("good_v1"), "good_v1");
    h.registry.sync_dir(&h.strategies_dir()).unwrap();
    let channels = fixtures::channels();
    let report = cycle(h, "good_v1", &channels, &GuardConfig::new(NodeKind::Lnd));
    assert!(report.error.is_none(), "{:?}", report.error);
    let set: Vec<u32> = report
        .outcomes
        .iter()
        .filter_map(|o| o.raw.change.fee_ppm)
        .collect();
    assert!(!set.is_empty() && set.iter().all(|&ppm| ppm == 111));
    h.store.integrity_check().unwrap();
}

fn last_event(h: &Harness, strategy: &str, kind: StrategyEventKind) -> String {
    h.store
        .events(Some(strategy))
        .unwrap()
        .into_iter()
        .rev()
        .find(|e| e.kind == kind)
        .unwrap_or_else(|| panic!("no {kind:?} event for {strategy}"))
        .detail
}

fn failed_cycle_error(h: &Harness, report: &CycleReport) -> String {
    h.store
        .cycle(report.cycle_id)
        .unwrap()
        .unwrap()
        .error
        .expect("failed cycle records its error")
}

#[test]
fn infinite_loop_runs_out_of_fuel() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_loop");
    assert!(
        matches!(report.error, Some(CallError::OutOfFuel { .. })),
        "{:?}",
        report.error
    );
    assert!(
        last_event(&h, "hostile_loop", StrategyEventKind::CallFailed).contains("ran out of fuel")
    );
    assert!(failed_cycle_error(&h, &report).contains("fuel"));
}

#[test]
fn infinite_loop_without_fuel_headroom_hits_the_wall_clock_deadline() {
    let mut limits = lnpolicy_tests::test_limits();
    limits.fuel_base = u64::MAX / 2;
    limits.timeout_base = std::time::Duration::from_millis(200);
    let h = Harness::with_limits(limits);
    let report = run_hostile(&h, "hostile_loop");
    assert!(
        matches!(report.error, Some(CallError::Timeout { .. })),
        "{:?}",
        report.error
    );
    assert!(last_event(&h, "hostile_loop", StrategyEventKind::CallFailed).contains("timed out"));
}

#[test]
fn unbounded_memory_growth_traps_at_the_cap() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_memory");
    let Some(CallError::Trap { message, .. }) = &report.error else {
        panic!("expected a trap, got {:?}", report.error)
    };
    assert!(message.contains("memory"), "{message}");
    assert!(last_event(&h, "hostile_memory", StrategyEventKind::CallFailed).contains("memory"));
}

#[test]
fn deep_recursion_traps() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_recursion");
    let Some(CallError::Trap { message, .. }) = &report.error else {
        panic!("expected a trap, got {:?}", report.error)
    };
    // The guest's stack lives in its linear memory and overflows out of it; the backtrace
    // runs to thousands of frames. The message keeps the cause first and stays within the
    // error limit.
    let limit = lnpolicy_runtime::SandboxLimits::default().max_error_bytes;
    assert!(message.len() <= limit, "{} bytes", message.len());
    assert!(
        message.starts_with("wasm trap: out of bounds memory access"),
        "{message}"
    );
    assert!(last_event(&h, "hostile_recursion", StrategyEventKind::CallFailed).contains("trapped"));
}

#[test]
fn panic_is_a_trap_that_carries_the_panic_message() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_panic");
    let Some(CallError::Trap { stderr, .. }) = &report.error else {
        panic!("expected a trap, got {:?}", report.error)
    };
    assert!(
        stderr.contains("hostile guest panicked on purpose"),
        "{stderr}"
    );
    let event = last_event(&h, "hostile_panic", StrategyEventKind::CallFailed);
    assert!(
        event.contains("hostile guest panicked on purpose"),
        "{event}"
    );
}

/// The same panic from inside a tokio runtime, as the daemon, `lnpolicy -c` and backtests
/// call guests: the guest's write to stderr must not take the host down with it.
#[test]
fn a_panic_inside_a_tokio_runtime_is_still_only_a_trap() {
    for runtime in [
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap(),
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap(),
    ] {
        let h = Harness::new();
        let report = runtime.block_on(async { run_hostile(&h, "hostile_panic") });
        assert!(
            matches!(&report.error, Some(CallError::Trap { stderr, .. })
                if stderr.contains("hostile guest panicked on purpose")),
            "{:?}",
            report.error
        );
    }
}

/// Sleeping costs no fuel, so only the host's clock could end it; the guest's clock stands
/// still at the cycle's time, where every timer it can set has already run out.
#[test]
fn a_guest_that_sleeps_forever_wakes_at_once() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let h = Harness::new();
        let report = run_hostile(&h, "hostile_sleep");
        done.send(report).unwrap();
    });
    let report = finished
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the sleeping guest held the host");
    assert_eq!(report.error, None);
    assert!(
        !report.outcomes.is_empty()
            && report
                .outcomes
                .iter()
                .all(|o| o.raw.reason == "woke up" && o.raw.change.fee_ppm == Some(100)),
        "{:?}",
        report.outcomes
    );
}

/// Every text a guest chooses reaches logs, the database and terminals on one line, with no
/// escape sequence: a newline would forge a log line, an escape would repaint the screen.
#[test]
fn newlines_and_escapes_in_guest_texts_are_escaped() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_forged_lines");
    assert_eq!(report.error, None);
    let raw = |text: &str| text.chars().any(char::is_control);
    for outcome in &report.outcomes {
        assert!(!raw(&outcome.raw.reason), "{:?}", outcome.raw.reason);
        assert!(
            outcome.raw.reason.contains("\\n2026-01-01"),
            "{}",
            outcome.raw.reason
        );
    }
    let strategy = h.registry.get("hostile_forged_lines").unwrap();
    let info = strategy.info();
    assert!(!raw(&info.version) && !raw(&info.description), "{info:?}");
    assert_eq!(info.version, "1.0\\u{1b}[31m");
}

/// A call's randomness is reproducible, and its own: the same batch at the same time draws the
/// same stream, a different batch (another section of the strategy, another backtest seed's
/// channels) another.
#[test]
fn guest_randomness_is_reproducible_and_differs_between_batches() {
    let h = Harness::new();
    h.install(&test_guest("random_probe"), "random_probe");
    h.registry.sync_dir(&h.strategies_dir()).unwrap();
    let guard = GuardConfig::new(NodeKind::Lnd);
    let channels = fixtures::channels();
    let fees = |batch: &[Channel]| -> Vec<Option<u32>> {
        let report = cycle(&h, "random_probe", batch, &guard);
        assert_eq!(report.error, None);
        report
            .outcomes
            .iter()
            .map(|o| o.raw.change.fee_ppm)
            .collect()
    };
    let whole = fees(&channels);
    assert_eq!(fees(&channels), whole, "reproducible");
    let part = fees(&channels[..channels.len() - 1]);
    assert_ne!(
        part[..],
        whole[..part.len()],
        "a smaller batch draws another stream"
    );
}

#[test]
fn too_few_decisions_is_malformed() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_too_few");
    assert_eq!(
        report.error,
        Some(CallError::Malformed(
            "returned 5 decisions for 6 channels".into()
        ))
    );
    assert!(
        last_event(&h, "hostile_too_few", StrategyEventKind::CallFailed)
            .contains("5 decisions for 6")
    );
}

#[test]
fn too_many_decisions_is_malformed() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_too_many");
    assert!(
        matches!(&report.error, Some(CallError::Malformed(m)) if m.contains("7 decisions for 6")),
        "{:?}",
        report.error
    );
}

/// Reasons that all point at the same 16 MiB of the guest's memory: copied whole, 60,000 of
/// them would ask the host for a terabyte and abort it. The copy stops at
/// `max_transfer_bytes`, the call fails (and counts toward quarantine), and the host runs on.
/// The limit is the host's setting: the 4 MiB reasons of `hostile_huge_reason`, 24 MiB for
/// six channels, pass the default 32 MiB and fail at 16 MiB.
#[test]
fn a_result_is_copied_out_of_a_guest_only_up_to_the_transfer_limit() {
    let too_much = "too much data is being copied between the host and the guest";
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_aliased_reasons");
    assert!(
        matches!(&report.error, Some(CallError::Trap { message, .. }) if message.contains(too_much)),
        "{:?}",
        report.error
    );
    let h = Harness::with_limits(lnpolicy_runtime::SandboxLimits {
        max_transfer_bytes: 16 << 20,
        ..lnpolicy_tests::test_limits()
    });
    let report = run_hostile(&h, "hostile_huge_reason");
    assert!(
        matches!(&report.error, Some(CallError::Trap { message, .. }) if message.contains(too_much)),
        "{:?}",
        report.error
    );
}

#[test]
fn decision_for_a_channel_outside_the_batch_is_malformed() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_unknown_id");
    assert!(
        matches!(&report.error, Some(CallError::Malformed(m)) if m.contains("not in the batch")),
        "{:?}",
        report.error
    );
}

#[test]
fn out_of_range_values_are_clamped_and_the_clamps_recorded() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_out_of_range");
    assert!(report.error.is_none(), "{:?}", report.error);
    let stored = h.store.decisions_for_cycle(report.cycle_id).unwrap();
    assert_eq!(stored.len(), 6);
    for decision in &stored {
        let raw = decision.raw.as_ref().expect("raw output kept");
        assert_eq!(
            raw.change.fee_ppm,
            Some(u32::MAX),
            "raw output is recorded as returned"
        );
        assert!(!decision.guarded.clamps.is_empty(), "clamps recorded");
    }
}

#[test]
fn positive_inbound_is_dropped_unless_enabled() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_positive_inbound");
    assert!(report.error.is_none());
    let guarded: Vec<_> = report
        .outcomes
        .iter()
        .filter_map(|o| o.guarded.policy)
        .collect();
    assert!(!guarded.is_empty());
    assert!(
        guarded
            .iter()
            .all(|p| p.inbound_fee_ppm <= 0 && p.inbound_base_fee_msat <= 0)
    );
}

#[test]
fn multi_megabyte_reason_is_cut_and_noted() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_huge_reason");
    assert!(report.error.is_none(), "{:?}", report.error);
    let limit = lnpolicy_tests::test_limits().max_reason_bytes;
    assert!(report.outcomes.iter().all(|o| o.raw.reason.len() <= limit));
    let stored = h.store.decisions_for_cycle(report.cycle_id).unwrap();
    assert!(stored.iter().all(|d| d.reason.len() <= limit));
    let note = last_event(
        &h,
        "hostile_huge_reason",
        StrategyEventKind::OutputTruncated,
    );
    let channels = fixtures::channels().len();
    assert!(
        note.starts_with(&format!("reasons of {channels} channel(s)"))
            && note.ends_with("the longest from 4194304")
            && note.lines().count() == 1,
        "{note}"
    );
}

#[test]
fn log_spam_is_stopped_by_the_log_budget() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_log_spam");
    assert!(
        matches!(&report.error, Some(CallError::BudgetExceeded(m)) if m.contains("log budget")),
        "{:?}",
        report.error
    );
}

#[test]
fn state_spam_is_stopped_and_nothing_is_persisted() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_state_spam");
    assert!(
        matches!(&report.error, Some(CallError::BudgetExceeded(m)) if m.contains("state budget")),
        "{:?}",
        report.error
    );
    assert!(h.store.state_all("hostile_state_spam").unwrap().is_empty());
}

#[test]
fn guest_error_leaves_channels_unchanged() {
    let h = Harness::new();
    let report = run_hostile(&h, "hostile_error");
    assert_eq!(
        report.error,
        Some(CallError::GuestError("strategy refused: no data".into()))
    );
}

/// Loads `bytes` as `name` and checks it is refused with `expected` in the
/// recorded reason, and that a good strategy still runs afterwards.
fn assert_rejected(h: &Harness, name: &str, bytes: &[u8], expected: &str) {
    h.install_bytes(bytes, name);
    h.registry.sync_dir(&h.strategies_dir()).unwrap();
    assert!(h.registry.get(name).is_none(), "{name} must not load");
    let reason = last_event(h, name, StrategyEventKind::Rejected);
    assert!(reason.contains(expected), "{reason}");
    assert!(
        reason.contains(&format!("{name}.wasm")),
        "the reason names the file: {reason}"
    );
    assert_next_cycle_works(h);
}

/// 200 parameter declarations whose descriptions share 1 MiB: the copy of the self-description
/// stops at the transfer limit, and the component is refused at load.
#[test]
fn a_self_description_is_copied_only_up_to_the_transfer_limit() {
    let h = Harness::new();
    let bytes = std::fs::read(test_guest("hostile_aliased_info")).unwrap();
    assert_rejected(
        &h,
        "hostile_aliased_info",
        &bytes,
        "too much data is being copied between the host and the guest",
    );
}

#[test]
fn filesystem_import_is_refused_at_load() {
    let h = Harness::new();
    let bytes = std::fs::read(test_guest("hostile_filesystem")).unwrap();
    assert_rejected(&h, "hostile_filesystem", &bytes, "imports wasi:filesystem");
}

#[test]
fn socket_import_is_refused_at_load() {
    let h = Harness::new();
    let bytes = std::fs::read(test_guest("hostile_sockets")).unwrap();
    assert_rejected(&h, "hostile_sockets", &bytes, "imports wasi:sockets");
}

#[test]
fn other_contract_version_is_refused_at_load() {
    let h = Harness::new();
    let bytes = std::fs::read(test_guest("other_contract")).unwrap();
    assert_rejected(
        &h,
        "other_contract",
        &bytes,
        "(0.9.0), but this host implements lnpolicy:strategy@0.3.1",
    );
}

/// A component built for contract 0.3.0, before `rebalance-cost` was added, loads, links its
/// imports and decides on this 0.3.1 host: operators' shared strategies keep working.
#[test]
fn a_component_built_for_0_3_0_runs_on_this_host() {
    let h = Harness::new();
    h.install(&test_guest("contract_0_3_0"), "contract_0_3_0");
    h.registry.sync_dir(&h.strategies_dir()).unwrap();
    let loaded = h
        .registry
        .get("contract_0_3_0")
        .expect("a 0.3.0 component loads");
    assert_eq!(loaded.contract_version(), "0.3.0");
    let channels = fixtures::channels();
    let report = cycle(
        &h,
        "contract_0_3_0",
        &channels,
        &GuardConfig::new(NodeKind::Lnd),
    );
    assert!(report.error.is_none(), "{:?}", report.error);
    assert_eq!(report.outcomes.len(), channels.len());
    for outcome in &report.outcomes {
        assert_eq!(outcome.raw.change.fee_ppm, Some(123));
        assert_eq!(outcome.raw.reason, "built for 0.3.0; changes=0");
    }
}

#[test]
fn a_file_that_is_not_wasm_is_refused_at_load() {
    let h = Harness::new();
    assert_rejected(
        &h,
        "notes",
        b"# my strategy notes\n",
        "not a WebAssembly file",
    );
}

#[test]
fn a_core_module_is_refused_with_a_hint() {
    let h = Harness::new();
    assert_rejected(
        &h,
        "core",
        b"\0asm\x01\0\0\0",
        "core WebAssembly module, not a component",
    );
}

#[test]
fn a_truncated_component_is_refused() {
    let h = Harness::new();
    let bytes = std::fs::read(test_guest("good_v1")).unwrap();
    assert_rejected(
        &h,
        "torn",
        &bytes[..bytes.len() / 2],
        "compiling the component failed",
    );
}

#[test]
fn repeated_failures_quarantine_until_the_file_changes() {
    let h = Harness::new();
    h.install(&test_guest("hostile_panic"), "flaky");
    h.registry.sync_dir(&h.strategies_dir()).unwrap();
    let guard = GuardConfig::new(NodeKind::Lnd);
    let channels = fixtures::channels();
    for hour in 0..3 {
        let report = cycle_at(&h, "flaky", &channels, &guard, NOW + hour * 3600);
        assert!(matches!(report.error, Some(CallError::Trap { .. })));
    }
    let quarantined = cycle_at(&h, "flaky", &channels, &guard, NOW + 3 * 3600);
    assert_eq!(
        quarantined.error,
        Some(CallError::Quarantined { failures: 3 })
    );
    assert!(last_event(&h, "flaky", StrategyEventKind::Quarantined).contains("3 failed cycles"));
    let status = h.store.cycle(quarantined.cycle_id).unwrap().unwrap();
    assert_eq!(
        status.status,
        Some(lnpolicy_store::CycleStatus::Quarantined)
    );

    h.install(&test_guest("good_v1"), "flaky");
    h.registry.sync_dir(&h.strategies_dir()).unwrap();
    let report = cycle(&h, "flaky", &channels, &guard);
    assert!(
        report.error.is_none(),
        "quarantine lifts with a new file: {:?}",
        report.error
    );
}

/// Three sections running one strategy call it three times in one cycle: a slow machine that
/// times them all out is one failed cycle, not a quarantine.
#[test]
fn failures_count_per_cycle_not_per_call() {
    let h = Harness::new();
    h.install(&test_guest("hostile_panic"), "flaky");
    h.registry.sync_dir(&h.strategies_dir()).unwrap();
    let guard = GuardConfig::new(NodeKind::Lnd);
    let channels = fixtures::channels();
    for _ in 0..3 {
        let report = cycle(&h, "flaky", &channels, &guard);
        assert!(matches!(report.error, Some(CallError::Trap { .. })));
    }
    let status = |h: &Harness| {
        h.registry
            .statuses()
            .into_iter()
            .find(|s| s.name == "flaky")
            .unwrap()
    };
    assert_eq!(
        (status(&h).consecutive_failures, status(&h).quarantined),
        (1, false)
    );
    for hour in 1..3 {
        cycle_at(&h, "flaky", &channels, &guard, NOW + hour * 3600);
    }
    assert!(status(&h).quarantined);
}

/// Holds a call's history queries until the sender of `release` is dropped, so a test can
/// keep a call in flight.
struct HeldOpen {
    entered: std::sync::mpsc::SyncSender<()>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl lnpolicy_runtime::HistorySource for HeldOpen {
    fn fee_history(&self, _channel: u64, _since: u64) -> Vec<lnpolicy_core::FeeChange> {
        let _ = self.entered.try_send(());
        let _ = self.release.lock().unwrap().recv();
        Vec::new()
    }
    fn competitor_fees(&self, _peer_pubkey: &str) -> Option<lnpolicy_core::FeePercentiles> {
        None
    }
}

/// With every instance slot taken by a call in flight, another strategy's call fails as the
/// host's failure: it decides nothing, is recorded, and does not count toward quarantine, so
/// a busy host cannot quarantine a sound strategy.
#[test]
fn a_call_the_host_has_no_room_for_does_not_count_toward_quarantine() {
    let h = Harness::with_limits(lnpolicy_runtime::SandboxLimits {
        max_concurrent_calls: 1,
        ..lnpolicy_tests::test_limits()
    });
    h.install(&test_guest("history_probe"), "history_probe");
    h.install(&test_guest("good_v1"), "good_v1");
    h.registry.sync_dir(&h.strategies_dir()).unwrap();
    let guard = GuardConfig::new(NodeKind::Lnd);
    let channels = fixtures::channels();
    let (entered, entered_rx) = std::sync::mpsc::sync_channel(1);
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let held = Arc::new(HeldOpen {
        entered,
        release: std::sync::Mutex::new(release_rx),
    });
    std::thread::scope(|scope| {
        let in_flight = scope.spawn(|| {
            run_cycle(
                &h.registry,
                &h.store,
                CycleInput {
                    strategy: "history_probe",
                    version: None,
                    params: &[],
                    channels: &channels,
                    now: NOW,
                    history: held,
                    guard: &guard,
                    rules: None,
                    dry_run: false,
                },
            )
            .expect("cycle bookkeeping")
        });
        entered_rx.recv().unwrap();
        for hour in 0..5 {
            let report = cycle_at(&h, "good_v1", &channels, &guard, NOW + hour * 3600);
            match &report.error {
                Some(CallError::Host(message)) => {
                    assert!(message.contains("concurrent"), "{message}")
                }
                other => panic!("hour {hour}: {other:?}"),
            }
            assert!(report.outcomes.is_empty(), "a failed call decides nothing");
        }
        drop(release);
        let probed = in_flight.join().unwrap();
        assert!(probed.error.is_none(), "{:?}", probed.error);
    });
    assert!(
        last_event(&h, "good_v1", StrategyEventKind::HostFailed)
            .contains("the host could not run it")
    );
    let status = h
        .registry
        .statuses()
        .into_iter()
        .find(|s| s.name == "good_v1")
        .unwrap();
    assert_eq!(
        (status.consecutive_failures, status.quarantined),
        (0, false)
    );
    let report = cycle_at(&h, "good_v1", &channels, &guard, NOW + 6 * 3600);
    assert!(report.error.is_none(), "{:?}", report.error);
}

/// A FIFO named like a strategy would block the watcher forever when opened; a device never
/// ends. Both are refused by name without being opened, and the folder's other strategies load.
#[test]
fn a_fifo_or_device_in_the_folder_is_refused_without_being_read() {
    let h = Harness::new();
    h.install(&test_guest("good_v1"), "fine");
    let fifo = h.strategies_dir().join("stuck.wasm");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    std::os::unix::fs::symlink("/dev/zero", h.strategies_dir().join("endless.wasm")).unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let registry = h.registry.clone();
    let dir = h.strategies_dir();
    std::thread::spawn(move || {
        registry.sync_dir(&dir).unwrap();
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("sync_dir returned: the FIFO was not opened");
    assert!(h.registry.get("fine").is_some());
    assert!(h.registry.get("stuck").is_none() && h.registry.get("endless").is_none());
    for name in ["stuck", "endless"] {
        let event = last_event(&h, name, StrategyEventKind::Rejected);
        assert!(event.contains("not a regular file"), "{event}");
        assert!(event.contains(&format!("{name}.wasm")), "{event}");
    }
}
