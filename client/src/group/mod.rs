//! Consumer groups: many consumers, one group id, and the group's
//! partitions shared among them. Two membership protocols behind one API
//! ([`GroupProtocol`]): classic (`classic.rs`, the default) and KIP-848
//! (`consumer848.rs`, the broker assigns); the driver runs either through
//! the `io::Membership` trait.
//!
//! ```text
//!  GroupConsumer (user's task)                    driver task (this file)             sans-io machine
//!  poll() ── PollActivity / Commit / RevokeDone ─▶ select! { commands,     ──inputs──▶  ClassicMember
//!        ◀── Assigned / Committed / Revoked / Lost ── responses, timer }  ◀─outputs──   (classic.rs)
//!  fetches its assigned partitions with the            sends each request on its own
//!  plain Consumer (consumer/)                          tokio task, Lane::Group to the coordinator
//! ```
//!
//! The driver task is the only async code in `group/`; it keeps
//! heartbeating while the application is busy between polls. Partition
//! ownership changes reach the application in `poll`: revocations are
//! acknowledged from there, after the records already returned are
//! committed, so a partition's next owner starts exactly where this member
//! stopped. A user callback ([`GroupConsumer::on_rebalance`]) runs in
//! `poll` before a revocation is acknowledged, so the group waits for it.
//!
//! # References
//! FACTS.md 10.1, 10.3; the Java consumer's `ConsumerCoordinator`.

pub mod assignor;
mod callback;
pub(crate) mod classic;
pub(crate) mod consumer848;
pub(crate) mod io;
mod pattern;
mod stream;

#[cfg(fuzzing)]
pub mod fuzz_bridge;
#[cfg(any(test, fuzzing))]
mod scripted;

#[cfg(test)]
mod classic_tests;
#[cfg(test)]
mod consumer848_tests;

pub use consumer848::GroupProtocol;

use crate::client::Client;
use crate::consumer::{Consumer, ConsumerConfig, ConsumerRecord};
use crate::error::{Error, Result};
use crate::net::pool::Lane;
use assignor::{Assignor, TopicPartition};
use classic::{ClassicMember, MemberConfig};
use consumer848::{Consumer848Member, Member848Config};
use io::{
    CommitId, Dest, GroupEvent, Membership, Outgoing, Request, Response, Token, fit_to_version,
};
use kafkacc_protocol::generated::offset_fetch_request::OffsetFetchRequestTopic;
use kafkacc_protocol::messages::{
    ConsumerGroupHeartbeatRequest, FindCoordinatorRequest, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, OffsetCommitRequest, OffsetFetchRequest, SyncGroupRequest,
};
use kafkacc_protocol::{ErrorCode, StrBytes};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Group settings, with the Java consumer's defaults (FACTS.md 10.3).
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `group.id`.
    pub group_id: String,
    /// `group.instance.id`: makes this a static member (KIP-345), whose
    /// restart within `session_timeout` causes no rebalance.
    pub group_instance_id: Option<String>,
    /// `session.timeout.ms` (45 s).
    pub session_timeout: Duration,
    /// `heartbeat.interval.ms` (3 s).
    pub heartbeat_interval: Duration,
    /// `max.poll.interval.ms` (300 s); also the rebalance timeout.
    pub max_poll_interval: Duration,
    /// `partition.assignment.strategy` ([range, cooperative-sticky]).
    pub assignors: Vec<Arc<dyn Assignor>>,
    /// `enable.auto.commit` (true).
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (5 s).
    pub auto_commit_interval: Duration,
    /// `client.rack`.
    pub rack_id: Option<String>,
    /// `group.protocol` (classic).
    pub group_protocol: GroupProtocol,
    /// `group.remote.assignor`: the broker-side assignor with
    /// [`GroupProtocol::Consumer`] (None: the broker's default).
    pub remote_assignor: Option<String>,
}

impl GroupConfig {
    /// Defaults for group `group_id`.
    pub fn new(group_id: impl Into<String>) -> Self {
        GroupConfig {
            group_id: group_id.into(),
            group_instance_id: None,
            session_timeout: Duration::from_secs(45),
            heartbeat_interval: Duration::from_secs(3),
            max_poll_interval: Duration::from_secs(300),
            assignors: assignor::default_assignors(),
            enable_auto_commit: true,
            auto_commit_interval: Duration::from_secs(5),
            rack_id: None,
            group_protocol: GroupProtocol::Classic,
            remote_assignor: None,
        }
    }

    /// Sets `group.protocol`.
    pub fn group_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.group_protocol = protocol;
        self
    }

    /// Sets `group.remote.assignor` (KIP-848 only), e.g. `uniform` or `range`.
    pub fn remote_assignor(mut self, name: impl Into<String>) -> Self {
        self.remote_assignor = Some(name.into());
        self
    }

    /// Sets `session.timeout.ms`.
    pub fn session_timeout(mut self, d: Duration) -> Self {
        self.session_timeout = d;
        self
    }

    /// Sets `heartbeat.interval.ms`.
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.heartbeat_interval = d;
        self
    }

    /// Sets `max.poll.interval.ms`.
    pub fn max_poll_interval(mut self, d: Duration) -> Self {
        self.max_poll_interval = d;
        self
    }

    /// Sets `group.instance.id` (static membership).
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.group_instance_id = Some(id.into());
        self
    }

    /// Sets the assignors, in preference order.
    pub fn assignors(mut self, assignors: Vec<Arc<dyn Assignor>>) -> Self {
        self.assignors = assignors;
        self
    }

    /// Turns auto-commit on or off.
    pub fn enable_auto_commit(mut self, on: bool) -> Self {
        self.enable_auto_commit = on;
        self
    }

    /// Sets `auto.commit.interval.ms`.
    pub fn auto_commit_interval(mut self, d: Duration) -> Self {
        self.auto_commit_interval = d;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.group_id.is_empty() {
            return Err(Error::Config("group_id is empty".into()));
        }
        if self.heartbeat_interval >= self.session_timeout {
            return Err(Error::Config(
                "heartbeat_interval must be lower than session_timeout".into(),
            ));
        }
        if self.assignors.is_empty() {
            return Err(Error::Config("no assignors configured".into()));
        }
        Ok(())
    }
}

/// A change of this member's partitions, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebalanceEvent {
    /// Partitions newly assigned, in `generation`.
    Assigned {
        /// The group generation.
        generation: i32,
        /// The new partitions (may be empty).
        partitions: Vec<TopicPartition>,
    },
    /// Partitions given up in a rebalance; their consumed offsets were
    /// committed first.
    Revoked(Vec<TopicPartition>),
    /// Partitions lost without a chance to commit (the membership ended).
    Lost(Vec<TopicPartition>),
}

/// Commands from the handle to the driver task.
enum Command {
    Subscribe(Vec<String>),
    PollActivity,
    Commit {
        offsets: BTreeMap<TopicPartition, i64>,
        reply: Option<oneshot::Sender<Result<()>>>,
    },
    RevokeDone(BTreeMap<TopicPartition, i64>),
    Leave(oneshot::Sender<()>),
}

/// A consumer in a group: subscribes to topics, reads only the partitions
/// the group assigns it, and commits what it has returned.
///
/// ```no_run
/// # async fn demo() -> kafkacc::Result<()> {
/// use kafkacc::{Client, ClientConfig, ConsumerConfig, GroupConfig, GroupConsumer};
/// use std::time::Duration;
/// let client = Client::connect(ClientConfig::new("localhost:9092")).await?;
/// let mut consumer = GroupConsumer::new(client, ConsumerConfig::default(), GroupConfig::new("billing"))?;
/// consumer.subscribe(&["orders"])?;
/// loop {
///     for record in consumer.poll(Duration::from_secs(1)).await? {
///         println!("{}/{}@{}", record.topic, record.partition, record.offset);
///     }
///     # break;
/// }
/// consumer.close().await?;
/// # Ok(()) }
/// ```
pub struct GroupConsumer {
    consumer: Consumer,
    config: GroupConfig,
    request_timeout: Duration,
    retry_backoff: Duration,
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::UnboundedReceiver<GroupEvent>,
    /// Next offset after the last record returned, per owned partition:
    /// what a commit writes.
    consumed: BTreeMap<TopicPartition, i64>,
    /// What was last committed (auto-commit skips unchanged positions).
    committed: BTreeMap<TopicPartition, i64>,
    owned: BTreeSet<TopicPartition>,
    generation: i32,
    member_id: String,
    rebalance_events: VecDeque<RebalanceEvent>,
    next_auto_commit: Instant,
    fatal: Option<Error>,
    closed: bool,
    /// A regex subscription (`subscribe_pattern`), re-evaluated in `poll`.
    pattern: Option<pattern::PatternSubscription>,
    /// The user's rebalance callback ([`GroupConsumer::on_rebalance`]).
    callback: Option<callback::RebalanceCallback>,
}

impl std::fmt::Debug for GroupConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupConsumer")
            .field("group_id", &self.config.group_id)
            .field("member_id", &self.member_id)
            .field("generation", &self.generation)
            .field("owned", &self.owned.len())
            .finish()
    }
}

impl GroupConsumer {
    /// A group member on `client`. Starts the driver task (call from a
    /// tokio runtime); nothing is joined until [`GroupConsumer::subscribe`].
    pub fn new(client: Client, consumer: ConsumerConfig, group: GroupConfig) -> Result<Self> {
        group.validate()?;
        let client_config = client.config().clone();
        let classic = ClassicMember::new(MemberConfig {
            group_id: group.group_id.clone(),
            group_instance_id: group.group_instance_id.clone(),
            session_timeout: group.session_timeout,
            max_poll_interval: group.max_poll_interval,
            heartbeat_interval: group.heartbeat_interval,
            retry_backoff: client_config.retry_backoff,
            retry_backoff_max: client_config.retry_backoff_max,
            assignors: group.assignors.clone(),
            rack_id: group.rack_id.clone(),
            metadata_max_age: client_config.metadata_max_age,
        });
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (event_tx, events) = mpsc::unbounded_channel();
        // JoinGroup may wait for every member to rejoin (the rebalance
        // timeout), as Java allows: rebalance timeout + 5 s.
        let join_timeout = client_config
            .request_timeout
            .max(group.max_poll_interval + Duration::from_secs(5));
        static NEXT_MEMBER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let lane = Lane::Group(NEXT_MEMBER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let driving = Driving { join_timeout, lane };
        match group.group_protocol {
            GroupProtocol::Classic => {
                tokio::spawn(drive(
                    client.clone(),
                    classic,
                    command_rx,
                    event_tx,
                    driving,
                ));
            }
            GroupProtocol::Consumer => {
                let machine = Consumer848Member::new(Member848Config {
                    group_id: group.group_id.clone(),
                    member_id: consumer848::random_member_id(),
                    group_instance_id: group.group_instance_id.clone(),
                    rack_id: group.rack_id.clone(),
                    server_assignor: group.remote_assignor.clone(),
                    max_poll_interval: group.max_poll_interval,
                    retry_backoff: client_config.retry_backoff,
                    retry_backoff_max: client_config.retry_backoff_max,
                });
                tokio::spawn(drive(
                    client.clone(),
                    machine,
                    command_rx,
                    event_tx,
                    driving,
                ));
            }
        }
        Ok(GroupConsumer {
            consumer: Consumer::new(client, consumer),
            request_timeout: client_config.request_timeout,
            retry_backoff: client_config.retry_backoff,
            next_auto_commit: Instant::now() + group.auto_commit_interval,
            config: group,
            commands,
            events,
            consumed: BTreeMap::new(),
            committed: BTreeMap::new(),
            owned: BTreeSet::new(),
            generation: -1,
            member_id: String::new(),
            rebalance_events: VecDeque::new(),
            fatal: None,
            closed: false,
            pattern: None,
            callback: None,
        })
    }

    /// Subscribes to `topics` (replacing any earlier subscription) and
    /// joins the group.
    pub fn subscribe(&mut self, topics: &[&str]) -> Result<()> {
        self.check_open()?;
        self.pattern = None;
        self.command(Command::Subscribe(
            topics.iter().map(|t| (*t).to_owned()).collect(),
        ))
    }

    /// The partitions this member owns now.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.owned.iter().cloned().collect()
    }

    /// The generation of the current assignment (-1 before the first).
    pub fn generation(&self) -> i32 {
        self.generation
    }

    /// The member id the coordinator gave this member.
    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    /// Sets a callback that runs for every assignment change, in
    /// [`GroupConsumer::poll`], and that the group waits for: an `Assigned`
    /// callback finishes before the new partitions are read, a `Revoked` one
    /// before the revocation is acknowledged (so before the offsets of the
    /// revoked partitions are committed and before any other member can
    /// get them), a `Lost` one before the next poll goes on. Use it to
    /// flush or commit state kept outside Kafka. The group keeps
    /// heartbeating meanwhile; a callback must finish within
    /// `max_poll_interval`, as a poll must.
    ///
    /// ```no_run
    /// # fn demo(consumer: &mut kafkacc::GroupConsumer) {
    /// use kafkacc::RebalanceEvent;
    /// consumer.on_rebalance(|event| async move {
    ///     if let RebalanceEvent::Revoked(partitions) = event {
    ///         // e.g. flush what was computed from these partitions
    ///         println!("giving up {partitions:?}");
    ///     }
    /// });
    /// # }
    /// ```
    pub fn on_rebalance<F, Fut>(&mut self, callback: F)
    where
        F: FnMut(RebalanceEvent) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.callback = Some(callback::RebalanceCallback::new(callback));
    }

    /// The member's identity for
    /// [`Producer::send_offsets_to_transaction`](crate::Producer::send_offsets_to_transaction):
    /// group id, generation, member id and group instance id.
    pub fn group_metadata(&self) -> crate::ConsumerGroupMetadata {
        crate::ConsumerGroupMetadata {
            group_id: self.config.group_id.clone(),
            generation_id: self.generation,
            member_id: self.member_id.clone(),
            group_instance_id: self.config.group_instance_id.clone(),
        }
    }

    /// Assignment changes since the last call, oldest first.
    pub fn rebalance_events(&mut self) -> Vec<RebalanceEvent> {
        self.rebalance_events.drain(..).collect()
    }

    /// Counters of the Fetch requests sent so far (KIP-227 fetch sessions).
    pub fn fetch_session_stats(&self) -> crate::consumer::FetchSessionStats {
        self.consumer.fetch_session_stats()
    }

    /// Changes `max.poll.records` from the next poll on (see
    /// [`Consumer::set_max_poll_records`]).
    pub fn set_max_poll_records(&mut self, max: usize) {
        self.consumer.set_max_poll_records(max);
    }

    /// The next offset to read of an owned partition, if known.
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        self.consumer.position(topic, partition)
    }

    /// Returns records of the assigned partitions, waiting up to `timeout`
    /// for some (an empty vector if none came). Rebalances are handled
    /// here; auto-commits happen here.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        let deadline = self.start_poll(timeout)?;
        loop {
            let slice = self.before_fetching(deadline).await?;
            let mut records = self.consumer.poll(slice).await?;
            // A revocation that arrived meanwhile wins over these records.
            self.process_events().await?;
            self.keep_owned_and_track(&mut records);
            if !records.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(records);
            }
        }
    }

    /// [`GroupConsumer::poll`] without decoding: one owned partition's
    /// records left in the fetched buffers (see
    /// [`Consumer::poll_partition`]); they count as consumed for commits
    /// once returned. None if nothing came within `timeout`.
    pub async fn poll_partition(
        &mut self,
        timeout: Duration,
    ) -> Result<Option<crate::consumer::PartitionRecords>> {
        let deadline = self.start_poll(timeout)?;
        loop {
            let slice = self.before_fetching(deadline).await?;
            let run = self.consumer.poll_partition(slice).await?;
            // A revocation that arrived meanwhile wins over this run.
            self.process_events().await?;
            if let Some(run) = run {
                let tp = TopicPartition::new(run.topic(), run.partition());
                if let (true, Some(next)) = (self.owned.contains(&tp), run.next_offset()) {
                    self.consumed.insert(tp, next);
                    return Ok(Some(run));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
        }
    }

    /// The start of a poll: tells the membership the application is
    /// polling (`max.poll.interval`) and returns the poll's deadline.
    fn start_poll(&mut self, timeout: Duration) -> Result<tokio::time::Instant> {
        self.check_open()?;
        self.command(Command::PollActivity)?;
        Ok(tokio::time::Instant::now() + timeout)
    }

    /// Handles rebalance events, auto-commit and pattern subscriptions
    /// before each fetch of a poll; returns how long that fetch may wait:
    /// short slices, so rebalances are noticed while nothing arrives.
    async fn before_fetching(&mut self, deadline: tokio::time::Instant) -> Result<Duration> {
        self.process_events().await?;
        self.maybe_auto_commit();
        self.refresh_pattern().await?;
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        Ok(remaining.min(Duration::from_millis(200)))
    }

    /// Drops records of partitions this member no longer owns and notes
    /// the rest as consumed. Records come in runs of one partition, so the
    /// lookups are per run, not per record.
    fn keep_owned_and_track(&mut self, records: &mut Vec<ConsumerRecord>) {
        // Each run of one partition: where it ends and whether it is kept.
        let mut runs: Vec<(usize, bool)> = Vec::new();
        let mut start = 0;
        while let Some(first) = records.get(start) {
            let end = records[start..]
                .iter()
                .position(|r| r.partition != first.partition || r.topic != first.topic)
                .map_or(records.len(), |n| start + n);
            let tp = TopicPartition::new(&*first.topic, first.partition);
            let owned = self.owned.contains(&tp);
            if owned {
                self.consumed.insert(tp, records[end - 1].offset + 1);
            }
            runs.push((end, owned));
            start = end;
        }
        if runs.iter().all(|(_, owned)| *owned) {
            return;
        }
        let (mut index, mut run) = (0, 0);
        records.retain(|_| {
            while runs[run].0 <= index {
                run += 1;
            }
            index += 1;
            runs[run].1
        });
    }

    /// Commits the positions of the records returned so far and waits for
    /// the outcome. Retries while the coordinator is moving, and waits out
    /// a rebalance in progress (REBALANCE_IN_PROGRESS): once it ends, the
    /// positions of the partitions this member still owns are committed
    /// (those it gave up were committed when it gave them up).
    pub async fn commit(&mut self) -> Result<()> {
        self.check_open()?;
        let deadline = Instant::now() + self.request_timeout;
        let mut attempt = 0;
        loop {
            self.process_events().await?;
            let offsets = self.consumed.clone();
            if offsets.is_empty() {
                return Ok(());
            }
            let (tx, rx) = oneshot::channel();
            self.command(Command::Commit {
                offsets: offsets.clone(),
                reply: Some(tx),
            })?;
            let result = rx.await.unwrap_or(Err(Error::Closed));
            match result {
                Ok(()) => {
                    self.committed.extend(offsets);
                    return Ok(());
                }
                Err(e)
                    if (e.is_retriable() || e.code() == Some(ErrorCode::REBALANCE_IN_PROGRESS))
                        && Instant::now() < deadline =>
                {
                    tracing::debug!(error = %e, attempt, "commit failed; retrying");
                    tokio::time::sleep(self.retry_backoff * (attempt + 1).min(10)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Starts a commit of the positions returned so far without waiting;
    /// a failure is logged (a later commit supersedes it).
    pub fn commit_async(&mut self) -> Result<()> {
        self.check_open()?;
        let offsets: BTreeMap<TopicPartition, i64> = self
            .consumed
            .iter()
            .filter(|(tp, o)| self.committed.get(*tp) != Some(*o))
            .map(|(tp, o)| (tp.clone(), *o))
            .collect();
        if offsets.is_empty() {
            return Ok(());
        }
        // Optimistic: a failed async commit is retried by the next one only
        // if the position moves again, as Java's auto-commit.
        self.committed.extend(offsets.clone());
        self.command(Command::Commit {
            offsets,
            reply: None,
        })
    }

    /// Commits what was returned, runs the rebalance callback for the
    /// partitions given up (`Revoked`, as Java's close does), leaves the
    /// group (a static member stays registered until its session times
    /// out) and stops the driver.
    pub async fn close(mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        let commit = if self.fatal.is_none() {
            self.commit().await
        } else {
            Ok(())
        };
        if let Err(e) = &commit {
            tracing::warn!(error = %e, "commit on close failed");
        }
        if !self.owned.is_empty() && self.fatal.is_none() {
            let event = RebalanceEvent::Revoked(self.owned.iter().cloned().collect());
            self.run_callback(&event).await;
        }
        self.closed = true;
        self.consumer.close_fetch_sessions().await;
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Leave(tx)).is_ok() {
            let _ = tokio::time::timeout(self.request_timeout, rx).await;
        }
        commit
    }

    fn check_open(&self) -> Result<()> {
        if let Some(e) = &self.fatal {
            return Err(e.clone());
        }
        if self.closed {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn command(&self, command: Command) -> Result<()> {
        self.commands.send(command).map_err(|_| Error::Closed)
    }

    fn maybe_auto_commit(&mut self) {
        if self.config.enable_auto_commit && Instant::now() >= self.next_auto_commit {
            self.next_auto_commit = Instant::now() + self.config.auto_commit_interval;
            let _ = self.commit_async();
        }
    }

    /// Applies what the driver reported.
    /// Rebalance callbacks run here, each awaited before the next event:
    /// a revocation is acknowledged (its offsets committed, the group
    /// rebalanced onward) only after the callback for it has finished.
    async fn process_events(&mut self) -> Result<()> {
        while let Ok(event) = self.events.try_recv() {
            match event {
                GroupEvent::Assigned {
                    generation,
                    member_id,
                    partitions,
                } => {
                    self.generation = generation;
                    self.member_id = member_id;
                    for tp in &partitions {
                        self.consumer
                            .assign_awaiting_committed(&tp.topic, tp.partition);
                        self.owned.insert(tp.clone());
                    }
                    let event = RebalanceEvent::Assigned {
                        generation,
                        partitions: partitions.into_iter().collect(),
                    };
                    self.run_callback(&event).await;
                    self.rebalance_events.push_back(event);
                }
                GroupEvent::Committed { offsets } => {
                    for (tp, offset) in offsets {
                        if self.owned.contains(&tp) {
                            self.consumer
                                .set_committed_position(&tp.topic, tp.partition, offset);
                            if let Some(o) = offset {
                                self.committed.insert(tp, o);
                            }
                        }
                    }
                }
                GroupEvent::Revoked { partitions } => {
                    // Commit what the application has been given: the next
                    // owner starts right after it.
                    let offsets: BTreeMap<TopicPartition, i64> = partitions
                        .iter()
                        .filter_map(|tp| {
                            let o = *self.consumed.get(tp)?;
                            (self.committed.get(tp) != Some(&o)).then(|| (tp.clone(), o))
                        })
                        .collect();
                    self.drop_partitions(&partitions);
                    let event = RebalanceEvent::Revoked(partitions.into_iter().collect());
                    self.run_callback(&event).await;
                    self.command(Command::RevokeDone(offsets))?;
                    self.rebalance_events.push_back(event);
                }
                GroupEvent::Lost { partitions } => {
                    self.drop_partitions(&partitions);
                    let event = RebalanceEvent::Lost(partitions.into_iter().collect());
                    self.run_callback(&event).await;
                    self.rebalance_events.push_back(event);
                }
                GroupEvent::Fatal(e) => {
                    let all: BTreeSet<TopicPartition> = self.owned.clone();
                    self.drop_partitions(&all);
                    if !all.is_empty() {
                        let event = RebalanceEvent::Lost(all.into_iter().collect());
                        self.run_callback(&event).await;
                        self.rebalance_events.push_back(event);
                    }
                    self.fatal = Some(e.clone());
                    return Err(e);
                }
                GroupEvent::CommitDone { .. } | GroupEvent::Left => {}
            }
        }
        Ok(())
    }

    /// Runs the rebalance callback, if any, to completion.
    async fn run_callback(&mut self, event: &RebalanceEvent) {
        if let Some(callback) = &mut self.callback {
            callback.call(event.clone()).await;
        }
    }

    fn drop_partitions(&mut self, partitions: &BTreeSet<TopicPartition>) {
        for tp in partitions {
            self.consumer.unassign_partition(&tp.topic, tp.partition);
            self.owned.remove(tp);
            self.consumed.remove(tp);
            self.committed.remove(tp);
        }
    }
}

/// How the driver sends.
#[derive(Debug, Clone, Copy)]
struct Driving {
    join_timeout: Duration,
    /// This member's own coordinator connection.
    lane: Lane,
}

/// The driver task: feeds the machine and carries out what it asks.
async fn drive<M: Membership>(
    client: Client,
    mut machine: M,
    mut commands: mpsc::UnboundedReceiver<Command>,
    events: mpsc::UnboundedSender<GroupEvent>,
    driving: Driving,
) {
    let (response_tx, mut responses) = mpsc::unbounded_channel::<(Token, Result<Response>)>();
    let mut commit_replies: BTreeMap<CommitId, oneshot::Sender<Result<()>>> = BTreeMap::new();
    let mut leave_replies: Vec<oneshot::Sender<()>> = Vec::new();
    let mut handle_gone = false;
    loop {
        while let Some((token, outgoing)) = machine.poll_request() {
            let client = client.clone();
            let tx = response_tx.clone();
            tracing::trace!(request = outgoing.request.name(), "group request");
            tokio::spawn(async move {
                let result = send(&client, outgoing, driving).await;
                let _ = tx.send((token, result));
            });
        }
        while let Some(event) = machine.poll_event() {
            match event {
                GroupEvent::CommitDone { id, result } => {
                    if let Err(e) = &result {
                        tracing::debug!(error = %e, "commit failed");
                    }
                    if let Some(reply) = commit_replies.remove(&id) {
                        let _ = reply.send(result);
                    }
                }
                GroupEvent::Left => {
                    for reply in leave_replies.drain(..) {
                        let _ = reply.send(());
                    }
                }
                other => {
                    let _ = events.send(other);
                }
            }
        }
        if machine.is_dead() {
            for reply in leave_replies.drain(..) {
                let _ = reply.send(());
            }
            for (_, reply) in std::mem::take(&mut commit_replies) {
                let _ = reply.send(Err(Error::Closed));
            }
            client.close_lane(driving.lane);
            return;
        }
        let wake = machine
            .poll_timeout()
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            command = commands.recv(), if !handle_gone => {
                let now = Instant::now();
                match command {
                    Some(Command::Subscribe(topics)) => machine.subscribe(now, topics),
                    Some(Command::PollActivity) => machine.poll_activity(now),
                    Some(Command::Commit { offsets, reply }) => {
                        let id = machine.commit(now, offsets);
                        if let Some(reply) = reply {
                            commit_replies.insert(id, reply);
                        }
                    }
                    Some(Command::RevokeDone(offsets)) => machine.revoke_done(now, offsets),
                    Some(Command::Leave(reply)) => {
                        leave_replies.push(reply);
                        machine.leave(now);
                    }
                    None => {
                        // The handle was dropped without close: leave anyway.
                        handle_gone = true;
                        machine.leave(now);
                    }
                }
            }
            Some((token, result)) = responses.recv() => {
                let now = Instant::now();
                match result {
                    Ok(response) => machine.handle_response(now, token, response),
                    Err(error) => machine.handle_error(now, token, error),
                }
            }
            _ = tokio::time::sleep_until(wake) => machine.handle_timeout(Instant::now()),
        }
    }
}

/// Sends one request the machine asked for, at the version the broker
/// supports, and returns the response.
async fn send(client: &Client, outgoing: Outgoing, driving: Driving) -> Result<Response> {
    let join_timeout = driving.join_timeout;
    let Outgoing { dest, mut request } = outgoing;
    if let Request::Metadata { topics } = &request {
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        let metadata = client.refresh_metadata(&refs).await?;
        let counts = topics
            .iter()
            .filter_map(|t| {
                let info = metadata.topic(t)?;
                (!info.partitions.is_empty()).then(|| (t.clone(), info.partitions.len() as i32))
            })
            .collect();
        return Ok(Response::Metadata(counts));
    }
    if let Request::TopicIds { topics } = &request {
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        let metadata = client.refresh_metadata(&refs).await?;
        let ids = topics
            .iter()
            .filter_map(|t| Some((t.clone(), metadata.topic(t)?.id)))
            .collect();
        return Ok(Response::TopicIds(ids));
    }
    let conn = match &dest {
        Dest::AnyBroker => client.any_connection(Lane::Default).await?,
        Dest::Coordinator(c) => client.addr_connection(&c.addr(), driving.lane).await?,
    };
    let cap = io::max_version(&request);
    let pick = |v: i16| cap.map_or(v, |c| v.min(c));
    let timeout = client.config().request_timeout;
    macro_rules! call {
        ($ty:ty, $variant:ident, $timeout:expr) => {{
            let version = pick(conn.version_of::<$ty>()?);
            fit_to_version(&mut request, version)?;
            let Request::$variant(r) = &request else {
                unreachable!("matched above")
            };
            Response::$variant(conn.send_at_timeout(r, version, $timeout).await?)
        }};
    }
    let response = match &request {
        Request::FindCoordinator(_) => call!(FindCoordinatorRequest, FindCoordinator, timeout),
        Request::JoinGroup(_) => call!(JoinGroupRequest, JoinGroup, join_timeout),
        Request::SyncGroup(_) => call!(SyncGroupRequest, SyncGroup, timeout),
        Request::Heartbeat(_) => call!(HeartbeatRequest, Heartbeat, timeout),
        Request::LeaveGroup(_) => call!(LeaveGroupRequest, LeaveGroup, timeout),
        Request::OffsetCommit(_) => call!(OffsetCommitRequest, OffsetCommit, timeout),
        Request::OffsetFetch(_) => call!(OffsetFetchRequest, OffsetFetch, timeout),
        Request::ConsumerGroupHeartbeat(_) => {
            call!(
                ConsumerGroupHeartbeatRequest,
                ConsumerGroupHeartbeat,
                timeout
            )
        }
        Request::Metadata { .. } | Request::TopicIds { .. } => unreachable!("answered above"),
    };
    Ok(response)
}

/// The committed offsets of `group_id` for `topic`: partition → next
/// offset to read (partitions without a commit are left out).
pub async fn committed_offsets(
    client: &Client,
    group_id: &str,
    topic: &str,
) -> Result<BTreeMap<i32, i64>> {
    let conn = coordinator_connection(client, group_id).await?;
    let version = conn.version_of::<OffsetFetchRequest>()?.min(7);
    let metadata = client.topic_metadata(topic, false).await?;
    let partitions: Vec<i32> = metadata
        .topic(topic)
        .map(|t| t.partitions.iter().map(|p| p.partition).collect())
        .unwrap_or_default();
    let request = OffsetFetchRequest {
        group_id: group_id.into(),
        topics: Some(vec![OffsetFetchRequestTopic {
            name: topic.into(),
            partition_indexes: partitions.into(),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let response = conn.send_at(&request, version).await?;
    Error::check_code(
        response.error_code,
        || format!("OffsetFetch {group_id}"),
        None,
    )?;
    let mut out = BTreeMap::new();
    for t in &response.topics {
        for p in &t.partitions {
            if p.committed_offset >= 0 {
                out.insert(p.partition_index, p.committed_offset);
            }
        }
    }
    Ok(out)
}

/// A connection to `group_id`'s coordinator (FindCoordinator first).
pub(crate) async fn coordinator_connection(
    client: &Client,
    group_id: &str,
) -> Result<Arc<crate::net::conn::Connection>> {
    let conn = client.any_connection(Lane::Default).await?;
    let version = conn.version_of::<FindCoordinatorRequest>()?;
    let mut request = Request::FindCoordinator(FindCoordinatorRequest {
        coordinator_keys: vec![StrBytes::from(group_id)],
        ..Default::default()
    });
    fit_to_version(&mut request, version)?;
    let Request::FindCoordinator(find) = &request else {
        unreachable!("built above")
    };
    let response = conn.send_at(find, version).await?;
    let (code, host, port) = match response.coordinators.first() {
        Some(c) => (c.error_code, c.host.clone(), c.port),
        None => (response.error_code, response.host.clone(), response.port),
    };
    Error::check_code(code, || format!("FindCoordinator {group_id}"), None)?;
    let coordinator = io::Coordinator {
        node_id: -1,
        host: host.as_str().to_owned(),
        port,
    };
    client
        .addr_connection(&coordinator.addr(), Lane::Default)
        .await
}
