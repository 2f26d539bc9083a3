//! The simulated node as a `NodeClient` without a protocol in between, for backtests: a
//! month of hourly cycles then costs milliseconds per cycle instead of TLS round trips. It
//! reads and writes the same `NodeState` the LND and CLN servers serve, with the same policy
//! validation; tests of the real clients go through those servers instead.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lnpolicy_core::{
    FailedForwardPage, FeePolicy, Forward, ForwardPage, FundingFee, NodeChannel, NodeClient,
    NodeError, NodeInfo, NodeKind, PaymentPart, PaymentPartPage, PeerInfo, UnresolvedPayment,
};

use crate::state::{NodeState, Rebalance, RebalanceState};

/// A `NodeClient` over a shared simulated state (see [`crate::LiveSimulation::shared`]).
pub struct InProcessNode {
    state: Arc<Mutex<NodeState>>,
    kind: NodeKind,
}

impl InProcessNode {
    pub fn new(state: Arc<Mutex<NodeState>>) -> Self {
        let kind = lock(&state).info.kind;
        InProcessNode { state, kind }
    }

    fn state(&self) -> MutexGuard<'_, NodeState> {
        lock(&self.state)
    }
}

fn lock(state: &Mutex<NodeState>) -> MutexGuard<'_, NodeState> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait::async_trait]
impl NodeClient for InProcessNode {
    fn kind(&self) -> NodeKind {
        self.kind
    }

    async fn get_info(&self) -> Result<NodeInfo, NodeError> {
        Ok(self.state().info.clone())
    }

    async fn list_channels(&self) -> Result<Vec<NodeChannel>, NodeError> {
        Ok(self.state().channels.clone())
    }

    /// Keyed as the real client of the node's kind keys them: LND by `timestamp_ns` (the
    /// simulator keeps settlement times unique, as LND does), CLN by position.
    async fn forwards(&self, from_index: u64, limit: u32) -> Result<ForwardPage, NodeError> {
        let state = self.state();
        let (start, key): (usize, fn(u64, &Forward) -> u64) = match self.kind {
            NodeKind::Lnd => (
                state.forwards.partition_point(|f| f.at_ns <= from_index),
                |_, f| f.at_ns,
            ),
            NodeKind::Cln => (
                usize::try_from(from_index).unwrap_or(usize::MAX),
                |position, _| position,
            ),
        };
        let forwards: Vec<_> = state
            .forwards
            .iter()
            .enumerate()
            .skip(start)
            .take(limit as usize)
            .map(|(i, forward)| Forward {
                index: key(i as u64 + 1, forward),
                ..forward.clone()
            })
            .collect();
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
        let state = self.state();
        let start = usize::try_from(from_index).unwrap_or(usize::MAX);
        let failures: Vec<_> = state
            .failures
            .iter()
            .skip(start)
            .take(limit as usize)
            .zip(from_index + 1..)
            .map(|(failure, index)| lnpolicy_core::FailedForward {
                index,
                reason: match self.kind {
                    NodeKind::Lnd => failure.reason,
                    NodeKind::Cln => crate::cln_server::reported_reason(failure.reason),
                },
                ..failure.clone()
            })
            .collect();
        let next_index = from_index + failures.len() as u64;
        Ok(FailedForwardPage {
            failures,
            next_index,
        })
    }

    /// Paged as the real client of the node's kind pages them: LND lists each payment whole
    /// under its `payment_index` (position + 1), the part sent first, one in flight as
    /// unresolved and a failed one as nothing; CLN lists each settled rebalance as two channel moves numbered in the
    /// order they settled, the credit of the channel it came back by first, from `from_index`
    /// on, and the next page starts after the last.
    async fn payment_parts(
        &self,
        from_index: u64,
        limit: u32,
    ) -> Result<Option<PaymentPartPage>, NodeError> {
        let state = self.state();
        let parts = |r: &Rebalance, index: u64| {
            let sent = PaymentPart {
                index,
                part: 0,
                at_secs: r.at_secs,
                channel: Some(r.out_channel),
                payment_hash: r.payment_hash.clone(),
                sent: true,
                amount_msat: r.amount_msat + r.fee_msat,
                fee_msat: r.fee_msat,
            };
            let received = PaymentPart {
                part: 1,
                channel: Some(r.in_channel),
                sent: false,
                amount_msat: r.amount_msat,
                fee_msat: 0,
                ..sent.clone()
            };
            [sent, received]
        };
        let mut page = PaymentPartPage {
            next_index: from_index,
            ..PaymentPartPage::default()
        };
        match self.kind {
            NodeKind::Lnd => {
                let now = state.now_secs();
                for (r, index) in state.rebalances.iter().zip(1u64..) {
                    if index <= from_index {
                        continue;
                    }
                    if page.events == limit as usize {
                        break;
                    }
                    match r.state(now) {
                        RebalanceState::Settled => page.parts.extend(parts(r, index)),
                        RebalanceState::InFlight => page.unresolved.push(UnresolvedPayment {
                            index,
                            started_secs: r.started_secs,
                        }),
                        RebalanceState::Failed => {}
                    }
                    page.events += 1;
                    page.next_index = index;
                }
            }
            NodeKind::Cln => {
                let moves = state
                    .settled_rebalances()
                    .into_iter()
                    .zip(0u64..)
                    .flat_map(|(r, k)| {
                        let [sent, received] = parts(r, 0);
                        [
                            PaymentPart {
                                index: 2 * k + 1,
                                part: 0,
                                ..received
                            },
                            PaymentPart {
                                index: 2 * k + 2,
                                ..sent
                            },
                        ]
                    })
                    .filter(|p| p.index >= from_index)
                    .take(limit as usize);
                for part in moves {
                    page.events += 1;
                    page.next_index = part.index + 1;
                    page.parts.push(part);
                }
            }
        }
        Ok(Some(page))
    }

    async fn peer_info(&self, peer_pubkey: &str) -> Result<Option<PeerInfo>, NodeError> {
        let state = self.state();
        let ours = state
            .channels
            .iter()
            .filter(|c| !c.private && c.peer_pubkey == peer_pubkey)
            .map(|c| c.capacity_sat);
        let others: Vec<_> = state
            .graph
            .iter()
            .filter(|g| g.node1_pubkey == peer_pubkey || g.node2_pubkey == peer_pubkey)
            .collect();
        let capacities: Vec<u64> = ours.chain(others.iter().map(|g| g.capacity_sat)).collect();
        if capacities.is_empty() {
            return Ok(None);
        }
        // As the real clients report them: the enabled directions into the peer, ours left
        // out.
        let fee_rates_ppm: Vec<u32> = others
            .iter()
            .map(|g| {
                if g.node1_pubkey == peer_pubkey {
                    g.node2_policy
                } else {
                    g.node1_policy
                }
            })
            .filter(|p| !p.disabled)
            .map(|p| p.fee_ppm)
            .collect();
        Ok(Some(PeerInfo {
            public_channels: u32::try_from(capacities.len()).unwrap_or(u32::MAX),
            public_capacity_sat: capacities.iter().sum(),
            fee_rates_ppm,
        }))
    }

    async fn fee_rate(&self, conf_target: u32) -> Result<Option<f64>, NodeError> {
        Ok(self.state().fee_rate(conf_target))
    }

    async fn funding_fees(&self, txids: &[String]) -> Result<Vec<FundingFee>, NodeError> {
        let wanted: BTreeSet<String> = txids.iter().map(|t| t.to_ascii_lowercase()).collect();
        let state = self.state();
        Ok(state
            .channels
            .iter()
            .filter_map(|c| {
                let fee_sat = *state.funding_fees.get(&c.id)?;
                let txid = NodeState::funding_txid(c).to_ascii_lowercase();
                wanted
                    .contains(&txid)
                    .then_some(FundingFee { txid, fee_sat })
            })
            .collect())
    }

    async fn update_policy(
        &self,
        channel: &NodeChannel,
        policy: &FeePolicy,
    ) -> Result<FeePolicy, NodeError> {
        self.state()
            .set_policy(channel.id, *policy)
            .map(|()| *policy)
            .map_err(|rejection| NodeError::Rejected {
                method: "update_policy",
                detail: rejection.to_string(),
            })
    }
}
