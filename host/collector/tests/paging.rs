//! Paging and resumption against a node whose log grows between runs and
//! whose calls fail at random: nothing lost, nothing duplicated. (The same
//! property over the real LND and CLN protocols is tested with the simulator.)

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use lnpolicy_collector::{CollectConfig, collect};
use lnpolicy_core::{
    FailedForward, FailedForwardPage, FailureReason, FeePolicy, Forward, ForwardPage, FundingFee,
    NodeChannel, NodeClient, NodeError, NodeInfo, NodeKind, PeerInfo,
};
use lnpolicy_store::Store;

/// A node log in memory that fails every call whose pseudo-random draw is
/// below `error_rate`.
struct FlakyLog {
    forwards: Mutex<Vec<Forward>>,
    failures: Mutex<Vec<FailedForward>>,
    error_rate: f64,
    draws: AtomicU64,
    pubkey: String,
}

impl FlakyLog {
    fn maybe_fail(&self, method: &'static str) -> Result<(), NodeError> {
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let draw = (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 11) as f64 / (1u64 << 53) as f64;
        if draw < self.error_rate {
            return Err(NodeError::Unavailable {
                method,
                detail: "injected".into(),
            });
        }
        Ok(())
    }

    fn grow(&self, count: u64) {
        let mut forwards = self.forwards.lock().unwrap();
        let mut failures = self.failures.lock().unwrap();
        for _ in 0..count {
            let index = forwards.len() as u64 + 1;
            forwards.push(Forward {
                index,
                at_ns: index * 1_000,
                chan_in: index % 7,
                chan_out: index % 5,
                amt_in_msat: 1_000_100,
                amt_out_msat: 1_000_000,
                fee_msat: 100,
            });
            if index.is_multiple_of(3) {
                let index = failures.len() as u64 + 1;
                failures.push(FailedForward {
                    index,
                    at_ns: index,
                    chan_in: 1,
                    chan_out: Some(2),
                    amt_in_msat: 5,
                    reason: FailureReason::InsufficientBalance,
                });
            }
        }
    }
}

fn page<T: Clone>(log: &[T], index: impl Fn(&T) -> u64, from: u64, limit: u32) -> (Vec<T>, u64) {
    let items: Vec<T> = log
        .iter()
        .filter(|e| index(e) > from)
        .take(limit as usize)
        .cloned()
        .collect();
    let next = items.last().map_or(from, &index);
    (items, next)
}

#[async_trait::async_trait]
impl NodeClient for FlakyLog {
    fn kind(&self) -> NodeKind {
        NodeKind::Cln
    }
    async fn get_info(&self) -> Result<NodeInfo, NodeError> {
        self.maybe_fail("get_info")?;
        Ok(NodeInfo {
            kind: NodeKind::Cln,
            pubkey: self.pubkey.clone(),
            alias: "flaky".into(),
            version: "v25.09".into(),
            block_height: 900_000,
            synced_to_chain: true,
            synced_to_graph: true,
        })
    }
    async fn list_channels(&self) -> Result<Vec<NodeChannel>, NodeError> {
        self.maybe_fail("list_channels")?;
        Ok(Vec::new())
    }
    async fn forwards(&self, from_index: u64, limit: u32) -> Result<ForwardPage, NodeError> {
        self.maybe_fail("forwards")?;
        let (forwards, next_index) = page(
            &self.forwards.lock().unwrap(),
            |f| f.index,
            from_index,
            limit,
        );
        Ok(ForwardPage {
            forwards,
            next_index,
        })
    }
    async fn failed_forwards(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<FailedForwardPage, NodeError> {
        self.maybe_fail("failed_forwards")?;
        let (failures, next_index) = page(
            &self.failures.lock().unwrap(),
            |f| f.index,
            from_index,
            limit,
        );
        Ok(FailedForwardPage {
            failures,
            next_index,
        })
    }
    async fn peer_info(&self, _peer: &str) -> Result<Option<PeerInfo>, NodeError> {
        unreachable!("the collector does not ask")
    }
    async fn fee_rate(&self, _conf_target: u32) -> Result<Option<f64>, NodeError> {
        unreachable!("the collector does not ask")
    }
    async fn funding_fees(&self, _txids: &[String]) -> Result<Vec<FundingFee>, NodeError> {
        unreachable!("the collector does not ask")
    }
    async fn update_policy(
        &self,
        _c: &NodeChannel,
        _p: &FeePolicy,
    ) -> Result<FeePolicy, NodeError> {
        unreachable!("the collector never writes")
    }
}

#[tokio::test]
async fn flaky_node_over_200_cycles_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let node = FlakyLog {
        forwards: Mutex::new(Vec::new()),
        failures: Mutex::new(Vec::new()),
        error_rate: 0.10,
        draws: AtomicU64::new(0),
        pubkey: format!("02{}", "aa".repeat(32)),
    };
    let config = CollectConfig {
        page_size: 37,
        max_pages: 3,
    };
    let mut errors = 0;
    for cycle in 0..200u64 {
        node.grow(50 + cycle % 40);
        if collect(&node, &store, cycle, &config).await.is_err() {
            errors += 1;
        }
    }
    assert!(errors > 0, "the injected errors must have hit some cycles");
    let node = FlakyLog {
        error_rate: 0.0,
        ..node
    };
    let mut report = collect(&node, &store, 200, &config).await.unwrap();
    while !report.caught_up {
        report = collect(&node, &store, 200, &config).await.unwrap();
    }
    let expected = node.forwards.lock().unwrap().clone();
    assert_eq!(
        store.forwards_between(0, u64::MAX).unwrap(),
        expected,
        "every forward exactly once"
    );
    let failures = node.failures.lock().unwrap().clone();
    assert_eq!(
        store.failed_forwards_between(0, u64::MAX).unwrap(),
        failures
    );
    store.integrity_check().unwrap();
}

/// A database that holds one node's history refuses another node's collection, before
/// reading anything, and says which two nodes they are.
#[tokio::test]
async fn a_database_of_another_node_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("lnpolicy.db")).unwrap();
    let node = |pubkey: String| FlakyLog {
        forwards: Mutex::new(Vec::new()),
        failures: Mutex::new(Vec::new()),
        error_rate: 0.0,
        draws: AtomicU64::new(0),
        pubkey,
    };
    let first = node(format!("02{}", "aa".repeat(32)));
    first.grow(10);
    collect(&first, &store, 1, &CollectConfig::default())
        .await
        .unwrap();
    let rebuilt = node(format!("03{}", "bb".repeat(32)));
    rebuilt.grow(3);
    let error = collect(&rebuilt, &store, 2, &CollectConfig::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("the CLN node 02{}", "aa".repeat(32)))
            && error.contains(&format!("the node is the CLN node 03{}", "bb".repeat(32)))
            && error.contains("lnpolicy.db"),
        "{error}"
    );
    assert_eq!(
        store.forward_count().unwrap(),
        10,
        "nothing of the other node stored"
    );
    let again = node(format!("02{}", "AA".repeat(32)));
    again.grow(12);
    let report = collect(&again, &store, 3, &CollectConfig::default())
        .await
        .unwrap();
    assert_eq!(
        report.forwards_added, 2,
        "the same node, its key in capitals"
    );
}
