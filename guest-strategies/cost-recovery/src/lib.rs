//! `cost_recovery`: the lowest fee at which a channel pays for itself within a horizon.
//!
//! A channel we opened cost an on-chain fee, and a channel that drains costs a rebalance to
//! refill. The fee the channel needs is the one at which its expected outbound volume over
//! `horizon_days` repays what is still owed:
//!
//! ```text
//! remaining = max(0, open cost + rebalancing paid − fees earned) + rebalancing ahead
//! fee_ppm   = ceil(remaining_msat × 1000 / (outbound sat per day × horizon_days))
//! ```
//!
//! kept within `min_fee_ppm..=max_fee_ppm`. Its parts:
//!
//! - **Open cost**: the channel view's `open_cost_sat`; for a channel we opened whose
//!   funding fee the node does not report, `open_cost_estimate_sat`; 0 when the peer opened
//!   it (they paid).
//! - **Fees earned**: a ledger in the host's state, per channel. The flow windows reach
//!   back 30 days at most, so the first cycle starts the ledger at the 30-day fees (earlier
//!   earnings are unknown and count as not earned), and every later cycle adds the fees of
//!   the time since the previous one at the rate of the shortest window covering it (the
//!   day's rate after an hour, the week's after three days).
//! - **Rebalancing paid**: what the host measured the channel's rebalances to cost
//!   (`rebalance-cost`, contract 0.3.1) over the same span as the ledger: from 30 days
//!   before its first cycle on, asked afresh each cycle so a rebalance the node lists late
//!   still counts, once.
//! - **Volume**: the week's outbound volume per day, or the month's when the week saw none.
//!   The floor assumes that volume does not change with the fee; it is the price at which
//!   the channel breaks even at today's volume, not the price that earns most.
//! - **Rebalancing ahead**: the net outflow over the same window (out − in, when positive)
//!   is liquidity that must be bought back; each of its satoshis over the horizon costs
//!   `rebalance_cost_ppm`, a forward-looking estimate the operator sets (0 when they do not
//!   rebalance).
//!
//! A channel without outbound volume in 30 days cannot spread a cost over anything: its fee
//! is kept (brought within the bounds). Inactive channels are left unchanged and their
//! ledger is not touched.

use lnpolicy_sdk::{
    ChannelView, Decision, FlowStats, FlowWindows, Host, LogLevel, ParamSpec, Params, Reason,
    Strategy, StrategyInfo, ppm,
    state::{Reader, Writer},
};

/// The strategy; see the crate documentation for the rules.
pub struct CostRecovery;

/// The strategy's own version, reported by `info()`.
pub const VERSION: &str = "0.2.0";

const DAY: u64 = 24 * 3600;
const WEEK: u64 = 7 * DAY;
const MONTH: u64 = 30 * DAY;

/// The state key of one channel's ledger: `ch:<channel_id>` in decimal.
pub fn state_key(channel_id: u64) -> String {
    Reason::new("ch:").uint(channel_id).finish()
}

/// What a channel has earned toward its costs, kept in state between cycles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ledger {
    /// Fees earned so far, millisatoshi.
    pub earned_msat: u64,
    /// Unix time the ledger was last brought up to date.
    pub at: u64,
    /// Unix time from which the rebalancing paid counts: the span the earnings cover.
    pub rebalanced_since: u64,
}

/// Encoding version, the first byte of a stored [`Ledger`].
pub const STATE_VERSION: u8 = 2;
/// Length of a stored [`Ledger`] in bytes.
pub const STATE_LEN: usize = 25;
/// Version 1 (`cost_recovery` 0.1), without `rebalanced_since`.
const STATE_VERSION_1: u8 = 1;

impl Ledger {
    /// Fixed little-endian layout: version (1), earned msat u64 (8), at u64 (8),
    /// rebalanced_since u64 (8).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(STATE_VERSION);
        w.u64(self.earned_msat)
            .u64(self.at)
            .u64(self.rebalanced_since);
        w.finish()
    }

    /// The stored ledger, or `None` for anything this version did not write (the ledger
    /// then starts over from the 30-day fees). One 0.1 wrote keeps its earnings and counts
    /// rebalancing from its last update on, as it knew of none before.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if let Some(mut r) = Reader::new(bytes, STATE_VERSION) {
            let ledger = Ledger {
                earned_msat: r.u64()?,
                at: r.u64()?,
                rebalanced_since: r.u64()?,
            };
            r.finish()?;
            return Some(ledger);
        }
        let mut r = Reader::new(bytes, STATE_VERSION_1)?;
        let (earned_msat, at) = (r.u64()?, r.u64()?);
        r.finish()?;
        Some(Ledger {
            earned_msat,
            at,
            rebalanced_since: at,
        })
    }

    /// The ledger brought up to `now`: started at the 30-day fees (and rebalancing from 30
    /// days back), or advanced by the fees of the time since it was last updated.
    pub fn update(stored: Option<Ledger>, channel: &ChannelView, now: u64) -> Ledger {
        let flow = &channel.flow;
        match stored {
            None => Ledger {
                earned_msat: flow.month.fees_earned_msat,
                at: now,
                rebalanced_since: now.saturating_sub(MONTH),
            },
            Some(l) => {
                let since = earned_since(flow, channel.history_secs, now.saturating_sub(l.at));
                Ledger {
                    earned_msat: l.earned_msat.saturating_add(since),
                    at: now,
                    ..l
                }
            }
        }
    }
}

/// Fees earned in the last `elapsed` seconds, estimated at the rate of the shortest flow
/// window that covers them (all of the month's when more than 30 days passed). A window holds
/// only the `history_secs` behind it (at least a day's worth is assumed), so its rate is over
/// that.
pub fn earned_since(flow: &FlowWindows, history_secs: u64, elapsed: u64) -> u64 {
    let (stats, window) = if elapsed <= DAY {
        (&flow.day, DAY)
    } else if elapsed <= WEEK {
        (&flow.week, WEEK)
    } else {
        (&flow.month, MONTH)
    };
    let window = window.min(history_secs.max(DAY));
    let share = u128::from(elapsed.min(window));
    let fees = u128::from(stats.fees_earned_msat) * share / u128::from(window);
    // At most the window's fees, so it fits.
    u64::try_from(fees).unwrap_or(u64::MAX)
}

/// The window volume is read from, its name and the days of flow it holds: the week's, or
/// the month's when the week had no outbound volume, each no longer than the channel's
/// history (at least a day), since a young channel's week holds only its days.
pub fn volume_window(channel: &ChannelView) -> (&FlowStats, &'static str, f64) {
    let flow = &channel.flow;
    let history_days = (channel.history_secs as f64 / DAY as f64).max(1.0);
    let (stats, name, days) = if flow.week.sats_out > 0 {
        (&flow.week, "week", 7.0)
    } else {
        (&flow.month, "month", 30.0)
    };
    (stats, name, f64::min(days, history_days))
}

/// The parameters of one call, read and cross-checked once per batch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Config {
    horizon_days: f64,
    open_cost_estimate_sat: u64,
    rebalance_cost_ppm: u32,
    min_fee_ppm: u32,
    max_fee_ppm: u32,
}

impl Config {
    fn read(params: &Params) -> Result<Self, String> {
        let config = Config {
            horizon_days: params.f64("horizon_days")?,
            open_cost_estimate_sat: params.u32("open_cost_estimate_sat")?.into(),
            rebalance_cost_ppm: params.u32("rebalance_cost_ppm")?,
            min_fee_ppm: params.u32("min_fee_ppm")?,
            max_fee_ppm: params.u32("max_fee_ppm")?,
        };
        if config.min_fee_ppm > config.max_fee_ppm {
            return Err(format!(
                "min_fee_ppm ({}) must not exceed max_fee_ppm ({})",
                config.min_fee_ppm, config.max_fee_ppm
            ));
        }
        Ok(config)
    }

    /// The opening cost to recover, satoshi (0 when the peer opened the channel: they
    /// paid), and whether it is the estimate.
    fn open_cost(&self, channel: &ChannelView) -> (u64, bool) {
        match (channel.initiator, channel.open_cost_sat) {
            (false, _) => (0, false),
            (true, Some(cost)) => (cost, false),
            (true, None) => (self.open_cost_estimate_sat, true),
        }
    }

    fn decide(&self, host: &mut dyn Host, now: u64, channel: &ChannelView) -> Decision {
        let id = channel.channel_id;
        if !channel.active {
            return Decision::unchanged(id, "inactive: peer offline, unchanged");
        }
        let key = state_key(id);
        let stored = host.state_get(&key).and_then(|b| Ledger::decode(&b));
        let ledger = Ledger::update(stored, channel, now);
        host.state_set(&key, &ledger.encode());

        let (open_sat, estimated) = self.open_cost(channel);
        let paid_msat = host
            .rebalance_cost_msat(id, ledger.rebalanced_since)
            .unwrap_or(0);
        let (stats, window, days) = volume_window(channel);
        let out_per_day = stats.sats_out as f64 / days;
        let net_out_per_day = stats.sats_out.saturating_sub(stats.sats_in) as f64 / days;
        let ahead_msat =
            net_out_per_day * self.horizon_days * f64::from(self.rebalance_cost_ppm) / 1000.0;
        let left_msat = open_sat
            .saturating_mul(1000)
            .saturating_add(paid_msat)
            .saturating_sub(ledger.earned_msat);
        let remaining_msat = left_msat as f64 + ahead_msat;
        let open = match (channel.initiator, estimated) {
            (false, _) => "0 open cost (peer opened)".to_owned(),
            (true, true) => format!("an estimated {open_sat} open cost"),
            (true, false) => format!("{open_sat} open cost"),
        };
        let costs = format!(
            "remaining {:.0} sat (owed {:.0} of {open} + {:.0} rebalancing paid, after {:.0} \
             earned; rebalancing ahead {:.0})",
            remaining_msat / 1000.0,
            left_msat as f64 / 1000.0,
            paid_msat as f64 / 1000.0,
            ledger.earned_msat as f64 / 1000.0,
            ahead_msat / 1000.0,
        );
        let current = channel.local_policy.fee_ppm;
        if out_per_day == 0.0 {
            let fee = ppm::clamp(current, self.min_fee_ppm, self.max_fee_ppm);
            return Decision::set(id).fee_ppm(fee).reason(format!(
                "{costs}, no outbound volume in 30 days to spread it over: {current} → {fee} ppm"
            ));
        }
        let volume_sat = out_per_day * self.horizon_days;
        // `as` saturates, so a cost far beyond the volume gives u32::MAX, then the cap.
        let floor = (remaining_msat * 1000.0 / volume_sat).ceil() as u32;
        let fee = ppm::clamp(floor, self.min_fee_ppm, self.max_fee_ppm);
        let bound = if fee > floor {
            ", min_fee_ppm"
        } else if fee < floor {
            ", capped at max_fee_ppm"
        } else {
            ""
        };
        Decision::set(id).fee_ppm(fee).reason(format!(
            "{costs}, {volume_sat:.0} sat out over {} d at the {window}'s rate → floor \
             {floor} ppm{bound} → {fee} ppm",
            self.horizon_days
        ))
    }
}

impl Strategy for CostRecovery {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "cost_recovery".into(),
            version: VERSION.into(),
            description: "The fee at which each channel's expected outbound volume repays \
                          what it still owes within horizon_days: its opening cost (or \
                          open_cost_estimate_sat when unknown) and the rebalancing it was \
                          measured to have paid, less the fees it has earned, plus \
                          rebalancing its expected net outflow at rebalance_cost_ppm. \
                          Kept within min_fee_ppm..max_fee_ppm; a per-channel ledger of fees \
                          earned survives restarts. Inactive channels are left unchanged."
                .into(),
            params: vec![
                ParamSpec::float(
                    "horizon_days",
                    "Days within which the remaining cost should be repaid.",
                    30.0,
                )
                .range(1.0, 3650.0),
                ParamSpec::integer(
                    "open_cost_estimate_sat",
                    "Opening cost assumed for a channel we opened whose funding fee the \
                     node does not report, sat.",
                    2000,
                )
                .range(0.0, 100_000_000.0),
                ParamSpec::integer(
                    "rebalance_cost_ppm",
                    "What buying back a satoshi of drained outbound liquidity costs, ppm; \
                     0 when you do not rebalance.",
                    0,
                )
                .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::integer(
                    "min_fee_ppm",
                    "The fee never goes below this, ppm, even once the cost is repaid.",
                    100,
                )
                .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::integer(
                    "max_fee_ppm",
                    "The fee never goes above this, ppm, however little volume there is.",
                    2500,
                )
                .range(0.0, f64::from(ppm::MILLION)),
            ],
        }
    }

    fn decide(
        host: &mut dyn Host,
        params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String> {
        let config = Config::read(params)?;
        let now = host.now();
        let decisions: Vec<Decision> = channels
            .iter()
            .map(|c| config.decide(host, now, c))
            .collect();
        host.log(
            LogLevel::Debug,
            &format!("{} channels decided", decisions.len()),
        );
        Ok(decisions)
    }
}

lnpolicy_sdk::export_strategy!(CostRecovery);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{ChannelBuilder, TestHost, fixtures, no_flow, run};
    use lnpolicy_sdk::{ChannelView, Decision, FlowStats, FlowWindows, Param};

    use super::{CostRecovery, DAY, Ledger, STATE_LEN, earned_since, state_key};

    const HOUR: u64 = 3600;

    /// A steady week: `out` and `into` sat per day, `fees` msat per day, in every window.
    fn steady(out: u64, into: u64, fees: u64) -> FlowWindows {
        let stats = |days: u64| FlowStats {
            sats_out: out * days,
            sats_in: into * days,
            fees_earned_msat: fees * days,
            ..no_flow()
        };
        FlowWindows {
            day: stats(1),
            week: stats(7),
            month: stats(30),
        }
    }

    /// A channel we opened for `open_cost` sat, at 300 ppm, with this flow.
    fn opened(open_cost: Option<u64>, flow: FlowWindows) -> ChannelView {
        ChannelBuilder::new(1)
            .fee_ppm(300)
            .open_cost_sat(open_cost)
            .flow(flow)
            .build()
    }

    fn one(host: &mut TestHost, params: &[Param], channel: ChannelView) -> Decision {
        run::<CostRecovery>(host, params, &[channel])
            .unwrap()
            .remove(0)
    }

    fn fresh(params: &[Param], channel: ChannelView) -> Decision {
        one(&mut TestHost::new(), params, channel)
    }

    fn ledger(host: &TestHost) -> Ledger {
        Ledger::decode(&host.state[&state_key(1)]).expect("a ledger for channel 1")
    }

    #[test]
    fn the_floor_repays_the_open_cost_within_the_horizon() {
        // 3000 sat over 30 days × 100,000 sat a day = 3,000,000 sat: 1000 ppm
        let d = fresh(&[], opened(Some(3000), steady(100_000, 100_000, 0)));
        assert_eq!(d.fee_ppm, Some(1000));
        assert_eq!(
            d.reason,
            "remaining 3000 sat (owed 3000 of 3000 open cost + 0 rebalancing paid, after 0 \
             earned; rebalancing ahead 0), 3000000 sat out over 30 d at the week's rate → floor \
             1000 ppm → 1000 ppm"
        );
        // a longer horizon spreads it thinner
        let long = [Param::new("horizon_days", 60.0)];
        let d = fresh(&long, opened(Some(3000), steady(100_000, 100_000, 0)));
        assert_eq!(d.fee_ppm, Some(500));
    }

    #[test]
    fn fees_earned_reduce_what_remains() {
        // 1000 sat earned in the last 30 days: 2000 sat left, 666.7 → 667 ppm
        let d = fresh(&[], opened(Some(3000), steady(100_000, 100_000, 33_334)));
        assert_eq!(d.fee_ppm, Some(667));
        let left = "remaining 2000 sat (owed 2000 of 3000 open cost + 0 rebalancing paid, \
                    after 1000 earned";
        assert!(d.reason.starts_with(left), "{}", d.reason);
        // repaid in full: only min_fee_ppm is left
        let d = fresh(&[], opened(Some(3000), steady(100_000, 100_000, 200_000)));
        assert_eq!(d.fee_ppm, Some(100));
        assert!(
            d.reason.contains("floor 0 ppm, min_fee_ppm → 100 ppm"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn unknown_open_cost_uses_the_estimate_and_the_peer_pays_its_own() {
        let d = fresh(&[], opened(None, steady(100_000, 100_000, 0)));
        assert_eq!(d.fee_ppm, Some(667));
        assert!(
            d.reason
                .contains("owed 2000 of an estimated 2000 open cost"),
            "{}",
            d.reason
        );
        let estimate = [Param::new("open_cost_estimate_sat", 6000)];
        let d = fresh(&estimate, opened(None, steady(100_000, 100_000, 0)));
        assert_eq!(d.fee_ppm, Some(2000));
        let theirs = ChannelBuilder::new(1)
            .initiator(false)
            .open_cost_sat(Some(5000))
            .flow(steady(100_000, 100_000, 0))
            .build();
        let d = fresh(&[], theirs);
        assert_eq!(d.fee_ppm, Some(100));
        assert!(
            d.reason.contains("(owed 0 of 0 open cost (peer opened) +"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn rebalancing_the_net_outflow_is_a_cost_too() {
        let rebalance = [Param::new("rebalance_cost_ppm", 800)];
        // peer opened, drains 100,000 sat a day: every sat out must be bought back at 800 ppm
        let drained = ChannelBuilder::new(1)
            .initiator(false)
            .flow(steady(100_000, 0, 0))
            .build();
        let d = fresh(&rebalance, drained);
        assert_eq!(d.fee_ppm, Some(800));
        assert!(d.reason.contains("rebalancing ahead 2400)"), "{}", d.reason);
        // half of it comes back: half of it needs buying
        let d = fresh(&rebalance, opened(Some(0), steady(100_000, 50_000, 0)));
        assert_eq!(d.fee_ppm, Some(400));
        // open cost and rebalancing add up: 1000 + 800
        let d = fresh(&rebalance, opened(Some(3000), steady(100_000, 0, 0)));
        assert_eq!(d.fee_ppm, Some(1800));
        // fees earned beyond the open cost do not pay future rebalancing
        let repaid = opened(Some(1000), steady(100_000, 0, 200_000));
        let d = fresh(&rebalance, repaid);
        assert_eq!(d.fee_ppm, Some(800));
        let left = "remaining 2400 sat (owed 0 of 1000 open cost + 0 rebalancing paid, after \
                    6000 earned";
        assert!(d.reason.starts_with(left), "{}", d.reason);
        // a sink needs no rebalancing
        let d = fresh(&rebalance, opened(Some(3000), steady(100_000, 400_000, 0)));
        assert_eq!(d.fee_ppm, Some(1000));
    }

    #[test]
    fn volume_comes_from_the_week_or_else_the_month() {
        let mut flow = steady(100_000, 100_000, 0);
        flow.week = no_flow();
        flow.day = no_flow();
        let d = fresh(&[], opened(Some(3000), flow));
        assert_eq!(d.fee_ppm, Some(1000));
        assert!(d.reason.contains("at the month's rate"), "{}", d.reason);
    }

    #[test]
    fn without_volume_the_fee_is_kept_within_bounds() {
        let idle = opened(Some(3000), steady(0, 0, 0));
        let d = fresh(&[], idle.clone());
        assert_eq!(d.fee_ppm, Some(300));
        assert_eq!(
            d.reason,
            "remaining 3000 sat (owed 3000 of 3000 open cost + 0 rebalancing paid, after 0 \
             earned; rebalancing ahead 0), no outbound volume in 30 days to spread it over: \
             300 → 300 ppm"
        );
        let floor = [Param::new("min_fee_ppm", 400)];
        assert_eq!(fresh(&floor, idle).fee_ppm, Some(400));
    }

    #[test]
    fn the_fee_is_capped_however_little_volume_there_is() {
        let d = fresh(&[], opened(Some(3000), steady(1000, 1000, 0)));
        assert_eq!(d.fee_ppm, Some(2500));
        assert!(
            d.reason
                .contains("floor 100000 ppm, capped at max_fee_ppm → 2500 ppm"),
            "{}",
            d.reason
        );
    }

    /// A channel opened a day ago moved 300,000 sat out: its week and month hold that one
    /// day. The 3,000 sat open cost is spread over 300,000 sat a day, not over a seventh of it.
    #[test]
    fn a_young_channels_volume_is_over_the_days_it_has_been_open() {
        let day = |sats: u64| FlowStats {
            sats_out: sats,
            ..no_flow()
        };
        let flow = FlowWindows {
            day: day(300_000),
            week: day(300_000),
            month: day(300_000),
        };
        let young = ChannelBuilder::new(1)
            .fee_ppm(300)
            .open_cost_sat(Some(3000))
            .flow(flow)
            .history_days(1.0)
            .build();
        let old = ChannelBuilder::new(1)
            .fee_ppm(300)
            .open_cost_sat(Some(3000))
            .flow(flow)
            .build();
        let young_fee = fresh(&[], young).fee_ppm.unwrap();
        let old_fee = fresh(&[], old).fee_ppm.unwrap();
        assert!(
            young_fee * 5 < old_fee,
            "a day's volume is a day's: {young_fee} against {old_fee} ppm"
        );
    }

    #[test]
    fn the_ledger_adds_the_fees_of_the_time_since_the_last_cycle() {
        let flow = steady(100_000, 100_000, 24_000); // 1000 msat an hour
        let month = 30 * DAY;
        assert_eq!(earned_since(&flow, month, 0), 0);
        assert_eq!(earned_since(&flow, month, HOUR), 1000);
        assert_eq!(earned_since(&flow, month, 3 * DAY), 72_000);
        assert_eq!(earned_since(&flow, month, 40 * DAY), 720_000);
        // Two days of history: the week's 168,000 msat were earned in those two days, so a
        // day and a half is three quarters of them (not 1.5 / 7).
        assert_eq!(earned_since(&flow, 2 * DAY, 3 * DAY / 2), 126_000);
        let mut host = TestHost::new();
        one(&mut host, &[], opened(Some(3000), flow));
        assert_eq!(
            ledger(&host),
            Ledger {
                earned_msat: 720_000,
                at: host.now,
                rebalanced_since: host.now - 30 * DAY,
            }
        );
        host.advance(HOUR);
        one(&mut host, &[], opened(Some(3000), flow));
        assert_eq!(ledger(&host).earned_msat, 721_000);
        // 30 days of 1000 msat/h on top of what it started with: 2160 sat
        for _ in 0..30 * 24 {
            host.advance(HOUR);
            one(&mut host, &[], opened(Some(3000), flow));
        }
        assert_eq!(ledger(&host).earned_msat, 721_000 + 720_000);
        // a clock that went backwards adds nothing
        host.now -= DAY;
        one(&mut host, &[], opened(Some(3000), flow));
        assert_eq!(ledger(&host).earned_msat, 1_441_000);
    }

    #[test]
    fn the_ledger_survives_a_restart_and_bad_state_starts_over() {
        let flow = steady(100_000, 100_000, 24_000);
        let mut host = TestHost::new();
        one(&mut host, &[], opened(Some(3000), flow));
        // a restart: a fresh call with only the host's state carried over, 10 days later
        let mut restarted = TestHost::new();
        restarted.state = host.state.clone();
        restarted.now = host.now + 10 * 24 * HOUR;
        let d = one(&mut restarted, &[], opened(Some(3000), flow));
        // 720 sat at start + 240 sat since: 2040 sat left, 680 ppm
        assert_eq!(ledger(&restarted).earned_msat, 960_000);
        assert_eq!(d.fee_ppm, Some(680));
        // a host without that state knows only the last 30 days again
        let d = one(&mut TestHost::new(), &[], opened(Some(3000), flow));
        assert_eq!(d.fee_ppm, Some(760));
        let mut corrupt = TestHost::new();
        corrupt.state.insert(state_key(1), vec![7; STATE_LEN]);
        one(&mut corrupt, &[], opened(Some(3000), flow));
        assert_eq!(ledger(&corrupt).earned_msat, 720_000);
    }

    #[test]
    fn state_encoding_round_trips() {
        let l = Ledger {
            earned_msat: u64::MAX,
            at: 1_767_225_600,
            rebalanced_since: 1_764_633_600,
        };
        assert_eq!(Ledger::decode(&l.encode()), Some(l));
        assert_eq!(Ledger::decode(&l.encode()[..STATE_LEN - 1]), None);
        assert_eq!(state_key(42), "ch:42");
    }

    /// The bytes of a stored ledger, pinned: a layout change must come with a new version.
    #[test]
    fn ledger_encoding_is_pinned() {
        let l = Ledger {
            earned_msat: 123_456_789_012,
            at: 1_767_225_600,
            rebalanced_since: 1_764_633_600,
        };
        let golden: [u8; 25] = [
            2, 20, 26, 153, 190, 28, 0, 0, 0, 0, 185, 85, 105, 0, 0, 0, 0, 0, 44, 46, 105, 0, 0, 0,
            0,
        ];
        assert_eq!(l.encode()[..], golden);
        assert_eq!(Ledger::decode(&golden), Some(l));
    }

    /// A ledger 0.1 wrote (version 1) keeps its earnings and counts rebalancing from its
    /// last update on.
    #[test]
    fn a_ledger_of_version_1_is_read_on() {
        let v1: [u8; 17] = [
            1, 20, 26, 153, 190, 28, 0, 0, 0, 0, 185, 85, 105, 0, 0, 0, 0,
        ];
        assert_eq!(
            Ledger::decode(&v1),
            Some(Ledger {
                earned_msat: 123_456_789_012,
                at: 1_767_225_600,
                rebalanced_since: 1_767_225_600,
            })
        );
    }

    /// The rebalancing the host measured is owed like the opening cost: from 30 days before
    /// the first cycle on, each rebalance once, however late the node lists it.
    #[test]
    fn rebalancing_paid_is_owed_too() {
        let flow = steady(100_000, 100_000, 0);
        let mut host = TestHost::new();
        let now = host.now;
        // 1000 sat ten days ago, and 5000 sat before the ledger's span
        host.rebalances.insert(
            1,
            vec![(now - 40 * DAY, 5_000_000), (now - 10 * DAY, 1_000_000)],
        );
        let d = one(&mut host, &[], opened(Some(3000), flow));
        // 3000 + 1000 sat over 3,000,000 sat: 1334 ppm
        assert_eq!(d.fee_ppm, Some(1334));
        let owed = "remaining 4000 sat (owed 4000 of 3000 open cost + 1000 rebalancing paid";
        assert!(d.reason.starts_with(owed), "{}", d.reason);
        // a day later the node lists one made before the last cycle: it counts, and the
        // earlier one still counts once
        host.advance(DAY);
        host.rebalances
            .get_mut(&1)
            .unwrap()
            .push((now - HOUR, 500_000));
        let d = one(&mut host, &[], opened(Some(3000), flow));
        assert!(d.reason.contains("+ 1500 rebalancing paid"), "{}", d.reason);
        // a channel the host knows no rebalancing of owes none
        let d = fresh(&[], opened(Some(3000), flow));
        assert!(d.reason.contains("+ 0 rebalancing paid"), "{}", d.reason);
    }

    #[test]
    fn inactive_channels_are_left_unchanged_and_keep_their_ledger() {
        let mut host = TestHost::new();
        let channels = fixtures();
        let decisions = run::<CostRecovery>(&mut host, &[], &channels).unwrap();
        for (c, d) in channels.iter().zip(&decisions) {
            assert_eq!(d.is_unchanged(), !c.active, "{}", d.reason);
            assert_eq!(host.state.contains_key(&state_key(c.channel_id)), c.active);
        }
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        let all = FlowStats {
            sats_out: u64::MAX,
            sats_in: 0,
            fees_earned_msat: u64::MAX,
            ..no_flow()
        };
        let flow = FlowWindows {
            day: all,
            week: all,
            month: all,
        };
        let huge = ChannelBuilder::new(1)
            .capacity_sat(0)
            .balances_sat(0, 0)
            .fee_ppm(u32::MAX)
            .open_cost_sat(Some(u64::MAX))
            .flow(flow)
            .build();
        let params = [
            Param::new("rebalance_cost_ppm", 1_000_000),
            Param::new("max_fee_ppm", 1_000_000),
            Param::new("horizon_days", 1.0),
        ];
        let mut host = TestHost::new();
        for _ in 0..3 {
            let d = one(&mut host, &params, huge.clone());
            assert!(d.fee_ppm.unwrap() <= 1_000_000, "{}", d.reason);
            host.advance(u64::MAX / 4);
        }
        // a single sat of volume against the largest cost: capped, not overflowed
        let tiny = ChannelBuilder::new(2)
            .open_cost_sat(Some(u64::MAX))
            .flow(steady(1, 0, 0))
            .build();
        assert_eq!(fresh(&params, tiny).fee_ppm, Some(1_000_000));
        let idle = ChannelBuilder::new(3).fee_ppm(u32::MAX).build();
        assert_eq!(fresh(&[], idle).fee_ppm, Some(2500));
    }

    #[test]
    fn bad_parameters_are_errors() {
        let err = |params: &[Param]| {
            run::<CostRecovery>(&mut TestHost::new(), params, &fixtures()).unwrap_err()
        };
        assert_eq!(
            err(&[Param::new("min_fee_ppm", 3000)]),
            "min_fee_ppm (3000) must not exceed max_fee_ppm (2500)"
        );
        assert!(err(&[Param::new("horizon_days", 0.5)]).contains("`horizon_days`"));
        assert!(err(&[Param::new("open_cost_estimate_sat", -1)]).contains("`open_cost_estimate"));
        assert!(err(&[Param::new("rebalance_cost_ppm", 2_000_000)]).contains("`rebalance"));
    }
}
