//! Who pays through which pair of our peers. A payment enters via peer `i` with probability
//! proportional to its source weight `weight·(1+bias)` and leaves via `j ≠ i` proportional
//! to its sink weight `weight·(1−bias)`; explicit `[[pairs]]` add their own rates. Together
//! these are independent Poisson processes per ordered pair, simulated as one process of
//! the summed rate whose events are assigned to pairs.

use crate::rng::Rng;
use crate::scenario::{AmountSpec, Scenario};

#[derive(Debug, Clone)]
struct ExplicitPair {
    from: usize,
    to: usize,
    amount: AmountSpec,
}

/// The arrival process of candidate payments.
#[derive(Debug, Clone)]
pub struct Demand {
    /// Payments per second, all pairs together.
    rate: f64,
    /// Share of `rate` assigned by weights (the rest goes to explicit pairs).
    weighted_share: f64,
    amount: AmountSpec,
    source_cum: Vec<f64>,
    sink_cum: Vec<f64>,
    sinks: Vec<f64>,
    explicit: Vec<ExplicitPair>,
    explicit_cum: Vec<f64>,
}

/// One payment's pair and amount distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairDraw {
    /// Index of the channel the payment enters through.
    pub from: usize,
    /// Index of the channel it leaves through.
    pub to: usize,
    /// Its amount distribution.
    pub amount: AmountSpec,
}

fn cumulative(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut total = 0.0;
    values
        .map(|v| {
            total += v;
            total
        })
        .collect()
}

/// Index of the bucket `u` (in `[0, total)`) falls into.
fn bucket(cum: &[f64], u: f64) -> usize {
    cum.partition_point(|&c| c <= u).min(cum.len() - 1)
}

impl Demand {
    /// The arrival process a (validated) scenario describes.
    pub fn new(scenario: &Scenario) -> Self {
        let channels = &scenario.channels;
        let sources = channels.iter().map(|c| c.weight * (1.0 + c.bias));
        let sinks: Vec<f64> = channels.iter().map(|c| c.weight * (1.0 - c.bias)).collect();
        let source_cum = cumulative(sources);
        let sink_cum = cumulative(sinks.iter().copied());
        let index = |alias: &str| channels.iter().position(|c| c.peer_alias == alias);
        let (explicit, rates): (Vec<ExplicitPair>, Vec<f64>) = scenario
            .pairs
            .iter()
            .filter_map(|p| {
                let pair = ExplicitPair {
                    from: index(&p.from)?,
                    to: index(&p.to)?,
                    amount: p.amount.unwrap_or(scenario.market.amount),
                };
                Some((pair, p.payments_per_day))
            })
            .unzip();
        let explicit_cum = cumulative(rates.into_iter());
        let has_weights = source_cum.last().copied().unwrap_or(0.0) > 0.0
            && sink_cum.last().copied().unwrap_or(0.0) > 0.0;
        let weighted = if has_weights {
            scenario.market.payments_per_day
        } else {
            0.0
        };
        let explicit_total = explicit_cum.last().copied().unwrap_or(0.0);
        let per_day = weighted + explicit_total;
        Demand {
            rate: per_day / 86_400.0,
            weighted_share: if per_day > 0.0 {
                weighted / per_day
            } else {
                0.0
            },
            amount: scenario.market.amount,
            source_cum,
            sink_cum,
            sinks,
            explicit,
            explicit_cum,
        }
    }

    /// Payments per day, all pairs together.
    pub fn payments_per_day(&self) -> f64 {
        self.rate * 86_400.0
    }

    /// Nanoseconds until the next payment, or `None` when there is no demand.
    pub fn next_gap_ns(&self, rng: &mut Rng) -> Option<u64> {
        if self.rate <= 0.0 {
            return None;
        }
        let secs = rng.exponential() / self.rate;
        Some((libm::round(secs * 1e9) as u64).max(1))
    }

    /// Draws the pair of the next payment (always three uniforms, so the stream stays
    /// aligned). `None` when the draw lands on a pair that cannot exist (one peer alone
    /// carrying all sink weight of its own source draw).
    pub fn pick(&self, rng: &mut Rng) -> Option<PairDraw> {
        let (u_kind, u_from, u_to) = (rng.uniform(), rng.uniform(), rng.uniform());
        if u_kind >= self.weighted_share {
            let total = *self.explicit_cum.last()?;
            let pair = &self.explicit[bucket(&self.explicit_cum, u_from * total)];
            return Some(PairDraw {
                from: pair.from,
                to: pair.to,
                amount: pair.amount,
            });
        }
        let from = bucket(&self.source_cum, u_from * self.source_cum.last()?);
        // Sink draw over all peers but `from`: skip its interval of the cumulative sum.
        let own = self.sinks[from];
        let rest = self.sink_cum.last()? - own;
        if rest <= 0.0 {
            return None;
        }
        let mut u = u_to * rest;
        if u >= self.sink_cum[from] - own {
            u += own;
        }
        let to = bucket(&self.sink_cum, u);
        (to != from).then_some(PairDraw {
            from,
            to,
            amount: self.amount,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_follow_the_weights_and_never_loop() {
        let mut scenario = Scenario::synthetic(4, 1_000.0, 3);
        for (c, bias) in scenario.channels.iter_mut().zip([1.0, -1.0, 0.0, 0.0]) {
            c.weight = 1.0;
            c.bias = bias;
        }
        let demand = Demand::new(&scenario);
        let mut rng = Rng::new(5);
        let mut out_of = [0u32; 4];
        let mut into = [0u32; 4];
        for _ in 0..40_000 {
            let d = demand.pick(&mut rng).unwrap();
            assert_ne!(d.from, d.to);
            out_of[d.to] += 1;
            into[d.from] += 1;
        }
        // Peer 0 only sends (bias +1), peer 1 only receives (bias −1).
        assert_eq!(out_of[0], 0);
        assert_eq!(into[1], 0);
        assert!(into[0] > into[2] && out_of[1] > out_of[2]);
    }
}
