//! One partition's log: whole record batches as the producer sent them,
//! with broker-assigned base offsets, the high watermark (= log end: there
//! is no replication), the last stable offset, and the aborted
//! transactions that `read_committed` consumers skip.
//!
//! Invariants: `batches` is sorted by offset without gaps or overlaps
//! (every append starts at `end`); an open transaction's first offset is
//! the base offset of a batch in the log, so the LSO always falls on a
//! batch boundary and a read up to it never splits a batch.

use crate::sequence::{Sequences, Verdict, last_sequence};
use bytes::{Bytes, BytesMut};
use kafkacc_protocol::ErrorCode;
use kafkacc_protocol::records::{
    Batch, BatchHeader, ControlRecord, DEFAULT_MAX_DECOMPRESSED, MAGIC_V2, assign_base_offset,
    batches, build_control_batch,
};
use std::collections::BTreeMap;

/// A batch in the log.
#[derive(Debug, Clone)]
pub(crate) struct StoredBatch {
    pub base: i64,
    pub last: i64,
    pub max_timestamp: i64,
    pub bytes: Bytes,
}

/// A transaction that ended with an ABORT marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    pub last_offset: i64,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Written at this base offset.
    Written(i64),
    /// A retry of a batch already written at this base offset.
    Duplicate(i64),
}

/// A partition's log.
#[derive(Debug, Default)]
pub(crate) struct PartitionLog {
    batches: Vec<StoredBatch>,
    log_start: i64,
    end: i64,
    sequences: Sequences,
    /// Producer id → first offset of its open transaction here.
    open_txns: BTreeMap<i64, i64>,
    aborted: Vec<AbortedTxn>,
}

impl PartitionLog {
    /// First offset still in the log.
    pub(crate) fn log_start(&self) -> i64 {
        self.log_start
    }

    /// High watermark (every appended offset is "replicated" at once).
    pub(crate) fn high_watermark(&self) -> i64 {
        self.end
    }

    /// Last stable offset: the first offset of the oldest open transaction,
    /// or the high watermark.
    pub(crate) fn last_stable_offset(&self) -> i64 {
        self.open_txns
            .values()
            .copied()
            .min()
            .unwrap_or(self.end)
            .min(self.end)
    }

    /// Validates and appends a produce payload (exactly one v2 batch, as
    /// Kafka requires for Produce v3+), assigning its base offset.
    pub(crate) fn append(
        &mut self,
        records: Bytes,
        leader_epoch: i32,
        max_batch_bytes: usize,
    ) -> Result<Appended, ErrorCode> {
        let batch = single_batch(records, max_batch_bytes)?;
        batch.verify_crc().map_err(|_| ErrorCode::CORRUPT_MESSAGE)?;
        let h = batch.header;
        if h.is_control() {
            return Err(ErrorCode::INVALID_RECORD);
        }
        let idempotent = h.producer_id >= 0 && h.base_sequence >= 0;
        let last_seq = last_sequence(h.base_sequence, h.last_offset_delta);
        if idempotent {
            if let Verdict::Duplicate(base) =
                self.sequences
                    .check(h.producer_id, h.producer_epoch, h.base_sequence, last_seq)?
            {
                return Ok(Appended::Duplicate(base));
            }
        } else if h.is_transactional() {
            return Err(ErrorCode::INVALID_RECORD);
        }
        let base = self.end;
        let mut bytes = BytesMut::from(batch.raw().as_ref());
        assign_base_offset(&mut bytes, base, leader_epoch)
            .map_err(|_| ErrorCode::CORRUPT_MESSAGE)?;
        let last = base + i64::from(h.last_offset_delta.max(0));
        if idempotent {
            self.sequences.record(
                h.producer_id,
                h.producer_epoch,
                h.base_sequence,
                last_seq,
                base,
            );
        }
        if h.is_transactional() {
            self.open_txns.entry(h.producer_id).or_insert(base);
        }
        self.push(StoredBatch {
            base,
            last,
            max_timestamp: h.max_timestamp,
            bytes: bytes.freeze(),
        });
        Ok(Appended::Written(base))
    }

    /// DeleteRecords: moves the log start up to `offset` (-1: the high
    /// watermark) and drops the batches wholly below it; returns the new
    /// log start (the low watermark). A batch holding the new start stays
    /// (a fetch from there skips its earlier records, as Kafka's does).
    /// OFFSET_OUT_OF_RANGE for an offset below -1 or past the high
    /// watermark.
    pub(crate) fn delete_before(&mut self, offset: i64) -> Result<i64, ErrorCode> {
        let offset = if offset == -1 { self.end } else { offset };
        if offset < 0 || offset > self.end {
            return Err(ErrorCode::OFFSET_OUT_OF_RANGE);
        }
        if offset > self.log_start {
            self.log_start = offset;
            let keep = self.batches.partition_point(|b| b.last < offset);
            self.batches.drain(..keep);
        }
        Ok(self.log_start)
    }

    /// Acknowledges a batch without storing it (the benchmark mode): only
    /// the offsets advance.
    pub(crate) fn append_discarding(&mut self, records: &Bytes) -> Result<i64, ErrorCode> {
        let header = BatchHeader::parse(records).map_err(|_| ErrorCode::CORRUPT_MESSAGE)?;
        let base = self.end;
        self.end += i64::from(header.last_offset_delta.max(0)) + 1;
        self.log_start = self.end;
        Ok(base)
    }

    /// Writes a COMMIT or ABORT marker for `producer_id` and closes its open
    /// transaction here. Returns the marker's offset.
    pub(crate) fn append_marker(
        &mut self,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        leader_epoch: i32,
        timestamp: i64,
    ) -> Result<i64, ErrorCode> {
        let record = if commit {
            ControlRecord::Commit {
                coordinator_epoch: 0,
            }
        } else {
            ControlRecord::Abort {
                coordinator_epoch: 0,
            }
        };
        let bytes = build_control_batch(&record, producer_id, producer_epoch, timestamp)
            .map_err(|_| ErrorCode::UNKNOWN_SERVER_ERROR)?;
        let offset = self.end;
        let mut bytes = BytesMut::from(bytes.as_ref());
        assign_base_offset(&mut bytes, offset, leader_epoch)
            .map_err(|_| ErrorCode::UNKNOWN_SERVER_ERROR)?;
        self.sequences.bump_epoch(producer_id, producer_epoch);
        if let Some(first) = self.open_txns.remove(&producer_id) {
            if !commit {
                self.aborted.push(AbortedTxn {
                    producer_id,
                    first_offset: first,
                    last_offset: offset,
                });
            }
        }
        self.push(StoredBatch {
            base: offset,
            last: offset,
            max_timestamp: timestamp,
            bytes: bytes.freeze(),
        });
        Ok(offset)
    }

    fn push(&mut self, batch: StoredBatch) {
        self.end = batch.last + 1;
        self.batches.push(batch);
    }

    /// Whole batches from the one holding `from`, below `upper`, until
    /// `max_bytes` (the first batch is returned even when larger, when
    /// `at_least_one`, so a consumer can always make progress — KIP-74).
    pub(crate) fn read(
        &self,
        from: i64,
        upper: i64,
        max_bytes: usize,
        at_least_one: bool,
    ) -> Vec<Bytes> {
        let start = self.batches.partition_point(|b| b.last < from);
        let mut out = Vec::new();
        let mut size = 0usize;
        for b in self.batches[start..].iter().take_while(|b| b.base < upper) {
            let len = b.bytes.len();
            if size + len > max_bytes && !(out.is_empty() && at_least_one) {
                break;
            }
            size += len;
            out.push(b.bytes.clone());
        }
        out
    }

    /// Aborted transactions overlapping `from..upper`.
    pub(crate) fn aborted_between(&self, from: i64, upper: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < upper)
            .copied()
            .collect()
    }

    /// The first record with a timestamp at or after `ts`: (offset, timestamp).
    pub(crate) fn offset_for_timestamp(&self, ts: i64) -> Option<(i64, i64)> {
        self.batches
            .iter()
            .filter(|b| b.max_timestamp >= ts)
            .find_map(|b| records_of(b).into_iter().find(|(_, t)| *t >= ts))
    }

    /// The record with the largest timestamp (the first of equals).
    pub(crate) fn max_timestamp(&self) -> Option<(i64, i64)> {
        let mut best: Option<&StoredBatch> = None;
        for b in &self.batches {
            if is_control(&b.bytes) {
                continue;
            }
            if best.is_none_or(|x| b.max_timestamp > x.max_timestamp) {
                best = Some(b);
            }
        }
        let b = best?;
        records_of(b)
            .into_iter()
            .find(|(_, t)| *t == b.max_timestamp)
    }

    /// Number of stored batches (tests).
    #[cfg(test)]
    pub(crate) fn batch_count(&self) -> usize {
        self.batches.len()
    }
}

fn is_control(bytes: &Bytes) -> bool {
    BatchHeader::parse(bytes).is_ok_and(|h| h.is_control())
}

/// (offset, timestamp) of every record of a data batch.
fn records_of(b: &StoredBatch) -> Vec<(i64, i64)> {
    let Ok(batch) = Batch::parse(b.bytes.clone()) else {
        return Vec::new();
    };
    if batch.header.is_control() {
        return Vec::new();
    }
    let Ok(records) = batch.records(DEFAULT_MAX_DECOMPRESSED) else {
        return Vec::new();
    };
    records
        .filter_map(Result::ok)
        .map(|r| (r.offset, r.timestamp))
        .collect()
}

/// The one v2 batch of a produce payload.
fn single_batch(records: Bytes, max_batch_bytes: usize) -> Result<Batch, ErrorCode> {
    if records.len() > max_batch_bytes {
        return Err(ErrorCode::MESSAGE_TOO_LARGE);
    }
    let mut iter = batches(records);
    let first = match iter.next() {
        Some(Ok(b)) => b,
        _ => return Err(ErrorCode::CORRUPT_MESSAGE),
    };
    if iter.next().is_some() || iter.remaining() != 0 {
        return Err(ErrorCode::INVALID_RECORD);
    }
    if first.header.magic != MAGIC_V2 {
        return Err(ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT);
    }
    Ok(first)
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
