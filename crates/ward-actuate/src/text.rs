//! Turning what a hook or a route said into one line for the journal.

/// A job outcome's message goes into the journal and `ward why`; a script that
/// prints a megabyte must not make every record that large.
pub(crate) const MESSAGE_MAX_CHARS: usize = 512;

/// At most `max` characters (not bytes: a cut must never split a UTF-8 sequence).
pub(crate) fn cap(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The last non-empty line, trimmed and capped: scripts usually end with their verdict.
pub(crate) fn last_line(bytes: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(bytes);
    text.lines().rev().map(str::trim).find(|line| !line.is_empty()).map(|line| cap(line, MESSAGE_MAX_CHARS))
}

/// A whole body on one line (HTTP answers are often pretty-printed JSON), capped.
pub(crate) fn one_line(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    cap(&joined, MESSAGE_MAX_CHARS)
}

/// Milliseconds, rounded: a limit computed as "deadline - now" is a hair under the
/// configured value, and "699ms" for a 700 ms timeout would only confuse.
pub(crate) fn rounded_ms(duration: std::time::Duration) -> u64 {
    ((duration.as_micros() + 500) / 1000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_counts_characters_not_bytes() {
        assert_eq!(cap("héllo", 5), "héllo");
        assert_eq!(cap("héllo wörld", 5), "héll…");
        assert_eq!(cap(&"é".repeat(600), MESSAGE_MAX_CHARS).chars().count(), MESSAGE_MAX_CHARS);
    }

    #[test]
    fn last_line_skips_trailing_blank_lines() {
        assert_eq!(last_line(b"starting\nmoved vip to lb2\n\n  \n").as_deref(), Some("moved vip to lb2"));
        assert_eq!(last_line(b"\n\n"), None);
        assert_eq!(last_line(b""), None);
    }

    #[test]
    fn one_line_collapses_whitespace() {
        assert_eq!(one_line(b"{\n  \"ok\": true\n}\n"), "{ \"ok\": true }");
    }
}
