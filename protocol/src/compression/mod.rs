//! Record batch compression (FACTS.md section 6).
//!
//! A compressed record batch carries its records section as one compressed
//! blob; the codec is in the low three bits of the batch attributes. This
//! module turns that blob into bytes and back, one file per codec:
//!
//! | id | codec | written as | read |
//! |---:|---|---|---|
//! | 1 | gzip | one gzip member ([`flate2`], pure Rust miniz_oxide backend, level 6) | any number of concatenated members |
//! | 2 | snappy | xerial framing like the Java client (`snappy-java`), 32 KiB chunks | xerial framing, or one plain raw block |
//! | 3 | lz4 | LZ4 frame, 64 KiB independent blocks, no checksums (what Java writes) | any standard LZ4 frame; linked blocks too |
//! | 4 | zstd | one zstd frame ([`ruzstd`], pure Rust, level "fastest" ≈ zstd 1) | any zstd frames |
//!
//! With the non-default cargo feature `zstd-c`, zstd goes through the `zstd`
//! crate (libzstd, C) in both directions and is written at level 3, the Java
//! client's default.
//!
//! # Decompression bombs
//!
//! [`decompress`] takes a cap and fails with
//! [`DecodeError::DecompressedTooLarge`] as soon as the output would pass it.
//! Output grows geometrically from a size hint that the input can influence
//! only within a bounded ratio of its own length, and never past the cap: a
//! hostile batch cannot make the decoder allocate more than `max_size` bytes
//! of output. (Codec working memory comes on top: an LZ4 frame may announce
//! blocks of up to 4 MiB; a zstd frame's window is limited to
//! `max(max_size, 8 MiB)`.)

mod gzip;
mod lz4;
mod snappy;
mod zstd;

use crate::error::{DecodeError, DecodeResult, EncodeResult};
use bytes::{Bytes, BytesMut};
use std::fmt;
use std::io::{ErrorKind, Read};

/// Default cap on the decompressed size of one record batch: 64 MiB.
///
/// Why this number: a producer closes batches at `batch.size` (16 KiB by
/// default) and a single record is limited by `max.request.size` (1 MiB by
/// default, measured uncompressed), so the records section of a batch written
/// by a Java, librdkafka or kafkacc producer with default settings stays a few
/// MiB at most even at high compression ratios. 64 MiB leaves room for
/// producers with raised limits while bounding what one hostile or corrupt
/// batch can make a consumer allocate (gzip alone can expand about 1000:1,
/// zstd far more). It is a per-batch cap; raise it through the consumer's
/// configuration if you really produce larger batches.
pub const DEFAULT_MAX_DECOMPRESSED: usize = 64 * 1024 * 1024;

/// Compression codec of a record batch (attribute bits 0-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum Compression {
    /// No compression.
    #[default]
    None = 0,
    /// gzip (RFC 1952).
    Gzip = 1,
    /// Snappy, in the xerial `snappy-java` stream framing.
    Snappy = 2,
    /// LZ4 frame format.
    Lz4 = 3,
    /// Zstandard.
    Zstd = 4,
}

impl Compression {
    /// Mask of the codec in the batch attributes.
    pub const ATTRIBUTE_MASK: i16 = 0x07;

    /// Every codec, in id order.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];

    /// The codec named by the low three bits of batch (or legacy message)
    /// attributes.
    pub fn from_attributes(attributes: i16) -> DecodeResult<Self> {
        Self::try_from((attributes & Self::ATTRIBUTE_MASK) as u8)
    }

    /// The attribute bits of this codec.
    pub fn attribute_bits(self) -> i16 {
        self as i16
    }

    /// The codec's id.
    pub fn id(self) -> u8 {
        self as u8
    }

    /// Lower-case name, as in the Java client's `compression.type`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

impl TryFrom<u8> for Compression {
    type Error = DecodeError;

    fn try_from(id: u8) -> DecodeResult<Self> {
        match id {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Gzip),
            2 => Ok(Compression::Snappy),
            3 => Ok(Compression::Lz4),
            4 => Ok(Compression::Zstd),
            other => Err(DecodeError::UnknownCompression(other)),
        }
    }
}

impl From<Compression> for u8 {
    fn from(c: Compression) -> u8 {
        c as u8
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Compresses `input` with `codec`, appending the result to `out`.
/// [`Compression::None`] appends `input` unchanged.
pub fn compress(codec: Compression, input: &[u8], out: &mut BytesMut) -> EncodeResult<()> {
    match codec {
        Compression::None => {
            out.extend_from_slice(input);
            Ok(())
        }
        Compression::Gzip => gzip::compress(input, out),
        Compression::Snappy => snappy::compress(input, out),
        Compression::Lz4 => lz4::compress(input, out),
        Compression::Zstd => zstd::compress(input, out),
    }
}

/// Decompresses `input` with `codec`. Fails with
/// [`DecodeError::DecompressedTooLarge`] as soon as the output would exceed
/// `max_size` bytes, without allocating more than that.
/// [`Compression::None`] copies `input` (subject to the same cap).
pub fn decompress(codec: Compression, input: &[u8], max_size: usize) -> DecodeResult<Bytes> {
    match codec {
        Compression::None => {
            if input.len() > max_size {
                return Err(DecodeError::DecompressedTooLarge { max: max_size });
            }
            Ok(Bytes::copy_from_slice(input))
        }
        Compression::Gzip => gzip::decompress(input, max_size),
        Compression::Snappy => snappy::decompress(input, max_size),
        Compression::Lz4 => lz4::decompress(input, max_size, true),
        Compression::Zstd => zstd::decompress(input, max_size),
    }
}

/// LZ4 decompression for legacy magic-0 messages, whose writers computed the
/// frame header checksum wrongly (FACTS.md 6): the check is skipped.
pub(crate) fn decompress_lz4_legacy_v0(input: &[u8], max_size: usize) -> DecodeResult<Bytes> {
    lz4::decompress(input, max_size, false)
}

/// A size hint from the input (a header or trailer field) is trusted only up
/// to this multiple of the input length, so a lying field cannot make us
/// allocate much more than the input could legitimately justify.
const HINT_RATIO: usize = 32;
/// Smallest step by which the output grows.
const MIN_GROW: usize = 32 * 1024;

fn corrupt(codec: &'static str, reason: impl fmt::Display) -> DecodeError {
    DecodeError::CorruptCompressed {
        codec,
        reason: reason.to_string(),
    }
}

/// Decompression output that never grows past `max` bytes.
///
/// `buf[..filled]` is output; `buf[filled..]` is zeroed room already paid
/// for, so codecs that write into a `&mut [u8]` need no unsafe code and
/// every byte is zeroed at most once.
struct Sink {
    buf: Vec<u8>,
    filled: usize,
    max: usize,
}

impl Sink {
    /// A sink with an initial capacity of `hint` (clamped to the cap and to
    /// [`HINT_RATIO`] times `input_len`).
    fn new(max: usize, input_len: usize, hint: usize) -> Self {
        let bound = input_len.saturating_mul(HINT_RATIO).max(MIN_GROW);
        Self {
            buf: Vec::with_capacity(hint.min(bound).min(max)),
            filled: 0,
            max,
        }
    }

    fn too_large(&self) -> DecodeError {
        DecodeError::DecompressedTooLarge { max: self.max }
    }

    /// Bytes that may still be written.
    fn room(&self) -> usize {
        self.max - self.filled
    }

    /// Makes `buf[filled..filled + n]` available (`n <= room()`), growing
    /// geometrically but never past the cap.
    fn ensure(&mut self, n: usize) {
        let need = self.filled + n;
        if need <= self.buf.len() {
            return;
        }
        let target = need
            .max(self.buf.len().saturating_mul(2))
            .max(self.buf.capacity())
            .max(MIN_GROW)
            .min(self.max)
            .max(need);
        self.buf.reserve_exact(target - self.buf.len());
        self.buf.resize(target, 0);
    }

    /// Grows the capacity towards an announced output size, trusted only
    /// within [`HINT_RATIO`] of the input length and the cap.
    fn reserve_hint(&mut self, hint: usize, input_len: usize) {
        let bound = input_len.saturating_mul(HINT_RATIO).max(MIN_GROW);
        let target = self.filled.saturating_add(hint.min(bound)).min(self.max);
        if target > self.buf.capacity() {
            self.buf.reserve_exact(target - self.buf.len());
        }
    }

    /// The output so far and a writable window of `n <= room()` bytes after it.
    fn window_after_output(&mut self, n: usize) -> (&[u8], &mut [u8]) {
        let n = n.min(self.room());
        self.ensure(n);
        let (before, after) = self.buf.split_at_mut(self.filled);
        (before, after.get_mut(..n).unwrap_or_default())
    }

    /// A writable window of exactly `n` bytes, or `DecompressedTooLarge`.
    fn window(&mut self, n: usize) -> DecodeResult<&mut [u8]> {
        if n > self.room() {
            return Err(self.too_large());
        }
        self.ensure(n);
        let start = self.filled;
        Ok(&mut self.buf[start..start + n])
    }

    /// Marks `n` bytes of the window as written.
    fn advance(&mut self, n: usize) {
        self.filled = (self.filled + n).min(self.buf.len());
    }

    fn extend(&mut self, data: &[u8]) -> DecodeResult<()> {
        self.window(data.len())?.copy_from_slice(data);
        self.advance(data.len());
        Ok(())
    }

    /// Output so far.
    fn filled(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    /// Reads `reader` to its end. Output past the cap is detected with a
    /// one-byte probe once the cap is reached, so the buffer never exceeds it.
    fn read_all(&mut self, reader: &mut impl Read, codec: &'static str) -> DecodeResult<()> {
        loop {
            let room = self.room();
            if room == 0 {
                let mut probe = [0u8; 1];
                return match read_retrying(reader, &mut probe) {
                    Ok(0) => Ok(()),
                    Ok(_) => Err(self.too_large()),
                    Err(e) => Err(corrupt(codec, e)),
                };
            }
            let spare = self.buf.len() - self.filled;
            let want = if spare > 0 { spare } else { MIN_GROW.min(room) };
            let window = self.window(want.min(room))?;
            match read_retrying(reader, window) {
                Ok(0) => return Ok(()),
                Ok(n) => self.advance(n),
                Err(e) => return Err(corrupt(codec, e)),
            }
        }
    }

    fn finish(mut self) -> Bytes {
        self.buf.truncate(self.filled);
        Bytes::from(self.buf)
    }
}

fn read_retrying(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_attributes() {
        for c in Compression::ALL {
            assert_eq!(Compression::try_from(c.id()), Ok(c));
            assert_eq!(
                Compression::from_attributes(c.attribute_bits() | 0x30),
                Ok(c)
            );
        }
        assert_eq!(
            Compression::try_from(5),
            Err(DecodeError::UnknownCompression(5))
        );
        assert_eq!(
            Compression::from_attributes(0x07),
            Err(DecodeError::UnknownCompression(7))
        );
    }

    #[test]
    fn sink_never_grows_past_the_cap() {
        let mut sink = Sink::new(100, 10, usize::MAX);
        assert!(sink.buf.capacity() <= 100);
        sink.extend(&[1; 60]).unwrap();
        sink.extend(&[2; 40]).unwrap();
        assert_eq!(
            sink.extend(&[3]),
            Err(DecodeError::DecompressedTooLarge { max: 100 })
        );
        assert!(sink.buf.len() <= 100);
        let mut reader: &[u8] = &[0u8; 150];
        let mut sink = Sink::new(100, 10, 0);
        assert_eq!(
            sink.read_all(&mut reader, "t"),
            Err(DecodeError::DecompressedTooLarge { max: 100 })
        );
        assert!(sink.buf.capacity() <= 100);
        let mut reader: &[u8] = &[7u8; 100];
        let mut sink = Sink::new(100, 10, 0);
        sink.read_all(&mut reader, "t").unwrap();
        assert_eq!(sink.finish().len(), 100);
    }

    #[test]
    fn every_codec_round_trips_edge_sizes() {
        for codec in Compression::ALL {
            for len in [0usize, 1, 17, 65_535, 65_536, 65_537, 200_000] {
                let input: Vec<u8> = (0..len)
                    .map(|i| (i * 7 % 251) as u8 ^ (i / 1000) as u8)
                    .collect();
                let mut out = BytesMut::new();
                compress(codec, &input, &mut out).unwrap();
                let back = decompress(codec, &out, len).unwrap();
                assert_eq!(&back[..], &input[..], "{codec} len {len}");
                if len > 0 {
                    assert_eq!(
                        decompress(codec, &out, len - 1),
                        Err(DecodeError::DecompressedTooLarge { max: len - 1 }),
                        "{codec} len {len}"
                    );
                }
            }
        }
    }
}
