//! `routerrpc.Router/SubscribeHtlcEvents`: like LND, the stream starts with
//! a `subscribed_event` and then carries only events that happen from then
//! on. Forwards that fail in the market engine (`NodeState::failures`
//! growing) are picked up by polling the state and sent as
//! `link_fail_event`s. `routerrpc.Router/UpdateChanStatus` sets a channel's
//! disabled flag as LND's manual actions do.

use std::sync::Arc;

use lnpolicy_core::{FailedForward, FeePolicy};
use lnpolicy_node::lnd::convert::{channel_point_string, failure_codes};
use lnpolicy_node::lnd::permissions::{SUBSCRIBE_HTLC_EVENTS, UPDATE_CHAN_STATUS};
use lnpolicy_node::routerrpc::htlc_event::{Event, EventType};
use lnpolicy_node::routerrpc::router_server::Router;
use lnpolicy_node::routerrpc::{
    ChanStatusAction, HtlcEvent, HtlcInfo, LinkFailEvent, SubscribeHtlcEventsRequest,
    SubscribedEvent, UpdateChanStatusRequest, UpdateChanStatusResponse,
};
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::Shared;
use crate::state::NodeState;

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

/// LND's rules: DISABLE always disables; ENABLE fails while the peer is offline; AUTO hands
/// the flag back to the peer's online state.
fn update_chan_status(
    state: &mut NodeState,
    req: &UpdateChanStatusRequest,
) -> Result<UpdateChanStatusResponse, Status> {
    let point = req
        .chan_point
        .as_ref()
        .ok_or_else(|| Status::invalid_argument("chan_point is required"))?;
    let point = channel_point_string(point).map_err(Status::invalid_argument)?;
    let channel = state
        .channel_by_point(&point)
        .ok_or_else(|| Status::unknown(format!("unable to find channel {point}")))?;
    let disabled = match ChanStatusAction::try_from(req.action) {
        Ok(ChanStatusAction::Disable) => true,
        Ok(ChanStatusAction::Enable) if !channel.active => {
            return Err(Status::unknown(
                "unable to enable channel which is not currently active",
            ));
        }
        Ok(ChanStatusAction::Enable) => false,
        Ok(ChanStatusAction::Auto) => !channel.active,
        Err(_) => {
            return Err(Status::invalid_argument(format!(
                "unrecognized action {}",
                req.action
            )));
        }
    };
    let (id, policy) = (
        channel.id,
        FeePolicy {
            disabled,
            ..channel.local_policy
        },
    );
    state
        .set_policy(id, policy)
        .map_err(|rejection| Status::unknown(rejection.to_string()))?;
    Ok(UpdateChanStatusResponse {})
}

#[tonic::async_trait]
impl Router for RouterService {
    async fn update_chan_status(
        &self,
        request: Request<UpdateChanStatusRequest>,
    ) -> Result<Response<UpdateChanStatusResponse>, Status> {
        self.shared.admit(UPDATE_CHAN_STATUS, &request).await?;
        update_chan_status(&mut self.shared.state(), request.get_ref()).map(Response::new)
    }

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
