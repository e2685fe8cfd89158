//! One record of a v2 batch (FACTS.md 5.3): decoding from the decompressed
//! records section and encoding into a builder's buffer.

use crate::error::{DecodeError, DecodeResult, EncodeError, EncodeResult};
use crate::str_bytes::StrBytes;
use crate::wire::{BytesMutSink, varint_len, varlong_len, write_varint, write_varlong};
use bytes::{BufMut, Bytes, BytesMut};

/// A record header. A record keeps its headers in order, duplicates included.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Header {
    /// Header key (UTF-8, never null).
    pub key: StrBytes,
    /// Header value; `None` is a null value.
    pub value: Option<Bytes>,
}

impl Header {
    /// A header from a key and an optional value (both copied).
    pub fn new(key: &str, value: Option<&[u8]>) -> Self {
        Self {
            key: StrBytes::from(key),
            value: value.map(Bytes::copy_from_slice),
        }
    }
}

/// A decoded record with its absolute offset and timestamp.
///
/// `key`, `value` and header fields are slices of the (decompressed) batch
/// buffer, not copies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Record {
    /// Absolute offset (`baseOffset + offsetDelta`).
    pub offset: i64,
    /// Absolute timestamp in milliseconds: `baseTimestamp + timestampDelta`
    /// for CreateTime batches, the batch's `maxTimestamp` for LogAppendTime
    /// batches, -1 for legacy v0 messages.
    pub timestamp: i64,
    /// Key; `None` is a null key.
    pub key: Option<Bytes>,
    /// Value; `None` is a null value (a tombstone).
    pub value: Option<Bytes>,
    /// Headers in wire order; empty (unallocated) when there are none.
    pub headers: Vec<Header>,
}

/// Smallest encoding of a record: length, attributes, timestamp delta,
/// offset delta, key length, value length and header count, one byte each.
pub(crate) const MIN_RECORD_LEN: usize = 7;

/// A record borrowed from its batch buffer: what [`super::Records::next_ref`]
/// yields. Decoding it touches no reference count and allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// Absolute offset.
    pub offset: i64,
    /// Absolute timestamp (see [`Record::timestamp`]).
    pub timestamp: i64,
    /// Key; `None` is a null key.
    pub key: Option<&'a [u8]>,
    /// Value; `None` is a null value.
    pub value: Option<&'a [u8]>,
    /// Headers, already validated, decoded as they are iterated.
    pub headers: HeadersRef<'a>,
}

/// The encoded headers of a [`RecordRef`], validated when the record was
/// decoded (lengths and UTF-8 keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeadersRef<'a> {
    raw: &'a [u8],
    count: usize,
}

impl<'a> HeadersRef<'a> {
    /// Number of headers.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The headers in wire order, duplicates included.
    pub fn iter(&self) -> HeadersIter<'a> {
        HeadersIter {
            raw: self.raw,
            remaining: self.count,
        }
    }
}

impl<'a> IntoIterator for HeadersRef<'a> {
    type Item = (&'a str, Option<&'a [u8]>);
    type IntoIter = HeadersIter<'a>;
    fn into_iter(self) -> HeadersIter<'a> {
        self.iter()
    }
}

/// Iterator over [`HeadersRef`]: `(key, value)` pairs.
#[derive(Debug, Clone)]
pub struct HeadersIter<'a> {
    raw: &'a [u8],
    remaining: usize,
}

impl<'a> Iterator for HeadersIter<'a> {
    type Item = (&'a str, Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // Validated when the record was decoded; stop quietly if not.
        match parse_header(&mut self.raw) {
            Ok(header) => Some(header),
            Err(_) => {
                self.remaining = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> RecordRef<'a> {
    /// An owned [`Record`] whose fields are zero-copy slices of `data`, the
    /// buffer this record was decoded from.
    pub(crate) fn to_record(self, data: &Bytes) -> DecodeResult<Record> {
        let slice = |s: &[u8]| data.slice_ref(s);
        let mut headers = Vec::new();
        if self.headers.count > 0 {
            headers.reserve_exact(self.headers.count);
            for (key, value) in self.headers.iter() {
                let key = StrBytes::from_utf8(slice(key.as_bytes()))
                    .map_err(|_| DecodeError::InvalidUtf8)?;
                headers.push(Header {
                    key,
                    value: value.map(slice),
                });
            }
        }
        Ok(Record {
            offset: self.offset,
            timestamp: self.timestamp,
            key: self.key.map(slice),
            value: self.value.map(slice),
            headers,
        })
    }

    /// A borrowed view of an owned record (legacy messages, which have no
    /// headers).
    pub(crate) fn of(record: &'a Record) -> Self {
        RecordRef {
            offset: record.offset,
            timestamp: record.timestamp,
            key: record.key.as_deref(),
            value: record.value.as_deref(),
            headers: HeadersRef::default(),
        }
    }
}

// Slice readers for the record hot path: the same encodings as
// `crate::wire`, over `&[u8]` so that decoding a record costs no reference
// counting until (and unless) an owned `Bytes` is asked for.

#[inline]
fn truncated(needed: usize, buf: &[u8]) -> DecodeError {
    DecodeError::Truncated {
        needed,
        remaining: buf.len(),
    }
}

#[inline]
fn byte(buf: &mut &[u8]) -> DecodeResult<u8> {
    let (&b, rest) = buf.split_first().ok_or_else(|| truncated(1, buf))?;
    *buf = rest;
    Ok(b)
}

#[inline]
fn unsigned_varint(buf: &mut &[u8]) -> DecodeResult<u32> {
    let mut value = 0u32;
    for i in 0..5 {
        let b = byte(buf)?;
        value |= u32::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintTooLong { max_bytes: 5 })
}

#[inline]
fn varint(buf: &mut &[u8]) -> DecodeResult<i32> {
    if let Some((&b, rest)) = buf.split_first()
        && b < 0x80
    {
        *buf = rest;
        return Ok(i32::from(b >> 1) ^ -i32::from(b & 1));
    }
    let raw = unsigned_varint(buf)?;
    Ok(((raw >> 1) as i32) ^ -((raw & 1) as i32))
}

#[inline]
fn varlong(buf: &mut &[u8]) -> DecodeResult<i64> {
    if let Some((&b, rest)) = buf.split_first()
        && b < 0x80
    {
        *buf = rest;
        return Ok(i64::from(b >> 1) ^ -i64::from(b & 1));
    }
    let mut raw = 0u64;
    for i in 0..10 {
        let b = byte(buf)?;
        raw |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    Err(DecodeError::VarintTooLong { max_bytes: 10 })
}

#[inline]
fn take<'a>(buf: &mut &'a [u8], len: i32) -> DecodeResult<&'a [u8]> {
    let n = usize::try_from(len).map_err(|_| DecodeError::InvalidLength(i64::from(len)))?;
    let (head, rest) = buf
        .split_at_checked(n)
        .ok_or(DecodeError::InvalidLength(i64::from(len)))?;
    *buf = rest;
    Ok(head)
}

/// Reads a varint length that may be -1 (null), then the bytes.
#[inline]
fn nullable<'a>(buf: &mut &'a [u8]) -> DecodeResult<Option<&'a [u8]>> {
    match varint(buf)? {
        -1 => Ok(None),
        len => take(buf, len).map(Some),
    }
}

#[inline]
fn parse_header<'a>(buf: &mut &'a [u8]) -> DecodeResult<(&'a str, Option<&'a [u8]>)> {
    let len = varint(buf)?;
    let key = std::str::from_utf8(take(buf, len)?).map_err(|_| DecodeError::InvalidUtf8)?;
    Ok((key, nullable(buf)?))
}

/// Reads a record's header count and validates that many headers (lengths,
/// UTF-8 keys), leaving `rec` after them.
fn parse_headers<'a>(rec: &mut &'a [u8]) -> DecodeResult<HeadersRef<'a>> {
    let count = varint(rec)?;
    // Every header takes at least two bytes: a count the record cannot hold
    // is refused up front.
    let count = match usize::try_from(count) {
        Ok(n) if n <= rec.len() / 2 => n,
        _ => return Err(DecodeError::InvalidLength(i64::from(count))),
    };
    let headers = HeadersRef { raw: rec, count };
    for _ in 0..count {
        parse_header(rec)?;
    }
    Ok(headers)
}

/// Decodes the record at `data[pos..]` and returns it with the position
/// after it. `log_append_time` replaces the computed timestamp when the
/// batch uses LogAppendTime.
///
/// A lean parser handles well-formed records; only when it gives up does
/// the checked parser run again to say precisely what is wrong, so the hot
/// path carries no error values.
#[inline(always)]
pub(crate) fn parse_record(
    data: &[u8],
    pos: usize,
    base_offset: i64,
    base_timestamp: i64,
    log_append_time: Option<i64>,
) -> DecodeResult<(RecordRef<'_>, usize)> {
    let (fields, end) = match fast::record(data, pos) {
        Some(parsed) => parsed,
        None => {
            let mut rest = data.get(pos..).unwrap_or_default();
            let fields = parse_record_checked(&mut rest)?;
            (fields, data.len() - rest.len())
        }
    };
    Ok((
        fields.into_ref(base_offset, base_timestamp, log_append_time),
        end,
    ))
}

/// A record's fields before offsets and timestamps are made absolute.
struct Fields<'a> {
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&'a [u8]>,
    value: Option<&'a [u8]>,
    headers: HeadersRef<'a>,
}

impl<'a> Fields<'a> {
    #[inline]
    fn into_ref(
        self,
        base_offset: i64,
        base_timestamp: i64,
        log_append_time: Option<i64>,
    ) -> RecordRef<'a> {
        RecordRef {
            offset: base_offset.wrapping_add(i64::from(self.offset_delta)),
            timestamp: log_append_time
                .unwrap_or_else(|| base_timestamp.wrapping_add(self.timestamp_delta)),
            key: self.key,
            value: self.value,
            headers: self.headers,
        }
    }
}

#[cold]
#[inline(never)]
fn parse_record_checked<'a>(buf: &mut &'a [u8]) -> DecodeResult<Fields<'a>> {
    let len = varint(buf)?;
    let mut rec = take(buf, len)?;
    let _attributes = byte(&mut rec)?;
    let timestamp_delta = varlong(&mut rec)?;
    let offset_delta = varint(&mut rec)?;
    let key = nullable(&mut rec)?;
    let value = nullable(&mut rec)?;
    let headers = parse_headers(&mut rec)?;
    if !rec.is_empty() {
        return Err(DecodeError::Invalid("record length exceeds its fields"));
    }
    Ok(Fields {
        timestamp_delta,
        offset_delta,
        key,
        value,
        headers,
    })
}

/// The lean record parser: `None` on anything unexpected, including
/// varints longer than three bytes (the checked parser takes those).
///
/// It reads eight bytes at a time and decodes the short varints of a
/// record from that word without a branch per byte; the word past the end
/// of the data is padded with zeros, and every position is checked
/// against the record's length before a field is used, so padding is
/// never taken for data.
mod fast {
    use super::{Fields, HeadersRef};

    /// The eight bytes at `pos` as a little-endian word.
    #[inline(always)]
    fn word(data: &[u8], pos: usize) -> u64 {
        match data.get(pos..).and_then(<[u8]>::first_chunk::<8>) {
            Some(bytes) => u64::from_le_bytes(*bytes),
            None => padded_word(data, pos),
        }
    }

    #[cold]
    fn padded_word(data: &[u8], pos: usize) -> u64 {
        let mut bytes = [0u8; 8];
        let tail = data.get(pos..).unwrap_or_default();
        let n = tail.len().min(8);
        bytes[..n].copy_from_slice(&tail[..n]);
        u64::from_le_bytes(bytes)
    }

    /// The unsigned varint of one to three bytes at the bottom of `w`, and
    /// its length in bytes. One- and two-byte varints (every length, delta
    /// and count of a small record) take one predictable branch each.
    #[inline(always)]
    fn raw_varint(w: u64) -> Option<(u64, usize)> {
        if w & 0x80 == 0 {
            Some((w & 0x7f, 1))
        } else if w & 0x8000 == 0 {
            Some(((w & 0x7f) | ((w >> 1) & 0x3f80), 2))
        } else if w & 0x80_0000 == 0 {
            Some(((w & 0x7f) | ((w >> 1) & 0x3f80) | ((w >> 2) & 0x1f_c000), 3))
        } else {
            None
        }
    }

    /// The zigzag varint at the bottom of `w`, and its length in bytes.
    #[inline(always)]
    fn varint(w: u64) -> Option<(i64, usize)> {
        let (raw, len) = raw_varint(w)?;
        Some((((raw >> 1) as i64) ^ -((raw & 1) as i64), len))
    }

    /// A length at the bottom of `w`: `Some(None)` for -1 (null), the
    /// length for any other value that is not negative. Lengths skip the
    /// zigzag decode: a non-negative one is even, and -1 is 1.
    #[inline(always)]
    fn length(w: u64) -> Option<(Option<usize>, usize)> {
        let (raw, n) = raw_varint(w)?;
        match raw {
            1 => Some((None, n)),
            _ if raw & 1 == 0 => Some((Some((raw >> 1) as usize), n)),
            _ => None,
        }
    }

    /// A key or value: its length varint at `pos` in `w`'s bottom bytes,
    /// then the bytes. Returns the field and the position after it.
    #[inline(always)]
    fn nullable(rec: &[u8], pos: usize, w: u64) -> Option<(Option<&[u8]>, usize)> {
        let (len, n) = length(w)?;
        let start = pos + n;
        let Some(len) = len else {
            return Some((None, start));
        };
        let end = start + len;
        Some((Some(rec.get(start..end)?), end))
    }

    /// The record at `data[pos..]` and the position after it.
    #[inline(always)]
    pub(super) fn record(data: &[u8], pos: usize) -> Option<(Fields<'_>, usize)> {
        // Length, attributes and timestamp delta: at most 7 bytes.
        let w = word(data, pos);
        let (len, n) = length(w)?;
        let start = pos + n;
        // A varint of at most three bytes is below 2^21: no overflow.
        let end = start + len?;
        let rec = data.get(start..end)?;
        let (timestamp_delta, n) = varint(w >> (8 * (n + 1)))?;
        let at = 1 + n;

        // Offset delta, key length and (for a null key) value length: at
        // most 7 bytes.
        let w = word(rec, at);
        let (offset_delta, n) = varint(w)?;
        let (w, at) = (w >> (8 * n), at + n);
        let (key, after_key) = nullable(rec, at, w)?;
        // A null key is one byte: the value's length is in the same word.
        let w = match key {
            None => w >> 8,
            Some(_) => word(rec, after_key),
        };
        let (value, at) = nullable(rec, after_key, w)?;
        let rest = rec.get(at..)?;
        let headers = match rest {
            [0] => HeadersRef::default(),
            _ => headers(rest)?,
        };
        Some((
            Fields {
                timestamp_delta,
                // Three varint bytes hold at most 21 bits.
                offset_delta: offset_delta as i32,
                key,
                value,
                headers,
            },
            end,
        ))
    }

    /// Headers that fill `rest` exactly, validated.
    #[inline(never)]
    fn headers(mut rest: &[u8]) -> Option<HeadersRef<'_>> {
        let headers = super::parse_headers(&mut rest).ok()?;
        rest.is_empty().then_some(headers)
    }
}

const MAX_LEN: usize = i32::MAX as usize;

#[inline]
fn nullable_len(value: Option<&[u8]>) -> EncodeResult<usize> {
    match value {
        None => Ok(1),
        Some(v) if v.len() > MAX_LEN => Err(EncodeError::TooLong {
            len: v.len(),
            max: MAX_LEN,
        }),
        Some(v) => Ok(varint_len(v.len() as i32) + v.len()),
    }
}

/// Size of a record's body (everything after its length varint).
pub(crate) fn body_len(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) -> EncodeResult<usize> {
    if headers.len() > MAX_LEN {
        return Err(EncodeError::TooLong {
            len: headers.len(),
            max: MAX_LEN,
        });
    }
    let mut len = 1
        + varlong_len(timestamp_delta)
        + varint_len(offset_delta)
        + nullable_len(key)?
        + nullable_len(value)?
        + varint_len(headers.len() as i32);
    for header in headers {
        len = len
            .saturating_add(nullable_len(Some(header.key.as_bytes()))?)
            .saturating_add(nullable_len(header.value.as_deref())?);
    }
    if len > MAX_LEN {
        return Err(EncodeError::TooLong { len, max: MAX_LEN });
    }
    Ok(len)
}

#[inline]
fn write_nullable(buf: &mut BytesMut, value: Option<&[u8]>) {
    match value {
        None => write_varint(buf, -1),
        Some(v) => {
            write_varint(buf, v.len() as i32);
            buf.put_slice(v);
        }
    }
}

/// Writes a record without headers whose varints all fit in three bytes
/// (every length below 1 MiB, timestamp deltas within ±17 minutes: the
/// everyday record) and returns `true`; returns `false`, having written
/// nothing, for any other record.
///
/// The varints are assembled in registers, seven bytes at most in each, and
/// stored with eight-byte writes whose unused tail the next write covers:
/// a keyless record costs two such stores, the copy of its value and one
/// byte.
#[inline]
pub(crate) fn encode_plain_record(
    buf: &mut BytesMut,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
) -> bool {
    let zigzag = |v: i64| ((v << 1) ^ (v >> 63)) as u64;
    let length = |field: Option<&[u8]>| field.map_or(-1, |f| f.len() as i64);
    let (Some(timestamp), Some(offset), Some(key_len), Some(value_len)) = (
        Varint3::of(zigzag(timestamp_delta)),
        Varint3::of(zigzag(i64::from(offset_delta))),
        Varint3::of(zigzag(length(key))),
        Varint3::of(zigzag(length(value))),
    ) else {
        return false;
    };
    let key = key.unwrap_or_default();
    let value = value.unwrap_or_default();
    // Attributes and the header count take one byte each.
    let body =
        2 + timestamp.len + offset.len + key_len.len + key.len() + value_len.len + value.len();
    let Some(body_len) = Varint3::of(zigzag(body as i64)) else {
        return false;
    };
    // The record is written through a sink, whose length stays in a
    // register across the value's copy.
    let mut buf = BytesMutSink::new(buf);
    buf.reserve(body_len.len + body + 8);
    // Length, attributes (0), timestamp delta: at most 7 bytes.
    put_short(&mut buf, body_len.then(Varint3::ZERO_BYTE).then(timestamp));
    // Offset delta and key length, and the value length after them when
    // no key bytes come in between: at most 7 bytes.
    let deltas = offset.then(key_len);
    if key.is_empty() {
        put_short(&mut buf, deltas.then(value_len));
    } else {
        put_short(&mut buf, deltas);
        crate::wire::WireBuf::put_slice(&mut buf, key);
        put_short(&mut buf, value_len);
    }
    crate::wire::WireBuf::put_slice(&mut buf, value);
    crate::wire::WireBuf::put_u8(&mut buf, 0);
    true
}

/// Stores the `len` low bytes of `short.bytes`.
#[inline(always)]
fn put_short(buf: &mut BytesMutSink<'_>, short: Varint3) {
    buf.put_le_prefix(short.bytes, short.len);
}

/// Up to seven bytes of encoded varints, little-endian in an integer.
#[derive(Clone, Copy)]
struct Varint3 {
    bytes: u64,
    len: usize,
}

impl Varint3 {
    /// A zero byte (the record attributes).
    const ZERO_BYTE: Self = Self { bytes: 0, len: 1 };

    /// The unsigned varint of `v` if it takes at most three bytes.
    #[inline(always)]
    fn of(v: u64) -> Option<Self> {
        let (bytes, len) = if v < 0x80 {
            (v, 1)
        } else if v < 0x4000 {
            (v & 0x7f | 0x80 | (v >> 7) << 8, 2)
        } else if v < 0x20_0000 {
            (
                v & 0x7f | 0x80 | ((v >> 7) & 0x7f | 0x80) << 8 | (v >> 14) << 16,
                3,
            )
        } else {
            return None;
        };
        Some(Self { bytes, len })
    }

    /// This one's bytes followed by `next`'s (at most seven in all: the
    /// callers join at most three of three bytes or fewer, one of which
    /// is a single byte).
    #[inline(always)]
    fn then(self, next: Self) -> Self {
        Self {
            bytes: self.bytes | next.bytes << (8 * self.len),
            len: self.len + next.len,
        }
    }
}

/// Writes one record whose body size `body_len` was computed (and checked)
/// by [`body_len`] for the same arguments.
pub(crate) fn encode_record(
    buf: &mut BytesMut,
    body_len: usize,
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) {
    buf.reserve(5 + body_len);
    write_varint(buf, body_len as i32);
    buf.put_i8(0);
    write_varlong(buf, timestamp_delta);
    write_varint(buf, offset_delta);
    write_nullable(buf, key);
    write_nullable(buf, value);
    write_varint(buf, headers.len() as i32);
    for header in headers {
        write_nullable(buf, Some(header.key.as_bytes()));
        write_nullable(buf, header.value.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What a parser made of the record at the front of `data`.
    type Parsed<'a> = (
        i64,
        i32,
        Option<&'a [u8]>,
        Option<&'a [u8]>,
        HeadersRef<'a>,
        usize,
    );

    fn fields(fields: Fields<'_>, end: usize) -> Parsed<'_> {
        (
            fields.timestamp_delta,
            fields.offset_delta,
            fields.key,
            fields.value,
            fields.headers,
            end,
        )
    }

    fn checked(data: &[u8]) -> Option<Parsed<'_>> {
        let mut rest = data;
        let parsed = parse_record_checked(&mut rest).ok()?;
        Some(fields(parsed, data.len() - rest.len()))
    }

    /// One encoded record followed by `tail`.
    fn encoded(
        timestamp_delta: i64,
        offset_delta: i32,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        tail: &[u8],
    ) -> Vec<u8> {
        let mut buf = BytesMut::new();
        let body = body_len(timestamp_delta, offset_delta, key, value, headers).unwrap();
        encode_record(
            &mut buf,
            body,
            timestamp_delta,
            offset_delta,
            key,
            value,
            headers,
        );
        buf.extend_from_slice(tail);
        buf.to_vec()
    }

    proptest! {
        /// Whenever the lean parser accepts bytes, the checked parser reads
        /// the same record from them; on valid records both accept.
        #[test]
        fn lean_parser_agrees_with_the_checked_one(
            timestamp_delta in prop_oneof![-70i64..70, -20_000i64..20_000, any::<i64>()],
            offset_delta in prop_oneof![0i32..200, any::<i32>()],
            key in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..20)),
            value in proptest::option::of(prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..200),
                proptest::collection::vec(any::<u8>(), 8_190..8_200),
            ]),
            header_count in 0usize..3,
            tail in proptest::collection::vec(any::<u8>(), 0..10),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        ) {
            let headers: Vec<Header> = (0..header_count)
                .map(|i| Header { key: format!("h{i}").into(), value: Some(Bytes::from(vec![i as u8; i])) })
                .collect();
            let mut data = encoded(timestamp_delta, offset_delta, key.as_deref(), value.as_deref(), &headers, &tail);
            if flips.is_empty() {
                let lean = fast::record(&data, 0).map(|(f, end)| fields(f, end));
                let expected = checked(&data);
                prop_assert!(expected.is_some());
                if let Some(lean) = lean {
                    prop_assert_eq!(Some(lean), expected);
                }
            }
            for (at, byte) in flips {
                let at = at % data.len();
                data[at] ^= byte | 1;
            }
            if let Some((f, end)) = fast::record(&data, 0) {
                prop_assert_eq!(Some(fields(f, end)), checked(&data));
            }
            for cut in 0..data.len().min(40) {
                if let Some((f, end)) = fast::record(&data[..cut], 0) {
                    prop_assert_eq!(Some(fields(f, end)), checked(&data[..cut]));
                }
            }
        }
    }

    #[test]
    fn lean_parser_takes_everyday_records() {
        for (key, value) in [
            (None, Some(&b"v"[..])),
            (Some(&b"k"[..]), Some(&[7u8; 300][..])),
            (None, None),
        ] {
            let data = encoded(1_000, 999, key, value, &[], &[]);
            let (f, end) = fast::record(&data, 0).expect("the lean parser takes it");
            assert_eq!(Some(fields(f, end)), checked(&data));
        }
    }
}
