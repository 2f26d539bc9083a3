//! The simulator: a deterministic market of payments crossing one node
//! (the backtest engine), and servers that expose that node over the real
//! LND and CLN protocols (the test double the daemon's clients talk to).

pub mod cln_server;
pub mod engine;
pub mod fee_distribution;
mod ids;
pub mod in_process;
pub mod live;
pub mod lnd_server;
pub mod market;
pub mod rng;
pub mod scenario;
pub mod state;

pub use engine::{ChannelTotals, MarketTotals, RebalanceRefused, Simulation};
pub use in_process::InProcessNode;
pub use live::LiveSimulation;
pub use scenario::{Scenario, ScenarioError};
