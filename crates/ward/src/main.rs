//! `ward`: the command-line tool and the daemon. Reads top to bottom: parse
//! arguments, set up logging, run the chosen command, exit with its code. Each
//! command lives in its own module.

mod client;
mod cmd_agent;
mod cmd_ctl;
mod cmd_demo;
mod cmd_observe;
mod cmd_run;
mod cmd_simulate;
mod cmd_validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "ward", version, about = "Ward: a failover control plane whose automation never makes an outage worse.")]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: Verb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Verb {
    /// Check an inventory file as the controller would load it; prints OK with its
    /// hash and a summary, or every error with file:line:column and a hint.
    Validate {
        file: PathBuf,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Replay incident scenarios in virtual time, Ward side by side with a naive
    /// baseline controller; checks each scenario's expectations.
    Simulate(cmd_simulate::SimulateArgs),
    /// Run the controller: probes, decisions, jobs, notifications, the HTTP API.
    Run(cmd_run::RunArgs),
    /// Run an observer agent that probes from here and reports to a controller.
    Observe(cmd_observe::ObserveArgs),
    /// Run the host agent on a database node: holds a lease from the controller and
    /// fences this node's primary itself when the lease runs out with no majority in sight.
    Agent(cmd_agent::AgentArgs),
    /// See Ward fail over for real on this machine: local backends, a controller, a kill.
    Demo(cmd_demo::DemoArgs),
    /// Who is where and why: services, nodes, alerts, approvals.
    Status(Plain),
    /// The latest decisions about a service (or `rollout`, `rollout:N`: rollout batches and refusals), with evidence and every guard's sentence.
    Why(Named),
    /// Hold a node, site or service (node:NAME, site:NAME, service:NAME): automation never overrides a hold.
    /// `--all` freezes the whole fleet: no automatic action until `ward release --all`.
    Hold(HoldArgs),
    /// Release a hold (`--all`: end the fleet-wide freeze).
    Release(ReleaseArgs),
    /// Move a node's services away and send it nothing new.
    Drain(Named),
    /// Let a drained node take traffic again.
    Undrain(Named),
    /// Approve a decision waiting for an operator.
    Approve(Numbered),
    /// Reject a decision waiting for an operator.
    Reject(RejectArgs),
    /// Acknowledge an alert so it stops escalating.
    Ack(Numbered),
    /// Move a vip or a primary to another node on purpose. A primary is fenced
    /// (read-only) first and the new one promoted only once it has replayed
    /// everything the old one wrote: no acknowledged write is lost.
    Switchover(SwitchoverArgs),
    /// The journal as Markdown, in the style of the seed reports.
    Timeline(TimelineArgs),
    /// Rolling maintenance: start one with its scope, or pause, resume or cancel the one in progress.
    Rollout(RolloutArgs),
}

#[derive(clap::Args)]
struct RolloutArgs {
    #[command(subcommand)]
    action: RolloutAction,
    #[command(flatten)]
    controller: client::ControllerArgs,
}

#[derive(clap::Subcommand)]
enum RolloutAction {
    /// Run an operation on nodes in batches, each drained first and verified after.
    /// A batch may not span more failure domains, or take more of any service's
    /// candidates, than its scope allows: an over-broad rollout is refused.
    Start {
        /// The nodes, in order.
        #[arg(required = true)]
        nodes: Vec<String>,
        #[arg(long)]
        batch_size: u32,
        /// The hook named after the operation runs it (e.g. reboot).
        #[arg(long, default_value = "reboot")]
        operation: String,
        /// A node label naming a failure domain besides the site, e.g. rack.
        #[arg(long)]
        domain: Option<String>,
        /// Failure domains with nodes out at once (default: policy.rollout.domains_max).
        #[arg(long)]
        domains_max: Option<u32>,
        /// Share of any service's candidates out at once (default: policy.rollout.pool_percent_max).
        #[arg(long)]
        pool_percent: Option<u32>,
    },
    /// Begin no new batch until resumed (a running maintenance finishes).
    Pause,
    Resume,
    /// Stop for good: what the rollout drained is undrained, and a batch mid-maintenance is named.
    Cancel,
}

#[derive(clap::Args)]
struct Plain {
    #[command(flatten)]
    controller: client::ControllerArgs,
}

#[derive(clap::Args)]
struct Named {
    name: String,
    #[command(flatten)]
    controller: client::ControllerArgs,
}

#[derive(clap::Args)]
struct Numbered {
    id: u64,
    #[command(flatten)]
    controller: client::ControllerArgs,
}

#[derive(clap::Args)]
struct HoldArgs {
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    target: Option<String>,
    /// Freeze the whole fleet: Ward takes no automatic action (your own commands still act).
    #[arg(long)]
    all: bool,
    #[arg(long)]
    reason: String,
    #[command(flatten)]
    controller: client::ControllerArgs,
}

#[derive(clap::Args)]
struct ReleaseArgs {
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    target: Option<String>,
    /// End the fleet-wide freeze placed by `ward hold --all`.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    controller: client::ControllerArgs,
}

/// The API's name for a hold target; `--all` is the whole fleet.
fn hold_target(target: Option<String>, all: bool) -> String {
    if all {
        "fleet".into()
    } else {
        target.unwrap_or_default()
    }
}

#[derive(clap::Args)]
struct RejectArgs {
    id: u64,
    #[arg(long, default_value = "rejected by an operator")]
    reason: String,
    #[command(flatten)]
    controller: client::ControllerArgs,
}

#[derive(clap::Args)]
struct SwitchoverArgs {
    service: String,
    /// The node that takes over.
    #[arg(long)]
    to: String,
    /// Return once asked instead of waiting (bounded by --wait-max) for the move to complete.
    #[arg(long)]
    no_wait: bool,
    /// Longest wait for the move: 30s, 2m.
    #[arg(long, default_value = "2m")]
    wait_max: String,
    #[command(flatten)]
    controller: client::ControllerArgs,
}

#[derive(clap::Args)]
struct TimelineArgs {
    /// How far back: 30m, 2h, 1d.
    #[arg(long, default_value = "1h")]
    since: String,
    #[command(flatten)]
    controller: client::ControllerArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A one-shot command whose reader went away (`ward validate ... | head -1`) ends
    // quietly, as Unix tools do, instead of panicking on the closed pipe. The
    // long-running verbs keep SIGPIPE ignored: hooks and sockets report EPIPE.
    if !matches!(cli.command, Verb::Run(_) | Verb::Observe(_) | Verb::Agent(_) | Verb::Demo(_)) {
        // SAFETY: restores the default disposition before any thread is started.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // The demo narrates on stdout; the controller's own log would drown it.
    let default_level = if matches!(cli.command, Verb::Demo(_)) { "off" } else { "info" };
    init_logging(cli.log_json, default_level);
    let code = match cli.command {
        Verb::Validate { file, output } => cmd_validate::run(&file, output == OutputFormat::Json),
        Verb::Simulate(args) => cmd_simulate::run(args),
        Verb::Run(args) => block_on(ward_daemon::run::run(cmd_run::config(args))),
        Verb::Observe(args) => block_on(cmd_observe::run(args)),
        Verb::Agent(args) => block_on(cmd_agent::run(args)),
        Verb::Demo(args) => block_on(cmd_demo::run(args)),
        Verb::Status(a) => ctl(cmd_ctl::Ctl::Status, a.controller),
        Verb::Why(a) => ctl(cmd_ctl::Ctl::Why { service: a.name }, a.controller),
        Verb::Hold(a) => ctl(cmd_ctl::Ctl::Hold { target: hold_target(a.target, a.all), reason: a.reason }, a.controller),
        Verb::Release(a) => ctl(cmd_ctl::Ctl::Release { target: hold_target(a.target, a.all) }, a.controller),
        Verb::Drain(a) => ctl(cmd_ctl::Ctl::Drain { node: a.name }, a.controller),
        Verb::Undrain(a) => ctl(cmd_ctl::Ctl::Undrain { node: a.name }, a.controller),
        Verb::Approve(a) => ctl(cmd_ctl::Ctl::Approve { decision: a.id }, a.controller),
        Verb::Reject(a) => ctl(cmd_ctl::Ctl::Reject { decision: a.id, reason: a.reason }, a.controller),
        Verb::Ack(a) => ctl(cmd_ctl::Ctl::Ack { alert: a.id }, a.controller),
        Verb::Switchover(a) => {
            ctl(cmd_ctl::Ctl::Switchover { service: a.service, to: a.to, wait: !a.no_wait, wait_max: a.wait_max }, a.controller)
        }
        Verb::Timeline(a) => ctl(cmd_ctl::Ctl::Timeline { since: a.since }, a.controller),
        Verb::Rollout(a) => {
            let verb = match a.action {
                RolloutAction::Start { nodes, batch_size, operation, domain, domains_max, pool_percent } => cmd_ctl::Ctl::RolloutStart {
                    body: serde_json::json!({
                        "nodes": nodes, "batch_size": batch_size, "operation": operation,
                        "domain": domain, "domains_max": domains_max, "pool_percent_max": pool_percent,
                    }),
                },
                RolloutAction::Pause => cmd_ctl::Ctl::RolloutControl { verb: "pause" },
                RolloutAction::Resume => cmd_ctl::Ctl::RolloutControl { verb: "resume" },
                RolloutAction::Cancel => cmd_ctl::Ctl::RolloutControl { verb: "cancel" },
            };
            ctl(verb, a.controller)
        }
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

fn ctl(verb: cmd_ctl::Ctl, controller: client::ControllerArgs) -> i32 {
    block_on(cmd_ctl::run(verb, controller))
}

fn block_on(future: impl std::future::Future<Output = Result<(), String>>) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ward: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(future) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("ward: {e}");
            1
        }
    }
}

fn init_logging(json: bool, default_level: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("WARD_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
