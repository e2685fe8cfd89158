//! The KIP-848 consumer group protocol (`group.protocol=consumer`) as a
//! sans-io state machine: no tokio, no clock, no sockets. Same shape as
//! [`super::classic::ClassicMember`]: inputs are responses, errors, timer
//! ticks and user commands, each with `now`; outputs are requests
//! ([`Consumer848Member::poll_request`]), the next wake-up
//! ([`Consumer848Member::poll_timeout`]) and [`GroupEvent`]s.
//!
//! The broker computes assignments; the member only heartbeats
//! (ConsumerGroupHeartbeat) and reconciles the target assignment the
//! responses carry.
//!
//! ```text
//!             subscribe / poll after a poll timeout
//!  Unjoined ─────────────────────────────────▶ Member (epoch 0: joining)
//!                                               │  ▲   heartbeat every HeartbeatIntervalMs,
//!        target lacks owned partitions: Revoked │  │   target's new partitions: Assigned
//!                                               ▼  │ revoke_done + commit, then ack (owned sent)
//!                                             Revoking
//!  FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID: partitions Lost, Member with epoch 0
//!  leave: ─▶ Leaving ── heartbeat with epoch -1 (static: -2) ──▶ Dead ◀── fatal errors
//! ```
//!
//! Finding the coordinator is orthogonal, as in the classic machine: the
//! `coordinator` field is looked up at start and after NOT_COORDINATOR,
//! COORDINATOR_NOT_AVAILABLE or a connection error; COORDINATOR_LOAD_IN_PROGRESS
//! only backs off.
//!
//! Every heartbeat is a "full" request (subscription, rebalance timeout,
//! owned partitions), so the broker answers each with the whole target
//! assignment and reconciliation is idempotent: a lost response costs
//! nothing but a round trip.
//!
//! Invariants:
//! - A partition is reported `Assigned` only when not owned, and stays
//!   owned until reported `Revoked` or `Lost`.
//! - Partitions being revoked are still reported owned to the broker until
//!   their offsets are committed, so the next owner (which the broker
//!   holds back until we acknowledge) reads the committed position.
//! - The broker hands a partition to the target only once its previous
//!   owner released it, so newly assigned partitions are taken at once.
//!
//! # References
//! FACTS.md 10.2; KIP-848; `ConsumerGroupHeartbeatRequest.json`; the Java
//! consumer's `ConsumerMembershipManager` and `ConsumerHeartbeatRequestManager`.

use crate::error::{Error, code_recovery};
use crate::group::assignor::TopicPartition;
use crate::group::io::OffsetFetchJob;
use crate::group::io::{
    CommitId, Coordinator, Dest, GroupEvent, Membership, Outgoing, Request, Response, Token,
};
use crate::{Recovery, retry};
use kafkacc_protocol::generated::consumer_group_heartbeat_request::TopicPartitions;
use kafkacc_protocol::generated::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafkacc_protocol::messages::{
    ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse, FindCoordinatorRequest,
    FindCoordinatorResponse, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use kafkacc_protocol::{ErrorCode, StrBytes, Uuid};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;
use tokio::time::Instant;

/// Member epoch that joins the group.
const JOIN_EPOCH: i32 = 0;
/// Member epoch that leaves the group.
const LEAVE_EPOCH: i32 = -1;
/// Member epoch with which a static member leaves temporarily.
const STATIC_LEAVE_EPOCH: i32 = -2;
/// Heartbeat interval until the broker tells us its own.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(5);
/// How often a commit refused with STALE_MEMBER_EPOCH is retried.
const STALE_COMMIT_RETRIES: u32 = 3;

/// What the machine needs to know about the group and this member.
#[derive(Debug, Clone)]
pub(crate) struct Member848Config {
    pub group_id: String,
    /// Client-generated member id (a random UUID in base64 text form).
    pub member_id: String,
    /// `group.instance.id`: a static member.
    pub group_instance_id: Option<String>,
    pub rack_id: Option<String>,
    /// `group.remote.assignor` (None: the broker's default).
    pub server_assignor: Option<String>,
    /// `max.poll.interval.ms`: sent as RebalanceTimeoutMs, and the limit
    /// between polls after which the member leaves.
    pub max_poll_interval: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
}

/// A random member id in Kafka's text form, as the Java consumer makes
/// (a version-4 UUID, never starting with '-', which would read as a
/// command-line flag).
pub(crate) fn random_member_id() -> String {
    loop {
        let mut v: u128 = crate::determinism::with_rng(|rng| {
            (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64())
        });
        v = (v & !(0xf << 76)) | (0x4 << 76);
        v = (v & !(0x3 << 62)) | (0x2 << 62);
        let id = Uuid::from(v).to_base64();
        if !id.starts_with('-') {
            return id;
        }
    }
}

/// The coordinator as far as we know it.
#[derive(Debug, Clone, PartialEq)]
enum CoordinatorState {
    /// Not known; look it up at `retry_at` (None: now).
    Unknown {
        retry_at: Option<Instant>,
        attempts: u32,
    },
    /// A FindCoordinator is in flight.
    Finding(Token),
    Known(Coordinator),
}

/// The membership state. See the module doc for the diagram.
#[derive(Debug, Clone)]
enum State {
    /// Not in the group and not trying: no subscription yet, or the poll
    /// interval expired (`rejoin_on_poll`).
    Unjoined { rejoin_on_poll: bool },
    /// In the group (`epoch` 0 while joining); heartbeating.
    Member,
    /// Waiting for the application to release `partitions`
    /// (`revoke_done`), then committing their offsets; they are still
    /// reported as owned to the broker until then.
    Revoking {
        partitions: BTreeSet<TopicPartition>,
        acked: bool,
        commit: Option<BTreeMap<TopicPartition, i64>>,
        commit_in_flight: Option<Token>,
    },
    /// The leave heartbeat is in flight.
    Leaving,
    /// Finished: left, or a fatal error.
    Dead,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Unjoined { .. } => "Unjoined",
            State::Member => "Member",
            State::Revoking { .. } => "Revoking",
            State::Leaving => "Leaving",
            State::Dead => "Dead",
        }
    }

    /// Whether the member heartbeats.
    fn in_group(&self) -> bool {
        matches!(self, State::Member | State::Revoking { .. })
    }
}

/// Why a request was sent; responses are interpreted by this.
#[derive(Debug, Clone)]
enum Pending {
    FindCoordinator,
    TopicIds,
    Heartbeat,
    Leave,
    /// A fire-and-forget leave after a poll timeout.
    LeaveAfterPollTimeout,
    /// A user or auto commit; kept so STALE_MEMBER_EPOCH can resend it.
    Commit {
        id: CommitId,
        offsets: BTreeMap<TopicPartition, i64>,
        attempts: u32,
    },
    /// The commit of revoked partitions before acknowledging.
    RevokeCommit,
    OffsetFetch,
}

/// The latest target assignment from the broker, by topic id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    epoch: i32,
    partitions: BTreeMap<Uuid, BTreeSet<i32>>,
}

/// Heartbeat bookkeeping.
#[derive(Debug, Clone, Default)]
struct Heartbeat {
    next_at: Option<Instant>,
    in_flight: Option<Token>,
    /// Send the next one as soon as the in-flight one is answered (an
    /// ownership change to acknowledge).
    soon: bool,
    attempts: u32,
}

/// Topic id ↔ name, learned from metadata.
#[derive(Debug, Clone, Default)]
struct TopicNames {
    by_id: BTreeMap<Uuid, String>,
    by_name: BTreeMap<String, Uuid>,
    in_flight: Option<Token>,
    retry_at: Option<Instant>,
    attempts: u32,
}

/// One consumer's membership in a KIP-848 consumer group.
#[derive(Debug)]
pub(crate) struct Consumer848Member {
    config: Member848Config,
    state: State,
    coordinator: CoordinatorState,
    topics: BTreeSet<String>,
    member_id: String,
    /// The latest epoch the broker gave us (0: joining).
    epoch: i32,
    /// The epoch last reported in an `Assigned` event (-1: none).
    reported_epoch: i32,
    heartbeat_interval: Duration,
    target: Option<Target>,
    /// Partitions reported Assigned and not yet Revoked or Lost.
    owned: BTreeSet<TopicPartition>,
    names: TopicNames,
    heartbeat: Heartbeat,
    offset_fetch: Option<OffsetFetchJob>,
    /// Commits refused with STALE_MEMBER_EPOCH, resent after the next
    /// heartbeat answer brings the current epoch.
    stale_commits: Vec<(CommitId, BTreeMap<TopicPartition, i64>, u32)>,
    last_poll: Option<Instant>,
    in_flight: BTreeMap<Token, Pending>,
    next_token: u64,
    next_commit: CommitId,
    outbox: VecDeque<(Token, Outgoing)>,
    events: VecDeque<GroupEvent>,
}

impl Consumer848Member {
    pub(crate) fn new(config: Member848Config) -> Self {
        Consumer848Member {
            member_id: config.member_id.clone(),
            config,
            state: State::Unjoined {
                rejoin_on_poll: false,
            },
            coordinator: CoordinatorState::Unknown {
                retry_at: None,
                attempts: 0,
            },
            topics: BTreeSet::new(),
            epoch: JOIN_EPOCH,
            reported_epoch: -1,
            heartbeat_interval: DEFAULT_HEARTBEAT,
            target: None,
            owned: BTreeSet::new(),
            names: TopicNames::default(),
            heartbeat: Heartbeat::default(),
            offset_fetch: None,
            stale_commits: Vec::new(),
            last_poll: None,
            in_flight: BTreeMap::new(),
            next_token: 0,
            next_commit: 0,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ----- accessors -------------------------------------------------------

    /// The current member epoch.
    #[cfg(test)]
    pub(crate) fn epoch(&self) -> i32 {
        self.epoch
    }

    /// The partitions reported as owned.
    #[cfg(test)]
    pub(crate) fn owned(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// The name of the current state (for tests).
    #[cfg(test)]
    pub(crate) fn state_name(&self) -> &'static str {
        self.state.name()
    }

    // ----- outputs ---------------------------------------------------------

    fn next_wake(&self) -> Option<Instant> {
        let mut at: Vec<Option<Instant>> = Vec::new();
        if self.needs_coordinator() {
            if let CoordinatorState::Unknown { retry_at, .. } = &self.coordinator {
                at.push(*retry_at);
            }
        }
        // Only deadlines `drive` can act on count (see the classic
        // machine's `poll_timeout`): a heartbeat waits for the coordinator.
        let coordinator_known = matches!(self.coordinator, CoordinatorState::Known(_));
        if self.state.in_group() {
            if coordinator_known && self.heartbeat.in_flight.is_none() {
                at.push(self.heartbeat.next_at);
            }
            if let Some(job) = &self.offset_fetch {
                if coordinator_known
                    && self.epoch > JOIN_EPOCH
                    && job.in_flight.is_none()
                    && !job.partitions.is_empty()
                {
                    at.push(job.retry_at);
                }
            }
            if self.names.in_flight.is_none() {
                at.push(self.names.retry_at);
            }
            at.push(self.last_poll.map(|t| t + self.config.max_poll_interval));
        }
        at.into_iter().flatten().min()
    }

    // ----- commands --------------------------------------------------------

    fn on_subscribe(&mut self, now: Instant, topics: Vec<String>) {
        let topics: BTreeSet<String> = topics.into_iter().collect();
        let changed = topics != self.topics;
        self.topics = topics;
        self.last_poll = Some(now);
        match self.state {
            State::Unjoined { .. } => self.start_joining(now),
            // The next heartbeat carries the new subscription.
            State::Member | State::Revoking { .. } if changed => self.heartbeat_soon(now),
            _ => {}
        }
        self.drive(now);
    }

    fn on_poll_activity(&mut self, now: Instant) {
        self.last_poll = Some(now);
        if let State::Unjoined {
            rejoin_on_poll: true,
        } = self.state
        {
            self.start_joining(now);
            self.drive(now);
        }
    }

    fn on_commit(&mut self, now: Instant, offsets: BTreeMap<TopicPartition, i64>) -> CommitId {
        let id = self.next_commit;
        self.next_commit += 1;
        self.send_commit(id, offsets, 0);
        self.drive(now);
        id
    }

    fn send_commit(&mut self, id: CommitId, offsets: BTreeMap<TopicPartition, i64>, attempts: u32) {
        if offsets.is_empty() {
            self.events
                .push_back(GroupEvent::CommitDone { id, result: Ok(()) });
            return;
        }
        let code = if !self.state.in_group() || self.epoch <= JOIN_EPOCH {
            Some(ErrorCode::REBALANCE_IN_PROGRESS)
        } else if !matches!(self.coordinator, CoordinatorState::Known(_)) {
            Some(ErrorCode::COORDINATOR_NOT_AVAILABLE)
        } else {
            None
        };
        if let Some(code) = code {
            self.events.push_back(GroupEvent::CommitDone {
                id,
                result: Err(Error::broker(code, "OffsetCommit", Some(self.state.name()))),
            });
            return;
        }
        let request = self.offset_commit_request(&offsets);
        self.send_to_coordinator(
            Pending::Commit {
                id,
                offsets,
                attempts,
            },
            request,
        );
    }

    fn on_revoke_done(&mut self, now: Instant, offsets: BTreeMap<TopicPartition, i64>) {
        if let State::Revoking { acked, commit, .. } = &mut self.state {
            if !*acked {
                *acked = true;
                *commit = Some(offsets);
            }
        }
        self.drive(now);
    }

    fn on_leave(&mut self, now: Instant) {
        if matches!(self.state, State::Dead | State::Leaving) {
            return;
        }
        // The caller has committed and released what it owned.
        self.owned.clear();
        self.offset_fetch = None;
        let joined = self.state.in_group() && self.epoch > JOIN_EPOCH;
        if joined && matches!(self.coordinator, CoordinatorState::Known(_)) {
            let _ = self.drop_coordinator_requests();
            let request = self.leave_request();
            self.send_to_coordinator(Pending::Leave, request);
            self.state = State::Leaving;
        } else {
            self.finish_leaving();
        }
        let _ = now;
    }

    // ----- inputs ----------------------------------------------------------

    fn on_timeout(&mut self, now: Instant) {
        if let Some(last) = self.last_poll {
            if self.state.in_group() && now >= last + self.config.max_poll_interval {
                self.on_poll_timeout(now);
            }
        }
        self.drive(now);
    }

    fn on_error(&mut self, now: Instant, token: Token, error: Error) {
        let Some(pending) = self.in_flight.remove(&token) else {
            return;
        };
        tracing::debug!(group = %self.config.group_id, ?pending, %error, "group request failed");
        // The broker lacks the API (no KIP-848 support) or the request
        // cannot be encoded: retrying cannot help.
        let unusable = matches!(
            error,
            Error::Config(_) | Error::Encode(_) | Error::UnsupportedVersion { .. }
        );
        match pending {
            Pending::Commit { id, .. } => {
                self.events.push_back(GroupEvent::CommitDone {
                    id,
                    result: Err(error),
                });
                if !unusable {
                    self.mark_coordinator_unknown(now);
                }
            }
            Pending::Leave => self.finish_leaving(),
            Pending::LeaveAfterPollTimeout => {}
            _ if unusable => self.fail(error),
            Pending::FindCoordinator => self.coordinator_lookup_failed(now),
            Pending::TopicIds => self.names_failed(now),
            Pending::Heartbeat | Pending::RevokeCommit | Pending::OffsetFetch => {
                self.forget_pending(&pending, now);
                self.mark_coordinator_unknown(now);
            }
        }
        self.drive(now);
    }

    fn on_response(&mut self, now: Instant, token: Token, response: Response) {
        let Some(pending) = self.in_flight.remove(&token) else {
            tracing::debug!(?token, "response to a forgotten request ignored");
            return;
        };
        match (pending, response) {
            (Pending::FindCoordinator, Response::FindCoordinator(r)) => {
                self.on_find_coordinator(now, r)
            }
            (Pending::TopicIds, Response::TopicIds(ids)) => self.on_topic_ids(now, ids),
            (Pending::Heartbeat, Response::ConsumerGroupHeartbeat(r)) => self.on_heartbeat(now, r),
            (Pending::Leave, Response::ConsumerGroupHeartbeat(_)) => self.finish_leaving(),
            (Pending::LeaveAfterPollTimeout, Response::ConsumerGroupHeartbeat(_)) => {}
            (
                Pending::Commit {
                    id,
                    offsets,
                    attempts,
                },
                Response::OffsetCommit(r),
            ) => match self.on_offset_commit(now, &r) {
                Err(e)
                    if e.code() == Some(ErrorCode::STALE_MEMBER_EPOCH)
                        && attempts < STALE_COMMIT_RETRIES =>
                {
                    // Our epoch moved on the broker and the heartbeat
                    // answer telling us is on its way: resend after it.
                    self.stale_commits.push((id, offsets, attempts + 1));
                    self.heartbeat_soon(now);
                }
                result => self.events.push_back(GroupEvent::CommitDone { id, result }),
            },
            (Pending::RevokeCommit, Response::OffsetCommit(r)) => {
                if let Err(e) = self.on_offset_commit(now, &r) {
                    tracing::warn!(group = %self.config.group_id, error = %e, "commit of revoked partitions failed");
                }
                self.finish_revoking(now);
            }
            (Pending::OffsetFetch, Response::OffsetFetch(r)) => self.on_offset_fetch(now, token, r),
            (pending, response) => {
                tracing::warn!(
                    ?pending,
                    ?response,
                    "response does not match its request; ignored"
                );
                if let Pending::Commit { id, .. } = pending {
                    self.events.push_back(GroupEvent::CommitDone {
                        id,
                        result: Err(Error::Config("mismatched OffsetCommit response".into())),
                    });
                } else {
                    self.forget_pending(&pending, now);
                }
            }
        }
        self.drive(now);
    }

    // ----- transitions -----------------------------------------------------

    fn on_find_coordinator(&mut self, now: Instant, r: FindCoordinatorResponse) {
        // v4+ answers per key; older versions at the top level.
        let (code, node_id, host, port, message) = match r
            .coordinators
            .iter()
            .find(|c| c.key == self.config.group_id.as_str())
            .or(r.coordinators.first())
        {
            Some(c) => (
                c.error_code,
                c.node_id,
                c.host.clone(),
                c.port,
                c.error_message.clone(),
            ),
            None => (
                r.error_code,
                r.node_id,
                r.host.clone(),
                r.port,
                r.error_message.clone(),
            ),
        };
        let code = ErrorCode(code);
        if code.is_ok() && node_id >= 0 {
            self.coordinator = CoordinatorState::Known(Coordinator {
                node_id,
                host: host.as_str().to_owned(),
                port,
            });
            return;
        }
        if !code.is_ok() && code_recovery(code) == Recovery::Fatal {
            self.fail(Error::broker(
                code,
                "FindCoordinator",
                message.as_ref().map(|m| m.as_str()),
            ));
            return;
        }
        self.coordinator_lookup_failed(now);
    }

    fn on_topic_ids(&mut self, now: Instant, ids: BTreeMap<String, Uuid>) {
        self.names.in_flight = None;
        for (name, id) in ids {
            if id.is_zero() {
                continue;
            }
            self.names.by_id.insert(id, name.clone());
            self.names.by_name.insert(name, id);
        }
        if self.unresolved_target_ids() {
            // A topic created or deleted a moment ago: ask again later.
            self.names_failed(now);
        } else {
            self.names.attempts = 0;
            self.names.retry_at = None;
        }
        self.reconcile(now);
    }

    fn on_heartbeat(&mut self, now: Instant, r: ConsumerGroupHeartbeatResponse) {
        self.heartbeat.in_flight = None;
        if !self.state.in_group() {
            return;
        }
        let code = ErrorCode(r.error_code);
        let message = r.error_message.as_ref().map(|m| m.as_str().to_owned());
        if code.is_ok() {
            self.heartbeat.attempts = 0;
            if let Some(id) = r.member_id.as_ref().filter(|id| !id.is_empty()) {
                // v0 brokers assign the id; later ones echo ours.
                self.member_id = id.as_str().to_owned();
            }
            self.epoch = r.member_epoch;
            if r.heartbeat_interval_ms > 0 {
                self.heartbeat_interval = Duration::from_millis(r.heartbeat_interval_ms as u64);
            }
            self.heartbeat.next_at = Some(if std::mem::take(&mut self.heartbeat.soon) {
                now
            } else {
                now + self.heartbeat_interval
            });
            if let Some(a) = r.assignment {
                let mut partitions: BTreeMap<Uuid, BTreeSet<i32>> = BTreeMap::new();
                for t in a.topic_partitions {
                    partitions
                        .entry(t.topic_id)
                        .or_default()
                        .extend(t.partitions.into_iter().filter(|p| *p >= 0));
                }
                self.target = Some(Target {
                    epoch: r.member_epoch,
                    partitions,
                });
            }
            for (id, offsets, attempts) in std::mem::take(&mut self.stale_commits) {
                self.send_commit(id, offsets, attempts);
            }
            self.reconcile(now);
            return;
        }
        tracing::debug!(group = %self.config.group_id, %code, ?message, "heartbeat error");
        if code == ErrorCode::FENCED_MEMBER_EPOCH || code == ErrorCode::UNKNOWN_MEMBER_ID {
            self.fenced(now, code);
        } else if code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS {
            self.heartbeat_backoff(now);
        } else if code_recovery(code) == Recovery::FindCoordinator {
            self.mark_coordinator_unknown(now);
        } else if code == ErrorCode::UNRELEASED_INSTANCE_ID
            || code == ErrorCode::UNSUPPORTED_ASSIGNOR
            || code == ErrorCode::GROUP_MAX_SIZE_REACHED
            || code == ErrorCode::FENCED_INSTANCE_ID
            || code_recovery(code) == Recovery::Fatal
        {
            self.fail(Error::broker(
                code,
                "ConsumerGroupHeartbeat",
                message.as_deref(),
            ));
        } else {
            self.heartbeat_backoff(now);
        }
    }

    /// The broker no longer knows this member at this epoch: whatever we
    /// own may be someone else's now. Rejoin with epoch 0 and the same id.
    fn fenced(&mut self, now: Instant, code: ErrorCode) {
        tracing::info!(group = %self.config.group_id, member = %self.member_id, %code, "membership lost; rejoining");
        let mut lost = std::mem::take(&mut self.owned);
        if let State::Revoking { partitions, .. } = &self.state {
            // Already reported Revoked; not lost a second time.
            lost.retain(|tp| !partitions.contains(tp));
        }
        if !lost.is_empty() {
            self.events.push_back(GroupEvent::Lost { partitions: lost });
        }
        if let Some(t) = self.offset_fetch.take().and_then(|j| j.in_flight) {
            self.in_flight.remove(&t);
        }
        self.drop_revoke_commit();
        for (id, _, _) in std::mem::take(&mut self.stale_commits) {
            self.events.push_back(GroupEvent::CommitDone {
                id,
                result: Err(Error::broker(code, "OffsetCommit", None)),
            });
        }
        self.target = None;
        self.reported_epoch = -1;
        self.start_joining(now);
    }

    fn on_poll_timeout(&mut self, now: Instant) {
        tracing::warn!(group = %self.config.group_id, member = %self.member_id, "max.poll.interval exceeded; leaving the group until the next poll");
        if self.epoch > JOIN_EPOCH {
            if let CoordinatorState::Known(_) = self.coordinator {
                let request = self.leave_request();
                self.send_to_coordinator(Pending::LeaveAfterPollTimeout, request);
            }
        }
        let mut lost = std::mem::take(&mut self.owned);
        if let State::Revoking { partitions, .. } = &self.state {
            lost.retain(|tp| !partitions.contains(tp));
        }
        if !lost.is_empty() {
            self.events.push_back(GroupEvent::Lost { partitions: lost });
        }
        for pending in self.drop_coordinator_requests() {
            if let Pending::Heartbeat = pending {
                self.heartbeat.in_flight = None;
            }
        }
        self.stale_commits_fail(ErrorCode::REBALANCE_IN_PROGRESS);
        self.offset_fetch = None;
        self.target = None;
        self.epoch = JOIN_EPOCH;
        self.reported_epoch = -1;
        self.heartbeat = Heartbeat::default();
        self.state = State::Unjoined {
            rejoin_on_poll: true,
        };
        let _ = now;
    }

    /// Moves ownership toward the target: revoke first (the application
    /// commits, then we acknowledge), then take what is new.
    fn reconcile(&mut self, now: Instant) {
        if !matches!(self.state, State::Member) {
            return;
        }
        let Some(target) = self.target.clone() else {
            return;
        };
        let mut wanted = BTreeSet::new();
        let mut unresolved = false;
        for (id, partitions) in &target.partitions {
            match self.names.by_id.get(id) {
                Some(name) => {
                    wanted.extend(partitions.iter().map(|p| TopicPartition::new(name, *p)))
                }
                None => unresolved = true,
            }
        }
        if unresolved {
            self.want_names(now);
        }
        let revoked: BTreeSet<TopicPartition> = self.owned.difference(&wanted).cloned().collect();
        if !revoked.is_empty() {
            for tp in &revoked {
                self.owned.remove(tp);
            }
            if let Some(job) = &mut self.offset_fetch {
                job.partitions.retain(|tp| !revoked.contains(tp));
            }
            tracing::info!(group = %self.config.group_id, member = %self.member_id, revoked = revoked.len(), "revoking");
            self.events.push_back(GroupEvent::Revoked {
                partitions: revoked.clone(),
            });
            self.state = State::Revoking {
                partitions: revoked,
                acked: false,
                commit: None,
                commit_in_flight: None,
            };
            return;
        }
        let added: BTreeSet<TopicPartition> = wanted.difference(&self.owned).cloned().collect();
        if added.is_empty() && (target.epoch == self.reported_epoch || unresolved) {
            return;
        }
        tracing::info!(group = %self.config.group_id, member = %self.member_id, epoch = target.epoch, added = added.len(), "assignment reconciled");
        self.owned.extend(added.iter().cloned());
        self.reported_epoch = target.epoch;
        self.events.push_back(GroupEvent::Assigned {
            generation: target.epoch,
            member_id: self.member_id.clone(),
            partitions: added.clone(),
        });
        if !added.is_empty() {
            let job = self
                .offset_fetch
                .get_or_insert_with(OffsetFetchJob::default);
            job.partitions.extend(added);
            if let Some(t) = job.in_flight.take() {
                self.in_flight.remove(&t);
            }
            job.retry_at = None;
            // Acknowledge: the broker learns we own them.
            self.heartbeat_soon(now);
        }
    }

    /// The revocation is committed (or failed to): acknowledge it.
    fn finish_revoking(&mut self, now: Instant) {
        if matches!(self.state, State::Revoking { .. }) {
            self.state = State::Member;
            self.heartbeat_soon(now);
            self.reconcile(now);
        }
    }

    /// Interprets an OffsetCommit response; membership errors rejoin.
    fn on_offset_commit(&mut self, now: Instant, r: &OffsetCommitResponse) -> crate::Result<()> {
        let first_error = r.topics.iter().find_map(|t| {
            t.partitions.iter().find_map(|p| {
                let code = ErrorCode(p.error_code);
                (!code.is_ok()).then(|| {
                    (
                        code,
                        format!("OffsetCommit {}/{}", t.name, p.partition_index),
                    )
                })
            })
        });
        let Some((code, context)) = first_error else {
            return Ok(());
        };
        if code == ErrorCode::UNKNOWN_MEMBER_ID || code == ErrorCode::FENCED_MEMBER_EPOCH {
            if self.state.in_group() {
                self.fenced(now, code);
            }
        } else if code_recovery(code) == Recovery::FindCoordinator {
            self.mark_coordinator_unknown(now);
        }
        Err(Error::broker(code, context, None))
    }

    fn on_offset_fetch(&mut self, now: Instant, token: Token, r: OffsetFetchResponse) {
        // Only the answer to the current job counts: a job replaced by a
        // rebalance may ask for other partitions, and its answer is older.
        if self.offset_fetch.as_ref().and_then(|j| j.in_flight) != Some(token) {
            return;
        }
        let Some(job) = self.offset_fetch.take() else {
            return;
        };
        let answer = job.settle(&r);
        if answer.coordinator_lost {
            self.mark_coordinator_unknown(now);
        }
        if let Some(e) = answer.fatal {
            self.fail(e);
            return;
        }
        for offsets in answer.committed {
            self.events.push_back(GroupEvent::Committed { offsets });
        }
        if let Some(mut job) = answer.retry {
            job.retry_at = Some(now + self.backoff(job.attempts));
            self.offset_fetch = Some(job);
        }
    }

    // ----- helpers ---------------------------------------------------------

    fn backoff(&self, attempts: u32) -> Duration {
        retry::backoff(
            self.config.retry_backoff,
            self.config.retry_backoff_max,
            attempts.saturating_sub(1),
        )
    }

    fn needs_coordinator(&self) -> bool {
        self.state.in_group()
    }

    fn start_joining(&mut self, now: Instant) {
        self.epoch = JOIN_EPOCH;
        self.state = State::Member;
        self.heartbeat_soon(now);
    }

    /// Sends a heartbeat now, or right after the one in flight.
    fn heartbeat_soon(&mut self, now: Instant) {
        if self.heartbeat.in_flight.is_some() {
            self.heartbeat.soon = true;
        } else {
            self.heartbeat.next_at = Some(now);
        }
    }

    fn heartbeat_backoff(&mut self, now: Instant) {
        self.heartbeat.attempts += 1;
        self.heartbeat.soon = false;
        self.heartbeat.next_at = Some(now + self.backoff(self.heartbeat.attempts));
    }

    fn unresolved_target_ids(&self) -> bool {
        self.target.as_ref().is_some_and(|t| {
            t.partitions
                .keys()
                .any(|id| !self.names.by_id.contains_key(id))
        })
    }

    /// Asks for topic ids unless already asking or waiting to.
    fn want_names(&mut self, now: Instant) {
        if self.names.in_flight.is_none() && self.names.retry_at.is_none() {
            self.names.retry_at = Some(now);
        }
    }

    fn names_failed(&mut self, now: Instant) {
        self.names.in_flight = None;
        self.names.attempts += 1;
        self.names.retry_at = Some(now + self.backoff(self.names.attempts));
    }

    fn finish_leaving(&mut self) {
        self.state = State::Dead;
        let _ = self.drop_coordinator_requests();
        self.stale_commits_fail(ErrorCode::UNKNOWN_MEMBER_ID);
        self.events.push_back(GroupEvent::Left);
    }

    fn fail(&mut self, error: Error) {
        tracing::error!(group = %self.config.group_id, %error, "group membership failed");
        let mut lost = std::mem::take(&mut self.owned);
        if let State::Revoking { partitions, .. } = &self.state {
            lost.retain(|tp| !partitions.contains(tp));
        }
        if !lost.is_empty() {
            self.events.push_back(GroupEvent::Lost { partitions: lost });
        }
        let _ = self.drop_coordinator_requests();
        self.stale_commits_fail(ErrorCode::UNKNOWN_MEMBER_ID);
        self.offset_fetch = None;
        self.state = State::Dead;
        self.events.push_back(GroupEvent::Fatal(error));
    }

    fn stale_commits_fail(&mut self, code: ErrorCode) {
        for (id, _, _) in std::mem::take(&mut self.stale_commits) {
            self.events.push_back(GroupEvent::CommitDone {
                id,
                result: Err(Error::broker(code, "OffsetCommit", None)),
            });
        }
    }

    /// A revocation whose commit is in flight ends without waiting for it.
    fn drop_revoke_commit(&mut self) {
        if let State::Revoking {
            commit_in_flight: Some(t),
            ..
        } = &self.state
        {
            self.in_flight.remove(t);
        }
    }

    fn coordinator_lookup_failed(&mut self, now: Instant) {
        let attempts = match self.coordinator {
            CoordinatorState::Unknown { attempts, .. } => attempts,
            _ => 0,
        }
        .saturating_add(1);
        self.coordinator = CoordinatorState::Unknown {
            retry_at: Some(now + self.backoff(attempts)),
            attempts,
        };
    }

    /// The coordinator moved or went away: forget requests sent to it
    /// and look it up again.
    fn mark_coordinator_unknown(&mut self, now: Instant) {
        if matches!(self.coordinator, CoordinatorState::Known(_)) {
            tracing::debug!(group = %self.config.group_id, "coordinator unknown; rediscovering");
            self.coordinator = CoordinatorState::Unknown {
                retry_at: Some(now + self.config.retry_backoff),
                attempts: 0,
            };
        }
        self.heartbeat.next_at = None;
        self.heartbeat.in_flight = None;
        for pending in self.drop_coordinator_requests() {
            self.forget_pending(&pending, now);
        }
        // Check in with the new coordinator as soon as it is found.
        self.heartbeat.next_at = Some(now);
    }

    /// Drops every request sent to the coordinator and returns them, except
    /// commits: one already on the wire may still be applied by the old
    /// coordinator, so it stays in flight until its own answer or error,
    /// and a retry with newer offsets cannot be overtaken by it.
    fn drop_coordinator_requests(&mut self) -> Vec<Pending> {
        let tokens: Vec<Token> = self
            .in_flight
            .iter()
            .filter(|(_, p)| {
                !matches!(
                    p,
                    Pending::FindCoordinator | Pending::TopicIds | Pending::Commit { .. }
                )
            })
            .map(|(t, _)| *t)
            .collect();
        tokens
            .into_iter()
            .filter_map(|token| self.in_flight.remove(&token))
            .collect()
    }

    /// Clears the marker of a request whose answer will not come.
    fn forget_pending(&mut self, pending: &Pending, now: Instant) {
        match pending {
            Pending::Heartbeat => self.heartbeat.in_flight = None,
            Pending::RevokeCommit => self.finish_revoking(now),
            Pending::OffsetFetch => {
                if let Some(job) = &mut self.offset_fetch {
                    job.in_flight = None;
                }
            }
            Pending::TopicIds => self.names_failed(now),
            Pending::Leave => self.finish_leaving(),
            Pending::FindCoordinator | Pending::Commit { .. } | Pending::LeaveAfterPollTimeout => {}
        }
    }

    fn send(&mut self, pending: Pending, dest: Dest, request: Request) -> Token {
        let token = Token(self.next_token);
        self.next_token += 1;
        self.in_flight.insert(token, pending);
        self.outbox.push_back((token, Outgoing { dest, request }));
        token
    }

    /// Sends to the coordinator (callers check it is known).
    fn send_to_coordinator(&mut self, pending: Pending, request: Request) -> Option<Token> {
        let CoordinatorState::Known(c) = &self.coordinator else {
            return None;
        };
        let dest = Dest::Coordinator(c.clone());
        Some(self.send(pending, dest, request))
    }

    /// Sends whatever the state needs now.
    fn drive(&mut self, now: Instant) {
        if !self.state.in_group() {
            return;
        }
        if let CoordinatorState::Unknown { retry_at, .. } = self.coordinator {
            if retry_at.is_none_or(|t| now >= t) {
                let request = FindCoordinatorRequest {
                    key_type: 0,
                    coordinator_keys: vec![StrBytes::from(self.config.group_id.as_str())],
                    ..Default::default()
                };
                let token = self.send(
                    Pending::FindCoordinator,
                    Dest::AnyBroker,
                    Request::FindCoordinator(request),
                );
                self.coordinator = CoordinatorState::Finding(token);
            }
        }
        if self.names.in_flight.is_none() && self.names.retry_at.is_some_and(|t| now >= t) {
            let token = self.send(
                Pending::TopicIds,
                Dest::AnyBroker,
                Request::TopicIds {
                    topics: self.topics.iter().cloned().collect(),
                },
            );
            self.names.in_flight = Some(token);
            self.names.retry_at = None;
        }
        if !matches!(self.coordinator, CoordinatorState::Known(_)) {
            return;
        }
        if let State::Revoking {
            acked: true,
            commit,
            commit_in_flight: None,
            ..
        } = &self.state
        {
            let offsets = commit.clone().unwrap_or_default();
            if offsets.is_empty() || self.epoch <= JOIN_EPOCH {
                self.finish_revoking(now);
            } else {
                let request = self.offset_commit_request(&offsets);
                let token = self.send_to_coordinator(Pending::RevokeCommit, request);
                if let State::Revoking {
                    commit,
                    commit_in_flight,
                    ..
                } = &mut self.state
                {
                    *commit = None;
                    *commit_in_flight = token;
                }
            }
        }
        if self.state.in_group()
            && self.heartbeat.in_flight.is_none()
            && self.heartbeat.next_at.is_none_or(|t| now >= t)
        {
            let request = self.heartbeat_request();
            self.heartbeat.in_flight = self.send_to_coordinator(Pending::Heartbeat, request);
            self.heartbeat.soon = false;
            self.heartbeat.next_at = Some(now + self.heartbeat_interval);
        }
        if self.state.in_group() && self.epoch > JOIN_EPOCH {
            if let Some(job) = &self.offset_fetch {
                if job.in_flight.is_none()
                    && job.retry_at.is_none_or(|t| now >= t)
                    && !job.partitions.is_empty()
                {
                    let request = self.offset_fetch_request(&job.partitions);
                    let token = self.send_to_coordinator(Pending::OffsetFetch, request);
                    if let Some(job) = &mut self.offset_fetch {
                        job.in_flight = token;
                        job.retry_at = None;
                    }
                }
            }
        }
    }

    // ----- request builders ------------------------------------------------

    /// A full heartbeat: subscription, rebalance timeout and the owned
    /// partitions (including those being revoked, until committed).
    fn heartbeat_request(&self) -> Request {
        let mut owned: BTreeMap<Uuid, Vec<i32>> = BTreeMap::new();
        let revoking = match &self.state {
            State::Revoking { partitions, .. } => Some(partitions),
            _ => None,
        };
        for tp in self.owned.iter().chain(revoking.into_iter().flatten()) {
            if let Some(id) = self.names.by_name.get(&tp.topic) {
                owned.entry(*id).or_default().push(tp.partition);
            }
        }
        Request::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest {
            group_id: self.config.group_id.as_str().into(),
            member_id: self.member_id.as_str().into(),
            member_epoch: self.epoch,
            instance_id: self.config.group_instance_id.as_deref().map(StrBytes::from),
            rack_id: self.config.rack_id.as_deref().map(StrBytes::from),
            rebalance_timeout_ms: millis(self.config.max_poll_interval),
            subscribed_topic_names: Some(self.topics.iter().map(|t| t.as_str().into()).collect()),
            subscribed_topic_regex: None,
            server_assignor: self.config.server_assignor.as_deref().map(StrBytes::from),
            topic_partitions: Some(
                owned
                    .into_iter()
                    .map(|(topic_id, partitions)| TopicPartitions {
                        topic_id,
                        partitions: partitions.into(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        })
    }

    fn leave_request(&self) -> Request {
        let epoch = if self.config.group_instance_id.is_some() {
            STATIC_LEAVE_EPOCH
        } else {
            LEAVE_EPOCH
        };
        Request::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatRequest {
            group_id: self.config.group_id.as_str().into(),
            member_id: self.member_id.as_str().into(),
            member_epoch: epoch,
            instance_id: self.config.group_instance_id.as_deref().map(StrBytes::from),
            rebalance_timeout_ms: -1,
            ..Default::default()
        })
    }

    /// OffsetCommit v9+ carries the member epoch where the classic
    /// protocol puts the generation id.
    fn offset_commit_request(&self, offsets: &BTreeMap<TopicPartition, i64>) -> Request {
        super::io::offset_commit_request(
            &self.config.group_id,
            self.config.group_instance_id.as_deref(),
            self.epoch,
            &self.member_id,
            offsets,
        )
    }

    fn offset_fetch_request(&self, partitions: &BTreeSet<TopicPartition>) -> Request {
        let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
        for tp in partitions {
            topics
                .entry(tp.topic.as_str())
                .or_default()
                .push(tp.partition);
        }
        Request::OffsetFetch(OffsetFetchRequest {
            topics: Some(Vec::new()),
            groups: vec![OffsetFetchRequestGroup {
                group_id: self.config.group_id.as_str().into(),
                member_id: None,
                member_epoch: -1,
                topics: Some(
                    topics
                        .into_iter()
                        .map(|(name, partition_indexes)| OffsetFetchRequestTopics {
                            name: name.into(),
                            partition_indexes: partition_indexes.into(),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }],
            require_stable: true,
            ..Default::default()
        })
    }
}

impl Membership for Consumer848Member {
    fn poll_request(&mut self) -> Option<(Token, Outgoing)> {
        self.outbox.pop_front()
    }
    fn poll_event(&mut self) -> Option<GroupEvent> {
        self.events.pop_front()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.next_wake()
    }
    fn is_dead(&self) -> bool {
        matches!(self.state, State::Dead)
    }
    fn subscribe(&mut self, now: Instant, topics: Vec<String>) {
        self.on_subscribe(now, topics)
    }
    fn poll_activity(&mut self, now: Instant) {
        self.on_poll_activity(now)
    }
    fn commit(&mut self, now: Instant, offsets: BTreeMap<TopicPartition, i64>) -> CommitId {
        self.on_commit(now, offsets)
    }
    fn revoke_done(&mut self, now: Instant, offsets: BTreeMap<TopicPartition, i64>) {
        self.on_revoke_done(now, offsets)
    }
    fn leave(&mut self, now: Instant) {
        self.on_leave(now)
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.on_timeout(now)
    }
    fn handle_error(&mut self, now: Instant, token: Token, error: Error) {
        self.on_error(now, token, error)
    }
    fn handle_response(&mut self, now: Instant, token: Token, response: Response) {
        self.on_response(now, token, response)
    }
}

fn millis(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}

/// Which group membership protocol a [`super::GroupConsumer`] speaks
/// (`group.protocol`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GroupProtocol {
    /// JoinGroup / SyncGroup / Heartbeat, assignment computed by the
    /// group leader with the configured assignors (the default, as Java).
    #[default]
    Classic,
    /// KIP-848: ConsumerGroupHeartbeat, assignment computed by the broker
    /// (Apache Kafka 4.0+). `session_timeout`, `heartbeat_interval` and
    /// `assignors` are then the broker's business and ignored; the
    /// coordinator must offer ConsumerGroupHeartbeat, or polling fails
    /// with [`Error::UnsupportedVersion`].
    Consumer,
}
