//! Fee-rate arithmetic in parts per million that never panics or wraps.
//!
//! Strategies scale and interpolate fee rates with floating-point factors taken from
//! operator parameters; a plain `as` cast or `u32` multiplication in a guest would either
//! wrap silently or trap the component. Every function here rounds to the nearest ppm and
//! saturates at the ends of its range instead.

/// One million: a fee rate of this many ppm charges the whole forwarded amount.
pub const MILLION: u32 = 1_000_000;

/// The proportional fee for forwarding `amount_msat` at `ppm`, in millisatoshi, rounded
/// down as LND and Core Lightning do; saturates at `u64::MAX`.
pub fn fee_msat(amount_msat: u64, ppm: u32) -> u64 {
    let fee = u128::from(amount_msat) * u128::from(ppm) / u128::from(MILLION);
    u64::try_from(fee).unwrap_or(u64::MAX)
}

/// The rate a fraction `t` of the way from `from` to `to` (either may be the larger).
///
/// `t` is clamped to `0.0..=1.0` (NaN counts as 0), so the result always lies between the
/// two ends; `t = 0` gives exactly `from` and `t = 1` exactly `to`.
pub fn lerp(from: u32, to: u32, t: f64) -> u32 {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let from_f = f64::from(from);
    to_ppm(from_f + (f64::from(to) - from_f) * t)
}

/// `ppm` multiplied by `factor`, rounded; a negative or NaN factor gives 0 and an overflow
/// gives `u32::MAX`.
pub fn scale(ppm: u32, factor: f64) -> u32 {
    to_ppm(f64::from(ppm) * factor)
}

/// `ppm` limited to `min..=max`. Unlike [`Ord::clamp`] it never panics: if `min > max`
/// (an operator's inverted bounds) `min` wins.
pub fn clamp(ppm: u32, min: u32, max: u32) -> u32 {
    ppm.min(max).max(min)
}

/// The inbound fee rate that offers a discount of `discount_ppm`, limited so that the
/// total fee of a forward stays non-negative: the result lies in `-fee_ppm..=0`, where
/// `fee_ppm` is the outbound rate it is paired with.
pub fn discount(discount_ppm: u32, fee_ppm: u32) -> i32 {
    let magnitude = discount_ppm.min(fee_ppm).min(i32::MAX as u32);
    -(magnitude as i32)
}

/// Rounds to the nearest whole ppm; `as` saturates (NaN becomes 0), which is what we want.
fn to_ppm(value: f64) -> u32 {
    value.round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_msat_rounds_down_and_saturates() {
        assert_eq!(fee_msat(1_000_000_000, 100), 100_000);
        assert_eq!(fee_msat(1_999, 500), 0);
        assert_eq!(fee_msat(2_000, 500), 1);
        assert_eq!(fee_msat(u64::MAX, MILLION), u64::MAX);
        assert_eq!(fee_msat(u64::MAX, u32::MAX), u64::MAX);
    }

    #[test]
    fn lerp_hits_the_ends_and_clamps_the_factor() {
        assert_eq!(lerp(10, 1000, 0.0), 10);
        assert_eq!(lerp(10, 1000, 1.0), 1000);
        assert_eq!(lerp(10, 1000, 0.5), 505);
        assert_eq!(lerp(1000, 10, 0.5), 505);
        assert_eq!(lerp(10, 1000, -3.0), 10);
        assert_eq!(lerp(10, 1000, 7.0), 1000);
        assert_eq!(lerp(10, 1000, f64::NAN), 10);
        assert_eq!(lerp(0, u32::MAX, 1.0), u32::MAX);
    }

    #[test]
    fn scale_rounds_and_saturates() {
        assert_eq!(scale(100, 1.234), 123);
        assert_eq!(scale(100, 1.236), 124);
        assert_eq!(scale(100, -1.0), 0);
        assert_eq!(scale(100, f64::NAN), 0);
        assert_eq!(scale(u32::MAX, 2.0), u32::MAX);
        assert_eq!(scale(100, f64::INFINITY), u32::MAX);
    }

    #[test]
    fn clamp_never_panics() {
        assert_eq!(clamp(5, 10, 20), 10);
        assert_eq!(clamp(25, 10, 20), 20);
        assert_eq!(clamp(15, 10, 20), 15);
        assert_eq!(clamp(15, 20, 10), 20);
    }

    #[test]
    fn discount_is_never_positive_nor_below_minus_the_outbound_fee() {
        assert_eq!(discount(50, 200), -50);
        assert_eq!(discount(500, 200), -200);
        assert_eq!(discount(0, 200), 0);
        assert_eq!(discount(u32::MAX, u32::MAX), -i32::MAX);
    }
}
