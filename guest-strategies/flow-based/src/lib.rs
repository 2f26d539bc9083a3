//! `flow_based`: the outbound fee follows the direction the channel's liquidity flows.
//!
//! A SOURCE channel (net outflow over the week, as the host classifies it) is draining:
//! its liquidity sells, so it can be priced higher, and a higher price slows the drain. A
//! SINK channel is filling up with liquidity that is not leaving; a lower price lets it
//! leave. A BALANCED channel is where we want it, so its fee holds. CONGESTED and UNKNOWN
//! channels hold too: a slot shortage is not a liquidity direction (a higher fee does not
//! free HTLCs stuck in flight) and without history there is no direction at all.
//!
//! The step grows with the week's net flow relative to the capacity, `|out − in| /
//! capacity` (at most 1): `step_percent` of the fee when the whole capacity moved net, less
//! when less did, never below `min_step_ppm` so that a low fee can still move. The fee stays
//! within `min_fee_ppm..=max_fee_ppm`, and moves at most once per
//! `min_hours_between_moves` since the host's last fee change, because the weekly flow
//! needs days to answer a new price. A SOURCE or SINK moves only while the last day's net
//! flow still goes its way: the week keeps its class for days after a drain stopped, and
//! moving on it every day would compound one drain into several raises. The strategy keeps no state: everything it needs is in
//! the channel view. Inactive channels are left unchanged.

use lnpolicy_sdk::{
    ChannelView, Decision, FlowClass, Host, LogLevel, ParamSpec, Params, Strategy, StrategyInfo,
    ppm,
};

/// The strategy; see the crate documentation for the rules.
pub struct FlowBased;

/// The strategy's own version, reported by `info()`.
pub const VERSION: &str = "0.1.0";

/// The week's net flow, out − in, in satoshi (positive: liquidity left).
pub fn net_flow_sat(channel: &ChannelView) -> i128 {
    let week = &channel.flow.week;
    i128::from(week.sats_out) - i128::from(week.sats_in)
}

/// How hard the channel flows: the week's net flow over the capacity, within `0.0..=1.0`
/// (1 on a zero-capacity channel, where there is nothing to compare with).
pub fn intensity(channel: &ChannelView) -> f64 {
    if channel.capacity_sat == 0 {
        return 1.0;
    }
    (net_flow_sat(channel).unsigned_abs() as f64 / channel.capacity_sat as f64).min(1.0)
}

/// The parameters of one call, read and cross-checked once per batch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Config {
    min_fee_ppm: u32,
    max_fee_ppm: u32,
    step_fraction: f64,
    min_step_ppm: u32,
    min_interval_secs: u64,
}

impl Config {
    fn read(params: &Params) -> Result<Self, String> {
        let hours = params.f64("min_hours_between_moves")?;
        let config = Config {
            min_fee_ppm: params.u32("min_fee_ppm")?,
            max_fee_ppm: params.u32("max_fee_ppm")?,
            step_fraction: params.f64("step_percent")? / 100.0,
            min_step_ppm: params.u32("min_step_ppm")?,
            min_interval_secs: (hours * 3600.0).round() as u64,
        };
        if config.min_fee_ppm > config.max_fee_ppm {
            return Err(format!(
                "min_fee_ppm ({}) must not exceed max_fee_ppm ({})",
                config.min_fee_ppm, config.max_fee_ppm
            ));
        }
        Ok(config)
    }

    /// The step for a fee moving with this intensity.
    fn step(&self, fee: u32, intensity: f64) -> u32 {
        ppm::scale(fee, self.step_fraction * intensity).max(self.min_step_ppm)
    }

    fn decide(&self, channel: &ChannelView, now: u64) -> Decision {
        let id = channel.channel_id;
        if !channel.active {
            return Decision::unchanged(id, "inactive: peer offline, unchanged");
        }
        if let Some(at) = channel.last_fee_change {
            let elapsed = now.saturating_sub(at);
            if elapsed < self.min_interval_secs {
                return Decision::unchanged(
                    id,
                    format!(
                        "waiting: {} of {} h since the last change, unchanged",
                        elapsed / 3600,
                        self.min_interval_secs / 3600
                    ),
                );
            }
        }
        let fee = channel.local_policy.fee_ppm;
        let net = net_flow_sat(channel);
        let flow = format!(
            "net {} {} sat/week = {:.0}% of capacity",
            if net >= 0 { "out" } else { "in" },
            net.unsigned_abs(),
            intensity(channel) * 100.0
        );
        let (class, up) = match channel.flow_class {
            FlowClass::Source => ("source", Some(true)),
            FlowClass::Sink => ("sink", Some(false)),
            FlowClass::Balanced => ("balanced", None),
            FlowClass::Congested => ("congested", None),
            FlowClass::Unknown => ("unknown flow", None),
        };
        let day = &channel.flow.day;
        let day_net = i128::from(day.sats_out) - i128::from(day.sats_in);
        let (class, up) = match up {
            Some(true) if day_net <= 0 => ("source, no net outflow in the last day", None),
            Some(false) if day_net >= 0 => ("sink, no net inflow in the last day", None),
            _ => (class, up),
        };
        let (target, action) = match up {
            Some(up) => {
                let step = self.step(fee, intensity(channel));
                let moved = if up {
                    fee.saturating_add(step)
                } else {
                    fee.saturating_sub(step)
                };
                let verb = if up { "up" } else { "down" };
                (moved, format!("{verb} {step}"))
            }
            None => (fee, "hold".to_owned()),
        };
        let target = ppm::clamp(target, self.min_fee_ppm, self.max_fee_ppm);
        if target == fee {
            let why = match up {
                Some(true) => ", at max_fee_ppm",
                Some(false) => ", at min_fee_ppm",
                None => "",
            };
            return Decision::unchanged(
                id,
                format!("{class}: {flow}, {action}{why}: {fee} ppm, unchanged"),
            );
        }
        Decision::set(id)
            .fee_ppm(target)
            .reason(format!("{class}: {flow}, {action}: {fee} → {target} ppm"))
    }
}

impl Strategy for FlowBased {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "flow_based".into(),
            version: VERSION.into(),
            description: "Outbound fee follows the channel's weekly flow: SOURCE (draining) \
                          channels step up, SINK (filling) channels step down, others hold. \
                          The step grows with the net flow relative to the capacity, stays \
                          within min_fee_ppm..max_fee_ppm and comes at most once per \
                          min_hours_between_moves. Inactive channels are left unchanged."
                .into(),
            params: vec![
                ParamSpec::integer("min_fee_ppm", "The fee never goes below this, ppm.", 1)
                    .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::integer("max_fee_ppm", "The fee never goes above this, ppm.", 2500)
                    .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::float(
                    "step_percent",
                    "Largest step, percent of the fee, taken when the week's net flow \
                     equals the capacity; smaller flows take proportionally smaller steps.",
                    10.0,
                )
                .range(0.0, 100.0),
                ParamSpec::integer(
                    "min_step_ppm",
                    "Smallest step, ppm, so that a low fee can still move.",
                    5,
                )
                .range(1.0, 10_000.0),
                ParamSpec::float(
                    "min_hours_between_moves",
                    "Least time since the channel's last fee change before it moves again, \
                     hours: the weekly flow needs days to answer a new price.",
                    24.0,
                )
                .range(0.0, 720.0),
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
        let decisions: Vec<Decision> = channels.iter().map(|c| config.decide(c, now)).collect();
        let moved = decisions.iter().filter(|d| d.fee_ppm.is_some()).count();
        host.log(
            LogLevel::Debug,
            &format!("{} channels decided, {moved} moved", decisions.len()),
        );
        Ok(decisions)
    }
}

lnpolicy_sdk::export_strategy!(FlowBased);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{ChannelBuilder, TestHost, fixtures, no_flow, run};
    use lnpolicy_sdk::{ChannelView, Decision, FlowClass, FlowStats, FlowWindows, Param};

    use super::{FlowBased, intensity};

    const HOUR: u64 = 3600;

    /// A 1 M sat channel at `fee` whose week moved `out` and `into` sat, a seventh of it in
    /// the last day, of this class.
    fn chan(fee: u32, class: FlowClass, out: u64, into: u64) -> ChannelBuilder {
        let week = FlowStats {
            sats_out: out,
            sats_in: into,
            ..no_flow()
        };
        let day = FlowStats {
            sats_out: out / 7,
            sats_in: into / 7,
            ..no_flow()
        };
        ChannelBuilder::new(1)
            .fee_ppm(fee)
            .flow_class(class)
            .flow(FlowWindows {
                day,
                week,
                month: week,
            })
    }

    /// A drain on one day keeps the week a SOURCE for days: the fee rises while the last
    /// day still drains, and holds once it does not, instead of rising every day of the week.
    #[test]
    fn a_class_moves_the_fee_only_while_the_last_day_still_flows_its_way() {
        let drained_once = |day_out: u64, day_in: u64| {
            let mut c = chan(1000, FlowClass::Source, 1_000_000, 0).build();
            c.flow.day.sats_out = day_out;
            c.flow.day.sats_in = day_in;
            one(&[], c)
        };
        assert_eq!(drained_once(50_000, 0).fee_ppm, Some(1100));
        for (out, into) in [(0, 0), (10_000, 20_000)] {
            let d = drained_once(out, into);
            assert!(d.is_unchanged(), "{d:?}");
            assert!(
                d.reason.contains("no net outflow in the last day"),
                "{}",
                d.reason
            );
        }
        let mut sink = chan(1000, FlowClass::Sink, 0, 500_000).build();
        sink.flow.day = no_flow();
        assert!(one(&[], sink).is_unchanged());
    }

    fn one(params: &[Param], channel: ChannelView) -> Decision {
        run::<FlowBased>(&mut TestHost::new(), params, &[channel])
            .unwrap()
            .remove(0)
    }

    #[test]
    fn a_source_steps_up_by_its_net_flow() {
        // 800 k out, 100 k in: net 70% of capacity → 10% × 0.7 = 7% of 1000
        let d = one(&[], chan(1000, FlowClass::Source, 800_000, 100_000).build());
        assert_eq!(d.fee_ppm, Some(1070));
        assert_eq!(
            d.reason,
            "source: net out 700000 sat/week = 70% of capacity, up 70: 1000 → 1070 ppm"
        );
        // a net flow above the capacity takes the full step, no more
        let d = one(&[], chan(1000, FlowClass::Source, 5_000_000, 0).build());
        assert_eq!(d.fee_ppm, Some(1100));
    }

    #[test]
    fn a_sink_steps_down_by_its_net_flow() {
        let d = one(&[], chan(1000, FlowClass::Sink, 100_000, 700_000).build());
        assert_eq!(d.fee_ppm, Some(940));
        assert_eq!(
            d.reason,
            "sink: net in 600000 sat/week = 60% of capacity, down 60: 1000 → 940 ppm"
        );
    }

    #[test]
    fn balanced_congested_and_unknown_hold() {
        for (class, name) in [
            (FlowClass::Balanced, "balanced"),
            (FlowClass::Congested, "congested"),
            (FlowClass::Unknown, "unknown flow"),
        ] {
            let d = one(&[], chan(300, class, 200_000, 100_000).build());
            assert!(d.is_unchanged(), "{}", d.reason);
            assert_eq!(
                d.reason,
                format!(
                    "{name}: net out 100000 sat/week = 10% of capacity, hold: 300 ppm, unchanged"
                )
            );
        }
    }

    #[test]
    fn small_fees_still_move_by_the_minimum_step() {
        let d = one(&[], chan(10, FlowClass::Source, 600_000, 0).build());
        assert_eq!(d.fee_ppm, Some(15));
        let d = one(&[], chan(3, FlowClass::Sink, 0, 600_000).build());
        assert_eq!(d.fee_ppm, Some(1)); // 3 − 5 stops at min_fee_ppm
        let bigger = [Param::new("min_step_ppm", 40)];
        let d = one(&bigger, chan(100, FlowClass::Source, 600_000, 0).build());
        assert_eq!(d.fee_ppm, Some(140));
    }

    #[test]
    fn fees_stay_within_bounds() {
        let d = one(&[], chan(2450, FlowClass::Source, 900_000, 0).build());
        assert_eq!(d.fee_ppm, Some(2500));
        let d = one(&[], chan(2500, FlowClass::Source, 900_000, 0).build());
        assert!(d.is_unchanged());
        assert!(d.reason.contains("up 225, at max_fee_ppm"), "{}", d.reason);
        let floor = [Param::new("min_fee_ppm", 50)];
        let d = one(&floor, chan(50, FlowClass::Sink, 0, 900_000).build());
        assert!(d.reason.contains("at min_fee_ppm"), "{}", d.reason);
        // a held fee outside the bounds is brought inside
        let d = one(&floor, chan(20, FlowClass::Balanced, 0, 0).build());
        assert_eq!(d.fee_ppm, Some(50));
        assert!(d.reason.contains("hold: 20 → 50 ppm"), "{}", d.reason);
        let d = one(&[], chan(9000, FlowClass::Sink, 0, 900_000).build());
        assert_eq!(d.fee_ppm, Some(2500));
    }

    #[test]
    fn waits_after_a_fee_change() {
        let host = TestHost::new();
        let recent = chan(1000, FlowClass::Source, 900_000, 0)
            .last_fee_change(host.now - 5 * HOUR)
            .build();
        let d = one(&[], recent.clone());
        assert!(d.is_unchanged());
        assert_eq!(
            d.reason,
            "waiting: 5 of 24 h since the last change, unchanged"
        );
        let quick = [Param::new("min_hours_between_moves", 4.0)];
        assert_eq!(one(&quick, recent).fee_ppm, Some(1090));
        let old = chan(1000, FlowClass::Source, 900_000, 0)
            .last_fee_change(host.now - 24 * HOUR)
            .build();
        assert_eq!(one(&[], old).fee_ppm, Some(1090));
        // a change stamped in the future does not underflow: it waits
        let future = chan(1000, FlowClass::Source, 900_000, 0)
            .last_fee_change(u64::MAX)
            .build();
        assert!(one(&[], future).is_unchanged());
    }

    #[test]
    fn inactive_channels_are_left_unchanged() {
        let mut host = TestHost::new();
        let channels = fixtures();
        let decisions = run::<FlowBased>(&mut host, &[], &channels).unwrap();
        for (c, d) in channels.iter().zip(&decisions) {
            if !c.active {
                assert!(d.is_unchanged() && d.reason.contains("inactive"));
            }
        }
        assert!(host.logs[0].1.contains("moved"));
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        assert_eq!(
            intensity(&chan(1, FlowClass::Source, 5, 0).capacity_sat(0).build()),
            1.0
        );
        let zero = chan(100, FlowClass::Source, u64::MAX, 0)
            .capacity_sat(0)
            .build();
        assert_eq!(one(&[], zero).fee_ppm, Some(110));
        let no_max = [Param::new("max_fee_ppm", 1_000_000)];
        let huge = chan(u32::MAX, FlowClass::Source, u64::MAX, 0).build();
        assert_eq!(one(&no_max, huge).fee_ppm, Some(1_000_000));
        let sink = chan(u32::MAX, FlowClass::Sink, 0, u64::MAX).build();
        assert_eq!(one(&no_max, sink).fee_ppm, Some(1_000_000));
        let zero_fee = chan(0, FlowClass::Sink, 0, u64::MAX).build();
        let d = one(&[Param::new("min_fee_ppm", 0)], zero_fee);
        assert!(d.is_unchanged(), "{}", d.reason);
    }

    #[test]
    fn bad_parameters_are_errors() {
        let err = |params: &[Param]| {
            run::<FlowBased>(&mut TestHost::new(), params, &fixtures()).unwrap_err()
        };
        assert_eq!(
            err(&[Param::new("min_fee_ppm", 3000)]),
            "min_fee_ppm (3000) must not exceed max_fee_ppm (2500)"
        );
        assert!(err(&[Param::new("step_percent", 150.0)]).contains("`step_percent`"));
        assert!(err(&[Param::new("min_step_ppm", 0)]).contains("`min_step_ppm`"));
        assert!(err(&[Param::new("min_hours_between_moves", -1.0)]).contains("`min_hours"));
    }
}
