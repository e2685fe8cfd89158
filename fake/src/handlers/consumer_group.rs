//! ConsumerGroupHeartbeat (68) and ConsumerGroupDescribe (69): KIP-848
//! groups, assigned by the broker (`crate::group848`).

use super::coordinator::check;
use super::{Ctx, sb};
use crate::group848::{Heartbeat, HeartbeatError, Tp};
use crate::state::{CoordinatorKind, State};
use kafkacc_protocol::generated::consumer_group_describe_response as describe_response;
use kafkacc_protocol::generated::consumer_group_heartbeat_response::{Assignment, TopicPartitions};
use kafkacc_protocol::messages::{
    ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse, ConsumerGroupHeartbeatRequest,
    ConsumerGroupHeartbeatResponse,
};
use kafkacc_protocol::{ErrorCode, ResponseKind};
use std::collections::{BTreeMap, BTreeSet};

fn error(code: ErrorCode, message: &str) -> ResponseKind {
    ResponseKind::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
        error_code: code.0,
        error_message: Some(sb(message)),
        member_epoch: -1,
        ..Default::default()
    })
}

/// The answer.
pub(crate) fn heartbeat(
    state: &mut State,
    ctx: &Ctx,
    req: ConsumerGroupHeartbeatRequest,
    now: u64,
) -> ResponseKind {
    let group_id = req.group_id.as_str();
    if group_id.is_empty() {
        return error(ErrorCode::INVALID_REQUEST, "GroupId can't be empty.");
    }
    if let Err(code) = check(state, ctx, CoordinatorKind::Group, group_id) {
        return error(code, "");
    }
    if state.groups.get(group_id).is_some_and(|g| !g.is_empty()) {
        return error(
            ErrorCode::GROUP_ID_NOT_FOUND,
            "The group is a classic group with members.",
        );
    }
    let mut member_id = req.member_id.as_str().to_owned();
    if member_id.is_empty() && req.member_epoch == 0 && ctx.version == 0 {
        state.id_counter += 1;
        member_id = format!(
            "{:016x}{:016x}",
            crate::state::mixed_id(group_id, state.id_counter),
            crate::state::mixed_id(&ctx.client_id, state.id_counter)
        );
    }
    let owned: Option<BTreeSet<Tp>> = req.topic_partitions.as_ref().map(|tps| {
        tps.iter()
            .filter_map(|t| {
                state
                    .topic_name(&t.topic_id)
                    .map(|name| (name, &t.partitions))
            })
            .flat_map(|(name, ps)| ps.iter().map(move |p| (name.clone(), *p)))
            .collect()
    });
    let layout: BTreeMap<String, usize> = state
        .topics
        .iter()
        .map(|(name, t)| (name.clone(), t.partitions.len()))
        .collect();
    let hb = Heartbeat {
        member_id: member_id.clone(),
        member_epoch: req.member_epoch,
        instance_id: req.instance_id.as_ref().map(|s| s.as_str().to_owned()),
        subscribed: req
            .subscribed_topic_names
            .as_ref()
            .map(|names| names.iter().map(|n| n.as_str().to_owned()).collect()),
        owned,
        client_id: ctx.client_id.clone(),
        client_host: ctx.client_host.clone(),
    };
    let interval = state.config.consumer_heartbeat_interval_ms;
    let group = state
        .consumer_groups
        .entry(group_id.to_owned())
        .or_default();
    let answer = match group.heartbeat(hb, &layout, now) {
        Ok(a) => a,
        Err(HeartbeatError::UnknownMember) => {
            return error(ErrorCode::UNKNOWN_MEMBER_ID, "Unknown member.");
        }
        Err(HeartbeatError::FencedEpoch) => {
            return error(ErrorCode::FENCED_MEMBER_EPOCH, "Member epoch is fenced.");
        }
        Err(HeartbeatError::InvalidRequest) => {
            return error(
                ErrorCode::INVALID_REQUEST,
                "A joining member needs a member id and a subscription.",
            );
        }
    };
    let assignment = answer.assignment.map(|set| {
        let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
        for (topic, p) in set {
            by_topic.entry(topic).or_default().push(p);
        }
        Assignment {
            topic_partitions: by_topic
                .into_iter()
                .filter_map(|(topic, partitions)| {
                    state.topics.get(&topic).map(|t| TopicPartitions {
                        topic_id: t.id,
                        partitions: partitions.into(),
                        ..Default::default()
                    })
                })
                .collect(),
            ..Default::default()
        }
    });
    ResponseKind::ConsumerGroupHeartbeat(ConsumerGroupHeartbeatResponse {
        member_id: Some(sb(&member_id)),
        member_epoch: answer.member_epoch,
        heartbeat_interval_ms: interval,
        assignment,
        ..Default::default()
    })
}

fn described_assignment(state: &State, set: &BTreeSet<Tp>) -> describe_response::Assignment {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, p) in set {
        by_topic.entry(topic.as_str()).or_default().push(*p);
    }
    describe_response::Assignment {
        topic_partitions: by_topic
            .into_iter()
            .map(|(topic, partitions)| describe_response::TopicPartitions {
                topic_id: state.topics.get(topic).map(|t| t.id).unwrap_or_default(),
                topic_name: sb(topic),
                partitions: partitions.into(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// ConsumerGroupDescribe.
pub(crate) fn describe(
    state: &State,
    ctx: &Ctx,
    req: ConsumerGroupDescribeRequest,
) -> ResponseKind {
    let groups = req
        .group_ids
        .iter()
        .map(|id| {
            let key = id.as_str();
            if let Err(code) = check(state, ctx, CoordinatorKind::Group, key) {
                return describe_response::DescribedGroup {
                    error_code: code.0,
                    group_id: id.clone(),
                    ..Default::default()
                };
            }
            let Some(g) = state.consumer_groups.get(key) else {
                return describe_response::DescribedGroup {
                    error_code: ErrorCode::GROUP_ID_NOT_FOUND.0,
                    error_message: Some(sb(&format!("Group {key} not found."))),
                    group_id: id.clone(),
                    ..Default::default()
                };
            };
            describe_response::DescribedGroup {
                group_id: id.clone(),
                group_state: sb(g.state_name()),
                group_epoch: g.epoch(),
                assignment_epoch: g.assignment_epoch(),
                assignor_name: sb("uniform"),
                members: g
                    .describe()
                    .into_iter()
                    .map(|m| describe_response::Member {
                        member_id: sb(&m.member_id),
                        instance_id: m.instance_id.as_deref().map(sb),
                        member_epoch: m.epoch,
                        client_id: sb(&m.client_id),
                        client_host: sb(&m.client_host),
                        subscribed_topic_names: m.subscribed.iter().map(|t| sb(t)).collect(),
                        assignment: described_assignment(state, &m.assigned),
                        target_assignment: described_assignment(state, &m.target),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    ResponseKind::ConsumerGroupDescribe(ConsumerGroupDescribeResponse {
        groups,
        ..Default::default()
    })
}
