//! The kafkacc client against the fake: produce and consume across three
//! brokers, a leader move under a producer, a coordinator move under a
//! group consumer, injected errors, and the wire-level guards.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use kafkacc::{
    Admin, Client, ClientConfig, Consumer, ConsumerConfig, GroupConfig, GroupConsumer, OffsetReset,
    OffsetSpec, Producer, ProducerConfig, ProducerRecord,
};
use kafkacc_fake::{ApiKey, ErrorCode, FakeCluster};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

async fn client(cluster: &FakeCluster) -> Client {
    let config = ClientConfig::new(&cluster.bootstrap())
        .client_id("fake-e2e")
        .request_timeout(Duration::from_secs(5));
    Client::connect(config).await.expect("connect to the fake")
}

fn producer(client: &Client) -> Producer {
    Producer::new(
        client.clone(),
        ProducerConfig::default().linger(Duration::ZERO),
    )
    .expect("producer")
}

async fn send(producer: &Producer, topic: &str, partition: i32, value: String) -> i64 {
    producer
        .send(ProducerRecord::new(topic).partition(partition).value(value))
        .await
        .expect("send")
        .await
        .expect("delivered")
        .offset
}

async fn read_all(client: &Client, topic: &str, expected: usize) -> Vec<String> {
    let config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(50));
    let mut consumer = Consumer::new(client.clone(), config);
    consumer.assign(topic, &[]).await.expect("assign");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut values = Vec::new();
    while values.len() < expected {
        assert!(
            Instant::now() < deadline,
            "only {} of {expected}",
            values.len()
        );
        for r in consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll")
        {
            values
                .push(String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned());
        }
    }
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_brokers_serve_produce_and_fetch() {
    let cluster = FakeCluster::builder().brokers(3).build().await.unwrap();
    cluster.create_topic("t", 6).unwrap();
    let leaders: BTreeSet<i32> = (0..6).filter_map(|p| cluster.leader("t", p)).collect();
    assert_eq!(leaders.len(), 3, "leaders spread over the brokers");
    let client = client(&cluster).await;
    let producer = producer(&client);
    for i in 0..60 {
        send(&producer, "t", i % 6, format!("v{i}")).await;
    }
    let mut values = read_all(&client, "t", 60).await;
    values.sort();
    let mut expected: Vec<String> = (0..60).map(|i| format!("v{i}")).collect();
    expected.sort();
    assert_eq!(values, expected);
    assert_eq!(
        (0..6)
            .map(|p| cluster.high_watermark("t", p).unwrap())
            .sum::<i64>(),
        60
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_producer_follows_a_leader_move() {
    let cluster = FakeCluster::builder().brokers(3).build().await.unwrap();
    cluster.create_topic_with_leaders("moving", &[1]).unwrap();
    let client = client(&cluster).await;
    let producer = producer(&client);
    for i in 0..5 {
        assert_eq!(send(&producer, "moving", 0, format!("a{i}")).await, i);
    }
    cluster.move_leader("moving", 0, 3).unwrap();
    for i in 5..10 {
        assert_eq!(send(&producer, "moving", 0, format!("b{i}")).await, i);
    }
    assert_eq!(cluster.leader("moving", 0), Some(3));
    assert_eq!(cluster.high_watermark("moving", 0), Some(10));
    assert_eq!(read_all(&client, "moving", 10).await.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_produce_errors_are_retried_and_written_once() {
    let cluster = FakeCluster::builder().build().await.unwrap();
    cluster.create_topic("faulty", 1).unwrap();
    let client = client(&cluster).await;
    let producer = producer(&client);
    cluster.inject_error(ApiKey::Produce, ErrorCode::NOT_ENOUGH_REPLICAS, 3);
    assert_eq!(send(&producer, "faulty", 0, "once".to_owned()).await, 0);
    assert_eq!(cluster.high_watermark("faulty", 0), Some(1));
    assert_eq!(
        read_all(&client, "faulty", 1).await,
        vec!["once".to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_consumer_follows_a_coordinator_move() {
    let cluster = FakeCluster::builder()
        .brokers(3)
        .session_timeout_range(Duration::from_millis(500), Duration::from_secs(60))
        .build()
        .await
        .unwrap();
    cluster.create_topic("g-topic", 3).unwrap();
    let client = client(&cluster).await;
    let producer = producer(&client);
    for i in 0..30 {
        send(&producer, "g-topic", i % 3, format!("v{i}")).await;
    }
    let consumer = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(50));
    let config = GroupConfig::new("g1")
        .session_timeout(Duration::from_secs(3))
        .heartbeat_interval(Duration::from_millis(300))
        .max_poll_interval(Duration::from_secs(10))
        .enable_auto_commit(false);
    let mut member = GroupConsumer::new(client.clone(), consumer, config).unwrap();
    member.subscribe(&["g-topic"]).unwrap();
    let mut read = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while read < 30 {
        assert!(Instant::now() < deadline, "read {read} of 30");
        read += member.poll(Duration::from_millis(200)).await.unwrap().len();
    }
    member.commit().await.unwrap();
    let old = cluster.group_coordinator("g1");
    let new = if old == 3 { 1 } else { old + 1 };
    cluster.move_group_coordinator("g1", new).unwrap();
    for i in 30..45 {
        send(&producer, "g-topic", i % 3, format!("v{i}")).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while read < 45 {
        assert!(
            Instant::now() < deadline,
            "read {read} of 45 after the move"
        );
        read += member.poll(Duration::from_millis(200)).await.unwrap().len();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match member.commit().await {
            Ok(()) => break,
            Err(e) => assert!(Instant::now() < deadline, "commit after the move: {e}"),
        }
    }
    let committed: i64 = (0..3)
        .map(|p| cluster.committed_offset("g1", "g-topic", p).unwrap_or(0))
        .sum();
    assert_eq!(committed, 45);
    assert_eq!(cluster.group_coordinator("g1"), new);
    member.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_broker_comes_back_on_its_port_with_its_data() {
    let cluster = FakeCluster::builder().brokers(2).build().await.unwrap();
    cluster.create_topic_with_leaders("k", &[2]).unwrap();
    let client = client(&cluster).await;
    let producer = producer(&client);
    send(&producer, "k", 0, "before".to_owned()).await;
    let addr = cluster.broker_addr(2).unwrap();
    cluster.kill_broker(2).await.unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener closed"
    );
    cluster.restart_broker(2).await.unwrap();
    assert_eq!(cluster.broker_addr(2), Some(addr));
    send(&producer, "k", 0, "after".to_owned()).await;
    assert_eq!(read_all(&client, "k", 2).await, vec!["before", "after"]);
}

/// Garbage and oversized frames close the connection; the broker keeps
/// serving others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_closes_the_connection_and_nothing_else() {
    let cluster = FakeCluster::builder()
        .max_frame_bytes(1024)
        .build()
        .await
        .unwrap();
    let addr = cluster.broker_addr(1).unwrap();
    let closed = |bytes: &'static [u8]| {
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s.write_all(bytes).unwrap();
            let mut buf = [0u8; 16];
            matches!(s.read(&mut buf), Ok(0) | Err(_))
        })
        .join()
        .unwrap()
    };
    assert!(
        closed(&[0, 0, 0, 6, 0x7f, 0x7f, 0, 0, 0, 1]),
        "unknown api key"
    );
    assert!(closed(&[0x7f, 0xff, 0xff, 0xff]), "2 GiB frame");
    assert!(closed(&[0, 0, 8, 0, 0, 18]), "frame over the cap");
    assert!(
        closed(&[0, 0, 0, 8, 0, 3, 0, 1, 0, 0, 0, 1]),
        "truncated metadata"
    );
    // ApiVersions v0 still answers.
    let ok = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&[0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 7, 0xff, 0xff])
            .unwrap();
        let mut head = [0u8; 10];
        s.read_exact(&mut head).unwrap();
        (
            i32::from_be_bytes([head[4], head[5], head[6], head[7]]),
            i16::from_be_bytes([head[8], head[9]]),
        )
    })
    .join()
    .unwrap();
    assert_eq!(ok, (7, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_black_holed_broker_times_requests_out_until_lifted() {
    let cluster = FakeCluster::builder().build().await.unwrap();
    cluster.create_topic("bh", 1).unwrap();
    let client = client(&cluster).await;
    let config = ProducerConfig::default()
        .linger(Duration::ZERO)
        .delivery_timeout(Duration::from_secs(30));
    let producer = Producer::new(client.clone(), config).unwrap();
    assert_eq!(send(&producer, "bh", 0, "before".to_owned()).await, 0);
    cluster.black_hole(1, true).unwrap();
    let delivery = producer
        .send(ProducerRecord::new("bh").partition(0).value("in the hole"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(cluster.high_watermark("bh", 0), Some(1));
    cluster.black_hole(1, false).unwrap();
    // The request times out (5 s), the client reconnects and retries.
    let meta = tokio::time::timeout(Duration::from_secs(25), delivery)
        .await
        .expect("delivered after the black hole")
        .expect("delivered");
    assert_eq!(meta.offset, 1);
}

/// KIP-219: a throttled broker answers at once with `throttle_time_ms`
/// set, and the client holds the connection's next request for that long
/// (the fake does not mute its side, so a client that sent early would be
/// seen here). Clearing the throttle restores normal speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_broker_holds_the_clients_next_request() {
    const THROTTLE: Duration = Duration::from_secs(1);
    let cluster = FakeCluster::builder().build().await.unwrap();
    cluster.create_topic("slow", 1).unwrap();
    let client = client(&cluster).await;
    let producer = producer(&client);
    // Connections and metadata first, unthrottled.
    assert_eq!(send(&producer, "slow", 0, "warm".to_owned()).await, 0);

    cluster.set_throttle(1, THROTTLE).unwrap();
    let started = Instant::now();
    assert_eq!(send(&producer, "slow", 0, "first".to_owned()).await, 1);
    let first = started.elapsed();
    assert_eq!(send(&producer, "slow", 0, "second".to_owned()).await, 2);
    let both = started.elapsed();
    assert!(
        first < THROTTLE,
        "the throttled answer itself is not delayed ({first:?})"
    );
    assert!(
        both >= THROTTLE,
        "the second request waited out the throttle ({both:?})"
    );

    cluster.set_throttle(1, Duration::ZERO).unwrap();
    // Waits out the last hold; its answer carries no throttle.
    assert_eq!(send(&producer, "slow", 0, "third".to_owned()).await, 3);
    let started = Instant::now();
    assert_eq!(send(&producer, "slow", 0, "fourth".to_owned()).await, 4);
    assert_eq!(send(&producer, "slow", 0, "fifth".to_owned()).await, 5);
    let unthrottled = started.elapsed();
    assert!(
        unthrottled < THROTTLE,
        "no hold once the throttle is cleared ({unthrottled:?})"
    );
}

/// OffsetDelete is refused for a topic an active member subscribes to
/// (GROUP_SUBSCRIBED_TO_TOPIC) and forgets the offset once the group is
/// empty; DeleteRecords moves the log start, which ListOffsets earliest
/// and a fetch from the start then show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offset_delete_and_delete_records_follow_kafka() {
    let cluster = FakeCluster::builder().build().await.unwrap();
    cluster.create_topic("od", 1).unwrap();
    let client = client(&cluster).await;
    let producer = producer(&client);
    for i in 0..5 {
        send(&producer, "od", 0, format!("v{i}")).await;
    }
    let consumer = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(50));
    let config = GroupConfig::new("od-group").enable_auto_commit(false);
    let mut member = GroupConsumer::new(client.clone(), consumer, config).unwrap();
    member.subscribe(&["od"]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut read = 0;
    while read < 5 {
        assert!(Instant::now() < deadline, "read {read} of 5");
        read += member.poll(Duration::from_millis(200)).await.unwrap().len();
    }
    member.commit().await.unwrap();
    assert_eq!(cluster.committed_offset("od-group", "od", 0), Some(5));

    let admin = Admin::new(client.clone());
    let refused = admin.delete_group_offsets("od-group", "od", &[0]).await;
    assert!(
        matches!(&refused, Err(e) if e.code() == Some(ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC)),
        "{refused:?}"
    );
    assert_eq!(cluster.committed_offset("od-group", "od", 0), Some(5));
    member.close().await.unwrap();
    admin
        .delete_group_offsets("od-group", "od", &[0])
        .await
        .expect("an empty group's offset is deleted");
    assert_eq!(cluster.committed_offset("od-group", "od", 0), None);

    let low = admin
        .delete_records("od", &[(0, 3)].into_iter().collect())
        .await
        .unwrap();
    assert_eq!(low.get(&0), Some(&3));
    let earliest = admin
        .list_offsets("od", &[], OffsetSpec::Earliest)
        .await
        .unwrap();
    assert_eq!(earliest.get(&0), Some(&3));
    let values = read_all(&client, "od", 2).await;
    assert_eq!(values, vec!["v3".to_owned(), "v4".to_owned()]);
}
