//! `show servers state BACKEND`: what HAProxy says each server's state is.
//!
//! ```text
//! 1
//! # be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
//! 3 pg_rw 1 pg1 127.0.0.1 2 0 1 1 ...
//! ```
//!
//! Columns are found by name in the `#` header line (HAProxy adds columns over
//! versions). `srv_admin_state` is a bit field: 0x01 forced maintenance, 0x02
//! inherited, 0x20 resolution failure (all maintenance), 0x08/0x10 drain, 0x04
//! "disabled in the configuration" (kept after the server is made ready). `srv_op_state`: 0 stopped, 1 starting, 2 running,
//! 3 stopping.

/// Maintenance flags: forced, inherited, resolution (HAProxy's `SRV_ADMF_MAINT`).
/// 0x04 only records that the configuration said `disabled`: it stays set after
/// `state ready` while the server runs.
const ADMIN_MAINT: u32 = 0x01 | 0x02 | 0x20;
const ADMIN_DRAIN: u32 = 0x08 | 0x10;
/// Set by `set server ... state maint`.
const ADMIN_FORCED_MAINT: u32 = 0x01;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServerState {
    pub name: String,
    pub admin: u32,
    pub operational: u32,
}

impl ServerState {
    /// Takes traffic as far as the administrator is concerned (health checks aside).
    pub fn is_ready(&self) -> bool {
        self.admin & (ADMIN_MAINT | ADMIN_DRAIN) == 0
    }

    pub fn is_in_maint(&self) -> bool {
        self.admin & ADMIN_FORCED_MAINT != 0
    }

    /// `ready`, `maint`, `drain`, with the health state: "ready, running".
    pub fn describe(&self) -> String {
        let admin = if self.admin & ADMIN_MAINT != 0 {
            "maint"
        } else if self.admin & ADMIN_DRAIN != 0 {
            "drain"
        } else {
            "ready"
        };
        let operational = match self.operational {
            0 => "stopped",
            1 => "starting",
            2 => "running",
            3 => "stopping",
            _ => "in an unknown state",
        };
        format!("{admin}, {operational}")
    }
}

/// Every server of the answer, or why it cannot be read (HAProxy's error verbatim).
pub(crate) fn parse(answer: &str) -> Result<Vec<ServerState>, String> {
    let header = answer.lines().find_map(|line| line.strip_prefix('#')).ok_or_else(|| {
        format!("HAProxy answered `show servers state` with: {}", answer.split_whitespace().collect::<Vec<_>>().join(" "))
    })?;
    let columns: Vec<&str> = header.split_whitespace().collect();
    let column = |name: &str| columns.iter().position(|c| *c == name).ok_or_else(|| format!("`show servers state` has no {name} column"));
    let (name, op, admin) = (column("srv_name")?, column("srv_op_state")?, column("srv_admin_state")?);
    let mut servers = Vec::new();
    let mut in_body = false;
    for line in answer.lines() {
        if line.starts_with('#') {
            in_body = true;
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        if !in_body || fields.is_empty() {
            continue;
        }
        let number = |index: usize| fields.get(index).and_then(|f| f.parse::<u32>().ok());
        match (fields.get(name), number(op), number(admin)) {
            (Some(server), Some(operational), Some(admin)) => servers.push(ServerState { name: server.to_string(), admin, operational }),
            _ => return Err(format!("`show servers state` has a line Ward cannot read: {line}")),
        }
    }
    Ok(servers)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from HAProxy 2.6.12 (Debian 12): pg1 after `state maint`, pg2 (`disabled` in
    // haproxy.cfg) after `state ready`; pg3 draining made up from pg2.
    const ANSWER: &str = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight \
        srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state \
        bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n\
        2 pg_rw 1 pg1 127.0.0.1 0 1 1 1 0 1 0 0 0 0 0 0 - 1 - 0 0 - - 0\n\
        2 pg_rw 2 pg2 127.0.0.1 2 4 1 1 0 1 0 0 8 0 0 0 - 2 - 0 0 - - 0\n\
        2 pg_rw 3 pg3 127.0.0.1 2 8 1 1 0 1 0 0 8 0 0 0 - 3 - 0 0 - - 0\n\n";

    #[test]
    fn reads_admin_and_operational_state_by_column_name() {
        let servers = parse(ANSWER).unwrap();
        assert_eq!(servers.len(), 3);
        assert_eq!(servers[0], ServerState { name: "pg1".into(), admin: 1, operational: 0 });
        assert!(servers[0].is_in_maint() && !servers[0].is_ready());
        assert_eq!(servers[0].describe(), "maint, stopped");
        assert_eq!(servers[1].admin, 4);
        assert!(servers[1].is_ready() && !servers[1].is_in_maint(), "0x04 alone is not maintenance");
        assert_eq!(servers[1].describe(), "ready, running");
        assert!(!servers[2].is_ready(), "draining takes no new traffic");
        assert_eq!(servers[2].describe(), "drain, running");
    }

    #[test]
    fn an_error_answer_is_reported_verbatim() {
        assert_eq!(parse("Can't find backend.\n").unwrap_err(), "HAProxy answered `show servers state` with: Can't find backend.");
        assert!(parse("1\n# be_id be_name\n").unwrap_err().contains("no srv_name column"));
        assert!(parse("1\n# srv_name srv_op_state srv_admin_state\npg1 x 0\n").unwrap_err().contains("cannot read"));
    }

    #[test]
    fn an_empty_backend_has_no_servers() {
        assert_eq!(parse("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state\n").unwrap(), vec![]);
    }
}
