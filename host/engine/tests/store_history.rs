//! Guests' history imports answered from lnpolicy's own store: a cycle refreshes stale peer
//! fee levels (surviving a node error on one peer), and the cycle's history source reports
//! the stored fee changes and competitor fees. The node is a small in-test fake because
//! this crate has no async runtime or simulator among its dependencies; the store is real.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use lnpolicy_core::{
    FailedForwardPage, FeePercentiles, FeePolicy, Forward, ForwardPage, FundingFee, NodeChannel,
    NodeClient, NodeError, NodeInfo, NodeKind, NullEventSink, PeerInfo,
};
use lnpolicy_engine::{ConfiguredPlan, StoreHistory, run_configured};
use lnpolicy_policy::config::Config;
use lnpolicy_policy::guard::GuardConfig;
use lnpolicy_runtime::{HistorySource, RegistryConfig, Runtime, RuntimeConfig, StrategyRegistry};
use lnpolicy_store::Store;

const HOUR: u64 = 3600;
const KNOWN_PEER: &str = "02aa";
const FAILING_PEER: &str = "02bb";

type Answer<'a, T> = Pin<Box<dyn Future<Output = Result<T, NodeError>> + Send + 'a>>;

/// A node whose answers are ready at once; it counts `peer_info` calls per peer.
struct FakeNode {
    channels: Mutex<Vec<NodeChannel>>,
    forwards: Vec<Forward>,
    peer_calls: Mutex<Vec<String>>,
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

    fn funding_fees<'a, 'b>(&'a self) -> Answer<'b, Vec<FundingFee>>
    where
        'a: 'b,
        Self: 'b,
    {
        ready(Ok(Vec::new()))
    }

    fn update_policy<'a, 'c, 'p, 'b>(
        &'a self,
        channel: &'c NodeChannel,
        policy: &'p FeePolicy,
    ) -> Answer<'b, ()>
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
        ready(Ok(()))
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
        peer_calls: Mutex::new(Vec::new()),
    };
    let dir = tempfile_dir();
    let store = Store::open(&dir.join("lnpolicy.db")).unwrap();
    let runtime = Arc::new(Runtime::new(RuntimeConfig::default()).unwrap());
    let registry =
        StrategyRegistry::new(runtime, Arc::new(NullEventSink), RegistryConfig::default());
    let config = Config::parse("empty.config", "").unwrap();
    let guard = GuardConfig::charge_lnd_compatible(NodeKind::Lnd);
    let cycle = |now: u64| {
        block_on(run_configured(
            &node,
            &store,
            &registry,
            ConfiguredPlan::new(&config, &guard, true),
            now,
        ))
        .unwrap()
    };

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

/// A fresh directory under the target's temp dir, removed before use so reruns start clean.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("store_history");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
