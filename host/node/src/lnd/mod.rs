//! The LND client: `lnpolicy_core::NodeClient` over LND's gRPC API.
//!
//! - TLS pins the node's exact certificate ([`tls`]); the macaroon travels
//!   hex-encoded in the `macaroon` metadata header of every call.
//! - Every call has its own timeout; a lost connection is re-established by
//!   the channel on the next call (the failed call reports `Unavailable`:
//!   the cycle or collection it was part of fails, and the next one, on the
//!   daemon's schedule, gets through).
//! - Failed forwards come from a background `SubscribeHtlcEvents` task
//!   ([`htlc_events`]), the only place LND reports them.
//! - On-chain facts come from the wallet: `GetTransactions` (fees paid) and
//!   `walletrpc.WalletKit/EstimateFee` (the fee estimate), both `onchain:read`.
//! - The methods called are exactly [`permissions::CLIENT_METHODS`].

pub mod convert;
mod errors;
mod htlc_events;
pub mod macaroon;
mod payments;
pub mod permissions;
pub mod tls;

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use lnpolicy_core::{
    FailedForwardPage, FeePolicy, Forward, ForwardPage, FundingFee, NodeChannel, NodeClient,
    NodeError, NodeInfo, NodeKind, PaymentPartPage, PeerInfo, PendingHtlc,
};
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tracing::{debug, warn};

pub use errors::LndError;
use htlc_events::FailureBuffer;
pub use htlc_events::SubscriptionStatus;
use permissions::{
    ESTIMATE_FEE, FEE_REPORT, FORWARDING_HISTORY, GET_CHAN_INFO, GET_INFO, GET_NODE_INFO,
    GET_TRANSACTIONS, LIST_CHANNELS, LIST_PAYMENTS, Permission, UPDATE_CHAN_STATUS,
    UPDATE_CHANNEL_POLICY,
};

use crate::lnrpc::lightning_client::LightningClient;
use crate::lnrpc::{self, UpdateFailure, policy_update_request::Scope};
use crate::routerrpc::{self, ChanStatusAction, router_client::RouterClient};
use crate::walletrpc::{self, wallet_kit_client::WalletKitClient};

/// LND's default gRPC port.
pub const DEFAULT_GRPC_PORT: u16 = 10009;
/// LND's own limit for responses (its `DescribeGraph` on mainnet is tens of
/// MiB; tonic's 4 MiB default would refuse it, and a `GetNodeInfo` of a
/// large hub gets close).
pub const MAX_DECODING_MESSAGE_SIZE: usize = 200 * 1024 * 1024;

/// How to reach one LND node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LndConfig {
    /// `host:port` of the gRPC listener (`--grpc`).
    pub address: String,
    /// LND's `tls.cert` (`--tlscert`); its exact bytes are pinned.
    pub tls_cert_path: PathBuf,
    /// A macaroon file (`--macaroon`), binary or hex.
    pub macaroon_path: PathBuf,
    /// Limit for each unary call.
    pub call_timeout: Duration,
    /// Limit for TCP + TLS + HTTP/2 setup and for the HTLC subscription to
    /// be confirmed when connecting.
    pub connect_timeout: Duration,
    /// How many failed forwards the client keeps between reads.
    pub failure_buffer: usize,
}

impl LndConfig {
    pub fn new(
        address: impl Into<String>,
        tls_cert_path: impl Into<PathBuf>,
        macaroon_path: impl Into<PathBuf>,
    ) -> Self {
        LndConfig {
            address: address.into(),
            tls_cert_path: tls_cert_path.into(),
            macaroon_path: macaroon_path.into(),
            call_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            failure_buffer: 50_000,
        }
    }

    /// The defaults for an LND laid out under `lnddir` (charge-lnd's): gRPC on
    /// `localhost`, `tls.cert`, and [`LndConfig::default_macaroon`].
    pub fn from_lnddir(lnddir: &Path, network: &str) -> Self {
        LndConfig::new(
            format!("localhost:{DEFAULT_GRPC_PORT}"),
            lnddir.join("tls.cert"),
            LndConfig::default_macaroon(lnddir, network),
        )
    }

    /// In `data/chain/bitcoin/<network>/` under `lnddir`: the `charge-lnd.macaroon` an operator
    /// coming from charge-lnd has, else a least-privilege `lnpolicy.macaroon`, else
    /// `admin.macaroon`.
    pub fn default_macaroon(lnddir: &Path, network: &str) -> PathBuf {
        let macaroons = lnddir.join("data/chain/bitcoin").join(network);
        ["charge-lnd.macaroon", "lnpolicy.macaroon"]
            .iter()
            .map(|name| macaroons.join(name))
            .find(|path| path.exists())
            .unwrap_or_else(|| macaroons.join("admin.macaroon"))
    }
}

/// The LND implementation of the method whitelist.
pub struct LndClient {
    lightning: LightningClient<Channel>,
    wallet: WalletKitClient<Channel>,
    /// For `UpdateChanStatus`; the HTLC event subscription holds its own.
    router: RouterClient<Channel>,
    macaroon: MetadataValue<Ascii>,
    /// What the macaroon grants, for naming what a refused call lacks.
    granted: Arc<Vec<Permission>>,
    call_timeout: Duration,
    identity: OnceCell<String>,
    failures: Arc<FailureBuffer>,
    subscription: JoinHandle<()>,
}

impl Drop for LndClient {
    fn drop(&mut self) {
        self.subscription.abort();
    }
}

fn read_macaroon(path: &Path) -> Result<(Vec<u8>, Vec<Permission>), LndError> {
    let shown = path.display().to_string();
    let contents = std::fs::read(path).map_err(|e| LndError::Macaroon {
        path: shown.clone(),
        detail: e.to_string(),
    })?;
    let raw = macaroon::macaroon_bytes(&contents);
    let parsed = macaroon::Macaroon::deserialize(&raw).map_err(|e| LndError::Macaroon {
        path: shown.clone(),
        detail: e.to_string(),
    })?;
    // A macaroon from another issuer still works if LND accepts it; we just
    // cannot list its permissions.
    let granted = macaroon::decode_lnd_identifier(parsed.identifier())
        .map(|id| macaroon::granted_permissions(&id))
        .unwrap_or_default();
    Ok((raw, granted))
}

/// The pinned-TLS HTTP/2 channel `LndClient` runs on, connected now so a
/// wrong certificate or an unreachable node fails here. Exposed for tools
/// and tests that drive the generated clients directly; the daemon uses
/// `LndClient`, whose methods are the whitelist.
pub async fn connect_channel(config: &LndConfig) -> Result<Channel, LndError> {
    let pinned = tls::load_certificate(&config.tls_cert_path)?;
    let provider = tls::crypto_provider();
    let verifier = Arc::new(tls::PinnedCertVerifier::new(
        pinned,
        config.tls_cert_path.clone(),
        &provider,
    ));
    let connector = tls::PinnedTlsConnector::new(tls::client_config(verifier.clone()));
    let endpoint = Endpoint::from_shared(format!("https://{}", config.address))
        .map_err(|e| LndError::Address {
            address: config.address.clone(),
            detail: errors::error_chain(&e),
        })?
        .connect_timeout(config.connect_timeout)
        // Keepalive pings notice a dead connection under the long-lived
        // HTLC stream instead of waiting on TCP.
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_timeout(Duration::from_secs(20))
        .keep_alive_while_idle(true);
    endpoint
        .connect_with_connector(tower::service_fn(move |uri| {
            let connector = connector.clone();
            async move { connector.connect(uri).await }
        }))
        .await
        .map_err(|e| match verifier.last_mismatch() {
            Some(mismatch) => LndError::CertificateMismatch {
                address: config.address.clone(),
                mismatch,
            },
            None => LndError::Connect {
                address: config.address.clone(),
                detail: errors::error_chain(&e),
            },
        })
}

impl LndClient {
    /// Connects (TLS handshake included, so a wrong certificate fails here),
    /// starts the HTLC event subscription and waits briefly for LND to
    /// confirm it, so failures from now on are captured.
    pub async fn connect(config: &LndConfig) -> Result<LndClient, LndError> {
        let (raw_macaroon, granted) = read_macaroon(&config.macaroon_path)?;
        let macaroon: MetadataValue<Ascii> = hex::encode(raw_macaroon)
            .parse()
            .expect("hex is a valid header value");

        let channel = connect_channel(config).await?;
        let lightning = LightningClient::new(channel.clone())
            .max_decoding_message_size(MAX_DECODING_MESSAGE_SIZE);
        let wallet = WalletKitClient::new(channel.clone());
        let router = RouterClient::new(channel);
        let status_router = router.clone();
        let granted = Arc::new(granted);
        let failures = Arc::new(FailureBuffer::new(config.failure_buffer));
        let mut status = failures.subscribe_status();
        let subscription = tokio::spawn(htlc_events::run(
            router,
            macaroon.clone(),
            granted.clone(),
            failures.clone(),
        ));
        let confirmed = tokio::time::timeout(
            config.connect_timeout,
            status.wait_for(|s| {
                matches!(s, SubscriptionStatus::Live | SubscriptionStatus::Refused(_))
            }),
        )
        .await;
        if !matches!(confirmed, Ok(Ok(_))) {
            warn!(
                status = ?failures.status(),
                "HTLC event subscription not confirmed yet; it keeps retrying in the background"
            );
        }

        Ok(LndClient {
            lightning,
            wallet,
            router: status_router,
            macaroon,
            granted,
            call_timeout: config.call_timeout,
            identity: OnceCell::new(),
            failures,
            subscription,
        })
    }

    /// The state of the background HTLC event subscription.
    pub fn subscription_status(&self) -> SubscriptionStatus {
        self.failures.status()
    }

    /// One unary `lnrpc.Lightning` call, see [`LndClient::call_on`].
    async fn call<Req, Resp, F, Fut>(
        &self,
        method: &'static str,
        message: Req,
        send: F,
    ) -> Result<Resp, NodeError>
    where
        F: FnOnce(LightningClient<Channel>, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        self.call_on(self.lightning.clone(), method, message, send)
            .await
    }

    /// One unary call on `client` (any of LND's services, all on the same
    /// channel): macaroon header, grpc-timeout, local timeout, and the
    /// status mapped to a `NodeError` naming `method`.
    async fn call_on<C, Req, Resp, F, Fut>(
        &self,
        client: C,
        method: &'static str,
        message: Req,
        send: F,
    ) -> Result<Resp, NodeError>
    where
        F: FnOnce(C, tonic::Request<Req>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<Resp>, tonic::Status>>,
    {
        let mut request = tonic::Request::new(message);
        request
            .metadata_mut()
            .insert("macaroon", self.macaroon.clone());
        request.set_timeout(self.call_timeout);
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.call_timeout, send(client, request)).await;
        let result = match outcome {
            Err(_) => Err(NodeError::Timeout { method }),
            Ok(Err(status)) => Err(errors::map_status(method, &status, &self.granted)),
            Ok(Ok(response)) => Ok(response.into_inner()),
        };
        match &result {
            Ok(_) => debug!(
                method,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "LND call"
            ),
            Err(err) => warn!(method, error = %err, "LND call failed"),
        }
        result
    }

    async fn get_info_raw(&self) -> Result<lnrpc::GetInfoResponse, NodeError> {
        self.call(GET_INFO, lnrpc::GetInfoRequest {}, |mut c, r| async move {
            c.get_info(r).await
        })
        .await
    }

    /// Our node's pubkey, asked once: it decides which side of a graph edge
    /// is ours.
    async fn identity(&self) -> Result<&str, NodeError> {
        self.identity
            .get_or_try_init(|| async { Ok(self.get_info_raw().await?.identity_pubkey) })
            .await
            .map(String::as_str)
    }

    /// `GetChanInfo`, with "no such edge" as `None` (LND can have a channel
    /// whose graph edge is missing).
    async fn chan_info(&self, chan_id: u64) -> Result<Option<lnrpc::ChannelEdge>, NodeError> {
        let request = lnrpc::ChanInfoRequest {
            chan_id,
            chan_point: String::new(),
        };
        let result = self
            .call(GET_CHAN_INFO, request, |mut c, r| async move {
                c.get_chan_info(r).await
            })
            .await;
        match result {
            Ok(edge) => Ok(Some(edge)),
            Err(NodeError::Rejected { detail, .. }) if is_not_found(&detail) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// `GetNodeInfo` with the node's channels; an unknown node is `None`.
    async fn node_info(&self, pub_key: &str) -> Result<Option<lnrpc::NodeInfo>, NodeError> {
        let request = lnrpc::NodeInfoRequest {
            pub_key: pub_key.to_owned(),
            include_channels: true,
        };
        let result = self
            .call(GET_NODE_INFO, request, |mut c, r| async move {
                c.get_node_info(r).await
            })
            .await;
        match result {
            Ok(info) => Ok(Some(info)),
            Err(NodeError::Rejected { detail, .. }) if is_not_found(&detail) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// A manual DISABLE or ENABLE: LND keeps it until the next manual one.
    async fn set_status(
        &self,
        point: &lnrpc::ChannelPoint,
        disabled: bool,
    ) -> Result<(), NodeError> {
        let action = if disabled {
            ChanStatusAction::Disable
        } else {
            ChanStatusAction::Enable
        };
        let request = routerrpc::UpdateChanStatusRequest {
            chan_point: Some(point.clone()),
            action: action as i32,
        };
        self.call_on(
            self.router.clone(),
            UPDATE_CHAN_STATUS,
            request,
            |mut c, r| async move { c.update_chan_status(r).await },
        )
        .await
        .map(|_| ())
    }

    /// `UpdateChannelPolicy` for one channel; a per-channel refusal in `failed_updates` is
    /// an error too.
    async fn send_policy(
        &self,
        channel: &NodeChannel,
        point: lnrpc::ChannelPoint,
        policy: &FeePolicy,
    ) -> Result<(), NodeError> {
        // 0 keeps LND's own value, and lowers it to the max in flight when above: LND refuses
        // an update carrying a largest HTLC above it, which a channel from before LND checked
        // can still have, so sending the value read back would block every update there.
        let max_htlc_msat = if policy.max_htlc_msat == channel.local_policy.max_htlc_msat {
            0
        } else {
            policy.max_htlc_msat
        };
        let request = lnrpc::PolicyUpdateRequest {
            scope: Some(Scope::ChanPoint(point)),
            base_fee_msat: i64::from(policy.base_fee_msat),
            fee_rate: 0.0,
            fee_rate_ppm: policy.fee_ppm,
            time_lock_delta: policy.time_lock_delta,
            max_htlc_msat,
            min_htlc_msat: policy.min_htlc_msat,
            min_htlc_msat_specified: true,
            inbound_fee: Some(lnrpc::InboundFee {
                base_fee_msat: policy.inbound_base_fee_msat,
                fee_rate_ppm: policy.inbound_fee_ppm,
            }),
        };
        let response = self
            .call(UPDATE_CHANNEL_POLICY, request, |mut c, r| async move {
                c.update_channel_policy(r).await
            })
            .await?;
        match response.failed_updates.first() {
            None => Ok(()),
            Some(failed) if failed.reason() == UpdateFailure::NotFound => {
                Err(NodeError::UnknownChannel {
                    channel: channel.id,
                })
            }
            Some(failed) => Err(NodeError::Rejected {
                method: UPDATE_CHANNEL_POLICY,
                detail: format!("{}: {}", failed.reason().as_str_name(), failed.update_error),
            }),
        }
    }
}

fn is_not_found(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    d.contains("not found") || d.contains("unable to find")
}

fn protocol(method: &'static str, detail: String) -> NodeError {
    NodeError::Protocol { method, detail }
}

fn unsigned(method: &'static str, field: &str, value: i64) -> Result<u64, NodeError> {
    u64::try_from(value).map_err(|_| protocol(method, format!("negative {field}: {value}")))
}

fn narrow(method: &'static str, field: &str, value: i64) -> Result<u32, NodeError> {
    u32::try_from(value).map_err(|_| protocol(method, format!("{field} out of range: {value}")))
}

/// LND's `HTLC` (amount in whole satoshis) as lnpolicy's.
fn pending_htlc(htlc: &lnrpc::Htlc) -> Result<PendingHtlc, NodeError> {
    let m = LIST_CHANNELS;
    let amount_sat = unsigned(m, "pending_htlcs.amount", htlc.amount)?;
    let amount_msat = amount_sat
        .checked_mul(1000)
        .ok_or_else(|| protocol(m, format!("pending_htlcs.amount too large: {amount_sat}")))?;
    Ok(PendingHtlc {
        incoming: htlc.incoming,
        amount_msat,
        expiry_height: htlc.expiration_height,
    })
}

/// LND's `sat_per_kw` (per 1000 weight units) as sat/vB: a virtual byte is
/// four weight units. Zero or less means LND has no estimate.
fn sat_per_vbyte(sat_per_kw: i64) -> Option<f64> {
    (sat_per_kw > 0).then(|| sat_per_kw as f64 * 4.0 / 1000.0)
}

/// The wallet transactions among `txids` that paid a fee. LND reports
/// `total_fees` only for transactions our wallet funded (0 for deposits from
/// others).
fn funding_fees(details: &lnrpc::TransactionDetails, txids: &[String]) -> Vec<FundingFee> {
    let wanted: BTreeSet<String> = txids.iter().map(|t| t.to_ascii_lowercase()).collect();
    details
        .transactions
        .iter()
        .filter_map(|tx| {
            let fee_sat = u64::try_from(tx.total_fees).ok().filter(|fee| *fee > 0)?;
            let txid = tx.tx_hash.to_ascii_lowercase();
            wanted
                .contains(&txid)
                .then_some(FundingFee { txid, fee_sat })
        })
        .collect()
}

/// Our policy: fees from `FeeReport` (LND's own view of what it charges),
/// the rest from our side of the graph edge.
fn local_policy(
    side: Option<&lnrpc::RoutingPolicy>,
    fees: Option<&lnrpc::ChannelFeeReport>,
) -> Result<FeePolicy, NodeError> {
    let mut policy = match side {
        Some(side) => routing_policy(GET_NODE_INFO, side)?,
        None => FeePolicy::default(),
    };
    if let Some(fees) = fees {
        policy.base_fee_msat = narrow(FEE_REPORT, "base_fee_msat", fees.base_fee_msat)?;
        policy.fee_ppm = narrow(FEE_REPORT, "fee_per_mil", fees.fee_per_mil)?;
        policy.inbound_base_fee_msat = fees.inbound_base_fee_msat;
        policy.inbound_fee_ppm = fees.inbound_fee_per_mil;
    }
    Ok(policy)
}

fn routing_policy(method: &'static str, p: &lnrpc::RoutingPolicy) -> Result<FeePolicy, NodeError> {
    Ok(FeePolicy {
        base_fee_msat: narrow(method, "fee_base_msat", p.fee_base_msat)?,
        fee_ppm: narrow(method, "fee_rate_milli_msat", p.fee_rate_milli_msat)?,
        inbound_base_fee_msat: p.inbound_fee_base_msat,
        inbound_fee_ppm: p.inbound_fee_rate_milli_msat,
        min_htlc_msat: unsigned(method, "min_htlc", p.min_htlc)?,
        max_htlc_msat: p.max_htlc_msat,
        time_lock_delta: p.time_lock_delta,
        disabled: p.disabled,
    })
}

/// (ours, theirs) sides of an edge.
fn sides<'a>(
    edge: &'a lnrpc::ChannelEdge,
    me: &str,
) -> (
    Option<&'a lnrpc::RoutingPolicy>,
    Option<&'a lnrpc::RoutingPolicy>,
) {
    if edge.node1_pub == me {
        (edge.node1_policy.as_ref(), edge.node2_policy.as_ref())
    } else {
        (edge.node2_policy.as_ref(), edge.node1_policy.as_ref())
    }
}

fn node_channel(
    ch: &lnrpc::Channel,
    edge: Option<&lnrpc::ChannelEdge>,
    fees: Option<&lnrpc::ChannelFeeReport>,
    me: &str,
) -> Result<NodeChannel, NodeError> {
    let m = LIST_CHANNELS;
    let (ours, theirs) = edge.map_or((None, None), |e| sides(e, me));
    if edge.is_none() {
        warn!(
            chan_id = ch.chan_id,
            "no graph edge for channel: cltv delta and htlc limits unknown"
        );
    }
    // LND's local constraints bound what *we* may offer the peer: our
    // reserve, our in-flight cap, our HTLC count, the peer's minimum.
    let local = ch.local_constraints.unwrap_or_default();
    let remote = ch.remote_constraints.unwrap_or_default();
    Ok(NodeChannel {
        id: ch.chan_id,
        channel_point: ch.channel_point.clone(),
        peer_pubkey: ch.remote_pubkey.clone(),
        capacity_sat: unsigned(m, "capacity", ch.capacity)?,
        local_balance_sat: unsigned(m, "local_balance", ch.local_balance)?,
        remote_balance_sat: unsigned(m, "remote_balance", ch.remote_balance)?,
        commit_fee_sat: unsigned(m, "commit_fee", ch.commit_fee)?,
        unsettled_balance_sat: unsigned(m, "unsettled_balance", ch.unsettled_balance)?,
        local_reserve_sat: local.chan_reserve_sat,
        remote_reserve_sat: remote.chan_reserve_sat,
        pending_htlcs: ch
            .pending_htlcs
            .iter()
            .map(pending_htlc)
            .collect::<Result<_, _>>()?,
        max_accepted_htlcs: local.max_accepted_htlcs,
        max_in_flight_msat: local.max_pending_amt_msat,
        min_htlc_msat: local.min_htlc_msat,
        active: ch.active,
        private: ch.private,
        initiator: ch.initiator,
        total_sent_sat: unsigned(m, "total_satoshis_sent", ch.total_satoshis_sent)?,
        total_received_sat: unsigned(m, "total_satoshis_received", ch.total_satoshis_received)?,
        local_policy: local_policy(ours, fees)?,
        peer_policy: theirs
            .map(|p| routing_policy(GET_NODE_INFO, p))
            .transpose()?,
    })
}

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// LND's key for the event: `timestamp_ns`, or the seconds of an LND too old to send it.
fn forward_time_ns(event: &lnrpc::ForwardingEvent) -> u64 {
    #[allow(deprecated)]
    let seconds = event.timestamp;
    if event.timestamp_ns != 0 {
        event.timestamp_ns
    } else {
        seconds.saturating_mul(NANOS_PER_SEC)
    }
}

/// A forward keyed by its time, the cursor LND's log can be resumed from.
fn forward(at_ns: u64, event: &lnrpc::ForwardingEvent) -> Forward {
    Forward {
        index: at_ns,
        at_ns,
        chan_in: event.chan_id_in,
        chan_out: event.chan_id_out,
        amt_in_msat: event.amt_in_msat,
        amt_out_msat: event.amt_out_msat,
        fee_msat: event.fee_msat,
    }
}

#[async_trait]
impl NodeClient for LndClient {
    fn kind(&self) -> NodeKind {
        NodeKind::Lnd
    }

    async fn get_info(&self) -> Result<NodeInfo, NodeError> {
        let info = self.get_info_raw().await?;
        // Identity never changes; remember it for edge orientation.
        let _ = self.identity.set(info.identity_pubkey.clone());
        Ok(NodeInfo {
            kind: NodeKind::Lnd,
            pubkey: info.identity_pubkey,
            alias: info.alias,
            version: info.version,
            block_height: info.block_height,
            synced_to_chain: info.synced_to_chain,
            synced_to_graph: info.synced_to_graph,
        })
    }

    /// ListChannels for balances, FeeReport for our fees, one GetNodeInfo of
    /// our own node for both directions' policies of every public channel,
    /// and GetChanInfo only for channels that answer lacks (private ones):
    /// a handful of calls however many channels there are.
    async fn list_channels(&self) -> Result<Vec<NodeChannel>, NodeError> {
        let me = self.identity().await?.to_owned();
        let channels = self
            .call(
                LIST_CHANNELS,
                lnrpc::ListChannelsRequest::default(),
                |mut c, r| async move { c.list_channels(r).await },
            )
            .await?
            .channels;
        let fees: HashMap<u64, lnrpc::ChannelFeeReport> = self
            .call(
                FEE_REPORT,
                lnrpc::FeeReportRequest {},
                |mut c, r| async move { c.fee_report(r).await },
            )
            .await?
            .channel_fees
            .into_iter()
            .map(|f| (f.chan_id, f))
            .collect();
        let mut edges: HashMap<u64, lnrpc::ChannelEdge> = self
            .node_info(&me)
            .await?
            .map(|info| info.channels)
            .unwrap_or_default()
            .into_iter()
            .map(|e| (e.channel_id, e))
            .collect();
        let mut out = Vec::with_capacity(channels.len());
        for ch in &channels {
            if let Entry::Vacant(slot) = edges.entry(ch.chan_id)
                && let Some(edge) = self.chan_info(ch.chan_id).await?
            {
                slot.insert(edge);
            }
            out.push(node_channel(
                ch,
                edges.get(&ch.chan_id),
                fees.get(&ch.chan_id),
                &me,
            )?);
        }
        Ok(out)
    }

    /// ForwardingHistory paged by time: the cursor is the `timestamp_ns` of the last forward
    /// returned, which LND keeps unique and uses as the log's key. Offsets are only a position
    /// and shift when the log's start is deleted (`deletefwdhistory`); the time does not.
    /// Asks from the cursor's second (`start_time` is whole seconds, inclusive) and skips what
    /// is not newer than the cursor, reading on while a full answer held only old events.
    async fn forwards(&self, from_index: u64, limit: u32) -> Result<ForwardPage, NodeError> {
        let start_time = from_index / NANOS_PER_SEC;
        let mut forwards = Vec::new();
        let mut index_offset = 0u32;
        let mut last = from_index;
        while forwards.len() < limit as usize {
            let request = lnrpc::ForwardingHistoryRequest {
                start_time,
                end_time: 0,
                index_offset,
                num_max_events: limit,
            };
            let response = self
                .call(FORWARDING_HISTORY, request, |mut c, r| async move {
                    c.forwarding_history(r).await
                })
                .await?;
            let answered = response.forwarding_events.len();
            for event in &response.forwarding_events {
                let at_ns = forward_time_ns(event);
                if at_ns <= from_index {
                    continue;
                }
                if at_ns <= last {
                    return Err(protocol(
                        FORWARDING_HISTORY,
                        format!("forward at {at_ns} ns after one at {last} ns: not in time order"),
                    ));
                }
                last = at_ns;
                forwards.push(forward(at_ns, event));
            }
            if answered < limit as usize {
                break;
            }
            if response.last_offset_index <= index_offset {
                return Err(protocol(
                    FORWARDING_HISTORY,
                    format!(
                        "last_offset_index {} after {answered} events from offset {index_offset}",
                        response.last_offset_index
                    ),
                ));
            }
            index_offset = response.last_offset_index;
        }
        forwards.truncate(limit as usize);
        Ok(ForwardPage {
            next_index: forwards.last().map_or(from_index, |f| f.index),
            forwards,
        })
    }

    async fn failed_forwards(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<FailedForwardPage, NodeError> {
        self.failures.page(from_index, limit)
    }

    /// `ListPayments` from `from_index`, in flight included, so that a payment not yet
    /// resolved is named for reading again (see [`payments::rebalance_parts`]).
    async fn payment_parts(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<Option<PaymentPartPage>, NodeError> {
        let me = self.identity().await?.to_owned();
        let request = lnrpc::ListPaymentsRequest {
            include_incomplete: true,
            index_offset: from_index,
            max_payments: u64::from(limit),
            reversed: false,
        };
        let response = self
            .call(LIST_PAYMENTS, request, |mut c, r| async move {
                c.list_payments(r).await
            })
            .await?;
        payments::rebalance_parts(&response.payments, &me, from_index).map(Some)
    }

    /// From `GetNodeInfo(peer, include_channels)`: only the peer's own
    /// edges, where `DescribeGraph` would ship the whole network (tens of
    /// MiB on mainnet) to read a few of them. Channel count and capacity are
    /// LND's `num_channels` and `total_capacity`. For the fee rates, disabled
    /// directions and the peer's channels with us are left out: they are not
    /// competing prices.
    async fn peer_info(&self, peer_pubkey: &str) -> Result<Option<PeerInfo>, NodeError> {
        let me = self.identity().await?.to_owned();
        let Some(info) = self.node_info(peer_pubkey).await? else {
            return Ok(None);
        };
        let mut rates = Vec::new();
        for edge in &info.channels {
            if edge.node1_pub == me || edge.node2_pub == me {
                continue;
            }
            let (_, toward_peer) = sides(edge, peer_pubkey);
            if let Some(policy) = toward_peer.filter(|p| !p.disabled) {
                rates.push(narrow(
                    GET_NODE_INFO,
                    "fee_rate_milli_msat",
                    policy.fee_rate_milli_msat,
                )?);
            }
        }
        Ok(Some(PeerInfo {
            public_channels: info.num_channels,
            public_capacity_sat: unsigned(GET_NODE_INFO, "total_capacity", info.total_capacity)?,
            fee_rates_ppm: rates,
        }))
    }

    /// `walletrpc.WalletKit/EstimateFee`. LND refuses targets below 2
    /// ("confirmation target must be greater than 1", as bitcoind's
    /// estimator has none for the next block), so 0 and 1 ask for 2.
    async fn fee_rate(&self, conf_target: u32) -> Result<Option<f64>, NodeError> {
        let target = conf_target.max(2);
        if target != conf_target {
            debug!(conf_target, "LND estimates from 2 blocks on; asking for 2");
        }
        let request = walletrpc::EstimateFeeRequest {
            conf_target: i32::try_from(target).unwrap_or(i32::MAX),
        };
        let response = self
            .call_on(
                self.wallet.clone(),
                ESTIMATE_FEE,
                request,
                |mut c, r| async move { c.estimate_fee(r).await },
            )
            .await?;
        Ok(sat_per_vbyte(response.sat_per_kw))
    }

    /// `GetTransactions` over the whole wallet history (end height -1: up to
    /// the tip, unconfirmed included; LND cannot select by txid), keeping
    /// those of `txids` with a fee.
    async fn funding_fees(&self, txids: &[String]) -> Result<Vec<FundingFee>, NodeError> {
        let request = lnrpc::GetTransactionsRequest {
            start_height: 0,
            end_height: -1,
            account: String::new(),
        };
        let details = self
            .call(GET_TRANSACTIONS, request, |mut c, r| async move {
                c.get_transactions(r).await
            })
            .await?;
        Ok(funding_fees(&details, txids))
    }

    /// Anything but the disabled flag goes as the whole policy with every field set: LND
    /// overwrites base fee and rate with 0 when omitted and validates time_lock_delta on every
    /// call. A change of the flag goes after it, as `routerrpc.UpdateChanStatus` (manual
    /// DISABLE or ENABLE: UpdateChannelPolicy cannot set it), only once the policy landed, so
    /// a refused update changes nothing and broadcasts nothing.
    async fn update_policy(
        &self,
        channel: &NodeChannel,
        policy: &FeePolicy,
    ) -> Result<FeePolicy, NodeError> {
        let point = convert::channel_point(&channel.channel_point).map_err(|detail| {
            NodeError::Rejected {
                method: UPDATE_CHANNEL_POLICY,
                detail,
            }
        })?;
        let current = &channel.local_policy;
        let flag_changes = policy.disabled != current.disabled;
        if flag_changes && !policy.differs_beyond_flag(current) {
            self.set_status(&point, policy.disabled).await?;
            return Ok(*policy);
        }
        // The policy first: one LND refuses then leaves the flag alone, instead of a flag
        // changed and set back, two channel updates broadcast for an update that failed.
        self.send_policy(channel, point.clone(), policy).await?;
        let mut applied = *policy;
        if flag_changes {
            match self.set_status(&point, policy.disabled).await {
                Ok(()) => {}
                // No answer: the flag may have changed, and a second channel update gone out
                // with it. The update stays pending, counted as sent whole, and reconciliation
                // reads what the node has. An answer LND gave (a refusal, an unimplemented
                // call) says the flag is as it was.
                Err(error) if error.is_transient() => return Err(error),
                Err(error) => {
                    // The fees are set; the next cycle reads the flag as the node has it and
                    // decides again (a macaroon baked before lnpolicy used the status call lands
                    // here too).
                    warn!(
                        channel = channel.id,
                        %error,
                        "the fees were set, the disabled flag could not be"
                    );
                    applied.disabled = current.disabled;
                }
            }
        }
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sat_per_kw_is_a_quarter_of_sat_per_kvb() {
        assert_eq!(sat_per_vbyte(5_000), Some(20.0));
        assert_eq!(sat_per_vbyte(253), Some(1.012));
        assert_eq!(sat_per_vbyte(0), None);
        assert_eq!(sat_per_vbyte(-1), None);
    }

    #[test]
    fn only_asked_transactions_with_a_fee_count() {
        let tx = |hash: &str, total_fees| lnrpc::Transaction {
            tx_hash: hash.into(),
            total_fees,
            ..lnrpc::Transaction::default()
        };
        let details = lnrpc::TransactionDetails {
            transactions: vec![
                tx("AA", 1_500),
                tx("bb", 0),
                tx("cc", -3),
                tx("dd", 700),
                tx("ee", 900),
            ],
        };
        let asked = ["aa", "bb", "cc", "EE", "ff"].map(String::from);
        assert_eq!(
            funding_fees(&details, &asked),
            [
                FundingFee {
                    txid: "aa".into(),
                    fee_sat: 1_500
                },
                FundingFee {
                    txid: "ee".into(),
                    fee_sat: 900
                }
            ],
            "txids compare in any case; unasked and fee-less ones are left out"
        );
    }

    #[test]
    fn htlc_amounts_are_whole_satoshis() {
        let htlc = lnrpc::Htlc {
            incoming: true,
            amount: 12_345,
            expiration_height: 900_144,
            ..lnrpc::Htlc::default()
        };
        assert_eq!(
            pending_htlc(&htlc).unwrap(),
            PendingHtlc {
                incoming: true,
                amount_msat: 12_345_000,
                expiry_height: 900_144
            }
        );
        let negative = lnrpc::Htlc { amount: -1, ..htlc };
        assert!(matches!(
            pending_htlc(&negative),
            Err(NodeError::Protocol { .. })
        ));
    }
}
