//! Per-partition batches waiting to be sent. Pure data structure: no I/O,
//! and the time is always an argument so tests drive it with a fake clock.
//!
//! A partition's queue holds at most one *open* batch (still taking
//! records) and any number of *closed* ones (full, lingered out, or sent
//! and coming back for a retry). At most one batch per partition is in
//! flight, which keeps records in order across retries.

use super::idempotence::Idempotence;
use super::record::{ProducerRecord, RecordMetadata};
use crate::error::{Error, Result};
use bytes::Bytes;
use kafkacc_protocol::compression::Compression;
use kafkacc_protocol::records::{BatchBuilder, ProducerState, rewrite_producer_state};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

/// The promise made to one `send` caller.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub reply: oneshot::Sender<Result<RecordMetadata>>,
    pub timestamp: i64,
}

/// A batch on its way to a broker.
#[derive(Debug)]
pub(crate) struct Batch {
    pub tp: TopicPartition,
    /// Records not yet encoded into bytes (until the first send).
    builder: Option<BatchBuilder>,
    /// The encoded batch, kept for retries so they resend the same bytes.
    pub encoded: Option<Bytes>,
    /// Producer id, epoch and sequence the encoded bytes carry (idempotence).
    stamped: Option<ProducerState>,
    pub deliveries: Vec<Delivery>,
    /// Bytes of `buffer_memory` this batch holds.
    pub reserved: usize,
    pub created: Instant,
    pub attempts: u32,
    pub retry_at: Option<Instant>,
}

impl Batch {
    /// The batch's bytes, encoding them on first use. With idempotence the
    /// batch takes its sequence now and keeps it on retries; only after an
    /// epoch bump is it re-stamped.
    pub(crate) fn encode(&mut self, idempotence: Option<&mut Idempotence>) -> Result<Bytes> {
        let records = self.deliveries.len();
        match (idempotence, &self.encoded) {
            (None, Some(bytes)) => Ok(bytes.clone()),
            (Some(idem), Some(bytes)) => match self.stamped {
                Some(state) if idem.is_current(&state) => Ok(bytes.clone()),
                _ => {
                    let state = idem.stamp(&self.tp, records).ok_or(Error::Closed)?;
                    let rewritten =
                        rewrite_producer_state(bytes, state).map_err(|source| Error::Decode {
                            addr: "own batch".into(),
                            source,
                        })?;
                    self.stamped = Some(state);
                    self.encoded = Some(rewritten.clone());
                    Ok(rewritten)
                }
            },
            (idem, None) => {
                let state = match idem {
                    Some(idem) => Some(idem.stamp(&self.tp, records).ok_or(Error::Closed)?),
                    None => None,
                };
                let builder = self.builder.take().ok_or(Error::Closed)?;
                let bytes = builder.build(state.unwrap_or_default())?;
                self.stamped = state;
                self.encoded = Some(bytes.clone());
                Ok(bytes)
            }
        }
    }

    /// Resolves every record of the batch with its offset.
    pub(crate) fn succeed(self, base_offset: i64, log_append_time: i64) {
        for (i, d) in self.deliveries.into_iter().enumerate() {
            let offset = if base_offset < 0 {
                -1
            } else {
                base_offset + i as i64
            };
            let timestamp = if log_append_time >= 0 {
                log_append_time
            } else {
                d.timestamp
            };
            let metadata = RecordMetadata {
                topic: self.tp.topic.clone(),
                partition: self.tp.partition,
                offset,
                timestamp,
            };
            let _ = d.reply.send(Ok(metadata));
        }
    }

    /// Fails every record of the batch.
    pub(crate) fn fail(self, error: Error) {
        for d in self.deliveries {
            let _ = d.reply.send(Err(error.clone()));
        }
    }
}

#[derive(Debug, Default)]
struct PartitionQueue {
    open: Option<Batch>,
    closed: VecDeque<Batch>,
    in_flight: bool,
}

/// What the accumulator needs from the producer config.
#[derive(Debug, Clone)]
pub(crate) struct AccumulatorConfig {
    pub batch_size: usize,
    pub linger: Duration,
    pub compression: Compression,
}

/// All partitions' batches.
#[derive(Debug)]
pub(crate) struct Accumulator {
    config: AccumulatorConfig,
    queues: BTreeMap<TopicPartition, PartitionQueue>,
    /// The partition keyless records of each topic currently stick to.
    sticky: BTreeMap<String, i32>,
}

impl Accumulator {
    pub(crate) fn new(config: AccumulatorConfig) -> Self {
        Accumulator {
            config,
            queues: BTreeMap::new(),
            sticky: BTreeMap::new(),
        }
    }

    /// The partition keyless records of `topic` go to now, if one is chosen.
    pub(crate) fn sticky_partition(&self, topic: &str) -> Option<i32> {
        self.sticky.get(topic).copied()
    }

    /// Sets the sticky partition of `topic`.
    pub(crate) fn set_sticky_partition(&mut self, topic: &str, partition: i32) {
        self.sticky.insert(topic.to_owned(), partition);
    }

    /// Adds a record to its partition's open batch, opening or closing
    /// batches at `batch_size`. Returns whether the sender should look again:
    /// a batch became ready, or a new one opened (an earlier linger deadline).
    pub(crate) fn append(
        &mut self,
        tp: TopicPartition,
        record: &ProducerRecord,
        timestamp: i64,
        delivery: Delivery,
        reserved: usize,
        now: Instant,
    ) -> Result<bool> {
        let batch_size = self.config.batch_size;
        let compression = self.config.compression;
        // Look up before inserting so the common case clones no topic name.
        if !self.queues.contains_key(&tp) {
            self.queues.insert(tp.clone(), PartitionQueue::default());
        }
        let Some(queue) = self.queues.get_mut(&tp) else {
            return Err(Error::Closed);
        };
        let mut closed_one = false;
        let record_size = record.buffered_size();
        if queue.open.as_ref().is_some_and(|b| {
            !b.deliveries.is_empty() && b.estimated_size() + record_size > batch_size
        }) {
            Self::close_open(queue);
            closed_one = true;
        }
        let opened = queue.open.is_none();
        let open = queue.open.get_or_insert_with(|| Batch {
            tp: tp.clone(),
            builder: Some(BatchBuilder::new(compression, timestamp)),
            encoded: None,
            stamped: None,
            deliveries: Vec::new(),
            reserved: 0,
            created: now,
            attempts: 0,
            retry_at: None,
        });
        if let Some(builder) = open.builder.as_mut() {
            builder.append(
                timestamp,
                record.key.as_deref(),
                record.value.as_deref(),
                &record.headers,
            )?;
        }
        open.deliveries.push(delivery);
        open.reserved += reserved;
        if open.estimated_size() >= batch_size {
            Self::close_open(queue);
            closed_one = true;
        }
        if closed_one && self.sticky.get(&tp.topic) == Some(&tp.partition) {
            // Java moves keyless records on once their batch is complete.
            self.sticky.remove(&tp.topic);
        }
        Ok(closed_one || opened)
    }

    fn close_open(queue: &mut PartitionQueue) {
        if let Some(batch) = queue.open.take() {
            queue.closed.push_back(batch);
        }
    }

    /// Takes every batch that may be sent now: closed ones whose retry time
    /// has come, and open ones that lingered long enough (or all of them
    /// when `flushing`). Their partitions are marked in flight.
    pub(crate) fn drain(&mut self, now: Instant, flushing: bool) -> Vec<Batch> {
        self.drain_where(now, flushing, |_| true)
    }

    /// [`Accumulator::drain`] over the partitions `allowed` accepts (a
    /// transaction holds a partition back until the coordinator knows it is
    /// part of the transaction).
    pub(crate) fn drain_where(
        &mut self,
        now: Instant,
        flushing: bool,
        allowed: impl Fn(&TopicPartition) -> bool,
    ) -> Vec<Batch> {
        let linger = self.config.linger;
        let mut out = Vec::new();
        let mut unstick = Vec::new();
        for (tp, queue) in self.queues.iter_mut() {
            if queue.in_flight || !allowed(tp) {
                continue;
            }
            let front_ready = queue
                .closed
                .front()
                .map(|b| b.retry_at.is_none_or(|t| t <= now));
            let batch = match front_ready {
                Some(true) => queue.closed.pop_front(),
                Some(false) => None,
                None => {
                    let lingered = queue
                        .open
                        .as_ref()
                        .is_some_and(|b| flushing || now >= b.created + linger);
                    if lingered {
                        unstick.push(tp.clone());
                        queue.open.take()
                    } else {
                        None
                    }
                }
            };
            if let Some(batch) = batch {
                queue.in_flight = true;
                out.push(batch);
            }
        }
        for tp in unstick {
            if self.sticky.get(&tp.topic) == Some(&tp.partition) {
                self.sticky.remove(&tp.topic);
            }
        }
        out
    }

    /// The partition's batch came back (done or failed for good).
    pub(crate) fn complete(&mut self, tp: &TopicPartition) {
        if let Some(queue) = self.queues.get_mut(tp) {
            queue.in_flight = false;
            if queue.open.is_none() && queue.closed.is_empty() {
                self.queues.remove(tp);
            }
        }
    }

    /// Puts a batch back at the front of its partition, to retry at `at`.
    pub(crate) fn requeue(&mut self, mut batch: Batch, at: Instant) {
        batch.retry_at = Some(at);
        let queue = self.queues.entry(batch.tp.clone()).or_default();
        queue.in_flight = false;
        queue.closed.push_front(batch);
    }

    /// When the next batch becomes sendable by time alone.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.next_deadline_where(|_| true)
    }

    /// [`Accumulator::next_deadline`] over the partitions `allowed` accepts.
    pub(crate) fn next_deadline_where(
        &self,
        allowed: impl Fn(&TopicPartition) -> bool,
    ) -> Option<Instant> {
        let linger = self.config.linger;
        self.queues
            .iter()
            .filter(|(tp, q)| !q.in_flight && allowed(tp))
            .map(|(_, q)| q)
            .filter_map(|q| match q.closed.front() {
                Some(b) => Some(b.retry_at.unwrap_or(b.created)),
                None => q.open.as_ref().map(|b| b.created + linger),
            })
            .min()
    }

    /// Whether nothing is buffered or in flight.
    pub(crate) fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Takes every batch that is not in flight (an aborted transaction's
    /// records): the caller fails them. In-flight batches stay accounted
    /// for until they complete.
    pub(crate) fn take_unsent(&mut self) -> Vec<Batch> {
        let mut out = Vec::new();
        self.queues.retain(|_, q| {
            out.extend(q.closed.drain(..));
            out.extend(q.open.take());
            q.in_flight
        });
        out
    }

    /// Takes every batch out (closing): the caller fails them.
    pub(crate) fn take_all(&mut self) -> Vec<Batch> {
        let mut out = Vec::new();
        for (_, mut q) in std::mem::take(&mut self.queues) {
            out.extend(q.closed.drain(..));
            out.extend(q.open.take());
        }
        out
    }
}

impl Batch {
    fn estimated_size(&self) -> usize {
        match (&self.builder, &self.encoded) {
            (Some(b), _) => b.estimated_size(),
            (None, Some(e)) => e.len(),
            (None, None) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acc(batch_size: usize, linger_ms: u64) -> Accumulator {
        Accumulator::new(AccumulatorConfig {
            batch_size,
            linger: Duration::from_millis(linger_ms),
            compression: Compression::None,
        })
    }

    fn record(value: &str) -> ProducerRecord {
        ProducerRecord::new("t").value(value.to_owned())
    }

    fn delivery() -> (Delivery, oneshot::Receiver<Result<RecordMetadata>>) {
        let (tx, rx) = oneshot::channel();
        (
            Delivery {
                reply: tx,
                timestamp: 0,
            },
            rx,
        )
    }

    fn tp(p: i32) -> TopicPartition {
        TopicPartition {
            topic: "t".into(),
            partition: p,
        }
    }

    #[test]
    fn open_batch_waits_for_linger_then_drains() {
        let t0 = Instant::now();
        let mut a = acc(16_384, 5);
        let (d, _rx) = delivery();
        assert!(
            a.append(tp(0), &record("x"), 0, d, 10, t0).unwrap(),
            "a new batch wakes the sender"
        );
        let (d, _rx2) = delivery();
        assert!(
            !a.append(tp(0), &record("y"), 0, d, 10, t0).unwrap(),
            "joining an open batch does not"
        );
        assert!(a.drain(t0, false).is_empty());
        assert_eq!(a.next_deadline(), Some(t0 + Duration::from_millis(5)));
        assert!(a.drain(t0 + Duration::from_millis(4), false).is_empty());
        let drained = a.drain(t0 + Duration::from_millis(5), false);
        assert_eq!(drained.len(), 1);
        assert_eq!(drained[0].deliveries.len(), 2);
    }

    #[test]
    fn full_batch_closes_and_one_in_flight_per_partition() {
        let t0 = Instant::now();
        let mut a = acc(200, 1_000);
        let mut rxs = Vec::new();
        for _ in 0..10 {
            let (d, rx) = delivery();
            rxs.push(rx);
            a.append(tp(0), &record(&"v".repeat(40)), 0, d, 60, t0)
                .unwrap();
        }
        // Linger is far away, so only closed (full) batches drain; one at a
        // time, since a partition has at most one batch in flight.
        let mut full_batches = Vec::new();
        loop {
            let drained = a.drain(t0, false);
            assert!(drained.len() <= 1, "only one batch per partition in flight");
            assert!(
                a.drain(t0, false).is_empty(),
                "nothing more until it completes"
            );
            let Some(batch) = drained.into_iter().next() else {
                break;
            };
            full_batches.push(batch.deliveries.len());
            a.complete(&tp(0));
        }
        assert!(
            full_batches.len() >= 2,
            "batches close at batch_size: {full_batches:?}"
        );
        assert!(
            full_batches.iter().sum::<usize>() < 10,
            "the last batch is still open, lingering"
        );
    }

    #[test]
    fn flush_drains_open_batches_and_retry_waits() {
        let t0 = Instant::now();
        let mut a = acc(16_384, 10_000);
        let (d, _rx) = delivery();
        a.append(tp(1), &record("x"), 0, d, 10, t0).unwrap();
        let mut batches = a.drain(t0, true);
        assert_eq!(batches.len(), 1);
        let batch = batches.remove(0);
        a.requeue(batch, t0 + Duration::from_millis(100));
        assert!(a.drain(t0 + Duration::from_millis(50), true).is_empty());
        assert_eq!(a.drain(t0 + Duration::from_millis(100), false).len(), 1);
        a.complete(&tp(1));
        assert!(a.is_empty());
    }

    #[test]
    fn idempotent_batches_keep_their_sequence_until_an_epoch_bump() {
        use kafkacc_protocol::records::BatchHeader;
        let t0 = Instant::now();
        let mut a = acc(16_384, 0);
        let mut idem = Idempotence::default();
        idem.set_identity(42, 3);
        let mut rxs = Vec::new();
        for i in 0..3 {
            let (d, rx) = delivery();
            rxs.push(rx);
            a.append(tp(0), &record(&i.to_string()), 0, d, 10, t0)
                .unwrap();
        }
        let mut first = a.drain(t0, false).remove(0);
        let bytes = first.encode(Some(&mut idem)).unwrap();
        let header = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(
            (
                header.producer_id,
                header.producer_epoch,
                header.base_sequence
            ),
            (42, 3, 0)
        );
        // A retry resends the very same bytes.
        assert_eq!(first.encode(Some(&mut idem)).unwrap(), bytes);
        // The next batch continues the sequence.
        a.complete(&tp(0));
        let (d, _rx) = delivery();
        a.append(tp(0), &record("x"), 0, d, 10, t0).unwrap();
        let mut second = a.drain(t0, false).remove(0);
        let header = BatchHeader::parse(&second.encode(Some(&mut idem)).unwrap()).unwrap();
        assert_eq!(header.base_sequence, 3);
        // After an epoch bump, an unacknowledged batch is re-stamped.
        idem.on_error(kafkacc_protocol::ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
        idem.set_identity(42, 4);
        let header = BatchHeader::parse(&first.encode(Some(&mut idem)).unwrap()).unwrap();
        assert_eq!((header.producer_epoch, header.base_sequence), (4, 0));
        let batch = kafkacc_protocol::records::batches(first.encoded.clone().unwrap())
            .next()
            .unwrap()
            .unwrap();
        batch.verify_crc().expect("rewritten batch has a valid CRC");
    }

    #[test]
    fn held_partitions_do_not_drain_and_unsent_batches_can_be_taken() {
        let t0 = Instant::now();
        let mut a = acc(16_384, 0);
        let mut rxs = Vec::new();
        for p in 0..3 {
            let (d, rx) = delivery();
            rxs.push(rx);
            a.append(tp(p), &record("x"), 0, d, 10, t0).unwrap();
        }
        let allowed = |t: &TopicPartition| t.partition == 1;
        let drained = a.drain_where(t0, true, allowed);
        assert_eq!(drained.len(), 1, "only the allowed partition");
        assert_eq!(drained[0].tp, tp(1));
        assert_eq!(
            a.next_deadline_where(|t| t.partition == 1),
            None,
            "in flight; the held ones do not count"
        );
        assert!(a.next_deadline_where(|_| true).is_some());
        // An abort takes what was not sent; the batch in flight stays.
        let unsent = a.take_unsent();
        let mut partitions: Vec<i32> = unsent.iter().map(|b| b.tp.partition).collect();
        partitions.sort();
        assert_eq!(partitions, vec![0, 2]);
        assert!(!a.is_empty(), "the in-flight batch is still accounted for");
        a.complete(&tp(1));
        assert!(a.is_empty());
    }

    #[test]
    fn success_resolves_offsets_in_order() {
        let t0 = Instant::now();
        let mut a = acc(16_384, 0);
        let mut rxs = Vec::new();
        for i in 0..3 {
            let (d, rx) = delivery();
            rxs.push(rx);
            a.append(tp(0), &record(&i.to_string()), 0, d, 10, t0)
                .unwrap();
        }
        let mut b = a.drain(t0, false).remove(0);
        assert!(b.encode(None).is_ok());
        b.succeed(100, -1);
        let offsets: Vec<i64> = rxs
            .into_iter()
            .map(|mut r| r.try_recv().unwrap().unwrap().offset)
            .collect();
        assert_eq!(offsets, vec![100, 101, 102]);
    }
}
