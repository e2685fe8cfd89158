//! A broker that crashes or restarts under a running producer and a running
//! group member. These tests start an Apache Kafka of their own with durable
//! storage ([`RestartableKafka`]), whatever broker the rest of the suite
//! uses, and route the client through a [`FaultProxy`] (without faults) so
//! the connections it keeps open can be counted.

use kafkacc::group::committed_offsets;
use kafkacc::{
    Admin, Client, ClientConfig, ConsumerConfig, GroupConfig, GroupConsumer, NewTopic, OffsetReset,
    OffsetSpec, Producer, ProducerConfig, ProducerRecord,
};
use kafkacc_tests::proxy::FaultProxy;
use kafkacc_tests::restartable::RestartableKafka;
use kafkacc_tests::{close_within, unique_name};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// A broker of this test's own, started off the async runtime.
async fn own_broker() -> RestartableKafka {
    tokio::task::spawn_blocking(RestartableKafka::start)
        .await
        .expect("start task")
        .expect("start a restartable Kafka")
}

/// Crashes (SIGKILL) or stops (SIGTERM) the broker and returns once it is
/// down (off the runtime, so the client keeps running meanwhile).
async fn take_down(mut kafka: RestartableKafka, crash: bool) -> RestartableKafka {
    tokio::task::spawn_blocking(move || {
        if crash {
            kafka.kill();
        } else {
            kafka.stop();
        }
        kafka
    })
    .await
    .expect("stop task")
}

/// Starts the broker again after `down`; resolves once it answers.
fn bring_back(
    mut kafka: RestartableKafka,
    down: Duration,
) -> tokio::task::JoinHandle<RestartableKafka> {
    tokio::task::spawn_blocking(move || {
        std::thread::sleep(down);
        kafka.restart().expect("restart the broker");
        kafka
    })
}

/// The clients' request timeout.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

async fn client_through(proxy: &FaultProxy) -> Client {
    let port = proxy.port();
    let config = ClientConfig::new(&proxy.addr())
        .client_id("kafkacc-restart")
        .request_timeout(REQUEST_TIMEOUT)
        .broker_address_map(move |_host, _port| ("127.0.0.1".to_string(), port));
    Client::connect(config).await.expect("connect")
}

fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits (bounded) until the proxy has no open client connection and the
/// runtime no more tasks than `baseline`.
async fn assert_nothing_leaks(proxy: &FaultProxy, baseline: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while (proxy.open_connections() > 0 || alive_tasks() > baseline) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        proxy.open_connections(),
        0,
        "connections left open after close"
    );
    assert!(
        alive_tasks() <= baseline,
        "{} tasks alive after close, {baseline} before the client",
        alive_tasks()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn producer_rides_out_a_broker_crash_without_loss_or_duplicates() {
    const RECORDS: usize = 30_000;
    const PARTITIONS: i32 = 3;
    let kafka = own_broker().await;
    let proxy = FaultProxy::start(&kafka.bootstrap()).await.expect("proxy");
    let baseline = alive_tasks();
    let client = client_through(&proxy).await;
    let topic = unique_name("restart-produce");
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, PARTITIONS))
        .await
        .expect("create topic");
    let config = ProducerConfig::default()
        .linger(Duration::from_millis(5))
        .delivery_timeout(Duration::from_secs(120));
    let producer = Producer::new(client.clone(), config).expect("producer");

    let mut deliveries = Vec::with_capacity(RECORDS);
    let mut restart = None;
    let mut kafka = Some(kafka);
    for i in 0..RECORDS {
        if i == RECORDS / 3 {
            // Crash the broker with records in flight; the next records are
            // sent while it is down and while it starts again.
            let crashed = take_down(kafka.take().expect("the broker"), true).await;
            restart = Some(bring_back(crashed, Duration::from_secs(1)));
        }
        if i % 1000 == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let record = ProducerRecord::new(&topic)
            .partition((i % PARTITIONS as usize) as i32)
            .value(i.to_string());
        deliveries.push(producer.send(record).await.expect("send"));
    }
    let kafka = restart
        .expect("the restart ran")
        .await
        .expect("restart task");
    for (i, delivery) in deliveries.into_iter().enumerate() {
        tokio::time::timeout(Duration::from_secs(150), delivery)
            .await
            .unwrap_or_else(|_| panic!("record {i}'s future still pending"))
            .unwrap_or_else(|e| panic!("record {i} not delivered across the restart: {e}"));
    }
    let close_timeout = Duration::from_secs(10);
    close_within(
        "producer after the crash",
        close_timeout,
        producer.close(close_timeout),
    )
    .await
    .expect("close");

    // Read everything back: each record once, in order per partition.
    let ends = Admin::new(client.clone())
        .list_offsets(&topic, &[], OffsetSpec::Latest)
        .await
        .expect("end offsets");
    assert_eq!(
        ends.values().sum::<i64>(),
        RECORDS as i64,
        "log length after the crash (duplicates or losses)"
    );
    let mut consumer = kafkacc::Consumer::new(
        client.clone(),
        ConsumerConfig::default().auto_offset_reset(OffsetReset::Earliest),
    );
    consumer.assign(&topic, &[]).await.expect("assign");
    let mut last: HashMap<i32, usize> = HashMap::new();
    let mut seen = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.len() < RECORDS {
        assert!(
            Instant::now() < deadline,
            "read back {} of {RECORDS}",
            seen.len()
        );
        for record in consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
        {
            let i: usize = String::from_utf8_lossy(record.value.as_deref().unwrap_or_default())
                .parse()
                .expect("a value this test wrote");
            assert!(seen.insert(i), "record {i} twice in the log");
            if let Some(previous) = last.insert(record.partition, i) {
                assert!(previous < i, "partition {} out of order", record.partition);
            }
        }
    }
    drop(consumer);
    client.close();
    assert_nothing_leaks(&proxy, baseline).await;
    eprintln!(
        "restart/produce: {RECORDS} records, 0 lost, 0 duplicated, {} connections over the test",
        proxy.accepted()
    );
    drop(kafka);
}

/// Writes values `range` keyed by value; returns once all are acknowledged.
async fn produce_keyed(client: &Client, topic: &str, range: std::ops::Range<usize>) {
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    let mut deliveries = Vec::new();
    for i in range {
        let record = ProducerRecord::new(topic)
            .key(format!("k{i}"))
            .value(i.to_string());
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for delivery in deliveries {
        delivery.await.expect("delivered");
    }
    let close_timeout = Duration::from_secs(5);
    close_within(
        "keyed producer",
        close_timeout,
        producer.close(close_timeout),
    )
    .await
    .expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_member_resumes_from_committed_offsets_after_a_broker_restart() {
    const RECORDS: usize = 6_000;
    const PARTITIONS: i32 = 3;
    let kafka = own_broker().await;
    let proxy = FaultProxy::start(&kafka.bootstrap()).await.expect("proxy");
    let baseline = alive_tasks();
    let client = client_through(&proxy).await;
    let topic = unique_name("restart-group");
    let group = unique_name("restart-group");
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, PARTITIONS))
        .await
        .expect("create topic");
    produce_keyed(&client, &topic, 0..RECORDS / 2).await;

    let consumer_config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    let group_config = GroupConfig::new(&group)
        .enable_auto_commit(false)
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_secs(1));
    let mut member =
        GroupConsumer::new(client.clone(), consumer_config, group_config).expect("member");
    member.subscribe(&[&topic]).expect("subscribe");

    // Consume the first half, committing after every poll.
    let mut seen: HashMap<(i32, i64), usize> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while seen.len() < RECORDS / 2 {
        assert!(
            Instant::now() < deadline,
            "consumed {} before the restart",
            seen.len()
        );
        for r in member.poll(Duration::from_millis(200)).await.expect("poll") {
            *seen.entry((r.partition, r.offset)).or_default() += 1;
        }
        member.commit().await.expect("commit");
    }
    let committed_before: BTreeMap<i32, i64> = committed_offsets(&client, &group, &topic)
        .await
        .expect("committed offsets before the restart");

    // Stop the broker under the member and start it again a little later;
    // poll errors while it is away are fine (the member keeps polling),
    // skipped records are not.
    let mut kafka = Some(bring_back(
        take_down(kafka, false).await,
        Duration::from_secs(1),
    ));
    let mut restarted = None;
    let mut errors = 0;
    let mut after_restart: BTreeMap<i32, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(150);
    while seen.len() < RECORDS {
        assert!(
            Instant::now() < deadline,
            "consumed {} of {RECORDS} across the restart ({errors} poll errors)",
            seen.len()
        );
        if kafka.as_ref().is_some_and(|k| k.is_finished()) {
            // Back up: the second half is written while the member polls.
            let back = kafka.take().expect("restart task").await.expect("restart");
            produce_keyed(&client, &topic, RECORDS / 2..RECORDS).await;
            restarted = Some(back);
        }
        match member.poll(Duration::from_millis(200)).await {
            Ok(records) => {
                for r in records {
                    after_restart.entry(r.partition).or_insert(r.offset);
                    *seen.entry((r.partition, r.offset)).or_default() += 1;
                }
                if member.commit().await.is_err() {
                    errors += 1;
                }
            }
            Err(e) => {
                errors += 1;
                if errors % 20 == 1 {
                    eprintln!("restart/group: poll error while the broker is away: {e}");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let kafka = restarted.expect("the broker came back");
    // Every partition picks up at or after its committed offset (records
    // between the last commit and the restart may come twice, none before).
    for (partition, first) in &after_restart {
        let committed = committed_before.get(partition).copied().unwrap_or(0);
        assert!(
            *first >= committed,
            "partition {partition} went back to {first}, before its committed {committed}"
        );
    }
    let duplicates = seen.values().filter(|n| **n > 1).count();
    member.commit().await.expect("final commit");
    let committed = committed_offsets(&client, &group, &topic)
        .await
        .expect("committed offsets");
    assert_eq!(
        committed.values().sum::<i64>(),
        RECORDS as i64,
        "committed to the end"
    );
    // A member's close has no timeout of its own: it commits (retrying
    // for at most a request timeout) and leaves (waiting at most another).
    close_within("group member", 2 * REQUEST_TIMEOUT, member.close())
        .await
        .expect("close");
    client.close();
    assert_nothing_leaks(&proxy, baseline).await;
    eprintln!(
        "restart/group: {RECORDS} records, {duplicates} redelivered, {errors} poll/commit errors while the broker restarted"
    );
    drop(kafka);
}
