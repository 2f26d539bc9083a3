//! What a cycle reads from the node once and keeps in lnpolicy's own store: guests' history
//! imports (a cycle refreshes stale peer fee levels, surviving a node error on one peer, and
//! the cycle's history source reports the stored fee changes and competitor fees) and open
//! costs (asked only for the channels missing one, at most daily per channel), and old
//! decisions folded into daily counts past the detail period. The node is a
//! small in-test fake because this crate has no async runtime or simulator among its
//! dependencies; the store is real.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use lnpolicy_core::{
    FailedForwardPage, FeePercentiles, FeePolicy, Forward, ForwardPage, FundingFee,
    GuardedDecision, NodeChannel, NodeClient, NodeError, NodeInfo, NodeKind, NullEventSink,
    PeerInfo, Profitability,
};
use lnpolicy_engine::{ConfiguredOutcome, ConfiguredPlan, StoreHistory, run_configured};
use lnpolicy_policy::config::Config;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{HistorySource, RegistryConfig, Runtime, RuntimeConfig, StrategyRegistry};
use lnpolicy_store::{DecisionRecord, Store};

const HOUR: u64 = 3600;
const KNOWN_PEER: &str = "02aa";
const FAILING_PEER: &str = "02bb";

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, NodeError>> + Send + 'a>>;

/// A node whose answers are ready at once; it counts `peer_info` calls per peer and records
/// the txids each `funding_fees` call asked for.
#[derive(Default)]
struct FakeNode {
    channels: Mutex<Vec<NodeChannel>>,
    forwards: Vec<Forward>,
    peer_calls: Mutex<Vec<String>>,
    /// The funding fees the node knows, by txid.
    funding: Mutex<BTreeMap<String, u64>>,
    /// Answer `funding_fees` as a CLN without its bookkeeper does.
    refuse_funding: bool,
    /// Answer `funding_fees` as an LND whose wallet is too large to list within the timeout.
    funding_times_out: bool,
    funding_calls: Mutex<Vec<Vec<String>>>,
    info_calls: std::sync::atomic::AtomicU32,
}

impl FakeNode {
    fn set_fee(&self, id: u64, fee_ppm: u32) {
        let mut channels = self.channels.lock().unwrap();
        channels
            .iter_mut()
            .find(|c| c.id == id)
            .unwrap()
            .local_policy
            .fee_ppm = fee_ppm;
    }
}

fn ready<'a, T: Send + 'a>(value: Result<T, NodeError>) -> Answer<'a, T> {
    Box::pin(std::future::ready(value))
}

impl NodeClient for FakeNode {
    fn kind(&self) -> NodeKind {
        NodeKind::Lnd
    }

    fn get_info<'a, 'b>(&'a self) -> Answer<'b, NodeInfo>
    where
        'a: 'b,
        Self: 'b,
    {
        self.info_calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ready(Ok(NodeInfo {
            kind: NodeKind::Lnd,
            pubkey: "03ff".into(),
            alias: "fake".into(),
            version: "0".into(),
            block_height: 800_000,
            synced_to_chain: true,
            synced_to_graph: true,
        }))
    }

    fn list_channels<'a, 'b>(&'a self) -> Answer<'b, Vec<NodeChannel>>
    where
        'a: 'b,
        Self: 'b,
    {
        ready(Ok(self.channels.lock().unwrap().clone()))
    }

    fn forwards<'a, 'b>(&'a self, from_index: u64, limit: u32) -> Answer<'b, ForwardPage>
    where
        'a: 'b,
        Self: 'b,
    {
        let forwards: Vec<Forward> = self
            .forwards
            .iter()
            .filter(|f| f.index > from_index)
            .take(limit as usize)
            .cloned()
            .collect();
        let next_index = forwards.last().map_or(from_index, |f| f.index);
        ready(Ok(ForwardPage {
            forwards,
            next_index,
        }))
    }

    fn failed_forwards<'a, 'b>(
        &'a self,
        from_index: u64,
        _limit: u32,
    ) -> Answer<'b, FailedForwardPage>
    where
        'a: 'b,
        Self: 'b,
    {
        ready(Ok(FailedForwardPage {
            failures: Vec::new(),
            next_index: from_index,
        }))
    }

    fn peer_info<'a, 'k, 'b>(&'a self, peer_pubkey: &'k str) -> Answer<'b, Option<PeerInfo>>
    where
        'a: 'b,
        'k: 'b,
        Self: 'b,
    {
        self.peer_calls.lock().unwrap().push(peer_pubkey.to_owned());
        ready(match peer_pubkey {
            KNOWN_PEER => Ok(Some(PeerInfo {
                public_channels: 5,
                public_capacity_sat: 50_000_000,
                fee_rates_ppm: vec![400, 100, 300, 200],
            })),
            _ => Err(NodeError::Unavailable {
                method: "peer_info",
                detail: "graph timeout".into(),
            }),
        })
    }

    fn fee_rate<'a, 'b>(&'a self, _conf_target: u32) -> Answer<'b, Option<f64>>
    where
        'a: 'b,
        Self: 'b,
    {
        ready(Ok(None))
    }

    fn funding_fees<'a, 't, 'b>(&'a self, txids: &'t [String]) -> Answer<'b, Vec<FundingFee>>
    where
        'a: 'b,
        't: 'b,
        Self: 'b,
    {
        self.funding_calls.lock().unwrap().push(txids.to_vec());
        if self.funding_times_out {
            return ready(Err(NodeError::Timeout {
                method: "lnrpc.Lightning/GetTransactions",
            }));
        }
        if self.refuse_funding {
            return ready(Err(NodeError::Rejected {
                method: "bkpr-listaccountevents",
                detail: "Unknown command (code -32601): is the bookkeeper plugin disabled?".into(),
            }));
        }
        let known = self.funding.lock().unwrap();
        ready(Ok(txids
            .iter()
            .filter_map(|txid| {
                known.get(txid).map(|&fee_sat| FundingFee {
                    txid: txid.clone(),
                    fee_sat,
                })
            })
            .collect()))
    }

    fn update_policy<'a, 'c, 'p, 'b>(
        &'a self,
        channel: &'c NodeChannel,
        policy: &'p FeePolicy,
    ) -> Answer<'b, FeePolicy>
    where
        'a: 'b,
        'c: 'b,
        'p: 'b,
        Self: 'b,
    {
        let mut channels = self.channels.lock().unwrap();
        channels
            .iter_mut()
            .find(|c| c.id == channel.id)
            .unwrap()
            .local_policy = *policy;
        ready(Ok(*policy))
    }
}

/// The fake node never waits, so polling once finishes every future.
fn block_on<T>(future: impl Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the fake node never waits"),
    }
}

fn channel(id: u64, peer: &str, fee_ppm: u32) -> NodeChannel {
    let policy = FeePolicy {
        base_fee_msat: 1000,
        fee_ppm,
        max_htlc_msat: 990_000_000,
        time_lock_delta: 80,
        ..FeePolicy::default()
    };
    NodeChannel {
        initiator: false,
        ..lnpolicy_core::fixtures::node_channel(id, peer, policy)
    }
}

/// A channel we opened, funded by [`txid`]`(id)`.
fn opened(id: u64) -> NodeChannel {
    NodeChannel {
        initiator: true,
        ..channel(id, KNOWN_PEER, 100)
    }
}

/// A channel we opened as output `output` of one batch transaction, [`txid`]`(9)`.
fn in_batch(id: u64, output: u32) -> NodeChannel {
    NodeChannel {
        channel_point: format!("{}:{output}", txid(9)),
        ..opened(id)
    }
}

/// The funding txid of the sample channel `id` (its channel point's txid).
fn txid(id: u64) -> String {
    format!("{id:064x}")
}

/// Dry-run cycles (unless `dry_run` is unset) of an empty config, the daemon's way:
/// strategies and the guard as configured, guests' history from the store.
struct Cycles {
    registry: StrategyRegistry,
    config: Config,
    guard: GuardConfig,
    dry_run: bool,
}

impl Cycles {
    fn new() -> Self {
        let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
        Cycles {
            registry: StrategyRegistry::new(
                runtime,
                Arc::new(NullEventSink),
                RegistryConfig::default(),
            ),
            config: Config::parse("empty.config", "").unwrap(),
            guard: GuardConfig::charge_lnd_compatible(NodeKind::Lnd),
            dry_run: true,
        }
    }

    fn run(&self, node: &FakeNode, store: &Store, now: u64) -> ConfiguredOutcome {
        block_on(run_configured(
            node,
            store,
            &self.registry,
            ConfiguredPlan::new(&self.config, &self.guard, self.dry_run),
            now,
        ))
        .unwrap()
    }
}

fn forward(index: u64, chan_out: u64, at: u64, fee_msat: u64) -> Forward {
    Forward {
        index,
        at_ns: at * 1_000_000_000,
        chan_in: 9,
        chan_out,
        amt_in_msat: 1_000_000 + fee_msat,
        amt_out_msat: 1_000_000,
        fee_msat,
    }
}

#[test]
fn guests_get_the_stored_fee_history_and_competitor_fees() {
    let start = 1_700_000_000;
    let node = FakeNode {
        channels: Mutex::new(vec![
            channel(1, KNOWN_PEER, 100),
            channel(2, FAILING_PEER, 300),
        ]),
        forwards: vec![
            forward(1, 1, start + 10, 5),
            forward(2, 1, start + 2 * HOUR + 10, 7),
            forward(3, 2, start + 10, 1000),
        ],
        ..FakeNode::default()
    };
    let dir = tempfile_dir("guests_history");
    let store = Store::open(&dir.join("lnpolicy.db")).unwrap();
    let cycles = Cycles::new();
    let cycle = |now: u64| cycles.run(&node, &store, now);

    cycle(start);
    node.set_fee(1, 200);
    cycle(start + HOUR);
    cycle(start + 2 * HOUR);
    let now = start + 3 * HOUR;
    let last = cycle(now);

    let calls = node.peer_calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().filter(|p| *p == KNOWN_PEER).count(),
        1,
        "fresh peer fees are not fetched again within a day: {calls:?}"
    );
    assert_eq!(
        calls.iter().filter(|p| *p == FAILING_PEER).count(),
        4,
        "a failed refresh is retried next cycle and never fails one: {calls:?}"
    );
    let expected = FeePercentiles {
        channels: 4,
        p25_ppm: 100,
        p50_ppm: 200,
        p75_ppm: 300,
        p90_ppm: 400,
    };
    assert_eq!(
        store.peer_fees(KNOWN_PEER).unwrap(),
        Some((start, Some(expected)))
    );
    assert_eq!(store.peer_fees(FAILING_PEER).unwrap(), None);

    let history = StoreHistory::load(&store, &last.channels, now).unwrap();
    let changes = history.fee_history(1, start);
    let summary: Vec<(u64, u32, u64, f64)> = changes
        .iter()
        .map(|c| (c.at, c.fee_ppm, c.revenue_msat, c.hours))
        .collect();
    assert_eq!(
        summary,
        [(start, 100, 5, 1.0), (start + HOUR, 200, 7, 2.0)],
        "one change per policy, each with the fees earned under it"
    );
    assert_eq!(
        history
            .fee_history(1, start + 2 * HOUR)
            .iter()
            .map(|c| c.at)
            .collect::<Vec<_>>(),
        [start + HOUR],
        "the level in force at `since` is included"
    );
    let steady = history.fee_history(2, start);
    assert_eq!(steady.len(), 1);
    assert_eq!(steady[0].revenue_msat, 1000);
    assert!(history.fee_history(77, start).is_empty());
    assert_eq!(history.competitor_fees(KNOWN_PEER), Some(expected));
    assert_eq!(history.competitor_fees(FAILING_PEER), None);
}

#[test]
fn open_costs_are_asked_for_the_missing_channels_and_an_unfound_one_daily() {
    let start = 1_700_000_000;
    let node = FakeNode {
        channels: Mutex::new(vec![
            opened(1),
            opened(2),
            opened(3),
            channel(4, KNOWN_PEER, 100),
        ]),
        funding: Mutex::new(BTreeMap::from([(txid(1), 1_500), (txid(3), 999)])),
        ..FakeNode::default()
    };
    let dir = tempfile_dir("open_costs");
    let store = Store::open(&dir.join("lnpolicy.db")).unwrap();
    store
        .record_open_cost_lookup(&[(3, 800)], &[3], start - HOUR)
        .unwrap();
    let cycles = Cycles::new();
    let funding_calls = || node.funding_calls.lock().unwrap().clone();

    let first = cycles.run(&node, &store, start);
    assert_eq!(
        funding_calls(),
        [vec![txid(1), txid(2)]],
        "only our channels without a cost on record are asked about"
    );
    assert_eq!(
        store.open_costs().unwrap(),
        BTreeMap::from([(1, 1_500), (3, 800)])
    );
    assert_eq!(
        first.extra_node_calls, 2,
        "funding_fees and the peer's fee levels; the collection's get_info is reused"
    );

    for hour in 1..24 {
        let later = cycles.run(&node, &store, start + hour * HOUR);
        assert_eq!(
            later.extra_node_calls, 0,
            "hour {hour}: the unfound cost is not asked again"
        );
    }
    assert_eq!(
        node.info_calls.load(std::sync::atomic::Ordering::Relaxed),
        24,
        "one GetInfo per cycle"
    );
    assert_eq!(funding_calls().len(), 1, "{:?}", funding_calls());

    node.funding.lock().unwrap().insert(txid(2), 2_100);
    cycles.run(&node, &store, start + 24 * HOUR);
    assert_eq!(
        funding_calls()[1..],
        [vec![txid(2)]],
        "a day later only the channel still missing its cost is asked again"
    );
    assert_eq!(
        store.open_costs().unwrap(),
        BTreeMap::from([(1, 1_500), (2, 2_100), (3, 800)])
    );
    cycles.run(&node, &store, start + 48 * HOUR);
    assert_eq!(
        funding_calls().len(),
        2,
        "every cost is known: no more lookups"
    );
}

/// One transaction that opened three of our channels (a batch open) and a peer's channel
/// funded by it too: each of ours is charged a third of the transaction's fee, not all of it,
/// and the parts add up to the fee.
#[test]
fn a_batch_open_splits_its_fee_among_the_channels_it_opened() {
    let start = 1_700_000_000;
    let theirs = NodeChannel {
        channel_point: format!("{}:3", txid(9)),
        ..channel(5, KNOWN_PEER, 100)
    };
    let node = FakeNode {
        channels: Mutex::new(vec![
            in_batch(1, 0),
            in_batch(2, 1),
            in_batch(3, 2),
            theirs,
            opened(4),
        ]),
        funding: Mutex::new(BTreeMap::from([(txid(9), 10_000), (txid(4), 1_500)])),
        ..FakeNode::default()
    };
    let dir = tempfile_dir("batch_open_costs");
    let store = Store::open(&dir.join("lnpolicy.db")).unwrap();
    Cycles::new().run(&node, &store, start);
    assert_eq!(
        node.funding_calls.lock().unwrap().clone(),
        [vec![txid(4), txid(9)]],
        "one lookup for the batch"
    );
    assert_eq!(
        store.open_costs().unwrap(),
        BTreeMap::from([(1, 3_334), (2, 3_333), (3, 3_333), (4, 1_500)])
    );
}

/// Channels of one batch can be listed at different blocks (each peer waits for its own
/// number of confirmations): the fee is split again when another shows up, so the parts
/// still add up to it.
#[test]
fn a_batch_channel_listed_later_takes_its_share_of_the_fee() {
    let start = 1_700_000_000;
    let node = FakeNode {
        channels: Mutex::new(vec![in_batch(1, 0)]),
        funding: Mutex::new(BTreeMap::from([(txid(9), 10_000)])),
        ..FakeNode::default()
    };
    let dir = tempfile_dir("batch_listed_later");
    let store = Store::open(&dir.join("lnpolicy.db")).unwrap();
    let cycles = Cycles::new();
    cycles.run(&node, &store, start);
    assert_eq!(store.open_costs().unwrap(), BTreeMap::from([(1, 10_000)]));
    node.channels.lock().unwrap().push(in_batch(2, 1));
    cycles.run(&node, &store, start + HOUR);
    assert_eq!(
        store.open_costs().unwrap(),
        BTreeMap::from([(1, 5_000), (2, 5_000)])
    );
}

/// `analytics.estimated_open_cost_sat` is what a channel we opened is charged when the node
/// has no figure for it: a young channel that earned 100 sat is profitable against an
/// estimate of 50 sat and too early to judge against the default 2000.
#[test]
fn the_operators_open_cost_estimate_prices_a_channel_the_node_has_no_cost_for() {
    let start = 1_700_000_000;
    // Opened 10 blocks before the node's height of 800,000.
    let young = (799_990u64 << 40) | (1 << 16);
    let node = FakeNode {
        channels: Mutex::new(vec![opened(young)]),
        forwards: vec![forward(1, young, start - HOUR, 100_000)],
        ..FakeNode::default()
    };
    let class = |default_section: &str, test: &str| {
        let dir = tempfile_dir(test);
        let store = Store::open(&dir.join("lnpolicy.db")).unwrap();
        let mut cycles = Cycles::new();
        cycles.config = Config::parse("estimate.config", default_section).unwrap();
        let outcome = cycles.run(&node, &store, start);
        assert!(
            store.open_costs().unwrap().is_empty(),
            "the node has no figure"
        );
        let (at, kept) = store.channel_analyses().unwrap()[&young];
        assert_eq!(at, start);
        assert_eq!(
            kept.profitability, outcome.views[0].profitability,
            "what the strategies were shown is kept for reports"
        );
        outcome.views[0].profitability
    };
    assert_eq!(
        class(
            "[DEFAULT]\nanalytics.estimated_open_cost_sat = 50\n",
            "open_cost_estimate_low"
        ),
        Profitability::Profitable
    );
    assert_eq!(
        class("", "open_cost_estimate_default"),
        Profitability::Unknown
    );
}

/// charge-lnd's activity conditions add up each forward's whole sats (LND's `amt_out`), so
/// two forwards of 1.5 sat are 2 sats out, as charge-lnd would count them.
#[test]
fn activity_counts_whole_sats_per_forward_as_charge_lnd_does() {
    let start = 1_700_000_000;
    let forward = |index: u64| Forward {
        index,
        at_ns: (start - HOUR + index) * 1_000_000_000,
        chan_in: 9,
        chan_out: 1,
        amt_in_msat: 1_700,
        amt_out_msat: 1_500,
        fee_msat: 200,
    };
    let node = FakeNode {
        channels: Mutex::new(vec![channel(1, KNOWN_PEER, 100)]),
        forwards: vec![forward(1), forward(2)],
        ..FakeNode::default()
    };
    let dir = tempfile_dir("activity_whole_sats");
    let store = Store::open(&dir.join("lnpolicy.db")).unwrap();
    let mut cycles = Cycles::new();
    cycles.config = Config::parse(
        "activity.config",
        "[busy]\nchan.activity_period = 1d\nchan.min_sats_out = 3\nstrategy = ignore\n",
    )
    .unwrap();
    let outcome = cycles.run(&node, &store, start);
    let counts = outcome.inputs[0].activity[&86_400];
    assert_eq!((counts.sats_out, counts.htlcs_out), (2, 2));
}

/// A node that refuses funding fees (a CLN without its bookkeeper), or cannot list its wallet
/// within the call timeout (a large LND wallet), is asked once a day, and the cycles go on.
#[test]
fn a_node_refusing_funding_fees_is_asked_once_a_day() {
    for (name, refuse_funding, funding_times_out) in [
        ("refused_open_costs", true, false),
        ("timed_out_open_costs", false, true),
    ] {
        let start = 1_700_000_000;
        let node = FakeNode {
            channels: Mutex::new(vec![opened(1), opened(2)]),
            refuse_funding,
            funding_times_out,
            ..FakeNode::default()
        };
        let dir = tempfile_dir(name);
        let store = Store::open(&dir.join("lnpolicy.db")).unwrap();
        let cycles = Cycles::new();

        for hour in 0..=24 {
            cycles.run(&node, &store, start + hour * HOUR);
        }
        let calls = node.funding_calls.lock().unwrap().clone();
        assert_eq!(
            calls,
            [vec![txid(1), txid(2)], vec![txid(1), txid(2)]],
            "{name}: asked at the start and a day later, not every cycle"
        );
        assert!(store.open_costs().unwrap().is_empty());
        assert_eq!(
            store.open_cost_lookups().unwrap(),
            BTreeMap::from([(1, start + 24 * HOUR), (2, start + 24 * HOUR)])
        );
    }
}

/// A cycle decides on the whole history: a node with more forwards than one collection
/// run between cycles reads (100 pages of 1,000) is read to the end first, so no window lacks
/// its recent forwards and no channel looks idle because its forwards are not read yet.
#[test]
fn a_cycle_reads_the_history_to_the_end_before_deciding() {
    let start = 1_700_000_000;
    let count = 100 * 1000 + 1;
    let forwards = (0..count)
        .map(|i| {
            let at_ns = (start - 10 * 86_400) * 1_000_000_000 + i * 7_000_000_000;
            Forward {
                index: at_ns,
                at_ns,
                ..forward(0, 1, 0, 3)
            }
        })
        .collect();
    let node = FakeNode {
        channels: Mutex::new(vec![channel(1, KNOWN_PEER, 100)]),
        forwards,
        ..FakeNode::default()
    };
    let dir = tempfile_dir("read_to_the_end");
    let store = Store::open(&dir.join("lnpolicy.db")).unwrap();
    let outcome = Cycles::new().run(&node, &store, start);
    assert!(outcome.collected.caught_up);
    assert_eq!(store.forward_count().unwrap(), count);
}

/// A cycle folds the decisions older than `store.keep_decisions_days` (90 unless set) that
/// changed nothing into daily counts, which reports count as before; a dry run leaves them.
#[test]
fn a_cycle_folds_decisions_older_than_the_detail_period() {
    const DAY: u64 = 86_400;
    let start = 1_700_000_000;
    let now = start + 120 * DAY;
    let node = FakeNode {
        channels: Mutex::new(vec![channel(1, KNOWN_PEER, 100)]),
        ..FakeNode::default()
    };
    let run = |config: &str, dry_run: bool, test: &str| {
        let dir = tempfile_dir(test);
        let store = Store::open(&dir.join("lnpolicy.db")).unwrap();
        for day in 0..120 {
            let at = start + day * DAY;
            let cycle = store.begin_cycle("static", "", at, 1).unwrap();
            let guarded = GuardedDecision {
                channel_id: 1,
                policy: None,
                clamps: Vec::new(),
            };
            store
                .record_decision(&DecisionRecord {
                    cycle_id: cycle,
                    at,
                    strategy: "static",
                    strategy_sha256: "",
                    raw: None,
                    guarded: &guarded,
                    reason: "left as is",
                })
                .unwrap();
        }
        let mut cycles = Cycles::new();
        cycles.config = Config::parse("keep.config", config).unwrap();
        cycles.dry_run = dry_run;
        cycles.run(&node, &store, now);
        let decided: u64 = store
            .activity_counts()
            .unwrap()
            .iter()
            .map(|c| c.decisions)
            .sum();
        assert_eq!(decided, 120, "reports count every decision");
        store.decisions_for_channel(1, 1_000).unwrap().len()
    };
    assert_eq!(
        run("", false, "keep_default"),
        1 + 90,
        "the first, and 90 days"
    );
    assert_eq!(
        run(
            "[DEFAULT]\nstore.keep_decisions_days = 30\n",
            false,
            "keep_30"
        ),
        1 + 30
    );
    assert_eq!(run("", true, "keep_dry_run"), 120);
}

/// A fresh directory per test under the target's temp dir, removed before use so reruns
/// start clean.
fn tempfile_dir(test: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("store_history")
        .join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
