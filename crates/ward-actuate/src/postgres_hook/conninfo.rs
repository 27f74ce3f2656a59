//! A standby's `primary_conninfo` with the host and port replaced by the new
//! primary's, everything else (user, password, application_name, sslmode, ...) kept.
//!
//! Both libpq forms are understood: `key=value` pairs (what `pg_basebackup -R`
//! writes; values may be single-quoted with `\'` and `\\` escapes) and URIs
//! (`postgresql://user@host:port/db?...`). `hostaddr` is dropped (it would override
//! the new host); a host list becomes the single new host.

/// `conninfo` pointing at `host:port` instead, or why it cannot be rewritten.
pub(crate) fn with_host_port(conninfo: &str, host: &str, port: u16) -> Result<String, String> {
    let trimmed = conninfo.trim();
    if trimmed.is_empty() {
        return Err("primary_conninfo is empty".into());
    }
    if let Some(rest) = trimmed.strip_prefix("postgresql://").or_else(|| trimmed.strip_prefix("postgres://")) {
        let scheme = &trimmed[..trimmed.len() - rest.len()];
        return Ok(uri_with_host_port(scheme, rest, host, port));
    }
    let mut pairs = parse_pairs(trimmed)?;
    pairs.retain(|(key, _)| key != "hostaddr");
    for (key, value) in [("host", host.to_string()), ("port", port.to_string())] {
        match pairs.iter_mut().find(|(k, _)| k == key) {
            Some(pair) => pair.1 = value,
            None => pairs.push((key.to_string(), value)),
        }
    }
    Ok(pairs.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect::<Vec<_>>().join(" "))
}

fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(format!("primary_conninfo has \"{key}\" without a value"));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(format!("primary_conninfo has an unterminated quote in the value of \"{key}\"")),
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

/// Quoted only when it has to be, like `pg_basebackup -R`.
fn quote(value: &str) -> String {
    if !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
        return value.to_string();
    }
    let mut out = String::from("'");
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn uri_with_host_port(scheme: &str, rest: &str, host: &str, port: u16) -> String {
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let user = authority.rfind('@').map_or("", |at| &authority[..=at]);
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
    let tail = match tail.split_once('?') {
        None => tail.to_string(),
        Some((path, query)) => {
            let kept: Vec<&str> = query.split('&').filter(|p| !matches!(p.split('=').next(), Some("host" | "hostaddr" | "port"))).collect();
            if kept.is_empty() {
                path.to_string()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
    };
    format!("{scheme}{user}{host}:{port}{tail}")
}

/// A string as an SQL literal (`ALTER SYSTEM` takes no parameters). With
/// `standard_conforming_strings` on (the default since 9.1), only quotes are special.
pub(crate) fn sql_literal(value: &str) -> Result<String, String> {
    if value.contains('\0') {
        return Err("the value contains a NUL byte".into());
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASEBACKUP: &str = "user=postgres password=ward channel_binding=prefer host=127.0.0.1 port=16432 \
        application_name=standby2 sslmode=prefer target_session_attrs=any";

    #[test]
    fn replaces_host_and_port_keeping_the_rest() {
        let out = with_host_port(BASEBACKUP, "127.0.0.1", 16433).unwrap();
        assert_eq!(
            out,
            "user=postgres password=ward channel_binding=prefer host=127.0.0.1 port=16433 \
             application_name=standby2 sslmode=prefer target_session_attrs=any"
        );
        assert_eq!(with_host_port(&out, "127.0.0.1", 16433).unwrap(), out, "rewriting twice changes nothing");
    }

    #[test]
    fn quoted_values_survive_and_missing_keys_are_added() {
        let out = with_host_port("user = 'rep user' passfile='/a\\\\b' hostaddr=10.0.0.1", "db2.internal", 5433).unwrap();
        assert_eq!(out, "user='rep user' passfile='/a\\\\b' host=db2.internal port=5433");
        let escaped = with_host_port("password='a\\'b c' host=x", "y", 1).unwrap();
        assert_eq!(escaped, "password='a\\'b c' host=y port=1");
        assert_eq!(with_host_port("password='' host=x", "y", 1).unwrap(), "password='' host=y port=1");
    }

    #[test]
    fn host_lists_become_the_new_host() {
        assert_eq!(with_host_port("host=a,b port=5432,5433 user=u", "c", 6000).unwrap(), "host=c port=6000 user=u");
    }

    #[test]
    fn uris_get_a_new_authority_and_lose_host_parameters() {
        assert_eq!(
            with_host_port("postgresql://rep:pw@old:5432/postgres?application_name=s2&host=old&sslmode=prefer", "::1", 16433).unwrap(),
            "postgresql://rep:pw@[::1]:16433/postgres?application_name=s2&sslmode=prefer"
        );
        assert_eq!(with_host_port("postgres://old", "new", 1).unwrap(), "postgres://new:1");
        assert_eq!(with_host_port("postgresql://u@h1:1,h2:2?port=3", "n", 5).unwrap(), "postgresql://u@n:5");
    }

    #[test]
    fn broken_conninfo_is_refused_with_a_reason() {
        assert!(with_host_port("", "h", 1).unwrap_err().contains("empty"));
        assert!(with_host_port("host", "h", 1).unwrap_err().contains("without a value"));
        assert!(with_host_port("password='abc", "h", 1).unwrap_err().contains("unterminated"));
    }

    #[test]
    fn sql_literals_double_quotes() {
        assert_eq!(sql_literal("password='a\\'b' x").unwrap(), "'password=''a\\''b'' x'");
        assert!(sql_literal("a\0b").is_err());
    }
}
