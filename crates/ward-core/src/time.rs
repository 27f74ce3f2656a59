//! Time as a value. The core never reads a clock: every input carries `now_ms`,
//! milliseconds since an epoch the shell chooses (the Unix epoch in the daemon,
//! the scenario start in the simulator).

/// Milliseconds since the shell's epoch.
pub type TimeMs = u64;

pub const SECOND_MS: u64 = 1_000;
pub const MINUTE_MS: u64 = 60 * SECOND_MS;
pub const HOUR_MS: u64 = 60 * MINUTE_MS;

/// Renders a duration for people: `850ms`, `42s`, `9m 05s`, `3h 07m`.
pub fn human_duration(duration_ms: u64) -> String {
    if duration_ms < SECOND_MS {
        format!("{duration_ms}ms")
    } else if duration_ms < MINUTE_MS {
        let tenths = duration_ms / 100;
        if tenths % 10 == 0 {
            format!("{}s", tenths / 10)
        } else {
            format!("{}.{}s", tenths / 10, tenths % 10)
        }
    } else if duration_ms < HOUR_MS {
        format!("{}m {:02}s", duration_ms / MINUTE_MS, (duration_ms % MINUTE_MS) / SECOND_MS)
    } else {
        format!("{}h {:02}m", duration_ms / HOUR_MS, (duration_ms % HOUR_MS) / MINUTE_MS)
    }
}

/// Renders a time since the epoch as `HH:MM:SS` (the timeline's clock).
pub fn clock(at_ms: TimeMs) -> String {
    let s = at_ms / SECOND_MS;
    format!("{:02}:{:02}:{:02}", (s / 3600) % 100, (s / 60) % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human_duration(850), "850ms");
        assert_eq!(human_duration(42_000), "42s");
        assert_eq!(human_duration(1_500), "1.5s");
        assert_eq!(human_duration(9 * MINUTE_MS + 5_000), "9m 05s");
        assert_eq!(human_duration(3 * HOUR_MS + 7 * MINUTE_MS), "3h 07m");
        assert_eq!(clock(9 * HOUR_MS + 18 * MINUTE_MS), "09:18:00");
    }
}
