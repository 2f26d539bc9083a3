//! Fault injection: injected errors and dropped connections are transient
//! to the client, and a retry loop still gets every answer right; latency
//! beyond the call timeout is a timeout.

mod lnd_support;

use std::collections::BTreeMap;
use std::time::Duration;

use lnd_support::{
    Sim, failure, fixture, forwards, keyed_by_time, peer_key, retry, wait_for_failures,
};
use lnpolicy_core::{FailureReason, FeePolicy, NodeClient, NodeError};
use lnpolicy_node::lnd::SubscriptionStatus;
use lnpolicy_node::lnd::permissions::{
    ESTIMATE_FEE, FORWARDING_HISTORY, GET_INFO, GET_NODE_INFO, GET_TRANSACTIONS,
};
use lnpolicy_sim::cln_server::{FaultConfig, MethodFaults};

fn errors(rate: f64) -> MethodFaults {
    MethodFaults {
        error_rate: rate,
        ..MethodFaults::default()
    }
}

#[tokio::test]
async fn ten_percent_errors_are_transient_and_retries_get_everything() {
    let mut state = fixture();
    state.forwards = forwards(1_000);
    let sim = Sim::start(state).await;
    let client = sim.admin_client().await;
    sim.server.set_faults(FaultConfig::uniform(42, errors(0.1)));

    let mut transient = 0;
    let mut collected = Vec::new();
    let mut from = 0;
    loop {
        let (page, failures) = retry(|| client.forwards(from, 37)).await;
        transient += failures;
        if page.forwards.is_empty() {
            break;
        }
        from = page.next_index;
        collected.extend(page.forwards);
    }
    assert_eq!(collected, keyed_by_time(&sim.state().forwards));

    let peer = peer_key(1);
    for _ in 0..10 {
        let (channels, failures) = retry(|| client.list_channels()).await;
        transient += failures;
        assert_eq!(channels, sim.state().channels);
        let (info, failures) = retry(|| client.peer_info(&peer)).await;
        transient += failures;
        assert_eq!(info.unwrap().fee_rates_ppm, [10, 20]);
    }

    let ch = sim.state().channels[0].clone();
    let policy = FeePolicy {
        fee_ppm: 4321,
        ..ch.local_policy
    };
    let (applied, failures) = retry(|| client.update_policy(&ch, &policy)).await;
    transient += failures;
    assert_eq!(sim.state().channels[0].local_policy, policy);
    assert_eq!(applied, policy);

    // ~27 pages + 10 × (4 + 1) calls + 1 at 10%: some must have failed.
    assert!(transient >= 3, "only {transient} transient errors");
    let calls = sim.state().calls.len();
    assert!(calls > 80, "{calls} calls");
}

#[tokio::test]
async fn injected_errors_name_the_method() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    sim.server.set_faults(FaultConfig {
        seed: 1,
        default: MethodFaults::default(),
        per_method: BTreeMap::from([(GET_INFO.to_owned(), errors(1.0))]),
    });
    let err = client.get_info().await.unwrap_err();
    assert!(
        matches!(&err, NodeError::Unavailable { method, .. } if *method == GET_INFO),
        "{err:?}"
    );
    assert!(err.is_transient());
    // Other methods are unaffected.
    client.forwards(0, 1).await.unwrap();
}

#[tokio::test]
async fn failing_wallet_and_graph_reads_are_node_errors() {
    let sim = Sim::start(fixture()).await;
    let client = sim.admin_client().await;
    sim.server.set_faults(FaultConfig {
        seed: 3,
        default: MethodFaults::default(),
        per_method: BTreeMap::from([
            (ESTIMATE_FEE.to_owned(), errors(1.0)),
            (GET_TRANSACTIONS.to_owned(), errors(1.0)),
            (GET_NODE_INFO.to_owned(), errors(1.0)),
        ]),
    });
    let named = |err: NodeError, expected: &str| {
        assert!(
            matches!(&err, NodeError::Unavailable { method, .. } if *method == expected),
            "{err:?}"
        );
        assert!(err.is_transient());
    };
    named(client.fee_rate(6).await.unwrap_err(), ESTIMATE_FEE);
    named(
        client.funding_fees(&["01".repeat(32)]).await.unwrap_err(),
        GET_TRANSACTIONS,
    );
    named(
        client.peer_info(&peer_key(1)).await.unwrap_err(),
        GET_NODE_INFO,
    );

    // LND's own refusal is a rejection, not a panic or a transport error.
    sim.server.set_faults(FaultConfig::default());
    let raw = lnd_support::raw_wallet_client(&sim).await;
    let status = raw
        .clone()
        .estimate_fee(lnd_support::admin_request(
            &sim,
            lnpolicy_node::walletrpc::EstimateFeeRequest { conf_target: 1 },
        ))
        .await
        .unwrap_err();
    assert!(status.message().contains("greater than 1"), "{status:?}");
    // The client never sends such a target.
    assert_eq!(client.fee_rate(1).await.unwrap(), Some(20.0));
}

#[tokio::test]
async fn dropped_connections_reconnect_and_the_subscription_resumes() {
    let mut state = fixture();
    state.forwards = forwards(500);
    let sim = Sim::start(state).await;
    let client = sim.admin_client().await;
    sim.server.set_faults(FaultConfig {
        seed: 7,
        default: MethodFaults::default(),
        per_method: BTreeMap::from([(
            FORWARDING_HISTORY.to_owned(),
            MethodFaults {
                drop_rate: 0.2,
                ..MethodFaults::default()
            },
        )]),
    });

    let mut drops = 0;
    let mut collected = Vec::new();
    let mut from = 0;
    loop {
        let (page, failures) = retry(|| client.forwards(from, 25)).await;
        drops += failures;
        if page.forwards.is_empty() {
            break;
        }
        from = page.next_index;
        collected.extend(page.forwards);
    }
    assert_eq!(collected, keyed_by_time(&sim.state().forwards));
    assert!(drops > 0, "no connection was dropped");

    // The HTLC stream shared the dropped connections; it comes back by
    // itself and captures new failures again.
    sim.server.set_faults(FaultConfig::default());
    for _ in 0..500 {
        if client.subscription_status() == SubscriptionStatus::Live {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(client.subscription_status(), SubscriptionStatus::Live);
    sim.state()
        .failures
        .push(failure(1, FailureReason::InsufficientBalance));
    let got = wait_for_failures(&client, 1).await;
    assert_eq!(got[0].reason, FailureReason::InsufficientBalance);
}

/// A simulated LND whose `method` answers 400 ms late, and a client that waits 100 ms.
async fn answering_late(method: &str) -> (Sim, lnpolicy_node::lnd::LndClient) {
    let sim = Sim::start(fixture()).await;
    let mut config = sim.admin_config();
    config.call_timeout = Duration::from_millis(100);
    let client = lnpolicy_node::lnd::LndClient::connect(&config)
        .await
        .unwrap();
    sim.server.set_faults(FaultConfig {
        seed: 1,
        default: MethodFaults::default(),
        per_method: BTreeMap::from([(
            method.to_owned(),
            MethodFaults {
                latency: Duration::from_millis(400),
                ..MethodFaults::default()
            },
        )]),
    });
    (sim, client)
}

#[tokio::test]
async fn latency_beyond_the_call_timeout_is_a_timeout() {
    let (_sim, client) = answering_late(GET_INFO).await;
    let err = client.get_info().await.unwrap_err();
    assert_eq!(err, NodeError::Timeout { method: GET_INFO });
    assert!(err.is_transient());
}

/// A status call without an answer may have changed the flag and broadcast a second channel
/// update: the update's outcome is unknown (its intent stays pending, counted as sent whole),
/// not a policy that landed with the flag as it was.
#[tokio::test]
async fn a_status_call_without_an_answer_leaves_the_update_unknown() {
    use lnpolicy_node::lnd::permissions::UPDATE_CHAN_STATUS;
    let (sim, client) = answering_late(UPDATE_CHAN_STATUS).await;
    let channel = client.list_channels().await.unwrap().remove(0);
    let disabled_dearer = FeePolicy {
        fee_ppm: channel.local_policy.fee_ppm + 7,
        disabled: true,
        ..channel.local_policy
    };
    let err = client
        .update_policy(&channel, &disabled_dearer)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        NodeError::Timeout {
            method: UPDATE_CHAN_STATUS
        }
    );
    assert!(err.outcome_unknown());
    assert_eq!(
        sim.state()
            .channel(channel.id)
            .unwrap()
            .local_policy
            .fee_ppm,
        disabled_dearer.fee_ppm,
        "the policy call landed first"
    );
}
