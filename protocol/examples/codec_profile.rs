//! A driver for `valgrind --tool=callgrind`: runs one codec operation of the
//! `codec` bench (same inputs: `benches/inputs/mod.rs`) N times, each in a
//! function callgrind can isolate, so instruction counts per record (or per
//! partition) are exact and repeatable.
//!
//! ```sh
//! cargo build --release -p kafkacc-protocol --example codec_profile
//! valgrind --tool=callgrind --toggle-collect='codec_profile::run' \
//!     target/release/examples/codec_profile batch-for-each 20
//! ```
//! Instructions ÷ (20 × 1,000) = per record. Operations: batch-for-each,
//! batch-next-ref, batch-iter, batch-build, produce-encode, fetch-encode,
//! metadata-encode, metadata-decode (includes an encode).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../benches/inputs/mod.rs"]
mod inputs;

use bytes::{Bytes, BytesMut};
use inputs::{our_batch, our_fetch, our_metadata, our_produce, values};
use kafkacc_protocol::compression::Compression;
use kafkacc_protocol::messages::{FetchResponse, MetadataResponse};
use kafkacc_protocol::records::batches;
use kafkacc_protocol::wire::WireChunks;
use kafkacc_protocol::{Decode, Encode};
use std::hint::black_box;

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
            black_box(our_batch(Compression::None, values));
        }
        "produce-encode" => {
            let request = our_produce(our_batch(Compression::None, values));
            let mut out = WireChunks::new();
            request.encode(&mut out, 11).unwrap();
            black_box(out.into_chunks());
        }
        "fetch-encode" => {
            let mut out = WireChunks::new();
            fetch.encode(&mut out, 16).unwrap();
            black_box(out.into_chunks());
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
    let wire = our_batch(Compression::None, &values);
    let meta = our_metadata();
    let fetch = our_fetch(wire.clone());
    for _ in 0..n {
        run(&op, &values, &wire, &meta, &fetch);
    }
}
