//! The built-in hook kinds' own fields: `postgres` (dsn, fence_command) and
//! `haproxy` (socket, backend). Each field belongs to one kind; each kind checks the
//! services that name it as their actuator can be served by it.

use ward_core::inventory::HookKind;

use crate::error::Sink;
use crate::parse::{Item, RawDoc};
use crate::raw::{RawHook, RawService, Text};

/// Every hook kind, in the order the hint lists them.
pub const HOOK_KINDS: &[&str] = &["exec", "http", "postgres", "haproxy", "mysql"];

/// Hook kinds that can carry out a repair (`restart_replication`).
const REPAIR_KINDS: &[&str] = &["mysql", "exec", "http"];

/// A node's `replication.repair` must name a hook that can restart replication.
pub fn check_repair_hook(sink: &mut Sink, field: &str, name: &Text, hook: Option<&RawHook>) {
    let Some(hook) = hook else { return };
    let kind = hook.kind.get_ref().as_str();
    if HOOK_KINDS.contains(&kind) && !REPAIR_KINDS.contains(&kind) {
        sink.error(
            name.span(),
            field,
            format!("hook \"{}\" is a {kind} hook, which cannot restart replication", name.get_ref()),
            "name a hook of kind \"mysql\" (dsn = \"mysql://USER:PASSWORD@{address}\"), or an exec or http hook that handles action \"repair\"",
        );
    }
}

pub fn mysql(sink: &mut Sink, path: &str, raw: &RawHook, doc: &RawDoc) -> HookKind {
    let field = format!("{path}.dsn");
    let dsn = match &raw.dsn {
        None => {
            sink.error(raw.kind.span(), field, "a mysql hook needs a dsn", "add dsn = \"mysql://USER:PASSWORD@{address}\"");
            String::new()
        }
        Some(dsn) => {
            let text = dsn.get_ref().trim();
            if !text.starts_with("mysql://") {
                sink.error(
                    dsn.span(),
                    field,
                    format!("\"{text}\" is not a MySQL URL"),
                    "use mysql://USER:PASSWORD@{address} (the port defaults to 3306; {address} may carry one)",
                );
            } else if !text.contains("{address}") && !text.contains("{node}") {
                sink.error(
                    dsn.span(),
                    field,
                    "the dsn names neither {address} nor {node}, so every node would get the same server",
                    "put {address} where the host goes, e.g. mysql://USER:PASSWORD@{address}",
                );
            }
            text.to_string()
        }
    };
    if let Some(service) = served(raw, doc).next() {
        let name = service.name.get_ref();
        sink.error(
            raw.kind.span(),
            format!("{path}.kind"),
            format!("a mysql hook cannot act for service \"{name}\": it only repairs replication"),
            format!("name this hook in a node's replication.repair, and give \"{name}\" another actuator"),
        );
    }
    HookKind::Mysql { dsn }
}

pub fn postgres(sink: &mut Sink, path: &str, raw: &RawHook, doc: &RawDoc) -> HookKind {
    let dsn = match &raw.dsn {
        None => {
            sink.error(
                raw.kind.span(),
                format!("{path}.dsn"),
                "a postgres hook needs a dsn",
                "add dsn = \"postgresql://USER:PASSWORD@{address}/postgres?connect_timeout=2\"",
            );
            String::new()
        }
        Some(dsn) => {
            check_dsn(sink, path, dsn);
            dsn.get_ref().clone()
        }
    };
    if let Some(command) = &raw.fence_command {
        if command.get_ref().first().is_none_or(|program| program.trim().is_empty()) {
            sink.error(
                command.span(),
                format!("{path}.fence_command"),
                "the fence command is empty",
                "give the program and its arguments, e.g. [\"/usr/local/bin/stonith\", \"{node}\"], or remove fence_command",
            );
        }
    }
    for service in served(raw, doc) {
        let name = service.name.get_ref();
        let kind = service.kind.get_ref();
        if kind != "primary" {
            sink.error(
                raw.kind.span(),
                format!("{path}.kind"),
                format!("a postgres hook cannot act for service \"{name}\": it is a {kind} service"),
                format!("postgres hooks fence and promote primary services; give \"{name}\" an exec, http or haproxy actuator"),
            );
            continue;
        }
        let fence = service.fence.as_ref().map_or("stop", |f| f.get_ref().as_str());
        if matches!(fence, "stop" | "hook") && raw.fence_command.is_none() {
            sink.error(
                raw.name.span(),
                format!("{path}.fence_command"),
                format!("service \"{name}\" fences with \"{fence}\", but this postgres hook has no fence_command to do it with"),
                format!(
                    "add fence_command = [\"/usr/local/bin/stonith\", \"{{node}}\"], or set fence = \"read_only\" on service \"{name}\""
                ),
            );
        }
    }
    HookKind::Postgres { dsn, fence_command: raw.fence_command.as_ref().map(|c| c.get_ref().clone()) }
}

fn check_dsn(sink: &mut Sink, path: &str, dsn: &Text) {
    let text = dsn.get_ref().trim();
    let field = format!("{path}.dsn");
    if text.is_empty() {
        sink.error(dsn.span(), field, "must not be empty", "dsn = \"postgresql://USER:PASSWORD@{address}/postgres?connect_timeout=2\"");
    } else if !(text.starts_with("postgres://") || text.starts_with("postgresql://") || text.contains('=')) {
        sink.error(
            dsn.span(),
            field,
            format!("\"{text}\" is not a PostgreSQL connection string"),
            "use a URL (postgresql://USER:PASSWORD@{address}/postgres) or key=value pairs (host={address} user=postgres)",
        );
    } else if !text.contains("{address}") && !text.contains("{node}") {
        sink.error(
            dsn.span(),
            field,
            "the dsn names neither {address} nor {node}, so every node would get the same server",
            "put {address} where the host goes, e.g. postgresql://USER:PASSWORD@{address}/postgres",
        );
    }
}

pub fn haproxy(sink: &mut Sink, path: &str, raw: &RawHook, doc: &RawDoc) -> HookKind {
    let socket = match &raw.socket {
        None => {
            sink.error(
                raw.kind.span(),
                format!("{path}.socket"),
                "a haproxy hook needs the runtime API's socket",
                "add socket = \"/run/haproxy/admin.sock\" (a stats socket with level admin) or socket = \"127.0.0.1:9999\"",
            );
            String::new()
        }
        Some(socket) => {
            let text = socket.get_ref().trim();
            if !is_socket_address(text) {
                sink.error(
                    socket.span(),
                    format!("{path}.socket"),
                    format!("\"{text}\" is neither a unix socket path nor host:port"),
                    "give an absolute path (\"/run/haproxy/admin.sock\") or an address with a port (\"127.0.0.1:9999\")",
                );
            }
            text.to_string()
        }
    };
    let backend = match &raw.backend {
        None => {
            sink.error(
                raw.kind.span(),
                format!("{path}.backend"),
                "a haproxy hook needs a backend",
                "add backend = \"NAME\": the backend whose servers are named like Ward's nodes",
            );
            String::new()
        }
        Some(backend) => {
            let text = backend.get_ref();
            if text.is_empty() || text.contains(|c: char| c.is_whitespace() || c == '/' || c == ';') {
                sink.error(
                    backend.span(),
                    format!("{path}.backend"),
                    format!("\"{text}\" is not a usable backend name"),
                    "give the backend's name as in haproxy.cfg: not empty, no spaces, '/' or ';'",
                );
            }
            text.clone()
        }
    };
    for service in served(raw, doc) {
        let kind = service.kind.get_ref();
        if kind != "vip" && kind != "dns" {
            let name = service.name.get_ref();
            sink.error(
                raw.kind.span(),
                format!("{path}.kind"),
                format!("a haproxy hook cannot act for service \"{name}\": it is a {kind} service"),
                format!("haproxy hooks move vip and dns services between servers; give \"{name}\" another actuator"),
            );
        }
    }
    HookKind::Haproxy { socket, backend }
}

/// `/path` or `host:port` (`[::1]:9999` too).
fn is_socket_address(text: &str) -> bool {
    if text.starts_with('/') {
        return text.len() > 1;
    }
    match text.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}

/// Fields only one kind takes: an error for each given to another kind.
pub fn foreign_fields(sink: &mut Sink, path: &str, kind: &str, raw: &RawHook) {
    let fields: [(&str, &str, Option<std::ops::Range<usize>>); 4] = [
        ("dsn", "postgres or mysql", raw.dsn.as_ref().map(|t| t.span())),
        ("fence_command", "postgres", raw.fence_command.as_ref().map(|t| t.span())),
        ("socket", "haproxy", raw.socket.as_ref().map(|t| t.span())),
        ("backend", "haproxy", raw.backend.as_ref().map(|t| t.span())),
    ];
    for (field, owner, span) in fields {
        if let Some(span) = span.filter(|_| !owner.split(" or ").any(|o| o == kind)) {
            sink.error(
                span,
                format!("{path}.{field}"),
                format!("{field} applies to {owner} hooks, not {kind}"),
                format!(
                    "remove {field}, or set kind = {}",
                    owner.split(" or ").map(|o| format!("\"{o}\"")).collect::<Vec<_>>().join(" or ")
                ),
            );
        }
    }
}

/// The services whose actuator is this hook (as written; unparsed ones are skipped).
fn served<'d>(raw: &RawHook, doc: &'d RawDoc) -> impl Iterator<Item = &'d RawService> {
    let hook = raw.name.get_ref().clone();
    doc.services.iter().filter_map(|item: &'d Item<RawService>| item.raw.as_ref()).filter(move |s| *s.actuator.get_ref() == hook)
}

#[cfg(test)]
mod tests {
    use super::is_socket_address;

    #[test]
    fn socket_addresses() {
        for ok in ["/run/haproxy/admin.sock", "127.0.0.1:9999", "[::1]:9999", "lb1.internal:9999"] {
            assert!(is_socket_address(ok), "{ok}");
        }
        for bad in ["", "/", "admin.sock", "127.0.0.1", "127.0.0.1:0", ":9999", "host:port"] {
            assert!(!is_socket_address(bad), "{bad}");
        }
    }
}
