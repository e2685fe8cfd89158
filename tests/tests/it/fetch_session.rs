//! KIP-227 fetch sessions against a real broker: after the first (full)
//! Fetch, requests list only partitions whose position changed, a paused
//! partition is forgotten by the session and added back on resume, and every
//! record still arrives exactly once. Tansu keeps no sessions (it answers
//! with session id 0): there every fetch stays full and records still arrive.
//! Session errors are staged by a scripted broker.

use crate::client;
use kafkacc::ClientConfig;
use kafkacc::{
    Admin, Client, Consumer, ConsumerConfig, NewTopic, OffsetReset, Producer, ProducerConfig,
    ProducerRecord,
};
use kafkacc_protocol::generated::fetch_response::{FetchableTopicResponse, PartitionData};
use kafkacc_protocol::messages::FetchResponse;
use kafkacc_protocol::{ErrorCode, RequestKind, ResponseKind};
use kafkacc_tests::script::{Reply, ScriptedBroker, api_versions_response, metadata_response};
use kafkacc_tests::{broker, log_on_failure, unique_name};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 6;

/// Writes `count` records to each of `partitions`, values `p{p}-{tag}-{j}`.
async fn produce(client: &Client, topic: &str, partitions: &[i32], tag: &str, count: usize) {
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    let mut deliveries = Vec::new();
    for &p in partitions {
        for j in 0..count {
            let record = ProducerRecord::new(topic)
                .partition(p)
                .value(format!("p{p}-{tag}-{j}"));
            deliveries.push(producer.send(record).await.expect("send"));
        }
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(5))
        .await
        .expect("close producer");
}

/// Polls until `count` more records arrived (60 s at most); returns them as
/// (partition, offset, value).
async fn read(consumer: &mut Consumer, count: usize) -> Vec<(i32, i64, String)> {
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} records within 60 s",
            out.len()
        );
        for r in consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
        {
            let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
            out.push((r.partition, r.offset, value.into_owned()));
        }
    }
    out
}

#[tokio::test]
async fn fetches_after_the_first_are_incremental() {
    let _log = log_on_failure();
    let client = client().await;
    let topic = unique_name("fetch-session");
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, PARTITIONS))
        .await
        .expect("create topic");
    let all: Vec<i32> = (0..PARTITIONS).collect();
    produce(&client, &topic, &all, "a", 10).await;

    let config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    let mut consumer = Consumer::new(client.clone(), config);
    consumer.assign(&topic, &[]).await.expect("assign");
    let mut records = read(&mut consumer, 60).await;

    // Only partition 4 gets news: the other five are left out of the
    // requests while the consumer waits for it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    produce(&client, &topic, &[4], "b", 5).await;
    records.extend(read(&mut consumer, 5).await);

    // Pausing partition 0 forgets it in the session; records written to it
    // meanwhile arrive only after resume adds it back.
    consumer.pause(&topic, 0);
    produce(&client, &topic, &[0, 4], "c", 5).await;
    let while_paused = read(&mut consumer, 5).await;
    assert!(
        while_paused.iter().all(|(p, ..)| *p == 4),
        "a paused partition was fetched: {while_paused:?}"
    );
    records.extend(while_paused);
    consumer.resume(&topic, 0);
    records.extend(read(&mut consumer, 5).await);

    // Nothing else comes: each record exactly once, in offset order.
    let extra = consumer
        .poll(Duration::from_millis(500))
        .await
        .expect("poll");
    assert!(extra.is_empty(), "records read twice: {extra:?}");
    let mut by_partition: BTreeMap<i32, Vec<(i64, String)>> = BTreeMap::new();
    for (p, o, v) in records {
        by_partition.entry(p).or_default().push((o, v));
    }
    for (p, read) in &by_partition {
        let expected: Vec<(i64, String)> = match p {
            0 => (0..10)
                .map(|j| format!("p0-a-{j}"))
                .chain((0..5).map(|j| format!("p0-c-{j}")))
                .enumerate()
                .map(|(o, v)| (o as i64, v))
                .collect(),
            4 => (0..10)
                .map(|j| format!("p4-a-{j}"))
                .chain((0..5).map(|j| format!("p4-b-{j}")))
                .chain((0..5).map(|j| format!("p4-c-{j}")))
                .enumerate()
                .map(|(o, v)| (o as i64, v))
                .collect(),
            _ => (0..10).map(|j| (j, format!("p{p}-a-{j}"))).collect(),
        };
        assert_eq!(read, &expected, "partition {p}");
    }
    assert_eq!(by_partition.len(), PARTITIONS as usize);

    let stats = consumer.fetch_session_stats();
    consumer.close().await;
    if broker().is_tansu() && stats.incremental_fetches == 0 {
        kafkacc_tests::skip(
            "fetches_after_the_first_are_incremental (session part)",
            &format!(
                "Tansu keeps no fetch sessions: all {} fetches were full, records all arrived",
                stats.full_fetches
            ),
        );
        return;
    }
    assert_eq!(
        stats.full_fetches, 1,
        "only the first fetch is full: {stats:?}"
    );
    assert_eq!(stats.session_resets, 0, "{stats:?}");
    assert!(stats.incremental_fetches >= 3, "{stats:?}");
    // Waiting for partition 4 alone, each request left 5 partitions out.
    assert!(stats.omitted_partitions >= 5, "{stats:?}");
}

/// One Fetch request as the scripted broker saw it: session id, epoch,
/// partitions listed, partitions forgotten.
type SeenFetch = (i32, i32, Vec<i32>, Vec<i32>);

/// The answer to the `n`th Fetch (0-based) of the scripted session test.
fn scripted_fetch_answer(n: usize, listed: &[i32]) -> ResponseKind {
    let (error, session_id) = match n {
        0 => (ErrorCode::NONE, 42),
        1 => (ErrorCode::INVALID_FETCH_SESSION_EPOCH, 0),
        2 => (ErrorCode::NONE, 43),
        3 => (ErrorCode::FETCH_SESSION_ID_NOT_FOUND, 0),
        4 => (ErrorCode::NONE, 44),
        _ => (ErrorCode::NONE, 44),
    };
    let partitions: Vec<PartitionData> = listed
        .iter()
        .map(|p| PartitionData {
            partition_index: *p,
            ..Default::default()
        })
        .collect();
    ResponseKind::Fetch(FetchResponse {
        error_code: error.0,
        session_id,
        responses: if error.is_ok() && !partitions.is_empty() {
            vec![FetchableTopicResponse {
                topic: "t".into(),
                partitions,
                ..Default::default()
            }]
        } else {
            Vec::new()
        },
        ..Default::default()
    })
}

/// Session errors from a scripted broker: INVALID_FETCH_SESSION_EPOCH
/// closes the session and opens a new one with a full fetch (old id, epoch
/// 0), FETCH_SESSION_ID_NOT_FOUND opens a new one (id 0, epoch 0), and
/// closing the consumer closes the last session (epoch -1).
#[tokio::test]
async fn session_errors_fall_back_to_full_fetches() {
    let port = Arc::new(AtomicI32::new(0));
    let seen: Arc<Mutex<Vec<SeenFetch>>> = Arc::default();
    let (port_in_handler, seen_in_handler) = (port.clone(), seen.clone());
    let broker = ScriptedBroker::start(move |_, request| match request {
        RequestKind::ApiVersions(_) => Reply::respond(api_versions_response()),
        RequestKind::Metadata(_) => Reply::respond(metadata_response(
            port_in_handler.load(Ordering::SeqCst),
            &[("t", 2)],
        )),
        RequestKind::Fetch(f) => {
            let listed: Vec<i32> = f
                .topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.partition))
                .collect();
            let forgotten: Vec<i32> = f
                .forgotten_topics_data
                .iter()
                .flat_map(|t| t.partitions.iter().copied())
                .collect();
            let mut seen = seen_in_handler.lock().unwrap();
            let n = seen.len();
            seen.push((f.session_id, f.session_epoch, listed.clone(), forgotten));
            Reply::respond(scripted_fetch_answer(n, &listed))
        }
        _ => Reply::Close,
    })
    .await;
    port.store(broker.port, Ordering::SeqCst);
    let client = Client::connect(ClientConfig::new(&broker.addr))
        .await
        .expect("connect");
    let mut consumer = Consumer::new(client, ConsumerConfig::default());
    consumer.assign("t", &[]).await.expect("assign");
    consumer.seek("t", 0, 0).expect("seek");
    consumer.seek("t", 1, 0).expect("seek");
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen.lock().unwrap().len() < 7 {
        assert!(
            Instant::now() < deadline,
            "fetches: {:?}",
            seen.lock().unwrap()
        );
        let records = consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        assert!(records.is_empty());
    }
    let stats = consumer.fetch_session_stats();
    consumer.close().await;

    let seen = seen.lock().unwrap().clone();
    let both = vec![0, 1];
    let expected: Vec<SeenFetch> = vec![
        (0, 0, both.clone(), vec![]),  // full, opens a session
        (42, 1, vec![], vec![]),       // incremental: nothing changed
        (42, 0, both.clone(), vec![]), // after INVALID_FETCH_SESSION_EPOCH: close 42, reopen
        (43, 1, vec![], vec![]),
        (0, 0, both.clone(), vec![]), // after FETCH_SESSION_ID_NOT_FOUND: a new session
        (44, 1, vec![], vec![]),
        (44, 2, vec![], vec![]),
    ];
    assert_eq!(seen[..7], expected[..]);
    let last = seen.last().expect("fetches");
    assert_eq!(
        (last.0, last.1, last.2.is_empty()),
        (44, -1, true),
        "close sends epoch -1 and nothing to fetch: {seen:?}"
    );
    assert_eq!(stats.full_fetches, 3, "{stats:?}");
    assert_eq!(stats.session_resets, 2, "{stats:?}");
}
