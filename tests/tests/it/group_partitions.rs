//! The group leader watches the partition counts of the group's topics
//! (classic protocol): when CreatePartitions grows a subscribed topic, the
//! leader rejoins and the new partitions are assigned and consumed.

use crate::client;
use kafkacc::group::assignor::CooperativeStickyAssignor;
use kafkacc::group::committed_offsets;
use kafkacc::{
    Admin, Client, ClientConfig, ConsumerConfig, GroupConfig, GroupConsumer, NewTopic, OffsetReset,
    Producer, ProducerConfig, ProducerRecord,
};
use kafkacc_tests::{broker, log_on_failure, skip, unique_name};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records per partition and round.
const PER_PARTITION: usize = 10;

async fn produce(client: &Client, topic: &str, partitions: &[i32], tag: &str) {
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    let mut deliveries = Vec::new();
    for &p in partitions {
        for j in 0..PER_PARTITION {
            let record = ProducerRecord::new(topic)
                .partition(p)
                .value(format!("{tag}-{p}-{j}"));
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

fn member(client: &Client, group: &str, cooperative: bool) -> GroupConsumer {
    let consumer = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    let config = GroupConfig::new(group)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .max_poll_interval(Duration::from_secs(20))
        .enable_auto_commit(false);
    let config = if cooperative {
        config.assignors(vec![Arc::new(CooperativeStickyAssignor)])
    } else {
        config // range is chosen: eager
    };
    GroupConsumer::new(client.clone(), consumer, config).expect("group consumer")
}

/// Polls every member once (committing what it read) and records what
/// each read as (member, partition, offset, value).
async fn step(members: &mut [GroupConsumer], read: &mut Vec<(usize, i32, i64, String)>) {
    for (i, m) in members.iter_mut().enumerate() {
        let batch = m.poll(Duration::from_millis(100)).await.expect("poll");
        if batch.is_empty() {
            continue;
        }
        for r in batch {
            let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
            read.push((i, r.partition, r.offset, value.into_owned()));
        }
        m.commit().await.expect("commit");
    }
}

fn assignments(members: &[GroupConsumer]) -> Vec<BTreeSet<i32>> {
    members
        .iter()
        .map(|m| m.assignment().iter().map(|tp| tp.partition).collect())
        .collect()
}

/// The owned partitions are disjoint; returns their union.
fn disjoint_union(members: &[GroupConsumer]) -> BTreeSet<i32> {
    let mut all = BTreeSet::new();
    for a in assignments(members) {
        for p in a {
            assert!(
                all.insert(p),
                "partition {p} owned twice: {:?}",
                assignments(members)
            );
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_partitions_are_assigned_after_create_partitions() {
    grow_topic_under_a_group("new_partitions_are_assigned_after_create_partitions", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_partitions_are_assigned_to_a_cooperative_group() {
    grow_topic_under_a_group("new_partitions_are_assigned_to_a_cooperative_group", true).await;
}

async fn grow_topic_under_a_group(test: &str, cooperative: bool) {
    let _log = log_on_failure();
    if broker().is_tansu() {
        return skip(
            test,
            "Tansu lacks CreatePartitions (broker README deviation 3)",
        );
    }
    // The leader checks the topic's partition count every second.
    let config = ClientConfig::new(&broker().bootstrap)
        .client_id("kafkacc-it")
        .request_timeout(Duration::from_secs(30))
        .metadata_max_age(Duration::from_secs(1));
    let admin_client = client().await;
    let client = Client::connect(config).await.expect("connect");
    let admin = Admin::new(admin_client.clone());
    let topic = unique_name("grow");
    let group = unique_name("grow-group");
    admin
        .create_topic(NewTopic::new(&topic, 2))
        .await
        .expect("create topic");
    produce(&admin_client, &topic, &[0, 1], "a").await;

    let mut members = vec![
        member(&client, &group, cooperative),
        member(&client, &group, cooperative),
    ];
    for m in &mut members {
        m.subscribe(&[&topic]).expect("subscribe");
    }
    let mut read = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while read.len() < 2 * PER_PARTITION || disjoint_union(&members).len() != 2 {
        assert!(
            Instant::now() < deadline,
            "the group never settled on 2 partitions: {:?}, {} records",
            assignments(&members),
            read.len()
        );
        step(&mut members, &mut read).await;
    }

    admin
        .create_partitions(&topic, 4)
        .await
        .expect("create partitions");
    produce(&admin_client, &topic, &[0, 1, 2, 3], "b").await;

    // Nobody subscribes anew: only the leader's watch can bring 2 and 3 in.
    let total = 6 * PER_PARTITION;
    let started = Instant::now();
    while read.len() < total || disjoint_union(&members).len() != 4 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "new partitions not consumed within 30 s: assignments {:?}, read {} of {total}, new-partition records {}",
            assignments(&members),
            read.len(),
            read.iter().filter(|(_, p, ..)| *p >= 2).count()
        );
        step(&mut members, &mut read).await;
    }
    // Anything read twice shows up by now.
    for _ in 0..5 {
        step(&mut members, &mut read).await;
    }
    for m in members {
        m.close().await.expect("close");
    }

    let mut seen: BTreeMap<(i32, i64), String> = BTreeMap::new();
    for (_, p, o, v) in &read {
        assert!(
            seen.insert((*p, *o), v.clone()).is_none(),
            "{p}/{o} read twice"
        );
    }
    assert_eq!(seen.len(), total, "every record read once");
    for p in 2..4 {
        for j in 0..PER_PARTITION {
            assert_eq!(seen[&(p, j as i64)], format!("b-{p}-{j}"));
        }
    }
    let committed = committed_offsets(&admin_client, &group, &topic)
        .await
        .expect("committed offsets");
    let expected: BTreeMap<i32, i64> = [(0, 20), (1, 20), (2, 10), (3, 10)].into();
    assert_eq!(committed, expected, "committed offsets");
}
