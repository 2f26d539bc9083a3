//! Core Lightning over its JSON-RPC unix socket (`<lightning-dir>/<network>/lightning-rpc`).
//!
//! [`ClnClient`] implements `NodeClient` with eight CLN methods and no other:
//! `getinfo`, `listpeerchannels`, `listforwards`, `listchannels`, `feerates`,
//! `bkpr-listaccountevents`, `listchannelmoves` (reads) and `setchannel` (the one write).
//! [`ClnClient::METHODS`] lists them. There is no generic call: the private
//! one is typed by the response it decodes, and each response type names its
//! method (so `bkpr-listaccountevents`, which cln-rpc 0.7 has no typed request
//! for, goes through the same typed path as the rest).
//!
//! Transport is cln-rpc's `ClnRpc` (CLN's framing, request ids); decoding is
//! ours, in [`wire`], for the reasons given there.

pub mod scid;
pub mod wire;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use cln_rpc::ClnRpc;
use lnpolicy_core::{
    FailedForwardPage, FeePolicy, ForwardPage, FundingFee, NodeChannel, NodeClient, NodeError,
    NodeInfo, NodeKind, PaymentPartPage, PeerInfo, ResolvedPage,
};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Mutex, OnceCell};

pub use scid::{ScidError, format_scid, parse_scid};
use wire::{
    ClnResponse, Feerates, Getinfo, ListAccountEvents, ListChannelMoves, ListChannels,
    ListForwards, ListPeerChannels, PageScan, SetChannel,
};

/// How to reach and drive a CLN node.
#[derive(Debug, Clone)]
pub struct ClnConfig {
    /// The `lightning-rpc` socket.
    pub rpc_path: PathBuf,
    /// Upper bound on connecting and on each call. CLN answers these reads
    /// in milliseconds; a stuck lightningd must not stall the daemon's cycle.
    pub timeout: Duration,
    /// `setchannel enforcedelay`: seconds CLN keeps accepting the previous
    /// (lower) fee after an increase, so payers with stale gossip are not
    /// failed. `None` leaves CLN's default (600 s).
    pub enforce_delay_secs: Option<u32>,
}

impl ClnConfig {
    pub fn new(rpc_path: impl Into<PathBuf>) -> Self {
        ClnConfig {
            rpc_path: rpc_path.into(),
            timeout: Duration::from_secs(30),
            enforce_delay_secs: None,
        }
    }
}

/// JSON-RPC error codes CLN uses that change how we report a failure.
const JSONRPC2_INVALID_PARAMS: i32 = -32602;
const JSONRPC2_METHOD_NOT_FOUND: i32 = -32601;

/// `NodeClient` for Core Lightning.
///
/// One connection, used by one call at a time (cln-rpc's client is not
/// multiplexed). A transport failure or timeout drops the connection, since a
/// late answer would otherwise be read as the next call's; the next call
/// reconnects. Errors are not retried here: the cycle or collection the call
/// was part of fails, and the next one, on the daemon's schedule, reconnects
/// (`NodeError::is_transient` tells which errors a later try may get past).
pub struct ClnClient {
    config: ClnConfig,
    conn: Mutex<Option<ClnRpc>>,
    /// Our node id never changes behind a socket; fetched once.
    node_id: OnceCell<String>,
    /// The node answered that it has no `listchannelmoves` (older than v25.09).
    no_channel_moves: AtomicBool,
}

/// A call's failure before it becomes a `NodeError`: CLN's own error answers
/// keep their code, so a caller can tell "no such channel" from the rest.
enum CallError {
    Node(NodeError),
    Rpc {
        method: &'static str,
        code: i32,
        message: String,
    },
}

impl From<NodeError> for CallError {
    fn from(e: NodeError) -> Self {
        CallError::Node(e)
    }
}

/// An error answer means lightningd understood the request and refused it.
impl From<CallError> for NodeError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Node(e) => e,
            CallError::Rpc {
                method,
                code,
                message,
            } => NodeError::Rejected {
                method,
                detail: format!("{message} (code {code})"),
            },
        }
    }
}

#[derive(Serialize)]
struct NoParams {}

/// `index=created start=… limit=…`, as `listforwards` and `listchannelmoves` page.
#[derive(Serialize)]
struct PagedParams {
    index: &'static str,
    start: u64,
    limit: u32,
}

#[derive(Serialize)]
struct ListChannelsParams<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    destination: Option<&'a str>,
}

#[derive(Serialize)]
struct FeeratesParams {
    style: &'static str,
}

/// `payment_id` (CLN >= v24.08) selects the events of one transaction.
#[derive(Serialize)]
struct AccountEventsParams<'a> {
    payment_id: &'a str,
}

/// Amounts go out as integers, which CLN reads as msat.
#[derive(Serialize)]
struct SetChannelParams<'a> {
    id: &'a str,
    feebase: u32,
    feeppm: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    htlcmin: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    htlcmax: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enforcedelay: Option<u32>,
}

impl ClnClient {
    /// Every CLN method this client can send.
    pub const METHODS: [&'static str; 8] = [
        Getinfo::METHOD,
        ListPeerChannels::METHOD,
        ListForwards::METHOD,
        ListChannels::METHOD,
        Feerates::METHOD,
        ListAccountEvents::METHOD,
        ListChannelMoves::METHOD,
        SetChannel::METHOD,
    ];

    /// Connects now, so a wrong `--cln-rpc` path fails at start-up.
    pub async fn connect(config: ClnConfig) -> Result<Self, NodeError> {
        let client = ClnClient {
            conn: Mutex::new(None),
            node_id: OnceCell::new(),
            no_channel_moves: AtomicBool::new(false),
            config,
        };
        let rpc = client.open("connect").await?;
        *client.conn.lock().await = Some(rpc);
        Ok(client)
    }

    pub fn config(&self) -> &ClnConfig {
        &self.config
    }

    async fn open(&self, method: &'static str) -> Result<ClnRpc, NodeError> {
        let path = &self.config.rpc_path;
        match tokio::time::timeout(self.config.timeout, ClnRpc::new(path)).await {
            Err(_) => Err(NodeError::Timeout { method }),
            // The socket is lightningd's, mode 0600 by default: retrying will not help.
            Ok(Err(e))
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied) =>
            {
                Err(NodeError::PermissionDenied {
                    method,
                    detail: format!("{}: {e}", path.display()),
                })
            }
            Ok(Err(e)) => Err(NodeError::Unavailable {
                method,
                detail: format!("{}: {e}", path.display()),
            }),
            Ok(Ok(rpc)) => Ok(rpc),
        }
    }

    /// One request/response exchange, decoded as `R` (which names the method).
    async fn call<R: ClnResponse>(&self, params: &impl Serialize) -> Result<R, NodeError> {
        self.exchange(params).await.map_err(NodeError::from)
    }

    /// As [`Self::call`], keeping CLN's error code for callers that look at it.
    async fn exchange<R: ClnResponse>(&self, params: &impl Serialize) -> Result<R, CallError> {
        let method = R::METHOD;
        let params = serde_json::to_value(params).map_err(|e| NodeError::Protocol {
            method,
            detail: format!("cannot encode parameters: {e}"),
        })?;
        let mut conn = self.conn.lock().await;
        let rpc = match conn.take() {
            Some(rpc) => rpc,
            None => self.open(method).await?,
        };
        let rpc = conn.insert(rpc);
        let started = Instant::now();
        let answer = tokio::time::timeout(
            self.config.timeout,
            rpc.call_raw::<Value, Value>(method, &params),
        )
        .await;
        tracing::debug!(
            method,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "cln call"
        );
        match answer {
            Err(_) => {
                *conn = None;
                Err(NodeError::Timeout { method }.into())
            }
            // cln-rpc reports transport failures (write, read, EOF) without a code.
            Ok(Err(e)) => match e.code {
                None => {
                    *conn = None;
                    Err(NodeError::Unavailable {
                        method,
                        detail: e.message,
                    }
                    .into())
                }
                Some(code) => Err(CallError::Rpc {
                    method,
                    code,
                    message: e.message,
                }),
            },
            Ok(Ok(result)) => Ok(wire::decode(result)?),
        }
    }

    async fn our_id(&self) -> Result<&str, NodeError> {
        self.node_id
            .get_or_try_init(|| async { Ok(self.getinfo().await?.id) })
            .await
            .map(String::as_str)
    }

    async fn getinfo(&self) -> Result<Getinfo, NodeError> {
        self.call(&NoParams {}).await
    }

    /// Pages of the forwarding log by created_index, keeping what `pick` selects, until
    /// `limit` entries are kept or the log ends. A short answer therefore always means
    /// "caught up", which is how the collector reads it,
    /// however the log mixes settled and failed entries (on mainnet mostly `local_failed`).
    /// Entries beyond `limit` are cut, and the cursor then stops after the last one kept
    /// (`index` gives an entry's created_index).
    async fn scan<T>(
        &self,
        from_index: u64,
        limit: u32,
        pick: fn(&ListForwards, u64) -> Result<PageScan<T>, wire::WireError>,
        index: fn(&T) -> u64,
    ) -> Result<(Vec<T>, u64), NodeError> {
        let mut next = from_index;
        let mut items = Vec::new();
        let wanted = limit as usize;
        if wanted == 0 {
            return Ok((items, next));
        }
        loop {
            let page: ListForwards = self
                .call(&PagedParams {
                    index: "created",
                    start: next,
                    limit,
                })
                .await?;
            let scan = pick(&page, next).map_err(|e| e.into_node_error(ListForwards::METHOD))?;
            // No progress means a node that ignored `start`: stop rather than spin.
            let stuck = scan.next_index == next;
            next = scan.next_index;
            items.extend(scan.items);
            if items.len() > wanted {
                items.truncate(wanted);
                next = items.last().map_or(next, |last| index(last) + 1);
                return Ok((items, next));
            }
            let end = stuck || page.forwards.len() < wanted;
            if items.len() == wanted || end {
                return Ok((items, next));
            }
        }
    }
}

#[async_trait]
impl NodeClient for ClnClient {
    fn kind(&self) -> NodeKind {
        NodeKind::Cln
    }

    async fn get_info(&self) -> Result<NodeInfo, NodeError> {
        let info = self.getinfo().await?;
        // Fill the cache for free; a concurrent fill would store the same id.
        let _ = self.node_id.set(info.id.clone());
        Ok(info.node_info())
    }

    /// `listpeerchannels`, plus one `listchannels destination=<our id>` for
    /// the peers' policies toward us (one call instead of one per peer).
    async fn list_channels(&self) -> Result<Vec<NodeChannel>, NodeError> {
        let our_id = self.our_id().await?;
        let peers: ListPeerChannels = self.call(&NoParams {}).await?;
        let toward_us: ListChannels = self
            .call(&ListChannelsParams {
                source: None,
                destination: Some(our_id),
            })
            .await?;
        wire::node_channels(&peers, &toward_us, our_id)
            .map_err(|e| e.into_node_error(ListPeerChannels::METHOD))
    }

    async fn forwards(&self, from_index: u64, limit: u32) -> Result<ForwardPage, NodeError> {
        let (forwards, next_index) = self
            .scan(from_index, limit, wire::settled_forwards, |f| f.index)
            .await?;
        Ok(ForwardPage {
            forwards,
            next_index,
        })
    }

    async fn failed_forwards(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<FailedForwardPage, NodeError> {
        let (failures, next_index) = self
            .scan(from_index, limit, wire::failed_forwards, |f| f.index)
            .await?;
        Ok(FailedForwardPage {
            failures,
            next_index,
        })
    }

    /// `listforwards index=updated`: forwards listed `offered` that have settled or failed
    /// since, in the order they did, read on until `limit` of them or the end (as `scan`
    /// does, so a short answer means caught up). CLN's `updated_index` counts from 1, and
    /// every entry never updated (created final, or still in flight) holds 0 and comes first
    /// from `start=0`: asking from 1 skips them.
    async fn resolved_forwards(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<Option<ResolvedPage>, NodeError> {
        let mut resolved = ResolvedPage {
            forwards: Vec::new(),
            failures: Vec::new(),
            next_index: from_index.max(1),
        };
        if limit == 0 {
            return Ok(Some(resolved));
        }
        let mut kept = 0;
        loop {
            let start = resolved.next_index;
            // Never more than `limit` in all: each entry listed is at most one kept.
            let want = limit - kept;
            let page: ListForwards = self
                .call(&PagedParams {
                    index: "updated",
                    start,
                    limit: want,
                })
                .await?;
            let more = wire::resolved_forwards(&page, start)
                .map_err(|e| e.into_node_error(ListForwards::METHOD))?;
            kept += u32::try_from(more.forwards.len() + more.failures.len()).unwrap_or(u32::MAX);
            resolved.forwards.extend(more.forwards);
            resolved.failures.extend(more.failures);
            resolved.next_index = more.next_index;
            // No progress means a node that ignored `start`: stop rather than spin.
            let end = page.forwards.len() < want as usize || more.next_index == start;
            if kept >= limit || end {
                return Ok(Some(resolved));
            }
        }
    }

    /// `listchannelmoves` by created_index, with `listpeerchannels` to name the channels
    /// when the page holds a payment. A CLN older than v25.09 has no such command: `None`,
    /// and it is not asked again.
    async fn payment_parts(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<Option<PaymentPartPage>, NodeError> {
        if self.no_channel_moves.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let page: ListChannelMoves = match self
            .exchange(&PagedParams {
                index: "created",
                start: from_index,
                limit,
            })
            .await
        {
            Ok(page) => page,
            Err(CallError::Rpc { code, .. }) if code == JSONRPC2_METHOD_NOT_FOUND => {
                tracing::info!(
                    "this CLN has no listchannelmoves (added in v25.09): rebalancing costs are not collected"
                );
                self.no_channel_moves.store(true, Ordering::Relaxed);
                return Ok(None);
            }
            Err(other) => return Err(other.into()),
        };
        let ids = if page.channelmoves.iter().any(|m| m.primary_tag == "invoice") {
            let peers: ListPeerChannels = self.call(&NoParams {}).await?;
            wire::channel_ids(&peers).map_err(|e| e.into_node_error(ListPeerChannels::METHOD))?
        } else {
            Default::default()
        };
        Ok(Some(wire::payment_parts(&page, from_index, &ids)))
    }

    /// `listchannels destination=<peer>`: the gossip store's channels into the peer.
    async fn peer_info(&self, peer_pubkey: &str) -> Result<Option<PeerInfo>, NodeError> {
        let our_id = self.our_id().await?;
        let to_peer: ListChannels = self
            .call(&ListChannelsParams {
                source: None,
                destination: Some(peer_pubkey),
            })
            .await?;
        Ok(wire::peer_info(&to_peer, peer_pubkey, our_id))
    }

    /// `feerates style=perkb`; see [`Feerates::sat_per_vbyte`] for which
    /// estimate answers a target.
    async fn fee_rate(&self, conf_target: u32) -> Result<Option<f64>, NodeError> {
        let rates: Feerates = self.call(&FeeratesParams { style: "perkb" }).await?;
        if let Some(warning) = &rates.warning_missing_feerates {
            tracing::debug!(warning, "CLN lacks some fee estimates");
        }
        Ok(rates.sat_per_vbyte(conf_target))
    }

    /// The bookkeeper plugin's `onchain_fee` events (see [`wire::onchain_fees`])
    /// of each of `txids`, asked one by one (`payment_id=<txid>`): the whole
    /// event log also holds every forward, far too much to ship for a few fees.
    /// A CLN before v24.08, which lacks `payment_id`, is asked once for the
    /// whole log instead. A txid that is not 64 hex digits names no transaction
    /// and is not sent: CLN would refuse it as a bad `payment_id`, which reads
    /// like an older CLN.
    async fn funding_fees(&self, txids: &[String]) -> Result<Vec<FundingFee>, NodeError> {
        let method = ListAccountEvents::METHOD;
        let wanted: BTreeSet<String> = txids
            .iter()
            .filter(|txid| wire::is_hash(txid))
            .map(|txid| txid.to_ascii_lowercase())
            .collect();
        let mut fees = Vec::new();
        for txid in &wanted {
            let events: ListAccountEvents = match self
                .exchange(&AccountEventsParams { payment_id: txid })
                .await
            {
                Ok(events) => events,
                Err(CallError::Rpc { code, message, .. })
                    if code == JSONRPC2_INVALID_PARAMS && message.contains("payment_id") =>
                {
                    tracing::info!(
                        "this CLN cannot select bookkeeping events by txid; reading them all"
                    );
                    let all: ListAccountEvents = self.call(&NoParams {}).await?;
                    return Ok(wire::onchain_fees(&all)
                        .into_iter()
                        .filter(|fee| wanted.contains(&fee.txid))
                        .collect());
                }
                Err(CallError::Rpc { code, message, .. }) if code == JSONRPC2_METHOD_NOT_FOUND => {
                    return Err(NodeError::Rejected {
                        method,
                        detail: format!(
                            "{message} (code {code}): is the bookkeeper plugin disabled?"
                        ),
                    });
                }
                Err(other) => return Err(other.into()),
            };
            fees.extend(
                wire::onchain_fees(&events)
                    .into_iter()
                    .filter(|fee| fee.txid == *txid),
            );
        }
        Ok(fees)
    }

    /// `setchannel` with the fees always and htlc limits when they change
    /// (LND's "0 = unchanged" for max_htlc is honoured). CLN cannot set a
    /// channel's cltv delta (`cltv-delta` is node-wide) nor disable it from
    /// here, so differences there are logged and left alone.
    async fn update_policy(
        &self,
        channel: &NodeChannel,
        policy: &FeePolicy,
    ) -> Result<FeePolicy, NodeError> {
        let method = SetChannel::METHOD;
        if policy.inbound_fee_ppm != 0 || policy.inbound_base_fee_msat != 0 {
            return Err(NodeError::Rejected {
                method,
                detail: format!(
                    "Core Lightning has no inbound fees; asked for {} ppm / {} msat on {}",
                    policy.inbound_fee_ppm,
                    policy.inbound_base_fee_msat,
                    format_scid(channel.id)
                ),
            });
        }
        let current = &channel.local_policy;
        let scid = format_scid(channel.id);
        if policy.time_lock_delta != current.time_lock_delta {
            tracing::warn!(
                channel = %scid,
                wanted = policy.time_lock_delta,
                current = current.time_lock_delta,
                "CLN sets cltv-delta for the whole node; not changed"
            );
        }
        if policy.disabled != current.disabled {
            tracing::warn!(channel = %scid, "CLN cannot disable a channel through setchannel; not changed");
        }
        let params = SetChannelParams {
            id: &scid,
            feebase: policy.base_fee_msat,
            feeppm: policy.fee_ppm,
            htlcmin: (policy.min_htlc_msat != current.min_htlc_msat)
                .then_some(policy.min_htlc_msat),
            htlcmax: (policy.max_htlc_msat != 0 && policy.max_htlc_msat != current.max_htlc_msat)
                .then_some(policy.max_htlc_msat),
            enforcedelay: self.config.enforce_delay_secs,
        };
        let answer: SetChannel = match self.exchange(&params).await {
            // CLN answers an id it cannot resolve with INVALID_PARAMS "... not found".
            Err(CallError::Rpc { code, message, .. })
                if code == JSONRPC2_INVALID_PARAMS && message.contains("not found") =>
            {
                return Err(NodeError::UnknownChannel {
                    channel: channel.id,
                });
            }
            other => other?,
        };
        let applied = answer
            .confirm(&scid, policy.base_fee_msat, policy.fee_ppm)
            .map_err(|e| e.into_node_error(method))?;
        if let Some(warning) = &applied.warning_htlcmin_too_low {
            tracing::warn!(channel = %scid, htlcmin = applied.minimum_htlc_out_msat.0, "{warning}");
        }
        if let Some(warning) = &applied.warning_htlcmax_too_high {
            tracing::warn!(channel = %scid, htlcmax = applied.maximum_htlc_out_msat.0, "{warning}");
        }
        Ok(FeePolicy {
            min_htlc_msat: applied.minimum_htlc_out_msat.0,
            // 0 asks to leave the maximum alone (LND's convention), and it was not sent.
            max_htlc_msat: match policy.max_htlc_msat {
                0 => 0,
                _ => applied.maximum_htlc_out_msat.0,
            },
            time_lock_delta: current.time_lock_delta,
            disabled: current.disabled,
            ..*policy
        })
    }
}
