//! Scenario times as people write them: durations (`90s`, `9m`, `6h`, `1h30m`)
//! and wall-clock labels (`09:18`, `13:34:30`) relative to the scenario's
//! `start_clock`. Virtual time is milliseconds since the scenario start.

use ward_core::time::{HOUR_MS, MINUTE_MS, SECOND_MS};

const DAY_MS: u64 = 24 * HOUR_MS;

/// Parses `500ms`, `15s`, `10m`, `6h`, `1h30m`, `2d`. No sign.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write e.g. \"90s\", \"10m\" or \"6h\"".into());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(format!("`{text}` is not a duration; write e.g. \"90s\", \"10m\" or \"6h\""));
        }
        let value: u64 = rest[..digits].parse().map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(|c| c.is_ascii_alphabetic()).count();
        let unit_ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => SECOND_MS,
            "m" => MINUTE_MS,
            "h" => HOUR_MS,
            "d" => DAY_MS,
            "" => return Err(format!("`{text}`: missing unit after {value} (ms, s, m, h or d)")),
            other => return Err(format!("`{text}`: unknown unit `{other}` (ms, s, m, h or d)")),
        };
        rest = &rest[unit_len..];
        total = value.checked_mul(unit_ms).and_then(|v| total.checked_add(v)).ok_or_else(|| format!("`{text}`: duration too large"))?;
    }
    Ok(total)
}

/// Parses a signed duration (`+9m`, `-9m`, `9m`) for clock jumps.
pub fn parse_signed_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (sign, body) = match text.strip_prefix('-') {
        Some(body) => (-1, body),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    Ok(sign * parse_duration(body)? as i64)
}

/// Parses `HH:MM` or `HH:MM:SS` into milliseconds since midnight.
pub fn parse_clock(text: &str) -> Result<u64, String> {
    let parts: Vec<&str> = text.trim().split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return Err(format!("`{text}` is not a clock time; write HH:MM or HH:MM:SS"));
    }
    let mut values = [0u64; 3];
    for (i, part) in parts.iter().enumerate() {
        values[i] = part.parse().map_err(|_| format!("`{text}` is not a clock time; write HH:MM or HH:MM:SS"))?;
    }
    if values[0] > 23 || values[1] > 59 || values[2] > 59 {
        return Err(format!("`{text}` is out of range (00:00 to 23:59:59)"));
    }
    Ok(values[0] * HOUR_MS + values[1] * MINUTE_MS + values[2] * SECOND_MS)
}

/// A point in a scenario: a clock label (contains `:`), interpreted as the next
/// occurrence at or after `start_clock` (so a 22:00 start reaches 02:00 the next
/// day), or a duration since the start.
pub fn parse_at(text: &str, start_clock_ms: u64) -> Result<u64, String> {
    if text.contains(':') {
        let label = parse_clock(text)?;
        Ok(if label >= start_clock_ms { label - start_clock_ms } else { label + DAY_MS - start_clock_ms })
    } else {
        parse_duration(text)
    }
}

/// The wall-clock label of virtual time `at_ms`, `HH:MM:SS`.
pub fn label(at_ms: u64, start_clock_ms: u64) -> String {
    let t = (at_ms + start_clock_ms) % DAY_MS / SECOND_MS;
    format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

/// The wall-clock label of virtual time `at_ms`, `HH:MM`, as the seed reports write it.
pub fn label_minutes(at_ms: u64, start_clock_ms: u64) -> String {
    label(at_ms, start_clock_ms)[..5].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_clocks_parse() {
        assert_eq!(parse_duration("90s"), Ok(90_000));
        assert_eq!(parse_duration("1h30m"), Ok(90 * MINUTE_MS));
        assert_eq!(parse_duration("500ms"), Ok(500));
        assert!(parse_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        assert_eq!(parse_signed_duration("-9m"), Ok(-9 * MINUTE_MS as i64));
        assert_eq!(parse_at("09:18", 0), Ok(9 * HOUR_MS + 18 * MINUTE_MS));
        assert_eq!(parse_at("02:00", 22 * HOUR_MS), Ok(4 * HOUR_MS));
        assert_eq!(parse_at("5m", 22 * HOUR_MS), Ok(5 * MINUTE_MS));
        assert!(parse_at("25:00", 0).is_err());
        assert_eq!(label_minutes(4 * HOUR_MS, 22 * HOUR_MS), "02:00");
    }
}
