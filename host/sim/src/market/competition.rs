//! Competing routes: for each pair of our peers, the route segments a sender could use
//! instead of ours, priced like the real network between routing nodes (fee rate, base fee,
//! CLTV and capacity of each channel drawn from the mainnet table's routing columns).

use crate::fee_distribution::{Column, MarketTable};
use crate::market::MAX_HOPS;
use crate::market::SenderKind;
use crate::market::senders::SenderModels;
use crate::rng::Rng;
use crate::scenario::CompetitionSpec;

/// One channel of a competing route.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Hop {
    /// Base fee, msat.
    pub base_msat: f64,
    /// Fee rate, ppm.
    pub ppm: f64,
    /// CLTV delta.
    pub cltv: u32,
    /// Channel capacity, msat.
    pub capacity_msat: f64,
    /// The sender's prior success probability for this hop.
    pub success: f64,
}

/// A competing route segment between the same two peers as ours.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Route {
    hops: [Hop; MAX_HOPS],
    len: u8,
}

/// What a route costs one sender for one amount.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RouteQuote {
    /// Total fee of the segment, msat.
    pub fee_msat: f64,
    /// The sender's estimate of the success probability.
    pub success: f64,
    /// The probability the route really delivers: each hop's reliability times the chance
    /// that liquidity spread uniformly over its capacity covers what it carries.
    pub truth: f64,
    /// Total CLTV delta of the segment.
    pub cltv: u32,
    /// Channels in the segment.
    pub hops: u32,
}

impl Route {
    /// The route's channels, first to last.
    pub fn hops(&self) -> &[Hop] {
        &self.hops[..usize::from(self.len)]
    }

    /// Fees compound backwards: each hop charges on what it forwards, downstream fees
    /// included. Success multiplies over hops, each seeing the amount it carries.
    pub fn quote(&self, models: &SenderModels, kind: SenderKind, amount_msat: f64) -> RouteQuote {
        let mut carried = amount_msat;
        let mut success = 1.0;
        let mut truth = 1.0;
        let mut cltv = 0;
        for hop in self.hops().iter().rev() {
            success *= models.hop_success(kind, hop.success, hop.capacity_msat, carried);
            truth *= hop.success * (1.0 - carried / hop.capacity_msat).max(0.0);
            carried += hop.base_msat + hop.ppm * carried * 1e-6;
            cltv += hop.cltv;
        }
        RouteQuote {
            fee_msat: carried - amount_msat,
            success,
            truth,
            cltv,
            hops: u32::from(self.len),
        }
    }
}

/// How much competition each pair of our channels faces, and the routes themselves.
///
/// A pair's route count is fixed (drawn from a stream derived from (seed, pair), so it does
/// not depend on the order pairs are used in and costs no memory); the routes are drawn
/// afresh for every payment, because each payment comes from a different sender to a
/// different receiver and so has different alternatives.
#[derive(Debug, Clone, Copy)]
pub struct Competition {
    spec: CompetitionSpec,
    seed: u64,
    channels: usize,
}

impl Competition {
    /// `channels` of ours; route counts come from `seed`.
    pub fn new(spec: CompetitionSpec, seed: u64, channels: usize) -> Self {
        Competition {
            spec,
            seed,
            channels,
        }
    }

    /// Number of competing routes for payments entering via `from` and leaving via `to`.
    pub fn route_count(&self, from: usize, to: usize) -> u32 {
        let pair = (from * self.channels + to) as u64;
        let mut rng = Rng::derive(self.seed ^ 0xC0_3B_E7_17, pair);
        let s = &self.spec;
        rng.range_inclusive(u64::from(s.routes_min), u64::from(s.routes_max)) as u32
    }

    /// One competing route: channels drawn from the routing columns of the table.
    pub fn draw_route(&self, table: &MarketTable, rng: &mut Rng) -> Route {
        let s = &self.spec;
        let len = rng.range_inclusive(u64::from(s.hops_min), u64::from(s.hops_max)) as usize;
        let mut hops = [Hop::default(); MAX_HOPS];
        for hop in hops.iter_mut().take(len) {
            *hop = Hop {
                base_msat: table.sample(Column::RoutingBaseFeeMsat, rng) as f64,
                ppm: table.sample(Column::RoutingFeePpm, rng) as f64,
                cltv: u32::try_from(table.sample(Column::RoutingCltvDelta, rng))
                    .unwrap_or(u32::MAX),
                capacity_msat: table.sample(Column::RoutingCapacitySat, rng) as f64 * 1e3,
                success: s.hop_success_min
                    + (s.hop_success_max - s.hop_success_min) * rng.uniform(),
            };
        }
        Route {
            hops,
            len: len as u8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fee_distribution::mainnet;
    use crate::scenario::{ClnSenderSpec, LdkSenderSpec, LndSenderSpec};

    #[test]
    fn route_counts_are_fixed_per_pair_and_routes_follow_the_spec() {
        let spec = CompetitionSpec::default();
        let a = Competition::new(spec, 9, 5);
        let n = a.route_count(1, 2);
        assert_eq!(n, Competition::new(spec, 9, 5).route_count(1, 2));
        assert!((spec.routes_min..=spec.routes_max).contains(&n));
        let mut rng = Rng::new(3);
        for _ in 0..100 {
            let route = a.draw_route(mainnet(), &mut rng);
            let hops = route.hops().len() as u32;
            assert!((spec.hops_min..=spec.hops_max).contains(&hops));
            assert!(
                route
                    .hops()
                    .iter()
                    .all(|h| h.capacity_msat > 0.0 && h.success > 0.0)
            );
        }
    }

    #[test]
    fn fees_compound_backwards() {
        let hop = Hop {
            base_msat: 1_000.0,
            ppm: 1_000.0,
            cltv: 40,
            capacity_msat: 1e12,
            success: 1.0,
        };
        let mut hops = [Hop::default(); MAX_HOPS];
        hops[0] = hop;
        hops[1] = hop;
        let route = Route { hops, len: 2 };
        let models = SenderModels {
            lnd: LndSenderSpec::default(),
            cln: ClnSenderSpec::default(),
            ldk: LdkSenderSpec::default(),
        };
        let q = route.quote(&models, SenderKind::Cln, 1_000_000.0);
        // Last hop: 1000 + 1000 = 2000; first hop on 1_002_000: 1000 + 1002 = 2002.
        assert!((q.fee_msat - 4_002.0).abs() < 1e-6);
        assert_eq!(q.cltv, 80);
        assert_eq!(q.hops, 2);
    }
}
