//! Primitive encodings of the Kafka protocol (FACTS.md section 2) and the
//! [`Encode`]/[`Decode`] traits every message implements.
//!
//! Readers take `&mut Bytes` so that `bytes`, `records` and string fields are
//! zero-copy slices of the frame. Every read checks the remaining length first
//! and every length prefix is checked against the bytes actually present
//! before anything is allocated.

mod buf;
mod read;
mod sink;
mod tagged;
mod write;

pub use buf::{WireBuf, WireChunks};
pub use read::*;
pub use sink::BytesMutSink;
pub use tagged::*;
pub use write::*;

use crate::error::{DecodeResult, EncodeResult};
use bytes::Bytes;

/// A value that can be written at a given message version.
pub trait Encode {
    /// Appends the value's bytes for `version` to `buf` (a `BytesMut`, or
    /// a [`WireChunks`] that references large `bytes`/`records` values).
    fn encode<B: WireBuf>(&self, buf: &mut B, version: i16) -> EncodeResult<()>;
}

/// A value that can be read at a given message version.
pub trait Decode: Sized {
    /// Reads one value for `version` from the front of `buf`, advancing it.
    fn decode(buf: &mut Bytes, version: i16) -> DecodeResult<Self>;

    /// Reads one value into `place`, which must hold the type's default
    /// (fields absent at `version` are left as they are). Generated types
    /// decode their fields straight into their final place, so that no
    /// freshly built value is copied through a temporary; on an error,
    /// `place` holds a partly decoded value.
    fn decode_in_place(place: &mut Self, buf: &mut Bytes, version: i16) -> DecodeResult<()> {
        *place = Self::decode(buf, version)?;
        Ok(())
    }
}
