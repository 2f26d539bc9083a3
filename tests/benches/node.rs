//! Node-facing costs on a 1,000-channel simulated LND node, over the real
//! gRPC/TLS protocol: one full collect (from an empty store), full
//! collect → decide → apply cycles of one strategy, and of a charge-lnd config
//! (apply, then an idle run). Prints node calls by method and wall time.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lnpolicy_collector::{CollectConfig, collect};
use lnpolicy_core::NodeKind;
use lnpolicy_engine::{ConfiguredPlan, CyclePlan, run_configured, run_once};
use lnpolicy_node::lnd::LndClient;
use lnpolicy_policy::config::Config;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{NoHistory, StrategyRegistry};
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use lnpolicy_store::Store;

const RUNS: u32 = 5;

fn calls_since(live: &LiveSimulation, from: usize) -> (usize, BTreeMap<String, usize>) {
    let state = live.shared();
    let state = state.lock().unwrap();
    let mut by_method = BTreeMap::new();
    for call in &state.calls[from..] {
        *by_method.entry(call.clone()).or_insert(0) += 1;
    }
    (state.calls.len(), by_method)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let mut live = LiveSimulation::new(Simulation::new(Scenario::synthetic(1000, 20_000.0, 3)));
        live.advance(86_400);
        let forwards = live.shared().lock().unwrap().forwards.len();
        let dir = tempfile::tempdir().unwrap();
        let (server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
        println!("1,000-channel simulated LND node with {forwards} forwards in its log");

        let mut times = Vec::new();
        let mut calls = BTreeMap::new();
        for _ in 0..RUNS {
            let db = tempfile::tempdir().unwrap();
            let store = Store::open(&db.path().join("lnpolicy.db")).unwrap();
            let (before, _) = calls_since(&live, 0);
            let start = Instant::now();
            let report = collect(&client, &store, 0, &CollectConfig::default())
                .await
                .unwrap();
            times.push(start.elapsed());
            assert!(report.caught_up);
            calls = calls_since(&live, before).1;
        }
        print_figures("full collect (empty store)", &times, &calls);

        let registry = lnpolicy_tests::registry_of(&[(
            "balance_based",
            lnpolicy_builtins::get("balance_based").unwrap(),
        )]);
        let guard = GuardConfig {
            min_update_interval_secs: 0,
            ..GuardConfig::new(NodeKind::Lnd)
        };
        // The first run changes most fees; later runs find them already set
        // and show the cost of a cycle with nothing to send.
        for run in 0..RUNS {
            let db = tempfile::tempdir().unwrap();
            let store = Store::open(&db.path().join("lnpolicy.db")).unwrap();
            let (before, _) = calls_since(&live, 0);
            let now = live.simulation().now_ns() / 1_000_000_000 + u64::from(run);
            let start = Instant::now();
            let outcome = run_once(
                &client,
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
            let elapsed = start.elapsed();
            let changed = outcome.applied.map_or(0, |a| a.applied.len());
            let calls = calls_since(&live, before).1;
            print_figures(
                &format!(
                    "collect + decide + apply, run {}: {changed} channels changed",
                    run + 1
                ),
                &[elapsed],
                &calls,
            );
        }
        charge_lnd_config(&client, &live, &registry).await;
        server.shutdown().await;
    });
}

/// A charge-lnd config on the same node: the first run changes every channel (one
/// UpdateChannelPolicy each), the second finds nothing to do (reads only).
async fn charge_lnd_config(client: &LndClient, live: &LiveSimulation, registry: &StrategyRegistry) {
    for name in ["static", "proportional"] {
        registry
            .add_builtin(name, lnpolicy_builtins::get(name).unwrap())
            .unwrap();
    }
    let config = Config::parse(
        "bench.config",
        "[DEFAULT]\nmin_fee_ppm_delta = 10\n\n[big]\nchan.min_capacity = 3_000_000\n\
         strategy = static\nfee_ppm = 321\n\n[default]\nstrategy = proportional\n\
         min_fee_ppm = 50\nmax_fee_ppm = 1_500\n",
    )
    .unwrap();
    let guard = GuardConfig::charge_lnd_compatible(NodeKind::Lnd);
    let db = tempfile::tempdir().unwrap();
    let store = Store::open(&db.path().join("lnpolicy.db")).unwrap();
    for run in 1..=2 {
        let (before, _) = calls_since(live, 0);
        let now = live.simulation().now_ns() / 1_000_000_000 + 100 + run;
        let start = Instant::now();
        let outcome = run_configured(
            client,
            &store,
            registry,
            ConfiguredPlan::new(&config, &guard, false),
            now,
        )
        .await
        .unwrap();
        let elapsed = start.elapsed();
        let applied = outcome.applied.unwrap();
        assert!(applied.failed.is_empty());
        let calls = calls_since(live, before).1;
        print_figures(
            &format!(
                "charge-lnd config (static + proportional), run {run}: {} applied, {} below delta, {} unchanged",
                applied.applied.len(),
                applied.below_delta,
                applied.unchanged
            ),
            &[elapsed],
            &calls,
        );
    }
}

fn print_figures(what: &str, times: &[Duration], calls: &BTreeMap<String, usize>) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let total: usize = calls.values().sum();
    println!(
        "{what}: median {:.1?} (min {:.1?}, max {:.1?}) over {} runs",
        sorted[sorted.len() / 2],
        sorted[0],
        sorted[sorted.len() - 1],
        sorted.len()
    );
    println!("  node calls in the last run: {total}");
    for (method, count) in calls {
        println!("    {method}: {count}");
    }
}
