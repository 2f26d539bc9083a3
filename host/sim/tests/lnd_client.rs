//! The LND client against the simulated LND over real TLS sockets: every
//! NodeClient method, the exact data it reads back, and the set of gRPC
//! methods it uses (the whitelist).

mod lnd_support;

use std::collections::BTreeSet;

use lnd_support::{Sim, admin_request, fixture, peer_key, raw_client};
use lnpolicy_core::{NodeClient, NodeKind};
use lnpolicy_node::lnd::permissions::{CLIENT_METHODS, DESCRIBE_GRAPH};
use lnpolicy_node::lnd::{LndClient, LndConfig};
use lnpolicy_node::lnrpc::ChannelGraphRequest;

#[tokio::test]
async fn client_reads_the_node_over_pinned_tls() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    assert_eq!(client.kind(), NodeKind::Lnd);

    let info = client.get_info().await.unwrap();
    assert_eq!(info, sim.state().info);

    // Every field survives ListChannels + FeeReport + GetNodeInfo (public
    // channels) + GetChanInfo (the private one), including the channel
    // whose peer policy is unknown.
    let channels = client.list_channels().await.unwrap();
    assert_eq!(channels, sim.state().channels);

    let page = client.forwards(0, 100).await.unwrap();
    assert_eq!(page.forwards, sim.state().forwards);
    assert_eq!(page.next_index, 10);
}

#[tokio::test]
async fn peer_fee_rates_are_the_peers_other_enabled_channels() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    // Peer n charges 10n, 20n and (disabled) 30n ppm on its other channels;
    // its channel with us is not a competitor.
    assert_eq!(client.peer_fee_rates(&peer_key(1)).await.unwrap(), [10, 20]);
    assert_eq!(client.peer_fee_rates(&peer_key(2)).await.unwrap(), [20, 40]);
    // Peer 3 only has a private channel with us: unknown to the graph.
    assert!(
        client
            .peer_fee_rates(&peer_key(3))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        client
            .peer_fee_rates(&peer_key(99))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn client_uses_only_whitelisted_methods() {
    let sim = Sim::start(fixture()).await;
    // The least-privilege macaroon (uri: permissions of exactly the client
    // methods) must be enough for everything the client does.
    let config = sim
        .server
        .client_config(sim.server.lnpolicy_macaroon_path());
    let client = LndClient::connect(&config).await.unwrap();
    client.get_info().await.unwrap();
    let channels = client.list_channels().await.unwrap();
    client.forwards(0, 5).await.unwrap();
    client.failed_forwards(0, 5).await.unwrap();
    client.peer_fee_rates(&peer_key(1)).await.unwrap();
    let mut policy = channels[0].local_policy;
    policy.fee_ppm += 1;
    client.update_policy(&channels[0], &policy).await.unwrap();

    let called: BTreeSet<String> = sim.state().calls.iter().cloned().collect();
    let allowed: BTreeSet<String> = CLIENT_METHODS.iter().map(|m| m.to_string()).collect();
    assert!(called.is_subset(&allowed), "{called:?}");
    assert!(!called.contains(DESCRIBE_GRAPH));
    assert_eq!(called, allowed, "every whitelisted method is exercised");
}

#[tokio::test]
async fn lnddir_layout_prefers_the_lnpolicy_macaroon() {
    let sim = Sim::start(fixture()).await;
    let lnddir = sim.dir.path().join("lnd");
    let config = LndConfig::from_lnddir(&lnddir, "regtest");
    assert_eq!(config.tls_cert_path, sim.server.cert_path());
    assert_eq!(config.macaroon_path, sim.server.lnpolicy_macaroon_path());
    let config = LndConfig {
        address: sim.server.addr().to_string(),
        ..config
    };
    let client = LndClient::connect(&config).await.unwrap();
    assert_eq!(client.get_info().await.unwrap().alias, "sim-lnd");
}

#[tokio::test]
async fn describe_graph_is_served_beyond_tonics_default_limit() {
    let mut state = fixture();
    // ~6 MiB of edges: more than tonic's 4 MiB default decode limit.
    let template = state.graph[0].clone();
    for i in 0..30_000u64 {
        let mut edge = template.clone();
        edge.id = 1_000_000 + i;
        edge.channel_point = format!("{:064x}:{}", i, i % 4);
        state.graph.push(edge);
    }
    let sim = Sim::start(state).await;
    let client = raw_client(&sim)
        .await
        .max_decoding_message_size(lnpolicy_node::lnd::MAX_DECODING_MESSAGE_SIZE);
    let graph = client
        .clone()
        .describe_graph(admin_request(
            &sim,
            ChannelGraphRequest {
                include_unannounced: true,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(graph.edges.len(), 3 + 6 + 30_000);

    // Without the raised limit the same answer is refused.
    let err = raw_client(&sim)
        .await
        .describe_graph(admin_request(&sim, ChannelGraphRequest::default()))
        .await
        .unwrap_err();
    assert!(
        err.message().contains("message length too large"),
        "{err:?}"
    );
}
