//! `revenue_max`: remember what each fee level earned and go back to the best one.
//!
//! Revenue through a channel is volume × fee and peaks at a fee nobody knows in advance. A
//! hill climber only compares the last two moves, so it forgets a good level once it has
//! left it; this strategy keeps, per channel, the levels tried and the revenue rate the host
//! reported at each (`revenue_rate_msat_per_hour`, fees per hour since the last fee
//! change, which is the level's own rate while it is in force). Each decision:
//!
//! 1. waits until the channel has stayed `min_hours_at_level` at its fee (counted from the
//!    later of the host's last fee change and this strategy's last decision), so the rate
//!    covers enough time;
//! 2. records the current fee and its rate (a level seen again gets its newest rate: the
//!    market moves, and a stale record that looks good is simply re-measured);
//! 3. moves to the best level recorded (highest rate; on a tie the lower fee, which moves
//!    more liquidity for the same revenue), or, on every `explore_every`-th decision, to a
//!    neighbour of the best, `±step_ppm`: an untried one first (up before down), else the
//!    one seen longest ago; while no level tried has earned anything, the best is the first
//!    level seen, not the lowest.
//!
//! The schedule is a function of the channel id and the count of decisions, not of
//! randomness, so a run is reproducible and channels do not all explore in the same cycle.
//! Fees stay within `min_fee_ppm..=max_fee_ppm`. At most [`MAX_LEVELS`] levels are kept per
//! channel; beyond that the one seen longest ago (never the best) is forgotten. The history
//! lives in the host's state under `ch:<channel_id>`. Inactive channels are left unchanged.

use lnpolicy_sdk::{
    ChannelView, Decision, Host, LogLevel, ParamSpec, Params, Reason, Strategy, StrategyInfo, ppm,
    state::{Reader, Writer},
};

/// The strategy; see the crate documentation for the rules.
pub struct RevenueMax;

/// The strategy's own version, reported by `info()`.
pub const VERSION: &str = "0.1.0";

/// Levels remembered per channel.
pub const MAX_LEVELS: usize = 16;

/// The state key of one channel: `ch:<channel_id>` in decimal.
pub fn state_key(channel_id: u64) -> String {
    Reason::new("ch:").uint(channel_id).finish()
}

/// One fee level and what it earned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    /// Outbound fee, ppm.
    pub fee_ppm: u32,
    /// Revenue rate observed at it, millisatoshi per hour.
    pub rate: f64,
    /// Unix time it was last observed.
    pub seen: u64,
}

/// What the strategy remembers about one channel.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Decisions made on the channel so far: the exploration schedule's clock.
    pub decisions: u32,
    /// Unix time of the last decision.
    pub decided_at: u64,
    /// Levels tried, in the order first seen.
    pub levels: Vec<Level>,
}

/// Encoding version, the first byte of a stored [`History`].
pub const STATE_VERSION: u8 = 1;

impl History {
    /// Little-endian: version (1), decisions u32 (4), decided-at u64 (8), count (1), then
    /// per level fee u32 (4), rate f64 (8), seen u64 (8).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(STATE_VERSION);
        w.u32(self.decisions)
            .u64(self.decided_at)
            .u8(self.levels.len() as u8);
        for level in &self.levels {
            w.u32(level.fee_ppm).f64(level.rate).u64(level.seen);
        }
        w.finish()
    }

    /// The stored history, or `None` for anything this version did not write (the channel
    /// then starts over).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader::new(bytes, STATE_VERSION)?;
        let decisions = r.u32()?;
        let decided_at = r.u64()?;
        let count = usize::from(r.u8()?);
        if count > MAX_LEVELS {
            return None;
        }
        let levels = (0..count)
            .map(|_| {
                let level = Level {
                    fee_ppm: r.u32()?,
                    rate: r.f64()?,
                    seen: r.u64()?,
                };
                (level.rate.is_finite() && level.rate >= 0.0).then_some(level)
            })
            .collect::<Option<Vec<Level>>>()?;
        r.finish()?;
        Some(History {
            decisions,
            decided_at,
            levels,
        })
    }

    /// The level with the highest rate; on a tie the lower fee.
    pub fn best(&self) -> Option<Level> {
        self.levels.iter().copied().reduce(|best, l| {
            if l.rate > best.rate || (l.rate == best.rate && l.fee_ppm < best.fee_ppm) {
                l
            } else {
                best
            }
        })
    }

    /// Records `rate` at `fee_ppm`, forgetting the level seen longest ago (never the best)
    /// when more than [`MAX_LEVELS`] are known.
    pub fn record(&mut self, fee_ppm: u32, rate: f64, now: u64) {
        let level = Level {
            fee_ppm,
            rate,
            seen: now,
        };
        match self.levels.iter_mut().find(|l| l.fee_ppm == fee_ppm) {
            Some(known) => *known = level,
            None => self.levels.push(level),
        }
        if self.levels.len() > MAX_LEVELS
            && let Some(best) = self.best()
            && let Some(oldest) = self
                .levels
                .iter()
                .enumerate()
                .filter(|(_, l)| l.fee_ppm != best.fee_ppm)
                .min_by_key(|(_, l)| l.seen)
                .map(|(i, _)| i)
        {
            self.levels.remove(oldest);
        }
    }

    fn find(&self, fee_ppm: u32) -> Option<&Level> {
        self.levels.iter().find(|l| l.fee_ppm == fee_ppm)
    }
}

/// Where a channel's exploration falls in the schedule, `0..every`: splitmix64's finalizer
/// over the channel id, so neighbouring ids (same block, next output) land far apart.
pub fn schedule_offset(channel_id: u64, every: u32) -> u32 {
    let mut z = channel_id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    // Less than `every`, so it fits.
    (z % u64::from(every.max(1))) as u32
}

/// Revenue rates the strategy can compare: non-finite or negative counts as none.
fn sane_rate(rate: f64) -> f64 {
    if rate.is_finite() && rate > 0.0 {
        rate
    } else {
        0.0
    }
}

/// The parameters of one call, read and cross-checked once per batch.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Config {
    min_fee_ppm: u32,
    max_fee_ppm: u32,
    step_ppm: u32,
    explore_every: u32,
    dwell_secs: u64,
}

impl Config {
    fn read(params: &Params) -> Result<Self, String> {
        let hours = params.f64("min_hours_at_level")?;
        let config = Config {
            min_fee_ppm: params.u32("min_fee_ppm")?,
            max_fee_ppm: params.u32("max_fee_ppm")?,
            step_ppm: params.u32("step_ppm")?,
            explore_every: params.u32("explore_every")?,
            dwell_secs: (hours * 3600.0).round() as u64,
        };
        if config.min_fee_ppm > config.max_fee_ppm {
            return Err(format!(
                "min_fee_ppm ({}) must not exceed max_fee_ppm ({})",
                config.min_fee_ppm, config.max_fee_ppm
            ));
        }
        Ok(config)
    }

    fn clamp(&self, fee: u32) -> u32 {
        ppm::clamp(fee, self.min_fee_ppm, self.max_fee_ppm)
    }

    /// The neighbour of `best` to explore: an untried one first (up before down), else
    /// the one seen longest ago; `best` itself when the bounds leave no neighbour.
    fn neighbour(&self, history: &History, best: u32) -> u32 {
        [
            best.saturating_add(self.step_ppm),
            best.saturating_sub(self.step_ppm),
        ]
        .into_iter()
        .map(|fee| self.clamp(fee))
        .filter(|&fee| fee != best)
        // `None` (untried) sorts before any time seen; ties keep the first, i.e. up.
        .min_by_key(|&fee| history.find(fee).map(|l| l.seen))
        .unwrap_or(best)
    }

    fn decide(&self, host: &mut dyn Host, now: u64, channel: &ChannelView) -> Decision {
        let id = channel.channel_id;
        if !channel.active {
            return Decision::unchanged(id, "inactive: peer offline, unchanged");
        }
        let key = state_key(id);
        let stored = host.state_get(&key).and_then(|b| History::decode(&b));
        let fee = channel.local_policy.fee_ppm;
        let last = channel
            .last_fee_change
            .max(stored.as_ref().map(|h| h.decided_at));
        if let Some(at) = last {
            let elapsed = now.saturating_sub(at);
            if elapsed < self.dwell_secs {
                return Decision::unchanged(
                    id,
                    format!(
                        "waiting: {} of {} h at {fee} ppm, unchanged",
                        elapsed / 3600,
                        self.dwell_secs / 3600
                    ),
                );
            }
        }
        let mut history = stored.unwrap_or(History {
            decisions: 0,
            decided_at: now,
            levels: Vec::new(),
        });
        let rate = sane_rate(channel.revenue_rate_msat_per_hour);
        history.record(fee, rate, now);
        // No level has earned anything: no evidence that a lower fee is better, and ties to
        // the lower fee would walk an idle channel down to min_fee_ppm, to sell its liquidity
        // at that when traffic comes back. The first level seen stands, explored around.
        let silent = history.levels.iter().all(|l| l.rate == 0.0);
        let best = match history.levels.first() {
            Some(first) if silent => first.fee_ppm,
            _ => history.best().map_or(fee, |l| l.fee_ppm),
        };
        let best_rate = history.find(best).map_or(0.0, |l| l.rate);
        let turn =
            u64::from(history.decisions) + u64::from(schedule_offset(id, self.explore_every));
        let explore = turn.is_multiple_of(u64::from(self.explore_every));
        let target = if explore {
            self.neighbour(&history, self.clamp(best))
        } else {
            self.clamp(best)
        };
        history.decisions = history.decisions.saturating_add(1);
        history.decided_at = now;
        host.state_set(&key, &history.encode());

        let seen = format!(
            "{fee} ppm earned {rate:.0} msat/h; best of {} levels {best} ppm at {best_rate:.0} msat/h",
            history.levels.len()
        );
        let action = if explore {
            "exploring a neighbour"
        } else {
            "moving to the best"
        };
        if target == fee {
            Decision::unchanged(id, format!("{seen}; {action}: stays, unchanged"))
        } else {
            Decision::set(id)
                .fee_ppm(target)
                .reason(format!("{seen}; {action} → {target} ppm"))
        }
    }
}

impl Strategy for RevenueMax {
    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "revenue_max".into(),
            version: VERSION.into(),
            description: "Remembers, per channel, the fee levels tried and the revenue rate \
                          each earned, and moves to the best; every explore_every-th decision \
                          it tries a neighbour of the best (±step_ppm) instead, on a schedule \
                          fixed by the channel id. Decides after min_hours_at_level at a fee, \
                          within min_fee_ppm..max_fee_ppm; the history survives restarts. \
                          Inactive channels are left unchanged."
                .into(),
            params: vec![
                ParamSpec::integer("min_fee_ppm", "The fee never goes below this, ppm.", 1)
                    .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::integer("max_fee_ppm", "The fee never goes above this, ppm.", 2500)
                    .range(0.0, f64::from(ppm::MILLION)),
                ParamSpec::integer(
                    "step_ppm",
                    "Distance from the best level to the neighbours explored, ppm.",
                    50,
                )
                .range(1.0, 100_000.0),
                ParamSpec::integer(
                    "explore_every",
                    "Every this many decisions on a channel, explore instead of exploit.",
                    4,
                )
                .range(2.0, 1000.0),
                ParamSpec::float(
                    "min_hours_at_level",
                    "Least time at a fee before its revenue rate is recorded and the next \
                     decision is made, hours.",
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

lnpolicy_sdk::export_strategy!(RevenueMax);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{ChannelBuilder, TestHost, fixtures, run};
    use lnpolicy_sdk::{ChannelView, Decision, Param};

    use super::{History, Level, MAX_LEVELS, RevenueMax, schedule_offset, state_key};

    const DAY: u64 = 24 * 3600;

    /// The first channel id whose exploration falls at `offset` of the default schedule
    /// (every 4th decision): offset 0 explores on its first decision, 1 on its fourth.
    fn id_at(offset: u32) -> u64 {
        (1..).find(|&id| schedule_offset(id, 4) == offset).unwrap()
    }

    fn chan(id: u64, fee: u32, rate: f64) -> ChannelView {
        ChannelBuilder::new(id)
            .fee_ppm(fee)
            .revenue_rate_msat_per_hour(rate)
            .build()
    }

    fn one(host: &mut TestHost, params: &[Param], channel: ChannelView) -> Decision {
        run::<RevenueMax>(host, params, &[channel])
            .unwrap()
            .remove(0)
    }

    fn history(host: &TestHost, id: u64) -> History {
        History::decode(&host.state[&state_key(id)]).expect("a stored history")
    }

    /// A host that already knows these (fee, rate) levels for channel `id`, seen one day
    /// apart in this order, after `decisions` decisions, the last a day ago.
    fn knowing(id: u64, decisions: u32, levels: &[(u32, f64)]) -> TestHost {
        let mut host = TestHost::new();
        let start = host.now - DAY * levels.len() as u64;
        let levels = levels
            .iter()
            .zip(0..)
            .map(|(&(fee_ppm, rate), i)| Level {
                fee_ppm,
                rate,
                seen: start + i * DAY,
            })
            .collect();
        let h = History {
            decisions,
            decided_at: host.now - DAY,
            levels,
        };
        host.state.insert(state_key(id), h.encode());
        host
    }

    #[test]
    fn schedule_offsets_spread_and_stay_in_range() {
        let offsets: Vec<u32> = (1..=64).map(|id| schedule_offset(id, 4)).collect();
        for k in 0..4 {
            assert!(offsets.contains(&k), "{offsets:?}");
        }
        assert!((0..1000).all(|id| schedule_offset(id, 7) < 7));
        assert_eq!(schedule_offset(u64::MAX, 0), 0);
    }

    #[test]
    fn a_first_decision_records_the_level_and_exploits_it() {
        let id = id_at(1);
        let mut host = TestHost::new();
        let d = one(&mut host, &[], chan(id, 300, 1200.0));
        assert!(d.is_unchanged());
        assert_eq!(
            d.reason,
            "300 ppm earned 1200 msat/h; best of 1 levels 300 ppm at 1200 msat/h; \
             moving to the best: stays, unchanged"
        );
        let h = history(&host, id);
        assert_eq!(h.decisions, 1);
        assert_eq!(h.decided_at, host.now);
        assert_eq!(
            h.levels,
            vec![Level {
                fee_ppm: 300,
                rate: 1200.0,
                seen: host.now
            }]
        );
    }

    #[test]
    fn explores_on_its_schedule_untried_up_then_down_then_oldest() {
        let id = id_at(0);
        let mut host = TestHost::new();
        let d = one(&mut host, &[], chan(id, 300, 1200.0));
        assert_eq!(d.fee_ppm, Some(350));
        assert!(
            d.reason.ends_with("exploring a neighbour → 350 ppm"),
            "{}",
            d.reason
        );
        // 350 earns less: the next three decisions exploit 300
        for (fee, rate) in [(350, 900.0), (300, 1200.0), (300, 1200.0)] {
            host.advance(DAY);
            let d = one(&mut host, &[], chan(id, fee, rate));
            assert_eq!(d.fee_ppm.unwrap_or(fee), 300, "{}", d.reason);
        }
        // the fifth explores the untried neighbour below
        host.advance(DAY);
        assert_eq!(
            one(&mut host, &[], chan(id, 300, 1200.0)).fee_ppm,
            Some(250)
        );
        // both tried: the ninth explores the one seen longest ago, 350
        for fee in [250, 300, 300] {
            host.advance(DAY);
            one(
                &mut host,
                &[],
                chan(id, fee, if fee == 250 { 1000.0 } else { 1200.0 }),
            );
        }
        host.advance(DAY);
        assert_eq!(
            one(&mut host, &[], chan(id, 300, 1200.0)).fee_ppm,
            Some(350)
        );
    }

    #[test]
    fn moves_to_the_historically_best_level() {
        let id = id_at(1);
        // decisions 1: turn 1 + 1 = 2, not an exploration
        let mut host = knowing(id, 1, &[(200, 500.0), (300, 1500.0), (400, 900.0)]);
        let d = one(&mut host, &[], chan(id, 400, 800.0));
        assert_eq!(d.fee_ppm, Some(300));
        assert_eq!(
            d.reason,
            "400 ppm earned 800 msat/h; best of 3 levels 300 ppm at 1500 msat/h; \
             moving to the best → 300 ppm"
        );
        // the newest rate replaces the old one at the same level
        assert_eq!(history(&host, id).levels[2].rate, 800.0);
    }

    #[test]
    fn a_stale_best_is_remeasured_and_abandoned() {
        let id = id_at(1);
        let mut host = knowing(id, 1, &[(200, 500.0), (300, 1500.0)]);
        // now at 300, which earns less than 200 did
        let d = one(&mut host, &[], chan(id, 300, 400.0));
        assert_eq!(d.fee_ppm, Some(200));
    }

    #[test]
    fn ties_prefer_the_lower_fee_and_silence_keeps_the_first_level() {
        let id = id_at(1);
        let mut host = knowing(id, 1, &[(400, 700.0), (300, 700.0)]);
        assert_eq!(one(&mut host, &[], chan(id, 400, 700.0)).fee_ppm, Some(300));
        // nothing earned anywhere: no evidence, so the first level seen stands and is
        // explored around, a step at most, instead of walking down to min_fee_ppm
        let mut host = TestHost::new();
        let mut fee = 300;
        for _ in 0..20 {
            let d = one(&mut host, &[], chan(id, fee, 0.0));
            fee = d.fee_ppm.unwrap_or(fee);
            assert!((250..=350).contains(&fee), "{fee}: {}", d.reason);
            host.advance(2 * 86_400);
        }
        // and a fee above max_fee_ppm is brought inside, evidence or not
        let d = one(&mut TestHost::new(), &[], chan(id_at(0), 5000, 0.0));
        assert!(d.fee_ppm.is_some_and(|fee| fee <= 2500), "{}", d.reason);
    }

    #[test]
    fn waits_at_a_level_before_deciding() {
        let id = id_at(0);
        let mut host = knowing(id, 1, &[(300, 1500.0)]);
        let recent = ChannelBuilder::new(id)
            .fee_ppm(350)
            .last_fee_change(host.now - 5 * 3600)
            .build();
        let before = host.state.clone();
        let d = one(&mut host, &[], recent.clone());
        assert!(d.is_unchanged());
        assert_eq!(d.reason, "waiting: 5 of 24 h at 350 ppm, unchanged");
        assert_eq!(host.state, before);
        // its own last decision counts too
        let mut host = knowing(id, 1, &[(300, 1500.0)]);
        let d = one(
            &mut host,
            &[Param::new("min_hours_at_level", 48.0)],
            chan(id, 300, 1.0),
        );
        assert!(d.reason.starts_with("waiting: 24 of 48 h"), "{}", d.reason);
        let quick = [Param::new("min_hours_at_level", 4.0)];
        assert!(
            !one(&mut TestHost::new(), &quick, recent)
                .reason
                .starts_with("waiting")
        );
    }

    #[test]
    fn forgets_the_oldest_level_but_never_the_best() {
        let mut h = History {
            decisions: 0,
            decided_at: 0,
            levels: Vec::new(),
        };
        // the best is the oldest
        h.record(1000, 9000.0, 0);
        for i in 1..=MAX_LEVELS as u32 {
            h.record(1000 + 10 * i, 1.0, u64::from(i));
        }
        assert_eq!(h.levels.len(), MAX_LEVELS);
        assert_eq!(h.best().unwrap().fee_ppm, 1000);
        assert!(
            !h.levels.iter().any(|l| l.fee_ppm == 1010),
            "{:?}",
            h.levels
        );
        let encoded = h.encode();
        assert_eq!(History::decode(&encoded), Some(h));
    }

    /// The bytes of a stored history, pinned: a layout change must come with a new version.
    #[test]
    fn history_encoding_is_pinned() {
        let h = History {
            decisions: 7,
            decided_at: 1_767_225_600,
            levels: vec![
                Level {
                    fee_ppm: 300,
                    rate: 1250.5,
                    seen: 1_767_139_200,
                },
                Level {
                    fee_ppm: 450,
                    rate: 0.0,
                    seen: 1_767_225_600,
                },
            ],
        };
        let golden: [u8; 54] = [
            1, 7, 0, 0, 0, 0, 185, 85, 105, 0, 0, 0, 0, 2, 44, 1, 0, 0, 0, 0, 0, 0, 0, 138, 147,
            64, 128, 103, 84, 105, 0, 0, 0, 0, 194, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 185, 85,
            105, 0, 0, 0, 0,
        ];
        assert_eq!(h.encode()[..], golden);
        assert_eq!(History::decode(&golden), Some(h));
    }

    #[test]
    fn fees_stay_within_bounds() {
        let id = id_at(0);
        let tight = [
            Param::new("min_fee_ppm", 300),
            Param::new("max_fee_ppm", 320),
        ];
        // exploring up from 300 stops at 320
        assert_eq!(
            one(&mut TestHost::new(), &tight, chan(id, 300, 1.0)).fee_ppm,
            Some(320)
        );
        // no room at all: stays
        let fixed = [
            Param::new("min_fee_ppm", 300),
            Param::new("max_fee_ppm", 300),
        ];
        assert!(one(&mut TestHost::new(), &fixed, chan(id, 300, 1.0)).is_unchanged());
        // a best level outside new bounds is brought inside
        let other = id_at(1);
        let mut host = knowing(other, 1, &[(900, 5000.0)]);
        let cap = [Param::new("max_fee_ppm", 600)];
        assert_eq!(
            one(&mut host, &cap, chan(other, 500, 10.0)).fee_ppm,
            Some(600)
        );
    }

    #[test]
    fn bad_rates_and_extreme_fees_do_not_panic() {
        let id = id_at(1);
        for rate in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -5.0] {
            let mut host = TestHost::new();
            let d = one(&mut host, &[], chan(id, 300, rate));
            assert!(d.reason.contains("earned 0 msat/h"), "{}", d.reason);
            assert_eq!(history(&host, id).levels[0].rate, 0.0);
        }
        let wide = [
            Param::new("max_fee_ppm", 1_000_000),
            Param::new("step_ppm", 100_000),
        ];
        let huge = ChannelBuilder::new(id_at(0))
            .fee_ppm(u32::MAX)
            .capacity_sat(0)
            .balances_sat(0, 0)
            .revenue_rate_msat_per_hour(f64::MAX)
            .last_fee_change(0)
            .build();
        let mut host = TestHost::new();
        host.now = u64::MAX;
        let d = one(&mut host, &wide, huge);
        assert_eq!(d.fee_ppm, Some(900_000), "{}", d.reason);
        let mut corrupt = History {
            decisions: u32::MAX,
            decided_at: 0,
            levels: vec![],
        }
        .encode();
        let mut host = TestHost::new();
        host.state.insert(state_key(id), corrupt.clone());
        one(&mut host, &[], chan(id, 300, 1.0)); // counter saturates
        assert_eq!(history(&host, id).decisions, u32::MAX);
        corrupt[13] = 3; // claims levels it does not hold
        assert_eq!(History::decode(&corrupt), None);
        assert_eq!(History::decode(&[]), None);
    }

    #[test]
    fn history_survives_a_restart_and_bad_state_starts_over() {
        let id = id_at(1);
        let mut host = TestHost::new();
        one(&mut host, &[], chan(id, 300, 1500.0));
        // a restart: a fresh call with only the host's state carried over
        let mut restarted = TestHost::new();
        restarted.state = host.state.clone();
        restarted.now = host.now + DAY;
        let d = one(&mut restarted, &[], chan(id, 350, 200.0));
        assert_eq!(d.fee_ppm, Some(300), "{}", d.reason);
        assert_eq!(history(&restarted, id).levels.len(), 2);
        // a host without that history knows only the current level
        let mut fresh = TestHost::new();
        assert!(one(&mut fresh, &[], chan(id, 350, 200.0)).is_unchanged());
        let mut corrupt = TestHost::new();
        corrupt.state.insert(state_key(id), vec![1, 2, 3]);
        assert!(one(&mut corrupt, &[], chan(id, 350, 200.0)).is_unchanged());
        assert_eq!(history(&corrupt, id).levels.len(), 1);
    }

    #[test]
    fn climbs_to_the_peak_of_a_revenue_curve_and_stays_near_it() {
        // revenue ∝ fee × (1000 − fee): the peak is 500 ppm
        let curve = |fee: u32| f64::from(fee) * f64::from(1000u32.saturating_sub(fee)) / 100.0;
        let id = id_at(0);
        let mut host = TestHost::new();
        let mut fee = 200;
        let mut changed_at = None;
        let mut fees = Vec::new();
        for _ in 0..60 {
            let mut c = ChannelBuilder::new(id)
                .fee_ppm(fee)
                .revenue_rate_msat_per_hour(curve(fee));
            if let Some(at) = changed_at {
                c = c.last_fee_change(at);
            }
            let d = one(&mut host, &[], c.build());
            if let Some(next) = d.fee_ppm {
                fee = next;
                changed_at = Some(host.now);
            }
            fees.push(fee);
            host.advance(DAY);
        }
        // one step up per exploration, every 4th decision, while the neighbour earns more
        for (i, &fee) in fees[..24].iter().enumerate() {
            assert_eq!(fee, 250 + 50 * (i as u32 / 4), "{fees:?}");
        }
        // then at the peak, with every 4th decision a look at 550 or 450 and straight back
        for (i, &fee) in fees.iter().enumerate().skip(24) {
            let expected: &[u32] = if i % 4 == 0 { &[450, 550] } else { &[500] };
            assert!(expected.contains(&fee), "{i}: {fees:?}");
        }
    }

    #[test]
    fn inactive_channels_are_left_unchanged() {
        let mut host = TestHost::new();
        let channels = fixtures();
        let decisions = run::<RevenueMax>(&mut host, &[], &channels).unwrap();
        for (c, d) in channels.iter().zip(&decisions) {
            if !c.active {
                assert!(d.is_unchanged() && d.reason.contains("inactive"));
                assert!(!host.state.contains_key(&state_key(c.channel_id)));
            }
        }
    }

    #[test]
    fn bad_parameters_are_errors() {
        let err = |params: &[Param]| {
            run::<RevenueMax>(&mut TestHost::new(), params, &fixtures()).unwrap_err()
        };
        assert_eq!(
            err(&[Param::new("min_fee_ppm", 3000)]),
            "min_fee_ppm (3000) must not exceed max_fee_ppm (2500)"
        );
        assert!(err(&[Param::new("explore_every", 1)]).contains("`explore_every`"));
        assert!(err(&[Param::new("step_ppm", 0)]).contains("`step_ppm`"));
        assert!(err(&[Param::new("min_hours_at_level", 1e9)]).contains("`min_hours_at_level`"));
    }
}
