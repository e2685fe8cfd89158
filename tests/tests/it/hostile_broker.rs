//! A broker that misbehaves must give typed errors in bounded time and
//! memory, never a panic or a hang, and the client must work again against
//! a good broker afterwards; and an old broker's ApiVersions fallback must
//! work.

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

/// Why each bootstrap attempt failed. [`Error::NoBrokerReachable`] keeps
/// only the text of each attempt's error, so callers can check no more
/// than substrings of it.
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

/// The ways a hostile broker answers a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hostile {
    /// A frame with the right correlation id around bytes that decode as
    /// nothing (all ones: over-long varints, lengths of -1).
    Garbage,
    /// A frame length of 2 GiB - 1 (and nothing after it).
    TwoGibFrame,
    /// A well-formed answer carrying another request's correlation id.
    WrongCorrelationId,
    /// An honest size prefix around the first half of a good answer.
    TruncatedBody,
    /// (ApiVersions only) An answer that offers no usable Metadata version.
    NothingInCommon,
}

impl Hostile {
    const ALL: [Hostile; 5] = [
        Hostile::Garbage,
        Hostile::TwoGibFrame,
        Hostile::WrongCorrelationId,
        Hostile::TruncatedBody,
        Hostile::NothingInCommon,
    ];

    /// The hostile answer to `header`'s request, whose right answer is `good`.
    fn reply(self, header: &RequestHeaderView, good: &ResponseKind) -> Reply {
        match self {
            Hostile::Garbage => {
                let mut frame = BytesMut::new();
                frame.put_i32(4 + 16);
                frame.put_i32(header.correlation_id);
                frame.put_slice(&[0xff; 16]);
                Reply::Raw(frame.freeze())
            }
            Hostile::TwoGibFrame => {
                Reply::Raw(Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0]))
            }
            Hostile::WrongCorrelationId => {
                let wrong = RequestHeaderView {
                    correlation_id: header.correlation_id + 1000,
                    ..header.clone()
                };
                Reply::Raw(response_frame(&wrong, good))
            }
            Hostile::TruncatedBody => {
                let full = response_frame(header, good);
                let cut = &full[4..full.len() / 2];
                let mut frame = BytesMut::new();
                frame.put_i32(cut.len() as i32);
                frame.put_slice(cut);
                Reply::Raw(frame.freeze())
            }
            Hostile::NothingInCommon => Reply::respond(no_usable_metadata_version()),
        }
    }
}

/// ApiVersions offering itself and only Metadata versions 100-200.
fn no_usable_metadata_version() -> ResponseKind {
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
    ResponseKind::ApiVersions(ApiVersionsResponse {
        api_keys,
        ..Default::default()
    })
}

fn current_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// What the client may allocate (on its thread) while it meets one hostile
/// answer: far below what a 2 GiB frame or an expanding bomb would take.
const MEMORY_BOUND: usize = 8 << 20;

/// Each hostile answer to ApiVersions fails the bootstrap in bounded time
/// and memory with the error it calls for; a bootstrap list that names the
/// hostile broker first and a good one after connects to the good one.
///
/// A failed bootstrap is [`Error::NoBrokerReachable`], which carries each
/// attempt's error as text only: these cases check substrings (the test
/// below sees the same failures as typed errors).
#[test]
fn every_hostile_handshake_is_refused_and_a_good_broker_after_it_is_used() {
    let _log = kafkacc_tests::log_on_failure();
    let good = kafkacc_tests::broker().bootstrap.clone();
    let runtime = current_thread_runtime();
    for case in Hostile::ALL {
        let hostile = runtime.block_on(broker_answering_api_versions(move |header| {
            case.reply(header, &api_versions_response())
        }));
        let ((result, took), peak) =
            alloc_counter::peak_during(|| runtime.block_on(connect(&hostile.addr)));
        eprintln!("{case:?}: refused in {took:?}, peak allocation {peak} bytes");
        assert!(took < Duration::from_secs(5), "{case:?}: took {took:?}");
        assert!(
            peak < MEMORY_BOUND,
            "{case:?}: peak allocation {peak} bytes"
        );
        match case {
            Hostile::NothingInCommon => match result {
                Err(Error::UnsupportedVersion { api, .. }) => assert_eq!(api, ApiKey::Metadata),
                other => panic!("expected UnsupportedVersion, got {other:?}"),
            },
            _ => {
                let reason = failure_reason(result);
                let expected = match case {
                    Hostile::Garbage | Hostile::TruncatedBody => "protocol error",
                    Hostile::TwoGibFrame => "bad frame: frame of 2147483647 bytes exceeds",
                    _ => "correlation id",
                };
                assert!(reason.contains(expected), "{case:?}: {reason}");
            }
        }

        // The same hostile broker first in the bootstrap list, a good one
        // after it.
        let config = ClientConfig::new(&format!("{},{good}", hostile.addr))
            .request_timeout(Duration::from_secs(5))
            .bootstrap_timeout(Duration::from_secs(30));
        let client = runtime
            .block_on(Client::connect(config))
            .unwrap_or_else(|e| panic!("{case:?}: the good broker after the hostile one: {e}"));
        assert!(!client.metadata().brokers.is_empty(), "{case:?}");
        runtime
            .block_on(client.refresh_metadata(&[]))
            .unwrap_or_else(|e| panic!("{case:?}: a refresh after the bootstrap: {e}"));
        client.close();
    }
}

/// A broker that answers well until `hostile` is set, then answers
/// Metadata as `case` says. With [`Hostile::NothingInCommon`] it closes the
/// connection on Metadata instead and offers no usable Metadata version to
/// the connections that follow.
async fn broker_turning_hostile(case: Hostile, hostile: Arc<AtomicBool>) -> ScriptedBroker {
    let port = Arc::new(AtomicI32::new(0));
    let port_in_handler = port.clone();
    let broker = ScriptedBroker::start(move |header, request| {
        let hostile = hostile.load(Ordering::SeqCst);
        match request {
            RequestKind::ApiVersions(_) if hostile && case == Hostile::NothingInCommon => {
                case.reply(header, &api_versions_response())
            }
            RequestKind::ApiVersions(_) => Reply::respond(api_versions_response()),
            RequestKind::Metadata(_) if hostile && case == Hostile::NothingInCommon => Reply::Close,
            RequestKind::Metadata(_) => {
                let good = metadata_response(port_in_handler.load(Ordering::SeqCst), &[("t", 1)]);
                if hostile {
                    case.reply(header, &good)
                } else {
                    Reply::respond(good)
                }
            }
            _ => Reply::Close,
        }
    })
    .await;
    port.store(broker.port, Ordering::SeqCst);
    broker
}

/// A broker the client already uses answers a later request (Metadata)
/// the hostile way: the caller gets a typed error in bounded time and
/// memory, and once the broker answers well again the same client works.
///
/// A frame too large and a wrong correlation id end the connection in the
/// reader, before any caller: the caller sees [`Error::Disconnected`] with
/// the cause as text only (checked as a substring). Undecodable answers are
/// typed down to the [`DecodeError`].
#[test]
fn every_hostile_answer_to_a_later_request_is_typed_and_the_same_client_recovers() {
    let runtime = current_thread_runtime();
    for case in Hostile::ALL {
        let hostile = Arc::new(AtomicBool::new(false));
        let broker = runtime.block_on(broker_turning_hostile(case, hostile.clone()));
        let config = ClientConfig::new(&broker.addr)
            .request_timeout(Duration::from_millis(500))
            .bootstrap_timeout(Duration::from_secs(2));
        let client = runtime
            .block_on(Client::connect(config))
            .expect("connect while the broker behaves");

        hostile.store(true, Ordering::SeqCst);
        let ((result, took), peak) = alloc_counter::peak_during(|| {
            runtime.block_on(async {
                let started = Instant::now();
                let result = client.refresh_metadata(&[]).await;
                (result, started.elapsed())
            })
        });
        eprintln!("{case:?}: {result:?} in {took:?}, peak allocation {peak} bytes");
        assert!(took < Duration::from_secs(5), "{case:?}: took {took:?}");
        assert!(
            peak < MEMORY_BOUND,
            "{case:?}: peak allocation {peak} bytes"
        );
        match (case, result) {
            (
                Hostile::Garbage,
                Err(Error::Decode {
                    source: DecodeError::VarintTooLong { .. },
                    ..
                }),
            ) => {}
            (
                Hostile::TruncatedBody,
                Err(Error::Decode {
                    source: DecodeError::Truncated { .. },
                    ..
                }),
            ) => {}
            (Hostile::TwoGibFrame, Err(Error::Disconnected { reason, .. })) => assert!(
                reason.contains("frame of 2147483647 bytes exceeds the maximum"),
                "{reason}"
            ),
            (Hostile::WrongCorrelationId, Err(Error::Disconnected { reason, .. })) => {
                assert!(reason.contains("correlation id"), "{reason}");
            }
            (Hostile::NothingInCommon, Err(Error::UnsupportedVersion { api, .. })) => {
                assert_eq!(api, ApiKey::Metadata);
            }
            (case, other) => panic!("{case:?}: unexpected outcome {other:?}"),
        }

        // The broker behaves again: the same client reads metadata. The
        // connections above ended with their errors, except the one that
        // negotiated no usable Metadata version: versions are negotiated
        // once per connection, so that broker is replaced (restarted, its
        // connections closed) rather than healed in place.
        hostile.store(false, Ordering::SeqCst);
        if case == Hostile::NothingInCommon {
            broker.close_connections();
            // Let the client's reader see the connection end.
            runtime.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
        }
        let metadata = runtime
            .block_on(client.refresh_metadata(&["t"]))
            .unwrap_or_else(|e| panic!("{case:?}: the same client after the broker healed: {e}"));
        assert!(metadata.topic("t").is_some(), "{case:?}");
        client.close();
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
    let good = batch(Compression::Gzip, 3, b"fine");
    let serve_bomb = Arc::new(AtomicBool::new(true));
    let bombing = serve_bomb.clone();
    let runtime = current_thread_runtime();
    let ((outcome, broker, mut consumer), peak) = alloc_counter::peak_during(|| {
        runtime.block_on(async {
            let broker = broker_serving(move || {
                if bombing.load(Ordering::SeqCst) {
                    bomb.clone()
                } else {
                    good.clone()
                }
            })
            .await;
            let mut consumer = consumer_of(&broker.addr, CAP).await;
            let outcome = poll_until_something(&mut consumer).await;
            (outcome, broker, consumer)
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

    // The broker serves a sane batch instead: the same consumer reads it
    // from offset 0.
    serve_bomb.store(false, Ordering::SeqCst);
    let records = runtime
        .block_on(poll_until_something(&mut consumer))
        .expect("records once the batch is sane");
    let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, vec![0, 1, 2]);
    drop(consumer);
    drop(broker);
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
