//! OffsetCommit (8) and OffsetFetch (9, incl. the v8+ multi-group form and
//! the v10 topic ids).

use super::coordinator::check;
use super::{Ctx, sb};
use crate::group::{Committed, Group};
use crate::state::{CoordinatorKind, State};
use kafkacc_protocol::generated::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafkacc_protocol::generated::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafkacc_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetFetchRequest, OffsetFetchResponse,
};
use kafkacc_protocol::{ErrorCode, ResponseKind, Uuid};
use std::collections::BTreeMap;

/// `offset.metadata.max.bytes`.
const MAX_METADATA: usize = 4096;

/// OffsetCommit.
pub(crate) fn commit(
    state: &mut State,
    ctx: &Ctx,
    req: OffsetCommitRequest,
    now: u64,
) -> ResponseKind {
    let group_id = req.group_id.as_str();
    let by_id = ctx.version >= 10;
    let group_error: Option<ErrorCode> = (|| {
        if let Err(code) = check(state, ctx, CoordinatorKind::Group, group_id) {
            return Some(code);
        }
        let outsider = req.generation_id_or_member_epoch < 0 && req.member_id.is_empty();
        if let Some(cg) = state
            .consumer_groups
            .get(group_id)
            .filter(|g| !g.is_empty())
        {
            // A KIP-848 group: the member epoch stands in for the generation.
            match cg.member_epoch(req.member_id.as_str()) {
                None if !outsider => return Some(ErrorCode::UNKNOWN_MEMBER_ID),
                Some(epoch) if epoch != req.generation_id_or_member_epoch => {
                    return Some(ErrorCode::STALE_MEMBER_EPOCH);
                }
                Some(_) => {
                    state
                        .groups
                        .entry(group_id.to_owned())
                        .or_insert_with(|| Group::new(group_id));
                    return None;
                }
                None => {}
            }
        }
        if !state.groups.contains_key(group_id) {
            if !outsider {
                return Some(ErrorCode::UNKNOWN_MEMBER_ID);
            }
            state
                .groups
                .insert(group_id.to_owned(), Group::new(group_id));
        }
        let group = state.groups.get_mut(group_id)?;
        group.check_commit(
            req.member_id.as_str(),
            req.group_instance_id.as_ref().map(|s| s.as_str()),
            req.generation_id_or_member_epoch,
            now,
        )
    })();
    let mut topics = Vec::with_capacity(req.topics.len());
    for t in &req.topics {
        let name = if by_id {
            state.topic_name(&t.topic_id)
        } else {
            Some(t.name.as_str().to_owned())
        };
        let mut partitions = Vec::with_capacity(t.partitions.len());
        for p in &t.partitions {
            let code = match (&group_error, &name) {
                (Some(code), _) => *code,
                (None, None) => ErrorCode::UNKNOWN_TOPIC_ID,
                (None, Some(name)) => {
                    if state.partition(name, p.partition_index).is_none() {
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                    } else if p
                        .committed_metadata
                        .as_ref()
                        .is_some_and(|m| m.len() > MAX_METADATA)
                    {
                        ErrorCode::OFFSET_METADATA_TOO_LARGE
                    } else if let Some(group) = state.groups.get_mut(group_id) {
                        group.offsets.insert(
                            (name.clone(), p.partition_index),
                            Committed {
                                offset: p.committed_offset,
                                leader_epoch: p.committed_leader_epoch,
                                metadata: p
                                    .committed_metadata
                                    .as_ref()
                                    .map(|m| m.as_str().to_owned()),
                            },
                        );
                        ErrorCode::NONE
                    } else {
                        ErrorCode::UNKNOWN_MEMBER_ID
                    }
                }
            };
            partitions.push(OffsetCommitResponsePartition {
                partition_index: p.partition_index,
                error_code: code.0,
                ..Default::default()
            });
        }
        topics.push(OffsetCommitResponseTopic {
            name: if by_id { sb("") } else { t.name.clone() },
            topic_id: t.topic_id,
            partitions,
            ..Default::default()
        });
    }
    ResponseKind::OffsetCommit(OffsetCommitResponse {
        topics,
        ..Default::default()
    })
}

/// One partition's committed offset: (offset, leader epoch, metadata, error).
fn committed(
    group: Option<&Group>,
    topic: &str,
    partition: i32,
    require_stable: bool,
) -> (i64, i32, String, ErrorCode) {
    let Some(group) = group else {
        return (-1, -1, String::new(), ErrorCode::NONE);
    };
    let key = (topic.to_owned(), partition);
    if require_stable
        && group
            .pending_txn_offsets
            .values()
            .any(|pending| pending.contains_key(&key))
    {
        return (-1, -1, String::new(), ErrorCode::UNSTABLE_OFFSET_COMMIT);
    }
    match group.offsets.get(&key) {
        Some(c) => (
            c.offset,
            c.leader_epoch,
            c.metadata.clone().unwrap_or_default(),
            ErrorCode::NONE,
        ),
        None => (-1, -1, String::new(), ErrorCode::NONE),
    }
}

/// Topic → partitions to answer for: the requested ones, or (`None`) every
/// partition with a committed offset.
fn wanted(
    group: Option<&Group>,
    requested: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<(String, Vec<i32>)> {
    match requested {
        Some(list) => list,
        None => {
            let mut all: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            if let Some(g) = group {
                for (topic, p) in g.offsets.keys() {
                    all.entry(topic.clone()).or_default().push(*p);
                }
            }
            all.into_iter().collect()
        }
    }
}

/// OffsetFetch.
pub(crate) fn fetch(state: &State, ctx: &Ctx, req: OffsetFetchRequest) -> ResponseKind {
    if ctx.version < 8 {
        let group_id = req.group_id.as_str();
        let group_error = check(state, ctx, CoordinatorKind::Group, group_id).err();
        let group = state.groups.get(group_id);
        let requested = req.topics.as_ref().map(|ts| {
            ts.iter()
                .map(|t| (t.name.as_str().to_owned(), t.partition_indexes.to_vec()))
                .collect()
        });
        let topics = if group_error.is_some() && ctx.version >= 2 {
            Vec::new()
        } else {
            wanted(group, requested)
                .into_iter()
                .map(|(topic, partitions)| OffsetFetchResponseTopic {
                    name: sb(&topic),
                    partitions: partitions
                        .into_iter()
                        .map(|p| {
                            let (offset, epoch, metadata, code) =
                                committed(group, &topic, p, req.require_stable);
                            OffsetFetchResponsePartition {
                                partition_index: p,
                                committed_offset: offset,
                                committed_leader_epoch: epoch,
                                metadata: Some(sb(&metadata)),
                                error_code: group_error.unwrap_or(code).0,
                                ..Default::default()
                            }
                        })
                        .collect(),
                    ..Default::default()
                })
                .collect()
        };
        return ResponseKind::OffsetFetch(OffsetFetchResponse {
            topics,
            error_code: group_error.unwrap_or(ErrorCode::NONE).0,
            ..Default::default()
        });
    }
    let by_id = ctx.version >= 10;
    let groups = req
        .groups
        .iter()
        .map(|g| {
            let group_id = g.group_id.as_str();
            if let Err(code) = check(state, ctx, CoordinatorKind::Group, group_id) {
                return OffsetFetchResponseGroup {
                    group_id: g.group_id.clone(),
                    error_code: code.0,
                    ..Default::default()
                };
            }
            let group = state.groups.get(group_id);
            // (name, id) per requested topic; ids resolve to names.
            let mut ids: BTreeMap<String, Uuid> = BTreeMap::new();
            let requested = g.topics.as_ref().map(|ts| {
                ts.iter()
                    .map(|t| {
                        let name = if by_id {
                            state.topic_name(&t.topic_id).unwrap_or_default()
                        } else {
                            t.name.as_str().to_owned()
                        };
                        ids.insert(name.clone(), t.topic_id);
                        (name, t.partition_indexes.to_vec())
                    })
                    .collect()
            });
            let topics = wanted(group, requested)
                .into_iter()
                .map(|(topic, partitions)| {
                    let topic_id = ids
                        .get(&topic)
                        .copied()
                        .or_else(|| state.topics.get(&topic).map(|t| t.id))
                        .unwrap_or(Uuid::ZERO);
                    OffsetFetchResponseTopics {
                        name: if by_id { sb("") } else { sb(&topic) },
                        topic_id,
                        partitions: partitions
                            .into_iter()
                            .map(|p| {
                                let (offset, epoch, metadata, code) =
                                    committed(group, &topic, p, req.require_stable);
                                OffsetFetchResponsePartitions {
                                    partition_index: p,
                                    committed_offset: offset,
                                    committed_leader_epoch: epoch,
                                    metadata: Some(sb(&metadata)),
                                    error_code: code.0,
                                    ..Default::default()
                                }
                            })
                            .collect(),
                        ..Default::default()
                    }
                })
                .collect();
            OffsetFetchResponseGroup {
                group_id: g.group_id.clone(),
                topics,
                error_code: 0,
                ..Default::default()
            }
        })
        .collect();
    ResponseKind::OffsetFetch(OffsetFetchResponse {
        groups,
        ..Default::default()
    })
}
