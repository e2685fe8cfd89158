//! Zstandard: standard frames, nothing Kafka-specific (FACTS.md 6).
//!
//! By default both directions are pure Rust ([`ruzstd`]). Its encoder
//! implements only the "fastest" level (roughly zstd level 1), which is what
//! we write. With the cargo feature `zstd-c`, the `zstd` crate (libzstd) is
//! used instead, writing at level 3 like the Java client.
//!
//! Reading accepts concatenated and skippable frames and verifies the
//! content checksum when a frame carries one. The decoder window is limited
//! to `max(max_size, 8 MiB)`: zstd levels up to 19 use windows of at most
//! 8 MiB, and a window larger than the output cap is never needed.

use super::{Sink, corrupt};
#[cfg(not(feature = "zstd-c"))]
use crate::error::DecodeError;
#[cfg(feature = "zstd-c")]
use crate::error::EncodeError;
use crate::error::{DecodeResult, EncodeResult};
use bytes::{BufMut, Bytes, BytesMut};

const CODEC: &str = "zstd";
const MIN_WINDOW_LIMIT: usize = 8 * 1024 * 1024;

fn window_limit(max_size: usize) -> u64 {
    max_size.max(MIN_WINDOW_LIMIT) as u64
}

#[cfg(not(feature = "zstd-c"))]
pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> EncodeResult<()> {
    use ruzstd::encoding::{CompressionLevel, FrameCompressor};
    out.reserve(input.len() / 2 + 64);
    let mut compressor = FrameCompressor::new(CompressionLevel::Fastest);
    compressor.set_source(input);
    compressor.set_drain(out.writer());
    // Cannot fail: the source is a slice and the drain a `BytesMut`.
    compressor.compress();
    Ok(())
}

#[cfg(not(feature = "zstd-c"))]
pub(super) fn decompress(input: &[u8], max_size: usize) -> DecodeResult<Bytes> {
    use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
    use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

    if input.is_empty() {
        return Err(corrupt(CODEC, "empty input"));
    }
    let mut sink = Sink::new(max_size, input.len(), 0);
    let mut decoder = FrameDecoder::new();
    decoder.set_max_window_size(window_limit(max_size));
    let mut rest = input;
    while !rest.is_empty() {
        let mut stream = match StreamingDecoder::new_with_decoder(&mut rest, &mut decoder) {
            Ok(stream) => stream,
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame {
                length,
                ..
            })) => {
                rest = usize::try_from(length)
                    .ok()
                    .and_then(|n| rest.get(n..))
                    .ok_or_else(|| corrupt(CODEC, "truncated skippable frame"))?;
                continue;
            }
            Err(FrameDecoderError::WindowSizeTooBig { .. }) => {
                return Err(DecodeError::DecompressedTooLarge { max: max_size });
            }
            Err(e) => return Err(corrupt(CODEC, e)),
        };
        let hint = usize::try_from(stream.decoder.content_size()).unwrap_or(usize::MAX);
        sink.reserve_hint(hint, input.len());
        sink.read_all(&mut stream, CODEC)?;
        if let (Some(stored), Some(computed)) = (
            stream.decoder.get_checksum_from_data(),
            stream.decoder.get_calculated_checksum(),
        ) && stored != computed
        {
            return Err(corrupt(CODEC, "content checksum mismatch"));
        }
    }
    Ok(sink.finish())
}

#[cfg(feature = "zstd-c")]
pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> EncodeResult<()> {
    use std::io::Write;
    out.reserve(input.len() / 2 + 64);
    let fail = |e: std::io::Error| EncodeError::Compression(e.to_string());
    let mut encoder = ::zstd::stream::write::Encoder::new(out.writer(), 3).map_err(fail)?;
    encoder.include_contentsize(true).map_err(fail)?;
    encoder
        .set_pledged_src_size(Some(input.len() as u64))
        .map_err(fail)?;
    encoder.write_all(input).map_err(fail)?;
    encoder.finish().map_err(fail)?;
    Ok(())
}

#[cfg(feature = "zstd-c")]
pub(super) fn decompress(input: &[u8], max_size: usize) -> DecodeResult<Bytes> {
    if input.is_empty() {
        return Err(corrupt(CODEC, "empty input"));
    }
    let hint = ::zstd::zstd_safe::get_frame_content_size(input)
        .ok()
        .flatten()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let mut sink = Sink::new(max_size, input.len(), hint);
    let mut decoder =
        ::zstd::stream::read::Decoder::with_buffer(input).map_err(|e| corrupt(CODEC, e))?;
    // Smallest power of two covering the limit.
    let window_log = 64 - (window_limit(max_size) - 1).leading_zeros();
    decoder
        .window_log_max(window_log.min(31))
        .map_err(|e| corrupt(CODEC, e))?;
    sink.read_all(&mut decoder, CODEC)?;
    Ok(sink.finish())
}
