//! Cluster-wide settings chosen on the builder.

use std::time::Duration;

/// Settings fixed when the cluster is built (see [`crate::FakeClusterBuilder`]).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Partitions of an auto-created topic or a CreateTopics with -1.
    pub default_partitions: i32,
    /// Whether Metadata creates unknown topics (`auto.create.topics.enable`).
    pub auto_create_topics: bool,
    /// `group.min.session.timeout.ms`.
    pub min_session_timeout_ms: i32,
    /// `group.max.session.timeout.ms`.
    pub max_session_timeout_ms: i32,
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: u64,
    /// `message.max.bytes`: the largest batch Produce accepts.
    pub max_message_bytes: usize,
    /// Largest request frame a connection reads; bigger closes it.
    pub max_frame_bytes: usize,
    /// Answer a duplicate idempotent batch with DUPLICATE_SEQUENCE_NUMBER
    /// (and the original offset) instead of NONE (what Kafka 1.0+ does).
    pub duplicate_sequence_error: bool,
    /// The cluster id in Metadata.
    pub cluster_id: String,
    /// `group.consumer.session.timeout.ms` (KIP-848 groups).
    pub consumer_session_timeout_ms: u64,
    /// `group.consumer.heartbeat.interval.ms` (KIP-848 groups).
    pub consumer_heartbeat_interval_ms: i32,
    /// How often timers (sessions, rebalances, transactions) are checked.
    pub tick: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            default_partitions: 1,
            auto_create_topics: true,
            min_session_timeout_ms: 6_000,
            max_session_timeout_ms: 1_800_000,
            initial_rebalance_delay_ms: 0,
            max_message_bytes: 1_048_588,
            max_frame_bytes: 100 << 20,
            duplicate_sequence_error: false,
            cluster_id: "kafkacc-fake".to_owned(),
            consumer_session_timeout_ms: 45_000,
            consumer_heartbeat_interval_ms: 5_000,
            tick: Duration::from_millis(20),
        }
    }
}
