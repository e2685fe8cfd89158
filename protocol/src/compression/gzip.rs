//! gzip: the Java client writes one standard gzip member (JDK
//! `GZIPOutputStream`); readers accept concatenated members like the JDK's
//! `GZIPInputStream`.

use super::{Sink, corrupt};
use crate::error::{DecodeResult, EncodeError, EncodeResult};
use bytes::{BufMut, Bytes, BytesMut};
use flate2::bufread::MultiGzDecoder;
use flate2::write::GzEncoder;
use std::io::Write;

const CODEC: &str = "gzip";

pub(super) fn compress(input: &[u8], out: &mut BytesMut) -> EncodeResult<()> {
    // Deflate rarely expands; reserve for the common case in one step.
    out.reserve(input.len() / 2 + 64);
    let mut encoder = GzEncoder::new(out.writer(), flate2::Compression::default());
    encoder
        .write_all(input)
        .map_err(|e| EncodeError::Compression(e.to_string()))?;
    encoder
        .finish()
        .map_err(|e| EncodeError::Compression(e.to_string()))?;
    Ok(())
}

pub(super) fn decompress(input: &[u8], max_size: usize) -> DecodeResult<Bytes> {
    // ISIZE, the last four bytes of a member, is the uncompressed size mod 2^32.
    let hint = match input.len().checked_sub(4).and_then(|at| input.get(at..)) {
        Some(&[a, b, c, d]) if input.len() >= 18 => u32::from_le_bytes([a, b, c, d]) as usize,
        _ => 0,
    };
    let mut sink = Sink::new(max_size, input.len(), hint);
    let mut decoder = MultiGzDecoder::new(input);
    sink.read_all(&mut decoder, CODEC)?;
    if sink.filled().is_empty() && input.is_empty() {
        return Err(corrupt(CODEC, "empty input"));
    }
    Ok(sink.finish())
}
