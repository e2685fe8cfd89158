//! # kafkacc-protocol
//!
//! The Apache Kafka wire protocol for Rust, with no I/O: every request and
//! response of every API key and version (generated from the upstream JSON
//! message specs), request/response headers, record batches with CRC
//! checks, compression, and a length-prefixed frame codec for `tokio_util`.
//!
//! Decoders never panic on bad input: they return a [`DecodeError`] and never
//! allocate more than the bytes present justify.
//!
//! ```
//! use bytes::BytesMut;
//! use kafkacc_protocol::messages::MetadataRequest;
//! use kafkacc_protocol::{Decode, Encode};
//!
//! let request = MetadataRequest { topics: None, ..Default::default() };
//! let mut buf = BytesMut::new();
//! request.encode(&mut buf, 12).unwrap();
//! let decoded = MetadataRequest::decode(&mut buf.freeze(), 12).unwrap();
//! assert_eq!(decoded, request);
//! ```
#![warn(missing_docs)]

pub mod api;
pub mod compression;
pub mod error;
pub mod error_code;
#[cfg(feature = "codec")]
pub mod frame;
pub mod generated;
pub mod header;
mod int32_list;
pub mod records;
mod str_bytes;
mod uuid;
pub mod wire;

pub use api::{Message, Request, VersionRange};
pub use error::{DecodeError, EncodeError};
pub use error_code::ErrorCode;
pub use generated::{ApiKey, RequestKind, ResponseKind};
pub use int32_list::Int32List;
pub use str_bytes::StrBytes;
pub use uuid::Uuid;
pub use wire::{Decode, Encode, RawTaggedField};

/// Every generated message type, flat (`messages::ProduceRequest`, ...).
pub mod messages {
    pub use crate::generated::messages::*;
}
