//! Settled forwards through ForwardingHistory paging, and failed forwards
//! through the HTLC event subscription.

mod lnd_support;

use lnd_support::{
    NANOS, NOW_SECS, Sim, admin_request, failure, fixture, forwards, keyed_by_time, raw_client,
    wait_for_failures,
};
use lnpolicy_core::{FailureReason, Forward, NodeClient};
use lnpolicy_node::lnrpc::ForwardingHistoryRequest;

/// Pages through the client until an empty page; each page's cursor is its last forward's.
async fn read_all(client: &impl NodeClient, mut from: u64, limit: u32) -> (Vec<Forward>, u64) {
    let mut seen = Vec::new();
    loop {
        let page = client.forwards(from, limit).await.unwrap();
        assert!(page.forwards.len() <= limit as usize);
        let Some(last) = page.forwards.last() else {
            assert_eq!(page.next_index, from);
            return (seen, from);
        };
        assert_eq!(page.next_index, last.index);
        from = page.next_index;
        seen.extend(page.forwards);
    }
}

#[tokio::test]
async fn paging_returns_every_forward_exactly_once() {
    let mut state = fixture();
    state.forwards = forwards(1_000);
    let sim = Sim::start(state).await;
    let client = sim.admin_client().await;

    let (seen, from) = read_all(&client, 0, 37).await;
    assert_eq!(
        seen,
        keyed_by_time(&sim.state().forwards),
        "all 1000, in order, once each"
    );

    // New forwards after the last page continue from the same cursor.
    let late = settle_more(&sim, 1);
    let page = client.forwards(from, 37).await.unwrap();
    assert_eq!(page.forwards, keyed_by_time(&late));
}

/// `count` more forwards on the node, one a second after its last, with the clock moved on.
fn settle_more(sim: &Sim, count: u64) -> Vec<Forward> {
    let mut node = sim.state();
    let last = node.forwards.last().unwrap().clone();
    let more: Vec<Forward> = (1..=count)
        .map(|i| Forward {
            index: last.index + i,
            at_ns: last.at_ns + i * NANOS,
            fee_msat: last.fee_msat + i,
            ..last.clone()
        })
        .collect();
    node.forwards.extend_from_slice(&more);
    node.now_ns = node.now_ns.max(more.last().unwrap().at_ns);
    more
}

/// LND's `start_time` is whole seconds: forwards sharing the cursor's second, more than a
/// page of them, are read past without a repeat or a gap.
#[tokio::test]
async fn a_busy_second_is_paged_through_once() {
    let mut state = fixture();
    let second = (NOW_SECS - 10) * NANOS;
    state.forwards = forwards(250)
        .into_iter()
        .enumerate()
        .map(|(i, f)| Forward {
            at_ns: second + 1_000 * i as u64,
            ..f
        })
        .collect();
    let sim = Sim::start(state).await;
    let client = sim.admin_client().await;
    let (seen, _) = read_all(&client, 0, 7).await;
    assert_eq!(seen, keyed_by_time(&sim.state().forwards));
}

/// `lncli deletefwdhistory` removes the start of LND's log, which moves every offset down.
/// The cursor is a time, so the forwards settled after the deletion all arrive.
#[tokio::test]
async fn deleting_the_start_of_the_log_loses_no_new_forward() {
    let mut state = fixture();
    state.forwards = forwards(400);
    let sim = Sim::start(state).await;
    let client = sim.admin_client().await;
    let (_, from) = read_all(&client, 0, 50).await;

    let cut = sim.state().forwards[300].at_ns;
    sim.state().forwards.retain(|f| f.at_ns >= cut);
    let new = settle_more(&sim, 5);
    let (after, _) = read_all(&client, from, 50).await;
    assert_eq!(after, keyed_by_time(&new), "the five new forwards");
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
