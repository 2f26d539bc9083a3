//! `lnrpc.Lightning` over the simulated node: each RPC is admitted (call
//! recorded, faults, macaroon), then answered from `NodeState` by a plain
//! function with LND's semantics.

use std::sync::Arc;

use lnpolicy_core::{FeePolicy, NodeChannel};
use lnpolicy_node::lnd::convert::channel_point_string;
use lnpolicy_node::lnd::permissions::{
    DESCRIBE_GRAPH, FEE_REPORT, FORWARDING_HISTORY, GET_CHAN_INFO, GET_INFO, GET_NODE_INFO,
    GET_TRANSACTIONS, LIST_CHANNELS, LIST_PAYMENTS, UPDATE_CHANNEL_POLICY,
};
use lnpolicy_node::lnrpc::lightning_server::Lightning;
use lnpolicy_node::lnrpc::policy_update_request::Scope;
use lnpolicy_node::lnrpc::{
    self, ChanInfoRequest, Channel, ChannelConstraints, ChannelEdge, ChannelFeeReport,
    ChannelGraph, ChannelGraphRequest, FailedUpdate, FeeReportRequest, FeeReportResponse,
    ForwardingEvent, ForwardingHistoryRequest, ForwardingHistoryResponse, GetInfoRequest,
    GetInfoResponse, GetTransactionsRequest, Hop, Htlc, HtlcAttempt, LightningNode,
    ListChannelsRequest, ListChannelsResponse, ListPaymentsRequest, ListPaymentsResponse, NodeInfo,
    NodeInfoRequest, OutPoint, Payment, PolicyUpdateRequest, PolicyUpdateResponse, Route,
    RoutingPolicy, Transaction, TransactionDetails, UpdateFailure,
};
use tonic::{Request, Response, Status};

use super::Shared;
use crate::state::{
    GraphChannel, MAX_TIME_LOCK_DELTA, MIN_TIME_LOCK_DELTA, NodeState, PolicyRejection, Rebalance,
    RebalanceState,
};

const NANOS: u64 = 1_000_000_000;
/// ForwardingHistory's default page size when `num_max_events` is 0.
pub(super) const DEFAULT_MAX_EVENTS: u32 = 100;
/// LND's cap on one ForwardingHistory response.
pub(super) const MAX_RESPONSE_EVENTS: u32 = 50_000;

pub(super) struct LightningService {
    pub(super) shared: Arc<Shared>,
}

fn i64_of(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn last_update(state: &NodeState, channel: u64) -> u64 {
    state
        .policy_updated_at
        .iter()
        .find(|(c, _)| *c == channel)
        .map_or(0, |(_, at)| *at)
}

fn routing_policy(policy: &FeePolicy, last_update: u64) -> RoutingPolicy {
    RoutingPolicy {
        time_lock_delta: policy.time_lock_delta,
        min_htlc: i64_of(policy.min_htlc_msat),
        fee_base_msat: i64::from(policy.base_fee_msat),
        fee_rate_milli_msat: i64::from(policy.fee_ppm),
        disabled: policy.disabled,
        max_htlc_msat: policy.max_htlc_msat,
        last_update: u32::try_from(last_update).unwrap_or(u32::MAX),
        inbound_fee_base_msat: policy.inbound_base_fee_msat,
        inbound_fee_rate_milli_msat: policy.inbound_fee_ppm,
    }
}

/// Our channel as a graph edge; node1 is the lexicographically smaller key,
/// as in LND's graph.
fn our_edge(state: &NodeState, ch: &NodeChannel) -> ChannelEdge {
    let me = &state.info.pubkey;
    let ours = Some(routing_policy(&ch.local_policy, last_update(state, ch.id)));
    let theirs = ch.peer_policy.as_ref().map(|p| routing_policy(p, 0));
    let (node1_pub, node2_pub, node1_policy, node2_policy) = if *me <= ch.peer_pubkey {
        (me.clone(), ch.peer_pubkey.clone(), ours, theirs)
    } else {
        (ch.peer_pubkey.clone(), me.clone(), theirs, ours)
    };
    ChannelEdge {
        channel_id: ch.id,
        chan_point: ch.channel_point.clone(),
        node1_pub,
        node2_pub,
        capacity: i64_of(ch.capacity_sat),
        node1_policy,
        node2_policy,
    }
}

fn graph_edge(g: &GraphChannel) -> ChannelEdge {
    ChannelEdge {
        channel_id: g.id,
        chan_point: g.channel_point.clone(),
        node1_pub: g.node1_pubkey.clone(),
        node2_pub: g.node2_pubkey.clone(),
        capacity: i64_of(g.capacity_sat),
        node1_policy: Some(routing_policy(&g.node1_policy, g.last_update)),
        node2_policy: Some(routing_policy(&g.node2_policy, g.last_update)),
    }
}

fn node(state: &NodeState, pub_key: &str) -> LightningNode {
    let is_me = pub_key == state.info.pubkey;
    LightningNode {
        last_update: 0,
        pub_key: pub_key.to_owned(),
        alias: if is_me {
            state.info.alias.clone()
        } else {
            String::new()
        },
        color: "#3399ff".into(),
    }
}

pub(super) fn get_info(state: &NodeState, network: &str) -> GetInfoResponse {
    let active = state.channels.iter().filter(|c| c.active).count();
    let mut peers: Vec<&str> = state
        .channels
        .iter()
        .map(|c| c.peer_pubkey.as_str())
        .collect();
    peers.sort_unstable();
    peers.dedup();
    GetInfoResponse {
        version: state.info.version.clone(),
        identity_pubkey: state.info.pubkey.clone(),
        alias: state.info.alias.clone(),
        num_active_channels: u32::try_from(active).unwrap_or(u32::MAX),
        num_inactive_channels: u32::try_from(state.channels.len() - active).unwrap_or(u32::MAX),
        num_peers: u32::try_from(peers.len()).unwrap_or(u32::MAX),
        block_height: state.info.block_height,
        best_header_timestamp: i64_of(state.now_secs()),
        synced_to_chain: state.info.synced_to_chain,
        synced_to_graph: state.info.synced_to_graph,
        chains: vec![lnrpc::Chain {
            chain: "bitcoin".into(),
            network: network.to_owned(),
        }],
    }
}

/// LND reports HTLC amounts in whole satoshis (the simulator's are whole).
fn pending_htlcs(ch: &NodeChannel) -> Vec<Htlc> {
    ch.pending_htlcs
        .iter()
        .zip(0u64..)
        .map(|(htlc, i)| Htlc {
            incoming: htlc.incoming,
            amount: i64_of(htlc.amount_msat / 1000),
            hash_lock: hex::decode(format!("{:048x}{i:016x}", ch.id)).unwrap_or_default(),
            expiration_height: htlc.expiry_height,
            htlc_index: i,
            ..Htlc::default()
        })
        .collect()
}

fn channel(ch: &NodeChannel) -> Channel {
    // Local constraints bound what we may offer the peer (see the client).
    let constraints = |reserve: u64| ChannelConstraints {
        csv_delay: 144,
        chan_reserve_sat: reserve,
        dust_limit_sat: 354,
        max_pending_amt_msat: ch.max_in_flight_msat,
        min_htlc_msat: ch.min_htlc_msat,
        max_accepted_htlcs: ch.max_accepted_htlcs,
    };
    Channel {
        active: ch.active,
        remote_pubkey: ch.peer_pubkey.clone(),
        channel_point: ch.channel_point.clone(),
        chan_id: ch.id,
        capacity: i64_of(ch.capacity_sat),
        local_balance: i64_of(ch.local_balance_sat),
        remote_balance: i64_of(ch.remote_balance_sat),
        commit_fee: i64_of(ch.commit_fee_sat),
        unsettled_balance: i64_of(ch.unsettled_balance_sat),
        total_satoshis_sent: i64_of(ch.total_sent_sat),
        total_satoshis_received: i64_of(ch.total_received_sat),
        pending_htlcs: pending_htlcs(ch),
        private: ch.private,
        initiator: ch.initiator,
        local_constraints: Some(constraints(ch.local_reserve_sat)),
        remote_constraints: Some(constraints(ch.remote_reserve_sat)),
    }
}

pub(super) fn list_channels(
    state: &NodeState,
    req: &ListChannelsRequest,
) -> Result<ListChannelsResponse, Status> {
    if req.active_only && req.inactive_only {
        return Err(Status::unknown(
            "either `active_only` or `inactive_only` can be set, but not both",
        ));
    }
    if req.public_only && req.private_only {
        return Err(Status::unknown(
            "either `public_only` or `private_only` can be set, but not both",
        ));
    }
    let peer = hex::encode(&req.peer);
    let channels = state
        .channels
        .iter()
        .filter(|c| {
            if c.active {
                !req.inactive_only
            } else {
                !req.active_only
            }
        })
        .filter(|c| {
            if c.private {
                !req.public_only
            } else {
                !req.private_only
            }
        })
        .filter(|c| req.peer.is_empty() || c.peer_pubkey == peer)
        .map(channel)
        .collect();
    Ok(ListChannelsResponse { channels })
}

pub(super) fn describe_graph(state: &NodeState, req: &ChannelGraphRequest) -> ChannelGraph {
    let mut edges: Vec<ChannelEdge> = state
        .channels
        .iter()
        .filter(|c| req.include_unannounced || !c.private)
        .map(|c| our_edge(state, c))
        .collect();
    edges.extend(state.graph.iter().map(graph_edge));
    let mut keys: Vec<&str> = vec![state.info.pubkey.as_str()];
    for edge in &edges {
        keys.push(&edge.node1_pub);
        keys.push(&edge.node2_pub);
    }
    keys.sort_unstable();
    keys.dedup();
    let nodes = keys.iter().map(|k| node(state, k)).collect();
    ChannelGraph { nodes, edges }
}

pub(super) fn get_chan_info(
    state: &NodeState,
    req: &ChanInfoRequest,
) -> Result<ChannelEdge, Status> {
    let ours = state.channels.iter().find(|c| {
        if req.chan_id != 0 {
            c.id == req.chan_id
        } else {
            c.channel_point == req.chan_point
        }
    });
    if let Some(ch) = ours {
        return Ok(our_edge(state, ch));
    }
    state
        .graph
        .iter()
        .find(|g| {
            if req.chan_id != 0 {
                g.id == req.chan_id
            } else {
                g.channel_point == req.chan_point
            }
        })
        .map(graph_edge)
        .ok_or_else(|| Status::not_found("edge not found"))
}

/// Public channels only, as LND's graph answer: our private channels are
/// reachable through GetChanInfo.
pub(super) fn get_node_info(state: &NodeState, req: &NodeInfoRequest) -> Result<NodeInfo, Status> {
    let key = req.pub_key.as_str();
    let mut edges: Vec<ChannelEdge> = state
        .channels
        .iter()
        .filter(|c| !c.private && (key == state.info.pubkey || c.peer_pubkey == key))
        .map(|c| our_edge(state, c))
        .collect();
    edges.extend(
        state
            .graph
            .iter()
            .filter(|g| g.node1_pubkey == key || g.node2_pubkey == key)
            .map(graph_edge),
    );
    if edges.is_empty() && key != state.info.pubkey {
        return Err(Status::not_found("unable to find node"));
    }
    Ok(NodeInfo {
        node: Some(node(state, key)),
        num_channels: u32::try_from(edges.len()).unwrap_or(u32::MAX),
        total_capacity: edges.iter().map(|e| e.capacity).sum(),
        channels: if req.include_channels {
            edges
        } else {
            Vec::new()
        },
    })
}

pub(super) fn fee_report(state: &NodeState) -> FeeReportResponse {
    let channel_fees = state
        .channels
        .iter()
        .map(|c| ChannelFeeReport {
            chan_id: c.id,
            channel_point: c.channel_point.clone(),
            base_fee_msat: i64::from(c.local_policy.base_fee_msat),
            fee_per_mil: i64::from(c.local_policy.fee_ppm),
            fee_rate: f64::from(c.local_policy.fee_ppm) / 1e6,
            inbound_base_fee_msat: c.local_policy.inbound_base_fee_msat,
            inbound_fee_per_mil: c.local_policy.inbound_fee_ppm,
        })
        .collect();
    let earned_since = |days: u64| {
        let since = state.now_ns.saturating_sub(days * 86_400 * NANOS);
        state
            .forwards
            .iter()
            .filter(|f| f.at_ns >= since && f.at_ns <= state.now_ns)
            .map(|f| f.fee_msat)
            .sum::<u64>()
            / 1000
    };
    FeeReportResponse {
        channel_fees,
        day_fee_sum: earned_since(1),
        week_fee_sum: earned_since(7),
        month_fee_sum: earned_since(30),
    }
}

fn outpoint(point: &str) -> OutPoint {
    let (txid, index) = point.split_once(':').unwrap_or((point, "0"));
    let mut txid_bytes = hex::decode(txid).unwrap_or_default();
    txid_bytes.reverse();
    OutPoint {
        txid_bytes,
        txid_str: txid.to_owned(),
        output_index: index.parse().unwrap_or(0),
    }
}

fn failed(point: &str, reason: UpdateFailure, error: impl Into<String>) -> FailedUpdate {
    FailedUpdate {
        outpoint: Some(outpoint(point)),
        reason: reason as i32,
        update_error: error.into(),
    }
}

/// LND's rules: time_lock_delta and positive inbound fees are checked for
/// the whole call (an RPC error); base fee and rate are taken as given, so
/// an omitted one becomes 0; max_htlc 0 and an unflagged min_htlc keep the
/// current value (a largest HTLC above the max in flight is brought within
/// it), as does an absent inbound fee. Per-channel problems, among them HTLC
/// limits outside the channel's negotiated ones, come back in
/// `failed_updates`.
pub(super) fn update_channel_policy(
    state: &mut NodeState,
    req: &PolicyUpdateRequest,
) -> Result<PolicyUpdateResponse, Status> {
    if req.time_lock_delta < MIN_TIME_LOCK_DELTA {
        return Err(Status::unknown(format!(
            "time lock delta of {} is too small, minimum supported is {MIN_TIME_LOCK_DELTA}",
            req.time_lock_delta
        )));
    }
    if req.time_lock_delta > MAX_TIME_LOCK_DELTA {
        return Err(Status::unknown(format!(
            "time lock delta of {} is too big, maximum supported is {MAX_TIME_LOCK_DELTA}",
            req.time_lock_delta
        )));
    }
    if req.fee_rate != 0.0 && req.fee_rate_ppm != 0 {
        return Err(Status::unknown(
            "cannot set both FeeRate and FeeRatePpm at the same time",
        ));
    }
    if !(0.0..=f64::from(u32::MAX) / 1e6).contains(&req.fee_rate) {
        return Err(Status::unknown(format!(
            "fee rate {} is invalid",
            req.fee_rate
        )));
    }
    if let Some(inbound) = &req.inbound_fee
        && !state.accept_positive_inbound
    {
        if inbound.base_fee_msat > 0 {
            return Err(Status::unknown(
                "positive values for inbound base fee msat are not supported",
            ));
        }
        if inbound.fee_rate_ppm > 0 {
            return Err(Status::unknown(
                "positive values for inbound fee rate ppm are not supported",
            ));
        }
    }
    let base_fee_msat = u32::try_from(req.base_fee_msat)
        .map_err(|_| Status::unknown(format!("invalid base fee {}", req.base_fee_msat)))?;
    let fee_ppm = if req.fee_rate_ppm != 0 {
        req.fee_rate_ppm
    } else {
        (req.fee_rate * 1e6).round() as u32
    };

    let targets: Vec<String> = match &req.scope {
        Some(Scope::Global(_)) => state
            .channels
            .iter()
            .map(|c| c.channel_point.clone())
            .collect(),
        Some(Scope::ChanPoint(point)) => {
            vec![channel_point_string(point).map_err(Status::invalid_argument)?]
        }
        None => return Err(Status::unknown("unknown scope")),
    };

    let mut failed_updates = Vec::new();
    for point in targets {
        let Some(current) = state.channel_by_point(&point) else {
            failed_updates.push(failed(&point, UpdateFailure::NotFound, "not found"));
            continue;
        };
        // LND checks the largest HTLC against the max in flight the channel allows (its
        // `MaxPendingAmount`, which ListChannels reports), not the capacity.
        let (id, max_pending_msat, negotiated_min_msat, cur) = (
            current.id,
            match current.max_in_flight_msat {
                0 => current.capacity_sat * 1000,
                known => known,
            },
            current.min_htlc_msat,
            current.local_policy,
        );
        let policy = FeePolicy {
            base_fee_msat,
            fee_ppm,
            time_lock_delta: req.time_lock_delta,
            max_htlc_msat: if req.max_htlc_msat != 0 {
                req.max_htlc_msat
            } else {
                cur.max_htlc_msat.min(max_pending_msat)
            },
            min_htlc_msat: if req.min_htlc_msat_specified {
                req.min_htlc_msat
            } else {
                cur.min_htlc_msat
            },
            inbound_base_fee_msat: req
                .inbound_fee
                .map_or(cur.inbound_base_fee_msat, |f| f.base_fee_msat),
            inbound_fee_ppm: req
                .inbound_fee
                .map_or(cur.inbound_fee_ppm, |f| f.fee_rate_ppm),
            disabled: cur.disabled,
        };
        if policy.min_htlc_msat < negotiated_min_msat {
            failed_updates.push(failed(
                &point,
                UpdateFailure::InvalidParameter,
                format!(
                    "min htlc amount of {} mSAT is below min htlc parameter of {negotiated_min_msat} mSAT",
                    policy.min_htlc_msat
                ),
            ));
            continue;
        }
        if policy.max_htlc_msat > max_pending_msat {
            failed_updates.push(failed(
                &point,
                UpdateFailure::InvalidParameter,
                format!(
                    "max htlc size of {} mSAT is above max pending amount of {max_pending_msat} mSAT",
                    policy.max_htlc_msat
                ),
            ));
            continue;
        }
        match state.set_policy(id, policy) {
            Ok(()) => {}
            Err(PolicyRejection::NotFound(_)) => {
                failed_updates.push(failed(&point, UpdateFailure::NotFound, "not found"));
            }
            Err(other) => failed_updates.push(failed(
                &point,
                UpdateFailure::InvalidParameter,
                other.to_string(),
            )),
        }
    }
    Ok(PolicyUpdateResponse { failed_updates })
}

/// The wallet's history: the funding transaction of each channel we opened
/// (labelled as LND labels them, `total_fees` what it cost) and the deposit
/// that paid for them (someone else's transaction: no fee of ours). LND's
/// height bounds: `start_height <= height <= end_height`, an end of 0 or -1
/// meaning the tip (and unconfirmed transactions, of which there are none).
pub(super) fn get_transactions(
    state: &NodeState,
    req: &GetTransactionsRequest,
) -> TransactionDetails {
    let tip = state.info.block_height;
    let tx = |hash: String, amount: i64, height: u32, total_fees: u64, label: String| Transaction {
        tx_hash: hash,
        amount,
        num_confirmations: i32::try_from(tip.saturating_sub(height) + 1).unwrap_or(i32::MAX),
        block_hash: String::new(),
        block_height: i32::try_from(height).unwrap_or(i32::MAX),
        time_stamp: i64_of(state.block_time(height)),
        total_fees: i64_of(total_fees),
        label,
    };
    let mut transactions = Vec::new();
    let mut spent = 0u64;
    let mut first_block = tip;
    for c in &state.channels {
        let Some(&fee) = state.funding_fees.get(&c.id) else {
            continue;
        };
        let block = (c.id >> 40) as u32;
        first_block = first_block.min(block);
        spent += c.capacity_sat + fee;
        transactions.push(tx(
            NodeState::funding_txid(c).to_owned(),
            -i64_of(c.capacity_sat + fee),
            block,
            fee,
            format!("0:openchannel:shortchanid-{}", c.id),
        ));
    }
    if !transactions.is_empty() {
        let deposit_block = first_block.saturating_sub(1);
        transactions.insert(
            0,
            tx(
                state.deposit_txid(),
                i64_of(spent + 1_000_000),
                deposit_block,
                0,
                String::new(),
            ),
        );
    }
    let end = match req.end_height {
        0 | -1 => i64::MAX,
        end => i64::from(end),
    };
    transactions
        .retain(|t| (i64::from(req.start_height)..=end).contains(&i64::from(t.block_height)));
    TransactionDetails { transactions }
}

/// LND's paging: events with start_time <= timestamp <= end_time (seconds;
/// end 0 = now), skip `index_offset` of them, return at most
/// `num_max_events` (0 = 100); `last_offset_index` is where the next page
/// starts.
pub(super) fn forwarding_history(
    state: &NodeState,
    req: &ForwardingHistoryRequest,
) -> ForwardingHistoryResponse {
    let start_ns = req.start_time.saturating_mul(NANOS);
    let end_ns = if req.end_time == 0 {
        state.now_ns
    } else {
        req.end_time.saturating_mul(NANOS)
    };
    let max = match req.num_max_events {
        0 => DEFAULT_MAX_EVENTS,
        n => n.min(MAX_RESPONSE_EVENTS),
    };
    let forwarding_events: Vec<ForwardingEvent> = state
        .forwards
        .iter()
        .filter(|f| (start_ns..=end_ns).contains(&f.at_ns))
        .skip(req.index_offset as usize)
        .take(max as usize)
        .map(|f| {
            #[allow(deprecated)]
            ForwardingEvent {
                timestamp: f.at_ns / NANOS,
                chan_id_in: f.chan_in,
                chan_id_out: f.chan_out,
                amt_in: f.amt_in_msat / 1000,
                amt_out: f.amt_out_msat / 1000,
                fee: f.fee_msat / 1000,
                fee_msat: f.fee_msat,
                amt_in_msat: f.amt_in_msat,
                amt_out_msat: f.amt_out_msat,
                timestamp_ns: f.at_ns,
            }
        })
        .collect();
    let returned = u32::try_from(forwarding_events.len()).unwrap_or(u32::MAX);
    ForwardingHistoryResponse {
        forwarding_events,
        last_offset_index: req.index_offset.saturating_add(returned),
    }
}

/// ListPayments: the node's rebalances, the only payments it made, each as one attempt over
/// three hops: to the peer it left by, across to the peer it came back by (their channel in
/// the graph, or 0 where the scenario has none), and back to us. A rebalance not yet settled
/// is in flight and a failed one failed (with no fee: LND sums the fees of settled attempts),
/// both listed only with `include_incomplete`, as LND does. `index_offset` is
/// exclusive.
pub(super) fn list_payments(state: &NodeState, req: &ListPaymentsRequest) -> ListPaymentsResponse {
    let max = match req.max_payments {
        0 => u64::from(DEFAULT_MAX_EVENTS),
        n => n,
    };
    let payments: Vec<Payment> = state
        .rebalances
        .iter()
        .zip(1u64..)
        .filter(|(r, index)| {
            *index > req.index_offset
                && (req.include_incomplete || r.state(state.now_secs()) == RebalanceState::Settled)
        })
        .take(usize::try_from(max).unwrap_or(usize::MAX))
        .map(|(r, index)| payment(state, r, index))
        .collect();
    ListPaymentsResponse {
        first_index_offset: payments.first().map_or(0, |p| p.payment_index),
        last_index_offset: payments.last().map_or(0, |p| p.payment_index),
        payments,
    }
}

fn payment(state: &NodeState, r: &Rebalance, index: u64) -> Payment {
    let peer = |id| {
        state
            .channel(id)
            .map_or(String::new(), |c| c.peer_pubkey.clone())
    };
    let (peer_out, peer_in) = (peer(r.out_channel), peer(r.in_channel));
    let across = state
        .graph
        .iter()
        .find(|g| {
            (g.node1_pubkey == peer_out && g.node2_pubkey == peer_in)
                || (g.node1_pubkey == peer_in && g.node2_pubkey == peer_out)
        })
        .map_or(0, |g| g.id);
    let first_fee = r.fee_msat / 2;
    let hop = |chan_id, pub_key: &str, amount: u64, fee: u64| Hop {
        chan_id,
        amt_to_forward_msat: i64_of(amount),
        fee_msat: i64_of(fee),
        pub_key: pub_key.to_owned(),
    };
    use lnrpc::htlc_attempt::HtlcStatus;
    use lnrpc::payment::PaymentStatus;
    let resolved_ns = r.at_secs.saturating_mul(NANOS);
    let rebalance_state = r.state(state.now_secs());
    let (status, htlc_status, resolved_ns) = match rebalance_state {
        RebalanceState::Settled => (PaymentStatus::Succeeded, HtlcStatus::Succeeded, resolved_ns),
        RebalanceState::Failed => (PaymentStatus::Failed, HtlcStatus::Failed, resolved_ns),
        RebalanceState::InFlight => (PaymentStatus::InFlight, HtlcStatus::InFlight, 0),
    };
    let paid_fee_msat = match rebalance_state {
        RebalanceState::Failed => 0,
        RebalanceState::Settled | RebalanceState::InFlight => r.fee_msat,
    };
    let started_ns = r.started_secs.saturating_mul(NANOS);
    Payment {
        payment_hash: r.payment_hash.clone(),
        value_msat: i64_of(r.amount_msat),
        status: status.into(),
        fee_msat: i64_of(paid_fee_msat),
        creation_time_ns: i64_of(started_ns),
        htlcs: vec![HtlcAttempt {
            attempt_id: index,
            status: htlc_status.into(),
            route: Some(Route {
                hops: vec![
                    hop(
                        r.out_channel,
                        &peer_out,
                        r.amount_msat + r.fee_msat - first_fee,
                        first_fee,
                    ),
                    hop(across, &peer_in, r.amount_msat, r.fee_msat - first_fee),
                    hop(r.in_channel, &state.info.pubkey, r.amount_msat, 0),
                ],
                total_fees_msat: i64_of(r.fee_msat),
                total_amt_msat: i64_of(r.amount_msat + r.fee_msat),
            }),
            attempt_time_ns: i64_of(started_ns),
            resolve_time_ns: i64_of(resolved_ns),
        }],
        payment_index: index,
    }
}

#[tonic::async_trait]
impl Lightning for LightningService {
    async fn get_info(
        &self,
        request: Request<GetInfoRequest>,
    ) -> Result<Response<GetInfoResponse>, Status> {
        self.shared.admit(GET_INFO, &request).await?;
        Ok(Response::new(get_info(
            &self.shared.state(),
            &self.shared.network,
        )))
    }

    async fn list_channels(
        &self,
        request: Request<ListChannelsRequest>,
    ) -> Result<Response<ListChannelsResponse>, Status> {
        self.shared.admit(LIST_CHANNELS, &request).await?;
        list_channels(&self.shared.state(), request.get_ref()).map(Response::new)
    }

    async fn describe_graph(
        &self,
        request: Request<ChannelGraphRequest>,
    ) -> Result<Response<ChannelGraph>, Status> {
        self.shared.admit(DESCRIBE_GRAPH, &request).await?;
        Ok(Response::new(describe_graph(
            &self.shared.state(),
            request.get_ref(),
        )))
    }

    async fn get_chan_info(
        &self,
        request: Request<ChanInfoRequest>,
    ) -> Result<Response<ChannelEdge>, Status> {
        self.shared.admit(GET_CHAN_INFO, &request).await?;
        get_chan_info(&self.shared.state(), request.get_ref()).map(Response::new)
    }

    async fn get_node_info(
        &self,
        request: Request<NodeInfoRequest>,
    ) -> Result<Response<NodeInfo>, Status> {
        self.shared.admit(GET_NODE_INFO, &request).await?;
        get_node_info(&self.shared.state(), request.get_ref()).map(Response::new)
    }

    async fn fee_report(
        &self,
        request: Request<FeeReportRequest>,
    ) -> Result<Response<FeeReportResponse>, Status> {
        self.shared.admit(FEE_REPORT, &request).await?;
        Ok(Response::new(fee_report(&self.shared.state())))
    }

    async fn update_channel_policy(
        &self,
        request: Request<PolicyUpdateRequest>,
    ) -> Result<Response<PolicyUpdateResponse>, Status> {
        self.shared.admit(UPDATE_CHANNEL_POLICY, &request).await?;
        update_channel_policy(&mut self.shared.state(), request.get_ref()).map(Response::new)
    }

    async fn forwarding_history(
        &self,
        request: Request<ForwardingHistoryRequest>,
    ) -> Result<Response<ForwardingHistoryResponse>, Status> {
        self.shared.admit(FORWARDING_HISTORY, &request).await?;
        Ok(Response::new(forwarding_history(
            &self.shared.state(),
            request.get_ref(),
        )))
    }

    async fn list_payments(
        &self,
        request: Request<ListPaymentsRequest>,
    ) -> Result<Response<ListPaymentsResponse>, Status> {
        self.shared.admit(LIST_PAYMENTS, &request).await?;
        Ok(Response::new(list_payments(
            &self.shared.state(),
            request.get_ref(),
        )))
    }

    async fn get_transactions(
        &self,
        request: Request<GetTransactionsRequest>,
    ) -> Result<Response<TransactionDetails>, Status> {
        self.shared.admit(GET_TRANSACTIONS, &request).await?;
        Ok(Response::new(get_transactions(
            &self.shared.state(),
            request.get_ref(),
        )))
    }
}
