//! HTLC limits the nodes enforce beyond what they report plainly.
//!
//! Core Lightning raises a requested smallest HTLC below the peer's minimum to that minimum,
//! with a warning, and reports the peer's minimum nowhere else. lnpolicy learns it from the
//! answer: a config that lowers a smallest HTLC set earlier gets it as low as the peer
//! allows, and the next run sends nothing, instead of asking again every interval.
//!
//! LND refuses any update of a channel whose smallest HTLC is below the negotiated one, even
//! one that leaves it alone; such a channel comes from an LND before the check.

use std::collections::BTreeMap;

use lnpolicy_core::NodeClient;
use lnpolicy_engine::{ConfiguredPlan, run_configured};
use lnpolicy_policy::config::Config;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::StrategyRegistry;
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use lnpolicy_store::Store;

const PEER_MINIMUM_MSAT: u64 = 1_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_smallest_htlc_below_the_peers_minimum_is_learned_once() {
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    {
        let state = live.shared();
        let mut state = state.lock().unwrap();
        for channel in &mut state.channels {
            channel.min_htlc_msat = PEER_MINIMUM_MSAT;
            channel.local_policy.min_htlc_msat = 5_000;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::cln_serving(live.shared(), dir.path()).await;
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let registry = lnpolicy_tests::registry_of(&[(
        "ignore_fees",
        lnpolicy_builtins::get("ignore_fees").unwrap(),
    )]);
    let config = "[default]\nstrategy = ignore_fees\nmin_htlc_msat = 1\n";
    let shared = live.shared();
    let minimums = || -> BTreeMap<u64, u64> {
        let state = shared.lock().unwrap();
        state
            .channels
            .iter()
            .map(|c| (c.id, c.local_policy.min_htlc_msat))
            .collect()
    };

    // Both runs at the same market time: the market would replace the peer minimums set above
    // with its own when it moves on.
    let mut sent = Vec::new();
    for run in 0..2 {
        let now = live.simulation().now_ns() / 1_000_000_000 + run * 3600;
        sent.push(run_without_refusals(&client, &store, &registry, config, now).await);
    }
    assert!(sent[0] > 0, "the first run lowers the smallest HTLC");
    assert!(
        minimums().values().all(|&min| min == PEER_MINIMUM_MSAT),
        "as low as the peer allows: {:?}",
        minimums()
    );
    assert_eq!(sent[1], 0, "the next run asks for nothing again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fee_change_reaches_an_lnd_channel_whose_smallest_htlc_is_below_the_negotiated_one() {
    const NEGOTIATED_MSAT: u64 = 1_000;
    let live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    {
        let state = live.shared();
        let mut state = state.lock().unwrap();
        for channel in &mut state.channels {
            channel.min_htlc_msat = NEGOTIATED_MSAT;
            channel.local_policy.min_htlc_msat = 1;
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let registry =
        lnpolicy_tests::registry_of(&[("static", lnpolicy_builtins::get("static").unwrap())]);
    let config = "[default]\nstrategy = static\nfee_ppm = 1234\n";
    let now = live.simulation().now_ns() / 1_000_000_000;
    let sent = run_without_refusals(&client, &store, &registry, config, now).await;
    assert!(sent > 0);
    let state = live.shared();
    let state = state.lock().unwrap();
    for channel in &state.channels {
        assert_eq!(channel.local_policy.fee_ppm, 1234, "channel {}", channel.id);
        assert_eq!(channel.local_policy.min_htlc_msat, NEGOTIATED_MSAT);
    }
}

/// Runs `config` once at `now` with charge-lnd's guard for the client's node, asserting the
/// node refused nothing; the node calls it made.
async fn run_without_refusals(
    client: &impl NodeClient,
    store: &Store,
    registry: &StrategyRegistry,
    config: &str,
    now: u64,
) -> u32 {
    let config = Config::parse("test.config", config).unwrap();
    let guard = GuardConfig::charge_lnd_compatible(client.kind());
    let outcome = run_configured(
        client,
        store,
        registry,
        ConfiguredPlan::new(&config, &guard, false),
        now,
    )
    .await
    .unwrap();
    let applied = outcome.applied.unwrap();
    assert!(applied.failed.is_empty(), "refused: {:?}", applied.failed);
    applied.node_calls
}
