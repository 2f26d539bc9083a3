//! `proportional`: charge-lnd's strategy that moves the fee rate with the local balance.
//!
//! Scarce outbound liquidity should cost more, so the rate goes linearly from `max_fee_ppm`
//! on an empty channel to `min_fee_ppm` on a full one:
//!
//! ```text
//! ratio   = local / (local + remote)
//! fee_ppm = max(0, int(min_fee_ppm + (1 − ratio) × (max_fee_ppm − min_fee_ppm)))
//! ```
//!
//! As in charge-lnd since it learned inbound fees, `local` and `remote` count the HTLCs in
//! flight on their side: ours offered to the peer are still ours, the peer's offered to us
//! still the peer's. The commit fee does not count (the `chan.*_ratio` matchers add it).
//!
//! `int()` truncates toward zero and `max_fee_ppm < min_fee_ppm` is allowed, as in
//! charge-lnd. With `sum_peer_chans` the ratio is taken over the peer's active channels,
//! or over its inactive ones when the active ones hold nothing (the peer is likely offline,
//! and its channels should keep their fees for when it returns). A zero total has no ratio:
//! charge-lnd crashes there and ignores the channel; here it is left unchanged.

use lnpolicy_sdk::{
    ChannelView, Decision, Host, ParamSpec, Params, Reason, Strategy, StrategyInfo, ppm,
};

/// The strategy; see the crate documentation.
pub struct Proportional;

/// Which balances the ratio was taken over, for the reason.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    Channel,
    PeerActive,
    PeerInactive,
}

/// Local and remote balance to take the ratio over. The contract gives the peer's channels
/// settled balances only, so with `sum_peer_chans` in-flight HTLCs do not count.
fn balances(channel: &ChannelView, sum_peer_chans: bool) -> (u64, u64, Scope) {
    let shared = &channel.shared;
    match sum_peer_chans {
        false => (
            channel
                .local_balance_sat
                .saturating_add(channel.pending_out_sat),
            channel
                .remote_balance_sat
                .saturating_add(channel.pending_in_sat),
            Scope::Channel,
        ),
        true if shared.active_local_sat > 0 || shared.active_remote_sat > 0 => (
            shared.active_local_sat,
            shared.active_remote_sat,
            Scope::PeerActive,
        ),
        true => (
            shared.inactive_local_sat,
            shared.inactive_remote_sat,
            Scope::PeerInactive,
        ),
    }
}

/// charge-lnd's formula, in its operation order so the float rounding agrees.
fn fee_ppm(min: i64, max: i64, ratio: f64) -> u32 {
    let exact = min as f64 + (1.0 - ratio) * (max - min) as f64;
    // `as` truncates toward zero like int(), and saturates; negatives become 0 like max(0, …).
    exact as u32
}

fn decide_one(channel: &ChannelView, min: i64, max: i64, sum_peer_chans: bool) -> Decision {
    let (local, remote, scope) = balances(channel, sum_peer_chans);
    let total = local.saturating_add(remote);
    if total == 0 {
        return Decision::unchanged(
            channel.channel_id,
            "proportional: no balance, no ratio, unchanged",
        );
    }
    let ratio = local as f64 / total as f64;
    let fee = fee_ppm(min, max, ratio);
    let hundredths = (ratio * 100.0).round() as u32;
    let reason = Reason::new("proportional: ratio ")
        .int(hundredths / 100)
        .text(if hundredths % 100 < 10 { ".0" } else { "." })
        .int(hundredths % 100);
    let reason = match scope {
        Scope::Channel => reason,
        Scope::PeerActive => reason.text(" (peer's active channels)"),
        Scope::PeerInactive => reason.text(" (peer's inactive channels)"),
    };
    Decision::set(channel.channel_id)
        .fee_ppm(fee)
        .reason(reason.text(" → ").int(fee).text(" ppm").finish())
}

impl Strategy for Proportional {
    fn info() -> StrategyInfo {
        let million = f64::from(ppm::MILLION);
        StrategyInfo {
            name: "proportional".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "charge-lnd's `proportional`: fee rate from max_fee_ppm on an empty \
                          channel to min_fee_ppm on a full one, linear in the local balance \
                          ratio (optionally over all channels with the peer), truncated and \
                          never below 0."
                .into(),
            params: vec![
                ParamSpec::integer(
                    "min_fee_ppm",
                    "Fee rate when all of the balance is on our side, ppm.",
                    0,
                )
                .range(-million, million)
                .required(),
                ParamSpec::integer(
                    "max_fee_ppm",
                    "Fee rate when none of the balance is on our side, ppm.",
                    0,
                )
                .range(-million, million)
                .required(),
                ParamSpec::boolean(
                    "sum_peer_chans",
                    "Take the ratio over all channels with the peer (the active ones, or the \
                     inactive ones when the active hold nothing).",
                    false,
                ),
            ],
        }
    }

    fn decide(
        _host: &mut dyn Host,
        params: &Params,
        channels: &[ChannelView],
    ) -> Result<Vec<Decision>, String> {
        let min = params.i64("min_fee_ppm")?;
        let max = params.i64("max_fee_ppm")?;
        let sum_peer_chans = params.bool("sum_peer_chans")?;
        Ok(channels
            .iter()
            .map(|c| decide_one(c, min, max, sum_peer_chans))
            .collect())
    }
}

lnpolicy_sdk::export_strategy!(Proportional);

#[cfg(test)]
mod tests {
    use lnpolicy_sdk::testing::{ChannelBuilder, TestHost, run};
    use lnpolicy_sdk::{ChannelView, Decision, Param, SharedChannels};

    use super::Proportional;

    fn bounds(min: i64, max: i64) -> Vec<Param> {
        vec![
            Param::new("min_fee_ppm", min),
            Param::new("max_fee_ppm", max),
        ]
    }

    fn with_balances(local: u64, remote: u64) -> ChannelView {
        ChannelBuilder::new(1).balances_sat(local, remote).build()
    }

    fn decide(params: &[Param], channel: ChannelView) -> Result<Decision, String> {
        run::<Proportional>(&mut TestHost::new(), params, &[channel]).map(|mut d| d.remove(0))
    }

    fn fee(min: i64, max: i64, local: u64, remote: u64) -> Option<u32> {
        decide(&bounds(min, max), with_balances(local, remote))
            .unwrap()
            .fee_ppm
    }

    fn shared(active: (u64, u64), inactive: (u64, u64)) -> SharedChannels {
        SharedChannels {
            active_channels: 2,
            active_local_sat: active.0,
            active_remote_sat: active.1,
            inactive_channels: 1,
            inactive_local_sat: inactive.0,
            inactive_remote_sat: inactive.1,
        }
    }

    #[test]
    fn fee_runs_from_max_when_empty_to_min_when_full() {
        assert_eq!(fee(10, 1000, 0, 1_000_000), Some(1000));
        assert_eq!(fee(10, 1000, 1_000_000, 0), Some(10));
        assert_eq!(fee(10, 1000, 500_000, 500_000), Some(505));
    }

    #[test]
    fn reason_names_ratio_and_fee() {
        // 10 + 0.69 × 990 = 693.1 → 693
        assert_eq!(
            decide(&bounds(10, 1000), with_balances(310_000, 690_000)).unwrap(),
            Decision::set(1)
                .fee_ppm(693)
                .reason("proportional: ratio 0.31 → 693 ppm")
        );
        let full = decide(&bounds(10, 1000), with_balances(1, 0)).unwrap();
        assert_eq!(full.reason, "proportional: ratio 1.00 → 10 ppm");
        let nearly_empty = decide(&bounds(10, 1000), with_balances(5, 95)).unwrap();
        assert_eq!(nearly_empty.reason, "proportional: ratio 0.05 → 950 ppm");
    }

    #[test]
    fn result_is_truncated_not_rounded() {
        // (1 − 1/3) × 1000 = 666.67 → 666
        assert_eq!(fee(0, 1000, 1, 2), Some(666));
        // 0 + 0.9995 × 1 = 0.9995 → 0
        assert_eq!(fee(0, 1, 1, 1999), Some(0));
    }

    #[test]
    fn max_below_min_inverts_the_curve() {
        // 1000 + 0.75 × (10 − 1000) = 257.5 → 257
        assert_eq!(fee(1000, 10, 250_000, 750_000), Some(257));
        assert_eq!(fee(1000, 10, 0, 1), Some(10));
    }

    #[test]
    fn negative_results_are_clamped_to_zero() {
        // −500 + 0.1 × 600 = −440 → 0
        assert_eq!(fee(-500, 100, 900_000, 100_000), Some(0));
        // −100 + 0.25 × 200 = −50 → 0, and a negative minimum still reaches the maximum
        assert_eq!(fee(-100, 100, 3, 1), Some(0));
        assert_eq!(fee(-100, 100, 0, 1), Some(100));
    }

    /// 300k settled and 200k in flight to the peer are ours: ratio 0.5, not 0.43 (575 ppm).
    /// The peer's 100k in flight to us are still the peer's. The commit fee does not count.
    #[test]
    fn htlcs_in_flight_count_on_their_side_the_commit_fee_does_not() {
        let channel = ChannelBuilder::new(1)
            .balances_sat(300_000, 400_000)
            .pending_sat(100_000, 200_000)
            .commit_fee_sat(3_000)
            .build();
        assert_eq!(
            decide(&bounds(10, 1000), channel).unwrap().fee_ppm,
            Some(505)
        );
    }

    #[test]
    fn zero_balance_is_left_unchanged() {
        let decision = decide(&bounds(10, 1000), with_balances(0, 0)).unwrap();
        assert!(decision.is_unchanged());
        assert_eq!(
            decision.reason,
            "proportional: no balance, no ratio, unchanged"
        );
    }

    fn summed(shared_channels: SharedChannels) -> Decision {
        let mut params = bounds(0, 1000);
        params.push(Param::new("sum_peer_chans", true));
        let channel = ChannelBuilder::new(1)
            .balances_sat(900_000, 100_000)
            .shared(shared_channels)
            .build();
        decide(&params, channel).unwrap()
    }

    #[test]
    fn sum_peer_chans_uses_the_peers_active_channels() {
        let decision = summed(shared((300_000, 700_000), (1_000_000, 0)));
        assert_eq!(
            decision,
            Decision::set(1)
                .fee_ppm(700)
                .reason("proportional: ratio 0.30 (peer's active channels) → 700 ppm")
        );
    }

    #[test]
    fn sum_peer_chans_falls_back_to_inactive_channels_when_active_hold_nothing() {
        let decision = summed(shared((0, 0), (250_000, 750_000)));
        assert_eq!(
            decision,
            Decision::set(1)
                .fee_ppm(750)
                .reason("proportional: ratio 0.25 (peer's inactive channels) → 750 ppm")
        );
    }

    #[test]
    fn sum_peer_chans_with_nothing_anywhere_is_left_unchanged() {
        assert!(summed(shared((0, 0), (0, 0))).is_unchanged());
    }

    #[test]
    fn sum_peer_chans_off_uses_this_channel_only() {
        let channel = ChannelBuilder::new(1)
            .balances_sat(900_000, 100_000)
            .shared(shared((300_000, 700_000), (0, 0)))
            .build();
        // (1 − 0.9) × 1000 = 99.99999999999997 in floating point → 99, as in charge-lnd
        assert_eq!(decide(&bounds(0, 1000), channel).unwrap().fee_ppm, Some(99));
    }

    #[test]
    fn both_bounds_are_required() {
        let channel = || with_balances(1, 1);
        assert_eq!(
            decide(&[Param::new("max_fee_ppm", 100)], channel()).unwrap_err(),
            "parameter `min_fee_ppm` is required but was not set"
        );
        assert_eq!(
            decide(&[Param::new("min_fee_ppm", 100)], channel()).unwrap_err(),
            "parameter `max_fee_ppm` is required but was not set"
        );
        let mut params = bounds(0, 100);
        params.push(Param::new("sum_peer_chans", "yes"));
        assert!(
            decide(&params, channel())
                .unwrap_err()
                .contains("`sum_peer_chans`")
        );
    }
}
