//! Reports from lnpolicy's database, for `lnpolicy report` and `lnpolicy status`.
//!
//! - [`experiment_report`]: an A/B experiment's arms compared on revenue per
//!   channel-day, with Welch's and a bootstrap confidence interval and a plain
//!   verdict ("A better", "B better" or "not yet distinguishable", with why).
//! - [`activity_report`]: per channel and per strategy, what was decided,
//!   applied, clamped, failed and rolled back, and what the channels earned.
//! - [`status_report`]: each strategy's latest cycle, pending updates,
//!   quarantined strategies and experiments.
//!
//! Reports only read the store, so they can run beside the daemon. Each
//! returns a serde-serialisable value (the JSON output) that [`text`] and
//! [`html`] render; the caller decides where the text goes.

mod activity;
mod experiment;
pub mod html;
pub mod stats;
mod status;
mod svg;
pub mod text;
pub mod time;

pub use activity::{
    ActivityReport, ChannelActivity, Counts, Revenue, StrategyActivity, activity_report,
};
pub use experiment::{
    ArmSeries, ArmSummary, ChannelResult, Comparison, ExperimentOptions, ExperimentReport, Outcome,
    Point, StrategyUse, Verdict, experiment_report,
};
pub use status::{
    ExperimentStatus, PendingIntent, Quarantine, StatusReport, StrategyStatus, status_report,
};

use lnpolicy_store::StoreError;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Names the experiments that do exist, since a typo is the usual cause.
    #[error(
        "no experiment named {name:?} in the database ({})",
        if known.is_empty() { "it has no experiments yet".to_owned() } else { format!("it has: {}", known.join(", ")) }
    )]
    UnknownExperiment { name: String, known: Vec<String> },
    #[error("invalid report options: {0}")]
    InvalidOptions(String),
}
