//! `Consumer::stream` and `GroupConsumer::stream` against a real broker:
//! `take(n)` yields records in order, and what a stream fetched but did not
//! yield is neither lost nor counted as consumed.

use crate::client;
use futures::StreamExt;
use kafkacc::group::committed_offsets;
use kafkacc::{
    Admin, Client, Consumer, ConsumerConfig, ConsumerRecord, GroupConfig, GroupConsumer, NewTopic,
    OffsetReset, Producer, ProducerConfig, ProducerRecord,
};
use kafkacc_tests::{log_on_failure, unique_name};
use std::collections::BTreeSet;
use std::time::Duration;

const PARTITIONS: i32 = 3;
const RECORDS: usize = 90;

async fn topic_with_records(client: &Client) -> String {
    let topic = unique_name("stream");
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, PARTITIONS))
        .await
        .expect("create topic");
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    let mut deliveries = Vec::new();
    for i in 0..RECORDS {
        let record = ProducerRecord::new(&topic)
            .partition(i as i32 % PARTITIONS)
            .value(format!("v{i}"));
        deliveries.push(producer.send(record).await.expect("send"));
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(5))
        .await
        .expect("close producer");
    topic
}

fn config() -> ConsumerConfig {
    ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
}

async fn take(
    stream: impl futures::Stream<Item = kafkacc::Result<ConsumerRecord>> + Unpin,
    n: usize,
) -> Vec<ConsumerRecord> {
    tokio::time::timeout(Duration::from_secs(60), stream.take(n).collect::<Vec<_>>())
        .await
        .expect("records within 60 s")
        .into_iter()
        .map(|r| r.expect("record"))
        .collect()
}

fn assert_in_order_per_partition(records: &[ConsumerRecord]) {
    for p in 0..PARTITIONS {
        let offsets: Vec<i64> = records
            .iter()
            .filter(|r| r.partition == p)
            .map(|r| r.offset)
            .collect();
        let expected: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(offsets, expected, "partition {p} in order, no gaps");
    }
}

#[tokio::test]
async fn consumer_stream_takes_records_in_order_and_loses_none_between_streams() {
    let _log = log_on_failure();
    let client = client().await;
    let topic = topic_with_records(&client).await;
    let mut consumer = Consumer::new(client.clone(), config());
    consumer.assign(&topic, &[]).await.expect("assign");

    let mut records = take(consumer.stream(), 7).await;
    assert_eq!(records.len(), 7);
    records.extend(take(consumer.stream(), RECORDS - 7).await);
    assert_eq!(records.len(), RECORDS);
    assert_in_order_per_partition(&records);
    let values: BTreeSet<String> = records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(values.len(), RECORDS, "every record once");
    // Nothing left over.
    let rest = consumer
        .poll(Duration::from_millis(500))
        .await
        .expect("poll");
    assert!(rest.is_empty(), "{rest:?}");
}

#[tokio::test]
async fn group_stream_counts_only_yielded_records_as_consumed() {
    let _log = log_on_failure();
    let client = client().await;
    let topic = topic_with_records(&client).await;
    let group = unique_name("stream-group");
    let group_config = GroupConfig::new(&group)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .enable_auto_commit(false);
    let mut consumer =
        GroupConsumer::new(client.clone(), config(), group_config).expect("group consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");

    const FIRST: usize = 10;
    let mut records = take(consumer.stream(), FIRST).await;
    consumer.commit().await.expect("commit");
    let committed = committed_offsets(&client, &group, &topic)
        .await
        .expect("committed");
    assert_eq!(
        committed.values().sum::<i64>(),
        FIRST as i64,
        "only the yielded records are committed: {committed:?}"
    );
    for r in &records {
        assert!(committed.get(&r.partition).is_some_and(|c| *c > r.offset));
    }

    records.extend(take(consumer.stream(), RECORDS - FIRST).await);
    assert_in_order_per_partition(&records);
    consumer.close().await.expect("close");
    let committed = committed_offsets(&client, &group, &topic)
        .await
        .expect("committed");
    let expected = (RECORDS as i32 / PARTITIONS) as i64;
    assert!(
        (0..PARTITIONS).all(|p| committed.get(&p) == Some(&expected)),
        "{committed:?}"
    );
}
