//! The tagged-field section that ends every struct in a flexible version.
//!
//! Layout: unsigned varint count, then per field unsigned varint tag,
//! unsigned varint size, and `size` bytes of value, in ascending tag order.
//! Tags a message does not know are kept as [`RawTaggedField`] so that a
//! proxy re-encodes them unchanged.

use super::{WireBuf, read_slice, read_unsigned_varint, write_unsigned_varint};
use crate::error::{DecodeError, DecodeResult, EncodeResult};
use bytes::{Bytes, BytesMut};

/// A tagged field this codec has no type for, kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct RawTaggedField {
    /// The field's tag.
    pub tag: u32,
    /// The field's encoded value.
    pub data: Bytes,
}

/// Reads a tagged-field section. `known` is called with each tag and its
/// value bytes and returns whether it consumed the tag; the rest are returned.
#[inline(always)]
pub fn read_tagged_fields(
    buf: &mut Bytes,
    known: impl FnMut(u32, &mut Bytes) -> DecodeResult<bool>,
) -> DecodeResult<Vec<RawTaggedField>> {
    let mut unknown = Vec::new();
    read_tagged_fields_into(buf, known, &mut unknown)?;
    Ok(unknown)
}

/// [`read_tagged_fields`] into `unknown` (generated decoders fill their
/// fields in place; an empty section leaves `unknown` as it is).
#[inline]
pub fn read_tagged_fields_into(
    buf: &mut Bytes,
    known: impl FnMut(u32, &mut Bytes) -> DecodeResult<bool>,
    unknown: &mut Vec<RawTaggedField>,
) -> DecodeResult<()> {
    // Nearly always empty: one zero byte, read inline.
    if buf.first() == Some(&0) {
        bytes::Buf::advance(buf, 1);
        return Ok(());
    }
    *unknown = read_some_tagged_fields(buf, known)?;
    Ok(())
}

#[inline(never)]
fn read_some_tagged_fields(
    buf: &mut Bytes,
    mut known: impl FnMut(u32, &mut Bytes) -> DecodeResult<bool>,
) -> DecodeResult<Vec<RawTaggedField>> {
    let count = read_unsigned_varint(buf)?;
    if count as usize > buf.len() {
        return Err(DecodeError::InvalidLength(i64::from(count)));
    }
    let mut unknown = Vec::new();
    let mut last_tag: Option<u32> = None;
    for i in 0..count {
        let tag = read_unsigned_varint(buf)?;
        if last_tag.is_some_and(|last| tag <= last) {
            return Err(DecodeError::Invalid(
                "tagged fields out of order or repeated",
            ));
        }
        last_tag = Some(tag);
        let size = read_unsigned_varint(buf)? as usize;
        let mut data = read_slice(buf, size)?;
        if !known(tag, &mut data)? {
            if unknown.capacity() == 0 {
                // Exactly what the rest of the section can still hold, not
                // the default growth (4 entries for the first push): a
                // hostile input of many tiny structs, each with one unknown
                // tag, would otherwise cost 160 bytes per 4 input bytes.
                unknown.reserve_exact((count - i) as usize);
            }
            unknown.push(RawTaggedField { tag, data });
        }
    }
    Ok(unknown)
}

/// Skips a tagged-field section, keeping nothing (for callers that only
/// need to get past it, like the response header reader).
pub fn skip_tagged_fields(buf: &mut Bytes) -> DecodeResult<()> {
    read_tagged_fields(buf, |_, _| Ok(true)).map(drop)
}

/// Encodes one known tagged field's value into its own buffer, so the size
/// can be written before it.
pub fn encode_tagged_value(
    tag: u32,
    encode: impl FnOnce(&mut BytesMut) -> EncodeResult<()>,
) -> EncodeResult<RawTaggedField> {
    let mut scratch = BytesMut::new();
    encode(&mut scratch)?;
    Ok(RawTaggedField {
        tag,
        data: scratch.freeze(),
    })
}

/// Writes the tagged-field section of a struct that has no known tagged
/// fields: the unknown ones kept from decoding, nearly always none.
#[inline(always)]
pub fn write_unknown_tagged_fields<B: WireBuf + ?Sized>(buf: &mut B, unknown: &[RawTaggedField]) {
    // Nearly always empty: one byte, written inline.
    if unknown.is_empty() {
        buf.put_u8(0);
    } else {
        // Written apart, so that `buf` (an encoder's sink, whose fields
        // live in registers) is not handed to a function that is not
        // inlined.
        buf.put_slice(&some_tagged_fields(Vec::new(), unknown));
    }
}

/// Writes a tagged-field section from the known fields (already encoded, in
/// ascending tag order) and the unknown ones kept from decoding.
#[inline(always)]
pub fn write_tagged_fields<B: WireBuf + ?Sized>(
    buf: &mut B,
    known: Vec<RawTaggedField>,
    unknown: &[RawTaggedField],
) {
    if known.is_empty() {
        write_unknown_tagged_fields(buf, unknown);
    } else {
        buf.put_slice(&some_tagged_fields(known, unknown));
    }
}

#[inline(never)]
fn some_tagged_fields(known: Vec<RawTaggedField>, unknown: &[RawTaggedField]) -> BytesMut {
    let mut all: Vec<&RawTaggedField> = known.iter().chain(unknown.iter()).collect();
    all.sort_by_key(|f| f.tag);
    let mut out = BytesMut::new();
    write_unsigned_varint(&mut out, all.len() as u32);
    for field in all {
        write_unsigned_varint(&mut out, field.tag);
        write_unsigned_varint(&mut out, field.data.len() as u32);
        out.put_slice(&field.data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_tags_survive_a_round_trip() {
        let unknown = vec![RawTaggedField {
            tag: 7,
            data: Bytes::from_static(b"abc"),
        }];
        let known = vec![RawTaggedField {
            tag: 1,
            data: Bytes::from_static(b"\x01"),
        }];
        let mut buf = BytesMut::new();
        write_tagged_fields(&mut buf, known, &unknown);
        let mut bytes = buf.freeze();
        let mut seen = Vec::new();
        let kept = read_tagged_fields(&mut bytes, |tag, _| {
            seen.push(tag);
            Ok(tag == 1)
        })
        .unwrap();
        assert_eq!(seen, vec![1, 7]);
        assert_eq!(kept, unknown);
    }

    #[test]
    fn repeated_tag_is_rejected() {
        let mut bytes = Bytes::from_static(&[2, 1, 0, 1, 0]);
        assert!(read_tagged_fields(&mut bytes, |_, _| Ok(false)).is_err());
    }
}
