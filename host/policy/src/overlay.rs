//! charge-lnd's properties laid over a strategy's decision: every strategy but `ignore` and
//! `disable` gets the section's base fee, HTLC limits, time lock delta and inbound keys on
//! top of what it computed, and re-enables the channel. Resolved per channel against what the
//! node reports or showed (HTLC minimum floor, the largest HTLC it keeps, the peer's
//! reserve), before the guard sees the result.

use lnpolicy_core::{Channel, Decision};

use crate::config::Properties;
use crate::guard::max_htlc_ceiling;

/// charge-lnd's strategies that take no properties: `ignore` leaves the channel alone and
/// `disable` only disables it.
pub const PROPERTY_FREE_STRATEGIES: &[&str] = &["ignore", "disable"];

/// charge-lnd's `ignore_fees` keeps every fee: of the properties only the HTLC limits and the
/// time lock delta apply (and the channel is re-enabled), not the base fee or the inbound keys.
pub const FEE_KEEPING_STRATEGIES: &[&str] = &["ignore_fees"];

/// charge-lnd's strategies whose result carries no inbound level: `match_peer` copies the
/// peer's inbound fees, and charge-lnd recomputes the inbound rate from `inbound_level_ppm`
/// only for strategies that return the level (all its others do).
pub const LEVEL_FREE_STRATEGIES: &[&str] = &["match_peer"];

/// Whether `strategy` leaves a channel's fees as they are (`ignore`, `disable`,
/// `ignore_fees`): automatic rollback must not change them either, nor hold such a channel.
pub fn keeps_fees(strategy: &str) -> bool {
    PROPERTY_FREE_STRATEGIES.contains(&strategy) || FEE_KEEPING_STRATEGIES.contains(&strategy)
}

/// The properties of one channel's section, resolved for that channel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overlay {
    pub base_fee_msat: Option<u32>,
    /// Already raised to the channel's floor (LND's negotiated minimum, or what the node set
    /// when asked for less).
    pub min_htlc_msat: Option<u64>,
    /// `max_htlc_msat` and `max_htlc_msat_ratio` combined, capped at the largest the node
    /// keeps (capacity, max in flight, Core Lightning's capacity less our reserve).
    pub max_htlc_msat: Option<u64>,
    pub time_lock_delta: Option<u32>,
    pub inbound_fee_ppm: Option<i32>,
    pub inbound_base_fee_msat: Option<i32>,
    /// inbound ppm = min(0, level - effective outbound ppm), whether or not `inbound_fee_ppm`
    /// is set: resolved by the guard against the outbound rate it lets through.
    pub inbound_level_ppm: Option<u32>,
    /// Re-enable the channel unless the strategy decided about it.
    pub enable: bool,
}

impl Overlay {
    /// The overlay `properties` give `channel` under `strategy`.
    pub fn for_channel(properties: &Properties, channel: &Channel, strategy: &str) -> Self {
        if PROPERTY_FREE_STRATEGIES.contains(&strategy) {
            return Overlay::default();
        }
        // As charge-lnd: a ratio of 0 is no ratio, and with a ratio a max_htlc_msat of 0 is none.
        // Without one too: a largest HTLC of 0 would stop the channel forwarding, LND reads 0
        // as "keep" and CLN never sets it, so the update would be sent again every run.
        let from_ratio = properties
            .max_htlc_msat_ratio
            .filter(|ratio| *ratio != 0.0)
            .map(|ratio| {
                let usable_sat = channel
                    .capacity_sat
                    .saturating_sub(channel.remote_reserve_sat);
                (ratio.clamp(0.0, 1.0) * usable_sat as f64 * 1000.0) as u64
            });
        let max_htlc = match (properties.max_htlc_msat, from_ratio) {
            (Some(0) | None, ratio) => ratio,
            (Some(a), Some(b)) => Some(a.min(b)),
            (Some(a), None) => Some(a),
        }
        .map(|max| max.min(max_htlc_ceiling(channel)));
        let overlay = Overlay {
            base_fee_msat: properties.base_fee_msat,
            min_htlc_msat: properties
                .min_htlc_msat
                .map(|min| min.max(channel.min_htlc_floor_msat)),
            max_htlc_msat: max_htlc,
            time_lock_delta: properties.time_lock_delta.map(u32::from),
            inbound_fee_ppm: properties.inbound_fee_ppm,
            inbound_base_fee_msat: properties.inbound_base_fee_msat,
            inbound_level_ppm: properties
                .inbound_level_ppm
                .filter(|_| !LEVEL_FREE_STRATEGIES.contains(&strategy)),
            enable: true,
        };
        if FEE_KEEPING_STRATEGIES.contains(&strategy) {
            return Overlay {
                base_fee_msat: None,
                inbound_fee_ppm: None,
                inbound_base_fee_msat: None,
                inbound_level_ppm: None,
                ..overlay
            };
        }
        overlay
    }

    /// Only the fee properties (base fee and inbound keys) that `strategy` takes: where a
    /// section fixes a fee, a rollback's restore must end there too, while the rest of the
    /// policy stays as it is.
    pub fn fees_of(properties: &Properties, strategy: &str) -> Self {
        Overlay {
            base_fee_msat: properties.base_fee_msat,
            inbound_fee_ppm: properties.inbound_fee_ppm,
            inbound_base_fee_msat: properties.inbound_base_fee_msat,
            inbound_level_ppm: properties
                .inbound_level_ppm
                .filter(|_| !LEVEL_FREE_STRATEGIES.contains(&strategy)),
            ..Overlay::default()
        }
    }

    /// `decision` with these properties over it (`inbound_level_ppm` is left to the guard).
    pub fn apply(&self, decision: &Decision) -> Decision {
        let mut out = decision.clone();
        let change = &mut out.change;
        macro_rules! set {
            ($($field:ident),*) => {$(
                if self.$field.is_some() {
                    change.$field = self.$field;
                }
            )*};
        }
        set!(
            base_fee_msat,
            min_htlc_msat,
            max_htlc_msat,
            time_lock_delta,
            inbound_base_fee_msat
        );
        if self.inbound_fee_ppm.is_some() {
            change.inbound_fee_ppm = self.inbound_fee_ppm;
        }
        if self.enable && change.disabled.is_none() {
            change.disabled = Some(false);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use lnpolicy_core::{FeePolicy, PolicyChange};

    use super::*;

    fn channel() -> Channel {
        Channel {
            capacity_sat: 1_000_000,
            remote_reserve_sat: 10_000,
            max_in_flight_msat: 900_000_000,
            min_htlc_floor_msat: 1000,
            local_policy: current(),
            ..lnpolicy_core::fixtures::channels().remove(0)
        }
    }

    fn current() -> FeePolicy {
        FeePolicy {
            base_fee_msat: 1000,
            fee_ppm: 300,
            inbound_base_fee_msat: 0,
            inbound_fee_ppm: 0,
            min_htlc_msat: 1000,
            max_htlc_msat: 900_000_000,
            time_lock_delta: 80,
            disabled: true,
        }
    }

    fn decision(fee_ppm: Option<u32>) -> Decision {
        Decision {
            channel_id: 1,
            change: PolicyChange {
                fee_ppm,
                ..PolicyChange::default()
            },
            reason: String::new(),
        }
    }

    #[test]
    fn htlc_limits_follow_the_channel() {
        let properties = Properties {
            min_htlc_msat: Some(1),
            max_htlc_msat: Some(2_000_000_000),
            max_htlc_msat_ratio: Some(0.5),
            ..Properties::default()
        };
        let overlay = Overlay::for_channel(&properties, &channel(), "static");
        assert_eq!(
            overlay.min_htlc_msat,
            Some(1_000),
            "raised to the negotiated minimum"
        );
        assert_eq!(
            overlay.max_htlc_msat,
            Some(495_000_000),
            "0.5 × (capacity − remote reserve), smaller than max_htlc_msat"
        );
        let only_max = Properties {
            max_htlc_msat: Some(2_000_000_000),
            ..Properties::default()
        };
        let overlay = Overlay::for_channel(&only_max, &channel(), "static");
        assert_eq!(
            overlay.max_htlc_msat,
            Some(900_000_000),
            "capped at max in flight"
        );
        let zero_max = Properties {
            max_htlc_msat: Some(0),
            max_htlc_msat_ratio: Some(0.5),
            ..Properties::default()
        };
        let overlay = Overlay::for_channel(&zero_max, &channel(), "static");
        assert_eq!(
            overlay.max_htlc_msat,
            Some(495_000_000),
            "with a ratio, max_htlc_msat = 0 is unset (charge-lnd)"
        );
        let zero_ratio = Properties {
            max_htlc_msat_ratio: Some(0.0),
            ..Properties::default()
        };
        let overlay = Overlay::for_channel(&zero_ratio, &channel(), "static");
        assert_eq!(overlay.max_htlc_msat, None, "a ratio of 0 is no ratio");
        let zero_alone = Properties {
            max_htlc_msat: Some(0),
            ..Properties::default()
        };
        let overlay = Overlay::for_channel(&zero_alone, &channel(), "static");
        assert_eq!(overlay.max_htlc_msat, None, "a largest HTLC of 0 is unset");
    }

    #[test]
    fn ignore_and_disable_take_no_properties() {
        let properties = Properties {
            base_fee_msat: Some(5),
            ..Properties::default()
        };
        for strategy in PROPERTY_FREE_STRATEGIES {
            let overlay = Overlay::for_channel(&properties, &channel(), strategy);
            assert_eq!(overlay, Overlay::default());
            assert_eq!(overlay.apply(&decision(None)), decision(None));
        }
    }

    #[test]
    fn ignore_fees_takes_only_htlc_limits_and_the_time_lock_delta() {
        let properties = Properties {
            base_fee_msat: Some(1000),
            min_htlc_msat: Some(5_000),
            time_lock_delta: Some(40),
            inbound_fee_ppm: Some(-20),
            inbound_base_fee_msat: Some(-5),
            inbound_level_ppm: Some(100),
            ..Properties::default()
        };
        let overlay = Overlay::for_channel(&properties, &channel(), "ignore_fees");
        let out = overlay.apply(&decision(None));
        let expected = PolicyChange {
            min_htlc_msat: Some(5_000),
            time_lock_delta: Some(40),
            disabled: Some(false),
            ..PolicyChange::default()
        };
        assert_eq!(out.change, expected, "no fee of any kind");
        assert_eq!(overlay.inbound_level_ppm, None);
        let other = Overlay::for_channel(&properties, &channel(), "static");
        assert_eq!(
            other.apply(&decision(None)).change.base_fee_msat,
            Some(1000)
        );
    }

    /// charge-lnd's `match_peer` returns no inbound level, so a `[DEFAULT]`
    /// `inbound_level_ppm` meant for other sections does not replace the copied inbound fee.
    #[test]
    fn match_peer_takes_no_inbound_level() {
        let properties = Properties {
            inbound_level_ppm: Some(200),
            inbound_fee_ppm: Some(-20),
            ..Properties::default()
        };
        let overlay = Overlay::for_channel(&properties, &channel(), "match_peer");
        assert_eq!(overlay.inbound_level_ppm, None);
        assert_eq!(
            overlay.apply(&decision(Some(1000))).change.inbound_fee_ppm,
            Some(-20),
            "the other inbound properties still override the copied fee"
        );
        let other = Overlay::for_channel(&properties, &channel(), "static");
        assert_eq!(other.inbound_level_ppm, Some(200));
        // A rollback's restore of a match_peer channel takes no level either.
        assert_eq!(
            Overlay::fees_of(&properties, "match_peer").inbound_level_ppm,
            None
        );
        assert_eq!(
            Overlay::fees_of(&properties, "static").inbound_level_ppm,
            Some(200)
        );
    }

    #[test]
    fn properties_override_and_re_enable() {
        let properties = Properties {
            base_fee_msat: Some(0),
            time_lock_delta: Some(40),
            inbound_level_ppm: Some(100),
            ..Properties::default()
        };
        let overlay = Overlay::for_channel(&properties, &channel(), "proportional");
        let out = overlay.apply(&decision(Some(250)));
        assert_eq!(out.change.fee_ppm, Some(250));
        assert_eq!(out.change.base_fee_msat, Some(0));
        assert_eq!(out.change.time_lock_delta, Some(40));
        assert_eq!(
            out.change.inbound_fee_ppm, None,
            "the level is resolved by the guard, against the fee it lets through"
        );
        assert_eq!(overlay.inbound_level_ppm, Some(100));
        assert_eq!(out.change.disabled, Some(false));
        let explicit = Properties {
            inbound_fee_ppm: Some(-20),
            inbound_level_ppm: Some(100),
            ..Properties::default()
        };
        let overlay = Overlay::for_channel(&explicit, &channel(), "static");
        let out = overlay.apply(&decision(Some(250)));
        assert_eq!(
            out.change.inbound_fee_ppm,
            Some(-20),
            "the property is laid over; the guard then puts the level's rate in its place"
        );
    }
}
