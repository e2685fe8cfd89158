//! OffsetForLeaderEpoch (23): where a leader epoch ended, so a consumer
//! can check its position after a leader change (KIP-320).

use super::Ctx;
use crate::state::{Partition, State};
use kafkacc_protocol::generated::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafkacc_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafkacc_protocol::{ErrorCode, ResponseKind};

/// (epoch, end offset) for `requested`: the largest epoch not above it and
/// the offset where that epoch ended (the log end for the current one).
pub(crate) fn end_of_epoch(p: &Partition, requested: i32) -> (i32, i64) {
    if requested >= p.leader_epoch {
        return (p.leader_epoch, p.log.high_watermark());
    }
    // Epoch 0 starts at offset 0; later epochs at their recorded offsets.
    let mut found = 0;
    let mut end = p.log.high_watermark();
    for (epoch, start) in &p.epoch_starts {
        if *epoch <= requested {
            found = *epoch;
        } else {
            end = *start;
            break;
        }
    }
    (found, end)
}

/// The answer.
pub(crate) fn handle(state: &State, ctx: &Ctx, req: OffsetForLeaderEpochRequest) -> ResponseKind {
    let topics = req
        .topics
        .iter()
        .map(|t| OffsetForLeaderTopicResult {
            topic: t.topic.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let result = match state.partition(t.topic.as_str(), p.partition) {
                        None => Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                        Some(part) if part.leader != ctx.broker => {
                            Err(ErrorCode::NOT_LEADER_OR_FOLLOWER)
                        }
                        Some(part)
                            if p.current_leader_epoch >= 0
                                && p.current_leader_epoch < part.leader_epoch =>
                        {
                            Err(ErrorCode::FENCED_LEADER_EPOCH)
                        }
                        Some(part) if p.current_leader_epoch > part.leader_epoch => {
                            Err(ErrorCode::UNKNOWN_LEADER_EPOCH)
                        }
                        Some(part) => Ok(end_of_epoch(part, p.leader_epoch)),
                    };
                    match result {
                        Ok((leader_epoch, end_offset)) => EpochEndOffset {
                            partition: p.partition,
                            leader_epoch,
                            end_offset,
                            ..Default::default()
                        },
                        Err(code) => EpochEndOffset {
                            error_code: code.0,
                            partition: p.partition,
                            leader_epoch: -1,
                            end_offset: -1,
                            ..Default::default()
                        },
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ResponseKind::OffsetForLeaderEpoch(OffsetForLeaderEpochResponse {
        topics,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_end_where_the_next_one_starts() {
        let p = Partition {
            leader: 1,
            leader_epoch: 2,
            epoch_starts: vec![(1, 10), (2, 25)],
            ..Default::default()
        };
        assert_eq!(end_of_epoch(&p, 0), (0, 10));
        assert_eq!(end_of_epoch(&p, 1), (1, 25));
        assert_eq!(end_of_epoch(&p, 2), (2, 0));
    }
}
