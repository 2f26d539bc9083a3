//! A hand-built node for the LND server/client tests: three channels (two
//! public, one private, one peer policy unknown), a small graph around the
//! peers, and a log of forwards. Then a server over it in a temp lnddir.

#![allow(dead_code)] // Each test file uses its own share of the helpers.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use lnpolicy_core::{
    FailedForward, FailureReason, FeePolicy, Forward, NodeChannel, NodeClient, NodeError, NodeInfo,
    NodeKind, PendingHtlc,
};
use lnpolicy_node::lnd::{LndClient, LndConfig, connect_channel};
use lnpolicy_node::lnrpc::lightning_client::LightningClient;
use lnpolicy_node::walletrpc::wallet_kit_client::WalletKitClient;
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig, LndServerHandle};
use lnpolicy_sim::scenario::ChainSpec;
use lnpolicy_sim::state::{GraphChannel, NodeState};
use tempfile::TempDir;
use tonic::transport::Channel;

pub const NOW_SECS: u64 = 1_760_000_000;
pub const NANOS: u64 = 1_000_000_000;

/// Our node sorts after every peer below, so it is node2 on their edges.
pub fn our_key() -> String {
    format!("03{}", "ee".repeat(32))
}

pub fn peer_key(n: u8) -> String {
    format!("02{}", format!("{n:02x}").repeat(32))
}

pub fn policy(fee_ppm: u32) -> FeePolicy {
    FeePolicy {
        base_fee_msat: 1000,
        fee_ppm,
        inbound_base_fee_msat: 0,
        inbound_fee_ppm: 0,
        min_htlc_msat: 1000,
        max_htlc_msat: 990_000_000,
        time_lock_delta: 80,
        disabled: false,
    }
}

pub fn chan_id(n: u64) -> u64 {
    ((800_000 + n) << 40) | (n << 16) | 1
}

pub fn channel(n: u8, private: bool) -> NodeChannel {
    NodeChannel {
        id: chan_id(u64::from(n)),
        channel_point: format!("{}:{}", format!("{n:02x}").repeat(32), n % 2),
        peer_pubkey: peer_key(n),
        capacity_sat: 2_000_000,
        local_balance_sat: 1_200_000,
        remote_balance_sat: 790_000,
        commit_fee_sat: 2_500,
        unsettled_balance_sat: 7_500,
        local_reserve_sat: 20_000,
        remote_reserve_sat: 20_000,
        // One each way, whole satoshis as LND reports them.
        pending_htlcs: vec![
            PendingHtlc {
                incoming: true,
                amount_msat: 5_000_000,
                expiry_height: 900_040,
            },
            PendingHtlc {
                incoming: false,
                amount_msat: 2_500_000,
                expiry_height: 900_100 + u32::from(n),
            },
        ],
        max_accepted_htlcs: 483,
        max_in_flight_msat: 1_980_000_000,
        min_htlc_msat: 1,
        active: true,
        private,
        initiator: n % 2 == 1,
        total_sent_sat: 5_000_000,
        total_received_sat: 4_000_000,
        local_policy: FeePolicy {
            inbound_fee_ppm: -25,
            ..policy(100 * u32::from(n))
        },
        peer_policy: (n != 3).then(|| policy(40 + u32::from(n))),
    }
}

/// Peer n's other channels: with some third node, which charges 10·n, 20·n
/// and 30·n ppm toward the peer, the last one disabled; the peer charges 999
/// ppm onward on each.
fn graph() -> Vec<GraphChannel> {
    let mut graph = Vec::new();
    for n in 1..=2u8 {
        for k in 1..=3u64 {
            let id = chan_id(100 * u64::from(n) + k);
            graph.push(GraphChannel {
                id,
                channel_point: format!("{:064x}:0", id),
                node1_pubkey: peer_key(n),
                node2_pubkey: peer_key(50 + n),
                capacity_sat: 5_000_000,
                node1_policy: policy(999),
                node2_policy: FeePolicy {
                    disabled: k == 3,
                    ..policy(10 * u32::from(n) * k as u32)
                },
                last_update: NOW_SECS - 3600,
            });
        }
    }
    graph
}

/// `count` settled forwards, one a minute up to now.
pub fn forwards(count: u64) -> Vec<Forward> {
    (1..=count)
        .map(|i| Forward {
            index: i,
            at_ns: (NOW_SECS - (count - i) * 60) * NANOS,
            chan_in: chan_id(1 + i % 2),
            chan_out: chan_id(2 - i % 2),
            amt_in_msat: 1_000_000 + i,
            amt_out_msat: 1_000_000,
            fee_msat: i,
        })
        .collect()
}

/// The forwards as the LND client reports them: keyed by their time, LND's log key.
pub fn keyed_by_time(forwards: &[Forward]) -> Vec<Forward> {
    forwards
        .iter()
        .map(|f| Forward {
            index: f.at_ns,
            ..f.clone()
        })
        .collect()
}

pub fn failure(index: u64, reason: FailureReason) -> FailedForward {
    FailedForward {
        index,
        at_ns: NOW_SECS * NANOS + index,
        chan_in: chan_id(1),
        chan_out: Some(chan_id(2)),
        amt_in_msat: 50_000 * index,
        reason,
    }
}

pub fn fixture() -> NodeState {
    NodeState {
        info: NodeInfo {
            kind: NodeKind::Lnd,
            pubkey: our_key(),
            alias: "sim-lnd".into(),
            version: "0.21.2-beta commit=v0.21.2-beta".into(),
            block_height: 900_000,
            synced_to_chain: true,
            synced_to_graph: true,
        },
        channels: vec![channel(1, false), channel(2, false), channel(3, true)],
        forwards: forwards(10),
        failures: Vec::new(),
        graph: graph(),
        accept_positive_inbound: false,
        now_ns: NOW_SECS * NANOS,
        calls: Vec::new(),
        policy_updated_at: Vec::new(),
        fee_estimates: ChainSpec::default().fee_rates,
        // We opened channels 1 and 3 (the odd ones).
        funding_fees: [(chan_id(1), 2_400), (chan_id(3), 1_950)].into(),
        held_forwards: Default::default(),
        enforce_delays: Default::default(),
        rebalances: Vec::new(),
    }
}

/// A server over `state` in its own lnddir.
pub struct Sim {
    pub dir: TempDir,
    pub server: LndServerHandle,
    pub state: Arc<Mutex<NodeState>>,
}

impl Sim {
    pub async fn start(state: NodeState) -> Sim {
        Sim::start_with(state, |_| {}).await
    }

    pub async fn start_with(state: NodeState, configure: impl FnOnce(&mut LndServerConfig)) -> Sim {
        let dir = tempfile::tempdir().unwrap();
        let mut config = LndServerConfig::new(dir.path().join("lnd"));
        configure(&mut config);
        let state = Arc::new(Mutex::new(state));
        let server = LndServer::start(state.clone(), config).await.unwrap();
        Sim { dir, server, state }
    }

    pub fn state(&self) -> MutexGuard<'_, NodeState> {
        self.state.lock().unwrap()
    }

    pub fn admin_config(&self) -> LndConfig {
        let mut config = self.server.client_config(self.server.admin_macaroon_path());
        config.call_timeout = Duration::from_secs(5);
        config.connect_timeout = Duration::from_secs(5);
        config
    }

    pub async fn admin_client(&self) -> LndClient {
        LndClient::connect(&self.admin_config()).await.unwrap()
    }
}

/// Retries transient errors, as the daemon's collector does.
pub async fn retry<T, F, Fut>(mut call: F) -> (T, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, NodeError>>,
{
    let mut transient = 0;
    loop {
        match call().await {
            Ok(value) => return (value, transient),
            Err(err) if err.is_transient() => {
                transient += 1;
                assert!(transient < 200, "too many transient errors; last: {err}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Err(err) => panic!("permanent error: {err}"),
        }
    }
}

/// Waits until the client has buffered `count` failures.
pub async fn wait_for_failures(client: &LndClient, count: usize) -> Vec<FailedForward> {
    for _ in 0..400 {
        let page = client.failed_forwards(0, 10_000).await.unwrap();
        if page.failures.len() >= count {
            return page.failures;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("failures did not arrive");
}

/// The generated client on the pinned channel, for requests `LndClient`
/// never makes (an omitted fee, raw paging parameters).
pub async fn raw_client(sim: &Sim) -> LightningClient<Channel> {
    LightningClient::new(connect_channel(&sim.admin_config()).await.unwrap())
}

/// The generated WalletKit client on the pinned channel.
pub async fn raw_wallet_client(sim: &Sim) -> WalletKitClient<Channel> {
    WalletKitClient::new(connect_channel(&sim.admin_config()).await.unwrap())
}

/// `message` with the admin macaroon, as LND expects it.
pub fn admin_request<T>(sim: &Sim, message: T) -> tonic::Request<T> {
    let raw = std::fs::read(sim.server.admin_macaroon_path()).unwrap();
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("macaroon", hex::encode(raw).parse().unwrap());
    request
}
