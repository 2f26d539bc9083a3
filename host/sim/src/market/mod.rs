//! The market around our node: who pays (demand), what else they could pay through
//! (competition), and how each kind of sender picks a route (senders). Pure functions and
//! plain data; the engine wires them to the node's state.

pub mod competition;
pub mod demand;
pub mod senders;

use serde::{Deserialize, Serialize};

/// The longest competing route segment, in channels.
pub const MAX_HOPS: usize = 4;

/// The implementation a payment's sender runs; decides its cost model, fee budget and
/// whether it sees inbound fees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SenderKind {
    /// Sees inbound fees and clamps them at −outbound.
    Lnd,
    /// Ignores inbound fees.
    Cln,
    /// Ignores inbound fees.
    Ldk,
}

impl SenderKind {
    /// All kinds, in the order used by per-sender counters.
    pub const ALL: [SenderKind; 3] = [SenderKind::Lnd, SenderKind::Cln, SenderKind::Ldk];

    /// Position in per-sender counters (`[lnd, cln, ldk]`).
    pub fn index(self) -> usize {
        self as usize
    }
}
