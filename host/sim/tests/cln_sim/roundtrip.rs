//! The real CLN client against the simulated CLN server, over unix sockets:
//! what the node holds is what the client reports, paging loses and repeats
//! nothing, setchannel changes exactly what it should, the client only uses
//! its whitelisted methods with schema-valid requests, and faults are
//! survivable with a plain retry loop.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lnpolicy_core::{ChannelId, FeePolicy, FundingFee, NodeClient, NodeError, NodeKind, PeerInfo};
use lnpolicy_node::cln::{ClnClient, ClnConfig};
use lnpolicy_sim::cln_server::{ClnServerConfig, FaultConfig, MethodFaults};
use lnpolicy_sim::state::NodeState;
use serde_json::Value;

use super::fixture::{RecordingProxy, add_log, add_settled_rebalance, node_state, scid, serve};
use super::schema::assert_request;

/// A client talking to `state` through a recording proxy.
struct Rig {
    _dir: tempfile::TempDir,
    state: Arc<Mutex<NodeState>>,
    server: lnpolicy_sim::cln_server::ClnServerHandle,
    proxy: RecordingProxy,
    client: ClnClient,
}

async fn rig(
    state: NodeState,
    server_config: ClnServerConfig,
    tune: impl FnOnce(&mut ClnConfig),
) -> Rig {
    let (dir, state, server) = serve(state, server_config).await;
    let proxy = RecordingProxy::start(
        server.socket_path().to_path_buf(),
        dir.path().join("proxy-rpc"),
    );
    let mut config = ClnConfig::new(&proxy.path);
    tune(&mut config);
    let client = ClnClient::connect(config).await.unwrap();
    Rig {
        _dir: dir,
        state,
        server,
        proxy,
        client,
    }
}

impl Rig {
    /// Every request the client sent is a whitelisted method with params
    /// that CLN's request schema accepts; the server saw only those methods.
    fn assert_requests_conform(&self) {
        let requests = self.proxy.requests.lock().unwrap().clone();
        assert!(!requests.is_empty());
        for request in &requests {
            assert_eq!(request["jsonrpc"], "2.0");
            assert!(request["id"].is_number() || request["id"].is_string());
            let method = request["method"].as_str().unwrap();
            assert!(ClnClient::METHODS.contains(&method), "{method}");
            assert_request(method, &request["params"]);
        }
        for call in &self.state.lock().unwrap().calls {
            assert!(ClnClient::METHODS.contains(&call.as_str()), "{call}");
        }
    }

    fn sent(&self, method: &str) -> Vec<Value> {
        let requests = self.proxy.requests.lock().unwrap();
        requests
            .iter()
            .filter(|r| r["method"] == method)
            .map(|r| r["params"].clone())
            .collect()
    }
}

#[tokio::test]
async fn channels_info_and_peer_fees_round_trip() {
    let expected = node_state();
    let r = rig(expected.clone(), ClnServerConfig::default(), |_| {}).await;
    assert_eq!(r.client.kind(), NodeKind::Cln);

    let info = r.client.get_info().await.unwrap();
    assert_eq!(info, expected.info);

    let channels = r.client.list_channels().await.unwrap();
    assert_eq!(channels, expected.channels);

    // HTLCs in flight, one each way, exactly as the node holds them.
    assert_eq!(channels[0].pending_htlcs.len(), 2);
    assert_eq!(
        channels[0].pending_htlcs,
        expected.channels[0].pending_htlcs
    );

    // Peer 1's other channels: the one enabled toward it charges 11 ppm, the
    // other is disabled, 1M sat each (the peer's own 1 ppm onward counts for
    // nothing); with its 2M sat channel with us, three public channels.
    let peer = &expected.channels[0].peer_pubkey;
    assert_eq!(
        r.client.peer_info(peer).await.unwrap(),
        Some(PeerInfo {
            public_channels: 3,
            public_capacity_sat: 4_000_000,
            fee_rates_ppm: vec![11],
        })
    );
    // Peer 3's channel with us is private: only its two others are public.
    let private_peer = &expected.channels[2].peer_pubkey;
    let info = r.client.peer_info(private_peer).await.unwrap().unwrap();
    assert_eq!(
        (info.public_channels, info.public_capacity_sat),
        (2, 2_000_000)
    );
    assert_eq!(
        r.client
            .peer_info(&super::fixture::node_id(99))
            .await
            .unwrap(),
        None
    );

    r.assert_requests_conform();
    // Our id is asked for once and cached.
    assert_eq!(
        r.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| *c == "getinfo")
            .count(),
        1
    );
}

/// The funding txids of `state`'s channels, ours (`initiator`) or the peers'.
fn funding_txids(state: &NodeState, ours: bool) -> Vec<String> {
    state
        .channels
        .iter()
        .filter(|c| c.initiator == ours)
        .map(|c| NodeState::funding_txid(c).to_owned())
        .collect()
}

#[tokio::test]
async fn fee_rates_and_funding_fees_round_trip() {
    let expected = node_state();
    let r = rig(expected.clone(), ClnServerConfig::default(), |_| {}).await;
    // The default curve: 2 blocks 20, 6 blocks 12, 144 blocks 4 sat/vB; a
    // target between two estimates gets the faster one, below all the fastest.
    for (target, rate) in [
        (0, 20.0),
        (1, 20.0),
        (2, 20.0),
        (5, 20.0),
        (6, 12.0),
        (143, 12.0),
        (144, 4.0),
        (1008, 4.0),
    ] {
        assert_eq!(
            r.client.fee_rate(target).await.unwrap(),
            Some(rate),
            "{target}"
        );
    }

    // We opened channels 2 and 4; asked for theirs, one the peer opened and
    // something that is no txid: one bookkeeping query per txid asked, none
    // for the non-txid, and each fee is what the node paid.
    let mut asked = funding_txids(&expected, true);
    asked[0] = asked[0].to_uppercase();
    asked.push(funding_txids(&expected, false)[0].clone());
    asked.push("not-a-txid".into());
    let fees = r.client.funding_fees(&asked).await.unwrap();
    let ours: Vec<FundingFee> = expected
        .channels
        .iter()
        .filter(|c| c.initiator)
        .map(|c| FundingFee {
            txid: c.channel_point.split(':').next().unwrap().to_owned(),
            fee_sat: expected.funding_fees[&c.id],
        })
        .collect();
    assert_eq!(ours.len(), 2);
    for fee in &ours {
        assert!(fees.contains(fee), "{fee:?} not in {fees:?}");
    }
    assert_eq!(fees.len(), ours.len());
    let queried: Vec<String> = r
        .sent("bkpr-listaccountevents")
        .iter()
        .map(|p| p["payment_id"].as_str().unwrap().to_owned())
        .collect();
    let mut wanted: Vec<String> = asked[..3].iter().map(|t| t.to_lowercase()).collect();
    wanted.sort();
    assert_eq!(queried, wanted);
    assert!(
        r.sent("listpeerchannels").is_empty(),
        "the txids asked are all it needs"
    );

    // A node without estimates.
    r.state.lock().unwrap().fee_estimates.clear();
    assert_eq!(r.client.fee_rate(6).await.unwrap(), None);
    r.assert_requests_conform();
}

#[tokio::test]
async fn an_older_cln_gets_one_unfiltered_bookkeeping_query() {
    let expected = node_state();
    let config = ClnServerConfig {
        bkpr_payment_id: false,
        ..ClnServerConfig::default()
    };
    let r = rig(expected.clone(), config, |_| {}).await;
    let ours = funding_txids(&expected, true);
    let mut fees = r.client.funding_fees(&ours).await.unwrap();
    fees.sort_by_key(|f| f.fee_sat);
    assert_eq!(
        fees.iter().map(|f| f.fee_sat).collect::<Vec<_>>(),
        [1_870, 2_310]
    );
    // The whole log is kept to the txids asked for.
    let channel_4 = expected
        .channels
        .iter()
        .find(|c| c.id == scid(800_004, 4, 1));
    let fees = r
        .client
        .funding_fees(&[NodeState::funding_txid(channel_4.unwrap()).to_owned()])
        .await
        .unwrap();
    assert_eq!(fees.iter().map(|f| f.fee_sat).collect::<Vec<_>>(), [1_870]);
    // Each time the txid query was refused as an unknown parameter; then one
    // without.
    let sent = r.sent("bkpr-listaccountevents");
    assert_eq!(sent.len(), 4);
    assert!(sent[0]["payment_id"].is_string() && sent[2]["payment_id"].is_string());
    assert_eq!(sent[1], serde_json::json!({}));
    assert_eq!(sent[3], serde_json::json!({}));
    r.assert_requests_conform();
}

#[tokio::test]
async fn without_the_bookkeeper_funding_fees_say_so() {
    let config = ClnServerConfig {
        bookkeeper: false,
        ..ClnServerConfig::default()
    };
    let r = rig(node_state(), config, |_| {}).await;
    match r
        .client
        .funding_fees(&funding_txids(&node_state(), true))
        .await
    {
        Err(NodeError::Rejected { method, detail }) => {
            assert_eq!(method, "bkpr-listaccountevents");
            assert!(detail.contains("bookkeeper plugin"), "{detail}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    // Everything else still works.
    assert_eq!(r.client.fee_rate(6).await.unwrap(), Some(12.0));
    assert_eq!(r.client.list_channels().await.unwrap().len(), 5);
}

/// Rebalances read through `listchannelmoves` with requests CLN's schema accepts; a CLN
/// older than v25.09 is asked once, and gives none.
#[tokio::test]
async fn payment_parts_round_trip_and_an_older_cln_has_none() {
    let mut state = node_state();
    let (out_channel, in_channel) = (state.channels[0].id, state.channels[1].id);
    add_settled_rebalance(&mut state, 100_000_000, 2_500);
    let r = rig(state.clone(), ClnServerConfig::default(), |_| {}).await;
    let page = r.client.payment_parts(0, 10).await.unwrap().unwrap();
    assert_eq!((page.events, page.next_index), (2, 3));
    let summary: Vec<_> = page
        .parts
        .iter()
        .map(|p| (p.channel, p.sent, p.amount_msat, p.fee_msat))
        .collect();
    assert_eq!(
        summary,
        [
            (Some(in_channel), false, 100_000_000, 0),
            (Some(out_channel), true, 100_002_500, 2_500),
        ]
    );
    let rest = r.client.payment_parts(page.next_index, 10).await.unwrap();
    assert_eq!(rest.map(|p| p.events), Some(0));
    assert!(!r.sent("listchannelmoves").is_empty());
    r.assert_requests_conform();

    let older = ClnServerConfig {
        channel_moves: false,
        ..ClnServerConfig::default()
    };
    let r = rig(state, older, |_| {}).await;
    assert_eq!(r.client.payment_parts(0, 10).await.unwrap(), None);
    assert_eq!(r.client.payment_parts(0, 10).await.unwrap(), None);
    assert_eq!(r.sent("listchannelmoves").len(), 1, "asked once");
    assert_eq!(r.client.list_channels().await.unwrap().len(), 5);
}

#[tokio::test]
async fn failing_new_reads_are_node_errors() {
    let mut faults = FaultConfig::default();
    for method in ["feerates", "bkpr-listaccountevents", "listchannels"] {
        faults.per_method.insert(
            method.into(),
            MethodFaults {
                error_rate: 1.0,
                ..MethodFaults::default()
            },
        );
    }
    let config = ClnServerConfig {
        faults,
        ..ClnServerConfig::default()
    };
    let r = rig(node_state(), config, |_| {}).await;
    let rejected = |err: NodeError, expected: &str| match err {
        NodeError::Rejected { method, detail } => {
            assert_eq!(method, expected);
            assert!(detail.contains("simulated fault"), "{detail}");
        }
        other => panic!("expected a rejection of {expected}, got {other:?}"),
    };
    rejected(r.client.fee_rate(6).await.unwrap_err(), "feerates");
    rejected(
        r.client
            .funding_fees(&funding_txids(&node_state(), true))
            .await
            .unwrap_err(),
        "bkpr-listaccountevents",
    );
    let peer = node_state().channels[0].peer_pubkey.clone();
    rejected(r.client.peer_info(&peer).await.unwrap_err(), "listchannels");

    // A dropped connection is transient, and the next call reconnects.
    let mut faults = FaultConfig::default();
    faults.per_method.insert(
        "feerates".into(),
        MethodFaults {
            drop_rate: 1.0,
            ..MethodFaults::default()
        },
    );
    r.server.set_faults(faults);
    let err = r.client.fee_rate(6).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
    r.server.set_faults(FaultConfig::default());
    assert_eq!(r.client.fee_rate(6).await.unwrap(), Some(12.0));
}

/// A forward without its log position, to compare what the node holds with
/// what the client read (CLN numbers settled and failed forwards together).
type Flow = (u64, ChannelId, ChannelId, u64, u64, u64);

#[tokio::test]
async fn pages_1000_forwards_in_pages_of_37_each_exactly_once() {
    let mut state = node_state();
    add_log(&mut state, 1250);
    assert_eq!((state.forwards.len(), state.failures.len()), (1000, 250));
    let r = rig(state, ClnServerConfig::default(), |_| {}).await;

    // A page shorter than asked is the end of the log (the collector stops there), although
    // settled and failed entries are interleaved in it.
    let mut forwards = Vec::new();
    let mut next = 0;
    let mut short = false;
    loop {
        let page = r.client.forwards(next, 37).await.unwrap();
        assert!(page.forwards.len() <= 37);
        if page.forwards.is_empty() {
            assert_eq!(page.next_index, next);
            break;
        }
        assert!(!short, "a short page of forwards came before the end");
        short = page.forwards.len() < 37;
        assert!(page.next_index > next);
        next = page.next_index;
        forwards.extend(page.forwards);
    }
    let mut failures = Vec::new();
    let mut next_failed = 0;
    let mut short = false;
    loop {
        let page = r.client.failed_forwards(next_failed, 37).await.unwrap();
        assert!(page.failures.len() <= 37);
        if page.failures.is_empty() {
            break;
        }
        assert!(!short, "a short page of failures came before the end");
        short = page.failures.len() < 37;
        next_failed = page.next_index;
        failures.extend(page.failures);
    }

    let state = r.state.lock().unwrap().clone();
    let flow = |f: &lnpolicy_core::Forward| -> Flow {
        (
            f.at_ns,
            f.chan_in,
            f.chan_out,
            f.amt_in_msat,
            f.amt_out_msat,
            f.fee_msat,
        )
    };
    assert_eq!(
        forwards.iter().map(flow).collect::<Vec<_>>(),
        state.forwards.iter().map(flow).collect::<Vec<_>>()
    );
    let failure =
        |f: &lnpolicy_core::FailedForward| (f.at_ns, f.chan_in, f.chan_out, f.amt_in_msat);
    assert_eq!(
        failures.iter().map(failure).collect::<Vec<_>>(),
        state.failures.iter().map(failure).collect::<Vec<_>>()
    );
    assert_eq!(
        failures.iter().map(|f| f.reason).collect::<Vec<_>>(),
        state
            .failures
            .iter()
            .map(|f| lnpolicy_sim::cln_server::reported_reason(f.reason))
            .collect::<Vec<_>>(),
        "what CLN's failcodes tell"
    );
    // Together they are CLN's log: every created_index once, no gaps.
    let mut indexes: Vec<u64> = forwards
        .iter()
        .map(|f| f.index)
        .chain(failures.iter().map(|f| f.index))
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, (1..=1250).collect::<Vec<u64>>());

    // What the market adds later is read from where the cursor stopped.
    add_log(&mut r.state.lock().unwrap(), 10);
    let page = r.client.forwards(next, 37).await.unwrap();
    assert_eq!(page.forwards.len(), 8);
    assert!(page.forwards.iter().all(|f| f.index > 1250));

    r.assert_requests_conform();
    for params in r.sent("listforwards") {
        assert_eq!(params["index"], "created");
        assert_eq!(params["limit"], 37);
    }
}

#[tokio::test]
async fn setchannel_changes_the_fee_and_leaves_the_rest() {
    let r = rig(node_state(), ClnServerConfig::default(), |c| {
        c.enforce_delay_secs = Some(0)
    })
    .await;
    let before = r.client.list_channels().await.unwrap();
    let target = before[1].clone();
    let wanted = FeePolicy {
        base_fee_msat: 0,
        fee_ppm: 777,
        ..target.local_policy
    };
    r.client.update_policy(&target, &wanted).await.unwrap();

    let after = r.client.list_channels().await.unwrap();
    let changed = after.iter().find(|c| c.id == target.id).unwrap();
    assert_eq!(changed.local_policy, wanted);
    for (a, b) in before.iter().zip(&after) {
        if a.id != target.id {
            assert_eq!(a, b);
        }
    }
    // Only the fees were sent: unchanged limits are omitted, CLN keeps them.
    let sent = r.sent("setchannel");
    let mut keys: Vec<&String> = sent[0].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["enforcedelay", "feebase", "feeppm", "id"]);
    assert_eq!(sent[0]["enforcedelay"], 0);
    assert_eq!(
        r.state.lock().unwrap().enforce_delays.get(&target.id),
        Some(&0)
    );

    // A new htlc maximum is sent and applied; cltv is node-wide on CLN and
    // stays as it is.
    let wider = FeePolicy {
        max_htlc_msat: 1_000_000_000,
        time_lock_delta: 144,
        ..wanted
    };
    let applied = r.client.update_policy(changed, &wider).await.unwrap();
    let after = r.client.list_channels().await.unwrap();
    let changed = after.iter().find(|c| c.id == target.id).unwrap();
    assert_eq!(changed.local_policy.max_htlc_msat, 1_000_000_000);
    assert_eq!(
        changed.local_policy.time_lock_delta,
        target.local_policy.time_lock_delta
    );
    assert_eq!(applied, changed.local_policy, "the client says what landed");
    assert_eq!(r.sent("setchannel")[1]["htlcmax"], 1_000_000_000);

    // Inbound fees do not exist on CLN: refused before anything is sent.
    let inbound = FeePolicy {
        inbound_fee_ppm: -100,
        ..wanted
    };
    match r.client.update_policy(changed, &inbound).await {
        Err(NodeError::Rejected { method, detail }) => {
            assert_eq!(method, "setchannel");
            assert!(detail.contains("no inbound fees"), "{detail}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(r.sent("setchannel").len(), 2);

    // A channel the node does not have.
    let mut gone = target.clone();
    gone.id = super::fixture::scid(1, 2, 3);
    assert_eq!(
        r.client.update_policy(&gone, &wanted).await,
        Err(NodeError::UnknownChannel { channel: gone.id })
    );
    r.assert_requests_conform();
}

/// Calls `f` until it succeeds; returns the value and how many attempts failed.
async fn retry<T, Fut>(mut f: impl FnMut() -> Fut) -> (T, usize)
where
    Fut: Future<Output = Result<T, NodeError>>,
{
    for failures in 0..50 {
        match f().await {
            Ok(v) => return (v, failures),
            Err(e) => tracing::debug!("retrying after {e}"),
        }
    }
    panic!("50 attempts failed");
}

#[tokio::test]
async fn with_ten_percent_faults_a_retry_loop_gets_everything() {
    let mut state = node_state();
    add_log(&mut state, 500);
    let expected = state.clone();
    let faults = FaultConfig::uniform(
        20_260_806,
        MethodFaults {
            error_rate: 0.10,
            drop_rate: 0.05,
            latency: Duration::from_millis(1),
        },
    );
    let config = ClnServerConfig {
        faults,
        ..ClnServerConfig::default()
    };
    let r = rig(state, config, |_| {}).await;
    let mut failed_attempts = 0;

    let (info, n) = retry(|| r.client.get_info()).await;
    failed_attempts += n;
    assert_eq!(info, expected.info);
    let (channels, n) = retry(|| r.client.list_channels()).await;
    failed_attempts += n;
    assert_eq!(channels, expected.channels);

    let mut forwards = Vec::new();
    let mut next = 0;
    loop {
        let (page, n) = retry(|| r.client.forwards(next, 37)).await;
        failed_attempts += n;
        if page.forwards.is_empty() {
            break;
        }
        next = page.next_index;
        forwards.extend(page.forwards);
    }
    let mut failures = Vec::new();
    let mut next = 0;
    loop {
        let (page, n) = retry(|| r.client.failed_forwards(next, 37)).await;
        failed_attempts += n;
        if page.failures.is_empty() {
            break;
        }
        next = page.next_index;
        failures.extend(page.failures);
    }
    assert_eq!(forwards.len(), expected.forwards.len());
    assert_eq!(failures.len(), expected.failures.len());
    let mut indexes: Vec<u64> = forwards
        .iter()
        .map(|f| f.index)
        .chain(failures.iter().map(|f| f.index))
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(indexes.len(), 500);

    let target = &channels[0];
    let wanted = FeePolicy {
        fee_ppm: 4242,
        ..target.local_policy
    };
    let (applied, n) = retry(|| r.client.update_policy(target, &wanted)).await;
    failed_attempts += n;
    assert_eq!(
        r.state
            .lock()
            .unwrap()
            .channel(target.id)
            .unwrap()
            .local_policy,
        wanted
    );
    assert_eq!(applied, wanted);

    // The faults did happen, and the client recovered from dropped connections.
    assert!(failed_attempts >= 5, "only {failed_attempts} faults");
    r.assert_requests_conform();
}

#[tokio::test]
async fn a_slow_node_times_out_and_the_client_recovers() {
    let mut faults = FaultConfig::default();
    faults.per_method.insert(
        "listchannels".into(),
        MethodFaults {
            latency: Duration::from_millis(400),
            ..MethodFaults::default()
        },
    );
    let mut state = node_state();
    add_log(&mut state, 20);
    let config = ClnServerConfig {
        faults,
        ..ClnServerConfig::default()
    };
    let r = rig(state, config, |c| c.timeout = Duration::from_millis(100)).await;
    let peer = r.state.lock().unwrap().channels[0].peer_pubkey.clone();
    let err = r.client.peer_info(&peer).await.unwrap_err();
    assert_eq!(
        err,
        NodeError::Timeout {
            method: "listchannels"
        }
    );
    assert!(err.is_transient());
    // The late answer is not mistaken for the next call's.
    let page = r.client.forwards(0, 10).await.unwrap();
    // 20 log entries, every fifth a failure: the first 10 forwards end at created_index 12,
    // and the cursor stops right after it.
    assert_eq!(page.forwards.len(), 10);
    assert_eq!((page.forwards[0].index, page.next_index), (1, 13));
}

#[tokio::test]
async fn a_missing_socket_fails_at_connect() {
    let dir = tempfile::tempdir().unwrap();
    let config = ClnConfig::new(dir.path().join("lightning-rpc"));
    match ClnClient::connect(config).await {
        Err(e @ NodeError::Unavailable { .. }) => assert!(e.is_transient()),
        Err(other) => panic!("expected Unavailable, got {other:?}"),
        Ok(_) => panic!("connected to nothing"),
    }
}

/// CLN keeps accepting the previous fee for `enforcedelay` seconds after a change, so that
/// senders who have not seen the rise yet are not failed: the market honours the delay the
/// client sends, raise by raise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enforcedelay_is_how_long_the_old_fee_is_still_accepted() {
    let mut refused = Vec::new();
    for delay in [0u32, 3_600] {
        // A busy CLN node whose raises take an hour to reach senders.
        let mut scenario = lnpolicy_sim::Scenario::synthetic(20, 20_000.0, 3);
        scenario.node.kind = NodeKind::Cln;
        scenario.market.gossip.delay_secs = 3_600;
        let mut live = lnpolicy_sim::LiveSimulation::new(lnpolicy_sim::Simulation::new(scenario));
        live.advance(3_600);
        let dir = tempfile::tempdir().unwrap();
        let server = lnpolicy_sim::cln_server::ClnServer::start(
            live.shared(),
            &dir.path().join("lightning-rpc"),
            ClnServerConfig::default(),
        )
        .await
        .unwrap();
        let mut config = ClnConfig::new(server.socket_path());
        config.enforce_delay_secs = Some(delay);
        let client = ClnClient::connect(config).await.unwrap();
        for channel in client.list_channels().await.unwrap() {
            let raised = FeePolicy {
                fee_ppm: channel.local_policy.fee_ppm * 4 + 100,
                ..channel.local_policy
            };
            client.update_policy(&channel, &raised).await.unwrap();
        }
        let policy_failures = |live: &lnpolicy_sim::LiveSimulation| -> u64 {
            let sim = live.simulation();
            sim.totals().iter().map(|t| t.failures_policy).sum()
        };
        let before = policy_failures(&live);
        // Within the gossip delay: senders still offer the old fee.
        live.advance(1_800);
        refused.push(policy_failures(&live) - before);
    }
    assert!(
        refused[0] > 0,
        "without a delay the rise fails stale senders: {refused:?}"
    );
    assert_eq!(
        refused[1], 0,
        "an hour's delay accepts the old fee: {refused:?}"
    );
}
