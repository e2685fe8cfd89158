//! The client's error type. Every error says what a caller can do about it
//! through [`Error::recovery`]: retry, refresh metadata first, find the
//! coordinator again, or give up.

use kafkacc_protocol::{ApiKey, DecodeError, EncodeError, ErrorCode, VersionRange};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

/// Result alias for the client.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a caller (or the client itself) should do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// Try the same request again after a backoff.
    Retry,
    /// Refresh metadata (a leader moved, a topic appeared), then retry.
    RefreshMetadata,
    /// Look the group or transaction coordinator up again, then retry.
    FindCoordinator,
    /// The request may or may not have taken effect (a produce whose
    /// connection died in flight); retrying can duplicate without idempotence.
    Ambiguous,
    /// Retrying will not help.
    Fatal,
}

/// Everything that can go wrong in the client.
#[derive(Debug, Clone, Error)]
#[non_exhaustive]
pub enum Error {
    /// No address in the bootstrap list answered.
    #[error("no bootstrap broker reachable ({})", format_attempts(.attempts))]
    NoBrokerReachable {
        /// Each address tried and why it failed.
        attempts: Vec<(String, String)>,
    },
    /// Connecting to a broker failed.
    #[error("cannot connect to {addr}: {reason}")]
    Connect {
        /// Broker address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The connection failed or closed while a request was outstanding.
    #[error("connection to {addr} lost: {reason}")]
    Disconnected {
        /// Broker address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// An operation did not finish in time.
    #[error("{op} timed out after {after:?}")]
    Timeout {
        /// What timed out.
        op: &'static str,
        /// The time limit.
        after: Duration,
    },
    /// The broker's bytes could not be decoded.
    #[error("protocol error from {addr}: {source}")]
    Decode {
        /// Broker address.
        addr: String,
        /// The decode error.
        source: DecodeError,
    },
    /// A request could not be encoded (a field the chosen version cannot carry).
    #[error("cannot encode request: {0}")]
    Encode(#[from] EncodeError),
    /// The broker answered with an error code.
    #[error("broker error {code} in {context}{}", .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Broker {
        /// The error code.
        code: ErrorCode,
        /// Which request and resource (e.g. `Produce orders/3`).
        context: String,
        /// The broker's error message, if it sent one.
        message: Option<String>,
    },
    /// The broker supports no version of an API that the client needs.
    #[error("broker at {addr} supports no usable version of {api:?} (broker offers {broker:?})")]
    UnsupportedVersion {
        /// Broker address.
        addr: String,
        /// The API.
        api: ApiKey,
        /// What the broker advertised, if anything.
        broker: Option<VersionRange>,
    },
    /// A topic is not known to the cluster.
    #[error("unknown topic {0}")]
    UnknownTopic(String),
    /// A partition is not part of its topic.
    #[error("unknown partition {topic}/{partition}")]
    UnknownPartition {
        /// Topic name.
        topic: String,
        /// Partition index.
        partition: i32,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A key or value could not be (de)serialized.
    #[error("serialization failed: {0}")]
    Serialization(String),
    /// A record is larger than the producer may send.
    #[error("record of {size} bytes exceeds max.request.size {max}")]
    RecordTooLarge {
        /// Encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The producer or consumer was closed.
    #[error("closed")]
    Closed,
    /// An I/O error outside a broker connection.
    #[error("i/o error: {0}")]
    Io(Arc<std::io::Error>),
}

fn format_attempts(attempts: &[(String, String)]) -> String {
    attempts
        .iter()
        .map(|(a, r)| format!("{a}: {r}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// A broker error with its context.
    pub(crate) fn broker(
        code: ErrorCode,
        context: impl Into<String>,
        message: Option<&str>,
    ) -> Self {
        Error::Broker {
            code,
            context: context.into(),
            message: message.map(str::to_owned),
        }
    }

    /// What to do about this error.
    pub fn recovery(&self) -> Recovery {
        match self {
            Error::NoBrokerReachable { .. } | Error::Connect { .. } => Recovery::Retry,
            Error::Disconnected { .. } | Error::Timeout { .. } => Recovery::Ambiguous,
            Error::Broker { code, .. } => code_recovery(*code),
            Error::UnknownTopic(_) | Error::UnknownPartition { .. } => Recovery::RefreshMetadata,
            Error::Decode { .. }
            | Error::Encode(_)
            | Error::UnsupportedVersion { .. }
            | Error::Config(_)
            | Error::Serialization(_)
            | Error::RecordTooLarge { .. }
            | Error::Closed
            | Error::Io(_) => Recovery::Fatal,
        }
    }

    /// Whether retrying the operation may succeed.
    pub fn is_retriable(&self) -> bool {
        self.recovery() != Recovery::Fatal
    }

    /// The broker error code, if this is a broker error.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The recovery for a broker error code, following the Java client's
/// exception hierarchy (FACTS.md section 9).
pub(crate) fn code_recovery(code: ErrorCode) -> Recovery {
    if code == ErrorCode::NOT_COORDINATOR
        || code == ErrorCode::COORDINATOR_NOT_AVAILABLE
        || code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
    {
        Recovery::FindCoordinator
    } else if code.needs_metadata_refresh() {
        Recovery::RefreshMetadata
    } else if code == ErrorCode::REQUEST_TIMED_OUT {
        Recovery::Ambiguous
    } else if code.is_retriable() {
        Recovery::Retry
    } else {
        Recovery::Fatal
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_follows_codes() {
        let e = |c| Error::broker(c, "t", None);
        assert_eq!(
            e(ErrorCode::NOT_LEADER_OR_FOLLOWER).recovery(),
            Recovery::RefreshMetadata
        );
        assert_eq!(
            e(ErrorCode::NOT_COORDINATOR).recovery(),
            Recovery::FindCoordinator
        );
        assert_eq!(
            e(ErrorCode::NOT_ENOUGH_REPLICAS).recovery(),
            Recovery::Retry
        );
        assert_eq!(
            e(ErrorCode::TOPIC_AUTHORIZATION_FAILED).recovery(),
            Recovery::Fatal
        );
        assert!(!e(ErrorCode::MESSAGE_TOO_LARGE).is_retriable());
    }

    #[test]
    fn messages_are_readable() {
        let e = Error::broker(
            ErrorCode::TOPIC_ALREADY_EXISTS,
            "CreateTopics t",
            Some("exists"),
        );
        assert_eq!(
            e.to_string(),
            "broker error TOPIC_ALREADY_EXISTS (36) in CreateTopics t: exists"
        );
    }
}
