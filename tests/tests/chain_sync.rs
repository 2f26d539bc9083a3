//! `onchain.synced_to_chain` against the simulator's real LND server: LND reports "not synced"
//! for a few seconds after every block, so a cycle reads the node again before it believes
//! it. A brief dip switches no channel off; a node that stays unsynced gets the section.

use std::time::Duration;

use lnpolicy_engine::{ConfiguredOutcome, ConfiguredPlan, run_configured};
use lnpolicy_policy::config::Config;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use lnpolicy_store::Store;

const CONFIG: &str = "\
[unsynced]
onchain.synced_to_chain = false
strategy = disable

[default]
strategy = static
fee_ppm = 200
";

/// One cycle with the node reporting "not synced" at its start, and synced again after
/// `synced_after` if given, reading it again every 100 ms.
async fn cycle(synced_after: Option<Duration>) -> (ConfiguredOutcome, Vec<bool>) {
    let (outcome, disabled, _) = cycle_waiting(synced_after, Duration::from_millis(100)).await;
    (outcome, disabled)
}

/// As [`cycle`], reading the node again every `wait`; also returns how long after the cycle's
/// start its decisions are stamped, seconds.
async fn cycle_waiting(
    synced_after: Option<Duration>,
    wait: Duration,
) -> (ConfiguredOutcome, Vec<bool>, Vec<u64>) {
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let registry = lnpolicy_tests::registry_of(&[
        ("disable", lnpolicy_builtins::get("disable").unwrap()),
        ("static", lnpolicy_builtins::get("static").unwrap()),
    ]);
    let config = Config::parse("sync.config", CONFIG).unwrap();
    let guard = GuardConfig::charge_lnd_compatible(lnpolicy_core::NodeKind::Lnd);
    let shared = live.shared();
    shared.lock().unwrap().info.synced_to_chain = false;
    if let Some(after) = synced_after {
        let shared = live.shared();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            shared.lock().unwrap().info.synced_to_chain = true;
        });
    }
    let now = live.simulation().now_ns() / 1_000_000_000;
    let plan = ConfiguredPlan {
        chain_sync_wait: wait,
        ..ConfiguredPlan::new(&config, &guard, false)
    };
    let outcome = run_configured(&client, &store, &registry, plan, now)
        .await
        .unwrap();
    let disabled = shared
        .lock()
        .unwrap()
        .channels
        .iter()
        .map(|c| c.local_policy.disabled)
        .collect();
    let stamped = outcome
        .plans
        .iter()
        .flat_map(|plan| store.decisions_for_channel(plan.channel_id, 1).unwrap())
        .map(|decision| decision.at - now)
        .collect();
    (outcome, disabled, stamped)
}

fn sections(outcome: &ConfiguredOutcome) -> Vec<&str> {
    outcome
        .plans
        .iter()
        .map(|p| p.section.as_ref().map_or("-", |s| s.name.as_str()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_brief_dip_in_chain_sync_disables_nothing() {
    let (outcome, disabled) = cycle(Some(Duration::from_millis(150))).await;
    assert!(sections(&outcome).iter().all(|s| *s == "default"));
    assert!(disabled.iter().all(|d| !d), "{disabled:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stays_unsynced_gets_its_section() {
    let (outcome, disabled) = cycle(None).await;
    assert!(sections(&outcome).iter().all(|s| *s == "unsynced"));
    assert!(!disabled.is_empty() && disabled.iter().all(|d| *d));
}

/// A cycle that waited 5 seconds for the node to sync records its decisions when it made
/// them, not when it started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_that_waited_for_the_node_stamps_its_decisions_when_it_decided() {
    let (outcome, _, stamped) = cycle_waiting(None, Duration::from_secs(1)).await;
    assert!(sections(&outcome).iter().all(|s| *s == "unsynced"));
    assert!(!stamped.is_empty());
    assert!(stamped.iter().all(|&after| after == 5), "{stamped:?}");
}
