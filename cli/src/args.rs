//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// A Kafka client in one binary: produce, consume, manage topics.
#[derive(Debug, Parser)]
#[command(
    name = "kafkacc",
    version,
    after_help = "Examples:\n  \
        echo 'hello' | kafkacc produce greetings\n  \
        kafkacc produce orders -K : < orders.txt          # lines 'key:value'\n  \
        kafkacc produce users --fake users -n 10000\n  \
        kafkacc consume users --from beginning -e\n  \
        kafkacc consume users -f json -c 10\n  \
        kafkacc consume users -G my-group\n  \
        kafkacc groups describe my-group\n  \
        kafkacc groups reset-offsets my-group -t users --to earliest\n  \
        kafkacc topics create users -p 6\n  \
        kafkacc topics describe users\n  \
        kafkacc topics alter users --set retention.ms=86400000\n  \
        kafkacc metadata\n  \
        kafkacc acls create --topic users --principal User:bob --operation read\n  \
        KAFKA_SASL_PASSWORD=... kafkacc --sasl scram-sha-512 --user alice --tls --ca ca.pem topics list"
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Where the cluster is and how to authenticate to it.
#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    /// Bootstrap brokers, comma-separated host:port.
    #[arg(
        short,
        long,
        global = true,
        env = "KAFKA_BOOTSTRAP",
        default_value = "localhost:9092"
    )]
    pub bootstrap: String,
    /// SASL mechanism (with --user and --password).
    #[arg(long, global = true, value_enum, env = "KAFKA_SASL_MECHANISM")]
    pub sasl: Option<SaslChoice>,
    /// SASL user name.
    #[arg(long, global = true, env = "KAFKA_SASL_USERNAME")]
    pub user: Option<String>,
    /// SASL password; prefer the environment variable, since other users
    /// of the machine can see command lines.
    #[arg(
        long,
        global = true,
        env = "KAFKA_SASL_PASSWORD",
        hide_env_values = true
    )]
    pub password: Option<String>,
    /// Connect with TLS (SSL, or SASL_SSL with --sasl), trusting the
    /// system's CAs unless --ca is given. Needs the `tls` build feature.
    #[arg(long, global = true)]
    pub tls: bool,
    /// The CA certificate (PEM file) that signed the brokers'
    /// certificates; implies --tls.
    #[arg(long, global = true, value_name = "PEM")]
    pub ca: Option<std::path::PathBuf>,
}

/// A SASL mechanism.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum SaslChoice {
    /// PLAIN (use it over TLS only: the password travels as is).
    Plain,
    /// SCRAM-SHA-256.
    #[value(name = "scram-sha-256")]
    ScramSha256,
    /// SCRAM-SHA-512.
    #[value(name = "scram-sha-512")]
    ScramSha512,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Send records: one per line from stdin or a file, or fake data.
    Produce(ProduceArgs),
    /// Read records and print them.
    Consume(ConsumeArgs),
    /// List, create, delete or describe topics.
    Topics(TopicsArgs),
    /// List consumer groups or describe one (members, assignments, lag).
    Groups(GroupsArgs),
    /// Show brokers and topics.
    Metadata,
    /// List, create or delete ACLs (the cluster must run an authorizer).
    Acls(AclsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct AclsArgs {
    #[command(subcommand)]
    pub command: AclsCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AclsCommand {
    /// List the ACLs that match (all of them without options).
    List(AclArgs),
    /// Create one ACL (a resource and --principal are required).
    Create(AclArgs),
    /// Delete the ACLs that match.
    Delete(AclArgs),
}

/// Which ACLs (for list and delete), or the ACL (for create).
#[derive(Debug, Args)]
pub(crate) struct AclArgs {
    /// A topic.
    #[arg(long, group = "resource")]
    pub topic: Option<String>,
    /// A consumer group.
    #[arg(long, group = "resource")]
    pub group: Option<String>,
    /// A transactional id.
    #[arg(long, group = "resource")]
    pub transactional_id: Option<String>,
    /// The cluster.
    #[arg(long, group = "resource")]
    pub cluster: bool,
    /// The name is a prefix (all resources whose name starts with it).
    #[arg(long)]
    pub prefixed: bool,
    /// Who, e.g. User:alice.
    #[arg(long)]
    pub principal: Option<String>,
    /// From which host (create: default any).
    #[arg(long)]
    pub host: Option<String>,
    /// What (create: default all).
    #[arg(long, value_enum)]
    pub operation: Option<AclOperationChoice>,
    /// Deny rather than allow.
    #[arg(long)]
    pub deny: bool,
}

/// An ACL operation.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum AclOperationChoice {
    All,
    Read,
    Write,
    Create,
    Delete,
    Alter,
    Describe,
    ClusterAction,
    DescribeConfigs,
    AlterConfigs,
    IdempotentWrite,
}

#[derive(Debug, Args)]
pub(crate) struct GroupsArgs {
    #[command(subcommand)]
    pub command: GroupsCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GroupsCommand {
    /// List groups.
    List,
    /// Members, assignments, committed offsets and lag of a group.
    Describe {
        /// Group id.
        group: String,
    },
    /// Delete a group (it must have no active member).
    Delete {
        /// Group id.
        group: String,
    },
    /// Set a group's committed offsets for a topic (the group must have no
    /// active member).
    ResetOffsets {
        /// Group id.
        group: String,
        /// Topic whose offsets to set.
        #[arg(short, long)]
        topic: String,
        /// Only these partitions (repeatable; default all).
        #[arg(short, long)]
        partition: Vec<i32>,
        /// Where to: earliest, latest, an offset, or @TIMESTAMP_MS (the
        /// first record at or after it).
        #[arg(long = "to", value_name = "earliest|latest|OFFSET|@MS")]
        to: String,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ProduceArgs {
    /// Topic to write to.
    pub topic: String,
    /// Read lines from this file instead of stdin.
    #[arg(short, long)]
    pub file: Option<std::path::PathBuf>,
    /// Split each line into key and value at the first SEP.
    #[arg(short = 'K', long = "key-separator", value_name = "SEP")]
    pub key_separator: Option<String>,
    /// Add a header to every record (repeatable).
    #[arg(short = 'H', long = "header", value_name = "KEY=VALUE")]
    pub headers: Vec<String>,
    /// Write to this partition.
    #[arg(short, long)]
    pub partition: Option<i32>,
    /// Compression codec.
    #[arg(short = 'z', long, value_enum, default_value_t = Codec::None)]
    pub compression: Codec,
    /// Acknowledgements: all, 1 or 0.
    #[arg(short, long, default_value = "all")]
    pub acks: String,
    /// Generate fake data instead of reading input.
    #[arg(long, value_enum)]
    pub fake: Option<FakeKind>,
    /// How many fake records.
    #[arg(short = 'n', long, default_value_t = 1000)]
    pub count: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum FakeKind {
    /// Users as JSON, no key.
    Users,
    /// Orders as JSON, keyed by customer id.
    Orders,
}

#[derive(Debug, Args)]
pub(crate) struct ConsumeArgs {
    /// Topic to read.
    pub topic: String,
    /// Where to start: beginning, end, an offset, or @TIMESTAMP_MS.
    #[arg(long, default_value = "end")]
    pub from: String,
    /// Read only these partitions (repeatable; default all).
    #[arg(short, long)]
    pub partition: Vec<i32>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Value)]
    pub format: Format,
    /// Stop after this many records.
    #[arg(short, long)]
    pub count: Option<u64>,
    /// Exit once the end of every partition is reached (with -G: once no
    /// record arrived for two seconds after joining).
    #[arg(short = 'e', long)]
    pub exit_at_end: bool,
    /// Consume as a member of this group (committing as it goes) instead of
    /// by assignment.
    #[arg(short = 'G', long = "group")]
    pub group: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    /// The value only.
    Value,
    /// key:value
    Kv,
    /// One JSON object per line with partition, offset, timestamp, key, value, headers.
    Json,
}

#[derive(Debug, Args)]
pub(crate) struct TopicsArgs {
    #[command(subcommand)]
    pub command: TopicsCommand,
}

#[derive(Debug, Subcommand)]
pub(crate) enum TopicsCommand {
    /// List topics.
    List,
    /// Create a topic.
    Create {
        /// Topic name.
        name: String,
        /// Partitions.
        #[arg(short, long, default_value_t = 1)]
        partitions: i32,
        /// Replication factor (-1: the broker's default).
        #[arg(short, long, default_value_t = -1)]
        replication_factor: i16,
        /// A topic configuration, KEY=VALUE (repeatable), e.g. retention.ms=3600000.
        #[arg(short, long = "config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
    },
    /// Delete a topic.
    Delete {
        /// Topic name.
        name: String,
    },
    /// Show a topic's partitions, leaders, end offsets and the
    /// configuration set on it.
    Describe {
        /// Topic name.
        name: String,
    },
    /// Delete a topic's records below an offset (the earliest offset moves
    /// there).
    DeleteRecords {
        /// Topic name.
        name: String,
        /// Delete below this offset, or `end` for all records.
        #[arg(long, value_name = "OFFSET|end")]
        before: String,
        /// Only these partitions (repeatable; default all).
        #[arg(short, long)]
        partition: Vec<i32>,
    },
    /// Change a topic's configuration, key by key (other keys keep theirs).
    Alter {
        /// Topic name.
        name: String,
        /// Set KEY=VALUE (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Remove a key's setting, back to the broker's default (repeatable).
        #[arg(long = "delete", value_name = "KEY")]
        delete: Vec<String>,
    },
}
