//! Fixed-layout, little-endian codecs for what a strategy keeps in the host's state.
//!
//! State outlives the component: it must survive restarts and upgrades and be read back to
//! the exact bit, so it is stored as a fixed layout of little-endian fields rather than in
//! a format that depends on the build. The first byte is a version: a strategy that changes
//! its layout bumps it, and an entry of another version, or of the wrong length, reads as
//! `None`, so the strategy starts over instead of misreading old bytes.
//!
//! ```
//! use lnpolicy_sdk::state::{Reader, Writer};
//!
//! let mut w = Writer::new(1);
//! w.u32(250).f64(0.5);
//! let bytes = w.finish();
//! assert_eq!(bytes.len(), 13);
//!
//! let mut r = Reader::new(&bytes, 1).unwrap();
//! assert_eq!((r.u32(), r.f64()), (Some(250), Some(0.5)));
//! assert_eq!(r.finish(), Some(()));
//! assert!(Reader::new(&bytes, 2).is_none(), "another version starts over");
//! ```

/// A 64-bit FNV-1a hash of `configuration` (a canonical text of the parameters that make one
/// configuration of a strategy): two sections or experiment arms that run one strategy with
/// different parameters can then keep apart what each learns. The hash is fixed by its
/// definition, so a value stored once is found again by every later build.
pub fn fingerprint(configuration: &str) -> u64 {
    configuration
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// The state key of one configuration: `prefix` and its [`fingerprint`] in decimal.
pub fn configuration_key(prefix: &str, configuration: &str) -> String {
    format!("{prefix}{}", fingerprint(configuration))
}

/// Appends fields to a stored entry, the version byte first.
#[derive(Debug)]
pub struct Writer(Vec<u8>);

impl Writer {
    /// An entry of layout `version`.
    pub fn new(version: u8) -> Self {
        Writer(vec![version])
    }

    /// Appends one byte.
    pub fn u8(&mut self, value: u8) -> &mut Self {
        self.0.push(value);
        self
    }

    /// Appends a flag as one byte, 1 for true and 0 for false.
    pub fn bool(&mut self, value: bool) -> &mut Self {
        self.u8(u8::from(value))
    }

    /// Appends 4 bytes.
    pub fn u32(&mut self, value: u32) -> &mut Self {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Appends 8 bytes.
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    /// Appends 8 bytes, the IEEE 754 bits, so the value reads back exactly.
    pub fn f64(&mut self, value: f64) -> &mut Self {
        self.u64(value.to_bits())
    }

    /// The entry's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// Reads the fields of a stored entry in the order they were written; every read is
/// `None` once the bytes run out, so a short entry is refused rather than a panic.
#[derive(Debug)]
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// The fields of `bytes` after the version byte, or `None` unless that byte is
    /// `version`.
    pub fn new(bytes: &'a [u8], version: u8) -> Option<Self> {
        match bytes.split_first() {
            Some((&first, rest)) if first == version => Some(Reader(rest)),
            _ => None,
        }
    }

    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (field, rest) = self.0.split_first_chunk()?;
        self.0 = rest;
        Some(*field)
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|[b]| b)
    }

    /// A flag written by [`Writer::bool`]; `None` for a byte other than 0 or 1.
    pub fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }

    /// 4 bytes.
    pub fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }

    /// 8 bytes.
    pub fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }

    /// 8 bytes, exactly as written (NaN and infinities included: range checks are the
    /// caller's).
    pub fn f64(&mut self) -> Option<f64> {
        self.u64().map(f64::from_bits)
    }

    /// `Some` when every byte was read: an entry longer than its layout is refused too.
    pub fn finish(self) -> Option<()> {
        self.0.is_empty().then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::{Reader, Writer, configuration_key};

    #[test]
    fn fields_are_little_endian_after_the_version() {
        let mut w = Writer::new(7);
        w.u8(0xab)
            .bool(true)
            .u32(0x0102_0304)
            .u64(0x0102_0304_0506_0708)
            .f64(1.0);
        let bytes = w.finish();
        assert_eq!(
            bytes,
            [
                7, 0xab, 1, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f
            ]
        );
        let mut r = Reader::new(&bytes, 7).unwrap();
        assert_eq!(r.u8(), Some(0xab));
        assert_eq!(r.bool(), Some(true));
        assert_eq!(r.u32(), Some(0x0102_0304));
        assert_eq!(r.u64(), Some(0x0102_0304_0506_0708));
        assert_eq!(r.f64(), Some(1.0));
        assert_eq!(r.finish(), Some(()));
    }

    #[test]
    fn floats_read_back_to_the_bit() {
        for value in [
            -0.0,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
            0.1 + 0.2,
        ] {
            let mut w = Writer::new(1);
            w.f64(value);
            let bytes = w.finish();
            let read = Reader::new(&bytes, 1).unwrap().f64().unwrap();
            assert_eq!(read.to_bits(), value.to_bits());
        }
    }

    #[test]
    fn other_versions_and_lengths_are_refused() {
        let mut w = Writer::new(2);
        w.u32(5);
        let bytes = w.finish();
        assert!(Reader::new(&bytes, 1).is_none());
        assert!(Reader::new(&[], 2).is_none());
        // too short: the read runs out
        assert_eq!(Reader::new(&bytes[..4], 2).unwrap().u32(), None);
        // too long: the reads succeed but the entry is not used up
        let mut longer = bytes.clone();
        longer.push(0);
        let mut r = Reader::new(&longer, 2).unwrap();
        assert_eq!(r.u32(), Some(5));
        assert_eq!(r.finish(), None);
    }

    #[test]
    fn flags_are_only_zero_or_one() {
        for (byte, flag) in [(0, Some(false)), (1, Some(true)), (2, None), (255, None)] {
            assert_eq!(Reader::new(&[1, byte], 1).unwrap().bool(), flag);
        }
    }

    #[test]
    fn configuration_keys_are_fnv_1a_of_the_text() {
        // The published FNV-1a 64 values of "" and "a".
        assert_eq!(configuration_key("k:", ""), "k:14695981039346656037");
        assert_eq!(configuration_key("k:", "a"), "k:12638187200555641996");
        assert_ne!(
            configuration_key("k:", "step=25"),
            configuration_key("k:", "step=50")
        );
    }
}
