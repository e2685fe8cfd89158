//! `GroupConsumer::subscribe_pattern` against a real broker: the member
//! reads every topic whose name matches, not the others, and picks up a
//! matching topic created later at the next metadata refresh.

use kafkacc::{
    Admin, Client, ClientConfig, ConsumerConfig, ConsumerRecord, GroupConfig, GroupConsumer,
    NewTopic, OffsetReset, Producer, ProducerConfig, ProducerRecord,
};
use kafkacc_tests::{broker, log_on_failure, unique_name};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

async fn topic_with_records(client: &Client, topic: &str, partitions: i32, records: usize) {
    Admin::new(client.clone())
        .create_topic(NewTopic::new(topic, partitions))
        .await
        .expect("create topic");
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    let mut deliveries = Vec::new();
    for i in 0..records {
        let record = ProducerRecord::new(topic)
            .partition(i as i32 % partitions)
            .value(format!("{topic}-{i}"));
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(5))
        .await
        .expect("close producer");
}

/// Polls until `count` records in all were read (committing as it goes).
async fn read_until(consumer: &mut GroupConsumer, read: &mut Vec<ConsumerRecord>, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while read.len() < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} records; assignment {:?}, pattern topics {:?}",
            read.len(),
            consumer.assignment(),
            consumer.pattern_topics()
        );
        let batch = consumer
            .poll(Duration::from_millis(300))
            .await
            .expect("poll");
        if !batch.is_empty() {
            read.extend(batch);
            consumer.commit().await.expect("commit");
        }
    }
}

fn per_topic(read: &[ConsumerRecord]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in read {
        *out.entry(r.topic.to_string()).or_default() += 1;
    }
    out
}

#[tokio::test]
async fn pattern_subscription_reads_matching_topics_and_follows_new_ones() {
    let _log = log_on_failure();
    // Metadata (and so the pattern) refreshes every second.
    let config = ClientConfig::new(&broker().bootstrap)
        .client_id("kafkacc-it-pattern")
        .request_timeout(Duration::from_secs(30))
        .metadata_max_age(Duration::from_secs(1));
    let client = Client::connect(config).await.expect("connect");
    let prefix = unique_name("pat");
    let (a, b, c) = (
        format!("{prefix}-a"),
        format!("{prefix}-b"),
        format!("{prefix}-c"),
    );
    let unrelated = format!("x{prefix}-a");
    topic_with_records(&client, &a, 3, 30).await;
    topic_with_records(&client, &b, 2, 20).await;
    topic_with_records(&client, &unrelated, 1, 10).await;

    let group = GroupConfig::new(unique_name("pattern-group"))
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .enable_auto_commit(false);
    let consumer_config = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    let mut consumer =
        GroupConsumer::new(client.clone(), consumer_config, group).expect("group consumer");
    assert!(consumer.subscribe_pattern("([").is_err(), "invalid regex");
    // Topic names may contain `.`: match it literally.
    let pattern = format!("{}-.*", prefix.replace('.', "\\."));
    consumer.subscribe_pattern(&pattern).expect("subscribe");

    let mut read = Vec::new();
    read_until(&mut consumer, &mut read, 50).await;
    let expected: BTreeMap<String, usize> = [(a.clone(), 30), (b.clone(), 20)].into();
    assert_eq!(per_topic(&read), expected);
    assert_eq!(consumer.assignment().len(), 5);

    // A matching topic created now is picked up at a metadata refresh.
    topic_with_records(&client, &c, 2, 10).await;
    read_until(&mut consumer, &mut read, 60).await;
    // Anything from the unrelated topic would come now.
    for _ in 0..3 {
        read.extend(
            consumer
                .poll(Duration::from_millis(300))
                .await
                .expect("poll"),
        );
    }
    let expected: BTreeMap<String, usize> =
        [(a.clone(), 30), (b.clone(), 20), (c.clone(), 10)].into();
    assert_eq!(per_topic(&read), expected);
    let topics: BTreeSet<String> = consumer.pattern_topics().into_iter().collect();
    assert_eq!(topics, [a, b, c].into_iter().collect());
    consumer.close().await.expect("close");
}
