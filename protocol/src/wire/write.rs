//! Writers for the primitive encodings.

use super::WireBuf;
use crate::error::{EncodeError, EncodeResult};
use crate::uuid::Uuid;
use bytes::Bytes;

/// Longest string the protocol allows (int16 length).
pub const MAX_STRING_LEN: usize = i16::MAX as usize;

/// Writes an unsigned varint.
#[inline]
pub fn write_unsigned_varint<B: WireBuf + ?Sized>(buf: &mut B, mut value: u32) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

/// Writes an unsigned varlong.
#[inline]
pub fn write_unsigned_varlong<B: WireBuf + ?Sized>(buf: &mut B, mut value: u64) {
    while value >= 0x80 {
        buf.put_u8((value as u8) | 0x80);
        value >>= 7;
    }
    buf.put_u8(value as u8);
}

/// Writes a zigzag varint.
#[inline]
pub fn write_varint<B: WireBuf + ?Sized>(buf: &mut B, value: i32) {
    write_unsigned_varint(buf, ((value << 1) ^ (value >> 31)) as u32);
}

/// Writes a zigzag varlong.
#[inline]
pub fn write_varlong<B: WireBuf + ?Sized>(buf: &mut B, value: i64) {
    write_unsigned_varlong(buf, ((value << 1) ^ (value >> 63)) as u64);
}

/// Bytes an unsigned varint of `value` takes.
#[inline]
pub fn unsigned_varint_len(value: u32) -> usize {
    match value {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Bytes a zigzag varint of `value` takes.
#[inline]
pub fn varint_len(value: i32) -> usize {
    unsigned_varint_len(((value << 1) ^ (value >> 31)) as u32)
}

/// Bytes a zigzag varlong of `value` takes.
#[inline]
pub fn varlong_len(value: i64) -> usize {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

/// Writes a `bool` as 0 or 1.
#[inline]
pub fn write_bool<B: WireBuf + ?Sized>(buf: &mut B, value: bool) {
    buf.put_u8(u8::from(value));
}

/// Writes a `uuid`.
#[inline]
pub fn write_uuid<B: WireBuf + ?Sized>(buf: &mut B, value: &Uuid) {
    buf.put_slice(&value.0);
}

/// Writes a length prefix for a present value of `len`.
#[inline(always)]
fn write_len<B: WireBuf + ?Sized>(
    buf: &mut B,
    len: usize,
    compact: bool,
    wide: bool,
) -> EncodeResult<()> {
    let max = if wide {
        i32::MAX as usize - 1
    } else {
        MAX_STRING_LEN
    };
    if len > max {
        return Err(EncodeError::TooLong { len, max });
    }
    if compact {
        write_unsigned_varint(buf, len as u32 + 1);
    } else if wide {
        buf.put_i32(len as i32);
    } else {
        buf.put_i16(len as i16);
    }
    Ok(())
}

/// Writes the null marker for a string (`wide` = false) or bytes/array.
#[inline(always)]
fn write_null<B: WireBuf + ?Sized>(buf: &mut B, compact: bool, wide: bool) {
    if compact {
        buf.put_u8(0);
    } else if wide {
        buf.put_i32(-1);
    } else {
        buf.put_i16(-1);
    }
}

/// Writes a string.
#[inline(always)]
pub fn write_string<B: WireBuf + ?Sized>(
    buf: &mut B,
    value: &str,
    compact: bool,
) -> EncodeResult<()> {
    write_len(buf, value.len(), compact, false)?;
    buf.put_slice(value.as_bytes());
    Ok(())
}

/// Writes a nullable string.
#[inline]
pub fn write_nullable_string<B: WireBuf + ?Sized>(
    buf: &mut B,
    value: Option<&str>,
    compact: bool,
) -> EncodeResult<()> {
    match value {
        None => {
            write_null(buf, compact, false);
            Ok(())
        }
        Some(s) => write_string(buf, s, compact),
    }
}

/// Writes bytes.
#[inline]
pub fn write_bytes<B: WireBuf + ?Sized>(
    buf: &mut B,
    value: &Bytes,
    compact: bool,
) -> EncodeResult<()> {
    write_len(buf, value.len(), compact, true)?;
    buf.put_shared(value);
    Ok(())
}

/// Writes nullable bytes.
#[inline]
pub fn write_nullable_bytes<B: WireBuf + ?Sized>(
    buf: &mut B,
    value: Option<&Bytes>,
    compact: bool,
) -> EncodeResult<()> {
    match value {
        None => {
            write_null(buf, compact, true);
            Ok(())
        }
        Some(b) => write_bytes(buf, b, compact),
    }
}

/// Writes an array's element count (`None` = null array).
#[inline]
pub fn write_array_len<B: WireBuf + ?Sized>(
    buf: &mut B,
    len: Option<usize>,
    compact: bool,
) -> EncodeResult<()> {
    match len {
        None => {
            write_null(buf, compact, true);
            Ok(())
        }
        Some(n) => write_len(buf, n, compact, true),
    }
}

/// Writes an array, each element with `element`.
#[inline]
pub fn write_array<B: WireBuf + ?Sized, T>(
    buf: &mut B,
    items: &[T],
    compact: bool,
    mut element: impl FnMut(&mut B, &T) -> EncodeResult<()>,
) -> EncodeResult<()> {
    write_array_len(buf, Some(items.len()), compact)?;
    for item in items {
        element(buf, item)?;
    }
    Ok(())
}

/// Writes a nullable array.
#[inline]
pub fn write_nullable_array<B: WireBuf + ?Sized, T>(
    buf: &mut B,
    items: Option<&[T]>,
    compact: bool,
    element: impl FnMut(&mut B, &T) -> EncodeResult<()>,
) -> EncodeResult<()> {
    match items {
        None => write_array_len(buf, None, compact),
        Some(items) => write_array(buf, items, compact, element),
    }
}

/// Writes an `[]int32` array (an [`Int32List`](crate::Int32List) field).
/// Always inlined: as a call of its own it cost a third more per array.
#[inline(always)]
pub fn write_int32s<B: WireBuf + ?Sized>(
    buf: &mut B,
    ids: &[i32],
    compact: bool,
) -> EncodeResult<()> {
    write_array_len(buf, Some(ids.len()), compact)?;
    buf.put_i32s(ids);
    Ok(())
}

/// Writes a nullable `[]int32` array.
#[inline]
pub fn write_nullable_int32s<B: WireBuf + ?Sized>(
    buf: &mut B,
    ids: Option<&[i32]>,
    compact: bool,
) -> EncodeResult<()> {
    match ids {
        None => write_array_len(buf, None, compact),
        Some(ids) => write_int32s(buf, ids, compact),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::read::*;
    use bytes::Bytes;
    use bytes::BytesMut;

    #[test]
    fn varints_round_trip_and_lengths_agree() {
        for v in [0, 1, -1, 63, -64, 64, 8191, 8192, -8193, i32::MAX, i32::MIN] {
            let mut buf = BytesMut::new();
            write_varint(&mut buf, v);
            assert_eq!(buf.len(), varint_len(v));
            assert_eq!(read_varint(&mut buf.freeze()).unwrap(), v);
        }
        for v in [0i64, -1, 17179869184, -17179869185, i64::MAX, i64::MIN] {
            let mut buf = BytesMut::new();
            write_varlong(&mut buf, v);
            assert_eq!(buf.len(), varlong_len(v));
            assert_eq!(read_varlong(&mut buf.freeze()).unwrap(), v);
        }
    }

    #[test]
    fn strings_in_both_forms() {
        let mut buf = BytesMut::new();
        write_string(&mut buf, "test", false).unwrap();
        write_nullable_string(&mut buf, None, true).unwrap();
        write_string(&mut buf, "x", true).unwrap();
        assert_eq!(&buf[..], &[0, 4, b't', b'e', b's', b't', 0, 2, b'x']);
        let mut bytes: Bytes = buf.freeze();
        assert_eq!(read_string(&mut bytes, false, "a").unwrap(), "test");
        assert_eq!(read_nullable_string(&mut bytes, true).unwrap(), None);
        assert_eq!(read_string(&mut bytes, true, "b").unwrap(), "x");
    }

    #[test]
    fn overlong_string_is_refused() {
        let long = "x".repeat(MAX_STRING_LEN + 1);
        let mut buf = BytesMut::new();
        assert!(matches!(
            write_string(&mut buf, &long, false),
            Err(EncodeError::TooLong { .. })
        ));
    }
}
