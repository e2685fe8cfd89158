//! Per-partition batches waiting to be sent. Pure data structure: no I/O,
//! and the time is always an argument so tests drive it with a fake clock.
//!
//! A partition's queue holds at most one *open* batch (still taking
//! records) and any number of *closed* ones (full, lingered out, or sent
//! and coming back for a retry), oldest first.
//!
//! Up to `max_in_flight` batches of a partition are in flight at once
//! (Java's `max.in.flight.requests.per.connection`, 5 by default), once
//! the broker acknowledged one of its batches: until then they go one at a
//! time, because a broker that does not know the producer on a partition
//! accepts any first sequence, so a later batch could be written before
//! an earlier one that failed. Order across retries, as in the Java
//! client: once a batch comes back for a
//! retry, the partition sends nothing new; when everything it had in
//! flight is back, the retries go out one at a time, oldest first, and
//! only then new batches again. With idempotence the broker's sequence
//! checks turn the batches sent after a failed one into retries too
//! (OUT_OF_ORDER_SEQUENCE_NUMBER), so records are written in order.

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
    /// Creation order within the producer: retries go back in this order.
    order: u64,
}

impl Batch {
    /// Whether the batch went out before and came back (or could not go).
    pub(crate) fn is_retry(&self) -> bool {
        self.retry_at.is_some()
    }

    /// Producer id, epoch and sequence its bytes carry, once encoded with
    /// idempotence.
    pub(crate) fn stamped(&self) -> Option<ProducerState> {
        self.stamped
    }

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
    in_flight: usize,
    /// The broker acknowledged a batch of this queue: pipelining is safe.
    acknowledged: bool,
}

impl PartitionQueue {
    /// Puts a batch back among the closed ones by creation order.
    fn insert_in_order(&mut self, batch: Batch) {
        let at = self
            .closed
            .iter()
            .position(|b| b.order > batch.order)
            .unwrap_or(self.closed.len());
        self.closed.insert(at, batch);
    }

    /// When the next batch may leave, ignoring `allowed`: None while the
    /// partition is at its in-flight limit or waiting for its in-flight
    /// batches before a retry.
    fn next_send_time(&self, max_in_flight: usize, linger: Duration) -> Option<Instant> {
        let max_in_flight = if self.acknowledged { max_in_flight } else { 1 };
        match self.closed.front() {
            Some(b) if b.is_retry() => (self.in_flight == 0).then_some(b.retry_at).flatten(),
            _ if self.in_flight >= max_in_flight => None,
            Some(b) => Some(b.created),
            None => self.open.as_ref().map(|b| b.created + linger),
        }
    }
}

/// What the accumulator needs from the producer config.
#[derive(Debug, Clone)]
pub(crate) struct AccumulatorConfig {
    pub batch_size: usize,
    pub linger: Duration,
    pub compression: Compression,
    /// Batches per partition in flight at once (at least 1).
    pub max_in_flight: usize,
}

/// All partitions' batches.
#[derive(Debug)]
pub(crate) struct Accumulator {
    config: AccumulatorConfig,
    queues: BTreeMap<TopicPartition, PartitionQueue>,
    /// The partition keyless records of each topic currently stick to.
    sticky: BTreeMap<String, i32>,
    /// Order number of the next batch.
    next_order: u64,
    /// Batches in flight over all partitions.
    in_flight: usize,
}

impl Accumulator {
    pub(crate) fn new(config: AccumulatorConfig) -> Self {
        Accumulator {
            config,
            queues: BTreeMap::new(),
            sticky: BTreeMap::new(),
            next_order: 0,
            in_flight: 0,
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
        if opened {
            self.next_order += 1;
        }
        let order = self.next_order;
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
            order,
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

    /// Takes the batches that may be sent now, at most one per partition:
    /// a closed one (a retry once its time has come and nothing else of
    /// the partition is in flight), or an open one that lingered long
    /// enough (any open one when `flushing`). They count as in flight.
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
        let linger = if flushing {
            Duration::ZERO
        } else {
            self.config.linger
        };
        let max_in_flight = self.config.max_in_flight;
        let mut out = Vec::new();
        let mut unstick = Vec::new();
        for (tp, queue) in self.queues.iter_mut() {
            let due = queue
                .next_send_time(max_in_flight, linger)
                .is_some_and(|t| t <= now);
            if !due || !allowed(tp) {
                continue;
            }
            let batch = if queue.closed.is_empty() {
                unstick.push(tp.clone());
                queue.open.take()
            } else {
                queue.closed.pop_front()
            };
            if let Some(batch) = batch {
                queue.in_flight += 1;
                self.in_flight += 1;
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

    /// A batch of the partition came back: written (`acknowledged`) or
    /// failed for good.
    pub(crate) fn complete(&mut self, tp: &TopicPartition, acknowledged: bool) {
        if let Some(queue) = self.queues.get_mut(tp) {
            queue.acknowledged |= acknowledged;
            Self::land(queue, &mut self.in_flight);
            if queue.in_flight == 0 && queue.open.is_none() && queue.closed.is_empty() {
                self.queues.remove(tp);
            }
        }
    }

    /// Puts a batch that was in flight back in its partition, in creation
    /// order, to retry at `at`.
    pub(crate) fn requeue(&mut self, mut batch: Batch, at: Instant) {
        batch.retry_at = Some(at);
        let queue = self.queues.entry(batch.tp.clone()).or_default();
        Self::land(queue, &mut self.in_flight);
        queue.insert_in_order(batch);
    }

    /// Whether an earlier batch of `batch`'s partition waits to be retried.
    pub(crate) fn retry_waits_before(&self, batch: &Batch) -> bool {
        self.queues.get(&batch.tp).is_some_and(|queue| {
            queue
                .closed
                .iter()
                .take_while(|b| b.order < batch.order)
                .any(Batch::is_retry)
        })
    }

    /// One of `queue`'s batches is no longer in flight.
    fn land(queue: &mut PartitionQueue, in_flight_total: &mut usize) {
        if queue.in_flight > 0 {
            queue.in_flight -= 1;
            *in_flight_total -= 1;
        }
    }

    /// Batches in flight over all partitions.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
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
        let max_in_flight = self.config.max_in_flight;
        self.queues
            .iter()
            .filter(|(tp, _)| allowed(tp))
            .filter_map(|(_, q)| q.next_send_time(max_in_flight, linger))
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
            q.in_flight > 0
        });
        out
    }

    /// Takes every batch out (closing): the caller fails them.
    pub(crate) fn take_all(&mut self) -> Vec<Batch> {
        let mut out = Vec::new();
        self.in_flight = 0;
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
        acc_in_flight(batch_size, linger_ms, 1)
    }

    fn acc_in_flight(batch_size: usize, linger_ms: u64, max_in_flight: usize) -> Accumulator {
        Accumulator::new(AccumulatorConfig {
            batch_size,
            linger: Duration::from_millis(linger_ms),
            compression: Compression::None,
            max_in_flight,
        })
    }

    /// Appends `n` records of 40 bytes to partition 0 at `t0`.
    fn fill(
        a: &mut Accumulator,
        n: usize,
        t0: Instant,
    ) -> Vec<oneshot::Receiver<Result<RecordMetadata>>> {
        let mut rxs = Vec::new();
        for _ in 0..n {
            let (d, rx) = delivery();
            rxs.push(rx);
            a.append(tp(0), &record(&"v".repeat(40)), 0, d, 60, t0)
                .unwrap();
        }
        rxs
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
    fn up_to_max_in_flight_batches_of_a_partition_leave_one_by_one() {
        let t0 = Instant::now();
        let mut a = acc_in_flight(200, 1_000, 3);
        let _rxs = fill(&mut a, 30, t0);
        let first = a.drain(t0, false);
        assert_eq!(first.len(), 1);
        assert!(
            a.drain(t0, false).is_empty(),
            "a partition's first batch goes alone, until acknowledged"
        );
        a.complete(&tp(0), true);
        let mut sent = Vec::new();
        for _ in 0..3 {
            let drained = a.drain(t0, false);
            assert_eq!(drained.len(), 1, "one batch of a partition per drain");
            sent.extend(drained);
        }
        assert!(a.drain(t0, false).is_empty(), "three in flight");
        assert_eq!(a.in_flight(), 3);
        assert_eq!(a.next_deadline(), None, "nothing to wait for but answers");
        let orders: Vec<u64> = sent.iter().map(|b| b.order).collect();
        assert!(orders.windows(2).all(|w| w[0] < w[1]), "oldest first");
        a.complete(&tp(0), true);
        assert_eq!(a.drain(t0, false).len(), 1, "one answer frees one slot");
    }

    #[test]
    fn a_retry_waits_for_the_partition_then_goes_alone_and_in_order() {
        let t0 = Instant::now();
        let mut a = acc_in_flight(200, 1_000, 3);
        let _rxs = fill(&mut a, 30, t0);
        assert_eq!(a.drain(t0, false).len(), 1);
        a.complete(&tp(0), true);
        let mut sent: Vec<Batch> = (0..3).flat_map(|_| a.drain(t0, false)).collect();
        assert_eq!(sent.len(), 3);
        let third = sent.pop().unwrap();
        let second = sent.pop().unwrap();
        let (second_order, third_order) = (second.order, third.order);
        a.requeue(second, t0);
        assert!(
            a.drain(t0, false).is_empty(),
            "nothing new while the partition has batches in flight"
        );
        a.requeue(third, t0);
        assert!(a.drain(t0, false).is_empty(), "the first is still out");
        a.complete(&tp(0), true);
        let retry = a.drain(t0, false);
        assert_eq!(
            retry.iter().map(|b| b.order).collect::<Vec<_>>(),
            vec![second_order]
        );
        assert!(a.drain(t0, false).is_empty(), "retries go one at a time");
        a.complete(&tp(0), true);
        let retry = a.drain(t0, false);
        assert_eq!(
            retry.iter().map(|b| b.order).collect::<Vec<_>>(),
            vec![third_order]
        );
        a.complete(&tp(0), true);
        let fresh = a.drain(t0, false);
        assert_eq!(fresh.len(), 1);
        assert!(fresh[0].order > third_order && !fresh[0].is_retry());
        assert_eq!(a.drain(t0, false).len(), 1, "pipelining resumes");
    }

    #[test]
    fn full_batch_closes_and_one_in_flight_per_partition() {
        let t0 = Instant::now();
        let mut a = acc(200, 1_000);
        let _rxs = fill(&mut a, 10, t0);
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
            a.complete(&tp(0), true);
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
        a.complete(&tp(1), true);
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
        a.complete(&tp(0), true);
        let (d, _rx) = delivery();
        a.append(tp(0), &record("x"), 0, d, 10, t0).unwrap();
        let mut second = a.drain(t0, false).remove(0);
        let header = BatchHeader::parse(&second.encode(Some(&mut idem)).unwrap()).unwrap();
        assert_eq!(header.base_sequence, 3);
        // After an epoch bump, an unacknowledged batch is re-stamped.
        idem.on_error(
            kafkacc_protocol::ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            &tp(0),
            first.stamped(),
        );
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
        a.complete(&tp(1), true);
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
