//! The classic group machine driven by hand: every answer arrives on a
//! oneshot channel, time is a number.

use super::*;
use tokio::sync::oneshot::error::TryRecvError;

const CFG: GroupConfig = GroupConfig {
    min_session_timeout_ms: 1_000,
    max_session_timeout_ms: 60_000,
    initial_rebalance_delay_ms: 0,
};

fn join_req(
    version: i16,
    member_id: &str,
    instance: Option<&str>,
    protocols: &[&str],
) -> JoinRequest {
    JoinRequest {
        version,
        member_id: member_id.to_owned(),
        instance_id: instance.map(str::to_owned),
        client_id: "c".to_owned(),
        client_host: "/127.0.0.1".to_owned(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        protocol_type: "consumer".to_owned(),
        protocols: protocols
            .iter()
            .map(|p| ((*p).to_owned(), Bytes::from(format!("meta-{p}"))))
            .collect(),
    }
}

type JoinRx = oneshot::Receiver<JoinGroupResponse>;
type SyncRx = oneshot::Receiver<SyncGroupResponse>;

fn join(g: &mut Group, req: JoinRequest, now: u64) -> JoinRx {
    let (tx, rx) = oneshot::channel();
    let version = req.version;
    g.join(req, JoinWaiter { version, tx }, now, &CFG);
    rx
}

fn sync(
    g: &mut Group,
    member: &str,
    generation: i32,
    assignments: &[(&str, &str)],
    now: u64,
) -> SyncRx {
    let (tx, rx) = oneshot::channel();
    let req = SyncRequest {
        member_id: member.to_owned(),
        instance_id: None,
        generation,
        protocol_type: Some("consumer".to_owned()),
        protocol_name: None,
        assignments: assignments
            .iter()
            .map(|(m, a)| ((*m).to_owned(), Bytes::from((*a).to_owned())))
            .collect(),
    };
    g.sync(req, SyncWaiter { tx }, now);
    rx
}

fn ready<T>(rx: &mut oneshot::Receiver<T>) -> T {
    match rx.try_recv() {
        Ok(v) => v,
        Err(e) => panic!("no answer yet: {e:?}"),
    }
}

fn pending<T: std::fmt::Debug>(rx: &mut oneshot::Receiver<T>) {
    assert_eq!(
        rx.try_recv().err(),
        Some(TryRecvError::Empty),
        "answered too early"
    );
}

/// Joins a dynamic member with v4+ (MEMBER_ID_REQUIRED first): its id and
/// the pending JoinGroup.
fn join_v5(g: &mut Group, now: u64) -> (String, JoinRx) {
    let mut first = join(g, join_req(5, "", None, &["range"]), now);
    let r = ready(&mut first);
    assert_eq!(r.error_code, ErrorCode::MEMBER_ID_REQUIRED.0);
    let id = r.member_id.as_str().to_owned();
    let rx = join(g, join_req(5, &id, None, &["range"]), now);
    (id, rx)
}

#[test]
fn a_single_member_gets_member_id_required_then_leads_generation_one() {
    let mut g = Group::new("g");
    let (id, mut rx) = join_v5(&mut g, 0);
    let r = ready(&mut rx);
    assert_eq!(r.error_code, 0);
    assert_eq!(r.generation_id, 1);
    assert_eq!(r.leader.as_str(), id);
    assert_eq!(r.members.len(), 1);
    assert_eq!(r.protocol_name.as_deref(), Some("range"));
    assert_eq!(g.state(), GroupState::CompletingRebalance);
    let mut s = sync(&mut g, &id, 1, &[(&id, "A")], 10);
    assert_eq!(ready(&mut s).assignment.as_ref(), b"A");
    assert_eq!(g.state(), GroupState::Stable);
}

#[test]
fn a_second_member_triggers_a_rebalance_the_first_learns_from_its_heartbeat() {
    let mut g = Group::new("g");
    let (a, mut ra) = join_v5(&mut g, 0);
    ready(&mut ra);
    ready(&mut sync(&mut g, &a, 1, &[(&a, "all")], 0));
    let (b, mut rb) = join_v5(&mut g, 100);
    pending(&mut rb);
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert_eq!(
        g.heartbeat(&a, None, 1, 200),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    let mut ra2 = join(&mut g, join_req(5, &a, None, &["range"]), 300);
    let ja = ready(&mut ra2);
    let jb = ready(&mut rb);
    assert_eq!(ja.generation_id, 2);
    assert_eq!(jb.generation_id, 2);
    assert_eq!(ja.leader.as_str(), a, "the leader stays the leader");
    assert_eq!(ja.members.len(), 2);
    assert!(jb.members.is_empty(), "followers get no member list");
    // The follower's sync waits for the leader's.
    let mut sb = sync(&mut g, &b, 2, &[], 400);
    pending(&mut sb);
    let mut sa = sync(&mut g, &a, 2, &[(&a, "p0"), (&b, "p1")], 500);
    assert_eq!(ready(&mut sa).assignment.as_ref(), b"p0");
    assert_eq!(ready(&mut sb).assignment.as_ref(), b"p1");
    assert_eq!(g.heartbeat(&b, None, 2, 600), ErrorCode::NONE);
    assert_eq!(g.heartbeat(&b, None, 1, 600), ErrorCode::ILLEGAL_GENERATION);
    assert_eq!(
        g.heartbeat("nobody", None, 2, 600),
        ErrorCode::UNKNOWN_MEMBER_ID
    );
}

#[test]
fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout() {
    let mut g = Group::new("g");
    let (a, mut ra) = join_v5(&mut g, 0);
    ready(&mut ra);
    ready(&mut sync(&mut g, &a, 1, &[], 0));
    let (b, mut rb) = join_v5(&mut g, 1_000);
    pending(&mut rb);
    // a keeps heartbeating but never rejoins; the rebalance timeout is 30 s.
    for t in [9_000, 18_000, 27_000] {
        assert_eq!(
            g.heartbeat(&a, None, 1, t),
            ErrorCode::REBALANCE_IN_PROGRESS
        );
    }
    g.tick(20_000, &CFG);
    pending(&mut rb);
    g.tick(31_000, &CFG);
    let jb = ready(&mut rb);
    assert_eq!(jb.generation_id, 2);
    assert_eq!(jb.leader.as_str(), b, "the only member left leads");
    assert!(!g.has_member(&a));
}

#[test]
fn sessions_expire_without_heartbeats_and_the_group_rebalances() {
    let mut g = Group::new("g");
    let (a, mut ra) = join_v5(&mut g, 0);
    ready(&mut ra);
    let (b, mut rb) = join_v5(&mut g, 0);
    let mut ra = join(&mut g, join_req(5, &a, None, &["range"]), 0);
    let _ = (ready(&mut ra), ready(&mut rb));
    let generation = g.generation();
    assert_eq!(generation, 2);
    ready(&mut sync(&mut g, &a, generation, &[], 0));
    ready(&mut sync(&mut g, &b, generation, &[], 0));
    assert_eq!(g.state(), GroupState::Stable);
    // Only a heartbeats; b's 10 s session runs out.
    assert_eq!(g.heartbeat(&a, None, generation, 6_000), ErrorCode::NONE);
    g.tick(9_000, &CFG);
    assert!(g.has_member(&b));
    g.tick(10_001, &CFG);
    assert!(!g.has_member(&b));
    assert_eq!(g.state(), GroupState::PreparingRebalance);
    assert_eq!(
        g.heartbeat(&a, None, generation, 10_100),
        ErrorCode::REBALANCE_IN_PROGRESS
    );
    let mut ra2 = join(&mut g, join_req(5, &a, None, &["range"]), 10_200);
    assert_eq!(ready(&mut ra2).generation_id, generation + 1);
}

#[test]
fn leaving_empties_the_group_and_bumps_the_generation() {
    let mut g = Group::new("g");
    let (a, mut ra) = join_v5(&mut g, 0);
    ready(&mut ra);
    ready(&mut sync(&mut g, &a, 1, &[], 0));
    assert_eq!(g.leave(&a, None, 10, &CFG), ErrorCode::NONE);
    assert_eq!(g.state(), GroupState::Empty);
    assert_eq!(g.generation(), 2);
    assert!(g.is_empty());
    assert_eq!(g.leave(&a, None, 10, &CFG), ErrorCode::UNKNOWN_MEMBER_ID);
}

#[test]
fn the_protocol_all_members_support_and_most_prefer_wins() {
    let mut g = Group::new("g");
    let mut a = join(&mut g, join_req(3, "", None, &["sticky", "range"]), 0);
    // v3: no MEMBER_ID_REQUIRED; the single member completes at once.
    let ja = ready(&mut a);
    assert_eq!(ja.protocol_name.as_deref(), Some("sticky"));
    let a_id = ja.member_id.as_str().to_owned();
    ready(&mut sync(&mut g, &a_id, 1, &[], 0));
    let mut b = join(&mut g, join_req(3, "", None, &["range", "roundrobin"]), 10);
    let mut a2 = join(&mut g, join_req(3, &a_id, None, &["sticky", "range"]), 20);
    let (ja, jb) = (ready(&mut a2), ready(&mut b));
    assert_eq!(ja.protocol_name.as_deref(), Some("range"));
    assert_eq!(jb.protocol_name.as_deref(), Some("range"));
    // A member with nothing in common is refused.
    let mut c = join(&mut g, join_req(3, "", None, &["roundrobin-only"]), 30);
    assert_eq!(
        ready(&mut c).error_code,
        ErrorCode::INCONSISTENT_GROUP_PROTOCOL.0
    );
}

#[test]
fn a_static_member_rejoining_with_same_metadata_causes_no_rebalance() {
    let mut g = Group::new("g");
    let mut a = join(&mut g, join_req(9, "", Some("ia"), &["range"]), 0);
    let ja = ready(&mut a);
    let a_id = ja.member_id.as_str().to_owned();
    assert_eq!(ja.error_code, 0, "static members skip MEMBER_ID_REQUIRED");
    ready(&mut sync(&mut g, &a_id, 1, &[(&a_id, "p0")], 0));
    let (b_id, mut b) = {
        let mut first = join(&mut g, join_req(9, "", None, &["range"]), 10);
        let id = ready(&mut first).member_id.as_str().to_owned();
        let rx = join(&mut g, join_req(9, &id, None, &["range"]), 10);
        (id, rx)
    };
    let mut a2 = join(&mut g, join_req(9, &a_id, Some("ia"), &["range"]), 20);
    ready(&mut a2);
    ready(&mut b);
    ready(&mut sync(
        &mut g,
        &a_id,
        2,
        &[(&a_id, "p0"), (&b_id, "p1")],
        30,
    ));
    ready(&mut sync(&mut g, &b_id, 2, &[], 30));
    assert_eq!(g.state(), GroupState::Stable);

    // a restarts: new process, same instance id, no member id.
    let mut a3 = join(&mut g, join_req(9, "", Some("ia"), &["range"]), 40);
    let j = ready(&mut a3);
    assert_eq!(j.error_code, 0);
    assert_eq!(j.generation_id, 2, "no new generation");
    assert!(j.skip_assignment, "the static leader need not assign again");
    let new_id = j.member_id.as_str().to_owned();
    assert_ne!(new_id, a_id);
    assert_eq!(g.state(), GroupState::Stable);
    assert_eq!(
        ready(&mut sync(&mut g, &new_id, 2, &[], 50))
            .assignment
            .as_ref(),
        b"p0"
    );
    // The old incarnation is fenced.
    assert_eq!(
        g.heartbeat(&a_id, Some("ia"), 2, 60),
        ErrorCode::FENCED_INSTANCE_ID
    );
    assert_eq!(g.heartbeat(&b_id, None, 2, 60), ErrorCode::NONE);
    assert_eq!(g.leader(), Some(new_id.as_str()));
}

#[test]
fn an_old_static_incarnation_is_fenced() {
    let mut g = Group::new("g");
    let mut a = join(&mut g, join_req(5, "", Some("ia"), &["range"]), 0);
    let a_id = ready(&mut a).member_id.as_str().to_owned();
    ready(&mut sync(&mut g, &a_id, 1, &[], 0));
    let mut a2 = join(&mut g, join_req(5, "", Some("ia"), &["range"]), 10);
    let j = ready(&mut a2);
    let new_id = j.member_id.as_str().to_owned();
    // Before v9 a static leader's return is a new generation (it must
    // assign again); with one member it completes at once.
    let generation = j.generation_id;
    assert_eq!(generation, 2);
    // The old member id with the same instance id is now fenced.
    let mut old = join(&mut g, join_req(5, &a_id, Some("ia"), &["range"]), 20);
    assert_eq!(ready(&mut old).error_code, ErrorCode::FENCED_INSTANCE_ID.0);
    ready(&mut sync(&mut g, &new_id, generation, &[], 25));
    assert_eq!(
        g.heartbeat(&new_id, Some("ia"), generation, 30),
        ErrorCode::NONE
    );
    assert_eq!(g.leave("", Some("ia"), 40, &CFG), ErrorCode::NONE);
    assert_eq!(g.state(), GroupState::Empty);
}

#[test]
fn invalid_session_timeouts_and_unknown_members_are_refused() {
    let mut g = Group::new("g");
    let mut req = join_req(5, "", None, &["range"]);
    req.session_timeout_ms = 10;
    let mut rx = join(&mut g, req, 0);
    assert_eq!(
        ready(&mut rx).error_code,
        ErrorCode::INVALID_SESSION_TIMEOUT.0
    );
    let mut rx = join(&mut g, join_req(5, "ghost", None, &["range"]), 0);
    assert_eq!(ready(&mut rx).error_code, ErrorCode::UNKNOWN_MEMBER_ID.0);
}

#[test]
fn commits_check_membership_and_generation() {
    let mut g = Group::new("g");
    assert_eq!(
        g.check_commit("", None, -1, 0),
        None,
        "outsiders may commit to an empty group"
    );
    let (a, mut ra) = join_v5(&mut g, 0);
    ready(&mut ra);
    assert_eq!(
        g.check_commit(&a, None, 1, 0),
        Some(ErrorCode::REBALANCE_IN_PROGRESS)
    );
    ready(&mut sync(&mut g, &a, 1, &[], 0));
    assert_eq!(g.check_commit(&a, None, 1, 0), None);
    assert_eq!(
        g.check_commit(&a, None, 0, 0),
        Some(ErrorCode::ILLEGAL_GENERATION)
    );
    assert_eq!(
        g.check_commit("", None, -1, 0),
        Some(ErrorCode::UNKNOWN_MEMBER_ID)
    );
}

#[test]
fn pending_member_ids_expire() {
    let mut g = Group::new("g");
    let mut first = join(&mut g, join_req(5, "", None, &["range"]), 0);
    let id = ready(&mut first).member_id.as_str().to_owned();
    g.tick(10_001, &CFG);
    let mut late = join(&mut g, join_req(5, &id, None, &["range"]), 10_002);
    assert_eq!(ready(&mut late).error_code, ErrorCode::UNKNOWN_MEMBER_ID.0);
}

#[test]
fn the_initial_rebalance_delay_gathers_members_into_one_generation() {
    let cfg = GroupConfig {
        initial_rebalance_delay_ms: 3_000,
        ..CFG
    };
    let mut g = Group::new("g");
    let (tx, mut ra) = oneshot::channel();
    g.join(
        join_req(3, "", None, &["range"]),
        JoinWaiter { version: 3, tx },
        0,
        &cfg,
    );
    pending(&mut ra);
    let (tx, mut rb) = oneshot::channel();
    g.join(
        join_req(3, "", None, &["range"]),
        JoinWaiter { version: 3, tx },
        1_000,
        &cfg,
    );
    pending(&mut rb);
    g.tick(3_000, &cfg);
    let (ja, jb) = (ready(&mut ra), ready(&mut rb));
    assert_eq!((ja.generation_id, jb.generation_id), (1, 1));
}
