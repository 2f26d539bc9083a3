//! A strategy's key/value state is persisted by the host in SQLite: written
//! only when the call succeeds, and still there after a restart.

use std::sync::Arc;

use lnpolicy_core::{NodeKind, fixtures};
use lnpolicy_policy::cycle::{CycleInput, run_cycle};
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::NoHistory;
use lnpolicy_store::Store;
use lnpolicy_tests::{registry_of, test_guest};

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
    let registry = registry_of(&[(
        "counter",
        std::fs::read(test_guest("good_v1")).unwrap().as_slice(),
    )]);
    let report = run_cycle(
        &registry,
        &store,
        CycleInput {
            strategy: "counter",
            version: None,
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

/// The same through a charge-lnd config, the path `--dry-run` and `test-channel` take: the
/// climber's pooled position is not stored by a dry run, and is by the real run after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configured_dry_run_leaves_the_climber_where_it_was() {
    use lnpolicy_engine::{ConfiguredPlan, run_configured};
    use lnpolicy_policy::config::Config;
    use lnpolicy_sim::{InProcessNode, LiveSimulation, Scenario, Simulation};

    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    live.advance(86_400);
    let node = InProcessNode::new(live.shared());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let registry = registry_of(&[(
        "hill_climber",
        lnpolicy_builtins::get("hill_climber").unwrap(),
    )]);
    let config = Config::parse("climber.config", "[default]\nstrategy = hill_climber\n").unwrap();
    let guard = GuardConfig::charge_lnd_compatible(NodeKind::Lnd);
    let now = live.simulation().now_ns() / 1_000_000_000;
    for (dry_run, stored) in [(true, false), (false, true)] {
        let plan = ConfiguredPlan::new(&config, &guard, dry_run);
        run_configured(&node, &store, &registry, plan, now)
            .await
            .unwrap();
        assert_eq!(
            !store.state_all("hill_climber").unwrap().is_empty(),
            stored,
            "dry run {dry_run}"
        );
    }
}
