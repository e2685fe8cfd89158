//! One fetch round: a Fetch request to each leader of the planned
//! partitions, concurrently; then the outcome applied to the assignment.
//! The network half ([`fetch_raw`]) owns its inputs so it can run in a
//! spawned task (the consumer's prefetch) while the application works, and
//! [`next_round`] sends the next round ([`Ahead`]) as soon as a round's
//! answers arrive, before they are decoded.
//! Each request goes through that broker's KIP-227 session
//! (`fetch_session.rs`), so after the first one it lists only what changed.

use super::fetch_session::{FetchSession, FetchSessionStats, FetchState, SessionRequest};
use super::records::PartitionRecords;
use super::{ConsumerConfig, OffsetReset, PartitionState};
use crate::client::Client;
use crate::error::{Error, Recovery, Result};
use crate::net::pool::Lane;
use kafkacc_protocol::generated::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafkacc_protocol::messages::{FetchRequest, FetchResponse};
use kafkacc_protocol::records::batches;
use kafkacc_protocol::{ErrorCode, StrBytes, Uuid};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The first Fetch version with sessions (KIP-227).
const SESSIONS_FROM_VERSION: i16 = 7;

/// Every broker's fetch session and the counters, shared by the rounds
/// (one at a time) of one consumer.
#[derive(Debug, Default)]
pub(super) struct SessionTable {
    by_broker: BTreeMap<i32, FetchSession>,
    pub(super) stats: FetchSessionStats,
}

/// The consumer's sessions, shared with the round running in a task.
pub(super) type Sessions = Arc<Mutex<SessionTable>>;

/// Locks the session table (a panic elsewhere cannot leave it torn: every
/// update is a few plain assignments).
pub(super) fn lock(sessions: &Sessions) -> std::sync::MutexGuard<'_, SessionTable> {
    sessions.lock().unwrap_or_else(PoisonError::into_inner)
}

type Assignment = BTreeMap<(String, i32), PartitionState>;

/// A partition to fetch and the offset to fetch it from.
pub(super) type Planned = ((String, i32), i64);

/// What one round brought back: per leader, the partitions' updates or the
/// request's error.
pub(super) type RoundOutcome = Vec<Result<Vec<((String, i32), PartitionUpdate)>>>;

/// The partitions a round fetches: those with a position, not paused.
pub(super) fn plan(assignment: &Assignment) -> Vec<Planned> {
    assignment
        .iter()
        .filter(|(_, s)| !s.paused)
        .filter_map(|(key, s)| Some((key.clone(), s.position?)))
        .collect()
}

/// Sends `plan`'s requests to every leader and waits for the answers,
/// undecoded. A connection error to one broker does not fail the round (it
/// is in the outcome).
pub(super) async fn fetch_raw(
    client: Client,
    config: ConsumerConfig,
    sessions: Sessions,
    plan: Vec<Planned>,
    wait: Duration,
) -> Result<RawRound> {
    let metadata = client.current_metadata().await;
    let mut by_leader: BTreeMap<i32, Vec<(String, i32, i64, i32)>> = BTreeMap::new();
    let mut leaderless = false;
    for ((topic, partition), position) in &plan {
        match metadata.topic(topic).and_then(|t| t.partition(*partition)) {
            Some(p) if p.leader >= 0 => by_leader.entry(p.leader).or_default().push((
                topic.clone(),
                *partition,
                *position,
                p.leader_epoch,
            )),
            _ => leaderless = true,
        }
    }
    if leaderless {
        let topics: Vec<&str> = plan.iter().map(|((t, _), _)| t.as_str()).collect();
        client.refresh_metadata(&topics).await?;
    }
    if by_leader.is_empty() {
        tokio::time::sleep(wait.min(Duration::from_millis(100))).await;
        return Ok(RawRound {
            planned: plan.len(),
            answers: Vec::new(),
        });
    }
    let fetches = by_leader
        .into_iter()
        .map(|(leader, parts)| fetch_from(&client, &config, &sessions, leader, parts, wait));
    Ok(RawRound {
        planned: plan.len(),
        answers: futures::future::join_all(fetches).await,
    })
}

/// A round's answers, received and not yet decoded.
#[derive(Debug)]
pub(super) struct RawRound {
    /// How many partitions the round meant to fetch.
    planned: usize,
    /// Per leader: the partitions to decode, or the request's error.
    answers: Vec<Result<RawAnswer>>,
}

/// One leader's answer: its partitions, to decode.
#[derive(Debug)]
struct RawAnswer {
    jobs: Vec<DecodeJob>,
    how: Decoding,
}

impl RawRound {
    /// The plan of the round after this one: every partition moved past the
    /// complete batches it brought (where decoding will move it). None when
    /// anything went wrong (an error, a partition missing or leaderless, a
    /// batch that does not parse): the next round is then planned from the
    /// positions after this one is applied.
    pub(super) fn next_plan(&self) -> Option<Vec<Planned>> {
        let mut plan = Vec::with_capacity(self.planned);
        for answer in &self.answers {
            let answer = answer.as_ref().ok()?;
            for job in &answer.jobs {
                let next = match &job.data {
                    None if answer.how.full => return None,
                    None => job.offset,
                    Some(data) if data.error_code != 0 => return None,
                    Some(data) => end_of_complete_batches(data, job.offset)?,
                };
                plan.push(((job.topic.clone(), job.partition), next));
            }
        }
        if plan.len() != self.planned {
            return None;
        }
        plan.sort_unstable();
        Some(plan)
    }

    /// Decodes every answer.
    pub(super) async fn decode(self) -> RoundOutcome {
        let mut outcome = Vec::with_capacity(self.answers.len());
        for answer in self.answers {
            outcome.push(match answer {
                Ok(answer) => Ok(decode_all(answer.jobs, answer.how).await),
                Err(e) => Err(e),
            });
        }
        outcome
    }
}

/// The offset after the last complete batch of `data` (as decoding finds
/// it), or `offset` when there is none; None if a batch does not parse.
fn end_of_complete_batches(data: &PartitionData, offset: i64) -> Option<i64> {
    let mut next = offset;
    for batch in batches(data.records.clone().unwrap_or_default()) {
        next = next.max(batch.ok()?.header.next_offset());
    }
    Some(next)
}

/// A round sent ahead, before the previous one was decoded: the broker
/// works on it meanwhile. Dropping it aborts it (and so costs the broker's
/// fetch session, see `fetch_session.rs`).
#[derive(Debug)]
pub(super) struct Ahead {
    plan: Vec<Planned>,
    task: tokio::task::JoinHandle<Result<RawRound>>,
    /// Partitions sought, paused or unassigned since it was sent: their
    /// fetched data is dropped.
    pub(super) discard: BTreeSet<(String, i32)>,
}

impl Drop for Ahead {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Ahead {
    /// Sends `plan`'s requests now, in a task of their own.
    fn start(
        client: &Client,
        config: &ConsumerConfig,
        sessions: &Sessions,
        plan: Vec<Planned>,
    ) -> Self {
        let task = tokio::spawn(fetch_raw(
            client.clone(),
            config.clone(),
            sessions.clone(),
            plan.clone(),
            config.fetch_max_wait,
        ));
        Ahead {
            plan,
            task,
            discard: BTreeSet::new(),
        }
    }

    /// Its answers.
    async fn answers(mut self) -> Result<RawRound> {
        match (&mut self.task).await {
            Ok(round) => round,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Aborted: nothing fetched, the next round asks again.
            Err(_cancelled) => Ok(RawRound {
                planned: self.plan.len(),
                answers: Vec::new(),
            }),
        }
    }
}

/// A round to run, decoded, with the round sent ahead of it if any.
pub(super) type Round = Result<(RoundOutcome, Option<Ahead>)>;

/// The round that fetches `plan`, and the partitions whose data it must
/// drop:
/// - the round sent ahead, when it was planned from these very positions;
///   it sends the next one ahead in turn;
/// - the round sent ahead even when the positions moved meanwhile (a seek,
///   pause or assignment change): its answers are awaited so that the
///   broker's fetch session stays in step, what is still current in them is
///   used and the rest dropped; nothing is sent ahead of it, so the round
///   after it is planned from the new positions;
/// - else a new round, waiting up to `wait`, which sends the next ahead.
pub(super) fn next_round(
    ahead: Option<Ahead>,
    plan: Vec<Planned>,
    wait: Duration,
    client: Client,
    config: ConsumerConfig,
    sessions: Sessions,
) -> (
    impl std::future::Future<Output = Round> + Send + 'static,
    BTreeSet<(String, i32)>,
) {
    let (ahead, discard) = match ahead {
        Some(mut ahead) => {
            let discard = std::mem::take(&mut ahead.discard);
            (Some(ahead), discard)
        }
        None => (None, BTreeSet::new()),
    };
    let current = ahead
        .as_ref()
        .is_none_or(|a| a.plan == plan && discard.is_empty());
    let round = async move {
        let raw = match ahead {
            Some(ahead) => ahead.answers().await?,
            None => fetch_raw(client.clone(), config.clone(), sessions.clone(), plan, wait).await?,
        };
        let next = raw
            .next_plan()
            .filter(|plan| current && !plan.is_empty())
            .map(|plan| Ahead::start(&client, &config, &sessions, plan));
        Ok((raw.decode().await, next))
    };
    (round, discard)
}

/// Applies a round's outcome: advances positions and returns the records,
/// one partition's records per vector (moved, never copied into one).
/// Data for a partition in `discard`, no longer assigned, paused, or
/// sought elsewhere during the fetch is dropped. Partition-level errors are
/// handled here (metadata refresh, offset reset).
pub(super) async fn apply_round(
    client: &Client,
    config: &ConsumerConfig,
    assignment: &mut Assignment,
    outcome: RoundOutcome,
    discard: &BTreeSet<(String, i32)>,
) -> Result<Vec<PartitionRecords>> {
    let mut records = Vec::new();
    let mut refresh = false;
    for result in outcome {
        match result {
            Ok(updates) => {
                for (key, update) in updates {
                    if discard.contains(&key) {
                        continue;
                    }
                    let Some(state) = assignment.get_mut(&key) else {
                        continue;
                    };
                    // A seek or pause during the fetch wins over the fetched data.
                    if state.paused || state.position != Some(update.fetched_from) {
                        continue;
                    }
                    match update.result {
                        Ok(fetched) => {
                            if let Some(high_watermark) = fetched.high_watermark {
                                state.high_watermark = Some(high_watermark);
                            }
                            state.position = Some(fetched.next_offset);
                            if let Some(run) = fetched.records.filter(|r| !r.is_empty()) {
                                records.push(run);
                            }
                        }
                        Err(e) if e.code() == Some(ErrorCode::OFFSET_OUT_OF_RANGE) => {
                            match config.auto_offset_reset {
                                OffsetReset::None => return Err(e),
                                _ => state.position = None,
                            }
                        }
                        Err(e) if e.recovery() == Recovery::Fatal => return Err(e),
                        Err(e) => {
                            tracing::debug!(topic = %key.0, partition = key.1, error = %e, "fetch error, will retry");
                            refresh = true;
                        }
                    }
                }
            }
            Err(e) if e.is_retriable() => {
                tracing::debug!(error = %e, "fetch failed, will retry");
                refresh = true;
            }
            Err(e) => return Err(e),
        }
    }
    if refresh {
        let topics: Vec<&str> = assignment.keys().map(|(t, _)| t.as_str()).collect();
        let _ = client.refresh_metadata(&topics).await;
        if records.is_empty() {
            tokio::time::sleep(client.config().retry_backoff).await;
        }
    }
    Ok(records)
}

#[derive(Debug)]
struct Fetched {
    /// None when an incremental answer left the partition out.
    records: Option<PartitionRecords>,
    next_offset: i64,
    /// None when an incremental answer left the partition out (no news).
    high_watermark: Option<i64>,
}

impl Fetched {
    /// A partition an incremental answer left out: nothing new.
    fn nothing_new(offset: i64) -> Self {
        Fetched {
            records: None,
            next_offset: offset,
            high_watermark: None,
        }
    }
}

#[derive(Debug)]
pub(super) struct PartitionUpdate {
    fetched_from: i64,
    result: Result<Fetched>,
}

async fn fetch_from(
    client: &Client,
    config: &ConsumerConfig,
    sessions: &Sessions,
    leader: i32,
    parts: Vec<(String, i32, i64, i32)>,
    wait: Duration,
) -> Result<RawAnswer> {
    let conn = client.broker_connection(leader, Lane::Fetch).await?;
    let version = conn.version_of::<FetchRequest>()?;
    let metadata = client.metadata();
    let topic_id = |name: &str| metadata.topic(name).map_or(Uuid::ZERO, |t| t.id);
    // v13+ names topics by id only; use v12 if an id is missing.
    let version = if version >= 13 && parts.iter().any(|(t, ..)| topic_id(t).is_zero()) {
        12
    } else {
        version
    };
    let by_id = version >= 13;
    let wanted = parts
        .iter()
        .map(|(topic, partition, offset, epoch)| {
            let state = FetchState {
                topic_id: if by_id { topic_id(topic) } else { Uuid::ZERO },
                fetch_offset: *offset,
                leader_epoch: *epoch,
                max_bytes: config.max_partition_fetch_bytes,
            };
            ((topic.clone(), *partition), state)
        })
        .collect();
    let session = {
        let mut table = lock(sessions);
        let request = table
            .by_broker
            .entry(leader)
            .or_default()
            .build(wanted, version >= SESSIONS_FROM_VERSION);
        count_request(&mut table.stats, &request, parts.len());
        request
    };
    let request = FetchRequest {
        replica_id: -1,
        max_wait_ms: wait.as_millis().min(i32::MAX as u128) as i32,
        min_bytes: config.fetch_min_bytes,
        max_bytes: config.fetch_max_bytes,
        isolation_level: i8::from(config.read_committed),
        session_id: session.session_id,
        session_epoch: session.epoch,
        topics: request_topics(&session, by_id),
        forgotten_topics_data: forgotten_topics(&session, by_id),
        ..Default::default()
    };
    let response = match conn.send_at(&request, version).await {
        Ok(response) => response,
        Err(e) => {
            let mut table = lock(sessions);
            if let Some(s) = table.by_broker.get_mut(&leader) {
                s.handle_error();
            }
            table.stats.session_resets += u64::from(session.session_id != 0);
            return Err(e);
        }
    };
    let code = ErrorCode(response.error_code);
    {
        let mut table = lock(sessions);
        if let Some(s) = table.by_broker.get_mut(&leader) {
            s.handle_response(code, response.session_id);
        }
        table.stats.session_resets += u64::from(!code.is_ok() && session.session_id != 0);
    }
    let decoding = Decoding {
        check_crcs: config.check_crcs,
        read_committed: config.read_committed,
        max_decompressed: client.config().max_decompressed_batch_size,
        full: session.full,
    };
    if matches!(
        code,
        ErrorCode::FETCH_SESSION_ID_NOT_FOUND
            | ErrorCode::INVALID_FETCH_SESSION_EPOCH
            | ErrorCode::FETCH_SESSION_TOPIC_ID_ERROR
    ) {
        // The session starts over with the next round's full fetch.
        tracing::debug!(node = leader, error = %code.name(), "fetch session reset");
        return Ok(RawAnswer {
            jobs: Vec::new(),
            how: decoding,
        });
    }
    if !code.is_ok() {
        return Err(Error::broker(
            code,
            format!("Fetch from node {leader}"),
            None,
        ));
    }
    let names: BTreeMap<Uuid, String> = parts
        .iter()
        .map(|(t, ..)| (topic_id(t), t.clone()))
        .collect();
    let jobs = parts
        .into_iter()
        .map(|(topic, partition, offset, _)| {
            let data = partition_result(&response, version, &topic, partition, &names).cloned();
            DecodeJob {
                topic,
                partition,
                offset,
                data,
            }
        })
        .collect();
    Ok(RawAnswer {
        jobs,
        how: decoding,
    })
}

/// Below this many fetched bytes a response is decoded where it arrived.
const PARALLEL_DECODE_BYTES: usize = 1 << 20;

/// How a response's partitions are decoded.
#[derive(Debug, Clone, Copy)]
struct Decoding {
    check_crcs: bool,
    read_committed: bool,
    max_decompressed: usize,
    /// The request was a full fetch: a partition missing from the answer
    /// is an error (an incremental answer lists only what has news).
    full: bool,
}

/// One partition of a response, to decode.
#[derive(Debug)]
struct DecodeJob {
    topic: String,
    partition: i32,
    offset: i64,
    data: Option<PartitionData>,
}

impl DecodeJob {
    fn bytes(&self) -> usize {
        self.data
            .as_ref()
            .and_then(|d| d.records.as_ref())
            .map_or(0, |r| r.len())
    }

    fn decode(self, how: Decoding) -> ((String, i32), PartitionUpdate) {
        let result = match &self.data {
            Some(data) => read_partition(
                &self.topic,
                self.partition,
                self.offset,
                data,
                how.check_crcs,
                how.read_committed,
                how.max_decompressed,
            ),
            None if !how.full => Ok(Fetched::nothing_new(self.offset)),
            None => Err(Error::broker(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                format!(
                    "Fetch {}/{}: missing from response",
                    self.topic, self.partition
                ),
                None,
            )),
        };
        (
            (self.topic, self.partition),
            PartitionUpdate {
                fetched_from: self.offset,
                result,
            },
        )
    }
}

/// Decodes every partition of a response, in order. A large response on a
/// multi-threaded runtime is split over the cores (decoding is most of a
/// consumer's CPU time); otherwise, and always on a current-thread runtime
/// (the simulation's, which must stay deterministic), it is decoded here.
async fn decode_all(jobs: Vec<DecodeJob>, how: Decoding) -> Vec<((String, i32), PartitionUpdate)> {
    let total: usize = jobs.iter().map(DecodeJob::bytes).sum();
    let multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let lanes = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(jobs.len());
    if total < PARALLEL_DECODE_BYTES || !multi_thread || lanes < 2 {
        return jobs.into_iter().map(|job| job.decode(how)).collect();
    }
    // Deal the partitions out to `lanes` groups, largest first, each to the
    // group with the fewest bytes so far; remember each one's place.
    let mut order: Vec<(usize, DecodeJob)> = jobs.into_iter().enumerate().collect();
    order.sort_by_key(|(_, job)| std::cmp::Reverse(job.bytes()));
    let mut groups: Vec<(usize, Vec<(usize, DecodeJob)>)> =
        (0..lanes).map(|_| (0, Vec::new())).collect();
    for (index, job) in order {
        if let Some(group) = groups.iter_mut().min_by_key(|(bytes, _)| *bytes) {
            group.0 += job.bytes();
            group.1.push((index, job));
        }
    }
    let decode_group = move |group: Vec<(usize, DecodeJob)>| {
        group
            .into_iter()
            .map(|(index, job)| (index, job.decode(how)))
            .collect::<Vec<_>>()
    };
    let mut groups = groups.into_iter().map(|(_, g)| g);
    let here = groups.next().unwrap_or_default();
    let elsewhere: Vec<_> = groups
        .map(|group| tokio::task::spawn_blocking(move || decode_group(group)))
        .collect();
    let mut decoded = decode_group(here);
    for handle in elsewhere {
        match handle.await {
            Ok(part) => decoded.extend(part),
            // A decoder does not panic on any input; should the runtime
            // refuse the task, its partitions are fetched again next round.
            Err(e) => tracing::debug!(error = %e, "decode task failed"),
        }
    }
    decoded.sort_by_key(|(index, _)| *index);
    decoded.into_iter().map(|(_, update)| update).collect()
}

/// Counts one request in the stats; `wanted` partitions were to be fetched.
fn count_request(stats: &mut FetchSessionStats, request: &SessionRequest, wanted: usize) {
    if request.full {
        stats.full_fetches += 1;
    } else {
        stats.incremental_fetches += 1;
        stats.omitted_partitions += wanted.saturating_sub(request.send.len()) as u64;
    }
}

/// The request's topics: the partitions the session lists, by topic.
fn request_topics(session: &SessionRequest, by_id: bool) -> Vec<FetchTopic> {
    let mut topics: BTreeMap<&str, (Uuid, Vec<FetchPartition>)> = BTreeMap::new();
    for ((topic, partition), state) in &session.send {
        topics
            .entry(topic.as_str())
            .or_insert_with(|| (state.topic_id, Vec::new()))
            .1
            .push(FetchPartition {
                partition: *partition,
                current_leader_epoch: state.leader_epoch,
                fetch_offset: state.fetch_offset,
                partition_max_bytes: state.max_bytes,
                ..Default::default()
            });
    }
    topics
        .into_iter()
        .map(|(name, (id, partitions))| {
            let (topic, topic_id) = topic_key(name, id, by_id);
            FetchTopic {
                topic,
                topic_id,
                partitions,
                ..Default::default()
            }
        })
        .collect()
}

/// How a Fetch request names a topic: by id (v13+) or by name.
fn topic_key(name: &str, id: Uuid, by_id: bool) -> (StrBytes, Uuid) {
    if by_id {
        (StrBytes::default(), id)
    } else {
        (StrBytes::from(name), Uuid::ZERO)
    }
}

/// The partitions the session drops, by topic.
fn forgotten_topics(session: &SessionRequest, by_id: bool) -> Vec<ForgottenTopic> {
    let mut topics: BTreeMap<&str, (Uuid, Vec<i32>)> = BTreeMap::new();
    for ((topic, partition), id) in &session.forget {
        topics
            .entry(topic.as_str())
            .or_insert_with(|| (*id, Vec::new()))
            .1
            .push(*partition);
    }
    topics
        .into_iter()
        .map(|(name, (id, partitions))| {
            let (topic, topic_id) = topic_key(name, id, by_id);
            ForgottenTopic {
                topic,
                topic_id,
                partitions: partitions.into(),
                ..Default::default()
            }
        })
        .collect()
}

/// Closes every open fetch session (epoch -1, nothing fetched), best
/// effort: a broker that does not answer expires the session itself.
pub(super) async fn close_sessions(client: &Client, sessions: &Sessions) {
    let open: Vec<(i32, i32)> = {
        let mut table = lock(sessions);
        table
            .by_broker
            .iter_mut()
            .filter_map(|(broker, s)| Some((*broker, s.close()?)))
            .collect()
    };
    let timeout = client.config().request_timeout;
    let closes = open.into_iter().map(|(broker, session_id)| async move {
        let conn = client.broker_connection(broker, Lane::Fetch).await?;
        let version = conn.version_of::<FetchRequest>()?;
        let request = FetchRequest {
            replica_id: -1,
            max_wait_ms: 0,
            min_bytes: 0,
            session_id,
            session_epoch: -1,
            ..Default::default()
        };
        conn.send_at_timeout(&request, version, timeout).await?;
        tracing::debug!(node = broker, session_id, "fetch session closed");
        Result::<()>::Ok(())
    });
    for result in futures::future::join_all(closes).await {
        if let Err(e) = result {
            tracing::debug!(error = %e, "closing a fetch session failed");
        }
    }
}

type PartitionData = kafkacc_protocol::generated::fetch_response::PartitionData;

fn partition_result<'a>(
    response: &'a FetchResponse,
    version: i16,
    topic: &str,
    partition: i32,
    names: &BTreeMap<Uuid, String>,
) -> Option<&'a PartitionData> {
    response
        .responses
        .iter()
        .filter(|t| {
            if version >= 13 {
                names.get(&t.topic_id).is_some_and(|n| n == topic)
            } else {
                t.topic == topic
            }
        })
        .flat_map(|t| t.partitions.iter())
        .find(|p| p.partition_index == partition)
}

/// Decodes one partition's records from `offset` on.
fn read_partition(
    topic: &str,
    partition: i32,
    offset: i64,
    data: &PartitionData,
    check_crcs: bool,
    read_committed: bool,
    max_decompressed: usize,
) -> Result<Fetched> {
    let code = ErrorCode(data.error_code);
    if !code.is_ok() {
        return Err(Error::broker(
            code,
            format!("Fetch {topic}/{partition}"),
            None,
        ));
    }
    let decode_error = |source| Error::Decode {
        addr: format!("fetch {topic}/{partition}"),
        source,
    };
    let mut next_offset = offset;
    let listed = if read_committed {
        data.aborted_transactions.as_deref()
    } else {
        None
    };
    let mut aborted = AbortedTransactions::new(listed);
    let mut records = PartitionRecords::new(Arc::from(topic), partition, offset);
    for batch in batches(data.records.clone().unwrap_or_default()) {
        let batch = batch.map_err(decode_error)?;
        if check_crcs {
            batch.verify_crc().map_err(decode_error)?;
        }
        let last = batch.header.last_offset();
        if last < next_offset {
            continue; // a batch wholly before our position (compressed batches start early)
        }
        let control = batch.control_record().map_err(decode_error)?;
        let skip = aborted.skips(&batch.header, control);
        if !batch.header.is_control() && !skip {
            let batch_records = batch.records(max_decompressed).map_err(decode_error)?;
            records.push(batch_records).map_err(decode_error)?;
        }
        next_offset = last + 1;
    }
    Ok(Fetched {
        records: Some(records),
        next_offset,
        high_watermark: Some(data.high_watermark),
    })
}

/// The read_committed filter. The broker lists, per fetched partition, the
/// transactions that were aborted in the range it returned (producer id and
/// first offset). A transactional batch is dropped when its producer has an
/// aborted transaction that started at or before it and whose ABORT marker
/// has not been passed yet.
struct AbortedTransactions {
    /// Aborted transactions not yet started, by first offset (soonest last).
    pending: Vec<(i64, i64)>,
    /// Producers whose current transaction is aborted.
    open: std::collections::BTreeSet<i64>,
}

impl AbortedTransactions {
    fn new(
        list: Option<&[kafkacc_protocol::generated::fetch_response::AbortedTransaction]>,
    ) -> Self {
        let mut pending: Vec<(i64, i64)> = list
            .unwrap_or_default()
            .iter()
            .map(|a| (a.first_offset, a.producer_id))
            .collect();
        pending.sort_unstable_by(|a, b| b.cmp(a));
        AbortedTransactions {
            pending,
            open: std::collections::BTreeSet::new(),
        }
    }

    /// Whether `header`'s batch belongs to an aborted transaction.
    fn skips(
        &mut self,
        header: &kafkacc_protocol::records::BatchHeader,
        control: Option<kafkacc_protocol::records::ControlRecord>,
    ) -> bool {
        while self
            .pending
            .last()
            .is_some_and(|(first, _)| *first <= header.last_offset())
        {
            if let Some((_, producer)) = self.pending.pop() {
                self.open.insert(producer);
            }
        }
        if let Some(kafkacc_protocol::records::ControlRecord::Abort { .. }) = control {
            self.open.remove(&header.producer_id);
            return true;
        }
        header.is_transactional() && self.open.contains(&header.producer_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafkacc_protocol::compression::Compression;
    use kafkacc_protocol::records::{BatchBuilder, ProducerState};

    /// A partition's data: `batches` batches of 100 records of 100 bytes,
    /// offsets from 0.
    fn partition_data(batches: usize, tag: u8) -> PartitionData {
        let mut bytes = Vec::new();
        for b in 0..batches {
            let mut builder = BatchBuilder::new(Compression::None, 0);
            for r in 0..100u8 {
                builder
                    .append(0, None, Some(&[tag ^ r; 100][..]), &[])
                    .expect("append");
            }
            let batch = builder.build(ProducerState::default()).expect("build");
            let mut batch = batch.to_vec();
            // Base offset: the first 8 bytes.
            batch[..8].copy_from_slice(&((b * 100) as i64).to_be_bytes());
            bytes.extend_from_slice(&batch);
        }
        PartitionData {
            records: Some(bytes.into()),
            high_watermark: (batches * 100) as i64,
            ..Default::default()
        }
    }

    fn jobs() -> Vec<DecodeJob> {
        // Six partitions of different sizes, 1.9 MiB in all; one left out.
        (0..6)
            .map(|p| DecodeJob {
                topic: "t".into(),
                partition: p,
                offset: 50,
                data: (p != 3).then(|| partition_data(10 + 10 * p as usize, p as u8)),
            })
            .collect()
    }

    fn summary(updates: &[((String, i32), PartitionUpdate)]) -> Vec<(i32, i64, usize, u64)> {
        updates
            .iter()
            .map(|((_, p), u)| {
                let fetched = u.result.as_ref().expect("decoded");
                let run = fetched.records.as_ref();
                let checksum = run
                    .iter()
                    .flat_map(|run| run.iter())
                    .map(|r| r.offset as u64 * 31 + r.value.map_or(0, |v| u64::from(v[0])))
                    .sum();
                (
                    *p,
                    fetched.next_offset,
                    run.map_or(0, |r| r.len()),
                    checksum,
                )
            })
            .collect()
    }

    proptest::proptest! {
        /// The round sent ahead starts each partition where decoding the
        /// previous round leaves it, whatever the fetch position and however
        /// the broker cut the last batch short.
        #[test]
        fn the_next_plan_starts_where_decoding_ends(
            batches in 0usize..4,
            offset in 0i64..450,
            cut in 0usize..20_000,
        ) {
            let mut data = partition_data(batches, 7);
            let bytes = data.records.clone().unwrap_or_default();
            data.records = Some(bytes.slice(..bytes.len().saturating_sub(cut)));
            let decoded = read_partition("t", 0, offset, &data, true, false, 1 << 20)
                .expect("decodes");
            proptest::prop_assert_eq!(
                end_of_complete_batches(&data, offset),
                Some(decoded.next_offset)
            );
        }
    }

    #[test]
    fn next_plan_is_none_after_any_error() {
        let how = Decoding {
            check_crcs: true,
            read_committed: false,
            max_decompressed: 1 << 20,
            full: true,
        };
        let round = |jobs: Vec<DecodeJob>, planned: usize| RawRound {
            planned,
            answers: vec![Ok(RawAnswer { jobs, how })],
        };
        let plan = round(jobs(), 6).next_plan();
        assert!(plan.is_none(), "a full answer that left a partition out");
        let incremental = RawRound {
            planned: 6,
            answers: vec![Ok(RawAnswer {
                jobs: jobs(),
                how: Decoding { full: false, ..how },
            })],
        };
        let plan = incremental
            .next_plan()
            .expect("every partition accounted for");
        let offsets: Vec<(i32, i64)> = plan.iter().map(|((_, p), o)| (*p, *o)).collect();
        assert_eq!(
            offsets,
            vec![
                (0, 1000),
                (1, 2000),
                (2, 3000),
                (3, 50),
                (4, 5000),
                (5, 6000)
            ],
            "past the last batch; the partition left out stays"
        );
        let mut failed = jobs();
        if let Some(data) = &mut failed[1].data {
            data.error_code = ErrorCode::NOT_LEADER_OR_FOLLOWER.0;
        }
        assert!(round(failed, 6).next_plan().is_none(), "a partition error");
        let short = RawRound {
            planned: 7,
            answers: vec![Ok(RawAnswer {
                jobs: jobs(),
                how: Decoding { full: false, ..how },
            })],
        };
        assert!(
            short.next_plan().is_none(),
            "a planned partition without a leader"
        );
        let broken = RawRound {
            planned: 0,
            answers: vec![Err(Error::Timeout {
                op: "fetch",
                after: Duration::from_secs(1),
            })],
        };
        assert!(broken.next_plan().is_none(), "a request that failed");
    }

    #[test]
    fn a_large_response_decodes_the_same_split_over_cores() {
        let how = Decoding {
            check_crcs: true,
            read_committed: false,
            max_decompressed: 1 << 30,
            full: false,
        };
        let total: usize = jobs().iter().map(DecodeJob::bytes).sum();
        assert!(
            total >= PARALLEL_DECODE_BYTES,
            "{total} bytes take the parallel path"
        );
        let here = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
            .block_on(decode_all(jobs(), how));
        let split = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .expect("runtime")
            .block_on(decode_all(jobs(), how));
        let expected = summary(&here);
        assert_eq!(expected.len(), 6, "every partition, in order");
        assert_eq!(expected[0].2, 950, "records from offset 50 on");
        assert_eq!(expected[3].2, 0, "a partition left out has nothing new");
        assert_eq!(summary(&split), expected);
    }
}
