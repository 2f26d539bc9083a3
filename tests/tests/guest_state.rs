//! A strategy's key/value state is persisted by the host in SQLite: written
//! only when the call succeeds, and still there after a restart.

use std::sync::Arc;

use lnpolicy_core::{NodeKind, NullEventSink, fixtures};
use lnpolicy_policy::cycle::{CycleInput, run_cycle};
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{NoHistory, RegistryConfig, Runtime, RuntimeConfig, StrategyRegistry};
use lnpolicy_store::Store;
use lnpolicy_tests::test_guest;

fn calls(store: &Store) -> Option<u64> {
    store
        .state_get("counter", "calls")
        .unwrap()
        .map(|bytes| u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
}

/// Opens the database and the strategy as a fresh daemon would, runs one cycle.
fn run_once(db: &std::path::Path) -> Store {
    run(db, false)
}

fn run(db: &std::path::Path, dry_run: bool) -> Store {
    let store = Store::open(db).unwrap();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let registry =
        StrategyRegistry::new(runtime, Arc::new(NullEventSink), RegistryConfig::default());
    registry
        .add_builtin("counter", &std::fs::read(test_guest("good_v1")).unwrap())
        .unwrap();
    let report = run_cycle(
        &registry,
        &store,
        CycleInput {
            strategy: "counter",
            params: &[],
            channels: &fixtures::channels(),
            now: 1_780_000_000,
            history: Arc::new(NoHistory),
            guard: &GuardConfig::new(NodeKind::Lnd),
            rules: None,
            dry_run,
        },
    )
    .unwrap();
    assert!(report.error.is_none(), "{:?}", report.error);
    store
}

#[test]
fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lnpolicy.db");
    assert_eq!(calls(&run_once(&db)), Some(1));
    assert_eq!(calls(&run_once(&db)), Some(2));
    assert_eq!(
        calls(&run_once(&db)),
        Some(3),
        "each restart continues from the stored count"
    );
}

/// A dry run sends nothing, so it must not move the strategy on either: the next real cycle
/// continues from the state the last real one left.
#[test]
fn a_dry_run_leaves_the_state_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("lnpolicy.db");
    assert_eq!(calls(&run_once(&db)), Some(1));
    assert_eq!(calls(&run(&db, true)), Some(1), "a dry run writes no state");
    assert_eq!(calls(&run_once(&db)), Some(2));
}
