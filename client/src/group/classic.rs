//! The classic group membership protocol as a sans-io state machine: no
//! tokio, no clock, no sockets. Inputs are responses, errors, timer ticks
//! and user commands, each with `now`; outputs are requests to send
//! ([`ClassicMember::poll_request`]), the next instant it wants to be woken
//! ([`ClassicMember::poll_timeout`]) and events ([`ClassicMember::poll_event`]).
//!
//! ```text
//!              subscribe / poll after a poll timeout
//!   Unjoined ───────────────────────────────────────────┐
//!                                                        ▼
//!     ┌──────────────────────────────────────────────▶ Joining ◀──── REBALANCE_IN_PROGRESS (cooperative),
//!     │   MEMBER_ID_REQUIRED: resend with the given id   │  ▲         UNKNOWN_MEMBER_ID / ILLEGAL_GENERATION
//!     │                                        JoinGroup │  │         (partitions Lost), session expired
//!     │                                               ok ▼  │ Sync error
//!     │                                               Syncing ── leader: Metadata, assign, SyncGroup
//!     │                                                  │        follower: SyncGroup
//!     │                                        SyncGroup │
//!     │ revoke_done + commit                          ok ▼
//!  Revoking ◀──── REBALANCE_IN_PROGRESS (eager) ───── Stable ── Heartbeat every heartbeat.interval
//!     ▲            partitions moved away (coop.)         │       OffsetFetch for new partitions
//!     └──────────────────────────────────────────────────┘
//!   leave: ─▶ Leaving ── LeaveGroup (dynamic members only) ──▶ Dead ◀── FENCED_INSTANCE_ID, fatal errors
//! ```
//!
//! Finding the coordinator is orthogonal to the membership state: every
//! state that talks to the coordinator first sends FindCoordinator when
//! it is unknown (at start, after NOT_COORDINATOR / COORDINATOR_NOT_AVAILABLE,
//! a connection error, or a session expiry), with backoff between tries,
//! and then resumes where it was — a Stable member keeps its generation and
//! simply heartbeats the new coordinator. The "FindingCoordinator" state of
//! the diagram is the `coordinator` field being `Unknown` or `Finding`.
//!
//! The leader of a generation also watches the group's topics while
//! Stable: every `metadata_max_age` it asks for their partition counts and
//! rejoins when one changed since its assignment (partitions added, a topic
//! created or deleted), so new partitions get an owner (`LeaderWatch`).
//!
//! Invariants:
//! - A partition is reported `Assigned` only when it is not already owned;
//!   it stays owned until reported `Revoked` or `Lost`. So no partition is
//!   ever owned in two generations at once.
//! - Eager members own nothing while they join; cooperative members keep
//!   what they own and give up only what the new assignment lacks, then
//!   rejoin so the partition can go to its new owner (KIP-429).
//! - Offsets of revoked partitions are committed with the generation that
//!   owned them, before the JoinGroup that ends it.
//!
//! # References
//! FACTS.md 10.1 and 10.3; `JoinGroupRequest.json` etc.; KIP-345 (static
//! membership), KIP-394 (MEMBER_ID_REQUIRED), KIP-429, KIP-814 (skip assignment).

use crate::error::{Error, code_recovery};
use crate::group::assignor::{
    Assignor, MemberSubscription, Subscription, TopicPartition, decode_assignment,
    decode_subscription, encode_assignment, encode_subscription,
};
use crate::group::io::OffsetFetchJob;
use crate::group::io::{
    CommitId, Coordinator, Dest, GroupEvent, Outgoing, Request, Response, Token,
};
use crate::{Recovery, retry};
use kafkacc_protocol::ErrorCode;
use kafkacc_protocol::StrBytes;
use kafkacc_protocol::generated::join_group_request::JoinGroupRequestProtocol;
use kafkacc_protocol::generated::leave_group_request::MemberIdentity;
use kafkacc_protocol::generated::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopics,
};
use kafkacc_protocol::generated::sync_group_request::SyncGroupRequestAssignment;
use kafkacc_protocol::messages::{
    FindCoordinatorRequest, FindCoordinatorResponse, HeartbeatRequest, JoinGroupRequest,
    JoinGroupResponse, LeaveGroupRequest, OffsetCommitResponse, OffsetFetchRequest,
    OffsetFetchResponse, SyncGroupRequest, SyncGroupResponse,
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// What the machine needs to know about the group and this member.
#[derive(Debug, Clone)]
pub(crate) struct MemberConfig {
    pub group_id: String,
    /// `group.instance.id`: a static member.
    pub group_instance_id: Option<String>,
    pub session_timeout: Duration,
    /// Sent as the rebalance timeout; also the poll-interval limit
    /// (`max.poll.interval.ms`, as the Java consumer does).
    pub max_poll_interval: Duration,
    pub heartbeat_interval: Duration,
    pub retry_backoff: Duration,
    pub retry_backoff_max: Duration,
    /// In preference order; the coordinator picks the first all members share.
    pub assignors: Vec<Arc<dyn Assignor>>,
    pub rack_id: Option<String>,
    /// How often the leader checks the partition counts of the group's
    /// topics (`metadata.max.age.ms`).
    pub metadata_max_age: Duration,
}

impl MemberConfig {
    /// Cooperative only when every configured assignor supports it (as Java).
    fn cooperative(&self) -> bool {
        !self.assignors.is_empty() && self.assignors.iter().all(|a| a.supports_cooperative())
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

/// The leader's work between JoinGroup and SyncGroup.
#[derive(Debug, Clone)]
struct LeaderPlan {
    protocol: String,
    members: Vec<MemberSubscription>,
    /// Partition counts, once Metadata answered.
    counts: Option<BTreeMap<String, i32>>,
    metadata_in_flight: Option<Token>,
    metadata_retry_at: Option<Instant>,
}

/// The leader's watch over the group's subscribed topics while Stable:
/// the partition counts its assignment was computed from, compared every
/// `metadata_max_age` with fresh metadata. A change (partitions added, a
/// subscribed topic created or deleted) rejoins, so the new partitions get
/// assigned (Java's `ConsumerCoordinator` compares its metadata snapshot
/// with the assignment snapshot the same way).
#[derive(Debug, Clone)]
struct LeaderWatch {
    /// Every topic some member subscribes to.
    topics: BTreeSet<String>,
    /// Partition counts at assignment time (topics that did not exist are
    /// absent).
    counts: BTreeMap<String, i32>,
    next_check: Instant,
    in_flight: Option<Token>,
}

/// What to do once a revocation is acknowledged and committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterRevoke {
    Rejoin,
}

/// The membership state. See the module doc for the diagram.
#[derive(Debug, Clone)]
enum State {
    /// Not in the group and not trying: no subscription yet, or the poll
    /// interval expired (`rejoin_on_poll`).
    Unjoined { rejoin_on_poll: bool },
    /// JoinGroup to send (at `retry_at`) or in flight.
    Joining {
        in_flight: Option<Token>,
        retry_at: Option<Instant>,
    },
    /// Joined `generation`; SyncGroup to send or in flight. The leader
    /// first computes the assignment (`plan`).
    Syncing {
        generation: i32,
        protocol: String,
        plan: Option<LeaderPlan>,
        in_flight: Option<Token>,
    },
    /// Member of `self.generation` with `self.owned`.
    Stable,
    /// Waiting for the application to give up partitions
    /// (`revoke_done`), then committing their offsets, then `then`.
    Revoking {
        acked: bool,
        commit: Option<BTreeMap<TopicPartition, i64>>,
        commit_in_flight: Option<Token>,
        then: AfterRevoke,
    },
    /// LeaveGroup in flight.
    Leaving,
    /// Finished: left, or a fatal error.
    Dead,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::Unjoined { .. } => "Unjoined",
            State::Joining { .. } => "Joining",
            State::Syncing { .. } => "Syncing",
            State::Stable => "Stable",
            State::Revoking { .. } => "Revoking",
            State::Leaving => "Leaving",
            State::Dead => "Dead",
        }
    }

    /// Whether this member still holds a generation the coordinator
    /// accepts heartbeats and commits for.
    fn in_generation(&self) -> bool {
        matches!(self, State::Stable | State::Revoking { .. })
    }
}

/// Why a request was sent; responses are interpreted by this.
#[derive(Debug, Clone)]
enum Pending {
    FindCoordinator,
    Metadata,
    /// The Stable leader's periodic partition-count check.
    LeaderMetadata,
    JoinGroup,
    SyncGroup,
    Heartbeat,
    LeaveGroup,
    /// A user or auto commit.
    Commit(CommitId),
    /// The commit of revoked partitions before rejoining.
    RevokeCommit,
    OffsetFetch,
    /// A fire-and-forget LeaveGroup after a poll timeout.
    LeaveAfterPollTimeout,
}

/// Heartbeat bookkeeping while in a generation.
#[derive(Debug, Clone, Default)]
struct Heartbeat {
    next_at: Option<Instant>,
    in_flight: Option<Token>,
    /// Last time the coordinator answered a heartbeat (or we synced):
    /// after `session_timeout` without one, it has dropped us.
    last_ok: Option<Instant>,
}

/// One consumer's membership in a classic group.
#[derive(Debug)]
pub(crate) struct ClassicMember {
    config: MemberConfig,
    cooperative: bool,
    state: State,
    coordinator: CoordinatorState,
    topics: BTreeSet<String>,
    member_id: String,
    /// The generation `owned` belongs to (-1: none).
    generation: i32,
    /// Partitions reported Assigned and not yet Revoked or Lost.
    owned: BTreeSet<TopicPartition>,
    heartbeat: Heartbeat,
    offset_fetch: Option<OffsetFetchJob>,
    /// Set while this member leads the current generation.
    leader_watch: Option<LeaderWatch>,
    join_attempts: u32,
    last_poll: Option<Instant>,
    in_flight: BTreeMap<Token, Pending>,
    next_token: u64,
    next_commit: CommitId,
    outbox: VecDeque<(Token, Outgoing)>,
    events: VecDeque<GroupEvent>,
}

impl ClassicMember {
    pub(crate) fn new(config: MemberConfig) -> Self {
        ClassicMember {
            cooperative: config.cooperative(),
            config,
            state: State::Unjoined {
                rejoin_on_poll: false,
            },
            coordinator: CoordinatorState::Unknown {
                retry_at: None,
                attempts: 0,
            },
            topics: BTreeSet::new(),
            member_id: String::new(),
            generation: -1,
            owned: BTreeSet::new(),
            heartbeat: Heartbeat::default(),
            offset_fetch: None,
            leader_watch: None,
            join_attempts: 0,
            last_poll: None,
            in_flight: BTreeMap::new(),
            next_token: 0,
            next_commit: 0,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    // ----- accessors -------------------------------------------------------

    /// The generation of the current assignment (-1: none).
    #[cfg(test)]
    pub(crate) fn generation(&self) -> i32 {
        self.generation
    }

    /// The partitions reported as owned.
    #[cfg(test)]
    pub(crate) fn owned(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// Whether the machine has finished (left or failed).
    pub(crate) fn is_dead(&self) -> bool {
        matches!(self.state, State::Dead)
    }

    /// Whether the member holds a generation and nothing is pending.
    #[cfg(test)]
    pub(crate) fn is_stable(&self) -> bool {
        matches!(self.state, State::Stable)
    }

    /// The name of the current state (for logs and tests).
    #[cfg(test)]
    pub(crate) fn state_name(&self) -> &'static str {
        self.state.name()
    }

    // ----- outputs ---------------------------------------------------------

    /// The next request to send.
    pub(crate) fn poll_request(&mut self) -> Option<(Token, Outgoing)> {
        self.outbox.pop_front()
    }

    /// The next event to report.
    pub(crate) fn poll_event(&mut self) -> Option<GroupEvent> {
        self.events.pop_front()
    }

    /// When to call [`ClassicMember::handle_timeout`] next.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        // Only deadlines `drive` or `handle_timeout` can act on count: a
        // wake-up for work that must wait (a heartbeat while the coordinator
        // is unknown) would be due again at once, and the driver would spin.
        let coordinator_known = matches!(self.coordinator, CoordinatorState::Known(_));
        let mut at: Vec<Option<Instant>> = Vec::new();
        if self.needs_coordinator() {
            if let CoordinatorState::Unknown { retry_at, .. } = &self.coordinator {
                at.push(*retry_at);
            }
        }
        match &self.state {
            State::Joining {
                in_flight: None,
                retry_at,
            } if coordinator_known => at.push(*retry_at),
            State::Syncing { plan: Some(p), .. }
                if p.counts.is_none() && p.metadata_in_flight.is_none() =>
            {
                at.push(p.metadata_retry_at)
            }
            _ => {}
        }
        if self.state.in_generation() {
            if coordinator_known && self.heartbeat.in_flight.is_none() {
                at.push(self.heartbeat.next_at);
            }
            at.push(
                self.heartbeat
                    .last_ok
                    .map(|t| t + self.config.session_timeout),
            );
        }
        if let (Some(job), true) = (
            &self.offset_fetch,
            self.state.in_generation() && coordinator_known,
        ) {
            if job.in_flight.is_none() && !job.partitions.is_empty() {
                at.push(job.retry_at);
            }
        }
        if let Some(watch) = &self.leader_watch {
            if watch.in_flight.is_none() && matches!(self.state, State::Stable) {
                at.push(Some(watch.next_check));
            }
        }
        if matches!(
            self.state,
            State::Joining { .. } | State::Syncing { .. } | State::Stable | State::Revoking { .. }
        ) {
            at.push(self.last_poll.map(|t| t + self.config.max_poll_interval));
        }
        at.into_iter().flatten().min()
    }

    // ----- commands --------------------------------------------------------

    /// Sets the subscription; joins (or rejoins when it changed).
    pub(crate) fn subscribe(&mut self, now: Instant, topics: impl IntoIterator<Item = String>) {
        let topics: BTreeSet<String> = topics.into_iter().collect();
        let changed = topics != self.topics;
        self.topics = topics;
        self.last_poll = Some(now);
        match self.state {
            State::Unjoined { .. } => self.start_joining(now),
            State::Stable if changed => self.start_rejoin(now, "subscription changed"),
            _ => {}
        }
        self.drive(now);
    }

    /// The application polled: resets the poll-interval clock, and rejoins
    /// after a poll timeout.
    pub(crate) fn poll_activity(&mut self, now: Instant) {
        self.last_poll = Some(now);
        if let State::Unjoined {
            rejoin_on_poll: true,
        } = self.state
        {
            self.start_joining(now);
            self.drive(now);
        }
    }

    /// Commits `offsets` (next offset to read per partition) with the
    /// current generation. The outcome arrives as `CommitDone` with the
    /// returned id.
    pub(crate) fn commit(
        &mut self,
        now: Instant,
        offsets: BTreeMap<TopicPartition, i64>,
    ) -> CommitId {
        let id = self.next_commit;
        self.next_commit += 1;
        let result = if offsets.is_empty() {
            Err(None)
        } else if !self.state.in_generation() || self.generation < 0 {
            Err(Some(ErrorCode::REBALANCE_IN_PROGRESS))
        } else {
            match &self.coordinator {
                CoordinatorState::Known(c) => Ok(c.clone()),
                _ => Err(Some(ErrorCode::COORDINATOR_NOT_AVAILABLE)),
            }
        };
        match result {
            Ok(coordinator) => {
                let request = self.offset_commit_request(&offsets);
                self.send(Pending::Commit(id), Dest::Coordinator(coordinator), request);
            }
            Err(None) => self
                .events
                .push_back(GroupEvent::CommitDone { id, result: Ok(()) }),
            Err(Some(code)) => self.events.push_back(GroupEvent::CommitDone {
                id,
                result: Err(Error::broker(code, "OffsetCommit", Some(self.state.name()))),
            }),
        }
        self.drive(now);
        id
    }

    /// The application gave up the partitions of the last `Revoked` event;
    /// `offsets` are their positions to commit (empty: nothing to commit).
    pub(crate) fn revoke_done(&mut self, now: Instant, offsets: BTreeMap<TopicPartition, i64>) {
        if let State::Revoking { acked, commit, .. } = &mut self.state {
            if !*acked {
                *acked = true;
                *commit = Some(offsets);
            }
        }
        self.drive(now);
    }

    /// Leaves the group: LeaveGroup for a dynamic member, nothing for a
    /// static one (its partitions wait for it for `session.timeout`).
    /// Owned partitions are dropped without events: the caller has
    /// committed and released them.
    pub(crate) fn leave(&mut self) {
        if matches!(self.state, State::Dead | State::Leaving) {
            return;
        }
        self.owned.clear();
        self.offset_fetch = None;
        self.leader_watch = None;
        let coordinator = match &self.coordinator {
            CoordinatorState::Known(c) => Some(c.clone()),
            _ => None,
        };
        match coordinator {
            Some(c) if self.config.group_instance_id.is_none() && !self.member_id.is_empty() => {
                self.send(
                    Pending::LeaveGroup,
                    Dest::Coordinator(c),
                    self.leave_request(),
                );
                self.state = State::Leaving;
            }
            _ => self.finish_leaving(),
        }
    }

    // ----- inputs ----------------------------------------------------------

    /// A timer fired (or any time; early calls are harmless).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.state.in_generation() {
            if let Some(last) = self.heartbeat.last_ok {
                if now >= last + self.config.session_timeout {
                    tracing::warn!(group = %self.config.group_id, "no heartbeat answer within the session timeout; membership lost");
                    self.mark_coordinator_unknown(now);
                    self.lose_membership(now, true);
                }
            }
        }
        if let Some(last) = self.last_poll {
            let active = matches!(
                self.state,
                State::Joining { .. }
                    | State::Syncing { .. }
                    | State::Stable
                    | State::Revoking { .. }
            );
            if active && now >= last + self.config.max_poll_interval {
                self.on_poll_timeout(now);
            }
        }
        self.drive(now);
    }

    /// A request failed without a response (connection, timeout, encoding).
    pub(crate) fn handle_error(&mut self, now: Instant, token: Token, error: Error) {
        let Some(pending) = self.in_flight.remove(&token) else {
            return;
        };
        tracing::debug!(group = %self.config.group_id, ?pending, %error, "group request failed");
        let unusable = matches!(
            error,
            Error::Config(_) | Error::Encode(_) | Error::UnsupportedVersion { .. }
        );
        if unusable
            && !matches!(
                pending,
                Pending::LeaveGroup | Pending::LeaveAfterPollTimeout
            )
        {
            if let Pending::Commit(id) = pending {
                self.events.push_back(GroupEvent::CommitDone {
                    id,
                    result: Err(error),
                });
                return;
            }
            self.fail(error);
            return;
        }
        match pending {
            Pending::FindCoordinator => self.coordinator_lookup_failed(now),
            Pending::Metadata => {
                if let State::Syncing {
                    plan: Some(plan), ..
                } = &mut self.state
                {
                    plan.metadata_in_flight = None;
                    plan.metadata_retry_at = Some(now + self.config.retry_backoff);
                }
            }
            Pending::Commit(id) => {
                self.events.push_back(GroupEvent::CommitDone {
                    id,
                    result: Err(error),
                });
                self.mark_coordinator_unknown(now);
            }
            Pending::LeaveGroup => self.finish_leaving(),
            Pending::LeaveAfterPollTimeout => {}
            Pending::LeaderMetadata => {
                if let Some(watch) = &mut self.leader_watch {
                    watch.in_flight = None;
                    watch.next_check = now + self.config.retry_backoff;
                }
            }
            Pending::JoinGroup
            | Pending::SyncGroup
            | Pending::Heartbeat
            | Pending::RevokeCommit
            | Pending::OffsetFetch => {
                // Restore what the lost request was doing so it is resent
                // once the coordinator is found again.
                self.forget_pending(&pending, now);
                self.mark_coordinator_unknown(now);
            }
        }
        self.drive(now);
    }

    /// A response arrived.
    pub(crate) fn handle_response(&mut self, now: Instant, token: Token, response: Response) {
        let Some(pending) = self.in_flight.remove(&token) else {
            tracing::debug!(?token, "response to a forgotten request ignored");
            return;
        };
        match (pending, response) {
            (Pending::FindCoordinator, Response::FindCoordinator(r)) => {
                self.on_find_coordinator(now, r)
            }
            (Pending::Metadata, Response::Metadata(counts)) => self.on_metadata(counts),
            (Pending::LeaderMetadata, Response::Metadata(counts)) => {
                self.on_leader_metadata(now, counts)
            }
            (Pending::JoinGroup, Response::JoinGroup(r)) => self.on_join_group(now, r),
            (Pending::SyncGroup, Response::SyncGroup(r)) => self.on_sync_group(now, r),
            (Pending::Heartbeat, Response::Heartbeat(r)) => {
                self.on_heartbeat(now, ErrorCode(r.error_code))
            }
            (Pending::LeaveGroup, Response::LeaveGroup(_)) => self.finish_leaving(),
            (Pending::LeaveAfterPollTimeout, Response::LeaveGroup(_)) => {}
            (Pending::Commit(id), Response::OffsetCommit(r)) => {
                let result = self.on_offset_commit(now, &r);
                self.events.push_back(GroupEvent::CommitDone { id, result });
            }
            (Pending::RevokeCommit, Response::OffsetCommit(r)) => {
                if let Err(e) = self.on_offset_commit(now, &r) {
                    tracing::warn!(group = %self.config.group_id, error = %e, "commit of revoked partitions failed");
                }
                if let State::Revoking {
                    commit_in_flight, ..
                } = &mut self.state
                {
                    *commit_in_flight = None;
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
                self.forget_pending(&pending, now);
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
            tracing::debug!(group = %self.config.group_id, node_id, %host, port, "coordinator found");
            self.coordinator = CoordinatorState::Known(Coordinator {
                node_id,
                host: host.as_str().to_owned(),
                port,
            });
            return;
        }
        if code_recovery(code) == Recovery::Fatal && !code.is_ok() {
            self.fail(Error::broker(
                code,
                "FindCoordinator",
                message.as_ref().map(|m| m.as_str()),
            ));
            return;
        }
        self.coordinator_lookup_failed(now);
    }

    fn on_metadata(&mut self, counts: BTreeMap<String, i32>) {
        let State::Syncing {
            plan: Some(plan), ..
        } = &mut self.state
        else {
            return;
        };
        plan.metadata_in_flight = None;
        plan.counts = Some(counts);
    }

    /// The Stable leader's periodic check: rejoin when a topic of the
    /// group changed its partition count since the assignment.
    fn on_leader_metadata(&mut self, now: Instant, counts: BTreeMap<String, i32>) {
        let Some(watch) = &mut self.leader_watch else {
            return;
        };
        watch.in_flight = None;
        watch.next_check = now + self.config.metadata_max_age;
        if counts == watch.counts || !matches!(self.state, State::Stable) {
            return;
        }
        tracing::info!(group = %self.config.group_id, before = ?watch.counts, now = ?counts, "partition counts changed");
        self.leader_watch = None;
        self.start_rejoin(now, "the partition count of a subscribed topic changed");
    }

    fn on_join_group(&mut self, now: Instant, r: JoinGroupResponse) {
        if !matches!(self.state, State::Joining { .. }) {
            return;
        }
        let code = ErrorCode(r.error_code);
        let retry_now = |m: &mut Self| {
            m.state = State::Joining {
                in_flight: None,
                retry_at: None,
            }
        };
        if code == ErrorCode::MEMBER_ID_REQUIRED {
            // KIP-394: the coordinator gave us an id; join again with it.
            self.member_id = r.member_id.as_str().to_owned();
            retry_now(self);
            return;
        }
        if code == ErrorCode::UNKNOWN_MEMBER_ID {
            self.member_id.clear();
            retry_now(self);
            return;
        }
        if code == ErrorCode::ILLEGAL_GENERATION {
            self.generation = -1;
            retry_now(self);
            return;
        }
        if code == ErrorCode::FENCED_INSTANCE_ID {
            self.fail(Error::broker(
                code,
                "JoinGroup",
                Some("another member uses this group.instance.id"),
            ));
            return;
        }
        if code == ErrorCode::COORDINATOR_LOAD_IN_PROGRESS {
            self.join_backoff(now);
            return;
        }
        if !code.is_ok() {
            match code_recovery(code) {
                Recovery::FindCoordinator => {
                    self.mark_coordinator_unknown(now);
                    retry_now(self);
                }
                Recovery::Fatal if code != ErrorCode::REBALANCE_IN_PROGRESS => {
                    self.fail(Error::broker(code, "JoinGroup", None));
                }
                _ => self.join_backoff(now),
            }
            return;
        }
        self.join_attempts = 0;
        self.member_id = r.member_id.as_str().to_owned();
        let protocol = r
            .protocol_name
            .as_ref()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let leader = r.leader == r.member_id.as_str() && !r.skip_assignment;
        tracing::debug!(group = %self.config.group_id, generation = r.generation_id, member = %self.member_id, leader, %protocol, "joined");
        let plan = if leader {
            let mut members = Vec::with_capacity(r.members.len());
            for m in &r.members {
                let subscription = decode_subscription(m.metadata.clone()).unwrap_or_else(|e| {
                    tracing::warn!(member = %m.member_id, error = %e, "undecodable subscription; treated as empty");
                    Subscription::default()
                });
                members.push(MemberSubscription {
                    member_id: m.member_id.as_str().to_owned(),
                    group_instance_id: m.group_instance_id.as_ref().map(|s| s.as_str().to_owned()),
                    subscription,
                });
            }
            Some(LeaderPlan {
                protocol: protocol.clone(),
                members,
                counts: None,
                metadata_in_flight: None,
                metadata_retry_at: None,
            })
        } else {
            None
        };
        self.state = State::Syncing {
            generation: r.generation_id,
            protocol,
            plan,
            in_flight: None,
        };
    }

    fn on_sync_group(&mut self, now: Instant, r: SyncGroupResponse) {
        let State::Syncing {
            generation,
            ref plan,
            ..
        } = self.state
        else {
            return;
        };
        let watch = plan.as_ref().map(|plan| LeaderWatch {
            topics: plan
                .members
                .iter()
                .flat_map(|m| m.subscription.topics.iter().cloned())
                .collect(),
            counts: plan.counts.clone().unwrap_or_default(),
            next_check: now + self.config.metadata_max_age,
            in_flight: None,
        });
        let code = ErrorCode(r.error_code);
        if !code.is_ok() {
            if code == ErrorCode::FENCED_INSTANCE_ID {
                self.fail(Error::broker(code, "SyncGroup", None));
            } else if code == ErrorCode::UNKNOWN_MEMBER_ID || code == ErrorCode::ILLEGAL_GENERATION
            {
                self.lose_membership(now, code == ErrorCode::UNKNOWN_MEMBER_ID);
            } else if code_recovery(code) == Recovery::FindCoordinator {
                self.mark_coordinator_unknown(now);
                self.start_joining(now);
            } else if code == ErrorCode::REBALANCE_IN_PROGRESS || code.is_retriable() {
                self.start_joining(now);
            } else {
                self.fail(Error::broker(code, "SyncGroup", None));
            }
            return;
        }
        let assignment = decode_assignment(r.assignment.clone()).unwrap_or_else(|e| {
            tracing::warn!(group = %self.config.group_id, error = %e, "undecodable assignment; treated as empty");
            Default::default()
        });
        let new: BTreeSet<TopicPartition> = assignment.partitions.into_iter().collect();
        self.generation = generation;
        self.leader_watch = watch;
        self.heartbeat = Heartbeat {
            next_at: Some(now + self.config.heartbeat_interval),
            in_flight: None,
            last_ok: Some(now),
        };
        let revoked: BTreeSet<TopicPartition> = self.owned.difference(&new).cloned().collect();
        let added: BTreeSet<TopicPartition> = new.difference(&self.owned).cloned().collect();
        tracing::info!(group = %self.config.group_id, generation, member = %self.member_id, added = added.len(), revoked = revoked.len(), "assignment received");
        if !revoked.is_empty() {
            for tp in &revoked {
                self.owned.remove(tp);
            }
            if let Some(job) = &mut self.offset_fetch {
                job.partitions.retain(|tp| !revoked.contains(tp));
            }
            self.events.push_back(GroupEvent::Revoked {
                partitions: revoked.clone(),
            });
        }
        self.owned.extend(added.iter().cloned());
        self.events.push_back(GroupEvent::Assigned {
            generation,
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
        }
        self.state = if revoked.is_empty() {
            State::Stable
        } else {
            // KIP-429: give them up, then rejoin so their new owner gets them.
            State::Revoking {
                acked: false,
                commit: None,
                commit_in_flight: None,
                then: AfterRevoke::Rejoin,
            }
        };
    }

    fn on_heartbeat(&mut self, now: Instant, code: ErrorCode) {
        self.heartbeat.in_flight = None;
        if !self.state.in_generation() {
            return;
        }
        if code.is_ok() || code == ErrorCode::REBALANCE_IN_PROGRESS {
            self.heartbeat.last_ok = Some(now);
        }
        if code.is_ok() {
            return;
        }
        if code == ErrorCode::REBALANCE_IN_PROGRESS {
            if matches!(self.state, State::Stable) {
                self.start_rejoin(now, "the coordinator is rebalancing");
            }
        } else if code == ErrorCode::UNKNOWN_MEMBER_ID || code == ErrorCode::ILLEGAL_GENERATION {
            self.lose_membership(now, code == ErrorCode::UNKNOWN_MEMBER_ID);
        } else if code == ErrorCode::FENCED_INSTANCE_ID {
            self.fail(Error::broker(code, "Heartbeat", None));
        } else if code_recovery(code) == Recovery::FindCoordinator {
            self.mark_coordinator_unknown(now);
        } else if code_recovery(code) == Recovery::Fatal {
            self.fail(Error::broker(code, "Heartbeat", None));
        } else {
            self.heartbeat.next_at = Some(now + self.config.retry_backoff);
        }
    }

    /// Interprets an OffsetCommit response; membership errors also end
    /// the membership.
    fn on_offset_commit(&mut self, now: Instant, r: &OffsetCommitResponse) -> crate::Result<()> {
        let mut first_error = None;
        for t in &r.topics {
            for p in &t.partitions {
                let code = ErrorCode(p.error_code);
                if !code.is_ok() && first_error.is_none() {
                    first_error = Some((
                        code,
                        format!("OffsetCommit {}/{}", t.name, p.partition_index),
                    ));
                }
            }
        }
        let Some((code, context)) = first_error else {
            return Ok(());
        };
        if code == ErrorCode::UNKNOWN_MEMBER_ID || code == ErrorCode::ILLEGAL_GENERATION {
            if self.state.in_generation() {
                self.lose_membership(now, code == ErrorCode::UNKNOWN_MEMBER_ID);
            }
        } else if code == ErrorCode::FENCED_INSTANCE_ID {
            self.fail(Error::broker(code, context.clone(), None));
        } else if code == ErrorCode::REBALANCE_IN_PROGRESS {
            if matches!(self.state, State::Stable) {
                self.start_rejoin(now, "commit saw a rebalance");
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
            job.retry_at = Some(
                now + retry::backoff(
                    self.config.retry_backoff,
                    self.config.retry_backoff_max,
                    job.attempts,
                ),
            );
            self.offset_fetch = Some(job);
        }
    }

    // ----- helpers ---------------------------------------------------------

    fn needs_coordinator(&self) -> bool {
        !matches!(
            self.state,
            State::Unjoined { .. } | State::Dead | State::Leaving
        )
    }

    fn start_joining(&mut self, now: Instant) {
        let _ = now;
        self.leader_watch = None;
        self.state = State::Joining {
            in_flight: None,
            retry_at: None,
        };
    }

    fn join_backoff(&mut self, now: Instant) {
        self.join_attempts += 1;
        let pause = retry::backoff(
            self.config.retry_backoff,
            self.config.retry_backoff_max,
            self.join_attempts - 1,
        );
        self.state = State::Joining {
            in_flight: None,
            retry_at: Some(now + pause),
        };
    }

    /// A rebalance started while we are Stable.
    fn start_rejoin(&mut self, now: Instant, reason: &str) {
        tracing::info!(group = %self.config.group_id, member = %self.member_id, reason, "rejoining");
        if !self.cooperative && !self.owned.is_empty() {
            let partitions = std::mem::take(&mut self.owned);
            self.offset_fetch = None;
            self.events.push_back(GroupEvent::Revoked { partitions });
            self.state = State::Revoking {
                acked: false,
                commit: None,
                commit_in_flight: None,
                then: AfterRevoke::Rejoin,
            };
        } else {
            self.start_joining(now);
        }
    }

    /// Our membership ended (the coordinator forgot us, or our generation
    /// is stale): whatever we own may belong to someone else now.
    fn lose_membership(&mut self, now: Instant, reset_member_id: bool) {
        if !self.owned.is_empty() {
            let partitions = std::mem::take(&mut self.owned);
            self.events.push_back(GroupEvent::Lost { partitions });
        }
        self.offset_fetch = None;
        self.generation = -1;
        if reset_member_id {
            self.member_id.clear();
        }
        self.heartbeat = Heartbeat::default();
        self.start_joining(now);
    }

    fn on_poll_timeout(&mut self, now: Instant) {
        tracing::warn!(group = %self.config.group_id, member = %self.member_id, "max.poll.interval exceeded; leaving the group until the next poll");
        if let (CoordinatorState::Known(c), None, false) = (
            &self.coordinator,
            &self.config.group_instance_id,
            self.member_id.is_empty(),
        ) {
            let c = c.clone();
            self.send(
                Pending::LeaveAfterPollTimeout,
                Dest::Coordinator(c),
                self.leave_request(),
            );
        }
        if !self.owned.is_empty() {
            let partitions = std::mem::take(&mut self.owned);
            self.events.push_back(GroupEvent::Lost { partitions });
        }
        let _ = self.drop_coordinator_requests();
        self.offset_fetch = None;
        self.leader_watch = None;
        self.generation = -1;
        if self.config.group_instance_id.is_none() {
            self.member_id.clear();
        }
        self.heartbeat = Heartbeat::default();
        self.state = State::Unjoined {
            rejoin_on_poll: true,
        };
        let _ = now;
    }

    fn finish_revoking(&mut self, now: Instant) {
        if let State::Revoking {
            then: AfterRevoke::Rejoin,
            ..
        } = self.state
        {
            self.start_joining(now);
        }
    }

    fn finish_leaving(&mut self) {
        self.state = State::Dead;
        let _ = self.drop_coordinator_requests();
        self.events.push_back(GroupEvent::Left);
    }

    fn fail(&mut self, error: Error) {
        tracing::error!(group = %self.config.group_id, %error, "group membership failed");
        if !self.owned.is_empty() {
            let partitions = std::mem::take(&mut self.owned);
            self.events.push_back(GroupEvent::Lost { partitions });
        }
        let _ = self.drop_coordinator_requests();
        self.offset_fetch = None;
        self.leader_watch = None;
        self.state = State::Dead;
        self.events.push_back(GroupEvent::Fatal(error));
    }

    fn coordinator_lookup_failed(&mut self, now: Instant) {
        let attempts = match self.coordinator {
            CoordinatorState::Unknown { attempts, .. } => attempts,
            _ => 0,
        }
        .saturating_add(1);
        let pause = retry::backoff(
            self.config.retry_backoff,
            self.config.retry_backoff_max,
            attempts - 1,
        );
        self.coordinator = CoordinatorState::Unknown {
            retry_at: Some(now + pause),
            attempts,
        };
    }

    /// The coordinator moved or went away: forget requests sent to it
    /// (their answers no longer count) and look it up again.
    fn mark_coordinator_unknown(&mut self, now: Instant) {
        if matches!(self.coordinator, CoordinatorState::Known(_)) {
            tracing::debug!(group = %self.config.group_id, "coordinator unknown; rediscovering");
            self.coordinator = CoordinatorState::Unknown {
                retry_at: Some(now + self.config.retry_backoff),
                attempts: 0,
            };
        }
        // Check in with the new coordinator as soon as it is found.
        self.heartbeat.next_at = None;
        for pending in self.drop_coordinator_requests() {
            self.forget_pending(&pending, now);
        }
    }

    /// Drops every request sent to the coordinator: their answers no
    /// longer count. Commits among them fail now; the rest are returned so
    /// the caller can decide whether to resend.
    fn drop_coordinator_requests(&mut self) -> Vec<Pending> {
        let tokens: Vec<Token> = self
            .in_flight
            .iter()
            .filter(|(_, p)| {
                // A commit already on the wire may still be applied by the old
                // coordinator: it stays in flight until its own answer or
                // error, so a retry with newer offsets cannot overtake it.
                !matches!(
                    p,
                    Pending::FindCoordinator
                        | Pending::Metadata
                        | Pending::LeaderMetadata
                        | Pending::Commit(_)
                )
            })
            .map(|(t, _)| *t)
            .collect();
        let mut dropped = Vec::new();
        for token in tokens {
            match self.in_flight.remove(&token) {
                Some(Pending::Commit(id)) => self.events.push_back(GroupEvent::CommitDone {
                    id,
                    result: Err(Error::broker(
                        ErrorCode::NOT_COORDINATOR,
                        "OffsetCommit",
                        Some("coordinator lost"),
                    )),
                }),
                Some(p) => dropped.push(p),
                None => {}
            }
        }
        dropped
    }

    /// Clears the marker of a request whose answer will not come, so the
    /// state sends it again.
    fn forget_pending(&mut self, pending: &Pending, now: Instant) {
        match pending {
            Pending::JoinGroup => {
                if let State::Joining { in_flight, .. } = &mut self.state {
                    *in_flight = None;
                }
            }
            Pending::SyncGroup => {
                // A SyncGroup lost in flight cannot be resent for the same
                // generation safely; rejoin.
                if matches!(self.state, State::Syncing { .. }) {
                    self.start_joining(now);
                }
            }
            Pending::Heartbeat => self.heartbeat.in_flight = None,
            Pending::RevokeCommit => {
                if let State::Revoking {
                    commit_in_flight, ..
                } = &mut self.state
                {
                    *commit_in_flight = None;
                }
                self.finish_revoking(now);
            }
            Pending::OffsetFetch => {
                if let Some(job) = &mut self.offset_fetch {
                    job.in_flight = None;
                }
            }
            Pending::LeaveGroup => self.finish_leaving(),
            Pending::Metadata => {
                if let State::Syncing {
                    plan: Some(plan), ..
                } = &mut self.state
                {
                    plan.metadata_in_flight = None;
                }
            }
            Pending::LeaderMetadata => {
                if let Some(watch) = &mut self.leader_watch {
                    watch.in_flight = None;
                }
            }
            Pending::FindCoordinator | Pending::Commit(_) | Pending::LeaveAfterPollTimeout => {}
        }
    }

    fn send(&mut self, pending: Pending, dest: Dest, request: Request) -> Token {
        let token = Token(self.next_token);
        self.next_token += 1;
        self.in_flight.insert(token, pending);
        self.outbox.push_back((token, Outgoing { dest, request }));
        token
    }

    /// Sends whatever the state needs now.
    fn drive(&mut self, now: Instant) {
        if self.needs_coordinator() {
            if let CoordinatorState::Unknown { retry_at, attempts } = self.coordinator {
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
                    let _ = attempts;
                    self.coordinator = CoordinatorState::Finding(token);
                }
            }
        }
        let coordinator = match &self.coordinator {
            CoordinatorState::Known(c) => Some(c.clone()),
            _ => None,
        };
        // Leader: metadata for the assignment does not need the coordinator.
        if let State::Syncing {
            plan: Some(plan), ..
        } = &self.state
        {
            if plan.counts.is_none()
                && plan.metadata_in_flight.is_none()
                && plan.metadata_retry_at.is_none_or(|t| now >= t)
            {
                let topics: BTreeSet<String> = plan
                    .members
                    .iter()
                    .flat_map(|m| m.subscription.topics.iter().cloned())
                    .collect();
                let token = self.send(
                    Pending::Metadata,
                    Dest::AnyBroker,
                    Request::Metadata {
                        topics: topics.into_iter().collect(),
                    },
                );
                if let State::Syncing {
                    plan: Some(plan), ..
                } = &mut self.state
                {
                    plan.metadata_in_flight = Some(token);
                    plan.metadata_retry_at = None;
                }
            }
        }
        self.maybe_check_partition_counts(now);
        let Some(coordinator) = coordinator else {
            return;
        };
        // A step can enable the next (a finished revocation joins), so
        // repeat while the state changes; three steps cover every chain.
        for _ in 0..3 {
            if !self.drive_membership(now, &coordinator) {
                break;
            }
        }
        let dest = || Dest::Coordinator(coordinator.clone());
        if self.state.in_generation()
            && self.heartbeat.in_flight.is_none()
            && self.heartbeat.next_at.is_none_or(|t| now >= t)
        {
            let request = Request::Heartbeat(HeartbeatRequest {
                group_id: self.config.group_id.as_str().into(),
                generation_id: self.generation,
                member_id: self.member_id.as_str().into(),
                group_instance_id: self.config.group_instance_id.as_deref().map(StrBytes::from),
                ..Default::default()
            });
            let token = self.send(Pending::Heartbeat, dest(), request);
            self.heartbeat.in_flight = Some(token);
            self.heartbeat.next_at = Some(now + self.config.heartbeat_interval);
        }
        if self.state.in_generation() {
            if let Some(job) = &self.offset_fetch {
                if job.in_flight.is_none()
                    && job.retry_at.is_none_or(|t| now >= t)
                    && !job.partitions.is_empty()
                {
                    let request = self.offset_fetch_request(&job.partitions);
                    let token = self.send(Pending::OffsetFetch, dest(), request);
                    if let Some(job) = &mut self.offset_fetch {
                        job.in_flight = Some(token);
                        job.retry_at = None;
                    }
                }
            }
        }
    }

    /// The Stable leader asks for the group's topics' metadata when the
    /// watch is due (no coordinator needed).
    fn maybe_check_partition_counts(&mut self, now: Instant) {
        if !matches!(self.state, State::Stable) {
            return;
        }
        let Some(watch) = &self.leader_watch else {
            return;
        };
        if watch.in_flight.is_some() || now < watch.next_check {
            return;
        }
        let topics = watch.topics.iter().cloned().collect();
        let token = self.send(
            Pending::LeaderMetadata,
            Dest::AnyBroker,
            Request::Metadata { topics },
        );
        if let Some(watch) = &mut self.leader_watch {
            watch.in_flight = Some(token);
        }
    }

    /// Sends the membership request the state needs; true if it did.
    fn drive_membership(&mut self, now: Instant, coordinator: &Coordinator) -> bool {
        let dest = || Dest::Coordinator(coordinator.clone());
        match &self.state {
            State::Joining {
                in_flight: None,
                retry_at,
            } if retry_at.is_none_or(|t| now >= t) => {
                match self.join_request() {
                    Ok(request) => {
                        let token = self.send(Pending::JoinGroup, dest(), request);
                        self.state = State::Joining {
                            in_flight: Some(token),
                            retry_at: None,
                        };
                    }
                    Err(e) => self.fail(e),
                }
                true
            }
            State::Syncing {
                in_flight: None,
                plan,
                ..
            } if plan.as_ref().is_none_or(|p| p.counts.is_some()) => {
                match self.sync_request() {
                    Ok(request) => {
                        let token = self.send(Pending::SyncGroup, dest(), request);
                        if let State::Syncing { in_flight, .. } = &mut self.state {
                            *in_flight = Some(token);
                        }
                    }
                    Err(e) => self.fail(e),
                }
                true
            }
            State::Revoking {
                acked: true,
                commit,
                commit_in_flight: None,
                ..
            } => {
                let offsets = commit.clone().unwrap_or_default();
                if offsets.is_empty() || self.generation < 0 {
                    self.finish_revoking(now);
                } else {
                    let request = self.offset_commit_request(&offsets);
                    let token = self.send(Pending::RevokeCommit, dest(), request);
                    if let State::Revoking {
                        commit,
                        commit_in_flight,
                        ..
                    } = &mut self.state
                    {
                        *commit = None;
                        *commit_in_flight = Some(token);
                    }
                }
                true
            }
            _ => false,
        }
    }

    // ----- request builders ------------------------------------------------

    fn join_request(&self) -> crate::Result<Request> {
        let owned: Vec<TopicPartition> = if self.cooperative {
            self.owned.iter().cloned().collect()
        } else {
            Vec::new()
        };
        let subscription = Subscription {
            topics: self.topics.iter().cloned().collect(),
            user_data: None,
            owned_partitions: owned,
            generation_id: self.generation,
            rack_id: self.config.rack_id.clone(),
        };
        let metadata = encode_subscription(&subscription)?;
        Ok(Request::JoinGroup(JoinGroupRequest {
            group_id: self.config.group_id.as_str().into(),
            session_timeout_ms: millis(self.config.session_timeout),
            rebalance_timeout_ms: millis(self.config.max_poll_interval),
            member_id: self.member_id.as_str().into(),
            group_instance_id: self.config.group_instance_id.as_deref().map(StrBytes::from),
            protocol_type: StrBytes::from_static("consumer"),
            protocols: self
                .config
                .assignors
                .iter()
                .map(|a| JoinGroupRequestProtocol {
                    name: a.name().into(),
                    metadata: metadata.clone(),
                    ..Default::default()
                })
                .collect(),
            reason: None,
            ..Default::default()
        }))
    }

    fn sync_request(&self) -> crate::Result<Request> {
        let State::Syncing {
            generation,
            protocol,
            plan,
            ..
        } = &self.state
        else {
            return Err(Error::Config("SyncGroup outside Syncing".into()));
        };
        let mut assignments = Vec::new();
        if let Some(plan) = plan {
            let assignor = self
                .config
                .assignors
                .iter()
                .find(|a| a.name() == plan.protocol)
                .ok_or_else(|| {
                    Error::Config(format!(
                        "the group chose assignor {:?}, which this member does not have",
                        plan.protocol
                    ))
                })?;
            let counts = plan.counts.clone().unwrap_or_default();
            let result = assignor.assign(&plan.members, &counts);
            for (member_id, partitions) in result {
                let bytes = encode_assignment(&crate::group::assignor::Assignment {
                    partitions: partitions.into_iter().collect(),
                    user_data: None,
                })?;
                assignments.push(SyncGroupRequestAssignment {
                    member_id: member_id.into(),
                    assignment: bytes,
                    ..Default::default()
                });
            }
        }
        Ok(Request::SyncGroup(SyncGroupRequest {
            group_id: self.config.group_id.as_str().into(),
            generation_id: *generation,
            member_id: self.member_id.as_str().into(),
            group_instance_id: self.config.group_instance_id.as_deref().map(StrBytes::from),
            protocol_type: Some(StrBytes::from_static("consumer")),
            protocol_name: Some(protocol.as_str().into()),
            assignments,
            ..Default::default()
        }))
    }

    fn leave_request(&self) -> Request {
        Request::LeaveGroup(LeaveGroupRequest {
            group_id: self.config.group_id.as_str().into(),
            members: vec![MemberIdentity {
                member_id: self.member_id.as_str().into(),
                group_instance_id: self.config.group_instance_id.as_deref().map(StrBytes::from),
                reason: Some(StrBytes::from_static("the consumer is being closed")),
                ..Default::default()
            }],
            ..Default::default()
        })
    }

    fn offset_commit_request(&self, offsets: &BTreeMap<TopicPartition, i64>) -> Request {
        super::io::offset_commit_request(
            &self.config.group_id,
            self.config.group_instance_id.as_deref(),
            self.generation,
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

fn millis(d: Duration) -> i32 {
    d.as_millis().min(i32::MAX as u128) as i32
}
