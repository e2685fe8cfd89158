//! Snappy in the xerial `snappy-java` stream framing (FACTS.md 6), as the
//! Java client writes it:
//!
//! ```text
//! 82 53 4E 41 50 50 59 00   magic "\x82SNAPPY\0"
//! 00 00 00 01               version 1 (int32 BE)
//! 00 00 00 01               minimum compatible version 1 (int32 BE)
//! then repeated: int32 BE length + one raw snappy block
//! ```
//!
//! The reader also accepts input without that header as one raw snappy
//! block (as `SnappyInputStream` does), and skips a header that reappears
//! between chunks (concatenated streams).

use super::{Sink, corrupt};
use crate::error::{DecodeError, DecodeResult, EncodeError, EncodeResult};
use bytes::{BufMut, Bytes, BytesMut};

const CODEC: &str = "snappy";
/// The xerial stream magic.
const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// Magic, version and minimum compatible version.
const HEADER_LEN: usize = 16;
/// `SnappyOutputStream`'s default block size.
const CHUNK: usize = 32 * 1024;

pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> EncodeResult<()> {
    out.reserve(HEADER_LEN + input.len() / 2 + 64);
    out.put_slice(&MAGIC);
    out.put_i32(1);
    out.put_i32(1);
    let mut encoder = snap::raw::Encoder::new();
    for chunk in input.chunks(CHUNK) {
        let start = out.len();
        out.resize(start + 4 + snap::raw::max_compress_len(chunk.len()), 0);
        let written = encoder
            .compress(chunk, &mut out[start + 4..])
            .map_err(|e| EncodeError::Compression(e.to_string()))?;
        out[start..start + 4].copy_from_slice(&(written as u32).to_be_bytes());
        out.truncate(start + 4 + written);
    }
    Ok(())
}

pub(super) fn decompress(input: &[u8], max_size: usize) -> DecodeResult<Bytes> {
    let mut decoder = snap::raw::Decoder::new();
    if !input.starts_with(&MAGIC) {
        let len = snap::raw::decompress_len(input).map_err(|e| corrupt(CODEC, e))?;
        if len > max_size {
            return Err(DecodeError::DecompressedTooLarge { max: max_size });
        }
        let mut sink = Sink::new(max_size, input.len(), len);
        raw_block(&mut decoder, input, len, &mut sink)?;
        return Ok(sink.finish());
    }
    let mut sink = Sink::new(max_size, input.len(), 0);
    let mut rest = input;
    while !rest.is_empty() {
        if rest.starts_with(&MAGIC) {
            rest = rest
                .get(HEADER_LEN..)
                .ok_or_else(|| corrupt(CODEC, "truncated xerial header"))?;
            continue;
        }
        let (len_bytes, after) = rest
            .split_first_chunk::<4>()
            .ok_or_else(|| corrupt(CODEC, "truncated chunk length"))?;
        let chunk_len = i32::from_be_bytes(*len_bytes);
        let (chunk, after) = usize::try_from(chunk_len)
            .ok()
            .and_then(|n| after.split_at_checked(n))
            .ok_or_else(|| {
                corrupt(
                    CODEC,
                    format!("chunk length {chunk_len} with {} bytes left", after.len()),
                )
            })?;
        rest = after;
        let len = snap::raw::decompress_len(chunk).map_err(|e| corrupt(CODEC, e))?;
        raw_block(&mut decoder, chunk, len, &mut sink)?;
    }
    Ok(sink.finish())
}

/// Decompresses one raw block whose header announces `len` bytes; the
/// announced length is checked against the cap before any room is made.
fn raw_block(
    decoder: &mut snap::raw::Decoder,
    block: &[u8],
    len: usize,
    sink: &mut Sink,
) -> DecodeResult<()> {
    let window = sink.window(len)?;
    let written = decoder
        .decompress(block, window)
        .map_err(|e| corrupt(CODEC, e))?;
    if written != len {
        return Err(DecodeError::CorruptCompressed {
            codec: CODEC,
            reason: "short block".into(),
        });
    }
    sink.advance(written);
    Ok(())
}
