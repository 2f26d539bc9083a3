//! Scenario files: a node, its channels and the market around it, in TOML. Everything the
//! engine draws at random is a function of `seed`, so a scenario file plus its seed *is* the
//! run. Defaults come from LIGHTNING-FACTS (sender cost models, budgets) and from the
//! calibration described in `docs/simulator.md`; a file names only what it changes.
//!
//! Errors name the file and the key (`channels[3].capacity_sat`) and, for parse errors, the
//! line and column.

use std::path::Path;

use lnpolicy_core::{FeePolicy, NodeKind};
use serde::{Deserialize, Serialize};

use crate::fee_distribution;
use crate::rng::Rng;
use crate::state::FeeEstimate;

/// 2026-02-03T00:00:00Z, the date of the graph snapshot the market is drawn from.
pub const DEFAULT_START_UNIX: u64 = 1_770_076_800;

/// BOLT 2's limit on HTLCs in flight per direction, which the simulated channels advertise.
pub const MAX_ACCEPTED_HTLCS: u32 = 483;

/// The standard scenarios shipped in `scenarios/`, by name.
pub const BUILTIN: [(&str, &str); 4] = [
    ("balanced", include_str!("../scenarios/balanced.toml")),
    (
        "one-way-drains",
        include_str!("../scenarios/one-way-drains.toml"),
    ),
    ("lnd-heavy", include_str!("../scenarios/lnd-heavy.toml")),
    ("cln-heavy", include_str!("../scenarios/cln-heavy.toml")),
];

/// Why a scenario could not be loaded. Every variant names the file; parse and validation
/// errors name the offending key as a path such as `channels[2].policy.fee_ppm`.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {file}: {source}")]
    Read {
        /// The file as named by the caller.
        file: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// TOML syntax or a value of the wrong type.
    #[error("{file}:{line}:{column}: `{key}`: {message}")]
    Parse {
        /// The file as named by the caller.
        file: String,
        /// Dotted path of the offending key, e.g. `channels[2].capacity_sat`.
        key: String,
        /// 1-based line of the offending text (0 when unknown).
        line: usize,
        /// 1-based column of the offending text (0 when unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// Well-formed, but out of range or inconsistent.
    #[error("{file}: `{key}`: {message}")]
    Invalid {
        /// The file as named by the caller.
        file: String,
        /// Dotted path of the offending key.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ScenarioError {
    /// The key the error is about (a dotted path into the file).
    pub fn key(&self) -> Option<&str> {
        match self {
            ScenarioError::Read { .. } => None,
            ScenarioError::Parse { key, .. } | ScenarioError::Invalid { key, .. } => Some(key),
        }
    }
}

/// A node and its market.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (defaults to the file stem).
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    /// Free text for people.
    pub description: String,
    /// Seeds every random choice: ids, keys, competitors, demand, drift.
    pub seed: u64,
    /// Virtual time at the start, unix seconds.
    #[serde(default = "default_start")]
    pub start_unix: u64,
    /// How long a backtest of this scenario runs by default.
    #[serde(default = "default_duration")]
    pub duration_days: f64,
    /// Our node.
    pub node: NodeSpec,
    #[serde(default)]
    /// Demand, senders and competition.
    pub market: MarketSpec,
    #[serde(default)]
    /// Balance changes not caused by forwards.
    pub drift: DriftSpec,
    #[serde(default)]
    /// Peers' other public channels.
    pub graph: GraphSpec,
    #[serde(default)]
    /// The on-chain fee market: the node's estimates and what opening channels cost.
    pub chain: ChainSpec,
    /// Our channels, in the order the node lists them.
    pub channels: Vec<ChannelSpec>,
    /// Extra demand between two named peers, on top of the per-peer weights.
    #[serde(default)]
    pub pairs: Vec<PairSpec>,
    /// Changes of the market during the run, in time order: what a fee curve fixed in
    /// advance cannot follow and a learning strategy should.
    #[serde(default)]
    pub shifts: Vec<ShiftSpec>,
    /// Rebalances the operator's own tool makes during the run (lnpolicy makes none): what
    /// the node's payments then show, and the profitability classes count as costs.
    #[serde(default)]
    pub rebalances: Vec<RebalanceSpec>,
}

/// A circular rebalance made on a schedule: from `day` on, every `every_days` (once when 0),
/// `amount_sat` leaves by the channel to `from` and comes back by the one to `to`, paying
/// `fee_ppm` of it to the route. One that either channel cannot carry then (its balance, or
/// its peer offline) is skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebalanceSpec {
    /// Days since the start of the first one.
    pub day: f64,
    /// Days between two; 0: only once.
    #[serde(default)]
    pub every_days: f64,
    /// Peer alias of the channel it leaves by.
    pub from: String,
    /// Peer alias of the channel it refills.
    pub to: String,
    pub amount_sat: u64,
    /// What the route charges, ppm of the amount.
    pub fee_ppm: u32,
}

/// From `day` on, competing routes charge `competitor_fees` times what they charge at the
/// start: the network's fee level moving under the node (a fee war, a mempool spike that
/// makes everyone dearer).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftSpec {
    /// Days since the start.
    pub day: f64,
    /// Multiplier of every competing route's fee; 1 is the starting level.
    pub competitor_fees: f64,
}

/// Our node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// `lnd` or `cln`: decides inbound fees (LND only) and fee enforcement rules.
    pub kind: NodeKind,
    /// Our node's alias.
    pub alias: String,
    /// Hex compressed public key; derived from the seed when absent.
    #[serde(default)]
    pub pubkey: Option<String>,
    /// Version string reported by getinfo; a current release of `kind` when absent.
    #[serde(default)]
    pub version: Option<String>,
    /// Chain height at `start_unix`; estimated from the date when absent.
    #[serde(default)]
    pub block_height: Option<u32>,
    /// LND's `accept-positive-inbound-fees`.
    #[serde(default)]
    pub accept_positive_inbound: bool,
    /// CLN's `setchannel enforcedelay`: how long the previous fee is still accepted after a
    /// change (CLN nodes only).
    #[serde(default = "default_enforce_delay")]
    pub enforce_delay_secs: u64,
}

/// Log-normal payment amounts: `ln(amount_sat) ~ N(mu, sigma)`; `exp(mu)` is the median.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountSpec {
    /// Mean of ln(amount in sat).
    pub mu: f64,
    /// Standard deviation of ln(amount in sat).
    pub sigma: f64,
}

/// Shares of payments by the sender's implementation; they must add up to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderMix {
    /// Share of LND senders (they honour inbound fees).
    pub lnd: f64,
    /// Share of Core Lightning senders.
    pub cln: f64,
    /// Share of LDK senders.
    pub ldk: f64,
}

/// The alternatives a sender has to our node for one pair of peers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompetitionSpec {
    /// Competing routes per pair, drawn uniformly in `[routes_min, routes_max]` once per pair.
    pub routes_min: u32,
    /// See `routes_min`.
    pub routes_max: u32,
    /// Channels per competing route segment (ours is 2: the peer's channel in, ours out).
    pub hops_min: u32,
    /// See `hops_min`.
    pub hops_max: u32,
    /// Per-payment spread of each route's cost (normal, ppm of the amount): how differently
    /// individual senders reach each route.
    pub noise_ppm: f64,
    /// Senders' success estimate of a competitor hop, drawn uniformly per hop.
    pub hop_success_min: f64,
    /// See `hop_success_min`.
    pub hop_success_max: f64,
}

/// Gossip propagation of our policy changes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GossipSpec {
    /// Seconds until senders see a change.
    pub delay_secs: u64,
    /// Updates per channel and day the network passes on (CLN-style peers accept about 2);
    /// 0 = no limit. Later updates wait for the next slot, and only the newest is shown.
    pub max_updates_per_day: u32,
}

/// LND's pathfinding cost: fee + amount·cltv·risk + attempt cost / success probability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LndSenderSpec {
    /// Fixed cost of a failed attempt (LND `attemptcost`, 100 sat).
    pub attempt_cost_msat: f64,
    /// Proportional cost of a failed attempt (LND `attemptcostppm`, 1000 ppm).
    pub attempt_cost_ppm: f64,
    /// Time-lock risk: cost per msat and block of CLTV (LND: 15 per billion).
    pub risk_factor_billionths: f64,
    /// Fee limit, ppm of the amount (5%) …
    pub fee_limit_ppm: f64,
    /// … except below this amount, where the whole amount may go to fees.
    pub full_fee_limit_below_msat: u64,
}

/// Core Lightning (askrene/xpay): fee + μ·amount·(−ln P) + delay factor·amount·cltv.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClnSenderSpec {
    /// μ, in ppm of the amount per unit of −ln(success probability).
    pub uncertainty_ppm: f64,
    /// Cost per msat and block of CLTV (`delay_feefactor`).
    pub delay_feefactor: f64,
    /// Fee limit: max(`fee_limit_min_msat`, ppm of the amount).
    pub fee_limit_ppm: f64,
    /// See `fee_limit_ppm`.
    pub fee_limit_min_msat: f64,
}

/// LDK's ProbabilisticScorer defaults: per-hop base penalties and a liquidity penalty in
/// −log10(success probability).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdkSenderSpec {
    /// Per-hop penalty.
    pub base_penalty_msat: f64,
    /// Per-hop penalty per 2^30 msat of amount.
    pub base_penalty_amount_multiplier_msat: f64,
    /// Liquidity penalty per unit of −log10(success probability).
    pub liquidity_penalty_multiplier_msat: f64,
    /// Liquidity penalty per 2^20 msat of amount and unit of −log10(success probability).
    pub liquidity_penalty_amount_multiplier_msat: f64,
    /// Fee limit: ppm of the amount plus a constant.
    pub fee_limit_ppm: f64,
    /// See `fee_limit_ppm`.
    pub fee_limit_extra_msat: f64,
}

/// The market of payments that could cross our node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MarketSpec {
    /// Payments per day for which a route through us is a candidate (before senders choose),
    /// spread over pairs by the channels' `weight` and `bias`.
    pub payments_per_day: f64,
    /// Payment amounts (per `[[pairs]]` entry overridable).
    pub amount: AmountSpec,
    /// Amounts are capped here (sat).
    pub max_amount_sat: u64,
    /// Senders split larger payments into equal parts of at most this (sat), each routed
    /// on its own (multi-part payments).
    pub mpp_part_max_sat: u64,
    /// Which implementation senders run.
    pub senders: SenderMix,
    /// The alternatives to our route.
    pub competition: CompetitionSpec,
    /// Senders' learned success probability of each hop of our route (they have routed
    /// through a well-run node before), before capacity effects.
    pub own_hop_success: f64,
    /// How our policy changes reach senders.
    pub gossip: GossipSpec,
    /// How fast senders forget a failure at our node (LND's mission control: 1 h).
    pub failure_half_life_secs: u64,
    /// Routes a sender tries before giving up (its payment timeout): a route ranked below
    /// this many cheaper ones is never tried.
    pub max_attempts: u32,
    /// LND senders' cost model.
    pub lnd: LndSenderSpec,
    /// Core Lightning senders' cost model.
    pub cln: ClnSenderSpec,
    /// LDK senders' cost model.
    pub ldk: LdkSenderSpec,
}

/// Slow balance changes not caused by forwards (peers' own payments, their rebalances).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DriftSpec {
    /// How often drift is applied.
    pub interval_secs: u64,
    /// Random walk of each channel's balance, as a fraction of capacity per √day.
    pub volatility: f64,
}

/// The public graph around us.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GraphSpec {
    /// Cap on each peer's other public channels (drawn from the real degree distribution
    /// when a channel does not set `peer_channels`).
    pub max_peer_channels: u32,
}

/// The on-chain fee market as the node's estimator sees it (static for the whole run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainSpec {
    /// sat/vB to confirm within `blocks`, by ascending `blocks` (a longer target never costs
    /// more). A target between two points gets the faster one; below the first, the first.
    /// Empty: the node has no estimate. The funding transaction of each channel we opened paid
    /// the 6-block rate (the rate at the largest target up to 6) for 150 to 200 vB, drawn from
    /// the seed.
    pub fee_rates: Vec<FeeEstimate>,
}

/// One direction's forwarding policy; absent fields take the node kind's defaults
/// (LND: 1000 msat + 1 ppm, cltv 80; CLN: 1000 msat + 10 ppm, cltv 34).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySpec {
    /// `fee_base_msat`.
    pub base_fee_msat: Option<u32>,
    /// `fee_proportional_millionths`.
    pub fee_ppm: Option<u32>,
    /// LND inbound base fee (≤ 0 unless positive inbound fees are accepted).
    pub inbound_base_fee_msat: Option<i32>,
    /// LND inbound fee rate, ppm (≤ 0 unless positive inbound fees are accepted).
    pub inbound_fee_ppm: Option<i32>,
    /// Smallest HTLC forwarded (default 1000 msat).
    pub min_htlc_msat: Option<u64>,
    /// Largest HTLC forwarded (default 99% of capacity).
    pub max_htlc_msat: Option<u64>,
    /// CLTV delta.
    pub time_lock_delta: Option<u32>,
    /// Advertised as disabled.
    pub disabled: Option<bool>,
}

/// One of our channels and its peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// Unique within the scenario; `pairs` refer to peers by it.
    pub peer_alias: String,
    #[serde(default)]
    /// Hex compressed public key; derived from the seed when absent.
    pub peer_pubkey: Option<String>,
    /// Short channel id as `BLOCKxTXxOUTPUT`; drawn when absent.
    #[serde(default)]
    pub scid: Option<String>,
    /// Channel size.
    pub capacity_sat: u64,
    /// Our balance at the start.
    pub local_sat: u64,
    /// We opened the channel (and pay the commitment fee).
    #[serde(default = "yes")]
    pub initiator: bool,
    #[serde(default)]
    /// Not announced: a peer behind it is reachable only through us.
    pub private: bool,
    #[serde(default = "yes")]
    /// Connected and usable (an inactive channel fails forwards).
    pub active: bool,
    #[serde(default = "default_commit_fee")]
    /// On-chain fee of the commitment transaction, paid by the opener.
    pub commit_fee_sat: u64,
    /// Our policy out through this channel (and inbound fee on it, LND).
    #[serde(default)]
    pub policy: PolicySpec,
    /// The peer's policy toward us; drawn from the real distribution when absent.
    #[serde(default)]
    pub peer_policy: Option<PolicySpec>,
    /// Relative share of the demand this peer takes part in.
    #[serde(default = "one")]
    pub weight: f64,
    /// In [−1, 1]: +1 = payments only enter through this peer (it fills our side),
    /// −1 = payments only leave through it (it drains our side), 0 = both alike.
    #[serde(default)]
    pub bias: f64,
    /// Mean drift of our balance (sat/day, + = toward us), on top of `drift.volatility`.
    #[serde(default)]
    pub drift_sat_per_day: f64,
    /// The peer's other public channels in the graph; drawn when absent.
    #[serde(default)]
    pub peer_channels: Option<u32>,
    /// HTLCs in flight on the channel for the whole run (stuck ones: they never resolve),
    /// each with a direction, a whole-satoshi amount (taken from that side's balance) and an
    /// expiry 40 to 200 blocks above the start height, drawn from the seed.
    #[serde(default)]
    pub pending_htlcs: u32,
}

/// Demand between two named peers (entering via `from`, leaving via `to`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairSpec {
    /// Alias of the peer payments enter through.
    pub from: String,
    /// Alias of the peer payments leave through.
    pub to: String,
    /// Candidate payments per day for this pair.
    pub payments_per_day: f64,
    /// Amounts of this pair; the market's when absent.
    #[serde(default)]
    pub amount: Option<AmountSpec>,
}

fn default_start() -> u64 {
    DEFAULT_START_UNIX
}
fn default_duration() -> f64 {
    30.0
}
fn default_enforce_delay() -> u64 {
    600
}
fn default_commit_fee() -> u64 {
    850
}
fn yes() -> bool {
    true
}
fn one() -> f64 {
    1.0
}

impl Default for CompetitionSpec {
    fn default() -> Self {
        CompetitionSpec {
            routes_min: 8,
            routes_max: 20,
            hops_min: 2,
            hops_max: 3,
            noise_ppm: 200.0,
            hop_success_min: 0.5,
            hop_success_max: 0.9,
        }
    }
}

impl Default for GossipSpec {
    fn default() -> Self {
        GossipSpec {
            delay_secs: 900,
            max_updates_per_day: 0,
        }
    }
}

impl Default for LndSenderSpec {
    fn default() -> Self {
        LndSenderSpec {
            attempt_cost_msat: 100_000.0,
            attempt_cost_ppm: 1_000.0,
            risk_factor_billionths: 15.0,
            fee_limit_ppm: 50_000.0,
            full_fee_limit_below_msat: 1_000_000,
        }
    }
}

impl Default for ClnSenderSpec {
    fn default() -> Self {
        ClnSenderSpec {
            uncertainty_ppm: 1_000.0,
            delay_feefactor: 1e-6,
            fee_limit_ppm: 10_000.0,
            fee_limit_min_msat: 5_000.0,
        }
    }
}

impl Default for LdkSenderSpec {
    fn default() -> Self {
        LdkSenderSpec {
            base_penalty_msat: 500.0,
            base_penalty_amount_multiplier_msat: 8_192.0,
            liquidity_penalty_multiplier_msat: 30_000.0,
            liquidity_penalty_amount_multiplier_msat: 192.0,
            fee_limit_ppm: 10_000.0,
            fee_limit_extra_msat: 50_000.0,
        }
    }
}

impl Default for MarketSpec {
    fn default() -> Self {
        MarketSpec {
            payments_per_day: 500.0,
            amount: AmountSpec {
                mu: 9.6,
                sigma: 1.6,
            },
            max_amount_sat: 5_000_000,
            mpp_part_max_sat: 100_000,
            senders: SenderMix {
                lnd: 0.45,
                cln: 0.30,
                ldk: 0.25,
            },
            competition: CompetitionSpec::default(),
            own_hop_success: 0.7,
            gossip: GossipSpec::default(),
            failure_half_life_secs: 3_600,
            max_attempts: 6,
            lnd: LndSenderSpec::default(),
            cln: ClnSenderSpec::default(),
            ldk: LdkSenderSpec::default(),
        }
    }
}

impl Default for DriftSpec {
    fn default() -> Self {
        DriftSpec {
            interval_secs: 3_600,
            volatility: 0.0,
        }
    }
}

/// The confirmation target the funding transactions of the scenario's channels aimed at.
pub const FUNDING_CONF_TARGET: u32 = 6;

impl Default for ChainSpec {
    /// A calm mempool: 20 sat/vB for the next blocks, 12 within an hour, 4 within a day.
    fn default() -> Self {
        let at = |blocks, sat_per_vb| FeeEstimate { blocks, sat_per_vb };
        ChainSpec {
            fee_rates: vec![at(2, 20.0), at(6, 12.0), at(144, 4.0)],
        }
    }
}

impl Default for GraphSpec {
    fn default() -> Self {
        GraphSpec {
            max_peer_channels: 40,
        }
    }
}

impl PolicySpec {
    /// The full policy, with the node kind's defaults for absent fields and htlc maximum
    /// 99% of `capacity_sat`.
    pub fn resolve(&self, kind: NodeKind, capacity_sat: u64) -> FeePolicy {
        let (base, ppm, cltv) = match kind {
            NodeKind::Lnd => (1_000, 1, 80),
            NodeKind::Cln => (1_000, 10, 34),
        };
        FeePolicy {
            base_fee_msat: self.base_fee_msat.unwrap_or(base),
            fee_ppm: self.fee_ppm.unwrap_or(ppm),
            inbound_base_fee_msat: self.inbound_base_fee_msat.unwrap_or(0),
            inbound_fee_ppm: self.inbound_fee_ppm.unwrap_or(0),
            min_htlc_msat: self.min_htlc_msat.unwrap_or(1_000),
            max_htlc_msat: self.max_htlc_msat.unwrap_or(capacity_sat * 990),
            time_lock_delta: self.time_lock_delta.unwrap_or(cltv),
            disabled: self.disabled.unwrap_or(false),
        }
    }
}

/// Parses `BLOCKxTXxOUTPUT` into LND's u64 form.
pub fn parse_scid(text: &str) -> Option<u64> {
    let mut parts = text.split('x');
    let block: u64 = parts.next()?.parse().ok()?;
    let tx: u64 = parts.next()?.parse().ok()?;
    let out: u64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || block >= 1 << 24 || tx >= 1 << 24 || out >= 1 << 16 {
        return None;
    }
    Some(block << 40 | tx << 16 | out)
}

/// The 1-based line and column of byte `offset` in `src`.
fn line_column(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |p| p + 1) + 1;
    (line, column)
}

impl Scenario {
    /// Reads and validates a scenario file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let src = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            file: file.clone(),
            source,
        })?;
        let mut scenario = Scenario::from_toml(&src, &file)?;
        if scenario.name.is_empty() {
            scenario.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        Ok(scenario)
    }

    /// Parses and validates TOML; `file` is the name errors use.
    pub fn from_toml(src: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let parse_error = |key: String, message: String, span: Option<std::ops::Range<usize>>| {
            let (line, column) = span.map_or((0, 0), |s| line_column(src, s.start));
            ScenarioError::Parse {
                file: file.to_string(),
                key,
                line,
                column,
                message,
            }
        };
        let de = toml::de::Deserializer::parse(src).map_err(|e| {
            // A syntax error: the key is whatever stands before `=` on that line.
            let key = e
                .span()
                .and_then(|s| {
                    let (line, _) = line_column(src, s.start);
                    src.lines()
                        .nth(line - 1)?
                        .split_once('=')
                        .map(|(k, _)| k.trim().to_string())
                })
                .unwrap_or_else(|| "(document)".into());
            parse_error(key, e.message().to_string(), e.span())
        })?;
        let scenario: Scenario = serde_path_to_error::deserialize(de).map_err(|e| {
            let mut key = e.path().to_string();
            let inner = e.inner();
            let message = inner.message().to_string();
            // serde reports a missing field at its table; name the field itself.
            if let Some(field) = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
            {
                key = if key == "." {
                    field.to_string()
                } else {
                    format!("{key}.{field}")
                };
            }
            parse_error(key, message, inner.span())
        })?;
        scenario.validate(file)?;
        Ok(scenario)
    }

    /// One of the standard scenarios by name (`balanced`, `one-way-drains`, `lnd-heavy`,
    /// `cln-heavy`).
    pub fn builtin(name: &str) -> Option<Scenario> {
        let (_, src) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        let file = format!("scenarios/{name}.toml");
        let mut scenario = Scenario::from_toml(src, &file)
            .unwrap_or_else(|e| panic!("built-in scenario is invalid: {e}"));
        if scenario.name.is_empty() {
            scenario.name = name.to_string();
        }
        Some(scenario)
    }

    /// What competing routes charge `secs` after the start, relative to the start: the
    /// latest shift's multiplier, 1 before the first.
    pub fn competitor_fee_scale(&self, secs: u64) -> f64 {
        self.shifts
            .iter()
            .take_while(|shift| shift.day * 86_400.0 <= secs as f64)
            .last()
            .map_or(1.0, |shift| shift.competitor_fees)
    }

    /// The scenario's default run length in seconds.
    pub fn duration_secs(&self) -> u64 {
        libm::round(self.duration_days * 86_400.0) as u64
    }

    /// Checks what serde cannot: ranges, sums, references between keys. `file` names the
    /// source in errors.
    pub fn validate(&self, file: &str) -> Result<(), ScenarioError> {
        let invalid = |key: &str, message: String| ScenarioError::Invalid {
            file: file.to_string(),
            key: key.to_string(),
            message,
        };
        let m = &self.market;
        if !(self.duration_days.is_finite() && self.duration_days >= 0.0) {
            return Err(invalid(
                "duration_days",
                "must be a non-negative number".into(),
            ));
        }
        if let Some(pk) = &self.node.pubkey {
            check_pubkey(pk).map_err(|msg| invalid("node.pubkey", msg))?;
        }
        if !(m.payments_per_day.is_finite() && m.payments_per_day >= 0.0) {
            return Err(invalid("market.payments_per_day", "must be >= 0".into()));
        }
        check_amount(&m.amount).map_err(|(k, msg)| invalid(&format!("market.amount.{k}"), msg))?;
        if m.max_amount_sat == 0 {
            return Err(invalid("market.max_amount_sat", "must be positive".into()));
        }
        if m.mpp_part_max_sat == 0 {
            return Err(invalid(
                "market.mpp_part_max_sat",
                "must be positive".into(),
            ));
        }
        let s = m.senders;
        for (k, v) in [("lnd", s.lnd), ("cln", s.cln), ("ldk", s.ldk)] {
            if !(0.0..=1.0).contains(&v) {
                return Err(invalid(
                    &format!("market.senders.{k}"),
                    "must be in [0, 1]".into(),
                ));
            }
        }
        if ((s.lnd + s.cln + s.ldk) - 1.0).abs() > 1e-6 {
            return Err(invalid(
                "market.senders",
                format!("shares add up to {}, not 1", s.lnd + s.cln + s.ldk),
            ));
        }
        let c = m.competition;
        if c.routes_min > c.routes_max || c.routes_max > 32 {
            return Err(invalid(
                "market.competition.routes_max",
                "needs routes_min <= routes_max <= 32".into(),
            ));
        }
        if c.hops_min == 0
            || c.hops_min > c.hops_max
            || c.hops_max as usize > crate::market::MAX_HOPS
        {
            return Err(invalid(
                "market.competition.hops_max",
                format!(
                    "needs 1 <= hops_min <= hops_max <= {}",
                    crate::market::MAX_HOPS
                ),
            ));
        }
        if !(c.noise_ppm.is_finite() && c.noise_ppm >= 0.0) {
            return Err(invalid(
                "market.competition.noise_ppm",
                "must be >= 0".into(),
            ));
        }
        if !(0.0 < c.hop_success_min
            && c.hop_success_min <= c.hop_success_max
            && c.hop_success_max <= 1.0)
        {
            return Err(invalid(
                "market.competition.hop_success_max",
                "needs 0 < hop_success_min <= hop_success_max <= 1".into(),
            ));
        }
        if !(m.own_hop_success > 0.0 && m.own_hop_success <= 1.0) {
            return Err(invalid(
                "market.own_hop_success",
                "must be in (0, 1]".into(),
            ));
        }
        if m.max_attempts == 0 {
            return Err(invalid("market.max_attempts", "must be positive".into()));
        }
        if m.failure_half_life_secs == 0 {
            return Err(invalid(
                "market.failure_half_life_secs",
                "must be positive".into(),
            ));
        }
        if self.drift.interval_secs == 0 {
            return Err(invalid("drift.interval_secs", "must be positive".into()));
        }
        if !(self.drift.volatility.is_finite() && self.drift.volatility >= 0.0) {
            return Err(invalid("drift.volatility", "must be >= 0".into()));
        }
        for (i, rate) in self.chain.fee_rates.iter().enumerate() {
            let key = |field: &str| format!("chain.fee_rates[{i}].{field}");
            if rate.blocks == 0 {
                return Err(invalid(&key("blocks"), "must be positive".into()));
            }
            if !(rate.sat_per_vb.is_finite() && rate.sat_per_vb > 0.0) {
                return Err(invalid(&key("sat_per_vb"), "must be positive".into()));
            }
            if rate.sat_per_vb > 100_000.0 {
                return Err(invalid(&key("sat_per_vb"), "above 100000 sat/vB".into()));
            }
            if let Some(prev) = i.checked_sub(1).map(|p| self.chain.fee_rates[p]) {
                if rate.blocks <= prev.blocks {
                    return Err(invalid(
                        &key("blocks"),
                        format!("must be above the previous target ({})", prev.blocks),
                    ));
                }
                if rate.sat_per_vb > prev.sat_per_vb {
                    return Err(invalid(
                        &key("sat_per_vb"),
                        format!(
                            "a longer target cannot cost more than the previous one ({})",
                            prev.sat_per_vb
                        ),
                    ));
                }
            }
        }
        if self.channels.is_empty() {
            return Err(invalid(
                "channels",
                "a node needs at least one channel".into(),
            ));
        }
        let mut scids = Vec::new();
        for (i, ch) in self.channels.iter().enumerate() {
            let key = |field: &str| format!("channels[{i}].{field}");
            if ch.peer_alias.is_empty() {
                return Err(invalid(&key("peer_alias"), "must not be empty".into()));
            }
            if self.channels[..i]
                .iter()
                .any(|o| o.peer_alias == ch.peer_alias)
            {
                return Err(invalid(
                    &key("peer_alias"),
                    format!("`{}` is used by an earlier channel", ch.peer_alias),
                ));
            }
            if let Some(pk) = &ch.peer_pubkey {
                check_pubkey(pk).map_err(|msg| invalid(&key("peer_pubkey"), msg))?;
            }
            if let Some(scid) = &ch.scid {
                let id = parse_scid(scid).ok_or_else(|| {
                    invalid(&key("scid"), format!("`{scid}` is not BLOCKxTXxOUTPUT"))
                })?;
                if scids.contains(&id) {
                    return Err(invalid(&key("scid"), format!("`{scid}` is used twice")));
                }
                scids.push(id);
            }
            if ch.capacity_sat < 20_000 {
                return Err(invalid(&key("capacity_sat"), "below 20000 sat".into()));
            }
            if ch.commit_fee_sat >= ch.capacity_sat {
                return Err(invalid(
                    &key("commit_fee_sat"),
                    "must be below capacity".into(),
                ));
            }
            if ch.local_sat > ch.capacity_sat - ch.commit_fee_sat {
                return Err(invalid(
                    &key("local_sat"),
                    format!(
                        "{} exceeds capacity {} minus commit fee {}",
                        ch.local_sat, ch.capacity_sat, ch.commit_fee_sat
                    ),
                ));
            }
            if !(ch.weight.is_finite() && ch.weight >= 0.0) {
                return Err(invalid(&key("weight"), "must be >= 0".into()));
            }
            if !(-1.0..=1.0).contains(&ch.bias) {
                return Err(invalid(&key("bias"), "must be in [-1, 1]".into()));
            }
            if !ch.drift_sat_per_day.is_finite() {
                return Err(invalid(
                    &key("drift_sat_per_day"),
                    "must be a number".into(),
                ));
            }
            if ch.pending_htlcs > MAX_ACCEPTED_HTLCS {
                return Err(invalid(
                    &key("pending_htlcs"),
                    format!("above the {MAX_ACCEPTED_HTLCS} a channel can carry"),
                ));
            }
            let policy = ch.policy.resolve(self.node.kind, ch.capacity_sat);
            check_policy(&policy, self.node.accept_positive_inbound)
                .map_err(|(f, msg)| invalid(&key(&format!("policy.{f}")), msg))?;
            if let Some(peer) = &ch.peer_policy {
                let policy = peer.resolve(NodeKind::Lnd, ch.capacity_sat);
                if policy.max_htlc_msat != 0 && policy.min_htlc_msat > policy.max_htlc_msat {
                    return Err(invalid(
                        &key("peer_policy.min_htlc_msat"),
                        "above max_htlc_msat".into(),
                    ));
                }
            }
        }
        for (i, pair) in self.pairs.iter().enumerate() {
            let key = |field: &str| format!("pairs[{i}].{field}");
            self.check_two_peers(&pair.from, &pair.to)
                .map_err(|(field, msg)| invalid(&key(field), msg))?;
            if !(pair.payments_per_day.is_finite() && pair.payments_per_day >= 0.0) {
                return Err(invalid(&key("payments_per_day"), "must be >= 0".into()));
            }
            if let Some(amount) = &pair.amount {
                check_amount(amount)
                    .map_err(|(k, msg)| invalid(&key(&format!("amount.{k}")), msg))?;
            }
        }
        let mut after = 0.0;
        for (i, shift) in self.shifts.iter().enumerate() {
            let key = |field: &str| format!("shifts[{i}].{field}");
            if !(shift.day.is_finite() && shift.day >= after) {
                return Err(invalid(
                    &key("day"),
                    format!("must be a number of days, at least {after} (shifts in time order)"),
                ));
            }
            after = shift.day;
            if !(shift.competitor_fees.is_finite() && shift.competitor_fees > 0.0) {
                return Err(invalid(&key("competitor_fees"), "must be > 0".into()));
            }
        }
        for (i, rebalance) in self.rebalances.iter().enumerate() {
            let key = |field: &str| format!("rebalances[{i}].{field}");
            self.check_two_peers(&rebalance.from, &rebalance.to)
                .map_err(|(field, msg)| invalid(&key(field), msg))?;
            if !(rebalance.day.is_finite() && rebalance.day >= 0.0) {
                return Err(invalid(
                    &key("day"),
                    "must be a number of days, >= 0".into(),
                ));
            }
            if !(rebalance.every_days.is_finite()
                && (rebalance.every_days == 0.0 || rebalance.every_days >= 1.0 / 24.0))
            {
                return Err(invalid(
                    &key("every_days"),
                    "must be 0 (once) or at least an hour (1/24)".into(),
                ));
            }
            let smaller = self
                .channels
                .iter()
                .filter(|c| c.peer_alias == rebalance.from || c.peer_alias == rebalance.to)
                .map(|c| c.capacity_sat)
                .min()
                .unwrap_or(0);
            if rebalance.amount_sat == 0 || rebalance.amount_sat >= smaller {
                return Err(invalid(
                    &key("amount_sat"),
                    format!("must be > 0 and below the smaller channel's capacity ({smaller} sat)"),
                ));
            }
            if rebalance.fee_ppm > 1_000_000 {
                return Err(invalid(&key("fee_ppm"), "must be at most 1,000,000".into()));
            }
        }
        Ok(())
    }

    /// `from` and `to` name two different channels' peers; else the field at fault and why.
    fn check_two_peers(&self, from: &str, to: &str) -> Result<(), (&'static str, String)> {
        for (field, alias) in [("from", from), ("to", to)] {
            if !self.channels.iter().any(|c| c.peer_alias == alias) {
                return Err((field, format!("no channel has peer_alias `{alias}`")));
            }
        }
        if from == to {
            return Err(("to", "must differ from `from`".into()));
        }
        Ok(())
    }

    /// A large node for benchmarks and scale tests: `channels` channels with capacities,
    /// balances and fees drawn from the real distribution, uneven peer weights and flow
    /// directions, `payments_per_day` candidate payments. Fully determined by `seed`.
    pub fn synthetic(channels: usize, payments_per_day: f64, seed: u64) -> Scenario {
        let table = fee_distribution::mainnet();
        let mut rng = Rng::derive(seed, 0x5CE7A);
        let channels = (0..channels.max(2))
            .map(|k| {
                let drawn = table.sample(fee_distribution::Column::CapacitySat, &mut rng);
                let capacity_sat = (drawn.clamp(1_000_000, 50_000_000) / 100_000) * 100_000;
                let share = 0.2 + 0.6 * rng.uniform();
                let local_sat = libm::round(capacity_sat as f64 * share) as u64 / 1_000 * 1_000;
                let fee_ppm = table
                    .sample(fee_distribution::Column::FeePpm, &mut rng)
                    .clamp(10, 2_500) as u32;
                ChannelSpec {
                    peer_alias: format!("peer-{k:04}"),
                    peer_pubkey: None,
                    scid: None,
                    capacity_sat,
                    local_sat,
                    initiator: rng.uniform() < 0.6,
                    private: false,
                    active: true,
                    commit_fee_sat: default_commit_fee(),
                    policy: PolicySpec {
                        base_fee_msat: Some(if rng.uniform() < 0.5 { 0 } else { 1_000 }),
                        fee_ppm: Some(fee_ppm),
                        ..PolicySpec::default()
                    },
                    peer_policy: None,
                    weight: rng.log_normal(0.0, 0.8),
                    bias: 1.2 * rng.uniform() - 0.6,
                    drift_sat_per_day: 0.0,
                    peer_channels: None,
                    pending_htlcs: 0,
                }
            })
            .collect();
        Scenario {
            name: "synthetic".into(),
            description: "generated large routing node".into(),
            seed,
            start_unix: DEFAULT_START_UNIX,
            duration_days: 30.0,
            node: NodeSpec {
                kind: NodeKind::Lnd,
                alias: "synthetic".into(),
                pubkey: None,
                version: None,
                block_height: None,
                accept_positive_inbound: false,
                enforce_delay_secs: default_enforce_delay(),
            },
            market: MarketSpec {
                payments_per_day,
                ..MarketSpec::default()
            },
            drift: DriftSpec {
                volatility: 0.02,
                ..DriftSpec::default()
            },
            graph: GraphSpec::default(),
            chain: ChainSpec::default(),
            channels,
            pairs: Vec::new(),
            shifts: Vec::new(),
            rebalances: Vec::new(),
        }
    }
}

fn check_amount(a: &AmountSpec) -> Result<(), (&'static str, String)> {
    if !a.mu.is_finite() || !(0.0..=30.0).contains(&a.mu) {
        return Err(("mu", "must be in [0, 30] (ln of sats)".into()));
    }
    if !a.sigma.is_finite() || !(0.0..=5.0).contains(&a.sigma) {
        return Err(("sigma", "must be in [0, 5]".into()));
    }
    Ok(())
}

fn check_policy(
    p: &FeePolicy,
    accept_positive_inbound: bool,
) -> Result<(), (&'static str, String)> {
    use crate::state::{MAX_TIME_LOCK_DELTA, MIN_TIME_LOCK_DELTA};
    if !(MIN_TIME_LOCK_DELTA..=MAX_TIME_LOCK_DELTA).contains(&p.time_lock_delta) {
        return Err((
            "time_lock_delta",
            format!(
                "{} outside [{MIN_TIME_LOCK_DELTA}, {MAX_TIME_LOCK_DELTA}]",
                p.time_lock_delta
            ),
        ));
    }
    if !accept_positive_inbound && p.inbound_fee_ppm > 0 {
        return Err((
            "inbound_fee_ppm",
            "positive inbound fees need node.accept_positive_inbound".into(),
        ));
    }
    if !accept_positive_inbound && p.inbound_base_fee_msat > 0 {
        return Err((
            "inbound_base_fee_msat",
            "positive inbound fees need node.accept_positive_inbound".into(),
        ));
    }
    if p.max_htlc_msat != 0 && p.min_htlc_msat > p.max_htlc_msat {
        return Err(("min_htlc_msat", "above max_htlc_msat".into()));
    }
    Ok(())
}

fn check_pubkey(hex: &str) -> Result<(), String> {
    if hex.len() != 66 {
        return Err(format!(
            "`{hex}` is not 33 bytes of hex (a compressed public key)"
        ));
    }
    hex.parse::<secp256k1::PublicKey>()
        .map(|_| ())
        .map_err(|e| format!("`{hex}` is not a compressed secp256k1 public key: {e}"))
}
