//! The LND client against the simulated LND over real TLS sockets: every
//! NodeClient method, the exact data it reads back, and the set of gRPC
//! methods it uses (the whitelist).

mod lnd_support;

use std::collections::BTreeSet;

use lnd_support::{Sim, admin_request, chan_id, fixture, keyed_by_time, peer_key, raw_client};
use lnpolicy_core::{
    FeePolicy, FundingFee, NodeClient, NodeError, NodeKind, PeerInfo, PendingHtlc,
};
use lnpolicy_node::lnd::permissions::{
    CLIENT_METHODS, DESCRIBE_GRAPH, Permission, UPDATE_CHAN_STATUS, UPDATE_CHANNEL_POLICY,
};
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
    let expected = keyed_by_time(&sim.state().forwards);
    assert_eq!(page.forwards, expected);
    assert_eq!(page.next_index, expected[9].at_ns);
}

#[tokio::test]
async fn peer_info_counts_the_graph_and_prices_the_other_channels() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    // Peer n has three other channels of 5M sat, whose other ends charge 10n,
    // 20n and (disabled) 30n ppm toward it, plus its public 2M sat channel with
    // us, which counts toward its size but is not a competitor. What the peer
    // charges onward (999 ppm) is no competitor either.
    for n in 1..=2u8 {
        let rate = 10 * u32::from(n);
        assert_eq!(
            client.peer_info(&peer_key(n)).await.unwrap(),
            Some(PeerInfo {
                public_channels: 4,
                public_capacity_sat: 3 * 5_000_000 + 2_000_000,
                fee_rates_ppm: vec![rate, 2 * rate],
            }),
            "peer {n}"
        );
    }
    // Peer 3 only has a private channel with us: unknown to the graph.
    assert_eq!(client.peer_info(&peer_key(3)).await.unwrap(), None);
    assert_eq!(client.peer_info(&peer_key(99)).await.unwrap(), None);
}

#[tokio::test]
async fn pending_htlcs_arrive_with_direction_amount_and_expiry() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    let channels = client.list_channels().await.unwrap();
    let c = channels.iter().find(|c| c.id == chan_id(2)).unwrap();
    assert_eq!(
        c.pending_htlcs,
        [
            PendingHtlc {
                incoming: true,
                amount_msat: 5_000_000,
                expiry_height: 900_040
            },
            PendingHtlc {
                incoming: false,
                amount_msat: 2_500_000,
                expiry_height: 900_102
            },
        ]
    );
    assert_eq!(c.unsettled_balance_sat, 7_500);
}

#[tokio::test]
async fn fee_rate_is_the_wallets_estimate_per_target() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    // The default curve: 2 blocks 20, 6 blocks 12, 144 blocks 4 sat/vB.
    for (target, expected) in [
        (2, 20.0),
        (3, 20.0),
        (6, 12.0),
        (100, 12.0),
        (144, 4.0),
        (1008, 4.0),
    ] {
        assert_eq!(
            client.fee_rate(target).await.unwrap(),
            Some(expected),
            "{target}"
        );
    }
    // LND has no estimate below 2 blocks; the client asks for 2.
    assert_eq!(client.fee_rate(1).await.unwrap(), Some(20.0));
    assert_eq!(client.fee_rate(0).await.unwrap(), Some(20.0));

    // A node without estimates.
    sim.state().fee_estimates.clear();
    assert_eq!(client.fee_rate(6).await.unwrap(), None);
}

#[tokio::test]
async fn funding_fees_are_what_the_wallet_paid_per_transaction() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    let state = sim.state().clone();
    let mut txids: Vec<String> = state
        .channels
        .iter()
        .map(|c| c.channel_point.split(':').next().unwrap().to_owned())
        .collect();
    txids.push(state.deposit_txid());
    let mut fees = client.funding_fees(&txids).await.unwrap();
    fees.sort_by(|a, b| a.txid.cmp(&b.txid));
    // Channels 1 and 3 are ours; channel 2's funding is the peer's, and the
    // deposit that paid for ours cost us nothing: both are left out.
    assert_eq!(
        fees,
        [
            FundingFee {
                txid: "01".repeat(32),
                fee_sat: 2_400
            },
            FundingFee {
                txid: "03".repeat(32),
                fee_sat: 1_950
            },
        ]
    );
    // Matching a channel point's txid gives its opening cost.
    for c in state.channels.iter().filter(|c| c.initiator) {
        let txid = c.channel_point.split(':').next().unwrap();
        let fee = fees.iter().find(|f| f.txid == txid).unwrap();
        assert_eq!(fee.fee_sat, state.funding_fees[&c.id]);
    }
    // Only the txids asked for are reported, whatever else the wallet paid.
    assert_eq!(
        client.funding_fees(&["03".repeat(32)]).await.unwrap(),
        [FundingFee {
            txid: "03".repeat(32),
            fee_sat: 1_950
        }]
    );
    assert!(client.funding_fees(&[]).await.unwrap().is_empty());
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
    client.peer_info(&peer_key(1)).await.unwrap();
    client.fee_rate(6).await.unwrap();
    client.funding_fees(&["01".repeat(32)]).await.unwrap();
    client.payment_parts(0, 5).await.unwrap();
    let mut policy = channels[0].local_policy;
    policy.fee_ppm += 1;
    client.update_policy(&channels[0], &policy).await.unwrap();
    // The disabled flag alone goes as UpdateChanStatus, with no policy call.
    let updated = client.list_channels().await.unwrap().remove(0);
    assert_eq!(updated.local_policy, policy);
    let policy_calls = |sim: &Sim| {
        sim.state()
            .calls
            .iter()
            .filter(|m| *m == UPDATE_CHANNEL_POLICY)
            .count()
    };
    let before = policy_calls(&sim);
    let disabled = FeePolicy {
        disabled: true,
        ..policy
    };
    client.update_policy(&updated, &disabled).await.unwrap();
    assert_eq!(
        sim.state().channel(updated.id).unwrap().local_policy,
        disabled
    );
    assert_eq!(
        policy_calls(&sim),
        before,
        "no UpdateChannelPolicy for the flag alone"
    );

    let called: BTreeSet<String> = sim.state().calls.iter().cloned().collect();
    let allowed: BTreeSet<String> = CLIENT_METHODS.iter().map(|m| m.to_string()).collect();
    assert!(called.is_subset(&allowed), "{called:?}");
    assert!(!called.contains(DESCRIBE_GRAPH));
    assert_eq!(called, allowed, "every whitelisted method is exercised");
}

#[tokio::test]
async fn lnddir_layout_prefers_the_charge_lnd_then_the_lnpolicy_macaroon() {
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

    // An operator coming from charge-lnd has its macaroon: that one comes first.
    let charge_lnd = sim
        .server
        .lnpolicy_macaroon_path()
        .with_file_name("charge-lnd.macaroon");
    std::fs::copy(sim.server.lnpolicy_macaroon_path(), &charge_lnd).unwrap();
    assert_eq!(
        LndConfig::from_lnddir(&lnddir, "regtest").macaroon_path,
        charge_lnd
    );
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

/// A macaroon baked before lnpolicy used `UpdateChanStatus` (all the other client methods):
/// re-enabling is refused, but the fee change that comes with it still lands; a status change
/// alone reports the refusal.
#[tokio::test]
async fn a_macaroon_without_the_status_call_still_sets_fees() {
    let sim = Sim::start(fixture()).await;
    let old: Vec<Permission> = CLIENT_METHODS
        .iter()
        .filter(|m| **m != UPDATE_CHAN_STATUS)
        .map(|m| Permission::uri(m))
        .collect();
    let path = sim.dir.path().join("old.macaroon");
    sim.server.bake_macaroon(&old, &path).unwrap();
    let client = LndClient::connect(&sim.server.client_config(&path))
        .await
        .unwrap();
    let mut channel = client.list_channels().await.unwrap().remove(0);
    let disabled = FeePolicy {
        disabled: true,
        ..channel.local_policy
    };
    let refused = client.update_policy(&channel, &disabled).await.unwrap_err();
    assert!(
        matches!(refused, NodeError::PermissionDenied { .. }),
        "{refused:?}"
    );
    sim.state()
        .channels
        .iter_mut()
        .find(|c| c.id == channel.id)
        .unwrap()
        .local_policy
        .disabled = true;
    channel.local_policy.disabled = true;
    let wanted = FeePolicy {
        fee_ppm: channel.local_policy.fee_ppm + 11,
        disabled: false,
        ..channel.local_policy
    };
    let applied = client.update_policy(&channel, &wanted).await.unwrap();
    let now = sim.state().channel(channel.id).unwrap().local_policy;
    assert_eq!(now.fee_ppm, wanted.fee_ppm, "the fee landed");
    assert!(now.disabled, "the flag stayed");
    assert_eq!(applied, now, "the client says what landed");
}

/// An update that disables a channel and changes a fee, where LND refuses the fee part: the
/// flag is not touched (no status call, so no channel update broadcast for it), the update
/// failed as a whole and the node kept its policy.
#[tokio::test]
async fn a_refused_policy_leaves_the_disabled_flag_alone() {
    let sim = Sim::start(fixture()).await;
    let client = LndClient::connect(&sim.admin_config()).await.unwrap();
    let channel = client.list_channels().await.unwrap().remove(0);
    assert!(!channel.local_policy.disabled);
    let refused_cltv = FeePolicy {
        fee_ppm: channel.local_policy.fee_ppm + 11,
        time_lock_delta: 5,
        disabled: true,
        ..channel.local_policy
    };
    let error = client
        .update_policy(&channel, &refused_cltv)
        .await
        .unwrap_err();
    assert!(matches!(error, NodeError::Rejected { .. }), "{error:?}");
    assert_eq!(
        sim.state().channel(channel.id).unwrap().local_policy,
        channel.local_policy,
        "neither the fee nor the flag changed"
    );
    let status_calls = sim
        .state()
        .calls
        .iter()
        .filter(|m| *m == UPDATE_CHAN_STATUS)
        .count();
    assert_eq!(status_calls, 0, "the flag waits for the policy to land");

    let accepted = FeePolicy {
        time_lock_delta: 40,
        ..refused_cltv
    };
    client.update_policy(&channel, &accepted).await.unwrap();
    assert_eq!(
        sim.state().channel(channel.id).unwrap().local_policy,
        accepted
    );

    // Nor is a refused update that would enable it.
    let disabled = client.list_channels().await.unwrap().remove(0);
    let enable_refused = FeePolicy {
        disabled: false,
        ..refused_cltv
    };
    client
        .update_policy(&disabled, &enable_refused)
        .await
        .unwrap_err();
    let now = sim.state().channel(channel.id).unwrap().local_policy;
    assert_eq!(
        (now.disabled, now.fee_ppm),
        (true, accepted.fee_ppm),
        "still disabled, the refused fee not applied"
    );
}
