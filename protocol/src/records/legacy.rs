//! Legacy message sets, magic 0 and 1 (FACTS.md 5.5), read only.
//!
//! ```text
//! offset int64 | messageSize int32 | crc uint32 | magic int8 | attributes int8
//! | timestamp int64 (v1 only) | key int32 len + bytes | value int32 len + bytes
//! ```
//!
//! Each message is one [`Batch`]. A compressed message is a "wrapper" whose
//! value is a compressed inner message set. Inner offsets of a v1 wrapper
//! are relative: `absolute = wrapperOffset - lastInnerOffset + innerOffset`
//! (unless that base would be negative, as for a wrapper that no broker has
//! stamped yet); those of a v0 wrapper are already absolute. Inner messages of a v1
//! wrapper with LogAppendTime take the wrapper's timestamp. Inner messages
//! must have the wrapper's magic, must not be compressed themselves, and
//! their CRC-32 is checked (as the Java consumer does with `check.crcs`).

use super::batch::{Batch, BatchHeader, LOG_OVERHEAD, MAGIC_OFFSET};
use super::iter::Records;
use super::record::Record;
use crate::compression::{self, Compression};
use crate::error::{DecodeError, DecodeResult};
use crate::wire::{read_i8, read_i32, read_i64, read_nullable_bytes, read_u32};
use bytes::Bytes;

/// Smallest v0 `messageSize`: crc, magic, attributes, key and value lengths.
pub(crate) const MIN_MESSAGE_SIZE_V0: i32 = 14;
/// Smallest v1 `messageSize`: v0 plus the timestamp.
const MIN_MESSAGE_SIZE_V1: i32 = 22;
/// Attribute bit 3 of a v1 message: LogAppendTime.
const LOG_APPEND_TIME: i8 = 0x08;

/// The fields of one legacy message.
struct Message {
    offset: i64,
    size: i32,
    crc: u32,
    magic: i8,
    attributes: i8,
    timestamp: i64,
    key: Option<Bytes>,
    value: Option<Bytes>,
}

/// Parses a message that fills `raw` exactly (offset and size included).
fn parse_fields(raw: &Bytes) -> DecodeResult<Message> {
    let mut buf = raw.clone();
    let offset = read_i64(&mut buf)?;
    let size = read_i32(&mut buf)?;
    if size < 0 || size as usize != buf.len() {
        return Err(DecodeError::InvalidLength(i64::from(size)));
    }
    let crc = read_u32(&mut buf)?;
    let magic = read_i8(&mut buf)?;
    let min = match magic {
        0 => MIN_MESSAGE_SIZE_V0,
        1 => MIN_MESSAGE_SIZE_V1,
        other => return Err(DecodeError::UnsupportedMagic(other)),
    };
    if size < min {
        return Err(DecodeError::InvalidLength(i64::from(size)));
    }
    let attributes = read_i8(&mut buf)?;
    let timestamp = if magic == 1 { read_i64(&mut buf)? } else { -1 };
    let key = read_nullable_bytes(&mut buf, false)?;
    let value = read_nullable_bytes(&mut buf, false)?;
    if !buf.is_empty() {
        return Err(DecodeError::TrailingBytes(buf.len()));
    }
    Ok(Message {
        offset,
        size,
        crc,
        magic,
        attributes,
        timestamp,
        key,
        value,
    })
}

fn codec_of(attributes: i8) -> DecodeResult<Compression> {
    Compression::from_attributes(i16::from(attributes as u8))
}

/// Makes a [`Batch`] of one complete legacy message.
pub(crate) fn parse_message(raw: Bytes) -> DecodeResult<Batch> {
    let m = parse_fields(&raw)?;
    let compressed = codec_of(m.attributes)? != Compression::None;
    let header = BatchHeader {
        base_offset: m.offset,
        batch_length: m.size,
        partition_leader_epoch: -1,
        magic: m.magic,
        crc: m.crc,
        attributes: i16::from(m.attributes as u8),
        last_offset_delta: 0,
        base_timestamp: m.timestamp,
        max_timestamp: m.timestamp,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        records_count: if compressed { -1 } else { 1 },
    };
    Ok(Batch::legacy(header, raw))
}

/// Splits the next complete message off an inner message set.
fn next_message(rest: &mut Bytes) -> DecodeResult<Bytes> {
    let length = match rest.get(8..12) {
        Some(&[a, b, c, d]) => i32::from_be_bytes([a, b, c, d]),
        _ => {
            return Err(DecodeError::Truncated {
                needed: LOG_OVERHEAD,
                remaining: rest.len(),
            });
        }
    };
    if length < MIN_MESSAGE_SIZE_V0 {
        return Err(DecodeError::InvalidLength(i64::from(length)));
    }
    let total = length as usize + LOG_OVERHEAD;
    if rest.len() < total {
        return Err(DecodeError::Truncated {
            needed: total,
            remaining: rest.len(),
        });
    }
    Ok(rest.split_to(total))
}

/// Checks an inner message and returns its fields.
fn inner_message(raw: &Bytes, wrapper_magic: i8) -> DecodeResult<Message> {
    let m = parse_fields(raw)?;
    if m.magic != wrapper_magic {
        return Err(DecodeError::Invalid(
            "inner message magic differs from its wrapper's",
        ));
    }
    if codec_of(m.attributes)? != Compression::None {
        return Err(DecodeError::Invalid("nested compressed legacy messages"));
    }
    let actual = crc32fast::hash(raw.get(MAGIC_OFFSET..).unwrap_or_default());
    if actual != m.crc {
        return Err(DecodeError::CrcMismatch {
            expected: m.crc,
            actual,
        });
    }
    Ok(m)
}

/// The records of a legacy message: itself, or the inner messages of a
/// compressed wrapper (decompressed once, validated in a first pass).
pub(crate) fn records(batch: &Batch, max_decompressed: usize) -> DecodeResult<Records> {
    let m = parse_fields(batch.raw())?;
    let codec = codec_of(m.attributes)?;
    if codec == Compression::None {
        let record = Record {
            offset: m.offset,
            timestamp: m.timestamp,
            key: m.key,
            value: m.value,
            headers: Vec::new(),
        };
        return Ok(Records::legacy(LegacyRecords {
            single: Some(record),
            ..LegacyRecords::default()
        }));
    }
    let value = m.value.ok_or(DecodeError::Invalid(
        "compressed legacy message without a value",
    ))?;
    let inner = if codec == Compression::Lz4 && m.magic == 0 {
        compression::decompress_lz4_legacy_v0(&value, max_decompressed)?
    } else {
        compression::decompress(codec, &value, max_decompressed)?
    };
    let mut rest = inner.clone();
    let mut last_inner_offset = None;
    let mut count = 0usize;
    while !rest.is_empty() {
        let raw = next_message(&mut rest)?;
        last_inner_offset = Some(inner_message(&raw, m.magic)?.offset);
        count += 1;
    }
    let last_inner_offset = last_inner_offset.ok_or(DecodeError::Invalid(
        "compressed legacy message with no inner messages",
    ))?;
    // As in the Java client, a negative base (a wrapper written by a
    // producer, not yet given offsets by a broker) leaves inner offsets as is.
    let offset_adjust = match m.offset.checked_sub(last_inner_offset) {
        Some(base) if m.magic >= 1 && base >= 0 => base,
        _ => 0,
    };
    let log_append_time =
        (m.magic >= 1 && m.attributes & LOG_APPEND_TIME != 0).then_some(m.timestamp);
    Ok(Records::legacy(LegacyRecords {
        single: None,
        inner,
        remaining: count,
        wrapper_magic: m.magic,
        offset_adjust,
        log_append_time,
    }))
}

/// Records of a legacy message (see [`Records`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct LegacyRecords {
    single: Option<Record>,
    inner: Bytes,
    remaining: usize,
    wrapper_magic: i8,
    offset_adjust: i64,
    log_append_time: Option<i64>,
}

impl LegacyRecords {
    pub(crate) fn next(&mut self) -> Option<DecodeResult<Record>> {
        if let Some(record) = self.single.take() {
            return Some(Ok(record));
        }
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let result =
            next_message(&mut self.inner).and_then(|raw| inner_message(&raw, self.wrapper_magic));
        match result {
            Ok(m) => Some(Ok(Record {
                offset: m.offset.wrapping_add(self.offset_adjust),
                timestamp: self.log_append_time.unwrap_or(m.timestamp),
                key: m.key,
                value: m.value,
                headers: Vec::new(),
            })),
            Err(e) => {
                self.remaining = 0;
                Some(Err(e))
            }
        }
    }

    pub(crate) fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.remaining + usize::from(self.single.is_some());
        (n, Some(n))
    }
}
