//! A broker that misbehaves must give typed errors in bounded time, never a
//! panic or a hang; and an old broker's ApiVersions fallback must work.

use bytes::{BufMut, Bytes, BytesMut};
use kafkacc::{Client, ClientConfig, Consumer, ConsumerConfig, ConsumerRecord, Error};
use kafkacc_protocol::DecodeError;
use kafkacc_protocol::compression::Compression;
use kafkacc_protocol::generated::api_versions_response::ApiVersion;
use kafkacc_protocol::generated::fetch_response::{FetchableTopicResponse, PartitionData};
use kafkacc_protocol::header::RequestHeaderView;
use kafkacc_protocol::messages::ApiVersionsResponse;
use kafkacc_protocol::messages::FetchResponse;
use kafkacc_protocol::records::{BatchBuilder, ProducerState};
use kafkacc_protocol::{ApiKey, ErrorCode, RequestKind, ResponseKind};
use kafkacc_tests::script::{
    Reply, ScriptedBroker, api_versions_response, metadata_response, response_frame,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::{Duration, Instant};

async fn connect(addr: &str) -> (Result<Client, Error>, Duration) {
    let config = ClientConfig::new(addr)
        .request_timeout(Duration::from_millis(500))
        .bootstrap_timeout(Duration::from_secs(2));
    let started = Instant::now();
    let result = Client::connect(config).await;
    (result, started.elapsed())
}

fn failure_reason(result: Result<Client, Error>) -> String {
    match result {
        Err(Error::NoBrokerReachable { attempts }) => attempts
            .iter()
            .map(|(_, r)| r.clone())
            .collect::<Vec<_>>()
            .join("; "),
        Err(other) => panic!("expected NoBrokerReachable, got {other:?}"),
        Ok(_) => panic!("a misbehaving broker must not be accepted"),
    }
}

/// A broker that answers ApiVersions with `reply` and nothing else.
async fn broker_answering_api_versions(
    reply: impl Fn(&RequestHeaderView) -> Reply + Send + Sync + 'static,
) -> ScriptedBroker {
    ScriptedBroker::start(move |header, request| match request {
        RequestKind::ApiVersions(_) => reply(header),
        _ => Reply::Close,
    })
    .await
}

#[tokio::test]
async fn garbage_instead_of_a_response_is_a_decode_error() {
    let broker = broker_answering_api_versions(|_| {
        Reply::Raw(Bytes::from_static(&[0, 0, 0, 6, 0, 0, 0, 0, 0xff, 0xff]))
    })
    .await;
    let (result, took) = connect(&broker.addr).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    let reason = failure_reason(result);
    assert!(
        reason.contains("protocol error") || reason.contains("correlation"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_two_gib_frame_length_is_refused_before_allocating() {
    let broker = broker_answering_api_versions(|_| {
        Reply::Raw(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]))
    })
    .await;
    let (result, took) = connect(&broker.addr).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    let reason = failure_reason(result);
    assert!(reason.contains("bad frame"), "{reason}");
}

#[tokio::test]
async fn a_wrong_correlation_id_poisons_the_connection() {
    let broker = broker_answering_api_versions(|header| {
        let wrong = RequestHeaderView {
            correlation_id: header.correlation_id + 1000,
            ..header.clone()
        };
        Reply::Raw(response_frame(&wrong, &api_versions_response()))
    })
    .await;
    let (result, _) = connect(&broker.addr).await;
    let reason = failure_reason(result);
    assert!(reason.contains("correlation id"), "{reason}");
}

#[tokio::test]
async fn a_truncated_body_is_a_decode_error() {
    let broker = broker_answering_api_versions(|header| {
        let full = response_frame(header, &api_versions_response());
        // Keep the size prefix honest but cut the body short.
        let cut = &full[4..full.len() / 2];
        let mut frame = BytesMut::new();
        frame.put_i32(cut.len() as i32);
        frame.put_slice(cut);
        Reply::Raw(frame.freeze())
    })
    .await;
    let (result, _) = connect(&broker.addr).await;
    let reason = failure_reason(result);
    assert!(reason.contains("protocol error"), "{reason}");
}

#[tokio::test]
async fn no_common_metadata_version_is_a_typed_error() {
    let broker = broker_answering_api_versions(|_| {
        let api_keys = vec![
            ApiVersion {
                api_key: ApiKey::ApiVersions as i16,
                min_version: 0,
                max_version: 3,
                ..Default::default()
            },
            ApiVersion {
                api_key: ApiKey::Metadata as i16,
                min_version: 100,
                max_version: 200,
                ..Default::default()
            },
        ];
        Reply::respond(ResponseKind::ApiVersions(ApiVersionsResponse {
            api_keys,
            ..Default::default()
        }))
    })
    .await;
    let (result, took) = connect(&broker.addr).await;
    assert!(took < Duration::from_secs(5));
    match result {
        Err(Error::UnsupportedVersion { api, .. }) => assert_eq!(api, ApiKey::Metadata),
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

#[tokio::test]
async fn an_old_broker_answering_api_versions_v0_is_asked_again() {
    let port = Arc::new(AtomicI32::new(0));
    let port_in_handler = port.clone();
    let broker = ScriptedBroker::start(move |header, request| match request {
        RequestKind::ApiVersions(_) if header.api_version > 2 => {
            // What a broker that only knows ApiVersions 0-2 sends: a v0 body
            // with UNSUPPORTED_VERSION and its own ApiVersions range.
            let body = ApiVersionsResponse {
                error_code: ErrorCode::UNSUPPORTED_VERSION.0,
                api_keys: vec![ApiVersion {
                    api_key: ApiKey::ApiVersions as i16,
                    min_version: 0,
                    max_version: 2,
                    ..Default::default()
                }],
                ..Default::default()
            };
            let v0 = RequestHeaderView {
                api_version: 0,
                ..header.clone()
            };
            Reply::Raw(response_frame(&v0, &ResponseKind::ApiVersions(body)))
        }
        RequestKind::ApiVersions(_) => Reply::respond(api_versions_response()),
        RequestKind::Metadata(_) => Reply::respond(metadata_response(
            port_in_handler.load(Ordering::SeqCst),
            &[],
        )),
        _ => Reply::Close,
    })
    .await;
    port.store(broker.port, Ordering::SeqCst);
    let (result, _) = connect(&broker.addr).await;
    let client = result.expect("the client falls back to the broker's ApiVersions range");
    assert_eq!(client.metadata().brokers.len(), 1);
}

// ---- A broker that serves bad record batches ----

#[path = "../../../protocol/tests/common/alloc_counter.rs"]
mod alloc_counter;

/// Counts this binary's allocations per thread, so a test that runs its
/// client on a current-thread runtime sees the client's peak memory.
#[global_allocator]
static ALLOCATIONS: alloc_counter::Counting = alloc_counter::Counting;

/// One batch at offset 0 with `records` values of `value_size` bytes.
fn batch(compression: Compression, records: usize, value: &[u8]) -> Bytes {
    let mut builder = BatchBuilder::new(compression, 1_700_000_000_000);
    for _ in 0..records {
        builder
            .append(1_700_000_000_000, None, Some(value), &[])
            .expect("append");
    }
    builder.build(ProducerState::default()).expect("build")
}

/// A broker leading topic `t` (one partition) that answers every Fetch
/// with `records()` as partition 0's data.
async fn broker_serving(records: impl Fn() -> Bytes + Send + Sync + 'static) -> ScriptedBroker {
    let port = Arc::new(AtomicI32::new(0));
    let port_in_handler = port.clone();
    let broker = ScriptedBroker::start(move |_, request| match request {
        RequestKind::ApiVersions(_) => Reply::respond(api_versions_response()),
        RequestKind::Metadata(_) => Reply::respond(metadata_response(
            port_in_handler.load(Ordering::SeqCst),
            &[("t", 1)],
        )),
        RequestKind::Fetch(fetch) => {
            let data = records();
            let responses = fetch
                .topics
                .iter()
                .map(|topic| FetchableTopicResponse {
                    topic: topic.topic.clone(),
                    topic_id: topic.topic_id,
                    partitions: vec![PartitionData {
                        partition_index: 0,
                        high_watermark: 1_000,
                        last_stable_offset: 1_000,
                        records: Some(data.clone()),
                        ..Default::default()
                    }],
                    ..Default::default()
                })
                .collect();
            Reply::respond(ResponseKind::Fetch(FetchResponse {
                responses,
                ..Default::default()
            }))
        }
        _ => Reply::Close,
    })
    .await;
    port.store(broker.port, Ordering::SeqCst);
    broker
}

/// A consumer of `t`/0 from offset 0 on `addr`.
async fn consumer_of(addr: &str, max_decompressed: usize) -> Consumer {
    let mut config = ClientConfig::new(addr).request_timeout(Duration::from_secs(2));
    config.max_decompressed_batch_size = max_decompressed;
    let client = Client::connect(config).await.expect("connect");
    let mut consumer = Consumer::new(
        client,
        ConsumerConfig::default().fetch_max_wait(Duration::from_millis(10)),
    );
    consumer.assign("t", &[0]).await.expect("assign");
    consumer.seek("t", 0, 0).expect("seek");
    consumer
}

/// Polls until records or an error come (bounded).
async fn poll_until_something(consumer: &mut Consumer) -> Result<Vec<ConsumerRecord>, Error> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match consumer.poll(Duration::from_millis(200)).await {
            Ok(records) if records.is_empty() && Instant::now() < deadline => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn a_batch_with_a_bad_crc_is_a_typed_error_and_a_good_one_is_read_after() {
    let good = batch(Compression::None, 3, b"fine");
    let mut bad = good.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 0xff; // inside the CRC-covered part
    let bad = Bytes::from(bad);
    let corrupt = Arc::new(AtomicBool::new(true));
    let serve_corrupt = corrupt.clone();
    let broker = broker_serving(move || {
        if serve_corrupt.load(Ordering::SeqCst) {
            bad.clone()
        } else {
            good.clone()
        }
    })
    .await;
    let mut consumer = consumer_of(&broker.addr, 1 << 20).await;
    match poll_until_something(&mut consumer).await {
        Err(Error::Decode {
            source: DecodeError::CrcMismatch { .. },
            ..
        }) => {}
        other => panic!("expected a CRC mismatch, got {other:?}"),
    }
    // The broker heals: the same consumer reads the batch from offset 0.
    corrupt.store(false, Ordering::SeqCst);
    let records = poll_until_something(&mut consumer)
        .await
        .expect("records once the batch is good");
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![0, 1, 2]);
}

#[test]
fn a_compressed_batch_that_expands_past_the_cap_is_refused_within_bounded_memory() {
    const CAP: usize = 1 << 20;
    // 64 MiB of zeros gzip to ~64 KiB: a small frame, a huge expansion.
    let bomb = batch(Compression::Gzip, 64, &vec![0u8; 1 << 20]);
    assert!(
        bomb.len() < 1 << 20,
        "the bomb itself is small: {}",
        bomb.len()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (outcome, peak) = alloc_counter::peak_during(|| {
        runtime.block_on(async {
            let broker = broker_serving(move || bomb.clone()).await;
            let mut consumer = consumer_of(&broker.addr, CAP).await;
            poll_until_something(&mut consumer).await
        })
    });
    match outcome {
        Err(Error::Decode {
            source: DecodeError::DecompressedTooLarge { .. },
            ..
        }) => {}
        other => panic!(
            "expected DecompressedTooLarge, got {:?}",
            other.map(|r| r.len())
        ),
    }
    assert!(
        peak < 8 * CAP,
        "peak memory {peak} bytes for a batch capped at {CAP} (uncompressed it is 64 MiB)"
    );
    eprintln!("decompression bomb refused; peak allocation {peak} bytes");
}

#[tokio::test]
async fn a_hostile_broker_in_the_bootstrap_list_is_passed_over_for_a_good_one() {
    let _log = kafkacc_tests::log_on_failure();
    let hostile = broker_answering_api_versions(|_| {
        Reply::Raw(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]))
    })
    .await;
    let good = &kafkacc_tests::broker().bootstrap;
    let config = ClientConfig::new(&format!("{},{good}", hostile.addr))
        .request_timeout(Duration::from_secs(5))
        .bootstrap_timeout(Duration::from_secs(30));
    let client = Client::connect(config)
        .await
        .expect("the good broker after the hostile one");
    assert!(!client.metadata().brokers.is_empty());
}

#[tokio::test]
async fn later_metadata_refreshes_pass_over_a_black_holed_broker() {
    use kafkacc_protocol::generated::metadata_response::MetadataResponseBroker;
    let silent = [
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    ];
    let ports = Arc::new([AtomicI32::new(0), AtomicI32::new(0)]);
    let mut brokers = Vec::new();
    for i in 0..2 {
        let silent = silent[i].clone();
        let advertised = ports.clone();
        brokers.push(
            ScriptedBroker::start(move |_, request| {
                if silent.load(Ordering::SeqCst) {
                    return Reply::Silence;
                }
                match request {
                    RequestKind::ApiVersions(_) => Reply::respond(api_versions_response()),
                    RequestKind::Metadata(_) => {
                        let mut answer =
                            metadata_response(advertised[0].load(Ordering::SeqCst), &[]);
                        if let ResponseKind::Metadata(m) = &mut answer {
                            m.brokers.push(MetadataResponseBroker {
                                node_id: 2,
                                host: "127.0.0.1".into(),
                                port: advertised[1].load(Ordering::SeqCst),
                                ..Default::default()
                            });
                        }
                        Reply::respond(answer)
                    }
                    _ => Reply::Close,
                }
            })
            .await,
        );
        ports[i].store(brokers[i].port, Ordering::SeqCst);
    }
    // The client tries known brokers in address order: make the first one
    // the black hole, so only remembering its failure can avoid it.
    let black = usize::from(brokers[1].addr < brokers[0].addr);
    let good = 1 - black;
    silent[black].store(true, Ordering::SeqCst);
    let timeout = Duration::from_millis(500);
    let config = ClientConfig::new(&brokers[good].addr)
        .request_timeout(timeout)
        .bootstrap_timeout(Duration::from_secs(10));
    let client = Client::connect(config)
        .await
        .expect("connect to the good broker");
    assert_eq!(client.metadata().brokers.len(), 2);

    // The first refresh may spend one timeout on the black hole ...
    let started = Instant::now();
    client.refresh_metadata(&[]).await.expect("first refresh");
    let first = started.elapsed();
    // ... the next ones go straight to the broker that answers.
    let started = Instant::now();
    for _ in 0..5 {
        client.refresh_metadata(&[]).await.expect("later refresh");
    }
    let later = started.elapsed();
    eprintln!("black-holed broker: first refresh {first:?}, five more {later:?}");
    assert!(
        later < timeout,
        "five refreshes took {later:?}: the black-holed broker was tried again"
    );
}
