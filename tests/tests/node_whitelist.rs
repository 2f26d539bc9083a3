//! A full collect → decide → apply cycle against the simulator's real LND
//! (gRPC over TLS, macaroon) and CLN (JSON-RPC on a unix socket) servers.
//! The servers record every method called: the set must be exactly within
//! the whitelist, and the only write is one policy update per changed channel.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use lnpolicy_core::{NodeClient, NodeKind};
use lnpolicy_engine::{CyclePlan, run_once};
use lnpolicy_node::cln::ClnClient;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{NoHistory, StrategyRegistry};
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use lnpolicy_store::Store;
use lnpolicy_tests::registry_of;

/// The read methods the daemon may call on LND, and its two writes (a channel's policy, and
/// its disabled flag, which only `UpdateChanStatus` sets).
const LND_ALLOWED: &[&str] = &[
    "lnrpc.Lightning/GetInfo",
    "lnrpc.Lightning/ListChannels",
    "lnrpc.Lightning/FeeReport",
    "lnrpc.Lightning/GetChanInfo",
    "lnrpc.Lightning/GetNodeInfo",
    "lnrpc.Lightning/ForwardingHistory",
    "lnrpc.Lightning/GetTransactions",
    "lnrpc.Lightning/ListPayments",
    "walletrpc.WalletKit/EstimateFee",
    "routerrpc.Router/SubscribeHtlcEvents",
    "lnrpc.Lightning/UpdateChannelPolicy",
    "routerrpc.Router/UpdateChanStatus",
];
const CLN_ALLOWED: &[&str] = &[
    "getinfo",
    "listpeerchannels",
    "listforwards",
    "listchannels",
    "feerates",
    "bkpr-listaccountevents",
    "listchannelmoves",
    "setchannel",
];

fn registry() -> StrategyRegistry {
    registry_of(&[(
        "balance_based",
        lnpolicy_builtins::get("balance_based").unwrap(),
    )])
}

/// A day of market history, so the collector has forwards to page through, and a rebalance
/// from the fullest channel into the emptiest, whose fee the collection must find.
fn live_market() -> LiveSimulation {
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    live.advance(86_400);
    let channels = &live.simulation().state().channels;
    let fullest = channels.iter().max_by_key(|c| c.local_balance_sat).unwrap();
    let emptiest = channels.iter().min_by_key(|c| c.local_balance_sat).unwrap();
    let amount_msat = fullest.local_balance_sat.min(emptiest.remote_balance_sat) * 100;
    let (out, into) = (fullest.id, emptiest.id);
    live.rebalance(out, into, amount_msat, 1_234, 0).unwrap();
    live
}

/// Runs one cycle; returns (methods called, policy writes, channels changed).
async fn cycle(
    node: &dyn NodeClient,
    live: &LiveSimulation,
    kind: NodeKind,
    write: &str,
) -> (Vec<String>, usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let registry = registry();
    let guard = GuardConfig::new(kind);
    let now = live.simulation().now_ns() / 1_000_000_000;
    let outcome = run_once(
        node,
        &store,
        &registry,
        CyclePlan {
            strategy: "balance_based",
            params: &[],
            guard: &guard,
            history: Arc::new(NoHistory),
            dry_run: false,
            min_fee_ppm_delta: 0,
            max_updates_per_hour: None,
        },
        now,
    )
    .await
    .unwrap();
    assert!(
        outcome.collected.forwards_added > 0,
        "a day of history was collected"
    );
    assert_eq!(
        store.forward_count().unwrap() as usize,
        live.shared().lock().unwrap().forwards.len()
    );
    let rebalances = live.shared().lock().unwrap().rebalances.clone();
    assert_eq!(rebalances.len(), 1);
    assert_eq!(
        store.rebalance_costs(0).unwrap(),
        HashMap::from([(rebalances[0].in_channel, 1_234)]),
        "the rebalance's fee is charged to the channel it refilled"
    );
    assert_eq!(
        store.channel_analyses().unwrap()[&rebalances[0].in_channel]
            .1
            .rebalance_cost_msat,
        1_234,
        "the cycle that collected it showed it among the channel's costs"
    );
    let applied = outcome.applied.unwrap();
    assert!(applied.failed.is_empty(), "{:?}", applied.failed);
    assert!(
        !applied.applied.is_empty(),
        "balance_based changes some fees"
    );
    let state = live.shared();
    let state = state.lock().unwrap();
    for outcome in &outcome.decided.outcomes {
        if let Some(policy) = outcome.guarded.policy {
            let channel = state.channel(outcome.guarded.channel_id).unwrap();
            assert_eq!(
                channel.local_policy.fee_ppm, policy.fee_ppm,
                "the node has the guarded fee"
            );
        }
    }
    let writes = state.calls.iter().filter(|m| *m == write).count();
    (state.calls.clone(), writes, applied.applied.len())
}

fn assert_within(calls: &[String], allowed: &[&str]) {
    let called: BTreeSet<&str> = calls.iter().map(String::as_str).collect();
    let outside: Vec<&&str> = called.iter().filter(|m| !allowed.contains(m)).collect();
    assert!(
        outside.is_empty(),
        "methods outside the whitelist: {outside:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lnd_cycle_calls_only_whitelisted_methods() {
    let live = live_market();
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
    let (calls, writes, changed) = cycle(
        &client,
        &live,
        NodeKind::Lnd,
        "lnrpc.Lightning/UpdateChannelPolicy",
    )
    .await;
    assert_within(&calls, LND_ALLOWED);
    assert_eq!(
        writes, changed,
        "one policy update per changed channel, nothing else written"
    );
    let mut client_methods: Vec<&str> = lnpolicy_node::lnd::permissions::CLIENT_METHODS.to_vec();
    client_methods.sort_unstable();
    assert!(
        client_methods.iter().all(|m| LND_ALLOWED.contains(m)),
        "{client_methods:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cln_cycle_calls_only_whitelisted_methods() {
    let live = live_market();
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::cln_serving(live.shared(), dir.path()).await;
    let (calls, writes, changed) = cycle(&client, &live, NodeKind::Cln, "setchannel").await;
    assert_within(&calls, CLN_ALLOWED);
    assert!(
        ClnClient::METHODS.iter().all(|m| CLN_ALLOWED.contains(m)),
        "{:?}",
        ClnClient::METHODS
    );
    assert_eq!(
        writes, changed,
        "one setchannel per changed channel, nothing else written"
    );
}
