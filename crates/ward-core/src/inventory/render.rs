//! `{address}` and `{node}` in per-node templates: check targets, hook DSNs and
//! commands. Shared by the probes and the actuators so a check and a hook pointed at
//! the same node always reach the same place.

use std::net::Ipv6Addr;

/// How an address goes into a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressForm {
    /// The template puts a port or a path after the address (`host:port`, URLs, DSNs):
    /// a bare IPv6 literal is bracketed (`[::1]`) unless the template already has the
    /// brackets around `{address}`.
    HostPort,
    /// Verbatim (command lines, paths).
    Verbatim,
}

/// Replaces `{address}` and `{node}` in `template` for one node.
///
/// A node address may already carry a port (`127.0.0.1:15432`, `[::1]:15432`); it is
/// then used as is: only a bare IPv6 literal needs brackets.
pub fn render_target(template: &str, address: &str, node: &str, form: AddressForm) -> String {
    let needs_brackets = form == AddressForm::HostPort && address.parse::<Ipv6Addr>().is_ok() && !template.contains("[{address}]");
    let address = if needs_brackets { format!("[{address}]") } else { address.to_string() };
    template.replace("{address}", &address).replace("{node}", node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_address_and_node() {
        let dsn = "postgresql://u:p@{address}/db?application_name={node}";
        assert_eq!(
            render_target(dsn, "127.0.0.1:15432", "pg1", AddressForm::HostPort),
            "postgresql://u:p@127.0.0.1:15432/db?application_name=pg1"
        );
        assert_eq!(render_target("{address}:80", "::1", "n", AddressForm::HostPort), "[::1]:80");
        assert_eq!(render_target("[{address}]:80", "::1", "n", AddressForm::HostPort), "[::1]:80");
        assert_eq!(render_target("{address}", "[::1]:5432", "n", AddressForm::HostPort), "[::1]:5432");
        assert_eq!(render_target("ping {address} {node}", "::1", "n", AddressForm::Verbatim), "ping ::1 n");
    }
}
