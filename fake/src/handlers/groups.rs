//! The classic group protocol on the wire: JoinGroup (11), SyncGroup (14),
//! Heartbeat (12), LeaveGroup (13). The state machine is `crate::group`;
//! this module decodes, checks the coordinator, and waits for answers.

use super::coordinator::check;
use super::{Ctx, sb};
use crate::group::{Group, JoinRequest, JoinWaiter, SyncRequest, SyncWaiter};
use crate::server::Shared;
use crate::state::{CoordinatorKind, State};
use kafkacc_protocol::generated::leave_group_response::MemberResponse;
use kafkacc_protocol::messages::{
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafkacc_protocol::{ErrorCode, ResponseKind};
use std::sync::Arc;
use tokio::sync::oneshot;

fn join_error(code: ErrorCode, member_id: &str) -> ResponseKind {
    ResponseKind::JoinGroup(JoinGroupResponse {
        error_code: code.0,
        member_id: sb(member_id),
        ..Default::default()
    })
}

/// JoinGroup: waits until the rebalance completes.
pub(crate) async fn join(shared: &Arc<Shared>, ctx: &Ctx, req: JoinGroupRequest) -> ResponseKind {
    let group_id = req.group_id.as_str().to_owned();
    let (tx, rx) = oneshot::channel();
    {
        let mut state = shared.lock();
        if group_id.is_empty() {
            return join_error(ErrorCode::INVALID_GROUP_ID, req.member_id.as_str());
        }
        if let Err(code) = check(&state, ctx, CoordinatorKind::Group, &group_id) {
            return join_error(code, req.member_id.as_str());
        }
        if state
            .consumer_groups
            .get(&group_id)
            .is_some_and(|g| !g.is_empty())
        {
            return join_error(
                ErrorCode::INCONSISTENT_GROUP_PROTOCOL,
                req.member_id.as_str(),
            );
        }
        let cfg = state.group_config();
        let now = shared.clock.now_ms();
        let request = JoinRequest {
            version: ctx.version,
            member_id: req.member_id.as_str().to_owned(),
            instance_id: req
                .group_instance_id
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            client_id: ctx.client_id.clone(),
            client_host: ctx.client_host.clone(),
            session_timeout_ms: req.session_timeout_ms,
            // v0 has no rebalance timeout: the session timeout serves.
            rebalance_timeout_ms: if ctx.version >= 1 {
                req.rebalance_timeout_ms
            } else {
                req.session_timeout_ms
            },
            protocol_type: req.protocol_type.as_str().to_owned(),
            protocols: req
                .protocols
                .iter()
                .map(|p| (p.name.as_str().to_owned(), p.metadata.clone()))
                .collect(),
        };
        let group = state
            .groups
            .entry(group_id.clone())
            .or_insert_with(|| Group::new(&group_id));
        group.join(
            request,
            JoinWaiter {
                version: ctx.version,
                tx,
            },
            now,
            &cfg,
        );
    }
    let response = tokio::select! {
        r = rx => r.ok(),
        () = shared.shutdown.cancelled() => None,
    };
    let mut response = response.unwrap_or_else(|| JoinGroupResponse {
        error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
        ..Default::default()
    });
    if ctx.version < 9 {
        response.skip_assignment = false;
    }
    ResponseKind::JoinGroup(response)
}

/// SyncGroup: waits for the leader's assignments.
pub(crate) async fn sync(shared: &Arc<Shared>, ctx: &Ctx, req: SyncGroupRequest) -> ResponseKind {
    let group_id = req.group_id.as_str().to_owned();
    let (tx, rx) = oneshot::channel();
    {
        let mut state = shared.lock();
        if let Err(code) = check(&state, ctx, CoordinatorKind::Group, &group_id) {
            return sync_error(code);
        }
        let now = shared.clock.now_ms();
        let Some(group) = state.groups.get_mut(&group_id) else {
            return sync_error(ErrorCode::UNKNOWN_MEMBER_ID);
        };
        let request = SyncRequest {
            member_id: req.member_id.as_str().to_owned(),
            instance_id: req
                .group_instance_id
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            generation: req.generation_id,
            protocol_type: req.protocol_type.as_ref().map(|s| s.as_str().to_owned()),
            protocol_name: req.protocol_name.as_ref().map(|s| s.as_str().to_owned()),
            assignments: req
                .assignments
                .iter()
                .map(|a| (a.member_id.as_str().to_owned(), a.assignment.clone()))
                .collect(),
        };
        group.sync(request, SyncWaiter { tx }, now);
    }
    let response = tokio::select! {
        r = rx => r.ok(),
        () = shared.shutdown.cancelled() => None,
    };
    ResponseKind::SyncGroup(response.unwrap_or_else(|| SyncGroupResponse {
        error_code: ErrorCode::COORDINATOR_NOT_AVAILABLE.0,
        ..Default::default()
    }))
}

fn sync_error(code: ErrorCode) -> ResponseKind {
    ResponseKind::SyncGroup(SyncGroupResponse {
        error_code: code.0,
        ..Default::default()
    })
}

/// Heartbeat.
pub(crate) fn heartbeat(
    state: &mut State,
    ctx: &Ctx,
    req: HeartbeatRequest,
    now: u64,
) -> ResponseKind {
    let group_id = req.group_id.as_str();
    let code = match check(state, ctx, CoordinatorKind::Group, group_id) {
        Err(code) => code,
        Ok(()) => match state.groups.get_mut(group_id) {
            None => ErrorCode::UNKNOWN_MEMBER_ID,
            Some(group) => group.heartbeat(
                req.member_id.as_str(),
                req.group_instance_id.as_ref().map(|s| s.as_str()),
                req.generation_id,
                now,
            ),
        },
    };
    ResponseKind::Heartbeat(HeartbeatResponse {
        error_code: code.0,
        ..Default::default()
    })
}

/// LeaveGroup: one member (v0-v2) or a batch by member or instance id (v3+).
pub(crate) fn leave(
    state: &mut State,
    ctx: &Ctx,
    req: LeaveGroupRequest,
    now: u64,
) -> ResponseKind {
    let group_id = req.group_id.as_str();
    if let Err(code) = check(state, ctx, CoordinatorKind::Group, group_id) {
        return ResponseKind::LeaveGroup(LeaveGroupResponse {
            error_code: code.0,
            ..Default::default()
        });
    }
    let cfg = state.group_config();
    let Some(group) = state.groups.get_mut(group_id) else {
        return ResponseKind::LeaveGroup(LeaveGroupResponse {
            error_code: ErrorCode::UNKNOWN_MEMBER_ID.0,
            ..Default::default()
        });
    };
    if ctx.version < 3 {
        let code = group.leave(req.member_id.as_str(), None, now, &cfg);
        return ResponseKind::LeaveGroup(LeaveGroupResponse {
            error_code: code.0,
            ..Default::default()
        });
    }
    let members = req
        .members
        .iter()
        .map(|m| {
            let instance = m.group_instance_id.as_ref().map(|s| s.as_str());
            let code = group.leave(m.member_id.as_str(), instance, now, &cfg);
            MemberResponse {
                member_id: m.member_id.clone(),
                group_instance_id: m.group_instance_id.clone(),
                error_code: code.0,
                ..Default::default()
            }
        })
        .collect();
    ResponseKind::LeaveGroup(LeaveGroupResponse {
        members,
        ..Default::default()
    })
}
