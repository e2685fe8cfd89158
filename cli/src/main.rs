//! `kafkacc`: a command-line Kafka client built on the kafkacc library.

mod args;
mod consume;
mod fake_data;
mod groups;
mod produce;
mod topics;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Produce(a) => produce::run(&cli.bootstrap, a).await,
        args::Command::Consume(a) => consume::run(&cli.bootstrap, a).await,
        args::Command::Topics(a) => topics::run(&cli.bootstrap, a).await,
        args::Command::Groups(a) => groups::run(&cli.bootstrap, a).await,
        args::Command::Metadata => topics::metadata(&cli.bootstrap).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kafkacc: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Errors the commands report: a library error or a usage problem.
#[derive(Debug)]
pub(crate) enum CliError {
    Kafka(kafkacc::Error),
    Usage(String),
    Io(std::io::Error),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Kafka(e) => write!(f, "{e}"),
            CliError::Usage(m) => write!(f, "{m}"),
            CliError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<kafkacc::Error> for CliError {
    fn from(e: kafkacc::Error) -> Self {
        CliError::Kafka(e)
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError::Io(e)
    }
}

pub(crate) type CliResult = Result<(), CliError>;

/// Connects to the cluster named by `-b`.
pub(crate) async fn connect(bootstrap: &str) -> Result<kafkacc::Client, CliError> {
    // A person is waiting: give up on an unreachable cluster sooner than a
    // long-running service would.
    let config = kafkacc::ClientConfig::new(bootstrap)
        .client_id("kafkacc-cli")
        .bootstrap_timeout(std::time::Duration::from_secs(10));
    Ok(kafkacc::Client::connect(config).await?)
}
