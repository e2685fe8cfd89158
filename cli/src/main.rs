//! `kafkacc`: a command-line Kafka client built on the kafkacc library.

mod acls;
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
        args::Command::Produce(a) => produce::run(&cli.cluster, a).await,
        args::Command::Consume(a) => consume::run(&cli.cluster, a).await,
        args::Command::Topics(a) => topics::run(&cli.cluster, a).await,
        args::Command::Groups(a) => groups::run(&cli.cluster, a).await,
        args::Command::Metadata => topics::metadata(&cli.cluster).await,
        args::Command::Acls(a) => acls::run(&cli.cluster, a).await,
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
pub(crate) async fn connect(cluster: &args::ClusterArgs) -> Result<kafkacc::Client, CliError> {
    use kafkacc::security::{SaslConfig, SaslMechanism, TlsConfig};
    // A person is waiting: give up on an unreachable cluster sooner than a
    // long-running service would.
    let mut config = kafkacc::ClientConfig::new(&cluster.bootstrap)
        .client_id("kafkacc-cli")
        .bootstrap_timeout(std::time::Duration::from_secs(10));
    if let Some(choice) = cluster.sasl {
        let (Some(user), Some(password)) = (&cluster.user, &cluster.password) else {
            return Err(CliError::Usage(
                "--sasl needs --user and --password (or KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD)"
                    .into(),
            ));
        };
        let mechanism = match choice {
            args::SaslChoice::Plain => SaslMechanism::Plain,
            args::SaslChoice::ScramSha256 => SaslMechanism::ScramSha256,
            args::SaslChoice::ScramSha512 => SaslMechanism::ScramSha512,
        };
        config = config.sasl(SaslConfig::new(mechanism, user, password));
    }
    if let Some(ca) = &cluster.ca {
        config = config.tls(TlsConfig::ca_file(ca)?);
    } else if cluster.tls {
        config = config.tls(TlsConfig::system_roots());
    }
    Ok(kafkacc::Client::connect(config).await?)
}
