//! What users send and what they get back.

use bytes::Bytes;
use kafkacc_protocol::StrBytes;
use kafkacc_protocol::records::Header;

/// A record to send. Build it with [`ProducerRecord::new`] and the setters.
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerRecord {
    /// Topic to write to.
    pub topic: String,
    /// Explicit partition; wins over the key hash.
    pub partition: Option<i32>,
    /// Key; picks the partition by murmur2 when no partition is given.
    pub key: Option<Bytes>,
    /// Value; `None` is a tombstone.
    pub value: Option<Bytes>,
    /// Headers, in order; duplicate keys are allowed.
    pub headers: Vec<Header>,
    /// Create time in ms since the epoch; `None` means now.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// An empty record for `topic`.
    pub fn new(topic: impl Into<String>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key.
    pub fn key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value.
    pub fn value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Sends to this partition regardless of the key.
    pub fn partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Appends a header.
    pub fn header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header {
            key: StrBytes::from(key.into()),
            value: Some(value.into()),
        });
        self
    }

    /// Sets the create timestamp (ms since the epoch).
    pub fn timestamp(mut self, timestamp: i64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Bytes the record occupies in the producer's buffer (an estimate of
    /// its encoded size, used for `buffer_memory` accounting).
    pub(crate) fn buffered_size(&self) -> usize {
        const RECORD_OVERHEAD: usize = 21;
        let headers: usize = self
            .headers
            .iter()
            .map(|h| h.key.len() + h.value.as_ref().map_or(0, Bytes::len) + 10)
            .sum();
        RECORD_OVERHEAD
            + self.key.as_ref().map_or(0, Bytes::len)
            + self.value.as_ref().map_or(0, Bytes::len)
            + headers
    }
}

/// Where a record was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordMetadata {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Offset of the record; -1 when the broker does not say: with acks=0,
    /// or when it acknowledged a retried batch as already written without
    /// its offsets (DUPLICATE_SEQUENCE_NUMBER; the Java client does the same).
    pub offset: i64,
    /// Timestamp the broker stored: the create time, or the log append
    /// time when the topic uses it.
    pub timestamp: i64,
}
