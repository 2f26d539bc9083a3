//! The collector over the real protocols while the market keeps trading and
//! the server fails 10% of calls: over 200 cycles nothing panics, no row is
//! duplicated, and once the faults stop the store holds the node's history
//! exactly, rebalancing costs included. Likewise while the operator deletes the start of
//! LND's log.

use std::collections::HashMap;
use std::time::Duration;

use lnpolicy_collector::{CollectConfig, collect};
use lnpolicy_core::{FailedForward, FailureReason, NodeClient};
use lnpolicy_node::cln::{ClnClient, ClnConfig};
use lnpolicy_node::lnd::LndClient;
use lnpolicy_node::lnd::permissions::{CLIENT_METHODS, LIST_PAYMENTS, Permission};
use lnpolicy_sim::cln_server::{ClnServer, ClnServerConfig, FaultConfig, MethodFaults};
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig, LndServerHandle};
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};
use lnpolicy_store::Store;

const CYCLES: u64 = 200;

fn faults(error_rate: f64) -> FaultConfig {
    FaultConfig::uniform(
        7,
        MethodFaults {
            error_rate,
            drop_rate: 0.0,
            latency: Duration::ZERO,
        },
    )
}

/// The market's clock, unix seconds: what a collection is told the time is.
fn now(live: &LiveSimulation) -> u64 {
    live.simulation().now_ns() / 1_000_000_000
}

/// Runs the cycles, then drains with faults off; checks the store against
/// the node. `heal` switches the server's faults off.
async fn run(live: &mut LiveSimulation, node: &dyn NodeClient, heal: impl FnOnce()) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let config = CollectConfig {
        page_size: 50,
        max_pages: 4,
    };
    let mut failed_cycles = 0;
    let mut rebalanced: HashMap<u64, u64> = HashMap::new();
    for cycle in 0..CYCLES {
        live.advance(1800);
        if cycle % 10 == 3 {
            // An operator's rebalancing tool at work: its fees must all be found.
            let ids = live.shared().lock().unwrap().channel_ids();
            let (out, into) = (
                ids[(cycle as usize / 10) % ids.len()],
                ids[(cycle as usize / 10 + 5) % ids.len()],
            );
            let fee = cycle * 100 + 7;
            if live.rebalance(out, into, 10_000_000, fee, 0).is_ok() {
                *rebalanced.entry(into).or_default() += fee;
            }
        }
        if collect(node, &store, now(live), &config).await.is_err() {
            failed_cycles += 1;
        }
    }
    assert!(
        failed_cycles > 0,
        "10% injected errors must fail some cycles"
    );
    heal();
    let mut rounds = 0;
    while !collect(node, &store, now(live), &config)
        .await
        .unwrap()
        .caught_up
    {
        rounds += 1;
        assert!(rounds < 1000, "the collector must catch up");
    }
    let expected = live.shared().lock().unwrap().forwards.clone();
    assert!(
        expected.len() > 500,
        "the market traded: {} forwards",
        expected.len()
    );
    let stored = store.forwards_between(0, u64::MAX).unwrap();
    assert_eq!(
        stored.len(),
        expected.len(),
        "no forward lost or duplicated"
    );
    // CLN numbers forwards in its own log (settled and failed together) and
    // reports times in milliseconds: compare what each forward was.
    for (i, (got, want)) in stored.iter().zip(&expected).enumerate() {
        let same = (
            got.chan_in,
            got.chan_out,
            got.amt_in_msat,
            got.amt_out_msat,
            got.fee_msat,
        ) == (
            want.chan_in,
            want.chan_out,
            want.amt_in_msat,
            want.amt_out_msat,
            want.fee_msat,
        ) && got.at_ns.abs_diff(want.at_ns) < 1_000_000;
        assert!(same, "forward {i} differs: stored {got:?}, node {want:?}");
    }
    let indexes: std::collections::BTreeSet<u64> = stored.iter().map(|f| f.index).collect();
    assert_eq!(
        indexes.len(),
        stored.len(),
        "each stored forward has its own node index"
    );
    assert!(rebalanced.len() > 3, "{rebalanced:?}");
    assert_eq!(
        store.rebalance_costs(0).unwrap(),
        rebalanced,
        "every rebalance's fee found once, charged to the channel it refilled"
    );
    store.integrity_check().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lnd_collector_survives_ten_percent_errors() {
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let mut config = LndServerConfig::new(dir.path());
    config.faults = faults(0.10);
    let server = LndServer::start(live.shared(), config).await.unwrap();
    let client = LndClient::connect(&server.client_config(server.lnpolicy_macaroon_path()))
        .await
        .unwrap();
    run(&mut live, &client, || server.set_faults(faults(0.0))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cln_collector_survives_ten_percent_errors() {
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lightning-rpc");
    let config = ClnServerConfig {
        faults: faults(0.10),
        ..ClnServerConfig::default()
    };
    let server = ClnServer::start(live.shared(), &socket, config)
        .await
        .unwrap();
    let client = ClnClient::connect(ClnConfig::new(&socket)).await.unwrap();
    run(&mut live, &client, || server.set_faults(faults(0.0))).await;
}

/// What a stored forward was, apart from the key it is stored under.
fn forward_facts(f: &lnpolicy_core::Forward) -> (u64, u64, u64, u64, u64, u64) {
    (
        f.at_ns,
        f.chan_in,
        f.chan_out,
        f.amt_in_msat,
        f.amt_out_msat,
        f.fee_msat,
    )
}

/// `lncli deletefwdhistory` shifts the offsets of LND's log. A store collected by the
/// offset-paging client (positions as keys, the count as cursor) is moved to a time cursor
/// first; then every other day the operator deletes all but the last day of LND's log.
/// Every forward the market settled is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lnd_log_deletions_and_an_offset_cursor_lose_and_repeat_nothing() {
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    live.advance(2 * 86_400);
    let early = live.simulation().state().forwards.clone();
    assert!(early.len() > 50, "{} forwards", early.len());
    store.add_forwards(&early, early.len() as u64).unwrap();

    let config = CollectConfig {
        page_size: 50,
        max_pages: 4,
    };
    let mut deleted = 0;
    for day in 0..6 {
        live.advance(86_400);
        if day % 2 == 1 {
            let now_ns = live.simulation().state().now_ns;
            deleted += live.delete_forwards_before(now_ns - 86_400 * 1_000_000_000);
        }
        let mut rounds = 0;
        while !collect(&client, &store, now(&live), &config)
            .await
            .unwrap()
            .caught_up
        {
            rounds += 1;
            assert!(rounds < 100, "the collector must catch up");
        }
    }
    assert!(deleted > early.len(), "{deleted} forwards deleted");
    let settled: Vec<_> = live
        .simulation()
        .state()
        .forwards
        .iter()
        .map(forward_facts)
        .collect();
    let stored: Vec<_> = store
        .forwards_between(0, u64::MAX)
        .unwrap()
        .iter()
        .map(forward_facts)
        .collect();
    assert_eq!(stored.len(), settled.len(), "none lost or stored twice");
    assert_eq!(stored, settled);
}

/// Core Lightning lists a forward `offered` from the moment its HTLC arrives. One held
/// downstream for hours used to stop the collection of everything after it; now the rest is
/// collected at once, and its outcome, read by `updated_index` once it settles, is stored
/// once under its created_index.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_htlc_on_cln_holds_back_only_its_own_forward() {
    let mut sim = Simulation::new(Scenario::builtin("balanced").unwrap());
    sim.advance(2 * 86_400);
    let mut state = sim.into_state();
    let held = state.forwards.len() / 3;
    let hour = 3_600 * 1_000_000_000;
    state.held_forwards.insert(held, state.forwards[held].at_ns);
    state.forwards[held].at_ns = state.now_ns + hour;
    // Mostly `local_failed`, as on mainnet: more entries that are never updated than a page
    // holds, which `listforwards index=updated start=0` would list first.
    let refused: Vec<FailedForward> = state.forwards[..120]
        .iter()
        .map(|f| FailedForward {
            index: 0,
            at_ns: f.at_ns + 1,
            chan_in: f.chan_in,
            chan_out: Some(f.chan_out),
            amt_in_msat: f.amt_in_msat,
            reason: FailureReason::FeeInsufficient,
        })
        .collect();
    state.failures.extend(refused);
    state.failures.sort_by_key(|f| f.at_ns);
    let settled = state.forwards.clone();
    let failed = state.failures.clone();
    assert!(held > 50, "{} forwards", settled.len());
    let shared = std::sync::Arc::new(std::sync::Mutex::new(state));

    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::cln_serving(shared.clone(), dir.path()).await;
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let config = CollectConfig {
        page_size: 50,
        max_pages: 1_000,
    };
    let stored = |store: &Store| {
        let forwards = store.forwards_between(0, u64::MAX).unwrap();
        let failures = store.failed_forwards_between(0, u64::MAX).unwrap();
        (forwards, failures.len())
    };
    let first = collect(&client, &store, 1, &config).await.unwrap();
    assert!(first.caught_up);
    let (forwards, failures) = stored(&store);
    assert_eq!(failures, failed.len(), "every failure, once");
    assert_eq!(
        forwards.len(),
        settled.len() - 1,
        "all but the held one, those after it too"
    );
    assert!(forwards.iter().all(|f| f.at_ns < settled[held].at_ns));

    shared.lock().unwrap().now_ns += 2 * hour;
    let second = collect(&client, &store, 2, &config).await.unwrap();
    assert!(second.caught_up);
    assert_eq!(second.resolved_added, 1);
    let (forwards, failures) = stored(&store);
    assert_eq!(failures, failed.len());
    assert_eq!(forwards.len(), settled.len(), "the held one, once");
    let last = forwards.last().unwrap();
    assert_eq!(
        (last.chan_in, last.chan_out, last.fee_msat),
        (
            settled[held].chan_in,
            settled[held].chan_out,
            settled[held].fee_msat
        ),
        "settled last, at its own time"
    );
    assert_eq!(
        collect(&client, &store, 3, &config)
            .await
            .unwrap()
            .resolved_added,
        0
    );
}

/// LND stamps forwards with its wall clock and keeps its log in time order. After its clock
/// steps back, a new forward sorts before forwards already read: one stamped half an hour
/// before the cursor is stored at the next run, once; one stamped three hours before it is
/// outside the window read again (`LND_REREAD_WINDOW_NS`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lnd_forwards_stamped_before_the_cursor_after_a_clock_step_are_stored_once() {
    const HOUR_NS: u64 = 3_600 * 1_000_000_000;
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let config = CollectConfig {
        page_size: 7,
        max_pages: u32::MAX,
    };
    live.advance(86_400);
    collect(&client, &store, now(&live), &config).await.unwrap();
    let cursor = store.cursor(lnpolicy_store::Stream::Forwards).unwrap();
    assert!(cursor > 3 * HOUR_NS);

    let stamped_late = |at_ns: u64| {
        let shared = live.shared();
        let mut node = shared.lock().unwrap();
        let template = node.forwards.last().unwrap().clone();
        let late = lnpolicy_core::Forward {
            index: at_ns,
            at_ns,
            fee_msat: 4_321,
            ..template
        };
        let at = node.forwards.partition_point(|f| f.at_ns < at_ns);
        assert_ne!(node.forwards[at].at_ns, at_ns, "a free nanosecond");
        node.forwards.insert(at, late.clone());
        late
    };
    let in_window = stamped_late(cursor - HOUR_NS / 2 + 1);
    let outside = stamped_late(cursor - 3 * HOUR_NS + 1);
    live.advance(3_600);

    let report = collect(&client, &store, now(&live), &config).await.unwrap();
    assert_eq!(report.late_forwards_added, 1);
    let stored = store.forwards_between(0, u64::MAX).unwrap();
    let facts: Vec<_> = stored.iter().map(forward_facts).collect();
    assert!(facts.contains(&forward_facts(&in_window)));
    assert!(!facts.contains(&forward_facts(&outside)));
    let served = live.shared().lock().unwrap().forwards.len();
    assert_eq!(stored.len(), served - 1, "every other forward, once");

    let again = collect(&client, &store, now(&live), &config).await.unwrap();
    assert_eq!((again.forwards_added, again.late_forwards_added), (0, 0));
    assert_eq!(
        store.forwards_between(0, u64::MAX).unwrap().len(),
        stored.len()
    );
}

/// LND's clock ran eight hours ahead of this machine's, which moved the cursor there; then it
/// was set right. The next collection comes `hours` later: the ten forwards of those hours,
/// stamped before the cursor, are stored, however far apart the collections.
async fn forwards_after_a_clock_that_ran_ahead(hours: u64) {
    const MINUTE_NS: u64 = 60 * 1_000_000_000;
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let config = CollectConfig::default();
    live.advance(86_400);
    let now_ns = live.simulation().now_ns();
    let shared = live.shared();
    let stamp = |at_ns: u64| {
        let mut node = shared.lock().unwrap();
        let forward = lnpolicy_core::Forward {
            index: at_ns,
            at_ns,
            fee_msat: 4_321,
            ..node.forwards.last().unwrap().clone()
        };
        let at = node.forwards.partition_point(|f| f.at_ns < at_ns);
        node.forwards.insert(at, forward);
    };
    // LND's clock runs eight hours ahead of this machine's while the market trades.
    live.advance(8 * 3_600);
    collect(&client, &store, now_ns / 1_000_000_000 + 60, &config)
        .await
        .unwrap();
    let before = store.forward_count().unwrap();
    assert!(store.cursor(lnpolicy_store::Stream::Forwards).unwrap() > now_ns + 420 * MINUTE_NS);
    for tenth in 1..=10 {
        stamp(now_ns + tenth * hours * 6 * MINUTE_NS);
    }
    let later = now_ns / 1_000_000_000 + hours * 3_600;
    collect(&client, &store, later, &config).await.unwrap();
    assert_eq!(store.forward_count().unwrap(), before + 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lnd_forwards_after_a_clock_that_ran_ahead_are_stored() {
    forwards_after_a_clock_that_ran_ahead(1).await;
}

/// Collections six hours apart (`lnpolicy -c` from cron), longer than the window read again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lnd_forwards_after_a_clock_that_ran_ahead_are_stored_by_runs_hours_apart() {
    forwards_after_a_clock_that_ran_ahead(6).await;
}

/// A rebalance held in flight for three hours, and one settled at once after it: the second's
/// fee is counted at once, the first's once it settles, each once.
async fn held_rebalance(live: &mut LiveSimulation, node: &dyn NodeClient) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let ids = live.shared().lock().unwrap().channel_ids();
    live.rebalance(ids[0], ids[1], 20_000_000, 900, 3 * 3600)
        .unwrap();
    live.advance(60);
    live.rebalance(ids[2], ids[3], 5_000_000, 40, 0).unwrap();
    let config = CollectConfig::to_the_end();
    let report = collect(node, &store, now(live), &config).await.unwrap();
    assert!(report.caught_up);
    assert_eq!(
        store.rebalance_costs(0).unwrap(),
        HashMap::from([(ids[3], 40)]),
        "the one in flight is not counted yet, and holds nothing back"
    );
    live.advance(4 * 3600);
    collect(node, &store, now(live), &config).await.unwrap();
    collect(node, &store, now(live), &config).await.unwrap();
    assert_eq!(
        store.rebalance_costs(0).unwrap(),
        HashMap::from([(ids[3], 40), (ids[1], 900)])
    );
    assert!(store.unresolved_payments().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_in_flight_on_lnd_is_counted_once_it_settles() {
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    live.advance(3600);
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::lnd_serving(&live, dir.path()).await;
    held_rebalance(&mut live, &client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_in_flight_on_cln_is_counted_once_it_settles() {
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("cln-heavy").unwrap()));
    live.advance(3600);
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::cln_serving(live.shared(), dir.path()).await;
    held_rebalance(&mut live, &client).await;
}

/// Faults on LND's `ListPayments` only: every call fails.
fn list_payments_failing() -> FaultConfig {
    let mut config = faults(0.0);
    config.per_method.insert(
        "lnrpc.Lightning/ListPayments".to_owned(),
        MethodFaults {
            error_rate: 1.0,
            drop_rate: 0.0,
            latency: Duration::ZERO,
        },
    );
    config
}

/// The simulated LND serving a market, a fresh store in `dir`, and that store after its first
/// collection to the end.
struct Collected {
    dir: tempfile::TempDir,
    _server: LndServerHandle,
    client: LndClient,
    store: Store,
}

async fn first_lnd_collection(live: &LiveSimulation) -> Collected {
    let dir = tempfile::tempdir().unwrap();
    let (_server, client) = lnpolicy_tests::lnd_serving(live, dir.path()).await;
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    collect(&client, &store, now(live), &CollectConfig::to_the_end())
        .await
        .unwrap();
    Collected {
        dir,
        _server,
        client,
        store,
    }
}

/// `warmup_secs` of the balanced market, then a rebalance of 900 msat into the second channel
/// that settles `hold_secs` later; the channels' ids.
fn market_and_a_rebalance(warmup_secs: u64, hold_secs: u64) -> (LiveSimulation, Vec<u64>) {
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("balanced").unwrap()));
    live.advance(warmup_secs);
    let ids = live.simulation().state().channel_ids();
    live.rebalance(ids[0], ids[1], 20_000_000, 900, hold_secs)
        .unwrap();
    (live, ids)
}

/// A node that fails every `ListPayments` (an answer too large, a timeout) loses the
/// rebalancing costs of that collection and nothing else: the collection goes on, says it is
/// not caught up, and the costs come once the node answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_payment_lists_do_not_stop_the_collection() {
    let (live, ids) = market_and_a_rebalance(86_400, 0);
    let dir = tempfile::tempdir().unwrap();
    let mut config = LndServerConfig::new(dir.path());
    config.faults = list_payments_failing();
    let server = LndServer::start(live.shared(), config).await.unwrap();
    let client = LndClient::connect(&server.client_config(server.lnpolicy_macaroon_path()))
        .await
        .unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let report = collect(&client, &store, now(&live), &CollectConfig::to_the_end())
        .await
        .unwrap();
    assert!(report.forwards_added > 0);
    assert!(!report.caught_up);
    assert!(store.rebalance_costs(0).unwrap().is_empty());

    server.set_faults(faults(0.0));
    let report = collect(&client, &store, now(&live), &CollectConfig::to_the_end())
        .await
        .unwrap();
    assert!(report.caught_up);
    assert_eq!(
        store.rebalance_costs(0).unwrap(),
        HashMap::from([(ids[1], 900)])
    );
}

/// More payments in flight than a run reads again (LND has left payments in flight for good):
/// the newest, likeliest to resolve, is still read, and its cost counted at the next run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_stuck_in_flight_do_not_hold_a_newer_one_back() {
    let (mut live, ids) = market_and_a_rebalance(3600, 20 * 86_400);
    for _ in 0..120 {
        live.rebalance(ids[0], ids[1], 10_000, 1, 20 * 86_400)
            .unwrap();
    }
    live.advance(60);
    live.rebalance(ids[2], ids[3], 5_000_000, 40, 3_600)
        .unwrap();
    let c = first_lnd_collection(&live).await;
    let config = CollectConfig::to_the_end();
    assert_eq!(c.store.unresolved_payments().unwrap().len(), 122);
    live.advance(2 * 3_600);
    let report = collect(&c.client, &c.store, now(&live), &config)
        .await
        .unwrap();
    assert!(
        !report.caught_up,
        "not every payment in flight was read again"
    );
    assert_eq!(
        c.store.rebalance_costs(0).unwrap(),
        HashMap::from([(ids[3], 40)]),
        "the newest one settled, and is counted"
    );
    assert_eq!(c.store.unresolved_payments().unwrap().len(), 121);
}

/// A payment LND lists in flight a month after it started is a record LND never resolved: it
/// is read again until then, and given up after, without holding anything back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_in_flight_for_a_month_is_given_up() {
    let (mut live, ids) = market_and_a_rebalance(3600, 40 * 86_400);
    let c = first_lnd_collection(&live).await;
    let config = CollectConfig::to_the_end();
    assert_eq!(c.store.unresolved_payments().unwrap().len(), 1);
    live.advance(31 * 86_400);
    live.rebalance(ids[2], ids[3], 5_000_000, 40, 0).unwrap();
    let report = collect(&c.client, &c.store, now(&live), &config)
        .await
        .unwrap();
    assert!(report.caught_up);
    assert!(
        c.store.unresolved_payments().unwrap().is_empty(),
        "given up"
    );
    assert_eq!(
        c.store.rebalance_costs(0).unwrap(),
        HashMap::from([(ids[3], 40)])
    );

    // A store that first sees it after a month does not keep it at all.
    let fresh = Store::open(&c.dir.path().join("fresh.db")).unwrap();
    collect(&c.client, &fresh, now(&live), &config)
        .await
        .unwrap();
    assert!(fresh.unresolved_payments().unwrap().is_empty());
    assert_eq!(
        fresh.rebalance_costs(0).unwrap(),
        HashMap::from([(ids[3], 40)])
    );
}

/// A macaroon baked without `ListPayments` (before lnpolicy read payments): rebalancing costs
/// are not collected, with a warning, and the collection is otherwise whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_macaroon_without_list_payments_collects_everything_else() {
    let (live, _) = market_and_a_rebalance(86_400, 0);
    let dir = tempfile::tempdir().unwrap();
    let server = LndServer::start(live.shared(), LndServerConfig::new(dir.path()))
        .await
        .unwrap();
    let granted: Vec<Permission> = CLIENT_METHODS
        .iter()
        .filter(|m| **m != LIST_PAYMENTS)
        .map(|m| Permission::uri(m))
        .collect();
    let macaroon = dir.path().join("older.macaroon");
    server.bake_macaroon(&granted, &macaroon).unwrap();
    let client = LndClient::connect(&server.client_config(&macaroon))
        .await
        .unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let report = collect(&client, &store, now(&live), &CollectConfig::to_the_end())
        .await
        .unwrap();
    assert!(report.forwards_added > 0);
    assert!(
        report.caught_up,
        "a refusal is for good: nothing is left to read"
    );
    assert!(store.rebalance_costs(0).unwrap().is_empty());
}

/// A rebalance that fails after it was listed in flight costs nothing, and is no longer read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebalance_that_fails_in_flight_costs_nothing() {
    let (mut live, _) = market_and_a_rebalance(3600, 3 * 3600);
    let c = first_lnd_collection(&live).await;
    let config = CollectConfig::to_the_end();
    assert_eq!(c.store.unresolved_payments().unwrap().len(), 1);
    live.advance(600);
    assert!(live.fail_rebalance(0));
    live.advance(4 * 3600);
    collect(&c.client, &c.store, now(&live), &config)
        .await
        .unwrap();
    assert!(c.store.unresolved_payments().unwrap().is_empty());
    assert!(c.store.rebalance_costs(0).unwrap().is_empty());
}

/// A payment whose reading keeps failing is given up all the same 30 days after it started,
/// and the failures do not stop the collection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_that_cannot_be_read_again_is_given_up_after_a_month() {
    let (mut live, _) = market_and_a_rebalance(3600, 40 * 86_400);
    let dir = tempfile::tempdir().unwrap();
    let server = LndServer::start(live.shared(), LndServerConfig::new(dir.path()))
        .await
        .unwrap();
    let client = LndClient::connect(&server.client_config(server.lnpolicy_macaroon_path()))
        .await
        .unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let config = CollectConfig::to_the_end();
    collect(&client, &store, now(&live), &config).await.unwrap();
    assert_eq!(store.unresolved_payments().unwrap().len(), 1);
    server.set_faults(list_payments_failing());
    live.advance(86_400);
    let report = collect(&client, &store, now(&live), &config).await.unwrap();
    assert!(!report.caught_up);
    assert_eq!(
        store.unresolved_payments().unwrap().len(),
        1,
        "kept while young"
    );
    live.advance(30 * 86_400);
    collect(&client, &store, now(&live), &config).await.unwrap();
    assert!(store.unresolved_payments().unwrap().is_empty(), "given up");
}
