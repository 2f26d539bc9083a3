//! `cost`: charge-lnd's strategy that prices a channel to recover what opening it cost.
//!
//! A channel we funded cost an on-chain fee; charging that fee as a rate on the capacity
//! means forwarding the whole capacity once pays it back (times `cost_factor`):
//!
//! ```text
//! fee_ppm = int(cost_factor × 1,000,000 × open_cost_sat / capacity_sat)
//! ```
//!
//! truncated toward zero like Python's `int()`. Channels the peer opened cost us nothing
//! and get 1 ppm. A channel we opened whose funding fee the host does not know is left
//! unchanged: the view cannot tell a transaction the wallet does not hold (charge-lnd's 1 ppm)
//! from a lookup the node refused or that failed (charge-lnd's exception, which leaves the
//! channel alone), and 1 ppm on every channel we opened, because a macaroon lacks
//! `GetTransactions`, would give their liquidity away.

use lnpolicy_sdk::{ChannelView, Decision, Host, ParamSpec, Params, Strategy, StrategyInfo};

/// The strategy; see the crate documentation.
pub struct Cost;

/// charge-lnd's rate for channels without a known opening cost.
const NO_COST_PPM: u32 = 1;

fn decide_one(channel: &ChannelView, cost_factor: f64) -> Decision {
    let id = channel.channel_id;
    let one_ppm = |why: &str| Decision::set(id).fee_ppm(NO_COST_PPM).reason(why);
    if !channel.initiator {
        return one_ppm("cost: peer opened the channel → 1 ppm");
    }
    let Some(open_cost) = channel.open_cost_sat else {
        return Decision::unchanged(
            id,
            "cost: we opened the channel but its funding fee is unknown (not found, or the \
             node refused or failed the lookup); unchanged",
        );
    };
    if channel.capacity_sat == 0 {
        return Decision::unchanged(id, "cost: zero capacity, unchanged");
    }
    // Same operation order as charge-lnd, so the float rounding (and so the ppm) agrees.
    let exact = cost_factor * 1_000_000.0 * open_cost as f64 / channel.capacity_sat as f64;
    // `as` truncates toward zero like int() and saturates instead of overflowing.
    let fee = exact as u32;
    Decision::set(id).fee_ppm(fee).reason(format!(
        "cost: {open_cost} sat funding fee × {cost_factor} / {} sat → {fee} ppm",
        channel.capacity_sat
    ))
}

impl Strategy for Cost {
    fn info() -> StrategyInfo {
        let mut cost_factor = ParamSpec::float(
            "cost_factor",
            "Multiplier on the funding fee spread over the capacity.",
            1.0,
        );
        cost_factor.min = Some(0.0);
        StrategyInfo {
            name: "cost".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "charge-lnd's `cost`: fee rate = cost_factor × 1e6 × funding fee / \
                          capacity, so forwarding the capacity once recovers the opening cost; \
                          1 ppm on channels the peer opened; a channel we opened whose funding \
                          fee is unknown is left unchanged."
                .into(),
            params: vec![cost_factor],
        }
    }

    fn decide(
        _host: &mut dyn Host,
        params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String> {
        let cost_factor = params.f64("cost_factor")?;
        Ok(channels
            .iter()
            .map(|c| decide_one(c, cost_factor))
            .collect())
    }
}

lnpolicy_sdk::export_strategy!(Cost);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{ChannelBuilder, TestHost, run};
    use lnpolicy_sdk::{ChannelView, Decision, Param};

    use super::Cost;

    fn ours(capacity_sat: u64, open_cost_sat: Option<u64>) -> ChannelView {
        ChannelBuilder::new(1)
            .capacity_sat(capacity_sat)
            .open_cost_sat(open_cost_sat)
            .build()
    }

    fn decide(params: &[Param], channel: ChannelView) -> Result<Decision, String> {
        run::<Cost>(&mut TestHost::new(), params, &[channel]).map(|mut d| d.remove(0))
    }

    fn fee(params: &[Param], channel: ChannelView) -> Option<u32> {
        decide(params, channel).unwrap().fee_ppm
    }

    #[test]
    fn funding_fee_is_spread_over_the_capacity() {
        let decision = decide(&[], ours(2_000_000, Some(1_234))).unwrap();
        assert_eq!(
            decision,
            Decision::set(1)
                .fee_ppm(617)
                .reason("cost: 1234 sat funding fee × 1 / 2000000 sat → 617 ppm")
        );
    }

    #[test]
    fn cost_factor_scales_and_the_result_truncates() {
        // 1.5 × 1e6 × 1234 / 2e6 = 925.5 → 925
        let params = [Param::new("cost_factor", 1.5)];
        assert_eq!(fee(&params, ours(2_000_000, Some(1_234))), Some(925));
        // 1e6 × 999 / 1e6 = 999; 1e6 × 1 / 3e6 = 0.33 → 0
        assert_eq!(fee(&[], ours(1_000_000, Some(999))), Some(999));
        assert_eq!(fee(&[], ours(3_000_000, Some(1))), Some(0));
        assert_eq!(
            fee(
                &[Param::new("cost_factor", 0)],
                ours(1_000_000, Some(5_000))
            ),
            Some(0)
        );
    }

    #[test]
    fn operation_order_matches_charge_lnd() {
        // Python: int(0.3 * 1_000_000 * 1 / 3) = 100000, where 0.3 * (1_000_000 * 1 / 3)
        // gives 99999
        let params = [Param::new("cost_factor", 0.3)];
        assert_eq!(fee(&params, ours(3, Some(1))), Some(100_000));
    }

    #[test]
    fn peer_opened_channels_get_one_ppm() {
        let theirs = ChannelBuilder::new(1)
            .initiator(false)
            .open_cost_sat(Some(5_000))
            .build();
        assert_eq!(
            decide(&[], theirs).unwrap(),
            Decision::set(1)
                .fee_ppm(1)
                .reason("cost: peer opened the channel → 1 ppm")
        );
    }

    #[test]
    fn an_unknown_funding_fee_leaves_our_channel_unchanged_and_says_so() {
        let decision = decide(&[], ours(1_000_000, None)).unwrap();
        assert!(decision.is_unchanged(), "{decision:?}");
        assert!(
            decision.reason.contains("funding fee is unknown"),
            "{}",
            decision.reason
        );
    }

    #[test]
    fn zero_capacity_is_left_unchanged() {
        let decision = decide(&[], ours(0, Some(1_000))).unwrap();
        assert!(decision.is_unchanged());
        assert_eq!(decision.reason, "cost: zero capacity, unchanged");
    }

    #[test]
    fn huge_rates_saturate() {
        let params = [Param::new("cost_factor", 1e9)];
        assert_eq!(fee(&params, ours(1, Some(1))), Some(u32::MAX));
    }

    #[test]
    fn negative_cost_factor_is_an_error() {
        assert_eq!(
            decide(&[Param::new("cost_factor", -0.5)], ours(1_000_000, Some(1))).unwrap_err(),
            "parameter `cost_factor`: -0.5 is below the minimum 0"
        );
    }
}
