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
    /// The current transaction cannot commit: abort it, then the producer
    /// can run new transactions (the Java client's abortable errors).
    AbortTransaction,
}

/// How bad a transactional producer's error is (see [`Error::Transaction`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionErrorKind {
    /// Another producer with the same transactional id took over
    /// (PRODUCER_FENCED, INVALID_PRODUCER_EPOCH): this one must be closed.
    Fenced,
    /// The producer cannot go on (e.g. not authorized, an unexpected error
    /// from the coordinator): close it.
    Fatal,
    /// The transaction cannot commit: call `abort_transaction`, then carry on.
    Abortable,
    /// The record was not written because its transaction was aborted.
    Aborted,
    /// The call is not allowed in the producer's transaction state (a usage
    /// error, such as `commit_transaction` without `begin_transaction`).
    InvalidState,
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
    #[error("broker at {addr} supports no usable version of {api:?} ({})", offered(.broker))]
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
    /// SASL authentication failed: wrong credentials, a mechanism the broker
    /// does not enable, or (SCRAM) a broker that could not prove it knows
    /// the credentials. Fatal: the same settings fail the same way again.
    #[error("SASL authentication with {addr} failed: {reason}")]
    Authentication {
        /// Broker address.
        addr: String,
        /// Why (the broker's message where it sent one).
        reason: String,
    },
    /// TLS failed: the broker's certificate is not trusted or not valid for
    /// its name, the broker refused our client certificate, or the TLS
    /// settings are unusable. Fatal.
    #[error("TLS with {addr} failed: {reason}")]
    Tls {
        /// Broker address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// An I/O error outside a broker connection.
    #[error("i/o error: {0}")]
    Io(Arc<std::io::Error>),
    /// A transactional producer operation failed; `kind` says whether the
    /// producer must be closed or the transaction only aborted.
    #[error("transaction error ({kind:?}): {message}")]
    Transaction {
        /// Fatal, fenced, abortable, aborted, or a usage error.
        kind: TransactionErrorKind,
        /// The broker error code behind it, if any.
        code: Option<ErrorCode>,
        /// What happened.
        message: String,
    },
}

fn format_attempts(attempts: &[(String, String)]) -> String {
    attempts
        .iter()
        .map(|(a, r)| format!("{a}: {r}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// What a broker advertised for an API, for [`Error::UnsupportedVersion`].
fn offered(range: &Option<VersionRange>) -> String {
    match range {
        Some(range) => format!("broker offers {range}"),
        None => "broker does not offer this API".to_owned(),
    }
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

    /// `Ok` for `NONE`, else the broker's error for one resource's error
    /// code. The context is a closure, so the success path formats nothing.
    pub(crate) fn check_code(
        code: i16,
        context: impl FnOnce() -> String,
        message: Option<&str>,
    ) -> Result<(), Error> {
        ErrorCode(code)
            .into_result()
            .map_err(|code| Error::broker(code, context(), message))
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
            | Error::Authentication { .. }
            | Error::Tls { .. }
            | Error::Io(_) => Recovery::Fatal,
            Error::Transaction { kind, .. } => match kind {
                TransactionErrorKind::Abortable => Recovery::AbortTransaction,
                TransactionErrorKind::Fenced
                | TransactionErrorKind::Fatal
                | TransactionErrorKind::Aborted
                | TransactionErrorKind::InvalidState => Recovery::Fatal,
            },
        }
    }

    /// Whether retrying the operation may succeed.
    pub fn is_retriable(&self) -> bool {
        !matches!(
            self.recovery(),
            Recovery::Fatal | Recovery::AbortTransaction
        )
    }

    /// The broker error code, if this is a broker error (or a transaction
    /// error caused by one).
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Broker { code, .. } => Some(*code),
            Error::Transaction { code, .. } => *code,
            _ => None,
        }
    }

    /// The kind of a transaction error, if this is one.
    pub fn transaction_kind(&self) -> Option<TransactionErrorKind> {
        match self {
            Error::Transaction { kind, .. } => Some(*kind),
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
    fn transaction_errors_say_whether_to_abort_or_give_up() {
        let e = |kind| Error::Transaction {
            kind,
            code: Some(ErrorCode::PRODUCER_FENCED),
            message: "m".into(),
        };
        assert_eq!(
            e(TransactionErrorKind::Abortable).recovery(),
            Recovery::AbortTransaction
        );
        assert!(!e(TransactionErrorKind::Abortable).is_retriable());
        for kind in [
            TransactionErrorKind::Fenced,
            TransactionErrorKind::Fatal,
            TransactionErrorKind::Aborted,
            TransactionErrorKind::InvalidState,
        ] {
            assert_eq!(e(kind).recovery(), Recovery::Fatal);
        }
        assert_eq!(
            e(TransactionErrorKind::Fenced).code(),
            Some(ErrorCode::PRODUCER_FENCED)
        );
        assert_eq!(
            e(TransactionErrorKind::Fenced).transaction_kind(),
            Some(TransactionErrorKind::Fenced)
        );
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
        let unsupported = |broker| Error::UnsupportedVersion {
            addr: "b:9092".into(),
            api: ApiKey::Produce,
            broker,
        };
        assert_eq!(
            unsupported(Some(VersionRange { min: 3, max: 9 })).to_string(),
            "broker at b:9092 supports no usable version of Produce (broker offers v3–v9)"
        );
        assert_eq!(
            unsupported(None).to_string(),
            "broker at b:9092 supports no usable version of Produce (broker does not offer this API)"
        );
    }
}
