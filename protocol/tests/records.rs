//! Record batches end to end: builder → decoder round trips for every
//! codec, truncation at every byte, hostile input, CRCs, decompression caps
//! (with an allocation counter), legacy message sets, and the in-place
//! rewrites.
#![allow(clippy::unwrap_used)]

use bytes::{BufMut, Bytes, BytesMut};
use kafkacc_protocol::DecodeError;
use kafkacc_protocol::compression::{Compression, compress, decompress};
use kafkacc_protocol::records::{
    Batch, BatchBuilder, DEFAULT_MAX_DECOMPRESSED, Header, ProducerState, Record, RecordRef,
    TimestampType, assign_base_offset, batches, rewrite_producer_state,
    rewrite_producer_state_in_place,
};
use proptest::prelude::*;
use std::io::Write;

// ---------------------------------------------------------------------------
// A per-thread allocation counter, to show that capped decompression never
// allocates the full output.

#[path = "common/alloc_counter.rs"]
mod alloc_counter;

#[global_allocator]
static ALLOCATOR: alloc_counter::Counting = alloc_counter::Counting;

// ---------------------------------------------------------------------------
// Helpers

fn build(codec: Compression, records: &[Record], producer: ProducerState) -> Bytes {
    let base = records.first().map_or(0, |r| r.timestamp);
    let mut builder = BatchBuilder::new(codec, base);
    for r in records {
        let before = builder.estimated_size();
        let expected = builder
            .record_size(
                r.timestamp,
                r.key.as_deref(),
                r.value.as_deref(),
                &r.headers,
            )
            .unwrap();
        builder
            .append(
                r.timestamp,
                r.key.as_deref(),
                r.value.as_deref(),
                &r.headers,
            )
            .unwrap();
        assert_eq!(builder.estimated_size(), before + expected);
    }
    builder.build(producer).unwrap()
}

fn assert_same(borrowed: &RecordRef<'_>, owned: &Record) {
    assert_eq!(borrowed.offset, owned.offset);
    assert_eq!(borrowed.timestamp, owned.timestamp);
    assert_eq!(borrowed.key, owned.key.as_deref());
    assert_eq!(borrowed.value, owned.value.as_deref());
    let headers: Vec<(&str, Option<&[u8]>)> = borrowed.headers.iter().collect();
    let expected: Vec<(&str, Option<&[u8]>)> = owned
        .headers
        .iter()
        .map(|h| (h.key.as_str(), h.value.as_deref()))
        .collect();
    assert_eq!(headers, expected);
}

fn decode_all(bytes: Bytes) -> Vec<(Batch, Vec<Record>)> {
    batches(bytes)
        .map(|batch| {
            let batch = batch.unwrap();
            batch.verify_crc().unwrap();
            let records: Vec<Record> = batch
                .records(DEFAULT_MAX_DECOMPRESSED)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            // The borrowing iterations see the same records.
            let mut by_ref = batch.records(DEFAULT_MAX_DECOMPRESSED).unwrap();
            let mut n = 0;
            while let Some(record) = by_ref.next_ref() {
                assert_same(&record.unwrap(), &records[n]);
                n += 1;
            }
            assert_eq!(n, records.len());
            let mut n = 0;
            batch
                .records(DEFAULT_MAX_DECOMPRESSED)
                .unwrap()
                .for_each_ref(|record| {
                    assert_same(&record, &records[n]);
                    n += 1;
                })
                .unwrap();
            assert_eq!(n, records.len());
            // `refs` walks them through `&self`, from wherever the
            // iterator stands, without moving it.
            let mut cursor = batch.records(DEFAULT_MAX_DECOMPRESSED).unwrap();
            if let Some(refs) = cursor.refs() {
                let seen: Vec<RecordRef<'_>> = refs.map(Result::unwrap).collect();
                assert_eq!(seen.len(), records.len());
                for (borrowed, owned) in seen.iter().zip(&records) {
                    assert_same(borrowed, owned);
                }
                if !records.is_empty() {
                    assert!(cursor.next_ref().is_some());
                    let rest: Vec<i64> =
                        cursor.refs().unwrap().map(|r| r.unwrap().offset).collect();
                    let expected: Vec<i64> = records[1..].iter().map(|r| r.offset).collect();
                    assert_eq!(rest, expected);
                }
            } else {
                assert!(batch.is_legacy(), "only legacy entries have no refs");
            }
            (batch, records)
        })
        .collect()
}

fn sample_records(n: usize, t0: i64) -> Vec<Record> {
    (0..n)
        .map(|i| Record {
            offset: i as i64,
            timestamp: t0 + (i as i64 % 7) * 3,
            key: (i % 3 != 0).then(|| Bytes::from(format!("key-{i}"))),
            value: (i % 5 != 4).then(|| Bytes::from(format!("value-{i}-").repeat(i % 9 + 1))),
            headers: (0..i % 3)
                .map(|h| Header::new(if h == 2 { "a" } else { "dup" }, Some(b"v")))
                .collect(),
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

// ---------------------------------------------------------------------------
// Round trips

/// Timestamp delta, key, value, headers (key index, value).
type RawRecord = (
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(usize, Option<Vec<u8>>)>,
);

fn record_strategy() -> impl Strategy<Value = RawRecord> {
    (
        prop_oneof![-5_000i64..5_000, any::<i64>()],
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        proptest::option::of(prop_oneof![
            4 => proptest::collection::vec(any::<u8>(), 0..300),
            1 => proptest::collection::vec(any::<u8>(), 8_000..9_000),
        ]),
        proptest::collection::vec(
            (
                0usize..3,
                proptest::option::of(proptest::collection::vec(any::<u8>(), 0..10)),
            ),
            0..=3,
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn builder_decoder_round_trip(
        base in any::<i64>(),
        raw in proptest::collection::vec(record_strategy(), 0..40),
        producer_id in -1i64..1_000_000,
        epoch in -1i16..100,
        sequence in prop_oneof![Just(-1i32), 0..i32::MAX],
        transactional in any::<bool>(),
    ) {
        const KEYS: [&str; 3] = ["dup", "dup", "ünïcode"];
        let records: Vec<Record> = raw
            .into_iter()
            .enumerate()
            .map(|(i, (ts, key, value, headers))| Record {
                offset: i as i64,
                timestamp: base.wrapping_add(ts),
                key: key.map(Bytes::from),
                value: value.map(Bytes::from),
                headers: headers
                    .into_iter()
                    .map(|(k, v)| Header { key: KEYS[k].into(), value: v.map(Bytes::from) })
                    .collect(),
            })
            .collect();
        let producer = ProducerState { producer_id, producer_epoch: epoch, base_sequence: sequence, transactional };
        for codec in Compression::ALL {
            let mut builder = BatchBuilder::new(codec, base);
            for r in &records {
                builder.append(r.timestamp, r.key.as_deref(), r.value.as_deref(), &r.headers).unwrap();
            }
            let bytes = builder.build(producer).unwrap();
            let decoded = decode_all(bytes.clone());
            prop_assert_eq!(decoded.len(), 1);
            let (batch, got) = &decoded[0];
            let h = batch.header;
            prop_assert_eq!(h.compression().unwrap(), codec);
            prop_assert_eq!(h.size(), bytes.len());
            prop_assert_eq!(h.records_count as usize, records.len());
            prop_assert_eq!(h.last_offset_delta, records.len() as i32 - 1);
            prop_assert_eq!((h.producer_id, h.producer_epoch, h.base_sequence), (producer_id, epoch, sequence));
            prop_assert_eq!(h.is_transactional(), transactional);
            prop_assert!(!h.is_control());
            let max = records.iter().map(|r| r.timestamp).max().unwrap_or(-1);
            prop_assert_eq!(h.max_timestamp, max);
            prop_assert_eq!(got, &records);
        }
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        exercise(Bytes::from(data.clone()));
        for codec in Compression::ALL {
            let _ = decompress(codec, &data, 1 << 20);
        }
    }

    #[test]
    fn mutated_batches_never_panic(
        codec_id in 0u8..5,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        fix_crc in any::<bool>(),
    ) {
        let codec = Compression::try_from(codec_id).unwrap();
        let mut raw = BytesMut::from(&build(codec, &sample_records(12, 1000), ProducerState::default())[..]);
        for (at, byte) in flips {
            let at = at % raw.len();
            raw[at] ^= byte | 1;
        }
        if fix_crc && raw.len() > 21 {
            let crc = crc32c::crc32c(&raw[21..]);
            raw[17..21].copy_from_slice(&crc.to_be_bytes());
        }
        exercise(raw.freeze());
    }

    #[test]
    fn mutated_compressed_streams_never_panic(
        codec_id in 1u8..5,
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let codec = Compression::try_from(codec_id).unwrap();
        let input = b"some moderately compressible text, some moderately compressible text".repeat(40);
        let mut out = BytesMut::new();
        compress(codec, &input, &mut out).unwrap();
        for (at, byte) in flips {
            let at = at % out.len();
            out[at] ^= byte | 1;
        }
        if let Ok(back) = decompress(codec, &out, 1 << 20) {
            prop_assert!(back.len() <= 1 << 20);
        }
    }
}

/// Drives every decoding path over `bytes`, ignoring the results.
fn exercise(bytes: Bytes) {
    let iter = batches(bytes.clone());
    for batch in iter.take(1000) {
        let Ok(batch) = batch else { break };
        let _ = batch.verify_crc();
        let _ = batch.control_record();
        let _ = batch.header.compression();
        if let Ok(records) = batch.records(1 << 20) {
            for record in records.refs().into_iter().flatten().take(100_000) {
                if record.is_err() {
                    break;
                }
            }
            for record in records.take(100_000) {
                if record.is_err() {
                    break;
                }
            }
        }
    }
    let _ = rewrite_producer_state(&bytes, ProducerState::default());
}

#[test]
fn every_codec_round_trips_many_records() {
    let records = sample_records(1000, 1_700_000_000_000);
    for codec in Compression::ALL {
        let bytes = build(codec, &records, ProducerState::default());
        let decoded = decode_all(bytes);
        assert_eq!(decoded[0].1, records, "{codec}");
    }
}

#[test]
fn large_values_span_many_codec_blocks() {
    // 300 KiB of mixed data: several LZ4 blocks, snappy chunks, zstd blocks.
    let value: Vec<u8> = (0..300 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 | (i % 7) as u8)
        .collect();
    let records = vec![Record {
        offset: 0,
        timestamp: 5,
        key: None,
        value: Some(Bytes::from(value)),
        headers: vec![],
    }];
    for codec in Compression::ALL {
        let decoded = decode_all(build(codec, &records, ProducerState::default()));
        assert_eq!(decoded[0].1, records, "{codec}");
    }
}

#[test]
fn empty_batch_builds_and_decodes() {
    let bytes = BatchBuilder::new(Compression::None, 123)
        .build(ProducerState::default())
        .unwrap();
    let decoded = decode_all(bytes);
    let h = decoded[0].0.header;
    assert_eq!(
        (
            h.records_count,
            h.last_offset_delta,
            h.base_timestamp,
            h.max_timestamp
        ),
        (0, -1, -1, -1)
    );
    assert!(decoded[0].1.is_empty());
}

// ---------------------------------------------------------------------------
// Truncation and corruption

#[test]
fn cut_at_every_length_yields_only_complete_batches() {
    let mut all = BytesMut::new();
    let mut ends = Vec::new();
    for (i, codec) in [Compression::None, Compression::Lz4, Compression::Gzip]
        .into_iter()
        .enumerate()
    {
        let batch = build(codec, &sample_records(5 + i, 77), ProducerState::default());
        let mut batch = BytesMut::from(&batch[..]);
        assign_base_offset(&mut batch, 100 * i as i64, 3).unwrap();
        all.put_slice(&batch);
        ends.push(all.len());
    }
    let all = all.freeze();
    for len in 0..=all.len() {
        let mut iter = batches(all.slice(..len));
        let got: Vec<Batch> = iter.by_ref().map(Result::unwrap).collect();
        let complete = ends.iter().filter(|&&end| end <= len).count();
        assert_eq!(got.len(), complete, "cut at {len}");
        let consumed = ends.get(complete.wrapping_sub(1)).copied().unwrap_or(0);
        assert_eq!(iter.remaining(), len - consumed, "cut at {len}");
        for (i, batch) in got.iter().enumerate() {
            batch.verify_crc().unwrap();
            assert_eq!(batch.header.base_offset, 100 * i as i64);
            assert_eq!(batch.header.partition_leader_epoch, 3);
            assert_eq!(batch.records(1 << 20).unwrap().count(), 5 + i);
        }
    }
}

#[test]
fn bad_crc_is_a_crc_mismatch() {
    let bytes = build(
        Compression::None,
        &sample_records(3, 0),
        ProducerState::default(),
    );
    let mut raw = BytesMut::from(&bytes[..]);
    let last = raw.len() - 1;
    raw[last] ^= 0x40;
    let batch = batches(raw.freeze()).next().unwrap().unwrap();
    assert!(matches!(
        batch.verify_crc(),
        Err(DecodeError::CrcMismatch { .. })
    ));
    // The partition leader epoch and base offset are outside the CRC.
    let mut raw = BytesMut::from(&bytes[..]);
    assign_base_offset(&mut raw, 42, 9).unwrap();
    batches(raw.freeze())
        .next()
        .unwrap()
        .unwrap()
        .verify_crc()
        .unwrap();
}

#[test]
fn corrupt_lengths_are_errors_not_partial_batches() {
    // batchLength below the smallest legacy message is corrupt.
    let mut raw = vec![0u8; 8];
    raw.extend(5i32.to_be_bytes());
    raw.extend([0u8; 20]);
    let mut iter = batches(Bytes::from(raw));
    assert!(matches!(
        iter.next(),
        Some(Err(DecodeError::InvalidLength(5)))
    ));
    assert!(iter.next().is_none());
    // A v2 batch must be at least 61 bytes.
    let mut raw = vec![0u8; 8];
    raw.extend(30i32.to_be_bytes());
    raw.extend([0, 0, 0, 0, 2]);
    raw.resize(42, 0);
    assert!(matches!(
        batches(Bytes::from(raw)).next(),
        Some(Err(DecodeError::InvalidLength(30)))
    ));
    // Unknown magic.
    let mut raw = BytesMut::from(
        &build(
            Compression::None,
            &sample_records(1, 0),
            ProducerState::default(),
        )[..],
    );
    raw[16] = 3;
    assert!(matches!(
        batches(raw.freeze()).next(),
        Some(Err(DecodeError::UnsupportedMagic(3)))
    ));
}

/// Rewrites the records count of an uncompressed batch (and its CRC).
fn with_count(bytes: &Bytes, count: i32) -> Batch {
    let mut raw = BytesMut::from(&bytes[..]);
    raw[57..61].copy_from_slice(&count.to_be_bytes());
    let crc = crc32c::crc32c(&raw[21..]);
    raw[17..21].copy_from_slice(&crc.to_be_bytes());
    batches(raw.freeze()).next().unwrap().unwrap()
}

#[test]
fn record_count_must_match_the_records() {
    let bytes = build(
        Compression::None,
        &sample_records(3, 0),
        ProducerState::default(),
    );
    // Fewer records announced than present: error on the last one.
    let got: Vec<_> = with_count(&bytes, 2).records(1 << 20).unwrap().collect();
    assert_eq!(got.len(), 2);
    assert!(got[0].is_ok());
    assert!(matches!(got[1], Err(DecodeError::TrailingBytes(_))));
    // The internal loop agrees: the last record is not handed out.
    let mut offsets = Vec::new();
    let result = with_count(&bytes, 2)
        .records(1 << 20)
        .unwrap()
        .for_each_ref(|r| offsets.push(r.offset));
    assert_eq!(offsets, [0]);
    assert!(matches!(result, Err(DecodeError::TrailingBytes(_))));
    // None announced: nothing, and no error (Java reads `count` records).
    assert_eq!(with_count(&bytes, 0).records(1 << 20).unwrap().count(), 0);
    let mut seen = 0;
    let result = with_count(&bytes, 0)
        .records(1 << 20)
        .unwrap()
        .for_each_ref(|_| seen += 1);
    assert_eq!((seen, result), (0, Ok(())));
    // More announced than present: a truncation error, then the end.
    let got: Vec<_> = with_count(&bytes, 4).records(1 << 20).unwrap().collect();
    assert_eq!(got.len(), 4);
    assert!(matches!(got[3], Err(DecodeError::Truncated { .. })));
    // A huge count drives no allocation: size_hint stays bounded by the bytes.
    let records = with_count(&bytes, i32::MAX).records(1 << 20).unwrap();
    assert!(records.size_hint().0 <= bytes.len());
    let collected: Vec<_> = records.collect();
    assert_eq!(collected.len(), 4);
    assert!(with_count(&bytes, -1).records(1 << 20).is_err());
}

#[test]
fn hostile_header_count_is_refused_before_allocating() {
    // One record: no key, no value, 2^30 headers, nothing after.
    let mut records = BytesMut::new();
    let body = [0x00, 0x00, 0x00, 0x01, 0x01, 0x80, 0x80, 0x80, 0x80, 0x08];
    records.put_u8((body.len() as u8) << 1);
    records.put_slice(&body);
    let mut builder_bytes =
        BytesMut::from(&build(Compression::None, &[], ProducerState::default())[..]);
    builder_bytes.put_slice(&records);
    let len = builder_bytes.len() as i32 - 12;
    builder_bytes[8..12].copy_from_slice(&len.to_be_bytes());
    builder_bytes[57..61].copy_from_slice(&1i32.to_be_bytes());
    let batch = batches(builder_bytes.freeze()).next().unwrap().unwrap();
    let (result, peak) =
        alloc_counter::peak_during(|| batch.records(1 << 20).unwrap().next().unwrap());
    assert!(
        matches!(result, Err(DecodeError::InvalidLength(_))),
        "{result:?}"
    );
    assert!(peak < 4096, "peak {peak}");
}

// ---------------------------------------------------------------------------
// Decompression caps

#[test]
fn gzip_bomb_is_refused_without_allocating_the_output() {
    let zeros = vec![0u8; 10 * 1024 * 1024];
    let bomb = gzip(&zeros);
    drop(zeros);
    let (result, peak) =
        alloc_counter::peak_during(|| decompress(Compression::Gzip, &bomb, 1024 * 1024));
    assert_eq!(
        result,
        Err(DecodeError::DecompressedTooLarge { max: 1024 * 1024 })
    );
    assert!(peak < 2 * 1024 * 1024, "peak {peak}");
}

#[test]
fn every_codec_bomb_is_refused_without_allocating_the_output() {
    let zeros = vec![0u8; 10 * 1024 * 1024];
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let mut bomb = BytesMut::new();
        compress(codec, &zeros, &mut bomb).unwrap();
        let (result, peak) = alloc_counter::peak_during(|| decompress(codec, &bomb, 1024 * 1024));
        assert_eq!(
            result,
            Err(DecodeError::DecompressedTooLarge { max: 1024 * 1024 }),
            "{codec}"
        );
        // Output stays under the cap; zstd adds its (8 MiB-bounded) window.
        let limit = if codec == Compression::Zstd {
            12 << 20
        } else {
            2 << 20
        };
        assert!(peak < limit, "{codec}: peak {peak}");
        // And the same data decompresses under a sufficient cap.
        assert_eq!(
            decompress(codec, &bomb, 10 * 1024 * 1024).unwrap().len(),
            zeros.len(),
            "{codec}"
        );
    }
}

#[test]
fn raw_snappy_block_announcing_too_much_is_refused_up_front() {
    let block = snap::raw::Encoder::new()
        .compress_vec(&vec![0u8; 4 * 1024 * 1024])
        .unwrap();
    let (result, peak) =
        alloc_counter::peak_during(|| decompress(Compression::Snappy, &block, 1024 * 1024));
    assert_eq!(
        result,
        Err(DecodeError::DecompressedTooLarge { max: 1024 * 1024 })
    );
    assert!(peak < 64 * 1024, "peak {peak}");
    // A plain raw block (no xerial header) is accepted.
    assert_eq!(
        decompress(Compression::Snappy, &block, 4 * 1024 * 1024)
            .unwrap()
            .len(),
        4 * 1024 * 1024
    );
}

#[test]
fn compressed_batch_past_the_cap_is_decompressed_too_large() {
    let records = vec![Record {
        offset: 0,
        timestamp: 0,
        key: None,
        value: Some(Bytes::from(vec![0u8; 10 * 1024 * 1024])),
        headers: vec![],
    }];
    let bytes = build(Compression::Gzip, &records, ProducerState::default());
    drop(records);
    let batch = batches(bytes).next().unwrap().unwrap();
    batch.verify_crc().unwrap();
    let (result, peak) = alloc_counter::peak_during(|| batch.records(1024 * 1024).map(|_| ()));
    assert_eq!(
        result,
        Err(DecodeError::DecompressedTooLarge { max: 1024 * 1024 })
    );
    assert!(peak < 2 * 1024 * 1024, "peak {peak}");
}

// ---------------------------------------------------------------------------
// Decoding cost: no allocation per record

#[test]
fn uncompressed_records_allocate_nothing_per_record() {
    let records: Vec<Record> = (0..1000)
        .map(|i| Record {
            offset: i,
            timestamp: i,
            key: None,
            value: Some(Bytes::from(vec![7u8; 100])),
            headers: vec![],
        })
        .collect();
    let bytes = build(Compression::None, &records, ProducerState::default());
    let batch = batches(bytes).next().unwrap().unwrap();
    let (count, peak) = alloc_counter::peak_during(|| {
        let mut n = 0usize;
        for r in batch.records(1 << 20).unwrap() {
            n += r.unwrap().value.map_or(0, |v| v.len());
        }
        n
    });
    assert_eq!(count, 100_000);
    assert!(peak < 1024, "peak {peak}");
}

// ---------------------------------------------------------------------------
// Producer-side rewrites

#[test]
fn rewrite_producer_state_recomputes_the_crc() {
    let records = sample_records(4, 9);
    for codec in Compression::ALL {
        let bytes = build(codec, &records, ProducerState::default());
        let state = ProducerState {
            producer_id: 77,
            producer_epoch: 3,
            base_sequence: 1_000,
            transactional: true,
        };
        let rewritten = rewrite_producer_state(&bytes, state).unwrap();
        assert_eq!(rewritten.len(), bytes.len());
        let decoded = decode_all(rewritten.clone());
        let h = decoded[0].0.header;
        assert_eq!(
            (
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                h.is_transactional()
            ),
            (77, 3, 1_000, true)
        );
        assert_eq!(h.compression().unwrap(), codec);
        assert_eq!(decoded[0].1, records);
        // And back.
        let mut again = BytesMut::from(&rewritten[..]);
        rewrite_producer_state_in_place(&mut again, ProducerState::default()).unwrap();
        assert_eq!(&again[..], &bytes[..]);
    }
    // A corrupted batch is not laundered.
    let mut bad = BytesMut::from(&build(Compression::None, &records, ProducerState::default())[..]);
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(
        rewrite_producer_state_in_place(&mut bad, ProducerState::default()),
        Err(DecodeError::CrcMismatch { .. })
    ));
    assert!(rewrite_producer_state(&bad[..40], ProducerState::default()).is_err());
}

// ---------------------------------------------------------------------------
// Legacy message sets (magic 0 and 1), written by hand

/// One legacy message: offset, size, CRC-32, magic, attributes, [timestamp],
/// key, value.
fn legacy(
    offset: i64,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> Vec<u8> {
    let mut body = vec![magic as u8, attributes as u8];
    if magic == 1 {
        body.extend(timestamp.to_be_bytes());
    }
    for field in [key, value] {
        match field {
            None => body.extend((-1i32).to_be_bytes()),
            Some(bytes) => {
                body.extend((bytes.len() as i32).to_be_bytes());
                body.extend(bytes);
            }
        }
    }
    let mut out = offset.to_be_bytes().to_vec();
    out.extend((body.len() as i32 + 4).to_be_bytes());
    out.extend(crc32fast::hash(&body).to_be_bytes());
    out.extend(body);
    out
}

fn offsets_and_timestamps(bytes: Vec<u8>) -> Vec<(i64, i64, Option<Bytes>, Option<Bytes>)> {
    decode_all(Bytes::from(bytes))
        .into_iter()
        .flat_map(|(_, records)| records)
        .map(|r| (r.offset, r.timestamp, r.key, r.value))
        .collect()
}

fn b(s: &'static str) -> Option<Bytes> {
    Some(Bytes::from_static(s.as_bytes()))
}

#[test]
fn legacy_v0_uncompressed() {
    let mut set = legacy(10, 0, 0, 0, Some(b"k"), Some(b"a"));
    set.extend(legacy(11, 0, 0, 0, None, Some(b"b")));
    set.extend(legacy(12, 0, 0, 0, Some(b"k"), None));
    let decoded = decode_all(Bytes::from(set.clone()));
    assert_eq!(decoded.len(), 3);
    let h = decoded[0].0.header;
    assert!(decoded[0].0.is_legacy());
    assert_eq!(
        (h.magic, h.base_offset, h.last_offset(), h.records_count),
        (0, 10, 10, 1)
    );
    assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
    assert_eq!(
        offsets_and_timestamps(set),
        vec![
            (10, -1, b("k"), b("a")),
            (11, -1, None, b("b")),
            (12, -1, b("k"), None)
        ]
    );
}

#[test]
fn legacy_v1_uncompressed_and_a_bad_crc() {
    let mut set = legacy(5, 1, 0, 1000, Some(b"k"), Some(b"a"));
    set.extend(legacy(6, 1, 0x08, 2000, None, Some(b"b")));
    assert_eq!(
        offsets_and_timestamps(set.clone()),
        vec![(5, 1000, b("k"), b("a")), (6, 2000, None, b("b"))]
    );
    let decoded = decode_all(Bytes::from(set.clone()));
    assert_eq!(
        decoded[1].0.header.timestamp_type(),
        TimestampType::LogAppendTime
    );
    let last = set.len() - 1;
    set[last] ^= 1;
    let second = batches(Bytes::from(set)).nth(1).unwrap().unwrap();
    assert!(matches!(
        second.verify_crc(),
        Err(DecodeError::CrcMismatch { .. })
    ));
}

#[test]
fn legacy_v1_gzip_wrapper_has_relative_inner_offsets() {
    let mut inner = legacy(0, 1, 0, 1001, Some(b"k0"), Some(b"v0"));
    inner.extend(legacy(1, 1, 0, 1002, None, Some(b"v1")));
    inner.extend(legacy(2, 1, 0, 1003, Some(b"k2"), None));
    let compressed = gzip(&inner);
    // The wrapper carries the absolute offset of its last inner message.
    let create_time = legacy(102, 1, 0x01, 1003, None, Some(&compressed));
    let decoded = decode_all(Bytes::from(create_time.clone()));
    assert_eq!(decoded[0].0.header.records_count, -1);
    assert_eq!(decoded[0].0.header.last_offset(), 102);
    assert_eq!(
        offsets_and_timestamps(create_time),
        vec![
            (100, 1001, b("k0"), b("v0")),
            (101, 1002, None, b("v1")),
            (102, 1003, b("k2"), None)
        ]
    );
    // LogAppendTime: the wrapper's timestamp replaces the inner ones.
    let log_append = legacy(102, 1, 0x01 | 0x08, 5555, None, Some(&compressed));
    let times: Vec<i64> = offsets_and_timestamps(log_append)
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(times, vec![5555, 5555, 5555]);
    // Followed by a v2 batch: one iterator reads both transparently.
    let mut mixed = legacy(102, 1, 0x01, 1003, None, Some(&compressed));
    let mut v2 = BytesMut::from(
        &build(
            Compression::None,
            &sample_records(2, 9),
            ProducerState::default(),
        )[..],
    );
    assign_base_offset(&mut v2, 103, 0).unwrap();
    mixed.extend_from_slice(&v2);
    let offsets: Vec<i64> = offsets_and_timestamps(mixed)
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(offsets, vec![100, 101, 102, 103, 104]);
}

#[test]
fn legacy_v0_gzip_wrapper_has_absolute_inner_offsets() {
    let mut inner = legacy(50, 0, 0, 0, Some(b"a"), Some(b"1"));
    inner.extend(legacy(51, 0, 0, 0, Some(b"b"), Some(b"2")));
    let wrapper = legacy(51, 0, 0x01, 0, None, Some(&gzip(&inner)));
    assert_eq!(
        offsets_and_timestamps(wrapper),
        vec![(50, -1, b("a"), b("1")), (51, -1, b("b"), b("2"))]
    );
}

#[test]
fn legacy_compressed_wrappers_with_other_codecs() {
    let mut inner = legacy(0, 1, 0, 7, Some(b"x"), Some(b"y"));
    inner.extend(legacy(1, 1, 0, 8, Some(b"z"), None));
    for codec in [Compression::Snappy, Compression::Lz4] {
        let mut compressed = BytesMut::new();
        compress(codec, &inner, &mut compressed).unwrap();
        let wrapper = legacy(41, 1, codec.id() as i8, 8, None, Some(&compressed));
        assert_eq!(
            offsets_and_timestamps(wrapper),
            vec![(40, 7, b("x"), b("y")), (41, 8, b("z"), None)],
            "{codec}"
        );
    }
}

#[test]
fn legacy_v0_lz4_with_the_old_broken_header_checksum() {
    let mut inner = legacy(3, 0, 0, 0, Some(b"k"), Some(b"old lz4"));
    inner.extend(legacy(4, 0, 0, 0, None, Some(b"old lz4 again")));
    let mut compressed = BytesMut::new();
    compress(Compression::Lz4, &inner, &mut compressed).unwrap();
    // Old clients hashed magic + descriptor instead of the descriptor only.
    let broken = (twox_hash::XxHash32::oneshot(0, &compressed[..6]) >> 8) as u8;
    compressed[6] = broken;
    assert!(decompress(Compression::Lz4, &compressed, 1 << 20).is_err());
    let wrapper = legacy(4, 0, 0x03, 0, None, Some(&compressed));
    assert_eq!(
        offsets_and_timestamps(wrapper),
        vec![
            (3, -1, b("k"), b("old lz4")),
            (4, -1, None, b("old lz4 again"))
        ]
    );
}

#[test]
fn legacy_wrapper_errors() {
    // Inner CRC mismatch.
    let mut inner = legacy(0, 1, 0, 7, Some(b"x"), Some(b"y"));
    let last = inner.len() - 1;
    inner[last] ^= 1;
    let wrapper = legacy(0, 1, 0x01, 7, None, Some(&gzip(&inner)));
    let batch = batches(Bytes::from(wrapper)).next().unwrap().unwrap();
    batch.verify_crc().unwrap();
    assert!(matches!(
        batch.records(1 << 20),
        Err(DecodeError::CrcMismatch { .. })
    ));
    // Nested compression.
    let nested = legacy(
        0,
        1,
        0x01,
        7,
        None,
        Some(&gzip(&legacy(0, 1, 0, 7, None, Some(b"x")))),
    );
    let wrapper = legacy(0, 1, 0x01, 7, None, Some(&gzip(&nested)));
    let batch = batches(Bytes::from(wrapper)).next().unwrap().unwrap();
    assert!(matches!(
        batch.records(1 << 20),
        Err(DecodeError::Invalid(_))
    ));
    // Magic mismatch between wrapper and inner message.
    let wrapper = legacy(
        0,
        1,
        0x01,
        7,
        None,
        Some(&gzip(&legacy(0, 0, 0, 0, None, Some(b"x")))),
    );
    let batch = batches(Bytes::from(wrapper)).next().unwrap().unwrap();
    assert!(matches!(
        batch.records(1 << 20),
        Err(DecodeError::Invalid(_))
    ));
    // Truncated inner message set.
    let inner = legacy(0, 1, 0, 7, Some(b"x"), Some(b"y"));
    let wrapper = legacy(0, 1, 0x01, 7, None, Some(&gzip(&inner[..inner.len() - 1])));
    let batch = batches(Bytes::from(wrapper)).next().unwrap().unwrap();
    assert!(matches!(
        batch.records(1 << 20),
        Err(DecodeError::Truncated { .. })
    ));
}
