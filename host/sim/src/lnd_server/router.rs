//! `routerrpc.Router/SubscribeHtlcEvents`: like LND, the stream starts with
//! a `subscribed_event` and then carries only events that happen from then
//! on. Forwards that fail in the market engine (`NodeState::failures`
//! growing) are picked up by polling the state and sent as
//! `link_fail_event`s.

use std::sync::Arc;

use lnpolicy_core::FailedForward;
use lnpolicy_node::lnd::convert::failure_codes;
use lnpolicy_node::lnd::permissions::SUBSCRIBE_HTLC_EVENTS;
use lnpolicy_node::routerrpc::htlc_event::{Event, EventType};
use lnpolicy_node::routerrpc::router_server::Router;
use lnpolicy_node::routerrpc::{
    HtlcEvent, HtlcInfo, LinkFailEvent, SubscribeHtlcEventsRequest, SubscribedEvent,
};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::Shared;

pub(super) struct RouterService {
    pub(super) shared: Arc<Shared>,
}

/// How LND reports a forward that failed at our node.
fn link_fail_event(failure: &FailedForward) -> HtlcEvent {
    let (wire, detail, text) = failure_codes(failure.reason);
    HtlcEvent {
        incoming_channel_id: failure.chan_in,
        outgoing_channel_id: failure.chan_out.unwrap_or(0),
        incoming_htlc_id: failure.index,
        outgoing_htlc_id: 0,
        timestamp_ns: failure.at_ns,
        event_type: EventType::Forward as i32,
        event: Some(Event::LinkFailEvent(LinkFailEvent {
            info: Some(HtlcInfo {
                incoming_amt_msat: failure.amt_in_msat,
                ..HtlcInfo::default()
            }),
            wire_failure: wire as i32,
            failure_detail: detail as i32,
            failure_string: text.to_owned(),
        })),
    }
}

#[tonic::async_trait]
impl Router for RouterService {
    type SubscribeHtlcEventsStream = ReceiverStream<Result<HtlcEvent, Status>>;

    async fn subscribe_htlc_events(
        &self,
        request: Request<SubscribeHtlcEventsRequest>,
    ) -> Result<Response<Self::SubscribeHtlcEventsStream>, Status> {
        self.shared.admit(SUBSCRIBE_HTLC_EVENTS, &request).await?;
        let shared = self.shared.clone();
        let mut seen = shared.state().failures.len();
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            let subscribed = HtlcEvent {
                event: Some(Event::SubscribedEvent(SubscribedEvent {})),
                ..HtlcEvent::default()
            };
            if tx.send(Ok(subscribed)).await.is_err() {
                return;
            }
            let mut tick = tokio::time::interval(shared.poll_interval);
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = tx.closed() => return,
                    _ = tick.tick() => {}
                }
                let fresh: Vec<FailedForward> = {
                    let state = shared.state();
                    // The engine may reset its log; follow it rather than stall.
                    seen = seen.min(state.failures.len());
                    state.failures[seen..].to_vec()
                };
                seen += fresh.len();
                for failure in &fresh {
                    if tx.send(Ok(link_fail_event(failure))).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
