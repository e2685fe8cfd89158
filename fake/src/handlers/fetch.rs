//! Fetch (1): whole batches from the leader's log up to the size limits,
//! read_committed bounded by the last stable offset with the aborted
//! transactions listed, a long poll (min bytes / max wait) that new data
//! wakes, and KIP-227 fetch sessions (`crate::session`).

use super::{Ctx, sb};
use crate::server::Shared;
use crate::session::SessionKey;
use crate::state::State;
use bytes::{Bytes, BytesMut};
use kafkacc_protocol::generated::fetch_request::FetchTopic;
use kafkacc_protocol::generated::fetch_response::{
    AbortedTransaction, FetchableTopicResponse, PartitionData,
};
use kafkacc_protocol::messages::{FetchRequest, FetchResponse};
use kafkacc_protocol::records::BatchHeader;
use kafkacc_protocol::records::assign_base_offset;
use kafkacc_protocol::{ErrorCode, ResponseKind, Uuid};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How a fetch relates to a session (see `crate::session`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Sessionless,
    Full(i32),
    Incremental(i32),
}

/// A partition to answer for.
#[derive(Debug, Clone)]
struct Wanted {
    key: SessionKey,
    fetch_offset: i64,
    current_leader_epoch: i32,
    max_bytes: i32,
    last_sent: Option<(i64, i64, i64)>,
}

/// The answer, once `min_bytes` are there or `max_wait_ms` passed.
pub(crate) async fn handle(shared: &Arc<Shared>, ctx: &Ctx, req: FetchRequest) -> ResponseKind {
    let prepared = prepare(&mut shared.lock(), ctx, &req);
    let (mode, wanted) = match prepared {
        Ok(p) => p,
        Err(code) => {
            return ResponseKind::Fetch(FetchResponse {
                error_code: code.0,
                ..Default::default()
            });
        }
    };
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0));
    let deadline = Instant::now() + wait;
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    loop {
        let notified = shared.data.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let (response, bytes, errors, sent) = build(&shared.lock(), ctx, &req, mode, &wanted);
        let done = bytes >= min_bytes || errors || Instant::now() >= deadline;
        let cancelled = !done
            && tokio::select! {
                () = &mut notified => false,
                () = tokio::time::sleep_until(deadline) => false,
                () = shared.shutdown.cancelled() => true,
            };
        if done || cancelled {
            shared.log(format_args!(
                "broker {}: fetch {:?} (request session {} epoch {}) {} partitions, {} answered, {bytes} bytes",
                ctx.broker,
                mode,
                req.session_id,
                req.session_epoch,
                wanted.len(),
                response.responses.iter().map(|t| t.partitions.len()).sum::<usize>(),
            ));
            if let Mode::Full(id) | Mode::Incremental(id) = mode {
                let mut state = shared.lock();
                if let Some(session) = state.fetch_sessions.get_mut(ctx.broker, id) {
                    for (key, marks) in sent {
                        if let Some(p) = session.partitions.get_mut(&key) {
                            p.last_sent = Some(marks);
                        }
                    }
                }
            }
            return ResponseKind::Fetch(response);
        }
    }
}

/// Resolves the session and the partitions this fetch covers.
fn prepare(
    state: &mut State,
    ctx: &Ctx,
    req: &FetchRequest,
) -> Result<(Mode, Vec<Wanted>), ErrorCode> {
    let by_id = ctx.version >= 13;
    let key = |t: &FetchTopic, partition: i32| SessionKey {
        topic: if by_id {
            String::new()
        } else {
            t.topic.as_str().to_owned()
        },
        topic_id: if by_id { t.topic_id } else { Uuid::ZERO },
        partition,
    };
    let from_request = || -> Vec<Wanted> {
        req.topics
            .iter()
            .flat_map(|t| {
                t.partitions.iter().map(move |p| Wanted {
                    key: key(t, p.partition),
                    fetch_offset: p.fetch_offset,
                    current_leader_epoch: p.current_leader_epoch,
                    max_bytes: p.partition_max_bytes,
                    last_sent: None,
                })
            })
            .collect()
    };
    let sessions = &mut state.fetch_sessions;
    match (req.session_id, req.session_epoch) {
        (0, -1) => Ok((Mode::Sessionless, from_request())),
        (id, -1) => {
            sessions.close(ctx.broker, id);
            Ok((Mode::Sessionless, from_request()))
        }
        (id, 0) => {
            if id != 0 {
                sessions.close(ctx.broker, id);
            }
            let wanted = from_request();
            let Some(new) = sessions.open(ctx.broker) else {
                return Ok((Mode::Sessionless, wanted));
            };
            if let Some(session) = sessions.get_mut(ctx.broker, new) {
                for w in &wanted {
                    session.upsert(
                        w.key.clone(),
                        w.fetch_offset,
                        w.current_leader_epoch,
                        w.max_bytes,
                    );
                }
            }
            Ok((Mode::Full(new), wanted))
        }
        (0, _) => Err(ErrorCode::INVALID_FETCH_SESSION_EPOCH),
        (id, epoch) => {
            let session = sessions
                .get_mut(ctx.broker, id)
                .ok_or(ErrorCode::FETCH_SESSION_ID_NOT_FOUND)?;
            if epoch != session.next_epoch {
                return Err(ErrorCode::INVALID_FETCH_SESSION_EPOCH);
            }
            session.next_epoch = if epoch == i32::MAX { 1 } else { epoch + 1 };
            for w in from_request() {
                session.upsert(w.key, w.fetch_offset, w.current_leader_epoch, w.max_bytes);
            }
            for f in &req.forgotten_topics_data {
                for p in &f.partitions {
                    session.partitions.remove(&SessionKey {
                        topic: if by_id {
                            String::new()
                        } else {
                            f.topic.as_str().to_owned()
                        },
                        topic_id: if by_id { f.topic_id } else { Uuid::ZERO },
                        partition: *p,
                    });
                }
            }
            let wanted = session
                .ordered()
                .into_iter()
                .map(|(key, p)| Wanted {
                    key,
                    fetch_offset: p.fetch_offset,
                    current_leader_epoch: p.current_leader_epoch,
                    max_bytes: p.max_bytes,
                    last_sent: p.last_sent,
                })
                .collect();
            Ok((Mode::Incremental(id), wanted))
        }
    }
}

/// Marks answered per session partition: (high watermark, LSO, log start).
type Sent = Vec<(SessionKey, (i64, i64, i64))>;

/// One pass over the partitions: (response, record bytes, any partition
/// failed, what was answered). An incremental answer leaves out partitions
/// with no records, no error and the same offsets as last time.
fn build(
    state: &State,
    ctx: &Ctx,
    req: &FetchRequest,
    mode: Mode,
    wanted: &[Wanted],
) -> (FetchResponse, usize, bool, Sent) {
    let read_committed = req.isolation_level == 1;
    let by_id = ctx.version >= 13;
    let mut budget = if req.max_bytes <= 0 {
        usize::MAX
    } else {
        usize::try_from(req.max_bytes).unwrap_or(usize::MAX)
    };
    let mut total = 0usize;
    let mut errors = false;
    let mut sent = Vec::new();
    let mut responses: Vec<FetchableTopicResponse> = Vec::new();
    for w in wanted {
        let name = if by_id {
            state.topic_name(&w.key.topic_id)
        } else {
            Some(w.key.topic.clone())
        };
        let max = usize::try_from(w.max_bytes).unwrap_or(0).min(budget);
        let at_least_one = total == 0;
        let result = match &name {
            None => Err(ErrorCode::UNKNOWN_TOPIC_ID),
            Some(name) => read_partition(state, ctx, name, w, read_committed, max, at_least_one),
        };
        let data = match result {
            Ok(data) => {
                let n = data.records.as_ref().map_or(0, Bytes::len);
                let marks = (
                    data.high_watermark,
                    data.last_stable_offset,
                    data.log_start_offset,
                );
                if mode != Mode::Sessionless {
                    sent.push((w.key.clone(), marks));
                }
                if matches!(mode, Mode::Incremental(_)) && n == 0 && w.last_sent == Some(marks) {
                    continue;
                }
                total += n;
                budget = budget.saturating_sub(n);
                data
            }
            Err(code) => {
                errors = true;
                PartitionData {
                    partition_index: w.key.partition,
                    error_code: code.0,
                    high_watermark: -1,
                    last_stable_offset: -1,
                    log_start_offset: -1,
                    records: Some(Bytes::new()),
                    ..Default::default()
                }
            }
        };
        let same_topic = responses
            .last()
            .is_some_and(|t| t.topic.as_str() == w.key.topic && t.topic_id == w.key.topic_id);
        if !same_topic {
            responses.push(FetchableTopicResponse {
                topic: sb(&w.key.topic),
                topic_id: w.key.topic_id,
                ..Default::default()
            });
        }
        if let Some(t) = responses.last_mut() {
            t.partitions.push(data);
        }
    }
    let session_id = match mode {
        Mode::Sessionless => 0,
        Mode::Full(id) | Mode::Incremental(id) => id,
    };
    let response = FetchResponse {
        error_code: 0,
        session_id,
        responses,
        ..Default::default()
    };
    (response, total, errors, sent)
}

fn read_partition(
    state: &State,
    ctx: &Ctx,
    topic: &str,
    p: &Wanted,
    read_committed: bool,
    max: usize,
    at_least_one: bool,
) -> Result<PartitionData, ErrorCode> {
    let partition = state
        .partition(topic, p.key.partition)
        .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
    if partition.leader != ctx.broker {
        return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
    if p.current_leader_epoch >= 0 {
        if p.current_leader_epoch < partition.leader_epoch {
            return Err(ErrorCode::FENCED_LEADER_EPOCH);
        }
        if p.current_leader_epoch > partition.leader_epoch {
            return Err(ErrorCode::UNKNOWN_LEADER_EPOCH);
        }
    }
    if let Some(batch) = &state.bench.synthetic_fetch {
        return Ok(synthetic(
            batch,
            p.key.partition,
            p.fetch_offset,
            max,
            at_least_one,
        ));
    }
    let log = &partition.log;
    let hw = log.high_watermark();
    let lso = log.last_stable_offset();
    if p.fetch_offset < log.log_start() || p.fetch_offset > hw {
        return Err(ErrorCode::OFFSET_OUT_OF_RANGE);
    }
    let upper = if read_committed { lso } else { hw };
    let batches = log.read(p.fetch_offset, upper, max, at_least_one);
    let size: usize = batches.iter().map(Bytes::len).sum();
    let mut records = BytesMut::with_capacity(size);
    for b in &batches {
        records.extend_from_slice(b);
    }
    let aborted_transactions = read_committed.then(|| {
        log.aborted_between(p.fetch_offset, upper)
            .into_iter()
            .map(|a| AbortedTransaction {
                producer_id: a.producer_id,
                first_offset: a.first_offset,
                ..Default::default()
            })
            .collect()
    });
    Ok(PartitionData {
        partition_index: p.key.partition,
        error_code: 0,
        high_watermark: hw,
        last_stable_offset: lso,
        log_start_offset: log.log_start(),
        aborted_transactions,
        records: Some(records.freeze()),
        ..Default::default()
    })
}

/// The benchmark fetch: the configured batch repeated from `from`, its base
/// offsets rewritten, as if the log never ended.
fn synthetic(
    batch: &Bytes,
    partition: i32,
    from: i64,
    max: usize,
    at_least_one: bool,
) -> PartitionData {
    let step = BatchHeader::parse(batch)
        .map(|h| i64::from(h.last_offset_delta.max(0)) + 1)
        .unwrap_or(1);
    let copies = if batch.is_empty() {
        0
    } else {
        (max / batch.len()).max(usize::from(at_least_one))
    };
    let mut out = BytesMut::with_capacity(copies * batch.len());
    let mut offset = from;
    for _ in 0..copies {
        let start = out.len();
        out.extend_from_slice(batch);
        if let Some(slice) = out.get_mut(start..) {
            let _ = assign_base_offset(slice, offset, 0);
        }
        offset += step;
    }
    let hw = from.saturating_add(1 << 40);
    PartitionData {
        partition_index: partition,
        error_code: 0,
        high_watermark: hw,
        last_stable_offset: hw,
        log_start_offset: 0,
        aborted_transactions: None,
        records: Some(out.freeze()),
        ..Default::default()
    }
}
