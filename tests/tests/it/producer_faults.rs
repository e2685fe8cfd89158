//! Producer behaviour a real broker cannot stage on demand, against the
//! scripted broker: a broker that stops answering, retriable errors, and
//! sequence errors that force an epoch bump.

use kafkacc::{Client, ClientConfig, Error, Producer, ProducerConfig, ProducerRecord};
use kafkacc_protocol::generated::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use kafkacc_protocol::messages::{InitProducerIdResponse, ProduceRequest, ProduceResponse};
use kafkacc_protocol::records::BatchHeader;
use kafkacc_protocol::{ErrorCode, RequestKind, ResponseKind};
use kafkacc_tests::script::{Reply, ScriptedBroker, api_versions_response, metadata_response};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Answers a Produce request with `code` for every partition.
fn produce_reply(request: &ProduceRequest, code: ErrorCode, base_offset: i64) -> ResponseKind {
    let responses = request
        .topic_data
        .iter()
        .map(|t| TopicProduceResponse {
            name: t.name.clone(),
            topic_id: t.topic_id,
            partition_responses: t
                .partition_data
                .iter()
                .map(|p| PartitionProduceResponse {
                    index: p.index,
                    error_code: code.0,
                    base_offset,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ResponseKind::Produce(ProduceResponse {
        responses,
        ..Default::default()
    })
}

/// A scripted broker with topic `t` (1 partition) whose Produce handling is
/// `on_produce`. InitProducerId requests are recorded in `inits`.
async fn broker(
    inits: Arc<Mutex<Vec<(i64, i16)>>>,
    on_produce: impl Fn(&ProduceRequest) -> Reply + Send + Sync + 'static,
) -> ScriptedBroker {
    let port = Arc::new(AtomicI64::new(0));
    let port_in_handler = port.clone();
    let next_epoch = Arc::new(AtomicUsize::new(0));
    let broker = ScriptedBroker::start(move |header, request| match request {
        RequestKind::ApiVersions(_) => Reply::respond(api_versions_response()),
        RequestKind::Metadata(_) => Reply::respond(metadata_response(
            port_in_handler.load(Ordering::SeqCst) as i32,
            &[("t", 1)],
        )),
        RequestKind::InitProducerId(r) => {
            inits
                .lock()
                .unwrap()
                .push((r.producer_id, r.producer_epoch));
            let epoch = next_epoch.fetch_add(1, Ordering::SeqCst) as i16;
            Reply::respond(ResponseKind::InitProducerId(InitProducerIdResponse {
                producer_id: 1000,
                producer_epoch: epoch,
                ..Default::default()
            }))
        }
        RequestKind::Produce(r) => on_produce(&r),
        other => panic!("unexpected {:?} v{}", other.api_key(), header.api_version),
    })
    .await;
    port.store(i64::from(broker.port), Ordering::SeqCst);
    broker
}

async fn client(addr: &str) -> Client {
    let config = ClientConfig::new(addr)
        .request_timeout(Duration::from_millis(400))
        .bootstrap_timeout(Duration::from_secs(5));
    Client::connect(config)
        .await
        .expect("scripted broker answers metadata")
}

#[tokio::test]
async fn full_buffer_makes_send_wait_then_time_out_and_every_future_resolves() {
    let inits = Arc::new(Mutex::new(Vec::new()));
    let broker = broker(inits, |_| Reply::Silence).await;
    let config = ProducerConfig::default()
        .buffer_memory(8 * 1024)
        .max_block(Duration::from_millis(300))
        .delivery_timeout(Duration::from_secs(2))
        .linger(Duration::ZERO);
    let producer = Producer::new(client(&broker.addr).await, config).expect("producer");
    let mut accepted = Vec::new();
    let mut blocked = None;
    for i in 0..100 {
        let started = Instant::now();
        match producer
            .send(
                ProducerRecord::new("t")
                    .value(vec![b'x'; 1000])
                    .key(i.to_string()),
            )
            .await
        {
            Ok(d) => accepted.push(d),
            Err(e) => {
                blocked = Some((e, started.elapsed()));
                break;
            }
        }
    }
    let (error, waited) = blocked.expect("a full buffer refuses more records");
    assert!(
        matches!(
            error,
            Error::Timeout {
                op: "waiting for buffer memory",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        waited >= Duration::from_millis(250),
        "send waited for space first ({waited:?})"
    );
    assert!(
        accepted.len() <= 8,
        "the buffer bounds what is queued: {} records",
        accepted.len()
    );
    // The broker never answers: each accepted record fails by its delivery timeout.
    for d in accepted {
        let result = tokio::time::timeout(Duration::from_secs(10), d)
            .await
            .expect("future resolves in bounded time");
        assert!(result.is_err(), "nothing was acknowledged");
    }
}

#[tokio::test]
async fn retriable_errors_are_retried_and_the_record_is_written_once() {
    let inits = Arc::new(Mutex::new(Vec::new()));
    let produces = Arc::new(AtomicUsize::new(0));
    let seen = produces.clone();
    let broker = broker(inits, move |r| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        let code = if n < 2 {
            ErrorCode::NOT_ENOUGH_REPLICAS
        } else {
            ErrorCode::NONE
        };
        Reply::respond(produce_reply(r, code, 77))
    })
    .await;
    let producer =
        Producer::new(client(&broker.addr).await, ProducerConfig::default()).expect("producer");
    let meta = producer
        .send(ProducerRecord::new("t").value("v"))
        .await
        .expect("send")
        .await
        .expect("delivered after retries");
    assert_eq!(meta.offset, 77);
    assert_eq!(
        produces.load(Ordering::SeqCst),
        3,
        "two failures, one success"
    );
}

#[tokio::test]
async fn out_of_order_sequence_fails_the_batch_and_bumps_the_epoch() {
    let inits = Arc::new(Mutex::new(Vec::new()));
    let produces = Arc::new(AtomicUsize::new(0));
    let seen = produces.clone();
    let broker = broker(inits.clone(), move |r| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        let code = if n == 0 {
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER
        } else {
            ErrorCode::NONE
        };
        Reply::respond(produce_reply(r, code, n as i64))
    })
    .await;
    let producer =
        Producer::new(client(&broker.addr).await, ProducerConfig::default()).expect("producer");
    let first = producer
        .send(ProducerRecord::new("t").value("a"))
        .await
        .expect("send")
        .await;
    match first {
        Err(Error::Broker { code, .. }) => {
            assert_eq!(code, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
        }
        other => panic!("expected a typed sequence error, got {other:?}"),
    }
    let second = producer
        .send(ProducerRecord::new("t").value("b"))
        .await
        .expect("send")
        .await
        .expect("delivered");
    assert_eq!(second.offset, 1);
    let inits = inits.lock().unwrap().clone();
    assert_eq!(
        inits,
        vec![(-1, -1), (1000, 0)],
        "a fresh id, then a bump presenting the current id and epoch"
    );
}

/// One partition of a broker that checks sequences as Kafka does: the
/// next sequence is written, a repeat of a written batch is answered with
/// its offset, a newer epoch starts again at 0, a producer the partition
/// does not know yet may start anywhere (Kafka accepts that because
/// retention may have removed its state); anything else is
/// OUT_OF_ORDER_SEQUENCE_NUMBER (or INVALID_PRODUCER_EPOCH).
#[derive(Default)]
struct SequencedLog {
    values: Vec<String>,
    /// (epoch, base sequence, base offset) of every batch written.
    batches: Vec<(i16, i32, i64)>,
    epoch: i16,
    next_sequence: i32,
    /// Base sequences in the order the batches arrived.
    arrivals: Vec<i32>,
}

impl SequencedLog {
    /// The written values' record numbers (the 3 digits they start with).
    fn record_numbers(&self) -> Vec<usize> {
        self.values
            .iter()
            .map(|v| {
                v.get(..3)
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(usize::MAX)
            })
            .collect()
    }

    fn append(&mut self, bytes: &bytes::Bytes) -> (ErrorCode, i64) {
        let Some(Ok(batch)) = kafkacc_protocol::records::batches(bytes.clone()).next() else {
            return (ErrorCode::CORRUPT_MESSAGE, -1);
        };
        let (epoch, sequence) = (batch.header.producer_epoch, batch.header.base_sequence);
        self.arrivals.push(sequence);
        if epoch < self.epoch {
            return (ErrorCode::INVALID_PRODUCER_EPOCH, -1);
        }
        if let Some(&(_, _, offset)) = self
            .batches
            .iter()
            .find(|(e, seq, _)| (*e, *seq) == (epoch, sequence))
        {
            return (ErrorCode::NONE, offset);
        }
        let expected = if self.batches.is_empty() {
            sequence
        } else if epoch > self.epoch {
            0
        } else {
            self.next_sequence
        };
        if sequence != expected {
            return (ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, -1);
        }
        let base = self.values.len() as i64;
        for record in batch.records(1 << 20).expect("our own batch") {
            let value = record.expect("our own record").value.unwrap_or_default();
            self.values
                .push(String::from_utf8_lossy(&value).into_owned());
        }
        self.epoch = epoch;
        self.next_sequence = sequence + batch.header.records_count;
        self.batches.push((epoch, sequence, base));
        (ErrorCode::NONE, base)
    }
}

/// What [`produce_with_one_failure`] saw.
struct Outcome {
    /// Per record: its offset, or the error code it failed with.
    results: Vec<Result<i64, ErrorCode>>,
    log: SequencedLog,
    inits: Vec<(i64, i16)>,
}

/// Produces 60 records in small batches to a [`SequencedLog`] broker whose
/// produce request number `failing` (from 0) fails with `code` after
/// 300 ms, during which the producer may send the batches behind it.
async fn produce_with_one_failure(failing: usize, code: ErrorCode) -> Outcome {
    let inits = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::new(Mutex::new(SequencedLog::default()));
    let in_handler = log.clone();
    let produces = Arc::new(AtomicUsize::new(0));
    let broker = broker(inits.clone(), move |r| {
        let batch = &r.topic_data[0].partition_data[0];
        let bytes = batch.records.clone().unwrap_or_default();
        if produces.fetch_add(1, Ordering::SeqCst) == failing {
            let sequence = BatchHeader::parse(&bytes).map_or(-1, |h| h.base_sequence);
            in_handler.lock().unwrap().arrivals.push(sequence);
            std::thread::sleep(Duration::from_millis(300));
            return Reply::respond(produce_reply(r, code, -1));
        }
        let (code, offset) = in_handler.lock().unwrap().append(&bytes);
        Reply::respond(produce_reply(r, code, offset))
    })
    .await;
    // Small batches (2 records), so the partition has many to pipeline.
    let config = ProducerConfig::default()
        .batch_size(200)
        .linger(Duration::ZERO)
        .delivery_timeout(Duration::from_secs(20));
    let producer = Producer::new(client(&broker.addr).await, config).expect("producer");
    let mut deliveries = Vec::new();
    for i in 0..60 {
        let record = ProducerRecord::new("t").value(format!("{i:03}-{}", "x".repeat(40)));
        deliveries.push(producer.send(record).await.expect("send"));
    }
    let mut results = Vec::new();
    for (i, d) in deliveries.into_iter().enumerate() {
        let outcome = tokio::time::timeout(Duration::from_secs(30), d)
            .await
            .expect("every future resolves");
        results.push(match outcome {
            Ok(meta) => Ok(meta.offset),
            Err(Error::Broker { code, .. }) => Err(code),
            Err(e) => panic!("record {i}: {e}"),
        });
    }
    let log = std::mem::take(&mut *log.lock().unwrap());
    let inits = inits.lock().unwrap().clone();
    Outcome {
        results,
        log,
        inits,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_batches_behind_a_failed_one_are_retried_in_order() {
    let outcome = produce_with_one_failure(1, ErrorCode::NOT_ENOUGH_REPLICAS).await;
    let offsets: Vec<i64> = outcome.results.iter().map(|r| r.unwrap_or(-1)).collect();
    assert_eq!(offsets, (0..60).collect::<Vec<i64>>(), "every record acked");
    assert_eq!(
        outcome.log.record_numbers(),
        (0..60).collect::<Vec<usize>>(),
        "written once each, in order"
    );
    // The failed batch's sequence, and what arrived before its retry.
    let arrivals = &outcome.log.arrivals;
    let failed = arrivals[1];
    let retry = arrivals[2..]
        .iter()
        .position(|&s| s == failed)
        .map(|at| at + 2);
    let overtaking = retry.map_or(0, |at| arrivals[2..at].len());
    assert!(
        overtaking >= 1,
        "batches behind the failed one were in flight before its retry: {arrivals:?}"
    );
    assert!(
        overtaking <= 4,
        "at most 5 batches of the partition in flight: {arrivals:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitions_first_batch_goes_alone() {
    // Kafka takes any first sequence from a producer it does not know on a
    // partition: a second batch pipelined behind a failing first one would
    // be written before it.
    let outcome = produce_with_one_failure(0, ErrorCode::NOT_LEADER_OR_FOLLOWER).await;
    assert!(
        outcome.results.iter().all(|r| r.is_ok()),
        "every record acked"
    );
    assert_eq!(
        outcome.log.record_numbers(),
        (0..60).collect::<Vec<usize>>(),
        "written once each, in order"
    );
    assert_eq!(
        outcome.log.arrivals[..2],
        [0, 0],
        "nothing overtook the first batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_failing_for_good_bumps_the_epoch_after_the_partition_settles() {
    // The broker refuses the second batch for good, after the producer sent
    // the ones behind it: their sequences now follow a gap, so the producer
    // must bump its epoch and re-stamp them, in order.
    let outcome = produce_with_one_failure(1, ErrorCode::INVALID_RECORD).await;
    let refused: Vec<usize> = (0..60)
        .filter(|&i| outcome.results[i] == Err(ErrorCode::INVALID_RECORD))
        .collect();
    let (first, last) = (refused.first(), refused.last());
    assert!(
        first.is_some_and(|&f| f > 0)
            && last
                .zip(first)
                .is_some_and(|(l, f)| l - f + 1 == refused.len()),
        "only the second batch, a run of records after the first, is refused: {refused:?}"
    );
    let expected: Vec<usize> = (0..60).filter(|i| !refused.contains(i)).collect();
    assert_eq!(
        outcome.log.record_numbers(),
        expected,
        "the rest written once each, in order"
    );
    assert_eq!(
        outcome.inits,
        vec![(-1, -1), (1000, 0)],
        "one bump presenting the current id and epoch"
    );
}
