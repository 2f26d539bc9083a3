//! Scalar values as charge-lnd reads them with Python's `int()`, `float()` and configparser's
//! `getboolean()`, so that every value charge-lnd accepts is accepted here with the same
//! meaning, and whatever would make charge-lnd fail at run time is refused at load.

use lnpolicy_core::ChannelId;

/// Python `int()` on a string: surrounding whitespace, an optional sign, ASCII digits with
/// single `_` between digits (`1_000_000`, also `5_000_0000`).
pub(crate) fn parse_int(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if !underscores_between_digits(digits)
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
    {
        return None;
    }
    let magnitude: i64 = digits.replace('_', "").parse().ok()?;
    Some(if negative { -magnitude } else { magnitude })
}

/// Python `float()` on a string, finite values only: `0.5`, `.5`, `1e3`, `2_000.5`.
pub(crate) fn parse_float(text: &str) -> Option<f64> {
    let text = text.trim();
    if !underscores_between_digits(text) {
        return None;
    }
    text.replace('_', "")
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
}

fn underscores_between_digits(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.iter().enumerate().all(|(i, &b)| {
            b != b'_'
                || (i > 0
                    && bytes[i - 1].is_ascii_digit()
                    && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
        })
}

/// configparser's `getboolean()`: `1/yes/true/on` and `0/no/false/off`, any case. Anything
/// else is an error, unlike charge-lnd's `bool(str)` which reads every non-empty text as true.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// charge-lnd's activity period: whole seconds, or a whole number followed by `s`, `m`, `h` or
/// `d`. Zero or negative periods are refused (they would count nothing).
pub fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Some(seconds) = parse_int(text) {
        return u64::try_from(seconds).ok().filter(|s| *s > 0);
    }
    let unit = match text.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    };
    let count = u64::try_from(parse_int(&text[..text.len() - 1])?).ok()?;
    count.checked_mul(unit).filter(|s| *s > 0)
}

pub(crate) const DURATION: &str = "a period such as 7d, 12h, 30m, 3600s or a number of seconds";

/// A channel id as charge-lnd accepts it: LND's numeric form, `BLOCKxTXxOUTPUT` or
/// `BLOCK:TX:OUTPUT`. Parts out of range for a short channel id are refused rather than
/// silently overflowing into the neighbouring field.
pub(crate) fn parse_channel_id(text: &str) -> Option<ChannelId> {
    let text = text.trim();
    let separator = if text.contains(':') {
        ':'
    } else if text.contains('x') {
        'x'
    } else {
        return u64::try_from(parse_int(text)?).ok();
    };
    let parts = text
        .split(separator)
        .map(|p| u64::try_from(parse_int(p)?).ok())
        .collect::<Option<Vec<u64>>>()?;
    match parts[..] {
        [block, tx, output] if block < 1 << 24 && tx < 1 << 24 && output < 1 << 16 => {
            Some(block << 40 | tx << 16 | output)
        }
        _ => None,
    }
}

pub(crate) const CHANNEL_ID: &str = "a channel id (a number, BLOCKxTXxOUTPUT or BLOCK:TX:OUTPUT)";

/// A compressed secp256k1 public key in hex, returned lower-cased (as LND reports pubkeys).
pub(crate) fn parse_pubkey(text: &str) -> Option<String> {
    let text = text.trim();
    let valid = text.len() == 66
        && (text.starts_with("02") || text.starts_with("03"))
        && text.bytes().all(|b| b.is_ascii_hexdigit());
    valid.then(|| text.to_ascii_lowercase())
}

pub(crate) const PUBKEY: &str = "a node public key (66 hex characters starting with 02 or 03)";

/// The items of a list value as charge-lnd's `getlist` splits it (on commas), except that a
/// line break also separates items: charge-lnd glues `a\nb` into one item that never matches,
/// which no operator means. Returns the items and whether a bare line break separated any.
pub(crate) fn split_list(value: &str) -> (Vec<&str>, bool) {
    let mut line_break_separator = false;
    let items = value
        .split(',')
        .flat_map(|chunk| {
            let lines: Vec<&str> = chunk
                .split('\n')
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            line_break_separator |= lines.len() > 1;
            lines
        })
        .collect();
    (items, line_break_separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_python_int() {
        assert_eq!(parse_int("1_000_000"), Some(1_000_000));
        assert_eq!(parse_int("5_000_0000"), Some(50_000_000));
        assert_eq!(parse_int(" -42 "), Some(-42));
        assert_eq!(parse_int("+7"), Some(7));
        assert_eq!(parse_int("007"), Some(7));
        for bad in ["", "1__0", "_1", "1_", "1.0", "1e3", "abc", "0x10", "- 1"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats_follow_python_float_but_finite() {
        assert_eq!(parse_float("0.5"), Some(0.5));
        assert_eq!(parse_float(".25"), Some(0.25));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("2_000.5"), Some(2000.5));
        for bad in ["", "nan", "inf", "-infinity", "1_.5", "abc", "0,5"] {
            assert_eq!(parse_float(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn booleans_follow_getboolean() {
        for t in ["true", "Yes", "ON", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "No", "off", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "y", "enabled", "2"] {
            assert_eq!(parse_bool(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn durations_in_charge_lnd_units() {
        assert_eq!(parse_duration("7d"), Some(604_800));
        assert_eq!(parse_duration("12h"), Some(43_200));
        assert_eq!(parse_duration("30m"), Some(1_800));
        assert_eq!(parse_duration("3600s"), Some(3_600));
        assert_eq!(parse_duration("3600"), Some(3_600));
        for bad in ["", "0", "0d", "-1d", "7w", "d", "1.5h", "7D"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn channel_ids_in_all_three_forms() {
        let id = 636_374u64 << 40 | 680 << 16 | 1;
        assert_eq!(parse_channel_id("636374x680x1"), Some(id));
        assert_eq!(parse_channel_id("636374:680:1"), Some(id));
        assert_eq!(parse_channel_id(&id.to_string()), Some(id));
        for bad in [
            "",
            "1x2",
            "1x2x3x4",
            "16777216x0x0",
            "1x2x65536",
            "-5",
            "abc",
            "1xax2",
        ] {
            assert_eq!(parse_channel_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pubkeys_are_compressed_hex() {
        let key = format!("02{}", "ab".repeat(32));
        assert_eq!(parse_pubkey(&key), Some(key.clone()));
        assert_eq!(parse_pubkey(&key.to_uppercase()), Some(key.clone()));
        assert_eq!(parse_pubkey(&format!("04{}", "ab".repeat(32))), None);
        assert_eq!(parse_pubkey(&key[..64]), None);
        assert_eq!(parse_pubkey(&format!("02{}", "zz".repeat(32))), None);
    }

    #[test]
    fn lists_split_on_commas_and_line_breaks() {
        assert_eq!(split_list("a, b,\n  c"), (vec!["a", "b", "c"], false));
        assert_eq!(split_list("a,\n b\n c,"), (vec!["a", "b", "c"], true));
        assert_eq!(split_list(""), (vec![], false));
    }
}
