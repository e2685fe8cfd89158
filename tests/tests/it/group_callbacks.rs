//! Rebalance callbacks the group waits for ([`GroupConsumer::on_rebalance`]):
//! a slow `Revoked` callback runs to completion before the revocation is
//! acknowledged, so no other member gets those partitions (or their
//! committed offsets) before it has finished. Checked with eager (range)
//! and cooperative-sticky members, each member polling in its own task.
//! Closing a member runs the callback for the partitions it gives up.

use crate::client;
use kafkacc::group::assignor::CooperativeStickyAssignor;
use kafkacc::group::committed_offsets;
use kafkacc::{
    Admin, Client, ConsumerConfig, GroupConfig, GroupConsumer, NewTopic, OffsetReset, Producer,
    ProducerConfig, ProducerRecord, RebalanceEvent, TopicPartition,
};
use kafkacc_tests::{log_on_failure, unique_name};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 6;
const RECORDS: usize = 60;
/// How long the revoke callback takes.
const SLOW: Duration = Duration::from_secs(3);

fn member(client: &Client, group: &str, cooperative: bool) -> GroupConsumer {
    let consumer = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    let mut config = GroupConfig::new(group)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .max_poll_interval(Duration::from_secs(20))
        .enable_auto_commit(false);
    if cooperative {
        config = config.assignors(vec![Arc::new(CooperativeStickyAssignor)]);
    }
    GroupConsumer::new(client.clone(), consumer, config).expect("group consumer")
}

/// What a member's task shares with the test.
#[derive(Default)]
struct Seen {
    /// The member's partitions after its last poll.
    assignment: Mutex<BTreeSet<i32>>,
    /// When its assignment was first non-empty.
    first_assigned: Mutex<Option<Instant>>,
    /// Every record read: (partition, offset).
    records: Mutex<Vec<(i32, i64)>>,
}

/// Polls `consumer` (committing after each batch) until `stop`; returns it.
fn run(
    mut consumer: GroupConsumer,
    seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<GroupConsumer> {
    tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(120);
        while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
            let batch = consumer
                .poll(Duration::from_millis(100))
                .await
                .expect("poll");
            let assignment: BTreeSet<i32> = consumer
                .assignment()
                .iter()
                .map(|tp| tp.partition)
                .collect();
            if !assignment.is_empty() {
                seen.first_assigned
                    .lock()
                    .unwrap()
                    .get_or_insert_with(Instant::now);
            }
            *seen.assignment.lock().unwrap() = assignment;
            if !batch.is_empty() {
                seen.records
                    .lock()
                    .unwrap()
                    .extend(batch.iter().map(|r| (r.partition, r.offset)));
                consumer.commit().await.expect("commit");
            }
        }
        consumer
    })
}

/// One run of the revoke callback: when it started and finished, and what
/// it was given.
type Revocation = (Instant, Instant, Vec<TopicPartition>);

async fn slow_revoke_callback(cooperative: bool) {
    let _log = log_on_failure();
    let client = client().await;
    let topic = unique_name("slow-revoke");
    let group = unique_name("slow-revoke-group");
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

    // Member A: every revocation takes SLOW.
    let revocations: Arc<Mutex<Vec<Revocation>>> = Arc::default();
    let mut a = member(&client, &group, cooperative);
    let log = revocations.clone();
    a.on_rebalance(move |event| {
        let log = log.clone();
        async move {
            if let RebalanceEvent::Revoked(partitions) = event {
                if partitions.is_empty() {
                    return;
                }
                let started = Instant::now();
                tokio::time::sleep(SLOW).await;
                log.lock()
                    .unwrap()
                    .push((started, Instant::now(), partitions));
            }
        }
    });
    a.subscribe(&[&topic]).expect("subscribe");
    let stop = Arc::new(AtomicBool::new(false));
    let seen_a = Arc::new(Seen::default());
    let task_a = run(a, seen_a.clone(), stop.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen_a.assignment.lock().unwrap().len() != PARTITIONS as usize {
        assert!(Instant::now() < deadline, "A never got the topic");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Member B joins; A must give some partitions up, slowly.
    let mut b = member(&client, &group, cooperative);
    b.subscribe(&[&topic]).expect("subscribe");
    let seen_b = Arc::new(Seen::default());
    let task_b = run(b, seen_b.clone(), stop.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a_owns = seen_a.assignment.lock().unwrap().clone();
        let b_owns = seen_b.assignment.lock().unwrap().clone();
        let read = seen_a.records.lock().unwrap().len() + seen_b.records.lock().unwrap().len();
        if a_owns.len() == 3 && b_owns.len() == 3 && read >= RECORDS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no 3 + 3 split: A {a_owns:?}, B {b_owns:?}, {read} records"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let a = task_a.await.expect("task A");
    let b = task_b.await.expect("task B");
    a.close().await.expect("close A");
    b.close().await.expect("close B");

    let revocations = revocations.lock().unwrap().clone();
    // Closing A gave up its last partitions through the callback too.
    let a_last: BTreeSet<i32> = seen_a.assignment.lock().unwrap().clone();
    let closed_with: BTreeSet<i32> = revocations
        .last()
        .map(|(_, _, ps)| ps.iter().map(|tp| tp.partition).collect())
        .unwrap_or_default();
    assert!(revocations.len() >= 2, "no revoke callback on close");
    assert_eq!(closed_with, a_last, "the close callback got A's partitions");
    let first_assigned_b = seen_b
        .first_assigned
        .lock()
        .unwrap()
        .expect("B got partitions");
    let (started, finished, revoked) = revocations.first().expect("A's revoke callback ran");
    assert!(*finished >= *started + SLOW, "the callback ran to its end");
    if !cooperative {
        assert_eq!(
            revoked.len(),
            PARTITIONS as usize,
            "eager revokes everything"
        );
    }
    assert!(
        first_assigned_b > *finished,
        "B got partitions {:?} before A's revoke callback finished",
        first_assigned_b.saturating_duration_since(*started)
    );

    // Each record once; the commits cover the topic.
    let mut all: Vec<(i32, i64)> = seen_a.records.lock().unwrap().clone();
    all.extend(seen_b.records.lock().unwrap().iter().copied());
    let unique: BTreeSet<(i32, i64)> = all.iter().copied().collect();
    assert_eq!(unique.len(), all.len(), "records read twice");
    assert_eq!(unique.len(), RECORDS);
    let committed = committed_offsets(&client, &group, &topic)
        .await
        .expect("committed offsets");
    assert_eq!(
        committed.values().sum::<i64>(),
        RECORDS as i64,
        "{committed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_revoke_callback_finishes_before_another_member_gets_the_partitions() {
    slow_revoke_callback(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_cooperative_revoke_callback_finishes_before_the_move() {
    slow_revoke_callback(true).await;
}
