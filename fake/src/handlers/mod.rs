//! Request handlers, one module per API (or per family of APIs), and the
//! dispatch from a decoded request to its handler.

pub(crate) mod api_versions;
pub(crate) mod configs;
pub(crate) mod consumer_group;
pub(crate) mod coordinator;
pub(crate) mod delete_records;
pub(crate) mod fetch;
pub(crate) mod group_admin;
pub(crate) mod groups;
pub(crate) mod injected;
pub(crate) mod leader_epoch;
pub(crate) mod list_offsets;
pub(crate) mod metadata;
pub(crate) mod offsets;
pub(crate) mod produce;
pub(crate) mod producer_id;
pub(crate) mod topics;
pub(crate) mod txn;

use crate::server::Shared;
use kafkacc_protocol::{ApiKey, RequestKind, ResponseKind};
use std::sync::Arc;

/// The APIs the fake implements and the versions it advertises (each
/// clipped to what the codec knows).
pub(crate) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 13),
    (ApiKey::Fetch, 4, 18),
    (ApiKey::ListOffsets, 1, 10),
    (ApiKey::Metadata, 0, 13),
    (ApiKey::OffsetCommit, 2, 10),
    (ApiKey::OffsetFetch, 1, 10),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 6),
    (ApiKey::AddPartitionsToTxn, 0, 5),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::EndTxn, 0, 5),
    (ApiKey::TxnOffsetCommit, 0, 5),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::OffsetDelete, 0, 0),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
];

/// The request's context.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// The broker that received it.
    pub broker: i32,
    /// Its API version.
    pub version: i16,
    /// The header's client id.
    pub client_id: String,
    /// `/ip` of the peer, as Kafka reports client hosts.
    pub client_host: String,
}

/// What to do with a request.
#[derive(Debug)]
pub(crate) enum Outcome<T = ResponseKind> {
    /// Send this answer.
    Respond(T),
    /// Send nothing (Produce with acks=0).
    NoResponse,
    /// Never answer this or anything after it on the connection.
    Silence,
    /// Close the connection (an API the fake does not implement).
    Close,
}

/// Runs the handler of `request`.
pub(crate) async fn handle(shared: &Arc<Shared>, ctx: &Ctx, request: RequestKind) -> Outcome {
    let now = shared.clock.now_ms();
    let respond = Outcome::Respond;
    match request {
        RequestKind::ApiVersions(_) => respond(api_versions::handle(ctx)),
        RequestKind::Metadata(r) => respond(metadata::handle(&mut shared.lock(), ctx, r)),
        RequestKind::CreateTopics(r) => respond(topics::create(&mut shared.lock(), ctx, r)),
        RequestKind::DeleteTopics(r) => respond(topics::delete(&mut shared.lock(), ctx, r)),
        RequestKind::CreatePartitions(r) => {
            respond(topics::create_partitions(&mut shared.lock(), ctx, r))
        }
        RequestKind::Produce(r) => produce::handle(shared, ctx, r),
        RequestKind::Fetch(r) => respond(fetch::handle(shared, ctx, r).await),
        RequestKind::ListOffsets(r) => respond(list_offsets::handle(&shared.lock(), ctx, r)),
        RequestKind::DeleteRecords(r) => {
            let response = delete_records::handle(&mut shared.lock(), ctx, r);
            shared.data.notify_waiters();
            respond(response)
        }
        RequestKind::DescribeConfigs(r) => respond(configs::describe(&shared.lock(), ctx, r)),
        RequestKind::IncrementalAlterConfigs(r) => {
            respond(configs::incremental_alter(&mut shared.lock(), ctx, r))
        }
        RequestKind::InitProducerId(r) => {
            let response = producer_id::handle(&mut shared.lock(), ctx, r, now);
            shared.data.notify_waiters();
            respond(response)
        }
        RequestKind::FindCoordinator(r) => respond(coordinator::handle(&shared.lock(), ctx, r)),
        RequestKind::JoinGroup(r) => respond(groups::join(shared, ctx, r).await),
        RequestKind::SyncGroup(r) => respond(groups::sync(shared, ctx, r).await),
        RequestKind::Heartbeat(r) => respond(groups::heartbeat(&mut shared.lock(), ctx, r, now)),
        RequestKind::LeaveGroup(r) => respond(groups::leave(&mut shared.lock(), ctx, r, now)),
        RequestKind::ListGroups(r) => respond(group_admin::list(&shared.lock(), ctx, r)),
        RequestKind::DescribeGroups(r) => respond(group_admin::describe(&shared.lock(), ctx, r)),
        RequestKind::DeleteGroups(r) => respond(group_admin::delete(&mut shared.lock(), ctx, r)),
        RequestKind::OffsetDelete(r) => {
            respond(group_admin::delete_offsets(&mut shared.lock(), ctx, r))
        }
        RequestKind::ConsumerGroupHeartbeat(r) => {
            respond(consumer_group::heartbeat(&mut shared.lock(), ctx, r, now))
        }
        RequestKind::ConsumerGroupDescribe(r) => {
            respond(consumer_group::describe(&shared.lock(), ctx, r))
        }
        RequestKind::OffsetForLeaderEpoch(r) => {
            respond(leader_epoch::handle(&shared.lock(), ctx, r))
        }
        RequestKind::OffsetCommit(r) => respond(offsets::commit(&mut shared.lock(), ctx, r, now)),
        RequestKind::OffsetFetch(r) => respond(offsets::fetch(&shared.lock(), ctx, r)),
        RequestKind::AddPartitionsToTxn(r) => {
            respond(txn::add_partitions(&mut shared.lock(), ctx, r, now))
        }
        RequestKind::AddOffsetsToTxn(r) => {
            respond(txn::add_offsets(&mut shared.lock(), ctx, r, now))
        }
        RequestKind::TxnOffsetCommit(r) => {
            respond(txn::offset_commit(&mut shared.lock(), ctx, r, now))
        }
        RequestKind::EndTxn(r) => {
            let response = txn::end(&mut shared.lock(), ctx, r);
            shared.data.notify_waiters();
            respond(response)
        }
        _ => Outcome::Close,
    }
}

/// Shorthand for a `StrBytes` from a `&str`.
pub(crate) fn sb(s: &str) -> kafkacc_protocol::StrBytes {
    kafkacc_protocol::StrBytes::from(s)
}
