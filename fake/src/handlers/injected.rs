//! Answers for injected faults: the request's own shape with `code` in
//! every error field (per partition, per topic, per group, or top level).
//! Nothing in the cluster changes.

use super::sb;
use kafkacc_protocol::generated::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnTopicResult,
};
use kafkacc_protocol::generated::create_partitions_response::CreatePartitionsTopicResult;
use kafkacc_protocol::generated::create_topics_response::CreatableTopicResult;
use kafkacc_protocol::generated::delete_groups_response::DeletableGroupResult;
use kafkacc_protocol::generated::delete_topics_response::DeletableTopicResult;
use kafkacc_protocol::generated::describe_groups_response::DescribedGroup;
use kafkacc_protocol::generated::fetch_response::{FetchableTopicResponse, PartitionData};
use kafkacc_protocol::generated::find_coordinator_response::Coordinator;
use kafkacc_protocol::generated::leave_group_response::MemberResponse;
use kafkacc_protocol::generated::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafkacc_protocol::generated::metadata_response::MetadataResponseTopic;
use kafkacc_protocol::generated::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafkacc_protocol::generated::offset_fetch_response::OffsetFetchResponseGroup;
use kafkacc_protocol::generated::produce_response::{
    PartitionProduceResponse, TopicProduceResponse,
};
use kafkacc_protocol::generated::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafkacc_protocol::messages::*;
use kafkacc_protocol::{ErrorCode, RequestKind, ResponseKind};

/// The error answer to `request`, or `None` for an API the fake does not
/// implement (the connection is closed then).
pub(crate) fn error_response(
    request: &RequestKind,
    version: i16,
    code: ErrorCode,
) -> Option<ResponseKind> {
    let e = code.0;
    Some(match request {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(ApiVersionsResponse {
            error_code: e,
            ..Default::default()
        }),
        RequestKind::Produce(r) => ResponseKind::Produce(ProduceResponse {
            responses: r
                .topic_data
                .iter()
                .map(|t| TopicProduceResponse {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    partition_responses: t
                        .partition_data
                        .iter()
                        .map(|p| PartitionProduceResponse {
                            index: p.index,
                            error_code: e,
                            base_offset: -1,
                            log_append_time_ms: -1,
                            log_start_offset: -1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestKind::Fetch(r) => ResponseKind::Fetch(FetchResponse {
            responses: r
                .topics
                .iter()
                .map(|t| FetchableTopicResponse {
                    topic: t.topic.clone(),
                    topic_id: t.topic_id,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| PartitionData {
                            partition_index: p.partition,
                            error_code: e,
                            high_watermark: -1,
                            last_stable_offset: -1,
                            log_start_offset: -1,
                            records: Some(bytes::Bytes::new()),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestKind::ListOffsets(r) => ResponseKind::ListOffsets(ListOffsetsResponse {
            topics: r
                .topics
                .iter()
                .map(|t| ListOffsetsTopicResponse {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| ListOffsetsPartitionResponse {
                            partition_index: p.partition_index,
                            error_code: e,
                            timestamp: -1,
                            offset: -1,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestKind::Metadata(r) => ResponseKind::Metadata(MetadataResponse {
            topics: r
                .topics
                .iter()
                .flatten()
                .map(|t| MetadataResponseTopic {
                    error_code: e,
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    ..Default::default()
                })
                .collect(),
            error_code: if version >= 13 { e } else { 0 },
            ..Default::default()
        }),
        RequestKind::OffsetCommit(r) => ResponseKind::OffsetCommit(OffsetCommitResponse {
            topics: r
                .topics
                .iter()
                .map(|t| OffsetCommitResponseTopic {
                    name: t.name.clone(),
                    topic_id: t.topic_id,
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| OffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: e,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestKind::OffsetFetch(r) => {
            if version >= 8 {
                ResponseKind::OffsetFetch(OffsetFetchResponse {
                    groups: r
                        .groups
                        .iter()
                        .map(|g| OffsetFetchResponseGroup {
                            group_id: g.group_id.clone(),
                            error_code: e,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
            } else {
                ResponseKind::OffsetFetch(OffsetFetchResponse {
                    error_code: e,
                    ..Default::default()
                })
            }
        }
        RequestKind::FindCoordinator(r) => {
            if version >= 4 {
                ResponseKind::FindCoordinator(FindCoordinatorResponse {
                    coordinators: r
                        .coordinator_keys
                        .iter()
                        .map(|k| Coordinator {
                            key: k.clone(),
                            node_id: -1,
                            host: sb(""),
                            port: -1,
                            error_code: e,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
            } else {
                ResponseKind::FindCoordinator(FindCoordinatorResponse {
                    error_code: e,
                    node_id: -1,
                    host: sb(""),
                    port: -1,
                    ..Default::default()
                })
            }
        }
        RequestKind::JoinGroup(r) => ResponseKind::JoinGroup(JoinGroupResponse {
            error_code: e,
            member_id: r.member_id.clone(),
            ..Default::default()
        }),
        RequestKind::Heartbeat(_) => ResponseKind::Heartbeat(HeartbeatResponse {
            error_code: e,
            ..Default::default()
        }),
        RequestKind::SyncGroup(_) => ResponseKind::SyncGroup(SyncGroupResponse {
            error_code: e,
            ..Default::default()
        }),
        RequestKind::LeaveGroup(r) => ResponseKind::LeaveGroup(LeaveGroupResponse {
            error_code: e,
            members: if version >= 3 {
                r.members
                    .iter()
                    .map(|m| MemberResponse {
                        member_id: m.member_id.clone(),
                        group_instance_id: m.group_instance_id.clone(),
                        error_code: e,
                        ..Default::default()
                    })
                    .collect()
            } else {
                Vec::new()
            },
            ..Default::default()
        }),
        RequestKind::ListGroups(_) => ResponseKind::ListGroups(ListGroupsResponse {
            error_code: e,
            ..Default::default()
        }),
        RequestKind::DescribeGroups(r) => ResponseKind::DescribeGroups(DescribeGroupsResponse {
            groups: r
                .groups
                .iter()
                .map(|g| DescribedGroup {
                    error_code: e,
                    group_id: g.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestKind::DeleteGroups(r) => ResponseKind::DeleteGroups(DeleteGroupsResponse {
            results: r
                .groups_names
                .iter()
                .map(|g| DeletableGroupResult {
                    group_id: g.clone(),
                    error_code: e,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestKind::CreateTopics(r) => ResponseKind::CreateTopics(CreateTopicsResponse {
            topics: r
                .topics
                .iter()
                .map(|t| CreatableTopicResult {
                    name: t.name.clone(),
                    error_code: e,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestKind::DeleteTopics(r) => {
            let results = if version >= 6 {
                r.topics
                    .iter()
                    .map(|t| DeletableTopicResult {
                        name: t.name.clone(),
                        topic_id: t.topic_id,
                        error_code: e,
                        ..Default::default()
                    })
                    .collect()
            } else {
                r.topic_names
                    .iter()
                    .map(|n| DeletableTopicResult {
                        name: Some(n.clone()),
                        error_code: e,
                        ..Default::default()
                    })
                    .collect()
            };
            ResponseKind::DeleteTopics(DeleteTopicsResponse {
                responses: results,
                ..Default::default()
            })
        }
        RequestKind::CreatePartitions(r) => {
            ResponseKind::CreatePartitions(CreatePartitionsResponse {
                results: r
                    .topics
                    .iter()
                    .map(|t| CreatePartitionsTopicResult {
                        name: t.name.clone(),
                        error_code: e,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestKind::InitProducerId(_) => ResponseKind::InitProducerId(InitProducerIdResponse {
            error_code: e,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }),
        RequestKind::AddPartitionsToTxn(r) => {
            if version >= 4 {
                ResponseKind::AddPartitionsToTxn(AddPartitionsToTxnResponse {
                    error_code: e,
                    ..Default::default()
                })
            } else {
                ResponseKind::AddPartitionsToTxn(AddPartitionsToTxnResponse {
                    results_by_topic_v3_and_below: r
                        .v3_and_below_topics
                        .iter()
                        .map(|t| AddPartitionsToTxnTopicResult {
                            name: t.name.clone(),
                            results_by_partition: t
                                .partitions
                                .iter()
                                .map(|p| AddPartitionsToTxnPartitionResult {
                                    partition_index: *p,
                                    partition_error_code: e,
                                    ..Default::default()
                                })
                                .collect(),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
            }
        }
        RequestKind::AddOffsetsToTxn(_) => ResponseKind::AddOffsetsToTxn(AddOffsetsToTxnResponse {
            error_code: e,
            ..Default::default()
        }),
        RequestKind::EndTxn(_) => ResponseKind::EndTxn(EndTxnResponse {
            error_code: e,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        }),
        RequestKind::TxnOffsetCommit(r) => ResponseKind::TxnOffsetCommit(TxnOffsetCommitResponse {
            topics: r
                .topics
                .iter()
                .map(|t| TxnOffsetCommitResponseTopic {
                    name: t.name.clone(),
                    partitions: t
                        .partitions
                        .iter()
                        .map(|p| TxnOffsetCommitResponsePartition {
                            partition_index: p.partition_index,
                            error_code: e,
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        RequestKind::OffsetForLeaderEpoch(r) => {
            ResponseKind::OffsetForLeaderEpoch(OffsetForLeaderEpochResponse {
                topics: r
                    .topics
                    .iter()
                    .map(|t| kafkacc_protocol::generated::offset_for_leader_epoch_response::OffsetForLeaderTopicResult {
                        topic: t.topic.clone(),
                        partitions: t
                            .partitions
                            .iter()
                            .map(|p| kafkacc_protocol::generated::offset_for_leader_epoch_response::EpochEndOffset {
                                error_code: e,
                                partition: p.partition,
                                leader_epoch: -1,
                                end_offset: -1,
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        RequestKind::ConsumerGroupHeartbeat(_) => {
            ResponseKind::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
                error_code: e,
                member_epoch: -1,
                ..Default::default()
            })
        }
        RequestKind::ConsumerGroupDescribe(r) => {
            ResponseKind::ConsumerGroupDescribe(ConsumerGroupDescribeResponse {
                groups: r
                    .group_ids
                    .iter()
                    .map(|g| kafkacc_protocol::generated::consumer_group_describe_response::DescribedGroup {
                        error_code: e,
                        group_id: g.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
        }
        _ => return None,
    })
}
