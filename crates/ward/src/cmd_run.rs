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
    /// A file holding the API token; without it the API is read-only.
    #[arg(long, env = "WARD_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
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
        observer: args.observer,
        grace: Duration::from_secs(args.grace_seconds),
        probe_concurrency_max: args.probe_concurrency,
        stop: None,
    }
}
