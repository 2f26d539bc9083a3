//! The policy engine: everything between "which strategy runs on this
//! channel" and "what reaches the node". `guard` is the one place
//! that makes a strategy's output safe, `cycle` the one path from a guest's
//! output to a recorded, guarded decision, and `params` checks an operator's
//! parameters against a strategy's schema, and `apply` sends guarded
//! policies with an intent recorded around each call. charge-lnd config parsing,
//! matchers, properties (`overlay`), A/B assignment and the config-driven cycle
//! (`configured`) live here too, so that the limits an operator writes and the
//! code enforcing them sit side by side.

pub mod apply;
pub mod config;
pub mod configured;
pub mod cycle;
pub mod experiment;
pub mod guard;
pub mod overlay;
pub mod params;
pub mod rollback;
