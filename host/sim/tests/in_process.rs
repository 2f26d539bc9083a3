//! The in-process node that backtests use must answer exactly as the real LND client does
//! over the simulator's real gRPC server (and, for what the two differ in, the CLN client over
//! its JSON-RPC server), for the same state: otherwise a backtest would measure a different
//! node than the one the daemon talks to.

use std::collections::BTreeMap;

use lnpolicy_core::{
    FailedForward, FailedForwardPage, FailureReason, NodeClient, PaymentPartPage, short_channel_id,
};
use lnpolicy_node::cln::{ClnClient, ClnConfig};
use lnpolicy_node::lnd::LndClient;
use lnpolicy_sim::cln_server::{ClnServer, ClnServerConfig};
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig};
use lnpolicy_sim::{InProcessNode, LiveSimulation, Scenario, Simulation};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_answers_equal_the_lnd_clients_over_grpc() {
    let mut scenario = Scenario::builtin("balanced").unwrap();
    scenario.channels[1].pending_htlcs = 2;
    let mut live = LiveSimulation::new(Simulation::new(scenario));
    live.advance(2 * 86_400);
    two_rebalances(&mut live);
    let dir = tempfile::tempdir().unwrap();
    let server = LndServer::start(live.shared(), LndServerConfig::new(dir.path()))
        .await
        .unwrap();
    let lnd = LndClient::connect(&server.client_config(server.lnpolicy_macaroon_path()))
        .await
        .unwrap();
    let local = InProcessNode::new(live.shared());

    assert_eq!(local.kind(), lnd.kind());
    let (a, b) = (
        local.get_info().await.unwrap(),
        lnd.get_info().await.unwrap(),
    );
    assert_eq!((a.pubkey, a.block_height), (b.pubkey, b.block_height));
    let channels = lnd.list_channels().await.unwrap();
    assert_eq!(local.list_channels().await.unwrap(), channels);

    let (mut from_local, mut from_lnd) = (0, 0);
    let mut pages = 0;
    loop {
        let a = local.forwards(from_local, 100).await.unwrap();
        let b = lnd.forwards(from_lnd, 100).await.unwrap();
        assert_eq!(a.forwards.len(), b.forwards.len());
        for (x, y) in a.forwards.iter().zip(&b.forwards) {
            assert_eq!(
                (
                    x.at_ns,
                    x.chan_in,
                    x.chan_out,
                    x.amt_in_msat,
                    x.amt_out_msat,
                    x.fee_msat
                ),
                (
                    y.at_ns,
                    y.chan_in,
                    y.chan_out,
                    y.amt_in_msat,
                    y.amt_out_msat,
                    y.fee_msat
                )
            );
        }
        if a.forwards.is_empty() {
            break;
        }
        (from_local, from_lnd) = (a.next_index, b.next_index);
        pages += 1;
    }
    assert!(pages > 3, "two days of forwards span several pages");

    let pages = payment_pages(&local, &lnd).await;
    assert_eq!(
        pages
            .iter()
            .map(|p| (
                p.parts.len(),
                p.unresolved.iter().map(|u| u.index).collect::<Vec<_>>()
            ))
            .collect::<Vec<_>>(),
        [(0, vec![1]), (2, vec![])],
        "the rebalance in flight is named unresolved, the settled one is listed"
    );
    assert!(live.fail_rebalance(0));
    let pages = payment_pages(&local, &lnd).await;
    assert_eq!(
        pages
            .iter()
            .map(|p| (p.parts.len(), p.unresolved.len()))
            .collect::<Vec<_>>(),
        [(0, 0), (2, 0)],
        "once failed, it is read as nothing"
    );

    for channel in &channels {
        assert_eq!(
            local.peer_info(&channel.peer_pubkey).await.unwrap(),
            lnd.peer_info(&channel.peer_pubkey).await.unwrap(),
            "peer of {}",
            short_channel_id(channel.id)
        );
    }
    for target in [2, 3, 6, 12, 144, 1008] {
        assert_eq!(
            local.fee_rate(target).await.unwrap(),
            lnd.fee_rate(target).await.unwrap(),
            "{target} blocks"
        );
    }
    let txids: Vec<String> = channels
        .iter()
        .map(|c| c.channel_point.split(':').next().unwrap().to_owned())
        .collect();
    let by_txid = |fees: Vec<lnpolicy_core::FundingFee>| -> BTreeMap<String, u64> {
        fees.into_iter().map(|f| (f.txid, f.fee_sat)).collect()
    };
    let local_fees = by_txid(local.funding_fees(&txids).await.unwrap());
    assert_eq!(
        local_fees.len(),
        channels.iter().filter(|c| c.initiator).count(),
        "one fee per channel we opened"
    );
    assert_eq!(local_fees, by_txid(lnd.funding_fees(&txids).await.unwrap()));

    let target = &channels[0];
    let mut policy = target.local_policy;
    policy.fee_ppm += 17;
    local.update_policy(target, &policy).await.unwrap();
    assert_eq!(
        lnd.list_channels().await.unwrap()[0].local_policy,
        policy,
        "an update through the in-process node is what the server then reports"
    );
    policy.time_lock_delta = 1;
    assert!(
        local.update_policy(target, &policy).await.is_err(),
        "LND's rules apply"
    );
}

/// Two rebalances: one held in flight for two hours, one settled at once a minute after it.
fn two_rebalances(live: &mut LiveSimulation) {
    let ids = live.simulation().state().channel_ids();
    live.rebalance(ids[0], ids[1], 20_000_000, 1_500, 7_200)
        .unwrap();
    live.advance(60);
    live.rebalance(ids[2], ids[0], 5_000_000, 40, 0).unwrap();
}

/// Every page of payment parts, one event a page, checking that the two nodes give the same.
async fn payment_pages(local: &dyn NodeClient, remote: &dyn NodeClient) -> Vec<PaymentPartPage> {
    let mut pages = Vec::new();
    let mut from = 0;
    loop {
        let page = local.payment_parts(from, 1).await.unwrap().unwrap();
        assert_eq!(page, remote.payment_parts(from, 1).await.unwrap().unwrap());
        if page.events == 0 {
            return pages;
        }
        from = page.next_index;
        pages.push(page);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_payment_parts_and_failures_equal_the_cln_clients() {
    let mut live = LiveSimulation::new(Simulation::new(Scenario::builtin("cln-heavy").unwrap()));
    live.advance(3600);
    two_rebalances(&mut live);
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lightning-rpc");
    let server = ClnServer::start(live.shared(), &socket, ClnServerConfig::default())
        .await
        .unwrap();
    let cln = ClnClient::connect(ClnConfig::new(&socket)).await.unwrap();
    let local = InProcessNode::new(live.shared());
    assert_eq!(local.kind(), cln.kind());

    let pages = payment_pages(&local, &cln).await;
    assert_eq!(
        pages
            .iter()
            .map(|p| (p.parts[0].index, p.parts[0].sent))
            .collect::<Vec<_>>(),
        [(1, false), (2, true)],
        "only the settled rebalance: credit, then debit"
    );
    live.advance(7_200);
    let pages = payment_pages(&local, &cln).await;
    assert_eq!(
        pages.len(),
        4,
        "the held one too, once settled, numbered after"
    );
    assert_eq!(pages[3].parts[0].fee_msat, 1_500);
    assert!(pages.iter().all(|p| p.unresolved.is_empty()));

    // A forward outside our htlcmax: CLN's failcode says what it says of a lack of balance.
    let over_max = {
        let shared = live.shared();
        let mut state = shared.lock().unwrap();
        let failure = FailedForward {
            index: 0,
            at_ns: state.now_ns,
            chan_in: state.channels[0].id,
            chan_out: Some(state.channels[1].id),
            amt_in_msat: 2_000_000_000,
            reason: FailureReason::Other,
        };
        state.failures.push(failure);
        state.failures.len()
    };
    let failures = |page: FailedForwardPage| {
        page.failures
            .into_iter()
            .map(|f| (f.at_ns, f.chan_in, f.chan_out, f.amt_in_msat, f.reason))
            .collect::<Vec<_>>()
    };
    let from_local = failures(local.failed_forwards(0, 100_000).await.unwrap());
    assert_eq!(from_local.len(), over_max);
    assert_eq!(
        from_local.last().unwrap().4,
        FailureReason::InsufficientBalance
    );
    assert_eq!(
        failures(cln.failed_forwards(0, 100_000).await.unwrap()),
        from_local
    );
    server.shutdown().await;
}
