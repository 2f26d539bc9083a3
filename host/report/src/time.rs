//! UTC dates for report output. Reports only print Unix seconds, so instead of
//! a date crate this converts days to a calendar date with Howard Hinnant's
//! `civil_from_days`, which is exact for every date in range.

pub(crate) const DAY: u64 = 86_400;

/// `(year, month, day)` of the day `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD` (UTC).
pub fn format_date(unix: u64) -> String {
    let (year, month, day) = civil_from_days((unix / DAY) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `YYYY-MM-DD HH:MM` (UTC): minutes are as fine as cycles and collections go.
pub fn format_time(unix: u64) -> String {
    let seconds = unix % DAY;
    format!(
        "{} {:02}:{:02}",
        format_date(unix),
        seconds / 3600,
        seconds % 3600 / 60
    )
}

/// A duration the way operators say it: `3d 4h`, `5h 12m`, `40s`.
pub fn format_duration(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / DAY, seconds % DAY / 3600, seconds % 3600 / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m")
    } else {
        format!("{seconds}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_match_known_calendar_days() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00");
        assert_eq!(format_time(1_709_251_199), "2024-02-29 23:59");
        assert_eq!(format_date(1_735_689_600), "2025-01-01");
        assert_eq!(format_date(4_107_542_400), "2100-03-01");
    }

    #[test]
    fn durations_use_the_two_largest_units() {
        assert_eq!(format_duration(40), "40s");
        assert_eq!(format_duration(12 * 60 + 5), "12m");
        assert_eq!(format_duration(5 * 3600 + 12 * 60), "5h 12m");
        assert_eq!(format_duration(3 * DAY + 4 * 3600 + 59), "3d 4h");
    }
}
