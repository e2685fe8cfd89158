//! DeleteRecords (21): moves a partition's log start (low watermark) up,
//! at the partition's leader; Fetch and ListOffsets earliest then start
//! there.

use super::Ctx;
use crate::state::State;
use kafkacc_protocol::generated::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafkacc_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafkacc_protocol::{ErrorCode, ResponseKind};

/// The answer.
pub(crate) fn handle(state: &mut State, ctx: &Ctx, req: DeleteRecordsRequest) -> ResponseKind {
    let topics = req
        .topics
        .iter()
        .map(|t| DeleteRecordsTopicResult {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let result = delete(state, ctx, t.name.as_str(), p.partition_index, p.offset);
                    let (low_watermark, error_code) = match result {
                        Ok(low) => (low, 0),
                        Err(code) => (-1, code.0),
                    };
                    DeleteRecordsPartitionResult {
                        partition_index: p.partition_index,
                        low_watermark,
                        error_code,
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ResponseKind::DeleteRecords(DeleteRecordsResponse {
        topics,
        ..Default::default()
    })
}

fn delete(
    state: &mut State,
    ctx: &Ctx,
    topic: &str,
    index: i32,
    offset: i64,
) -> Result<i64, ErrorCode> {
    let compacted = state
        .topics
        .get(topic)
        .and_then(|t| t.configs.get("cleanup.policy"))
        .is_some_and(|policy| policy.split(',').all(|p| p.trim() == "compact"));
    let p = state
        .partition_mut(topic, index)
        .ok_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)?;
    if p.leader != ctx.broker {
        return Err(ErrorCode::NOT_LEADER_OR_FOLLOWER);
    }
    if compacted {
        // Kafka refuses DeleteRecords on a compact-only topic.
        return Err(ErrorCode::POLICY_VIOLATION);
    }
    p.log.delete_before(offset)
}
