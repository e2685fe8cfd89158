//! Mixed consumer groups: a kafkacc [`GroupConsumer`] and a Java
//! (kafka-clients 4.1.1), librdkafka (2.16, through Python) or `kcat -G`
//! (librdkafka, the command-line tool) member in one classic group
//! on a 6-partition topic. They must agree on the protocol (range, which
//! every member offers), split the partitions without overlap whichever of
//! them leads, and together read every record exactly once.
//!
//! Each pairing runs in both join orders: kafkacc first (it leads the first
//! generation, then the peer joins and one of the two leads the rebalance)
//! and the peer first (the peer leads, kafkacc joins).

use crate::client;
use kafkacc::group::committed_offsets;
use kafkacc::{
    Admin, Client, ConsumerConfig, GroupConfig, GroupConsumer, NewTopic, OffsetReset, Producer,
    ProducerConfig, ProducerRecord,
};
use kafkacc_tests::java::spawn_interop;
use kafkacc_tests::kcat::spawn_kcat_member;
use kafkacc_tests::peer::PeerProcess;
use kafkacc_tests::rdkafka::spawn_rdkafka;
use kafkacc_tests::{broker, log_on_failure, unique_name};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

pub(crate) const PARTITIONS: i32 = 6;
/// Records per partition, produced before anyone joins and again once the
/// group has settled.
pub(crate) const PER_PARTITION: i64 = 40;
/// How long the peer process may live at most.
const PEER_SECONDS: &str = "150";

#[derive(Debug, Clone, Copy)]
pub(crate) enum Peer {
    Java,
    Librdkafka,
    /// `kcat -G`: auto-commits, so its commits land on rebalances and on
    /// close rather than after each batch.
    Kcat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum First {
    Kafkacc,
    Peer,
}

impl Peer {
    /// Starts the peer as a member of `group` with `assignor` (`range` or
    /// `cooperative-sticky`).
    pub(crate) fn spawn(self, topic: &str, group: &str, assignor: &str) -> PeerProcess {
        let bootstrap = broker().bootstrap.clone();
        let args = ["group", &bootstrap, topic, group, PEER_SECONDS, assignor];
        match self {
            Peer::Java => spawn_interop(&args),
            Peer::Librdkafka => spawn_rdkafka(&args),
            Peer::Kcat => spawn_kcat_member(&bootstrap, topic, group, PEER_SECONDS, assignor),
        }
    }
}

/// What a peer printed: its records and its current assignment.
#[derive(Debug, Default)]
pub(crate) struct PeerView {
    pub(crate) records: Vec<(i32, i64, String)>,
    /// Partitions added by `assigned` lines and not removed by later
    /// `revoked` or `lost` ones (eager peers revoke everything before each
    /// assignment; cooperative ones only what moves).
    pub(crate) assignment: BTreeSet<i32>,
    pub(crate) assignments: usize,
}

fn parse_partitions(list: &str) -> BTreeSet<i32> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("partition"))
        .collect()
}

pub(crate) fn peer_view(lines: &[String]) -> PeerView {
    let mut view = PeerView::default();
    for line in lines {
        let fields: Vec<&str> = line.splitn(3, '\t').collect();
        match fields.as_slice() {
            ["assigned", list] => {
                view.assignment.extend(parse_partitions(list));
                view.assignments += 1;
            }
            ["assigned"] => view.assignments += 1,
            ["revoked" | "lost", list] => {
                for p in parse_partitions(list) {
                    view.assignment.remove(&p);
                }
            }
            ["revoked" | "lost"] => {}
            [p, o, v] => view.records.push((
                p.parse().expect("partition"),
                o.parse().expect("offset"),
                (*v).to_owned(),
            )),
            _ => panic!("unexpected peer line {line:?}"),
        }
    }
    view
}

/// Produces `PER_PARTITION` records to every partition: round `round`'s
/// record `j` of partition `p` is `v{round}-{p}-{j}` at offset
/// `round * PER_PARTITION + j`.
pub(crate) async fn produce_round(client: &Client, topic: &str, round: i64) {
    let producer = Producer::new(client.clone(), ProducerConfig::default()).expect("producer");
    let mut deliveries = Vec::new();
    for j in 0..PER_PARTITION {
        for p in 0..PARTITIONS {
            let record = ProducerRecord::new(topic)
                .partition(p)
                .value(format!("v{round}-{p}-{j}"));
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

pub(crate) fn expected_value(partition: i32, offset: i64) -> String {
    format!(
        "v{}-{partition}-{}",
        offset / PER_PARTITION,
        offset % PER_PARTITION
    )
}

fn member(client: &Client, group: &str) -> GroupConsumer {
    let consumer = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    // Default assignors: range and cooperative-sticky; the peers offer
    // only range, so the group must pick range.
    let config = GroupConfig::new(group)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .max_poll_interval(Duration::from_secs(20))
        .enable_auto_commit(false);
    GroupConsumer::new(client.clone(), consumer, config).expect("group consumer")
}

/// The kafkacc side of the test: the member and what it has read.
struct Ours {
    consumer: Option<GroupConsumer>,
    records: Vec<(i32, i64, String)>,
}

impl Ours {
    /// One poll (commit after a non-empty batch), or a short sleep while
    /// kafkacc has not joined yet.
    async fn step(&mut self) {
        let Some(consumer) = self.consumer.as_mut() else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            return;
        };
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        if !batch.is_empty() {
            for r in batch {
                let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
                self.records
                    .push((r.partition, r.offset, value.into_owned()));
            }
            consumer.commit().await.expect("commit");
        }
    }

    fn assignment(&self) -> BTreeSet<i32> {
        self.consumer
            .as_ref()
            .map(|c| c.assignment().iter().map(|tp| tp.partition).collect())
            .unwrap_or_default()
    }
}

async fn mixed_group(peer_kind: Peer, first: First) {
    let _log = log_on_failure();
    let client = client().await;
    let topic = unique_name(&format!("mixed-{peer_kind:?}-{first:?}").to_lowercase());
    let group = unique_name("mixed-group");
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, PARTITIONS))
        .await
        .expect("create topic");
    produce_round(&client, &topic, 0).await;

    let mut ours = Ours {
        consumer: None,
        records: Vec::new(),
    };
    let mut peer: Option<PeerProcess> = None;
    let context = format!("{peer_kind:?}, {first:?} joins first");

    // The first member joins alone and gets every partition.
    match first {
        First::Kafkacc => {
            let mut consumer = member(&client, &group);
            consumer.subscribe(&[&topic]).expect("subscribe");
            ours.consumer = Some(consumer);
            let deadline = Instant::now() + Duration::from_secs(60);
            while ours.assignment().len() != PARTITIONS as usize {
                assert!(
                    Instant::now() < deadline,
                    "{context}: kafkacc never got the topic"
                );
                ours.step().await;
            }
            peer = Some(peer_kind.spawn(&topic, &group, "range"));
        }
        First::Peer => {
            let p = peer.insert(peer_kind.spawn(&topic, &group, "range"));
            let deadline = Instant::now() + Duration::from_secs(90);
            while peer_view(&p.lines()).assignment.len() != PARTITIONS as usize {
                assert!(
                    Instant::now() < deadline && !p.has_exited(),
                    "{context}: the peer never got the topic; stderr {:?}",
                    p.stderr()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let mut consumer = member(&client, &group);
            consumer.subscribe(&[&topic]).expect("subscribe");
            ours.consumer = Some(consumer);
        }
    }
    let Some(p) = peer.as_mut() else {
        unreachable!("spawned above")
    };

    // Both join; the group settles on 3 + 3 disjoint partitions.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut stable = 0;
    let (our_part, peer_part) = loop {
        ours.step().await;
        let view = peer_view(&p.lines());
        let mine = ours.assignment();
        assert!(
            Instant::now() < deadline && !p.has_exited(),
            "{context}: no settled split; kafkacc {mine:?}, peer {:?} ({} assignments); peer stderr {:?}",
            view.assignment,
            view.assignments,
            p.stderr()
        );
        assert!(
            mine.is_disjoint(&view.assignment),
            "{context}: overlap: kafkacc {mine:?}, peer {:?}",
            view.assignment
        );
        let split = mine.len() == 3 && view.assignment.len() == 3;
        stable = if split { stable + 1 } else { 0 };
        if stable >= 5 {
            break (mine, view.assignment);
        }
    };

    // Records written now go to both members.
    produce_round(&client, &topic, 1).await;
    let total = (PARTITIONS as i64 * 2 * PER_PARTITION) as usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        ours.step().await;
        let view = peer_view(&p.lines());
        let distinct: BTreeSet<(i32, i64)> = ours
            .records
            .iter()
            .chain(&view.records)
            .map(|(p, o, _)| (*p, *o))
            .collect();
        if distinct.len() >= total {
            break;
        }
        assert!(
            Instant::now() < deadline && !p.has_exited(),
            "{context}: {} of {total} records read (kafkacc {}, peer {}); peer stderr {:?}",
            distinct.len(),
            ours.records.len(),
            view.records.len(),
            p.stderr()
        );
        // The split must hold while the records come in.
        assert_eq!(
            ours.assignment(),
            our_part,
            "{context}: kafkacc assignment moved"
        );
    }
    // Anything read twice would show up by now.
    for _ in 0..5 {
        ours.step().await;
    }
    let (lines, clean) = p.stop(Duration::from_secs(20));
    assert!(clean, "{context}: the peer exited with an error");
    if let Some(consumer) = ours.consumer.take() {
        consumer.close().await.expect("close");
    }

    let view = peer_view(&lines);
    assert_eq!(
        view.assignment,
        BTreeSet::new(),
        "the peer gave up its partitions on leaving"
    );
    let mut seen: BTreeMap<(i32, i64), Vec<&str>> = BTreeMap::new();
    for (side, records) in [("kafkacc", &ours.records), ("peer", &view.records)] {
        for (partition, offset, value) in records {
            assert_eq!(
                *value,
                expected_value(*partition, *offset),
                "{context}: {side} read {partition}/{offset}"
            );
            seen.entry((*partition, *offset)).or_default().push(side);
        }
    }
    let twice: Vec<_> = seen.iter().filter(|(_, by)| by.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "{context}: read more than once: {twice:?}"
    );
    assert_eq!(seen.len(), total, "{context}: every record read");
    assert_eq!(
        seen.keys().next_back(),
        Some(&(PARTITIONS - 1, 2 * PER_PARTITION - 1))
    );

    // The second round went to the settled owners: both sides read some.
    let round_two = |records: &[(i32, i64, String)]| -> BTreeSet<i32> {
        records
            .iter()
            .filter(|(_, o, _)| *o >= PER_PARTITION)
            .map(|(p, _, _)| *p)
            .collect()
    };
    assert_eq!(
        round_two(&ours.records),
        our_part,
        "{context}: kafkacc's round two"
    );
    assert_eq!(
        round_two(&view.records),
        peer_part,
        "{context}: the peer's round two"
    );
    assert_eq!(
        our_part.union(&peer_part).count(),
        PARTITIONS as usize,
        "{context}: every partition owned"
    );

    // Both sides committed what they read.
    let committed = committed_offsets(&client, &group, &topic)
        .await
        .expect("committed offsets");
    let expected: BTreeMap<i32, i64> = (0..PARTITIONS).map(|p| (p, 2 * PER_PARTITION)).collect();
    assert_eq!(committed, expected, "{context}: committed offsets");
}

#[tokio::test]
async fn java_member_joins_a_kafkacc_group() {
    mixed_group(Peer::Java, First::Kafkacc).await;
}

#[tokio::test]
async fn kafkacc_joins_a_java_group() {
    mixed_group(Peer::Java, First::Peer).await;
}

#[tokio::test]
async fn librdkafka_member_joins_a_kafkacc_group() {
    mixed_group(Peer::Librdkafka, First::Kafkacc).await;
}

#[tokio::test]
async fn kafkacc_joins_a_librdkafka_group() {
    mixed_group(Peer::Librdkafka, First::Peer).await;
}

#[tokio::test]
async fn kcat_member_joins_a_kafkacc_group() {
    mixed_group(Peer::Kcat, First::Kafkacc).await;
}

#[tokio::test]
async fn kafkacc_joins_a_kcat_group() {
    mixed_group(Peer::Kcat, First::Peer).await;
}
