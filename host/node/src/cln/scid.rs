//! Short channel ids: Core Lightning writes them as `BLOCKxTXxOUTPUT`, LND and
//! lnpolicy carry the same three numbers packed into a u64
//! (`block << 40 | tx << 16 | output`, BOLT 7). Both sides of the CLN
//! boundary convert here, so the packing rule lives in one place.

use lnpolicy_core::ChannelId;

/// Why a short channel id could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScidError {
    #[error("short channel id {0:?} is not of the form BLOCKxTXxOUTPUT")]
    Malformed(String),
    #[error("short channel id {0:?} has a part out of range (block and tx < 2^24, output < 2^16)")]
    OutOfRange(String),
}

const BLOCK_LIMIT: u64 = 1 << 24;
const TX_LIMIT: u64 = 1 << 24;
const OUTPUT_LIMIT: u64 = 1 << 16;

/// Parses CLN's `BxTxO` into the packed u64 form.
pub fn parse_scid(text: &str) -> Result<ChannelId, ScidError> {
    let mut parts = text.split('x');
    let mut next = || -> Result<u64, ScidError> {
        let part = parts
            .next()
            .ok_or_else(|| ScidError::Malformed(text.to_owned()))?;
        // `u64::from_str` accepts a leading '+', CLN does not.
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ScidError::Malformed(text.to_owned()));
        }
        part.parse()
            .map_err(|_| ScidError::OutOfRange(text.to_owned()))
    };
    let (block, tx, output) = (next()?, next()?, next()?);
    if parts.next().is_some() {
        return Err(ScidError::Malformed(text.to_owned()));
    }
    if block >= BLOCK_LIMIT || tx >= TX_LIMIT || output >= OUTPUT_LIMIT {
        return Err(ScidError::OutOfRange(text.to_owned()));
    }
    Ok(block << 40 | tx << 16 | output)
}

/// Formats a packed short channel id as CLN's `BxTxO`. Every u64 has a
/// rendering: the three fields cover all 64 bits.
pub fn format_scid(id: ChannelId) -> String {
    format!(
        "{}x{}x{}",
        id >> 40,
        (id >> 16) & (TX_LIMIT - 1),
        id & (OUTPUT_LIMIT - 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_matches_lnd_packing() {
        let id = parse_scid("800123x1542x3").unwrap();
        assert_eq!(id, 800_123u64 << 40 | 1542 << 16 | 3);
        assert_eq!(format_scid(id), "800123x1542x3");
        assert_eq!(parse_scid("116x1x1").unwrap(), 127_543_348_887_553);
        let max = parse_scid("16777215x16777215x65535").unwrap();
        assert_eq!(max, u64::MAX);
        assert_eq!(format_scid(u64::MAX), "16777215x16777215x65535");
    }

    #[test]
    fn rejects_malformed_and_out_of_range() {
        for bad in [
            "", "1x2", "1x2x3x4", "ax1x1", "1xx1", "+1x1x1", "1x1x-1", " 1x1x1",
        ] {
            assert!(
                matches!(parse_scid(bad), Err(ScidError::Malformed(_))),
                "{bad}"
            );
        }
        for bad in [
            "16777216x0x0",
            "0x16777216x0",
            "0x0x65536",
            "99999999999999999999x0x0",
        ] {
            assert!(
                matches!(parse_scid(bad), Err(ScidError::OutOfRange(_))),
                "{bad}"
            );
        }
    }
}
