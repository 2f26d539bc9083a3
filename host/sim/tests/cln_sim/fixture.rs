//! A hand-built `NodeState` (no market engine needed), a forwarding log, a
//! raw JSON-RPC connection for protocol-level checks, and a recording proxy
//! that captures what the real client sends.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lnpolicy_core::{
    ChannelId, FailedForward, FailureReason, FeePolicy, Forward, NodeChannel, NodeInfo, NodeKind,
    PendingHtlc,
};
use lnpolicy_sim::cln_server::{ClnServer, ClnServerConfig, ClnServerHandle};
use lnpolicy_sim::scenario::ChainSpec;
use lnpolicy_sim::state::{GraphChannel, NodeState, Rebalance};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::JoinHandle;

pub const OUR_ID: &str = "0266e4598d1d3c415f572a8488830b60f7e744ed9235eb0b1ba93283b315c03518";

/// A syntactically valid node id (the curve point is not checked anywhere here).
pub fn node_id(n: u64) -> String {
    let prefix = if n.is_multiple_of(2) { "02" } else { "03" };
    format!(
        "{prefix}{:032x}{:032x}",
        n,
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
    )
}

pub fn scid(block: u64, tx: u64, out: u64) -> ChannelId {
    block << 40 | tx << 16 | out
}

fn policy(base: u32, ppm: u32, max_htlc_msat: u64) -> FeePolicy {
    FeePolicy {
        base_fee_msat: base,
        fee_ppm: ppm,
        inbound_base_fee_msat: 0,
        inbound_fee_ppm: 0,
        min_htlc_msat: 1000,
        max_htlc_msat,
        time_lock_delta: 34,
        disabled: false,
    }
}

/// One of our channels, consistent the way CLN reports channels (the balances, the
/// commitment fee and the HTLCs in flight make up the capacity, our htlc minimum is the
/// peer's, disabled iff the peer is away), so it survives the trip through CLN's JSON
/// unchanged.
fn channel(n: u64, capacity_sat: u64, local_sat: u64) -> NodeChannel {
    let local_policy = policy(1000, 100 * n as u32, capacity_sat * 990);
    NodeChannel {
        id: scid(800_000 + n, n, n % 3),
        channel_point: format!("{:064x}:{}", n * 0x1111_1111, n % 3),
        peer_pubkey: node_id(n),
        capacity_sat,
        local_balance_sat: local_sat,
        remote_balance_sat: capacity_sat - local_sat - 2_810,
        commit_fee_sat: 2_810,
        unsettled_balance_sat: 0,
        local_reserve_sat: capacity_sat / 100,
        remote_reserve_sat: capacity_sat / 100,
        pending_htlcs: Vec::new(),
        max_accepted_htlcs: 483,
        max_in_flight_msat: capacity_sat * 1000,
        min_htlc_msat: local_policy.min_htlc_msat,
        active: true,
        private: false,
        initiator: n.is_multiple_of(2),
        total_sent_sat: 10_000 * n,
        total_received_sat: 20_000 * n,
        local_policy,
        peer_policy: Some(policy(500, 50 * n as u32, capacity_sat * 990)),
    }
}

/// Five channels covering what the CLN client must map: HTLCs in flight both
/// ways, a private channel (peer policy only from `updates.remote`), a peer
/// that is away (both directions disabled), and a peer whose update we lack.
/// We opened channels 2 and 4; their funding fees are known to the wallet.
pub fn node_state() -> NodeState {
    let mut busy = channel(1, 2_000_000, 1_000_000);
    busy.pending_htlcs = vec![
        PendingHtlc {
            incoming: false,
            amount_msat: 20_000_500,
            expiry_height: 930_040,
        },
        PendingHtlc {
            incoming: true,
            amount_msat: 10_000_900,
            expiry_height: 930_144,
        },
    ];
    busy.unsettled_balance_sat = 30_001;
    // 30,001.4 sat in flight, out of the peer's side in whole sats as CLN's msat allow.
    busy.remote_balance_sat = (busy.remote_balance_sat * 1000 - 30_001_400) / 1000;
    let incoming = channel(2, 5_000_000, 150_000);
    let mut private = channel(3, 1_000_000, 960_000);
    private.private = true;
    let mut away = channel(4, 3_000_000, 1_200_000);
    away.active = false;
    away.local_policy.disabled = true;
    if let Some(p) = &mut away.peer_policy {
        p.disabled = true;
    }
    let mut silent = channel(5, 100_000, 40_000);
    silent.peer_policy = None;
    let channels = vec![busy, incoming, private, away, silent];

    // Each peer has two other channels, whose other ends charge toward it: one
    // enabled, one disabled. Plus one channel between strangers.
    let mut graph = Vec::new();
    for c in &channels {
        let n = (c.id >> 40) - 800_000;
        for (k, disabled) in [(1u64, false), (2, true)] {
            let mut toward_peer = policy(0, 10 * n as u32 + k as u32, 990_000_000);
            toward_peer.disabled = disabled;
            graph.push(GraphChannel {
                id: scid(700_000 + n, k, 0),
                channel_point: format!("{:064x}:0", n * 100 + k),
                node1_pubkey: c.peer_pubkey.clone(),
                node2_pubkey: node_id(1000 + n * 10 + k),
                capacity_sat: 1_000_000,
                node1_policy: policy(1, 1, 990_000_000),
                node2_policy: toward_peer,
                last_update: 1_770_000_000,
            });
        }
    }
    graph.push(GraphChannel {
        id: scid(600_000, 1, 1),
        channel_point: format!("{:064x}:1", 42),
        node1_pubkey: node_id(5000),
        node2_pubkey: node_id(5001),
        capacity_sat: 500_000,
        node1_policy: policy(1000, 1, 495_000_000),
        node2_policy: policy(1000, 2, 495_000_000),
        last_update: 1_770_000_100,
    });

    NodeState {
        info: NodeInfo {
            kind: NodeKind::Cln,
            pubkey: OUR_ID.into(),
            alias: "lnpolicy-sim".into(),
            version: "v26.06".into(),
            block_height: 930_000,
            synced_to_chain: true,
            synced_to_graph: true,
        },
        channels,
        forwards: Vec::new(),
        failures: Vec::new(),
        graph,
        accept_positive_inbound: false,
        now_ns: 1_770_000_000_000_000_000,
        calls: Vec::new(),
        policy_updated_at: Vec::new(),
        fee_estimates: ChainSpec::default().fee_rates,
        funding_fees: [(scid(800_002, 2, 2), 2_310), (scid(800_004, 4, 1), 1_870)].into(),
        held_forwards: Default::default(),
        enforce_delays: Default::default(),
        rebalances: Vec::new(),
    }
}

const REASONS: [FailureReason; 5] = [
    FailureReason::InsufficientBalance,
    FailureReason::FeeInsufficient,
    FailureReason::IncorrectCltv,
    FailureReason::ChannelUnavailable,
    FailureReason::Other,
];

/// Appends `events` forwarding events, one per second from `now_ns`: every
/// fifth a failure (cycling through all reasons), the rest settled.
/// A rebalance settled a minute ago, out of the first channel and back into the second:
/// `amount_msat` arrived, and the route charged `fee_msat`.
pub fn add_settled_rebalance(state: &mut NodeState, amount_msat: u64, fee_msat: u64) {
    let settled_at = state.now_secs() - 60;
    let position = state.rebalances.len() as u64;
    state.rebalances.push(Rebalance {
        started_secs: settled_at,
        at_secs: settled_at,
        payment_hash: format!("{:064x}", 0xab00 + position),
        out_channel: state.channels[0].id,
        in_channel: state.channels[1].id,
        amount_msat,
        fee_msat,
        failed: false,
    });
}

pub fn add_log(state: &mut NodeState, events: usize) {
    let ids = state.channel_ids();
    for i in 0..events {
        let at_ns = state.now_ns + i as u64 * 1_000_000_000 + 123_000_000;
        let chan_in = ids[i % ids.len()];
        let chan_out = ids[(i + 1) % ids.len()];
        let amt_out = 10_000 + 997 * i as u64;
        if i % 5 == 4 {
            let reason = REASONS[(i / 5) % REASONS.len()];
            state.failures.push(FailedForward {
                index: state.failures.len() as u64 + 1,
                at_ns,
                chan_in,
                chan_out: (i % 10 != 9).then_some(chan_out),
                amt_in_msat: amt_out + 11,
                reason,
            });
        } else {
            state.forwards.push(Forward {
                index: state.forwards.len() as u64 + 1,
                at_ns,
                chan_in,
                chan_out,
                amt_in_msat: amt_out + 1 + amt_out / 10_000,
                amt_out_msat: amt_out,
                fee_msat: 1 + amt_out / 10_000,
            });
        }
    }
    state.now_ns += events as u64 * 1_000_000_000;
}

/// A server over `state` on a fresh socket.
pub async fn serve(
    state: NodeState,
    config: ClnServerConfig,
) -> (tempfile::TempDir, Arc<Mutex<NodeState>>, ClnServerHandle) {
    let dir = tempfile::tempdir().unwrap();
    let state = Arc::new(Mutex::new(state));
    let server = ClnServer::start(Arc::clone(&state), dir.path().join("lightning-rpc"), config)
        .await
        .unwrap();
    (dir, state, server)
}

/// A JSON-RPC connection that writes bytes as given and reads answers by
/// CLN's framing, checking every answer ends with "\n\n".
pub struct RawConn {
    stream: UnixStream,
    buf: Vec<u8>,
    next_id: u64,
}

impl RawConn {
    pub async fn connect(path: &Path) -> RawConn {
        RawConn {
            stream: UnixStream::connect(path).await.unwrap(),
            buf: Vec::new(),
            next_id: 1,
        }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next framed answer, or `None` if the server closed the connection.
    pub async fn read(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let frame: Vec<u8> = self.buf.drain(..end + 2).collect();
                return Some(
                    serde_json::from_slice(&frame[..end]).expect("an answer is one JSON object"),
                );
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).await.unwrap();
            if n == 0 {
                assert!(
                    self.buf.is_empty(),
                    "answer cut short: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                return None;
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// The whole answer envelope to one request.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let request =
            serde_json::json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send_raw(request.to_string().as_bytes()).await;
        let answer = self.read().await.expect("an answer");
        assert_eq!(answer["jsonrpc"], "2.0");
        assert_eq!(answer["id"], id);
        answer
    }

    /// The `result` of a call that must succeed.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let answer = self.request(method, params.clone()).await;
        assert!(answer.get("error").is_none(), "{method} {params}: {answer}");
        answer["result"].clone()
    }

    /// The `error` of a call that must fail.
    pub async fn fail(&mut self, method: &str, params: Value) -> (i64, String) {
        let answer = self.request(method, params.clone()).await;
        assert!(
            answer.get("result").is_none(),
            "{method} {params} should fail: {answer}"
        );
        (
            answer["error"]["code"].as_i64().unwrap(),
            answer["error"]["message"].as_str().unwrap().to_owned(),
        )
    }
}

/// Every request that passed through a [`RecordingProxy`], as sent.
pub type Recorded = Arc<Mutex<Vec<Value>>>;

/// A unix-socket proxy in front of a server that keeps a copy of every
/// request the client sends, to check requests against CLN's schemas.
pub struct RecordingProxy {
    pub path: PathBuf,
    pub requests: Recorded,
    task: JoinHandle<()>,
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RecordingProxy {
    pub fn start(upstream: PathBuf, path: PathBuf) -> RecordingProxy {
        let listener = UnixListener::bind(&path).unwrap();
        let requests = Recorded::default();
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            let mut pipes = tokio::task::JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let recorded = Arc::clone(&recorded);
                pipes.spawn(async move {
                    let server = UnixStream::connect(&upstream).await.unwrap();
                    let (mut client_rx, mut client_tx) = client.into_split();
                    let (mut server_rx, mut server_tx) = server.into_split();
                    let answers = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut server_rx, &mut client_tx).await;
                    });
                    let mut pending = Vec::new();
                    let mut chunk = [0u8; 8192];
                    while let Ok(n) = client_rx.read(&mut chunk).await {
                        if n == 0 || server_tx.write_all(&chunk[..n]).await.is_err() {
                            break;
                        }
                        pending.extend_from_slice(&chunk[..n]);
                        let mut values =
                            serde_json::Deserializer::from_slice(&pending).into_iter::<Value>();
                        let mut used = 0;
                        while let Some(Ok(v)) = values.next() {
                            used = values.byte_offset();
                            recorded.lock().unwrap().push(v);
                        }
                        pending.drain(..used);
                    }
                    answers.abort();
                });
            }
        });
        RecordingProxy {
            path,
            requests,
            task,
        }
    }
}
