//! Hostile input: truncation at every byte of the messages the client uses,
//! huge length prefixes, oversize frames, decompression bombs inside record
//! batches, and a bound on the memory any response decoder allocates for
//! the bytes it is given (measured with a counting global allocator).
#![allow(clippy::unwrap_used)]

use bytes::{BufMut, Bytes, BytesMut};
use kafkacc_protocol::compression::Compression;
use kafkacc_protocol::frame::{FrameError, KafkaFrameCodec};
use kafkacc_protocol::generated::{RequestKind, ResponseKind};
use kafkacc_protocol::header::decode_request_header;
use kafkacc_protocol::messages::{
    ApiVersionsRequest, ApiVersionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    FetchRequest, FetchResponse, ListOffsetsRequest, ListOffsetsResponse, MetadataRequest,
    MetadataResponse, ProduceRequest, ProduceResponse,
};
use kafkacc_protocol::records::{BatchBuilder, ProducerState, batches};
use kafkacc_protocol::{ApiKey, Decode, DecodeError, Encode, Message};
use proptest::prelude::{BoxedStrategy, Strategy, any};
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use tokio_util::codec::Decoder;

// ---------------------------------------------------------------------------
// A per-thread allocation counter (tests/common/alloc_counter.rs).

#[path = "common/alloc_counter.rs"]
mod alloc_counter;

#[global_allocator]
static ALLOCATOR: alloc_counter::Counting = alloc_counter::Counting;

/// The allocation budget for decoding `len` input bytes.
fn budget(len: usize) -> usize {
    64 * len + (1 << 20)
}

// ---------------------------------------------------------------------------
// (a) Every strict prefix of a non-trivial encoding is an error.

/// Samples values at `version` and keeps the `keep` whose encodings are
/// longest, so nested arrays and strings are actually present.
fn large_values<M: Message>(
    strategy: &BoxedStrategy<M>,
    version: i16,
    runner: &mut TestRunner,
    keep: usize,
) -> Vec<(M, Bytes)> {
    let mut all: Vec<(M, Bytes)> = (0..40)
        .map(|_| {
            let value = strategy.new_tree(runner).unwrap().current();
            let mut buf = BytesMut::new();
            value.encode(&mut buf, version).unwrap();
            (value, buf.freeze())
        })
        .collect();
    all.sort_by_key(|(_, bytes)| std::cmp::Reverse(bytes.len()));
    all.truncate(keep);
    all
}

fn every_prefix_fails<M: Message>(arbitrary: fn(i16) -> BoxedStrategy<M>) {
    let mut runner = TestRunner::deterministic();
    let mut checked = 0usize;
    for version in M::VERSIONS.min..=M::VERSIONS.max {
        let strategy = arbitrary(version);
        for (value, bytes) in large_values(&strategy, version, &mut runner, 4) {
            // The whole encoding decodes to the value, consuming everything.
            let mut whole = bytes.clone();
            assert_eq!(M::decode(&mut whole, version).as_ref(), Ok(&value));
            assert!(whole.is_empty());
            for cut in 0..bytes.len() {
                let mut short = bytes.slice(..cut);
                let got = M::decode(&mut short, version);
                assert!(
                    got.is_err(),
                    "{} v{version}: a {cut}-byte prefix of {} bytes decoded: {got:?}",
                    M::NAME,
                    bytes.len()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{}: only {checked} prefixes", M::NAME);
}

#[test]
fn api_versions_prefixes_fail() {
    every_prefix_fails(ApiVersionsRequest::arbitrary_for_version);
    every_prefix_fails(ApiVersionsResponse::arbitrary_for_version);
}

#[test]
fn metadata_prefixes_fail() {
    every_prefix_fails(MetadataRequest::arbitrary_for_version);
    every_prefix_fails(MetadataResponse::arbitrary_for_version);
}

#[test]
fn create_topics_prefixes_fail() {
    every_prefix_fails(CreateTopicsRequest::arbitrary_for_version);
    every_prefix_fails(CreateTopicsResponse::arbitrary_for_version);
}

#[test]
fn produce_prefixes_fail() {
    every_prefix_fails(ProduceRequest::arbitrary_for_version);
    every_prefix_fails(ProduceResponse::arbitrary_for_version);
}

#[test]
fn fetch_prefixes_fail() {
    every_prefix_fails(FetchRequest::arbitrary_for_version);
    every_prefix_fails(FetchResponse::arbitrary_for_version);
}

#[test]
fn list_offsets_prefixes_fail() {
    every_prefix_fails(ListOffsetsRequest::arbitrary_for_version);
    every_prefix_fails(ListOffsetsResponse::arbitrary_for_version);
}

// ---------------------------------------------------------------------------
// (b) Huge array counts over a short buffer fail fast.

#[test]
fn classic_array_count_of_i32_max_fails_fast() {
    // MetadataResponse v0 starts with the brokers array.
    let mut input = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0]);
    assert_eq!(input.len(), 14 - 4);
    let (got, peak) = alloc_counter::peak_during(|| MetadataResponse::decode(&mut input, 0));
    assert_eq!(got, Err(DecodeError::InvalidLength(i64::from(i32::MAX))));
    assert!(peak < 1024, "peak {peak}");
    // Same through the dispatch enum, for a request (ProduceRequest v3:
    // null transactional id, acks, timeout, then the topic array).
    let mut input = Bytes::from_static(&[
        0xff, 0xff, 0, 1, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    let (got, peak) =
        alloc_counter::peak_during(|| RequestKind::decode(ApiKey::Produce, 3, &mut input));
    assert_eq!(
        got.unwrap_err(),
        DecodeError::InvalidLength(i64::from(i32::MAX))
    );
    assert!(peak < 1024, "peak {peak}");
}

#[test]
fn compact_array_count_of_i32_max_fails_fast() {
    // MetadataResponse v12: throttle_time_ms, then the compact brokers array
    // whose varint is N+1 = 2^31.
    let mut raw = vec![0, 0, 0, 0];
    raw.extend([0x80, 0x80, 0x80, 0x80, 0x08]);
    raw.extend([0u8; 10]);
    let (got, peak) =
        alloc_counter::peak_during(|| MetadataResponse::decode(&mut Bytes::from(raw.clone()), 12));
    assert_eq!(got, Err(DecodeError::InvalidLength(i64::from(i32::MAX))));
    assert!(peak < 1024, "peak {peak}");
    // A tagged-field count of u32::MAX.
    let raw = ApiVersionsRequest {
        client_software_name: "a".into(),
        ..Default::default()
    };
    let mut buf = BytesMut::new();
    raw.encode(&mut buf, 3).unwrap();
    let mut buf = buf.to_vec();
    buf.pop();
    buf.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
    buf.extend([0u8; 10]);
    let got = ApiVersionsRequest::decode(&mut Bytes::from(buf), 3);
    assert_eq!(got, Err(DecodeError::InvalidLength(i64::from(u32::MAX))));
}

#[test]
fn string_and_bytes_lengths_past_the_end_are_invalid() {
    // ApiVersionsRequest v3: compact string of announced length 1000.
    let mut input = Bytes::from_static(&[0xe9, 0x07, b'a', b'b']);
    assert_eq!(
        ApiVersionsRequest::decode(&mut input, 3),
        Err(DecodeError::InvalidLength(1000))
    );
    // SyncGroupResponse v0: error code, then int32 bytes length i32::MAX.
    let mut input = Bytes::from_static(&[0, 0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4]);
    assert_eq!(
        ResponseKind::decode(ApiKey::SyncGroup, 0, &mut input).unwrap_err(),
        DecodeError::InvalidLength(i64::from(i32::MAX))
    );
}

// ---------------------------------------------------------------------------
// (c) Frames.

#[test]
fn two_gib_frame_length_fails_before_allocating() {
    for max in [
        kafkacc_protocol::frame::DEFAULT_MAX_FRAME_SIZE,
        1 << 30,
        i32::MAX as usize - 1,
    ] {
        let mut codec = KafkaFrameCodec::new(max);
        // 2^31 - 1 announced bytes: over every maximum above.
        let mut src = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3][..]);
        let capacity = src.capacity();
        let (got, peak) = alloc_counter::peak_during(|| codec.decode(&mut src));
        match got {
            Err(FrameError::Decode(DecodeError::FrameTooLarge { len, max: m })) => {
                assert_eq!((len, m), (i32::MAX as usize, max));
            }
            other => panic!("{other:?}"),
        }
        assert!(peak < 1024, "peak {peak}");
        assert_eq!(src.capacity(), capacity);
        // Exactly 2 GiB does not fit an int32: it reads as negative.
        let mut src = BytesMut::from(&[0x80, 0, 0, 0, 1, 2, 3][..]);
        let (got, peak) = alloc_counter::peak_during(|| codec.decode(&mut src));
        assert!(
            matches!(
                got,
                Err(FrameError::Decode(DecodeError::InvalidLength(
                    -2_147_483_648
                )))
            ),
            "{got:?}"
        );
        assert!(peak < 1024, "peak {peak}");
    }
    // Under the maximum a partial frame reserves only what was announced.
    let mut codec = KafkaFrameCodec::new(1 << 20);
    let mut src = BytesMut::from(&[0, 0, 0x01, 0x00, 9][..]);
    let (got, peak) = alloc_counter::peak_during(|| codec.decode(&mut src));
    assert!(matches!(got, Ok(None)));
    assert!(peak < 4 * 1024, "peak {peak}");
}

// ---------------------------------------------------------------------------
// (d) A compressed batch that expands past the cap.

#[test]
fn compressed_batches_past_the_cap_are_decompressed_too_large() {
    let value = vec![b'x'; 256 * 1024];
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut builder = BatchBuilder::new(codec, 0);
        for i in 0..16 {
            builder.append(i, None, Some(&value), &[]).unwrap();
        }
        let bytes = builder.build(ProducerState::default()).unwrap();
        assert!(bytes.len() < 256 * 1024, "{codec}: {} bytes", bytes.len());
        let batch = batches(bytes).next().unwrap().unwrap();
        batch.verify_crc().unwrap();
        let cap = 1 << 20; // the payload is 4 MiB
        let (got, peak) = alloc_counter::peak_during(|| batch.records(cap).map(|_| ()));
        assert_eq!(
            got,
            Err(DecodeError::DecompressedTooLarge { max: cap }),
            "{codec}"
        );
        // Output never grows past the cap; zstd adds its window.
        let limit = if codec == Compression::Zstd {
            12 << 20
        } else {
            2 << 20
        };
        assert!(peak < limit, "{codec}: peak {peak}");
        // Under a sufficient cap every record comes back.
        let records = batch.records(8 << 20).unwrap();
        assert_eq!(records.map(Result::unwrap).count(), 16, "{codec}");
    }
}

// ---------------------------------------------------------------------------
// (e) Peak allocation of every response (and request) decoder.

/// Decodes `bytes` as every response and request at every version and checks
/// the peak allocation against the budget; returns the worst ratio seen and
/// where.
fn decode_everything_within_budget(bytes: &Bytes) -> (f64, String) {
    let mut worst = (0f64, String::new());
    for &key in ApiKey::ALL {
        let versions = key.versions();
        for version in versions.min..=versions.max {
            let (_, peak) = alloc_counter::peak_during(|| {
                ResponseKind::decode(key, version, &mut bytes.clone())
            });
            assert!(
                peak <= budget(bytes.len()),
                "{key:?} v{version} response: {peak} bytes allocated for {} input bytes",
                bytes.len()
            );
            let (_, peak_request) = alloc_counter::peak_during(|| {
                RequestKind::decode(key, version, &mut bytes.clone())
            });
            assert!(
                peak_request <= budget(bytes.len()),
                "{key:?} v{version} request: {peak_request} bytes allocated for {} input bytes",
                bytes.len()
            );
            if !bytes.is_empty() {
                let ratio = peak.max(peak_request) as f64 / bytes.len() as f64;
                if ratio > worst.0 {
                    worst = (ratio, format!("{key:?} v{version}"));
                }
            }
        }
    }
    worst
}

#[test]
fn random_bytes_stay_within_the_allocation_budget() {
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(any::<u8>(), 0..2048).prop_map(Bytes::from);
    runner
        .run(&strategy, |bytes| {
            decode_everything_within_budget(&bytes);
            Ok(())
        })
        .unwrap();
}

/// Tokens that drive decoders into arrays: small and large classic counts,
/// compact counts, null markers, zero padding.
fn token_strategy() -> impl Strategy<Value = Vec<u8>> {
    proptest::sample::select(vec![
        vec![0x00],
        vec![0x01],
        vec![0x02],
        vec![0x03],
        vec![0x7f],
        vec![0xff],
        vec![0x00, 0x00],
        vec![0x00, 0x00, 0x00, 0x01],
        vec![0x00, 0x00, 0x00, 0x02],
        vec![0x00, 0x00, 0x00, 0x10],
        vec![0x00, 0x00, 0x10, 0x00],
        vec![0xff, 0xff, 0xff, 0xff],
        vec![0x80, 0x01],
        vec![0x80, 0x80, 0x01],
        vec![0x00, 0x01, b'a'],
        vec![0x02, b'a'],
    ])
}

#[test]
fn structured_hostile_bytes_stay_within_the_allocation_budget() {
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    // A random token prefix, then a long run of one repeated token, so that a
    // count read anywhere in the prefix finds plenty of (tiny) elements.
    let strategy = (
        proptest::collection::vec(token_strategy(), 0..24),
        token_strategy(),
        0usize..4096,
    )
        .prop_map(|(prefix, fill, repeats)| {
            let mut out: Vec<u8> = prefix.concat();
            for _ in 0..repeats {
                out.extend_from_slice(&fill);
            }
            Bytes::from(out)
        });
    runner
        .run(&strategy, |bytes| {
            decode_everything_within_budget(&bytes);
            Ok(())
        })
        .unwrap();
}

/// The worst case for memory per input byte: a long array of elements that
/// take a few bytes each on the wire but a whole struct in memory.
#[test]
fn many_tiny_elements_stay_within_the_allocation_budget() {
    let mut worst = (0f64, String::new());
    // Repeated single bytes and short patterns at 256 KiB: for each message,
    // some count read early on claims a large part of the buffer.
    for pattern in [
        &[0x00][..],
        &[0x01],
        &[0x02],
        &[0x00, 0x01],
        &[0x01, 0x00],
        &[0x00, 0x00, 0x00, 0x01],
    ] {
        let mut raw = Vec::with_capacity(256 * 1024);
        // Leading counts for the first arrays: a classic count of 64 Ki
        // and a compact one of 64 Ki.
        for lead in [
            &[0x00, 0x01, 0x00, 0x00][..],
            &[0x81, 0x80, 0x04],
            &[0x00, 0x00, 0x00, 0x00, 0x81, 0x80, 0x04],
        ] {
            raw.clear();
            raw.extend_from_slice(lead);
            while raw.len() < 256 * 1024 {
                raw.extend_from_slice(pattern);
            }
            let got = decode_everything_within_budget(&Bytes::from(raw.clone()));
            if got.0 > worst.0 {
                worst = (
                    got.0,
                    format!("{} (fill {pattern:02x?}, lead {lead:02x?})", got.1),
                );
            }
        }
    }
    // Valid giant messages: a Metadata response with 64 Ki partitions and a
    // Fetch response with 64 Ki partitions, decoded.
    let mut metadata = MetadataResponse::default();
    let mut topic = kafkacc_protocol::generated::metadata_response::MetadataResponseTopic {
        name: Some("t".into()),
        ..Default::default()
    };
    topic.partitions = (0..65536)
        .map(
            |i| kafkacc_protocol::generated::metadata_response::MetadataResponsePartition {
                partition_index: i,
                ..Default::default()
            },
        )
        .collect();
    metadata.topics.push(topic);
    for version in [0, 12] {
        let mut buf = BytesMut::new();
        metadata.encode(&mut buf, version).unwrap();
        let bytes = buf.freeze();
        let (got, peak) =
            alloc_counter::peak_during(|| MetadataResponse::decode(&mut bytes.clone(), version));
        assert!(got.is_ok());
        assert!(peak <= budget(bytes.len()), "metadata v{version}: {peak}");
        let ratio = peak as f64 / bytes.len() as f64;
        if ratio > worst.0 {
            worst = (
                ratio,
                format!("MetadataResponse v{version}, 64 Ki partitions"),
            );
        }
    }
    println!(
        "worst allocation ratio: {:.1} bytes per input byte, {}",
        worst.0, worst.1
    );
}

// ---------------------------------------------------------------------------
// Request headers: every prefix, hostile ids, and random bytes.

#[test]
fn request_header_decoder_is_hostile_proof() {
    let mut frame = BytesMut::new();
    kafkacc_protocol::header::encode_request_frame(
        &mut frame,
        12,
        7,
        Some("client-é"),
        &MetadataRequest::default(),
    )
    .unwrap();
    let body = frame.freeze().slice(4..);
    let header_len = 2 + 2 + 4 + 2 + "client-é".len() + 1;
    for cut in 0..header_len {
        assert!(
            decode_request_header(&mut body.slice(..cut)).is_err(),
            "{cut}"
        );
    }
    let view = decode_request_header(&mut body.clone()).unwrap();
    assert_eq!(
        (view.api_key, view.api_version, view.correlation_id),
        (ApiKey::Metadata, 12, 7)
    );
    // Unknown API key, unsupported version, invalid UTF-8 client id.
    let mut bad = Bytes::from_static(&[0, 4, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
    assert_eq!(
        decode_request_header(&mut bad),
        Err(DecodeError::UnknownApiKey(4))
    );
    let mut bad = Bytes::from_static(&[0, 3, 0, 99, 0, 0, 0, 1, 0xff, 0xff, 0]);
    assert!(matches!(
        decode_request_header(&mut bad),
        Err(DecodeError::UnsupportedVersion { .. })
    ));
    let mut bad = Bytes::from_static(&[0, 3, 0, 1, 0, 0, 0, 1, 0, 2, 0xc3, 0x28]);
    assert_eq!(
        decode_request_header(&mut bad),
        Err(DecodeError::InvalidUtf8)
    );
    let mut runner = TestRunner::new(Config {
        cases: 2000,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(any::<u8>(), 0..32).prop_map(|mut v| {
        // Keep the API key plausible half of the time.
        if v.len() >= 2 && v[0] & 1 == 0 {
            v[0] = 0;
            v[1] %= 93;
        }
        Bytes::from(v)
    });
    runner
        .run(&strategy, |bytes| {
            let mut input = bytes.clone();
            if let Ok(view) = decode_request_header(&mut input) {
                assert!(view.api_key.versions().max >= 0);
                assert!(input.len() <= bytes.len());
            }
            Ok(())
        })
        .unwrap();
}

/// A record set whose last batch announces more bytes than remain is cut
/// short quietly, and a length that overflows `usize` arithmetic is refused.
#[test]
fn record_set_lengths_are_checked() {
    let mut raw = BytesMut::new();
    raw.put_i64(0);
    raw.put_i32(i32::MAX);
    raw.put_slice(&[0u8; 50]);
    let mut iter = batches(raw.freeze());
    assert!(iter.next().is_none());
    assert_eq!(iter.remaining(), 62);
}

// ---------------------------------------------------------------------------
// Seed corpora for fuzz/ (run by hand, see fuzz/README.md):
// `cargo test -p kafkacc-protocol --test hostile -- --ignored write_fuzz_seeds`

fn seed_value<M: Message>(arbitrary: fn(i16) -> BoxedStrategy<M>, version: i16) -> Bytes {
    let mut runner = TestRunner::deterministic();
    large_values(&arbitrary(version), version, &mut runner, 1)
        .pop()
        .unwrap()
        .1
}

/// The selector bytes the `request`/`response` targets read first.
fn selector(key: ApiKey, version: i16) -> Vec<u8> {
    let index = ApiKey::ALL.iter().position(|&k| k == key).unwrap();
    vec![index as u8, (version - key.versions().min) as u8]
}

#[test]
#[ignore = "writes the fuzz seed corpora; run by hand"]
fn write_fuzz_seeds() {
    use kafkacc_protocol::header::encode_request_frame;
    use kafkacc_protocol::records::{ControlRecord, Header, build_control_batch};
    use std::path::PathBuf;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };

    // Responses: the client's messages at a classic and a flexible version.
    macro_rules! responses {
        ($($ty:ident, $key:ident, [$($v:expr),*];)*) => {$($(
            let mut seed = selector(ApiKey::$key, $v);
            seed.extend_from_slice(&seed_value($ty::arbitrary_for_version, $v));
            write("response", &format!("{}-v{}", stringify!($key), $v), &seed);
        )*)*};
    }
    responses! {
        ApiVersionsResponse, ApiVersions, [0, 3];
        MetadataResponse, Metadata, [1, 12];
        ProduceResponse, Produce, [8, 11];
        FetchResponse, Fetch, [11, 16];
        ListOffsetsResponse, ListOffsets, [5, 9];
        CreateTopicsResponse, CreateTopics, [4, 7];
    }

    // Requests: selector, then a whole request (header and body).
    macro_rules! requests {
        ($($ty:ident, $key:ident, [$($v:expr),*];)*) => {$($(
            let body = $ty::decode(&mut seed_value($ty::arbitrary_for_version, $v), $v).unwrap();
            let mut frame = BytesMut::new();
            encode_request_frame(&mut frame, $v, 42, Some("fuzz"), &body).unwrap();
            let mut seed = selector(ApiKey::$key, $v);
            seed.extend_from_slice(&frame[4..]);
            write("request", &format!("{}-v{}", stringify!($key), $v), &seed);
        )*)*};
    }
    requests! {
        ApiVersionsRequest, ApiVersions, [0, 3];
        MetadataRequest, Metadata, [1, 12];
        ProduceRequest, Produce, [8, 11];
        FetchRequest, Fetch, [11, 16];
        ListOffsetsRequest, ListOffsets, [5, 9];
        CreateTopicsRequest, CreateTopics, [4, 7];
    }

    // Record batches: one per codec with headers, a control batch, and a
    // legacy v1 message.
    for codec in Compression::ALL {
        let mut builder = BatchBuilder::new(codec, 1_700_000_000_000);
        for i in 0..5 {
            let headers = [Header::new("h", Some(b"v")), Header::new("h", None)];
            builder
                .append(
                    1_700_000_000_000 + i,
                    Some(format!("key-{i}").as_bytes()),
                    Some(format!("value-{i}-").repeat(3).as_bytes()),
                    &headers[..(i as usize % 3)],
                )
                .unwrap();
        }
        let producer = ProducerState {
            producer_id: 9,
            producer_epoch: 1,
            base_sequence: 0,
            transactional: codec == Compression::Zstd,
        };
        write(
            "record_batch",
            codec.name(),
            &builder.build(producer).unwrap(),
        );
    }
    let control = build_control_batch(
        &ControlRecord::Commit {
            coordinator_epoch: 3,
        },
        9,
        1,
        1_700_000_000_000,
    )
    .unwrap();
    write("record_batch", "control-commit", &control);
    let mut legacy = Vec::new();
    let body: Vec<u8> = [
        &[1u8, 0][..],
        &1000i64.to_be_bytes(),
        &[0xff; 4],
        &[0, 0, 0, 1, b'v'],
    ]
    .concat();
    legacy.extend(5i64.to_be_bytes());
    legacy.extend((body.len() as i32 + 4).to_be_bytes());
    legacy.extend(crc32fast::hash(&body).to_be_bytes());
    legacy.extend(body);
    write("record_batch", "legacy-v1", &legacy);

    // Frames: max-size selector 20 (1 MiB), then chunks of up to 7 bytes of
    // a stream of three request frames.
    let mut stream = BytesMut::new();
    encode_request_frame(&mut stream, 3, 1, Some("a"), &ApiVersionsRequest::default()).unwrap();
    encode_request_frame(&mut stream, 12, 2, None, &MetadataRequest::default()).unwrap();
    stream.extend_from_slice(&[0, 0, 0, 0]);
    let mut seed = vec![20u8];
    for chunk in stream.chunks(7) {
        seed.push(chunk.len() as u8);
        seed.extend_from_slice(chunk);
    }
    write("frame", "three-frames", &seed);
    let mut seed = vec![20u8, 255];
    seed.extend_from_slice(&stream);
    write("frame", "one-chunk", &seed);
    write("frame", "too-large", &[10u8, 4, 0x7f, 0xff, 0xff, 0xff]);
}
