//! FindCoordinator (10): groups (key type 0) and transactional ids (1);
//! one key in v0-v3, a batch of keys from v4.

use super::{Ctx, sb};
use crate::state::{CoordinatorKind, State};
use kafkacc_protocol::generated::find_coordinator_response::Coordinator;
use kafkacc_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use kafkacc_protocol::{ErrorCode, ResponseKind};

/// (node id, port) of the live coordinator of `key`, or the error.
pub(crate) fn locate(state: &State, key_type: i8, key: &str) -> Result<(i32, i32), ErrorCode> {
    let kind = match key_type {
        0 => CoordinatorKind::Group,
        1 => CoordinatorKind::Transaction,
        _ => return Err(ErrorCode::INVALID_REQUEST),
    };
    if key.is_empty() && kind == CoordinatorKind::Group {
        return Err(ErrorCode::INVALID_REQUEST);
    }
    let node = state.coordinator(kind, key);
    match state.broker(node) {
        Some(b) if b.alive => Ok((node, i32::from(b.port))),
        _ => Err(ErrorCode::COORDINATOR_NOT_AVAILABLE),
    }
}

/// The answer.
pub(crate) fn handle(state: &State, ctx: &Ctx, req: FindCoordinatorRequest) -> ResponseKind {
    if ctx.version >= 4 {
        let coordinators = req
            .coordinator_keys
            .iter()
            .map(|key| match locate(state, req.key_type, key.as_str()) {
                Ok((node_id, port)) => Coordinator {
                    key: key.clone(),
                    node_id,
                    host: sb("127.0.0.1"),
                    port,
                    ..Default::default()
                },
                Err(code) => Coordinator {
                    key: key.clone(),
                    node_id: -1,
                    host: sb(""),
                    port: -1,
                    error_code: code.0,
                    ..Default::default()
                },
            })
            .collect();
        return ResponseKind::FindCoordinator(FindCoordinatorResponse {
            coordinators,
            ..Default::default()
        });
    }
    let response = match locate(state, req.key_type, req.key.as_str()) {
        Ok((node_id, port)) => FindCoordinatorResponse {
            node_id,
            host: sb("127.0.0.1"),
            port,
            ..Default::default()
        },
        Err(code) => FindCoordinatorResponse {
            error_code: code.0,
            node_id: -1,
            host: sb(""),
            port: -1,
            ..Default::default()
        },
    };
    ResponseKind::FindCoordinator(response)
}

/// NOT_COORDINATOR unless this broker coordinates `key` (or it is down:
/// COORDINATOR_NOT_AVAILABLE).
pub(crate) fn check(
    state: &State,
    ctx: &Ctx,
    kind: CoordinatorKind,
    key: &str,
) -> Result<(), ErrorCode> {
    let node = state.coordinator(kind, key);
    if node != ctx.broker {
        return Err(ErrorCode::NOT_COORDINATOR);
    }
    Ok(())
}
