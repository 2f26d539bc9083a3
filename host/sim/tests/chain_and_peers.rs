//! What the market engine draws for a scenario (stuck HTLCs, funding fees,
//! the fee curve, the graph around each peer), read back through both real
//! clients over both real servers: LND over TLS and CLN over a unix socket
//! must each report exactly the simulated node's state.

use lnpolicy_core::{NodeChannel, NodeClient, NodeKind, PeerInfo};
use lnpolicy_node::cln::{ClnClient, ClnConfig};
use lnpolicy_node::lnd::permissions::CLIENT_METHODS;
use lnpolicy_node::lnd::{LndClient, LndConfig};
use lnpolicy_sim::cln_server::{ClnServer, ClnServerConfig};
use lnpolicy_sim::lnd_server::{LndServer, LndServerConfig};
use lnpolicy_sim::state::{FeeEstimate, NodeState};
use lnpolicy_sim::{LiveSimulation, Scenario, Simulation};

/// `balanced` with HTLCs stuck on two channels and a steeper fee curve
/// (rates that survive LND's sat/kw and CLN's perkb exactly).
fn scenario() -> Scenario {
    let mut s = Scenario::builtin("balanced").unwrap();
    s.channels[0].pending_htlcs = 3;
    s.channels[3].pending_htlcs = 2;
    let at = |blocks, sat_per_vb| FeeEstimate { blocks, sat_per_vb };
    s.chain.fee_rates = vec![at(2, 35.5), at(6, 18.5), at(12, 15.0), at(144, 3.0)];
    s
}

/// The peer as the state's graph shows it, counted independently of the
/// servers: our public channels with it and its channels elsewhere; the
/// rates of the enabled directions into it from elsewhere, sorted.
fn expected_peer(state: &NodeState, peer: &str) -> Option<PeerInfo> {
    let ours: Vec<&NodeChannel> = state
        .channels
        .iter()
        .filter(|c| c.peer_pubkey == peer && !c.private)
        .collect();
    let others: Vec<_> = state
        .graph
        .iter()
        .filter(|g| g.node1_pubkey == peer || g.node2_pubkey == peer)
        .collect();
    if ours.is_empty() && others.is_empty() {
        return None;
    }
    let mut fee_rates_ppm: Vec<u32> = others
        .iter()
        .map(|g| {
            if g.node1_pubkey == peer {
                g.node2_policy
            } else {
                g.node1_policy
            }
        })
        .filter(|p| !p.disabled)
        .map(|p| p.fee_ppm)
        .collect();
    fee_rates_ppm.sort_unstable();
    Some(PeerInfo {
        public_channels: (ours.len() + others.len()) as u32,
        public_capacity_sat: ours.iter().map(|c| c.capacity_sat).sum::<u64>()
            + others.iter().map(|g| g.capacity_sat).sum::<u64>(),
        fee_rates_ppm,
    })
}

/// Every new read against `state`, through `client`.
async fn check(client: &dyn NodeClient, state: &NodeState) {
    // Pending HTLCs: the state's, in order, with direction, amount, expiry.
    let channels = client.list_channels().await.unwrap();
    assert_eq!(channels.len(), state.channels.len());
    for (got, want) in channels.iter().zip(&state.channels) {
        assert_eq!(got.id, want.id);
        assert_eq!(got.pending_htlcs, want.pending_htlcs, "{}", got.id);
        assert_eq!(got.unsettled_balance_sat, want.unsettled_balance_sat);
    }
    assert_eq!(channels[0].pending_htlcs.len(), 3);
    assert_eq!(channels[3].pending_htlcs.len(), 2);
    let stuck: Vec<_> = channels.iter().flat_map(|c| &c.pending_htlcs).collect();
    assert!(stuck.iter().any(|h| h.incoming) && stuck.iter().any(|h| !h.incoming));

    // The fee curve, for targets on, between, below and beyond its points.
    for (target, rate) in [
        (1, 35.5),
        (2, 35.5),
        (5, 35.5),
        (6, 18.5),
        (11, 18.5),
        (12, 15.0),
        (100, 15.0),
        (144, 3.0),
        (2016, 3.0),
    ] {
        assert_eq!(
            client.fee_rate(target).await.unwrap(),
            Some(rate),
            "{:?} at {target}",
            client.kind()
        );
    }

    // Funding fees, asked for every channel's txid: one per channel we opened,
    // the state's, at the 6-block rate for 150-200 vB.
    let txid = |c: &NodeChannel| c.channel_point.split(':').next().unwrap().to_owned();
    let all: Vec<String> = state.channels.iter().map(txid).collect();
    let fees = client.funding_fees(&all).await.unwrap();
    let opened: Vec<&NodeChannel> = state.channels.iter().filter(|c| c.initiator).collect();
    assert!(opened.len() >= 5, "balanced opens most of its channels");
    assert_eq!(fees.len(), opened.len(), "{fees:?}");
    for c in &opened {
        let txid = c.channel_point.split(':').next().unwrap();
        let fee = fees
            .iter()
            .find(|f| f.txid == txid)
            .unwrap_or_else(|| panic!("no fee for {txid}"));
        assert_eq!(fee.fee_sat, state.funding_fees[&c.id]);
        assert!(
            (150.0 * 18.5..=200.0 * 18.5).contains(&(fee.fee_sat as f64)),
            "{}",
            fee.fee_sat
        );
    }
    for c in state.channels.iter().filter(|c| !c.initiator) {
        let txid = c.channel_point.split(':').next().unwrap();
        assert!(fees.iter().all(|f| f.txid != txid), "peer-opened {txid}");
    }
    // Only the txids asked for, in any case.
    let one = txid(opened[1]);
    assert_eq!(
        client.funding_fees(&[one.to_uppercase()]).await.unwrap(),
        [lnpolicy_core::FundingFee {
            txid: one,
            fee_sat: state.funding_fees[&opened[1].id]
        }]
    );

    // Peer info: the graph's count, capacity and competing rates.
    for c in &state.channels {
        let mut got = client.peer_info(&c.peer_pubkey).await.unwrap();
        if let Some(info) = &mut got {
            info.fee_rates_ppm.sort_unstable();
        }
        assert_eq!(
            got,
            expected_peer(state, &c.peer_pubkey),
            "{}",
            c.peer_pubkey
        );
    }
    assert_eq!(
        client
            .peer_info(&format!("02{}", "ab".repeat(32)))
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn lnd_client_reads_the_simulated_chain_and_peers() {
    let live = LiveSimulation::new(Simulation::new(scenario()));
    let state = live.shared().lock().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let server = LndServer::start(live.shared(), LndServerConfig::new(dir.path()))
        .await
        .unwrap();
    let config: LndConfig = server.client_config(server.lnpolicy_macaroon_path());
    let client = LndClient::connect(&config).await.unwrap();
    assert_eq!(client.kind(), NodeKind::Lnd);
    check(&client, &state).await;
    let calls = live.shared().lock().unwrap().calls.clone();
    assert!(
        calls.iter().all(|c| CLIENT_METHODS.contains(&c.as_str())),
        "{calls:?}"
    );
}

#[tokio::test]
async fn cln_client_reads_the_simulated_chain_and_peers() {
    let live = LiveSimulation::new(Simulation::new(scenario()));
    let state = live.shared().lock().unwrap().clone();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("lightning-rpc");
    let _server = ClnServer::start(live.shared(), &socket, ClnServerConfig::default())
        .await
        .unwrap();
    let client = ClnClient::connect(ClnConfig::new(&socket)).await.unwrap();
    check(&client, &state).await;
    let calls = live.shared().lock().unwrap().calls.clone();
    assert!(
        calls
            .iter()
            .all(|c| ClnClient::METHODS.contains(&c.as_str())),
        "{calls:?}"
    );
}

#[test]
fn stuck_htlcs_and_funding_fees_are_seeded_and_leave_other_draws_alone() {
    let a = Simulation::new(scenario());
    let b = Simulation::new(scenario());
    assert_eq!(a.state().channels, b.state().channels);
    assert_eq!(a.state().funding_fees, b.state().funding_fees);

    // Each in-flight HTLC is taken from the side that offered it; the rest
    // of the channel is as the scenario says.
    let plain = Simulation::new(Scenario::builtin("balanced").unwrap());
    for (with, without) in a.state().channels.iter().zip(&plain.state().channels) {
        let offered = |incoming: bool| -> u64 {
            with.pending_htlcs
                .iter()
                .filter(|h| h.incoming == incoming)
                .map(|h| h.amount_msat / 1000)
                .sum()
        };
        assert_eq!(
            with.local_balance_sat + offered(false),
            without.local_balance_sat
        );
        assert_eq!(
            with.remote_balance_sat + offered(true),
            without.remote_balance_sat
        );
        assert_eq!(with.unsettled_balance_sat, offered(true) + offered(false));
        assert!(
            with.pending_htlcs
                .iter()
                .all(|h| h.amount_msat % 1000 == 0 && h.expiry_height > a.state().info.block_height)
        );
        assert_eq!(
            with.peer_policy, without.peer_policy,
            "other streams unmoved"
        );
        assert_eq!(with.channel_point, without.channel_point);
    }
    assert_eq!(a.state().graph, plain.state().graph);
    // The fee curve changes what the opens cost, not which channels were opened.
    let opened: Vec<_> = plain.state().funding_fees.keys().collect();
    assert_eq!(a.state().funding_fees.keys().collect::<Vec<_>>(), opened);
}
