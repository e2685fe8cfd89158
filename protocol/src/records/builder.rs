//! Writing v2 batches: [`BatchBuilder`] for the producer, and the in-place
//! rewrites that the idempotent producer and a broker need.

use super::batch::{
    ATTR_TRANSACTIONAL, ATTRIBUTES_OFFSET, BATCH_HEADER_LEN, BatchHeader, CRC_OFFSET, CRC_START,
    LOG_OVERHEAD, MAGIC_OFFSET, MAGIC_V2, PARTITION_LEADER_EPOCH_OFFSET, PRODUCER_ID_OFFSET,
};
use super::record::{Header, body_len, encode_plain_record, encode_record};
use crate::compression::{Compression, compress};
use crate::error::{DecodeError, DecodeResult, EncodeError, EncodeResult};
use crate::wire::varint_len;
use bytes::{Bytes, BytesMut};

/// Producer fields of a batch header. The default (-1, -1, -1, false) is a
/// plain, non-idempotent producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProducerState {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Sequence number of the batch's first record.
    pub base_sequence: i32,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
}

impl Default for ProducerState {
    fn default() -> Self {
        Self {
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
        }
    }
}

/// Builds one v2 record batch, encoding each record as it is appended so
/// that the batch size is always known.
///
/// ```
/// use kafkacc_protocol::compression::Compression;
/// use kafkacc_protocol::records::{BatchBuilder, ProducerState, batches, DEFAULT_MAX_DECOMPRESSED};
///
/// let mut builder = BatchBuilder::new(Compression::Lz4, 1_700_000_000_000);
/// builder.append(1_700_000_000_000, Some(b"key"), Some(b"value"), &[]).unwrap();
/// let bytes = builder.build(ProducerState::default()).unwrap();
/// let batch = batches(bytes).next().unwrap().unwrap();
/// batch.verify_crc().unwrap();
/// let record = batch.records(DEFAULT_MAX_DECOMPRESSED).unwrap().next().unwrap().unwrap();
/// assert_eq!(record.value.as_deref(), Some(&b"value"[..]));
/// ```
#[derive(Debug, Clone)]
pub struct BatchBuilder {
    compression: Compression,
    base_timestamp: i64,
    max_timestamp: i64,
    count: i32,
    /// Room for the header, then the encoded (uncompressed) records.
    buf: BytesMut,
}

impl BatchBuilder {
    /// A builder whose records' timestamps are stored relative to
    /// `base_timestamp` (the Java producer uses the first record's).
    pub fn new(compression: Compression, base_timestamp: i64) -> Self {
        Self::with_capacity(compression, base_timestamp, 1024)
    }

    /// Like [`BatchBuilder::new`], reserving `capacity` bytes up front (for
    /// example the producer's `batch.size`).
    pub fn with_capacity(compression: Compression, base_timestamp: i64, capacity: usize) -> Self {
        let mut buf = BytesMut::with_capacity(capacity.max(BATCH_HEADER_LEN));
        buf.resize(BATCH_HEADER_LEN, 0);
        Self {
            compression,
            base_timestamp,
            max_timestamp: i64::MIN,
            count: 0,
            buf,
        }
    }

    /// The codec the records will be compressed with.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Records appended so far.
    pub fn record_count(&self) -> usize {
        self.count as usize
    }

    /// Whether no record was appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the batch so far, uncompressed, including the 61-byte header.
    /// Compression only makes the built batch smaller (or a few bytes larger
    /// for incompressible data).
    pub fn estimated_size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes that [`BatchBuilder::append`] would add for this record.
    pub fn record_size(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> EncodeResult<usize> {
        let body = body_len(
            timestamp.wrapping_sub(self.base_timestamp),
            self.count,
            key,
            value,
            headers,
        )?;
        Ok(varint_len(body as i32) + body)
    }

    /// Encodes a record at the next offset delta.
    #[inline]
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> EncodeResult<()> {
        let timestamp_delta = timestamp.wrapping_sub(self.base_timestamp);
        let plain = headers.is_empty()
            && self.count < i32::MAX
            && encode_plain_record(&mut self.buf, timestamp_delta, self.count, key, value);
        if !plain {
            self.encode_any(timestamp_delta, key, value, headers)?;
        }
        self.count += 1;
        self.max_timestamp = self.max_timestamp.max(timestamp);
        Ok(())
    }

    /// Encodes any record (headers, long varints) at the next offset delta:
    /// what [`encode_plain_record`] does not take.
    #[inline(never)]
    fn encode_any(
        &mut self,
        timestamp_delta: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> EncodeResult<()> {
        if self.count == i32::MAX {
            return Err(EncodeError::TooLong {
                len: self.count as usize + 1,
                max: i32::MAX as usize,
            });
        }
        let body = body_len(timestamp_delta, self.count, key, value, headers)?;
        encode_record(
            &mut self.buf,
            body,
            timestamp_delta,
            self.count,
            key,
            value,
            headers,
        );
        Ok(())
    }

    /// Finishes the batch: compresses the records section if a codec is
    /// set, writes the header (base offset 0, partition leader epoch -1) and
    /// the CRC.
    pub fn build(self, producer: ProducerState) -> EncodeResult<Bytes> {
        let attributes = if producer.transactional {
            ATTR_TRANSACTIONAL
        } else {
            0
        };
        self.build_with_attributes(producer, attributes)
    }

    /// [`BatchBuilder::build`] with extra attribute bits (control batches).
    pub(crate) fn build_with_attributes(
        self,
        producer: ProducerState,
        extra_attributes: i16,
    ) -> EncodeResult<Bytes> {
        let Self {
            compression,
            base_timestamp,
            max_timestamp,
            count,
            buf,
        } = self;
        let mut out = match compression {
            Compression::None => buf,
            codec => {
                let records = buf.get(BATCH_HEADER_LEN..).unwrap_or_default();
                let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + records.len() / 2 + 64);
                out.resize(BATCH_HEADER_LEN, 0);
                compress(codec, records, &mut out)?;
                out
            }
        };
        let batch_length = out.len() - LOG_OVERHEAD;
        if batch_length > i32::MAX as usize {
            return Err(EncodeError::TooLong {
                len: batch_length,
                max: i32::MAX as usize,
            });
        }
        let empty = count == 0;
        let header = BatchHeader {
            base_offset: 0,
            batch_length: batch_length as i32,
            partition_leader_epoch: -1,
            magic: MAGIC_V2,
            crc: 0,
            attributes: compression.attribute_bits() | extra_attributes,
            last_offset_delta: count - 1,
            base_timestamp: if empty { -1 } else { base_timestamp },
            max_timestamp: if empty { -1 } else { max_timestamp },
            producer_id: producer.producer_id,
            producer_epoch: producer.producer_epoch,
            base_sequence: producer.base_sequence,
            records_count: count,
        };
        if let Some(head) = out.get_mut(..BATCH_HEADER_LEN) {
            head.copy_from_slice(&header.to_bytes());
        }
        store_crc(&mut out);
        Ok(out.freeze())
    }
}

/// Recomputes and stores the CRC of a v2 batch of at least 61 bytes.
fn store_crc(batch: &mut [u8]) {
    let crc = super::crc::crc32c(batch.get(CRC_START..).unwrap_or_default());
    if let Some(field) = batch.get_mut(CRC_OFFSET..CRC_START) {
        field.copy_from_slice(&crc.to_be_bytes());
    }
}

/// Checks that `batch` is exactly one v2 batch.
fn check_v2(batch: &[u8]) -> DecodeResult<()> {
    if batch.len() < BATCH_HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: BATCH_HEADER_LEN,
            remaining: batch.len(),
        });
    }
    let magic = batch.get(MAGIC_OFFSET).copied().unwrap_or_default() as i8;
    if magic != MAGIC_V2 {
        return Err(DecodeError::UnsupportedMagic(magic));
    }
    let length = match batch.get(8..12) {
        Some(&[a, b, c, d]) => i32::from_be_bytes([a, b, c, d]),
        _ => -1,
    };
    if length < 0 || length as usize + LOG_OVERHEAD != batch.len() {
        return Err(DecodeError::InvalidLength(i64::from(length)));
    }
    Ok(())
}

/// Rewrites the producer id, epoch, base sequence and transactional bit of
/// an encoded v2 batch in place and recomputes its CRC (the idempotent
/// producer needs this when it retries a batch after an epoch bump). The
/// existing CRC is checked first so that a corrupted batch is not
/// laundered with a fresh CRC.
pub fn rewrite_producer_state_in_place(batch: &mut [u8], state: ProducerState) -> DecodeResult<()> {
    check_v2(batch)?;
    let stored = match batch.get(CRC_OFFSET..CRC_START) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    };
    let actual = super::crc::crc32c(batch.get(CRC_START..).unwrap_or_default());
    if stored != actual {
        return Err(DecodeError::CrcMismatch {
            expected: stored,
            actual,
        });
    }
    if let Some(field) = batch.get_mut(PRODUCER_ID_OFFSET..BATCH_HEADER_LEN - 4) {
        let mut fields = [0u8; 14];
        fields[..8].copy_from_slice(&state.producer_id.to_be_bytes());
        fields[8..10].copy_from_slice(&state.producer_epoch.to_be_bytes());
        fields[10..].copy_from_slice(&state.base_sequence.to_be_bytes());
        field.copy_from_slice(&fields);
    }
    if let Some(field) = batch.get_mut(ATTRIBUTES_OFFSET..ATTRIBUTES_OFFSET + 2) {
        let mut attributes = i16::from_be_bytes([field[0], field[1]]);
        attributes = if state.transactional {
            attributes | ATTR_TRANSACTIONAL
        } else {
            attributes & !ATTR_TRANSACTIONAL
        };
        field.copy_from_slice(&attributes.to_be_bytes());
    }
    store_crc(batch);
    Ok(())
}

/// [`rewrite_producer_state_in_place`] on a copy.
pub fn rewrite_producer_state(batch: &[u8], state: ProducerState) -> DecodeResult<Bytes> {
    let mut copy = BytesMut::from(batch);
    rewrite_producer_state_in_place(&mut copy, state)?;
    Ok(copy.freeze())
}

/// Sets the base offset and partition leader epoch of an encoded v2 batch in
/// place, as a broker does when it appends the batch. Neither field is
/// covered by the CRC.
pub fn assign_base_offset(
    batch: &mut [u8],
    base_offset: i64,
    partition_leader_epoch: i32,
) -> DecodeResult<()> {
    check_v2(batch)?;
    if let Some(field) = batch.get_mut(..8) {
        field.copy_from_slice(&base_offset.to_be_bytes());
    }
    if let Some(field) = batch.get_mut(PARTITION_LEADER_EPOCH_OFFSET..MAGIC_OFFSET) {
        field.copy_from_slice(&partition_leader_epoch.to_be_bytes());
    }
    Ok(())
}
