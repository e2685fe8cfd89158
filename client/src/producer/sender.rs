//! The producer's background task: drains sendable batches from the
//! accumulator, groups them by partition leader, sends one Produce request
//! per broker, and settles each batch: success, retry, or failure.
//!
//! Requests to one broker go through that broker's *lane* (`lane.rs`),
//! which writes them in order and merges those queued while the broker is
//! busy. Each response is awaited by a task of its own.

use super::Shared;
use super::accumulator::{Batch, TopicPartition};
use super::config::Acks;
use super::idempotence::SequenceVerdict;
use super::lane::InFlight;
use crate::error::{Error, Recovery};
use crate::net::pool::Lane;
use kafkacc_protocol::generated::produce_request::{PartitionProduceData, TopicProduceData};
use kafkacc_protocol::generated::produce_response::ProduceResponse;
use kafkacc_protocol::messages::{InitProducerIdRequest, ProduceRequest};
use kafkacc_protocol::{ErrorCode, StrBytes, Uuid};
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// Longest the task sleeps without looking again (it also wakes on notify).
const IDLE_POLL: Duration = Duration::from_millis(250);

pub(super) async fn run(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let now = Instant::now();
        let flushing = *shared.flushing.lock().unwrap_or_else(|p| p.into_inner()) > 0;
        if let Some(txn) = &shared.txn {
            fail_unsent(&shared, txn);
        }
        let (batches, deadline) = {
            let mut acc = shared.accumulator.lock().unwrap_or_else(|p| p.into_inner());
            match &shared.txn {
                // An epoch bump waits until every batch sent with the old
                // epoch is back, so none is re-stamped out of order.
                _ if bump_waits_for_in_flight(&shared, &acc) => (Vec::new(), None),
                // A transaction's partition waits for AddPartitionsToTxn.
                Some(txn) => {
                    let txn = super::lock(txn);
                    let allowed = |tp: &TopicPartition| txn.is_send_allowed(tp);
                    (
                        acc.drain_where(now, flushing, allowed),
                        acc.next_deadline_where(allowed),
                    )
                }
                None => (acc.drain(now, flushing), acc.next_deadline()),
            }
        };
        if !batches.is_empty() {
            tokio::select! {
                _ = dispatch(&shared, batches, now) => {}
                _ = shared.abandoned.cancelled() => {}
            }
            continue;
        }
        if shared.closed.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        let wake_sender = shared.wake_sender.clone();
        let wake = wake_sender.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let sleep_until = deadline.map_or(now + IDLE_POLL, |d| d.min(now + IDLE_POLL));
        drop(shared);
        tokio::select! {
            _ = &mut wake => {}
            _ = tokio::time::sleep_until(sleep_until) => {}
        }
    }
}

fn bump_waits_for_in_flight(shared: &Shared, acc: &super::accumulator::Accumulator) -> bool {
    acc.in_flight() > 0
        && shared.idempotence.as_ref().is_some_and(|idem| {
            idem.lock()
                .unwrap_or_else(|p| p.into_inner())
                .bump_request()
                .is_some()
        })
}

/// A transaction that is aborting or broken fails the batches it has not
/// sent yet (Java's `abortUndrainedBatches`).
fn fail_unsent(shared: &Shared, txn: &std::sync::Mutex<super::txn::TxnManager>) {
    let failure = super::lock(txn).unsent_failure();
    if let Some(error) = failure {
        fail_unsent_batches(shared, &error);
    }
}

/// Fails every batch not in flight with `error`.
pub(super) fn fail_unsent_batches(shared: &Shared, error: &Error) {
    let unsent = shared
        .accumulator
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take_unsent();
    if unsent.is_empty() {
        return;
    }
    // A batch sent before (and queued for a retry) took its sequence.
    let dropped_sequence = unsent.iter().any(|b| b.encoded.is_some());
    if let (true, Some(txn)) = (dropped_sequence, &shared.txn) {
        super::lock(txn).on_sequence_dropped();
    }
    for batch in unsent {
        let reserved = batch.reserved;
        batch.fail(error.clone());
        shared.memory.add_permits(reserved);
    }
    shared.batch_done.notify_waiters();
}

/// Groups batches by leader and starts one request per group.
async fn dispatch(shared: &Arc<Shared>, batches: Vec<Batch>, now: Instant) {
    if let Err(e) = ensure_producer_id(shared).await {
        tracing::debug!(error = %e, "InitProducerId failed");
        for batch in batches {
            if e.recovery() == Recovery::Fatal {
                settle_failed(shared, batch, e.clone());
            } else {
                retry_later(shared, batch);
            }
        }
        return;
    }
    let metadata = shared.client.current_metadata().await;
    let mut by_leader: BTreeMap<i32, Vec<Batch>> = BTreeMap::new();
    let mut no_leader = Vec::new();
    for mut batch in batches {
        if now >= batch.created + shared.config.delivery_timeout {
            settle_failed(
                shared,
                batch,
                Error::Timeout {
                    op: "delivery",
                    after: shared.config.delivery_timeout,
                },
            );
            continue;
        }
        let encoded = match &shared.idempotence {
            Some(idem) => batch.encode(Some(&mut idem.lock().unwrap_or_else(|p| p.into_inner()))),
            None => batch.encode(None),
        };
        if let Err(e) = encoded {
            settle_failed(shared, batch, e);
            continue;
        }
        let leader = metadata
            .topic(&batch.tp.topic)
            .and_then(|t| t.partition(batch.tp.partition))
            .map_or(-1, |p| p.leader);
        if leader < 0 {
            no_leader.push(batch);
        } else {
            by_leader.entry(leader).or_default().push(batch);
        }
    }
    if !no_leader.is_empty() {
        let topics = no_leader.iter().map(|b| b.tp.topic.clone()).collect();
        refresh_in_background(shared, topics);
        for batch in no_leader {
            retry_later(shared, batch);
        }
    }
    for (leader, batches) in by_leader {
        for request in split_by_size(batches, shared.config.max_request_size) {
            send_through_lane(shared, leader, request);
        }
    }
}

/// The way into a broker's request lane.
pub(super) type LaneSender = tokio::sync::mpsc::UnboundedSender<Vec<Batch>>;

/// Hands one request's batches to `leader`'s lane, starting the lane first
/// if needed.
fn send_through_lane(shared: &Arc<Shared>, leader: i32, batches: Vec<Batch>) {
    let mut lanes = shared.lanes.lock().unwrap_or_else(|p| p.into_inner());
    let lane = lanes.entry(leader).or_insert_with(|| {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(super::lane::run(Arc::downgrade(shared), leader, rx));
        tx
    });
    if let Err(returned) = lane.send(batches) {
        // The lane task ended (its runtime is shutting down): the batches
        // are dropped with it and their futures report `Closed`.
        lanes.remove(&leader);
        drop(returned);
    }
}

/// With idempotence, makes sure a producer id and a current epoch are
/// known before anything is stamped; bumps the epoch when a sequence error
/// asked for it (KIP-360, InitProducerId v3+ with the current id and epoch;
/// older brokers hand out a fresh id instead).
async fn ensure_producer_id(shared: &Shared) -> crate::Result<()> {
    let Some(idem) = &shared.idempotence else {
        return Ok(());
    };
    if shared.txn.is_some() {
        // The transaction manager owns the producer id (InitProducerId
        // with the transactional id, on the transaction coordinator).
        return Ok(());
    }
    let (known, bump) = {
        let idem = idem.lock().unwrap_or_else(|p| p.into_inner());
        (idem.identity().is_some(), idem.bump_request())
    };
    if known {
        return Ok(());
    }
    let conn = shared.client.any_connection(Lane::Default).await?;
    let version = conn.version_of::<InitProducerIdRequest>()?;
    let (producer_id, producer_epoch) = match bump {
        Some(current) if version >= 3 => current,
        _ => (-1, -1),
    };
    let request = InitProducerIdRequest {
        transactional_id: None,
        transaction_timeout_ms: i32::MAX,
        producer_id,
        producer_epoch,
        ..Default::default()
    };
    let response = conn.send_at(&request, version).await?;
    Error::check_code(response.error_code, || "InitProducerId".into(), None)?;
    tracing::debug!(
        producer_id = response.producer_id,
        epoch = response.producer_epoch,
        "producer id assigned"
    );
    idem.lock()
        .unwrap_or_else(|p| p.into_inner())
        .set_identity(response.producer_id, response.producer_epoch);
    Ok(())
}

/// Splits batches into groups whose encoded size fits one request.
fn split_by_size(batches: Vec<Batch>, max: usize) -> Vec<Vec<Batch>> {
    let mut groups: Vec<Vec<Batch>> = Vec::new();
    let mut size = 0;
    for batch in batches {
        let len = batch.encoded.as_ref().map_or(0, |e| e.len());
        if groups.is_empty() || size + len > max {
            groups.push(Vec::new());
            size = 0;
        }
        size += len;
        if let Some(last) = groups.last_mut() {
            last.push(batch);
        }
    }
    groups
}

/// Writes one Produce request to `leader` and starts a task that settles
/// its batches when the response comes; `slot` is given back then.
pub(super) async fn produce(shared: Arc<Shared>, leader: i32, ready: Vec<Batch>, slot: InFlight) {
    let conn = match shared.client.broker_connection(leader, Lane::Produce).await {
        Ok(c) => c,
        Err(e) => {
            for batch in ready {
                settle_error(&shared, batch, e.clone());
            }
            return;
        }
    };
    let version = match conn.version_of::<ProduceRequest>() {
        Ok(v) => v,
        Err(e) => {
            for batch in ready {
                settle_failed(&shared, batch, e.clone());
            }
            return;
        }
    };
    let metadata = shared.client.metadata();
    let topic_id = move |name: &str| metadata.topic(name).map_or(Uuid::ZERO, |t| t.id);
    // Produce v12+ inside a transaction means protocol v2 (KIP-890): the
    // broker would add the partition itself. Protocol v1 stays at v11.
    let version = match &shared.txn {
        Some(txn) if !super::lock(txn).is_v2() => version.min(11),
        _ => version,
    };
    // v13 names topics by id; fall back to v12 when an id is unknown.
    let version = if version >= 13 && ready.iter().any(|b| topic_id(&b.tp.topic).is_zero()) {
        12
    } else {
        version
    };
    let ready = hold_back_behind_retries(&shared, ready);
    if ready.is_empty() {
        return;
    }
    let request = build_request(&shared, &ready, version, &topic_id);
    if shared.config.acks == Acks::None {
        let result = conn.send_no_response(&request).await;
        for batch in ready {
            match &result {
                Ok(()) => settle_ok(&shared, batch, -1, -1),
                Err(e) => settle_failed(&shared, batch, e.clone()),
            }
        }
        return;
    }
    let pending = match conn.queue_request(&request, version).await {
        Ok(pending) => pending,
        Err(e) => {
            for batch in ready {
                settle_error(&shared, batch, e.clone());
            }
            return;
        }
    };
    drop(request);
    let sent = Instant::now();
    let abandoned = shared.abandoned.clone();
    let settle = async move {
        let answer = conn.finish::<ProduceRequest>(pending).await;
        slot.answered(sent.elapsed());
        match answer {
            Ok(response) => {
                for batch in ready {
                    settle_from_response(&shared, batch, &response, version, &topic_id);
                }
            }
            Err(e) => {
                for batch in ready {
                    settle_error(&shared, batch, e.clone());
                }
            }
        }
    };
    tokio::spawn(async move {
        tokio::select! {
            _ = settle => {}
            _ = abandoned.cancelled() => {}
        }
    });
}

/// Returns the batches that may be written now and puts back the others:
/// those with an earlier batch of their partition waiting to be retried.
/// That earlier batch failed after this request was made (its connection
/// was lost, say), and written first, this one could push it out of the
/// broker's window of recent sequences, where its retry would no longer be
/// recognised as a duplicate.
fn hold_back_behind_retries(shared: &Shared, ready: Vec<Batch>) -> Vec<Batch> {
    let (behind, ready): (Vec<Batch>, Vec<Batch>) = {
        let accumulator = shared.accumulator.lock().unwrap_or_else(|p| p.into_inner());
        ready
            .into_iter()
            .partition(|b| accumulator.retry_waits_before(b))
    };
    for batch in behind {
        tracing::debug!(topic = %batch.tp.topic, partition = batch.tp.partition, "held back behind a retry");
        requeue(shared, batch, Instant::now());
    }
    ready
}

fn build_request(
    shared: &Shared,
    batches: &[Batch],
    version: i16,
    topic_id: &(dyn Fn(&str) -> Uuid + Sync),
) -> ProduceRequest {
    let mut topics: BTreeMap<&str, Vec<PartitionProduceData>> = BTreeMap::new();
    for batch in batches {
        topics
            .entry(batch.tp.topic.as_str())
            .or_default()
            .push(PartitionProduceData {
                index: batch.tp.partition,
                records: batch.encoded.clone(),
                ..Default::default()
            });
    }
    let topic_data = topics
        .into_iter()
        .map(|(name, partition_data)| TopicProduceData {
            name: if version < 13 {
                StrBytes::from(name)
            } else {
                StrBytes::default()
            },
            topic_id: if version >= 13 {
                topic_id(name)
            } else {
                Uuid::ZERO
            },
            partition_data,
            ..Default::default()
        })
        .collect();
    ProduceRequest {
        transactional_id: shared
            .config
            .transactional_id
            .as_deref()
            .map(StrBytes::from),
        acks: shared.config.acks.as_i16(),
        timeout_ms: shared
            .client
            .config()
            .request_timeout
            .as_millis()
            .min(i32::MAX as u128) as i32,
        topic_data,
        ..Default::default()
    }
}

fn settle_from_response(
    shared: &Arc<Shared>,
    batch: Batch,
    response: &ProduceResponse,
    version: i16,
    topic_id: &(dyn Fn(&str) -> Uuid + Sync),
) {
    let id = topic_id(&batch.tp.topic);
    let partition = response
        .responses
        .iter()
        .filter(|t| {
            if version >= 13 {
                t.topic_id == id
            } else {
                t.name == batch.tp.topic.as_str()
            }
        })
        .flat_map(|t| t.partition_responses.iter())
        .find(|p| p.index == batch.tp.partition);
    let Some(p) = partition else {
        let e = Error::Disconnected {
            addr: "produce response".into(),
            reason: format!("no result for {}/{}", batch.tp.topic, batch.tp.partition),
        };
        settle_error(shared, batch, e);
        return;
    };
    let code = ErrorCode(p.error_code);
    let verdict = match (&shared.idempotence, code.is_ok()) {
        (Some(idem), false) => idem.lock().unwrap_or_else(|p| p.into_inner()).on_error(
            code,
            &batch.tp,
            batch.stamped(),
        ),
        _ => SequenceVerdict::NotSequenceError,
    };
    if code.is_ok() || verdict == SequenceVerdict::AlreadyWritten {
        settle_ok(shared, batch, p.base_offset, p.log_append_time_ms);
        return;
    }
    let context = format!("Produce {}/{}", batch.tp.topic, batch.tp.partition);
    let e = Error::broker(code, context, p.error_message.as_deref());
    match verdict {
        SequenceVerdict::FailAndBumpEpoch => settle_failed(shared, batch, e),
        SequenceVerdict::RetryInOrder => retry_unless_expired(shared, batch, e),
        _ => settle_error(shared, batch, e),
    }
}

/// Refreshes the metadata of `topics` without holding anything up: a
/// refresh against unreachable brokers can take several request timeouts,
/// and retries (each within its delivery timeout) need not wait for it.
/// Concurrent refreshes share one round trip (see `Client`).
fn refresh_in_background(shared: &Shared, topics: Vec<String>) {
    let client = shared.client.clone();
    let abandoned = shared.abandoned.clone();
    tokio::spawn(async move {
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        tokio::select! {
            _ = client.refresh_metadata(&refs) => {}
            _ = abandoned.cancelled() => {}
        }
    });
}

/// A batch failed with `error`: retry it if the error allows and time
/// remains, asking for fresh metadata when the error says it is stale.
fn settle_error(shared: &Shared, batch: Batch, error: Error) {
    if shared.closed.load(std::sync::atomic::Ordering::Acquire) {
        settle_failed(shared, batch, Error::Closed);
        return;
    }
    let recovery = error.recovery();
    if recovery == Recovery::Fatal {
        settle_failed(shared, batch, error);
        return;
    }
    if matches!(recovery, Recovery::RefreshMetadata | Recovery::Ambiguous)
        || error.is_connect_error()
    {
        refresh_in_background(shared, vec![batch.tp.topic.clone()]);
    }
    retry_unless_expired(shared, batch, error);
}

/// Queues `batch` for another attempt, or fails it with `error` when its
/// delivery timeout has passed or the producer closed.
fn retry_unless_expired(shared: &Shared, batch: Batch, error: Error) {
    if Instant::now() >= batch.created + shared.config.delivery_timeout {
        settle_failed(shared, batch, error);
        return;
    }
    tracing::debug!(topic = %batch.tp.topic, partition = batch.tp.partition, attempt = batch.attempts, %error, "retrying batch");
    retry_later(shared, batch);
}

fn retry_later(shared: &Shared, mut batch: Batch) {
    batch.attempts += 1;
    let config = shared.client.config();
    let at = Instant::now()
        + crate::retry::backoff(
            config.retry_backoff,
            config.retry_backoff_max,
            batch.attempts - 1,
        );
    requeue(shared, batch, at);
}

/// Puts `batch` back in its partition's queue, to leave again at `at` in
/// order with the partition's other retries.
fn requeue(shared: &Shared, batch: Batch, at: Instant) {
    let mut accumulator = shared.accumulator.lock().unwrap_or_else(|p| p.into_inner());
    // After `close` gave up waiting, nothing is retried: a batch still in
    // flight then fails rather than wait in a queue no task drains. (Checked
    // under the lock `close` takes to empty the queue, so none slips by.)
    if shared.closed.load(std::sync::atomic::Ordering::Acquire) {
        drop(accumulator);
        settle_failed(shared, batch, Error::Closed);
        return;
    }
    accumulator.requeue(batch, at);
    drop(accumulator);
    shared.wake_sender.notify_one();
}

fn settle_ok(shared: &Shared, batch: Batch, base_offset: i64, log_append_time: i64) {
    if let (Some(idem), Some(stamp)) = (&shared.idempotence, batch.stamped()) {
        idem.lock().unwrap_or_else(|p| p.into_inner()).on_acked(
            &batch.tp,
            stamp,
            batch.deliveries.len(),
        );
    }
    let tp = batch.tp.clone();
    let reserved = batch.reserved;
    batch.succeed(base_offset, log_append_time);
    finish(shared, &tp, reserved, true);
}

fn settle_failed(shared: &Shared, batch: Batch, error: Error) {
    // In a transaction a failed batch dooms the transaction (or, fenced,
    // the producer); the records report that typed error.
    let error = match &shared.txn {
        Some(txn) => super::lock(txn).on_batch_failed(&error),
        None => error,
    };
    if let (Some(idem), Some(stamp)) = (&shared.idempotence, batch.stamped()) {
        idem.lock()
            .unwrap_or_else(|p| p.into_inner())
            .on_sent_batch_failed(stamp);
    }
    let tp = batch.tp.clone();
    let reserved = batch.reserved;
    batch.fail(error);
    finish(shared, &tp, reserved, false);
}

fn finish(
    shared: &Shared,
    tp: &super::accumulator::TopicPartition,
    reserved: usize,
    acknowledged: bool,
) {
    shared
        .accumulator
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .complete(tp, acknowledged);
    shared.memory.add_permits(reserved);
    shared.batch_done.notify_waiters();
    shared.wake_sender.notify_one();
}
