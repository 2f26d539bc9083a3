//! Everything a strategy author needs to write an lnpolicy fee strategy in Rust.
//!
//! lnpolicy runs fee strategies as sandboxed WebAssembly components that speak the
//! contract in `wit/strategy.wit`. Writing against the raw bindings means repeating the
//! same plumbing in every strategy (parameter defaults, typed parameter access, fee
//! arithmetic that must not overflow, one decision per channel) and makes the logic
//! impossible to unit-test natively, because the host imports only exist inside a
//! component. This crate removes that plumbing:
//!
//! - implement [`Strategy`] (two functions) and call [`export_strategy!`] once;
//! - read parameters through [`Params`], which fills in the defaults declared in
//!   [`Strategy::info`] and names the parameter in every error;
//! - talk to the host through the [`Host`] trait, so tests can pass a
//!   [`testing::TestHost`] instead of the real imports;
//! - build results with [`Decision::unchanged`] and [`Decision::set`];
//! - test natively with [`testing::run`], which checks the output the way the host does.
//!
//! ```
//! use lnpolicy_sdk::{ChannelView, Decision, Host, Params, ParamSpec, Strategy, StrategyInfo};
//!
//! /// Charges the same fee on every channel.
//! pub struct Flat;
//!
//! impl Strategy for Flat {
//!     fn info() -> StrategyInfo {
//!         StrategyInfo {
//!             name: "flat".into(),
//!             version: "0.1.0".into(),
//!             description: "The same outbound fee on every channel.".into(),
//!             params: vec![ParamSpec::integer("fee_ppm", "Outbound fee, ppm.", 100).range(0.0, 10_000.0)],
//!         }
//!     }
//!
//!     fn decide(
//!         _host: &mut dyn Host,
//!         params: &Params,
//!         channels: &[ChannelView],
//!     ) -> Result<Vec<Decision>, String> {
//!         let fee = params.u32("fee_ppm")?;
//!         Ok(channels
//!             .iter()
//!             .map(|c| Decision::set(c.channel_id).fee_ppm(fee).reason(format!("flat {fee} ppm")))
//!             .collect())
//!     }
//! }
//!
//! lnpolicy_sdk::export_strategy!(Flat);
//! ```
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod __private;
mod decision;
mod params;
pub mod ppm;
mod reason;
pub mod state;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

/// Bindings generated from `wit/strategy.wit` (world `fee-strategy`).
///
/// Most authors never need this module: the types are re-exported at the crate root and
/// [`export_strategy!`] wires the exports. It is public because the generated `export!`
/// macro, expanded in the author's crate, refers to it.
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "fee-strategy",
        path: "../wit",
        pub_export_macro: true,
        default_bindings_module: "lnpolicy_sdk::bindings",
        additional_derives: [PartialEq],
    });
}

pub use bindings::lnpolicy::strategy::types::{
    ChannelView, Decision, FailureCounts, FeeChange, FeePercentiles, FlowClass, FlowStats,
    FlowWindows, LogLevel, NodeKind, Param, ParamDefault, ParamKind, ParamSpec, ParamValue, Policy,
    Profitability, SharedChannels, StrategyInfo,
};
pub use decision::DecisionBuilder;
pub use params::Params;
pub use reason::Reason;

/// The host's services, as a trait so that strategy logic runs natively in tests.
///
/// Inside a component every call goes to the real host import (and is metered against the
/// guest's budget); in tests [`testing::TestHost`] answers from memory.
pub trait Host {
    /// Current unix time in seconds (virtual time in backtests).
    fn now(&self) -> u64;

    /// Writes one line to the host's log, tagged with the strategy's name. The host cuts
    /// long lines and stops a guest that logs too much.
    fn log(&mut self, level: LogLevel, message: &str);

    /// Reads a value this strategy stored earlier; it survives restarts.
    fn state_get(&self, key: &str) -> Option<Vec<u8>>;

    /// Stores a value under a key, private to this strategy. The host keeps it only if the
    /// `decide` call that wrote it succeeds.
    fn state_set(&mut self, key: &str, value: &[u8]);

    /// Removes a stored value.
    fn state_delete(&mut self, key: &str);

    /// Outbound policy changes of one channel since a unix time, oldest first.
    fn fee_history(&self, channel_id: u64, since: u64) -> Vec<FeeChange>;

    /// What the peer's other counterparties charge toward it on their public channels (the
    /// competition of our channel to it), if the graph knows them.
    fn competitor_fees(&self, peer_pubkey: &str) -> Option<FeePercentiles>;

    /// The node's on-chain fee estimate in sat/vB for confirmation within `conf_target`
    /// blocks. The host fetches it for the values of the strategy's
    /// [`ParamKind::ConfTarget`] parameters; other targets give `None`.
    fn chain_fee_rate(&self, conf_target: u32) -> Option<f64>;

    /// What rebalancing has cost one of the call's channels since a unix time, msat (0 also
    /// when the node does not list its payments); `None` for a channel not in the call.
    /// Contract 0.3.1.
    fn rebalance_cost_msat(&self, channel_id: u64, since: u64) -> Option<u64>;
}

/// A fee strategy: the one trait an author implements.
///
/// The implementing type is only a name (usually a unit struct); the host creates a fresh
/// instance for every cycle, so keep anything that must outlive a call in
/// [`Host::state_set`].
pub trait Strategy {
    /// Name, version, description and parameter schema. Must not depend on input: the host
    /// reads it once when it loads the component.
    fn info() -> StrategyInfo;

    /// Decides every channel of the batch: exactly one [`Decision`] per channel, in any
    /// order. `params` already holds the defaults from [`Strategy::info`] for every
    /// parameter the operator left out. An `Err` leaves every channel unchanged and is
    /// recorded by the host.
    fn decide(
        host: &mut dyn Host,
        params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String>;
}

/// Exports a [`Strategy`] as the component's `strategy` interface.
///
/// Call it exactly once, at the top level of the strategy crate:
///
/// ```
/// # use lnpolicy_sdk::{ChannelView, Decision, Host, Params, Strategy, StrategyInfo};
/// # struct MyStrategy;
/// # impl Strategy for MyStrategy {
/// #     fn info() -> StrategyInfo { unimplemented!() }
/// #     fn decide(_: &mut dyn Host, _: &Params, _: &[ChannelView]) -> Result<Vec<Decision>, String> {
/// #         unimplemented!()
/// #     }
/// # }
/// lnpolicy_sdk::export_strategy!(MyStrategy);
/// ```
///
/// When compiling for `wasm32` it implements the generated `Guest` trait (filling parameter
/// defaults from [`Strategy::info`] before calling [`Strategy::decide`] with the real host)
/// and emits the component exports. On any other target it expands to nothing, so the same
/// crate builds and unit-tests natively.
#[macro_export]
macro_rules! export_strategy {
    ($strategy:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct LnpolicyStrategyExport;

            impl $crate::bindings::exports::lnpolicy::strategy::strategy::Guest
                for LnpolicyStrategyExport
            {
                fn info() -> $crate::StrategyInfo {
                    <$strategy as $crate::Strategy>::info()
                }

                fn decide(
                    params: ::std::vec::Vec<$crate::Param>,
                    channels: ::std::vec::Vec<$crate::ChannelView>,
                ) -> ::core::result::Result<
                    ::std::vec::Vec<$crate::Decision>,
                    ::std::string::String,
                > {
                    $crate::__private::decide::<$strategy>(params, &channels)
                }
            }

            $crate::bindings::export!(LnpolicyStrategyExport with_types_in $crate::bindings);
        };
    };
}

/// Days the channel's net outflow per day over the last 30 days would take to move half its
/// capacity: its runway from an even balance. `None` when it is not draining (more came in
/// than went out).
///
/// The runway prices how fast liquidity goes; how much is left is the balance curve's job.
/// Two channels at 30% local balance are not equally scarce if one loses 1% a week and the
/// other 10% a day. Counted from the spendable balance instead, the runway priced the level a
/// second time, and a channel drained by chance in a two-way market was charged twice over
/// for it (hill_climber's README has the measurements). The month, not the week: in a two-way
/// market one large payment makes a week look like a drain, and a month averages that out
/// while a true drain keeps its rate. The month's flow is spread over the days of history
/// behind it (`history-secs`, at least one day), so a fresh install sees a drain's rate from
/// its first days instead of a thirtieth of it.
pub fn runway_days(channel: &ChannelView) -> Option<f64> {
    let month = &channel.flow.month;
    let days = (channel.history_secs as f64 / 86_400.0).clamp(1.0, 30.0);
    let net_out_per_day = (month.sats_out as f64 - month.sats_in as f64) / days;
    if net_out_per_day <= 0.0 {
        return None;
    }
    Some(channel.capacity_sat as f64 / 2.0 / net_out_per_day)
}

/// The runway rule shared by strategies: a channel whose runway (see [`runway_days`]) is
/// shorter than `target_days` charges `target_days / runway` times more, at most `max_factor`
/// times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Runway {
    /// 0 switches the rule off.
    pub target_days: f64,
    /// The largest multiplier.
    pub max_factor: f64,
}

impl Runway {
    /// The rule's parameters, `target_runway_days` (default `default_target_days`) and
    /// `max_runway_factor` (default 3), for a strategy's `info()`.
    pub fn params(default_target_days: f64) -> [ParamSpec; 2] {
        [
            ParamSpec::float(
                "target_runway_days",
                "A channel whose net outflow over the last 30 days would move half its \
                 capacity sooner than this many days is charged more: the fee is multiplied by \
                 target / runway (0 switches this off).",
                default_target_days,
            )
            .range(0.0, 365.0),
            ParamSpec::float(
                "max_runway_factor",
                "Largest multiplier the runway applies.",
                3.0,
            )
            .range(1.0, 100.0),
        ]
    }

    /// Reads the parameters declared by [`Runway::params`].
    pub fn read(params: &Params) -> Result<Self, String> {
        Ok(Runway {
            target_days: params.f64("target_runway_days")?,
            max_factor: params.f64("max_runway_factor")?,
        })
    }

    /// `target_days / runway` within `1.0..=max_factor`; 1 when the channel is not draining,
    /// the rule is off, or the runway is at least `target_days`.
    pub fn factor(&self, channel: &ChannelView) -> f64 {
        match runway_days(channel) {
            Some(days) if days < self.target_days => {
                (self.target_days / days.max(1e-3)).clamp(1.0, self.max_factor)
            }
            _ => 1.0,
        }
    }
}

/// Fraction of the channel's balance on our side: local / (local + remote), in `0.0..=1.0`.
///
/// A channel with no balance on either side (possible while funds sit in HTLCs) counts as
/// balanced, 0.5, so that it is neither priced as drained nor as full.
pub fn local_ratio(channel: &ChannelView) -> f64 {
    let local = channel.local_balance_sat as f64;
    let total = local + channel.remote_balance_sat as f64;
    if total > 0.0 { local / total } else { 0.5 }
}

/// The single path from the raw export to [`Strategy::decide`], shared by the component
/// export and [`testing::run`] so tests exercise what the host will call.
pub(crate) fn decide_with_defaults<S: Strategy>(
    host: &mut dyn Host,
    params: Vec<Param>,
    channels: &[ChannelView],
) -> Result<Vec<Decision>, String> {
    let info = S::info();
    let params = Params::new(params, &info.params);
    S::decide(host, &params, channels)
}
