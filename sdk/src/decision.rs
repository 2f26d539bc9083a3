//! Constructors for [`Decision`], whose eight optional fields make struct literals noisy
//! and easy to get wrong (a forgotten field silently keeps or changes a value).

use crate::Decision;

impl Decision {
    /// Leaves every field of the channel's policy as it is, saying why.
    pub fn unchanged(channel_id: u64, reason: impl Into<String>) -> Self {
        Decision {
            channel_id,
            fee_ppm: None,
            base_fee_msat: None,
            inbound_fee_ppm: None,
            inbound_base_fee_msat: None,
            min_htlc_msat: None,
            max_htlc_msat: None,
            time_lock_delta: None,
            disabled: None,
            reason: reason.into(),
        }
    }

    /// Starts a decision that changes some fields of the channel's policy; every field not
    /// set keeps its current value. Finish it with [`DecisionBuilder::reason`]:
    ///
    /// ```
    /// # use lnpolicy_sdk::Decision;
    /// let decision = Decision::set(42).fee_ppm(350).inbound_fee_ppm(-25).reason("drained");
    /// assert_eq!(decision.fee_ppm, Some(350));
    /// assert_eq!(decision.base_fee_msat, None);
    /// ```
    pub fn set(channel_id: u64) -> DecisionBuilder {
        DecisionBuilder {
            decision: Decision::unchanged(channel_id, String::new()),
        }
    }

    /// Whether this decision leaves every field as it is.
    pub fn is_unchanged(&self) -> bool {
        self.fee_ppm.is_none()
            && self.base_fee_msat.is_none()
            && self.inbound_fee_ppm.is_none()
            && self.inbound_base_fee_msat.is_none()
            && self.min_htlc_msat.is_none()
            && self.max_htlc_msat.is_none()
            && self.time_lock_delta.is_none()
            && self.disabled.is_none()
    }
}

/// A [`Decision`] being built by [`Decision::set`]; [`DecisionBuilder::reason`] finishes
/// it, so no decision leaves without a reason.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "finish the decision with .reason(...)"]
pub struct DecisionBuilder {
    decision: Decision,
}

impl DecisionBuilder {
    /// New proportional outbound fee, ppm.
    pub fn fee_ppm(mut self, ppm: u32) -> Self {
        self.decision.fee_ppm = Some(ppm);
        self
    }

    /// New outbound base fee, millisatoshi.
    pub fn base_fee_msat(mut self, msat: u32) -> Self {
        self.decision.base_fee_msat = Some(msat);
        self
    }

    /// New inbound proportional fee, ppm; negative is a discount (LND only).
    pub fn inbound_fee_ppm(mut self, ppm: i32) -> Self {
        self.decision.inbound_fee_ppm = Some(ppm);
        self
    }

    /// New inbound base fee, millisatoshi; negative is a discount (LND only).
    pub fn inbound_base_fee_msat(mut self, msat: i32) -> Self {
        self.decision.inbound_base_fee_msat = Some(msat);
        self
    }

    /// New smallest forwarded HTLC, millisatoshi.
    pub fn min_htlc_msat(mut self, msat: u64) -> Self {
        self.decision.min_htlc_msat = Some(msat);
        self
    }

    /// New largest forwarded HTLC, millisatoshi.
    pub fn max_htlc_msat(mut self, msat: u64) -> Self {
        self.decision.max_htlc_msat = Some(msat);
        self
    }

    /// New CLTV delta, blocks.
    pub fn time_lock_delta(mut self, blocks: u32) -> Self {
        self.decision.time_lock_delta = Some(blocks);
        self
    }

    /// Disables (`true`) or re-enables (`false`) forwarding through the channel.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.decision.disabled = Some(disabled);
        self
    }

    /// Finishes the decision with a one-sentence reason, recorded by the host.
    pub fn reason(mut self, reason: impl Into<String>) -> Decision {
        self.decision.reason = reason.into();
        self.decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_sets_nothing() {
        let decision = Decision::unchanged(7, "inactive");
        assert!(decision.is_unchanged());
        assert_eq!(decision.channel_id, 7);
        assert_eq!(decision.reason, "inactive");
    }

    #[test]
    fn builder_sets_only_what_it_is_told() {
        let decision = Decision::set(9)
            .fee_ppm(1)
            .base_fee_msat(2)
            .inbound_fee_ppm(-3)
            .inbound_base_fee_msat(-4)
            .min_htlc_msat(5)
            .max_htlc_msat(6)
            .time_lock_delta(7)
            .disabled(false)
            .reason("all of them");
        assert_eq!(
            decision,
            Decision {
                channel_id: 9,
                fee_ppm: Some(1),
                base_fee_msat: Some(2),
                inbound_fee_ppm: Some(-3),
                inbound_base_fee_msat: Some(-4),
                min_htlc_msat: Some(5),
                max_htlc_msat: Some(6),
                time_lock_delta: Some(7),
                disabled: Some(false),
                reason: "all of them".into(),
            }
        );
        assert!(!Decision::set(1).disabled(true).reason("off").is_unchanged());
        assert!(Decision::set(1).reason("nothing").is_unchanged());
    }
}
