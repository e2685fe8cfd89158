//! Settings shared by every client, and the records they send.

use bytes::Bytes;
use std::time::Duration;

/// The same knobs for every client (see `describe`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Records per run.
    pub records: u64,
    /// Value bytes per record (no key, no headers).
    pub size: usize,
    /// `linger.ms`.
    pub linger: Duration,
    /// `batch.size` in bytes (per partition batch).
    pub batch_size: usize,
    /// Records a producer may have unacknowledged before the bench loop
    /// waits for the oldest (librdkafka's queue.buffering.max.messages
    /// default, applied to every client).
    pub window: usize,
    /// Partitions of each topic.
    pub partitions: i32,
}

impl Settings {
    pub fn describe(&self) -> String {
        format!(
            "{} records × {} B values, no key; linger {} ms, batch size {} B, \
             ≤ {} records unacknowledged, idempotence off, {} partitions",
            self.records,
            self.size,
            self.linger.as_millis(),
            self.batch_size,
            self.window,
            self.partitions
        )
    }
}

/// acks and codec of one produce scenario.
#[derive(Debug, Clone, Copy)]
pub struct ProduceCase {
    /// true: acks=all (-1); false: acks=1.
    pub acks_all: bool,
    pub lz4: bool,
}

impl ProduceCase {
    pub fn name(&self) -> String {
        format!(
            "acks={} {}",
            if self.acks_all { "all" } else { "1" },
            if self.lz4 { "lz4" } else { "none" }
        )
    }
}

/// A pool of distinct JSON-like values of exactly `size` bytes (random
/// fields, so lz4 sees realistic data rather than one repeated value).
pub fn payloads(size: usize) -> Vec<Bytes> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..1024)
        .map(|i| {
            let word = |n: u64| -> String {
                (0..8)
                    .map(|k| (b'a' + ((n >> (k * 5)) % 26) as u8) as char)
                    .collect()
            };
            let mut s = format!(
                r#"{{"id":{i},"user":"{}","email":"{}@example.com","score":{},"tags":["{}"]}}"#,
                word(next()),
                word(next()),
                next() % 100_000,
                word(next())
            );
            while s.len() < size {
                s.push(' ');
            }
            s.truncate(size);
            Bytes::from(s)
        })
        .collect()
}

/// Partition of record `i` for clients without a partitioner (rskafka):
/// runs of records per partition, like sticky partitioning.
pub fn sticky_partition(i: u64, settings: &Settings) -> i32 {
    let run = (settings.batch_size / (settings.size + 20)).max(1) as u64;
    ((i / run) % settings.partitions as u64) as i32
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
