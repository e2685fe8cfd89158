//! Control records (FACTS.md 5.4): the single record of a batch with
//! attribute bit 5 set.
//!
//! ```text
//! key:   version int16 (0) | type int16
//! value: ABORT/COMMIT: version int16 (0) | coordinatorEpoch int32
//! ```

use super::batch::{ATTR_CONTROL, ATTR_TRANSACTIONAL};
use super::builder::{BatchBuilder, ProducerState};
use crate::compression::Compression;
use crate::error::{DecodeError, DecodeResult, EncodeResult};
use bytes::{BufMut, Bytes, BytesMut};

/// Control type ABORT.
pub const CONTROL_TYPE_ABORT: i16 = 0;
/// Control type COMMIT.
pub const CONTROL_TYPE_COMMIT: i16 = 1;

/// A decoded control record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ControlRecord {
    /// End of an aborted transaction of the batch's producer.
    Abort {
        /// Epoch of the transaction coordinator that wrote the marker.
        coordinator_epoch: i32,
    },
    /// End of a committed transaction of the batch's producer.
    Commit {
        /// Epoch of the transaction coordinator that wrote the marker.
        coordinator_epoch: i32,
    },
    /// Any other type (KRaft leader change, snapshot markers, kraft version
    /// and voters, or a type this library does not know). Consumers ignore
    /// these.
    Other {
        /// The control type from the key.
        control_type: i16,
        /// The record value, undecoded.
        value: Option<Bytes>,
    },
}

impl ControlRecord {
    /// Decodes a control record from its key and value. The key must hold at
    /// least the version and type; an ABORT/COMMIT value at least its
    /// version and coordinator epoch.
    pub fn parse(key: Option<&[u8]>, value: Option<&Bytes>) -> DecodeResult<Self> {
        let key = key.ok_or(DecodeError::UnexpectedNull("control record key"))?;
        let control_type = match key.get(..4) {
            Some(&[_, _, a, b]) => i16::from_be_bytes([a, b]),
            _ => {
                return Err(DecodeError::Invalid(
                    "control record key shorter than 4 bytes",
                ));
            }
        };
        let marker_epoch = || -> DecodeResult<i32> {
            match value.and_then(|v| v.get(..6)) {
                Some(&[_, _, a, b, c, d]) => Ok(i32::from_be_bytes([a, b, c, d])),
                _ => Err(DecodeError::Invalid(
                    "transaction marker value shorter than 6 bytes",
                )),
            }
        };
        Ok(match control_type {
            CONTROL_TYPE_ABORT => ControlRecord::Abort {
                coordinator_epoch: marker_epoch()?,
            },
            CONTROL_TYPE_COMMIT => ControlRecord::Commit {
                coordinator_epoch: marker_epoch()?,
            },
            other => ControlRecord::Other {
                control_type: other,
                value: value.cloned(),
            },
        })
    }

    /// The control type.
    pub fn control_type(&self) -> i16 {
        match self {
            ControlRecord::Abort { .. } => CONTROL_TYPE_ABORT,
            ControlRecord::Commit { .. } => CONTROL_TYPE_COMMIT,
            ControlRecord::Other { control_type, .. } => *control_type,
        }
    }

    /// The encoded key: version 0 and the type.
    pub fn key(&self) -> [u8; 4] {
        let t = self.control_type().to_be_bytes();
        [0, 0, t[0], t[1]]
    }

    /// The encoded value.
    pub fn value(&self) -> Option<Bytes> {
        match self {
            ControlRecord::Abort { coordinator_epoch }
            | ControlRecord::Commit { coordinator_epoch } => {
                let mut value = BytesMut::with_capacity(6);
                value.put_i16(0);
                value.put_i32(*coordinator_epoch);
                Some(value.freeze())
            }
            ControlRecord::Other { value, .. } => value.clone(),
        }
    }
}

/// Builds an uncompressed control batch holding `record`, as the broker
/// writes it: one record at offset delta 0 stamped `timestamp`, base offset 0
/// (see [`super::assign_base_offset`]), base sequence -1. Transaction
/// markers (ABORT/COMMIT) are marked transactional and carry the producer's
/// id and epoch; other control records are not transactional.
pub fn build_control_batch(
    record: &ControlRecord,
    producer_id: i64,
    producer_epoch: i16,
    timestamp: i64,
) -> EncodeResult<Bytes> {
    let marker = matches!(
        record,
        ControlRecord::Abort { .. } | ControlRecord::Commit { .. }
    );
    let mut builder = BatchBuilder::new(Compression::None, timestamp);
    builder.append(
        timestamp,
        Some(&record.key()),
        record.value().as_deref(),
        &[],
    )?;
    let state = ProducerState {
        producer_id,
        producer_epoch,
        base_sequence: -1,
        transactional: marker,
    };
    let extra = if marker {
        ATTR_CONTROL | ATTR_TRANSACTIONAL
    } else {
        ATTR_CONTROL
    };
    builder.build_with_attributes(state, extra)
}
