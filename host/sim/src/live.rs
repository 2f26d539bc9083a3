//! A simulation served over the protocols while it runs: the servers share
//! one `NodeState` behind a lock, the market runs on its own copy, and each
//! step carries policy changes made through the servers into the market and
//! the market's new forwards, failures and balances back out.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lnpolicy_core::ChannelId;

use crate::state::NodeState;
use crate::{RebalanceRefused, Simulation};

pub struct LiveSimulation {
    sim: Simulation,
    shared: Arc<Mutex<NodeState>>,
    /// The market's forwards handed to the servers so far, deleted ones included.
    forwards_published: usize,
}

impl LiveSimulation {
    pub fn new(sim: Simulation) -> LiveSimulation {
        let shared = Arc::new(Mutex::new(sim.state().clone()));
        let forwards_published = sim.state().forwards.len();
        LiveSimulation {
            sim,
            shared,
            forwards_published,
        }
    }

    /// The state to hand to `LndServer::start` / `ClnServer::start`.
    pub fn shared(&self) -> Arc<Mutex<NodeState>> {
        Arc::clone(&self.shared)
    }

    pub fn simulation(&self) -> &Simulation {
        &self.sim
    }

    /// Runs the market for `seconds` of virtual time and publishes the result.
    pub fn advance(&mut self, seconds: u64) {
        self.take_policy_changes();
        self.sim.advance(seconds);
        self.publish();
    }

    /// A rebalance started now (see [`Simulation::rebalance`]), published at once.
    pub fn rebalance(
        &mut self,
        out_channel: ChannelId,
        in_channel: ChannelId,
        amount_msat: u64,
        fee_msat: u64,
        settles_after_secs: u64,
    ) -> Result<(), RebalanceRefused> {
        self.take_policy_changes();
        self.sim.rebalance(
            out_channel,
            in_channel,
            amount_msat,
            fee_msat,
            settles_after_secs,
        )?;
        self.publish();
        Ok(())
    }

    /// Fails a rebalance still in flight (see [`Simulation::fail_rebalance`]), published at
    /// once.
    pub fn fail_rebalance(&mut self, position: usize) -> bool {
        self.take_policy_changes();
        let failed = self.sim.fail_rebalance(position);
        self.publish();
        failed
    }

    /// LND's `deletefwdhistory`: the served log loses its forwards settled before `before_ns`
    /// (which shifts LND's offsets); the market keeps its own record. Returns how many went.
    pub fn delete_forwards_before(&mut self, before_ns: u64) -> usize {
        let mut shared = lock(&self.shared);
        let deleted = shared.forwards.partition_point(|f| f.at_ns < before_ns);
        shared.forwards.drain(..deleted);
        deleted
    }

    /// Policies the servers accepted (they validated them already) go to
    /// the market, which shows them to senders after the gossip delay.
    fn take_policy_changes(&mut self) {
        let shared = lock(&self.shared);
        let changed: Vec<_> = shared
            .channels
            .iter()
            .filter(|c| {
                self.sim
                    .state()
                    .channel(c.id)
                    .is_some_and(|ours| ours.local_policy != c.local_policy)
            })
            .map(|c| {
                (
                    c.id,
                    c.local_policy,
                    shared.enforce_delays.get(&c.id).copied(),
                )
            })
            .collect();
        drop(shared);
        for (id, policy, enforce_delay) in changed {
            match self.sim.set_policy(id, policy) {
                Ok(()) => self.sim.set_enforce_delay(id, enforce_delay),
                Err(error) => {
                    tracing::warn!(channel = id, %error, "the market refused a policy the server accepted");
                }
            }
        }
    }

    /// Appends what happened since the last step; never rewrites history the
    /// clients may already have paged through.
    fn publish(&mut self) {
        let market = self.sim.state();
        let mut shared = lock(&self.shared);
        shared.channels.clone_from(&market.channels);
        let seen = self.forwards_published.min(market.forwards.len());
        shared.forwards.extend_from_slice(&market.forwards[seen..]);
        self.forwards_published = market.forwards.len();
        let seen = shared.failures.len();
        shared
            .failures
            .extend_from_slice(&market.failures[seen.min(market.failures.len())..]);
        shared.rebalances.clone_from(&market.rebalances);
        shared.now_ns = market.now_ns;
        shared.info.block_height = market.info.block_height;
        shared
            .policy_updated_at
            .clone_from(&market.policy_updated_at);
    }
}

fn lock(state: &Mutex<NodeState>) -> MutexGuard<'_, NodeState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}
