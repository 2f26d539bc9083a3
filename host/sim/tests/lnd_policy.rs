//! UpdateChannelPolicy: LND's validation in the simulator, and the client
//! always sending the full policy so nothing is silently zeroed.

mod lnd_support;

use lnd_support::{Sim, admin_request, channel, fixture, raw_client};
use lnpolicy_core::{FeePolicy, NodeClient, NodeError};
use lnpolicy_node::lnd::permissions::UPDATE_CHANNEL_POLICY;
use lnpolicy_node::lnrpc::policy_update_request::Scope;
use lnpolicy_node::lnrpc::{ChannelPoint, PolicyUpdateRequest, channel_point};

fn rejected(err: &NodeError) -> &str {
    match err {
        NodeError::Rejected { method, detail } if *method == UPDATE_CHANNEL_POLICY => detail,
        other => panic!("expected a rejection of UpdateChannelPolicy, got {other:?}"),
    }
}

#[tokio::test]
async fn the_full_policy_is_applied_exactly() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    let channels = client.list_channels().await.unwrap();
    let wanted = FeePolicy {
        base_fee_msat: 250,
        fee_ppm: 777,
        inbound_base_fee_msat: -100,
        inbound_fee_ppm: -300,
        min_htlc_msat: 2_000,
        max_htlc_msat: 1_500_000_000,
        time_lock_delta: 144,
        disabled: false,
    };
    client.update_policy(&channels[1], &wanted).await.unwrap();
    assert_eq!(sim.state().channels[1].local_policy, wanted);
    assert_eq!(
        sim.state().channels[0],
        fixture().channels[0],
        "scoped to one channel"
    );
    let reread = client.list_channels().await.unwrap();
    assert_eq!(reread[1].local_policy, wanted);
}

#[tokio::test]
async fn time_lock_delta_must_be_within_lnds_bounds() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    let ch = &client.list_channels().await.unwrap()[0];
    for (delta, ok) in [(23, false), (24, true), (2016, true), (2017, false)] {
        let policy = FeePolicy {
            time_lock_delta: delta,
            ..ch.local_policy
        };
        let result = client.update_policy(ch, &policy).await;
        if ok {
            result.unwrap();
            assert_eq!(sim.state().channels[0].local_policy.time_lock_delta, delta);
        } else {
            let err = result.unwrap_err();
            assert!(rejected(&err).contains(&format!("time lock delta of {delta} is too")));
            assert!(!err.is_transient());
        }
    }
}

#[tokio::test]
async fn positive_inbound_fees_need_the_node_option() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    let ch = &client.list_channels().await.unwrap()[0];
    let positive = FeePolicy {
        inbound_fee_ppm: 50,
        ..ch.local_policy
    };
    let err = client.update_policy(ch, &positive).await.unwrap_err();
    assert!(rejected(&err).contains("positive values for inbound fee rate ppm are not supported"));
    let positive_base = FeePolicy {
        inbound_base_fee_msat: 1,
        ..ch.local_policy
    };
    let err = client.update_policy(ch, &positive_base).await.unwrap_err();
    assert!(rejected(&err).contains("inbound base fee"));

    sim.state().accept_positive_inbound = true;
    client.update_policy(ch, &positive).await.unwrap();
    assert_eq!(sim.state().channels[0].local_policy.inbound_fee_ppm, 50);
}

#[tokio::test]
async fn an_unknown_channel_comes_back_as_failed_update() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    let ghost = channel(9, false);
    let err = client
        .update_policy(&ghost, &ghost.local_policy)
        .await
        .unwrap_err();
    assert_eq!(err, NodeError::UnknownChannel { channel: ghost.id });
}

/// As LND: a largest HTLC above the max in flight (below capacity) is refused, and the fee
/// sent with it is not applied.
#[tokio::test]
async fn max_htlc_above_the_max_in_flight_is_an_invalid_parameter() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    let ch = &client.list_channels().await.unwrap()[0];
    assert!(ch.max_in_flight_msat < ch.capacity_sat * 1000);
    let policy = FeePolicy {
        max_htlc_msat: ch.max_in_flight_msat + 1,
        fee_ppm: ch.local_policy.fee_ppm + 1,
        ..ch.local_policy
    };
    refused_whole(&client, ch, &policy, "above max pending amount").await;
}

/// A channel whose largest HTLC is above its max in flight (LND once set it to the capacity)
/// still takes a fee change: the client leaves the largest HTLC to LND, which brings it within.
#[tokio::test]
async fn a_fee_change_goes_through_where_the_largest_htlc_is_above_the_max_in_flight() {
    let mut state = fixture();
    let capacity_msat = state.channels[0].capacity_sat * 1000;
    state.channels[0].local_policy.max_htlc_msat = capacity_msat;
    let sim = Sim::start(state).await;
    let client = sim.admin_client().await;
    let ch = &client.list_channels().await.unwrap()[0];
    assert!(ch.local_policy.max_htlc_msat > ch.max_in_flight_msat);
    let policy = FeePolicy {
        fee_ppm: ch.local_policy.fee_ppm + 1,
        ..ch.local_policy
    };
    client.update_policy(ch, &policy).await.unwrap();
    let now = &client.list_channels().await.unwrap()[0];
    assert_eq!(now.local_policy.fee_ppm, policy.fee_ppm);
    assert_eq!(now.local_policy.max_htlc_msat, ch.max_in_flight_msat);
}

/// Sends `policy` for the first channel `ch`, which LND refuses as an invalid parameter with
/// `why` in its message, applying nothing of it (the fee sent with it included).
async fn refused_whole(
    client: &lnpolicy_node::lnd::LndClient,
    ch: &lnpolicy_core::NodeChannel,
    policy: &FeePolicy,
    why: &str,
) {
    let err = client.update_policy(ch, policy).await.unwrap_err();
    let message = rejected(&err);
    assert!(
        message.starts_with("UPDATE_FAILURE_INVALID_PARAMETER"),
        "{message}"
    );
    assert!(message.contains(why), "{message}");
    let now = &client.list_channels().await.unwrap()[0];
    assert_eq!(now.local_policy, ch.local_policy);
}

/// As LND: a smallest HTLC below the channel's negotiated one is refused, and the fee sent with
/// it is not applied.
#[tokio::test]
async fn min_htlc_below_the_negotiated_minimum_is_an_invalid_parameter() {
    let mut state = fixture();
    state.channels[0].min_htlc_msat = 1000;
    let sim = Sim::start(state).await;
    let client = sim.admin_client().await;
    let ch = &client.list_channels().await.unwrap()[0];
    assert_eq!(
        ch.min_htlc_msat, 1000,
        "the client reads the negotiated minimum"
    );
    let policy = FeePolicy {
        min_htlc_msat: ch.min_htlc_msat - 1,
        fee_ppm: ch.local_policy.fee_ppm + 1,
        ..ch.local_policy
    };
    refused_whole(&client, ch, &policy, "below min htlc parameter").await;
    let at_the_minimum = FeePolicy {
        min_htlc_msat: ch.min_htlc_msat,
        ..policy
    };
    client.update_policy(ch, &at_the_minimum).await.unwrap();
}

#[tokio::test]
async fn omitted_fields_are_zeroed_by_lnd_but_never_by_our_client() {
    let sim = Sim::start(fixture()).await;
    let before = fixture().channels[0].local_policy;
    let (txid, index) = fixture().channels[0]
        .channel_point
        .split_once(':')
        .map(|(t, i)| (t.to_owned(), i.parse().unwrap()))
        .unwrap();

    // The trap: a request carrying only the cltv delta, as a naive caller
    // would send to "change the cltv".
    let mut raw = raw_client(&sim).await;
    let request = PolicyUpdateRequest {
        scope: Some(Scope::ChanPoint(ChannelPoint {
            funding_txid: Some(channel_point::FundingTxid::FundingTxidStr(txid)),
            output_index: index,
        })),
        time_lock_delta: 40,
        ..PolicyUpdateRequest::default()
    };
    let reply = raw
        .update_channel_policy(admin_request(&sim, request))
        .await
        .unwrap()
        .into_inner();
    assert!(reply.failed_updates.is_empty());
    let after = sim.state().channels[0].local_policy;
    assert_eq!(
        (after.base_fee_msat, after.fee_ppm),
        (0, 0),
        "LND zeroes omitted fees"
    );
    assert_eq!(after.time_lock_delta, 40);
    assert_eq!(
        after.max_htlc_msat, before.max_htlc_msat,
        "max_htlc 0 = unchanged"
    );
    assert_eq!(
        after.min_htlc_msat, before.min_htlc_msat,
        "min_htlc unflagged = unchanged"
    );
    assert_eq!(
        after.inbound_fee_ppm, before.inbound_fee_ppm,
        "no inbound_fee = unchanged"
    );

    // Our client changing only the cltv sends everything else as it was.
    let client = sim.admin_client().await;
    let ch = &client.list_channels().await.unwrap()[1];
    let policy = FeePolicy {
        time_lock_delta: 40,
        ..ch.local_policy
    };
    client.update_policy(ch, &policy).await.unwrap();
    assert_eq!(sim.state().channels[1].local_policy, policy);
    assert_ne!(policy.base_fee_msat, 0);
    assert_ne!(policy.fee_ppm, 0);
}
