//! Produce (0): acks 0/1/-1, one v2 batch per partition, CRC checked,
//! idempotent sequences checked, base offsets assigned by the leader.

use super::{Ctx, Outcome, sb};
use crate::log::Appended;
use crate::server::Shared;
use crate::state::State;
use crate::txn::TxnStatus;
use kafkacc_protocol::generated::produce_request::PartitionProduceData;
use kafkacc_protocol::generated::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use kafkacc_protocol::messages::{ProduceRequest, ProduceResponse};
use kafkacc_protocol::records::BatchHeader;
use kafkacc_protocol::{ErrorCode, ResponseKind, StrBytes};
use std::sync::Arc;

/// The answer (none for acks=0).
pub(crate) fn handle(shared: &Arc<Shared>, ctx: &Ctx, req: ProduceRequest) -> Outcome {
    let acks_ok = (-1..=1).contains(&req.acks);
    let now = shared.clock.now_ms();
    let mut appended = false;
    let responses = {
        let mut state = shared.lock();
        req.topic_data
            .iter()
            .map(|t| {
                let name = if ctx.version >= 13 {
                    state.topic_name(&t.topic_id)
                } else {
                    Some(t.name.as_str().to_owned())
                };
                let missing = if ctx.version >= 13 {
                    ErrorCode::UNKNOWN_TOPIC_ID
                } else {
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                };
                let partition_responses = t
                    .partition_data
                    .iter()
                    .map(|p| {
                        let result = match (&name, acks_ok) {
                            (_, false) => Err((ErrorCode::INVALID_REQUIRED_ACKS, -1)),
                            (None, _) => Err((missing, -1)),
                            (Some(name), true) => {
                                append(&mut state, ctx, req.transactional_id.as_ref(), name, p, now)
                            }
                        };
                        match result {
                            Ok((base_offset, log_start_offset)) => {
                                appended = true;
                                PartitionProduceResponse {
                                    index: p.index,
                                    error_code: 0,
                                    base_offset,
                                    log_append_time_ms: -1,
                                    log_start_offset,
                                    ..Default::default()
                                }
                            }
                            Err((code, base_offset)) => PartitionProduceResponse {
                                index: p.index,
                                error_code: code.0,
                                base_offset,
                                log_append_time_ms: -1,
                                log_start_offset: -1,
                                ..Default::default()
                            },
                        }
                    })
                    .collect();
                TopicProduceResponse {
                    name: if ctx.version >= 13 {
                        sb("")
                    } else {
                        t.name.clone()
                    },
                    topic_id: t.topic_id,
                    partition_responses,
                    ..Default::default()
                }
            })
            .collect()
    };
    if appended {
        shared.data.notify_waiters();
    }
    if req.acks == 0 {
        return Outcome::NoResponse;
    }
    Outcome::Respond(ResponseKind::Produce(ProduceResponse {
        responses,
        ..Default::default()
    }))
}

/// `Err((code, base offset))`: DUPLICATE_SEQUENCE_NUMBER carries the
/// original offset when the fake is set to report duplicates.
type PartitionResult = Result<(i64, i64), (ErrorCode, i64)>;

fn append(
    state: &mut State,
    ctx: &Ctx,
    transactional_id: Option<&StrBytes>,
    topic: &str,
    p: &PartitionProduceData,
    now: u64,
) -> PartitionResult {
    let discard = state.bench.discard_produce;
    // The topic's `max.message.bytes`, else the broker's `message.max.bytes`.
    let max = state
        .topics
        .get(topic)
        .and_then(|t| t.configs.get("max.message.bytes"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(state.config.max_message_bytes);
    let duplicate_error = state.config.duplicate_sequence_error;
    let Some(partition) = state.partition_mut(topic, p.index) else {
        return Err((ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1));
    };
    if partition.leader != ctx.broker {
        return Err((ErrorCode::NOT_LEADER_OR_FOLLOWER, -1));
    }
    let Some(records) = p.records.clone() else {
        return Err((ErrorCode::INVALID_RECORD, -1));
    };
    if discard {
        let base = partition
            .log
            .append_discarding(&records)
            .map_err(|c| (c, -1))?;
        return Ok((base, partition.log.log_start()));
    }
    let epoch = partition.leader_epoch;
    if let Some(id) = transactional_id {
        join_transaction(state, id.as_str(), topic, p.index, &records, now)?;
    }
    let Some(partition) = state.partition_mut(topic, p.index) else {
        return Err((ErrorCode::UNKNOWN_TOPIC_OR_PARTITION, -1));
    };
    match partition.log.append(records, epoch, max) {
        Ok(Appended::Written(base)) => Ok((base, partition.log.log_start())),
        Ok(Appended::Duplicate(base)) if duplicate_error => {
            Err((ErrorCode::DUPLICATE_SEQUENCE_NUMBER, base))
        }
        Ok(Appended::Duplicate(base)) => Ok((base, partition.log.log_start())),
        Err(code) => Err((code, -1)),
    }
}

/// A transactional batch joins its producer's transaction: the partition
/// is added implicitly (transaction protocol v2, KIP-890; a v1 producer has
/// added it with AddPartitionsToTxn already). A stale epoch is fenced.
fn join_transaction(
    state: &mut State,
    id: &str,
    topic: &str,
    index: i32,
    records: &bytes::Bytes,
    now: u64,
) -> Result<(), (ErrorCode, i64)> {
    let Ok(header) = BatchHeader::parse(records) else {
        return Err((ErrorCode::CORRUPT_MESSAGE, -1));
    };
    if !header.is_transactional() {
        return Ok(());
    }
    let Some(meta) = state.txns.by_id.get_mut(id) else {
        return Err((ErrorCode::INVALID_TXN_STATE, -1));
    };
    if meta.producer_id != header.producer_id {
        return Err((ErrorCode::INVALID_PRODUCER_ID_MAPPING, -1));
    }
    if header.producer_epoch < meta.epoch {
        return Err((ErrorCode::INVALID_PRODUCER_EPOCH, -1));
    }
    if meta.status != TxnStatus::Ongoing {
        meta.status = TxnStatus::Ongoing;
        meta.started = now;
    }
    meta.partitions.insert((topic.to_owned(), index));
    Ok(())
}
