//! Checked, zero-copy readers over [`Bytes`].

use super::Decode;
use crate::error::{DecodeError, DecodeResult};
use crate::int32_list::Int32List;
use crate::str_bytes::StrBytes;
use crate::uuid::Uuid;
use bytes::{Buf, Bytes};

#[inline]
fn need(buf: &Bytes, n: usize) -> DecodeResult<()> {
    if buf.remaining() < n {
        Err(DecodeError::Truncated {
            needed: n,
            remaining: buf.remaining(),
        })
    } else {
        Ok(())
    }
}

macro_rules! fixed_reader {
    ($(#[$doc:meta] $name:ident -> $ty:ty;)*) => {$(
        #[$doc]
        #[inline]
        pub fn $name(buf: &mut Bytes) -> DecodeResult<$ty> {
            // Straight from the slice: `Buf::get_*` checks the length again
            // and is not always inlined.
            const SIZE: usize = std::mem::size_of::<$ty>();
            let Some(&bytes) = buf.first_chunk::<SIZE>() else {
                return Err(DecodeError::Truncated { needed: SIZE, remaining: buf.len() });
            };
            buf.advance(SIZE);
            Ok(<$ty>::from_be_bytes(bytes))
        }
    )*};
}

fixed_reader! {
    /// Reads an `int8`.
    read_i8 -> i8;
    /// Reads an `int16`.
    read_i16 -> i16;
    /// Reads a `uint16`.
    read_u16 -> u16;
    /// Reads an `int32`.
    read_i32 -> i32;
    /// Reads a `uint32`.
    read_u32 -> u32;
    /// Reads an `int64`.
    read_i64 -> i64;
    /// Reads a `float64`.
    read_f64 -> f64;
}

/// Reads a `bool`: any non-zero byte is true.
#[inline]
pub fn read_bool(buf: &mut Bytes) -> DecodeResult<bool> {
    Ok(read_i8(buf)? != 0)
}

/// Reads a 16-byte `uuid`.
#[inline]
pub fn read_uuid(buf: &mut Bytes) -> DecodeResult<Uuid> {
    need(buf, 16)?;
    let mut raw = [0u8; 16];
    buf.copy_to_slice(&mut raw);
    Ok(Uuid(raw))
}

/// Reads an unsigned varint of at most 5 bytes (a `u32`).
#[inline]
pub fn read_unsigned_varint(buf: &mut Bytes) -> DecodeResult<u32> {
    // Lengths and counts nearly always fit one byte.
    if let Some(&byte) = buf.first() {
        if byte < 0x80 {
            buf.advance(1);
            return Ok(u32::from(byte));
        }
    }
    let mut value: u32 = 0;
    for i in 0..5 {
        let byte = read_i8(buf)? as u8;
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintTooLong { max_bytes: 5 })
}

/// Reads an unsigned varlong of at most 10 bytes (a `u64`).
#[inline]
pub fn read_unsigned_varlong(buf: &mut Bytes) -> DecodeResult<u64> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let byte = read_i8(buf)? as u8;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintTooLong { max_bytes: 10 })
}

/// Reads a zigzag `varint` (records use it).
#[inline]
pub fn read_varint(buf: &mut Bytes) -> DecodeResult<i32> {
    let raw = read_unsigned_varint(buf)?;
    Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

/// Reads a zigzag `varlong` (records use it).
#[inline]
pub fn read_varlong(buf: &mut Bytes) -> DecodeResult<i64> {
    let raw = read_unsigned_varlong(buf)?;
    Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64))
}

/// Takes exactly `len` bytes as a zero-copy slice.
#[inline]
pub fn read_slice(buf: &mut Bytes, len: usize) -> DecodeResult<Bytes> {
    need(buf, len)?;
    Ok(buf.split_to(len))
}

/// Reads a length prefix: int16/int32 (classic) or unsigned varint N+1
/// (compact). `None` is the null marker. A length larger than the bytes left
/// is rejected here, before anyone allocates for it.
#[inline]
fn read_len(buf: &mut Bytes, compact: bool, wide: bool) -> DecodeResult<Option<usize>> {
    let len: i64 = if compact {
        i64::from(read_unsigned_varint(buf)?) - 1
    } else if wide {
        i64::from(read_i32(buf)?)
    } else {
        i64::from(read_i16(buf)?)
    };
    match len {
        -1 => Ok(None),
        n if n < 0 => Err(DecodeError::InvalidLength(n)),
        n if n as u64 > buf.remaining() as u64 => Err(DecodeError::InvalidLength(n)),
        n => Ok(Some(n as usize)),
    }
}

/// Reads a nullable string (int16 length, or compact when `compact`).
#[inline]
pub fn read_nullable_string(buf: &mut Bytes, compact: bool) -> DecodeResult<Option<StrBytes>> {
    match read_len(buf, compact, false)? {
        None => Ok(None),
        Some(len) => {
            let raw = buf.split_to(len);
            StrBytes::from_utf8(raw)
                .map(Some)
                .map_err(|_| DecodeError::InvalidUtf8)
        }
    }
}

/// Reads a non-nullable string; a null marker is an error naming `field`.
#[inline]
pub fn read_string(buf: &mut Bytes, compact: bool, field: &'static str) -> DecodeResult<StrBytes> {
    read_nullable_string(buf, compact)?.ok_or(DecodeError::UnexpectedNull(field))
}

/// Reads nullable bytes (int32 length, or compact when `compact`).
#[inline]
pub fn read_nullable_bytes(buf: &mut Bytes, compact: bool) -> DecodeResult<Option<Bytes>> {
    match read_len(buf, compact, true)? {
        None => Ok(None),
        Some(len) => Ok(Some(buf.split_to(len))),
    }
}

/// Reads non-nullable bytes; a null marker is an error naming `field`.
#[inline]
pub fn read_bytes(buf: &mut Bytes, compact: bool, field: &'static str) -> DecodeResult<Bytes> {
    read_nullable_bytes(buf, compact)?.ok_or(DecodeError::UnexpectedNull(field))
}

/// Reads an array's element count (`None` = null array). The count is
/// rejected if it exceeds the bytes left: every element takes at least one
/// byte, so a huge count over a short buffer fails before any allocation.
#[inline]
pub fn read_array_len(buf: &mut Bytes, compact: bool) -> DecodeResult<Option<usize>> {
    read_len(buf, compact, true)
}

/// Most bytes an array reserves before its elements have decoded.
const MAX_PREALLOCATED_BYTES: usize = 64 * 1024;

/// A vector for an array of `len` elements. The count is bounded by the
/// bytes left, but an element may decode to far more memory than the one
/// byte it must take on the wire: reserve a bounded amount up front and let
/// the vector grow as elements arrive.
fn array_vec<T>(len: usize) -> Vec<T> {
    Vec::with_capacity(len.min(MAX_PREALLOCATED_BYTES / std::mem::size_of::<T>().max(1)))
}

/// Reads an array with `element`, which decodes one item.
#[inline]
pub fn read_nullable_array<T>(
    buf: &mut Bytes,
    compact: bool,
    mut element: impl FnMut(&mut Bytes) -> DecodeResult<T>,
) -> DecodeResult<Option<Vec<T>>> {
    let Some(len) = read_array_len(buf, compact)? else {
        return Ok(None);
    };
    let mut items = array_vec(len);
    for _ in 0..len {
        items.push(element(buf)?);
    }
    Ok(Some(items))
}

/// Reads a non-nullable array; a null marker is an error naming `field`.
#[inline]
pub fn read_array<T>(
    buf: &mut Bytes,
    compact: bool,
    field: &'static str,
    element: impl FnMut(&mut Bytes) -> DecodeResult<T>,
) -> DecodeResult<Vec<T>> {
    read_nullable_array(buf, compact, element)?.ok_or(DecodeError::UnexpectedNull(field))
}

/// Reads the `len` ids of an `[]int32` array into `out`.
#[inline]
fn take_int32s(buf: &mut Bytes, len: usize, out: &mut Int32List) -> DecodeResult<()> {
    let size = len
        .checked_mul(4)
        .ok_or(DecodeError::InvalidLength(len as i64))?;
    need(buf, size)?;
    out.fill_from_wire(&buf[..size]);
    buf.advance(size);
    Ok(())
}

/// Reads a non-nullable `[]int32` array into `out` (generated decoders
/// fill their fields in place; see [`Int32List`]).
#[inline]
pub fn read_int32s_into(
    buf: &mut Bytes,
    compact: bool,
    field: &'static str,
    out: &mut Int32List,
) -> DecodeResult<()> {
    let len = read_array_len(buf, compact)?.ok_or(DecodeError::UnexpectedNull(field))?;
    take_int32s(buf, len, out)
}

/// Reads a non-nullable `[]int32` array.
#[inline]
pub fn read_int32s(buf: &mut Bytes, compact: bool, field: &'static str) -> DecodeResult<Int32List> {
    let mut ids = Int32List::new();
    read_int32s_into(buf, compact, field, &mut ids)?;
    Ok(ids)
}

/// Reads a nullable `[]int32` array.
#[inline]
pub fn read_nullable_int32s(buf: &mut Bytes, compact: bool) -> DecodeResult<Option<Int32List>> {
    let Some(len) = read_array_len(buf, compact)? else {
        return Ok(None);
    };
    let mut ids = Int32List::new();
    take_int32s(buf, len, &mut ids)?;
    Ok(Some(ids))
}

/// Reads a nullable array of structs, each decoded in its slot of the
/// vector (see [`Decode::decode_in_place`]).
#[inline]
pub fn read_nullable_struct_array<T: Decode + Default>(
    buf: &mut Bytes,
    compact: bool,
    version: i16,
) -> DecodeResult<Option<Vec<T>>> {
    let Some(len) = read_array_len(buf, compact)? else {
        return Ok(None);
    };
    let mut items: Vec<T> = array_vec(len);
    for _ in 0..len {
        items.push(T::default());
        if let Some(item) = items.last_mut() {
            T::decode_in_place(item, buf, version)?;
        }
    }
    Ok(Some(items))
}

/// Reads a non-nullable array of structs (see [`read_nullable_struct_array`]).
#[inline]
pub fn read_struct_array<T: Decode + Default>(
    buf: &mut Bytes,
    compact: bool,
    field: &'static str,
    version: i16,
) -> DecodeResult<Vec<T>> {
    read_nullable_struct_array(buf, compact, version)?.ok_or(DecodeError::UnexpectedNull(field))
}

/// Reads the 1-byte presence marker of a nullable struct field:
/// -1 means null, anything else means present.
#[inline]
pub fn read_struct_marker(buf: &mut Bytes) -> DecodeResult<bool> {
    Ok(read_i8(buf)? >= 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_vectors_from_facts() {
        let cases: &[(i32, &[u8])] = &[
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (63, &[0x7e]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
            (-65, &[0x81, 0x01]),
            (8191, &[0xfe, 0x7f]),
            (-8192, &[0xff, 0x7f]),
            (8192, &[0x80, 0x80, 0x01]),
            (i32::MAX, &[0xfe, 0xff, 0xff, 0xff, 0x0f]),
            (i32::MIN, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
        ];
        for (value, bytes) in cases {
            let mut buf = Bytes::copy_from_slice(bytes);
            assert_eq!(read_varint(&mut buf).unwrap(), *value);
            assert!(buf.is_empty());
        }
        let longs: &[(i64, &[u8])] = &[
            (17179869184, &[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
            (-17179869185, &[0x81, 0x80, 0x80, 0x80, 0x80, 0x01]),
            (
                i64::MAX,
                &[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
            (
                i64::MIN,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
        ];
        for (value, bytes) in longs {
            let mut buf = Bytes::copy_from_slice(bytes);
            assert_eq!(read_varlong(&mut buf).unwrap(), *value);
        }
    }

    #[test]
    fn unsigned_varint_vectors_from_facts() {
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (63, &[0x3f]),
            (64, &[0x40]),
            (8191, &[0xff, 0x3f]),
            (8192, &[0x80, 0x40]),
            (1048575, &[0xff, 0xff, 0x3f]),
            (1048576, &[0x80, 0x80, 0x40]),
            (2147483647, &[0xff, 0xff, 0xff, 0xff, 0x07]),
            (u32::MAX, &[0xff, 0xff, 0xff, 0xff, 0x0f]),
            (2147483648, &[0x80, 0x80, 0x80, 0x80, 0x08]),
        ];
        for (value, bytes) in cases {
            let mut buf = Bytes::copy_from_slice(bytes);
            assert_eq!(read_unsigned_varint(&mut buf).unwrap(), *value);
        }
    }

    #[test]
    fn overlong_varint_is_an_error() {
        let mut buf = Bytes::from_static(&[0xff; 11]);
        assert_eq!(
            read_unsigned_varint(&mut buf),
            Err(DecodeError::VarintTooLong { max_bytes: 5 })
        );
    }

    #[test]
    fn huge_array_count_over_short_buffer_fails_fast() {
        let mut buf = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6]);
        let got = read_array(&mut buf, false, "x", read_i8);
        assert_eq!(got, Err(DecodeError::InvalidLength(i64::from(i32::MAX))));
    }

    #[test]
    fn int32_arrays_check_their_whole_body() {
        // Three ids announced, two present: the count passes the
        // one-byte-an-element check, the body does not.
        let mut buf = Bytes::from_static(&[0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 9]);
        let got = read_int32s(&mut buf, false, "x");
        assert!(
            matches!(got, Err(DecodeError::Truncated { needed: 12, .. })),
            "{got:?}"
        );
        let mut buf = Bytes::from_static(&[3, 0, 0, 0, 1, 0, 0, 0, 2, 7]);
        assert_eq!(
            read_int32s(&mut buf, true, "x"),
            Ok(Int32List::from([1, 2]))
        );
        assert_eq!(buf.as_ref(), &[7]);
        let mut buf = Bytes::from_static(&[0]);
        assert_eq!(read_nullable_int32s(&mut buf, true), Ok(None));
        let mut buf = Bytes::from_static(&[0]);
        assert_eq!(
            read_int32s(&mut buf, true, "x"),
            Err(DecodeError::UnexpectedNull("x"))
        );
    }

    #[test]
    fn truncated_and_negative_lengths() {
        let mut buf = Bytes::from_static(&[0x00]);
        assert!(matches!(
            read_i16(&mut buf),
            Err(DecodeError::Truncated { .. })
        ));
        let mut buf = Bytes::from_static(&[0xff, 0xfe]);
        assert_eq!(
            read_nullable_string(&mut buf, false),
            Err(DecodeError::InvalidLength(-2))
        );
        let mut buf = Bytes::from_static(&[0x00]);
        assert_eq!(read_nullable_string(&mut buf, true), Ok(None));
        let mut buf = Bytes::from_static(&[0x00, 0x01, 0xff]);
        assert_eq!(
            read_nullable_string(&mut buf, false),
            Err(DecodeError::InvalidUtf8)
        );
    }
}
