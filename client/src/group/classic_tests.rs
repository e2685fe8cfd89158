//! Scripted-coordinator tests of the classic membership machine: every
//! transition and error, with a fake clock (no broker, no sleeps), and a
//! proptest of random event sequences against an ownership model.

use super::assignor::{
    Assignor, CooperativeStickyAssignor, RangeAssignor, Subscription, TopicPartition,
    decode_assignment, decode_subscription, encode_assignment, encode_subscription,
};
use super::classic::{ClassicMember, MemberConfig};
use super::io::{Dest, GroupEvent, Outgoing, Request, Response, Token, fit_to_version};
use super::scripted::{commit_resp, fetch_ok, find_err, find_ok, set, tp};
use crate::error::Error;
use bytes::Bytes;
use kafkacc_protocol::ErrorCode;
use kafkacc_protocol::generated::join_group_response::JoinGroupResponseMember;
use kafkacc_protocol::messages::{
    HeartbeatResponse, JoinGroupResponse, LeaveGroupResponse, SyncGroupResponse,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

const SESSION: Duration = Duration::from_secs(10);
const HEARTBEAT: Duration = Duration::from_secs(3);
const MAX_POLL: Duration = Duration::from_secs(60);
const BACKOFF_MAX: Duration = Duration::from_millis(1000);

fn config(cooperative: bool, instance: Option<&str>) -> MemberConfig {
    let assignors: Vec<Arc<dyn Assignor>> = if cooperative {
        vec![Arc::new(CooperativeStickyAssignor)]
    } else {
        vec![Arc::new(RangeAssignor), Arc::new(CooperativeStickyAssignor)]
    };
    MemberConfig {
        group_id: "g".into(),
        group_instance_id: instance.map(str::to_owned),
        session_timeout: SESSION,
        max_poll_interval: MAX_POLL,
        heartbeat_interval: HEARTBEAT,
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: BACKOFF_MAX,
        assignors,
        rack_id: None,
        metadata_max_age: Duration::from_secs(300),
    }
}

/// A member and a fake clock.
struct H {
    m: ClassicMember,
    now: Instant,
}

impl H {
    fn new(cooperative: bool, instance: Option<&str>) -> H {
        H {
            m: ClassicMember::new(config(cooperative, instance)),
            now: Instant::now(),
        }
    }

    fn requests(&mut self) -> Vec<(Token, Outgoing)> {
        std::iter::from_fn(|| self.m.poll_request()).collect()
    }

    /// Exactly one request is queued, named `name`.
    fn expect(&mut self, name: &str) -> (Token, Outgoing) {
        let mut all = self.requests();
        let names: Vec<&str> = all.iter().map(|(_, o)| o.request.name()).collect();
        assert_eq!(names, vec![name], "in state {}", self.m.state_name());
        all.remove(0)
    }

    fn expect_none(&mut self) {
        let all = self.requests();
        assert!(
            all.is_empty(),
            "unexpected {:?}",
            all.iter()
                .map(|(_, o)| o.request.name())
                .collect::<Vec<_>>()
        );
    }

    fn events(&mut self) -> Vec<GroupEvent> {
        std::iter::from_fn(|| self.m.poll_event()).collect()
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        self.m.handle_timeout(self.now);
    }

    fn respond(&mut self, token: Token, response: Response) {
        self.m.handle_response(self.now, token, response);
    }

    fn subscribe(&mut self) {
        self.m.subscribe(self.now, ["t".to_owned()]);
    }

    /// FindCoordinator → node 1.
    fn find(&mut self) {
        let (t, o) = self.expect("FindCoordinator");
        assert_eq!(o.dest, Dest::AnyBroker);
        self.respond(t, find_ok());
    }

    /// From Unjoined to Stable as a follower with `partitions`.
    fn join_as_follower(&mut self, generation: i32, partitions: &[i32]) {
        self.subscribe();
        self.find();
        let (t, _) = self.expect("JoinGroup");
        self.respond(t, join_ok(generation, "m1", "other", &[]));
        let (t, o) = self.expect("SyncGroup");
        let Request::SyncGroup(s) = o.request else {
            unreachable!()
        };
        assert!(s.assignments.is_empty());
        self.respond(t, sync_ok(partitions));
        let (t, _) = self.expect("OffsetFetch");
        let offsets: Vec<(i32, i64)> = partitions
            .iter()
            .map(|p| (*p, 10 + i64::from(*p)))
            .collect();
        self.respond(t, fetch_ok(&offsets));
        self.events();
    }
}

fn join_ok(
    generation: i32,
    member: &str,
    leader: &str,
    members: &[(&str, Subscription)],
) -> Response {
    Response::JoinGroup(JoinGroupResponse {
        generation_id: generation,
        protocol_name: Some("range".into()),
        leader: leader.into(),
        member_id: member.into(),
        members: members
            .iter()
            .map(|(id, s)| JoinGroupResponseMember {
                member_id: (*id).into(),
                metadata: encode_subscription(s).unwrap(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

fn join_err(code: ErrorCode, member: &str) -> Response {
    Response::JoinGroup(JoinGroupResponse {
        error_code: code.0,
        generation_id: -1,
        member_id: member.into(),
        ..Default::default()
    })
}

fn sync_ok(partitions: &[i32]) -> Response {
    let assignment = super::assignor::Assignment {
        partitions: partitions.iter().map(|p| tp(*p)).collect(),
        user_data: None,
    };
    Response::SyncGroup(SyncGroupResponse {
        assignment: encode_assignment(&assignment).unwrap(),
        ..Default::default()
    })
}

fn sync_err(code: ErrorCode) -> Response {
    Response::SyncGroup(SyncGroupResponse {
        error_code: code.0,
        ..Default::default()
    })
}

fn hb(code: ErrorCode) -> Response {
    Response::Heartbeat(HeartbeatResponse {
        error_code: code.0,
        ..Default::default()
    })
}

fn owned_in(request: &Request) -> (Vec<TopicPartition>, i32, String) {
    let Request::JoinGroup(j) = request else {
        panic!("not a JoinGroup")
    };
    let s = decode_subscription(j.protocols[0].metadata.clone()).unwrap();
    (
        s.owned_partitions,
        s.generation_id,
        j.member_id.as_str().to_owned(),
    )
}

#[test]
fn follower_joins_syncs_fetches_offsets_and_heartbeats() {
    let mut h = H::new(false, None);
    h.subscribe();
    h.find();
    let (t, o) = h.expect("JoinGroup");
    let Request::JoinGroup(j) = &o.request else {
        unreachable!()
    };
    assert_eq!(j.member_id.as_str(), "");
    assert_eq!(j.session_timeout_ms, 10_000);
    assert_eq!(j.rebalance_timeout_ms, 60_000);
    assert_eq!(j.protocol_type.as_str(), "consumer");
    let names: Vec<&str> = j.protocols.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, vec!["range", "cooperative-sticky"]);
    assert_eq!(
        decode_subscription(j.protocols[0].metadata.clone())
            .unwrap()
            .topics,
        vec!["t"]
    );
    // KIP-394: first join is answered with an id to use.
    h.respond(t, join_err(ErrorCode::MEMBER_ID_REQUIRED, "m1"));
    let (t, o) = h.expect("JoinGroup");
    assert_eq!(owned_in(&o.request).2, "m1");
    h.respond(t, join_ok(5, "m1", "leader-x", &[]));
    let (t, o) = h.expect("SyncGroup");
    let Request::SyncGroup(s) = o.request else {
        unreachable!()
    };
    assert_eq!((s.generation_id, s.member_id.as_str()), (5, "m1"));
    h.respond(t, sync_ok(&[0, 1]));
    let events = h.events();
    assert!(
        matches!(&events[..], [GroupEvent::Assigned { generation: 5, partitions, .. }] if *partitions == set(&[0, 1]))
    );
    assert!(h.m.is_stable());
    let (t, _) = h.expect("OffsetFetch");
    h.respond(t, fetch_ok(&[(0, 42), (1, -1)]));
    let events = h.events();
    let [GroupEvent::Committed { offsets }] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(offsets[&tp(0)], Some(42));
    assert_eq!(offsets[&tp(1)], None);
    // Heartbeats every interval, not before.
    h.advance(HEARTBEAT - Duration::from_millis(1));
    h.expect_none();
    h.advance(Duration::from_millis(1));
    let (t, o) = h.expect("Heartbeat");
    let Request::Heartbeat(b) = o.request else {
        unreachable!()
    };
    assert_eq!((b.generation_id, b.member_id.as_str()), (5, "m1"));
    h.respond(t, hb(ErrorCode::NONE));
    assert_eq!(h.m.poll_timeout(), Some(h.now + HEARTBEAT));
}

#[test]
fn leader_fetches_metadata_and_assigns_with_the_chosen_assignor() {
    let mut h = H::new(false, None);
    h.subscribe();
    h.find();
    let (t, _) = h.expect("JoinGroup");
    let sub = Subscription {
        topics: vec!["t".into()],
        ..Default::default()
    };
    h.respond(t, join_ok(1, "a", "a", &[("a", sub.clone()), ("b", sub)]));
    let (t, o) = h.expect("Metadata");
    assert_eq!(o.dest, Dest::AnyBroker);
    assert_eq!(
        o.request,
        Request::Metadata {
            topics: vec!["t".into()]
        }
    );
    h.respond(t, Response::Metadata(BTreeMap::from([("t".to_owned(), 3)])));
    let (t, o) = h.expect("SyncGroup");
    let Request::SyncGroup(s) = o.request else {
        unreachable!()
    };
    let got: BTreeMap<String, Vec<TopicPartition>> = s
        .assignments
        .iter()
        .map(|a| {
            (
                a.member_id.as_str().to_owned(),
                decode_assignment(a.assignment.clone()).unwrap().partitions,
            )
        })
        .collect();
    assert_eq!(got["a"], vec![tp(0), tp(1)]);
    assert_eq!(got["b"], vec![tp(2)]);
    assert_eq!(s.protocol_name.as_ref().map(|p| p.as_str()), Some("range"));
    h.respond(t, sync_ok(&[0, 1]));
    assert!(h.m.is_stable());
}

#[test]
fn static_leader_told_to_skip_assignment_syncs_as_follower() {
    let mut h = H::new(false, Some("inst-1"));
    h.subscribe();
    h.find();
    let (t, o) = h.expect("JoinGroup");
    let Request::JoinGroup(j) = &o.request else {
        unreachable!()
    };
    assert_eq!(
        j.group_instance_id.as_ref().map(|s| s.as_str()),
        Some("inst-1")
    );
    let Response::JoinGroup(mut r) = join_ok(7, "a", "a", &[]) else {
        unreachable!()
    };
    r.skip_assignment = true;
    h.respond(t, Response::JoinGroup(r));
    let (_, o) = h.expect("SyncGroup");
    let Request::SyncGroup(s) = o.request else {
        unreachable!()
    };
    assert!(s.assignments.is_empty());
    assert_eq!(
        s.group_instance_id.as_ref().map(|s| s.as_str()),
        Some("inst-1")
    );
}

#[test]
fn eager_rebalance_revokes_commits_then_rejoins() {
    let mut h = H::new(false, None);
    h.join_as_follower(5, &[0, 1]);
    h.advance(HEARTBEAT);
    let (t, _) = h.expect("Heartbeat");
    h.respond(t, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    let events = h.events();
    assert!(
        matches!(&events[..], [GroupEvent::Revoked { partitions }] if *partitions == set(&[0, 1]))
    );
    assert!(h.m.owned().is_empty());
    // Nothing is sent until the application gives the partitions up.
    h.expect_none();
    h.m.revoke_done(h.now, BTreeMap::from([(tp(0), 100), (tp(1), 200)]));
    let (t, o) = h.expect("OffsetCommit");
    let Request::OffsetCommit(c) = o.request else {
        unreachable!()
    };
    assert_eq!(
        (c.generation_id_or_member_epoch, c.member_id.as_str()),
        (5, "m1")
    );
    assert_eq!(
        c.topics[0]
            .partitions
            .iter()
            .map(|p| p.committed_offset)
            .collect::<Vec<_>>(),
        vec![100, 200]
    );
    h.respond(t, commit_resp(&[0, 1], ErrorCode::NONE));
    let (_, o) = h.expect("JoinGroup");
    let (owned, generation, member) = owned_in(&o.request);
    assert!(owned.is_empty(), "eager members own nothing while joining");
    assert_eq!((generation, member.as_str()), (5, "m1"));
}

#[test]
fn cooperative_rebalance_keeps_partitions_and_revokes_only_moved_ones() {
    let mut h = H::new(true, None);
    h.join_as_follower(5, &[0, 1, 2]);
    h.advance(HEARTBEAT);
    let (t, _) = h.expect("Heartbeat");
    h.respond(t, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    assert!(h.events().is_empty(), "no revocation up front");
    let (t, o) = h.expect("JoinGroup");
    assert_eq!(owned_in(&o.request).0, vec![tp(0), tp(1), tp(2)]);
    assert_eq!(owned_in(&o.request).1, 5);
    let Response::JoinGroup(mut r) = join_ok(6, "m1", "other", &[]) else {
        unreachable!()
    };
    r.protocol_name = Some("cooperative-sticky".into());
    h.respond(t, Response::JoinGroup(r));
    let (t, _) = h.expect("SyncGroup");
    h.respond(t, sync_ok(&[0, 1]));
    let events = h.events();
    assert!(matches!(&events[0], GroupEvent::Revoked { partitions } if *partitions == set(&[2])));
    assert!(
        matches!(&events[1], GroupEvent::Assigned { generation: 6, partitions, .. } if partitions.is_empty())
    );
    assert_eq!(h.m.owned(), &set(&[0, 1]));
    h.m.revoke_done(h.now, BTreeMap::from([(tp(2), 7)]));
    let (t, o) = h.expect("OffsetCommit");
    let Request::OffsetCommit(c) = o.request else {
        unreachable!()
    };
    assert_eq!(c.generation_id_or_member_epoch, 6);
    h.respond(t, commit_resp(&[2], ErrorCode::NONE));
    // The follow-up rebalance so partition 2 can reach its new owner.
    let (_, o) = h.expect("JoinGroup");
    assert_eq!(owned_in(&o.request).0, vec![tp(0), tp(1)]);
}

#[test]
fn unknown_member_and_illegal_generation_lose_partitions() {
    for (code, keeps_id) in [
        (ErrorCode::UNKNOWN_MEMBER_ID, false),
        (ErrorCode::ILLEGAL_GENERATION, true),
    ] {
        let mut h = H::new(false, None);
        h.join_as_follower(5, &[0]);
        h.advance(HEARTBEAT);
        let (t, _) = h.expect("Heartbeat");
        h.respond(t, hb(code));
        let events = h.events();
        assert!(
            matches!(&events[..], [GroupEvent::Lost { partitions }] if *partitions == set(&[0])),
            "{code}"
        );
        assert_eq!(h.m.generation(), -1);
        let (_, o) = h.expect("JoinGroup");
        let (_, generation, member) = owned_in(&o.request);
        assert_eq!(generation, -1);
        assert_eq!(member == "m1", keeps_id, "{code}");
    }
}

#[test]
fn sync_errors() {
    // REBALANCE_IN_PROGRESS during sync: join again.
    let mut h = H::new(false, None);
    h.subscribe();
    h.find();
    let (t, _) = h.expect("JoinGroup");
    h.respond(t, join_ok(1, "m1", "x", &[]));
    let (t, _) = h.expect("SyncGroup");
    h.respond(t, sync_err(ErrorCode::REBALANCE_IN_PROGRESS));
    let (t, _) = h.expect("JoinGroup");
    h.respond(t, join_ok(2, "m1", "x", &[]));
    let (t, _) = h.expect("SyncGroup");
    // NOT_COORDINATOR: rediscover, then join again.
    h.respond(t, sync_err(ErrorCode::NOT_COORDINATOR));
    h.expect_none();
    h.advance(Duration::from_millis(100));
    h.find();
    let (t, _) = h.expect("JoinGroup");
    h.respond(t, join_ok(3, "m1", "x", &[]));
    let (t, _) = h.expect("SyncGroup");
    h.respond(t, sync_err(ErrorCode::FENCED_INSTANCE_ID));
    assert!(h.m.is_dead());
    assert!(matches!(&h.events()[..], [GroupEvent::Fatal(_)]));
}

#[test]
fn fenced_instance_is_fatal_and_reports_lost() {
    let mut h = H::new(false, Some("i"));
    h.join_as_follower(5, &[0, 1]);
    h.advance(HEARTBEAT);
    let (t, _) = h.expect("Heartbeat");
    h.respond(t, hb(ErrorCode::FENCED_INSTANCE_ID));
    let events = h.events();
    assert!(matches!(&events[0], GroupEvent::Lost { .. }));
    assert!(
        matches!(&events[1], GroupEvent::Fatal(e) if e.code() == Some(ErrorCode::FENCED_INSTANCE_ID))
    );
    assert!(h.m.is_dead());
    h.advance(HEARTBEAT * 10);
    h.expect_none();
    assert_eq!(h.m.poll_timeout(), None);
}

#[test]
fn coordinator_moves_and_loads() {
    let mut h = H::new(false, None);
    h.subscribe();
    // Not available: back off and ask again.
    let (t, _) = h.expect("FindCoordinator");
    h.respond(t, find_err(ErrorCode::COORDINATOR_NOT_AVAILABLE));
    h.expect_none();
    h.advance(BACKOFF_MAX);
    h.find();
    // Loading: JoinGroup backs off and retries against the same coordinator.
    let (t, _) = h.expect("JoinGroup");
    h.respond(t, join_err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS, ""));
    h.expect_none();
    h.advance(BACKOFF_MAX);
    let (t, _) = h.expect("JoinGroup");
    // NOT_COORDINATOR: find it again, then join.
    h.respond(t, join_err(ErrorCode::NOT_COORDINATOR, ""));
    h.advance(Duration::from_millis(100));
    h.find();
    let (t, _) = h.expect("JoinGroup");
    h.respond(t, join_ok(1, "m1", "x", &[]));
    let (t, _) = h.expect("SyncGroup");
    h.respond(t, sync_ok(&[0]));
    let (t, _) = h.expect("OffsetFetch");
    h.respond(t, fetch_ok(&[(0, 1)]));
    h.events();
    // A Stable member whose coordinator moves keeps its generation.
    h.advance(HEARTBEAT);
    let (t, _) = h.expect("Heartbeat");
    h.respond(t, hb(ErrorCode::NOT_COORDINATOR));
    h.advance(Duration::from_millis(100));
    h.find();
    let (_, o) = h.expect("Heartbeat");
    let Request::Heartbeat(b) = o.request else {
        unreachable!()
    };
    assert_eq!(b.generation_id, 1);
    assert!(h.events().is_empty(), "nothing lost");
}

#[test]
fn connection_errors_rediscover_and_resend() {
    let mut h = H::new(false, None);
    h.subscribe();
    let (t, _) = h.expect("FindCoordinator");
    h.m.handle_error(
        h.now,
        t,
        Error::Connect {
            addr: "x".into(),
            reason: "refused".into(),
        },
    );
    h.advance(BACKOFF_MAX);
    h.find();
    let (t, _) = h.expect("JoinGroup");
    h.m.handle_error(
        h.now,
        t,
        Error::Disconnected {
            addr: "x".into(),
            reason: "eof".into(),
        },
    );
    h.expect_none();
    h.advance(Duration::from_millis(100));
    h.find();
    let (t, _) = h.expect("JoinGroup");
    // A late answer to the forgotten request is ignored.
    h.respond(Token(1), join_ok(9, "zzz", "zzz", &[]));
    h.expect_none();
    h.respond(t, join_ok(1, "m1", "x", &[]));
    h.expect("SyncGroup");
    // Unusable errors are fatal.
    let mut h = H::new(false, Some("i"));
    h.subscribe();
    h.find();
    let (t, _) = h.expect("JoinGroup");
    h.m.handle_error(
        h.now,
        t,
        Error::Config("static membership needs a newer broker".into()),
    );
    assert!(h.m.is_dead());
}

#[test]
fn session_timeout_without_heartbeat_answers_loses_membership() {
    let mut h = H::new(false, None);
    h.join_as_follower(5, &[0]);
    h.advance(HEARTBEAT);
    let _unanswered = h.expect("Heartbeat");
    h.advance(SESSION - HEARTBEAT - Duration::from_millis(1));
    h.expect_none();
    h.advance(Duration::from_millis(1));
    let events = h.events();
    assert!(
        matches!(&events[..], [GroupEvent::Lost { .. }]),
        "{events:?}"
    );
    h.advance(Duration::from_millis(100));
    h.find();
    let (_, o) = h.expect("JoinGroup");
    assert_eq!(owned_in(&o.request).2, "", "a fresh member id");
}

#[test]
fn poll_timeout_leaves_and_next_poll_rejoins() {
    let mut h = H::new(false, None);
    h.join_as_follower(5, &[0]);
    // Heartbeats keep going while the application does not poll.
    for _ in 0..19 {
        h.advance(HEARTBEAT);
        let (t, _) = h.expect("Heartbeat");
        h.respond(t, hb(ErrorCode::NONE));
    }
    h.advance(MAX_POLL - HEARTBEAT * 19);
    let all = h.requests();
    assert!(all.iter().any(|(_, o)| o.request.name() == "LeaveGroup"));
    assert!(matches!(&h.events()[..], [GroupEvent::Lost { .. }]));
    h.advance(HEARTBEAT * 5);
    h.expect_none();
    h.m.poll_activity(h.now);
    h.expect("JoinGroup");
}

#[test]
fn dynamic_member_leaves_and_static_member_does_not() {
    let mut h = H::new(false, None);
    h.join_as_follower(5, &[0]);
    h.m.leave();
    let (t, o) = h.expect("LeaveGroup");
    let Request::LeaveGroup(l) = o.request else {
        unreachable!()
    };
    assert_eq!(l.members[0].member_id.as_str(), "m1");
    h.respond(t, Response::LeaveGroup(LeaveGroupResponse::default()));
    assert!(matches!(&h.events()[..], [GroupEvent::Left]));
    assert!(h.m.is_dead());

    let mut h = H::new(false, Some("i"));
    h.join_as_follower(5, &[0]);
    h.m.leave();
    h.expect_none();
    assert!(matches!(&h.events()[..], [GroupEvent::Left]));
}

#[test]
fn commits_use_the_generation_and_report_errors() {
    let mut h = H::new(false, None);
    // Before joining: refused as a rebalance in progress.
    let id = h.m.commit(h.now, BTreeMap::from([(tp(0), 1)]));
    assert!(
        matches!(&h.events()[..], [GroupEvent::CommitDone { id: i, result: Err(e) }] if *i == id && e.code() == Some(ErrorCode::REBALANCE_IN_PROGRESS))
    );
    h.join_as_follower(5, &[0]);
    let id = h.m.commit(h.now, BTreeMap::from([(tp(0), 11)]));
    let (t, o) = h.expect("OffsetCommit");
    let Request::OffsetCommit(c) = o.request else {
        unreachable!()
    };
    assert_eq!(
        (c.generation_id_or_member_epoch, c.member_id.as_str()),
        (5, "m1")
    );
    h.respond(t, commit_resp(&[0], ErrorCode::NONE));
    assert!(
        matches!(&h.events()[..], [GroupEvent::CommitDone { id: i, result: Ok(()) }] if *i == id)
    );
    // A stale generation: the commit fails and the partitions are lost.
    h.m.commit(h.now, BTreeMap::from([(tp(0), 12)]));
    let (t, _) = h.expect("OffsetCommit");
    h.respond(t, commit_resp(&[0], ErrorCode::ILLEGAL_GENERATION));
    let events = h.events();
    assert!(matches!(&events[0], GroupEvent::Lost { .. }));
    assert!(matches!(
        &events[1],
        GroupEvent::CommitDone { result: Err(_), .. }
    ));
    // A commit on the wire when the coordinator is lost still ends with its
    // own answer: the old coordinator may apply it, so reporting it failed
    // early would let a retry with newer offsets be overtaken by it.
    let mut h = H::new(false, None);
    h.join_as_follower(5, &[0]);
    h.m.commit(h.now, BTreeMap::from([(tp(0), 11)]));
    let (t, _) = h.expect("OffsetCommit");
    h.advance(HEARTBEAT);
    let (hbt, _) = h.expect("Heartbeat");
    h.respond(hbt, hb(ErrorCode::NOT_COORDINATOR));
    assert!(
        !h.events()
            .iter()
            .any(|e| matches!(e, GroupEvent::CommitDone { .. })),
        "the commit is not settled before its answer"
    );
    h.respond(t, commit_resp(&[0], ErrorCode::NONE));
    assert!(matches!(
        &h.events()[..],
        [GroupEvent::CommitDone { result: Ok(()), .. }]
    ));
}

#[test]
fn offset_fetch_retries_unstable_offsets() {
    let mut h = H::new(false, None);
    h.subscribe();
    h.find();
    let (t, _) = h.expect("JoinGroup");
    h.respond(t, join_ok(1, "m1", "x", &[]));
    let (t, _) = h.expect("SyncGroup");
    h.respond(t, sync_ok(&[0, 1]));
    h.events();
    let (t, _) = h.expect("OffsetFetch");
    let Response::OffsetFetch(mut r) = fetch_ok(&[(0, 5), (1, 6)]) else {
        unreachable!()
    };
    r.groups[0].topics[0].partitions[1].error_code = ErrorCode::UNSTABLE_OFFSET_COMMIT.0;
    h.respond(t, Response::OffsetFetch(r));
    assert!(matches!(&h.events()[..], [GroupEvent::Committed { offsets }] if offsets.len() == 1));
    h.advance(BACKOFF_MAX * 2);
    let all = h.requests();
    let (t, _) = all
        .into_iter()
        .find(|(_, o)| o.request.name() == "OffsetFetch")
        .unwrap();
    h.respond(t, fetch_ok(&[(1, 6)]));
    assert!(
        matches!(&h.events()[..], [GroupEvent::Committed { offsets }] if offsets[&tp(1)] == Some(6))
    );
}

#[test]
fn requests_fit_old_versions() {
    let mut h = H::new(false, None);
    h.subscribe();
    let (_, o) = h.expect("FindCoordinator");
    let mut r = o.request.clone();
    fit_to_version(&mut r, 3).unwrap();
    let Request::FindCoordinator(f) = &r else {
        unreachable!()
    };
    assert_eq!((f.key.as_str(), f.coordinator_keys.len()), ("g", 0));
    let mut r = o.request;
    fit_to_version(&mut r, 4).unwrap();
    let Request::FindCoordinator(f) = &r else {
        unreachable!()
    };
    assert_eq!(f.coordinator_keys.len(), 1);
    let mut h = H::new(false, None);
    h.join_as_follower(1, &[0]);
    h.m.leave();
    let (_, o) = h.expect("LeaveGroup");
    let mut r = o.request;
    fit_to_version(&mut r, 2).unwrap();
    let Request::LeaveGroup(l) = &r else {
        unreachable!()
    };
    assert_eq!((l.member_id.as_str(), l.members.len()), ("m1", 0));
    // Every request encodes at every version the fitting allows.
    let mut h = H::new(false, Some("i"));
    h.subscribe();
    h.find();
    let (_, o) = h.expect("JoinGroup");
    let mut r = o.request;
    assert!(fit_to_version(&mut r, 4).is_err());
}

// ----- random event sequences ---------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    /// Answer the i-th outstanding request: 0 = success, else an error.
    Respond(prop::sample::Index, u8, Vec<i32>),
    Fail(prop::sample::Index),
    Advance(u16),
    Commit,
    RevokeDone,
    Poll,
    Subscribe(bool),
    Leave,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (any::<prop::sample::Index>(), 0u8..14, proptest::collection::vec(0i32..6, 0..6)).prop_map(|(i, c, p)| Op::Respond(i, c, p)),
        1 => any::<prop::sample::Index>().prop_map(Op::Fail),
        4 => (0u16..12_000).prop_map(Op::Advance),
        1 => Just(Op::Commit),
        2 => Just(Op::RevokeDone),
        2 => Just(Op::Poll),
        1 => any::<bool>().prop_map(Op::Subscribe),
        1 => (0u8..30).prop_map(|n| if n == 0 { Op::Leave } else { Op::Poll }),
    ]
}

fn error_for(choice: u8) -> ErrorCode {
    match choice {
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

/// A plausible answer to `request`.
fn answer(
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
            let s = decode_subscription(j.protocols[0].metadata.clone()).unwrap_or_default();
            let leader = if partitions.len() % 2 == 0 {
                "m1"
            } else {
                "other"
            };
            let Response::JoinGroup(mut r) = join_ok(*generation, "m1", leader, &[("m1", s)])
            else {
                unreachable!()
            };
            r.protocol_name = Some(j.protocols[0].name.clone());
            Response::JoinGroup(r)
        }
        Request::JoinGroup(_) => join_err(code, "m1"),
        Request::ConsumerGroupHeartbeat(_) | Request::TopicIds { .. } => {
            unreachable!("the classic machine never sends {}", request.name())
        }
        Request::SyncGroup(_) if code.is_ok() => sync_ok(partitions),
        Request::SyncGroup(_) => sync_err(code),
        Request::Heartbeat(_) => hb(code),
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
            let Response::OffsetFetch(mut r) = fetch_ok(&parts) else {
                unreachable!()
            };
            r.groups[0].error_code = if code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS
                || code == ErrorCode::NOT_COORDINATOR
            {
                code.0
            } else {
                0
            };
            Response::OffsetFetch(r)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
    #[test]
    fn random_sequences_never_double_own(cooperative in any::<bool>(), is_static in any::<bool>(), ops in proptest::collection::vec(op(), 1..120)) {
        let mut h = H::new(cooperative, is_static.then_some("inst"));
        h.subscribe();
        let mut outstanding: Vec<(Token, Outgoing)> = Vec::new();
        let mut owned: BTreeSet<TopicPartition> = BTreeSet::new();
        let mut generation = 0;
        let mut pending_revoke = false;
        let mut dead = false;
        for op in ops {
            match op {
                Op::Respond(i, c, parts) if !outstanding.is_empty() => {
                    let (t, o) = outstanding.remove(i.index(outstanding.len()));
                    let code = error_for(c);
                    let response = answer(&o.request, code, &parts, &mut generation);
                    h.respond(t, response);
                }
                Op::Fail(i) if !outstanding.is_empty() => {
                    let (t, _) = outstanding.remove(i.index(outstanding.len()));
                    h.m.handle_error(h.now, t, Error::Disconnected { addr: "x".into(), reason: "eof".into() });
                }
                Op::Advance(ms) => h.advance(Duration::from_millis(u64::from(ms))),
                Op::Commit => { h.m.commit(h.now, owned.iter().map(|tp| (tp.clone(), 1)).collect()); }
                Op::RevokeDone if pending_revoke => {
                    pending_revoke = false;
                    h.m.revoke_done(h.now, BTreeMap::from([(tp(0), 5)]));
                }
                Op::Poll => h.m.poll_activity(h.now),
                Op::Subscribe(two) => {
                    let topics: Vec<String> = if two { vec!["t".into(), "u".into()] } else { vec!["t".into()] };
                    h.m.subscribe(h.now, topics);
                }
                Op::Leave => {
                    // The caller has released everything before leaving.
                    h.m.leave();
                    owned.clear();
                }
                _ => {}
            }
            // The driver handles a due timeout at once (as its timer would).
            if h.m.poll_timeout().is_some_and(|at| at <= h.now) {
                h.m.handle_timeout(h.now);
            }
            outstanding.extend(h.requests());
            for event in h.events() {
                match event {
                    GroupEvent::Assigned { partitions, .. } => {
                        prop_assert!(!dead);
                        for p in partitions {
                            prop_assert!(owned.insert(p.clone()), "{p} assigned while owned");
                        }
                    }
                    GroupEvent::Revoked { partitions } => {
                        prop_assert!(partitions.is_subset(&owned), "revoked {partitions:?} not owned {owned:?}");
                        owned.retain(|p| !partitions.contains(p));
                        pending_revoke = true;
                    }
                    GroupEvent::Lost { partitions } => {
                        prop_assert!(partitions.is_subset(&owned));
                        owned.retain(|p| !partitions.contains(p));
                    }
                    GroupEvent::Left => { owned.clear(); dead = true; }
                    GroupEvent::Fatal(_) => { prop_assert!(owned.is_empty()); dead = true; }
                    GroupEvent::Committed { .. } | GroupEvent::CommitDone { .. } => {}
                }
            }
            prop_assert_eq!(&owned, h.m.owned(), "model and machine agree");
            if let Some(at) = h.m.poll_timeout() {
                // A handled timeout is gone: the machine never asks to be
                // woken for work it cannot do yet (a driver would spin).
                prop_assert!(at > h.now, "wake-up at {:?} already due after handle_timeout", h.now - at);
            }
            // Commits never carry an unknown generation.
            for (_, o) in &outstanding {
                if let Request::OffsetCommit(c) = &o.request {
                    prop_assert!(c.generation_id_or_member_epoch >= 0);
                }
            }
        }
        let _ = Bytes::new();
    }
}

#[test]
fn a_stale_offset_fetch_answer_is_ignored_after_a_rebalance() {
    let mut h = H::new(false, None);
    h.subscribe();
    h.find();
    let (t, _) = h.expect("JoinGroup");
    h.respond(t, join_ok(1, "m1", "x", &[]));
    let (t, _) = h.expect("SyncGroup");
    h.respond(t, sync_ok(&[0]));
    h.events();
    let (stale, _) = h.expect("OffsetFetch");
    // Rebalance before the answer; the new generation assigns 0 and 1.
    h.advance(HEARTBEAT);
    let (t, _) = h.expect("Heartbeat");
    h.respond(t, hb(ErrorCode::REBALANCE_IN_PROGRESS));
    h.events();
    h.m.revoke_done(h.now, BTreeMap::new());
    let (t, _) = h.expect("JoinGroup");
    h.respond(t, join_ok(2, "m1", "x", &[]));
    let (t, _) = h.expect("SyncGroup");
    h.respond(t, sync_ok(&[0, 1]));
    h.events();
    let (fresh, _) = h.expect("OffsetFetch");
    h.respond(stale, fetch_ok(&[(0, 1)]));
    assert!(
        h.events().is_empty(),
        "the old answer must not set positions"
    );
    h.respond(fresh, fetch_ok(&[(0, 7), (1, 8)]));
    assert!(
        matches!(&h.events()[..], [GroupEvent::Committed { offsets }] if offsets[&tp(0)] == Some(7) && offsets.len() == 2)
    );
}

/// A cooperative leader of `a` and `b` on topic `t` with 2 partitions,
/// Stable with partition 0, checking metadata every 2 s.
fn stable_leader() -> H {
    let mut h = H {
        m: ClassicMember::new(MemberConfig {
            metadata_max_age: Duration::from_secs(2),
            ..config(true, None)
        }),
        now: Instant::now(),
    };
    h.subscribe();
    h.find();
    let (t, _) = h.expect("JoinGroup");
    let sub = Subscription {
        topics: vec!["t".into()],
        ..Default::default()
    };
    let Response::JoinGroup(mut r) = join_ok(1, "a", "a", &[("a", sub.clone()), ("b", sub)]) else {
        unreachable!()
    };
    r.protocol_name = Some("cooperative-sticky".into());
    h.respond(t, Response::JoinGroup(r));
    let (t, _) = h.expect("Metadata");
    h.respond(t, Response::Metadata(BTreeMap::from([("t".to_owned(), 2)])));
    let (t, _) = h.expect("SyncGroup");
    h.respond(t, sync_ok(&[0]));
    let (t, _) = h.expect("OffsetFetch");
    h.respond(t, fetch_ok(&[(0, 5)]));
    h.events();
    assert!(h.m.is_stable());
    h
}

#[test]
fn leader_rejoins_when_a_topic_gains_partitions() {
    let mut h = stable_leader();
    assert_eq!(h.m.poll_timeout(), Some(h.now + Duration::from_secs(2)));
    h.advance(Duration::from_secs(2));
    let (t, o) = h.expect("Metadata");
    assert_eq!(o.dest, Dest::AnyBroker);
    // Unchanged: stay Stable, check again later.
    h.respond(t, Response::Metadata(BTreeMap::from([("t".to_owned(), 2)])));
    h.expect_none();
    assert!(h.m.is_stable());
    h.advance(Duration::from_secs(1));
    let (t, _) = h.expect("Heartbeat");
    h.respond(t, hb(ErrorCode::NONE));
    h.advance(Duration::from_secs(1));
    let (t, _) = h.expect("Metadata");
    // CreatePartitions grew it to 4: rejoin, keeping what is owned
    // (cooperative), so the next assignment covers partitions 2 and 3.
    h.respond(t, Response::Metadata(BTreeMap::from([("t".to_owned(), 4)])));
    let (_, o) = h.expect("JoinGroup");
    assert_eq!(owned_in(&o.request).0, vec![tp(0)]);
    assert!(h.events().is_empty(), "nothing revoked");
}

#[test]
fn leader_check_that_fails_is_retried_and_followers_never_check() {
    let mut h = stable_leader();
    h.advance(Duration::from_secs(2));
    let (t, _) = h.expect("Metadata");
    h.m.handle_error(
        h.now,
        t,
        Error::Timeout {
            op: "metadata",
            after: Duration::from_secs(1),
        },
    );
    h.advance(Duration::from_millis(100));
    let (t, _) = h.expect("Metadata");
    h.respond(t, Response::Metadata(BTreeMap::new()));
    // The topic vanished from metadata: rejoin too (Java does).
    h.expect("JoinGroup");

    let mut f = H::new(true, None);
    f.join_as_follower(1, &[0]);
    for _ in 0..4 {
        f.advance(HEARTBEAT);
        let (t, _) = f.expect("Heartbeat");
        f.respond(t, hb(ErrorCode::NONE));
    }
}
