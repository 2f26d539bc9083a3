//! How senders price a route (LIGHTNING-FACTS, "How senders choose routes"). A route is
//! summarised by its fee, the amount, its total CLTV delta, its channel count and the
//! sender's success probability; each implementation turns that into a cost, and the
//! cheapest route within the sender's fee limit wins.

use crate::market::SenderKind;
use crate::scenario::{ClnSenderSpec, LdkSenderSpec, LndSenderSpec};

/// Below this success probability a route is not tried at all.
pub const MIN_SUCCESS: f64 = 1e-4;

/// The three cost models with their parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SenderModels {
    /// LND's parameters.
    pub lnd: LndSenderSpec,
    /// Core Lightning's parameters.
    pub cln: ClnSenderSpec,
    /// LDK's parameters.
    pub ldk: LdkSenderSpec,
}

impl SenderModels {
    /// Success probability of one hop: the sender's prior for it times how likely a
    /// channel of `capacity_msat` has `amount_msat` on the right side. LND uses its
    /// apriori estimator's capacity factor (a logistic cut-off at 75% of capacity); CLN and
    /// LDK assume liquidity uniform over the capacity.
    pub fn hop_success(
        &self,
        kind: SenderKind,
        prior: f64,
        capacity_msat: f64,
        amount_msat: f64,
    ) -> f64 {
        if amount_msat >= capacity_msat {
            return 0.0;
        }
        let factor = match kind {
            SenderKind::Lnd => {
                let cutoff = 0.75 * capacity_msat;
                let smearing = 0.1 * capacity_msat;
                1.0 - 1.0 / (1.0 + libm::exp(-(amount_msat - cutoff) / smearing))
            }
            SenderKind::Cln | SenderKind::Ldk => (capacity_msat - amount_msat) / capacity_msat,
        };
        prior * factor
    }

    /// The sender's cost of a route, in msat-equivalents (lower is better).
    pub fn cost(
        &self,
        kind: SenderKind,
        fee_msat: f64,
        amount_msat: f64,
        cltv: u32,
        hops: u32,
        success: f64,
    ) -> f64 {
        let cltv = f64::from(cltv);
        match kind {
            SenderKind::Lnd => {
                let m = &self.lnd;
                let attempt = m.attempt_cost_msat + m.attempt_cost_ppm * amount_msat * 1e-6;
                fee_msat + amount_msat * cltv * m.risk_factor_billionths * 1e-9 + attempt / success
            }
            SenderKind::Cln => {
                let m = &self.cln;
                fee_msat
                    + m.uncertainty_ppm * 1e-6 * amount_msat * -libm::log(success)
                    + m.delay_feefactor * amount_msat * cltv
            }
            SenderKind::Ldk => {
                let m = &self.ldk;
                let per_hop = m.base_penalty_msat
                    + m.base_penalty_amount_multiplier_msat * amount_msat / f64::from(1u32 << 30);
                let liquidity = m.liquidity_penalty_multiplier_msat
                    + m.liquidity_penalty_amount_multiplier_msat * amount_msat
                        / f64::from(1u32 << 20);
                fee_msat + f64::from(hops) * per_hop + liquidity * -libm::log10(success)
            }
        }
    }

    /// The most the sender pays in fees for `amount_msat`.
    pub fn fee_limit(&self, kind: SenderKind, amount_msat: f64) -> f64 {
        match kind {
            SenderKind::Lnd => {
                if amount_msat < self.lnd.full_fee_limit_below_msat as f64 {
                    amount_msat
                } else {
                    self.lnd.fee_limit_ppm * amount_msat * 1e-6
                }
            }
            SenderKind::Cln => {
                (self.cln.fee_limit_ppm * amount_msat * 1e-6).max(self.cln.fee_limit_min_msat)
            }
            SenderKind::Ldk => {
                self.ldk.fee_limit_ppm * amount_msat * 1e-6 + self.ldk.fee_limit_extra_msat
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn models() -> SenderModels {
        SenderModels {
            lnd: LndSenderSpec::default(),
            cln: ClnSenderSpec::default(),
            ldk: LdkSenderSpec::default(),
        }
    }

    #[test]
    fn cheaper_and_more_reliable_routes_cost_less() {
        let m = models();
        for kind in SenderKind::ALL {
            let a = 50_000_000.0;
            let base = m.cost(kind, 10_000.0, a, 100, 2, 0.8);
            assert!(
                m.cost(kind, 20_000.0, a, 100, 2, 0.8) > base,
                "{kind:?} fee"
            );
            assert!(
                m.cost(kind, 10_000.0, a, 100, 2, 0.4) > base,
                "{kind:?} success"
            );
        }
    }

    #[test]
    fn capacity_limits_success() {
        let m = models();
        for kind in SenderKind::ALL {
            let small = m.hop_success(kind, 0.9, 1e9, 9e8);
            let large = m.hop_success(kind, 0.9, 1e10, 9e8);
            assert!(small < large, "{kind:?}");
            assert_eq!(m.hop_success(kind, 0.9, 1e9, 1e9), 0.0);
        }
    }

    #[test]
    fn fee_limits_follow_the_implementations() {
        let m = models();
        // LND: 5%, but everything below 1000 sat.
        assert_eq!(m.fee_limit(SenderKind::Lnd, 500_000.0), 500_000.0);
        assert_eq!(m.fee_limit(SenderKind::Lnd, 10_000_000.0), 500_000.0);
        // CLN: max(5 sat, 1%).
        assert_eq!(m.fee_limit(SenderKind::Cln, 100_000.0), 5_000.0);
        assert_eq!(m.fee_limit(SenderKind::Cln, 10_000_000.0), 100_000.0);
    }
}
