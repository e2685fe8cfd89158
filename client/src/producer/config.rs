//! Producer settings with the Java producer's defaults (FACTS.md 11.1).

use crate::partitioner::{KeylessStrategy, Partitioner};
use kafkacc_protocol::compression::Compression;
use std::sync::Arc;
use std::time::Duration;

/// How many replicas must have a record before the broker acknowledges it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Acks {
    /// Fire and forget: the broker sends no response.
    None,
    /// The leader has written it.
    Leader,
    /// Every in-sync replica has it (the default).
    #[default]
    All,
}

impl Acks {
    /// The wire value.
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }
}

/// The most batches per partition the broker tracks for duplicate
/// detection, so the most an idempotent producer may have in flight.
const MAX_IN_FLIGHT_IDEMPOTENT: usize = 5;

/// Producer configuration.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// `acks` (default all).
    pub acks: Acks,
    /// `linger.ms`: how long a batch waits for more records (default 5 ms).
    pub linger: Duration,
    /// `batch.size`: a batch is sent once it holds this many bytes (16384).
    pub batch_size: usize,
    /// `max.request.size`: the largest record (and Produce request) (1 MiB).
    pub max_request_size: usize,
    /// `buffer.memory`: bytes waiting to be sent; `send` waits when full (32 MiB).
    pub buffer_memory: usize,
    /// `max.block.ms`: how long `send` waits for buffer space or metadata (60 s).
    pub max_block: Duration,
    /// `delivery.timeout.ms`: a record fails if not acknowledged in this time (120 s).
    pub delivery_timeout: Duration,
    /// `compression.type` (default none).
    pub compression: Compression,
    /// `max.in.flight.requests.per.connection`: Produce requests sent to a
    /// broker and not yet answered, and so batches of one partition in
    /// flight (default 5). Fewer are in flight while the broker is slow to
    /// answer (see the producer's lanes). Idempotence keeps order and
    /// needs at most 5; above that, as in Java, idempotence is off unless
    /// asked for (then it is a configuration error).
    pub max_in_flight: usize,
    /// How keyless records are spread (default sticky, like Java).
    pub keyless: KeylessStrategy,
    /// A custom partitioner, used for records without an explicit partition.
    pub partitioner: Option<Arc<dyn Partitioner>>,
    /// `enable.idempotence`: each record is written exactly once per send,
    /// in order, even across retries. `None` follows Java: on, unless acks
    /// is not `All` (then off).
    pub idempotence: Option<bool>,
    /// `transactional.id`: makes the producer transactional (see
    /// [`Producer::init_transactions`](crate::Producer::init_transactions)).
    /// Implies idempotence and acks=all.
    pub transactional_id: Option<String>,
    /// `transaction.timeout.ms`: the coordinator aborts a transaction left
    /// open longer than this (60 s).
    pub transaction_timeout: Duration,
    /// Use transaction protocol v2 (KIP-890: the broker adds partitions to
    /// the transaction itself, the epoch is bumped by every commit or abort)
    /// when the cluster has `transaction.version` ≥ 2 finalized (default
    /// true). `false` keeps protocol v1 even then.
    pub transaction_v2: bool,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 16_384,
            max_request_size: 1_048_576,
            buffer_memory: 33_554_432,
            max_block: Duration::from_millis(60_000),
            delivery_timeout: Duration::from_millis(120_000),
            compression: Compression::None,
            max_in_flight: 5,
            keyless: KeylessStrategy::Sticky,
            partitioner: None,
            idempotence: None,
            transactional_id: None,
            transaction_timeout: Duration::from_millis(60_000),
            transaction_v2: true,
        }
    }
}

impl ProducerConfig {
    /// Sets `acks`.
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }

    /// Sets `linger.ms`.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Sets `batch.size`.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }

    /// Sets `buffer.memory`.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = bytes;
        self
    }

    /// Sets `max.block.ms`.
    pub fn max_block(mut self, timeout: Duration) -> Self {
        self.max_block = timeout;
        self
    }

    /// Sets `delivery.timeout.ms`.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout = timeout;
        self
    }

    /// Sets the compression codec.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// Sets how keyless records are spread.
    pub fn keyless(mut self, strategy: KeylessStrategy) -> Self {
        self.keyless = strategy;
        self
    }

    /// Turns idempotence on or off explicitly.
    pub fn idempotence(mut self, enabled: bool) -> Self {
        self.idempotence = Some(enabled);
        self
    }

    /// Sets `transactional.id`: the producer becomes transactional.
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        self.transactional_id = Some(id.into());
        self
    }

    /// Sets `transaction.timeout.ms`.
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.transaction_timeout = timeout;
        self
    }

    /// Allows or forbids transaction protocol v2 (KIP-890).
    pub fn transaction_v2(mut self, allowed: bool) -> Self {
        self.transaction_v2 = allowed;
        self
    }

    /// Whether the producer runs idempotently; an explicit `true` with acks
    /// other than `All` is a configuration error, as in Java. A
    /// transactional producer is always idempotent (and needs acks=all).
    pub(crate) fn idempotence_enabled(&self) -> crate::Result<bool> {
        if self.max_in_flight == 0 {
            return Err(crate::Error::Config(
                "max_in_flight must be positive".into(),
            ));
        }
        let in_flight_ok = self.max_in_flight <= MAX_IN_FLIGHT_IDEMPOTENT;
        if !in_flight_ok && (self.transactional_id.is_some() || self.idempotence == Some(true)) {
            return Err(crate::Error::Config(format!(
                "idempotence needs max_in_flight <= {MAX_IN_FLIGHT_IDEMPOTENT}"
            )));
        }
        if self.transactional_id.is_some() {
            if self.idempotence == Some(false) || self.acks != Acks::All {
                return Err(crate::Error::Config(
                    "a transactional producer needs idempotence and acks=all".into(),
                ));
            }
            if self.transactional_id.as_deref() == Some("") {
                return Err(crate::Error::Config("transactional_id is empty".into()));
            }
            return Ok(true);
        }
        match (self.idempotence, self.acks) {
            (Some(true), Acks::All) => Ok(true),
            (None, Acks::All) => Ok(in_flight_ok),
            (Some(true), _) => Err(crate::Error::Config("idempotence requires acks=all".into())),
            _ => Ok(false),
        }
    }

    /// Sets `max.in.flight.requests.per.connection` (requests per broker,
    /// batches per partition).
    pub fn max_in_flight(mut self, batches: usize) -> Self {
        self.max_in_flight = batches;
        self
    }

    /// Sets a custom partitioner.
    pub fn partitioner(mut self, partitioner: Arc<dyn Partitioner>) -> Self {
        self.partitioner = Some(partitioner);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotence_follows_the_java_rules() {
        assert!(ProducerConfig::default().idempotence_enabled().unwrap());
        assert!(
            !ProducerConfig::default()
                .acks(Acks::Leader)
                .idempotence_enabled()
                .unwrap()
        );
        assert!(
            ProducerConfig::default()
                .acks(Acks::Leader)
                .idempotence(true)
                .idempotence_enabled()
                .is_err()
        );
        assert!(
            !ProducerConfig::default()
                .idempotence(false)
                .idempotence_enabled()
                .unwrap()
        );
    }

    #[test]
    fn more_than_five_in_flight_turns_default_idempotence_off() {
        let wide = ProducerConfig::default().max_in_flight(6);
        assert!(!wide.idempotence_enabled().unwrap());
        assert!(
            wide.clone()
                .idempotence(true)
                .idempotence_enabled()
                .is_err()
        );
        assert!(wide.transactional_id("t").idempotence_enabled().is_err());
        assert!(
            ProducerConfig::default()
                .max_in_flight(5)
                .idempotence_enabled()
                .unwrap()
        );
        assert!(
            ProducerConfig::default()
                .max_in_flight(0)
                .idempotence_enabled()
                .is_err()
        );
    }

    #[test]
    fn transactions_imply_idempotence_and_acks_all() {
        let txn = ProducerConfig::default().transactional_id("t");
        assert!(txn.idempotence_enabled().unwrap());
        assert_eq!(txn.transaction_timeout, Duration::from_secs(60));
        assert!(
            txn.clone()
                .idempotence(false)
                .idempotence_enabled()
                .is_err()
        );
        assert!(txn.acks(Acks::Leader).idempotence_enabled().is_err());
        assert!(
            ProducerConfig::default()
                .transactional_id("")
                .idempotence_enabled()
                .is_err()
        );
    }
}
