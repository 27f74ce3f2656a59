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

/// Every `http://` or `https://` URL in `text` reduced to `scheme://host[:port]`:
/// user info, path, query and fragment can hold credentials.
pub fn redact_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = find_scheme(rest) {
        out.push_str(&rest[..start]);
        let url = &rest[start..];
        let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(url.len());
        let body = &url[scheme_end..];
        let end = body.find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`' | ')' | ',')).unwrap_or(body.len());
        // Punctuation that ends a sentence is not part of the URL (and keeps this idempotent).
        let end = body[..end].trim_end_matches([':', ';', '.', ',']).len();
        let authority_end = body[..end].find(['/', '?', '#']).unwrap_or(end);
        let authority = &body[..authority_end];
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
        out.push_str(&url[..scheme_end]);
        out.push_str(host_port);
        if end > authority_end || authority.contains('@') {
            out.push_str("/…");
        }
        rest = &body[end..];
    }
    out.push_str(rest);
    out
}

fn find_scheme(text: &str) -> Option<usize> {
    let lower = text.to_ascii_lowercase();
    match (lower.find("http://"), lower.find("https://")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod redact_tests {
    use super::redact_urls;

    #[test]
    fn urls_keep_only_scheme_host_and_port() {
        let text =
            "POST http://admin:hunter2@127.0.0.1:9/apply?api_key=SECRET failed; slack https://hooks.slack.com/services/T1/B2/TOKEN: 404";
        let redacted = redact_urls(text);
        assert_eq!(redacted, "POST http://127.0.0.1:9/… failed; slack https://hooks.slack.com/…: 404");
        assert_eq!(redact_urls(&redacted), redacted, "idempotent");
        assert!(!redacted.contains("hunter2") && !redacted.contains("SECRET") && !redacted.contains("TOKEN"));
        assert_eq!(redact_urls("error sending request for url (http://h:80/x)"), "error sending request for url (http://h:80/…)");
        assert_eq!(redact_urls("no url here"), "no url here");
        assert_eq!(redact_urls("HTTPS://Host/Path"), "HTTPS://Host/…");
        assert_eq!(redact_urls("http://host:8080"), "http://host:8080");
        assert_eq!(redact_urls("see http://host:8080."), "see http://host:8080.");
    }
}
