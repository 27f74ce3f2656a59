//! One PostgreSQL server of the service: its DSN rendered for the node, connections
//! bounded in time, and errors as sentences.
//!
//! Every connection attempt is bounded by the DSN's `connect_timeout` (when given)
//! and the step's own limit, and covers the whole handshake (tokio-postgres' own
//! `connect_timeout` covers the TCP connect only: a frozen server accepts the TCP
//! connection in the kernel and then never answers the startup message).

use std::error::Error as _;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, NoTls, Row};
use ward_core::inventory::{render_target, AddressForm, Node};
use ward_core::time::human_duration;

/// Port libpq uses when a DSN names none.
const DEFAULT_PORT: u16 = 5432;

pub(crate) struct Server {
    pub node: String,
    config: Config,
    /// `host:port`, for messages and for pointing standbys here.
    pub host: String,
    pub port: u16,
}

/// Why no session could be had. The distinction is the fencing rule: only a
/// refused connection proves nothing listens there.
pub(crate) enum Unreachable {
    /// Nothing listens on that address (the process is gone).
    Refused(String),
    /// No answer in time: the server may be frozen, or the network down. Proves nothing.
    TimedOut(Duration),
    /// The server answered, but not with a session (authentication, starting up, shutting down, ...).
    Failed { error: String, code: Option<SqlState> },
}

impl Unreachable {
    pub fn describe(&self) -> String {
        match self {
            Unreachable::Refused(_) => "connection refused".to_string(),
            Unreachable::TimedOut(limit) => format!("no answer within {}", human_duration(crate::text::rounded_ms(*limit))),
            Unreachable::Failed { error, .. } => error.clone(),
        }
    }

    /// The server said it is starting up or shutting down: it serves no one.
    pub fn cannot_connect_now(&self) -> bool {
        matches!(self, Unreachable::Failed { code: Some(code), .. } if *code == SqlState::CANNOT_CONNECT_NOW)
    }
}

impl Server {
    /// `dsn` is the hook's template; `{address}` and `{node}` are this node's.
    pub fn new(dsn: &str, node: &Node) -> Result<Server, String> {
        let rendered = render_target(dsn, &node.address, &node.name, AddressForm::HostPort);
        // The parse error never echoes the DSN, which may hold a password.
        let mut config: Config =
            rendered.parse().map_err(|e| format!("the hook's dsn does not parse for {}: {}", node.name, describe(&e)))?;
        config.application_name("ward-actuate");
        let host = match config.get_hosts().first() {
            Some(Host::Tcp(host)) => host.clone(),
            Some(Host::Unix(path)) => path.display().to_string(),
            None => return Err(format!("the hook's dsn names no host for {} (put {{address}} where the host goes)", node.name)),
        };
        let port = config.get_ports().first().copied().unwrap_or(DEFAULT_PORT);
        Ok(Server { node: node.name.clone(), config, host, port })
    }

    /// `127.0.0.1:5432`, `[::1]:5432`.
    pub fn endpoint(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// A session whose every query ends by `until`.
    pub async fn connect(&self, until: Instant) -> Result<Session, Unreachable> {
        self.connect_by(until, until).await
    }

    /// A session established by `connect_by` (a node that may be dead must not eat
    /// the whole step), whose queries end by `until`.
    pub async fn connect_by(&self, connect_by: Instant, until: Instant) -> Result<Session, Unreachable> {
        let mut limit = connect_by.min(until).saturating_duration_since(Instant::now());
        if let Some(own) = self.config.get_connect_timeout() {
            limit = limit.min(*own);
        }
        if limit.is_zero() {
            return Err(Unreachable::TimedOut(limit));
        }
        match tokio::time::timeout(limit, self.config.connect(NoTls)).await {
            Err(_elapsed) => Err(Unreachable::TimedOut(limit)),
            Ok(Err(e)) if is_refused(&e) => Err(Unreachable::Refused(describe(&e))),
            Ok(Err(e)) if is_timeout(&e) => Err(Unreachable::TimedOut(limit)),
            Ok(Err(e)) => Err(Unreachable::Failed { error: describe(&e), code: e.code().cloned() }),
            Ok(Ok((client, connection))) => {
                let task = tokio::spawn(async move {
                    let _ = connection.await;
                });
                Ok(Session { client, _task: AbortOnDrop(task), until, node: self.node.clone() })
            }
        }
    }
}

/// Aborts the connection task when the session goes: a server that hangs would
/// otherwise keep it waiting on the socket forever.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) struct Session {
    client: Client,
    _task: AbortOnDrop,
    until: Instant,
    node: String,
}

impl Session {
    /// One row; errors name the node and say what the server said.
    pub async fn one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row, String> {
        self.bounded(sql, self.client.query_one(sql, params)).await
    }

    pub async fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>, String> {
        self.bounded(sql, self.client.query(sql, params)).await
    }

    /// A statement that takes no parameters (`ALTER SYSTEM`), alone in its own
    /// implicit transaction.
    pub async fn run(&self, sql: &str) -> Result<(), String> {
        self.bounded(sql, self.client.batch_execute(sql)).await
    }

    /// A text value of one row and one column.
    pub async fn text(&self, sql: &str) -> Result<String, String> {
        let row = self.one(sql, &[]).await?;
        row.try_get::<_, Option<String>>(0).map(Option::unwrap_or_default).map_err(|e| format!("{}: {sql}: {}", self.node, describe(&e)))
    }

    pub fn node(&self) -> &str {
        &self.node
    }

    /// Column `index` of `row`, or a sentence saying what came back instead.
    pub fn get<'r, T: tokio_postgres::types::FromSql<'r>>(&self, row: &'r Row, index: usize) -> Result<T, String> {
        row.try_get(index).map_err(|e| format!("{} answered something unexpected: {}", self.node, describe(&e)))
    }

    async fn bounded<T>(&self, sql: &str, query: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>) -> Result<T, String> {
        let what = sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
        match tokio::time::timeout_at(self.until, query).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(format!("{} answered {what}… with: {}", self.node, describe(&e))),
            Err(_elapsed) => Err(format!("{} did not answer {what}… before the step's time ran out", self.node)),
        }
    }
}

/// What went wrong, for people: the server's own message and SQLSTATE, or the
/// error with its causes (tokio-postgres' Display leaves the cause out).
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn io_kind(error: &tokio_postgres::Error) -> Option<std::io::ErrorKind> {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = cause.source();
    }
    None
}

fn is_refused(error: &tokio_postgres::Error) -> bool {
    io_kind(error) == Some(std::io::ErrorKind::ConnectionRefused)
}

fn is_timeout(error: &tokio_postgres::Error) -> bool {
    io_kind(error) == Some(std::io::ErrorKind::TimedOut)
}
