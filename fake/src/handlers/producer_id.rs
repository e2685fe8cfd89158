//! InitProducerId (22): a new producer id for idempotent producers (as
//! Kafka does, even when the request names the current id); for a
//! transactional id, the same id with the epoch bumped, aborting the
//! transaction the previous incarnation left open.

use super::Ctx;
use super::coordinator::check;
use super::txn::complete;
use crate::state::{CoordinatorKind, State};
use crate::txn::{TxnMeta, TxnStatus};
use kafkacc_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse};
use kafkacc_protocol::{ErrorCode, ResponseKind};
use std::collections::BTreeSet;

/// `transaction.max.timeout.ms`.
const MAX_TXN_TIMEOUT_MS: i32 = 900_000;

/// The answer.
pub(crate) fn handle(
    state: &mut State,
    ctx: &Ctx,
    req: InitProducerIdRequest,
    now: u64,
) -> ResponseKind {
    let result = match req.transactional_id.as_ref().filter(|t| !t.is_empty()) {
        None => Ok((state.new_producer_id(), 0)),
        Some(id) => transactional(state, ctx, id.as_str(), &req, now),
    };
    let response = match result {
        Ok((producer_id, producer_epoch)) => InitProducerIdResponse {
            producer_id,
            producer_epoch,
            ..Default::default()
        },
        Err(code) => InitProducerIdResponse {
            error_code: code.0,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        },
    };
    ResponseKind::InitProducerId(response)
}

fn transactional(
    state: &mut State,
    ctx: &Ctx,
    id: &str,
    req: &InitProducerIdRequest,
    now: u64,
) -> Result<(i64, i16), ErrorCode> {
    check(state, ctx, CoordinatorKind::Transaction, id)?;
    if req.transaction_timeout_ms <= 0 || req.transaction_timeout_ms > MAX_TXN_TIMEOUT_MS {
        return Err(ErrorCode::INVALID_TRANSACTION_TIMEOUT);
    }
    let timeout_ms = u64::try_from(req.transaction_timeout_ms).unwrap_or(60_000);
    let Some(meta) = state.txns.by_id.get(id).cloned() else {
        let producer_id = state.new_producer_id();
        state.txns.by_id.insert(
            id.to_owned(),
            TxnMeta {
                producer_id,
                epoch: 0,
                timeout_ms,
                status: TxnStatus::Empty,
                started: now,
                partitions: BTreeSet::new(),
                groups: BTreeSet::new(),
            },
        );
        return Ok((producer_id, 0));
    };
    if req.producer_id >= 0
        && (req.producer_id != meta.producer_id || req.producer_epoch != meta.epoch)
    {
        return Err(ErrorCode::PRODUCER_FENCED);
    }
    let (producer_id, epoch) = if meta.epoch >= i16::MAX - 1 {
        (state.new_producer_id(), 0)
    } else {
        (meta.producer_id, meta.epoch + 1)
    };
    if meta.status == TxnStatus::Ongoing {
        // Fence the old incarnation, then abort what it left open.
        if let Some(m) = state.txns.by_id.get_mut(id) {
            m.epoch = meta.epoch.saturating_add(1);
        }
        complete(state, id, false)?;
    }
    if let Some(m) = state.txns.by_id.get_mut(id) {
        m.producer_id = producer_id;
        m.epoch = epoch;
        m.timeout_ms = timeout_ms;
        m.status = TxnStatus::Empty;
    }
    Ok((producer_id, epoch))
}
