//! The transactional producer's coordinator traffic: a task that sends what
//! the transaction manager (`txn.rs`) asks for, one request at a time, and
//! feeds the answers back; plus the choice of transaction protocol
//! (KIP-890) from what the cluster advertises.
//!
//! Versions: AddPartitionsToTxn v4+ is for brokers, so clients stay at v3;
//! with protocol v1, EndTxn and TxnOffsetCommit stay at v4 and Produce at
//! v11 (a higher version tells the broker the client speaks protocol v2).

use super::Shared;
use super::txn::{Coordinator, Dest, Outgoing, TxnRequest, TxnResponse};
use crate::error::{Error, Result};
use crate::net::conn::Connection;
use crate::net::pool::Lane;
use kafkacc_protocol::generated::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
use kafkacc_protocol::generated::txn_offset_commit_request::{
    TxnOffsetCommitRequestPartition, TxnOffsetCommitRequestTopic,
};
use kafkacc_protocol::messages::{
    AddOffsetsToTxnRequest, AddPartitionsToTxnRequest, ApiVersionsRequest, EndTxnRequest,
    FindCoordinatorRequest, InitProducerIdRequest, ProduceRequest, TxnOffsetCommitRequest,
};
use kafkacc_protocol::{ErrorCode, StrBytes};
use std::collections::BTreeMap;
use std::sync::{Arc, Weak};
use std::time::Duration;
use tokio::time::Instant;

/// Longest the task sleeps without looking again (it also wakes on notify).
const IDLE_POLL: Duration = Duration::from_millis(250);

/// The last version of EndTxn / TxnOffsetCommit before protocol v2.
const LAST_V1_VERSION: i16 = 4;

/// The transaction task: runs while the producer lives.
pub(super) async fn run(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let Some(txn) = &shared.txn else { return };
        let next = super::lock(txn).poll_request(Instant::now());
        if let Some((token, outgoing)) = next {
            tracing::debug!(request = outgoing.request.name(), "transaction request");
            let result = send(&shared, outgoing).await;
            {
                let mut manager = super::lock(txn);
                let now = Instant::now();
                match result {
                    Ok(response) => manager.handle_response(now, token, response),
                    Err(error) => manager.handle_error(now, token, error),
                }
                tracing::debug!(state = manager.state_name(), "transaction state");
                // Stamp batches with the id and epoch the manager holds now
                // (before anyone hears the outcome).
                if let (Some((id, epoch)), Some(idem)) = (manager.identity(), &shared.idempotence) {
                    super::lock(idem).set_identity(id, epoch);
                }
            }
            shared.txn_progress.notify_waiters();
            shared.wake_sender.notify_one();
            continue;
        }
        let wake_txn = shared.wake_txn.clone();
        let wake = wake_txn.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        // Look again: a request may have become due while we enabled.
        let (due, retry_at) = {
            let manager = super::lock(txn);
            (
                manager.has_request_due(Instant::now()),
                manager.poll_timeout(),
            )
        };
        if due {
            continue;
        }
        let now = Instant::now();
        let sleep_until = retry_at.map_or(now + IDLE_POLL, |t| t.min(now + IDLE_POLL));
        drop(shared);
        tokio::select! {
            _ = &mut wake => {}
            _ = tokio::time::sleep_until(sleep_until) => {}
        }
    }
}

/// Whether the cluster runs transaction protocol v2: `transaction.version`
/// ≥ 2 finalized, and the broker offers EndTxn v5 and Produce v12.
pub(super) async fn detect_v2(shared: &Shared) -> Result<bool> {
    let conn = shared.client.any_connection(Lane::Default).await?;
    let version = conn.version_of::<ApiVersionsRequest>()?;
    if version < 3 {
        return Ok(false);
    }
    let request = ApiVersionsRequest {
        client_software_name: StrBytes::from_static("kafkacc"),
        client_software_version: StrBytes::from_static(env!("CARGO_PKG_VERSION")),
        ..Default::default()
    };
    let response = conn.send_at(&request, version).await?;
    let finalized = response
        .finalized_features
        .iter()
        .find(|f| f.name.as_str() == "transaction.version")
        .map_or(0, |f| f.max_version_level);
    let end_txn = conn.version_of::<EndTxnRequest>().unwrap_or(0);
    let produce = conn.version_of::<ProduceRequest>().unwrap_or(0);
    let v2 = finalized >= 2 && end_txn >= 5 && produce >= 12;
    tracing::debug!(
        transaction_version = finalized,
        end_txn,
        produce,
        v2,
        "transaction protocol"
    );
    Ok(v2)
}

/// Sends one request and reduces its answer for the manager.
async fn send(shared: &Shared, outgoing: Outgoing) -> Result<TxnResponse> {
    let Outgoing { dest, request } = outgoing;
    let conn = match &dest {
        Dest::AnyBroker => shared.client.any_connection(Lane::Default).await?,
        Dest::Coordinator(c) => {
            shared
                .client
                .addr_connection(&c.addr(), Lane::Default)
                .await?
        }
    };
    let v2 = shared
        .txn
        .as_ref()
        .is_some_and(|txn| super::lock(txn).is_v2());
    match request {
        TxnRequest::FindCoordinator {
            coordinator_type,
            key,
        } => find_coordinator(&conn, coordinator_type.key_type(), key).await,
        TxnRequest::InitProducerId {
            transactional_id,
            transaction_timeout_ms,
            producer_id,
            producer_epoch,
        } => {
            let version = conn.version_of::<InitProducerIdRequest>()?;
            // Before v3 the coordinator bumps the epoch by itself.
            let (producer_id, producer_epoch) = if version >= 3 {
                (producer_id, producer_epoch)
            } else {
                (-1, -1)
            };
            let request = InitProducerIdRequest {
                transactional_id: Some(StrBytes::from(transactional_id)),
                transaction_timeout_ms,
                producer_id,
                producer_epoch,
                ..Default::default()
            };
            let r = conn.send_at(&request, version).await?;
            Ok(TxnResponse::InitProducerId {
                error: ErrorCode(r.error_code),
                producer_id: r.producer_id,
                producer_epoch: r.producer_epoch,
            })
        }
        TxnRequest::AddPartitions {
            transactional_id,
            producer_id,
            producer_epoch,
            partitions,
        } => {
            let version = conn.version_of::<AddPartitionsToTxnRequest>()?.min(3);
            let mut topics: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for tp in &partitions {
                topics
                    .entry(tp.topic.clone())
                    .or_default()
                    .push(tp.partition);
            }
            let request = AddPartitionsToTxnRequest {
                v3_and_below_transactional_id: StrBytes::from(transactional_id),
                v3_and_below_producer_id: producer_id,
                v3_and_below_producer_epoch: producer_epoch,
                v3_and_below_topics: topics
                    .into_iter()
                    .map(|(name, partitions)| AddPartitionsToTxnTopic {
                        name: StrBytes::from(name),
                        partitions: partitions.into(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            let r = conn.send_at(&request, version).await?;
            let results = r
                .results_by_topic_v3_and_below
                .iter()
                .flat_map(|t| {
                    t.results_by_partition.iter().map(|p| {
                        let tp = super::accumulator::TopicPartition {
                            topic: t.name.as_str().to_owned(),
                            partition: p.partition_index,
                        };
                        (tp, ErrorCode(p.partition_error_code))
                    })
                })
                .collect();
            Ok(TxnResponse::AddPartitions { results })
        }
        TxnRequest::AddOffsets {
            transactional_id,
            producer_id,
            producer_epoch,
            group_id,
        } => {
            let request = AddOffsetsToTxnRequest {
                transactional_id: StrBytes::from(transactional_id),
                producer_id,
                producer_epoch,
                group_id: StrBytes::from(group_id),
                ..Default::default()
            };
            let r = conn.send(&request).await?;
            Ok(TxnResponse::AddOffsets {
                error: ErrorCode(r.error_code),
            })
        }
        TxnRequest::TxnOffsetCommit {
            transactional_id,
            producer_id,
            producer_epoch,
            group,
            offsets,
        } => {
            let cap = if v2 { 5 } else { LAST_V1_VERSION };
            let version = conn.version_of::<TxnOffsetCommitRequest>()?.min(cap);
            let mut topics: BTreeMap<String, Vec<TxnOffsetCommitRequestPartition>> =
                BTreeMap::new();
            for (tp, offset) in &offsets {
                topics
                    .entry(tp.topic.clone())
                    .or_default()
                    .push(TxnOffsetCommitRequestPartition {
                        partition_index: tp.partition,
                        committed_offset: *offset,
                        committed_leader_epoch: -1,
                        committed_metadata: Some(StrBytes::default()),
                        ..Default::default()
                    });
            }
            let mut request = TxnOffsetCommitRequest {
                transactional_id: StrBytes::from(transactional_id),
                group_id: StrBytes::from(group.group_id),
                producer_id,
                producer_epoch,
                topics: topics
                    .into_iter()
                    .map(|(name, partitions)| TxnOffsetCommitRequestTopic {
                        name: StrBytes::from(name),
                        partitions,
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            };
            // The member fields exist from v3 (KIP-447); older brokers
            // cannot check the generation.
            if version >= 3 {
                request.generation_id = group.generation_id;
                request.member_id = StrBytes::from(group.member_id);
                request.group_instance_id = group.group_instance_id.map(StrBytes::from);
            }
            let r = conn.send_at(&request, version).await?;
            let results = r
                .topics
                .iter()
                .flat_map(|t| {
                    t.partitions.iter().map(|p| {
                        let tp = crate::group::assignor::TopicPartition::new(
                            t.name.as_str(),
                            p.partition_index,
                        );
                        (tp, ErrorCode(p.error_code))
                    })
                })
                .collect();
            Ok(TxnResponse::TxnOffsetCommit { results })
        }
        TxnRequest::EndTxn {
            transactional_id,
            producer_id,
            producer_epoch,
            commit,
        } => {
            let cap = if v2 { 5 } else { LAST_V1_VERSION };
            let version = conn.version_of::<EndTxnRequest>()?.min(cap);
            let request = EndTxnRequest {
                transactional_id: StrBytes::from(transactional_id),
                producer_id,
                producer_epoch,
                committed: commit,
                ..Default::default()
            };
            let r = conn.send_at(&request, version).await?;
            let (producer_id, producer_epoch) = if version >= 5 {
                (r.producer_id, r.producer_epoch)
            } else {
                (-1, -1)
            };
            Ok(TxnResponse::EndTxn {
                error: ErrorCode(r.error_code),
                producer_id,
                producer_epoch,
            })
        }
    }
}

async fn find_coordinator(
    conn: &Arc<Connection>,
    key_type: i8,
    key: String,
) -> Result<TxnResponse> {
    let version = conn.version_of::<FindCoordinatorRequest>()?;
    if version < 1 && key_type != 0 {
        return Err(Error::Config(
            "the broker's FindCoordinator v0 cannot find a transaction coordinator".into(),
        ));
    }
    let request = if version >= 4 {
        FindCoordinatorRequest {
            key_type,
            coordinator_keys: vec![StrBytes::from(key)],
            ..Default::default()
        }
    } else {
        FindCoordinatorRequest {
            key: StrBytes::from(key),
            key_type,
            ..Default::default()
        }
    };
    let r = conn.send_at(&request, version).await?;
    let (error, coordinator) = match r.coordinators.first() {
        Some(c) => (
            c.error_code,
            coordinator(c.node_id, c.host.as_str(), c.port),
        ),
        None => (
            r.error_code,
            coordinator(r.node_id, r.host.as_str(), r.port),
        ),
    };
    Ok(TxnResponse::FindCoordinator {
        error: ErrorCode(error),
        coordinator,
    })
}

fn coordinator(node_id: i32, host: &str, port: i32) -> Coordinator {
    Coordinator {
        node_id,
        host: host.to_owned(),
        port,
    }
}
