//! The inputs of the codec bench, shared with `examples/codec_profile.rs`
//! (which includes this file) so that callgrind counts the same work.
#![allow(dead_code, clippy::unwrap_used)]

use bytes::Bytes;
use kafkacc_protocol::compression::Compression;
use kafkacc_protocol::generated::fetch_response::{FetchableTopicResponse, PartitionData};
use kafkacc_protocol::generated::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkacc_protocol::generated::produce_request::{PartitionProduceData, TopicProduceData};
use kafkacc_protocol::messages::{FetchResponse, MetadataResponse, ProduceRequest};
use kafkacc_protocol::records::{BatchBuilder, ProducerState};

pub const RECORDS: usize = 1_000;
pub const VALUE_LEN: usize = 100;
pub const T0: i64 = 1_700_000_000_000;

/// 1,000 values of 100 bytes of lowercase text (compressible, not trivially).
pub fn values() -> Vec<Bytes> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..RECORDS)
        .map(|_| {
            let v: Vec<u8> = (0..VALUE_LEN)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    b'a' + (state % 16) as u8
                })
                .collect();
            Bytes::from(v)
        })
        .collect()
}

pub fn our_batch(codec: Compression, values: &[Bytes]) -> Bytes {
    let mut builder = BatchBuilder::with_capacity(codec, T0, RECORDS * (VALUE_LEN + 16) + 64);
    for (i, v) in values.iter().enumerate() {
        builder.append(T0 + i as i64, None, Some(v), &[]).unwrap();
    }
    builder.build(ProducerState::default()).unwrap()
}

pub fn our_produce(batch: Bytes) -> ProduceRequest {
    ProduceRequest {
        acks: -1,
        timeout_ms: 30_000,
        topic_data: vec![TopicProduceData {
            name: "bench-topic".into(),
            partition_data: vec![PartitionProduceData {
                index: 0,
                records: Some(batch),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn our_fetch(batch: Bytes) -> FetchResponse {
    FetchResponse {
        session_id: 7,
        responses: vec![FetchableTopicResponse {
            topic: "bench-topic".into(),
            partitions: vec![PartitionData {
                partition_index: 0,
                high_watermark: RECORDS as i64,
                last_stable_offset: RECORDS as i64,
                log_start_offset: 0,
                records: Some(batch),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

pub fn our_metadata() -> MetadataResponse {
    MetadataResponse {
        brokers: (1..=3)
            .map(|id| MetadataResponseBroker {
                node_id: id,
                host: format!("broker-{id}.example.com").into(),
                port: 9092,
                rack: Some(format!("rack-{id}").into()),
                ..Default::default()
            })
            .collect(),
        cluster_id: Some("bench-cluster".into()),
        controller_id: 1,
        topics: (0..10)
            .map(|t| MetadataResponseTopic {
                name: Some(format!("topic-{t}").into()),
                topic_id: kafkacc_protocol::Uuid([t as u8 + 1; 16]),
                partitions: (0..100)
                    .map(|p| MetadataResponsePartition {
                        partition_index: p,
                        leader_id: p % 3 + 1,
                        leader_epoch: 5,
                        replica_nodes: [1, 2, 3].into(),
                        isr_nodes: [1, 2, 3].into(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}
