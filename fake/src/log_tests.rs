//! Produce/fetch/idempotence semantics of one partition log.

use super::*;
use kafkacc_protocol::compression::Compression;
use kafkacc_protocol::records::{BatchBuilder, ProducerState};

fn batch(values: &[&str], ts: i64, producer: ProducerState) -> Bytes {
    let mut b = BatchBuilder::new(Compression::None, ts);
    for (i, v) in values.iter().enumerate() {
        b.append(ts + i as i64, None, Some(v.as_bytes()), &[])
            .unwrap();
    }
    b.build(producer).unwrap()
}

fn plain(values: &[&str]) -> Bytes {
    batch(values, 1_000, ProducerState::default())
}

fn idem(pid: i64, epoch: i16, seq: i32, values: &[&str]) -> Bytes {
    batch(
        values,
        1_000,
        ProducerState {
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            transactional: false,
        },
    )
}

fn txn(pid: i64, seq: i32, values: &[&str]) -> Bytes {
    batch(
        values,
        1_000,
        ProducerState {
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: seq,
            transactional: true,
        },
    )
}

const MAX: usize = 1 << 20;

fn offsets(bytes: &[Bytes]) -> Vec<i64> {
    bytes
        .iter()
        .flat_map(|b| {
            Batch::parse(b.clone())
                .unwrap()
                .records(MAX)
                .unwrap()
                .map(|r| r.unwrap().offset)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn appends_get_consecutive_base_offsets_and_keep_a_valid_crc() {
    let mut log = PartitionLog::default();
    assert_eq!(
        log.append(plain(&["a", "b", "c"]), 0, MAX),
        Ok(Appended::Written(0))
    );
    assert_eq!(log.append(plain(&["d"]), 0, MAX), Ok(Appended::Written(3)));
    assert_eq!(log.high_watermark(), 4);
    let read = log.read(0, 4, MAX, true);
    assert_eq!(offsets(&read), vec![0, 1, 2, 3]);
    for b in &read {
        Batch::parse(b.clone()).unwrap().verify_crc().unwrap();
    }
    // A read from the middle of a batch starts at that batch.
    assert_eq!(offsets(&log.read(2, 4, MAX, true)), vec![0, 1, 2, 3]);
    assert_eq!(offsets(&log.read(3, 4, MAX, true)), vec![3]);
    assert!(log.read(4, 4, MAX, true).is_empty());
}

#[test]
fn a_corrupted_batch_is_refused() {
    let mut log = PartitionLog::default();
    let mut bytes = BytesMut::from(plain(&["hello"]).as_ref());
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    assert_eq!(
        log.append(bytes.freeze(), 0, MAX),
        Err(ErrorCode::CORRUPT_MESSAGE)
    );
    assert_eq!(
        log.append(Bytes::from_static(b"garbage"), 0, MAX),
        Err(ErrorCode::CORRUPT_MESSAGE)
    );
    let mut two = BytesMut::from(plain(&["a"]).as_ref());
    two.extend_from_slice(&plain(&["b"]));
    assert_eq!(
        log.append(two.freeze(), 0, MAX),
        Err(ErrorCode::INVALID_RECORD)
    );
    assert_eq!(
        log.append(plain(&["a"]), 0, 10),
        Err(ErrorCode::MESSAGE_TOO_LARGE)
    );
    assert_eq!(log.high_watermark(), 0);
}

#[test]
fn a_producer_the_partition_does_not_know_may_start_at_any_sequence() {
    // Kafka accepts it (the producer's state may have been removed by
    // retention); a client must not pipeline a partition's first batches.
    let mut log = PartitionLog::default();
    assert_eq!(
        log.append(idem(5, 0, 7, &["x"]), 0, MAX),
        Ok(Appended::Written(0))
    );
    assert_eq!(
        log.append(idem(5, 0, 0, &["a"]), 0, MAX),
        Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
}

#[test]
fn idempotent_retries_return_the_original_offset_and_gaps_are_refused() {
    let mut log = PartitionLog::default();
    assert_eq!(
        log.append(idem(5, 0, 0, &["a", "b"]), 0, MAX),
        Ok(Appended::Written(0))
    );
    assert_eq!(
        log.append(idem(5, 0, 2, &["c"]), 0, MAX),
        Ok(Appended::Written(2))
    );
    assert_eq!(
        log.append(idem(5, 0, 0, &["a", "b"]), 0, MAX),
        Ok(Appended::Duplicate(0))
    );
    assert_eq!(
        log.append(idem(5, 0, 7, &["x"]), 0, MAX),
        Err(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER)
    );
    assert_eq!(log.high_watermark(), 3);
    // A bumped epoch restarts at 0; the old epoch is fenced.
    assert_eq!(
        log.append(idem(5, 1, 0, &["d"]), 0, MAX),
        Ok(Appended::Written(3))
    );
    assert_eq!(
        log.append(idem(5, 0, 3, &["e"]), 0, MAX),
        Err(ErrorCode::INVALID_PRODUCER_EPOCH)
    );
}

#[test]
fn transactions_hold_the_lso_and_aborts_are_listed() {
    let mut log = PartitionLog::default();
    log.append(plain(&["p0"]), 0, MAX).unwrap();
    log.append(txn(9, 0, &["t1", "t2"]), 0, MAX).unwrap();
    assert_eq!(log.last_stable_offset(), 1);
    assert_eq!(log.high_watermark(), 3);
    log.append(plain(&["p3"]), 0, MAX).unwrap();
    assert_eq!(
        log.last_stable_offset(),
        1,
        "the open transaction holds the LSO"
    );
    // read_committed stops at the LSO.
    assert_eq!(
        offsets(&log.read(0, log.last_stable_offset(), MAX, true)),
        vec![0]
    );
    let marker = log.append_marker(9, 0, false, 0, 5_000).unwrap();
    assert_eq!(marker, 4);
    assert_eq!(log.last_stable_offset(), 5);
    assert_eq!(
        log.aborted_between(0, 5),
        vec![AbortedTxn {
            producer_id: 9,
            first_offset: 1,
            last_offset: 4
        }]
    );
    assert!(log.aborted_between(5, 5).is_empty());
    let control = Batch::parse(log.read(4, 5, MAX, true)[0].clone()).unwrap();
    assert!(control.header.is_control());
    assert_eq!(
        control.control_record().unwrap(),
        Some(ControlRecord::Abort {
            coordinator_epoch: 0
        })
    );
    // A committed transaction leaves no aborted entry.
    log.append(txn(9, 2, &["t5"]), 0, MAX).unwrap();
    log.append_marker(9, 0, true, 0, 6_000).unwrap();
    assert_eq!(log.aborted_between(0, 100).len(), 1);
    assert_eq!(log.last_stable_offset(), log.high_watermark());
}

#[test]
fn reads_respect_max_bytes_but_always_return_one_batch() {
    let mut log = PartitionLog::default();
    for _ in 0..10 {
        log.append(plain(&["0123456789"]), 0, MAX).unwrap();
    }
    let one = log.read(0, 10, 1, true);
    assert_eq!(one.len(), 1, "KIP-74: the first batch even if too big");
    assert!(log.read(0, 10, 1, false).is_empty());
    let size = one[0].len();
    assert_eq!(log.read(0, 10, size * 3, true).len(), 3);
}

#[test]
fn timestamps_are_searchable() {
    let mut log = PartitionLog::default();
    log.append(batch(&["a", "b"], 100, ProducerState::default()), 0, MAX)
        .unwrap();
    log.append(batch(&["c", "d"], 500, ProducerState::default()), 0, MAX)
        .unwrap();
    log.append(batch(&["e"], 300, ProducerState::default()), 0, MAX)
        .unwrap();
    assert_eq!(log.offset_for_timestamp(0), Some((0, 100)));
    assert_eq!(log.offset_for_timestamp(101), Some((1, 101)));
    assert_eq!(log.offset_for_timestamp(400), Some((2, 500)));
    assert_eq!(log.offset_for_timestamp(502), None);
    assert_eq!(log.max_timestamp(), Some((3, 501)));
}

#[test]
fn discarding_only_moves_offsets() {
    let mut log = PartitionLog::default();
    assert_eq!(log.append_discarding(&plain(&["a", "b"])), Ok(0));
    assert_eq!(log.append_discarding(&plain(&["c"])), Ok(2));
    assert_eq!(log.high_watermark(), 3);
    assert_eq!(log.batch_count(), 0);
}

#[test]
fn delete_records_moves_the_log_start_and_drops_whole_batches_below_it() {
    let mut log = PartitionLog::default();
    log.append(plain(&["a", "b", "c"]), 0, MAX).unwrap();
    log.append(plain(&["d", "e"]), 0, MAX).unwrap();
    assert_eq!(log.delete_before(4), Ok(4));
    assert_eq!(log.log_start(), 4);
    assert_eq!(log.batch_count(), 1, "the batch holding offset 4 stays");
    assert_eq!(offsets(&log.read(4, 5, MAX, true)), vec![3, 4]);
    // Never backwards; -1 is the high watermark; past it is out of range.
    assert_eq!(log.delete_before(2), Ok(4));
    assert_eq!(log.delete_before(6), Err(ErrorCode::OFFSET_OUT_OF_RANGE));
    assert_eq!(log.delete_before(-2), Err(ErrorCode::OFFSET_OUT_OF_RANGE));
    assert_eq!(log.delete_before(-1), Ok(5));
    assert_eq!(log.batch_count(), 0);
    assert_eq!(log.high_watermark(), 5);
    assert_eq!(log.append(plain(&["f"]), 0, MAX), Ok(Appended::Written(5)));
}
