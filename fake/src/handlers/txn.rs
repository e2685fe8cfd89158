//! The transaction APIs a transactional producer needs: AddPartitionsToTxn
//! (24), AddOffsetsToTxn (25), EndTxn (26) writing COMMIT/ABORT markers
//! into every partition of the transaction, TxnOffsetCommit (28), and the
//! transaction timeout that aborts a forgotten transaction.

use super::Ctx;
use super::coordinator::check;
use crate::clock::wall_ms;
use crate::group::{Committed, Group};
use crate::state::{CoordinatorKind, State};
use crate::txn::TxnStatus;
use kafkacc_protocol::generated::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafkacc_protocol::generated::add_partitions_to_txn_response::{
    AddPartitionsToTxnPartitionResult, AddPartitionsToTxnResult, AddPartitionsToTxnTopicResult,
};
use kafkacc_protocol::generated::txn_offset_commit_response::{
    TxnOffsetCommitResponsePartition, TxnOffsetCommitResponseTopic,
};
use kafkacc_protocol::messages::{
    AddOffsetsToTxnRequest, AddOffsetsToTxnResponse, AddPartitionsToTxnRequest,
    AddPartitionsToTxnResponse, EndTxnRequest, EndTxnResponse, TxnOffsetCommitRequest,
    TxnOffsetCommitResponse,
};
use kafkacc_protocol::{ErrorCode, ResponseKind};

/// AddPartitionsToTxn: v0-v3 one transaction, v4+ a batch of them.
pub(crate) fn add_partitions(
    state: &mut State,
    ctx: &Ctx,
    req: AddPartitionsToTxnRequest,
    now: u64,
) -> ResponseKind {
    if ctx.version <= 3 {
        let results = add_one(
            state,
            ctx,
            req.v3_and_below_transactional_id.as_str(),
            req.v3_and_below_producer_id,
            req.v3_and_below_producer_epoch,
            &req.v3_and_below_topics,
            false,
            now,
        );
        return ResponseKind::AddPartitionsToTxn(AddPartitionsToTxnResponse {
            results_by_topic_v3_and_below: results,
            ..Default::default()
        });
    }
    let results_by_transaction = req
        .transactions
        .iter()
        .map(|t| AddPartitionsToTxnResult {
            transactional_id: t.transactional_id.clone(),
            topic_results: add_one(
                state,
                ctx,
                t.transactional_id.as_str(),
                t.producer_id,
                t.producer_epoch,
                &t.topics,
                t.verify_only,
                now,
            ),
            ..Default::default()
        })
        .collect();
    ResponseKind::AddPartitionsToTxn(AddPartitionsToTxnResponse {
        results_by_transaction,
        ..Default::default()
    })
}

#[allow(clippy::too_many_arguments)]
fn add_one(
    state: &mut State,
    ctx: &Ctx,
    id: &str,
    producer_id: i64,
    epoch: i16,
    topics: &[AddPartitionsToTxnTopic],
    verify_only: bool,
    now: u64,
) -> Vec<AddPartitionsToTxnTopicResult> {
    let unknown: Vec<(String, i32)> = topics
        .iter()
        .flat_map(|t| {
            t.partitions
                .iter()
                .map(move |p| (t.name.as_str().to_owned(), *p))
        })
        .filter(|(t, p)| state.partition(t, *p).is_none())
        .collect();
    let outcome: Result<(), ErrorCode> = (|| {
        check(state, ctx, CoordinatorKind::Transaction, id)?;
        let meta = state.txns.owned(id, producer_id, epoch)?;
        if verify_only {
            return Ok(());
        }
        if !unknown.is_empty() {
            return Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        }
        if meta.status != TxnStatus::Ongoing {
            meta.status = TxnStatus::Ongoing;
            meta.started = now;
        }
        for t in topics {
            for p in &t.partitions {
                meta.partitions.insert((t.name.as_str().to_owned(), *p));
            }
        }
        Ok(())
    })();
    let in_txn = |topic: &str, p: i32| {
        state
            .txns
            .by_id
            .get(id)
            .is_some_and(|m| m.partitions.contains(&(topic.to_owned(), p)))
    };
    topics
        .iter()
        .map(|t| AddPartitionsToTxnTopicResult {
            name: t.name.clone(),
            results_by_partition: t
                .partitions
                .iter()
                .map(|p| {
                    let code = match outcome {
                        Ok(()) if verify_only && !in_txn(t.name.as_str(), *p) => {
                            ErrorCode::INVALID_TXN_STATE
                        }
                        Ok(()) => ErrorCode::NONE,
                        Err(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                            if !unknown.contains(&(t.name.as_str().to_owned(), *p)) =>
                        {
                            ErrorCode::OPERATION_NOT_ATTEMPTED
                        }
                        Err(code) => code,
                    };
                    AddPartitionsToTxnPartitionResult {
                        partition_index: *p,
                        partition_error_code: code.0,
                        ..Default::default()
                    }
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

/// AddOffsetsToTxn: the group's offsets become part of the transaction.
pub(crate) fn add_offsets(
    state: &mut State,
    ctx: &Ctx,
    req: AddOffsetsToTxnRequest,
    now: u64,
) -> ResponseKind {
    let id = req.transactional_id.as_str();
    let outcome: Result<(), ErrorCode> = (|| {
        check(state, ctx, CoordinatorKind::Transaction, id)?;
        let meta = state.txns.owned(id, req.producer_id, req.producer_epoch)?;
        if meta.status != TxnStatus::Ongoing {
            meta.status = TxnStatus::Ongoing;
            meta.started = now;
        }
        meta.groups.insert(req.group_id.as_str().to_owned());
        Ok(())
    })();
    ResponseKind::AddOffsetsToTxn(AddOffsetsToTxnResponse {
        error_code: outcome.err().unwrap_or(ErrorCode::NONE).0,
        ..Default::default()
    })
}

/// TxnOffsetCommit (to the group coordinator): offsets held back until
/// the transaction commits.
pub(crate) fn offset_commit(
    state: &mut State,
    ctx: &Ctx,
    req: TxnOffsetCommitRequest,
    now: u64,
) -> ResponseKind {
    let group_id = req.group_id.as_str();
    let outcome: Result<(), ErrorCode> = (|| {
        check(state, ctx, CoordinatorKind::Group, group_id)?;
        if let Some(meta) = state.txns.by_id.get(req.transactional_id.as_str()) {
            if meta.producer_id != req.producer_id {
                return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
            }
            if meta.epoch != req.producer_epoch {
                return Err(ErrorCode::PRODUCER_FENCED);
            }
        }
        // v5 is transaction protocol v2: the group joins the transaction
        // here instead of through AddOffsetsToTxn.
        if ctx.version >= 5 {
            if let Some(meta) = state.txns.by_id.get_mut(req.transactional_id.as_str()) {
                if meta.status != TxnStatus::Ongoing {
                    meta.status = TxnStatus::Ongoing;
                    meta.started = now;
                }
                meta.groups.insert(group_id.to_owned());
            }
        }
        let group = state
            .groups
            .entry(group_id.to_owned())
            .or_insert_with(|| Group::new(group_id));
        if ctx.version >= 3 && !req.member_id.is_empty() {
            if !group.has_member(req.member_id.as_str()) {
                return Err(ErrorCode::UNKNOWN_MEMBER_ID);
            }
            if req.generation_id != group.generation() {
                return Err(ErrorCode::ILLEGAL_GENERATION);
            }
        }
        let pending = group
            .pending_txn_offsets
            .entry(req.producer_id)
            .or_default();
        for t in &req.topics {
            for p in &t.partitions {
                pending.insert(
                    (t.name.as_str().to_owned(), p.partition_index),
                    Committed {
                        offset: p.committed_offset,
                        leader_epoch: p.committed_leader_epoch,
                        metadata: p.committed_metadata.as_ref().map(|m| m.as_str().to_owned()),
                    },
                );
            }
        }
        Ok(())
    })();
    let code = outcome.err().unwrap_or(ErrorCode::NONE).0;
    let topics = req
        .topics
        .iter()
        .map(|t| TxnOffsetCommitResponseTopic {
            name: t.name.clone(),
            partitions: t
                .partitions
                .iter()
                .map(|p| TxnOffsetCommitResponsePartition {
                    partition_index: p.partition_index,
                    error_code: code,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect();
    ResponseKind::TxnOffsetCommit(TxnOffsetCommitResponse {
        topics,
        ..Default::default()
    })
}

/// EndTxn: commit or abort the open transaction.
pub(crate) fn end(state: &mut State, ctx: &Ctx, req: EndTxnRequest) -> ResponseKind {
    let id = req.transactional_id.as_str();
    // EndTxn v5 is transaction protocol v2 (KIP-890): every transaction
    // ends with an epoch bump, the markers carry the new epoch, and the
    // answer tells the producer its id and epoch for the next one.
    let v2 = ctx.version >= 5;
    let outcome: Result<(i64, i16), ErrorCode> = (|| {
        check(state, ctx, CoordinatorKind::Transaction, id)?;
        if v2 {
            if let Some(meta) = state.txns.by_id.get(id) {
                let retry = meta.producer_id == req.producer_id
                    && i32::from(req.producer_epoch) + 1 == i32::from(meta.epoch)
                    && matches!(
                        (meta.status, req.committed),
                        (TxnStatus::CompleteCommit, true) | (TxnStatus::CompleteAbort, false)
                    );
                if retry {
                    return Ok((meta.producer_id, meta.epoch));
                }
            }
        }
        let meta = state.txns.owned(id, req.producer_id, req.producer_epoch)?;
        let ids = (meta.producer_id, meta.epoch);
        match (meta.status, req.committed) {
            (TxnStatus::Ongoing, commit) => {
                if v2 {
                    if meta.epoch >= i16::MAX - 1 {
                        // Epoch exhausted: the next transaction gets a new id.
                        complete(state, id, commit)?;
                        let fresh = state.new_producer_id();
                        if let Some(m) = state.txns.by_id.get_mut(id) {
                            m.producer_id = fresh;
                            m.epoch = 0;
                        }
                        return Ok((fresh, 0));
                    }
                    meta.epoch += 1;
                    let bumped = (meta.producer_id, meta.epoch);
                    complete(state, id, commit)?;
                    return Ok(bumped);
                }
                complete(state, id, commit).map(|()| ids)
            }
            // A retry of the end that already happened.
            (TxnStatus::CompleteCommit, true) | (TxnStatus::CompleteAbort, false) => Ok(ids),
            // v2 may end an empty transaction (nothing was sent).
            (TxnStatus::Empty, commit) if v2 => {
                meta.epoch = meta.epoch.saturating_add(1);
                let bumped = (meta.producer_id, meta.epoch);
                complete(state, id, commit)?;
                Ok(bumped)
            }
            _ => Err(ErrorCode::INVALID_TXN_STATE),
        }
    })();
    let response = match outcome {
        Ok((producer_id, producer_epoch)) => EndTxnResponse {
            producer_id,
            producer_epoch,
            ..Default::default()
        },
        Err(code) => EndTxnResponse {
            error_code: code.0,
            producer_id: -1,
            producer_epoch: -1,
            ..Default::default()
        },
    };
    ResponseKind::EndTxn(response)
}

/// Ends the open transaction of `id`: a marker in every partition it
/// touched (at the partition's leader, whatever broker that is), its group
/// offsets applied (commit) or dropped (abort).
pub(crate) fn complete(state: &mut State, id: &str, commit: bool) -> Result<(), ErrorCode> {
    let Some(meta) = state.txns.by_id.get_mut(id) else {
        return Err(ErrorCode::INVALID_PRODUCER_ID_MAPPING);
    };
    let partitions = std::mem::take(&mut meta.partitions);
    let groups = std::mem::take(&mut meta.groups);
    let (pid, epoch) = (meta.producer_id, meta.epoch);
    meta.status = if commit {
        TxnStatus::CompleteCommit
    } else {
        TxnStatus::CompleteAbort
    };
    let now = wall_ms();
    for (topic, index) in partitions {
        if let Some(p) = state.partition_mut(&topic, index) {
            let leader_epoch = p.leader_epoch;
            p.log.append_marker(pid, epoch, commit, leader_epoch, now)?;
        }
    }
    for g in groups {
        if let Some(group) = state.groups.get_mut(&g) {
            if let Some(offsets) = group.pending_txn_offsets.remove(&pid) {
                if commit {
                    group.offsets.extend(offsets);
                }
            }
        }
    }
    Ok(())
}

/// Aborts transactions open longer than their timeout, bumping the epoch
/// so the producer that forgot them is fenced.
pub(crate) fn expire_transactions(state: &mut State, now: u64) -> bool {
    let expired: Vec<String> = state
        .txns
        .by_id
        .iter()
        .filter(|(_, m)| {
            m.status == TxnStatus::Ongoing && now.saturating_sub(m.started) >= m.timeout_ms
        })
        .map(|(id, _)| id.clone())
        .collect();
    let any = !expired.is_empty();
    for id in expired {
        if let Some(m) = state.txns.by_id.get_mut(&id) {
            m.epoch = m.epoch.saturating_add(1);
        }
        let _ = complete(state, &id, false);
    }
    any
}
