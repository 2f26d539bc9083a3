//! Building decision reasons without `format!`: in a component, Rust's
//! formatting machinery costs about a microsecond per call, which is most of
//! a simple strategy's time on a batch of thousands of channels.

/// A reason string built piece by piece.
///
/// ```
/// use lnpolicy_sdk::Reason;
/// let reason = Reason::new("local ").int(23).text("% → ").int(772).text(" ppm").finish();
/// assert_eq!(reason, "local 23% → 772 ppm");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Reason(String);

impl Reason {
    /// Starts with `text`.
    pub fn new(text: &str) -> Self {
        let mut s = String::with_capacity(48);
        s.push_str(text);
        Reason(s)
    }

    /// Appends `text`.
    pub fn text(mut self, text: &str) -> Self {
        self.0.push_str(text);
        self
    }

    /// Appends a whole number in decimal.
    pub fn int(mut self, value: impl Into<i64>) -> Self {
        let value: i64 = value.into();
        if value < 0 {
            self.0.push('-');
        }
        self.uint(value.unsigned_abs())
    }

    /// Appends an unsigned number in decimal (channel ids use all 64 bits).
    pub fn uint(mut self, value: u64) -> Self {
        let mut digits = [0u8; 20];
        let mut rest = value;
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        for &digit in &digits[start..] {
            self.0.push(char::from(digit));
        }
        self
    }

    /// The finished string.
    pub fn finish(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Reason;

    #[test]
    fn writes_numbers_like_display() {
        for n in [0i64, 7, -7, 10, 999, 1_000_000, i64::MIN, i64::MAX] {
            assert_eq!(Reason::new("").int(n).finish(), n.to_string());
        }
        assert_eq!(Reason::new("a").text("b").int(3u32).finish(), "ab3");
        assert_eq!(
            Reason::new("").uint(u64::MAX).finish(),
            u64::MAX.to_string()
        );
    }
}
