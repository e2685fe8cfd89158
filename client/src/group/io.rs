//! The vocabulary between the sans-io membership machine and its driver:
//! request tokens, where a request goes, requests and responses, and the
//! events the machine reports.
//!
//! Requests are the generated protocol structs filled in their newest
//! layout; [`fit_to_version`] moves fields for older brokers, so the
//! machine never needs to know which version the coordinator speaks.
//! Responses are handed back as decoded, whatever their version; the
//! machine reads both the old and the new layout where they differ
//! (FindCoordinator v4, OffsetFetch v8).

use crate::error::{Error, Result};
use crate::group::assignor::TopicPartition;
use kafkacc_protocol::Uuid;
use kafkacc_protocol::generated::offset_fetch_request::OffsetFetchRequestTopic;
use kafkacc_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, LeaveGroupResponse, OffsetCommitRequest,
    OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse, SyncGroupRequest,
    SyncGroupResponse,
};
use std::collections::{BTreeMap, BTreeSet};
use tokio::time::Instant;

/// Identifies one request; the response or error comes back with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Token(pub(crate) u64);

/// The group coordinator, as FindCoordinator named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Coordinator {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

impl Coordinator {
    /// `host:port` (IPv6 hosts in brackets).
    pub(crate) fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Where a request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dest {
    /// Any live broker (FindCoordinator, Metadata).
    AnyBroker,
    /// The group coordinator.
    Coordinator(Coordinator),
}

/// A request the machine wants sent.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Request {
    FindCoordinator(FindCoordinatorRequest),
    JoinGroup(JoinGroupRequest),
    SyncGroup(SyncGroupRequest),
    Heartbeat(HeartbeatRequest),
    LeaveGroup(LeaveGroupRequest),
    OffsetCommit(OffsetCommitRequest),
    OffsetFetch(OffsetFetchRequest),
    /// Partition counts of these topics (the leader needs them to assign).
    Metadata {
        topics: Vec<String>,
    },
    /// KIP-848 membership (join, heartbeat, acknowledge, leave).
    ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest),
    /// Topic ids of these topics (KIP-848 assignments name topics by id).
    TopicIds {
        topics: Vec<String>,
    },
}

impl Request {
    /// The name used in logs and error contexts.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Request::FindCoordinator(_) => "FindCoordinator",
            Request::JoinGroup(_) => "JoinGroup",
            Request::SyncGroup(_) => "SyncGroup",
            Request::Heartbeat(_) => "Heartbeat",
            Request::LeaveGroup(_) => "LeaveGroup",
            Request::OffsetCommit(_) => "OffsetCommit",
            Request::OffsetFetch(_) => "OffsetFetch",
            Request::Metadata { .. } => "Metadata",
            Request::ConsumerGroupHeartbeat(_) => "ConsumerGroupHeartbeat",
            Request::TopicIds { .. } => "TopicIds",
        }
    }
}

/// A request and its destination.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outgoing {
    pub dest: Dest,
    pub request: Request,
}

/// A response, matched to its request by token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Response {
    FindCoordinator(FindCoordinatorResponse),
    JoinGroup(JoinGroupResponse),
    SyncGroup(SyncGroupResponse),
    Heartbeat(HeartbeatResponse),
    LeaveGroup(LeaveGroupResponse),
    OffsetCommit(OffsetCommitResponse),
    OffsetFetch(OffsetFetchResponse),
    /// Topic → partition count, for the topics that exist.
    Metadata(BTreeMap<String, i32>),
    ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse),
    /// Topic → id, for the topics that exist and have one.
    TopicIds(BTreeMap<String, Uuid>),
}

/// Identifies one commit so its outcome can be routed back.
pub(crate) type CommitId = u64;

/// What the machine reports to its driver.
#[derive(Debug, Clone)]
pub(crate) enum GroupEvent {
    /// These partitions are now ours, in `generation` (possibly none: a
    /// rebalance that gave us nothing new still completes here).
    Assigned {
        generation: i32,
        member_id: String,
        partitions: BTreeSet<TopicPartition>,
    },
    /// The committed offsets of partitions assigned earlier (None: nothing
    /// committed; apply `auto.offset.reset`).
    Committed {
        offsets: BTreeMap<TopicPartition, Option<i64>>,
    },
    /// Give these partitions up; the machine waits for
    /// [`super::classic::ClassicMember::revoke_done`] with the offsets to
    /// commit for them before it rejoins.
    Revoked {
        partitions: BTreeSet<TopicPartition>,
    },
    /// These partitions were lost (our membership ended); another member
    /// may already own them, so their offsets must not be committed.
    Lost {
        partitions: BTreeSet<TopicPartition>,
    },
    /// A commit finished.
    CommitDone { id: CommitId, result: Result<()> },
    /// The member cannot continue (fenced, unauthorized, misconfigured).
    Fatal(Error),
    /// The member left the group (after `leave`).
    Left,
}

/// Adapts a request in its newest layout to `version`, moving fields
/// whose place changed. Fails when the request needs a feature the
/// version lacks (static membership on a pre-2.3 broker).
pub(crate) fn fit_to_version(request: &mut Request, version: i16) -> Result<()> {
    let unsupported = |what: &str| {
        Err(Error::Config(format!(
            "{what} needs a newer broker (coordinator offers version {version})"
        )))
    };
    match request {
        Request::FindCoordinator(r) => {
            if version < 4 {
                r.key = r.coordinator_keys.first().cloned().unwrap_or_default();
                r.coordinator_keys.clear();
            }
            if version < 1 {
                r.key_type = 0;
            }
        }
        Request::JoinGroup(r) => {
            if version < 5 && r.group_instance_id.is_some() {
                return unsupported("static membership (group.instance.id)");
            }
            if version < 8 {
                r.reason = None;
            }
        }
        Request::SyncGroup(r) => {
            if version < 3 && r.group_instance_id.is_some() {
                return unsupported("static membership (group.instance.id)");
            }
            if version < 5 {
                r.protocol_type = None;
                r.protocol_name = None;
            }
        }
        Request::Heartbeat(r) => {
            if version < 3 && r.group_instance_id.is_some() {
                return unsupported("static membership (group.instance.id)");
            }
        }
        Request::LeaveGroup(r) => {
            if version < 3 {
                r.member_id = r
                    .members
                    .first()
                    .map(|m| m.member_id.clone())
                    .unwrap_or_default();
                r.members.clear();
            } else if version < 5 {
                for m in &mut r.members {
                    m.reason = None;
                }
            }
        }
        Request::OffsetCommit(r) => {
            if version < 7 {
                r.group_instance_id = None;
            }
        }
        Request::OffsetFetch(r) => {
            if version < 8 {
                if let Some(group) = r.groups.pop() {
                    r.group_id = group.group_id;
                    r.topics = group.topics.map(|ts| {
                        ts.into_iter()
                            .map(|t| OffsetFetchRequestTopic {
                                name: t.name,
                                partition_indexes: t.partition_indexes,
                                ..Default::default()
                            })
                            .collect()
                    });
                }
                r.groups.clear();
            }
            if version < 7 {
                r.require_stable = false;
            }
        }
        Request::Metadata { .. }
        | Request::TopicIds { .. }
        | Request::ConsumerGroupHeartbeat(_) => {}
    }
    Ok(())
}

/// The highest version the driver may use for a request: OffsetCommit
/// and OffsetFetch v10 name topics by id, which the machine does not.
pub(crate) fn max_version(request: &Request) -> Option<i16> {
    match request {
        Request::OffsetCommit(_) | Request::OffsetFetch(_) => Some(9),
        _ => None,
    }
}

/// A sans-io membership machine as the driver task sees it: the classic
/// protocol ([`super::classic::ClassicMember`]) or KIP-848
/// ([`super::consumer848::Consumer848Member`]).
pub(crate) trait Membership: Send + 'static {
    /// The next request to send.
    fn poll_request(&mut self) -> Option<(Token, Outgoing)>;
    /// The next event to report.
    fn poll_event(&mut self) -> Option<GroupEvent>;
    /// When to call [`Membership::handle_timeout`] next.
    fn poll_timeout(&self) -> Option<Instant>;
    /// Whether the machine has finished (left or failed).
    fn is_dead(&self) -> bool;
    /// Sets the subscription and joins.
    fn subscribe(&mut self, now: Instant, topics: Vec<String>);
    /// The application polled.
    fn poll_activity(&mut self, now: Instant);
    /// Commits `offsets`; the outcome comes as `CommitDone` with the id.
    fn commit(&mut self, now: Instant, offsets: BTreeMap<TopicPartition, i64>) -> CommitId;
    /// The application released the last `Revoked` partitions.
    fn revoke_done(&mut self, now: Instant, offsets: BTreeMap<TopicPartition, i64>);
    /// Leaves the group.
    fn leave(&mut self, now: Instant);
    /// A timer fired.
    fn handle_timeout(&mut self, now: Instant);
    /// A request failed without a response.
    fn handle_error(&mut self, now: Instant, token: Token, error: Error);
    /// A response arrived.
    fn handle_response(&mut self, now: Instant, token: Token, response: Response);
}

impl Membership for super::classic::ClassicMember {
    fn poll_request(&mut self) -> Option<(Token, Outgoing)> {
        super::classic::ClassicMember::poll_request(self)
    }
    fn poll_event(&mut self) -> Option<GroupEvent> {
        super::classic::ClassicMember::poll_event(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        super::classic::ClassicMember::poll_timeout(self)
    }
    fn is_dead(&self) -> bool {
        super::classic::ClassicMember::is_dead(self)
    }
    fn subscribe(&mut self, now: Instant, topics: Vec<String>) {
        super::classic::ClassicMember::subscribe(self, now, topics)
    }
    fn poll_activity(&mut self, now: Instant) {
        super::classic::ClassicMember::poll_activity(self, now)
    }
    fn commit(&mut self, now: Instant, offsets: BTreeMap<TopicPartition, i64>) -> CommitId {
        super::classic::ClassicMember::commit(self, now, offsets)
    }
    fn revoke_done(&mut self, now: Instant, offsets: BTreeMap<TopicPartition, i64>) {
        super::classic::ClassicMember::revoke_done(self, now, offsets)
    }
    fn leave(&mut self, _now: Instant) {
        super::classic::ClassicMember::leave(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        super::classic::ClassicMember::handle_timeout(self, now)
    }
    fn handle_error(&mut self, now: Instant, token: Token, error: Error) {
        super::classic::ClassicMember::handle_error(self, now, token, error)
    }
    fn handle_response(&mut self, now: Instant, token: Token, response: Response) {
        super::classic::ClassicMember::handle_response(self, now, token, response)
    }
}

/// An OffsetCommit for `offsets`, from a member of `generation` (classic) or
/// at member epoch `generation` (KIP-848: the same wire field).
pub(crate) fn offset_commit_request(
    group_id: &str,
    group_instance_id: Option<&str>,
    generation: i32,
    member_id: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> Request {
    use kafkacc_protocol::StrBytes;
    use kafkacc_protocol::generated::offset_commit_request::{
        OffsetCommitRequestPartition, OffsetCommitRequestTopic,
    };
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, offset) in offsets {
        topics
            .entry(tp.topic.as_str())
            .or_default()
            .push(OffsetCommitRequestPartition {
                partition_index: tp.partition,
                committed_offset: *offset,
                committed_leader_epoch: -1,
                committed_metadata: Some(StrBytes::default()),
                ..Default::default()
            });
    }
    Request::OffsetCommit(kafkacc_protocol::messages::OffsetCommitRequest {
        group_id: group_id.into(),
        generation_id_or_member_epoch: generation,
        member_id: member_id.into(),
        group_instance_id: group_instance_id.map(StrBytes::from),
        retention_time_ms: -1,
        topics: topics
            .into_iter()
            .map(|(name, partitions)| OffsetCommitRequestTopic {
                name: name.into(),
                partitions,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    })
}

/// Committed offsets still to fetch for newly assigned partitions.
#[derive(Debug, Clone, Default)]
pub(crate) struct OffsetFetchJob {
    pub partitions: BTreeSet<TopicPartition>,
    pub in_flight: Option<Token>,
    pub retry_at: Option<Instant>,
    pub attempts: u32,
}

/// What the answer to an [`OffsetFetchJob`]'s request means for the
/// member (both membership machines act on it the same way).
#[derive(Debug)]
pub(crate) struct OffsetFetchAnswer {
    /// The coordinator moved or is gone: find it again.
    pub coordinator_lost: bool,
    /// An error that ends the membership.
    pub fatal: Option<Error>,
    /// Offsets to report, in order: the settled ones, then (when nothing
    /// is left to ask) None for those the broker did not mention.
    pub committed: Vec<BTreeMap<TopicPartition, Option<i64>>>,
    /// The job again, one attempt more, when some partitions must be asked
    /// again (the caller sets when).
    pub retry: Option<OffsetFetchJob>,
}

impl OffsetFetchJob {
    /// Settles this job with the answer to its request.
    pub(crate) fn settle(
        mut self,
        r: &kafkacc_protocol::messages::OffsetFetchResponse,
    ) -> OffsetFetchAnswer {
        use kafkacc_protocol::ErrorCode;
        self.in_flight = None;
        let mut answer = OffsetFetchAnswer {
            coordinator_lost: false,
            fatal: None,
            committed: Vec::new(),
            retry: None,
        };
        let (group_code, rows) = offset_fetch_rows(r);
        if !group_code.is_ok() {
            match crate::error::code_recovery(group_code) {
                crate::Recovery::FindCoordinator
                    if group_code != ErrorCode::COORDINATOR_LOAD_IN_PROGRESS =>
                {
                    answer.coordinator_lost = true;
                }
                crate::Recovery::Fatal => {
                    answer.fatal = Some(Error::broker(group_code, "OffsetFetch", None));
                    return answer;
                }
                _ => {}
            }
        }
        let (offsets, retry) = if group_code.is_ok() {
            settle_committed_rows(rows, &self.partitions)
        } else {
            (BTreeMap::new(), true)
        };
        for tp in offsets.keys() {
            self.partitions.remove(tp);
        }
        if !offsets.is_empty() {
            answer.committed.push(offsets);
        }
        if self.partitions.is_empty() {
            return answer;
        }
        if retry {
            self.attempts += 1;
            answer.retry = Some(self);
        } else {
            // Partitions the broker did not mention: nothing committed.
            let missing = self
                .partitions
                .iter()
                .map(|tp| (tp.clone(), None))
                .collect();
            answer.committed.push(missing);
        }
        answer
    }
}

/// An OffsetFetch answer flattened to its group error code and
/// (topic, partition, committed offset, error code) rows: v8+ answers per
/// group, older versions at the top level.
pub(crate) fn offset_fetch_rows(
    r: &kafkacc_protocol::messages::OffsetFetchResponse,
) -> (kafkacc_protocol::ErrorCode, Vec<(String, i32, i64, i16)>) {
    let mut rows = Vec::new();
    let code = match r.groups.first() {
        Some(g) => {
            for t in &g.topics {
                for p in &t.partitions {
                    rows.push((
                        t.name.to_string(),
                        p.partition_index,
                        p.committed_offset,
                        p.error_code,
                    ));
                }
            }
            g.error_code
        }
        None => {
            for t in &r.topics {
                for p in &t.partitions {
                    rows.push((
                        t.name.to_string(),
                        p.partition_index,
                        p.committed_offset,
                        p.error_code,
                    ));
                }
            }
            r.error_code
        }
    };
    (kafkacc_protocol::ErrorCode(code), rows)
}

/// Sorts OffsetFetch rows for the `wanted` partitions into settled ones
/// (the committed offset, or None when nothing was committed) and whether
/// some must be asked again (unstable offsets, retriable errors).
pub(crate) fn settle_committed_rows(
    rows: Vec<(String, i32, i64, i16)>,
    wanted: &BTreeSet<TopicPartition>,
) -> (BTreeMap<TopicPartition, Option<i64>>, bool) {
    use kafkacc_protocol::ErrorCode;
    let mut offsets = BTreeMap::new();
    let mut retry = false;
    for (topic, partition, offset, code) in rows {
        let tp = TopicPartition::new(topic, partition);
        if !wanted.contains(&tp) {
            continue;
        }
        let code = ErrorCode(code);
        if code == ErrorCode::UNSTABLE_OFFSET_COMMIT
            || (code.is_retriable() && code != ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
        {
            retry = true;
            continue;
        }
        offsets.insert(tp, (offset >= 0 && code.is_ok()).then_some(offset));
    }
    (offsets, retry)
}
