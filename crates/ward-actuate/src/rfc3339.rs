//! Unix milliseconds as RFC 3339 UTC text, by hand: one small function is cheaper
//! than a date crate, and it takes the time as a value so formatting never reads a clock.

/// `0` → `1970-01-01T00:00:00Z`; `1700000000123` → `2023-11-14T22:13:20.123Z`.
/// Milliseconds are written only when there are any.
pub fn rfc3339_utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let millis = unix_ms % 1000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let second_of_day = secs % 86_400;
    let (hour, minute, second) = (second_of_day / 3600, (second_of_day % 3600) / 60, second_of_day % 60);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if millis != 0 {
        out.push_str(&format!(".{millis:03}"));
    }
    out.push('Z');
    out
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`: eras of 400 years, years starting in March
/// so the leap day is the last day of the year).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let day_of_era = z - era * 146_097; // [0, 146096]
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::rfc3339_utc;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_utc(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(7), "1970-01-01T00:00:00.007Z");
        // Leap days, including the year-2000 exception to the century rule.
        assert_eq!(rfc3339_utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_709_164_800_000), "2024-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_709_251_199_999), "2024-02-29T23:59:59.999Z");
        assert_eq!(rfc3339_utc(4_102_444_799_000), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn every_day_boundary_for_a_few_centuries_is_consistent() {
        // Walk day by day: the date must advance by exactly one calendar day each time.
        let mut previous = (1969, 12, 31);
        for day in 0..(400 * 366) {
            let text = rfc3339_utc(day * 86_400_000);
            let date: Vec<u32> = text[..10].split('-').map(|p| p.parse().unwrap()).collect();
            let (y, m, d) = (date[0], date[1], date[2]);
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let month_len = |y: u32, m: u32| match m {
                2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let (py, pm, pd) = previous;
            let expected = if pd < month_len(py, pm) {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            assert_eq!((y, m, d), expected, "day {day} ({text}), leap {leap}");
            previous = (y, m, d);
        }
    }
}
