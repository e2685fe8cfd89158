//! Scripted-coordinator tests of the KIP-848 membership machine: joining,
//! heartbeating, reconciliation (revoke, commit, acknowledge, assign),
//! fencing, coordinator moves and leaving, with a fake clock; and a
//! proptest of random event sequences against an ownership model.

use super::assignor::TopicPartition;
use super::consumer848::{Consumer848Member, Member848Config, random_member_id};
use super::io::{Dest, GroupEvent, Membership, Outgoing, Request, Response, Token};
use super::scripted::{commit_resp, fetch_ok, find_ok, set, tp};
use crate::error::Error;
use kafkacc_protocol::generated::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafkacc_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use kafkacc_protocol::{ApiKey, ErrorCode, Uuid};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

const MAX_POLL: Duration = Duration::from_secs(60);
const INTERVAL_MS: i32 = 2_000;
const MEMBER: &str = "member-1";

fn topic_id() -> Uuid {
    Uuid::from(0x1234_u128)
}

fn config(instance: Option<&str>) -> Member848Config {
    Member848Config {
        group_id: "g".into(),
        member_id: MEMBER.into(),
        group_instance_id: instance.map(str::to_owned),
        rack_id: None,
        server_assignor: None,
        max_poll_interval: MAX_POLL,
        retry_backoff: Duration::from_millis(100),
        retry_backoff_max: Duration::from_millis(1000),
    }
}

/// A member and a fake clock.
struct H {
    m: Consumer848Member,
    now: Instant,
}

impl H {
    fn new(instance: Option<&str>) -> H {
        H {
            m: Consumer848Member::new(config(instance)),
            now: Instant::now(),
        }
    }

    fn requests(&mut self) -> Vec<(Token, Outgoing)> {
        std::iter::from_fn(|| self.m.poll_request()).collect()
    }

    fn names(all: &[(Token, Outgoing)]) -> Vec<&'static str> {
        all.iter().map(|(_, o)| o.request.name()).collect()
    }

    /// Exactly one request is queued, named `name`.
    fn expect(&mut self, name: &str) -> (Token, Outgoing) {
        let mut all = self.requests();
        assert_eq!(
            Self::names(&all),
            vec![name],
            "in state {}",
            self.m.state_name()
        );
        all.remove(0)
    }

    fn expect_none(&mut self) {
        let all = self.requests();
        assert!(all.is_empty(), "unexpected {:?}", Self::names(&all));
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

    fn find(&mut self) {
        let (t, o) = self.expect("FindCoordinator");
        assert_eq!(o.dest, Dest::AnyBroker);
        self.respond(t, find_ok());
    }

    /// The heartbeat queued now (exactly one request).
    fn heartbeat(&mut self) -> (Token, ConsumerGroupHeartbeatRequest) {
        let (t, o) = self.expect("ConsumerGroupHeartbeat");
        let Request::ConsumerGroupHeartbeat(r) = o.request else {
            unreachable!()
        };
        (t, r)
    }

    /// From nothing to a member at `epoch` owning `partitions`, with their
    /// committed offsets fetched.
    fn join(&mut self, epoch: i32, partitions: &[i32]) {
        self.m.subscribe(self.now, vec!["t".into()]);
        self.find();
        let (t, hb) = self.heartbeat();
        assert_eq!(hb.member_epoch, 0);
        self.respond(t, hb_ok(epoch, Some(partitions)));
        // The topic id is new: metadata names it.
        let (t, o) = self.expect("TopicIds");
        assert_eq!(
            o.request,
            Request::TopicIds {
                topics: vec!["t".into()]
            }
        );
        self.respond(t, ids());
        let events = self.events();
        assert!(
            matches!(&events[..], [GroupEvent::Assigned { generation, partitions: p, member_id }]
                if *generation == epoch && *p == set(partitions) && member_id == MEMBER),
            "{events:?}"
        );
        let mut all = self.requests();
        let names = Self::names(&all);
        assert_eq!(names, vec!["ConsumerGroupHeartbeat", "OffsetFetch"]);
        let (ft, _) = all.remove(1);
        let (ht, ack) = all.remove(0);
        let Request::ConsumerGroupHeartbeat(ack) = ack.request else {
            unreachable!()
        };
        assert_eq!(ack.member_epoch, epoch);
        assert_eq!(owned_in(&ack), set(partitions));
        self.respond(ht, hb_ok(epoch, Some(partitions)));
        let offsets: Vec<(i32, i64)> = partitions.iter().map(|p| (*p, 10)).collect();
        self.respond(ft, fetch_ok(&offsets));
        assert!(matches!(
            &self.events()[..],
            [GroupEvent::Committed { .. }] | []
        ));
        assert_eq!(self.m.owned(), &set(partitions));
        self.expect_none();
    }

    /// Advances to the next heartbeat.
    fn next_heartbeat(&mut self) -> (Token, ConsumerGroupHeartbeatRequest) {
        self.advance(Duration::from_millis(INTERVAL_MS as u64));
        self.heartbeat()
    }
}

fn ids() -> Response {
    Response::TopicIds(BTreeMap::from([("t".to_owned(), topic_id())]))
}

fn hb_ok(epoch: i32, partitions: Option<&[i32]>) -> Response {
    Response::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
        member_id: Some(MEMBER.into()),
        member_epoch: epoch,
        heartbeat_interval_ms: INTERVAL_MS,
        assignment: partitions.map(|ps| Assignment {
            topic_partitions: vec![TopicPartitions {
                topic_id: topic_id(),
                partitions: ps.into(),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    })
}

fn hb_err(code: ErrorCode) -> Response {
    Response::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
        error_code: code.0,
        member_epoch: -1,
        ..Default::default()
    })
}

/// The owned partitions a heartbeat reports (topic id → "t").
fn owned_in(r: &ConsumerGroupHeartbeatRequest) -> BTreeSet<TopicPartition> {
    let mut out = BTreeSet::new();
    for t in r.topic_partitions.iter().flatten() {
        assert_eq!(t.topic_id, topic_id());
        out.extend(t.partitions.iter().map(|p| tp(*p)));
    }
    out
}

#[test]
fn member_ids_are_random_base64_uuids() {
    let a = random_member_id();
    let b = random_member_id();
    assert_eq!(a.len(), 22);
    assert_ne!(a, b);
    assert!(!a.starts_with('-'));
}

#[test]
fn joins_with_epoch_zero_sends_a_full_request_and_takes_its_assignment() {
    let mut h = H::new(None);
    h.m.subscribe(h.now, vec!["t".into()]);
    h.find();
    let (t, hb) = h.heartbeat();
    assert_eq!(hb.group_id.as_str(), "g");
    assert_eq!(hb.member_id.as_str(), MEMBER);
    assert_eq!(hb.member_epoch, 0);
    assert_eq!(hb.rebalance_timeout_ms, 60_000);
    let topics: Vec<&str> = hb
        .subscribed_topic_names
        .iter()
        .flatten()
        .map(|t| t.as_str())
        .collect();
    assert_eq!(topics, vec!["t"]);
    assert_eq!(hb.topic_partitions, Some(Vec::new()));
    assert_eq!(hb.instance_id, None);
    // Joined, nothing assigned yet: no event until an assignment comes.
    h.respond(t, hb_ok(1, None));
    assert!(h.events().is_empty());
    assert_eq!(h.m.epoch(), 1);
    let (t, hb) = h.next_heartbeat();
    assert_eq!(hb.member_epoch, 1);
    h.respond(t, hb_ok(2, Some(&[0, 1])));
    let (t, _) = h.expect("TopicIds");
    h.respond(t, ids());
    let events = h.events();
    assert!(
        matches!(&events[..], [GroupEvent::Assigned { generation: 2, partitions, .. }] if *partitions == set(&[0, 1]))
    );
}

#[test]
fn heartbeats_follow_the_broker_interval() {
    let mut h = H::new(None);
    h.join(1, &[0]);
    h.advance(Duration::from_millis(1_999));
    h.expect_none();
    let (t, hb) = h.next_heartbeat();
    assert_eq!(hb.member_epoch, 1);
    assert_eq!(owned_in(&hb), set(&[0]));
    // The broker shortens the interval.
    h.respond(
        t,
        Response::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
            member_epoch: 1,
            heartbeat_interval_ms: 500,
            ..Default::default()
        }),
    );
    h.advance(Duration::from_millis(499));
    h.expect_none();
    h.advance(Duration::from_millis(1));
    h.heartbeat();
    // Nothing reported when the assignment did not change.
    assert!(h.events().is_empty());
}

#[test]
fn revocation_commits_then_acknowledges_then_assigns() {
    let mut h = H::new(None);
    h.join(1, &[0, 1]);
    let (t, _) = h.next_heartbeat();
    // The broker moves 0 away and gives 2 (epoch 2 once acknowledged).
    h.respond(t, hb_ok(1, Some(&[1, 2])));
    let events = h.events();
    assert!(
        matches!(&events[..], [GroupEvent::Revoked { partitions }] if *partitions == set(&[0])),
        "{events:?}"
    );
    assert_eq!(h.m.owned(), &set(&[1]));
    // Until the application commits, 0 is still reported owned.
    let (t, hb) = h.next_heartbeat();
    assert_eq!(owned_in(&hb), set(&[0, 1]));
    h.respond(t, hb_ok(1, Some(&[1, 2])));
    assert!(h.events().is_empty());
    h.m.revoke_done(h.now, BTreeMap::from([(tp(0), 42)]));
    let (t, o) = h.expect("OffsetCommit");
    let Request::OffsetCommit(c) = &o.request else {
        unreachable!()
    };
    assert_eq!(c.generation_id_or_member_epoch, 1);
    assert_eq!(c.member_id.as_str(), MEMBER);
    assert_eq!(c.topics[0].partitions[0].committed_offset, 42);
    h.respond(t, commit_resp(&[0], ErrorCode::NONE));
    // Revocation done: 2 is taken and everything acknowledged at once.
    let events = h.events();
    assert!(
        matches!(&events[..], [GroupEvent::Assigned { generation: 1, partitions, .. }] if *partitions == set(&[2])),
        "{events:?}"
    );
    let all = h.requests();
    assert_eq!(
        H::names(&all),
        vec!["ConsumerGroupHeartbeat", "OffsetFetch"]
    );
    let Request::ConsumerGroupHeartbeat(ack) = &all[0].1.request else {
        unreachable!()
    };
    assert_eq!(owned_in(ack), set(&[1, 2]));
    h.respond(all[0].0, hb_ok(2, Some(&[1, 2])));
    let events = h.events();
    assert!(
        matches!(&events[..], [GroupEvent::Assigned { generation: 2, partitions, .. }] if partitions.is_empty()),
        "{events:?}"
    );
    assert_eq!(h.m.epoch(), 2);
}

#[test]
fn revocation_without_offsets_skips_the_commit() {
    let mut h = H::new(None);
    h.join(3, &[0, 1]);
    let (t, _) = h.next_heartbeat();
    h.respond(t, hb_ok(3, Some(&[])));
    h.events();
    h.m.revoke_done(h.now, BTreeMap::new());
    let (_, hb) = h.heartbeat();
    assert!(owned_in(&hb).is_empty());
    assert!(h.m.owned().is_empty());
}

#[test]
fn fenced_or_unknown_member_loses_partitions_and_rejoins_with_epoch_zero() {
    for code in [ErrorCode::FENCED_MEMBER_EPOCH, ErrorCode::UNKNOWN_MEMBER_ID] {
        let mut h = H::new(None);
        h.join(4, &[0, 1]);
        let (t, _) = h.next_heartbeat();
        h.respond(t, hb_err(code));
        let events = h.events();
        assert!(
            matches!(&events[..], [GroupEvent::Lost { partitions }] if *partitions == set(&[0, 1])),
            "{code}: {events:?}"
        );
        let (t, hb) = h.heartbeat();
        assert_eq!(hb.member_epoch, 0);
        assert_eq!(hb.member_id.as_str(), MEMBER, "the member keeps its id");
        assert!(owned_in(&hb).is_empty());
        h.respond(t, hb_ok(5, Some(&[1])));
        let events = h.events();
        assert!(
            matches!(&events[..], [GroupEvent::Assigned { generation: 5, partitions, .. }] if *partitions == set(&[1]))
        );
    }
}

#[test]
fn fenced_while_revoking_does_not_lose_the_revoked_partitions_twice() {
    let mut h = H::new(None);
    h.join(1, &[0, 1]);
    let (t, _) = h.next_heartbeat();
    h.respond(t, hb_ok(1, Some(&[1])));
    h.events();
    let (t, _) = h.next_heartbeat();
    h.respond(t, hb_err(ErrorCode::FENCED_MEMBER_EPOCH));
    let events = h.events();
    assert!(
        matches!(&events[..], [GroupEvent::Lost { partitions }] if *partitions == set(&[1])),
        "{events:?}"
    );
    // A late revoke_done is harmless.
    h.m.revoke_done(h.now, BTreeMap::from([(tp(0), 1)]));
    let (_, hb) = h.heartbeat();
    assert_eq!(hb.member_epoch, 0);
}

#[test]
fn unreleased_instance_id_is_fatal() {
    let mut h = H::new(Some("inst"));
    h.m.subscribe(h.now, vec!["t".into()]);
    h.find();
    let (t, hb) = h.heartbeat();
    assert_eq!(hb.instance_id.as_ref().map(|s| s.as_str()), Some("inst"));
    h.respond(t, hb_err(ErrorCode::UNRELEASED_INSTANCE_ID));
    let events = h.events();
    assert!(
        matches!(&events[..], [GroupEvent::Fatal(e)] if e.code() == Some(ErrorCode::UNRELEASED_INSTANCE_ID))
    );
    assert!(h.m.is_dead());
    h.advance(Duration::from_secs(10));
    h.expect_none();
}

#[test]
fn a_broker_without_the_api_fails_with_unsupported_version() {
    let mut h = H::new(None);
    h.m.subscribe(h.now, vec!["t".into()]);
    h.find();
    let (t, _) = h.heartbeat();
    h.m.handle_error(
        h.now,
        t,
        Error::UnsupportedVersion {
            addr: "127.0.0.1:9092".into(),
            api: ApiKey::ConsumerGroupHeartbeat,
            broker: None,
        },
    );
    let events = h.events();
    assert!(
        matches!(
            &events[..],
            [GroupEvent::Fatal(Error::UnsupportedVersion { .. })]
        ),
        "{events:?}"
    );
    assert!(h.m.is_dead());
}

#[test]
fn not_coordinator_finds_it_again_and_keeps_the_epoch() {
    for code in [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
    ] {
        let mut h = H::new(None);
        h.join(2, &[0]);
        let (t, _) = h.next_heartbeat();
        h.respond(t, hb_err(code));
        assert!(h.events().is_empty(), "partitions are kept");
        h.expect_none();
        h.advance(Duration::from_millis(100));
        h.find();
        let (_, hb) = h.heartbeat();
        assert_eq!(hb.member_epoch, 2);
        assert_eq!(owned_in(&hb), set(&[0]));
    }
}

#[test]
fn coordinator_loading_backs_off_without_rediscovery() {
    let mut h = H::new(None);
    h.join(2, &[0]);
    let (t, _) = h.next_heartbeat();
    h.respond(t, hb_err(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS));
    h.expect_none();
    h.advance(Duration::from_millis(150));
    h.heartbeat();
}

#[test]
fn a_lost_connection_rediscovers_and_resends() {
    let mut h = H::new(None);
    h.join(2, &[0]);
    let (t, _) = h.next_heartbeat();
    h.m.handle_error(
        h.now,
        t,
        Error::Disconnected {
            addr: "x".into(),
            reason: "eof".into(),
        },
    );
    h.advance(Duration::from_millis(100));
    h.find();
    let (_, hb) = h.heartbeat();
    assert_eq!(hb.member_epoch, 2);
}

#[test]
fn commits_carry_the_member_epoch_and_retry_a_stale_epoch() {
    let mut h = H::new(None);
    h.join(3, &[0]);
    let id = h.m.commit(h.now, BTreeMap::from([(tp(0), 7)]));
    let (t, o) = h.expect("OffsetCommit");
    let Request::OffsetCommit(c) = &o.request else {
        unreachable!()
    };
    assert_eq!(c.generation_id_or_member_epoch, 3);
    h.respond(t, commit_resp(&[0], ErrorCode::STALE_MEMBER_EPOCH));
    assert!(h.events().is_empty(), "not reported yet");
    // A heartbeat goes at once; its answer brings epoch 4.
    let (t, _) = h.heartbeat();
    h.respond(t, hb_ok(4, Some(&[0])));
    let mut all = h.requests();
    assert_eq!(H::names(&all), vec!["OffsetCommit"]);
    let (t, o) = all.remove(0);
    let Request::OffsetCommit(c) = &o.request else {
        unreachable!()
    };
    assert_eq!(c.generation_id_or_member_epoch, 4);
    h.respond(t, commit_resp(&[0], ErrorCode::NONE));
    let events = h.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, GroupEvent::CommitDone { id: i, result: Ok(()) } if *i == id)),
        "{events:?}"
    );
}

#[test]
fn a_commit_on_the_wire_when_the_coordinator_is_lost_ends_with_its_own_answer() {
    let mut h = H::new(None);
    h.join(3, &[0]);
    let id = h.m.commit(h.now, BTreeMap::from([(tp(0), 7)]));
    let (commit, _) = h.expect("OffsetCommit");
    let (t, _) = h.next_heartbeat();
    h.respond(t, hb_err(ErrorCode::NOT_COORDINATOR));
    assert!(
        !h.events()
            .iter()
            .any(|e| matches!(e, GroupEvent::CommitDone { .. })),
        "the old coordinator may still apply it: not settled before its answer"
    );
    h.respond(commit, commit_resp(&[0], ErrorCode::NONE));
    let events = h.events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, GroupEvent::CommitDone { id: i, result: Ok(()) } if *i == id)),
        "{events:?}"
    );
}

#[test]
fn commit_while_joining_fails_retriably_typed() {
    let mut h = H::new(None);
    h.m.subscribe(h.now, vec!["t".into()]);
    let id = h.m.commit(h.now, BTreeMap::from([(tp(0), 7)]));
    let events = h.events();
    assert!(
        matches!(&events[..], [GroupEvent::CommitDone { id: i, result: Err(e) }] if *i == id && e.code() == Some(ErrorCode::REBALANCE_IN_PROGRESS))
    );
}

#[test]
fn leave_sends_epoch_minus_one_and_static_members_minus_two() {
    for (instance, epoch) in [(None, -1), (Some("inst"), -2)] {
        let mut h = H::new(instance);
        h.join(2, &[0]);
        h.m.leave(h.now);
        let (t, hb) = h.heartbeat();
        assert_eq!(hb.member_epoch, epoch);
        assert_eq!(hb.member_id.as_str(), MEMBER);
        h.respond(t, hb_ok(epoch, None));
        assert!(matches!(&h.events()[..], [GroupEvent::Left]));
        assert!(h.m.is_dead());
    }
}

#[test]
fn leave_before_joining_needs_no_request() {
    let mut h = H::new(None);
    h.m.subscribe(h.now, vec!["t".into()]);
    h.requests();
    h.m.leave(h.now);
    h.expect_none();
    assert!(matches!(&h.events()[..], [GroupEvent::Left]));
}

#[test]
fn poll_timeout_leaves_and_the_next_poll_rejoins() {
    let mut h = H::new(None);
    h.join(2, &[0]);
    // Answer heartbeats until the poll interval runs out.
    let mut left = false;
    for _ in 0..40 {
        h.advance(Duration::from_millis(INTERVAL_MS as u64));
        for (t, o) in h.requests() {
            let Request::ConsumerGroupHeartbeat(hb) = &o.request else {
                continue;
            };
            if hb.member_epoch == -1 {
                left = true;
            } else {
                h.respond(t, hb_ok(2, Some(&[0])));
            }
        }
        if left {
            break;
        }
    }
    assert!(left, "left after max.poll.interval");
    assert!(matches!(&h.events()[..], [GroupEvent::Lost { .. }]));
    h.m.poll_activity(h.now);
    let (_, hb) = h.heartbeat();
    assert_eq!(hb.member_epoch, 0);
}

#[test]
fn unknown_topic_ids_wait_for_metadata_and_retry() {
    let mut h = H::new(None);
    h.m.subscribe(h.now, vec!["t".into()]);
    h.find();
    let (t, _) = h.heartbeat();
    h.respond(t, hb_ok(1, Some(&[0])));
    let (t, _) = h.expect("TopicIds");
    // Metadata does not know the topic yet.
    h.respond(t, Response::TopicIds(BTreeMap::new()));
    assert!(h.events().is_empty());
    h.advance(Duration::from_millis(150));
    let (t, _) = h.expect("TopicIds");
    h.respond(t, ids());
    assert!(matches!(&h.events()[..], [GroupEvent::Assigned { .. }]));
}

#[test]
fn subscription_change_heartbeats_at_once() {
    let mut h = H::new(None);
    h.join(1, &[0]);
    h.m.subscribe(h.now, vec!["t".into(), "u".into()]);
    let (_, hb) = h.heartbeat();
    assert_eq!(hb.subscribed_topic_names.map(|v| v.len()), Some(2));
}

// ----- random sequences ------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Respond(prop::sample::Index, u8, Vec<i32>),
    Fail(prop::sample::Index),
    Advance(u16),
    Commit,
    RevokeDone,
    Poll,
    Leave,
}

/// Random operations; a leave is rare (about one op in 29), as a weight
/// rather than a filter, which rejected 29 draws in 30 and could exhaust
/// proptest's reject budget.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (any::<prop::sample::Index>(), 0u8..40, proptest::collection::vec(0i32..6, 0..6))
            .prop_map(|(i, c, p)| Op::Respond(i, c, p)),
        2 => any::<prop::sample::Index>().prop_map(Op::Fail),
        6 => (0u16..6000).prop_map(Op::Advance),
        2 => Just(Op::Commit),
        4 => Just(Op::RevokeDone),
        2 => Just(Op::Poll),
        1 => Just(Op::Leave),
    ]
}

/// Mostly success; sometimes each interesting error.
fn error_for(c: u8) -> ErrorCode {
    match c {
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

fn answer(request: &Request, code: ErrorCode, parts: &[i32], epoch: &mut i32) -> Response {
    match request {
        Request::FindCoordinator(_) => find_ok(),
        Request::TopicIds { .. } => ids(),
        Request::ConsumerGroupHeartbeat(_) if code.is_ok() => {
            *epoch += 1;
            hb_ok(*epoch, Some(parts))
        }
        Request::ConsumerGroupHeartbeat(_) => hb_err(code),
        Request::OffsetCommit(_) => commit_resp(&[0], code),
        Request::OffsetFetch(_) => fetch_ok(&[(0, 1), (1, 2)]),
        other => panic!("unexpected request {}", other.name()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn random_sequences_never_double_own(is_static in any::<bool>(), ops in proptest::collection::vec(op(), 1..200)) {
        let mut h = H::new(is_static.then_some("inst"));
        h.m.subscribe(h.now, vec!["t".into()]);
        let mut outstanding: Vec<(Token, Outgoing)> = Vec::new();
        let mut owned: BTreeSet<TopicPartition> = BTreeSet::new();
        let mut epoch = 0;
        let mut pending_revoke = false;
        let mut dead = false;
        for op in ops {
            match op {
                Op::Respond(i, c, parts) if !outstanding.is_empty() => {
                    let (t, o) = outstanding.remove(i.index(outstanding.len()));
                    let response = answer(&o.request, error_for(c), &parts, &mut epoch);
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
                Op::Leave => {
                    h.m.leave(h.now);
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
                        prop_assert!(partitions.is_subset(&owned), "lost {partitions:?} not owned {owned:?}");
                        owned.retain(|p| !partitions.contains(p));
                    }
                    GroupEvent::Left => { owned.clear(); dead = true; }
                    GroupEvent::Fatal(_) => { prop_assert!(owned.is_empty()); dead = true; }
                    GroupEvent::Committed { .. } | GroupEvent::CommitDone { .. } => {}
                }
            }
            prop_assert_eq!(&owned, h.m.owned(), "model and machine agree");
            if let Some(at) = h.m.poll_timeout() {
                // A handled timeout is gone (else the driver would spin).
                prop_assert!(at > h.now, "wake-up at {:?} already due after handle_timeout", h.now - at);
            }
            for (_, o) in &outstanding {
                match &o.request {
                    // Commits only with a real member epoch.
                    Request::OffsetCommit(c) => prop_assert!(c.generation_id_or_member_epoch > 0),
                    // Never reports a partition it does not hold.
                    Request::ConsumerGroupHeartbeat(hb) if hb.member_epoch == 0 => {
                        prop_assert!(hb.topic_partitions.iter().flatten().all(|t| t.partitions.is_empty()));
                    }
                    _ => {}
                }
            }
        }
    }
}
