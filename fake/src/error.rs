//! The error type of the test controls.

use kafkacc_protocol::ErrorCode;

/// Why a [`crate::FakeCluster`] control or start failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FakeError {
    /// No broker has this node id.
    #[error("no broker with node id {0}")]
    UnknownBroker(i32),
    /// No such topic.
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    /// The topic has no such partition.
    #[error("topic {topic:?} has no partition {partition}")]
    UnknownPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: i32,
    },
    /// The cluster refused, with the error code a client would have seen.
    #[error("{code:?}: {message}")]
    Refused {
        /// The Kafka error code.
        code: ErrorCode,
        /// Kafka's message for it.
        message: String,
    },
    /// Binding or re-binding a listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}
