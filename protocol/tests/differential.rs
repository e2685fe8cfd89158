//! Differential tests against the independent `kafka-protocol` crate
//! (0.18, generated from the same upstream specs by other people): values
//! from our proptest strategies are encoded by us and decoded by them, and
//! built on their side, encoded by them and decoded by us; field values must
//! agree both ways, and the two encodings must be byte-for-byte identical.
//!
//! Record batches are compared only on record fields and headers, on
//! batches without duplicate header keys: `kafka-protocol` folds duplicate
//! keys into a map (Kafka keeps them) and refuses a record set ending in a
//! partial batch (Kafka tolerates it), so it is no oracle for those.
#![allow(clippy::unwrap_used)]

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::{BrokerId, GroupId, ProducerId, TopicName, TransactionalId};
use kafka_protocol::protocol::{
    Decodable, Encodable, Message as TheirMessage, StrBytes as TheirStr,
};
use kafka_protocol::records as theirs;
use kafkacc_protocol::compression::Compression;
use kafkacc_protocol::records::{BatchBuilder, Header, ProducerState, TimestampType, batches};
use kafkacc_protocol::{Int32List, Message, RawTaggedField, StrBytes, Uuid};
use proptest::prelude::{BoxedStrategy, Strategy, any};
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::BTreeMap;
use std::fmt::Debug;

/// Random values per (message, version).
const CASES: u32 = 32;

// ---------------------------------------------------------------------------
// Ours ↔ theirs, field by field.

/// Our type `Self` mirrors their type `T`: it can build one, and compare
/// itself with one field by field.
trait Mirror<T> {
    /// Their value with the same field values.
    fn to_theirs(&self) -> T;
    /// `Err(path: difference)` at the first field that differs.
    fn same(&self, theirs: &T) -> Result<(), String>;
}

fn differ(ours: &impl Debug, theirs: &impl Debug) -> Result<(), String> {
    Err(format!("ours {ours:?} != theirs {theirs:?}"))
}

macro_rules! mirror_plain {
    ($($ty:ty),*) => {$(
        impl Mirror<$ty> for $ty {
            fn to_theirs(&self) -> $ty {
                *self
            }
            fn same(&self, theirs: &$ty) -> Result<(), String> {
                if self == theirs { Ok(()) } else { differ(self, theirs) }
            }
        }
    )*};
}

mirror_plain!(bool, i8, i16, u16, i32, i64);

impl Mirror<f64> for f64 {
    fn to_theirs(&self) -> f64 {
        *self
    }
    fn same(&self, theirs: &f64) -> Result<(), String> {
        if self.to_bits() == theirs.to_bits() {
            Ok(())
        } else {
            differ(self, theirs)
        }
    }
}

impl Mirror<Bytes> for Bytes {
    fn to_theirs(&self) -> Bytes {
        self.clone()
    }
    fn same(&self, theirs: &Bytes) -> Result<(), String> {
        if self == theirs {
            Ok(())
        } else {
            differ(self, theirs)
        }
    }
}

impl Mirror<TheirStr> for StrBytes {
    fn to_theirs(&self) -> TheirStr {
        TheirStr::from_string(self.as_str().to_owned())
    }
    fn same(&self, theirs: &TheirStr) -> Result<(), String> {
        if self.as_str() == theirs.as_str() {
            Ok(())
        } else {
            differ(&self.as_str(), &theirs.as_str())
        }
    }
}

impl Mirror<uuid::Uuid> for Uuid {
    fn to_theirs(&self) -> uuid::Uuid {
        uuid::Uuid::from_bytes(self.0)
    }
    fn same(&self, theirs: &uuid::Uuid) -> Result<(), String> {
        if &self.0 == theirs.as_bytes() {
            Ok(())
        } else {
            differ(self, theirs)
        }
    }
}

/// Their typed ids wrap the plain spec types.
macro_rules! mirror_newtype {
    ($($theirs:ident($inner:ty) for $ours:ty),*) => {$(
        impl Mirror<$theirs> for $ours {
            fn to_theirs(&self) -> $theirs {
                $theirs(Mirror::<$inner>::to_theirs(self))
            }
            fn same(&self, theirs: &$theirs) -> Result<(), String> {
                Mirror::<$inner>::same(self, &theirs.0)
            }
        }
    )*};
}

mirror_newtype!(
    BrokerId(i32) for i32,
    ProducerId(i64) for i64,
    TopicName(TheirStr) for StrBytes,
    GroupId(TheirStr) for StrBytes,
    TransactionalId(TheirStr) for StrBytes
);

impl<A: Mirror<B>, B> Mirror<Option<B>> for Option<A> {
    fn to_theirs(&self) -> Option<B> {
        self.as_ref().map(Mirror::to_theirs)
    }
    fn same(&self, theirs: &Option<B>) -> Result<(), String> {
        match (self, theirs) {
            (None, None) => Ok(()),
            (Some(a), Some(b)) => a.same(b),
            (None, Some(_)) => Err("ours null, theirs present".into()),
            (Some(_), None) => Err("ours present, theirs null".into()),
        }
    }
}

impl<A: Mirror<B>, B> Mirror<Vec<B>> for Vec<A> {
    fn to_theirs(&self) -> Vec<B> {
        self.iter().map(Mirror::to_theirs).collect()
    }
    fn same(&self, theirs: &Vec<B>) -> Result<(), String> {
        if self.len() != theirs.len() {
            return Err(format!(
                "ours {} elements, theirs {}",
                self.len(),
                theirs.len()
            ));
        }
        for (i, (a, b)) in self.iter().zip(theirs).enumerate() {
            a.same(b).map_err(|e| format!("[{i}] {e}"))?;
        }
        Ok(())
    }
}

/// Our `[]int32` lists (inline or not) against their `Vec`s.
impl<B> Mirror<Vec<B>> for Int32List
where
    i32: Mirror<B>,
{
    fn to_theirs(&self) -> Vec<B> {
        self.to_vec().to_theirs()
    }
    fn same(&self, theirs: &Vec<B>) -> Result<(), String> {
        self.to_vec().same(theirs)
    }
}

/// Unknown tagged fields: our ordered list, their map by tag.
impl Mirror<BTreeMap<i32, Bytes>> for Vec<RawTaggedField> {
    fn to_theirs(&self) -> BTreeMap<i32, Bytes> {
        self.iter()
            .map(|f| (f.tag as i32, f.data.clone()))
            .collect()
    }
    fn same(&self, theirs: &BTreeMap<i32, Bytes>) -> Result<(), String> {
        let ours = self.to_theirs();
        if ours.len() == self.len() && &ours == theirs {
            Ok(())
        } else {
            differ(self, theirs)
        }
    }
}

/// For each message module, each struct with the fields both crates have
/// (all of them, for these messages: the field lists were checked against
/// both sides' definitions).
macro_rules! mirror_structs {
    ($($module:ident { $($name:ident { $($field:ident),* $(,)? })* })*) => {$($(
        impl Mirror<kafka_protocol::messages::$module::$name>
            for kafkacc_protocol::generated::$module::$name
        {
            fn to_theirs(&self) -> kafka_protocol::messages::$module::$name {
                let mut theirs = kafka_protocol::messages::$module::$name::default();
                $( theirs.$field = self.$field.to_theirs(); )*
                theirs
            }
            fn same(
                &self,
                theirs: &kafka_protocol::messages::$module::$name,
            ) -> Result<(), String> {
                $(
                    self.$field.same(&theirs.$field).map_err(|e| {
                        format!(concat!(stringify!($name), ".", stringify!($field), " {}"), e)
                    })?;
                )*
                Ok(())
            }
        }
    )*)*};
}

mirror_structs! {
    produce_request {
        ProduceRequest { transactional_id, acks, timeout_ms, topic_data, unknown_tagged_fields }
        TopicProduceData { name, topic_id, partition_data, unknown_tagged_fields }
        PartitionProduceData { index, records, unknown_tagged_fields }
    }
    produce_response {
        ProduceResponse { responses, throttle_time_ms, node_endpoints, unknown_tagged_fields }
        TopicProduceResponse { name, topic_id, partition_responses, unknown_tagged_fields }
        PartitionProduceResponse { index, error_code, base_offset, log_append_time_ms, log_start_offset, record_errors, error_message, current_leader, unknown_tagged_fields }
        BatchIndexAndErrorMessage { batch_index, batch_index_error_message, unknown_tagged_fields }
        LeaderIdAndEpoch { leader_id, leader_epoch, unknown_tagged_fields }
        NodeEndpoint { node_id, host, port, rack, unknown_tagged_fields }
    }
    fetch_request {
        FetchRequest { cluster_id, replica_id, replica_state, max_wait_ms, min_bytes, max_bytes, isolation_level, session_id, session_epoch, topics, forgotten_topics_data, rack_id, unknown_tagged_fields }
        ReplicaState { replica_id, replica_epoch, unknown_tagged_fields }
        FetchTopic { topic, topic_id, partitions, unknown_tagged_fields }
        FetchPartition { partition, current_leader_epoch, fetch_offset, last_fetched_epoch, log_start_offset, partition_max_bytes, replica_directory_id, high_watermark, unknown_tagged_fields }
        ForgottenTopic { topic, topic_id, partitions, unknown_tagged_fields }
    }
    fetch_response {
        FetchResponse { throttle_time_ms, error_code, session_id, responses, node_endpoints, unknown_tagged_fields }
        FetchableTopicResponse { topic, topic_id, partitions, unknown_tagged_fields }
        PartitionData { partition_index, error_code, high_watermark, last_stable_offset, log_start_offset, diverging_epoch, current_leader, snapshot_id, aborted_transactions, preferred_read_replica, records, unknown_tagged_fields }
        EpochEndOffset { epoch, end_offset, unknown_tagged_fields }
        LeaderIdAndEpoch { leader_id, leader_epoch, unknown_tagged_fields }
        SnapshotId { end_offset, epoch, unknown_tagged_fields }
        AbortedTransaction { producer_id, first_offset, unknown_tagged_fields }
        NodeEndpoint { node_id, host, port, rack, unknown_tagged_fields }
    }
    metadata_request {
        MetadataRequest { topics, allow_auto_topic_creation, include_cluster_authorized_operations, include_topic_authorized_operations, unknown_tagged_fields }
        MetadataRequestTopic { topic_id, name, unknown_tagged_fields }
    }
    metadata_response {
        MetadataResponse { throttle_time_ms, brokers, cluster_id, controller_id, topics, cluster_authorized_operations, error_code, unknown_tagged_fields }
        MetadataResponseBroker { node_id, host, port, rack, unknown_tagged_fields }
        MetadataResponseTopic { error_code, name, topic_id, is_internal, partitions, topic_authorized_operations, unknown_tagged_fields }
        MetadataResponsePartition { error_code, partition_index, leader_id, leader_epoch, replica_nodes, isr_nodes, offline_replicas, unknown_tagged_fields }
    }
    api_versions_request {
        ApiVersionsRequest { client_software_name, client_software_version, unknown_tagged_fields }
    }
    api_versions_response {
        ApiVersionsResponse { error_code, api_keys, throttle_time_ms, supported_features, finalized_features_epoch, finalized_features, zk_migration_ready, unknown_tagged_fields }
        ApiVersion { api_key, min_version, max_version, unknown_tagged_fields }
        SupportedFeatureKey { name, min_version, max_version, unknown_tagged_fields }
        FinalizedFeatureKey { name, max_version_level, min_version_level, unknown_tagged_fields }
    }
    join_group_request {
        JoinGroupRequest { group_id, session_timeout_ms, rebalance_timeout_ms, member_id, group_instance_id, protocol_type, protocols, reason, unknown_tagged_fields }
        JoinGroupRequestProtocol { name, metadata, unknown_tagged_fields }
    }
    join_group_response {
        JoinGroupResponse { throttle_time_ms, error_code, generation_id, protocol_type, protocol_name, leader, skip_assignment, member_id, members, unknown_tagged_fields }
        JoinGroupResponseMember { member_id, group_instance_id, metadata, unknown_tagged_fields }
    }
    sync_group_request {
        SyncGroupRequest { group_id, generation_id, member_id, group_instance_id, protocol_type, protocol_name, assignments, unknown_tagged_fields }
        SyncGroupRequestAssignment { member_id, assignment, unknown_tagged_fields }
    }
    sync_group_response {
        SyncGroupResponse { throttle_time_ms, error_code, protocol_type, protocol_name, assignment, unknown_tagged_fields }
    }
    offset_commit_request {
        OffsetCommitRequest { group_id, generation_id_or_member_epoch, member_id, group_instance_id, retention_time_ms, topics, unknown_tagged_fields }
        OffsetCommitRequestTopic { name, topic_id, partitions, unknown_tagged_fields }
        OffsetCommitRequestPartition { partition_index, committed_offset, committed_leader_epoch, committed_metadata, unknown_tagged_fields }
    }
    offset_commit_response {
        OffsetCommitResponse { throttle_time_ms, topics, unknown_tagged_fields }
        OffsetCommitResponseTopic { name, topic_id, partitions, unknown_tagged_fields }
        OffsetCommitResponsePartition { partition_index, error_code, unknown_tagged_fields }
    }
    offset_fetch_request {
        OffsetFetchRequest { group_id, topics, groups, require_stable, unknown_tagged_fields }
        OffsetFetchRequestTopic { name, partition_indexes, unknown_tagged_fields }
        OffsetFetchRequestGroup { group_id, member_id, member_epoch, topics, unknown_tagged_fields }
        OffsetFetchRequestTopics { name, topic_id, partition_indexes, unknown_tagged_fields }
    }
    offset_fetch_response {
        OffsetFetchResponse { throttle_time_ms, topics, error_code, groups, unknown_tagged_fields }
        OffsetFetchResponseTopic { name, partitions, unknown_tagged_fields }
        OffsetFetchResponsePartition { partition_index, committed_offset, committed_leader_epoch, metadata, error_code, unknown_tagged_fields }
        OffsetFetchResponseGroup { group_id, topics, error_code, unknown_tagged_fields }
        OffsetFetchResponseTopics { name, topic_id, partitions, unknown_tagged_fields }
        OffsetFetchResponsePartitions { partition_index, committed_offset, committed_leader_epoch, metadata, error_code, unknown_tagged_fields }
    }
    find_coordinator_request {
        FindCoordinatorRequest { key, key_type, coordinator_keys, unknown_tagged_fields }
    }
    find_coordinator_response {
        FindCoordinatorResponse { throttle_time_ms, error_code, error_message, node_id, host, port, coordinators, unknown_tagged_fields }
        Coordinator { key, node_id, host, port, error_code, error_message, unknown_tagged_fields }
    }
    create_topics_request {
        CreateTopicsRequest { topics, timeout_ms, validate_only, unknown_tagged_fields }
        CreatableTopic { name, num_partitions, replication_factor, assignments, configs, unknown_tagged_fields }
        CreatableReplicaAssignment { partition_index, broker_ids, unknown_tagged_fields }
        CreatableTopicConfig { name, value, unknown_tagged_fields }
    }
    create_topics_response {
        CreateTopicsResponse { throttle_time_ms, topics, unknown_tagged_fields }
        CreatableTopicResult { name, topic_id, error_code, error_message, topic_config_error_code, num_partitions, replication_factor, configs, unknown_tagged_fields }
        CreatableTopicConfigs { name, value, read_only, config_source, is_sensitive, unknown_tagged_fields }
    }
    list_offsets_request {
        ListOffsetsRequest { replica_id, isolation_level, topics, timeout_ms, unknown_tagged_fields }
        ListOffsetsTopic { name, partitions, unknown_tagged_fields }
        ListOffsetsPartition { partition_index, current_leader_epoch, timestamp, unknown_tagged_fields }
    }
    list_offsets_response {
        ListOffsetsResponse { throttle_time_ms, topics, unknown_tagged_fields }
        ListOffsetsTopicResponse { name, partitions, unknown_tagged_fields }
        ListOffsetsPartitionResponse { partition_index, error_code, timestamp, offset, leader_epoch, unknown_tagged_fields }
    }
}

// ---------------------------------------------------------------------------
// The driver.

fn fail(what: &str, e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(format!("{what}: {e}"))
}

/// For every version both sides support: ours → bytes → theirs, compared
/// field by field; theirs (built from ours) → bytes → ours, compared for
/// equality; and the two encodings byte for byte.
fn differential<O, T>(arbitrary: fn(i16) -> BoxedStrategy<O>) -> usize
where
    O: Message + Mirror<T>,
    T: Encodable + Decodable + TheirMessage + Debug,
{
    let min = O::VERSIONS.min.max(T::VERSIONS.min);
    let max = O::VERSIONS.max.min(T::VERSIONS.max);
    assert!(min <= max, "{}: no common version", O::NAME);
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let mut bytes_compared = 0;
    for version in min..=max {
        runner
            .run(&arbitrary(version), |ours| {
                let mut buf = BytesMut::new();
                ours.encode(&mut buf, version)
                    .map_err(|e| fail("our encode", e))?;
                let ours_bytes = buf.freeze();
                // Ours → theirs.
                let mut input = ours_bytes.clone();
                let theirs = T::decode(&mut input, version).map_err(|e| fail("their decode", e))?;
                if !input.is_empty() {
                    return Err(fail("their decode", format!("{} bytes left", input.len())));
                }
                ours.same(&theirs).map_err(|e| fail("ours → theirs", e))?;
                // Theirs → ours.
                let built: T = ours.to_theirs();
                let mut their_buf = BytesMut::new();
                built
                    .encode(&mut their_buf, version)
                    .map_err(|e| fail("their encode", e))?;
                let their_bytes = their_buf.freeze();
                let size = built
                    .compute_size(version)
                    .map_err(|e| fail("their size", e))?;
                if size != their_bytes.len() {
                    return Err(fail(
                        "their size",
                        format!("{size} != {}", their_bytes.len()),
                    ));
                }
                let mut input = their_bytes.clone();
                let back = O::decode(&mut input, version).map_err(|e| fail("our decode", e))?;
                if !input.is_empty() {
                    return Err(fail("our decode", format!("{} bytes left", input.len())));
                }
                if back != ours {
                    return Err(fail("theirs → ours", format!("{back:?}\n!= {ours:?}")));
                }
                if their_bytes != ours_bytes {
                    return Err(fail(
                        "encodings differ",
                        format!("ours {ours_bytes:02x?}\ntheirs {their_bytes:02x?}"),
                    ));
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{} v{version}: {e}", O::NAME));
        bytes_compared += 1;
    }
    bytes_compared
}

macro_rules! differential_tests {
    ($($test:ident: $($ours:ident => $theirs:ident),*;)*) => {$(
        #[test]
        fn $test() {
            $(
                let versions = differential::<
                    kafkacc_protocol::messages::$ours,
                    kafka_protocol::messages::$theirs,
                >(kafkacc_protocol::messages::$ours::arbitrary_for_version);
                assert!(versions > 0);
            )*
        }
    )*};
}

differential_tests! {
    produce: ProduceRequest => ProduceRequest, ProduceResponse => ProduceResponse;
    fetch: FetchRequest => FetchRequest, FetchResponse => FetchResponse;
    metadata: MetadataRequest => MetadataRequest, MetadataResponse => MetadataResponse;
    api_versions: ApiVersionsRequest => ApiVersionsRequest, ApiVersionsResponse => ApiVersionsResponse;
    join_group: JoinGroupRequest => JoinGroupRequest, JoinGroupResponse => JoinGroupResponse;
    sync_group: SyncGroupRequest => SyncGroupRequest, SyncGroupResponse => SyncGroupResponse;
    offset_commit: OffsetCommitRequest => OffsetCommitRequest, OffsetCommitResponse => OffsetCommitResponse;
    offset_fetch: OffsetFetchRequest => OffsetFetchRequest, OffsetFetchResponse => OffsetFetchResponse;
    find_coordinator: FindCoordinatorRequest => FindCoordinatorRequest, FindCoordinatorResponse => FindCoordinatorResponse;
    create_topics: CreateTopicsRequest => CreateTopicsRequest, CreateTopicsResponse => CreateTopicsResponse;
    list_offsets: ListOffsetsRequest => ListOffsetsRequest, ListOffsetsResponse => ListOffsetsResponse;
}

/// The version ranges of the compared messages agree, except where our
/// specs (Kafka 4.1.1) are newer.
#[test]
fn version_ranges_agree() {
    use kafka_protocol::messages as t;
    use kafkacc_protocol::messages as o;
    fn range<M: Message, T: TheirMessage>() -> ((i16, i16), (i16, i16)) {
        (
            (M::VERSIONS.min, M::VERSIONS.max),
            (T::VERSIONS.min, T::VERSIONS.max),
        )
    }
    let (ours, theirs) = range::<o::ProduceRequest, t::ProduceRequest>();
    assert_eq!(ours, theirs);
    let (ours, theirs) = range::<o::FetchResponse, t::FetchResponse>();
    assert_eq!(ours, theirs);
    let (ours, theirs) = range::<o::MetadataResponse, t::MetadataResponse>();
    assert_eq!(ours, theirs);
    // OffsetCommit/OffsetFetch v10 requests (topic ids) are newer than 0.18.
    let (ours, theirs) = range::<o::OffsetCommitRequest, t::OffsetCommitRequest>();
    assert_eq!((ours, theirs), ((2, 10), (2, 9)));
}

// ---------------------------------------------------------------------------
// Record batches.

/// Timestamp delta, key, value, header values (keys are made unique).
type RawRecord = (i64, Option<Vec<u8>>, Option<Vec<u8>>, Vec<Option<Vec<u8>>>);

fn records_strategy() -> impl Strategy<Value = Vec<RawRecord>> {
    proptest::collection::vec(
        (
            0i64..100_000,
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
            proptest::collection::vec(
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
                0..4,
            ),
        ),
        1..30,
    )
}

/// A record as both sides see it: offset, timestamp, key, value, headers.
type Flat = (
    i64,
    i64,
    Option<Bytes>,
    Option<Bytes>,
    Vec<(String, Option<Bytes>)>,
);

fn header_key(i: usize) -> String {
    format!("h{i}-ü")
}

fn flat_from_raw(base_offset: i64, t0: i64, raw: &[RawRecord]) -> Vec<Flat> {
    raw.iter()
        .enumerate()
        .map(|(i, (ts, key, value, headers))| {
            (
                base_offset + i as i64,
                t0 + ts,
                key.clone().map(Bytes::from),
                value.clone().map(Bytes::from),
                headers
                    .iter()
                    .enumerate()
                    .map(|(h, v)| (header_key(h), v.clone().map(Bytes::from)))
                    .collect(),
            )
        })
        .collect()
}

fn flat_from_theirs(record: &theirs::Record) -> Flat {
    (
        record.offset,
        record.timestamp,
        record.key.clone(),
        record.value.clone(),
        record
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
            .collect(),
    )
}

fn flat_from_ours(record: kafkacc_protocol::records::Record) -> Flat {
    (
        record.offset,
        record.timestamp,
        record.key,
        record.value,
        record
            .headers
            .into_iter()
            .map(|h| (h.key.as_str().to_owned(), h.value))
            .collect(),
    )
}

fn their_codec(codec: Compression) -> theirs::Compression {
    match codec {
        Compression::None => theirs::Compression::None,
        Compression::Gzip => theirs::Compression::Gzip,
        Compression::Snappy => theirs::Compression::Snappy,
        Compression::Lz4 => theirs::Compression::Lz4,
        Compression::Zstd => theirs::Compression::Zstd,
    }
}

#[test]
fn record_batches_both_ways() {
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        records_strategy(),
        0i64..1 << 41,
        (0i64..1 << 40, 0i16..100, 0i32..1 << 30, any::<bool>()),
    );
    runner
        .run(&strategy, |(raw, t0, (pid, epoch, seq, transactional))| {
            let producer = ProducerState {
                producer_id: pid,
                producer_epoch: epoch,
                base_sequence: seq,
                transactional,
            };
            let expected = flat_from_raw(0, t0, &raw);
            for codec in Compression::ALL {
                // Ours → theirs.
                let mut builder = BatchBuilder::new(codec, t0 + raw[0].0);
                for (_, ts, key, value, headers) in &expected {
                    let headers: Vec<Header> = headers
                        .iter()
                        .map(|(k, v)| Header::new(k, v.as_deref()))
                        .collect();
                    builder
                        .append(*ts, key.as_deref(), value.as_deref(), &headers)
                        .unwrap();
                }
                let bytes = builder.build(producer).unwrap();
                let set = theirs::RecordBatchDecoder::decode(&mut bytes.clone())
                    .map_err(|e| fail(&format!("{codec}: their decode"), e))?;
                assert_eq!(set.compression, their_codec(codec));
                let got: Vec<Flat> = set.records.iter().map(flat_from_theirs).collect();
                assert_eq!(&got, &expected, "{codec}: ours → theirs");
                for r in &set.records {
                    assert_eq!(
                        (r.producer_id, r.producer_epoch, r.transactional, r.control),
                        (pid, epoch, transactional, false)
                    );
                    assert_eq!(r.sequence, seq + r.offset as i32);
                    assert_eq!(r.timestamp_type, theirs::TimestampType::Creation);
                }

                // Theirs → ours.
                let their_records: Vec<theirs::Record> = expected
                    .iter()
                    .map(|(offset, ts, key, value, headers)| theirs::Record {
                        transactional,
                        control: false,
                        partition_leader_epoch: 7,
                        producer_id: pid,
                        producer_epoch: epoch,
                        timestamp_type: theirs::TimestampType::Creation,
                        offset: *offset,
                        sequence: seq + *offset as i32,
                        timestamp: *ts,
                        key: key.clone(),
                        value: value.clone(),
                        headers: headers
                            .iter()
                            .map(|(k, v)| (TheirStr::from_string(k.clone()), v.clone()))
                            .collect::<IndexMap<_, _>>(),
                        delete_horizon: false,
                    })
                    .collect();
                let mut buf = BytesMut::new();
                theirs::RecordBatchEncoder::encode(
                    &mut buf,
                    &their_records,
                    &theirs::RecordEncodeOptions {
                        version: 2,
                        compression: their_codec(codec),
                    },
                )
                .map_err(|e| fail("their encode", e))?;
                let mut all = batches(buf.freeze());
                let batch = all.next().unwrap().unwrap();
                assert!(all.next().is_none());
                batch.verify_crc().unwrap();
                let h = batch.header;
                assert_eq!(h.compression().unwrap(), codec);
                assert_eq!(
                    (
                        h.producer_id,
                        h.producer_epoch,
                        h.base_sequence,
                        h.is_transactional(),
                        h.partition_leader_epoch
                    ),
                    (pid, epoch, seq, transactional, 7)
                );
                assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
                assert_eq!(h.records_count as usize, expected.len());
                let got: Vec<Flat> = batch
                    .records(1 << 24)
                    .unwrap()
                    .map(|r| flat_from_ours(r.unwrap()))
                    .collect();
                assert_eq!(&got, &expected, "{codec}: theirs → ours");
            }
            Ok(())
        })
        .unwrap();
}

/// A Produce request carrying a real batch built by us, read by them: the
/// message and the batch inside agree.
#[test]
fn produce_request_with_a_batch_decodes_on_their_side() {
    use kafkacc_protocol::generated::produce_request::{PartitionProduceData, TopicProduceData};
    use kafkacc_protocol::messages::ProduceRequest;
    let mut builder = BatchBuilder::new(Compression::Lz4, 1_000);
    for i in 0..50 {
        builder
            .append(
                1_000 + i,
                Some(format!("k{i}").as_bytes()),
                Some(&[i as u8; 100]),
                &[Header::new("trace", Some(b"x"))],
            )
            .unwrap();
    }
    let batch = builder.build(ProducerState::default()).unwrap();
    let request = ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: "topic".into(),
            partition_data: vec![PartitionProduceData {
                index: 3,
                records: Some(batch),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    };
    for version in [3, 8, 9, 12] {
        let mut buf = BytesMut::new();
        kafkacc_protocol::Encode::encode(&request, &mut buf, version).unwrap();
        let theirs =
            kafka_protocol::messages::ProduceRequest::decode(&mut buf.freeze(), version).unwrap();
        request.same(&theirs).unwrap();
        let mut records = theirs.topic_data[0].partition_data[0]
            .records
            .clone()
            .unwrap();
        let set = theirs::RecordBatchDecoder::decode(&mut records).unwrap();
        assert_eq!(set.records.len(), 50);
        assert_eq!(set.records[49].value.as_deref(), Some(&[49u8; 100][..]));
        assert_eq!(set.records[49].offset, 49);
    }
}

/// Why `kafka-protocol` is no oracle for headers: it folds duplicate keys
/// (Kafka and we keep every header in order).
#[test]
fn duplicate_header_keys_are_kept_by_us_only() {
    let headers = [
        Header::new("dup", Some(b"1")),
        Header::new("dup", Some(b"2")),
    ];
    let mut builder = BatchBuilder::new(Compression::None, 0);
    builder.append(0, None, Some(b"v"), &headers).unwrap();
    let bytes = builder.build(ProducerState::default()).unwrap();
    let ours = batches(bytes.clone())
        .next()
        .unwrap()
        .unwrap()
        .records(1 << 20)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(ours.headers, headers);
    let set = theirs::RecordBatchDecoder::decode(&mut bytes.clone()).unwrap();
    assert_eq!(set.records[0].headers.len(), 1);
}
