//! The CLN methods the simulator serves, rendering `NodeState` in the shapes
//! of CLN's JSON schemas (amounts as integer msat, as CLN prints them since
//! v23.x) and applying `setchannel` with CLN's semantics.

use std::collections::BTreeSet;
use std::path::Path;

use lnpolicy_core::{ChannelId, FailedForward, FailureReason, FeePolicy, Forward, NodeChannel};
use lnpolicy_node::cln::format_scid;
use serde_json::{Map, Value, json};

use super::ledger::{Entry, Ledger, Source};
use super::params::{LIGHTNINGD, Params, RpcError, is_pubkey};
use crate::state::{GraphChannel, NodeState};

/// Everything a handler may read or change.
pub(super) struct Ctx<'a> {
    pub state: &'a mut NodeState,
    pub ledger: &'a mut Ledger,
    pub network: &'a str,
    pub lightning_dir: &'a Path,
}

type Handler = fn(&mut Ctx<'_>, &Params) -> Result<Value, RpcError>;

/// A served method: its name, its parameters in CLN's positional order, and
/// the code answering it.
pub(super) struct Method {
    pub name: &'static str,
    pub params: &'static [&'static str],
    pub handler: Handler,
}

/// The methods served; anything else is "Unknown command".
pub(super) const METHODS: &[Method] = &[
    Method {
        name: "getinfo",
        params: &[],
        handler: getinfo,
    },
    Method {
        name: "listpeerchannels",
        params: &["id", "short_channel_id", "channel_id"],
        handler: listpeerchannels,
    },
    Method {
        name: "listforwards",
        params: &[
            "status",
            "in_channel",
            "out_channel",
            "index",
            "start",
            "limit",
        ],
        handler: listforwards,
    },
    Method {
        name: "listchannels",
        params: &["short_channel_id", "source", "destination"],
        handler: listchannels,
    },
    Method {
        name: "listfunds",
        params: &["spent"],
        handler: listfunds,
    },
    Method {
        name: "feerates",
        params: &["style"],
        handler: feerates,
    },
    Method {
        name: "bkpr-listaccountevents",
        params: &["account", "payment_id"],
        handler: listaccountevents,
    },
    Method {
        name: "listchannelmoves",
        params: &["index", "start", "limit"],
        handler: listchannelmoves,
    },
    Method {
        name: "setchannel",
        params: &[
            "id",
            "feebase",
            "feeppm",
            "htlcmin",
            "htlcmax",
            "enforcedelay",
            "ignorefeelimits",
        ],
        handler: setchannel,
    },
];

pub(super) fn find(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|m| m.name == name)
}

// ------------------------------------------------------------- helpers

/// CLN prints times as seconds with millisecond decimals.
fn seconds(at_ns: u64) -> Value {
    json!((at_ns / 1_000_000) as f64 / 1000.0)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// BOLT 2 v1 channel id: the funding txid (internal byte order) with the
/// output index XORed into its last two bytes. A channel point that is not
/// `txid:index` (hand-made fixtures) falls back to the padded scid.
fn channel_id(channel: &NodeChannel) -> String {
    let parsed = channel
        .channel_point
        .split_once(':')
        .and_then(|(txid, out)| {
            let out: u16 = out.parse().ok()?;
            if txid.len() != 64 {
                return None;
            }
            let mut bytes = (0..32)
                .map(|i| u8::from_str_radix(txid.get(2 * i..2 * i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()?;
            bytes.reverse();
            bytes[30] ^= (out >> 8) as u8;
            bytes[31] ^= out as u8;
            Some(hex(&bytes))
        });
    parsed.unwrap_or_else(|| format!("{:064x}", channel.id))
}

fn funding(channel: &NodeChannel) -> (String, u32) {
    match channel.channel_point.split_once(':') {
        Some((txid, out)) => (txid.to_owned(), out.parse().unwrap_or(0)),
        None => (channel.channel_point.clone(), 0),
    }
}

/// BOLT 7 direction: 0 from the lesser node id.
fn direction(from: &str, to: &str) -> u32 {
    u32::from(from > to)
}

fn update_json(policy: &FeePolicy) -> Value {
    json!({
        "htlc_minimum_msat": policy.min_htlc_msat,
        "htlc_maximum_msat": policy.max_htlc_msat,
        "cltv_expiry_delta": policy.time_lock_delta,
        "fee_base_msat": policy.base_fee_msat,
        "fee_proportional_millionths": policy.fee_ppm,
    })
}

fn last_update(state: &NodeState, id: ChannelId) -> u64 {
    state
        .policy_updated_at
        .iter()
        .find(|(c, _)| *c == id)
        .map(|(_, at)| *at)
        .unwrap_or_else(|| state.now_secs())
}

// ------------------------------------------------------------- getinfo

fn getinfo(ctx: &mut Ctx<'_>, _: &Params) -> Result<Value, RpcError> {
    let state = &*ctx.state;
    let info = &state.info;
    let peers: BTreeSet<&str> = state
        .channels
        .iter()
        .map(|c| c.peer_pubkey.as_str())
        .collect();
    let mut alias = info.alias.clone();
    while alias.len() > 32 {
        alias.pop();
    }
    let fees: u64 = state.forwards.iter().map(|f| f.fee_msat).sum();
    let mut out = json!({
        "id": info.pubkey,
        "alias": alias,
        "color": info.pubkey.get(..6).unwrap_or("000000"),
        "num_peers": peers.len(),
        "num_pending_channels": 0,
        "num_active_channels": state.channels.len(),
        "num_inactive_channels": 0,
        "address": [],
        "version": info.version,
        "blockheight": info.block_height,
        "network": ctx.network,
        "fees_collected_msat": fees,
        "lightning-dir": ctx.lightning_dir.display().to_string(),
        "our_features": {
            "init": "08a0000a8a5961",
            "node": "88a0000a8a5961",
            "channel": "",
            "invoice": "02000002024100",
        },
    });
    if !info.synced_to_chain {
        out["warning_bitcoind_sync"] = json!("Bitcoind is not up-to-date with network.");
    }
    Ok(out)
}

// ---------------------------------------------------- listpeerchannels

fn peer_channel_json(state: &NodeState, channel: &NodeChannel) -> Value {
    let our_id = state.info.pubkey.as_str();
    let msat = |sat: u64| sat * 1000;
    let (txid, outnum) = funding(channel);
    let local = &channel.local_policy;
    let mut updates = json!({ "local": update_json(local) });
    if let Some(remote) = &channel.peer_policy {
        updates["remote"] = update_json(remote);
    }
    let spendable = channel
        .local_balance_sat
        .saturating_sub(channel.local_reserve_sat)
        .saturating_sub(channel.unsettled_balance_sat);
    let receivable = channel
        .remote_balance_sat
        .saturating_sub(channel.remote_reserve_sat);
    // CLN counts our HTLCs in flight and, when we opened, the commitment fee as owed to us.
    let offered_msat: u64 = channel
        .pending_htlcs
        .iter()
        .filter(|h| !h.incoming)
        .map(|h| h.amount_msat)
        .sum();
    let to_us = msat(channel.local_balance_sat)
        + offered_msat
        + if channel.initiator {
            msat(channel.commit_fee_sat)
        } else {
            0
        };
    // Ids count per direction, as CLN's do.
    let (mut next_in, mut next_out) = (0u64, 0u64);
    let htlcs: Vec<Value> = channel
        .pending_htlcs
        .iter()
        .zip(0u64..)
        .map(|(htlc, i)| {
            let (direction, id, state) = if htlc.incoming {
                next_in += 1;
                ("in", next_in - 1, "RCVD_ADD_ACK_REVOCATION")
            } else {
                next_out += 1;
                ("out", next_out - 1, "SENT_ADD_ACK_REVOCATION")
            };
            json!({
                "direction": direction,
                "id": id,
                "amount_msat": htlc.amount_msat,
                "expiry": htlc.expiry_height,
                "payment_hash": format!("{:048x}{:016x}", channel.id, i),
                "state": state,
            })
        })
        .collect();
    let (local_funds, remote_funds) = if channel.initiator {
        (msat(channel.capacity_sat), 0)
    } else {
        (0, msat(channel.capacity_sat))
    };
    let mut out = json!({
        "peer_id": channel.peer_pubkey,
        "peer_connected": channel.active,
        "channel_type": {
            "bits": [12, 22],
            "names": ["static_remotekey/even", "anchors/even"],
        },
        "updates": updates,
        "state": "CHANNELD_NORMAL",
        "scratch_txid": format!("{:064x}", channel.id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        "last_tx_fee_msat": msat(channel.commit_fee_sat),
        "lost_state": false,
        "feerate": { "perkw": 253, "perkb": 1012 },
        "short_channel_id": format_scid(channel.id),
        "direction": direction(our_id, &channel.peer_pubkey),
        "channel_id": channel_id(channel),
        "funding_txid": txid,
        "funding_outnum": outnum,
        "private": channel.private,
        "opener": if channel.initiator { "local" } else { "remote" },
        "features": ["option_static_remotekey", "option_anchors"],
        "funding": {
            "local_funds_msat": local_funds,
            "remote_funds_msat": remote_funds,
            "pushed_msat": 0,
        },
        "to_us_msat": to_us,
        "min_to_us_msat": to_us,
        "max_to_us_msat": to_us,
        "total_msat": msat(channel.capacity_sat),
        "fee_base_msat": local.base_fee_msat,
        "fee_proportional_millionths": local.fee_ppm,
        "dust_limit_msat": 546_000,
        "their_max_htlc_value_in_flight_msat": channel.max_in_flight_msat,
        "our_max_htlc_value_in_flight_msat": u64::MAX,
        "their_reserve_msat": msat(channel.remote_reserve_sat),
        "our_reserve_msat": msat(channel.local_reserve_sat),
        "spendable_msat": msat(spendable),
        "receivable_msat": msat(receivable),
        "minimum_htlc_in_msat": 0,
        "minimum_htlc_out_msat": local.min_htlc_msat,
        "maximum_htlc_out_msat": local.max_htlc_msat,
        "their_to_self_delay": 144,
        "our_to_self_delay": 144,
        "max_accepted_htlcs": channel.max_accepted_htlcs,
        "status": [if channel.active {
            "CHANNELD_NORMAL:Channel ready for use."
        } else {
            "CHANNELD_NORMAL:Will attempt reconnect in 300 seconds"
        }],
        "in_fulfilled_msat": msat(channel.total_received_sat),
        "out_fulfilled_msat": msat(channel.total_sent_sat),
        "htlcs": htlcs,
    });
    if channel.active {
        out["reestablished"] = json!(true);
        out["owner"] = json!("channeld");
    }
    out
}

fn listpeerchannels(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let peer = params.pubkey("id")?;
    let scid = params.scid("short_channel_id")?;
    let cid = params.string("channel_id")?;
    let state = &*ctx.state;
    let channels: Vec<Value> = state
        .channels
        .iter()
        .filter(|c| peer.is_none_or(|p| c.peer_pubkey == p))
        .filter(|c| scid.is_none_or(|s| c.id == s))
        .filter(|c| cid.is_none_or(|id| channel_id(c) == id))
        .map(|c| peer_channel_json(state, c))
        .collect();
    Ok(json!({ "channels": channels }))
}

// -------------------------------------------------------- listforwards

/// A settled forward, or while its HTLC is held, the `offered` entry CLN lists
/// (no `updated_index` or `resolved_time` yet).
fn settled_json(entry: &Entry, f: &Forward, arrived_ns: u64) -> Value {
    let mut out = json!({
        "created_index": entry.created_index,
        "in_channel": format_scid(f.chan_in),
        "out_channel": format_scid(f.chan_out),
        "in_msat": f.amt_in_msat,
        "out_msat": f.amt_out_msat,
        "fee_msat": f.fee_msat,
        "status": "offered",
        "style": "tlv",
        "received_time": seconds(arrived_ns),
    });
    if let Some(updated) = entry.updated_index {
        out["updated_index"] = json!(updated);
        out["status"] = json!("settled");
        out["resolved_time"] = seconds(f.at_ns);
    }
    out
}

/// BOLT 4 code and CLN's name for a failure our node decided on.
fn failcode(f: &FailedForward) -> (u32, &'static str) {
    match f.reason {
        FailureReason::InsufficientBalance => (0x1007, "WIRE_TEMPORARY_CHANNEL_FAILURE"),
        FailureReason::FeeInsufficient => (0x100C, "WIRE_FEE_INSUFFICIENT"),
        FailureReason::IncorrectCltv => (0x100D, "WIRE_INCORRECT_CLTV_EXPIRY"),
        FailureReason::ChannelUnavailable if f.chan_out.is_some() => {
            (0x1014, "WIRE_CHANNEL_DISABLED")
        }
        FailureReason::ChannelUnavailable => (0x400A, "WIRE_UNKNOWN_NEXT_PEER"),
        // The market's other failures break our htlcmin or htlcmax, which CLN's
        // forward_htlc answers this way (as it does a lack of balance).
        FailureReason::Other => (0x1007, "WIRE_TEMPORARY_CHANNEL_FAILURE"),
    }
}

fn failed_json(entry: &Entry, f: &FailedForward) -> Value {
    let (code, name) = failcode(f);
    let mut out = Map::new();
    out.insert("created_index".into(), json!(entry.created_index));
    if let Some(updated) = entry.updated_index {
        out.insert("updated_index".into(), json!(updated));
    }
    out.insert("in_channel".into(), json!(format_scid(f.chan_in)));
    if let Some(chan_out) = f.chan_out {
        out.insert("out_channel".into(), json!(format_scid(chan_out)));
    }
    out.insert("in_msat".into(), json!(f.amt_in_msat));
    out.insert("status".into(), json!("local_failed"));
    out.insert("failcode".into(), json!(code));
    out.insert("failreason".into(), json!(name));
    out.insert("style".into(), json!("tlv"));
    out.insert("received_time".into(), seconds(f.at_ns));
    Value::Object(out)
}

fn entry_json(state: &NodeState, entry: &Entry) -> Value {
    match entry.source {
        Source::Settled(i) => {
            let f = &state.forwards[i];
            let arrived_ns = state.held_forwards.get(&i).copied().unwrap_or(f.at_ns);
            settled_json(entry, f, arrived_ns)
        }
        Source::Failed(i) => failed_json(entry, &state.failures[i]),
    }
}

fn entry_matches(
    state: &NodeState,
    entry: &Entry,
    status: Option<&str>,
    chan_in: Option<ChannelId>,
    chan_out: Option<ChannelId>,
) -> bool {
    let (this_status, this_in, this_out) = match entry.source {
        Source::Settled(i) => {
            let f = &state.forwards[i];
            let status = if entry.in_flight() {
                "offered"
            } else {
                "settled"
            };
            (status, f.chan_in, Some(f.chan_out))
        }
        Source::Failed(i) => {
            let f = &state.failures[i];
            ("local_failed", f.chan_in, f.chan_out)
        }
    };
    status.is_none_or(|s| s == this_status)
        && chan_in.is_none_or(|c| c == this_in)
        && chan_out.is_none_or(|c| Some(c) == this_out)
}

fn listforwards(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let status = params.string("status")?;
    if let Some(s) = status
        && !["offered", "settled", "local_failed", "failed"].contains(&s)
    {
        return Err(RpcError::bad_param(
            "status",
            "should be one of offered, settled, local_failed or failed",
            &json!(s),
        ));
    }
    let chan_in = params.scid("in_channel")?;
    let chan_out = params.scid("out_channel")?;
    let index = params.string("index")?;
    let start = params.u64("start")?;
    let limit = params.u32("limit")?;
    if index.is_none() && start.is_some() {
        return Err(RpcError::invalid_params(
            "Can only specify {start} with {index}",
        ));
    }
    if index.is_none() && limit.is_some() {
        return Err(RpcError::invalid_params(
            "Can only specify {limit} with {index}",
        ));
    }
    ctx.ledger.sync(ctx.state);
    let state = &*ctx.state;
    let start = start.unwrap_or(0);
    let mut selected: Vec<&Entry> = match index {
        None | Some("created") => ctx
            .ledger
            .entries()
            .iter()
            .filter(|e| e.created_index >= start)
            .collect(),
        // CLN stores 0 for an entry never updated (created final, or still offered): from
        // `start=0` those come first, and they are listed without an `updated_index`.
        Some("updated") => {
            let mut v: Vec<&Entry> = ctx
                .ledger
                .entries()
                .iter()
                .filter(|e| e.updated_index.unwrap_or(0) >= start)
                .collect();
            v.sort_by_key(|e| (e.updated_index.unwrap_or(0), e.created_index));
            v
        }
        Some(other) => {
            return Err(RpcError::bad_param(
                "index",
                "should be one of created or updated",
                &json!(other),
            ));
        }
    };
    selected.retain(|e| entry_matches(state, e, status, chan_in, chan_out));
    let limit = limit.map_or(usize::MAX, |l| l as usize);
    let forwards: Vec<Value> = selected
        .into_iter()
        .take(limit)
        .map(|e| entry_json(state, e))
        .collect();
    Ok(json!({ "forwards": forwards }))
}

// -------------------------------------------------------- listchannels

/// One direction of a public channel in `listchannels` form.
struct Half<'a> {
    id: ChannelId,
    source: &'a str,
    destination: &'a str,
    capacity_sat: u64,
    policy: &'a FeePolicy,
    last_update: u64,
}

impl Half<'_> {
    fn to_json(&self) -> Value {
        let direction = direction(self.source, self.destination);
        json!({
            "source": self.source,
            "destination": self.destination,
            "short_channel_id": format_scid(self.id),
            "direction": direction,
            "public": true,
            "amount_msat": self.capacity_sat * 1000,
            "message_flags": 1,
            "channel_flags": direction | if self.policy.disabled { 2 } else { 0 },
            "active": !self.policy.disabled,
            "last_update": self.last_update,
            "base_fee_millisatoshi": self.policy.base_fee_msat,
            "fee_per_millionth": self.policy.fee_ppm,
            "delay": self.policy.time_lock_delta,
            "htlc_minimum_msat": self.policy.min_htlc_msat,
            "htlc_maximum_msat": self.policy.max_htlc_msat,
            "features": "",
        })
    }
}

/// Public channels only: since v24.02 `listchannels` shows gossip, and
/// private channels are not gossiped.
fn halves(state: &NodeState) -> Vec<Half<'_>> {
    let our_id = state.info.pubkey.as_str();
    let mut out = Vec::new();
    for c in state.channels.iter().filter(|c| !c.private) {
        let updated = last_update(state, c.id);
        out.push(Half {
            id: c.id,
            source: our_id,
            destination: &c.peer_pubkey,
            capacity_sat: c.capacity_sat,
            policy: &c.local_policy,
            last_update: updated,
        });
        if let Some(peer_policy) = &c.peer_policy {
            out.push(Half {
                id: c.id,
                source: &c.peer_pubkey,
                destination: our_id,
                capacity_sat: c.capacity_sat,
                policy: peer_policy,
                last_update: updated,
            });
        }
    }
    let ours = |g: &GraphChannel| state.channels.iter().any(|c| c.id == g.id);
    for g in state.graph.iter().filter(|g| !ours(g)) {
        for (source, destination, policy) in [
            (&g.node1_pubkey, &g.node2_pubkey, &g.node1_policy),
            (&g.node2_pubkey, &g.node1_pubkey, &g.node2_policy),
        ] {
            out.push(Half {
                id: g.id,
                source,
                destination,
                capacity_sat: g.capacity_sat,
                policy,
                last_update: g.last_update,
            });
        }
    }
    out
}

fn listchannels(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let scid = params.scid("short_channel_id")?;
    let source = params.pubkey("source")?;
    let destination = params.pubkey("destination")?;
    let given = [
        params.has("short_channel_id"),
        params.has("source"),
        params.has("destination"),
    ];
    if given.iter().filter(|g| **g).count() > 1 {
        return Err(RpcError::invalid_params(
            "Can only specify one of {short_channel_id}, {source} or {destination}",
        ));
    }
    let channels: Vec<Value> = halves(ctx.state)
        .iter()
        .filter(|h| scid.is_none_or(|s| h.id == s))
        .filter(|h| source.is_none_or(|s| h.source == s))
        .filter(|h| destination.is_none_or(|d| h.destination == d))
        .map(Half::to_json)
        .collect();
    Ok(json!({ "channels": channels }))
}

// ----------------------------------------------------------- listfunds

/// The simulator has no on-chain wallet: no outputs, only channel funds.
fn listfunds(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    params.bool("spent")?;
    let channels: Vec<Value> = ctx
        .state
        .channels
        .iter()
        .map(|c| {
            let (txid, outnum) = funding(c);
            json!({
                "peer_id": c.peer_pubkey,
                "connected": c.active,
                "state": "CHANNELD_NORMAL",
                "channel_id": channel_id(c),
                "short_channel_id": format_scid(c.id),
                "our_amount_msat": c.local_balance_sat * 1000,
                "amount_msat": c.capacity_sat * 1000,
                "funding_txid": txid,
                "funding_output": outnum,
            })
        })
        .collect();
    Ok(json!({ "outputs": [], "channels": channels }))
}

// ------------------------------------------------------------ feerates

/// CLN's floor (`FEERATE_FLOOR`, 253 sat/kw): no estimate goes below it.
const FLOOR_PERKW: u64 = 253;

/// Transaction weights behind `onchain_fee_estimates` (CLN's own constants,
/// which reproduce the figures of its schema example).
const OPENING_WEIGHT: u64 = 702;
const MUTUAL_CLOSE_WEIGHT: u64 = 673;
const UNILATERAL_ANCHOR_WEIGHT: u64 = 1112;
const UNILATERAL_WEIGHT: u64 = 598;
const HTLC_TIMEOUT_WEIGHT: u64 = 663;
const HTLC_SUCCESS_WEIGHT: u64 = 703;

/// The scenario's estimates in CLN's shape: `estimates` lists them, and the
/// derived rates use CLN's targets (opening and penalty 12 blocks, mutual and
/// anchor close 100, unilateral close 6; minimum half the 100-block rate,
/// maximum ten times the 2-block rate). Without estimates CLN warns and
/// gives only its bounds.
fn feerates(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let Some(style) = params.string("style")? else {
        return Err(RpcError::invalid_params(
            "missing required parameter: style",
        ));
    };
    let per_vb: u64 = match style {
        "perkb" => 1000,
        "perkw" => 250,
        other => {
            return Err(RpcError::bad_param(
                "style",
                "should be 'perkw' or 'perkb'",
                &json!(other),
            ));
        }
    };
    let state = &*ctx.state;
    let floor = FLOOR_PERKW * per_vb / 250;
    let rate = |target: u32| {
        state
            .fee_rate(target)
            .map(|sat_per_vb| (libm::round(sat_per_vb * per_vb as f64) as u64).max(floor))
    };
    let u32_of = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    let estimates: Vec<Value> = state
        .fee_estimates
        .iter()
        .map(|e| {
            let feerate = rate(e.blocks).unwrap_or(floor);
            json!({
                "blockcount": e.blocks,
                "feerate": u32_of(feerate),
                "smoothed_feerate": u32_of(feerate),
            })
        })
        .collect();
    let (Some(urgent), Some(normal), Some(slow), Some(fastest)) =
        (rate(6), rate(12), rate(100), rate(2))
    else {
        let mut out = Map::new();
        out.insert(
            "warning_missing_feerates".into(),
            json!("Some fee estimates unavailable"),
        );
        out.insert(
            style.into(),
            json!({
                "min_acceptable": u32_of(floor),
                "max_acceptable": u32::MAX,
                "floor": u32_of(floor),
                "estimates": estimates,
            }),
        );
        return Ok(Value::Object(out));
    };
    let table = json!({
        "opening": u32_of(normal),
        "mutual_close": u32_of(slow),
        "unilateral_close": u32_of(urgent),
        "unilateral_anchor_close": u32_of(slow),
        "penalty": u32_of(normal),
        "splice": u32_of(normal),
        "min_acceptable": u32_of((slow / 2).max(floor)),
        "max_acceptable": u32_of(fastest * 10),
        "floor": u32_of(floor),
        "estimates": estimates,
    });
    let perkw = |rate: u64| rate * 250 / per_vb;
    let cost = |rate: u64, weight: u64| perkw(rate) * weight / 1000;
    let mut out = Map::new();
    out.insert(style.into(), table);
    out.insert(
        "onchain_fee_estimates".into(),
        json!({
            "opening_channel_satoshis": cost(normal, OPENING_WEIGHT),
            "mutual_close_satoshis": cost(slow, MUTUAL_CLOSE_WEIGHT),
            "unilateral_close_satoshis": cost(slow, UNILATERAL_ANCHOR_WEIGHT),
            "unilateral_close_nonanchor_satoshis": cost(urgent, UNILATERAL_WEIGHT),
            "htlc_timeout_satoshis": cost(urgent, HTLC_TIMEOUT_WEIGHT),
            "htlc_success_satoshis": cost(urgent, HTLC_SUCCESS_WEIGHT),
        }),
    );
    Ok(Value::Object(out))
}

// ---------------------------------------------------- listchannelmoves

/// The node's settled rebalances as CLN's channel moves, numbered in the order they settled:
/// for each, the credit of the channel it came back by (the node, as recipient, settles
/// first), then the debit of the one it left by, with the route's fee. Forwards' `routed`
/// moves are not listed; nothing reads them.
fn listchannelmoves(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let index = params.string("index")?;
    let start = params.u64("start")?;
    let limit = params.u32("limit")?;
    match index {
        None if start.is_some() || limit.is_some() => {
            return Err(RpcError::invalid_params(
                "Can only specify {start} or {limit} with {index}",
            ));
        }
        None | Some("created") => {}
        Some(other) => {
            return Err(RpcError::bad_param(
                "index",
                "should be created",
                &json!(other),
            ));
        }
    }
    let state = &*ctx.state;
    let cid = |id| {
        state
            .channel(id)
            .map_or_else(|| format!("{id:064x}"), channel_id)
    };
    let moves: Vec<Value> = state
        .settled_rebalances()
        .into_iter()
        .zip(0u64..)
        .flat_map(|(r, position)| {
            [
                json!({
                    "created_index": 2 * position + 1,
                    "account_id": cid(r.in_channel),
                    "credit_msat": r.amount_msat,
                    "debit_msat": 0,
                    "timestamp": r.at_secs,
                    "primary_tag": "invoice",
                    "payment_hash": r.payment_hash,
                    "fees_msat": 0,
                }),
                json!({
                    "created_index": 2 * position + 2,
                    "account_id": cid(r.out_channel),
                    "credit_msat": 0,
                    "debit_msat": r.amount_msat + r.fee_msat,
                    "timestamp": r.at_secs,
                    "primary_tag": "invoice",
                    "payment_hash": r.payment_hash,
                    "part_id": 1,
                    "group_id": position + 1,
                    "fees_msat": r.fee_msat,
                }),
            ]
        })
        .filter(|m| m["created_index"].as_u64() >= Some(start.unwrap_or(0)))
        .take(limit.map_or(usize::MAX, |l| l as usize))
        .collect();
    Ok(json!({ "channelmoves": moves }))
}

// ---------------------------------------------- bkpr-listaccountevents

/// The bech32 prefix CLN names coins by in bookkeeping.
fn currency(network: &str) -> &'static str {
    match network {
        "bitcoin" => "bc",
        "testnet" | "testnet4" => "tb",
        "signet" => "tbs",
        _ => "bcrt",
    }
}

/// One bookkeeping event, with what orders it: time, then chain events
/// before channel events before fees (the bookkeeper's merge order).
struct Event {
    timestamp: u64,
    rank: u8,
    /// Every txid the event is about, for `payment_id`.
    txids: Vec<String>,
    json: Value,
}

/// The bookkeeper's view of our channel opens, as CLN records a funding:
/// the channel account's `channel_open` (crediting what we put in), and the
/// fee, which the wallet first counts as the whole outflow (credit), then
/// takes back (debit) once the funding output is known to be the channel's,
/// while the channel account is credited the actual fee. Before them, the
/// deposit that paid for the opens. Peers' opens credit us nothing.
fn account_events(state: &NodeState, network: &str) -> Vec<Event> {
    let coin = currency(network);
    let chain_event = |account: &str, tag: &str, credit: u64, outpoint: &str, height: u32| {
        json!({
            "account": account,
            "type": "chain",
            "tag": tag,
            "credit_msat": credit,
            "debit_msat": 0,
            "currency": coin,
            "outpoint": outpoint,
            "timestamp": state.block_time(height),
            "blockheight": height,
        })
    };
    let fee_event = |account: &str, credit: u64, debit: u64, txid: &str, timestamp: u64| {
        json!({
            "account": account,
            "type": "onchain_fee",
            "tag": "onchain_fee",
            "credit_msat": credit,
            "debit_msat": debit,
            "currency": coin,
            "timestamp": timestamp,
            "txid": txid,
        })
    };
    let mut events = Vec::new();
    let mut spent_msat = 0;
    let mut first_block = state.info.block_height;
    for c in &state.channels {
        let account = channel_id(c);
        let (txid, _) = funding(c);
        let block = (c.id >> 40) as u32;
        let opened = state.block_time(block);
        let fee = state.funding_fees.get(&c.id).copied();
        let ours = c.initiator && fee.is_some();
        events.push(Event {
            timestamp: opened,
            rank: 0,
            txids: vec![txid.clone()],
            json: chain_event(
                &account,
                "channel_open",
                if ours { c.capacity_sat * 1000 } else { 0 },
                &c.channel_point,
                block,
            ),
        });
        let Some(fee) = fee.filter(|_| ours) else {
            continue;
        };
        first_block = first_block.min(block);
        let outflow = (c.capacity_sat + fee) * 1000;
        spent_msat += outflow;
        for (timestamp, json) in [
            (opened, fee_event("wallet", outflow, 0, &txid, opened)),
            (
                opened + 1,
                fee_event("wallet", 0, outflow, &txid, opened + 1),
            ),
            (
                opened + 1,
                fee_event(&account, fee * 1000, 0, &txid, opened + 1),
            ),
        ] {
            events.push(Event {
                timestamp,
                rank: 2,
                txids: vec![txid.clone()],
                json,
            });
        }
    }
    if spent_msat > 0 {
        let height = first_block.saturating_sub(1);
        let deposit = state.deposit_txid();
        // The deposit also left 1M sat in the wallet.
        let json = chain_event(
            "wallet",
            "deposit",
            spent_msat + 1_000_000_000,
            &format!("{deposit}:0"),
            height,
        );
        events.push(Event {
            timestamp: state.block_time(height),
            rank: 0,
            txids: vec![deposit],
            json,
        });
    }
    events.sort_by_key(|e| (e.timestamp, e.rank));
    events
}

fn listaccountevents(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let account = params.string("account")?;
    let payment_id = params.string("payment_id")?;
    if let Some(id) = payment_id
        && !(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err(RpcError::bad_param(
            "payment_id",
            "should be a 32 byte hex value",
            &json!(id),
        ));
    }
    if account.is_some() && payment_id.is_some() {
        return Err(RpcError::invalid_params(
            "Can only specify one of {account} or {payment_id}",
        ));
    }
    let events = account_events(ctx.state, ctx.network);
    if let Some(account) = account
        && !events.iter().any(|e| e.json["account"] == account)
    {
        return Err(RpcError::invalid_params(format!(
            "Account '{account}' not found"
        )));
    }
    let id = payment_id.map(str::to_ascii_lowercase);
    let events: Vec<Value> = events
        .into_iter()
        .filter(|e| account.is_none_or(|a| e.json["account"] == a))
        .filter(|e| id.as_ref().is_none_or(|id| e.txids.contains(id)))
        .map(|e| e.json)
        .collect();
    Ok(json!({ "events": events }))
}

// ---------------------------------------------------------- setchannel

/// `id` is a short channel id, a channel id, a peer id or `all`.
fn setchannel_targets(state: &NodeState, params: &Params) -> Result<Vec<ChannelId>, RpcError> {
    let Some(id) = params.string("id")? else {
        return Err(RpcError::invalid_params("missing required parameter: id"));
    };
    if id == "all" {
        return Ok(state.channel_ids());
    }
    if is_pubkey(id) {
        let ids: Vec<ChannelId> = state
            .channels
            .iter()
            .filter(|c| c.peer_pubkey == id)
            .map(|c| c.id)
            .collect();
        if ids.is_empty() {
            return Err(RpcError::new(
                LIGHTNINGD,
                "Could not find any active channels of peer with that id",
            ));
        }
        return Ok(ids);
    }
    let token = json!(id);
    if let Ok(scid) = lnpolicy_node::cln::parse_scid(id) {
        return state
            .channel(scid)
            .map(|c| vec![c.id])
            .ok_or_else(|| RpcError::bad_param("id", "Short channel ID not found", &token));
    }
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return state
            .channels
            .iter()
            .find(|c| channel_id(c) == id.to_ascii_lowercase())
            .map(|c| vec![c.id])
            .ok_or_else(|| RpcError::bad_param("id", "Channel ID not found", &token));
    }
    Err(RpcError::bad_param(
        "id",
        "should be a channel ID or short channel ID",
        &token,
    ))
}

/// Omitted fields stay as they are; htlcmin is raised to the peer's minimum
/// and htlcmax lowered to what the channel can send, each with CLN's warning.
/// Like CLN (its source says "this always enables channel"), it re-enables
/// the channel. `enforcedelay` is kept per channel for the market engine, which accepts
/// the old fee that long (the scenario's `enforce_delay_secs` without it).
fn setchannel(ctx: &mut Ctx<'_>, params: &Params) -> Result<Value, RpcError> {
    let targets = setchannel_targets(ctx.state, params)?;
    let base = params
        .msat("feebase")?
        .map(|b| {
            u32::try_from(b)
                .map_err(|_| RpcError::bad_param("feebase", "exceeds u32 max", &json!(b)))
        })
        .transpose()?;
    let ppm = params.u32("feeppm")?;
    let htlc_min = params.msat("htlcmin")?;
    let htlc_max = params.msat("htlcmax")?;
    let enforce_delay = params.u32("enforcedelay")?;
    let ignore_fee_limits = params.bool("ignorefeelimits")?.unwrap_or(false);
    if let (Some(min), Some(max)) = (htlc_min, htlc_max)
        && max < min
    {
        return Err(RpcError::new(
            LIGHTNINGD,
            "htlcmax cannot be less than htlcmin",
        ));
    }
    let mut results = Vec::new();
    for id in targets {
        let Some(channel) = ctx.state.channel(id) else {
            continue;
        };
        let mut policy = channel.local_policy;
        let mut warnings = Map::new();
        if let Some(base) = base {
            policy.base_fee_msat = base;
        }
        if let Some(ppm) = ppm {
            policy.fee_ppm = ppm;
        }
        if let Some(min) = htlc_min {
            policy.min_htlc_msat = min.max(channel.min_htlc_msat);
            if min < channel.min_htlc_msat {
                warnings.insert(
                    "warning_htlcmin_too_low".into(),
                    json!("Set minimum_htlc_out_msat to minimum allowed by peer"),
                );
            }
        }
        if let Some(max) = htlc_max {
            let mut possible = channel
                .capacity_sat
                .saturating_sub(channel.local_reserve_sat)
                * 1000;
            if channel.max_in_flight_msat != 0 {
                possible = possible.min(channel.max_in_flight_msat);
            }
            policy.max_htlc_msat = max.min(possible);
            if max > possible {
                warnings.insert(
                    "warning_htlcmax_too_high".into(),
                    json!("Set maximum_htlc_out_msat to maximum possible in channel"),
                );
            }
        }
        policy.disabled = false;
        let peer_id = channel.peer_pubkey.clone();
        let cid = channel_id(channel);
        ctx.state
            .set_policy(id, policy)
            .map_err(|e| RpcError::new(LIGHTNINGD, e.to_string()))?;
        match enforce_delay {
            Some(secs) => ctx.state.enforce_delays.insert(id, u64::from(secs)),
            None => ctx.state.enforce_delays.remove(&id),
        };
        let mut entry = json!({
            "peer_id": peer_id,
            "channel_id": cid,
            "short_channel_id": format_scid(id),
            "fee_base_msat": policy.base_fee_msat,
            "fee_proportional_millionths": policy.fee_ppm,
            "minimum_htlc_out_msat": policy.min_htlc_msat,
            "maximum_htlc_out_msat": policy.max_htlc_msat,
            "ignore_fee_limits": ignore_fee_limits,
        });
        if let Value::Object(map) = &mut entry {
            map.extend(warnings);
        }
        results.push(entry);
    }
    Ok(json!({ "channels": results }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(id: ChannelId, channel_point: &str) -> NodeChannel {
        NodeChannel {
            id,
            channel_point: channel_point.into(),
            peer_pubkey: String::new(),
            capacity_sat: 0,
            local_balance_sat: 0,
            remote_balance_sat: 0,
            commit_fee_sat: 0,
            unsettled_balance_sat: 0,
            local_reserve_sat: 0,
            remote_reserve_sat: 0,
            pending_htlcs: Vec::new(),
            max_accepted_htlcs: 0,
            max_in_flight_msat: 0,
            min_htlc_msat: 0,
            active: true,
            private: false,
            initiator: true,
            total_sent_sat: 0,
            total_received_sat: 0,
            local_policy: FeePolicy::default(),
            peer_policy: None,
        }
    }

    #[test]
    fn channel_id_follows_bolt2() {
        let point = format!("{}01:{}", "00".repeat(31), 0x0102);
        // txid bytes reversed: 0x01 first, then zeros; output XORed into the last two.
        assert_eq!(
            channel_id(&channel(7, &point)),
            format!("01{}0102", "00".repeat(29))
        );
        assert_eq!(
            channel_id(&channel(7, "not-a-point")),
            format!("{:064x}", 7)
        );
    }

    #[test]
    fn direction_is_zero_from_the_lesser_key() {
        assert_eq!(direction("02aa", "03aa"), 0);
        assert_eq!(direction("03aa", "02aa"), 1);
    }
}
