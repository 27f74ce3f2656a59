//! `ward`: the command-line tool. Reads top to bottom: parse arguments, run the
//! chosen command, exit with its code. Each command lives in its own module.

mod cmd_simulate;
mod cmd_validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "ward", version, about = "Ward: a failover control plane whose automation never makes an outage worse.")]
struct Cli {
    #[command(subcommand)]
    command: Verb,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Verb::Validate { file, output } => cmd_validate::run(&file, output == OutputFormat::Json),
        Verb::Simulate(args) => cmd_simulate::run(args),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}
