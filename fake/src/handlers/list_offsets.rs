//! ListOffsets (2): earliest (-2), latest (-1, the LSO under
//! read_committed), max timestamp (-3), earliest local (-4), and the first
//! offset at or after a timestamp.

use super::Ctx;
use crate::state::State;
use kafkacc_protocol::generated::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafkacc_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use kafkacc_protocol::{ErrorCode, ResponseKind};

/// The answer.
pub(crate) fn handle(state: &State, ctx: &Ctx, req: ListOffsetsRequest) -> ResponseKind {
    let read_committed = req.isolation_level == 1;
    let topics = req
        .topics
        .iter()
        .map(|t| ListOffsetsTopicResponse {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let result = lookup(
                        state,
                        ctx,
                        t.name.as_str(),
                        p.partition_index,
                        p.current_leader_epoch,
                        p.timestamp,
                        read_committed,
                    );
                    let (error_code, timestamp, offset, epoch) = match result {
                        Ok((ts, offset, epoch)) => (0, ts, offset, epoch),
                        Err(code) => (code.0, -1, -1, -1),
                    };
                    ListOffsetsPartitionResponse {
                        partition_index: p.partition_index,
                        error_code,
                        timestamp,
                        offset,
                        leader_epoch: if ctx.version >= 4 { epoch } else { -1 },
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ResponseKind::ListOffsets(ListOffsetsResponse {
        topics,
        ..Default::default()
    })
}

/// (timestamp, offset, leader epoch).
fn lookup(
    state: &State,
    ctx: &Ctx,
    topic: &str,
    index: i32,
    current_leader_epoch: i32,
    timestamp: i64,
    read_committed: bool,
) -> Result<(i64, i64, i32), ErrorCode> {
    let p = state
        .partition(topic, index)
        .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
    if p.leader != ctx.broker {
        return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
    if current_leader_epoch >= 0 && current_leader_epoch < p.leader_epoch {
        return Err(ErrorCode::FENCED_LEADER_EPOCH);
    }
    if current_leader_epoch > p.leader_epoch {
        return Err(ErrorCode::UNKNOWN_LEADER_EPOCH);
    }
    let log = &p.log;
    let epoch = p.leader_epoch;
    Ok(match timestamp {
        -2 | -4 => (-1, log.log_start(), epoch),
        -1 => {
            let end = if read_committed {
                log.last_stable_offset()
            } else {
                log.high_watermark()
            };
            (-1, end, epoch)
        }
        -3 => match log.max_timestamp() {
            Some((offset, ts)) => (ts, offset, epoch),
            None => (-1, -1, -1),
        },
        ts if ts >= 0 => match log.offset_for_timestamp(ts) {
            Some((offset, found)) => (found, offset, epoch),
            None => (-1, -1, -1),
        },
        _ => (-1, -1, -1),
    })
}
