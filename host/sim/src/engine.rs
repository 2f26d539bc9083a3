//! The market engine: a virtual clock and a stream of candidate payments that either cross
//! our node (a forward, or a failure at our node) or go elsewhere. It owns the
//! [`NodeState`] the protocol servers read and write, and keeps it current.
//!
//! Determinism: demand (arrival times, pairs, amounts, sender kinds, competing routes, cost
//! noise, which routes would deliver) and drift come from separate seeded streams whose
//! consumption does not depend on any decision. So the same seed gives byte-identical results, and two runs that
//! differ only in our fees see exactly the same payments: a grid search over fees is a
//! comparison with common random numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use lnpolicy_core::{
    ChannelId, FailedForward, FailureReason, FeePolicy, Forward, NodeChannel, NodeInfo, NodeKind,
    PendingHtlc,
};
use serde::Serialize;

use crate::fee_distribution::{self, Column, MarketTable};
use crate::ids::{self, KeyMaker};
use crate::market::SenderKind;
use crate::market::competition::Competition;
use crate::market::demand::Demand;
use crate::market::senders::{MIN_SUCCESS, SenderModels};
use crate::rng::Rng;
use crate::scenario::{
    AmountSpec, ChannelSpec, FUNDING_CONF_TARGET, MAX_ACCEPTED_HTLCS, Scenario, ScenarioError,
    parse_scid,
};
use crate::state::{
    GraphChannel, NodeState, PolicyRejection, Rebalance, RebalanceState, fee_rate_at,
};

const NS: u64 = 1_000_000_000;

/// `days` of virtual time in nanoseconds (a scenario's days may be fractions).
fn days_ns(days: f64) -> u64 {
    libm::round(days * 86_400.0 * NS as f64) as u64
}

/// Stream ids under the scenario seed.
const STREAM_DEMAND: u64 = 1;
const STREAM_DRIFT: u64 = 2;
const STREAM_IDS: u64 = 3;
const STREAM_GRAPH: u64 = 4;
const STREAM_PEER_POLICY: u64 = 5;
const STREAM_FUNDING: u64 = 6;
/// Each channel's stuck HTLCs come from their own stream, `STREAM_HTLCS << 32 | index`, so
/// one channel's count never shifts another's draws.
const STREAM_HTLCS: u64 = 7;

/// Funding transactions are drawn between these sizes (vB): one input or two, a change
/// output, the 2-of-2 output.
const FUNDING_VBYTES: (u64, u64) = (150, 200);
/// Fee rate of the funding transactions when the scenario gives the node no estimates
/// (the relay floor).
const FLOOR_SAT_PER_VB: f64 = 1.0;

/// A channel's stuck HTLCs, each taken from the balance of the side that offered it
/// (`local` for ours, `remote` for the peer's): never more than half of what that side
/// holds in total, so the channel stays usable. Whole satoshis (LND's unit for them).
fn stuck_htlcs(
    spec: &ChannelSpec,
    rng: &mut Rng,
    amount: AmountSpec,
    tip: u32,
    local: &mut u64,
    remote: &mut u64,
) -> Vec<PendingHtlc> {
    let n = u64::from(spec.pending_htlcs);
    let mut htlcs = Vec::with_capacity(spec.pending_htlcs as usize);
    for _ in 0..n {
        let mut incoming = rng.uniform() < 0.5;
        let drawn = libm::round(rng.log_normal(amount.mu, amount.sigma)).max(1.0) as u64;
        let expiry = tip.saturating_add(rng.range_inclusive(40, 200) as u32);
        let cap = |side: u64| side / (2 * n);
        if cap(if incoming { *remote } else { *local }) == 0 {
            incoming = !incoming;
        }
        let side = if incoming { &mut *remote } else { &mut *local };
        let amount_sat = drawn.min(cap(*side));
        if amount_sat == 0 {
            continue;
        }
        *side -= amount_sat;
        htlcs.push(PendingHtlc {
            incoming,
            amount_msat: amount_sat * 1_000,
            expiry_height: expiry,
        });
    }
    htlcs
}

/// What happened at and around one channel since the start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChannelTotals {
    /// The channel.
    pub id: ChannelId,
    /// Forwards that left through this channel.
    pub forwards_out: u64,
    /// Forwards that entered through this channel.
    pub forwards_in: u64,
    /// Amount forwarded out through this channel.
    pub volume_out_msat: u64,
    /// Amount received into this channel by forwards (incl. fees).
    pub volume_in_msat: u64,
    /// Fees earned on forwards leaving through this channel (what senders paid us).
    pub revenue_msat: u64,
    /// Fees earned on forwards entering through this channel.
    pub revenue_in_msat: u64,
    /// What this channel's own fees earned, as lnpolicy's store counts it: its outbound
    /// share of the forwards that left by it plus its inbound fee (negative for a discount)
    /// on those that came in by it. Over all channels it sums to what the node earned.
    pub own_revenue_msat: i64,
    /// Forwards out through this channel that failed at our node, all reasons.
    pub failures: u64,
    /// … of which: not enough outbound balance.
    pub failures_insufficient_balance: u64,
    /// … of which: the sender used a fee, CLTV or htlc limit we no longer accept.
    pub failures_policy: u64,
    /// … of which: the channel was inactive or disabled.
    pub failures_unavailable: u64,
    /// Payments that chose us but could not reach us through this channel (the peer's
    /// side lacked balance): they fail at the peer and never show in our logs.
    pub upstream_failures: u64,
    /// Payments that could have left through this channel but a competing route delivered
    /// them first (or ours broke the sender's limits).
    pub lost_to_competitors: u64,
    /// `forwards_out` by sender kind `[lnd, cln, ldk]`.
    pub forwards_out_by_sender: [u64; 3],
}

/// Market-wide counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MarketTotals {
    /// Candidate payments generated.
    pub payments: u64,
    /// … by sender kind `[lnd, cln, ldk]`.
    pub payments_by_sender: [u64; 3],
    /// Payment parts (HTLCs; payments above `mpp_part_max_sat` are split) with no route
    /// within the sender's fee limit: they did not happen.
    pub no_route: u64,
    /// Parts whose sender tried us: every route it ranked cheaper failed.
    pub chose_us: u64,
    /// Parts a competing route delivered before the sender got to us.
    pub chose_competitor: u64,
    /// Parts our route could not carry (fee limit, htlc limits, disabled) and no competing
    /// route delivered.
    pub unpaid: u64,
    /// Forwards that settled.
    pub forwards: u64,
    /// … by sender kind.
    pub forwards_by_sender: [u64; 3],
    /// Failures at our node (all reasons).
    pub failures: u64,
    /// Payments that chose us but failed at the incoming peer.
    pub upstream_failures: u64,
}

/// Our policy history of one channel as the network learns it.
#[derive(Debug, Clone)]
struct Gossip {
    /// (visible from, policy); visible times never decrease.
    entries: Vec<(u64, FeePolicy)>,
    cursor: usize,
}

impl Gossip {
    fn visible(&mut self, now: u64) -> FeePolicy {
        while self.cursor + 1 < self.entries.len() && self.entries[self.cursor + 1].0 <= now {
            self.cursor += 1;
        }
        self.entries[self.cursor].1
    }

    fn peek(&self, now: u64) -> FeePolicy {
        let mut k = self.cursor;
        while k + 1 < self.entries.len() && self.entries[k + 1].0 <= now {
            k += 1;
        }
        self.entries[k].1
    }
}

/// Senders' memory of the last failure at one channel direction (LND's mission control,
/// pooled over senders): amounts at or above `amount_msat` are avoided, recovering with
/// the configured half-life.
#[derive(Debug, Clone, Copy)]
struct Memory {
    at_ns: u64,
    amount_msat: u64,
}

impl Memory {
    const CLEAR: Memory = Memory {
        at_ns: 0,
        amount_msat: u64::MAX,
    };

    fn factor(&self, now: u64, amount_msat: u64, half_life_ns: f64) -> f64 {
        if amount_msat < self.amount_msat {
            return 1.0;
        }
        let age = now.saturating_sub(self.at_ns) as f64;
        1.0 - libm::exp2(-age / half_life_ns)
    }

    fn fail(&mut self, now: u64, amount_msat: u64) {
        self.at_ns = now;
        self.amount_msat = amount_msat;
    }

    fn succeed(&mut self, amount_msat: u64) {
        if amount_msat >= self.amount_msat {
            *self = Memory::CLEAR;
        }
    }
}

/// Engine-side facts of one of our channels (index-aligned with `NodeState::channels`).
#[derive(Debug, Clone)]
struct Chan {
    capacity_msat: f64,
    local_msat: u64,
    remote_msat: u64,
    local_reserve_msat: u64,
    remote_reserve_msat: u64,
    sent_msat: u64,
    received_msat: u64,
    /// The policy last seen in the state, the one before it, and when it changed.
    applied: FeePolicy,
    previous: FeePolicy,
    changed_at_ns: u64,
    gossip: Gossip,
    mem_out: Memory,
    mem_in: Memory,
    drift_msat_per_sec: f64,
    volatility_msat_per_sqrt_sec: f64,
}

/// A sender's price for our route.
#[derive(Debug, Clone, Copy)]
struct Offer {
    /// What the sender pays our node.
    our_fee_msat: u64,
    cltv: u32,
    cost: f64,
}

/// How one payment that chose us ended.
enum Outcome {
    Forwarded,
    /// The sender learned our current policy from the failure and chose again.
    PolicyMismatch,
    Failed,
}

/// One candidate payment while senders decide.
#[derive(Debug, Clone, Copy)]
struct Payment {
    now: u64,
    kind: SenderKind,
    from: usize,
    to: usize,
    amount_msat: u64,
    /// The sender's fee limit for this amount.
    limit: f64,
    /// This sender's cost noise on our route, msat.
    noise_msat: f64,
}

/// A competing route as one sender ranks it for one payment.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    cost: f64,
    /// Whether it would deliver if tried (drawn from its true success probability).
    delivers: bool,
}

/// Why [`Simulation::rebalance`] made no payment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebalanceRefused {
    #[error("channel {0} is not one of the node's")]
    UnknownChannel(ChannelId),
    #[error("a rebalance leaves by one channel and comes back by another, not both by {0}")]
    SameChannel(ChannelId),
    #[error("channel {0} is inactive (its peer is offline)")]
    Inactive(ChannelId),
    #[error("channel {channel} cannot send {needed_msat} msat beyond its reserve")]
    Outbound {
        channel: ChannelId,
        needed_msat: u64,
    },
    #[error("channel {channel} cannot receive {needed_msat} msat beyond the peer's reserve")]
    Inbound {
        channel: ChannelId,
        needed_msat: u64,
    },
}

/// A seeded market around one node. Clone it to replay the same run with other fees.
#[derive(Debug, Clone)]
pub struct Simulation {
    scenario: Arc<Scenario>,
    table: &'static MarketTable,
    state: NodeState,
    start_ns: u64,
    start_height: u32,
    chans: Vec<Chan>,
    totals: Vec<ChannelTotals>,
    market: MarketTotals,
    models: SenderModels,
    competition: Competition,
    demand: Demand,
    demand_rng: Rng,
    drift_rng: Rng,
    next_payment_ns: u64,
    next_drift_ns: u64,
    /// When each of the scenario's scheduled rebalances runs next (`u64::MAX`: no more).
    next_rebalances_ns: Vec<u64>,
    half_life_ns: f64,
    candidates: Vec<Candidate>,
}

impl Simulation {
    /// Builds the node and its market from a scenario.
    ///
    /// # Panics
    /// If the scenario fails [`Scenario::validate`] (files loaded with
    /// [`Scenario::from_file`] already passed it); see [`Simulation::try_new`].
    pub fn new(scenario: Scenario) -> Simulation {
        Simulation::try_new(scenario).unwrap_or_else(|e| panic!("invalid scenario: {e}"))
    }

    /// Builds the node and its market, validating the scenario first.
    pub fn try_new(scenario: Scenario) -> Result<Simulation, ScenarioError> {
        scenario.validate(&scenario.name)?;
        Ok(Simulation::build(Arc::new(scenario)))
    }

    fn build(scenario: Arc<Scenario>) -> Simulation {
        let table = fee_distribution::mainnet();
        let s = &*scenario;
        let kind = s.node.kind;
        let start_ns = s.start_unix.saturating_mul(NS);
        let start_height = s
            .node
            .block_height
            .unwrap_or_else(|| ids::height_at(s.start_unix));
        let keys = KeyMaker::new();
        let mut id_rng = Rng::derive(s.seed, STREAM_IDS);
        let mut peer_policy_rng = Rng::derive(s.seed, STREAM_PEER_POLICY);
        let mut funding_rng = Rng::derive(s.seed, STREAM_FUNDING);
        let mut funding_fees = BTreeMap::new();
        let funding_rate =
            fee_rate_at(&s.chain.fee_rates, FUNDING_CONF_TARGET).unwrap_or(FLOOR_SAT_PER_VB);

        let own_pubkey = s
            .node
            .pubkey
            .clone()
            .unwrap_or_else(|| keys.pubkey(&mut id_rng));
        let mut taken: BTreeSet<u64> = s
            .channels
            .iter()
            .filter_map(|c| c.scid.as_deref().and_then(parse_scid))
            .collect();
        let mut channels = Vec::with_capacity(s.channels.len());
        let mut chans = Vec::with_capacity(s.channels.len());
        for (k, spec) in s.channels.iter().enumerate() {
            let id = match spec.scid.as_deref().and_then(parse_scid) {
                Some(id) => id,
                None => {
                    let id = ids::scid(&mut id_rng, start_height, &taken);
                    taken.insert(id);
                    id
                }
            };
            let peer_pubkey = spec
                .peer_pubkey
                .clone()
                .unwrap_or_else(|| keys.pubkey(&mut id_rng));
            let channel_point = ids::channel_point(&mut id_rng, id & 0xFFFF);
            let capacity = spec.capacity_sat;
            let reserve = (capacity / 100).max(354);
            let mut local = spec.local_sat;
            let mut remote = capacity - spec.commit_fee_sat - local;
            let pending_htlcs = stuck_htlcs(
                spec,
                &mut Rng::derive(s.seed, STREAM_HTLCS << 32 | k as u64),
                s.market.amount,
                start_height,
                &mut local,
                &mut remote,
            );
            let unsettled_sat = pending_htlcs.iter().map(|h| h.amount_msat / 1_000).sum();
            // Drawn for every channel, opened by us or not, like the peer policies below.
            let vbytes = funding_rng.range_inclusive(FUNDING_VBYTES.0, FUNDING_VBYTES.1);
            if spec.initiator {
                funding_fees.insert(id, libm::round(vbytes as f64 * funding_rate) as u64);
            }
            let local_policy = spec.policy.resolve(kind, capacity);
            // Drawn for every channel, used or not, so one channel's spec never shifts
            // another channel's draw.
            let drawn = table.sample_policy(&mut peer_policy_rng, capacity);
            let peer_policy = spec
                .peer_policy
                .map_or(drawn, |p| p.resolve(NodeKind::Lnd, capacity));
            channels.push(NodeChannel {
                id,
                channel_point,
                peer_pubkey,
                capacity_sat: capacity,
                local_balance_sat: local,
                remote_balance_sat: remote,
                commit_fee_sat: spec.commit_fee_sat,
                unsettled_balance_sat: unsettled_sat,
                local_reserve_sat: reserve,
                remote_reserve_sat: reserve,
                pending_htlcs,
                max_accepted_htlcs: MAX_ACCEPTED_HTLCS,
                // 99% of capacity, the largest HTLC a scenario's channels start with.
                max_in_flight_msat: capacity * 990,
                // Negotiated at 1 msat, never above the policy a channel starts with (a
                // scenario may start one at 0), which LND would not have let it set.
                min_htlc_msat: local_policy.min_htlc_msat.min(1),
                active: spec.active,
                private: spec.private,
                initiator: spec.initiator,
                total_sent_sat: 0,
                total_received_sat: 0,
                local_policy,
                peer_policy: Some(peer_policy),
            });
            chans.push(Chan {
                capacity_msat: capacity as f64 * 1e3,
                local_msat: local * 1_000,
                remote_msat: remote * 1_000,
                local_reserve_msat: reserve * 1_000,
                remote_reserve_msat: reserve * 1_000,
                sent_msat: 0,
                received_msat: 0,
                applied: local_policy,
                previous: local_policy,
                changed_at_ns: start_ns,
                gossip: Gossip {
                    entries: vec![(0, local_policy)],
                    cursor: 0,
                },
                mem_out: Memory::CLEAR,
                mem_in: Memory::CLEAR,
                drift_msat_per_sec: spec.drift_sat_per_day * 1e3 / 86_400.0,
                volatility_msat_per_sqrt_sec: s.drift.volatility * capacity as f64 * 1e3
                    / libm::sqrt(86_400.0),
            });
        }

        let graph = build_graph(s, table, &keys, &channels, &mut taken, start_height);
        let version = s.node.version.clone().unwrap_or_else(|| {
            match kind {
                NodeKind::Lnd => "0.21.2-beta commit=v0.21.2-beta",
                NodeKind::Cln => "v26.06",
            }
            .to_string()
        });
        let totals = channels
            .iter()
            .map(|c| ChannelTotals {
                id: c.id,
                ..ChannelTotals::default()
            })
            .collect();
        let state = NodeState {
            info: NodeInfo {
                kind,
                pubkey: own_pubkey,
                alias: s.node.alias.clone(),
                version,
                block_height: start_height,
                synced_to_chain: true,
                synced_to_graph: true,
            },
            policy_updated_at: channels.iter().map(|c| (c.id, s.start_unix)).collect(),
            channels,
            forwards: Vec::new(),
            failures: Vec::new(),
            graph,
            accept_positive_inbound: s.node.accept_positive_inbound,
            now_ns: start_ns,
            calls: Vec::new(),
            fee_estimates: s.chain.fee_rates.clone(),
            funding_fees,
            held_forwards: BTreeMap::new(),
            enforce_delays: BTreeMap::new(),
            rebalances: Vec::new(),
        };

        let demand = Demand::new(s);
        tracing::debug!(
            scenario = %s.name,
            seed = s.seed,
            channels = state.channels.len(),
            graph_channels = state.graph.len(),
            payments_per_day = demand.payments_per_day(),
            "simulation built"
        );
        let mut demand_rng = Rng::derive(s.seed, STREAM_DEMAND);
        let next_payment_ns = demand
            .next_gap_ns(&mut demand_rng)
            .map_or(u64::MAX, |gap| start_ns.saturating_add(gap));
        let drifts = chans
            .iter()
            .any(|c| c.drift_msat_per_sec != 0.0 || c.volatility_msat_per_sqrt_sec > 0.0);
        let next_drift_ns = if drifts {
            start_ns.saturating_add(s.drift.interval_secs.saturating_mul(NS))
        } else {
            u64::MAX
        };
        let next_rebalances_ns = s
            .rebalances
            .iter()
            .map(|r| start_ns.saturating_add(days_ns(r.day)))
            .collect();
        let m = &s.market;
        Simulation {
            table,
            start_ns,
            start_height,
            totals,
            market: MarketTotals::default(),
            models: SenderModels {
                lnd: m.lnd,
                cln: m.cln,
                ldk: m.ldk,
            },
            competition: Competition::new(m.competition, s.seed, chans.len()),
            demand,
            demand_rng,
            drift_rng: Rng::derive(s.seed, STREAM_DRIFT),
            next_payment_ns,
            next_drift_ns,
            next_rebalances_ns,
            half_life_ns: m.failure_half_life_secs as f64 * 1e9,
            candidates: Vec::with_capacity(m.competition.routes_max as usize),
            chans,
            state,
            scenario,
        }
    }

    /// The scenario this run was built from.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The node as the protocol servers see it.
    pub fn state(&self) -> &NodeState {
        &self.state
    }

    /// The node, for the servers' writes. Policy changes made here (through
    /// [`NodeState::set_policy`]) reach senders after the gossip delay; balance edits are
    /// taken over as they are. The channel set itself must not change.
    pub fn state_mut(&mut self) -> &mut NodeState {
        &mut self.state
    }

    /// The final state, e.g. to serialize a run's forwards.
    pub fn into_state(self) -> NodeState {
        self.state
    }

    /// Virtual time, unix nanoseconds.
    pub fn now_ns(&self) -> u64 {
        self.state.now_ns
    }

    /// Virtual seconds since the scenario's start.
    pub fn elapsed_secs(&self) -> u64 {
        (self.state.now_ns - self.start_ns) / NS
    }

    /// Runs the market for `seconds` of virtual time.
    pub fn advance(&mut self, seconds: u64) {
        let target = self.state.now_ns.saturating_add(seconds.saturating_mul(NS));
        self.run_until(target);
    }

    /// Runs the market until the scenario's `duration_days` have passed since its start.
    pub fn run_to_end(&mut self) {
        let end = self
            .start_ns
            .saturating_add(self.scenario.duration_secs().saturating_mul(NS));
        if end > self.state.now_ns {
            self.run_until(end);
        }
    }

    /// Sets one channel's full policy now (LND's validation rules apply); senders see it
    /// after the gossip delay.
    pub fn set_policy(&mut self, id: ChannelId, policy: FeePolicy) -> Result<(), PolicyRejection> {
        self.sync_external();
        self.state.set_policy(id, policy)?;
        // No `enforcedelay` with this change: the scenario's applies.
        self.state.enforce_delays.remove(&id);
        let k = self.index(id).ok_or(PolicyRejection::NotFound(id))?;
        let now = self.state.now_ns;
        self.record_policy(k, now, policy);
        Ok(())
    }

    /// CLN's `enforcedelay` for the change just made to `id` (by [`Simulation::set_policy`]):
    /// how long the previous fee stays accepted; `None` keeps the scenario's.
    pub fn set_enforce_delay(&mut self, id: ChannelId, secs: Option<u64>) {
        match secs {
            Some(secs) => self.state.enforce_delays.insert(id, secs),
            None => self.state.enforce_delays.remove(&id),
        };
    }

    /// A circular rebalance started now, as an operator's rebalancing tool would: `amount_msat`
    /// leaves by `out_channel` with `fee_msat` for the route on top, and comes back by
    /// `in_channel`; it settles `settles_after_secs` from now (0: at once). The balances move
    /// at once (the market does not model the HTLC in flight); the servers list it among the
    /// node's payments (LND, in flight until it settles) and channel moves (CLN, once
    /// settled). Refused, changing nothing, when either side lacks the balance beyond its
    /// reserve, or when either is inactive.
    pub fn rebalance(
        &mut self,
        out_channel: ChannelId,
        in_channel: ChannelId,
        amount_msat: u64,
        fee_msat: u64,
        settles_after_secs: u64,
    ) -> Result<(), RebalanceRefused> {
        self.sync_external();
        let find = |id| self.index(id).ok_or(RebalanceRefused::UnknownChannel(id));
        let (out, into) = (find(out_channel)?, find(in_channel)?);
        if out == into {
            return Err(RebalanceRefused::SameChannel(out_channel));
        }
        for (k, id) in [(out, out_channel), (into, in_channel)] {
            if !self.state.channels[k].active {
                return Err(RebalanceRefused::Inactive(id));
            }
        }
        let paid = amount_msat.saturating_add(fee_msat);
        let spendable = |c: &Chan| c.local_msat.saturating_sub(c.local_reserve_msat);
        let receivable = |c: &Chan| c.remote_msat.saturating_sub(c.remote_reserve_msat);
        if spendable(&self.chans[out]) < paid {
            return Err(RebalanceRefused::Outbound {
                channel: out_channel,
                needed_msat: paid,
            });
        }
        if receivable(&self.chans[into]) < amount_msat {
            return Err(RebalanceRefused::Inbound {
                channel: in_channel,
                needed_msat: amount_msat,
            });
        }
        let c = &mut self.chans[out];
        c.local_msat -= paid;
        c.remote_msat += paid;
        c.sent_msat += paid;
        let c = &mut self.chans[into];
        c.local_msat += amount_msat;
        c.remote_msat -= amount_msat;
        c.received_msat += amount_msat;
        self.write_balances(out);
        self.write_balances(into);
        let index = self.state.rebalances.len() as u64 + 1;
        let now = self.state.now_secs();
        self.state.rebalances.push(Rebalance {
            started_secs: now,
            at_secs: now.saturating_add(settles_after_secs),
            payment_hash: format!(
                "{:016x}{:048x}",
                index.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                index
            ),
            out_channel,
            in_channel,
            amount_msat,
            fee_msat,
            failed: false,
        });
        Ok(())
    }

    /// Fails the `position`-th rebalance started (0 = the first) while it is still in flight,
    /// as a route that gave up would: what it moved goes back, and it costs nothing. Each
    /// side gives back as much as its balance allows, on its own: the market may have moved
    /// them meanwhile, since it does not hold the HTLC. `false`, changing nothing, when it
    /// has settled or failed already.
    pub fn fail_rebalance(&mut self, position: usize) -> bool {
        self.sync_external();
        let now = self.state.now_secs();
        let Some(r) = self.state.rebalances.get(position) else {
            return false;
        };
        let (Some(out), Some(into)) = (self.index(r.out_channel), self.index(r.in_channel)) else {
            return false;
        };
        if r.state(now) != RebalanceState::InFlight {
            return false;
        }
        let (amount, paid) = (r.amount_msat, r.amount_msat + r.fee_msat);
        let back = paid.min(self.chans[out].remote_msat);
        let c = &mut self.chans[out];
        c.local_msat += back;
        c.remote_msat -= back;
        c.sent_msat = c.sent_msat.saturating_sub(back);
        let c = &mut self.chans[into];
        let taken = amount.min(c.local_msat);
        c.local_msat -= taken;
        c.remote_msat += taken;
        c.received_msat = c.received_msat.saturating_sub(taken);
        self.write_balances(out);
        self.write_balances(into);
        let r = &mut self.state.rebalances[position];
        r.failed = true;
        r.at_secs = now;
        true
    }

    /// The policy of one of our channels as senders currently see it (after gossip delay).
    pub fn advertised_policy(&self, id: ChannelId) -> Option<FeePolicy> {
        let k = self.index(id)?;
        Some(self.chans[k].gossip.peek(self.state.now_ns))
    }

    /// Totals of every channel, in the order of `state().channels`.
    pub fn totals(&self) -> &[ChannelTotals] {
        &self.totals
    }

    /// The scenario's name for the peer of channel `id`, which stays the same across seeds
    /// where the channel's id does not.
    pub fn peer_alias(&self, id: ChannelId) -> Option<&str> {
        let index = self.state.channels.iter().position(|c| c.id == id)?;
        self.scenario
            .channels
            .get(index)
            .map(|c| c.peer_alias.as_str())
    }

    /// Totals of one channel.
    pub fn channel_totals(&self, id: ChannelId) -> Option<&ChannelTotals> {
        self.totals.iter().find(|t| t.id == id)
    }

    /// Market-wide counters.
    pub fn market_totals(&self) -> &MarketTotals {
        &self.market
    }

    fn index(&self, id: ChannelId) -> Option<usize> {
        self.state.channels.iter().position(|c| c.id == id)
    }

    fn run_until(&mut self, target: u64) {
        self.sync_external();
        loop {
            let next_rebalance = self.next_rebalances_ns.iter().copied().min();
            let next = self
                .next_payment_ns
                .min(self.next_drift_ns)
                .min(next_rebalance.unwrap_or(u64::MAX));
            // `u64::MAX` is "never" for every event source, also when the target is the end
            // of time.
            if next > target || next == u64::MAX {
                break;
            }
            self.state.now_ns = next;
            if next_rebalance == Some(next) {
                self.on_scheduled_rebalances(next);
            } else if self.next_payment_ns <= self.next_drift_ns {
                self.on_payment(next);
                self.next_payment_ns = self
                    .demand
                    .next_gap_ns(&mut self.demand_rng)
                    .map_or(u64::MAX, |gap| next.saturating_add(gap));
            } else {
                self.on_drift();
                self.next_drift_ns =
                    next.saturating_add(self.scenario.drift.interval_secs.saturating_mul(NS));
            }
        }
        self.state.now_ns = self.state.now_ns.max(target);
        let blocks = (self.state.now_ns - self.start_ns) / (600 * NS);
        self.state.info.block_height = self
            .start_height
            .saturating_add(u32::try_from(blocks).unwrap_or(u32::MAX));
    }

    /// Makes the scenario's rebalances due at `now` (in the order the scenario lists them)
    /// and schedules their next runs; one the channels cannot carry is skipped.
    fn on_scheduled_rebalances(&mut self, now: u64) {
        let scenario = Arc::clone(&self.scenario);
        for (i, spec) in scenario.rebalances.iter().enumerate() {
            if self.next_rebalances_ns[i] != now {
                continue;
            }
            self.next_rebalances_ns[i] = if spec.every_days > 0.0 {
                now.saturating_add(days_ns(spec.every_days))
            } else {
                u64::MAX
            };
            let channel = |alias: &str| {
                scenario
                    .channels
                    .iter()
                    .position(|c| c.peer_alias == alias)
                    .map(|k| self.state.channels[k].id)
            };
            let (Some(out), Some(into)) = (channel(&spec.from), channel(&spec.to)) else {
                continue;
            };
            let amount_msat = spec.amount_sat.saturating_mul(1000);
            let fee_msat = amount_msat / 1_000_000 * u64::from(spec.fee_ppm)
                + amount_msat % 1_000_000 * u64::from(spec.fee_ppm) / 1_000_000;
            if let Err(refused) = self.rebalance(out, into, amount_msat, fee_msat, 0) {
                tracing::debug!(%refused, from = %spec.from, to = %spec.to, "scheduled rebalance skipped");
            }
        }
    }

    /// Takes over what the servers changed in the state since the last step: policies
    /// (into the gossip history, stamped with `policy_updated_at`) and balances.
    fn sync_external(&mut self) {
        let now = self.state.now_ns;
        for k in 0..self.chans.len() {
            let ch = &self.state.channels[k];
            let c = &mut self.chans[k];
            if ch.local_balance_sat != c.local_msat / 1_000
                || ch.remote_balance_sat != c.remote_msat / 1_000
            {
                c.local_msat = ch.local_balance_sat * 1_000;
                c.remote_msat = ch.remote_balance_sat * 1_000;
            }
            if ch.local_policy != c.applied {
                let policy = ch.local_policy;
                let at = self
                    .state
                    .policy_updated_at
                    .iter()
                    .find(|(id, _)| *id == ch.id)
                    .map_or(now, |(_, secs)| secs.saturating_mul(NS))
                    .clamp(c.changed_at_ns, now.max(c.changed_at_ns));
                self.record_policy(k, at, policy);
            }
        }
    }

    /// Records a policy change at `at`: the node enforces it from now on, senders see it
    /// once gossip has carried it (delay, and the peers' rate limit when configured).
    fn record_policy(&mut self, k: usize, at: u64, policy: FeePolicy) {
        let gossip = self.scenario.market.gossip;
        let c = &mut self.chans[k];
        c.previous = c.applied;
        c.applied = policy;
        c.changed_at_ns = at;
        let earliest = at.saturating_add(gossip.delay_secs.saturating_mul(NS));
        let entries = &mut c.gossip.entries;
        let last = entries.len() - 1;
        if gossip.max_updates_per_day == 0 {
            entries.push((earliest, policy));
        } else if last > 0 && entries[last].0 > at {
            // Still waiting for its slot: the newer update replaces it.
            entries[last] = (entries[last].0.max(earliest), policy);
        } else {
            let interval = 86_400 * NS / u64::from(gossip.max_updates_per_day);
            let slot = entries[last].0.saturating_add(interval);
            entries.push((earliest.max(slot), policy));
        }
        tracing::debug!(
            channel = self.state.channels[k].id,
            at_ns = at,
            visible_at_ns = c.gossip.entries.last().map_or(0, |e| e.0),
            fee_ppm = policy.fee_ppm,
            inbound_fee_ppm = policy.inbound_fee_ppm,
            "policy change recorded"
        );
    }

    fn on_drift(&mut self) {
        let dt = self.scenario.drift.interval_secs as f64;
        let sqrt_dt = libm::sqrt(dt);
        for k in 0..self.chans.len() {
            let c = &mut self.chans[k];
            let mut delta = c.drift_msat_per_sec * dt;
            if c.volatility_msat_per_sqrt_sec > 0.0 {
                delta += c.volatility_msat_per_sqrt_sec * sqrt_dt * self.drift_rng.normal();
            }
            if delta == 0.0 {
                continue;
            }
            let total = c.local_msat + c.remote_msat;
            let lo = c.local_reserve_msat.min(c.local_msat);
            let hi = total
                .saturating_sub(c.remote_reserve_msat)
                .max(c.local_msat);
            let target = libm::round(c.local_msat as f64 + delta).max(0.0) as u64;
            c.local_msat = target.clamp(lo, hi);
            c.remote_msat = total - c.local_msat;
            self.write_balances(k);
        }
    }

    fn write_balances(&mut self, k: usize) {
        let c = &self.chans[k];
        let ch = &mut self.state.channels[k];
        ch.local_balance_sat = c.local_msat / 1_000;
        ch.remote_balance_sat = c.remote_msat / 1_000;
        ch.total_sent_sat = c.sent_msat / 1_000;
        ch.total_received_sat = c.received_msat / 1_000;
    }

    fn on_payment(&mut self, now: u64) {
        // Every draw happens whatever is decided, in a fixed order and count (the count
        // depends only on the pair and the amount).
        let rng = &mut self.demand_rng;
        let draw = self.demand.pick(rng);
        let z_amount = rng.normal();
        let u_sender = rng.uniform();
        let Some(draw) = draw else {
            return;
        };
        let market = &self.scenario.market;
        let amount_sat = libm::exp(draw.amount.mu + draw.amount.sigma * z_amount)
            .clamp(1.0, market.max_amount_sat as f64);
        let amount_msat = libm::round(amount_sat * 1e3) as u64;
        let mix = market.senders;
        let kind = if u_sender < mix.lnd {
            SenderKind::Lnd
        } else if u_sender < mix.lnd + mix.cln {
            SenderKind::Cln
        } else {
            SenderKind::Ldk
        };
        self.market.payments += 1;
        self.market.payments_by_sender[kind.index()] += 1;
        // Multi-part payments: every part is routed on its own.
        let part_max = market.mpp_part_max_sat.saturating_mul(1_000).max(1);
        let parts = amount_msat.div_ceil(part_max).max(1);
        for k in 0..parts {
            let part = amount_msat / parts + u64::from(k < amount_msat % parts);
            self.route_part(now, kind, draw.from, draw.to, part);
        }
    }

    /// One HTLC from `from` to `to`: the sender ranks our route among the competing ones
    /// and tries them cheapest first.
    fn route_part(&mut self, now: u64, kind: SenderKind, from: usize, to: usize, amount_msat: u64) {
        let a = amount_msat as f64;
        let sigma_msat = self.scenario.market.competition.noise_ppm * a * 1e-6;
        let limit = self.models.fee_limit(kind, a);
        let z_ours = self.demand_rng.normal();
        // A peer behind a private channel is reachable only through us: no competing route
        // exists. (A private peer paying out still has competitors downstream.)
        let routes = if self.state.channels[to].private {
            0
        } else {
            self.competition.route_count(from, to)
        };
        let fee_scale = self
            .scenario
            .competitor_fee_scale(now.saturating_sub(self.start_ns) / NS);
        self.candidates.clear();
        for _ in 0..routes {
            let route = self
                .competition
                .draw_route(self.table, &mut self.demand_rng);
            let z = self.demand_rng.normal();
            let u = self.demand_rng.uniform();
            let mut q = route.quote(&self.models, kind, a);
            q.fee_msat *= fee_scale;
            if q.fee_msat > limit || q.success < MIN_SUCCESS {
                continue;
            }
            self.candidates.push(Candidate {
                cost: self
                    .models
                    .cost(kind, q.fee_msat, a, q.cltv, q.hops, q.success)
                    + z * sigma_msat,
                delivers: u < q.truth,
            });
        }
        let p = Payment {
            now,
            kind,
            from,
            to,
            amount_msat,
            limit,
            noise_msat: z_ours * sigma_msat,
        };
        let out_view = self.chans[to].gossip.visible(now);
        let in_view = self.chans[from].gossip.visible(now);
        let Some(offer) = self.offer(&p, &out_view, &in_view) else {
            let attempts = self.scenario.market.max_attempts as usize;
            if self.candidates.is_empty() {
                self.market.no_route += 1;
            } else if self.delivered_within(attempts) {
                self.market.chose_competitor += 1;
                self.totals[to].lost_to_competitors += 1;
            } else {
                self.market.unpaid += 1;
            }
            return;
        };
        // A cheaper route that delivers ends the payment before it reaches us, and a sender
        // that has used up its attempts on cheaper routes never gets to us.
        let ahead = self
            .candidates
            .iter()
            .filter(|c| c.cost < offer.cost)
            .count();
        let attempts = self.scenario.market.max_attempts as usize;
        if ahead >= attempts || self.delivered_between(f64::NEG_INFINITY, offer.cost) {
            if self.delivered_within(attempts) {
                self.market.chose_competitor += 1;
            } else {
                self.market.unpaid += 1;
            }
            self.totals[to].lost_to_competitors += 1;
            return;
        }
        self.market.chose_us += 1;
        if let Outcome::PolicyMismatch = self.attempt(&p, offer) {
            self.retry_with_current_policy(&p, offer.cost);
        }
    }

    /// Whether one of the `attempts` cheapest competing routes delivers the payment.
    fn delivered_within(&mut self, attempts: usize) -> bool {
        if attempts < self.candidates.len() {
            self.candidates
                .select_nth_unstable_by(attempts, |a, b| a.cost.total_cmp(&b.cost));
        }
        self.candidates.iter().take(attempts).any(|c| c.delivers)
    }

    /// Whether a competing route with cost in `[lo, hi)` delivers the payment.
    fn delivered_between(&self, lo: f64, hi: f64) -> bool {
        self.candidates
            .iter()
            .any(|c| c.delivers && lo <= c.cost && c.cost < hi)
    }

    /// After a policy failure the sender has our current policy (the failure carries a
    /// channel update) and ranks our route again among the routes it has not tried; a
    /// sender that cannot meet the policy goes elsewhere.
    fn retry_with_current_policy(&mut self, p: &Payment, tried_up_to: f64) {
        let out = self.state.channels[p.to].local_policy;
        let inbound = self.state.channels[p.from].local_policy;
        match self.offer(p, &out, &inbound) {
            Some(offer)
                if self.node_accepts(p, &offer).is_ok()
                    && !self.delivered_between(tried_up_to, offer.cost) =>
            {
                self.attempt(p, offer);
            }
            _ => self.totals[p.to].lost_to_competitors += 1,
        }
    }

    /// What `p.kind` pays our node under the given (advertised) policies.
    fn sender_fee(&self, kind: SenderKind, out: &FeePolicy, inbound: &FeePolicy, a: u64) -> u64 {
        let sees_inbound = kind == SenderKind::Lnd && self.state.info.kind == NodeKind::Lnd;
        lnd_fee(out, sees_inbound.then_some(inbound), a)
    }

    /// The sender's price for our route under the policies it believes in.
    fn offer(&self, p: &Payment, out: &FeePolicy, inbound: &FeePolicy) -> Option<Offer> {
        let a = p.amount_msat;
        if out.disabled
            || a < out.min_htlc_msat
            || (out.max_htlc_msat != 0 && a > out.max_htlc_msat)
        {
            return None;
        }
        let peer = self.state.channels[p.from].peer_policy?;
        let our_fee = self.sender_fee(p.kind, out, inbound, a);
        let amt_in = a + our_fee;
        if peer.disabled
            || amt_in < peer.min_htlc_msat
            || (peer.max_htlc_msat != 0 && amt_in > peer.max_htlc_msat)
        {
            return None;
        }
        let peer_fee = u64::from(peer.base_fee_msat) + amt_in * u64::from(peer.fee_ppm) / 1_000_000;
        let fee = (our_fee + peer_fee) as f64;
        if fee > p.limit {
            return None;
        }
        let own = self.scenario.market.own_hop_success;
        let (cin, cout) = (&self.chans[p.from], &self.chans[p.to]);
        let success = self
            .models
            .hop_success(p.kind, own, cin.capacity_msat, amt_in as f64)
            * cin.mem_in.factor(p.now, amt_in, self.half_life_ns)
            * self
                .models
                .hop_success(p.kind, own, cout.capacity_msat, a as f64)
            * cout.mem_out.factor(p.now, a, self.half_life_ns);
        if success < MIN_SUCCESS {
            return None;
        }
        let cltv = peer.time_lock_delta + out.time_lock_delta;
        let cost = self.models.cost(p.kind, fee, a as f64, cltv, 2, success) + p.noise_msat;
        Some(Offer {
            our_fee_msat: our_fee,
            cltv: out.time_lock_delta,
            cost,
        })
    }

    /// The node's own checks of a forward against its current policy: the fee it requires
    /// (LND: max(0, outbound + inbound); CLN: outbound, and the previous fee during
    /// `enforce_delay_secs`), the CLTV delta and the htlc limits.
    fn node_accepts(&self, p: &Payment, offer: &Offer) -> Result<(), FailureReason> {
        let a = p.amount_msat;
        let out = &self.state.channels[p.to].local_policy;
        let inbound = &self.state.channels[p.from].local_policy;
        let (mut required, mut cltv) = match self.state.info.kind {
            NodeKind::Lnd => (lnd_fee(out, Some(inbound), a), out.time_lock_delta),
            NodeKind::Cln => (lnd_fee(out, None, a), out.time_lock_delta),
        };
        let c = &self.chans[p.to];
        let grace = (self.state.enforce_delays.get(&self.state.channels[p.to].id))
            .copied()
            .unwrap_or(self.scenario.node.enforce_delay_secs)
            .saturating_mul(NS);
        if self.state.info.kind == NodeKind::Cln && p.now < c.changed_at_ns.saturating_add(grace) {
            required = required.min(lnd_fee(&c.previous, None, a));
            cltv = cltv.min(c.previous.time_lock_delta);
        }
        if offer.our_fee_msat < required {
            return Err(FailureReason::FeeInsufficient);
        }
        if offer.cltv < cltv {
            return Err(FailureReason::IncorrectCltv);
        }
        if a < out.min_htlc_msat || (out.max_htlc_msat != 0 && a > out.max_htlc_msat) {
            return Err(FailureReason::Other);
        }
        Ok(())
    }

    /// The payment arrives at the peer and, if the peer can pass it on, at our node.
    fn attempt(&mut self, p: &Payment, offer: Offer) -> Outcome {
        let (i, j, a) = (p.from, p.to, p.amount_msat);
        let amt_in = a + offer.our_fee_msat;
        let cin = &self.chans[i];
        if !self.state.channels[i].active || cin.remote_msat < amt_in + cin.remote_reserve_msat {
            self.chans[i].mem_in.fail(p.now, amt_in);
            self.totals[i].upstream_failures += 1;
            self.market.upstream_failures += 1;
            return Outcome::Failed;
        }
        if !self.state.channels[j].active || self.state.channels[j].local_policy.disabled {
            self.chans[j].mem_out.fail(p.now, 0);
            self.fail(p, amt_in, FailureReason::ChannelUnavailable);
            return Outcome::Failed;
        }
        if let Err(reason) = self.node_accepts(p, &offer) {
            self.fail(p, amt_in, reason);
            return Outcome::PolicyMismatch;
        }
        let cout = &self.chans[j];
        if cout.local_msat < a + cout.local_reserve_msat {
            self.chans[j].mem_out.fail(p.now, a);
            self.fail(p, amt_in, FailureReason::InsufficientBalance);
            return Outcome::Failed;
        }

        let fee = offer.our_fee_msat;
        let cin = &mut self.chans[i];
        cin.remote_msat -= amt_in;
        cin.local_msat += amt_in;
        cin.received_msat += amt_in;
        cin.mem_in.succeed(amt_in);
        let cout = &mut self.chans[j];
        cout.local_msat -= a;
        cout.remote_msat += a;
        cout.sent_msat += a;
        cout.mem_out.succeed(a);
        self.write_balances(i);
        self.write_balances(j);
        let (chan_in, chan_out) = (self.state.channels[i].id, self.state.channels[j].id);
        // LND keys its forwarding log by time and moves a tie on by a nanosecond.
        let at_ns = self
            .state
            .forwards
            .last()
            .map_or(p.now, |last| p.now.max(last.at_ns + 1));
        let forward = Forward {
            index: self.state.forwards.len() as u64 + 1,
            at_ns,
            chan_in,
            chan_out,
            amt_in_msat: amt_in,
            amt_out_msat: a,
            fee_msat: fee,
        };
        let (out, inbound) = (
            &self.state.channels[j].local_policy,
            &self.state.channels[i].local_policy,
        );
        let out_share = forward.outbound_share_msat(
            Some((out.base_fee_msat, out.fee_ppm)),
            (inbound.inbound_base_fee_msat, inbound.inbound_fee_ppm),
        );
        let out_share = i64::try_from(out_share).unwrap_or(i64::MAX);
        let whole = i64::try_from(fee).unwrap_or(i64::MAX);
        self.state.forwards.push(forward);
        let t = &mut self.totals[j];
        t.forwards_out += 1;
        t.volume_out_msat += a;
        t.revenue_msat += fee;
        t.own_revenue_msat += out_share;
        t.forwards_out_by_sender[p.kind.index()] += 1;
        let t = &mut self.totals[i];
        t.forwards_in += 1;
        t.volume_in_msat += amt_in;
        t.revenue_in_msat += fee;
        t.own_revenue_msat += whole - out_share;
        self.market.forwards += 1;
        self.market.forwards_by_sender[p.kind.index()] += 1;
        Outcome::Forwarded
    }

    fn fail(&mut self, p: &Payment, amt_in: u64, reason: FailureReason) {
        let (chan_in, chan_out) = (self.state.channels[p.from].id, self.state.channels[p.to].id);
        self.state.failures.push(FailedForward {
            index: self.state.failures.len() as u64 + 1,
            at_ns: p.now,
            chan_in,
            chan_out: Some(chan_out),
            amt_in_msat: amt_in,
            reason,
        });
        let t = &mut self.totals[p.to];
        t.failures += 1;
        match reason {
            FailureReason::InsufficientBalance => t.failures_insufficient_balance += 1,
            FailureReason::ChannelUnavailable => t.failures_unavailable += 1,
            _ => t.failures_policy += 1,
        }
        self.market.failures += 1;
    }
}

/// Fee for forwarding `a` msat out through a channel with policy `out`, with LND's inbound
/// fee of the incoming channel when given: the inbound fee is charged on the amount plus the
/// outbound fee, and the total is clamped at zero (inbound ≥ −outbound).
fn lnd_fee(out: &FeePolicy, inbound: Option<&FeePolicy>, a: u64) -> u64 {
    let out_fee = u64::from(out.base_fee_msat) + a * u64::from(out.fee_ppm) / 1_000_000;
    let Some(inbound) = inbound else {
        return out_fee;
    };
    let on = i128::from(a + out_fee);
    let in_fee = i128::from(inbound.inbound_base_fee_msat)
        + on * i128::from(inbound.inbound_fee_ppm) / 1_000_000;
    u64::try_from((i128::from(out_fee) + in_fee).max(0)).unwrap_or(u64::MAX)
}

/// Peers' other public channels: each peer gets a degree drawn from the upper quarter of
/// the real degree distribution (routing nodes' peers are not leaf nodes), capped by
/// `graph.max_peer_channels`, and channels to a shared pool of other nodes with capacities
/// and both directions' policies drawn from the real distribution.
fn build_graph(
    s: &Scenario,
    table: &MarketTable,
    keys: &KeyMaker,
    channels: &[NodeChannel],
    taken: &mut BTreeSet<u64>,
    tip: u32,
) -> Vec<GraphChannel> {
    let mut rng = Rng::derive(s.seed, STREAM_GRAPH);
    let pool: Vec<String> = (0..(channels.len() * 2).max(16))
        .map(|_| keys.pubkey(&mut rng))
        .collect();
    let disabled_share = table.fact("disabled_direction_share").unwrap_or(0.35);
    let mut graph = Vec::new();
    for (spec, ch) in s.channels.iter().zip(channels) {
        let others = spec.peer_channels.unwrap_or_else(|| {
            let degree = table.sample_above(Column::NodeDegree, &mut rng, 75.0);
            u32::try_from(degree.saturating_sub(1))
                .unwrap_or(u32::MAX)
                .clamp(1, s.graph.max_peer_channels.max(1))
        });
        for _ in 0..others {
            let other = &pool[rng.below(pool.len() as u64) as usize];
            let capacity_sat = table.sample(Column::RoutingCapacitySat, &mut rng);
            let id = ids::scid(&mut rng, tip, taken);
            taken.insert(id);
            let channel_point = ids::channel_point(&mut rng, id & 0xFFFF);
            let mut from_peer = table.sample_policy(&mut rng, capacity_sat);
            from_peer.disabled = rng.uniform() < disabled_share;
            let mut from_other = table.sample_policy(&mut rng, capacity_sat);
            from_other.disabled = rng.uniform() < disabled_share;
            let last_update = s.start_unix.saturating_sub(rng.below(14 * 86_400));
            // BOLT 7: node_1 is the lexicographically lesser key.
            let (node1, node2, p1, p2) = if ch.peer_pubkey < *other {
                (&ch.peer_pubkey, other, from_peer, from_other)
            } else {
                (other, &ch.peer_pubkey, from_other, from_peer)
            };
            graph.push(GraphChannel {
                id,
                channel_point,
                node1_pubkey: node1.clone(),
                node2_pubkey: node2.clone(),
                capacity_sat,
                node1_policy: p1,
                node2_policy: p2,
                last_update,
            });
        }
    }
    graph
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lnd_fee_clamps_inbound_at_minus_outbound() {
        let out = FeePolicy {
            base_fee_msat: 0,
            fee_ppm: 1_000,
            ..FeePolicy::default()
        };
        let discount = |ppm| FeePolicy {
            inbound_fee_ppm: ppm,
            ..FeePolicy::default()
        };
        let a = 1_000_000;
        assert_eq!(lnd_fee(&out, None, a), 1_000);
        // −500 ppm on 1_001_000 msat: −500.5 → −500 (truncation).
        assert_eq!(lnd_fee(&out, Some(&discount(-500)), a), 500);
        assert_eq!(lnd_fee(&out, Some(&discount(-5_000)), a), 0);
    }

    #[test]
    fn gossip_shows_changes_after_the_delay() {
        let mut sim = Simulation::new(Scenario::builtin("balanced").unwrap());
        let id = sim.state().channels[0].id;
        let before = sim.state().channels[0].local_policy;
        let after = FeePolicy {
            fee_ppm: before.fee_ppm + 100,
            ..before
        };
        sim.set_policy(id, after).unwrap();
        assert_eq!(sim.advertised_policy(id), Some(before));
        let delay = sim.scenario().market.gossip.delay_secs;
        sim.advance(delay - 1);
        assert_eq!(sim.advertised_policy(id), Some(before));
        sim.advance(1);
        assert_eq!(sim.advertised_policy(id), Some(after));
    }

    #[test]
    fn policy_set_through_the_state_is_gossiped_too() {
        let mut sim = Simulation::new(Scenario::builtin("balanced").unwrap());
        sim.advance(60);
        let id = sim.state().channels[1].id;
        let before = sim.state().channels[1].local_policy;
        let after = FeePolicy {
            fee_ppm: before.fee_ppm * 2 + 1,
            ..before
        };
        sim.state_mut().set_policy(id, after).unwrap();
        sim.advance(1);
        assert_eq!(sim.advertised_policy(id), Some(before));
        sim.advance(sim.scenario().market.gossip.delay_secs);
        assert_eq!(sim.advertised_policy(id), Some(after));
    }

    #[test]
    fn rate_limited_gossip_shows_only_the_newest_in_the_next_slot() {
        let mut scenario = Scenario::builtin("balanced").unwrap();
        scenario.market.gossip.max_updates_per_day = 2;
        let mut sim = Simulation::new(scenario);
        let id = sim.state().channels[0].id;
        let base = sim.state().channels[0].local_policy;
        let with_fee = |fee_ppm| FeePolicy { fee_ppm, ..base };
        sim.set_policy(id, with_fee(111)).unwrap();
        sim.advance(3_600);
        assert_eq!(sim.advertised_policy(id), Some(with_fee(111)));
        sim.set_policy(id, with_fee(222)).unwrap();
        sim.advance(3_600);
        sim.set_policy(id, with_fee(333)).unwrap();
        sim.advance(6 * 3_600);
        assert_eq!(sim.advertised_policy(id), Some(with_fee(111)));
        sim.advance(6 * 3_600);
        assert_eq!(sim.advertised_policy(id), Some(with_fee(333)));
    }
}
