//! Producer behaviour a real broker cannot stage on demand, against the
//! scripted broker: a broker that stops answering, retriable errors, and
//! sequence errors that force an epoch bump.

use kafkacc::{Client, ClientConfig, Error, Producer, ProducerConfig, ProducerRecord};
use kafkacc_protocol::generated::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use kafkacc_protocol::messages::{InitProducerIdResponse, ProduceRequest, ProduceResponse};
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
