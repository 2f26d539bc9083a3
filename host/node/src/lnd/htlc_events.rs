//! Failed forwards for LND, which keeps no log of them: a background task
//! holds a `routerrpc.SubscribeHtlcEvents` stream open, buffers every
//! forward that failed at our node (`link_fail_event`) in a bounded ring,
//! and `failed_forwards` pages through that ring.
//!
//! Indexes are sequence numbers whose base is the wall clock (unix
//! nanoseconds) when the client started, then +1 per event. So they only
//! grow, also across daemon restarts: a resume point stored by a previous
//! run is below every index of this run and the caller simply gets
//! everything buffered. What LND emitted while no subscription was open
//! (daemon down, connection lost) is gone. LND may send an event again after
//! it restarts; the buffer drops an event whose HTLC (incoming and outgoing
//! channel and HTLC ids) it has already recorded, as LND's API asks.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lnpolicy_core::{FailedForward, FailedForwardPage, NodeError};
use tokio::sync::watch;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::Channel;
use tracing::{debug, info, warn};

use super::convert::failure_reason;
use super::errors::map_status;
use super::permissions::{Permission, SUBSCRIBE_HTLC_EVENTS};
use crate::routerrpc::htlc_event::{Event, EventType};
use crate::routerrpc::router_client::RouterClient;
use crate::routerrpc::{HtlcEvent, SubscribeHtlcEventsRequest};

const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Where the subscription stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionStatus {
    /// Not yet confirmed by the node.
    Connecting,
    /// The node confirmed it (`subscribed_event`): failures are captured.
    Live,
    /// Lost; the task is reconnecting. Failures in the gap are missed.
    Down(NodeError),
    /// The node refused it for good (the macaroon lacks offchain:read).
    Refused(NodeError),
}

/// An HTLC as LND identifies it: incoming channel and HTLC id, outgoing channel and HTLC id.
type HtlcKey = (u64, u64, u64, u64);

struct Ring {
    events: VecDeque<FailedForward>,
    capacity: usize,
    next_index: u64,
    /// This process's indexes are above it (the wall clock when the buffer was made).
    origin: u64,
    /// Whether a page has been asked for: the first ask may move the indexes up.
    asked: bool,
    /// Events evicted unread since the last warning.
    evicted: u64,
    /// The HTLCs of the last `capacity` failures recorded, to drop LND's replays.
    seen: HashSet<HtlcKey>,
    seen_order: VecDeque<HtlcKey>,
}

/// The ring of buffered failures plus the subscription's status.
pub struct FailureBuffer {
    ring: Mutex<Ring>,
    status: watch::Sender<SubscriptionStatus>,
}

impl FailureBuffer {
    pub fn new(capacity: usize) -> Self {
        let base = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX / 2))
            .unwrap_or(0);
        FailureBuffer {
            ring: Mutex::new(Ring {
                events: VecDeque::with_capacity(capacity.min(4096)),
                capacity: capacity.max(1),
                next_index: base + 1,
                origin: base,
                asked: false,
                evicted: 0,
                seen: HashSet::new(),
                seen_order: VecDeque::new(),
            }),
            status: watch::channel(SubscriptionStatus::Connecting).0,
        }
    }

    pub fn status(&self) -> SubscriptionStatus {
        self.status.borrow().clone()
    }

    pub fn subscribe_status(&self) -> watch::Receiver<SubscriptionStatus> {
        self.status.subscribe()
    }

    fn set_status(&self, status: SubscriptionStatus) {
        self.status.send_replace(status);
    }

    /// Buffers a forwarding failure at our node; other events are ignored.
    fn record(&self, event: &HtlcEvent) {
        let Some(Event::LinkFailEvent(fail)) = &event.event else {
            return;
        };
        // Receives and sends fail through links too; only forwards matter.
        if event.event_type() != EventType::Forward {
            return;
        }
        let mut ring = self.ring.lock().expect("failure ring lock");
        let key = (
            event.incoming_channel_id,
            event.incoming_htlc_id,
            event.outgoing_channel_id,
            event.outgoing_htlc_id,
        );
        if !ring.seen.insert(key) {
            debug!(?key, "HTLC event replayed by LND; already recorded");
            return;
        }
        ring.seen_order.push_back(key);
        if ring.seen_order.len() > ring.capacity
            && let Some(oldest) = ring.seen_order.pop_front()
        {
            ring.seen.remove(&oldest);
        }
        let index = ring.next_index;
        ring.next_index += 1;
        if ring.events.len() == ring.capacity {
            ring.events.pop_front();
            ring.evicted += 1;
        }
        ring.events.push_back(FailedForward {
            index,
            at_ns: event.timestamp_ns,
            chan_in: event.incoming_channel_id,
            chan_out: (event.outgoing_channel_id != 0).then_some(event.outgoing_channel_id),
            amt_in_msat: fail.info.map_or(0, |info| info.incoming_amt_msat),
            reason: failure_reason(fail.wire_failure(), fail.failure_detail()),
        });
    }

    /// Buffered failures after `from_index`, oldest first.
    pub fn page(&self, from_index: u64, limit: u32) -> Result<FailedForwardPage, NodeError> {
        if let SubscriptionStatus::Refused(err) = self.status() {
            return Err(err);
        }
        let mut ring = self.ring.lock().expect("failure ring lock");
        if !ring.asked {
            ring.asked = true;
            // A cursor among this process's indexes was left by an earlier process
            // whose clock ran ahead of this one's start: the indexes move above it once, so
            // they still grow across restarts instead of hiding below the cursor.
            if from_index > ring.origin {
                let shift = from_index - ring.origin;
                warn!(
                    shift,
                    "failed-forward indexes start below the stored cursor (the clock went back since the last run); moved above it"
                );
                ring.origin += shift;
                ring.next_index += shift;
                for event in &mut ring.events {
                    event.index += shift;
                }
            }
        }
        if ring.evicted > 0 {
            warn!(
                evicted = ring.evicted,
                capacity = ring.capacity,
                "failed-forward buffer overflowed; the oldest failures were dropped unread"
            );
            ring.evicted = 0;
        }
        let start = ring.events.partition_point(|f| f.index <= from_index);
        let failures: Vec<FailedForward> = ring
            .events
            .iter()
            .skip(start)
            .take(limit as usize)
            .cloned()
            .collect();
        let next_index = failures.last().map_or(from_index, |f| f.index);
        Ok(FailedForwardPage {
            failures,
            next_index,
        })
    }
}

/// Keeps the subscription open for the client's lifetime, reconnecting with
/// backoff; stops only if the node refuses it for good.
pub async fn run(
    router: RouterClient<Channel>,
    macaroon: MetadataValue<Ascii>,
    granted: Arc<Vec<Permission>>,
    buffer: Arc<FailureBuffer>,
) {
    let mut retry = FIRST_RETRY;
    loop {
        let mut request = tonic::Request::new(SubscribeHtlcEventsRequest {});
        request.metadata_mut().insert("macaroon", macaroon.clone());
        match router.clone().subscribe_htlc_events(request).await {
            Ok(response) => {
                let mut stream = response.into_inner();
                let ended = loop {
                    match stream.message().await {
                        Ok(Some(event)) => {
                            if let Some(Event::SubscribedEvent(_)) = event.event {
                                info!("HTLC event subscription live");
                                buffer.set_status(SubscriptionStatus::Live);
                                retry = FIRST_RETRY;
                            }
                            buffer.record(&event);
                        }
                        Ok(None) => {
                            break NodeError::Unavailable {
                                method: SUBSCRIBE_HTLC_EVENTS,
                                detail: "the node ended the stream".into(),
                            };
                        }
                        Err(status) => break map_status(SUBSCRIBE_HTLC_EVENTS, &status, &granted),
                    }
                };
                warn!(error = %ended, "HTLC event subscription lost; failures are missed until it is back");
                buffer.set_status(SubscriptionStatus::Down(ended));
            }
            Err(status) => {
                let err = map_status(SUBSCRIBE_HTLC_EVENTS, &status, &granted);
                if matches!(err, NodeError::PermissionDenied { .. }) {
                    warn!(error = %err, "LND refused the HTLC event subscription; failed forwards are unavailable");
                    buffer.set_status(SubscriptionStatus::Refused(err));
                    return;
                }
                debug!(error = %err, "HTLC event subscription failed; retrying");
                buffer.set_status(SubscriptionStatus::Down(err));
            }
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(MAX_RETRY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lnrpc::failure::FailureCode;
    use crate::routerrpc::{FailureDetail, HtlcInfo, LinkFailEvent, SubscribedEvent};
    use lnpolicy_core::FailureReason;

    fn link_fail(chan_in: u64, event_type: EventType) -> HtlcEvent {
        HtlcEvent {
            incoming_channel_id: chan_in,
            outgoing_channel_id: 7,
            timestamp_ns: 1_000,
            event_type: event_type as i32,
            event: Some(Event::LinkFailEvent(LinkFailEvent {
                info: Some(HtlcInfo {
                    incoming_amt_msat: 5_000,
                    ..Default::default()
                }),
                wire_failure: FailureCode::TemporaryChannelFailure as i32,
                failure_detail: FailureDetail::InsufficientBalance as i32,
                failure_string: String::new(),
            })),
            ..Default::default()
        }
    }

    #[test]
    fn pages_forward_failures_only() {
        let buffer = FailureBuffer::new(10);
        buffer.record(&link_fail(1, EventType::Forward));
        buffer.record(&link_fail(2, EventType::Receive));
        buffer.record(&HtlcEvent {
            event: Some(Event::SubscribedEvent(SubscribedEvent {})),
            ..Default::default()
        });
        buffer.record(&link_fail(3, EventType::Forward));
        let page = buffer.page(0, 10).unwrap();
        assert_eq!(page.failures.len(), 2);
        assert_eq!(page.failures[0].chan_in, 1);
        assert_eq!(page.failures[0].reason, FailureReason::InsufficientBalance);
        assert_eq!(page.failures[0].amt_in_msat, 5_000);
        assert_eq!(page.failures[1].index, page.failures[0].index + 1);
        assert_eq!(page.next_index, page.failures[1].index);
        let rest = buffer.page(page.next_index, 10).unwrap();
        assert!(rest.failures.is_empty());
        assert_eq!(rest.next_index, page.next_index);
    }

    #[test]
    fn ring_drops_oldest_and_limit_applies() {
        let buffer = FailureBuffer::new(3);
        for chan in 1..=5 {
            buffer.record(&link_fail(chan, EventType::Forward));
        }
        let page = buffer.page(0, 2).unwrap();
        let chans: Vec<u64> = page.failures.iter().map(|f| f.chan_in).collect();
        assert_eq!(chans, [3, 4]);
        let next = buffer.page(page.next_index, 10).unwrap();
        assert_eq!(next.failures.len(), 1);
        assert_eq!(next.failures[0].chan_in, 5);
    }

    #[test]
    fn an_event_lnd_replays_is_recorded_once() {
        let buffer = FailureBuffer::new(10);
        let first = HtlcEvent {
            incoming_htlc_id: 41,
            outgoing_htlc_id: 9,
            ..link_fail(1, EventType::Forward)
        };
        buffer.record(&first);
        buffer.record(&first);
        buffer.record(&HtlcEvent {
            incoming_htlc_id: 42,
            ..first.clone()
        });
        let page = buffer.page(0, 10).unwrap();
        assert_eq!(
            page.failures.len(),
            2,
            "the replay is dropped, the next HTLC kept"
        );
    }

    /// The last run's cursor is ahead of this run's start (the clock went back between): the
    /// first page moves the indexes above it, so the failures are read, and later ones too.
    #[test]
    fn a_cursor_ahead_of_this_runs_indexes_moves_them_above_it() {
        let buffer = FailureBuffer::new(10);
        buffer.record(&link_fail(1, EventType::Forward));
        let cursor = buffer.ring.lock().unwrap().next_index + 3_600_000_000_000;
        let page = buffer.page(cursor, 10).unwrap();
        assert_eq!(page.failures.len(), 1);
        assert_eq!(page.failures[0].index, cursor + 1);
        buffer.record(&link_fail(2, EventType::Forward));
        let next = buffer.page(page.next_index, 10).unwrap();
        assert_eq!(next.failures.len(), 1);
        assert_eq!(next.failures[0].index, cursor + 2);
    }

    #[test]
    fn a_cursor_below_this_runs_indexes_leaves_them() {
        let buffer = FailureBuffer::new(10);
        buffer.record(&link_fail(1, EventType::Forward));
        let first = buffer.ring.lock().unwrap().next_index - 1;
        let page = buffer.page(first - 10, 10).unwrap();
        assert_eq!(page.failures[0].index, first);
    }

    #[test]
    fn refused_subscription_is_an_error() {
        let buffer = FailureBuffer::new(3);
        let err = NodeError::PermissionDenied {
            method: SUBSCRIBE_HTLC_EVENTS,
            detail: "permission denied".into(),
        };
        buffer.set_status(SubscriptionStatus::Refused(err.clone()));
        assert_eq!(buffer.page(0, 1), Err(err));
    }
}
