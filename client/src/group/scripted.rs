//! Coordinator answers shared by the group machines' tests and the fuzz
//! bridge: one topic `t` in group `g`, coordinator node 1.

use super::assignor::TopicPartition;
use super::io::Response;
use kafkacc_protocol::ErrorCode;
use kafkacc_protocol::generated::find_coordinator_response::Coordinator as WireCoordinator;
use kafkacc_protocol::generated::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafkacc_protocol::generated::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartitions, OffsetFetchResponseTopics,
};
use kafkacc_protocol::messages::{
    FindCoordinatorResponse, OffsetCommitResponse, OffsetFetchResponse,
};
use std::collections::BTreeSet;

/// Partition `p` of topic `t`.
pub(super) fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

/// Partitions of topic `t`.
#[allow(dead_code)] // the fuzz bridge does not use it
pub(super) fn set(ps: &[i32]) -> BTreeSet<TopicPartition> {
    ps.iter().map(|p| tp(*p)).collect()
}

/// FindCoordinator: node 1 at 127.0.0.1:9092.
pub(super) fn find_ok() -> Response {
    Response::FindCoordinator(FindCoordinatorResponse {
        coordinators: vec![WireCoordinator {
            key: "g".into(),
            node_id: 1,
            host: "127.0.0.1".into(),
            port: 9092,
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// FindCoordinator failing with `code`.
pub(super) fn find_err(code: ErrorCode) -> Response {
    Response::FindCoordinator(FindCoordinatorResponse {
        error_code: code.0,
        node_id: -1,
        ..Default::default()
    })
}

/// OffsetCommit answering `code` for each partition.
pub(super) fn commit_resp(partitions: &[i32], code: ErrorCode) -> Response {
    Response::OffsetCommit(OffsetCommitResponse {
        topics: vec![OffsetCommitResponseTopic {
            name: "t".into(),
            partitions: partitions
                .iter()
                .map(|p| OffsetCommitResponsePartition {
                    partition_index: *p,
                    error_code: code.0,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// OffsetFetch (v8+ shape) with group error `code` and these offsets.
pub(super) fn fetch_resp(offsets: &[(i32, i64)], code: ErrorCode) -> Response {
    Response::OffsetFetch(OffsetFetchResponse {
        groups: vec![OffsetFetchResponseGroup {
            group_id: "g".into(),
            error_code: code.0,
            topics: vec![OffsetFetchResponseTopics {
                name: "t".into(),
                partitions: offsets
                    .iter()
                    .map(|(p, o)| OffsetFetchResponsePartitions {
                        partition_index: *p,
                        committed_offset: *o,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// A successful OffsetFetch with these offsets.
#[allow(dead_code)] // the fuzz bridge passes its own error code
pub(super) fn fetch_ok(offsets: &[(i32, i64)]) -> Response {
    fetch_resp(offsets, ErrorCode::NONE)
}
