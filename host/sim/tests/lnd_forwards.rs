//! Settled forwards through ForwardingHistory paging, and failed forwards
//! through the HTLC event subscription.

mod lnd_support;

use lnd_support::{
    NANOS, NOW_SECS, Sim, admin_request, failure, fixture, forwards, raw_client, wait_for_failures,
};
use lnpolicy_core::{FailureReason, NodeClient};
use lnpolicy_node::lnrpc::ForwardingHistoryRequest;

#[tokio::test]
async fn paging_returns_every_forward_exactly_once() {
    let mut state = fixture();
    state.forwards = forwards(1_000);
    let sim = Sim::start(state).await;
    let client = sim.admin_client().await;

    let mut seen = Vec::new();
    let mut from = 0;
    loop {
        let page = client.forwards(from, 37).await.unwrap();
        assert!(page.forwards.len() <= 37);
        if page.forwards.is_empty() {
            assert_eq!(page.next_index, from);
            break;
        }
        assert_eq!(page.next_index, from + page.forwards.len() as u64);
        from = page.next_index;
        seen.extend(page.forwards);
    }
    assert_eq!(seen, sim.state().forwards, "all 1000, in order, once each");

    // New forwards after the last page continue from the same index.
    let late = forwards(1_001).pop().unwrap();
    sim.state().forwards.push(late.clone());
    let page = client.forwards(from, 37).await.unwrap();
    assert_eq!(page.forwards, [late]);
}

#[tokio::test]
async fn forwarding_history_follows_lnds_parameters() {
    let mut state = fixture();
    state.forwards = forwards(300);
    let sim = Sim::start(state).await;
    let mut raw = raw_client(&sim).await;
    let mut ask = async |request: ForwardingHistoryRequest| {
        raw.forwarding_history(admin_request(&sim, request))
            .await
            .unwrap()
            .into_inner()
    };

    // num_max_events 0 means 100; end_time 0 means now.
    let page = ask(ForwardingHistoryRequest::default()).await;
    assert_eq!(page.forwarding_events.len(), 100);
    assert_eq!(page.last_offset_index, 100);

    // Both time bounds are inclusive (forward i is at NOW - (300 - i) min).
    let at = |i: u64| NOW_SECS - (300 - i) * 60;
    let page = ask(ForwardingHistoryRequest {
        start_time: at(10),
        end_time: at(20),
        index_offset: 0,
        num_max_events: 1_000,
    })
    .await;
    let times: Vec<u64> = page
        .forwarding_events
        .iter()
        .map(|e| e.timestamp_ns / NANOS)
        .collect();
    assert_eq!(times.first(), Some(&at(10)));
    assert_eq!(times.last(), Some(&at(20)));
    assert_eq!(page.last_offset_index, 11);

    // The offset counts within the time slice.
    let page = ask(ForwardingHistoryRequest {
        start_time: at(10),
        end_time: at(20),
        index_offset: 8,
        num_max_events: 1_000,
    })
    .await;
    assert_eq!(page.forwarding_events.len(), 3);
    assert_eq!(page.last_offset_index, 11);

    // Amounts come both in sat and msat, as LND sends them.
    let e = &page.forwarding_events[0];
    assert_eq!(e.amt_in, e.amt_in_msat / 1000);
    assert_eq!(e.fee_msat, 18);
}

#[tokio::test]
async fn failed_forwards_arrive_through_the_subscription() {
    let mut state = fixture();
    // Failures from before the subscription are not replayed, as in LND.
    state.failures = vec![failure(1, FailureReason::Other)];
    let sim = Sim::start(state).await;
    let client = sim.admin_client().await;

    let reasons = [
        FailureReason::InsufficientBalance,
        FailureReason::FeeInsufficient,
        FailureReason::IncorrectCltv,
        FailureReason::ChannelUnavailable,
        FailureReason::Other,
    ];
    for (i, reason) in reasons.iter().enumerate() {
        let f = failure(2 + i as u64, *reason);
        sim.state().failures.push(f);
    }
    let got = wait_for_failures(&client, reasons.len()).await;
    assert_eq!(got.len(), reasons.len());
    for (got, (i, reason)) in got.iter().zip(reasons.iter().enumerate()) {
        let sent = failure(2 + i as u64, *reason);
        assert_eq!(got.reason, *reason);
        assert_eq!(got.chan_in, sent.chan_in);
        assert_eq!(got.chan_out, sent.chan_out);
        assert_eq!(got.amt_in_msat, sent.amt_in_msat);
        assert_eq!(got.at_ns, sent.at_ns);
    }

    // Paging by the client's own sequence numbers.
    let first = client.failed_forwards(0, 2).await.unwrap();
    assert_eq!(first.failures, got[..2]);
    let rest = client.failed_forwards(first.next_index, 10).await.unwrap();
    assert_eq!(rest.failures, got[2..]);
    let none = client.failed_forwards(rest.next_index, 10).await.unwrap();
    assert!(none.failures.is_empty());
    assert_eq!(none.next_index, rest.next_index);
}
