//! Length-prefixed frames (FACTS.md 1) as a `tokio_util` codec.
//!
//! Every request and response is an `int32` size (big-endian, counting the
//! bytes after it) followed by that many bytes. [`KafkaFrameCodec`] yields
//! each frame's body without the size prefix and writes the prefix on the
//! way out. The announced size is checked against the configured maximum
//! before any buffer space is reserved for it, so a hostile peer cannot make
//! the reader allocate more than `max_frame_size`.

use crate::error::{DecodeError, EncodeError};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use thiserror::Error;
use tokio_util::codec::{Decoder, Encoder};

/// Size of the length prefix.
const PREFIX: usize = 4;

/// The broker's default `socket.request.max.bytes`: 100 MiB.
pub const DEFAULT_MAX_FRAME_SIZE: usize = 104_857_600;

/// Error of [`KafkaFrameCodec`]: I/O from the transport, or a bad frame.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The underlying transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// An incoming length prefix is negative or larger than the maximum.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// An outgoing frame cannot be represented (longer than `i32::MAX`).
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// `tokio_util` codec for Kafka's size-prefixed frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaFrameCodec {
    max_frame_size: usize,
}

impl KafkaFrameCodec {
    /// A codec that refuses incoming frames larger than `max_frame_size`
    /// bytes (not counting the 4-byte prefix).
    pub fn new(max_frame_size: usize) -> Self {
        Self { max_frame_size }
    }

    /// The configured maximum.
    pub fn max_frame_size(&self) -> usize {
        self.max_frame_size
    }
}

impl Default for KafkaFrameCodec {
    /// 100 MiB, the broker's `socket.request.max.bytes` default.
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_SIZE)
    }
}

impl Decoder for KafkaFrameCodec {
    type Item = BytesMut;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, FrameError> {
        let len = match src.get(..PREFIX) {
            Some(&[a, b, c, d]) => i32::from_be_bytes([a, b, c, d]),
            _ => return Ok(None),
        };
        if len < 0 {
            return Err(DecodeError::InvalidLength(i64::from(len)).into());
        }
        let len = len as usize;
        if len > self.max_frame_size {
            return Err(DecodeError::FrameTooLarge {
                len,
                max: self.max_frame_size,
            }
            .into());
        }
        let total = PREFIX + len;
        if src.len() < total {
            // Announced and checked: make room for exactly the rest of it.
            src.reserve(total - src.len());
            return Ok(None);
        }
        src.advance(PREFIX);
        Ok(Some(src.split_to(len)))
    }
}

impl Encoder<Bytes> for KafkaFrameCodec {
    type Error = FrameError;

    fn encode(&mut self, body: Bytes, dst: &mut BytesMut) -> Result<(), FrameError> {
        let max = i32::MAX as usize;
        if body.len() > max {
            return Err(EncodeError::TooLong {
                len: body.len(),
                max,
            }
            .into());
        }
        dst.reserve(PREFIX + body.len());
        dst.put_i32(body.len() as i32);
        dst.put_slice(&body);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = (body.len() as i32).to_be_bytes().to_vec();
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut codec = KafkaFrameCodec::default();
        let wire = frame(b"hello kafka");
        let mut buf = BytesMut::new();
        for (i, byte) in wire.iter().enumerate() {
            buf.put_u8(*byte);
            let got = codec.decode(&mut buf).unwrap();
            if i + 1 < wire.len() {
                assert_eq!(got, None, "after {} bytes", i + 1);
            } else {
                assert_eq!(got.as_deref(), Some(&b"hello kafka"[..]));
            }
        }
        assert!(buf.is_empty());
    }

    #[test]
    fn two_frames_in_one_buffer_and_an_empty_one() {
        let mut codec = KafkaFrameCodec::default();
        let mut wire = frame(b"first");
        wire.extend(frame(b""));
        wire.extend(frame(b"second"));
        wire.extend(&[0, 0]);
        let mut buf = BytesMut::from(&wire[..]);
        assert_eq!(
            codec.decode(&mut buf).unwrap().as_deref(),
            Some(&b"first"[..])
        );
        assert_eq!(codec.decode(&mut buf).unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(
            codec.decode(&mut buf).unwrap().as_deref(),
            Some(&b"second"[..])
        );
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert_eq!(&buf[..], &[0, 0]);
    }

    #[test]
    fn oversize_and_negative_lengths_are_refused_before_allocating() {
        let mut codec = KafkaFrameCodec::new(1024);
        let mut buf = BytesMut::from(&[0x7f, 0xff, 0xff, 0xff, 1][..]);
        let capacity = buf.capacity();
        match codec.decode(&mut buf) {
            Err(FrameError::Decode(DecodeError::FrameTooLarge { len, max: 1024 })) => {
                assert_eq!(len, i32::MAX as usize)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(buf.capacity(), capacity);
        let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xfe][..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::Decode(DecodeError::InvalidLength(-2)))
        ));
        // Exactly the maximum is fine.
        let mut buf = BytesMut::from(&frame(&[7; 1024])[..]);
        assert_eq!(codec.decode(&mut buf).unwrap().map(|b| b.len()), Some(1024));
    }

    #[test]
    fn partial_frame_reserves_only_the_announced_length() {
        let mut codec = KafkaFrameCodec::default();
        let mut buf = BytesMut::from(&[0, 0, 0x10, 0, 1, 2][..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        assert!(buf.capacity() >= 4 + 0x1000);
        assert!(buf.capacity() < 4 * (4 + 0x1000));
    }

    #[test]
    fn encoder_writes_the_prefix() {
        let mut codec = KafkaFrameCodec::default();
        let mut out = BytesMut::new();
        codec.encode(Bytes::from_static(b"abc"), &mut out).unwrap();
        codec.encode(Bytes::new(), &mut out).unwrap();
        assert_eq!(&out[..], &[0, 0, 0, 3, b'a', b'b', b'c', 0, 0, 0, 0]);
        let mut decoded = Vec::new();
        while let Some(frame) = codec.decode(&mut out).unwrap() {
            decoded.push(frame.freeze());
        }
        assert_eq!(decoded, vec![Bytes::from_static(b"abc"), Bytes::new()]);
    }
}
