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
//! local balance is below `low_balance_ratio`, and finally kept between the economic floor
//! (the larger of `min_fee_ppm` and `rebalance_cost_ppm`) and `max_fee_ppm`. Inactive
//! channels are left unchanged.
//!
//! **Per channel** (`pool_channels = false`): the rules above run on each channel's own
//! revenue rate. The position, the last revenue rate, the direction, the step and the time
//! of the move live in the host's state under `ch:<channel_id>`.
//!
//! **Pooled** (`pool_channels = true`, the default): one position for every channel of the
//! section, because a single channel of a typical routing node forwards a handful of
//! payments a day, and with heavy-tailed amounts its daily revenue is mostly noise (the
//! backtests in the README measure this). Once a day the last day of all the channels is
//! added to the evidence for the current position: each channel's fee per sat times its
//! forwards, summed (which the few large payments do not swing). The position moves by the
//! same rules when that evidence differs from the previous position's by more than its
//! Poisson noise, twice `sqrt(1/n₁ + 1/n₂)`, or after `max_days_per_position` days, when a
//! difference within the noise counts as flat whatever its sign; steps are fractions of the
//! position (first 25%, within 5%..=50%, at least 10 ppm), since a 50 ppm step moves revenue
//! by less than the noise of any day. The pool lives under `pool:<hash of the parameters>`,
//! so each section and experiment arm climbs on its own.

use lnpolicy_sdk::{
    ChannelView, Decision, Host, LogLevel, ParamSpec, Params, Profitability, Reason, Runway,
    Strategy, StrategyInfo, local_ratio, ppm,
    state::{self, Reader, Writer},
};

/// The strategy; see the crate documentation for the rules.
pub struct HillClimber;

/// The strategy's own version, reported by `info()`.
pub const VERSION: &str = "0.6.0";

/// How many standard errors apart two positions' evidence must be to count as different.
/// The test is repeated every day a position is observed, and the mix of channels that
/// forward adds noise the Poisson error leaves out; at 1 the climber chased noise (see the
/// README's measurements).
pub const NOISE_SIGMAS: f64 = 2.0;

/// The pooled climber's first step, as a fraction of its position.
pub const POOL_FIRST_STEP: f64 = 0.25;
/// Its smallest step.
pub const POOL_MIN_STEP: f64 = 0.05;
/// Its largest step.
pub const POOL_MAX_STEP: f64 = 0.5;

/// How often the pooled climber adds a day of evidence.
pub const DAY_SECS: u64 = 86_400;

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
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(STATE_VERSION);
        w.u32(self.base_fee_ppm)
            .f64(self.last_rate)
            .bool(self.up)
            .u32(self.step_ppm)
            .u64(self.moved_at);
        w.finish()
    }

    /// The stored climber, or `None` for anything this version did not write (the channel
    /// then starts over).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes, STATE_VERSION)?;
        let base_fee_ppm = r.u32()?;
        let last_rate = r.f64()?;
        let up = r.bool()?;
        let step_ppm = r.u32()?;
        let moved_at = r.u64()?;
        r.finish()?;
        if !last_rate.is_finite() || last_rate < 0.0 {
            return None;
        }
        Some(Climber {
            base_fee_ppm,
            last_rate,
            up,
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

/// What a set of channels forwarded: the pooled climber's evidence, summed over the days it
/// has observed one position.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sample {
    /// Each channel's fee per sat forwarded (msat per sat) times its forwards, summed.
    pub signal: f64,
    /// Forwards.
    pub forwards: f64,
    /// Days observed.
    pub days: f64,
}

impl Sample {
    /// The last day (`day` flow window) of `channels`.
    ///
    /// Amounts on Lightning are heavy-tailed, so a day's revenue swings with the few large
    /// payments that happened to come; a channel's fee per sat times its count of forwards
    /// does not, and still falls when a higher fee drives payments away. Taken channel by
    /// channel, so that a large payment through a dear channel does not tilt the others'.
    pub fn last_day(channels: &[&ChannelView]) -> Self {
        channels.iter().fold(
            Sample {
                days: 1.0,
                ..Sample::default()
            },
            |acc, c| {
                let day = &c.flow.day;
                let forwards = f64::from(day.htlcs_out);
                let fee_per_sat = if day.sats_out > 0 {
                    day.fees_earned_msat as f64 / day.sats_out as f64
                } else {
                    0.0
                };
                Sample {
                    signal: acc.signal + fee_per_sat * forwards,
                    forwards: acc.forwards + forwards,
                    days: acc.days,
                }
            },
        )
    }

    fn add(self, other: Sample) -> Sample {
        Sample {
            signal: self.signal + other.signal,
            forwards: self.forwards + other.forwards,
            days: self.days + other.days,
        }
    }

    /// Fee per sat × forwards, per day; zero before any day.
    pub fn rate(&self) -> f64 {
        if self.days <= 0.0 {
            return 0.0;
        }
        self.signal / self.days
    }

    /// Whether `self` (the current position) and `before` differ by more than their noise:
    /// forwards are Poisson, so the relative error of the ratio of two rates is about
    /// `sqrt(1/n₁ + 1/n₂)`, and a difference counts beyond [`NOISE_SIGMAS`] of it.
    pub fn differs_from(&self, before: &Sample) -> bool {
        let (now, then) = (self.rate(), before.rate());
        if self.forwards < 1.0 || before.forwards < 1.0 || then <= 0.0 {
            return now != then;
        }
        let noise = (1.0 / self.forwards + 1.0 / before.forwards).sqrt();
        ((now - then) / then).abs() > NOISE_SIGMAS * noise
    }
}

/// The pooled climber's memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pool {
    /// The position every channel's fee is derived from, ppm.
    pub position_ppm: u32,
    /// Direction of the last move: true is up.
    pub up: bool,
    /// Size of the next move as a fraction of the position.
    pub step: f64,
    /// Unix time of the last move.
    pub moved_at: u64,
    /// Evidence for the position before this one.
    pub before: Sample,
    /// Evidence for this position so far.
    pub current: Sample,
    /// Unix time of the last day added to `current`.
    pub observed_at: u64,
}

/// Encoding version, the first byte of a stored [`Pool`].
pub const POOL_VERSION: u8 = 3;
/// Length of a stored [`Pool`] in bytes.
pub const POOL_LEN: usize = 1 + 4 + 1 + 8 + 8 + 6 * 8 + 8;

impl Pool {
    /// Fixed little-endian layout: version, position u32, direction (1 up, 0 down), step
    /// f64, moved-at u64, the two samples as six f64, observed-at u64.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(POOL_VERSION);
        w.u32(self.position_ppm)
            .bool(self.up)
            .f64(self.step)
            .u64(self.moved_at);
        for sample in [self.before, self.current] {
            w.f64(sample.signal).f64(sample.forwards).f64(sample.days);
        }
        w.u64(self.observed_at);
        w.finish()
    }

    /// The stored pool, or `None` for anything this version did not write (the pool then
    /// starts over).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes, POOL_VERSION)?;
        let sample = |r: &mut Reader| {
            let s = Sample {
                signal: r.f64()?,
                forwards: r.f64()?,
                days: r.f64()?,
            };
            [s.signal, s.forwards, s.days]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0)
                .then_some(s)
        };
        let pool = Pool {
            position_ppm: r.u32()?,
            up: r.bool()?,
            step: r.f64()?,
            moved_at: r.u64()?,
            before: sample(&mut r)?,
            current: sample(&mut r)?,
            observed_at: r.u64()?,
        };
        r.finish()?;
        (POOL_MIN_STEP..=POOL_MAX_STEP)
            .contains(&pool.step)
            .then_some(pool)
    }
}

/// The state key of a pool: `pool:` and a hash of the parameters, so that two sections with
/// different parameters (say, the two arms of an experiment) climb separately.
pub fn pool_key(params: &str) -> String {
    state::configuration_key("pool:", params)
}

/// The median of the current fees of `channels` (where a climb starts when no fee implies a
/// position), 0 for none.
fn median_fee(channels: &[&ChannelView]) -> u32 {
    let mut fees: Vec<u32> = channels.iter().map(|c| c.local_policy.fee_ppm).collect();
    fees.sort_unstable();
    fees.get(fees.len() / 2).copied().unwrap_or(0)
}

/// One move of the climber: what it observed and where it goes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Move {
    obs: Observation,
    pct: Option<i64>,
    target: u32,
    up: bool,
    step: u32,
    /// Pooled mode: the step as a percentage of the position, shown instead of `step`.
    step_pct: Option<u32>,
    turned: bool,
}

impl Move {
    /// `observation (±n%)[, turned at bound]: up|down STEP to TARGET ppm`.
    fn describe(&self) -> Reason {
        let mut reason = Reason::new(match self.obs {
            Observation::First => "first move, exploring",
            Observation::Reset { .. } => "revenue swing, step reset",
            Observation::BigGain => "revenue up, step doubled",
            Observation::Gain => "revenue up, continuing",
            Observation::Loss => "revenue down, reversing, step halved",
            Observation::Flat => "revenue flat, step halved",
            Observation::Idle => "no revenue, heading down",
        });
        if let Some(pct) = self.pct {
            reason = reason.text(" (");
            if pct >= 0 {
                reason = reason.text("+");
            }
            reason = reason.int(pct).text("%)");
        }
        if self.turned {
            reason = reason.text(", turned at bound");
        }
        reason = reason.text(if self.up { ": up " } else { ": down " });
        reason = match self.step_pct {
            Some(pct) => reason.int(pct).text("%"),
            None => reason.int(self.step),
        };
        reason.text(" to ").int(self.target).text(" ppm")
    }
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
    pool_channels: bool,
    max_days_per_position: f64,
    initial_fee_ppm: u32,
    runway: Runway,
}

impl Config {
    /// The text a pool's key hashes: the parameters as releases up to 0.6.0 wrote them (the
    /// struct's `Debug` form then), spelled out so that a field added to the struct later does
    /// not move every operator's pools to new keys. A parameter added later joins the text
    /// only when it is not at its default, so existing configurations keep their keys.
    fn pool_text(&self) -> String {
        let Runway {
            target_days,
            max_factor,
        } = self.runway;
        format!(
            "Config {{ min_fee_ppm: {}, max_fee_ppm: {}, min_interval_secs: {}, \
             low_balance_ratio: {:?}, low_balance_floor_ppm: {}, balance_weight: {:?}, \
             pool_channels: {}, max_days_per_position: {:?}, initial_fee_ppm: {}, \
             runway: Runway {{ target_days: {target_days:?}, max_factor: {max_factor:?} }} }}",
            self.min_fee_ppm,
            self.max_fee_ppm,
            self.min_interval_secs,
            self.low_balance_ratio,
            self.low_balance_floor_ppm,
            self.balance_weight,
            self.pool_channels,
            self.max_days_per_position,
            self.initial_fee_ppm,
        )
    }

    fn read(params: &Params) -> Result<Self, String> {
        let hours = params.f64("min_hours_between_moves")?;
        let configured_floor = params.u32("min_fee_ppm")?;
        let rebalance_cost_ppm = params.u32("rebalance_cost_ppm")?;
        let config = Config {
            // One floor, so a default cost of 0 keeps the pool keys of configurations that
            // predate the parameter (`pool_text`).
            min_fee_ppm: configured_floor.max(rebalance_cost_ppm),
            max_fee_ppm: params.u32("max_fee_ppm")?,
            min_interval_secs: (hours * 3600.0).round() as u64,
            low_balance_ratio: params.f64("low_balance_ratio")?,
            low_balance_floor_ppm: params.u32("low_balance_floor_ppm")?,
            balance_weight: params.f64("balance_weight")?,
            pool_channels: params.bool("pool_channels")?,
            max_days_per_position: f64::from(params.u32("max_days_per_position")?),
            initial_fee_ppm: params.u32("initial_fee_ppm")?,
            runway: Runway::read(params)?,
        };
        if configured_floor > config.max_fee_ppm {
            return Err(format!(
                "min_fee_ppm ({}) must not exceed max_fee_ppm ({})",
                configured_floor, config.max_fee_ppm
            ));
        }
        if rebalance_cost_ppm > config.max_fee_ppm {
            return Err(format!(
                "rebalance_cost_ppm ({}) must not exceed max_fee_ppm ({}): every fee would \
                 sell liquidity below what it costs to replace",
                rebalance_cost_ppm, config.max_fee_ppm
            ));
        }
        Ok(config)
    }

    /// `waiting: M of N min since the last move`, or `None` once a move is due.
    fn waiting(&self, now: u64, last_move: Option<u64>) -> Option<Reason> {
        let elapsed = now.saturating_sub(last_move?);
        (elapsed < self.min_interval_secs).then(|| {
            Reason::new("waiting: ")
                .int((elapsed / 60) as i64)
                .text(" of ")
                .int((self.min_interval_secs / 60) as i64)
                .text(" min since the last move")
        })
    }

    /// The rules of the crate documentation: from the stored climber (or `start` for a first
    /// move) and the signal observed since its last move, the next position.
    fn next_move(&self, stored: Option<Climber>, start: u32, rate: f64) -> Move {
        let (obs, pct, base, mut up, step) = match stored {
            None => (Observation::First, None, start, true, initial_step(start)),
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
        let step = ppm::clamp(step, MIN_STEP_PPM, MAX_STEP_PPM);
        let mut target = self.step_from(base, up, step);
        let mut turned = false;
        if target == base {
            // A bound cancels the move: turn around rather than stand still.
            up = !up;
            target = self.step_from(base, up, step);
            turned = true;
        }
        Move {
            obs,
            pct,
            target,
            up,
            step,
            step_pct: None,
            turned,
        }
    }

    /// Pooled mode's rules: those of [`Config::next_move`] with steps that are fractions of
    /// the position ([`POOL_FIRST_STEP`], within [`POOL_MIN_STEP`]..=[`POOL_MAX_STEP`], and
    /// never under [`MIN_STEP_PPM`]), judged on the pool's evidence. Evidence within its
    /// noise counts as flat, whatever its sign: it shows no change.
    fn next_pool_move(&self, pool: Option<&Pool>, start: u32) -> (Move, f64) {
        let (obs, pct, base, mut up, step) = match pool {
            None => (Observation::First, None, start, true, POOL_FIRST_STEP),
            Some(p) => {
                let (mut obs, pct) = observe(p.before.rate(), p.current.rate());
                if p.before.rate() > 0.0 && !p.current.differs_from(&p.before) {
                    obs = Observation::Flat;
                }
                let (up, step) = match obs {
                    Observation::First => (true, POOL_FIRST_STEP),
                    Observation::Reset { gain } => (p.up == gain, POOL_FIRST_STEP),
                    Observation::BigGain => (p.up, p.step * 2.0),
                    Observation::Gain => (p.up, p.step),
                    Observation::Loss => (!p.up, p.step / 2.0),
                    Observation::Flat => (p.up, p.step / 2.0),
                    Observation::Idle => (false, p.step / 2.0),
                };
                (obs, pct, p.position_ppm, up, step)
            }
        };
        let step = step.clamp(POOL_MIN_STEP, POOL_MAX_STEP);
        let by = ppm::scale(base, step).max(MIN_STEP_PPM);
        let mut target = self.step_from(base, up, by);
        let mut turned = false;
        if target == base {
            up = !up;
            target = self.step_from(base, up, by);
            turned = true;
        }
        let moved = Move {
            obs,
            pct,
            target,
            up,
            step: by,
            step_pct: Some((step * 100.0).round() as u32),
            turned,
        };
        (moved, step)
    }

    /// The position that gives `channel` the fee it has now, by undoing what [`Self::fee_for`]
    /// lays over a position: where a climb that starts afresh (a new pool after a parameter
    /// edit, lost state) must begin, or the fees it already set would be multiplied again.
    /// `None` for a fee at a floor or bound, which says nothing of the position.
    fn position_of(&self, channel: &ChannelView) -> Option<u32> {
        let fee = channel.local_policy.fee_ppm;
        let ratio = local_ratio(channel);
        let floored = ratio < self.low_balance_ratio && fee <= self.low_balance_floor_ppm;
        if floored || fee <= self.min_fee_ppm || fee >= self.max_fee_ppm {
            return None;
        }
        let factor = multiplier(channel.profitability)
            * balance_factor(ratio, self.balance_weight)
            * self.runway.factor(channel);
        (factor > 0.0).then(|| ppm::scale(fee, 1.0 / factor))
    }

    /// Where a fresh climb over `channels` starts: the median of the positions their fees
    /// imply, or of their fees when every one sits at a floor or bound.
    fn start_of(&self, channels: &[&ChannelView]) -> u32 {
        let mut positions: Vec<u32> = channels
            .iter()
            .filter_map(|c| self.position_of(c))
            .collect();
        if positions.is_empty() {
            return median_fee(channels);
        }
        positions.sort_unstable();
        positions[positions.len() / 2]
    }

    /// The fee a channel gets for a climber position: biased by profitability and balance,
    /// floored when the channel is low, within bounds; the reason says which applied.
    fn fee_for(&self, position: u32, channel: &ChannelView, reason: Reason) -> Decision {
        let ratio = local_ratio(channel);
        let balance = balance_factor(ratio, self.balance_weight);
        let runway = self.runway.factor(channel);
        let mut fee = ppm::scale(
            position,
            multiplier(channel.profitability) * balance * runway,
        );
        let mut reason = match channel.profitability {
            Profitability::Underwater => reason.text(", underwater x1.2"),
            Profitability::Zombie => reason.text(", zombie x0.8"),
            _ => reason,
        };
        if self.balance_weight > 0.0 {
            reason = reason
                .text(", balance x")
                .int((balance * 100.0).round() as i64)
                .text("%");
        }
        if runway > 1.0 {
            reason = reason
                .text(", runway x")
                .int((runway * 100.0).round() as i64)
                .text("%");
        }
        if ratio < self.low_balance_ratio {
            fee = fee.max(self.low_balance_floor_ppm);
            reason = reason.text(", low-balance floor");
        }
        if fee < self.min_fee_ppm {
            reason = reason.text(", economic floor");
        }
        let fee = ppm::clamp(fee, self.min_fee_ppm, self.max_fee_ppm);
        Decision::set(channel.channel_id)
            .fee_ppm(fee)
            .reason(reason.text(" → ").int(fee).text(" ppm").finish())
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
        // A position outside bounds the operator has changed since starts the climb over.
        let stored =
            stored.filter(|s| (self.min_fee_ppm..=self.max_fee_ppm).contains(&s.base_fee_ppm));
        if let Some(waiting) = self.waiting(now, last_move) {
            let fee = channel.local_policy.fee_ppm;
            let bounded = ppm::clamp(fee, self.min_fee_ppm, self.max_fee_ppm);
            if bounded != fee {
                // Bounds hold at once, not after the wait: a fee under the economic floor
                // sells liquidity at a loss.
                return Decision::set(id).fee_ppm(bounded).reason(
                    waiting
                        .text(", outside the economic floor..max_fee_ppm → ")
                        .int(bounded)
                        .text(" ppm")
                        .finish(),
                );
            }
            return Decision::unchanged(id, waiting.text(", unchanged").finish());
        }
        let rate = sane_rate(channel.revenue_rate_msat_per_hour);
        let step = self.next_move(stored, self.start_of(&[channel]), rate);
        let climber = Climber {
            base_fee_ppm: step.target,
            last_rate: rate,
            up: step.up,
            step_ppm: step.step,
            moved_at: now,
        };
        host.state_set(&key, &climber.encode());
        self.fee_for(step.target, channel, step.describe())
    }

    /// Pooled mode: one position for every channel of the call. Once a day the last day of
    /// all of them is added to the evidence for the current position; the position moves
    /// (by the rules of per-channel mode) when that evidence differs from the previous
    /// position's by more than its noise, or after `max_days_per_position` days. Between
    /// moves each channel still follows its balance around the position.
    fn decide_pooled(
        &self,
        host: &mut dyn Host,
        now: u64,
        channels: &[ChannelView],
    ) -> Vec<Decision> {
        let inactive = |c: &ChannelView| {
            Decision::unchanged(c.channel_id, "inactive: peer offline, unchanged")
        };
        let active: Vec<&ChannelView> = channels.iter().filter(|c| c.active).collect();
        if active.is_empty() {
            return channels.iter().map(inactive).collect();
        }
        let key = pool_key(&self.pool_text());
        let stored = host.state_get(&key).and_then(|bytes| Pool::decode(&bytes));
        let prefix = Reason::new("pooled over ")
            .uint(active.len() as u64)
            .text(" channels, ");
        let (position, reason) = match stored {
            Some(pool) if now.saturating_sub(pool.observed_at) < DAY_SECS => (
                pool.position_ppm,
                Reason::new("pooled position ")
                    .int(pool.position_ppm)
                    .text(" ppm, observing"),
            ),
            Some(mut pool) => {
                pool.current = pool.current.add(Sample::last_day(&active));
                pool.observed_at = now;
                let conclusive = pool.current.differs_from(&pool.before)
                    || pool.current.days >= self.max_days_per_position;
                let due = now.saturating_sub(pool.moved_at) >= self.min_interval_secs;
                if conclusive && due {
                    let (moved, step) = self.next_pool_move(Some(&pool), pool.position_ppm);
                    let days = pool.current.days;
                    pool = Pool {
                        position_ppm: moved.target,
                        up: moved.up,
                        step,
                        moved_at: now,
                        before: pool.current,
                        current: Sample::default(),
                        observed_at: now,
                    };
                    let reason = prefix
                        .uint(days as u64)
                        .text(" days observed, ")
                        .text(&moved.describe().finish());
                    host.log(LogLevel::Info, &reason.clone().finish());
                    host.state_set(&key, &pool.encode());
                    (moved.target, reason)
                } else {
                    host.state_set(&key, &pool.encode());
                    let reason = Reason::new("pooled position ")
                        .int(pool.position_ppm)
                        .text(" ppm, ")
                        .uint(pool.current.days as u64)
                        .text(" days observed, within noise");
                    (pool.position_ppm, reason)
                }
            }
            None => {
                // The last day shows what the current fees earn: the first evidence.
                let start = match self.initial_fee_ppm {
                    0 => self.start_of(&active),
                    set => ppm::clamp(set, self.min_fee_ppm, self.max_fee_ppm),
                };
                let (moved, step) = self.next_pool_move(None, start);
                let pool = Pool {
                    position_ppm: moved.target,
                    up: moved.up,
                    step,
                    moved_at: now,
                    before: Sample::last_day(&active),
                    current: Sample::default(),
                    observed_at: now,
                };
                host.state_set(&key, &pool.encode());
                (moved.target, prefix.text(&moved.describe().finish()))
            }
        };
        let reason = reason.finish();
        channels
            .iter()
            .map(|c| {
                if c.active {
                    self.fee_for(position, c, Reason::new(&reason))
                } else {
                    inactive(c)
                }
            })
            .collect()
    }

    /// One step from `base` in a direction, within the economic floor..=`max_fee_ppm`.
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
            description: "Perturb and observe on revenue: by default one position for all \
                          channels of the section, moved when their pooled forwards show a \
                          change beyond noise (or per channel on its own revenue rate with \
                          pool_channels = false); each channel's fee is the position steered \
                          by its balance and profitability, floored when low, kept between \
                          the economic floor (min_fee_ppm, rebalance_cost_ppm) and max_fee_ppm. \
                          State survives restarts. Inactive channels are left unchanged."
                .into(),
            params: [
                ParamSpec::integer(
                    "min_fee_ppm",
                    "Economic floor: the fee never goes below this (nor below \
                     rebalance_cost_ppm), ppm.",
                    1,
                )
                .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::integer(
                    "rebalance_cost_ppm",
                    "What replacing a sat of outbound liquidity costs (a rebalance, a loop \
                     out), ppm: the fee never sells liquidity for less. 0 = no cost floor.",
                    0,
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
                    1.0,
                )
                .range(0.0, 1.0),
                ParamSpec::boolean(
                    "pool_channels",
                    "Climb one position for all channels of the section, judged on their \
                     pooled day (true), or one per channel on its own revenue rate (false).",
                    true,
                ),
                ParamSpec::integer(
                    "max_days_per_position",
                    "Pooled mode: the longest the climber observes one position before it \
                     moves even though the evidence is still within noise, days.",
                    4,
                )
                .range(1.0, 60.0),
                ParamSpec::integer(
                    "initial_fee_ppm",
                    "Pooled mode: where a new pool starts, ppm; 0 = the median position \
                     the channels' current fees imply.",
                    0,
                )
                .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::integer(
                    "low_balance_floor_ppm",
                    "Least fee on a channel whose local ratio is below low_balance_ratio, \
                     ppm (still capped by max_fee_ppm).",
                    200,
                )
                .range(0.0, f64::from(ppm::MILLION)),
            ]
            .into_iter()
            .chain(Runway::params(40.0))
            .collect(),
        }
    }

    fn decide(
        host: &mut dyn Host,
        params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String> {
        let config = Config::read(params)?;
        let now = host.now();
        let decisions: Vec<Decision> = if config.pool_channels {
            config.decide_pooled(host, now, channels)
        } else {
            channels
                .iter()
                .map(|c| config.decide(host, now, c))
                .collect()
        };
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
    use lnpolicy_sdk::testing::{ChannelBuilder, TestHost, fixtures, no_flow, run};
    use lnpolicy_sdk::{
        ChannelView, Decision, FlowWindows, Param, Params, Profitability, Strategy,
    };

    use super::{
        Climber, Config, HillClimber, POOL_LEN, Pool, STATE_LEN, Sample, balance_factor,
        initial_step, pool_key, state_key,
    };

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
            Param::new("pool_channels", false),
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

    /// The bytes of a stored climber, pinned: a layout change must come with a new version.
    #[test]
    fn climber_encoding_is_pinned() {
        let c = Climber {
            base_fee_ppm: 1234,
            last_rate: 567.25,
            up: true,
            step_ppm: 37,
            moved_at: 1_767_225_600,
        };
        let golden: [u8; 26] = [
            1, 210, 4, 0, 0, 0, 0, 0, 0, 0, 186, 129, 64, 1, 37, 0, 0, 0, 0, 185, 85, 105, 0, 0, 0,
            0,
        ];
        assert_eq!(c.encode()[..], golden);
        assert_eq!(Climber::decode(&golden), Some(c));
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
        // The climb starts at the position the fee implies (100 / 1.2 = 83, 100 / 0.8 = 125)
        // and moves up 50 from there, biased again: 133 × 1.2, 175 × 0.8.
        assert_eq!(with(Profitability::Underwater, &[]), 160);
        assert_eq!(with(Profitability::Zombie, &[]), 140);
        let floor = [Param::new("min_fee_ppm", 140)];
        assert_eq!(with(Profitability::Zombie, &floor), 140);
        let ceiling = [Param::new("max_fee_ppm", 160)];
        assert_eq!(with(Profitability::Underwater, &ceiling), 160);
    }

    #[test]
    fn never_sells_liquidity_below_what_replacing_it_costs() {
        let cost = [Param::new("rebalance_cost_ppm", 300)];
        // A zombie channel, biased down, and a climb that starts below the cost.
        let c = chan(100, 0.0).profitability(Profitability::Zombie).build();
        let d = one(&mut TestHost::new(), &cost, c);
        assert_eq!(d.fee_ppm, Some(300));
        assert!(d.reason.contains("economic floor"), "{}", d.reason);
        // The higher of the two floors holds.
        let both = [
            Param::new("rebalance_cost_ppm", 300),
            Param::new("min_fee_ppm", 450),
        ];
        let d = one(&mut TestHost::new(), &both, chan(100, 0.0).build());
        assert_eq!(d.fee_ppm, Some(450));
        // A market that pays more the cheaper the channel: the climb walks down from 800 ppm
        // and stops at the cost.
        let mut host = TestHost::new();
        let mut fee = 800;
        let mut lowest = fee;
        for _ in 0..200 {
            let rate = f64::from(3000 - fee).powi(3);
            fee = one(&mut host, &cost, chan(fee, rate).build())
                .fee_ppm
                .unwrap();
            lowest = lowest.min(fee);
            host.advance(2 * HOUR);
        }
        assert_eq!(lowest, 300, "the walk reaches the floor and stays on it");
        // A cost raised while a channel waits holds at once, and a stored position under it
        // starts the climb over.
        let mut host = TestHost::new();
        one(&mut host, &[], chan(200, 1000.0).build());
        let moved = stored(&host).base_fee_ppm;
        assert!(moved < 300, "{moved}");
        let d = one(&mut host, &cost, chan(moved, 1000.0).build());
        assert_eq!(d.fee_ppm, Some(300), "{}", d.reason);
        assert!(d.reason.starts_with("waiting"), "{}", d.reason);
        host.advance(2 * HOUR);
        let d = one(&mut host, &cost, chan(300, 1000.0).build());
        assert!(d.reason.starts_with("first move"), "{}", d.reason);
        // Without a cost the floor is min_fee_ppm alone, and the reason names it only when
        // it binds.
        let d = one(&mut TestHost::new(), &[], chan(400, 0.0).build());
        assert!(!d.reason.contains("economic floor"), "{}", d.reason);
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
    fn pool_keys_are_those_earlier_releases_stored() {
        assert_eq!(pool_key("a"), "pool:12638187200555641996");
        let config = |passed: Vec<Param>| {
            let params = Params::new(passed, &HillClimber::info().params);
            Config::read(&params).unwrap()
        };
        let defaults = config(Vec::new());
        // Releases up to 0.6.0 hashed the `Debug` form. Once `Config` gains a field these two
        // lines go; the text below stays as it is.
        assert_eq!(format!("{defaults:?}"), defaults.pool_text());
        let edited = config(vec![
            Param::new("pool_channels", true),
            Param::new("balance_weight", 0.25),
            Param::new("target_runway_days", 0.0),
        ]);
        assert_eq!(format!("{edited:?}"), edited.pool_text());
        assert_eq!(
            edited.pool_text(),
            "Config { min_fee_ppm: 1, max_fee_ppm: 2500, min_interval_secs: 86400, \
             low_balance_ratio: 0.15, low_balance_floor_ppm: 200, balance_weight: 0.25, \
             pool_channels: true, max_days_per_position: 4.0, initial_fee_ppm: 0, \
             runway: Runway { target_days: 0.0, max_factor: 3.0 } }"
        );
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
            err(&[Param::new("rebalance_cost_ppm", 3000)]),
            "rebalance_cost_ppm (3000) must not exceed max_fee_ppm (2500): every fee would \
             sell liquidity below what it costs to replace"
        );
        assert_eq!(
            err(&[Param::new("min_fee_ppm", 3000)]),
            "min_fee_ppm (3000) must not exceed max_fee_ppm (2500)"
        );
        assert!(err(&[Param::new("low_balance_ratio", 1.5)]).contains("`low_balance_ratio`"));
        assert!(err(&[Param::new("min_hours_between_moves", -1.0)]).contains("`min_hours"));
    }

    /// A channel whose last day forwarded `forwards` payments of `amount` sat at `fee` ppm.
    fn pooled_chan(id: u64, fee: u32, forwards: u32, amount: u64) -> ChannelBuilder {
        let mut windows = FlowWindows {
            day: no_flow(),
            week: no_flow(),
            month: no_flow(),
        };
        windows.day.htlcs_out = forwards;
        windows.day.sats_out = u64::from(forwards) * amount;
        windows.day.fees_earned_msat = windows.day.sats_out * u64::from(fee) / 1000;
        ChannelBuilder::new(id).fee_ppm(fee).flow(windows)
    }

    /// Three channels at even balance; the last day forwarded `forwards` payments each at
    /// `fee` ppm.
    fn pool_of_three(fee: u32, forwards: u32) -> Vec<ChannelView> {
        (1..=3)
            .map(|id| pooled_chan(id, fee, forwards, 20_000).build())
            .collect()
    }

    fn pool(host: &TestHost) -> Pool {
        let (_, bytes) = host
            .state
            .iter()
            .find(|(k, _)| k.starts_with("pool:"))
            .expect("pool state");
        Pool::decode(bytes).expect("readable pool")
    }

    fn fees(decisions: &[Decision]) -> Vec<Option<u32>> {
        decisions.iter().map(|d| d.fee_ppm).collect()
    }

    #[test]
    fn pooled_first_move_raises_every_channel_from_the_median_position() {
        let mut host = TestHost::new();
        let channels = vec![
            pooled_chan(1, 100, 10, 20_000).build(),
            pooled_chan(2, 300, 10, 20_000).local_ratio(0.25).build(),
            pooled_chan(3, 500, 10, 20_000).build(),
            pooled_chan(4, 900, 10, 20_000).active(false).build(),
        ];
        let d = run::<HillClimber>(&mut host, &[], &channels).unwrap();
        // a quarter-full channel charges 1 + 1 × (1 − 0.5) = 1.5 times the position by
        // default, so its 300 ppm is position 200; the median of the active channels'
        // positions (100, 200, 500) is 200; first step +25% → 250.
        assert_eq!(fees(&d), [Some(250), Some(375), Some(250), None]);
        assert!(
            d[0].reason
                .starts_with("pooled over 3 channels, first move, exploring: up 25% to 250 ppm"),
            "{}",
            d[0].reason
        );
        let p = pool(&host);
        assert_eq!((p.position_ppm, p.up, p.step), (250, true, 0.25));
        assert_eq!(p.before.forwards, 30.0);
        assert_eq!(p.current, Sample::default());
    }

    /// Five low channels at the fee the pool gave them (position 600, ×2 for their balance
    /// and low-balance floor): a parameter edit starts a new pool, which must start from
    /// position 600 again, not from the 1,200 ppm they charge, or their fees double.
    #[test]
    fn a_new_pool_after_a_parameter_edit_starts_where_the_old_one_was() {
        let low = |id| pooled_chan(id, 1_200, 10, 20_000).local_ratio(0.0).build();
        let channels: Vec<ChannelView> = (1..=5).map(low).collect();
        let edited = [Param::new("low_balance_floor_ppm", 150)];
        let d = run::<HillClimber>(&mut TestHost::new(), &edited, &channels).unwrap();
        let p = d.iter().map(|d| d.fee_ppm.unwrap()).max().unwrap();
        assert!(p <= 1_500, "a first move of +25% at most: {}", d[0].reason);
    }

    #[test]
    fn pooled_climber_can_start_where_the_operator_says() {
        let mut host = TestHost::new();
        let start = [Param::new("initial_fee_ppm", 800)];
        let d = run::<HillClimber>(&mut host, &start, &pool_of_three(300, 100)).unwrap();
        assert_eq!(fees(&d), [Some(1000); 3], "{}", d[0].reason);
        // beyond max_fee_ppm it starts at the ceiling, and turns down from there
        let high = [
            Param::new("initial_fee_ppm", 5000),
            Param::new("max_fee_ppm", 1000),
        ];
        let d = run::<HillClimber>(&mut TestHost::new(), &high, &pool_of_three(300, 100)).unwrap();
        assert_eq!(fees(&d), [Some(750); 3], "{}", d[0].reason);
        assert!(d[0].reason.contains("turned at bound"), "{}", d[0].reason);
    }

    #[test]
    fn pooled_position_holds_within_a_day_and_while_the_evidence_is_noise() {
        let mut host = TestHost::new();
        run::<HillClimber>(&mut host, &[], &pool_of_three(300, 100)).unwrap();
        let before = host.state.clone();
        host.advance(23 * HOUR);
        let d = run::<HillClimber>(&mut host, &[], &pool_of_three(375, 100)).unwrap();
        assert_eq!(fees(&d), [Some(375); 3]);
        assert!(d[0].reason.contains("observing"), "{}", d[0].reason);
        assert_eq!(host.state, before, "nothing observed within the day");
        // a day later: 300 forwards before, 240 now at 375 ppm instead of 300 is +0% in
        // revenue per forward size, well within 2 × sqrt(1/300 + 1/240) ≈ 17%
        host.advance(HOUR);
        let d = run::<HillClimber>(&mut host, &[], &pool_of_three(375, 80)).unwrap();
        assert_eq!(fees(&d), [Some(375); 3]);
        assert!(
            d[0].reason.contains("1 days observed, within noise"),
            "{}",
            d[0].reason
        );
        assert_eq!(pool(&host).current.days, 1.0);
        // after max_days_per_position (4) it moves anyway: flat, so the step halves
        for day in 2..=4 {
            host.advance(24 * HOUR);
            let d = run::<HillClimber>(&mut host, &[], &pool_of_three(375, 80)).unwrap();
            if day < 4 {
                assert_eq!(fees(&d), [Some(375); 3], "day {day}");
            } else {
                assert_eq!(fees(&d), [Some(422); 3], "{}", d[0].reason);
                assert!(
                    d[0].reason
                        .contains("4 days observed, revenue flat, step halved")
                );
            }
        }
        let p = pool(&host);
        assert_eq!((p.position_ppm, p.step, p.before.days), (422, 0.125, 4.0));
    }

    #[test]
    fn pooled_climber_doubles_on_a_clear_gain_and_reverses_on_a_clear_loss() {
        let mut host = TestHost::new();
        run::<HillClimber>(&mut host, &[], &pool_of_three(300, 100)).unwrap();
        host.advance(24 * HOUR);
        // 375 ppm kept every forward: revenue per size +25%, far outside the noise
        let d = run::<HillClimber>(&mut host, &[], &pool_of_three(375, 100)).unwrap();
        assert_eq!(fees(&d), [Some(563); 3], "{}", d[0].reason);
        assert!(d[0].reason.contains("step doubled (+25%): up 50% to 563"));
        host.advance(24 * HOUR);
        // 563 ppm lost half the forwards (−28%, beyond 2 × 10%): reverse, step halved
        let d = run::<HillClimber>(&mut host, &[], &pool_of_three(563, 48)).unwrap();
        assert_eq!(fees(&d), [Some(422); 3], "{}", d[0].reason);
        assert!(d[0].reason.contains("reversing, step halved"));
        assert!(!pool(&host).up);
    }

    #[test]
    fn pooled_evidence_within_noise_is_flat_whatever_its_sign() {
        let mut host = TestHost::new();
        // 300 forwards at 300 ppm: 90 msat per sat-forward a day; the pool moves to 375
        run::<HillClimber>(&mut host, &[], &pool_of_three(300, 100)).unwrap();
        // at 375 ppm, 216 forwards a day: 81, 10% less, but within 2 × sqrt(1/300 + 1/864)
        // ≈ 13% after four days; 0.2 read this as a loss and turned back
        for day in 1..=4 {
            host.advance(24 * HOUR);
            let d = run::<HillClimber>(&mut host, &[], &pool_of_three(375, 72)).unwrap();
            if day < 4 {
                assert_eq!(fees(&d), [Some(375); 3], "day {day}: {}", d[0].reason);
            } else {
                assert_eq!(fees(&d), [Some(422); 3], "{}", d[0].reason);
                assert!(
                    d[0].reason
                        .contains("revenue flat, step halved (-10%): up 13%"),
                    "{}",
                    d[0].reason
                );
            }
        }
        assert!(pool(&host).up);
    }

    #[test]
    fn pooled_signal_is_each_channels_fee_rate_times_its_forwards() {
        // 10 forwards at 100 ppm and 10 at 1000 ppm: 0.1 × 10 + 1 × 10 msat per sat
        let small_on_dear = [
            pooled_chan(1, 100, 10, 50_000).build(),
            pooled_chan(2, 1000, 10, 1_000).build(),
        ];
        let large_on_dear = [
            pooled_chan(1, 100, 10, 1_000).build(),
            pooled_chan(2, 1000, 10, 500_000).build(),
        ];
        for channels in [&small_on_dear, &large_on_dear] {
            let refs: Vec<&ChannelView> = channels.iter().collect();
            let day = Sample::last_day(&refs);
            assert!((day.rate() - 11.0).abs() < 1e-9, "{}", day.rate());
            assert_eq!(day.forwards, 20.0);
        }
    }

    #[test]
    fn pooled_signal_ignores_the_size_of_forwards() {
        let big = pooled_chan(1, 500, 10, 1_000_000).build();
        let small = pooled_chan(1, 500, 10, 1_000).build();
        let a = Sample::last_day(&[&big]);
        let b = Sample::last_day(&[&small]);
        assert!((a.rate() - b.rate()).abs() < 1e-9);
        assert!(!a.differs_from(&b));
        let fewer = Sample::last_day(&[&pooled_chan(1, 500, 3, 1_000).build()]);
        assert!(fewer.differs_from(&b) || fewer.rate() < b.rate());
        assert_eq!(Sample::default().rate(), 0.0);
        // 1000 forwards against 1000: a 10% change is beyond 2 × sqrt(2/1000) ≈ 8.9%
        let n = Sample::last_day(&[&pooled_chan(1, 500, 1000, 1_000).build()]);
        let more = Sample::last_day(&[&pooled_chan(1, 550, 1000, 1_000).build()]);
        assert!(more.differs_from(&n));
    }

    #[test]
    fn pooled_state_survives_restarts_and_sections_climb_separately() {
        let mut host = TestHost::new();
        run::<HillClimber>(&mut host, &[], &pool_of_three(300, 100)).unwrap();
        let stored = pool(&host);
        assert_eq!(Pool::decode(&stored.encode()), Some(stored));
        assert_eq!(stored.encode().len(), POOL_LEN);
        // a pool 0.2 wrote (version 2, other layout) is not misread: it starts over
        let mut older = stored.encode();
        older[0] = 2;
        assert_eq!(Pool::decode(&older), None);
        assert_eq!(Pool::decode(&[2; 94]), None);
        let mut restarted = TestHost::new();
        restarted.state = host.state.clone();
        restarted.now = host.now + 24 * HOUR;
        let d = run::<HillClimber>(&mut restarted, &[], &pool_of_three(375, 100)).unwrap();
        assert_eq!(
            fees(&d),
            [Some(563); 3],
            "the restarted climber kept its evidence"
        );
        // different parameters are a different pool
        let other = [Param::new("max_fee_ppm", 2000)];
        let d = run::<HillClimber>(&mut restarted, &other, &pool_of_three(375, 100)).unwrap();
        assert!(d[0].reason.contains("first move"), "{}", d[0].reason);
        assert_eq!(restarted.state.len(), 2);
        // unreadable state starts over
        for bytes in restarted.state.values_mut() {
            bytes.truncate(10);
        }
        let d = run::<HillClimber>(&mut restarted, &[], &pool_of_three(375, 100)).unwrap();
        assert!(d[0].reason.contains("first move"), "{}", d[0].reason);
    }

    /// The bytes of a stored pool, pinned: a layout change must come with a new version.
    #[test]
    fn pool_encoding_is_pinned() {
        let p = Pool {
            position_ppm: 300,
            up: true,
            step: 0.125,
            moved_at: 1_767_225_600,
            before: Sample {
                signal: 1.5,
                forwards: 12.0,
                days: 3.0,
            },
            current: Sample {
                signal: 0.75,
                forwards: 4.0,
                days: 1.0,
            },
            observed_at: 1_767_312_000,
        };
        let golden: [u8; 78] = [
            3, 44, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 192, 63, 0, 185, 85, 105, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 248, 63, 0, 0, 0, 0, 0, 0, 40, 64, 0, 0, 0, 0, 0, 0, 8, 64, 0, 0, 0, 0, 0, 0,
            232, 63, 0, 0, 0, 0, 0, 0, 16, 64, 0, 0, 0, 0, 0, 0, 240, 63, 128, 10, 87, 105, 0, 0,
            0, 0,
        ];
        assert_eq!(p.encode()[..], golden);
        assert_eq!(Pool::decode(&golden), Some(p));
    }

    #[test]
    fn a_draining_channel_pays_for_its_runway() {
        let mut windows = FlowWindows {
            day: no_flow(),
            week: no_flow(),
            month: no_flow(),
        };
        // 25,000 sat a day out, nothing in, moves half of 1,000,000 sat in 20 days: against
        // 30 → ×1.5 (the 100 ppm it has now is position 67, up 50 to 117, × 1.5)
        windows.month.sats_out = 30 * 25_000;
        let draining = chan(100, 0.0).flow(windows).build();
        let thirty = [Param::new("target_runway_days", 30.0)];
        let d = one(&mut TestHost::new(), &thirty, draining.clone());
        assert_eq!(d.fee_ppm, Some(176), "{}", d.reason);
        assert!(d.reason.contains("runway x150%"), "{}", d.reason);
        // against the default target, 40 days → ×2 (position 50, up 50 to 100)
        let d = one(&mut TestHost::new(), &[], draining.clone());
        assert_eq!(d.fee_ppm, Some(200), "{}", d.reason);
        let off = [Param::new("target_runway_days", 0.0)];
        assert_eq!(one(&mut TestHost::new(), &off, draining).fee_ppm, Some(150));
    }

    #[test]
    fn pooled_all_inactive_changes_nothing() {
        let mut host = TestHost::new();
        let channels = vec![pooled_chan(1, 300, 5, 1_000).active(false).build()];
        let d = run::<HillClimber>(&mut host, &[], &channels).unwrap();
        assert!(d[0].is_unchanged());
        assert!(host.state.is_empty());
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
