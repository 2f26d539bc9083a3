//! CLN's forwarding log over `NodeState`. The state keeps settled forwards and
//! failures in two lists, each indexed from 1; CLN has one log where every
//! forward, whatever its fate, gets the next `created_index` when it arrives,
//! and the ones resolved after being offered (`settled`; a `failed` one failed
//! further along the route, which the market does not model) also an
//! `updated_index` when they resolve. Every failure the market makes is our
//! node's own, listed `local_failed` at once. A forward in `NodeState::held_forwards`
//! arrives before it settles and is `offered` in between. The ledger assigns
//! both indexes once, in time order, and never renumbers, so a client's cursor
//! stays valid while the market engine appends.

use crate::state::NodeState;

/// Which state list an entry comes from, and its position there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    Settled(usize),
    Failed(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub source: Source,
    pub created_index: u64,
    /// `None` for a forward created final (`local_failed`) and one still `offered`.
    pub updated_index: Option<u64>,
}

impl Entry {
    /// Listed `offered`: it settles later and has not yet.
    pub(super) fn in_flight(&self) -> bool {
        matches!(self.source, Source::Settled(_)) && self.updated_index.is_none()
    }
}

#[derive(Debug, Default)]
pub(super) struct Ledger {
    entries: Vec<Entry>,
    settled_seen: usize,
    failed_seen: usize,
    last_updated: u64,
    /// Positions in `entries` of those still in flight.
    in_flight: Vec<usize>,
}

impl Ledger {
    /// Numbers what the engine appended since the last call, and gives an
    /// `updated_index` to what resolved by `now_ns`, in the order it did. If
    /// the state's lists shrank (a test replaced the state), numbering starts over.
    pub(super) fn sync(&mut self, state: &NodeState) {
        if state.forwards.len() < self.settled_seen || state.failures.len() < self.failed_seen {
            *self = Ledger::default();
        }
        let resolved_at = |source: Source| match source {
            Source::Settled(i) => state.forwards[i].at_ns,
            Source::Failed(i) => state.failures[i].at_ns,
        };
        let arrived_at = |source: Source| match source {
            Source::Settled(i) => state
                .held_forwards
                .get(&i)
                .copied()
                .unwrap_or(state.forwards[i].at_ns),
            Source::Failed(i) => state.failures[i].at_ns,
        };
        let mut fresh: Vec<Source> = (self.settled_seen..state.forwards.len())
            .map(Source::Settled)
            .chain((self.failed_seen..state.failures.len()).map(Source::Failed))
            .collect();
        // Stable: on equal times settled (listed first) precede failures.
        fresh.sort_by_key(|source| arrived_at(*source));
        for source in fresh {
            if matches!(source, Source::Settled(_)) {
                self.in_flight.push(self.entries.len());
            }
            self.entries.push(Entry {
                source,
                created_index: self.entries.len() as u64 + 1,
                updated_index: None,
            });
        }
        self.settled_seen = state.forwards.len();
        self.failed_seen = state.failures.len();

        let held = |source: Source| match source {
            Source::Settled(i) => state.held_forwards.contains_key(&i),
            Source::Failed(_) => false,
        };
        let (mut due, still): (Vec<usize>, Vec<usize>) = self.in_flight.iter().partition(|&&e| {
            let source = self.entries[e].source;
            !held(source) || resolved_at(source) <= state.now_ns
        });
        self.in_flight = still;
        due.sort_by_key(|&e| (resolved_at(self.entries[e].source), e));
        for e in due {
            self.last_updated += 1;
            self.entries[e].updated_index = Some(self.last_updated);
        }
    }

    /// Entries in created_index order.
    pub(super) fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lnpolicy_core::{FailedForward, FailureReason, Forward, NodeInfo, NodeKind};

    fn state() -> NodeState {
        NodeState {
            info: NodeInfo {
                kind: NodeKind::Cln,
                pubkey: String::new(),
                alias: String::new(),
                version: String::new(),
                block_height: 0,
                synced_to_chain: true,
                synced_to_graph: true,
            },
            channels: Vec::new(),
            forwards: Vec::new(),
            failures: Vec::new(),
            graph: Vec::new(),
            accept_positive_inbound: false,
            now_ns: 0,
            calls: Vec::new(),
            policy_updated_at: Vec::new(),
            fee_estimates: Vec::new(),
            funding_fees: Default::default(),
            held_forwards: Default::default(),
            enforce_delays: Default::default(),
            rebalances: Vec::new(),
        }
    }

    fn settled(at_ns: u64) -> Forward {
        Forward {
            index: 0,
            at_ns,
            chan_in: 1,
            chan_out: 2,
            amt_in_msat: 2,
            amt_out_msat: 1,
            fee_msat: 1,
        }
    }

    fn failed(at_ns: u64, reason: FailureReason) -> FailedForward {
        FailedForward {
            index: 0,
            at_ns,
            chan_in: 1,
            chan_out: None,
            amt_in_msat: 1,
            reason,
        }
    }

    #[test]
    fn merges_by_time_and_never_renumbers() {
        let mut s = state();
        s.forwards = vec![settled(10), settled(30)];
        s.failures = vec![failed(20, FailureReason::FeeInsufficient)];
        let mut ledger = Ledger::default();
        ledger.sync(&s);
        let order: Vec<_> = ledger.entries().iter().map(|e| e.source).collect();
        assert_eq!(
            order,
            [Source::Settled(0), Source::Failed(0), Source::Settled(1)]
        );
        assert_eq!(ledger.entries()[1].updated_index, None);
        assert_eq!(ledger.entries()[2].updated_index, Some(2));

        s.failures.push(failed(34, FailureReason::Other));
        s.forwards.push(settled(35));
        ledger.sync(&s);
        let tail: Vec<_> = ledger.entries()[3..]
            .iter()
            .map(|e| (e.source, e.created_index, e.updated_index))
            .collect();
        assert_eq!(
            tail,
            [
                (Source::Failed(1), 4, None),
                (Source::Settled(2), 5, Some(3))
            ]
        );

        s.forwards.clear();
        ledger.sync(&s);
        assert_eq!(ledger.entries().len(), 2);
    }

    #[test]
    fn a_held_forward_is_created_when_it_arrives_and_updated_when_it_settles() {
        let mut s = state();
        s.now_ns = 25;
        s.forwards = vec![settled(10), settled(50), settled(20)];
        s.held_forwards.insert(1, 15);
        let mut ledger = Ledger::default();
        ledger.sync(&s);
        let created: Vec<_> = ledger.entries().iter().map(|e| e.source).collect();
        assert_eq!(
            created,
            [Source::Settled(0), Source::Settled(1), Source::Settled(2)],
            "by arrival: 10, 15, 20"
        );
        assert!(ledger.entries()[1].in_flight(), "offered until 50");
        assert_eq!(ledger.entries()[2].updated_index, Some(2));

        s.forwards.push(settled(30));
        s.now_ns = 60;
        ledger.sync(&s);
        let updated: Vec<_> = ledger.entries().iter().map(|e| e.updated_index).collect();
        assert_eq!(
            updated,
            [Some(1), Some(4), Some(2), Some(3)],
            "the one settled at 30 first, then the held one at 50"
        );
    }
}
