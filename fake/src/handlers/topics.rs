//! CreateTopics (19), DeleteTopics (20), CreatePartitions (37). Any broker
//! accepts them (KRaft brokers forward to the controller).

use super::{Ctx, sb};
use crate::state::State;
use kafkacc_protocol::generated::create_partitions_response::CreatePartitionsTopicResult;
use kafkacc_protocol::generated::create_topics_response::CreatableTopicResult;
use kafkacc_protocol::generated::delete_topics_response::DeletableTopicResult;
use kafkacc_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse,
};
use kafkacc_protocol::{ErrorCode, ResponseKind, Uuid};
use std::collections::{BTreeMap, HashSet};

/// CreateTopics.
pub(crate) fn create(state: &mut State, ctx: &Ctx, req: CreateTopicsRequest) -> ResponseKind {
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> = req
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.as_str().to_owned()))
        .map(|t| t.name.as_str().to_owned())
        .collect();
    let topics = req
        .topics
        .iter()
        .map(|t| {
            let name = t.name.as_str();
            let mut result = CreatableTopicResult {
                name: sb(name),
                ..Default::default()
            };
            let outcome = if duplicates.contains(name) {
                Err((
                    ErrorCode::INVALID_REQUEST,
                    format!("Duplicate topic name {name}."),
                ))
            } else {
                let mut assignments: Vec<(i32, Vec<i32>)> = t
                    .assignments
                    .iter()
                    .map(|a| (a.partition_index, a.broker_ids.to_vec()))
                    .collect();
                assignments.sort_by_key(|(p, _)| *p);
                let assignments: Vec<Vec<i32>> = assignments.into_iter().map(|(_, b)| b).collect();
                let configs: BTreeMap<String, String> = t
                    .configs
                    .iter()
                    .filter_map(|c| {
                        c.value
                            .as_ref()
                            .map(|v| (c.name.as_str().to_owned(), v.as_str().to_owned()))
                    })
                    .collect();
                let invalid = configs
                    .iter()
                    .find_map(|(k, v)| super::configs::check_topic_config(k, v).err());
                let partitions = if assignments.is_empty() {
                    t.num_partitions
                } else {
                    -1
                };
                match invalid {
                    Some(message) => Err((ErrorCode::INVALID_CONFIG, message)),
                    None => state.create_topic(
                        name,
                        partitions,
                        t.replication_factor,
                        &assignments,
                        configs,
                        req.validate_only,
                    ),
                }
            };
            match outcome {
                Ok(()) => {
                    if let Some(topic) = state.topics.get(name) {
                        result.topic_id = topic.id;
                        result.num_partitions = i32::try_from(topic.partitions.len()).unwrap_or(0);
                    } else {
                        result.num_partitions = if t.num_partitions == -1 {
                            state.config.default_partitions
                        } else {
                            t.num_partitions
                        };
                    }
                    result.replication_factor = if t.replication_factor == -1 {
                        1
                    } else {
                        t.replication_factor
                    };
                    if ctx.version >= 5 {
                        result.configs = Some(Vec::new());
                    }
                }
                Err((code, message)) => {
                    result.error_code = code.0;
                    result.error_message = Some(sb(&message));
                }
            }
            result
        })
        .collect();
    ResponseKind::CreateTopics(CreateTopicsResponse {
        topics,
        ..Default::default()
    })
}

/// DeleteTopics: by name (all versions) or by id (v6+).
pub(crate) fn delete(state: &mut State, ctx: &Ctx, req: DeleteTopicsRequest) -> ResponseKind {
    let targets: Vec<(Option<String>, Uuid)> = if ctx.version >= 6 {
        req.topics
            .iter()
            .map(|t| (t.name.as_ref().map(|n| n.as_str().to_owned()), t.topic_id))
            .collect()
    } else {
        req.topic_names
            .iter()
            .map(|n| (Some(n.as_str().to_owned()), Uuid::ZERO))
            .collect()
    };
    let responses = targets
        .into_iter()
        .map(|(name, id)| {
            let resolved = match &name {
                Some(n) => state.topics.get(n).map(|t| (n.clone(), t.id)),
                None => state.topic_name(&id).map(|n| (n, id)),
            };
            match resolved {
                Some((n, topic_id)) => {
                    state.topics.remove(&n);
                    DeletableTopicResult {
                        name: Some(sb(&n)),
                        topic_id,
                        error_code: 0,
                        ..Default::default()
                    }
                }
                None => DeletableTopicResult {
                    name: name.as_deref().map(sb),
                    topic_id: id,
                    error_code: if name.is_some() {
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0
                    } else {
                        ErrorCode::UNKNOWN_TOPIC_ID.0
                    },
                    ..Default::default()
                },
            }
        })
        .collect();
    ResponseKind::DeleteTopics(DeleteTopicsResponse {
        responses,
        ..Default::default()
    })
}

/// CreatePartitions.
pub(crate) fn create_partitions(
    state: &mut State,
    _ctx: &Ctx,
    req: CreatePartitionsRequest,
) -> ResponseKind {
    let results = req
        .topics
        .iter()
        .map(|t| {
            let assignments: Vec<Vec<i32>> = t
                .assignments
                .iter()
                .flatten()
                .map(|a| a.broker_ids.to_vec())
                .collect();
            let outcome =
                state.add_partitions(t.name.as_str(), t.count, &assignments, req.validate_only);
            let (error_code, error_message) = match outcome {
                Ok(()) => (0, None),
                Err((code, message)) => (code.0, Some(sb(&message))),
            };
            CreatePartitionsTopicResult {
                name: t.name.clone(),
                error_code,
                error_message,
                ..Default::default()
            }
        })
        .collect();
    ResponseKind::CreatePartitions(CreatePartitionsResponse {
        results,
        ..Default::default()
    })
}
