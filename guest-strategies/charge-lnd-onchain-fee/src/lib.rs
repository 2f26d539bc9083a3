//! `onchain_fee`: charge-lnd's strategy that ties the fee rate to on-chain fees.
//!
//! When block space is expensive, closing and reopening channels is too, so liquidity is
//! worth more. The rate charges a payment of `onchain_fee_btc` one percent of the fee of a
//! 223-vbyte transaction (charge-lnd's reference size) at the node's estimate for
//! confirmation within `onchain_fee_numblocks` blocks:
//!
//! ```text
//! fee_ppm = int((0.01 / onchain_fee_btc) × (223 × sat_per_vbyte))
//! ```
//!
//! The estimate is the node's own (LND's EstimateFee, as current charge-lnd asks; CLN's
//! feerates), fetched by the host for the `conf-target` parameter. Without an estimate, or
//! below 1 sat/vB, the fee rate is left unchanged (the section's properties still apply).

use lnpolicy_sdk::{ChannelView, Decision, Host, ParamSpec, Params, Strategy, StrategyInfo};

/// The strategy; see the crate documentation.
pub struct OnchainFee;

/// Smallest `onchain_fee_btc`: one satoshi, so the division is always defined.
const MIN_REFERENCE_BTC: f64 = 0.000_000_01;

impl Strategy for OnchainFee {
    fn info() -> StrategyInfo {
        let mut reference = ParamSpec::float(
            "onchain_fee_btc",
            "Payment size, BTC, that pays 1% of a 223-vbyte transaction's fee.",
            0.1,
        );
        reference.min = Some(MIN_REFERENCE_BTC);
        let mut numblocks = ParamSpec::conf_target(
            "onchain_fee_numblocks",
            "Confirmation target, blocks, of the on-chain fee estimate.",
            6,
        );
        // charge-lnd takes 1; nodes estimate from 2 blocks on, so the host asks for 2 then.
        numblocks.min = Some(1.0);
        StrategyInfo {
            name: "onchain_fee".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "charge-lnd's `onchain_fee`: fee rate = (0.01 / onchain_fee_btc) × 223 \
                          × the node's on-chain fee estimate (sat/vB) for \
                          onchain_fee_numblocks blocks; unchanged without an estimate or below \
                          1 sat/vB."
                .into(),
            params: vec![reference, numblocks],
        }
    }

    fn decide(
        host: &mut dyn Host,
        params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String> {
        let reference = params.f64("onchain_fee_btc")?;
        let numblocks = params.u32("onchain_fee_numblocks")?;
        // One estimate for the whole batch, so one decision shape for every channel.
        let (fee, reason) = match host.chain_fee_rate(numblocks) {
            Some(rate) if rate >= 1.0 => {
                // Same operation order as charge-lnd; `as` truncates like int() and saturates.
                let fee = ((0.01 / reference) * (223.0 * rate)) as u32;
                let reason = format!(
                    "onchain_fee: {rate} sat/vB at {numblocks} blocks, {reference} BTC → {fee} ppm"
                );
                (Some(fee), reason)
            }
            Some(rate) => (
                None,
                format!("onchain_fee: {rate} sat/vB at {numblocks} blocks is below 1, unchanged"),
            ),
            None => (
                None,
                format!("onchain_fee: no fee estimate for {numblocks} blocks, unchanged"),
            ),
        };
        Ok(channels
            .iter()
            .map(|c| match fee {
                Some(fee) => Decision::set(c.channel_id)
                    .fee_ppm(fee)
                    .reason(reason.clone()),
                None => Decision::unchanged(c.channel_id, reason.clone()),
            })
            .collect())
    }
}

lnpolicy_sdk::export_strategy!(OnchainFee);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{TestHost, fixtures, run};
    use lnpolicy_sdk::{Decision, Param};

    use super::OnchainFee;

    /// Decisions for the fixtures with these estimates (conf target → sat/vB).
    fn decide(rates: &[(u32, f64)], params: &[Param]) -> Result<Vec<Decision>, String> {
        let mut host = TestHost::new();
        host.chain_fee_rates.extend(rates.iter().copied());
        run::<OnchainFee>(&mut host, params, &fixtures())
    }

    fn fee(rates: &[(u32, f64)], params: &[Param]) -> Option<u32> {
        decide(rates, params).unwrap()[0].fee_ppm
    }

    #[test]
    fn defaults_read_the_six_block_estimate() {
        // (0.01 / 0.1) × (223 × 12.5) = 278.75 → 278
        let decisions = decide(&[(6, 12.5), (2, 40.0)], &[]).unwrap();
        assert_eq!(decisions.len(), fixtures().len());
        for decision in decisions {
            assert_eq!(decision.fee_ppm, Some(278));
            assert_eq!(
                decision.reason,
                "onchain_fee: 12.5 sat/vB at 6 blocks, 0.1 BTC → 278 ppm"
            );
            assert!(decision.base_fee_msat.is_none() && decision.disabled.is_none());
        }
    }

    #[test]
    fn parameters_pick_the_target_and_the_reference_payment() {
        let params = [
            Param::new("onchain_fee_numblocks", 2),
            Param::new("onchain_fee_btc", 0.05),
        ];
        // (0.01 / 0.05) × (223 × 3.3) = 147.18 → 147
        assert_eq!(fee(&[(6, 50.0), (2, 3.3)], &params), Some(147));
    }

    #[test]
    fn operation_order_matches_charge_lnd() {
        // Python: int((0.01 / 0.07) * (223 * 7.0)) = 223, where 0.01 / 0.07 * 223 * 7.0 gives 222
        assert_eq!(
            fee(&[(6, 7.0)], &[Param::new("onchain_fee_btc", 0.07)]),
            Some(223)
        );
    }

    #[test]
    fn exactly_one_sat_per_vbyte_still_counts() {
        assert_eq!(fee(&[(6, 1.0)], &[]), Some(22));
    }

    #[test]
    fn below_one_sat_per_vbyte_is_left_unchanged() {
        for decision in decide(&[(6, 0.99)], &[]).unwrap() {
            assert!(decision.is_unchanged());
            assert_eq!(
                decision.reason,
                "onchain_fee: 0.99 sat/vB at 6 blocks is below 1, unchanged"
            );
        }
    }

    #[test]
    fn no_estimate_is_left_unchanged() {
        for decision in decide(&[(3, 10.0)], &[]).unwrap() {
            assert!(decision.is_unchanged());
            assert_eq!(
                decision.reason,
                "onchain_fee: no fee estimate for 6 blocks, unchanged"
            );
        }
    }

    #[test]
    fn numblocks_of_one_is_taken_as_in_charge_lnd_and_zero_is_rejected() {
        // (0.01 / 0.1) × (223 × 12.5) = 278.75 → 278: the estimate the host serves for 1
        assert_eq!(
            fee(
                &[(1, 12.5), (6, 40.0)],
                &[Param::new("onchain_fee_numblocks", 1)]
            ),
            Some(278)
        );
        assert_eq!(
            decide(&[(1, 10.0)], &[Param::new("onchain_fee_numblocks", 0)]).unwrap_err(),
            "parameter `onchain_fee_numblocks`: 0 is below the minimum 1"
        );
    }

    #[test]
    fn reference_payment_must_be_positive() {
        let err = decide(&[(6, 10.0)], &[Param::new("onchain_fee_btc", 0.0)]).unwrap_err();
        assert!(
            err.starts_with("parameter `onchain_fee_btc`: 0 is below the minimum"),
            "{err}"
        );
        // one satoshi is allowed: (0.01 / 1e-8) × (223 × 100) saturates the rate
        assert_eq!(
            fee(&[(6, 100.0)], &[Param::new("onchain_fee_btc", 1e-8)]),
            Some(u32::MAX)
        );
    }
}
