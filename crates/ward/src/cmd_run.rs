//! `ward run`: the controller daemon.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ward_daemon::run::RunConfig;

#[derive(Args, Clone, Debug)]
pub struct RunArgs {
    /// The inventory file (TOML); reloaded on change and on SIGHUP.
    #[arg(long)]
    pub inventory: PathBuf,
    /// Where the journal and state live (embedded store; nothing else needed).
    #[arg(long, default_value = "./ward-data")]
    pub data_dir: PathBuf,
    /// The API's address. Loopback by default: expose it deliberately.
    #[arg(long, default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// A file holding the operator token (changes and every read); without it the
    /// API takes no changes. Must not be readable by other users (chmod 600).
    #[arg(long, env = "WARD_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// A file holding the read token: journal, timeline, why and observations only.
    #[arg(long, env = "WARD_READ_TOKEN_FILE")]
    pub read_token_file: Option<PathBuf>,
    /// A file holding the observer agents' token: posting observations only.
    #[arg(long, env = "WARD_OBSERVER_TOKEN_FILE")]
    pub observer_token_file: Option<PathBuf>,
    /// A file holding the `ward agent` token: renewing leases only.
    #[arg(long, env = "WARD_AGENT_TOKEN_FILE")]
    pub agent_token_file: Option<PathBuf>,
    /// Start a new history on an empty or missing store in a data dir that has
    /// kept a journal (holds, placements and jobs in flight are forgotten).
    #[arg(long)]
    pub reinitialize: bool,
    /// If the journal cannot be written for this long, exit non-zero (for a
    /// supervisor to restart Ward); until then Ward retries and does not act.
    #[arg(long, default_value_t = 60)]
    pub journal_failure_exit_seconds: u64,
    /// Which inventory observer this controller is (default: the first).
    #[arg(long)]
    pub observer: Option<String>,
    /// On SIGTERM, running job steps get this many seconds to finish.
    #[arg(long, default_value_t = 30)]
    pub grace_seconds: u64,
    /// Probe runs in flight at most.
    #[arg(long, default_value_t = 4096)]
    pub probe_concurrency: usize,
}

pub fn config(args: RunArgs) -> RunConfig {
    RunConfig {
        inventory: args.inventory,
        data_dir: args.data_dir,
        listen: args.listen,
        token_file: args.token_file,
        read_token_file: args.read_token_file,
        observer_token_file: args.observer_token_file,
        agent_token_file: args.agent_token_file,
        reinitialize: args.reinitialize,
        journal_failure_exit_after: Duration::from_secs(args.journal_failure_exit_seconds),
        observer: args.observer,
        grace: Duration::from_secs(args.grace_seconds),
        probe_concurrency_max: args.probe_concurrency,
        stop: None,
    }
}
