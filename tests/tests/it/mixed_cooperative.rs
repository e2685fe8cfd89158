//! Mixed cooperative groups (KIP-429): kafkacc members with
//! `cooperative-sticky` and a Java (`CooperativeStickyAssignor`) or
//! librdkafka (`cooperative-sticky`) member in one classic group on a
//! 6-partition topic, in both join orders (so each side leads).
//!
//! Members join and leave one at a time: the first member holds all six
//! partitions, the second joins (3 + 3, and the first keeps three
//! throughout: cooperative members give up only what moves), a second
//! kafkacc member joins (2 + 2 + 2) and leaves again (3 + 3). At no point
//! do two members own one partition, and every record is consumed exactly
//! once: the committed offsets end at the log end of every partition.

use crate::client;
use crate::mixed_group::{
    First, PARTITIONS, PER_PARTITION, Peer, expected_value, peer_view, produce_round,
};
use kafkacc::group::assignor::CooperativeStickyAssignor;
use kafkacc::group::committed_offsets;
use kafkacc::{Admin, Client, ConsumerConfig, GroupConfig, GroupConsumer, NewTopic, OffsetReset};
use kafkacc_tests::peer::PeerProcess;
use kafkacc_tests::{log_on_failure, unique_name};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROUNDS: i64 = 3;

fn cooperative_member(client: &Client, group: &str) -> GroupConsumer {
    let consumer = ConsumerConfig::default()
        .auto_offset_reset(OffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100));
    let config = GroupConfig::new(group)
        .session_timeout(Duration::from_secs(6))
        .heartbeat_interval(Duration::from_secs(1))
        .max_poll_interval(Duration::from_secs(20))
        .enable_auto_commit(false)
        .assignors(vec![Arc::new(CooperativeStickyAssignor)]);
    GroupConsumer::new(client.clone(), consumer, config).expect("group consumer")
}

/// The kafkacc members (a slot stays `None` once its member left) and
/// everything they read.
struct Ours {
    client: Client,
    group: String,
    topic: String,
    members: Vec<Option<GroupConsumer>>,
    records: Vec<(i32, i64, String)>,
}

impl Ours {
    fn join(&mut self) -> usize {
        let mut member = cooperative_member(&self.client, &self.group);
        member.subscribe(&[&self.topic]).expect("subscribe");
        self.members.push(Some(member));
        self.members.len() - 1
    }

    async fn leave(&mut self, index: usize) {
        if let Some(member) = self.members[index].take() {
            member.close().await.expect("close");
        }
    }

    /// One poll per member (a commit after a non-empty batch).
    async fn step(&mut self) {
        if self.members.iter().all(Option::is_none) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for member in self.members.iter_mut().flatten() {
            let batch = member.poll(Duration::from_millis(100)).await.expect("poll");
            if batch.is_empty() {
                continue;
            }
            for r in batch {
                let value = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default());
                self.records
                    .push((r.partition, r.offset, value.into_owned()));
            }
            member.commit().await.expect("commit");
        }
    }

    /// Each present member's partitions.
    fn assignments(&self) -> Vec<BTreeSet<i32>> {
        self.members
            .iter()
            .flatten()
            .map(|m| m.assignment().iter().map(|tp| tp.partition).collect())
            .collect()
    }
}

/// Everyone's partitions, kafkacc's first and the peer's last; panics when
/// a partition has two owners.
fn owners(ours: &Ours, peer: &PeerProcess, context: &str) -> Vec<BTreeSet<i32>> {
    let mut all = ours.assignments();
    all.push(peer_view(&peer.lines()).assignment);
    let mut seen = BTreeSet::new();
    for set in &all {
        for p in set {
            assert!(
                seen.insert(*p),
                "{context}: partition {p} owned twice: {all:?}"
            );
        }
    }
    all
}

/// Steps until the members' partition counts are `sizes` (any order,
/// covering every partition) for 5 steps in a row; `check` sees every
/// step's owners.
async fn settle(
    ours: &mut Ours,
    peer: &mut PeerProcess,
    sizes: &[usize],
    context: &str,
    mut check: impl FnMut(&[BTreeSet<i32>]),
) {
    let mut want = sizes.to_vec();
    want.sort_unstable();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut stable = 0;
    while stable < 5 {
        ours.step().await;
        let all = owners(ours, peer, context);
        check(&all);
        let mut got: Vec<usize> = all.iter().map(BTreeSet::len).filter(|n| *n > 0).collect();
        got.sort_unstable();
        let covered = all.iter().map(BTreeSet::len).sum::<usize>() == PARTITIONS as usize;
        stable = if got == want && covered {
            stable + 1
        } else {
            0
        };
        assert!(
            Instant::now() < deadline && !peer.has_exited(),
            "{context}: no split {want:?} within 90 s: {all:?}; peer stderr {:?}",
            peer.stderr()
        );
    }
}

async fn cooperative_group(peer_kind: Peer, first: First) {
    let _log = log_on_failure();
    let client = client().await;
    let topic = unique_name(&format!("coop-{peer_kind:?}-{first:?}").to_lowercase());
    let group = unique_name("coop-group");
    Admin::new(client.clone())
        .create_topic(NewTopic::new(&topic, PARTITIONS))
        .await
        .expect("create topic");
    produce_round(&client, &topic, 0).await;
    let mut ours = Ours {
        client: client.clone(),
        group: group.clone(),
        topic: topic.clone(),
        members: Vec::new(),
        records: Vec::new(),
    };
    let context = format!("cooperative {peer_kind:?}, {first:?} joins first");
    let spawn = || peer_kind.spawn(&topic, &group, "cooperative-sticky");

    // The first member gets all six partitions.
    let mut peer = match first {
        First::Kafkacc => {
            ours.join();
            let deadline = Instant::now() + Duration::from_secs(60);
            while ours.assignments().first().map(BTreeSet::len) != Some(PARTITIONS as usize) {
                assert!(
                    Instant::now() < deadline,
                    "{context}: kafkacc never got the topic"
                );
                ours.step().await;
            }
            spawn()
        }
        First::Peer => {
            let mut p = spawn();
            let deadline = Instant::now() + Duration::from_secs(90);
            while peer_view(&p.lines()).assignment.len() != PARTITIONS as usize {
                assert!(
                    Instant::now() < deadline && !p.has_exited(),
                    "{context}: the peer never got the topic; stderr {:?}",
                    p.stderr()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            ours.join();
            p
        }
    };

    // The second joins: 3 + 3. The first member keeps its three all along
    // (an eager member would drop to none while the group rebalances).
    let first_index = match first {
        First::Kafkacc => 0,
        First::Peer => 1, // the peer's set comes after kafkacc's one
    };
    settle(&mut ours, &mut peer, &[3, 3], &context, |all| {
        assert!(
            all[first_index].len() >= 3,
            "{context}: the first member gave up more than it had to: {all:?}"
        );
    })
    .await;

    // Records arrive while a second kafkacc member joins (2 + 2 + 2) ...
    produce_round(&client, &topic, 1).await;
    let third = ours.join();
    settle(&mut ours, &mut peer, &[2, 2, 2], &context, |_| {}).await;
    // ... and leaves again (3 + 3).
    ours.leave(third).await;
    settle(&mut ours, &mut peer, &[3, 3], &context, |_| {}).await;

    produce_round(&client, &topic, 2).await;
    let total = (PARTITIONS as i64 * ROUNDS * PER_PARTITION) as usize;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        ours.step().await;
        let view = peer_view(&peer.lines());
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
            Instant::now() < deadline && !peer.has_exited(),
            "{context}: {} of {total} records read; owners {:?}; peer stderr {:?}",
            distinct.len(),
            owners(&ours, &peer, &context),
            peer.stderr()
        );
    }
    // Anything read twice would show up by now.
    for _ in 0..5 {
        ours.step().await;
    }
    let (lines, clean) = peer.stop(Duration::from_secs(20));
    assert!(clean, "{context}: the peer exited with an error");
    for i in 0..ours.members.len() {
        ours.leave(i).await;
    }

    let view = peer_view(&lines);
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
    assert!(
        !view.records.is_empty() && !ours.records.is_empty(),
        "{context}: both sides read"
    );
    let committed = committed_offsets(&client, &group, &topic)
        .await
        .expect("committed offsets");
    let expected: BTreeMap<i32, i64> = (0..PARTITIONS)
        .map(|p| (p, ROUNDS * PER_PARTITION))
        .collect();
    assert_eq!(committed, expected, "{context}: committed offsets");
}

#[tokio::test]
async fn cooperative_java_member_joins_a_kafkacc_group() {
    cooperative_group(Peer::Java, First::Kafkacc).await;
}

#[tokio::test]
async fn cooperative_kafkacc_joins_a_java_group() {
    cooperative_group(Peer::Java, First::Peer).await;
}

#[tokio::test]
async fn cooperative_librdkafka_member_joins_a_kafkacc_group() {
    cooperative_group(Peer::Librdkafka, First::Kafkacc).await;
}

#[tokio::test]
async fn cooperative_kafkacc_joins_a_librdkafka_group() {
    cooperative_group(Peer::Librdkafka, First::Peer).await;
}
