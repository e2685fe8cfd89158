//! The consumer: reads assigned partitions in offset order from their
//! leaders, one Fetch per broker per round, pipelined across brokers.
//!
//! Prefetch: when a poll returns records, the next round starts at once in
//! a spawned task, so the brokers' answers arrive while the application
//! works; the next poll applies them. Rounds are also pipelined: as soon as
//! a round's answers arrive, the batch headers say where every partition
//! will go on, and the round after it is sent before this one is decoded,
//! so the broker reads its log while the consumer decodes. If the positions
//! moved meanwhile (a seek, pause or assignment change), that round's
//! answers are still awaited, to keep the broker's fetch session in step,
//! and only what is still current in them is used; the round after it is
//! planned afresh. So at most two rounds are fetched ahead of the records
//! the application holds. Positions move only when a round is applied, and
//! a partition sought, paused or unassigned meanwhile has its prefetched
//! data dropped.
//!
//! Fetched records stay in the response buffers, one [`PartitionRecords`]
//! run per partition and round (`records.rs`): the fetch task checks CRCs,
//! decompresses, filters aborted transactions and parses every record once,
//! and [`Consumer::poll_partition`] hands a run out to be read in place
//! through borrowed [`RecordView`]s. [`Consumer::poll`] turns the same runs
//! into owned [`ConsumerRecord`]s (sharing the buffers, not copying them).
//!
//! Positions start from an explicit [`Consumer::seek`], or from the
//! `auto_offset_reset` policy; OFFSET_OUT_OF_RANGE applies the policy again.
//! Leader changes are followed through metadata refreshes.
//!
//! Fetch sessions (KIP-227, Fetch v7+): after the first request to a
//! broker, a request lists only the partitions whose position changed
//! (`fetch_session.rs`); [`Consumer::close`] closes the sessions.

mod fetch;
mod fetch_session;
mod records;
pub(crate) mod stream;

pub use fetch_session::FetchSessionStats;
pub use records::{Iter as PartitionRecordsIter, PartitionRecords, RecordView, ViewHeaders};

use crate::admin::{OffsetSpec, list_offsets, start_offsets};
use crate::client::Client;
use crate::error::{Error, Result};
use bytes::Bytes;
use kafkacc_protocol::records::Header;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Where to start when a partition has no valid position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OffsetReset {
    /// The first offset in the log.
    Earliest,
    /// The end of the log: only new records (the Java default).
    #[default]
    Latest,
    /// No reset: reading fails with an error the caller must handle.
    None,
}

/// Consumer configuration with the Java consumer's defaults (FACTS.md 11.2).
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// `fetch.min.bytes`: the broker waits for this much data (1).
    pub fetch_min_bytes: i32,
    /// `fetch.max.bytes`: cap on one fetch response (50 MiB).
    pub fetch_max_bytes: i32,
    /// `max.partition.fetch.bytes`: cap per partition (1 MiB).
    pub max_partition_fetch_bytes: i32,
    /// `fetch.max.wait.ms`: how long the broker may wait for `fetch_min_bytes` (500 ms).
    pub fetch_max_wait: Duration,
    /// `auto.offset.reset` (latest).
    pub auto_offset_reset: OffsetReset,
    /// `isolation.level=read_committed` (false: read_uncommitted).
    pub read_committed: bool,
    /// `check.crcs`: verify each batch's CRC-32C (true).
    pub check_crcs: bool,
    /// `max.poll.records`: the most records one poll returns (500). The
    /// rest of a fetch waits for the next polls, so a group member's
    /// position (what it commits) covers only what it was given.
    pub max_poll_records: usize,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            fetch_min_bytes: 1,
            fetch_max_bytes: 52_428_800,
            max_partition_fetch_bytes: 1_048_576,
            fetch_max_wait: Duration::from_millis(500),
            auto_offset_reset: OffsetReset::Latest,
            read_committed: false,
            check_crcs: true,
            max_poll_records: 500,
        }
    }
}

impl ConsumerConfig {
    /// Sets `auto.offset.reset`.
    pub fn auto_offset_reset(mut self, reset: OffsetReset) -> Self {
        self.auto_offset_reset = reset;
        self
    }

    /// Sets `isolation.level`: `true` for read_committed (records of aborted
    /// transactions are skipped, and reading stops at the last stable offset).
    pub fn read_committed(mut self, read_committed: bool) -> Self {
        self.read_committed = read_committed;
        self
    }

    /// Sets `fetch.max.wait.ms`.
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.fetch_max_wait = wait;
        self
    }

    /// Sets `max.poll.records` (at least 1).
    pub fn max_poll_records(mut self, max: usize) -> Self {
        self.max_poll_records = max.max(1);
        self
    }
}

/// A record read from Kafka.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerRecord {
    /// Topic (shared by the records of one fetch, not copied per record).
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Timestamp (ms since the epoch).
    pub timestamp: i64,
    /// Key.
    pub key: Option<Bytes>,
    /// Value (None for a tombstone).
    pub value: Option<Bytes>,
    /// Headers in order, duplicates kept.
    pub headers: Vec<Header>,
}

/// Per-partition state.
#[derive(Debug, Clone, Default)]
pub(crate) struct PartitionState {
    /// Next offset to fetch; None until reset or seek.
    pub position: Option<i64>,
    pub paused: bool,
    /// High watermark from the last fetch.
    pub high_watermark: Option<i64>,
    /// A group consumer is still fetching this partition's committed
    /// offset: neither fetch nor apply `auto_offset_reset` yet.
    pub awaiting_committed: bool,
}

/// Reads records from assigned partitions.
#[derive(Debug)]
pub struct Consumer {
    client: Client,
    config: ConsumerConfig,
    assignment: BTreeMap<(String, i32), PartitionState>,
    /// Records fetched and not yet returned, in order, one partition's run
    /// per entry (a poll returns at most one).
    buffered: VecDeque<PartitionRecords>,
    /// The round started when the last poll returned records.
    prefetch: Option<Prefetch>,
    /// The round sent while the last one was decoded, not yet used.
    ahead: Option<fetch::Ahead>,
    /// Every broker's fetch session, shared with the round in flight.
    sessions: fetch::Sessions,
}

/// A fetch round running in its own task; dropping it aborts the task.
#[derive(Debug)]
struct Prefetch {
    task: tokio::task::JoinHandle<fetch::Round>,
    /// Partitions sought, paused or unassigned since the round started:
    /// their fetched data is dropped.
    discard: BTreeSet<(String, i32)>,
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Consumer {
    /// A consumer on `client` with nothing assigned.
    pub fn new(client: Client, config: ConsumerConfig) -> Self {
        Consumer {
            client,
            config,
            assignment: BTreeMap::new(),
            buffered: VecDeque::new(),
            prefetch: None,
            ahead: None,
            sessions: fetch::Sessions::default(),
        }
    }

    /// Counters of the Fetch requests sent so far: how many were full and
    /// how many incremental (KIP-227 fetch sessions).
    pub fn fetch_session_stats(&self) -> FetchSessionStats {
        fetch::lock(&self.sessions).stats
    }

    /// Stops fetching and closes the fetch sessions on the brokers (they
    /// would otherwise hold them until they expire).
    pub async fn close(mut self) {
        self.close_fetch_sessions().await;
    }

    /// Drops the round in flight and closes the fetch sessions.
    pub(crate) async fn close_fetch_sessions(&mut self) {
        self.prefetch = None;
        self.ahead = None;
        fetch::close_sessions(&self.client, &self.sessions).await;
    }

    /// Adds partitions of `topic` to the assignment (all of them when
    /// `partitions` is empty). New partitions start per `auto_offset_reset`
    /// unless [`Consumer::seek`] is called.
    pub async fn assign(&mut self, topic: &str, partitions: &[i32]) -> Result<()> {
        let metadata = self.client.topic_metadata(topic, false).await?;
        let info = metadata
            .topic(topic)
            .ok_or_else(|| Error::UnknownTopic(topic.to_owned()))?;
        let wanted: Vec<i32> = if partitions.is_empty() {
            info.partitions.iter().map(|p| p.partition).collect()
        } else {
            partitions.to_vec()
        };
        for p in wanted {
            if info.partition(p).is_none() {
                return Err(Error::UnknownPartition {
                    topic: topic.to_owned(),
                    partition: p,
                });
            }
            self.assignment.entry((topic.to_owned(), p)).or_default();
        }
        Ok(())
    }

    /// The client this consumer reads through.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Removes every partition from the assignment.
    pub fn unassign(&mut self) {
        self.assignment.clear();
        self.buffered.clear();
        self.prefetch = None;
        self.ahead = None;
    }

    /// The assigned partitions.
    pub fn assignment(&self) -> Vec<(String, i32)> {
        self.assignment.keys().cloned().collect()
    }

    /// Reads `topic`/`partition` from `offset` next.
    pub fn seek(&mut self, topic: &str, partition: i32, offset: i64) -> Result<()> {
        let state = self
            .assignment
            .get_mut(&(topic.to_owned(), partition))
            .ok_or_else(|| Error::UnknownPartition {
                topic: topic.to_owned(),
                partition,
            })?;
        state.position = Some(offset);
        self.forget_fetched(topic, partition);
        Ok(())
    }

    /// Seeks to an offset found by `spec` (earliest, latest, timestamp).
    pub async fn seek_to(&mut self, topic: &str, partition: i32, spec: OffsetSpec) -> Result<()> {
        // No record at or after a timestamp: start at the end.
        let offsets = start_offsets(&self.client, topic, &[partition], spec).await?;
        let offset = offsets.get(&partition).copied().unwrap_or(0);
        self.seek(topic, partition, offset)
    }

    /// Changes `max.poll.records` from the next poll on (at least 1): e.g.
    /// to stop after exactly the records still wanted.
    pub fn set_max_poll_records(&mut self, max: usize) {
        self.config.max_poll_records = max.max(1);
    }

    /// The offset of the next record [`Consumer::poll`] returns for a
    /// partition, if known.
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        let state = self.assignment.get(&(topic.to_owned(), partition))?;
        let fetched_first = self
            .buffered
            .iter()
            .find(|run| run.partition() == partition && run.topic() == topic);
        fetched_first
            .and_then(PartitionRecords::first_offset)
            .or(state.position)
    }

    /// The high watermark seen in the last fetch of a partition.
    pub fn high_watermark(&self, topic: &str, partition: i32) -> Option<i64> {
        self.assignment
            .get(&(topic.to_owned(), partition))
            .and_then(|s| s.high_watermark)
    }

    /// Stops fetching a partition until [`Consumer::resume`].
    pub fn pause(&mut self, topic: &str, partition: i32) {
        if let Some(s) = self.assignment.get_mut(&(topic.to_owned(), partition)) {
            s.paused = true;
        }
        self.forget_fetched(topic, partition);
    }

    /// Resumes a paused partition.
    pub fn resume(&mut self, topic: &str, partition: i32) {
        if let Some(s) = self.assignment.get_mut(&(topic.to_owned(), partition)) {
            s.paused = false;
        }
    }

    /// Returns records available now, fetching until some arrive or
    /// `timeout` passes (then an empty vector). One call returns records of
    /// one partition, at most `max_poll_records`; the rest come with the
    /// next calls (without waiting) while the next fetch is already under
    /// way.
    pub async fn poll(&mut self, timeout: Duration) -> Result<Vec<ConsumerRecord>> {
        self.fetch_until_buffered(timeout).await?;
        let Some(front) = self.buffered.front_mut() else {
            return Ok(Vec::new());
        };
        let records = front.take(self.config.max_poll_records);
        if front.is_empty() {
            self.buffered.pop_front();
        }
        Ok(records)
    }

    /// [`Consumer::poll`] without decoding: one partition's records (at
    /// most `max_poll_records`) left in the fetched buffers, read through
    /// borrowed [`RecordView`]s. The fastest way to consume; the position
    /// moves past them as with `poll`. None if nothing came within
    /// `timeout`.
    pub async fn poll_partition(&mut self, timeout: Duration) -> Result<Option<PartitionRecords>> {
        self.fetch_until_buffered(timeout).await?;
        let Some(front) = self.buffered.front_mut() else {
            return Ok(None);
        };
        let run = front.split_to(self.config.max_poll_records);
        if front.is_empty() {
            self.buffered.pop_front();
        }
        Ok(Some(run))
    }

    /// Fetches until some records are buffered or `timeout` passes.
    async fn fetch_until_buffered(&mut self, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if !self.buffered.is_empty() {
                return Ok(());
            }
            let (outcome, discard) = if let Some(mut prefetch) = self.prefetch.take() {
                let joined = match tokio::time::timeout_at(deadline, &mut prefetch.task).await {
                    Ok(joined) => joined,
                    Err(_elapsed) => {
                        self.prefetch = Some(prefetch);
                        return Ok(());
                    }
                };
                let outcome = match joined {
                    Ok(outcome) => outcome,
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(_cancelled) => Ok((Vec::new(), None)),
                };
                (outcome, std::mem::take(&mut prefetch.discard))
            } else {
                if self.assignment.values().all(|s| s.paused) {
                    tokio::time::sleep_until(deadline).await;
                    return Ok(());
                }
                self.reset_missing_positions().await?;
                let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
                let wait = self.config.fetch_max_wait.min(remaining);
                let plan = fetch::plan(&self.assignment);
                let (round, discard) = self.next_round(plan, wait);
                (round.await, discard)
            };
            let (outcome, mut ahead) = outcome?;
            if let Some(ahead) = &mut ahead {
                // Sent before these partitions were sought, paused or dropped.
                ahead.discard.extend(discard.iter().cloned());
            }
            self.ahead = ahead;
            let fetched = fetch::apply_round(
                &self.client,
                &self.config,
                &mut self.assignment,
                outcome,
                &discard,
            )
            .await?;
            if !fetched.is_empty() {
                self.buffered.extend(fetched);
                self.start_prefetch();
                continue;
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(());
            }
        }
    }

    /// Starts the next round for the partitions whose position is known,
    /// to be applied by the next poll. Not while a partition waits for
    /// `auto_offset_reset`: the next poll resets it and fetches it with the
    /// others (a prefetch would keep it waiting).
    fn start_prefetch(&mut self) {
        let plan = fetch::plan(&self.assignment);
        if plan.is_empty() || self.assignment.values().any(needs_reset) {
            return;
        }
        let (round, discard) = self.next_round(plan, self.config.fetch_max_wait);
        self.prefetch = Some(Prefetch {
            task: tokio::spawn(round),
            discard,
        });
    }

    /// The round that fetches `plan` (see [`fetch::next_round`]) and the
    /// partitions whose fetched data it must drop.
    fn next_round(
        &mut self,
        plan: Vec<fetch::Planned>,
        wait: Duration,
    ) -> (
        impl std::future::Future<Output = fetch::Round> + Send + 'static,
        BTreeSet<(String, i32)>,
    ) {
        fetch::next_round(
            self.ahead.take(),
            plan,
            wait,
            self.client.clone(),
            self.config.clone(),
            self.sessions.clone(),
        )
    }

    /// Adds a partition a group assigned; it is not read until
    /// [`Consumer::set_committed_position`] says where to start.
    pub(crate) fn assign_awaiting_committed(&mut self, topic: &str, partition: i32) {
        let state = self
            .assignment
            .entry((topic.to_owned(), partition))
            .or_default();
        state.awaiting_committed = true;
        state.position = None;
        self.forget_fetched(topic, partition);
    }

    /// Starts a group-assigned partition at its committed offset, or per
    /// `auto_offset_reset` when nothing was committed.
    pub(crate) fn set_committed_position(
        &mut self,
        topic: &str,
        partition: i32,
        offset: Option<i64>,
    ) {
        if let Some(state) = self.assignment.get_mut(&(topic.to_owned(), partition)) {
            if state.awaiting_committed {
                state.awaiting_committed = false;
                state.position = offset;
            }
        }
    }

    /// Removes one partition (a group revoked it) and its buffered records.
    pub(crate) fn unassign_partition(&mut self, topic: &str, partition: i32) {
        self.assignment.remove(&(topic.to_owned(), partition));
        self.forget_fetched(topic, partition);
    }

    /// Drops a partition's buffered and prefetched records.
    fn forget_fetched(&mut self, topic: &str, partition: i32) {
        self.buffered
            .retain(|run| !(run.partition() == partition && run.topic() == topic));
        if let Some(prefetch) = &mut self.prefetch {
            prefetch.discard.insert((topic.to_owned(), partition));
        }
        if let Some(ahead) = &mut self.ahead {
            ahead.discard.insert((topic.to_owned(), partition));
        }
    }

    /// Applies `auto_offset_reset` to partitions without a position.
    async fn reset_missing_positions(&mut self) -> Result<()> {
        let missing: Vec<(String, i32)> = self
            .assignment
            .iter()
            .filter(|(_, s)| needs_reset(s))
            .map(|(k, _)| k.clone())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let spec = match self.config.auto_offset_reset {
            OffsetReset::Earliest => OffsetSpec::Earliest,
            OffsetReset::Latest => OffsetSpec::Latest,
            OffsetReset::None => {
                let (topic, partition) = missing[0].clone();
                return Err(Error::Config(format!(
                    "no position for {topic}/{partition} and auto_offset_reset is none"
                )));
            }
        };
        let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (t, p) in missing {
            by_topic.entry(t).or_default().push(p);
        }
        for (topic, partitions) in by_topic {
            let offsets = list_offsets(&self.client, &topic, &partitions, spec).await?;
            for (p, offset) in offsets {
                if let Some(s) = self.assignment.get_mut(&(topic.clone(), p)) {
                    s.position = Some(offset.max(0));
                }
            }
        }
        Ok(())
    }
}

/// Whether `auto_offset_reset` must give a partition its position.
fn needs_reset(state: &PartitionState) -> bool {
    state.position.is_none() && !state.awaiting_committed
}
