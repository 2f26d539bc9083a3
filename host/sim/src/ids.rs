//! Real-looking identifiers from a seeded stream: valid secp256k1 public keys (CLN clients
//! parse them), funding txids and short channel ids below the chain tip.

use crate::rng::Rng;

/// Draws secp256k1 keys: one signing context for many keys.
pub struct KeyMaker {
    secp: secp256k1::Secp256k1<secp256k1::SignOnly>,
}

impl KeyMaker {
    pub fn new() -> Self {
        KeyMaker {
            secp: secp256k1::Secp256k1::signing_only(),
        }
    }

    /// A compressed public key, hex, from 32 random bytes (redrawn in the ~2^-128 case
    /// they are not a valid secret).
    pub fn pubkey(&self, rng: &mut Rng) -> String {
        loop {
            let mut secret = [0u8; 32];
            rng.fill_bytes(&mut secret);
            if let Ok(sk) = secp256k1::SecretKey::from_slice(&secret) {
                return hex(&secp256k1::PublicKey::from_secret_key(&self.secp, &sk).serialize());
            }
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

/// A funding outpoint `txid:index`.
pub fn channel_point(rng: &mut Rng, output: u64) -> String {
    let mut txid = [0u8; 32];
    rng.fill_bytes(&mut txid);
    format!("{}:{output}", hex(&txid))
}

/// A short channel id opened between block 650,000 and a month before `tip`, not in `taken`.
pub fn scid(rng: &mut Rng, tip: u32, taken: &std::collections::BTreeSet<u64>) -> u64 {
    let newest = u64::from(tip.saturating_sub(4_320).max(650_001));
    loop {
        let block = rng.range_inclusive(650_000, newest);
        let tx = rng.range_inclusive(1, 2_500);
        let out = rng.below(2);
        let id = block << 40 | tx << 16 | out;
        if !taken.contains(&id) {
            return id;
        }
    }
}

/// Chain height at unix time `secs`: block 840,000 was mined at 1713571767, then one
/// block per 10 minutes.
pub fn height_at(secs: u64) -> u32 {
    const ANCHOR_HEIGHT: i64 = 840_000;
    const ANCHOR_SECS: i64 = 1_713_571_767;
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    u32::try_from((ANCHOR_HEIGHT + (secs - ANCHOR_SECS) / 600).max(1)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_valid_and_seeded() {
        let maker = KeyMaker::new();
        let a = maker.pubkey(&mut Rng::new(1));
        assert_eq!(a, maker.pubkey(&mut Rng::new(1)));
        assert_eq!(a.len(), 66);
        assert!(a.parse::<secp256k1::PublicKey>().is_ok());
    }

    #[test]
    fn heights_and_scids_look_like_mainnet() {
        let tip = height_at(crate::scenario::DEFAULT_START_UNIX);
        assert!((933_000..935_000).contains(&tip), "{tip}");
        let id = scid(&mut Rng::new(3), tip, &Default::default());
        assert!((650_000..=u64::from(tip)).contains(&(id >> 40)));
    }
}
