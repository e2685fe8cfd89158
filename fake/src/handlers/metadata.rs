//! Metadata (3): live brokers, topics and partition leaders; creates
//! unknown topics when auto-creation is on and the request allows it.

use super::{Ctx, sb};
use crate::state::{State, valid_topic_name};
use kafkacc_protocol::generated::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkacc_protocol::messages::{MetadataRequest, MetadataResponse};
use kafkacc_protocol::{ErrorCode, ResponseKind, Uuid};
use std::collections::BTreeMap;

/// The answer.
pub(crate) fn handle(state: &mut State, ctx: &Ctx, req: MetadataRequest) -> ResponseKind {
    let v = ctx.version;
    // v0 has no null: an empty list means every topic.
    let requested = match req.topics {
        Some(list) if v == 0 && list.is_empty() => None,
        other => other,
    };
    let auto = (v < 4 || req.allow_auto_topic_creation) && state.config.auto_create_topics;
    let mut topics = Vec::new();
    match requested {
        None => {
            let names: Vec<String> = state.topics.keys().cloned().collect();
            topics.extend(names.iter().map(|n| topic_entry(state, n)));
        }
        Some(list) => {
            for t in list {
                let name = match t.name {
                    Some(name) => name.as_str().to_owned(),
                    None => match state.topic_name(&t.topic_id) {
                        Some(name) => name,
                        None => {
                            topics.push(MetadataResponseTopic {
                                error_code: ErrorCode::UNKNOWN_TOPIC_ID.0,
                                name: None,
                                topic_id: t.topic_id,
                                ..Default::default()
                            });
                            continue;
                        }
                    },
                };
                if !state.topics.contains_key(&name) {
                    // Like Kafka, the answer that auto-creates a topic says
                    // LEADER_NOT_AVAILABLE; the next one has its leaders.
                    let code = if !valid_topic_name(&name) {
                        Some(ErrorCode::INVALID_TOPIC_EXCEPTION)
                    } else if auto {
                        Some(
                            state
                                .create_topic(&name, -1, -1, &[], BTreeMap::new(), false)
                                .err()
                                .map_or(ErrorCode::LEADER_NOT_AVAILABLE, |(code, _)| code),
                        )
                    } else {
                        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                    };
                    if let Some(code) = code {
                        topics.push(MetadataResponseTopic {
                            error_code: code.0,
                            name: Some(sb(&name)),
                            topic_id: Uuid::ZERO,
                            ..Default::default()
                        });
                        continue;
                    }
                }
                topics.push(topic_entry(state, &name));
            }
        }
    }
    let brokers = state
        .brokers
        .iter()
        .filter(|b| b.alive)
        .map(|b| MetadataResponseBroker {
            node_id: b.node_id,
            host: sb("127.0.0.1"),
            port: i32::from(b.port),
            rack: None,
            ..Default::default()
        })
        .collect();
    let controller_id = state
        .brokers
        .iter()
        .find(|b| b.alive)
        .map(|b| b.node_id)
        .unwrap_or(-1);
    ResponseKind::Metadata(MetadataResponse {
        brokers,
        cluster_id: Some(sb(&state.config.cluster_id)),
        controller_id,
        topics,
        ..Default::default()
    })
}

fn topic_entry(state: &State, name: &str) -> MetadataResponseTopic {
    let Some(topic) = state.topics.get(name) else {
        return MetadataResponseTopic {
            error_code: ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.0,
            name: Some(sb(name)),
            ..Default::default()
        };
    };
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let up = state.is_alive(p.leader);
            MetadataResponsePartition {
                error_code: if up {
                    0
                } else {
                    ErrorCode::LEADER_NOT_AVAILABLE.0
                },
                partition_index: i32::try_from(i).unwrap_or(i32::MAX),
                leader_id: if up { p.leader } else { -1 },
                leader_epoch: p.leader_epoch,
                replica_nodes: p.replicas.as_slice().into(),
                isr_nodes: p
                    .replicas
                    .iter()
                    .copied()
                    .filter(|r| state.is_alive(*r))
                    .collect(),
                offline_replicas: p
                    .replicas
                    .iter()
                    .copied()
                    .filter(|r| !state.is_alive(*r))
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    MetadataResponseTopic {
        error_code: 0,
        name: Some(sb(name)),
        topic_id: topic.id,
        is_internal: false,
        partitions,
        ..Default::default()
    }
}
