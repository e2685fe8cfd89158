//! Consumer groups against a real broker: members share a topic's
//! partitions, hand them over on leave, resume from commits, and static
//! members restart without a rebalance.

use crate::client;
use kafkacc::group::committed_offsets;
use kafkacc::{
    Admin, Client, ConsumerConfig, ConsumerRecord, GroupConfig, GroupConsumer, GroupProtocol,
    NewTopic, OffsetReset, Producer, ProducerConfig, ProducerRecord, RebalanceEvent,
    TopicPartition,
};
use kafkacc_tests::{broker, log_on_failure, skip, unique_name};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 6;

async fn topic_with_records(client: &Client, prefix: &str, records: usize) -> String {
    let topic = unique_name(prefix);
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, PARTITIONS))
        .await
        .expect("create topic");
    produce(client, &topic, 0, records).await;
    topic
}

async fn produce(client: &Client, topic: &str, from: usize, count: usize) {
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    let mut deliveries = Vec::with_capacity(count);
    for i in from..from + count {
        let record = ProducerRecord::new(topic)
            .key(format!("k{i}"))
            .value(format!("v{i}"));
        deliveries.push(producer.send(record).await.expect("send"));
    }
    producer.flush().await.expect("flush");
    for d in deliveries {
        d.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(5))
        .await
        .expect("close producer");
}

pub(crate) fn member(client: &Client, group: &str, instance: Option<&str>) -> GroupConsumer {
    let consumer = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    let mut config = GroupConfig::new(group)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .max_poll_interval(Duration::from_secs(20))
        .enable_auto_commit(false);
    if let Some(id) = instance {
        config = config.group_instance_id(id);
    }
    GroupConsumer::new(client.clone(), consumer, config).expect("group consumer")
}

/// What the members of one test share.
#[derive(Default)]
struct Shared {
    records: Mutex<Vec<(usize, ConsumerRecord)>>,
    total: AtomicUsize,
    ready: AtomicUsize,
}

/// Polls (committing after each batch) until the group has read
/// `expected` records and this member holds `settled` partitions; then
/// waits for the other `members` to get there too. Returns its settled
/// assignment and generation.
async fn consume_until_settled(
    consumer: &mut GroupConsumer,
    index: usize,
    shared: &Shared,
    expected: usize,
    settled: usize,
    members: usize,
) -> (Vec<TopicPartition>, i32) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut snapshot = None;
    let mut stable_polls = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "member {index}: {} of {expected} records, positions {:?}, ready {}",
            shared.total.load(Ordering::SeqCst),
            consumer
                .assignment()
                .iter()
                .map(|tp| (tp.partition, consumer.position(&tp.topic, tp.partition)))
                .collect::<Vec<_>>(),
            shared.ready.load(Ordering::SeqCst)
        );
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        if !batch.is_empty() {
            shared.total.fetch_add(batch.len(), Ordering::SeqCst);
            shared
                .records
                .lock()
                .unwrap()
                .extend(batch.into_iter().map(|r| (index, r)));
            consumer.commit().await.expect("commit");
        }
        if snapshot.is_none() {
            if shared.total.load(Ordering::SeqCst) >= expected
                && consumer.assignment().len() == settled
            {
                stable_polls += 1;
            } else {
                stable_polls = 0;
            }
            if stable_polls >= 3 {
                snapshot = Some((consumer.assignment(), consumer.generation()));
                shared.ready.fetch_add(1, Ordering::SeqCst);
            }
        }
        if let Some(s) = &snapshot {
            if shared.ready.load(Ordering::SeqCst) >= members {
                return s.clone();
            }
        }
    }
}

fn assert_exactly_once(shared: &Shared, expected: usize) {
    let records = shared.records.lock().unwrap();
    let unique: BTreeSet<(i32, i64)> = records
        .iter()
        .map(|(_, r)| (r.partition, r.offset))
        .collect();
    assert_eq!(unique.len(), records.len(), "some records were read twice");
    assert_eq!(records.len(), expected, "records lost or extra");
    let values: BTreeSet<Vec<u8>> = records
        .iter()
        .map(|(_, r)| r.value.clone().unwrap_or_default().to_vec())
        .collect();
    assert_eq!(values.len(), expected);
}

async fn assert_committed_to_end(client: &Client, group: &str, topic: &str, expected: usize) {
    let committed = committed_offsets(client, group, topic)
        .await
        .expect("committed offsets");
    let sum: i64 = committed.values().sum();
    assert_eq!(sum as usize, expected, "committed offsets {committed:?}");
}

fn assert_partitions_split(assignments: &[Vec<TopicPartition>]) {
    let mut all = BTreeSet::new();
    for a in assignments {
        for tp in a {
            assert!(
                all.insert(tp.clone()),
                "{tp} owned by two members: {assignments:?}"
            );
        }
    }
    assert_eq!(all.len(), PARTITIONS as usize, "{assignments:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_members_share_partitions_and_read_everything_once() {
    let _log = log_on_failure();
    let client = client().await;
    const N: usize = 6_000;
    let topic = topic_with_records(&client, "group-share", N).await;
    let group = unique_name("group-share");
    let shared = Arc::new(Shared::default());
    let mut tasks = Vec::new();
    for index in 0..3 {
        let (client, group, topic, shared) =
            (client.clone(), group.clone(), topic.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let mut consumer = member(&client, &group, None);
            consumer.subscribe(&[&topic]).expect("subscribe");
            let settled = consume_until_settled(&mut consumer, index, &shared, N, 2, 3).await;
            let events = consumer.rebalance_events();
            consumer.close().await.expect("close");
            (settled, events)
        }));
    }
    let mut assignments = Vec::new();
    let mut generations = BTreeSet::new();
    for task in tasks {
        let ((assignment, generation), events) = task.await.expect("member task");
        assert!(
            events
                .iter()
                .any(|e| matches!(e, RebalanceEvent::Assigned { .. }))
        );
        assignments.push(assignment);
        generations.insert(generation);
    }
    assert_partitions_split(&assignments);
    assert_eq!(generations.len(), 1, "members settled in one generation");
    assert_exactly_once(&shared, N);
    assert_committed_to_end(&client, &group, &topic, N).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_leaves_and_the_others_take_its_partitions() {
    let _log = log_on_failure();
    let client = client().await;
    const FIRST: usize = 3_000;
    const SECOND: usize = 3_000;
    let topic = topic_with_records(&client, "group-leave", FIRST).await;
    let group = unique_name("group-leave");
    let shared = Arc::new(Shared::default());
    let phase2 = Arc::new(Shared::default());
    // Members 1 and 2 report they left phase 1 before more is produced, so
    // no phase-2 record is counted in phase 1.
    let parked = Arc::new(AtomicUsize::new(0));
    let (produced_tx, produced) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for index in 0..3 {
        let (client, group, topic) = (client.clone(), group.clone(), topic.clone());
        let (shared, phase2, parked) = (shared.clone(), phase2.clone(), parked.clone());
        let mut produced = produced.clone();
        tasks.push(tokio::spawn(async move {
            let mut consumer = member(&client, &group, None);
            consumer.subscribe(&[&topic]).expect("subscribe");
            consume_until_settled(&mut consumer, index, &shared, FIRST, 2, 3).await;
            if index == 0 {
                consumer.close().await.expect("close");
                return None;
            }
            parked.fetch_add(1, Ordering::SeqCst);
            produced.wait_for(|p| *p).await.expect("test alive");
            // Phase 2: the two left read the rest, sharing all six partitions.
            let settled = consume_until_settled(&mut consumer, index, &phase2, SECOND, 3, 2).await;
            consumer.close().await.expect("close");
            Some(settled.0)
        }));
    }
    // Wait for member 0 to be gone and the others parked before producing.
    let first = tasks.remove(0).await.expect("member 0");
    assert!(first.is_none());
    let deadline = Instant::now() + Duration::from_secs(30);
    while parked.load(Ordering::SeqCst) < 2 {
        assert!(Instant::now() < deadline, "members did not finish phase 1");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    produce(&client, &topic, FIRST, SECOND).await;
    produced_tx.send(true).expect("members waiting");
    let mut assignments = Vec::new();
    for task in tasks {
        assignments.push(task.await.expect("member task").expect("settled"));
    }
    assert_partitions_split(&assignments);
    assert_exactly_once(&shared, FIRST);
    assert_exactly_once(&phase2, SECOND);
    assert_committed_to_end(&client, &group, &topic, FIRST + SECOND).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_member_resumes_from_committed_offsets() {
    let _log = log_on_failure();
    let client = client().await;
    let topic = topic_with_records(&client, "group-resume", 1_200).await;
    let group = unique_name("group-resume");
    let shared = Shared::default();
    let mut consumer = member(&client, &group, None);
    consumer.subscribe(&[&topic]).expect("subscribe");
    consume_until_settled(&mut consumer, 0, &shared, 1_200, 6, 1).await;
    let before: BTreeMap<i32, i64> = consumer
        .assignment()
        .iter()
        .map(|tp| {
            (
                tp.partition,
                consumer.position(&tp.topic, tp.partition).unwrap_or(-1),
            )
        })
        .collect();
    consumer.close().await.expect("close");
    assert_committed_to_end(&client, &group, &topic, 1_200).await;

    produce(&client, &topic, 1_200, 300).await;
    let mut restarted = member(&client, &group, None);
    restarted.subscribe(&[&topic]).expect("subscribe");
    let again = Shared::default();
    consume_until_settled(&mut restarted, 0, &again, 300, 6, 1).await;
    restarted.close().await.expect("close");
    assert_exactly_once(&again, 300);
    for (_, r) in again.records.lock().unwrap().iter() {
        assert!(
            r.offset >= before[&r.partition],
            "re-read {}@{} below the commit",
            r.partition,
            r.offset
        );
    }
    assert_committed_to_end(&client, &group, &topic, 1_500).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_static_member_restarts_without_a_rebalance() {
    let _log = log_on_failure();
    let client = client().await;
    let topic = topic_with_records(&client, "group-static", 600).await;
    let group = unique_name("group-static");
    let shared = Arc::new(Shared::default());
    let mut a = member(&client, &group, Some("instance-a"));
    let mut b = member(&client, &group, Some("instance-b"));
    a.subscribe(&[&topic]).expect("subscribe");
    b.subscribe(&[&topic]).expect("subscribe");
    let (sa, sb) = tokio::join!(
        consume_until_settled(&mut a, 0, &shared, 600, 3, 2),
        consume_until_settled(&mut b, 1, &shared, 600, 3, 2),
    );
    assert_partitions_split(&[sa.0.clone(), sb.0.clone()]);
    let generation = sa.1;
    b.rebalance_events();
    // Restart a: no LeaveGroup, so its partitions wait for it.
    a.close().await.expect("close a");
    let mut a2 = member(&client, &group, Some("instance-a"));
    a2.subscribe(&[&topic]).expect("subscribe");
    let deadline = Instant::now() + Duration::from_secs(30);
    while a2.assignment().is_empty() {
        assert!(
            Instant::now() < deadline,
            "restarted static member got nothing"
        );
        a2.poll(Duration::from_millis(200)).await.expect("poll a2");
        b.poll(Duration::from_millis(50)).await.expect("poll b");
    }
    // Keep both polling for a few heartbeats: no rebalance may start.
    for _ in 0..10 {
        a2.poll(Duration::from_millis(100)).await.expect("poll a2");
        b.poll(Duration::from_millis(100)).await.expect("poll b");
    }
    let b_events = b.rebalance_events();
    let b_kept = !b_events
        .iter()
        .any(|e| matches!(e, RebalanceEvent::Revoked(_) | RebalanceEvent::Lost(_)));
    let same = a2.generation() == generation && b.generation() == generation && b_kept;
    if broker().is_tansu() && !same {
        skip(
            "a_static_member_restarts_without_a_rebalance",
            "Tansu rebalances when a static member rejoins (no KIP-345 static membership)",
        );
    } else {
        assert_eq!(
            a2.generation(),
            generation,
            "the restarted member rejoined the same generation"
        );
        assert_eq!(
            b.generation(),
            generation,
            "the other member saw no rebalance"
        );
        assert!(b_kept, "the other member lost nothing: {b_events:?}");
        let mut restored = a2.assignment();
        restored.sort();
        assert_eq!(restored, sa.0, "the same partitions came back");
    }
    a2.close().await.expect("close a2");
    b.close().await.expect("close b");
}

/// A member speaking KIP-848 (`group.protocol=consumer`): the broker
/// assigns, and timing is the broker's (heartbeat interval, session).
fn member_848(client: &Client, group: &str) -> GroupConsumer {
    let consumer = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    let config = GroupConfig::new(group)
        .group_protocol(GroupProtocol::Consumer)
        .max_poll_interval(Duration::from_secs(30))
        .enable_auto_commit(false);
    GroupConsumer::new(client.clone(), consumer, config).expect("group consumer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kip848_members_split_partitions_and_one_takes_over_on_close() {
    const TEST: &str = "kip848_members_split_partitions_and_one_takes_over_on_close";
    let _log = log_on_failure();
    let client = client().await;
    const FIRST: usize = 3_000;
    const SECOND: usize = 600;
    let topic = topic_with_records(&client, "kip848", FIRST).await;
    let group = unique_name("kip848");
    if broker().is_tansu() {
        // Tansu's ApiVersions lacks ConsumerGroupHeartbeat (68): the
        // member must fail typed, not hang.
        let mut probe = member_848(&client, &group);
        probe.subscribe(&[&topic]).expect("subscribe");
        let deadline = Instant::now() + Duration::from_secs(20);
        let outcome = loop {
            match probe.poll(Duration::from_millis(200)).await {
                Err(e) => break Some(e),
                Ok(_) if Instant::now() >= deadline => break None,
                Ok(_) => {}
            }
        };
        assert!(
            matches!(outcome, Some(kafkacc::Error::UnsupportedVersion { .. })),
            "expected UnsupportedVersion, got {outcome:?}"
        );
        return skip(
            TEST,
            "Tansu does not offer ConsumerGroupHeartbeat (KIP-848); checked that polling fails with UnsupportedVersion",
        );
    }
    let shared = Arc::new(Shared::default());
    let phase2 = Arc::new(Shared::default());
    let parked = Arc::new(AtomicUsize::new(0));
    let (produced_tx, produced) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    for index in 0..2 {
        let (client, group, topic) = (client.clone(), group.clone(), topic.clone());
        let (shared, phase2, parked) = (shared.clone(), phase2.clone(), parked.clone());
        let mut produced = produced.clone();
        tasks.push(tokio::spawn(async move {
            let mut consumer = member_848(&client, &group);
            consumer.subscribe(&[&topic]).expect("subscribe");
            let (split, _) =
                consume_until_settled(&mut consumer, index, &shared, FIRST, 3, 2).await;
            if index == 0 {
                consumer.close().await.expect("close");
                return (split, None);
            }
            parked.fetch_add(1, Ordering::SeqCst);
            produced.wait_for(|p| *p).await.expect("test alive");
            // Phase 2: the one left reads the rest from all six partitions.
            let (all, _) = consume_until_settled(&mut consumer, index, &phase2, SECOND, 6, 1).await;
            let events = consumer.rebalance_events();
            consumer.close().await.expect("close");
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e, RebalanceEvent::Assigned { .. })),
                "{events:?}"
            );
            (split, Some(all))
        }));
    }
    let (split0, none) = tasks.remove(0).await.expect("member 0");
    assert!(none.is_none());
    let deadline = Instant::now() + Duration::from_secs(30);
    while parked.load(Ordering::SeqCst) < 1 {
        assert!(Instant::now() < deadline, "member 1 did not finish phase 1");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    produce(&client, &topic, FIRST, SECOND).await;
    produced_tx.send(true).expect("member waiting");
    let (split1, all) = tasks.remove(0).await.expect("member 1");
    assert_partitions_split(&[split0, split1]);
    assert_partitions_split(&[all.expect("member 1 settled")]);
    assert_exactly_once(&shared, FIRST);
    assert_exactly_once(&phase2, SECOND);
    assert_committed_to_end(&client, &group, &topic, FIRST + SECOND).await;
}

/// Reads with `GroupConsumer::poll_partition` until `expected` records came,
/// committing after each run; returns every (partition, offset) read.
async fn read_runs_in_place(consumer: &mut GroupConsumer, expected: usize) -> Vec<(i32, i64)> {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut read = Vec::new();
    while read.len() < expected {
        assert!(
            Instant::now() < deadline,
            "{} of {expected} records",
            read.len()
        );
        let Some(run) = consumer
            .poll_partition(Duration::from_millis(200))
            .await
            .expect("poll_partition")
        else {
            continue;
        };
        assert!(run.len() <= 100, "max_poll_records: {}", run.len());
        for record in &run {
            let value = std::str::from_utf8(record.value.unwrap_or_default()).expect("utf-8");
            assert!(value.starts_with('v'), "{value}");
            read.push((record.partition, record.offset));
        }
        consumer.commit().await.expect("commit");
    }
    read
}

/// Runs read in place (`poll_partition`) count as consumed, so commits cover
/// them exactly as they cover polled records, and a restarted member goes on
/// from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn runs_read_in_place_are_committed_like_polled_records() {
    let _log = log_on_failure();
    let client = client().await;
    let topic = topic_with_records(&client, "group-runs", 1_200).await;
    let group = unique_name("group-runs");
    let in_place_member = |client: &Client| {
        let consumer = ConsumerConfig::default()
            .auto_offset_reset(OffsetReset::Earliest)
            .fetch_max_wait(Duration::from_millis(100))
            .max_poll_records(100);
        let config = GroupConfig::new(&group)
            .session_timeout(Duration::from_secs(6))
            .heartbeat_interval(Duration::from_secs(1))
            .enable_auto_commit(false);
        GroupConsumer::new(client.clone(), consumer, config).expect("group consumer")
    };
    let mut first = in_place_member(&client);
    first.subscribe(&[&topic]).expect("subscribe");
    let read = read_runs_in_place(&mut first, 1_200).await;
    first.close().await.expect("close");
    let unique: BTreeSet<(i32, i64)> = read.iter().copied().collect();
    assert_eq!(
        (unique.len(), read.len()),
        (1_200, 1_200),
        "each record once"
    );
    assert_committed_to_end(&client, &group, &topic, 1_200).await;

    produce(&client, &topic, 1_200, 300).await;
    let mut restarted = in_place_member(&client);
    restarted.subscribe(&[&topic]).expect("subscribe");
    let again = read_runs_in_place(&mut restarted, 300).await;
    restarted.close().await.expect("close");
    assert!(
        again.iter().all(|r| !unique.contains(r)),
        "a committed record came back"
    );
    assert_committed_to_end(&client, &group, &topic, 1_500).await;
}
