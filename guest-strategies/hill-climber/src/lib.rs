//! `hill_climber`: perturb-and-observe fee search on each channel's revenue rate.
//!
//! Revenue through a channel is `volume × fee`; volume falls as the fee rises, so revenue
//! has a peak somewhere and nobody knows where. The climber finds it by experiment: it
//! moves the fee one step, waits, and compares the revenue rate the host reports since that
//! change (`revenue_rate_msat_per_hour`) with the rate before it:
//!
//! - no memory of the channel yet: explore upward by the initial step,
//!   `max(50 ppm, 5% of the fee)` limited to 10..=200 ppm;
//! - revenue moved more than 50% either way: the landscape changed, reset the step to the
//!   initial step (keep the direction on a gain, reverse it on a loss);
//! - revenue rose more than 20%: keep going, step doubled;
//! - revenue rose (more than 2%): keep going, same step;
//! - revenue fell (more than 2%): reverse, step halved;
//! - revenue flat (within ±2%): keep the direction, step halved; with no revenue at all
//!   before and after, head down instead (nothing routes at this price);
//!
//! with the step always kept within 10..=200 ppm. A move that a bound would cancel turns
//! around. Moves are at least `min_hours_between_moves` apart, counted from the later of
//! the host's `last_fee_change` and the climber's own last move.
//!
//! The fee actually set is the climber's position biased by the channel's profitability
//! (underwater ×1.2, zombie ×0.8, others ×1.0) and by its balance (× `1 + balance_weight ×
//! (1 − 2 × local ratio)`), raised to `low_balance_floor_ppm` when the
//! local balance is below `low_balance_ratio`, and finally kept within
//! `min_fee_ppm..=max_fee_ppm`. The position, the last revenue rate, the direction, the step
//! and the time of the move live in the host's state under `ch:<channel_id>`, so the search
//! survives restarts. Inactive channels are left unchanged.

use lnpolicy_sdk::{
    ChannelView, Decision, Host, LogLevel, ParamSpec, Params, Profitability, Reason, Strategy,
    StrategyInfo, local_ratio, ppm,
};

/// The strategy; see the crate documentation for the rules.
pub struct HillClimber;

/// The strategy's own version, reported by `info()`.
pub const VERSION: &str = "0.1.0";

/// Smallest step, ppm.
pub const MIN_STEP_PPM: u32 = 10;
/// Largest step, ppm.
pub const MAX_STEP_PPM: u32 = 200;
/// Revenue changes within ±this fraction count as flat.
pub const FLAT_BAND: f64 = 0.02;
/// A gain above this fraction doubles the step.
pub const BIG_GAIN: f64 = 0.2;
/// A move of more than this fraction either way resets the step.
pub const VOLATILITY_RESET: f64 = 0.5;

/// The initial step for a fee: `max(50 ppm, 5% of it)`, within the step bounds.
pub fn initial_step(fee_ppm: u32) -> u32 {
    ppm::clamp(
        ppm::scale(fee_ppm, 0.05).max(50),
        MIN_STEP_PPM,
        MAX_STEP_PPM,
    )
}

/// The state key of one channel: `ch:<channel_id>` in decimal.
pub fn state_key(channel_id: u64) -> String {
    Reason::new("ch:").uint(channel_id).finish()
}

/// What the climber remembers about one channel between cycles.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Climber {
    /// The climber's position (before profitability bias and floors), ppm.
    pub base_fee_ppm: u32,
    /// Revenue rate observed when the last move was made, msat per hour.
    pub last_rate: f64,
    /// Direction of the last move: true is up.
    pub up: bool,
    /// Size of the last move, ppm.
    pub step_ppm: u32,
    /// Unix time of the last move.
    pub moved_at: u64,
}

/// Encoding version, the first byte of a stored [`Climber`].
pub const STATE_VERSION: u8 = 1;
/// Length of a stored [`Climber`] in bytes.
pub const STATE_LEN: usize = 26;

impl Climber {
    /// Fixed little-endian layout: version (1), base fee u32 (4), last rate f64 (8),
    /// direction (1: 1 up, 0 down), step u32 (4), moved-at u64 (8).
    pub fn encode(&self) -> [u8; STATE_LEN] {
        let mut out = [0u8; STATE_LEN];
        out[0] = STATE_VERSION;
        out[1..5].copy_from_slice(&self.base_fee_ppm.to_le_bytes());
        out[5..13].copy_from_slice(&self.last_rate.to_le_bytes());
        out[13] = u8::from(self.up);
        out[14..18].copy_from_slice(&self.step_ppm.to_le_bytes());
        out[18..26].copy_from_slice(&self.moved_at.to_le_bytes());
        out
    }

    /// The stored climber, or `None` for anything this version did not write (the channel
    /// then starts over).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != STATE_LEN || bytes[0] != STATE_VERSION || bytes[13] > 1 {
            return None;
        }
        let base_fee_ppm = u32::from_le_bytes(bytes[1..5].try_into().ok()?);
        let last_rate = f64::from_le_bytes(bytes[5..13].try_into().ok()?);
        let step_ppm = u32::from_le_bytes(bytes[14..18].try_into().ok()?);
        let moved_at = u64::from_le_bytes(bytes[18..26].try_into().ok()?);
        if !last_rate.is_finite() || last_rate < 0.0 {
            return None;
        }
        Some(Climber {
            base_fee_ppm,
            last_rate,
            up: bytes[13] == 1,
            step_ppm: ppm::clamp(step_ppm, MIN_STEP_PPM, MAX_STEP_PPM),
            moved_at,
        })
    }
}

/// How the revenue rate moved since the last move.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Observation {
    First,
    Reset { gain: bool },
    BigGain,
    Gain,
    Loss,
    Flat,
    Idle,
}

fn observe(prev: f64, cur: f64) -> (Observation, Option<i64>) {
    if prev <= 0.0 {
        return if cur <= 0.0 {
            (Observation::Idle, None)
        } else {
            (Observation::Reset { gain: true }, None)
        };
    }
    let change = (cur - prev) / prev;
    let pct = Some((change * 100.0).round().clamp(-1e9, 1e9) as i64);
    let obs = if change.abs() > VOLATILITY_RESET {
        Observation::Reset { gain: change > 0.0 }
    } else if change > BIG_GAIN {
        Observation::BigGain
    } else if change > FLAT_BAND {
        Observation::Gain
    } else if change < -FLAT_BAND {
        Observation::Loss
    } else {
        Observation::Flat
    };
    (obs, pct)
}

/// Revenue rates the climber can compare: non-finite or negative counts as none.
fn sane_rate(rate: f64) -> f64 {
    if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        0.0
    }
}

/// The profitability bias applied to the climber's position.
pub fn multiplier(profitability: Profitability) -> f64 {
    match profitability {
        Profitability::Underwater => 1.2,
        Profitability::Zombie => 0.8,
        Profitability::Profitable | Profitability::BreakEven | Profitability::Unknown => 1.0,
    }
}

/// `1 + weight × (1 − 2 × local ratio)`: above 1 while the channel drains, below 1 while it
/// fills, so the price also steers liquidity (1 at an even balance, or with weight 0).
pub fn balance_factor(local_ratio: f64, weight: f64) -> f64 {
    let ratio = if local_ratio.is_finite() {
        local_ratio.clamp(0.0, 1.0)
    } else {
        0.5
    };
    (1.0 + weight * (1.0 - 2.0 * ratio)).max(0.0)
}

/// The parameters of one call, read and cross-checked once per batch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Config {
    min_fee_ppm: u32,
    max_fee_ppm: u32,
    min_interval_secs: u64,
    low_balance_ratio: f64,
    low_balance_floor_ppm: u32,
    balance_weight: f64,
}

impl Config {
    fn read(params: &Params) -> Result<Self, String> {
        let hours = params.f64("min_hours_between_moves")?;
        let config = Config {
            min_fee_ppm: params.u32("min_fee_ppm")?,
            max_fee_ppm: params.u32("max_fee_ppm")?,
            min_interval_secs: (hours * 3600.0).round() as u64,
            low_balance_ratio: params.f64("low_balance_ratio")?,
            low_balance_floor_ppm: params.u32("low_balance_floor_ppm")?,
            balance_weight: params.f64("balance_weight")?,
        };
        if config.min_fee_ppm > config.max_fee_ppm {
            return Err(format!(
                "min_fee_ppm ({}) must not exceed max_fee_ppm ({})",
                config.min_fee_ppm, config.max_fee_ppm
            ));
        }
        Ok(config)
    }

    fn decide(&self, host: &mut dyn Host, now: u64, channel: &ChannelView) -> Decision {
        let id = channel.channel_id;
        if !channel.active {
            return Decision::unchanged(id, "inactive: peer offline, unchanged");
        }
        let key = state_key(id);
        let stored = host
            .state_get(&key)
            .and_then(|bytes| Climber::decode(&bytes));
        let last_move = match (channel.last_fee_change, stored.map(|s| s.moved_at)) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if let Some(at) = last_move {
            let elapsed = now.saturating_sub(at);
            if elapsed < self.min_interval_secs {
                let reason = Reason::new("waiting: ")
                    .int((elapsed / 60) as i64)
                    .text(" of ")
                    .int((self.min_interval_secs / 60) as i64)
                    .text(" min since the last move, unchanged")
                    .finish();
                return Decision::unchanged(id, reason);
            }
        }

        let rate = sane_rate(channel.revenue_rate_msat_per_hour);
        let (obs, pct, base, mut up, mut step) = match stored {
            None => {
                let fee = channel.local_policy.fee_ppm;
                (Observation::First, None, fee, true, initial_step(fee))
            }
            Some(s) => {
                let (obs, pct) = observe(s.last_rate, rate);
                let (up, step) = match obs {
                    Observation::First => (true, initial_step(s.base_fee_ppm)),
                    Observation::Reset { gain } => (s.up == gain, initial_step(s.base_fee_ppm)),
                    Observation::BigGain => (s.up, s.step_ppm.saturating_mul(2)),
                    Observation::Gain => (s.up, s.step_ppm),
                    Observation::Loss => (!s.up, s.step_ppm / 2),
                    Observation::Flat => (s.up, s.step_ppm / 2),
                    Observation::Idle => (false, s.step_ppm / 2),
                };
                (obs, pct, s.base_fee_ppm, up, step)
            }
        };
        step = ppm::clamp(step, MIN_STEP_PPM, MAX_STEP_PPM);
        let mut target = self.step_from(base, up, step);
        let mut turned = false;
        if target == base {
            // A bound cancels the move: turn around rather than stand still.
            up = !up;
            target = self.step_from(base, up, step);
            turned = true;
        }

        let ratio = local_ratio(channel);
        let bias = multiplier(channel.profitability) * balance_factor(ratio, self.balance_weight);
        let mut fee = ppm::scale(target, bias);
        let low = ratio < self.low_balance_ratio;
        if low {
            fee = fee.max(self.low_balance_floor_ppm);
        }
        let fee = ppm::clamp(fee, self.min_fee_ppm, self.max_fee_ppm);

        let climber = Climber {
            base_fee_ppm: target,
            last_rate: rate,
            up,
            step_ppm: step,
            moved_at: now,
        };
        host.state_set(&key, &climber.encode());

        let mut reason = Reason::new(match obs {
            Observation::First => "first move, exploring",
            Observation::Reset { .. } => "revenue swing, step reset",
            Observation::BigGain => "revenue up, step doubled",
            Observation::Gain => "revenue up, continuing",
            Observation::Loss => "revenue down, reversing, step halved",
            Observation::Flat => "revenue flat, step halved",
            Observation::Idle => "no revenue, heading down",
        });
        if let Some(pct) = pct {
            reason = reason.text(" (");
            if pct >= 0 {
                reason = reason.text("+");
            }
            reason = reason.int(pct).text("%)");
        }
        if turned {
            reason = reason.text(", turned at bound");
        }
        reason = reason
            .text(if up { ": up " } else { ": down " })
            .int(step)
            .text(" to ")
            .int(target)
            .text(" ppm");
        reason = match channel.profitability {
            Profitability::Underwater => reason.text(", underwater x1.2"),
            Profitability::Zombie => reason.text(", zombie x0.8"),
            _ => reason,
        };
        if low {
            reason = reason.text(", low-balance floor");
        }
        Decision::set(id)
            .fee_ppm(fee)
            .reason(reason.text(" → ").int(fee).text(" ppm").finish())
    }

    /// One step from `base` in a direction, within `min_fee_ppm..=max_fee_ppm`.
    fn step_from(&self, base: u32, up: bool, step: u32) -> u32 {
        let moved = if up {
            base.saturating_add(step)
        } else {
            base.saturating_sub(step)
        };
        ppm::clamp(moved, self.min_fee_ppm, self.max_fee_ppm)
    }
}

impl Strategy for HillClimber {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "hill_climber".into(),
            version: VERSION.into(),
            description: "Perturb and observe: moves each channel's fee one step at a time and \
                          keeps the direction while the revenue rate since the last change \
                          rises, reversing and halving the step when it falls. Biased by \
                          profitability, floored on channels with little local balance, kept \
                          within min_fee_ppm..max_fee_ppm; per-channel state survives \
                          restarts. Inactive channels are left unchanged."
                .into(),
            params: vec![
                ParamSpec::integer(
                    "min_fee_ppm",
                    "Economic floor: the fee never goes below this, ppm.",
                    1,
                )
                .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::integer(
                    "max_fee_ppm",
                    "Ceiling: the fee never goes above this, ppm.",
                    2500,
                )
                .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::float(
                    "min_hours_between_moves",
                    "Least time between two moves on a channel, hours, so that the revenue \
                     rate has time to respond.",
                    24.0,
                )
                .range(0.0, 720.0),
                ParamSpec::float(
                    "low_balance_ratio",
                    "Below this local balance ratio the low-balance floor applies.",
                    0.15,
                )
                .range(0.0, 1.0),
                ParamSpec::float(
                    "balance_weight",
                    "How much the local balance steers the fee around the climber's position: \
                     the fee is multiplied by 1 + weight × (1 − 2 × local ratio).",
                    0.5,
                )
                .range(0.0, 1.0),
                ParamSpec::integer(
                    "low_balance_floor_ppm",
                    "Least fee on a channel whose local ratio is below low_balance_ratio, \
                     ppm (still capped by max_fee_ppm).",
                    200,
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
        let moved = decisions.iter().filter(|d| d.fee_ppm.is_some()).count();
        host.log(
            LogLevel::Debug,
            &format!("{} channels decided, {moved} moved", decisions.len()),
        );
        Ok(decisions)
    }
}

lnpolicy_sdk::export_strategy!(HillClimber);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{ChannelBuilder, TestHost, fixtures, run};
    use lnpolicy_sdk::{ChannelView, Decision, Param, Profitability};

    use super::{Climber, HillClimber, STATE_LEN, balance_factor, initial_step, state_key};

    const HOUR: u64 = 3600;

    fn chan(fee: u32, rate: f64) -> ChannelBuilder {
        ChannelBuilder::new(1)
            .fee_ppm(fee)
            .revenue_rate_msat_per_hour(rate)
    }

    /// Runs one channel with hourly moves and no balance steering (the rules under test),
    /// `params` over them.
    fn one(host: &mut TestHost, params: &[Param], channel: ChannelView) -> Decision {
        let mut all = vec![
            Param::new("min_hours_between_moves", 1.0),
            Param::new("balance_weight", 0.0),
        ];
        all.extend_from_slice(params);
        run::<HillClimber>(host, &all, &[channel])
            .unwrap()
            .remove(0)
    }

    fn stored(host: &TestHost) -> Climber {
        Climber::decode(&host.state[&state_key(1)]).expect("state for channel 1")
    }

    /// A host that made the first move on channel 1 (100 → 150 ppm at 1000 msat/h) and is
    /// now two hours later; returns it and the fee it set.
    fn after_first_move() -> (TestHost, u32) {
        let mut host = TestHost::new();
        let d = one(&mut host, &[], chan(100, 1000.0).build());
        assert_eq!(d.fee_ppm, Some(150));
        host.advance(2 * HOUR);
        (host, 150)
    }

    /// The next cycle on channel 1, with the fee the last one set and this revenue rate.
    fn next(host: &mut TestHost, fee: u32, rate: f64) -> Decision {
        let last = host.now - 2 * HOUR;
        let channel = chan(fee, rate).last_fee_change(last).build();
        let d = one(host, &[], channel);
        host.advance(2 * HOUR);
        d
    }

    #[test]
    fn initial_step_is_5_percent_with_50_floor_and_200_cap() {
        assert_eq!(initial_step(100), 50);
        assert_eq!(initial_step(2000), 100);
        assert_eq!(initial_step(3000), 150);
        assert_eq!(initial_step(10_000), 200);
        assert_eq!(initial_step(0), 50);
    }

    #[test]
    fn state_key_and_encoding_round_trip() {
        assert_eq!(state_key(0), "ch:0");
        assert_eq!(state_key(u64::MAX), "ch:18446744073709551615");
        let c = Climber {
            base_fee_ppm: 1234,
            last_rate: 567.25,
            up: false,
            step_ppm: 37,
            moved_at: 1_767_225_600,
        };
        let bytes = c.encode();
        assert_eq!(bytes.len(), STATE_LEN);
        assert_eq!(Climber::decode(&bytes), Some(c));
        assert_eq!(Climber::decode(&bytes[..25]), None);
        let mut wrong_version = bytes;
        wrong_version[0] = 9;
        assert_eq!(Climber::decode(&wrong_version), None);
    }

    #[test]
    fn first_move_explores_upward_and_stores_state() {
        let mut host = TestHost::new();
        let d = one(&mut host, &[], chan(100, 1000.0).build());
        assert_eq!(d.fee_ppm, Some(150));
        assert!(d.reason.starts_with("first move"), "{}", d.reason);
        let s = stored(&host);
        assert_eq!(
            s,
            Climber {
                base_fee_ppm: 150,
                last_rate: 1000.0,
                up: true,
                step_ppm: 50,
                moved_at: host.now
            }
        );
        // 5% of 2000 is 100
        let mut host = TestHost::new();
        assert_eq!(
            one(&mut host, &[], chan(2000, 0.0).build()).fee_ppm,
            Some(2100)
        );
    }

    #[test]
    fn continues_in_the_same_direction_on_a_gain() {
        let (mut host, fee) = after_first_move();
        let d = next(&mut host, fee, 1100.0); // +10%
        assert_eq!(d.fee_ppm, Some(200));
        assert!(d.reason.contains("continuing (+10%)"), "{}", d.reason);
        let d = next(&mut host, 200, 1150.0); // +4.5%
        assert_eq!(d.fee_ppm, Some(250));
        assert_eq!(stored(&host).step_ppm, 50);
    }

    #[test]
    fn reverses_and_halves_the_step_on_a_loss() {
        let (mut host, fee) = after_first_move();
        let d = next(&mut host, fee, 800.0); // −20%
        assert_eq!(d.fee_ppm, Some(125));
        let s = stored(&host);
        assert!(!s.up);
        assert_eq!(s.step_ppm, 25);
        // and keeps going down while that pays
        let d = next(&mut host, 125, 900.0);
        assert_eq!(d.fee_ppm, Some(100));
    }

    #[test]
    fn flat_revenue_halves_the_step_and_keeps_direction() {
        let (mut host, fee) = after_first_move();
        let d = next(&mut host, fee, 1010.0); // +1%
        assert_eq!(d.fee_ppm, Some(175));
        assert!(stored(&host).up);
        assert_eq!(stored(&host).step_ppm, 25);
        // halving stops at the 10 ppm minimum step
        next(&mut host, 175, 1010.0);
        next(&mut host, 187, 1010.0);
        let d = next(&mut host, 197, 1010.0);
        assert_eq!(stored(&host).step_ppm, 10);
        assert_eq!(d.fee_ppm, Some(207));
    }

    #[test]
    fn no_revenue_at_all_heads_down() {
        let mut host = TestHost::new();
        one(&mut host, &[], chan(300, 0.0).build()); // 300 → 350
        host.advance(2 * HOUR);
        let d = next(&mut host, 350, 0.0);
        assert_eq!(d.fee_ppm, Some(325));
        assert!(d.reason.contains("no revenue"), "{}", d.reason);
    }

    #[test]
    fn doubles_the_step_on_a_big_gain() {
        let (mut host, fee) = after_first_move();
        let d = next(&mut host, fee, 1300.0); // +30%
        assert_eq!(d.fee_ppm, Some(250));
        assert_eq!(stored(&host).step_ppm, 100);
        assert!(d.reason.contains("doubled (+30%)"), "{}", d.reason);
        // doubling stops at 200
        next(&mut host, 250, 1600.0); // +23%: 200
        assert_eq!(stored(&host).step_ppm, 200);
        let d = next(&mut host, 450, 1960.0); // +22.5%: still 200
        assert_eq!(stored(&host).step_ppm, 200);
        assert_eq!(d.fee_ppm, Some(650));
    }

    #[test]
    fn resets_the_step_on_a_large_swing() {
        // grow the step to 100 first
        let (mut host, fee) = after_first_move();
        next(&mut host, fee, 1300.0); // base 250, step 100
        let mut down = host.clone();
        // +60%: step back to initial_step(250) = 50, same direction
        let d = next(&mut host, 250, 2080.0);
        assert_eq!(stored(&host).step_ppm, 50);
        assert_eq!(d.fee_ppm, Some(300));
        assert!(d.reason.contains("step reset (+60%)"), "{}", d.reason);
        // −60%: step reset and direction reversed
        let d = next(&mut down, 250, 520.0);
        assert_eq!(d.fee_ppm, Some(200));
        assert!(!stored(&down).up);
        assert_eq!(stored(&down).step_ppm, 50);
    }

    #[test]
    fn respects_the_minimum_interval() {
        let mut host = TestHost::new();
        one(&mut host, &[], chan(100, 1000.0).build());
        let before = host.state.clone();
        host.advance(30 * 60);
        let d = one(&mut host, &[], chan(150, 5000.0).build());
        assert!(d.is_unchanged());
        assert_eq!(
            d.reason,
            "waiting: 30 of 60 min since the last move, unchanged"
        );
        assert_eq!(host.state, before);
        // a shorter interval lets it move
        let quarter = [Param::new("min_hours_between_moves", 0.25)];
        let d = one(&mut host, &quarter, chan(150, 1100.0).build());
        assert_eq!(d.fee_ppm, Some(200));
    }

    #[test]
    fn host_last_fee_change_also_counts() {
        let mut host = TestHost::new();
        let recent = chan(100, 0.0).last_fee_change(host.now - 10 * 60).build();
        assert!(one(&mut host, &[], recent).is_unchanged());
        assert!(host.state.is_empty());
        let old = chan(100, 0.0).last_fee_change(host.now - HOUR).build();
        assert_eq!(one(&mut host, &[], old).fee_ppm, Some(150));
    }

    #[test]
    fn low_balance_floor() {
        let low = chan(100, 0.0).local_ratio(0.1).build();
        let d = one(&mut TestHost::new(), &[], low.clone());
        assert_eq!(d.fee_ppm, Some(200));
        assert!(d.reason.contains("low-balance floor"), "{}", d.reason);
        // the climber's own position is not floored
        let mut host = TestHost::new();
        one(&mut host, &[], low.clone());
        assert_eq!(stored(&host).base_fee_ppm, 150);
        let ok = chan(100, 0.0).local_ratio(0.2).build();
        assert_eq!(one(&mut TestHost::new(), &[], ok).fee_ppm, Some(150));
        let params = [
            Param::new("low_balance_ratio", 0.05),
            Param::new("low_balance_floor_ppm", 900),
        ];
        assert_eq!(one(&mut TestHost::new(), &params, low).fee_ppm, Some(150));
        let very_low = chan(100, 0.0).local_ratio(0.01).build();
        assert_eq!(
            one(&mut TestHost::new(), &params, very_low).fee_ppm,
            Some(900)
        );
    }

    #[test]
    fn profitability_biases_the_fee_but_not_below_the_floor() {
        let with = |p: Profitability, params: &[Param]| {
            let c = chan(100, 0.0).profitability(p).build();
            one(&mut TestHost::new(), params, c).fee_ppm.unwrap()
        };
        assert_eq!(with(Profitability::Profitable, &[]), 150);
        assert_eq!(with(Profitability::BreakEven, &[]), 150);
        assert_eq!(with(Profitability::Underwater, &[]), 180);
        assert_eq!(with(Profitability::Zombie, &[]), 120);
        let floor = [Param::new("min_fee_ppm", 140)];
        assert_eq!(with(Profitability::Zombie, &floor), 140);
        let ceiling = [Param::new("max_fee_ppm", 160)];
        assert_eq!(with(Profitability::Underwater, &ceiling), 160);
    }

    #[test]
    fn stays_within_bounds_and_turns_at_them() {
        let params = [Param::new("max_fee_ppm", 120)];
        let d = one(&mut TestHost::new(), &params, chan(100, 0.0).build());
        assert_eq!(d.fee_ppm, Some(120));
        // already at the ceiling: an upward move would do nothing, so it turns down
        let mut host = TestHost::new();
        let d = one(&mut host, &[], chan(2500, 0.0).build());
        assert_eq!(d.fee_ppm, Some(2375));
        assert!(d.reason.contains("turned at bound"), "{}", d.reason);
        assert!(!stored(&host).up);
        // below the floor: lifted to it
        let params = [Param::new("min_fee_ppm", 400)];
        let d = one(&mut TestHost::new(), &params, chan(100, 0.0).build());
        assert_eq!(d.fee_ppm, Some(400));
        // every fee of a long random-ish walk stays within bounds
        let params = [
            Param::new("min_fee_ppm", 50),
            Param::new("max_fee_ppm", 300),
        ];
        let mut host = TestHost::new();
        let mut fee = 100;
        for i in 0..60u32 {
            let rate = f64::from((i * 7919) % 1000);
            let c = chan(fee, rate).build();
            fee = one(&mut host, &params, c).fee_ppm.unwrap();
            assert!((50..=300).contains(&fee), "cycle {i}: {fee}");
            host.advance(2 * HOUR);
        }
    }

    #[test]
    fn state_survives_restarts_and_a_fresh_host_starts_over() {
        let mut host = TestHost::new();
        one(&mut host, &[], chan(100, 1000.0).build());
        // a "restart": a new call with only the host's state carried over
        let mut restarted = TestHost::new();
        restarted.state = host.state.clone();
        restarted.now = host.now + 2 * HOUR;
        let second = chan(150, 1300.0).build();
        let d = one(&mut restarted, &[], second.clone());
        assert_eq!(d.fee_ppm, Some(250)); // big gain: step doubled from the stored 50
        // a host without that state starts over from the channel's fee
        let d = one(&mut TestHost::new(), &[], second);
        assert_eq!(d.fee_ppm, Some(200));
        assert!(d.reason.starts_with("first move"), "{}", d.reason);
        // unreadable state also starts over
        let mut corrupt = TestHost::new();
        corrupt.state.insert(state_key(1), vec![1, 2, 3]);
        let d = one(&mut corrupt, &[], chan(150, 0.0).build());
        assert_eq!(d.fee_ppm, Some(200));
        assert_eq!(stored(&corrupt).base_fee_ppm, 200);
    }

    #[test]
    fn inactive_channels_are_left_unchanged() {
        let mut host = TestHost::new();
        let channels = fixtures();
        let decisions = run::<HillClimber>(&mut host, &[], &channels).unwrap();
        for (c, d) in channels.iter().zip(&decisions) {
            assert_eq!(d.is_unchanged(), !c.active, "{}", d.reason);
            if !c.active {
                assert!(d.reason.contains("inactive"));
                assert!(!host.state.contains_key(&state_key(c.channel_id)));
            }
        }
        assert!(host.logs[0].1.contains("moved"));
    }

    #[test]
    fn bad_parameters_are_errors() {
        let err = |params: &[Param]| {
            run::<HillClimber>(&mut TestHost::new(), params, &fixtures()).unwrap_err()
        };
        assert_eq!(
            err(&[Param::new("min_fee_ppm", 3000)]),
            "min_fee_ppm (3000) must not exceed max_fee_ppm (2500)"
        );
        assert!(err(&[Param::new("low_balance_ratio", 1.5)]).contains("`low_balance_ratio`"));
        assert!(err(&[Param::new("min_hours_between_moves", -1.0)]).contains("`min_hours"));
    }

    #[test]
    fn defaults_wait_a_day_and_steer_by_balance() {
        let mut host = TestHost::new();
        let first = run::<HillClimber>(&mut host, &[], &[chan(100, 1000.0).build()]).unwrap();
        assert_eq!(first[0].fee_ppm, Some(150));
        host.advance(23 * HOUR);
        let waiting = run::<HillClimber>(&mut host, &[], &[chan(150, 2000.0).build()]).unwrap();
        assert_eq!(waiting[0].fee_ppm, None, "{}", waiting[0].reason);
        host.advance(HOUR);
        let drained = chan(150, 2000.0).local_ratio(0.25).build();
        let moved = run::<HillClimber>(&mut host, &[], &[drained]).unwrap();
        // Revenue doubled (a swing: the step resets to 50), so the position goes 150 → 200; a
        // quarter-full channel then charges 1 + 0.5 × (1 − 0.5) = 1.25 times that.
        assert_eq!(moved[0].fee_ppm, Some(250), "{}", moved[0].reason);
    }

    #[test]
    fn balance_factor_is_one_at_even_balance_and_never_negative() {
        assert_eq!(balance_factor(0.5, 0.5), 1.0);
        assert_eq!(balance_factor(0.0, 0.5), 1.5);
        assert_eq!(balance_factor(1.0, 0.5), 0.5);
        assert_eq!(balance_factor(1.0, 1.0), 0.0);
        assert_eq!(balance_factor(f64::NAN, 1.0), 1.0);
        assert_eq!(balance_factor(7.0, 0.0), 1.0);
    }
}
