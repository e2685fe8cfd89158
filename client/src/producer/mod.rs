//! The producer: `send` puts a record in its partition's batch and returns a
//! [`DeliveryFuture`]; a background task sends batches as they fill or
//! linger out, retries what can be retried, and resolves each future once.
//!
//! ```text
//! send() ──▶ Accumulator (per-partition batches, buffer_memory) ──▶ sender task
//!                                                                     │ groups by leader
//!                                                                     ▼
//!                                         Produce request per broker (Produce lane)
//!                                                                     │
//!                    DeliveryFuture ◀── offsets / errors ◀────────────┘
//! ```
//!
//! A transactional producer (`transactional_id` set) adds `txn.rs`, the
//! sans-io transaction manager, and a task in `txn_io.rs` that sends its
//! coordinator requests; `transactional.rs` holds the user calls
//! (`init_transactions`, `begin_transaction`, `commit_transaction`, ...).

mod accumulator;
mod config;
mod group_metadata;
mod idempotence;
mod lane;
mod record;
mod sender;
mod transactional;
mod txn;
mod txn_io;
#[cfg(test)]
mod txn_tests;

pub use config::{Acks, ProducerConfig};
pub use group_metadata::ConsumerGroupMetadata;
pub use record::{ProducerRecord, RecordMetadata};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::partitioner::{KeylessSpreader, KeylessStrategy, partition_for_key};
use accumulator::{Accumulator, AccumulatorConfig, Delivery, TopicPartition};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, Semaphore, oneshot};
use tokio::time::Instant;

/// Sends records to Kafka. Cheap to clone; clones share batches.
#[derive(Clone, Debug)]
pub struct Producer {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    client: Client,
    config: ProducerConfig,
    accumulator: Mutex<Accumulator>,
    /// Bytes of `buffer_memory` still free; `send` waits on it.
    memory: Arc<Semaphore>,
    /// Wakes the sender task (a batch is ready, or a flush began).
    wake_sender: Arc<Notify>,
    /// Wakes `flush` callers when batches complete.
    batch_done: Notify,
    /// Number of `flush` calls in progress; while > 0 linger is skipped.
    flushing: Mutex<usize>,
    spreader: KeylessSpreader,
    /// Producer id, epoch and sequences; None when idempotence is off.
    idempotence: Option<Mutex<idempotence::Idempotence>>,
    /// The transaction manager; None unless `transactional_id` is set.
    /// Lock order: accumulator, then this, then `idempotence`.
    txn: Option<Mutex<txn::TxnManager>>,
    /// Wakes the transaction task (a request may be due).
    wake_txn: Arc<Notify>,
    /// Wakes callers waiting for a transaction operation's outcome.
    txn_progress: Notify,
    closed: std::sync::atomic::AtomicBool,
    /// Cancelled when `close` gave up waiting: requests still in flight are
    /// dropped and their records fail with [`Error::Closed`] at once, so no
    /// delivery future outlives `close` by more than a moment.
    abandoned: tokio_util::sync::CancellationToken,
    /// Each broker's lane (see `sender.rs`): requests queued in send order.
    lanes: Mutex<std::collections::BTreeMap<i32, sender::LaneSender>>,
}

/// Resolves once, with where the record was written or why it was not.
#[must_use = "a delivery future reports whether the record was written"]
#[derive(Debug)]
pub struct DeliveryFuture {
    rx: oneshot::Receiver<Result<RecordMetadata>>,
}

impl Future for DeliveryFuture {
    type Output = Result<RecordMetadata>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}

impl Producer {
    /// A producer on `client`.
    pub fn new(client: Client, config: ProducerConfig) -> Result<Producer> {
        if config.batch_size == 0 || config.buffer_memory == 0 {
            return Err(Error::Config(
                "batch_size and buffer_memory must be positive".into(),
            ));
        }
        if config.buffer_memory > u32::MAX as usize {
            return Err(Error::Config("buffer_memory must fit in 32 bits".into()));
        }
        let idempotent = config.idempotence_enabled()?;
        let txn = config.transactional_id.as_ref().map(|id| {
            let client_config = client.config();
            Mutex::new(txn::TxnManager::new(txn::TxnConfig {
                transactional_id: id.clone(),
                transaction_timeout: config.transaction_timeout,
                retry_backoff: client_config.retry_backoff,
                retry_backoff_max: client_config.retry_backoff_max,
            }))
        });
        let idempotence = match (&txn, idempotent) {
            (Some(_), _) => Some(Mutex::new(idempotence::Idempotence::transactional())),
            (None, true) => Some(Mutex::default()),
            (None, false) => None,
        };
        let accumulator = Accumulator::new(AccumulatorConfig {
            batch_size: config.batch_size,
            linger: config.linger,
            compression: config.compression,
            max_in_flight: config.max_in_flight,
        });
        let shared = Arc::new(Shared {
            memory: Arc::new(Semaphore::new(config.buffer_memory)),
            client,
            config,
            accumulator: Mutex::new(accumulator),
            wake_sender: Arc::new(Notify::new()),
            batch_done: Notify::new(),
            flushing: Mutex::new(0),
            spreader: KeylessSpreader::default(),
            idempotence,
            txn,
            wake_txn: Arc::new(Notify::new()),
            txn_progress: Notify::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
            abandoned: tokio_util::sync::CancellationToken::new(),
            lanes: Mutex::default(),
        });
        tokio::spawn(sender::run(Arc::downgrade(&shared)));
        if shared.txn.is_some() {
            tokio::spawn(txn_io::run(Arc::downgrade(&shared)));
        }
        Ok(Producer { shared })
    }

    /// Queues `record` and returns a future for its delivery. Waits (up to
    /// `max_block`) for topic metadata and for buffer memory.
    pub async fn send(&self, mut record: ProducerRecord) -> Result<DeliveryFuture> {
        let shared = &self.shared;
        if shared.closed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(Error::Closed);
        }
        let size = record.buffered_size();
        if size > shared.config.max_request_size {
            return Err(Error::RecordTooLarge {
                size,
                max: shared.config.max_request_size,
            });
        }
        if size > shared.config.buffer_memory {
            return Err(Error::RecordTooLarge {
                size,
                max: shared.config.buffer_memory,
            });
        }
        if let Some(txn) = &shared.txn {
            lock(txn).check_send()?;
        }
        // One clock reading serves the whole send (it is a good part of a
        // record's cost).
        let mut now = Instant::now();
        let deadline = now + shared.config.max_block;
        // Fast paths first: cached metadata and free buffer memory need no
        // timer; only a miss waits (up to `max_block`).
        let partitions = match shared.client.cached_partition_count(&record.topic, now) {
            Some(n) => n,
            None => {
                let n = self.wait_for_partitions(&record.topic, deadline).await?;
                now = Instant::now();
                n
            }
        };
        match shared.memory.try_acquire_many(size as u32) {
            Ok(permit) => permit.forget(), // given back when the batch completes
            Err(tokio::sync::TryAcquireError::Closed) => return Err(Error::Closed),
            Err(tokio::sync::TryAcquireError::NoPermits) => {
                let permit = tokio::time::timeout_at(
                    deadline,
                    shared.memory.clone().acquire_many_owned(size as u32),
                )
                .await
                .map_err(|_| Error::Timeout {
                    op: "waiting for buffer memory",
                    after: shared.config.max_block,
                })?
                .map_err(|_| Error::Closed)?;
                permit.forget();
                now = Instant::now();
            }
        }

        let timestamp = record.timestamp.unwrap_or_else(now_millis);
        let (tx, rx) = oneshot::channel();
        let delivery = Delivery {
            reply: tx,
            timestamp,
        };
        let ready = {
            let mut acc = shared.accumulator.lock().unwrap_or_else(|p| p.into_inner());
            let partition = match self.choose_partition(&record, partitions, &mut acc) {
                Ok(p) => p,
                Err(e) => {
                    drop(acc);
                    shared.memory.add_permits(size);
                    return Err(e);
                }
            };
            let tp = TopicPartition {
                topic: std::mem::take(&mut record.topic),
                partition,
            };
            if let Some(txn) = &shared.txn {
                match lock(txn).add_partition(&tp) {
                    Ok(true) => shared.wake_txn.notify_one(),
                    Ok(false) => {}
                    Err(e) => {
                        drop(acc);
                        shared.memory.add_permits(size);
                        return Err(e);
                    }
                }
            }
            acc.append(tp, &record, timestamp, delivery, size, now)
        };
        match ready {
            // The sender sleeps until the earliest linger deadline: wake it
            // when a batch filled up or a new one (with an earlier deadline)
            // opened; records joining an open batch need no wake-up, which
            // keeps the cost per record down to a lock and an append.
            Ok(true) => shared.wake_sender.notify_one(),
            Ok(false) => {}
            Err(e) => {
                shared.memory.add_permits(size);
                return Err(e);
            }
        }
        Ok(DeliveryFuture { rx })
    }

    /// The partition count of `topic`, refreshing metadata until the topic
    /// has partitions or `deadline` passes. A topic the broker auto-creates
    /// on first use answers LEADER_NOT_AVAILABLE / unknown for a moment,
    /// so "unknown" is retried here, as the Java producer does within
    /// `max.block.ms`.
    async fn wait_for_partitions(&self, topic: &str, deadline: Instant) -> Result<i32> {
        let shared = &self.shared;
        let config = shared.client.config();
        let mut attempt = 0;
        loop {
            let lookup =
                tokio::time::timeout_at(deadline, shared.client.topic_metadata(topic, true));
            let error = match lookup.await {
                Ok(Ok(metadata)) => {
                    return Ok(metadata
                        .topic(topic)
                        .map_or(0, |t| t.partitions.len() as i32));
                }
                Ok(Err(e)) if e.is_retriable() => e,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    return Err(Error::Timeout {
                        op: "topic metadata",
                        after: shared.config.max_block,
                    });
                }
            };
            let pause =
                crate::retry::backoff(config.retry_backoff, config.retry_backoff_max, attempt);
            if Instant::now() + pause >= deadline {
                return Err(error);
            }
            tracing::debug!(topic, %error, "waiting for topic metadata");
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    fn choose_partition(
        &self,
        record: &ProducerRecord,
        partitions: i32,
        acc: &mut Accumulator,
    ) -> Result<i32> {
        if let Some(p) = record.partition {
            if p < 0 || p >= partitions {
                return Err(Error::UnknownPartition {
                    topic: record.topic.clone(),
                    partition: p,
                });
            }
            return Ok(p);
        }
        let config = &self.shared.config;
        if let Some(custom) = &config.partitioner {
            let p = custom.partition(&record.topic, record.key.as_deref(), partitions);
            if p < 0 || p >= partitions {
                return Err(Error::UnknownPartition {
                    topic: record.topic.clone(),
                    partition: p,
                });
            }
            return Ok(p);
        }
        if let Some(key) = &record.key {
            return Ok(partition_for_key(key, partitions));
        }
        Ok(match config.keyless {
            KeylessStrategy::RoundRobin => self.shared.spreader.next_round_robin(partitions),
            KeylessStrategy::Sticky => match acc.sticky_partition(&record.topic) {
                Some(p) if p < partitions => p,
                current => {
                    let p = self.shared.spreader.next_sticky(partitions, current);
                    acc.set_sticky_partition(&record.topic, p);
                    p
                }
            },
        })
    }

    /// Sends everything queued now (skipping linger) and waits until every
    /// record sent before this call has been acknowledged or has failed.
    pub async fn flush(&self) -> Result<()> {
        let shared = &self.shared;
        *shared.flushing.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        let _guard = FlushGuard(shared);
        loop {
            let done = shared.batch_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if shared
                .accumulator
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
            {
                return Ok(());
            }
            shared.wake_sender.notify_one();
            done.await;
        }
    }

    /// Delivers what is queued (within `timeout`), then stops. Records still
    /// queued after the timeout fail with `Closed`.
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        let flushed = tokio::time::timeout(timeout, self.flush()).await;
        self.shared
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        let leftovers = self
            .shared
            .accumulator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take_all();
        for batch in leftovers {
            batch.fail(Error::Closed);
        }
        if flushed.is_err() {
            self.shared.abandoned.cancel();
        }
        // Each broker's lane task ends once its queue is empty.
        lock(&self.shared.lanes).clear();
        self.shared.wake_sender.notify_one();
        match flushed {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                op: "close",
                after: timeout,
            }),
        }
    }
}

struct FlushGuard<'a>(&'a Shared);

impl Drop for FlushGuard<'_> {
    fn drop(&mut self) {
        let mut n = self.0.flushing.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_sub(1);
    }
}

/// Locks a mutex, ignoring poisoning (the data stays consistent: every
/// critical section is a plain state update).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
