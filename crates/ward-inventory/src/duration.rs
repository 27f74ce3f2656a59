//! Durations are strings with one unit ("500ms", "15s", "10m", "6h"): unambiguous
//! to read, and a bare number (seconds? milliseconds?) is exactly the kind of
//! mistake an inventory must not let through.

pub const HINT: &str = "write a whole number followed by ms, s, m or h, e.g. \"500ms\", \"15s\", \"10m\", \"6h\"";

/// The longest duration anywhere in an inventory (30 days): longer is a typo, and
/// bounding it keeps every `now + duration` far from overflowing.
pub const DURATION_MAX_MS: u64 = 30 * 24 * 3_600_000;

/// Milliseconds, or a message saying what is wrong.
pub fn parse_ms(text: &str) -> Result<u64, String> {
    let ms = parse_unbounded(text)?;
    if ms > DURATION_MAX_MS {
        return Err(format!("duration \"{text}\" is above the maximum of 720h (30 days)"));
    }
    Ok(ms)
}

fn parse_unbounded(text: &str) -> Result<u64, String> {
    let digits_end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(format!("duration \"{text}\" does not start with a number"));
    }
    let scale: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => return Err(format!("duration \"{text}\" has no unit")),
        other => return Err(format!("duration \"{text}\" has an unknown unit \"{other}\"")),
    };
    digits.parse::<u64>().ok().and_then(|n| n.checked_mul(scale)).ok_or_else(|| format!("duration \"{text}\" is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_unit() {
        assert_eq!(parse_ms("500ms"), Ok(500));
        assert_eq!(parse_ms("15s"), Ok(15_000));
        assert_eq!(parse_ms("10m"), Ok(600_000));
        assert_eq!(parse_ms("6h"), Ok(21_600_000));
        assert_eq!(parse_ms("0s"), Ok(0));
        assert_eq!(parse_ms("720h"), Ok(DURATION_MAX_MS));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in ["", "15", "s", "1.5s", "15 s", "-1s", "1d", "15sec", "1h30m", "99999999999999999999h", "721h", "18446744073709551615ms"]
        {
            assert!(parse_ms(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
