//! Where encoders write: [`WireBuf`], implemented by `BytesMut` (one
//! contiguous buffer) and by [`WireChunks`], which references large
//! `bytes`/`records` fields instead of copying them.

use super::sink::BytesMutSink;
use bytes::{BufMut, Bytes, BytesMut};

/// A sink for wire bytes. Every encoder is generic over it.
///
/// Its methods carry `BufMut`'s names; where both traits are in scope, call
/// one of them on a `BytesMut` as `BufMut::put_i32(buf, v)`.
pub trait WireBuf {
    /// What a message's encoder writes through: for a `BytesMut`, a
    /// [`BytesMutSink`] that keeps the length in a register; for other
    /// buffers, the buffer itself.
    type Sink<'a>: WireBuf
    where
        Self: 'a;
    /// The sink for one message; its bytes are in `self` once it is dropped.
    fn sink(&mut self) -> Self::Sink<'_>;
    /// Bytes written so far.
    fn written(&self) -> usize;
    /// Appends `src`.
    fn put_slice(&mut self, src: &[u8]);
    /// Appends a `bytes` or `records` value; a sink may keep a reference to
    /// it rather than copy it.
    fn put_shared(&mut self, src: &Bytes) {
        self.put_slice(src);
    }
    /// Appends one byte.
    fn put_u8(&mut self, v: u8);
    /// Appends an int8.
    fn put_i8(&mut self, v: i8) {
        self.put_u8(v as u8);
    }
    /// Appends a big-endian int16.
    fn put_i16(&mut self, v: i16) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends a big-endian uint16.
    fn put_u16(&mut self, v: u16) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends a big-endian int32.
    fn put_i32(&mut self, v: i32) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends a big-endian uint32.
    fn put_u32(&mut self, v: u32) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends a big-endian int64.
    fn put_i64(&mut self, v: i64) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends a big-endian float64.
    fn put_f64(&mut self, v: f64) {
        self.put_slice(&v.to_be_bytes());
    }
    /// Appends big-endian int32s, one after another.
    #[inline(always)]
    fn put_i32s(&mut self, vs: &[i32]) {
        for &v in vs {
            self.put_i32(v);
        }
    }
}

/// A reference writes where its target does (an encoder's sink may be a
/// reference to a buffer).
impl<T: WireBuf> WireBuf for &mut T {
    type Sink<'a>
        = T::Sink<'a>
    where
        Self: 'a;
    #[inline(always)]
    fn sink(&mut self) -> T::Sink<'_> {
        (**self).sink()
    }
    #[inline(always)]
    fn written(&self) -> usize {
        (**self).written()
    }
    #[inline(always)]
    fn put_slice(&mut self, src: &[u8]) {
        (**self).put_slice(src);
    }
    #[inline(always)]
    fn put_shared(&mut self, src: &Bytes) {
        (**self).put_shared(src);
    }
    #[inline(always)]
    fn put_u8(&mut self, v: u8) {
        (**self).put_u8(v);
    }
    #[inline(always)]
    fn put_i8(&mut self, v: i8) {
        (**self).put_i8(v);
    }
    #[inline(always)]
    fn put_i16(&mut self, v: i16) {
        (**self).put_i16(v);
    }
    #[inline(always)]
    fn put_u16(&mut self, v: u16) {
        (**self).put_u16(v);
    }
    #[inline(always)]
    fn put_i32(&mut self, v: i32) {
        (**self).put_i32(v);
    }
    #[inline(always)]
    fn put_u32(&mut self, v: u32) {
        (**self).put_u32(v);
    }
    #[inline(always)]
    fn put_i64(&mut self, v: i64) {
        (**self).put_i64(v);
    }
    #[inline(always)]
    fn put_f64(&mut self, v: f64) {
        (**self).put_f64(v);
    }
    #[inline(always)]
    fn put_i32s(&mut self, vs: &[i32]) {
        (**self).put_i32s(vs);
    }
}

impl WireBuf for BytesMut {
    type Sink<'a> = BytesMutSink<'a>;
    #[inline(always)]
    fn sink(&mut self) -> BytesMutSink<'_> {
        BytesMutSink::new(self)
    }
    #[inline]
    fn written(&self) -> usize {
        self.len()
    }
    #[inline]
    fn put_slice(&mut self, src: &[u8]) {
        self.extend_from_slice(src);
    }
    #[inline]
    fn put_u8(&mut self, v: u8) {
        BufMut::put_u8(self, v);
    }
    #[inline]
    fn put_i16(&mut self, v: i16) {
        BufMut::put_i16(self, v);
    }
    #[inline]
    fn put_u16(&mut self, v: u16) {
        BufMut::put_u16(self, v);
    }
    #[inline]
    fn put_i32(&mut self, v: i32) {
        BufMut::put_i32(self, v);
    }
    #[inline]
    fn put_u32(&mut self, v: u32) {
        BufMut::put_u32(self, v);
    }
    #[inline]
    fn put_i64(&mut self, v: i64) {
        BufMut::put_i64(self, v);
    }
}

/// An encoding kept as a list of buffers, ready for a vectored write:
/// `bytes`/`records` values of [`WireChunks::SHARE_FROM`] bytes or more (a
/// produce request's batches, a fetch response's records) are referenced,
/// not copied, and everything else is written into small owned buffers.
///
/// ```
/// use bytes::Bytes;
/// use kafkacc_protocol::wire::{WireBuf, WireChunks};
///
/// let batch = Bytes::from(vec![7u8; 10_000]);
/// let mut out = WireChunks::new();
/// out.put_i32(1);
/// out.put_shared(&batch);
/// out.put_u8(0);
/// assert_eq!(out.written(), 10_005);
/// let chunks = out.into_chunks();
/// assert_eq!(chunks.len(), 3);
/// assert_eq!(chunks[1].as_ptr(), batch.as_ptr()); // not copied
/// ```
#[derive(Debug)]
pub struct WireChunks {
    /// The first owned buffer, kept mutable so a size prefix can be patched.
    first: BytesMut,
    /// Everything after `first` that is complete.
    done: Vec<Bytes>,
    /// The owned buffer being written; `first` until something is shared.
    tail: BytesMut,
    shared_any: bool,
    written: usize,
    share_from: usize,
}

impl Default for WireChunks {
    fn default() -> Self {
        Self::sharing_from(Self::SHARE_FROM)
    }
}

impl WireChunks {
    /// Values at least this long are referenced rather than copied.
    pub const SHARE_FROM: usize = 4096;

    /// An empty encoding.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty encoding that references values of `min` bytes or more
    /// (tests use 1, to reference every one).
    pub fn sharing_from(min: usize) -> Self {
        Self {
            first: BytesMut::new(),
            done: Vec::new(),
            tail: BytesMut::new(),
            shared_any: false,
            written: 0,
            share_from: min,
        }
    }

    /// Overwrites the first four bytes written (a frame's size prefix, say)
    /// with `v`, big-endian. Does nothing if fewer than four were written.
    pub fn patch_first_i32(&mut self, v: i32) {
        let first = if self.shared_any {
            &mut self.first
        } else {
            &mut self.tail
        };
        if let Some(head) = first.get_mut(..4) {
            head.copy_from_slice(&v.to_be_bytes());
        }
    }

    /// The buffers, in order, none of them empty.
    pub fn into_chunks(mut self) -> Vec<Bytes> {
        let mut chunks = Vec::with_capacity(self.done.len() + 2);
        if self.shared_any {
            chunks.push(self.first.freeze());
        }
        chunks.append(&mut self.done);
        chunks.push(self.tail.freeze());
        chunks.retain(|c| !c.is_empty());
        chunks
    }

    /// The whole encoding as one buffer (a copy when there are several).
    pub fn into_bytes(self) -> Bytes {
        let mut chunks = self.into_chunks();
        if chunks.len() <= 1 {
            return chunks.pop().unwrap_or_default();
        }
        let mut all = BytesMut::with_capacity(chunks.iter().map(Bytes::len).sum());
        for chunk in &chunks {
            all.extend_from_slice(chunk);
        }
        all.freeze()
    }
}

impl WireBuf for WireChunks {
    type Sink<'a> = &'a mut Self;
    #[inline(always)]
    fn sink(&mut self) -> &mut Self {
        self
    }
    fn written(&self) -> usize {
        self.written
    }
    #[inline]
    fn put_slice(&mut self, src: &[u8]) {
        self.tail.extend_from_slice(src);
        self.written += src.len();
    }
    fn put_shared(&mut self, src: &Bytes) {
        if src.len() < self.share_from || src.is_empty() {
            return self.put_slice(src);
        }
        let owned = self.tail.split();
        if self.shared_any {
            if !owned.is_empty() {
                self.done.push(owned.freeze());
            }
        } else {
            self.first = owned;
            self.shared_any = true;
        }
        self.done.push(src.clone());
        self.written += src.len();
    }
    #[inline]
    fn put_u8(&mut self, v: u8) {
        BufMut::put_u8(&mut self.tail, v);
        self.written += 1;
    }
    #[inline]
    fn put_i16(&mut self, v: i16) {
        BufMut::put_i16(&mut self.tail, v);
        self.written += 2;
    }
    #[inline]
    fn put_i32(&mut self, v: i32) {
        BufMut::put_i32(&mut self.tail, v);
        self.written += 4;
    }
    #[inline]
    fn put_i64(&mut self, v: i64) {
        BufMut::put_i64(&mut self.tail, v);
        self.written += 8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_the_same_bytes_as_one_buffer() {
        let big = Bytes::from((0..9_000u32).map(|i| i as u8).collect::<Vec<u8>>());
        let small = Bytes::from_static(b"small");
        let mut flat = BytesMut::new();
        let mut chunks = WireChunks::new();
        fn write(sink: &mut impl WireBuf, big: &Bytes, small: &Bytes) {
            sink.put_i32(0);
            sink.put_shared(big);
            sink.put_i16(-2);
            sink.put_shared(small);
            sink.put_shared(big);
            sink.put_u8(9);
        }
        write(&mut flat, &big, &small);
        write(&mut chunks, &big, &small);
        assert_eq!(chunks.written(), flat.len());
        chunks.patch_first_i32(flat.len() as i32 - 4);
        let size = flat.len() as i32 - 4;
        flat[..4].copy_from_slice(&size.to_be_bytes());
        let parts = chunks.into_chunks();
        assert_eq!(parts.len(), 5);
        let joined: Vec<u8> = parts.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(joined, flat.to_vec());
    }

    #[test]
    fn without_a_shared_value_it_is_one_buffer() {
        let mut chunks = WireChunks::new();
        chunks.put_i32(0);
        chunks.put_shared(&Bytes::from_static(b"tiny"));
        chunks.patch_first_i32(4);
        assert_eq!(chunks.into_bytes(), Bytes::from_static(b"\0\0\0\x04tiny"));
    }
}
