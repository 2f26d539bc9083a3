//! Translations between LND's wire values and lnpolicy's domain values that
//! both the client and the simulator need, kept in one place so each
//! direction is the other's inverse.

use lnpolicy_core::FailureReason;

use crate::lnrpc::{self, failure::FailureCode};
use crate::routerrpc::FailureDetail;

/// What a `LinkFailEvent` means for a fee strategy.
pub fn failure_reason(wire: FailureCode, detail: FailureDetail) -> FailureReason {
    match (wire, detail) {
        (_, FailureDetail::InsufficientBalance) => FailureReason::InsufficientBalance,
        (FailureCode::FeeInsufficient, _) => FailureReason::FeeInsufficient,
        (
            FailureCode::IncorrectCltvExpiry
            | FailureCode::ExpiryTooSoon
            | FailureCode::ExpiryTooFar,
            _,
        ) => FailureReason::IncorrectCltv,
        (FailureCode::UnknownNextPeer | FailureCode::ChannelDisabled, _)
        | (_, FailureDetail::LinkNotEligible | FailureDetail::ForwardsDisabled) => {
            FailureReason::ChannelUnavailable
        }
        _ => FailureReason::Other,
    }
}

/// How LND reports a failure of this kind: wire code, detail, and the
/// `failure_string` text.
pub fn failure_codes(reason: FailureReason) -> (FailureCode, FailureDetail, &'static str) {
    match reason {
        FailureReason::InsufficientBalance => (
            FailureCode::TemporaryChannelFailure,
            FailureDetail::InsufficientBalance,
            "insufficient bandwidth to route htlc",
        ),
        FailureReason::FeeInsufficient => (
            FailureCode::FeeInsufficient,
            FailureDetail::NoDetail,
            "FeeInsufficient",
        ),
        FailureReason::IncorrectCltv => (
            FailureCode::IncorrectCltvExpiry,
            FailureDetail::NoDetail,
            "IncorrectCltvExpiry",
        ),
        FailureReason::ChannelUnavailable => (
            FailureCode::UnknownNextPeer,
            FailureDetail::LinkNotEligible,
            "link not eligible",
        ),
        FailureReason::Other => (
            FailureCode::TemporaryChannelFailure,
            FailureDetail::NoDetail,
            "TemporaryChannelFailure",
        ),
    }
}

/// `txid:index` -> LND's `ChannelPoint` (the txid as displayed, i.e. the
/// byte-reversed hex `funding_txid_str` expects).
pub fn channel_point(point: &str) -> Result<lnrpc::ChannelPoint, String> {
    let (txid, index) = point
        .split_once(':')
        .ok_or_else(|| format!("channel point {point:?} is not txid:index"))?;
    let output_index = index
        .parse()
        .map_err(|_| format!("channel point {point:?} has a bad output index"))?;
    if txid.len() != 64 || !txid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("channel point {point:?} has a bad txid"));
    }
    Ok(lnrpc::ChannelPoint {
        funding_txid: Some(lnrpc::channel_point::FundingTxid::FundingTxidStr(
            txid.to_ascii_lowercase(),
        )),
        output_index,
    })
}

/// LND's `ChannelPoint` -> `txid:index`; raw txid bytes are in internal
/// (reversed) order, as LND's REST and gRPC docs say.
pub fn channel_point_string(point: &lnrpc::ChannelPoint) -> Result<String, String> {
    use lnrpc::channel_point::FundingTxid;
    let txid = match &point.funding_txid {
        Some(FundingTxid::FundingTxidStr(s)) => s.to_ascii_lowercase(),
        Some(FundingTxid::FundingTxidBytes(b)) if b.len() == 32 => {
            let mut reversed = b.clone();
            reversed.reverse();
            hex::encode(reversed)
        }
        Some(FundingTxid::FundingTxidBytes(_)) => return Err("txid must be 32 bytes".into()),
        None => return Err("channel point without txid".into()),
    };
    Ok(format!("{txid}:{}", point.output_index))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_reasons_round_trip() {
        for reason in [
            FailureReason::InsufficientBalance,
            FailureReason::FeeInsufficient,
            FailureReason::IncorrectCltv,
            FailureReason::ChannelUnavailable,
            FailureReason::Other,
        ] {
            let (wire, detail, _) = failure_codes(reason);
            assert_eq!(failure_reason(wire, detail), reason);
        }
    }

    #[test]
    fn channel_points_round_trip_both_txid_forms() {
        let point = format!("{}:3", "ab".repeat(32));
        let parsed = channel_point(&point).unwrap();
        assert_eq!(channel_point_string(&parsed).unwrap(), point);

        let mut bytes = hex::decode("ab".repeat(31) + "cd").unwrap();
        bytes.reverse();
        let raw = lnrpc::ChannelPoint {
            funding_txid: Some(lnrpc::channel_point::FundingTxid::FundingTxidBytes(bytes)),
            output_index: 0,
        };
        assert_eq!(
            channel_point_string(&raw).unwrap(),
            format!("{}cd:0", "ab".repeat(31))
        );
        assert!(channel_point("nonsense").is_err());
    }
}
