//! LZ4 frame format (FACTS.md 6), block codec from [`lz4_flex`]; the frame
//! layer is written here so that output goes straight into the caller's
//! buffer and the cap is enforced per block.
//!
//! Written: what the Java client's `Lz4BlockOutputStream` and librdkafka
//! write and both read: version 01, independent 64 KiB blocks, no block or
//! content checksum, no content size (`04 22 4D 18 60 40 82`). A block that
//! does not shrink is stored (size high bit set).
//!
//! Read: any standard frame (block sizes 64 KiB..4 MiB, block and content
//! checksums verified when present, content size checked when present,
//! linked blocks supported even though the Java reader refuses them),
//! concatenated frames. Bytes after the last frame that do not start a new
//! frame are ignored, as the Java reader stops at the end mark. Dictionary
//! ids are refused.

use super::{Sink, corrupt};
use crate::error::{DecodeResult, EncodeError, EncodeResult};
use bytes::{BufMut, Bytes, BytesMut};
use twox_hash::XxHash32;

const CODEC: &str = "lz4";
const MAGIC: [u8; 4] = 0x184D_2204u32.to_le_bytes();
/// FLG: version 01, independent blocks, no checksums, no content size.
const FLG_WRITTEN: u8 = 0x60;
/// BD: 64 KiB maximum block size.
const BD_WRITTEN: u8 = 0x40;
const BLOCK_WRITTEN: usize = 64 * 1024;
const UNCOMPRESSED_BIT: u32 = 0x8000_0000;
/// LZ4 back-references reach at most this far.
const WINDOW: usize = 64 * 1024;

/// The frame header checksum byte: second byte of xxHash32 of the descriptor.
fn header_checksum(descriptor: &[u8]) -> u8 {
    (XxHash32::oneshot(0, descriptor) >> 8) as u8
}

pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> EncodeResult<()> {
    out.reserve(7 + 4 + input.len() / 2 + 64);
    out.put_slice(&MAGIC);
    out.put_u8(FLG_WRITTEN);
    out.put_u8(BD_WRITTEN);
    out.put_u8(header_checksum(&[FLG_WRITTEN, BD_WRITTEN]));
    for block in input.chunks(BLOCK_WRITTEN) {
        let start = out.len();
        out.resize(
            start + 4 + lz4_flex::block::get_maximum_output_size(block.len()),
            0,
        );
        let written = lz4_flex::block::compress_into(block, &mut out[start + 4..])
            .map_err(|e| EncodeError::Compression(e.to_string()))?;
        if written < block.len() {
            out[start..start + 4].copy_from_slice(&(written as u32).to_le_bytes());
            out.truncate(start + 4 + written);
        } else {
            out.truncate(start);
            out.put_u32_le(block.len() as u32 | UNCOMPRESSED_BIT);
            out.put_slice(block);
        }
    }
    out.put_u32_le(0);
    Ok(())
}

/// `check_header`: verify the header checksum byte (false only for legacy
/// magic-0 messages, whose writers computed it over the magic too).
pub(super) fn decompress(input: &[u8], max_size: usize, check_header: bool) -> DecodeResult<Bytes> {
    let mut sink = Sink::new(max_size, input.len(), 0);
    let mut rest = frame(input, &mut sink, check_header)?;
    while rest.starts_with(&MAGIC) {
        rest = frame(rest, &mut sink, check_header)?;
    }
    Ok(sink.finish())
}

fn take<'a, const N: usize>(input: &'a [u8], what: &str) -> DecodeResult<([u8; N], &'a [u8])> {
    input
        .split_first_chunk::<N>()
        .map(|(head, rest)| (*head, rest))
        .ok_or_else(|| corrupt(CODEC, format!("truncated {what}")))
}

/// Decodes one frame into `sink`, returning the input after it.
fn frame<'a>(input: &'a [u8], sink: &mut Sink, check_header: bool) -> DecodeResult<&'a [u8]> {
    let (magic, rest) = take::<4>(input, "frame magic")?;
    if magic != MAGIC {
        return Err(corrupt(CODEC, "not an LZ4 frame (bad magic)"));
    }
    let ([flg, bd], mut rest) = take::<2>(rest, "frame descriptor")?;
    if flg >> 6 != 1 {
        return Err(corrupt(
            CODEC,
            format!("unsupported frame version {}", flg >> 6),
        ));
    }
    if flg & 0x02 != 0 || bd & 0x8f != 0 {
        return Err(corrupt(CODEC, "reserved descriptor bits set"));
    }
    if flg & 0x01 != 0 {
        return Err(corrupt(CODEC, "dictionary ids are not supported"));
    }
    let independent = flg & 0x20 != 0;
    let block_checksums = flg & 0x10 != 0;
    let has_content_size = flg & 0x08 != 0;
    let content_checksum = flg & 0x04 != 0;
    let block_max = match (bd >> 4) & 0x07 {
        4 => 64 * 1024,
        5 => 256 * 1024,
        6 => 1024 * 1024,
        7 => 4 * 1024 * 1024,
        other => return Err(corrupt(CODEC, format!("invalid block size code {other}"))),
    };
    let mut content_size = None;
    if has_content_size {
        let (size, after) = take::<8>(rest, "content size")?;
        content_size = Some(u64::from_le_bytes(size));
        rest = after;
    }
    let ([hc], mut rest) = take::<1>(rest, "header checksum")?;
    if check_header {
        let descriptor_len = if has_content_size { 10 } else { 2 };
        let descriptor = input.get(4..4 + descriptor_len).unwrap_or_default();
        if header_checksum(descriptor) != hc {
            return Err(corrupt(CODEC, "header checksum mismatch"));
        }
    }
    if let Some(size) = content_size {
        sink.reserve_hint(usize::try_from(size).unwrap_or(usize::MAX), input.len());
    }

    let frame_start = sink.filled().len();
    loop {
        let (size, after) = take::<4>(rest, "block size")?;
        rest = after;
        let size = u32::from_le_bytes(size);
        if size == 0 {
            break;
        }
        let stored = size & UNCOMPRESSED_BIT != 0;
        let len = (size & !UNCOMPRESSED_BIT) as usize;
        if len > block_max {
            return Err(corrupt(
                CODEC,
                format!("block of {len} bytes exceeds the frame's maximum {block_max}"),
            ));
        }
        let (data, after) = rest
            .split_at_checked(len)
            .ok_or_else(|| corrupt(CODEC, "truncated block"))?;
        rest = after;
        if block_checksums {
            let (sum, after) = take::<4>(rest, "block checksum")?;
            rest = after;
            if XxHash32::oneshot(0, data) != u32::from_le_bytes(sum) {
                return Err(corrupt(CODEC, "block checksum mismatch"));
            }
        }
        if stored {
            sink.extend(data)?;
            continue;
        }
        let room = block_max.min(sink.room());
        let (before, window) = sink.window_after_output(room);
        let result = if independent {
            lz4_flex::block::decompress_into(data, window)
        } else {
            let dict = before
                .get(before.len().saturating_sub(WINDOW)..)
                .unwrap_or_default();
            lz4_flex::block::decompress_into_with_dict(data, window, dict)
        };
        match result {
            Ok(written) => sink.advance(written),
            Err(lz4_flex::block::DecompressError::OutputTooSmall { .. }) if room < block_max => {
                return Err(sink.too_large());
            }
            Err(e) => return Err(corrupt(CODEC, e)),
        }
    }
    let produced = sink.filled().get(frame_start..).unwrap_or_default();
    if content_checksum {
        let (sum, after) = take::<4>(rest, "content checksum")?;
        rest = after;
        if XxHash32::oneshot(0, produced) != u32::from_le_bytes(sum) {
            return Err(corrupt(CODEC, "content checksum mismatch"));
        }
    }
    if let Some(size) = content_size
        && size != produced.len() as u64
    {
        return Err(corrupt(
            CODEC,
            format!("content size {size} announced, {} decoded", produced.len()),
        ));
    }
    Ok(rest)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::error::DecodeError;

    #[test]
    fn written_header_is_the_standard_one() {
        let mut out = BytesMut::new();
        compress(b"", &mut out).unwrap();
        assert_eq!(
            &out[..],
            &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0]
        );
    }

    #[test]
    fn header_checksum_is_verified_unless_legacy() {
        let mut out = BytesMut::new();
        compress(b"hello hello hello hello", &mut out).unwrap();
        out[6] ^= 0xff;
        assert!(matches!(
            decompress(&out, 100, true),
            Err(DecodeError::CorruptCompressed { .. })
        ));
        assert_eq!(
            &decompress(&out, 100, false).unwrap()[..],
            b"hello hello hello hello"
        );
    }
}
