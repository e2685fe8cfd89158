//! Fuzzing entry points into the crate-private membership machines. Built
//! only with `--cfg fuzzing` (cargo-fuzz sets it); normal builds never see
//! this module. Each function decodes arbitrary bytes into an event
//! sequence, the same shape as the proptests in `classic_tests.rs` and
//! `consumer848_tests.rs`, and panics on any broken invariant: a partition
//! reported owned twice, a revocation or loss of something not owned, or a
//! commit without a real generation/epoch. (The proptests also compare the
//! model with `owned()`, which is `#[cfg(test)]` and so not reachable here.)

use super::assignor::{
    Assignment, Assignor, CooperativeStickyAssignor, RangeAssignor, Subscription, TopicPartition,
    decode_subscription, encode_assignment, encode_subscription,
};
use super::classic::{ClassicMember, MemberConfig};
use super::consumer848::{Consumer848Member, Member848Config};
use super::io::{GroupEvent, Membership, Outgoing, Request, Response, Token};
use super::scripted::{commit_resp, fetch_resp, find_err, find_ok, tp};
use crate::error::Error;
use kafkacc_protocol::generated::consumer_group_heartbeat_response::{
    Assignment as HbAssignment, TopicPartitions,
};
use kafkacc_protocol::generated::join_group_response::JoinGroupResponseMember;
use kafkacc_protocol::messages::{
    ConsumerGroupHeartbeatResponse, HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse,
    SyncGroupResponse,
};
use kafkacc_protocol::{ErrorCode, Uuid};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Reads the fuzz input a byte at a time; zeros once it runs out.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn done(&self) -> bool {
        self.0.is_empty()
    }

    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// Up to five partitions of "t", numbered 0..6.
    fn partitions(&mut self) -> Vec<i32> {
        let n = self.u8() % 6;
        (0..n).map(|_| i32::from(self.u8() % 6)).collect()
    }
}

/// One step of a sequence (shared by both machines).
enum Op {
    /// Answer the i-th outstanding request with error choice `c`.
    Respond(usize, u8, Vec<i32>),
    /// The i-th outstanding request's connection fails.
    Fail(usize),
    Advance(u16),
    Commit,
    RevokeDone,
    Poll,
    Subscribe(bool),
    Leave,
}

/// Weights close to the proptests' `op()`.
fn next_op(b: &mut Bytes<'_>, max_advance_ms: u16) -> Op {
    match b.u8() % 20 {
        0..=7 => Op::Respond(usize::from(b.u8()), b.u8(), b.partitions()),
        8 => Op::Fail(usize::from(b.u8())),
        9..=12 => Op::Advance(b.u16() % max_advance_ms),
        13 => Op::Commit,
        14 | 15 => Op::RevokeDone,
        16 | 17 => Op::Poll,
        18 => Op::Subscribe(b.u8() % 2 == 1),
        _ => Op::Leave,
    }
}

fn disconnected() -> Error {
    Error::Disconnected {
        addr: "x".into(),
        reason: "eof".into(),
    }
}

/// The ownership model both machines are checked against.
#[derive(Default)]
struct Model {
    owned: BTreeSet<TopicPartition>,
    pending_revoke: bool,
    dead: bool,
}

impl Model {
    fn apply(&mut self, event: GroupEvent) {
        match event {
            GroupEvent::Assigned { partitions, .. } => {
                assert!(!self.dead, "assigned after the member died");
                for p in partitions {
                    assert!(self.owned.insert(p.clone()), "{p} assigned while owned");
                }
            }
            GroupEvent::Revoked { partitions } => {
                assert!(
                    partitions.is_subset(&self.owned),
                    "revoked {partitions:?} not owned {:?}",
                    self.owned
                );
                self.owned.retain(|p| !partitions.contains(p));
                self.pending_revoke = true;
            }
            GroupEvent::Lost { partitions } => {
                assert!(
                    partitions.is_subset(&self.owned),
                    "lost {partitions:?} not owned {:?}",
                    self.owned
                );
                self.owned.retain(|p| !partitions.contains(p));
            }
            GroupEvent::Left => {
                self.owned.clear();
                self.dead = true;
            }
            GroupEvent::Fatal(_) => {
                assert!(self.owned.is_empty(), "fatal while owning {:?}", self.owned);
                self.dead = true;
            }
            GroupEvent::Committed { .. } | GroupEvent::CommitDone { .. } => {}
        }
    }
}

// ----- responses -------------------------------------------------------------

// ----- classic -----------------------------------------------------------------

fn classic_config(cooperative: bool, instance: Option<&str>) -> MemberConfig {
    let assignors: Vec<Arc<dyn Assignor>> = if cooperative {
        vec![Arc::new(CooperativeStickyAssignor)]
    } else {
        vec![Arc::new(RangeAssignor), Arc::new(CooperativeStickyAssignor)]
    };
    MemberConfig {
        group_id: "g".into(),
        group_instance_id: instance.map(str::to_owned),
        session_timeout: Duration::from_secs(10),
        max_poll_interval: Duration::from_secs(60),
        heartbeat_interval: Duration::from_secs(3),
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_millis(1000),
        assignors,
        rack_id: None,
        metadata_max_age: Duration::from_secs(300),
    }
}

fn classic_error(choice: u8) -> ErrorCode {
    match choice % 14 {
        0..=5 => ErrorCode::NONE,
        6 => ErrorCode::REBALANCE_IN_PROGRESS,
        7 => ErrorCode::UNKNOWN_MEMBER_ID,
        8 => ErrorCode::ILLEGAL_GENERATION,
        9 => ErrorCode::NOT_COORDINATOR,
        10 => ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        11 => ErrorCode::MEMBER_ID_REQUIRED,
        12 => ErrorCode::COORDINATOR_NOT_AVAILABLE,
        _ => ErrorCode::FENCED_INSTANCE_ID,
    }
}

/// A plausible coordinator answer to `request` (as in `classic_tests.rs`).
fn classic_answer(
    request: &Request,
    code: ErrorCode,
    partitions: &[i32],
    generation: &mut i32,
) -> Response {
    match request {
        Request::FindCoordinator(_) if code.is_ok() => find_ok(),
        Request::FindCoordinator(_) => find_err(ErrorCode::COORDINATOR_NOT_AVAILABLE),
        Request::Metadata { .. } => Response::Metadata(BTreeMap::from([("t".to_owned(), 6)])),
        Request::JoinGroup(j) if code.is_ok() => {
            *generation += 1;
            let protocol = j.protocols.first();
            let s: Subscription = protocol
                .and_then(|p| decode_subscription(p.metadata.clone()).ok())
                .unwrap_or_default();
            let leader = if partitions.len() % 2 == 0 {
                "m1"
            } else {
                "other"
            };
            Response::JoinGroup(JoinGroupResponse {
                generation_id: *generation,
                protocol_name: Some(protocol.map_or_else(|| "range".into(), |p| p.name.clone())),
                leader: leader.into(),
                member_id: "m1".into(),
                members: encode_subscription(&s)
                    .ok()
                    .map(|metadata| JoinGroupResponseMember {
                        member_id: "m1".into(),
                        metadata,
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            })
        }
        Request::JoinGroup(_) => Response::JoinGroup(JoinGroupResponse {
            error_code: code.0,
            generation_id: -1,
            member_id: "m1".into(),
            ..Default::default()
        }),
        Request::SyncGroup(_) if code.is_ok() => {
            let assignment = Assignment {
                partitions: partitions.iter().map(|p| tp(*p)).collect(),
                user_data: None,
            };
            Response::SyncGroup(SyncGroupResponse {
                assignment: encode_assignment(&assignment).unwrap_or_default(),
                ..Default::default()
            })
        }
        Request::SyncGroup(_) => Response::SyncGroup(SyncGroupResponse {
            error_code: code.0,
            ..Default::default()
        }),
        Request::Heartbeat(_) => Response::Heartbeat(HeartbeatResponse {
            error_code: code.0,
            ..Default::default()
        }),
        Request::LeaveGroup(_) => Response::LeaveGroup(LeaveGroupResponse {
            error_code: code.0,
            ..Default::default()
        }),
        Request::OffsetCommit(c) => commit_resp(
            &c.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.partition_index))
                .collect::<Vec<_>>(),
            code,
        ),
        Request::OffsetFetch(f) => {
            let parts: Vec<(i32, i64)> = f
                .groups
                .iter()
                .flat_map(|g| g.topics.iter().flatten())
                .flat_map(|t| t.partition_indexes.iter().map(|p| (*p, 3)))
                .collect();
            let code = if code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
                || code == ErrorCode::NOT_COORDINATOR
            {
                code
            } else {
                ErrorCode::NONE
            };
            fetch_resp(&parts, code)
        }
        Request::ConsumerGroupHeartbeat(_) | Request::TopicIds { .. } => {
            panic!("the classic machine sent {}", request.name())
        }
    }
}

/// Byte 0: bit 0 cooperative, bit 1 static. Then one op after another (see
/// `next_op`) until the input runs out.
pub fn run_classic(data: &[u8]) {
    let mut b = Bytes(data);
    let flags = b.u8();
    let cooperative = flags & 1 == 1;
    let instance = (flags & 2 == 2).then_some("inst");
    let mut m = ClassicMember::new(classic_config(cooperative, instance));
    let mut now = Instant::now();
    m.subscribe(now, ["t".to_owned()]);
    let mut outstanding: Vec<(Token, Outgoing)> = Vec::new();
    let mut model = Model::default();
    let mut generation = 0;
    while !b.done() {
        match next_op(&mut b, 12_000) {
            Op::Respond(i, c, parts) if !outstanding.is_empty() => {
                let (t, o) = outstanding.remove(i % outstanding.len());
                let response =
                    classic_answer(&o.request, classic_error(c), &parts, &mut generation);
                m.handle_response(now, t, response);
            }
            Op::Fail(i) if !outstanding.is_empty() => {
                let (t, _) = outstanding.remove(i % outstanding.len());
                m.handle_error(now, t, disconnected());
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms));
                m.handle_timeout(now);
            }
            Op::Commit => {
                m.commit(now, model.owned.iter().map(|tp| (tp.clone(), 1)).collect());
            }
            Op::RevokeDone if model.pending_revoke => {
                model.pending_revoke = false;
                m.revoke_done(now, BTreeMap::from([(tp(0), 5)]));
            }
            Op::Poll => m.poll_activity(now),
            Op::Subscribe(two) => {
                let topics: Vec<String> = if two {
                    vec!["t".into(), "u".into()]
                } else {
                    vec!["t".into()]
                };
                m.subscribe(now, topics);
            }
            Op::Leave => {
                // The caller has released everything before leaving.
                m.leave();
                model.owned.clear();
            }
            _ => {}
        }
        // The driver handles a due timeout at once, as its timer would.
        if m.poll_timeout().is_some_and(|at| at <= now) {
            m.handle_timeout(now);
        }
        outstanding.extend(std::iter::from_fn(|| m.poll_request()));
        while let Some(event) = m.poll_event() {
            model.apply(event);
        }
        if let Some(at) = m.poll_timeout() {
            // A handled timeout is gone, or the driver would spin.
            assert!(at > now, "asks to be woken in the past");
        }
        for (_, o) in &outstanding {
            if let Request::OffsetCommit(c) = &o.request {
                assert!(
                    c.generation_id_or_member_epoch >= 0,
                    "commit with generation {}",
                    c.generation_id_or_member_epoch
                );
            }
        }
    }
}

// ----- KIP-848 -------------------------------------------------------------------

const MEMBER: &str = "member-1";

fn topic_id() -> Uuid {
    Uuid::from(0x1234_u128)
}

fn config_848(instance: Option<&str>) -> Member848Config {
    Member848Config {
        group_id: "g".into(),
        member_id: MEMBER.into(),
        group_instance_id: instance.map(str::to_owned),
        rack_id: None,
        server_assignor: None,
        max_poll_interval: Duration::from_secs(60),
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_millis(1000),
    }
}

fn error_848(c: u8) -> ErrorCode {
    match c % 40 {
        0 => ErrorCode::FENCED_MEMBER_EPOCH,
        1 => ErrorCode::UNKNOWN_MEMBER_ID,
        2 => ErrorCode::NOT_COORDINATOR,
        3 => ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        4 => ErrorCode::STALE_MEMBER_EPOCH,
        5 => ErrorCode::COORDINATOR_NOT_AVAILABLE,
        6 => ErrorCode::UNRELEASED_INSTANCE_ID,
        _ => ErrorCode::NONE,
    }
}

fn answer_848(request: &Request, code: ErrorCode, parts: &[i32], epoch: &mut i32) -> Response {
    match request {
        Request::FindCoordinator(_) => find_ok(),
        Request::TopicIds { .. } => {
            Response::TopicIds(BTreeMap::from([("t".to_owned(), topic_id())]))
        }
        Request::ConsumerGroupHeartbeat(_) if code.is_ok() => {
            *epoch += 1;
            Response::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
                member_id: Some(MEMBER.into()),
                member_epoch: *epoch,
                heartbeat_interval_ms: 2_000,
                assignment: Some(HbAssignment {
                    topic_partitions: vec![TopicPartitions {
                        topic_id: topic_id(),
                        partitions: parts.into(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            })
        }
        Request::ConsumerGroupHeartbeat(_) => {
            Response::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
                error_code: code.0,
                member_epoch: -1,
                ..Default::default()
            })
        }
        Request::OffsetCommit(_) => commit_resp(&[0], code),
        Request::OffsetFetch(_) => fetch_resp(&[(0, 1), (1, 2)], ErrorCode::NONE),
        other => panic!("the KIP-848 machine sent {}", other.name()),
    }
}

/// Byte 0: bit 1 static. Then ops as for `run_classic` (subscription
/// changes are ignored, as in the proptest).
pub fn run_848(data: &[u8]) {
    let mut b = Bytes(data);
    let instance = (b.u8() & 2 == 2).then_some("inst");
    let mut m = Consumer848Member::new(config_848(instance));
    let mut now = Instant::now();
    m.subscribe(now, vec!["t".into()]);
    let mut outstanding: Vec<(Token, Outgoing)> = Vec::new();
    let mut model = Model::default();
    let mut epoch = 0;
    while !b.done() {
        match next_op(&mut b, 6_000) {
            Op::Respond(i, c, parts) if !outstanding.is_empty() => {
                let (t, o) = outstanding.remove(i % outstanding.len());
                let response = answer_848(&o.request, error_848(c), &parts, &mut epoch);
                m.handle_response(now, t, response);
            }
            Op::Fail(i) if !outstanding.is_empty() => {
                let (t, _) = outstanding.remove(i % outstanding.len());
                m.handle_error(now, t, disconnected());
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms));
                m.handle_timeout(now);
            }
            Op::Commit => {
                m.commit(now, model.owned.iter().map(|tp| (tp.clone(), 1)).collect());
            }
            Op::RevokeDone if model.pending_revoke => {
                model.pending_revoke = false;
                m.revoke_done(now, BTreeMap::from([(tp(0), 5)]));
            }
            Op::Poll => m.poll_activity(now),
            Op::Leave => {
                m.leave(now);
                model.owned.clear();
            }
            _ => {}
        }
        outstanding.extend(std::iter::from_fn(|| m.poll_request()));
        while let Some(event) = m.poll_event() {
            model.apply(event);
        }
        for (_, o) in &outstanding {
            match &o.request {
                // Commits only with a real member epoch.
                Request::OffsetCommit(c) => assert!(
                    c.generation_id_or_member_epoch > 0,
                    "commit with epoch {}",
                    c.generation_id_or_member_epoch
                ),
                // Never reports a partition it does not hold.
                Request::ConsumerGroupHeartbeat(hb) if hb.member_epoch == 0 => assert!(
                    hb.topic_partitions
                        .iter()
                        .flatten()
                        .all(|t| t.partitions.is_empty()),
                    "joins reporting partitions"
                ),
                _ => {}
            }
        }
    }
}
