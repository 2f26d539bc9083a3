//! `balance_based`: prices each channel by how much of its balance is on our side.
//!
//! Outbound liquidity is the stock a routing node sells. When a channel is nearly drained,
//! the little that is left is scarce and should cost more (which also slows the drain);
//! when it is nearly full, the liquidity is idle and should be cheap so that payments leave
//! through it. So the outbound fee falls as the local ratio rises:
//!
//! ```text
//! fee_ppm = min_fee_ppm + (max_fee_ppm − min_fee_ppm) × (1 − local_ratio)^exponent
//! ```
//!
//! Optionally, drained channels also get a negative inbound fee. A forward that *enters*
//! our node through a channel moves balance to our side of it, so a discount on incoming
//! forwards refills exactly the channels that are low. (The lnflow design this strategy
//! descends from offers the discount on channels with a *high* local balance; that pushes
//! more liquidity into channels that are already full and drains the others, so it is the
//! wrong way round.)
//!
//! Inactive channels are left unchanged: their peer is offline, nothing routes through
//! them, and a policy update would only spend gossip rate limit.

use lnpolicy_sdk::{
    ChannelView, Decision, Host, LogLevel, ParamSpec, Params, Reason, Runway, Strategy,
    StrategyInfo, local_ratio, ppm, runway_days,
};

/// The strategy; see the crate documentation for the rules.
pub struct BalanceBased;

/// The strategy's own version, reported by `info()`.
pub const VERSION: &str = "0.4.0";

/// The parameters of one call, read and cross-checked once per batch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Config {
    min_fee_ppm: u32,
    max_fee_ppm: u32,
    exponent: f64,
    low_ratio: f64,
    mid_ratio: f64,
    inbound_discount_ppm: u32,
    runway: Runway,
}

impl Config {
    fn read(params: &Params) -> Result<Self, String> {
        let config = Config {
            min_fee_ppm: params.u32("min_fee_ppm")?,
            max_fee_ppm: params.u32("max_fee_ppm")?,
            exponent: params.f64("exponent")?,
            low_ratio: params.f64("low_ratio")?,
            mid_ratio: params.f64("mid_ratio")?,
            inbound_discount_ppm: params.u32("inbound_discount_ppm")?,
            runway: Runway::read(params)?,
        };
        if config.min_fee_ppm > config.max_fee_ppm {
            return Err(format!(
                "min_fee_ppm ({}) must not exceed max_fee_ppm ({})",
                config.min_fee_ppm, config.max_fee_ppm
            ));
        }
        if config.low_ratio > config.mid_ratio {
            return Err(format!(
                "low_ratio ({}) must not exceed mid_ratio ({})",
                config.low_ratio, config.mid_ratio
            ));
        }
        Ok(config)
    }

    /// The outbound rate for a channel with this local ratio.
    fn fee_ppm(&self, ratio: f64) -> u32 {
        let share = (1.0 - ratio).clamp(0.0, 1.0);
        // powf is a software routine in wasm; the default curve needs none.
        let scarcity = if self.exponent == 1.0 {
            share
        } else {
            share.powf(self.exponent)
        };
        ppm::lerp(self.min_fee_ppm, self.max_fee_ppm, scarcity)
    }

    /// The inbound rate for a channel with this local ratio and outbound rate: the full
    /// discount below `low_ratio`, half of it up to `mid_ratio`, none above; never below
    /// `-fee_ppm`, so a forward's total fee stays non-negative.
    fn inbound_fee_ppm(&self, ratio: f64, fee_ppm: u32) -> i32 {
        let discount = if ratio < self.low_ratio {
            self.inbound_discount_ppm
        } else if ratio < self.mid_ratio {
            self.inbound_discount_ppm / 2
        } else {
            0
        };
        ppm::discount(discount, fee_ppm)
    }

    fn decide(&self, channel: &ChannelView) -> Decision {
        if !channel.active {
            return Decision::unchanged(channel.channel_id, "inactive: peer offline, unchanged");
        }
        let ratio = local_ratio(channel);
        let factor = self.runway.factor(channel);
        let fee = ppm::clamp(
            ppm::scale(self.fee_ppm(ratio), factor),
            self.min_fee_ppm,
            self.max_fee_ppm,
        );
        let percent = (ratio * 100.0).round() as u32;
        let decision = Decision::set(channel.channel_id).fee_ppm(fee);
        // With the discount switched off, leave whatever inbound fee the operator set alone.
        let mut reason = Reason::new("local ").int(percent).text("%");
        if factor > 1.0 {
            let days = runway_days(channel).unwrap_or(0.0);
            reason = reason
                .text(", runway ")
                .int(days.round() as i64)
                .text(" days x")
                .int((factor * 100.0).round() as i64)
                .text("%");
        }
        let reason = reason.text(" → ").int(fee).text(" ppm");
        if self.inbound_discount_ppm == 0 {
            return decision.reason(reason.finish());
        }
        let inbound = self.inbound_fee_ppm(ratio, fee);
        decision
            .inbound_fee_ppm(inbound)
            .reason(reason.text(", inbound ").int(inbound).text(" ppm").finish())
    }
}

impl Strategy for BalanceBased {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "balance_based".into(),
            version: VERSION.into(),
            description: "Outbound fee follows the channel's balance: max_fee_ppm when our \
                          side is empty, min_fee_ppm when it is full, along a curve shaped by \
                          exponent. Optionally offers a negative inbound fee on drained \
                          channels so that incoming forwards refill them. Inactive channels \
                          are left unchanged."
                .into(),
            params: [
                ParamSpec::integer(
                    "min_fee_ppm",
                    "Outbound fee when all of the balance is on our side, ppm.",
                    50,
                )
                .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::integer(
                    "max_fee_ppm",
                    "Outbound fee when none of the balance is on our side, ppm (also the \
                     ceiling of the runway multiplier).",
                    1500,
                )
                .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::float(
                    "exponent",
                    "Curve shape: 1 is linear, above 1 stays cheap longer as the channel \
                     drains, below 1 gets expensive sooner.",
                    1.0,
                )
                .range(0.1, 10.0),
                ParamSpec::float(
                    "low_ratio",
                    "Below this local ratio the full inbound discount applies.",
                    0.2,
                )
                .range(0.0, 1.0),
                ParamSpec::float(
                    "mid_ratio",
                    "Below this local ratio (and from low_ratio) half the inbound discount \
                     applies.",
                    0.4,
                )
                .range(0.0, 1.0),
                ParamSpec::integer(
                    "inbound_discount_ppm",
                    "Inbound discount offered on drained channels, ppm; 0 leaves inbound fees \
                     alone.",
                    0,
                )
                .range(0.0, f64::from(ppm::MILLION)),
            ]
            .into_iter()
            .chain(Runway::params(30.0))
            .collect(),
        }
    }

    fn decide(
        host: &mut dyn Host,
        params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String> {
        let config = Config::read(params)?;
        let decisions: Vec<Decision> = channels.iter().map(|c| config.decide(c)).collect();
        let inactive = channels.iter().filter(|c| !c.active).count();
        host.log(
            LogLevel::Debug,
            &format!(
                "{} channels decided, {inactive} inactive left unchanged",
                decisions.len()
            ),
        );
        Ok(decisions)
    }
}

lnpolicy_sdk::export_strategy!(BalanceBased);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{ChannelBuilder, TestHost, fixtures, no_flow, run};
    use lnpolicy_sdk::{ChannelView, Decision, FlowWindows, Param};

    use super::BalanceBased;

    fn decide(params: &[Param], channels: &[ChannelView]) -> Result<Vec<Decision>, String> {
        run::<BalanceBased>(&mut TestHost::new(), params, channels)
    }

    /// The single decision for one channel at this local ratio.
    fn at(ratio: f64, params: &[Param]) -> Decision {
        let channel = ChannelBuilder::new(1).local_ratio(ratio).build();
        decide(params, &[channel]).unwrap().remove(0)
    }

    fn fee_at(ratio: f64, params: &[Param]) -> u32 {
        at(ratio, params).fee_ppm.unwrap()
    }

    fn inbound_at(ratio: f64, discount: i64) -> Option<i32> {
        at(ratio, &[Param::new("inbound_discount_ppm", discount)]).inbound_fee_ppm
    }

    #[test]
    fn defaults_decide_every_fixture() {
        let channels = fixtures();
        let mut host = TestHost::new();
        let decisions = run::<BalanceBased>(&mut host, &[], &channels).unwrap();
        let fees: Vec<Option<u32>> = decisions.iter().map(|d| d.fee_ppm).collect();
        // balanced, drained, full, inactive, private 30%, 70% with an inbound discount
        assert_eq!(
            fees,
            vec![
                Some(775),
                Some(1428),
                Some(123),
                None,
                Some(1065),
                Some(485)
            ]
        );
        assert!(decisions.iter().all(|d| d.inbound_fee_ppm.is_none()));
        assert_eq!(host.logs.len(), 1);
        assert!(host.logs[0].1.contains("1 inactive"), "{:?}", host.logs);
    }

    #[test]
    fn fee_falls_monotonically_as_local_balance_rises() {
        for exponent in [0.1, 0.5, 1.0, 2.0, 10.0] {
            let params = [Param::new("exponent", exponent)];
            let fees: Vec<u32> = (0..=100)
                .map(|pct| fee_at(f64::from(pct) / 100.0, &params))
                .collect();
            assert!(
                fees.windows(2).all(|w| w[0] >= w[1]),
                "exponent {exponent}: {fees:?}"
            );
        }
    }

    #[test]
    fn fee_spans_exactly_min_to_max() {
        let params = [
            Param::new("min_fee_ppm", 50),
            Param::new("max_fee_ppm", 2500),
        ];
        assert_eq!(fee_at(0.0, &params), 2500);
        assert_eq!(fee_at(1.0, &params), 50);
        for pct in 0..=100 {
            let fee = fee_at(f64::from(pct) / 100.0, &params);
            assert!((50..=2500).contains(&fee), "{pct}% gave {fee}");
        }
        let flat = [
            Param::new("min_fee_ppm", 300),
            Param::new("max_fee_ppm", 300),
        ];
        assert_eq!(fee_at(0.37, &flat), 300);
    }

    #[test]
    fn exponent_shapes_the_curve() {
        // 50 + 1450 × 0.5² = 412.5, rounded to the nearest ppm
        assert_eq!(fee_at(0.5, &[Param::new("exponent", 2.0)]), 413);
        // 50 + 1450 × 0.5^0.5 = 1075.3
        assert_eq!(fee_at(0.5, &[Param::new("exponent", 0.5)]), 1075);
        // an integer is accepted for the float parameter
        assert_eq!(fee_at(0.5, &[Param::new("exponent", 1)]), 775);
    }

    #[test]
    fn reason_says_ratio_and_fee() {
        assert_eq!(at(0.23, &[]).reason, "local 23% → 1167 ppm");
        let with_discount = at(0.1, &[Param::new("inbound_discount_ppm", 80)]);
        assert_eq!(
            with_discount.reason,
            "local 10% → 1355 ppm, inbound -80 ppm"
        );
    }

    #[test]
    fn inbound_discount_follows_the_balance_bands() {
        assert_eq!(inbound_at(0.0, 100), Some(-100));
        assert_eq!(inbound_at(0.19, 100), Some(-100));
        assert_eq!(inbound_at(0.2, 100), Some(-50));
        assert_eq!(inbound_at(0.39, 100), Some(-50));
        assert_eq!(inbound_at(0.4, 100), Some(0));
        assert_eq!(inbound_at(0.95, 100), Some(0));
    }

    #[test]
    fn inbound_bands_follow_their_parameters() {
        let params = [
            Param::new("inbound_discount_ppm", 60),
            Param::new("low_ratio", 0.5),
            Param::new("mid_ratio", 0.8),
        ];
        assert_eq!(at(0.45, &params).inbound_fee_ppm, Some(-60));
        assert_eq!(at(0.7, &params).inbound_fee_ppm, Some(-30));
        assert_eq!(at(0.85, &params).inbound_fee_ppm, Some(0));
    }

    #[test]
    fn inbound_discount_off_leaves_inbound_alone() {
        assert_eq!(inbound_at(0.05, 0), None);
        let existing = ChannelBuilder::new(5)
            .local_ratio(0.05)
            .inbound_fee_ppm(-40)
            .build();
        let decision = decide(&[], &[existing]).unwrap().remove(0);
        assert_eq!(decision.inbound_fee_ppm, None);
    }

    #[test]
    fn inbound_discount_never_exceeds_the_outbound_fee() {
        let params = [
            Param::new("inbound_discount_ppm", 500),
            Param::new("min_fee_ppm", 20),
            Param::new("max_fee_ppm", 40),
        ];
        for pct in 0..=100 {
            let d = at(f64::from(pct) / 100.0, &params);
            let (fee, inbound) = (d.fee_ppm.unwrap(), d.inbound_fee_ppm.unwrap());
            assert!(inbound <= 0, "{pct}%: inbound {inbound}");
            assert!(
                i64::from(inbound) >= -i64::from(fee),
                "{pct}%: {inbound} vs {fee}"
            );
        }
        assert_eq!(at(0.0, &params).inbound_fee_ppm, Some(-40));
    }

    #[test]
    fn inactive_channels_are_left_unchanged() {
        let offline = ChannelBuilder::new(9)
            .local_ratio(0.02)
            .active(false)
            .build();
        let params = [Param::new("inbound_discount_ppm", 100)];
        let decision = decide(&params, &[offline]).unwrap().remove(0);
        assert!(decision.is_unchanged());
        assert!(decision.reason.contains("inactive"), "{}", decision.reason);
    }

    #[test]
    fn a_draining_channel_is_charged_by_its_runway_up_to_max_fee() {
        let month = |out: u64| {
            let mut windows = FlowWindows {
                day: no_flow(),
                week: no_flow(),
                month: no_flow(),
            };
            windows.month.sats_out = out;
            windows
        };
        // 25,000 sat a day out moves half of 1,000,000 sat in 20 days of runway, against the
        // default 30: the curve's 775 ppm × 1.5
        let draining = ChannelBuilder::new(1).flow(month(30 * 25_000)).build();
        let d = decide(&[], std::slice::from_ref(&draining))
            .unwrap()
            .remove(0);
        assert_eq!(d.fee_ppm, Some(1163));
        assert_eq!(d.reason, "local 50%, runway 20 days x150% → 1163 ppm");
        // a fast drain is capped by max_runway_factor, then by max_fee_ppm
        let fast = ChannelBuilder::new(2).flow(month(30 * 200_000)).build();
        let capped = [Param::new("max_runway_factor", 1.2)];
        assert_eq!(
            decide(&capped, std::slice::from_ref(&fast)).unwrap()[0].fee_ppm,
            Some(930)
        );
        assert_eq!(decide(&[], &[fast]).unwrap()[0].fee_ppm, Some(1500));
        // switched off, or a slow drain: the plain curve
        let off = [Param::new("target_runway_days", 0.0)];
        assert_eq!(decide(&off, &[draining]).unwrap()[0].fee_ppm, Some(775));
        let slow = ChannelBuilder::new(3).flow(month(30 * 10_000)).build();
        assert_eq!(decide(&[], &[slow]).unwrap()[0].fee_ppm, Some(775));
    }

    #[test]
    fn empty_channel_counts_as_balanced() {
        let empty = ChannelBuilder::new(3).balances_sat(0, 0).build();
        assert_eq!(decide(&[], &[empty]).unwrap()[0].fee_ppm, Some(775));
    }

    #[test]
    fn empty_batch_is_fine() {
        assert_eq!(decide(&[], &[]), Ok(vec![]));
    }

    #[test]
    fn bad_parameters_are_errors_naming_them() {
        let err = |params: &[Param]| decide(params, &fixtures()).unwrap_err();
        assert_eq!(
            err(&[Param::new("exponent", 20.0)]),
            "parameter `exponent`: 20 is above the maximum 10"
        );
        assert_eq!(
            err(&[Param::new("exponent", 0.05)]),
            "parameter `exponent`: 0.05 is below the minimum 0.1"
        );
        assert_eq!(
            err(&[Param::new("min_fee_ppm", 2000)]),
            "min_fee_ppm (2000) must not exceed max_fee_ppm (1500)"
        );
        assert_eq!(
            err(&[Param::new("low_ratio", 0.5)]),
            "low_ratio (0.5) must not exceed mid_ratio (0.4)"
        );
        assert!(
            err(&[Param::new("max_fee_ppm", 12.5)]).contains("`max_fee_ppm`: expected an integer")
        );
        assert!(err(&[Param::new("inbound_discount_ppm", -10)]).contains("`inbound_discount_ppm`"));
        assert!(err(&[Param::new("mid_ratio", "high")]).contains("`mid_ratio`"));
    }
}
