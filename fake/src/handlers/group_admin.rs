//! ListGroups (16), DescribeGroups (15), DeleteGroups (42), OffsetDelete
//! (47).

use super::coordinator::check;
use super::{Ctx, sb};
use crate::state::{CoordinatorKind, State};
use kafkacc_protocol::generated::delete_groups_response::DeletableGroupResult;
use kafkacc_protocol::generated::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafkacc_protocol::generated::list_groups_response::ListedGroup;
use kafkacc_protocol::generated::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafkacc_protocol::messages::{
    DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest, DescribeGroupsResponse,
    ListGroupsRequest, ListGroupsResponse, OffsetDeleteRequest, OffsetDeleteResponse,
};
use kafkacc_protocol::{ErrorCode, ResponseKind};

/// ListGroups: the groups this broker coordinates, filtered by state (v4+)
/// and type (v5+; every group here is "classic").
pub(crate) fn list(state: &State, ctx: &Ctx, req: ListGroupsRequest) -> ResponseKind {
    let groups = state
        .groups
        .values()
        .filter(|g| state.coordinator(CoordinatorKind::Group, &g.id) == ctx.broker)
        .filter(|g| {
            req.states_filter.is_empty()
                || req
                    .states_filter
                    .iter()
                    .any(|s| s.as_str().eq_ignore_ascii_case(g.state().name()))
        })
        .filter(|_| {
            req.types_filter.is_empty()
                || req
                    .types_filter
                    .iter()
                    .any(|t| t.as_str().eq_ignore_ascii_case("classic"))
        })
        .filter(|g| {
            !(g.is_empty()
                && state
                    .consumer_groups
                    .get(&g.id)
                    .is_some_and(|c| !c.is_empty()))
        })
        .map(|g| ListedGroup {
            group_id: sb(&g.id),
            protocol_type: sb(g.protocol_type().unwrap_or("consumer")),
            group_state: sb(g.state().name()),
            group_type: sb("classic"),
            ..Default::default()
        })
        .collect::<Vec<_>>();
    let mut groups = groups;
    for (id, g) in &state.consumer_groups {
        let listed = state.coordinator(CoordinatorKind::Group, id) == ctx.broker
            && !g.is_empty()
            && (req.states_filter.is_empty()
                || req
                    .states_filter
                    .iter()
                    .any(|s| s.as_str().eq_ignore_ascii_case(g.state_name())))
            && (req.types_filter.is_empty()
                || req
                    .types_filter
                    .iter()
                    .any(|t| t.as_str().eq_ignore_ascii_case("consumer")));
        if listed {
            groups.push(ListedGroup {
                group_id: sb(id),
                protocol_type: sb("consumer"),
                group_state: sb(g.state_name()),
                group_type: sb("consumer"),
                ..Default::default()
            });
        }
    }
    ResponseKind::ListGroups(ListGroupsResponse {
        groups,
        ..Default::default()
    })
}

/// DescribeGroups.
pub(crate) fn describe(state: &State, ctx: &Ctx, req: DescribeGroupsRequest) -> ResponseKind {
    let groups = req
        .groups
        .iter()
        .map(|id| {
            let id = id.as_str();
            if let Err(code) = check(state, ctx, CoordinatorKind::Group, id) {
                return DescribedGroup {
                    error_code: code.0,
                    group_id: sb(id),
                    ..Default::default()
                };
            }
            let Some(g) = state.groups.get(id) else {
                return DescribedGroup {
                    error_code: if ctx.version >= 6 {
                        ErrorCode::GROUP_ID_NOT_FOUND.0
                    } else {
                        0
                    },
                    group_id: sb(id),
                    group_state: sb("Dead"),
                    ..Default::default()
                };
            };
            let protocol = g.protocol_name();
            DescribedGroup {
                error_code: 0,
                group_id: sb(id),
                group_state: sb(g.state().name()),
                protocol_type: sb(g.protocol_type().unwrap_or("")),
                protocol_data: sb(protocol.unwrap_or("")),
                members: g
                    .members()
                    .map(|m| DescribedGroupMember {
                        member_id: sb(&m.id),
                        group_instance_id: if ctx.version >= 4 {
                            m.instance_id.as_deref().map(sb)
                        } else {
                            None
                        },
                        client_id: sb(&m.client_id),
                        client_host: sb(&m.client_host),
                        member_metadata: m.metadata(protocol),
                        member_assignment: m.assignment.clone(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    ResponseKind::DescribeGroups(DescribeGroupsResponse {
        groups,
        ..Default::default()
    })
}

/// DeleteGroups: only empty groups; their offsets go too.
pub(crate) fn delete(state: &mut State, ctx: &Ctx, req: DeleteGroupsRequest) -> ResponseKind {
    let results = req
        .groups_names
        .iter()
        .map(|id| {
            let key = id.as_str();
            let code = match check(state, ctx, CoordinatorKind::Group, key) {
                Err(code) => code,
                Ok(())
                    if state
                        .consumer_groups
                        .get(key)
                        .is_some_and(|g| !g.is_empty()) =>
                {
                    ErrorCode::NON_EMPTY_GROUP
                }
                Ok(()) => match state.groups.get(key) {
                    None if state.consumer_groups.remove(key).is_some() => ErrorCode::NONE,
                    None => ErrorCode::GROUP_ID_NOT_FOUND,
                    Some(g) if !g.is_empty() => ErrorCode::NON_EMPTY_GROUP,
                    Some(_) => {
                        state.groups.remove(key);
                        state.consumer_groups.remove(key);
                        ErrorCode::NONE
                    }
                },
            };
            DeletableGroupResult {
                group_id: id.clone(),
                error_code: code.0,
                ..Default::default()
            }
        })
        .collect();
    ResponseKind::DeleteGroups(DeleteGroupsResponse {
        results,
        ..Default::default()
    })
}

/// OffsetDelete (KIP-496): forgets committed offsets of the partitions
/// named, except those of a topic an active member subscribes to
/// (GROUP_SUBSCRIBED_TO_TOPIC); a non-empty group of another protocol type
/// is refused whole (NON_EMPTY_GROUP).
pub(crate) fn delete_offsets(
    state: &mut State,
    ctx: &Ctx,
    req: OffsetDeleteRequest,
) -> ResponseKind {
    let group_id = req.group_id.as_str();
    let refused = |code: ErrorCode| {
        ResponseKind::OffsetDelete(OffsetDeleteResponse {
            error_code: code.0,
            ..Default::default()
        })
    };
    if let Err(code) = check(state, ctx, CoordinatorKind::Group, group_id) {
        return refused(code);
    }
    // Per topic of the request: whether an active member subscribes to it.
    let subscribed: Vec<bool> = match (
        state
            .consumer_groups
            .get(group_id)
            .filter(|g| !g.is_empty()),
        state.groups.get(group_id),
    ) {
        (Some(consumer), _) => req
            .topics
            .iter()
            .map(|t| consumer.is_subscribed_to(t.name.as_str()))
            .collect(),
        (None, None) => return refused(ErrorCode::GROUP_ID_NOT_FOUND),
        (None, Some(g)) if g.is_empty() => vec![false; req.topics.len()],
        (None, Some(g)) if g.protocol_type() == Some("consumer") => req
            .topics
            .iter()
            .map(|t| g.is_subscribed_to(t.name.as_str()))
            .collect(),
        (None, Some(_)) => return refused(ErrorCode::NON_EMPTY_GROUP),
    };
    let mut offsets = state.groups.get_mut(group_id).map(|g| &mut g.offsets);
    let topics = req
        .topics
        .iter()
        .zip(subscribed)
        .map(|(t, subscribed)| OffsetDeleteResponseTopic {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| {
                    let code = if subscribed {
                        ErrorCode::GROUP_SUBSCRIBED_TO_TOPIC
                    } else {
                        if let Some(offsets) = offsets.as_deref_mut() {
                            offsets.remove(&(t.name.as_str().to_owned(), p.partition_index));
                        }
                        ErrorCode::NONE
                    };
                    OffsetDeleteResponsePartition {
                        partition_index: p.partition_index,
                        error_code: code.0,
                    }
                })
                .collect(),
        })
        .collect();
    ResponseKind::OffsetDelete(OffsetDeleteResponse {
        error_code: 0,
        topics,
        ..Default::default()
    })
}
