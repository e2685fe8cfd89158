//! The 61-byte v2 batch header (FACTS.md 5.1, 5.2) and [`Batch`], one entry
//! of a record set: a v2 batch or a legacy message.

use super::control::ControlRecord;
use super::iter::Records;
use super::legacy;
use crate::compression::{Compression, DEFAULT_MAX_DECOMPRESSED, decompress};
use crate::error::{DecodeError, DecodeResult};
use bytes::{Buf, BufMut, Bytes};

/// Size of the v2 batch header; the records section starts here.
pub const BATCH_HEADER_LEN: usize = 61;
/// `baseOffset` + `batchLength`: the bytes before the length-counted part.
pub const LOG_OVERHEAD: usize = 12;
/// Magic byte of v2 record batches.
pub const MAGIC_V2: i8 = 2;
/// The CRC covers the batch from this offset (attributes) to its end.
pub(crate) const CRC_START: usize = 21;
pub(crate) const CRC_OFFSET: usize = 17;
pub(crate) const MAGIC_OFFSET: usize = 16;
pub(crate) const PARTITION_LEADER_EPOCH_OFFSET: usize = 12;
pub(crate) const PRODUCER_ID_OFFSET: usize = 43;
pub(crate) const ATTRIBUTES_OFFSET: usize = 21;

/// Attribute bit: timestamps are LogAppendTime.
pub const ATTR_LOG_APPEND_TIME: i16 = 0x08;
/// Attribute bit: the batch belongs to a transaction.
pub const ATTR_TRANSACTIONAL: i16 = 0x10;
/// Attribute bit: the batch holds a control record.
pub const ATTR_CONTROL: i16 = 0x20;
/// Attribute bit: `baseTimestamp` holds the delete horizon.
pub const ATTR_DELETE_HORIZON: i16 = 0x40;

/// Timestamp type of a batch (attribute bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// Set by the producer (0).
    CreateTime,
    /// Set by the broker when it appended the batch (1).
    LogAppendTime,
}

/// The header of a v2 record batch, field for field.
///
/// Legacy (magic 0/1) messages are described with the same fields (see
/// [`Batch`]): `base_offset` is the message offset, `crc` its CRC-32,
/// `attributes` its attribute byte, `base_timestamp`/`max_timestamp` its
/// timestamp (-1 for v0), `last_offset_delta` 0, producer fields -1, and
/// `records_count` 1, or -1 for a compressed wrapper whose count is not
/// known before decompressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BatchHeader {
    /// Offset of the first record (assigned by the broker; 0 from a producer).
    pub base_offset: i64,
    /// Bytes after the length field (total size - 12).
    pub batch_length: i32,
    /// Leader epoch stamped by the broker; -1 from a producer.
    pub partition_leader_epoch: i32,
    /// Format version: 2 (or 0/1 for legacy messages).
    pub magic: i8,
    /// CRC-32C of the bytes from `attributes` to the end.
    pub crc: u32,
    /// Codec, timestamp type, transactional, control and delete-horizon bits.
    pub attributes: i16,
    /// `lastOffset - baseOffset`.
    pub last_offset_delta: i32,
    /// Timestamp of the first record (or the delete horizon, see attributes).
    pub base_timestamp: i64,
    /// Largest record timestamp, or the broker's append time (LogAppendTime).
    pub max_timestamp: i64,
    /// Producer id; -1 when not idempotent.
    pub producer_id: i64,
    /// Producer epoch; -1 when not idempotent.
    pub producer_epoch: i16,
    /// Sequence number of the first record; -1 when not idempotent.
    pub base_sequence: i32,
    /// Number of records in the batch.
    pub records_count: i32,
}

impl BatchHeader {
    /// Parses the first 61 bytes of a v2 batch. Checks nothing but length.
    pub fn parse(bytes: &[u8]) -> DecodeResult<Self> {
        let Some((head, _)) = bytes.split_first_chunk::<BATCH_HEADER_LEN>() else {
            return Err(DecodeError::Truncated {
                needed: BATCH_HEADER_LEN,
                remaining: bytes.len(),
            });
        };
        // Exactly 61 bytes: the reads below cannot run short.
        let mut buf: &[u8] = head;
        Ok(Self {
            base_offset: buf.get_i64(),
            batch_length: buf.get_i32(),
            partition_leader_epoch: buf.get_i32(),
            magic: buf.get_i8(),
            crc: buf.get_u32(),
            attributes: buf.get_i16(),
            last_offset_delta: buf.get_i32(),
            base_timestamp: buf.get_i64(),
            max_timestamp: buf.get_i64(),
            producer_id: buf.get_i64(),
            producer_epoch: buf.get_i16(),
            base_sequence: buf.get_i32(),
            records_count: buf.get_i32(),
        })
    }

    /// The 61 header bytes.
    pub fn to_bytes(&self) -> [u8; BATCH_HEADER_LEN] {
        let mut bytes = [0u8; BATCH_HEADER_LEN];
        let mut out = &mut bytes[..];
        out.put_i64(self.base_offset);
        out.put_i32(self.batch_length);
        out.put_i32(self.partition_leader_epoch);
        out.put_i8(self.magic);
        out.put_u32(self.crc);
        out.put_i16(self.attributes);
        out.put_i32(self.last_offset_delta);
        out.put_i64(self.base_timestamp);
        out.put_i64(self.max_timestamp);
        out.put_i64(self.producer_id);
        out.put_i16(self.producer_epoch);
        out.put_i32(self.base_sequence);
        out.put_i32(self.records_count);
        bytes
    }

    /// The codec of the records section.
    pub fn compression(&self) -> DecodeResult<Compression> {
        Compression::from_attributes(self.attributes)
    }

    /// Whether the batch is part of a transaction.
    pub fn is_transactional(&self) -> bool {
        self.magic >= MAGIC_V2 && self.attributes & ATTR_TRANSACTIONAL != 0
    }

    /// Whether the batch holds a control record (transaction marker, ...).
    pub fn is_control(&self) -> bool {
        self.magic >= MAGIC_V2 && self.attributes & ATTR_CONTROL != 0
    }

    /// CreateTime or LogAppendTime.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.magic > 0 && self.attributes & ATTR_LOG_APPEND_TIME != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// The delete horizon that compaction stored in `base_timestamp`, if any.
    pub fn delete_horizon_ms(&self) -> Option<i64> {
        (self.magic >= MAGIC_V2 && self.attributes & ATTR_DELETE_HORIZON != 0)
            .then_some(self.base_timestamp)
    }

    /// Offset of the last record: `base_offset + last_offset_delta`.
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// Offset after this batch, where the next fetch starts.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// Total encoded size, `batch_length + 12`.
    pub fn size(&self) -> usize {
        (self.batch_length.max(0) as usize).saturating_add(LOG_OVERHEAD)
    }
}

/// One entry of a record set: a v2 batch, or a legacy (magic 0/1) message
/// described by the same [`BatchHeader`] fields.
///
/// The batch keeps its raw bytes (a zero-copy slice of the fetched buffer);
/// nothing is decompressed or decoded until [`Batch::records`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The header (synthesised from the message for legacy entries).
    pub header: BatchHeader,
    raw: Bytes,
}

impl Batch {
    /// Parses a v2 batch; `raw` must be exactly one batch (`batch_length + 12`
    /// bytes) with magic 2.
    pub(crate) fn v2(raw: Bytes) -> DecodeResult<Self> {
        let length = match raw.get(8..12) {
            Some(&[a, b, c, d]) => i32::from_be_bytes([a, b, c, d]),
            _ => {
                return Err(DecodeError::Truncated {
                    needed: LOG_OVERHEAD,
                    remaining: raw.len(),
                });
            }
        };
        if length < (BATCH_HEADER_LEN - LOG_OVERHEAD) as i32
            || length as usize + LOG_OVERHEAD != raw.len()
        {
            return Err(DecodeError::InvalidLength(i64::from(length)));
        }
        let header = BatchHeader::parse(&raw)?;
        if header.magic != MAGIC_V2 {
            return Err(DecodeError::UnsupportedMagic(header.magic));
        }
        Ok(Self { header, raw })
    }

    /// Wraps a legacy message whose header was synthesised by `legacy`.
    pub(crate) fn legacy(header: BatchHeader, raw: Bytes) -> Self {
        Self { header, raw }
    }

    /// Parses one complete entry (a v2 batch or a legacy message) that fills
    /// `raw` exactly.
    pub fn parse(raw: Bytes) -> DecodeResult<Self> {
        let magic = *raw.get(MAGIC_OFFSET).ok_or(DecodeError::Truncated {
            needed: MAGIC_OFFSET + 1,
            remaining: raw.len(),
        })? as i8;
        match magic {
            MAGIC_V2 => Self::v2(raw),
            0 | 1 => legacy::parse_message(raw),
            other => Err(DecodeError::UnsupportedMagic(other)),
        }
    }

    /// Whether this is a legacy (magic 0 or 1) message.
    pub fn is_legacy(&self) -> bool {
        self.header.magic < MAGIC_V2
    }

    /// The whole encoded entry, header included.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// The records section as stored (still compressed), or for a legacy
    /// message its bytes after the offset and size fields.
    pub fn body(&self) -> Bytes {
        if self.is_legacy() {
            self.raw.slice(LOG_OVERHEAD.min(self.raw.len())..)
        } else {
            self.raw.slice(BATCH_HEADER_LEN.min(self.raw.len())..)
        }
    }

    /// Checks the stored CRC: CRC-32C over bytes 21.. for v2, CRC-32 over
    /// magic.. for legacy messages.
    pub fn verify_crc(&self) -> DecodeResult<()> {
        let actual = if self.is_legacy() {
            crc32fast::hash(self.raw.get(MAGIC_OFFSET..).unwrap_or_default())
        } else {
            super::crc::crc32c(self.raw.get(CRC_START..).unwrap_or_default())
        };
        if actual == self.header.crc {
            Ok(())
        } else {
            Err(DecodeError::CrcMismatch {
                expected: self.header.crc,
                actual,
            })
        }
    }

    /// Decompresses the records section (once, into one buffer, at most
    /// `max_decompressed` bytes) and returns an iterator over its records
    /// with absolute offsets and timestamps. Uncompressed batches are not
    /// copied. Does not check the CRC: call [`Batch::verify_crc`] for that.
    pub fn records(&self, max_decompressed: usize) -> DecodeResult<Records> {
        if self.is_legacy() {
            return legacy::records(self, max_decompressed);
        }
        let header = &self.header;
        if header.records_count < 0 {
            return Err(DecodeError::Invalid("negative record count"));
        }
        let body = self.body();
        let data = match header.compression()? {
            Compression::None => body,
            codec => decompress(codec, &body, max_decompressed)?,
        };
        let log_append_time = (header.timestamp_type() == TimestampType::LogAppendTime)
            .then_some(header.max_timestamp);
        Ok(Records::v2(
            data,
            header.records_count as u32,
            header.base_offset,
            header.base_timestamp,
            log_append_time,
        ))
    }

    /// For a control batch, its control record (the first record's key and
    /// value); `Ok(None)` for any other batch.
    pub fn control_record(&self) -> DecodeResult<Option<ControlRecord>> {
        if !self.header.is_control() {
            return Ok(None);
        }
        let record = self
            .records(DEFAULT_MAX_DECOMPRESSED)?
            .next()
            .ok_or(DecodeError::Invalid("control batch without a record"))??;
        ControlRecord::parse(record.key.as_deref(), record.value.as_ref()).map(Some)
    }
}
