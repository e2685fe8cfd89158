//! Golden vectors: CRC check values, and record batches written byte by byte
//! from the layout in FACTS.md 5.1/5.3/5.4, checked against both our decoder
//! and our builder.
#![allow(clippy::unwrap_used)]

use bytes::{BufMut, Bytes, BytesMut};
use kafkacc_protocol::compression::{Compression, compress};
use kafkacc_protocol::records::{
    BatchBuilder, ControlRecord, DEFAULT_MAX_DECOMPRESSED, Header, ProducerState, Record,
    TimestampType, batches, build_control_batch,
};

const T: i64 = 1_700_000_000_000;

#[test]
fn crc32c_check_values() {
    for crc in [crc32c::crc32c, kafkacc_protocol::records::crc32c] {
        assert_eq!(crc(b"123456789"), 0xE306_9283);
        assert_eq!(crc(b"Some String"), 608_512_271);
        assert_eq!(crc(b""), 0);
    }
}

proptest::proptest! {
    /// Ours (crc-fast) and the crc32c crate agree on any bytes, at any
    /// length and alignment (the folding paths start at 16, 64 and 256 bytes).
    #[test]
    fn crc32c_agrees_with_the_crc32c_crate(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..5_000),
        skip in 0usize..64,
    ) {
        let data = data.get(skip..).unwrap_or_default();
        proptest::prop_assert_eq!(kafkacc_protocol::records::crc32c(data), crc32c::crc32c(data));
    }
}

#[test]
fn crc32_check_value() {
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
}

/// Two records: `k1`=`hello` with headers `h`=`a` and `h`=null (same key
/// twice), then `k2`=null 5 ms later.
fn hand_built_batch() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(0i64.to_be_bytes()); // baseOffset
    b.extend(79i32.to_be_bytes()); // batchLength = 91 - 12
    b.extend((-1i32).to_be_bytes()); // partitionLeaderEpoch
    b.push(2); // magic
    b.extend(0x1890_4BEDu32.to_be_bytes()); // crc (computed independently)
    b.extend(0i16.to_be_bytes()); // attributes: no codec, CreateTime
    b.extend(1i32.to_be_bytes()); // lastOffsetDelta
    b.extend(T.to_be_bytes()); // baseTimestamp
    b.extend((T + 5).to_be_bytes()); // maxTimestamp
    b.extend((-1i64).to_be_bytes()); // producerId
    b.extend((-1i16).to_be_bytes()); // producerEpoch
    b.extend((-1i32).to_be_bytes()); // baseSequence
    b.extend(2i32.to_be_bytes()); // recordsCount
    assert_eq!(b.len(), 61);
    // record 0: length 20 (zigzag 0x28)
    b.extend([0x28, 0x00, 0x00, 0x00]); // length, attributes, timestampDelta 0, offsetDelta 0
    b.extend([0x04, b'k', b'1']); // key length 2
    b.extend([0x0a, b'h', b'e', b'l', b'l', b'o']); // value length 5
    b.push(0x04); // 2 headers
    b.extend([0x02, b'h', 0x02, b'a']); // h = "a"
    b.extend([0x02, b'h', 0x01]); // h = null
    // record 1: length 8 (zigzag 0x10)
    b.extend([0x10, 0x00, 0x0a, 0x02]); // length, attributes, timestampDelta 5, offsetDelta 1
    b.extend([0x04, b'k', b'2']); // key length 2
    b.push(0x01); // null value
    b.push(0x00); // no headers
    assert_eq!(b.len(), 91);
    b
}

fn expected_records() -> Vec<Record> {
    vec![
        Record {
            offset: 0,
            timestamp: T,
            key: Some(Bytes::from_static(b"k1")),
            value: Some(Bytes::from_static(b"hello")),
            headers: vec![Header::new("h", Some(b"a")), Header::new("h", None)],
        },
        Record {
            offset: 1,
            timestamp: T + 5,
            key: Some(Bytes::from_static(b"k2")),
            value: None,
            headers: vec![],
        },
    ]
}

#[test]
fn hand_built_batch_decodes() {
    let bytes = Bytes::from(hand_built_batch());
    let mut iter = batches(bytes.clone());
    let batch = iter.next().unwrap().unwrap();
    assert!(iter.next().is_none());
    assert_eq!(iter.remaining(), 0);
    batch.verify_crc().unwrap();
    let h = batch.header;
    assert_eq!(
        (
            h.base_offset,
            h.batch_length,
            h.partition_leader_epoch,
            h.magic,
            h.crc
        ),
        (0, 79, -1, 2, 0x1890_4BED)
    );
    assert_eq!(
        (
            h.attributes,
            h.last_offset_delta,
            h.base_timestamp,
            h.max_timestamp
        ),
        (0, 1, T, T + 5)
    );
    assert_eq!(
        (
            h.producer_id,
            h.producer_epoch,
            h.base_sequence,
            h.records_count
        ),
        (-1, -1, -1, 2)
    );
    assert_eq!(h.compression().unwrap(), Compression::None);
    assert_eq!(h.timestamp_type(), TimestampType::CreateTime);
    assert!(!h.is_transactional() && !h.is_control());
    assert_eq!(h.last_offset(), 1);
    assert_eq!(batch.raw(), &bytes);
    assert_eq!(batch.control_record().unwrap(), None);

    let records: Vec<Record> = batch
        .records(DEFAULT_MAX_DECOMPRESSED)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(records, expected_records());
}

#[test]
fn builder_reproduces_the_hand_built_batch() {
    let mut builder = BatchBuilder::new(Compression::None, T);
    for r in expected_records() {
        builder
            .append(
                r.timestamp,
                r.key.as_deref(),
                r.value.as_deref(),
                &r.headers,
            )
            .unwrap();
    }
    assert_eq!(builder.estimated_size(), 91);
    assert_eq!(builder.record_count(), 2);
    let built = builder.build(ProducerState::default()).unwrap();
    assert_eq!(&built[..], &hand_built_batch()[..]);
}

#[test]
fn log_append_time_and_base_offset_are_applied() {
    let mut raw = hand_built_batch();
    raw[..8].copy_from_slice(&1000i64.to_be_bytes());
    raw[22] = 0x08; // attributes: LogAppendTime (low byte of the int16)
    raw[35..43].copy_from_slice(&(T + 99).to_be_bytes()); // maxTimestamp = append time
    let crc = crc32c::crc32c(&raw[21..]);
    raw[17..21].copy_from_slice(&crc.to_be_bytes());
    let batch = batches(Bytes::from(raw)).next().unwrap().unwrap();
    batch.verify_crc().unwrap();
    assert_eq!(batch.header.timestamp_type(), TimestampType::LogAppendTime);
    let got: Vec<(i64, i64)> = batch
        .records(DEFAULT_MAX_DECOMPRESSED)
        .unwrap()
        .map(|r| r.map(|r| (r.offset, r.timestamp)).unwrap())
        .collect();
    assert_eq!(got, vec![(1000, T + 99), (1001, T + 99)]);
}

/// A COMMIT marker from producer 1234 epoch 5, coordinator epoch 7.
fn hand_built_commit_marker() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend(0i64.to_be_bytes()); // baseOffset
    b.extend(66i32.to_be_bytes()); // batchLength = 78 - 12
    b.extend((-1i32).to_be_bytes()); // partitionLeaderEpoch
    b.push(2); // magic
    b.extend(0xC11C_2782u32.to_be_bytes()); // crc (computed independently)
    b.extend(0x30i16.to_be_bytes()); // attributes: transactional | control
    b.extend(0i32.to_be_bytes()); // lastOffsetDelta
    b.extend(T.to_be_bytes()); // baseTimestamp
    b.extend(T.to_be_bytes()); // maxTimestamp
    b.extend(1234i64.to_be_bytes()); // producerId
    b.extend(5i16.to_be_bytes()); // producerEpoch
    b.extend((-1i32).to_be_bytes()); // baseSequence
    b.extend(1i32.to_be_bytes()); // recordsCount
    b.extend([0x20, 0x00, 0x00, 0x00]); // length 16, attributes, deltas
    b.extend([0x08, 0, 0, 0, 1]); // key: version 0, type 1 (COMMIT)
    b.extend([0x0c, 0, 0, 0, 0, 0, 7]); // value: version 0, coordinator epoch 7
    b.push(0x00); // no headers
    assert_eq!(b.len(), 78);
    b
}

#[test]
fn control_batch_commit_marker() {
    let raw = hand_built_commit_marker();
    let batch = batches(Bytes::from(raw.clone())).next().unwrap().unwrap();
    batch.verify_crc().unwrap();
    assert!(batch.header.is_control() && batch.header.is_transactional());
    assert_eq!(
        (batch.header.producer_id, batch.header.producer_epoch),
        (1234, 5)
    );
    assert_eq!(
        batch.control_record().unwrap(),
        Some(ControlRecord::Commit {
            coordinator_epoch: 7
        })
    );

    let built = build_control_batch(
        &ControlRecord::Commit {
            coordinator_epoch: 7,
        },
        1234,
        5,
        T,
    )
    .unwrap();
    assert_eq!(&built[..], &raw[..]);

    let abort = build_control_batch(
        &ControlRecord::Abort {
            coordinator_epoch: 3,
        },
        1234,
        6,
        T,
    )
    .unwrap();
    let batch = batches(abort).next().unwrap().unwrap();
    batch.verify_crc().unwrap();
    assert_eq!(
        batch.control_record().unwrap(),
        Some(ControlRecord::Abort {
            coordinator_epoch: 3
        })
    );
}

#[test]
fn unknown_control_types_are_kept_not_rejected() {
    let record = ControlRecord::Other {
        control_type: 42,
        value: Some(Bytes::from_static(b"\x00\x00xyz")),
    };
    let built = build_control_batch(&record, -1, -1, T).unwrap();
    let batch = batches(built).next().unwrap().unwrap();
    assert!(batch.header.is_control() && !batch.header.is_transactional());
    assert_eq!(batch.control_record().unwrap(), Some(record));
    // A key shorter than 4 bytes is invalid.
    assert!(ControlRecord::parse(Some(&[0, 0, 1]), None).is_err());
    assert!(
        ControlRecord::parse(Some(&[0, 0, 0, 1]), Some(&Bytes::from_static(&[0, 0, 0]))).is_err()
    );
}

#[test]
fn codec_framing_headers() {
    let input = b"framing framing framing framing".repeat(10);
    let mut out = BytesMut::new();
    compress(Compression::Snappy, &input, &mut out).unwrap();
    assert_eq!(
        &out[..16],
        &[
            0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1
        ]
    );
    let chunk_len = u32::from_be_bytes(out[16..20].try_into().unwrap()) as usize;
    assert_eq!(out.len(), 20 + chunk_len);

    let mut out = BytesMut::new();
    compress(Compression::Lz4, &input, &mut out).unwrap();
    assert_eq!(&out[..7], &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
    assert_eq!(&out[out.len() - 4..], &[0, 0, 0, 0]);

    let mut out = BytesMut::new();
    compress(Compression::Gzip, &input, &mut out).unwrap();
    assert_eq!(&out[..3], &[0x1f, 0x8b, 0x08]);

    let mut out = BytesMut::new();
    compress(Compression::Zstd, &input, &mut out).unwrap();
    assert_eq!(&out[..4], &[0x28, 0xb5, 0x2f, 0xfd]);

    let mut out = BytesMut::new();
    out.put_slice(b"prefix");
    compress(Compression::None, &input, &mut out).unwrap();
    assert_eq!(&out[6..], &input[..]);
}
