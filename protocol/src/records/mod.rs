//! Record batches: the `records` field of Produce and Fetch.
//!
//! A record set is a sequence of entries. Since Kafka 0.11 every entry is a
//! v2 *record batch* (magic 2, FACTS.md 5.1-5.4); older log segments may
//! still hold legacy *messages* (magic 0/1, FACTS.md 5.5), which are read
//! here too and come out of the same iterators.
//!
//! ```text
//! v2 batch                                     offset  size
//! +---------------------------------------+
//! | baseOffset             int64          |     0     8   broker-assigned
//! | batchLength            int32          |     8     4   bytes after this field
//! | partitionLeaderEpoch   int32          |    12     4
//! | magic                  int8  (2)      |    16     1
//! | crc                    uint32         |    17     4   CRC-32C of bytes 21..end
//! +---------------------------------------+ <- CRC starts
//! | attributes             int16          |    21     2   codec|tstype|txn|control|horizon
//! | lastOffsetDelta        int32          |    23     4
//! | baseTimestamp          int64          |    27     8
//! | maxTimestamp           int64          |    35     8
//! | producerId             int64          |    43     8
//! | producerEpoch          int16          |    51     2
//! | baseSequence           int32          |    53     4
//! | recordsCount           int32          |    57     4
//! +---------------------------------------+
//! | records (compressed as one blob       |    61   ...
//! |          when attributes & 7 != 0)    |
//! +---------------------------------------+
//!
//! record: length varint | attributes int8 | timestampDelta varlong
//!         | offsetDelta varint | keyLen varint (-1 null) | key
//!         | valueLen varint (-1 null) | value | headerCount varint
//!         | headers: keyLen varint | key (UTF-8) | valueLen varint (-1 null) | value
//! ```
//!
//! Reading: [`batches`] splits fetched bytes into [`Batch`]es without
//! copying (stopping quietly at a trailing partial batch);
//! [`Batch::verify_crc`] checks the CRC; [`Batch::records`] decompresses
//! once and iterates [`Record`]s with absolute offsets and timestamps,
//! allocating nothing per record.
//!
//! Writing: [`BatchBuilder`] encodes records as they are appended and
//! builds a batch with producer state, compression and CRC;
//! [`rewrite_producer_state`] and [`assign_base_offset`] patch encoded
//! batches; [`build_control_batch`] writes transaction markers.
//!
//! ```
//! use kafkacc_protocol::compression::Compression;
//! use kafkacc_protocol::records::{batches, BatchBuilder, Header, ProducerState, DEFAULT_MAX_DECOMPRESSED};
//!
//! let mut builder = BatchBuilder::new(Compression::Gzip, 1000);
//! builder.append(1000, Some(b"k"), Some(b"v1"), &[Header::new("h", Some(b"x"))]).unwrap();
//! builder.append(1005, None, None, &[]).unwrap();
//! let fetched = builder.build(ProducerState::default()).unwrap();
//!
//! for batch in batches(fetched) {
//!     let batch = batch.unwrap();
//!     batch.verify_crc().unwrap();
//!     for record in batch.records(DEFAULT_MAX_DECOMPRESSED).unwrap() {
//!         let record = record.unwrap();
//!         println!("{} @ {}: {:?}", record.offset, record.timestamp, record.value);
//!     }
//! }
//! ```

mod batch;
mod builder;
mod control;
mod crc;
mod iter;
mod legacy;
mod record;

pub use crate::compression::DEFAULT_MAX_DECOMPRESSED;
pub use batch::{
    ATTR_CONTROL, ATTR_DELETE_HORIZON, ATTR_LOG_APPEND_TIME, ATTR_TRANSACTIONAL, BATCH_HEADER_LEN,
    Batch, BatchHeader, LOG_OVERHEAD, MAGIC_V2, TimestampType,
};
pub use builder::{
    BatchBuilder, ProducerState, assign_base_offset, rewrite_producer_state,
    rewrite_producer_state_in_place,
};
pub use control::{CONTROL_TYPE_ABORT, CONTROL_TYPE_COMMIT, ControlRecord, build_control_batch};
pub use crc::crc32c;
pub use iter::{BatchIter, RecordRefs, Records, batches};
pub use record::{Header, HeadersIter, HeadersRef, Record, RecordRef};
