//! Ours and the `kafka-protocol` crate side by side, in one run:
//!
//! - Produce request carrying one 1,000-record batch of 100-byte values
//!   (uncompressed and lz4): encode = build the batch from the records and
//!   encode the request; decode = decode the request and iterate every
//!   record of its batch.
//! - Fetch response carrying the same batch: encode = encode the response
//!   around the already-built batch (what a broker does); decode = decode
//!   the response and iterate every record (what a consumer does).
//! - Metadata response (v12) with 10 topics × 100 partitions: encode, decode.
//! - Record-batch decode (parse the batch, iterate all records) against a
//!   plain `memcpy` of the same bytes.
//!
//! Prints a summary table of throughput ratios at the end (ours / theirs,
//! and memcpy / ours for the batch). Run:
//! `cargo bench -p kafkacc-protocol --bench codec`
//! (warm-up 1 s and measurement 3 s per benchmark are set below; criterion's
//! command-line options override them).
#![allow(clippy::unwrap_used)]

mod inputs;

use bytes::{Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput};
use kafka_protocol::protocol::{Decodable, Encodable};
use kafka_protocol::records as theirs;
use kafkacc_protocol::compression::Compression;
use kafkacc_protocol::messages::{FetchResponse, MetadataResponse, ProduceRequest};
use kafkacc_protocol::records::batches;
use kafkacc_protocol::wire::WireChunks;
use kafkacc_protocol::{Decode, Encode};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use inputs::{RECORDS, T0, VALUE_LEN, our_batch, our_fetch, our_metadata, our_produce, values};

const PRODUCE_VERSION: i16 = 11;
const FETCH_VERSION: i16 = 16;
const METADATA_VERSION: i16 = 12;
/// Decompression cap for the decoders (ours).
const CAP: usize = 64 << 20;

// ---------------------------------------------------------------------------
// Timing capture for the summary: every sample criterion takes goes through
// `iter_custom`, which records its per-iteration time here.

static SAMPLES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

fn timed<O>(id: &str, iters: u64, mut f: impl FnMut() -> O) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(f());
    }
    let elapsed = start.elapsed();
    SAMPLES
        .lock()
        .unwrap()
        .entry(id.to_owned())
        .or_default()
        .push(elapsed.as_secs_f64() / iters as f64);
    elapsed
}

/// Median seconds per iteration of `id`, if it ran (a filter may skip it).
fn median(id: &str) -> Option<f64> {
    let samples = SAMPLES.lock().unwrap();
    let mut v = samples.get(id).cloned()?;
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

// ---------------------------------------------------------------------------
// Inputs.

fn their_records(values: &[Bytes]) -> Vec<theirs::Record> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| theirs::Record {
            transactional: false,
            control: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: theirs::TimestampType::Creation,
            offset: i as i64,
            // kafka-protocol splits batches where offset - sequence changes.
            sequence: i as i32 - 1,
            timestamp: T0 + i as i64,
            key: None,
            value: Some(v.clone()),
            headers: Default::default(),
            delete_horizon: false,
        })
        .collect()
}

fn their_codec(codec: Compression) -> theirs::Compression {
    match codec {
        Compression::None => theirs::Compression::None,
        Compression::Lz4 => theirs::Compression::Lz4,
        other => unimplemented!("{other}"),
    }
}

fn their_batch(codec: Compression, records: &[theirs::Record]) -> Bytes {
    let mut buf = BytesMut::with_capacity(RECORDS * (VALUE_LEN + 16) + 64);
    theirs::RecordBatchEncoder::encode(
        &mut buf,
        records,
        &theirs::RecordEncodeOptions {
            version: 2,
            compression: their_codec(codec),
        },
    )
    .unwrap();
    buf.freeze()
}

fn encode_ours<M: Encode>(value: &M, version: i16, capacity: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(capacity);
    value.encode(&mut buf, version).unwrap();
    buf
}

/// Ours into wire-ready buffers: `records` referenced, not copied (what the
/// client writes to its socket).
fn encode_ours_chunks<M: Encode>(value: &M, version: i16) -> Vec<Bytes> {
    let mut buf = WireChunks::new();
    value.encode(&mut buf, version).unwrap();
    buf.into_chunks()
}

fn encode_theirs<M: Encodable>(value: &M, version: i16, capacity: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(capacity);
    value.encode(&mut buf, version).unwrap();
    buf
}

/// Iterates every record of a record set (ours), summing value lengths:
/// records borrowed from the batch, the zero-copy way through it.
fn our_record_sum(records: &Bytes) -> usize {
    let mut sum = 0;
    for batch in batches(records.clone()) {
        batch
            .unwrap()
            .records(CAP)
            .unwrap()
            .for_each_ref(|record| sum += record.value.map_or(0, <[u8]>::len))
            .unwrap();
    }
    sum
}

/// The same through the owned `Record` iterator (a reference-counted
/// `Bytes` per key and value, as kafka-protocol's records have).
fn our_owned_record_sum(records: &Bytes) -> usize {
    let mut sum = 0;
    for batch in batches(records.clone()) {
        for record in batch.unwrap().records(CAP).unwrap() {
            sum += record.unwrap().value.map_or(0, |v| v.len());
        }
    }
    sum
}

/// The same with kafka-protocol (which collects each batch into a `Vec`).
fn their_record_sum(records: &Bytes) -> usize {
    let mut records = records.clone();
    theirs::RecordBatchDecoder::decode_all(&mut records)
        .unwrap()
        .iter()
        .flat_map(|set| &set.records)
        .map(|r| r.value.as_ref().map_or(0, Bytes::len))
        .sum()
}

// ---------------------------------------------------------------------------
// Benchmarks.

fn codec_label(codec: Compression) -> &'static str {
    match codec {
        Compression::None => "uncompressed",
        _ => codec.name(),
    }
}

fn produce(c: &mut Criterion, values: &[Bytes], their_values: &[theirs::Record]) {
    for codec in [Compression::None, Compression::Lz4] {
        let label = codec_label(codec);
        let wire = encode_ours(&our_produce(our_batch(codec, values)), PRODUCE_VERSION, 0).freeze();
        let mut group = c.benchmark_group(format!("produce_request_{label}"));
        group.throughput(Throughput::Bytes((RECORDS * VALUE_LEN) as u64));
        let cap = wire.len() + 64;

        let id = format!("produce {label} encode/ours");
        group.bench_function(BenchmarkId::new("encode", "ours"), |b| {
            b.iter_custom(|iters| {
                timed(&id, iters, || {
                    let request = our_produce(our_batch(codec, values));
                    encode_ours_chunks(&request, PRODUCE_VERSION)
                })
            })
        });
        let id = format!("produce {label} encode/ours one buffer");
        group.bench_function(BenchmarkId::new("encode", "ours_one_buffer"), |b| {
            b.iter_custom(|iters| {
                timed(&id, iters, || {
                    let request = our_produce(our_batch(codec, values));
                    encode_ours(&request, PRODUCE_VERSION, cap)
                })
            })
        });
        let id = format!("produce {label} encode/theirs");
        group.bench_function(BenchmarkId::new("encode", "theirs"), |b| {
            b.iter_custom(|iters| {
                timed(&id, iters, || {
                    let batch = their_batch(codec, their_values);
                    let mut request = kafka_protocol::messages::ProduceRequest::default();
                    request.acks = -1;
                    request.timeout_ms = 30_000;
                    let mut topic =
                        kafka_protocol::messages::produce_request::TopicProduceData::default();
                    topic.name = kafka_protocol::messages::TopicName("bench-topic".into());
                    let mut partition =
                        kafka_protocol::messages::produce_request::PartitionProduceData::default();
                    partition.records = Some(batch);
                    topic.partition_data.push(partition);
                    request.topic_data.push(topic);
                    encode_theirs(&request, PRODUCE_VERSION, cap)
                })
            })
        });
        let id = format!("produce {label} decode/ours");
        group.bench_function(BenchmarkId::new("decode", "ours"), |b| {
            b.iter_custom(|iters| {
                timed(&id, iters, || {
                    let request =
                        ProduceRequest::decode(&mut wire.clone(), PRODUCE_VERSION).unwrap();
                    let records = request.topic_data[0].partition_data[0].records.as_ref();
                    our_record_sum(records.unwrap())
                })
            })
        });
        let id = format!("produce {label} decode/theirs");
        group.bench_function(BenchmarkId::new("decode", "theirs"), |b| {
            b.iter_custom(|iters| {
                timed(&id, iters, || {
                    let request = kafka_protocol::messages::ProduceRequest::decode(
                        &mut wire.clone(),
                        PRODUCE_VERSION,
                    )
                    .unwrap();
                    let records = request.topic_data[0].partition_data[0].records.as_ref();
                    their_record_sum(records.unwrap())
                })
            })
        });
        group.finish();
    }
}

fn fetch(c: &mut Criterion, values: &[Bytes]) {
    for codec in [Compression::None, Compression::Lz4] {
        let label = codec_label(codec);
        let ours = our_fetch(our_batch(codec, values));
        let wire = encode_ours(&ours, FETCH_VERSION, 0).freeze();
        let theirs =
            kafka_protocol::messages::FetchResponse::decode(&mut wire.clone(), FETCH_VERSION)
                .unwrap();
        let mut group = c.benchmark_group(format!("fetch_response_{label}"));
        group.throughput(Throughput::Bytes((RECORDS * VALUE_LEN) as u64));
        let cap = wire.len() + 64;

        let id = format!("fetch {label} encode/ours");
        group.bench_function(BenchmarkId::new("encode", "ours"), |b| {
            b.iter_custom(|iters| timed(&id, iters, || encode_ours_chunks(&ours, FETCH_VERSION)))
        });
        let id = format!("fetch {label} encode/ours one buffer");
        group.bench_function(BenchmarkId::new("encode", "ours_one_buffer"), |b| {
            b.iter_custom(|iters| timed(&id, iters, || encode_ours(&ours, FETCH_VERSION, cap)))
        });
        let id = format!("fetch {label} encode/theirs");
        group.bench_function(BenchmarkId::new("encode", "theirs"), |b| {
            b.iter_custom(|iters| timed(&id, iters, || encode_theirs(&theirs, FETCH_VERSION, cap)))
        });
        let id = format!("fetch {label} decode/ours");
        group.bench_function(BenchmarkId::new("decode", "ours"), |b| {
            b.iter_custom(|iters| {
                timed(&id, iters, || {
                    let response = FetchResponse::decode(&mut wire.clone(), FETCH_VERSION).unwrap();
                    our_record_sum(
                        response.responses[0].partitions[0]
                            .records
                            .as_ref()
                            .unwrap(),
                    )
                })
            })
        });
        let id = format!("fetch {label} decode/theirs");
        group.bench_function(BenchmarkId::new("decode", "theirs"), |b| {
            b.iter_custom(|iters| {
                timed(&id, iters, || {
                    let response = kafka_protocol::messages::FetchResponse::decode(
                        &mut wire.clone(),
                        FETCH_VERSION,
                    )
                    .unwrap();
                    their_record_sum(
                        response.responses[0].partitions[0]
                            .records
                            .as_ref()
                            .unwrap(),
                    )
                })
            })
        });
        group.finish();
    }
}

fn metadata(c: &mut Criterion) {
    let ours = our_metadata();
    let wire = encode_ours(&ours, METADATA_VERSION, 0).freeze();
    let theirs =
        kafka_protocol::messages::MetadataResponse::decode(&mut wire.clone(), METADATA_VERSION)
            .unwrap();
    let mut group = c.benchmark_group("metadata_response_1000_partitions");
    group.throughput(Throughput::Bytes(wire.len() as u64));
    let cap = wire.len() + 64;
    group.bench_function(BenchmarkId::new("encode", "ours"), |b| {
        b.iter_custom(|iters| {
            timed("metadata encode/ours", iters, || {
                encode_ours(&ours, METADATA_VERSION, cap)
            })
        })
    });
    group.bench_function(BenchmarkId::new("encode", "theirs"), |b| {
        b.iter_custom(|iters| {
            timed("metadata encode/theirs", iters, || {
                encode_theirs(&theirs, METADATA_VERSION, cap)
            })
        })
    });
    group.bench_function(BenchmarkId::new("decode", "ours"), |b| {
        b.iter_custom(|iters| {
            timed("metadata decode/ours", iters, || {
                MetadataResponse::decode(&mut wire.clone(), METADATA_VERSION).unwrap()
            })
        })
    });
    group.bench_function(BenchmarkId::new("decode", "theirs"), |b| {
        b.iter_custom(|iters| {
            timed("metadata decode/theirs", iters, || {
                kafka_protocol::messages::MetadataResponse::decode(
                    &mut wire.clone(),
                    METADATA_VERSION,
                )
                .unwrap()
            })
        })
    });
    group.finish();
}

fn batch_decode(c: &mut Criterion, values: &[Bytes]) {
    let batch = our_batch(Compression::None, values);
    let mut group = c.benchmark_group("record_batch_decode_uncompressed");
    group.throughput(Throughput::Bytes(batch.len() as u64));
    group.bench_function("memcpy", |b| {
        let mut dst = vec![0u8; batch.len()];
        b.iter_custom(|iters| {
            timed("batch memcpy", iters, || {
                dst.copy_from_slice(black_box(&batch[..]));
                dst[dst.len() / 2]
            })
        })
    });
    group.bench_function("ours", |b| {
        b.iter_custom(|iters| timed("batch decode/ours", iters, || our_record_sum(&batch)))
    });
    group.bench_function("ours_owned", |b| {
        b.iter_custom(|iters| {
            timed("batch decode/ours owned", iters, || {
                our_owned_record_sum(&batch)
            })
        })
    });
    group.bench_function("ours_next_ref", |b| {
        b.iter_custom(|iters| {
            timed("batch decode/ours next_ref", iters, || {
                let batch = batches(batch.clone()).next().unwrap().unwrap();
                let mut records = batch.records(CAP).unwrap();
                let mut sum = 0;
                while let Some(record) = records.next_ref() {
                    sum += record.unwrap().value.map_or(0, <[u8]>::len);
                }
                sum
            })
        })
    });
    group.bench_function("ours_with_crc", |b| {
        b.iter_custom(|iters| {
            timed("batch decode/ours + crc", iters, || {
                let parsed = batches(batch.clone()).next().unwrap().unwrap();
                parsed.verify_crc().unwrap();
                our_record_sum(&batch)
            })
        })
    });
    group.bench_function("theirs", |b| {
        b.iter_custom(|iters| timed("batch decode/theirs", iters, || their_record_sum(&batch)))
    });
    group.finish();
}

fn summary() {
    println!();
    println!("== kafkacc-protocol vs kafka-protocol 0.18 (median time per operation) ==");
    println!(
        "{:<34} {:>12} {:>12} {:>16}",
        "benchmark", "ours", "theirs", "ours/theirs thr."
    );
    let row = |name: &str, ours: &str, theirs: &str| {
        let (Some(o), Some(t)) = (median(ours), median(theirs)) else {
            return;
        };
        println!(
            "{:<34} {:>10.1}µs {:>10.1}µs {:>15.2}×",
            name,
            o * 1e6,
            t * 1e6,
            t / o
        );
    };
    for message in ["produce", "fetch"] {
        let kind = if message == "produce" {
            "request"
        } else {
            "response"
        };
        for label in ["uncompressed", "lz4"] {
            for op in ["encode", "decode"] {
                row(
                    &format!("{message} {kind} {label} {op}"),
                    &format!("{message} {label} {op}/ours"),
                    &format!("{message} {label} {op}/theirs"),
                );
            }
            row(
                "  (encode into one buffer)",
                &format!("{message} {label} encode/ours one buffer"),
                &format!("{message} {label} encode/theirs"),
            );
        }
    }
    row(
        "metadata response 1000p encode",
        "metadata encode/ours",
        "metadata encode/theirs",
    );
    row(
        "metadata response 1000p decode",
        "metadata decode/ours",
        "metadata decode/theirs",
    );
    row(
        "record batch decode",
        "batch decode/ours",
        "batch decode/theirs",
    );
    row(
        "record batch decode, owned Records",
        "batch decode/ours owned",
        "batch decode/theirs",
    );
    println!();
    println!(
        "{:<34} {:>12} {:>12} {:>16}",
        "record batch (uncompressed)", "time", "memcpy", "time/memcpy"
    );
    let Some(memcpy) = median("batch memcpy") else {
        return;
    };
    for (name, id) in [
        ("decode, for_each_ref", "batch decode/ours"),
        ("decode, next_ref", "batch decode/ours next_ref"),
        ("decode, owned Record iterator", "batch decode/ours owned"),
        ("decode + CRC-32C check", "batch decode/ours + crc"),
    ] {
        let Some(t) = median(id) else { continue };
        println!(
            "{:<34} {:>10.2}µs {:>10.2}µs {:>15.2}×",
            name,
            t * 1e6,
            memcpy * 1e6,
            t / memcpy
        );
    }
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
        .configure_from_args();
    let values = values();
    let their_values = their_records(&values);
    // Both sides read each other's bytes: the benchmark compares like with like.
    for codec in [Compression::None, Compression::Lz4] {
        let ours = our_batch(codec, &values);
        let theirs = their_batch(codec, &their_values);
        assert_eq!(our_record_sum(&theirs), RECORDS * VALUE_LEN);
        assert_eq!(their_record_sum(&ours), RECORDS * VALUE_LEN);
    }
    produce(&mut c, &values, &their_values);
    fetch(&mut c, &values);
    metadata(&mut c);
    batch_decode(&mut c, &values);
    c.final_summary();
    summary();
}
