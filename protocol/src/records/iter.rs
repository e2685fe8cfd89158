//! Iterators: [`BatchIter`] over the entries of a fetched record set and
//! [`Records`] over the records of one entry.

use super::batch::{Batch, LOG_OVERHEAD};
use super::legacy::{self, LegacyRecords};
use super::record::{MIN_RECORD_LEN, Record, RecordRef, parse_record};
use crate::error::{DecodeError, DecodeResult};
use bytes::Bytes;
use std::iter::FusedIterator;

/// Splits a record set (the `records` field of a fetch or produce) into
/// batches. Same as [`BatchIter::new`].
pub fn batches(bytes: Bytes) -> BatchIter {
    BatchIter::new(bytes)
}

/// Iterator over the entries of a record set: v2 batches and legacy
/// messages, each as a zero-copy [`Batch`].
///
/// A trailing partial entry ends the iteration quietly: brokers cut fetch
/// responses at the size limit, mid-batch, and that is not an error
/// ([`BatchIter::remaining`] tells how many bytes were left). A corrupt
/// entry (impossible length, unknown magic, bad header) yields one error and
/// ends the iteration. CRCs are not checked here; see [`Batch::verify_crc`].
#[derive(Debug, Clone)]
pub struct BatchIter {
    rest: Bytes,
    done: bool,
}

impl BatchIter {
    /// Iterates over the entries of `bytes`.
    pub fn new(bytes: Bytes) -> Self {
        Self {
            rest: bytes,
            done: false,
        }
    }

    /// Bytes not consumed yet; after the iteration ended cleanly, the size of
    /// the trailing partial entry (0 if there was none).
    pub fn remaining(&self) -> usize {
        self.rest.len()
    }
}

impl Iterator for BatchIter {
    type Item = DecodeResult<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.rest.len() < LOG_OVERHEAD {
            self.done = true;
            return None;
        }
        let length = match self.rest.get(8..12) {
            Some(&[a, b, c, d]) => i32::from_be_bytes([a, b, c, d]),
            _ => return None,
        };
        // The smallest entry is a legacy v0 message; anything shorter is
        // corrupt, not partial (as in the Java client).
        if length < legacy::MIN_MESSAGE_SIZE_V0 {
            self.done = true;
            return Some(Err(DecodeError::InvalidLength(i64::from(length))));
        }
        let total = length as usize + LOG_OVERHEAD;
        if self.rest.len() < total {
            self.done = true;
            return None;
        }
        let raw = self.rest.split_to(total);
        let batch = Batch::parse(raw);
        if batch.is_err() {
            self.done = true;
        }
        Some(batch)
    }
}

impl FusedIterator for BatchIter {}

/// Iterator over the records of one [`Batch`], with absolute offsets and
/// timestamps. Created by [`Batch::records`].
///
/// For v2 batches it allocates nothing per record: keys, values and header
/// fields of each [`Record`] are slices of the batch buffer (one reference
/// count increment each), and a `Vec` is made only for a record that has
/// headers. [`Records::next_ref`] is the borrowing alternative that does not
/// even touch reference counts. After an error the iterator ends.
#[derive(Debug, Clone)]
pub struct Records {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    V2(V2Records),
    Legacy {
        records: LegacyRecords,
        current: Option<Record>,
    },
}

#[derive(Debug, Clone)]
struct V2Records {
    data: Bytes,
    pos: usize,
    remaining: u32,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
}

impl Records {
    pub(crate) fn v2(
        data: Bytes,
        count: u32,
        base_offset: i64,
        base_timestamp: i64,
        log_append_time: Option<i64>,
    ) -> Self {
        Self {
            inner: Inner::V2(V2Records {
                data,
                pos: 0,
                remaining: count,
                base_offset,
                base_timestamp,
                log_append_time,
            }),
        }
    }

    pub(crate) fn legacy(records: LegacyRecords) -> Self {
        Self {
            inner: Inner::Legacy {
                records,
                current: None,
            },
        }
    }

    /// The next record, borrowed from the batch buffer: no reference count is
    /// touched and nothing is allocated, headers included. Use it in a
    /// `while let` loop when the records need not outlive the batch:
    ///
    /// ```
    /// # use kafkacc_protocol::compression::Compression;
    /// # use kafkacc_protocol::records::*;
    /// # let mut builder = BatchBuilder::new(Compression::None, 0);
    /// # builder.append(0, None, Some(b"v"), &[]).unwrap();
    /// # let batch = batches(builder.build(ProducerState::default()).unwrap()).next().unwrap().unwrap();
    /// let mut records = batch.records(DEFAULT_MAX_DECOMPRESSED)?;
    /// while let Some(record) = records.next_ref() {
    ///     let record = record?;
    ///     assert_eq!(record.value, Some(&b"v"[..]));
    /// }
    /// # Ok::<(), kafkacc_protocol::DecodeError>(())
    /// ```
    #[inline(always)]
    pub fn next_ref(&mut self) -> Option<DecodeResult<RecordRef<'_>>> {
        match &mut self.inner {
            Inner::V2(v2) => v2.next_ref().map(|r| r.map(|(record, _)| record)),
            Inner::Legacy { records, current } => legacy_next_ref(records, current),
        }
    }

    /// Calls `f` with every remaining record, borrowed as by
    /// [`Records::next_ref`], and stops at the first decoding error, which
    /// it returns. The fastest way through a batch: the loop runs inside
    /// the iterator, so its state stays in registers.
    #[inline]
    pub fn for_each_ref(&mut self, mut f: impl FnMut(RecordRef<'_>)) -> DecodeResult<()> {
        let Inner::V2(v2) = &mut self.inner else {
            while let Some(record) = self.next_ref() {
                f(record?);
            }
            return Ok(());
        };
        let data: &[u8] = &v2.data;
        let mut pos = v2.pos;
        let mut remaining = v2.remaining;
        let result = loop {
            if remaining == 0 {
                break Ok(());
            }
            remaining -= 1;
            match parse_record(
                data,
                pos,
                v2.base_offset,
                v2.base_timestamp,
                v2.log_append_time,
            ) {
                Ok((record, end)) => {
                    pos = end;
                    // As `next_ref` (and Java): bytes after the last
                    // record make the last one an error.
                    if remaining == 0 && end != data.len() {
                        break Err(DecodeError::TrailingBytes(data.len() - end));
                    }
                    f(record);
                }
                Err(e) => {
                    remaining = 0;
                    break Err(e);
                }
            }
        };
        v2.pos = pos;
        v2.remaining = remaining;
        result
    }
}

impl Records {
    /// The remaining records borrowed from this iterator's buffer, without
    /// advancing it: several readers (or one, again) can walk the same
    /// records through `&self`. None for a legacy (v0/v1) entry, whose
    /// records are decoded one at a time into owned values.
    pub fn refs(&self) -> Option<RecordRefs<'_>> {
        match &self.inner {
            Inner::V2(v2) => Some(RecordRefs {
                data: &v2.data,
                pos: v2.pos,
                remaining: v2.remaining,
                base_offset: v2.base_offset,
                base_timestamp: v2.base_timestamp,
                log_append_time: v2.log_append_time,
            }),
            Inner::Legacy { .. } => None,
        }
    }
}

/// Borrowing iterator over the records of a v2 batch, from
/// [`Records::refs`]. Like [`Records::next_ref`], it ends after an error.
#[derive(Debug, Clone)]
pub struct RecordRefs<'a> {
    data: &'a [u8],
    pos: usize,
    remaining: u32,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
}

impl<'a> Iterator for RecordRefs<'a> {
    type Item = DecodeResult<RecordRef<'a>>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let data = self.data;
        match parse_record(
            data,
            self.pos,
            self.base_offset,
            self.base_timestamp,
            self.log_append_time,
        ) {
            Ok((record, end)) => {
                self.pos = end;
                if self.remaining == 0 && end != data.len() {
                    return Some(Err(DecodeError::TrailingBytes(data.len() - end)));
                }
                Some(Ok(record))
            }
            Err(e) => {
                self.remaining = 0;
                Some(Err(e))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let count = self.remaining as usize;
        let left = self.data.len().saturating_sub(self.pos);
        (count.min(left / MIN_RECORD_LEN), Some(count))
    }
}

impl FusedIterator for RecordRefs<'_> {}

#[cold]
#[inline(never)]
fn legacy_next_ref<'a>(
    records: &mut LegacyRecords,
    current: &'a mut Option<Record>,
) -> Option<DecodeResult<RecordRef<'a>>> {
    match records.next()? {
        Ok(record) => Some(Ok(RecordRef::of(current.insert(record)))),
        Err(e) => Some(Err(e)),
    }
}

impl Iterator for Records {
    type Item = DecodeResult<Record>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::V2(v2) => match v2.next_ref()? {
                Ok((record, data)) => Some(record.to_record(data)),
                Err(e) => Some(Err(e)),
            },
            Inner::Legacy { records, .. } => legacy_next(records),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            Inner::V2(v2) => {
                // The count comes from the header: never let it drive a
                // pre-allocation beyond what the bytes can hold.
                let count = v2.remaining as usize;
                let left = v2.data.len().saturating_sub(v2.pos);
                (count.min(left / MIN_RECORD_LEN), Some(count))
            }
            Inner::Legacy { records, .. } => records.size_hint(),
        }
    }
}

impl FusedIterator for Records {}

#[cold]
#[inline(never)]
fn legacy_next(records: &mut LegacyRecords) -> Option<DecodeResult<Record>> {
    records.next()
}

impl V2Records {
    /// The next record and the buffer it borrows from.
    #[inline(always)]
    fn next_ref(&mut self) -> Option<DecodeResult<(RecordRef<'_>, &Bytes)>> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let data = &self.data;
        let result = parse_record(
            data,
            self.pos,
            self.base_offset,
            self.base_timestamp,
            self.log_append_time,
        );
        match result {
            Ok((record, end)) => {
                self.pos = end;
                if self.remaining == 0 && end != data.len() {
                    return Some(Err(DecodeError::TrailingBytes(data.len() - end)));
                }
                Some(Ok((record, data)))
            }
            Err(e) => {
                self.remaining = 0;
                Some(Err(e))
            }
        }
    }
}
