//! Core Lightning's JSON answers, decoded into the few fields lnpolicy reads,
//! and turned into `lnpolicy_core` types.
//!
//! These are our own narrow models rather than cln-rpc's generated ones on
//! purpose: cln-rpc 0.7 parses every `peer_id` as a secp256k1 point and every
//! `state`/`status` as a closed enum, so one unexpected value (a newer CLN
//! state, a simulator's synthetic key) fails the whole call. Here unknown
//! fields are ignored, amounts are accepted both as integers (CLN since
//! v23.x) and as `"NNNmsat"` strings (older CLN, cln-rpc's own encoding), and
//! only what the daemon uses is required.
//!
//! The client decodes every answer through [`decode`] and the functions below,
//! so the conformance tests that feed CLN's own schema examples through them
//! exercise exactly the client's path.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use lnpolicy_core::{
    ChannelId, FailedForward, FailureReason, FeePolicy, Forward, FundingFee, NodeChannel,
    NodeError, NodeInfo, NodeKind, PaymentPart, PaymentPartPage, PeerInfo, PendingHtlc,
    ResolvedPage,
};
use serde::de::{self, DeserializeOwned, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::scid::{ScidError, parse_scid};

/// A CLN answer that does not fit what lnpolicy needs from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error(transparent)]
    Scid(#[from] ScidError),
    #[error("channel {channel}: field {field} is missing")]
    Missing {
        channel: String,
        field: &'static str,
    },
    #[error("{field} = {value} does not fit in {target}")]
    OutOfRange {
        field: &'static str,
        value: u64,
        target: &'static str,
    },
    #[error("{field} = {value:?} is not one of {expected}")]
    Unexpected {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("setchannel did not report channel {0}")]
    NotApplied(String),
    #[error("setchannel left channel {scid} at {got}, asked for {wanted}")]
    Mismatch {
        scid: String,
        wanted: String,
        got: String,
    },
}

impl WireError {
    /// As the trait's error, naming the CLN method whose answer was wrong.
    pub fn into_node_error(self, method: &'static str) -> NodeError {
        NodeError::Protocol {
            method,
            detail: self.to_string(),
        }
    }
}

/// A JSON-RPC result type, tied to the one CLN method that produces it.
pub trait ClnResponse: DeserializeOwned {
    const METHOD: &'static str;
}

/// Decodes a method's `result` object.
pub fn decode<R: ClnResponse>(value: Value) -> Result<R, NodeError> {
    serde_json::from_value(value).map_err(|e| NodeError::Protocol {
        method: R::METHOD,
        detail: e.to_string(),
    })
}

/// Why a string is not a CLN amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("{0:?} is not an amount (NNN, NNNmsat, NNN[.NNN]sat or NNN[.NNNNNNNNNNN]btc)")]
    Invalid(String),
    #[error("{0:?} exceeds 2^64 msat")]
    Overflow(String),
}

/// Parses an amount the way CLN's `param_msat` does: a whole number of msat,
/// or a number ending in `msat`, `sat` (up to 3 decimals) or `btc` (up to 11).
pub fn parse_amount(text: &str) -> Result<u64, AmountError> {
    let invalid = || AmountError::Invalid(text.to_owned());
    let (number, decimals_allowed) = if let Some(n) = text.strip_suffix("msat") {
        (n, 0)
    } else if let Some(n) = text.strip_suffix("sat") {
        (n, 3)
    } else if let Some(n) = text.strip_suffix("btc") {
        (n, 11)
    } else {
        (text, 0)
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) if !f.is_empty() => (w, f),
        Some(_) => return Err(invalid()),
        None => (number, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(invalid());
    }
    if fraction.len() > decimals_allowed {
        return Err(invalid());
    }
    let overflow = || AmountError::Overflow(text.to_owned());
    let scale = 10u64.pow(decimals_allowed as u32);
    let whole: u64 = whole.parse().map_err(|_| overflow())?;
    let fraction_msat = if fraction.is_empty() {
        0
    } else {
        let digits: u64 = fraction.parse().map_err(|_| overflow())?;
        digits * 10u64.pow((decimals_allowed - fraction.len()) as u32)
    };
    whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(fraction_msat))
        .ok_or_else(overflow)
}

/// An amount in millisatoshi, however CLN wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Msat(pub u64);

impl<'de> Deserialize<'de> for Msat {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MsatVisitor;
        impl Visitor<'_> for MsatVisitor {
            type Value = Msat;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an msat amount: an integer or a string such as \"1000msat\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Msat, E> {
                Ok(Msat(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Msat, E> {
                u64::try_from(v)
                    .map(Msat)
                    .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Msat, E> {
                parse_amount(v).map(Msat).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(MsatVisitor)
    }
}

impl Msat {
    /// Whole satoshis, rounded down as LND reports balances.
    pub fn sat(self) -> u64 {
        self.0 / 1000
    }

    fn to_u32(self, field: &'static str) -> Result<u32, WireError> {
        u32::try_from(self.0).map_err(|_| WireError::OutOfRange {
            field,
            value: self.0,
            target: "u32",
        })
    }
}

/// Unix seconds as CLN prints them (a float with millisecond decimals) to
/// nanoseconds, rounded to the millisecond CLN actually resolves.
pub fn seconds_to_ns(seconds: f64) -> u64 {
    // `as` saturates: NaN and negatives become 0, which only a broken node sends.
    ((seconds * 1000.0).round() as u64).saturating_mul(1_000_000)
}

// ---------------------------------------------------------------- getinfo

/// `getinfo`: who the node is and whether it follows the chain.
#[derive(Debug, Clone, Deserialize)]
pub struct Getinfo {
    pub id: String,
    pub alias: String,
    pub version: String,
    pub blockheight: u32,
    #[serde(default)]
    pub warning_bitcoind_sync: Option<String>,
    #[serde(default)]
    pub warning_lightningd_sync: Option<String>,
}

impl ClnResponse for Getinfo {
    const METHOD: &'static str = "getinfo";
}

impl Getinfo {
    /// CLN reports chain sync only, as the absence of its two sync warnings;
    /// it has no notion of "synced to graph", so that follows the chain.
    pub fn node_info(&self) -> NodeInfo {
        let synced = self.warning_bitcoind_sync.is_none() && self.warning_lightningd_sync.is_none();
        NodeInfo {
            kind: NodeKind::Cln,
            pubkey: self.id.clone(),
            alias: self.alias.clone(),
            version: self.version.clone(),
            block_height: self.blockheight,
            synced_to_chain: synced,
            synced_to_graph: synced,
        }
    }
}

// ------------------------------------------------------- listpeerchannels

/// `listpeerchannels`: our channels with balances, limits and both policies.
#[derive(Debug, Clone, Deserialize)]
pub struct ListPeerChannels {
    pub channels: Vec<PeerChannel>,
}

impl ClnResponse for ListPeerChannels {
    const METHOD: &'static str = "listpeerchannels";
}

/// One of our channels as `listpeerchannels` reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct PeerChannel {
    pub peer_id: String,
    /// The 64-hex-digit channel id, which `listchannelmoves` names channels by.
    #[serde(default)]
    pub channel_id: Option<String>,
    pub peer_connected: bool,
    pub state: String,
    pub opener: String,
    #[serde(default)]
    pub short_channel_id: Option<String>,
    #[serde(default)]
    pub funding_txid: Option<String>,
    #[serde(default)]
    pub funding_outnum: Option<u32>,
    #[serde(default)]
    pub private: Option<bool>,
    #[serde(default)]
    pub to_us_msat: Option<Msat>,
    #[serde(default)]
    pub total_msat: Option<Msat>,
    #[serde(default)]
    pub our_reserve_msat: Option<Msat>,
    #[serde(default)]
    pub their_reserve_msat: Option<Msat>,
    #[serde(default)]
    pub last_tx_fee_msat: Option<Msat>,
    #[serde(default)]
    pub their_max_htlc_value_in_flight_msat: Option<Msat>,
    #[serde(default)]
    pub minimum_htlc_out_msat: Option<Msat>,
    #[serde(default)]
    pub maximum_htlc_out_msat: Option<Msat>,
    #[serde(default)]
    pub max_accepted_htlcs: Option<u32>,
    #[serde(default)]
    pub in_fulfilled_msat: Option<Msat>,
    #[serde(default)]
    pub out_fulfilled_msat: Option<Msat>,
    #[serde(default)]
    pub fee_base_msat: Option<Msat>,
    #[serde(default)]
    pub fee_proportional_millionths: Option<u32>,
    /// The channel_updates in force each way (CLN >= v24.02).
    #[serde(default)]
    pub updates: Option<Updates>,
    #[serde(default)]
    pub htlcs: Vec<Htlc>,
}

/// `updates`: our channel_update and, once received, the peer's.
#[derive(Debug, Clone, Deserialize)]
pub struct Updates {
    pub local: ChannelUpdate,
    #[serde(default)]
    pub remote: Option<ChannelUpdate>,
}

/// One direction's channel_update fields.
#[derive(Debug, Clone, Deserialize)]
pub struct ChannelUpdate {
    pub htlc_minimum_msat: Msat,
    pub htlc_maximum_msat: Msat,
    pub cltv_expiry_delta: u32,
    pub fee_base_msat: Msat,
    pub fee_proportional_millionths: u32,
}

impl ChannelUpdate {
    /// CLN carries no disable bit here and has no inbound fees.
    pub fn policy(&self, disabled: bool) -> Result<FeePolicy, WireError> {
        Ok(FeePolicy {
            base_fee_msat: self.fee_base_msat.to_u32("fee_base_msat")?,
            fee_ppm: self.fee_proportional_millionths,
            inbound_base_fee_msat: 0,
            inbound_fee_ppm: 0,
            min_htlc_msat: self.htlc_minimum_msat.0,
            max_htlc_msat: self.htlc_maximum_msat.0,
            time_lock_delta: self.cltv_expiry_delta,
            disabled,
        })
    }
}

/// An HTLC in flight on a channel.
#[derive(Debug, Clone, Deserialize)]
pub struct Htlc {
    /// `in`: offered by the peer; `out`: offered by us.
    pub direction: String,
    pub amount_msat: Msat,
    /// Block height at which it times out.
    pub expiry: u32,
}

impl Htlc {
    pub fn pending(&self) -> Result<PendingHtlc, WireError> {
        let incoming = match self.direction.as_str() {
            "in" => true,
            "out" => false,
            other => {
                return Err(WireError::Unexpected {
                    field: "htlcs[].direction",
                    value: other.to_owned(),
                    expected: "in, out",
                });
            }
        };
        Ok(PendingHtlc {
            incoming,
            amount_msat: self.amount_msat.0,
            expiry_height: self.expiry,
        })
    }
}

/// States in which a channel forwards payments and accepts `setchannel`.
const FORWARDING_STATES: [&str; 2] = ["CHANNELD_NORMAL", "CHANNELD_AWAITING_SPLICE"];

impl PeerChannel {
    /// Open for forwarding: locked in (has a short channel id) and not closing.
    pub fn is_open(&self) -> bool {
        FORWARDING_STATES.contains(&self.state.as_str()) && self.short_channel_id.is_some()
    }

    fn missing(&self, field: &'static str) -> WireError {
        WireError::Missing {
            channel: self
                .short_channel_id
                .clone()
                .unwrap_or_else(|| self.peer_id.clone()),
            field,
        }
    }

    /// Our policy, from `updates.local` (or the flat fields older CLN prints,
    /// which lack the cltv delta: reported as 0).
    pub fn local_policy(&self) -> Result<FeePolicy, WireError> {
        // CLN sends a disabling channel_update while the peer is away.
        let disabled = !self.peer_connected;
        if let Some(updates) = &self.updates {
            return updates.local.policy(disabled);
        }
        let base = self
            .fee_base_msat
            .ok_or_else(|| self.missing("fee_base_msat"))?;
        Ok(FeePolicy {
            base_fee_msat: base.to_u32("fee_base_msat")?,
            fee_ppm: self
                .fee_proportional_millionths
                .ok_or_else(|| self.missing("fee_proportional_millionths"))?,
            inbound_base_fee_msat: 0,
            inbound_fee_ppm: 0,
            min_htlc_msat: self.minimum_htlc_out_msat.unwrap_or_default().0,
            max_htlc_msat: self.maximum_htlc_out_msat.unwrap_or_default().0,
            time_lock_delta: 0,
            disabled,
        })
    }

    /// The peer's channel_update as our node received it directly, for
    /// channels the gossip store does not show (private, not yet announced).
    pub fn remote_policy(&self) -> Result<Option<FeePolicy>, WireError> {
        self.updates
            .as_ref()
            .and_then(|u| u.remote.as_ref())
            .map(|r| r.policy(false))
            .transpose()
    }

    /// The channel in lnpolicy's terms. `peer_policy` is the peer's policy
    /// toward us as the caller found it (gossip first, then `updates.remote`).
    pub fn to_node_channel(
        &self,
        id: ChannelId,
        peer_policy: Option<FeePolicy>,
    ) -> Result<NodeChannel, WireError> {
        let total = self.total_msat.ok_or_else(|| self.missing("total_msat"))?;
        let to_us = self.to_us_msat.ok_or_else(|| self.missing("to_us_msat"))?;
        let txid = self
            .funding_txid
            .as_ref()
            .ok_or_else(|| self.missing("funding_txid"))?;
        let outnum = self
            .funding_outnum
            .ok_or_else(|| self.missing("funding_outnum"))?;
        let local_policy = self.local_policy()?;
        let unsettled_msat: u64 = self.htlcs.iter().map(|h| h.amount_msat.0).sum();
        // CLN's `to_us_msat` still holds our HTLCs in flight and, when we opened the channel,
        // the commitment fee; the rest of `total_msat` holds the peer's HTLCs and, when it
        // opened, the fee. LND's balances (and lnpolicy's) hold neither: both are taken out,
        // so a balance ratio reads the same on either node.
        let in_flight = |direction: &str| -> u64 {
            self.htlcs
                .iter()
                .filter(|h| h.direction == direction)
                .map(|h| h.amount_msat.0)
                .sum()
        };
        let fee = self.last_tx_fee_msat.unwrap_or_default().0;
        let (our_fee, their_fee) = if self.opener == "local" {
            (fee, 0)
        } else {
            (0, fee)
        };
        let local_msat = to_us
            .0
            .saturating_sub(in_flight("out"))
            .saturating_sub(our_fee);
        let remote_msat = total
            .0
            .saturating_sub(to_us.0)
            .saturating_sub(in_flight("in"))
            .saturating_sub(their_fee);
        Ok(NodeChannel {
            id,
            channel_point: format!("{txid}:{outnum}"),
            peer_pubkey: self.peer_id.clone(),
            capacity_sat: total.sat(),
            local_balance_sat: Msat(local_msat).sat(),
            remote_balance_sat: Msat(remote_msat).sat(),
            commit_fee_sat: self.last_tx_fee_msat.unwrap_or_default().sat(),
            unsettled_balance_sat: unsettled_msat / 1000,
            local_reserve_sat: self.our_reserve_msat.unwrap_or_default().sat(),
            remote_reserve_sat: self.their_reserve_msat.unwrap_or_default().sat(),
            pending_htlcs: self
                .htlcs
                .iter()
                .map(Htlc::pending)
                .collect::<Result<_, _>>()?,
            max_accepted_htlcs: self.max_accepted_htlcs.unwrap_or_default(),
            max_in_flight_msat: self
                .their_max_htlc_value_in_flight_msat
                .unwrap_or_default()
                .0,
            // CLN does not print the peer's htlc_minimum; the smallest HTLC we
            // send out (never below the peer's minimum, setchannel enforces
            // that) is the closest it reports.
            min_htlc_msat: self
                .minimum_htlc_out_msat
                .unwrap_or(Msat(local_policy.min_htlc_msat))
                .0,
            active: self.state == "CHANNELD_NORMAL" && self.peer_connected,
            private: self.private.unwrap_or(false),
            initiator: self.opener == "local",
            total_sent_sat: self.out_fulfilled_msat.unwrap_or_default().sat(),
            total_received_sat: self.in_fulfilled_msat.unwrap_or_default().sat(),
            local_policy,
            peer_policy,
        })
    }
}

/// Our open channels, each with the peer's policy toward us: from the gossip
/// store (`listchannels destination=<our id>`) when the channel is public,
/// else from the update the peer sent us directly.
pub fn node_channels(
    peers: &ListPeerChannels,
    toward_us: &ListChannels,
    our_id: &str,
) -> Result<Vec<NodeChannel>, WireError> {
    let mut gossip: HashMap<ChannelId, FeePolicy> = HashMap::new();
    for half in toward_us
        .channels
        .iter()
        .filter(|c| c.destination == our_id)
    {
        gossip.insert(half.scid()?, half.policy()?);
    }
    let mut out = Vec::new();
    for channel in peers.channels.iter().filter(|c| c.is_open()) {
        let Some(scid) = &channel.short_channel_id else {
            continue;
        };
        let id = parse_scid(scid)?;
        let peer_policy = match gossip.get(&id) {
            Some(policy) => Some(*policy),
            None => channel.remote_policy()?,
        };
        out.push(channel.to_node_channel(id, peer_policy)?);
    }
    Ok(out)
}

/// Every channel the node still lists (closing ones too) by its channel id, lowercase, for
/// the moves that name channels that way.
pub fn channel_ids(peers: &ListPeerChannels) -> Result<BTreeMap<String, ChannelId>, WireError> {
    let mut ids = BTreeMap::new();
    for channel in &peers.channels {
        if let (Some(id), Some(scid)) = (&channel.channel_id, &channel.short_channel_id) {
            ids.insert(id.to_ascii_lowercase(), parse_scid(scid)?);
        }
    }
    Ok(ids)
}

// ----------------------------------------------------------- listforwards

/// `listforwards`: the node's forwarding log, settled and failed alike.
#[derive(Debug, Clone, Deserialize)]
pub struct ListForwards {
    pub forwards: Vec<WireForward>,
}

impl ClnResponse for ListForwards {
    const METHOD: &'static str = "listforwards";
}

/// One entry of the forwarding log.
#[derive(Debug, Clone, Deserialize)]
pub struct WireForward {
    pub created_index: u64,
    /// Present once a forward listed `offered` has settled or failed (CLN 23.11+).
    #[serde(default)]
    pub updated_index: Option<u64>,
    pub in_channel: String,
    pub in_msat: Msat,
    pub status: String,
    pub received_time: f64,
    #[serde(default)]
    pub out_channel: Option<String>,
    #[serde(default)]
    pub out_msat: Option<Msat>,
    #[serde(default)]
    pub fee_msat: Option<Msat>,
    #[serde(default)]
    pub resolved_time: Option<f64>,
    #[serde(default)]
    pub failcode: Option<u32>,
    #[serde(default)]
    pub failreason: Option<String>,
}

/// What one log entry means to lnpolicy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardOutcome {
    Settled(Forward),
    Failed(FailedForward),
    /// `offered`: the outgoing HTLC is still pending; it will settle or fail.
    InFlight,
    /// `failed`: the outgoing HTLC failed further along the route (a probe, a peer's peer out
    /// of liquidity). Not a failure at our node, so not a [`FailedForward`]: LND reports these
    /// apart from its own failures, and the LND client leaves them out too.
    FailedDownstream,
    /// A status this version does not know; skipped rather than stalling.
    Unknown,
}

// BOLT 4 failure codes CLN reports as `failcode` on `local_failed` forwards.
const UPDATE: u32 = 0x1000;
const PERM: u32 = 0x4000;
const NODE: u32 = 0x2000;
const TEMPORARY_CHANNEL_FAILURE: u32 = UPDATE | 7;
const PERMANENT_CHANNEL_FAILURE: u32 = PERM | 8;
const UNKNOWN_NEXT_PEER: u32 = PERM | 10;
const FEE_INSUFFICIENT: u32 = UPDATE | 12;
const INCORRECT_CLTV_EXPIRY: u32 = UPDATE | 13;
const EXPIRY_TOO_SOON: u32 = UPDATE | 14;
const CHANNEL_DISABLED: u32 = UPDATE | 20;
const EXPIRY_TOO_FAR: u32 = 21;
const TEMPORARY_NODE_FAILURE: u32 = NODE | 2;

/// Maps CLN's failure (BOLT 4 code, or its `WIRE_*` name when the code is
/// absent) to the categories strategies use. A `failed` forward without a
/// code failed downstream of us: `Other`.
pub fn failure_reason(failcode: Option<u32>, failreason: Option<&str>) -> FailureReason {
    let code = failcode.or_else(|| {
        Some(match failreason? {
            "WIRE_TEMPORARY_CHANNEL_FAILURE" => TEMPORARY_CHANNEL_FAILURE,
            "WIRE_PERMANENT_CHANNEL_FAILURE" => PERMANENT_CHANNEL_FAILURE,
            "WIRE_UNKNOWN_NEXT_PEER" => UNKNOWN_NEXT_PEER,
            "WIRE_FEE_INSUFFICIENT" => FEE_INSUFFICIENT,
            "WIRE_INCORRECT_CLTV_EXPIRY" => INCORRECT_CLTV_EXPIRY,
            "WIRE_EXPIRY_TOO_SOON" => EXPIRY_TOO_SOON,
            "WIRE_EXPIRY_TOO_FAR" => EXPIRY_TOO_FAR,
            "WIRE_CHANNEL_DISABLED" => CHANNEL_DISABLED,
            "WIRE_TEMPORARY_NODE_FAILURE" => TEMPORARY_NODE_FAILURE,
            _ => return None,
        })
    });
    match code {
        // CLN answers "capacity exceeded" (not enough outbound) this way.
        Some(TEMPORARY_CHANNEL_FAILURE) => FailureReason::InsufficientBalance,
        Some(FEE_INSUFFICIENT) => FailureReason::FeeInsufficient,
        Some(INCORRECT_CLTV_EXPIRY | EXPIRY_TOO_SOON | EXPIRY_TOO_FAR) => {
            FailureReason::IncorrectCltv
        }
        Some(UNKNOWN_NEXT_PEER | CHANNEL_DISABLED | PERMANENT_CHANNEL_FAILURE) => {
            FailureReason::ChannelUnavailable
        }
        _ => FailureReason::Other,
    }
}

impl WireForward {
    pub fn outcome(&self) -> Result<ForwardOutcome, WireError> {
        let missing = |field| WireError::Missing {
            channel: self.in_channel.clone(),
            field,
        };
        Ok(match self.status.as_str() {
            "settled" => ForwardOutcome::Settled(Forward {
                index: self.created_index,
                at_ns: seconds_to_ns(self.resolved_time.unwrap_or(self.received_time)),
                chan_in: parse_scid(&self.in_channel)?,
                chan_out: parse_scid(
                    self.out_channel
                        .as_deref()
                        .ok_or_else(|| missing("out_channel"))?,
                )?,
                amt_in_msat: self.in_msat.0,
                amt_out_msat: self.out_msat.ok_or_else(|| missing("out_msat"))?.0,
                fee_msat: self.fee_msat.ok_or_else(|| missing("fee_msat"))?.0,
            }),
            "failed" => ForwardOutcome::FailedDownstream,
            "local_failed" => ForwardOutcome::Failed(FailedForward {
                index: self.created_index,
                at_ns: seconds_to_ns(self.resolved_time.unwrap_or(self.received_time)),
                chan_in: parse_scid(&self.in_channel)?,
                chan_out: self.out_channel.as_deref().map(parse_scid).transpose()?,
                amt_in_msat: self.in_msat.0,
                reason: failure_reason(self.failcode, self.failreason.as_deref()),
            }),
            "offered" => ForwardOutcome::InFlight,
            _ => ForwardOutcome::Unknown,
        })
    }
}

/// The entries of one `listforwards` page that a caller wants, and where the
/// next read must start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageScan<T> {
    pub items: Vec<T>,
    /// The created_index after the last entry consumed.
    pub next_index: u64,
}

/// Walks one page in created_index order from `from_index`, keeping what
/// `pick` selects. A forward still `offered` is passed over: CLN lists it
/// under the created_index it got when it arrived, and its outcome comes with
/// an `updated_index` ([`resolved_forwards`]), so a held HTLC never stops the
/// created-order streams.
pub fn scan_forwards<T>(
    page: &ListForwards,
    from_index: u64,
    mut pick: impl FnMut(ForwardOutcome) -> Option<T>,
) -> Result<PageScan<T>, WireError> {
    let mut entries: Vec<&WireForward> = page
        .forwards
        .iter()
        .filter(|f| f.created_index >= from_index)
        .collect();
    entries.sort_by_key(|f| f.created_index);
    let mut scan = PageScan {
        items: Vec::new(),
        next_index: from_index,
    };
    for entry in entries {
        if let Some(item) = pick(entry.outcome()?) {
            scan.items.push(item);
        }
        scan.next_index = entry.created_index + 1;
    }
    Ok(scan)
}

/// The forwards of a `listforwards index=updated` page that settled or failed
/// after being listed in flight, in `updated_index` order from `from_index`,
/// each under its created_index like in the created-order streams;
/// `next_index` is after the last updated_index read.
pub fn resolved_forwards(page: &ListForwards, from_index: u64) -> Result<ResolvedPage, WireError> {
    let mut entries: Vec<(u64, &WireForward)> = page
        .forwards
        .iter()
        .filter_map(|f| Some((f.updated_index?, f)))
        .filter(|(updated, _)| *updated >= from_index)
        .collect();
    entries.sort_by_key(|(updated, _)| *updated);
    let mut resolved = ResolvedPage {
        forwards: Vec::new(),
        failures: Vec::new(),
        next_index: from_index,
    };
    for (updated, entry) in entries {
        match entry.outcome()? {
            ForwardOutcome::Settled(f) => resolved.forwards.push(f),
            ForwardOutcome::Failed(f) => resolved.failures.push(f),
            ForwardOutcome::InFlight
            | ForwardOutcome::FailedDownstream
            | ForwardOutcome::Unknown => {}
        }
        resolved.next_index = updated + 1;
    }
    Ok(resolved)
}

/// Settled forwards of a page.
pub fn settled_forwards(
    page: &ListForwards,
    from_index: u64,
) -> Result<PageScan<Forward>, WireError> {
    scan_forwards(page, from_index, |o| match o {
        ForwardOutcome::Settled(f) => Some(f),
        _ => None,
    })
}

/// Forwards of a page that failed at our node (`local_failed`).
pub fn failed_forwards(
    page: &ListForwards,
    from_index: u64,
) -> Result<PageScan<FailedForward>, WireError> {
    scan_forwards(page, from_index, |o| match o {
        ForwardOutcome::Failed(f) => Some(f),
        _ => None,
    })
}

// ----------------------------------------------------------- listchannels

/// `listchannels`: directed halves of channels from the gossip store.
#[derive(Debug, Clone, Deserialize)]
pub struct ListChannels {
    pub channels: Vec<GossipChannel>,
}

impl ClnResponse for ListChannels {
    const METHOD: &'static str = "listchannels";
}

/// One direction of a public channel: `source`'s policy toward `destination`.
#[derive(Debug, Clone, Deserialize)]
pub struct GossipChannel {
    pub source: String,
    pub destination: String,
    pub short_channel_id: String,
    /// The channel's capacity.
    pub amount_msat: Msat,
    pub public: bool,
    pub active: bool,
    pub base_fee_millisatoshi: u32,
    pub fee_per_millionth: u32,
    pub delay: u32,
    pub htlc_minimum_msat: Msat,
    #[serde(default)]
    pub htlc_maximum_msat: Option<Msat>,
}

impl GossipChannel {
    pub fn scid(&self) -> Result<ChannelId, WireError> {
        Ok(parse_scid(&self.short_channel_id)?)
    }

    /// `source`'s policy; `active` is the inverse of the disable bit.
    pub fn policy(&self) -> Result<FeePolicy, WireError> {
        Ok(FeePolicy {
            base_fee_msat: self.base_fee_millisatoshi,
            fee_ppm: self.fee_per_millionth,
            inbound_base_fee_msat: 0,
            inbound_fee_ppm: 0,
            min_htlc_msat: self.htlc_minimum_msat.0,
            max_htlc_msat: self.htlc_maximum_msat.unwrap_or_default().0,
            time_lock_delta: self.delay,
            disabled: !self.active,
        })
    }
}

/// The peer from `listchannels destination=<peer>`: one entry per channel
/// direction, here the directions into the peer, each set by its source. Its
/// public channels are the distinct short channel ids, and their capacity the
/// sum of `amount_msat` over them. The fee rates are those of the enabled
/// directions into the peer other than ours: what the routes that reach the
/// peer without us charge (see [`PeerInfo::fee_rates_ppm`]). `None` when the
/// gossip shows no channel into the peer.
pub fn peer_info(to_peer: &ListChannels, peer: &str, our_id: &str) -> Option<PeerInfo> {
    let halves: Vec<&GossipChannel> = to_peer
        .channels
        .iter()
        .filter(|c| c.destination == peer && c.public)
        .collect();
    if halves.is_empty() {
        return None;
    }
    let mut capacity_by_scid: BTreeMap<&str, u64> = BTreeMap::new();
    for half in &halves {
        capacity_by_scid.insert(&half.short_channel_id, half.amount_msat.sat());
    }
    Some(PeerInfo {
        public_channels: u32::try_from(capacity_by_scid.len()).unwrap_or(u32::MAX),
        public_capacity_sat: capacity_by_scid.values().sum(),
        fee_rates_ppm: halves
            .iter()
            .filter(|c| c.source != our_id && c.active)
            .map(|c| c.fee_per_millionth)
            .collect(),
    })
}

// --------------------------------------------------------------- feerates

/// `feerates style=perkb`: the node's on-chain fee estimates.
#[derive(Debug, Clone, Deserialize)]
pub struct Feerates {
    /// Absent when the node was asked for another style.
    #[serde(default)]
    pub perkb: Option<FeerateTable>,
    /// Set when the backend gave no (or not all) estimates.
    #[serde(default)]
    pub warning_missing_feerates: Option<String>,
}

impl ClnResponse for Feerates {
    const METHOD: &'static str = "feerates";
}

/// The estimates of one style; the other fields (opening, mutual_close, ...)
/// are CLN's choices derived from them.
#[derive(Debug, Clone, Deserialize)]
pub struct FeerateTable {
    #[serde(default)]
    pub estimates: Vec<FeerateEstimate>,
}

/// The backend's estimate for confirmation within `blockcount` blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct FeerateEstimate {
    pub blockcount: u32,
    /// In the requested style (perkb: sat per 1000 virtual bytes).
    pub feerate: u32,
    pub smoothed_feerate: u32,
}

impl Feerates {
    /// sat/vB to confirm within `conf_target` blocks: the estimate for the
    /// largest block count that is not above the target (a target between
    /// two estimates gets the faster, dearer one), else the one for the
    /// smallest block count. The raw `feerate`, not the smoothed one: the
    /// smoothing is CLN's own damping for its channel negotiations, while a
    /// strategy wants what confirming costs now. `None` without estimates.
    pub fn sat_per_vbyte(&self, conf_target: u32) -> Option<f64> {
        let estimates = &self.perkb.as_ref()?.estimates;
        let chosen = estimates
            .iter()
            .filter(|e| e.blockcount <= conf_target)
            .max_by_key(|e| e.blockcount)
            .or_else(|| estimates.iter().min_by_key(|e| e.blockcount))?;
        (chosen.feerate > 0).then(|| f64::from(chosen.feerate) / 1000.0)
    }
}

// ------------------------------------------------------ listchannelmoves

/// `listchannelmoves` (CLN >= v25.09): every settled balance change in our channels, in
/// `created_index` order.
#[derive(Debug, Clone, Deserialize)]
pub struct ListChannelMoves {
    pub channelmoves: Vec<ChannelMove>,
}

impl ClnResponse for ListChannelMoves {
    const METHOD: &'static str = "listchannelmoves";
}

/// One balance change in one channel; only what rebalancing costs need.
#[derive(Debug, Clone, Deserialize)]
pub struct ChannelMove {
    pub created_index: u64,
    /// The channel's 64-hex-digit channel id.
    pub account_id: String,
    pub credit_msat: Msat,
    pub debit_msat: Msat,
    /// Unix seconds.
    pub timestamp: u64,
    /// `invoice` for our own payments; `routed` for forwards, and others.
    pub primary_tag: String,
    #[serde(default)]
    pub payment_hash: Option<String>,
    pub fees_msat: Msat,
}

/// The parts of our own payments in one `listchannelmoves` page read from `from_index`:
/// each `invoice` move, a debit as a part sent (with the fee it paid), a credit as a part
/// received, its channel found by channel id in `channel_ids` (`None` once the node forgot
/// it). `next_index` is after the last move read, of whatever tag.
pub fn payment_parts(
    page: &ListChannelMoves,
    from_index: u64,
    channel_ids: &BTreeMap<String, ChannelId>,
) -> PaymentPartPage {
    let mut moves: Vec<&ChannelMove> = page
        .channelmoves
        .iter()
        .filter(|m| m.created_index >= from_index)
        .collect();
    moves.sort_by_key(|m| m.created_index);
    let parts = moves
        .iter()
        .filter(|m| m.primary_tag == "invoice")
        .filter_map(|m| {
            let hash = m.payment_hash.as_deref()?;
            let sent = m.debit_msat.0 > 0;
            Some(PaymentPart {
                index: m.created_index,
                part: 0,
                at_secs: m.timestamp,
                channel: channel_ids.get(&m.account_id.to_ascii_lowercase()).copied(),
                payment_hash: hash.to_ascii_lowercase(),
                sent,
                amount_msat: if sent {
                    m.debit_msat.0
                } else {
                    m.credit_msat.0
                },
                fee_msat: if sent { m.fees_msat.0 } else { 0 },
            })
        })
        .collect();
    PaymentPartPage {
        parts,
        unresolved: Vec::new(),
        events: moves.len(),
        next_index: moves.last().map_or(from_index, |m| m.created_index + 1),
    }
}

// ------------------------------------------------- bkpr-listaccountevents

/// `bkpr-listaccountevents`: the bookkeeper plugin's log of balance changes.
#[derive(Debug, Clone, Deserialize)]
pub struct ListAccountEvents {
    pub events: Vec<AccountEvent>,
}

impl ClnResponse for ListAccountEvents {
    const METHOD: &'static str = "bkpr-listaccountevents";
}

/// One bookkeeping event; only what on-chain fees need.
#[derive(Debug, Clone, Deserialize)]
pub struct AccountEvent {
    /// `wallet`, `external`, or a channel's id (64 hex digits).
    pub account: String,
    /// `chain`, `channel` or `onchain_fee`.
    #[serde(rename = "type")]
    pub kind: String,
    pub tag: String,
    pub credit_msat: Msat,
    pub debit_msat: Msat,
    #[serde(default)]
    pub txid: Option<String>,
}

impl AccountEvent {
    fn is_onchain_fee(&self) -> bool {
        self.kind == "onchain_fee" || self.tag == "onchain_fee"
    }

    /// Our wallet or one of our channels (a channel account is its channel id).
    fn is_ours(&self) -> bool {
        self.account == "wallet" || is_hash(&self.account)
    }
}

/// 32 bytes as 64 hex digits: the form of a txid and of a channel id.
pub fn is_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// On-chain fees per transaction from the bookkeeper's `onchain_fee` events of
/// our wallet and channel accounts.
///
/// Not just the debits: the bookkeeper records a transaction's fee as it
/// learns more about the transaction's inputs and outputs, never rewriting an
/// event, so a fee is the *sum of credits minus debits* of all its events
/// (this command shows fees paid as credits, the opposite of `listincome`).
/// In CLN's own example, a channel open shows the wallet crediting and then
/// debiting 1004927 sat (the funding output counted as fee until it was
/// known to be the channel's), and the channel account crediting the actual
/// 4927 sat. Transactions whose fees net to zero (or less than 1 sat) are
/// left out.
pub fn onchain_fees(events: &ListAccountEvents) -> Vec<FundingFee> {
    let mut net_msat: BTreeMap<String, i128> = BTreeMap::new();
    for event in events
        .events
        .iter()
        .filter(|e| e.is_onchain_fee() && e.is_ours())
    {
        let Some(txid) = &event.txid else { continue };
        *net_msat.entry(txid.to_ascii_lowercase()).or_default() +=
            i128::from(event.credit_msat.0) - i128::from(event.debit_msat.0);
    }
    net_msat
        .into_iter()
        .filter_map(|(txid, msat)| {
            let fee_sat = u64::try_from(msat / 1000).ok().filter(|sat| *sat > 0)?;
            Some(FundingFee { txid, fee_sat })
        })
        .collect()
}

// ------------------------------------------------------------- setchannel

/// `setchannel`: the resulting configuration of each channel it changed.
#[derive(Debug, Clone, Deserialize)]
pub struct SetChannel {
    pub channels: Vec<SetChannelResult>,
}

impl ClnResponse for SetChannel {
    const METHOD: &'static str = "setchannel";
}

#[derive(Debug, Clone, Deserialize)]
pub struct SetChannelResult {
    pub peer_id: String,
    #[serde(default)]
    pub short_channel_id: Option<String>,
    pub fee_base_msat: Msat,
    pub fee_proportional_millionths: u32,
    pub minimum_htlc_out_msat: Msat,
    pub maximum_htlc_out_msat: Msat,
    /// CLN raised htlcmin to the peer's minimum.
    #[serde(default)]
    pub warning_htlcmin_too_low: Option<String>,
    /// CLN lowered htlcmax to what the channel can carry.
    #[serde(default)]
    pub warning_htlcmax_too_high: Option<String>,
}

impl SetChannel {
    /// The entry for `scid`, checked to carry the fees that were asked for
    /// (CLN may adjust htlc limits, never fees).
    pub fn confirm(
        &self,
        scid: &str,
        base_fee_msat: u32,
        fee_ppm: u32,
    ) -> Result<&SetChannelResult, WireError> {
        let entry = self
            .channels
            .iter()
            .find(|c| c.short_channel_id.as_deref() == Some(scid))
            .ok_or_else(|| WireError::NotApplied(scid.to_owned()))?;
        if entry.fee_base_msat.0 != u64::from(base_fee_msat)
            || entry.fee_proportional_millionths != fee_ppm
        {
            return Err(WireError::Mismatch {
                scid: scid.to_owned(),
                wanted: format!("{base_fee_msat} msat + {fee_ppm} ppm"),
                got: format!(
                    "{} msat + {} ppm",
                    entry.fee_base_msat.0, entry.fee_proportional_millionths
                ),
            });
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_in_every_cln_spelling() {
        assert_eq!(parse_amount("1000"), Ok(1000));
        assert_eq!(parse_amount("1000msat"), Ok(1000));
        assert_eq!(parse_amount("1sat"), Ok(1000));
        assert_eq!(parse_amount("1.5sat"), Ok(1500));
        assert_eq!(parse_amount("0.001sat"), Ok(1));
        assert_eq!(parse_amount("1btc"), Ok(100_000_000_000));
        assert_eq!(parse_amount("0.00000000001btc"), Ok(1));
        for bad in [
            "",
            "msat",
            "1.5msat",
            "1.0001sat",
            "1.",
            ".5sat",
            "-1msat",
            "1 msat",
            "1kb",
        ] {
            assert!(
                matches!(parse_amount(bad), Err(AmountError::Invalid(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_amount("18446744073709551616msat"),
            Err(AmountError::Overflow(_))
        ));
        assert!(matches!(
            parse_amount("184467440737btc"),
            Err(AmountError::Overflow(_))
        ));
    }

    #[test]
    fn msat_fields_accept_integers_and_strings() {
        let v: Vec<Msat> = serde_json::from_str(r#"[5, "6msat", "7sat"]"#).unwrap();
        assert_eq!(v, [Msat(5), Msat(6), Msat(7000)]);
        assert!(serde_json::from_str::<Msat>("-1").is_err());
        assert!(serde_json::from_str::<Msat>("1.5").is_err());
    }

    #[test]
    fn failure_codes_map_to_reasons() {
        use FailureReason::*;
        assert_eq!(failure_reason(Some(4103), None), InsufficientBalance);
        assert_eq!(failure_reason(Some(4108), None), FeeInsufficient);
        assert_eq!(failure_reason(Some(4109), None), IncorrectCltv);
        assert_eq!(failure_reason(Some(16394), None), ChannelUnavailable);
        assert_eq!(failure_reason(Some(4116), None), ChannelUnavailable);
        assert_eq!(
            failure_reason(None, Some("WIRE_FEE_INSUFFICIENT")),
            FeeInsufficient
        );
        assert_eq!(failure_reason(None, Some("WIRE_SOMETHING_NEW")), Other);
        assert_eq!(failure_reason(None, None), Other);
    }

    #[test]
    fn milliseconds_survive_the_float() {
        assert_eq!(seconds_to_ns(1_738_000_000.123), 1_738_000_000_123_000_000);
        assert_eq!(seconds_to_ns(f64::NAN), 0);
        assert_eq!(seconds_to_ns(-5.0), 0);
    }

    fn forward(index: u64, status: &str) -> WireForward {
        WireForward {
            created_index: index,
            updated_index: None,
            in_channel: "1x1x1".into(),
            in_msat: Msat(1001),
            status: status.into(),
            received_time: 1.0,
            out_channel: Some("2x1x0".into()),
            out_msat: Some(Msat(1000)),
            fee_msat: Some(Msat(1)),
            resolved_time: Some(2.0),
            failcode: None,
            failreason: None,
        }
    }

    #[test]
    fn a_scan_passes_over_a_forward_in_flight() {
        let page = ListForwards {
            forwards: vec![
                forward(3, "settled"),
                forward(4, "local_failed"),
                forward(5, "offered"),
                forward(6, "settled"),
            ],
        };
        let scan = settled_forwards(&page, 3).unwrap();
        assert_eq!(
            scan.items.iter().map(|f| f.index).collect::<Vec<_>>(),
            [3, 6]
        );
        assert_eq!(scan.next_index, 7);
        let failed = failed_forwards(&page, 3).unwrap();
        assert_eq!(failed.items.len(), 1);
        assert_eq!(failed.next_index, 7);
    }

    #[test]
    fn resolved_forwards_come_in_update_order_under_their_created_index() {
        let resolved = |created, updated, status| WireForward {
            updated_index: Some(updated),
            ..forward(created, status)
        };
        let page = ListForwards {
            forwards: vec![
                resolved(9, 4, "settled"),
                resolved(5, 3, "failed"),
                resolved(2, 1, "settled"),
                forward(6, "local_failed"),
            ],
        };
        let page = resolved_forwards(&page, 3).unwrap();
        assert_eq!(
            page.forwards.iter().map(|f| f.index).collect::<Vec<_>>(),
            [9]
        );
        assert!(
            page.failures.is_empty(),
            "5 failed further along the route; 6 failed at once, so it was never updated"
        );
        assert_eq!(page.next_index, 5, "after updated_index 4");
    }

    /// A forward that failed further along the route is no failure of ours, on either stream,
    /// and the scan goes past it.
    #[test]
    fn a_failure_further_along_the_route_is_not_ours() {
        let page = ListForwards {
            forwards: vec![forward(1, "failed"), forward(2, "local_failed")],
        };
        let scan = failed_forwards(&page, 0).unwrap();
        assert_eq!(scan.items.iter().map(|f| f.index).collect::<Vec<_>>(), [2]);
        assert_eq!(scan.next_index, 3);
    }

    #[test]
    fn unknown_statuses_are_skipped() {
        let page = ListForwards {
            forwards: vec![forward(1, "teleported"), forward(2, "settled")],
        };
        let scan = settled_forwards(&page, 0).unwrap();
        assert_eq!(scan.items.len(), 1);
        assert_eq!(scan.next_index, 3);
    }
}
