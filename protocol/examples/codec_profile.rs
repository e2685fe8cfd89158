//! A driver for `valgrind --tool=callgrind`: runs one codec operation of the
//! `codec` bench N times, each in a function callgrind can isolate, so
//! instruction counts per record (or per partition) are exact and repeatable.
//!
//! ```sh
//! cargo build --release -p kafkacc-protocol --example codec_profile
//! valgrind --tool=callgrind --toggle-collect='codec_profile::run' \
//!     target/release/examples/codec_profile batch-next-ref 100
//! ```
//! Operations: batch-next-ref, batch-for-each, batch-iter, batch-build, produce-encode,
//! fetch-encode, metadata-encode, metadata-decode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::{Bytes, BytesMut};
use kafkacc_protocol::compression::Compression;
use kafkacc_protocol::generated::fetch_response::{FetchableTopicResponse, PartitionData};
use kafkacc_protocol::generated::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafkacc_protocol::generated::produce_request::{PartitionProduceData, TopicProduceData};
use kafkacc_protocol::messages::{FetchResponse, MetadataResponse, ProduceRequest};
use kafkacc_protocol::records::{BatchBuilder, ProducerState, batches};
use kafkacc_protocol::wire::WireChunks;
use kafkacc_protocol::{Decode, Encode};
use std::hint::black_box;

const RECORDS: usize = 1_000;
const T0: i64 = 1_700_000_000_000;

fn values() -> Vec<Bytes> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..RECORDS)
        .map(|_| {
            (0..100)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    b'a' + (state % 16) as u8
                })
                .collect::<Vec<u8>>()
                .into()
        })
        .collect()
}

#[inline(never)]
fn batch(values: &[Bytes]) -> Bytes {
    let mut builder = BatchBuilder::with_capacity(Compression::None, T0, RECORDS * 116 + 64);
    for (i, v) in values.iter().enumerate() {
        builder.append(T0 + i as i64, None, Some(v), &[]).unwrap();
    }
    builder.build(ProducerState::default()).unwrap()
}

fn fetch(batch: Bytes) -> FetchResponse {
    FetchResponse {
        responses: vec![FetchableTopicResponse {
            topic: "bench-topic".into(),
            partitions: vec![PartitionData {
                records: Some(batch),
                ..Default::default()
            }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn metadata() -> MetadataResponse {
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
        topics: (0..10)
            .map(|t| MetadataResponseTopic {
                name: Some(format!("topic-{t}").into()),
                partitions: (0..100)
                    .map(|p| MetadataResponsePartition {
                        partition_index: p,
                        leader_id: p % 3 + 1,
                        leader_epoch: 5,
                        replica_nodes: vec![1, 2, 3],
                        isr_nodes: vec![1, 2, 3],
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// Sums value lengths through the borrowing iterator.
#[inline(never)]
fn next_ref_sum(wire: &Bytes) -> usize {
    let batch = batches(wire.clone()).next().unwrap().unwrap();
    let mut records = batch.records(64 << 20).unwrap();
    let mut sum = 0;
    while let Some(record) = records.next_ref() {
        sum += record.unwrap().value.map_or(0, <[u8]>::len);
    }
    sum
}

/// Sums value lengths through the internal iteration.
#[inline(never)]
fn for_each_sum(wire: &Bytes) -> usize {
    let batch = batches(wire.clone()).next().unwrap().unwrap();
    let mut records = batch.records(64 << 20).unwrap();
    let mut sum = 0;
    records
        .for_each_ref(|record| sum += record.value.map_or(0, <[u8]>::len))
        .unwrap();
    sum
}

#[inline(never)]
fn run(op: &str, values: &[Bytes], wire: &Bytes, meta: &MetadataResponse, fetch: &FetchResponse) {
    match op {
        "batch-next-ref" => {
            black_box(next_ref_sum(wire));
        }
        "batch-for-each" => {
            black_box(for_each_sum(wire));
        }
        "batch-iter" => {
            let batch = batches(wire.clone()).next().unwrap().unwrap();
            let sum: usize = batch
                .records(64 << 20)
                .unwrap()
                .map(|r| r.unwrap().value.map_or(0, |v| v.len()))
                .sum();
            black_box(sum);
        }
        "batch-build" => {
            black_box(batch(values));
        }
        "produce-encode" => {
            let request = ProduceRequest {
                acks: -1,
                timeout_ms: 30_000,
                topic_data: vec![TopicProduceData {
                    name: "bench-topic".into(),
                    partition_data: vec![PartitionProduceData {
                        records: Some(batch(values)),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            };
            let mut out = WireChunks::new();
            request.encode(&mut out, 11).unwrap();
            black_box(out.into_chunks());
        }
        "fetch-encode" => {
            let mut buf = BytesMut::with_capacity(wire.len() + 256);
            fetch.encode(&mut buf, 16).unwrap();
            black_box(buf);
        }
        "metadata-encode" => {
            let mut buf = BytesMut::with_capacity(64 << 10);
            meta.encode(&mut buf, 12).unwrap();
            black_box(buf);
        }
        "metadata-decode" => {
            let mut buf = BytesMut::new();
            meta.encode(&mut buf, 12).unwrap();
            black_box(MetadataResponse::decode(&mut buf.freeze(), 12).unwrap());
        }
        other => panic!("unknown operation {other}"),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let op = args.next().expect("operation");
    let n: usize = args.next().map_or(100, |n| n.parse().expect("count"));
    let values = values();
    let wire = batch(&values);
    let meta = metadata();
    let fetch = fetch(wire.clone());
    for _ in 0..n {
        run(&op, &values, &wire, &meta, &fetch);
    }
}
