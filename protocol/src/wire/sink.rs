//! [`BytesMutSink`]: how messages are encoded into a `BytesMut`.
//!
//! Writing a message's fields straight into a `BytesMut` reloads the
//! buffer's length from memory after every store (a store through a byte
//! pointer may have changed it), and each reload waits for the store before
//! it. The sink keeps its write position in a local variable instead, so it
//! can stay in a register while a message is written. This is one of the
//! crate's two pieces of `unsafe` code; it writes only into the spare
//! capacity that it reserved itself.

use super::WireBuf;
use bytes::BytesMut;

/// Appends to a `BytesMut`; the bytes are in the `BytesMut` once the sink is
/// dropped. Every message's `encode` writes through one
/// ([`WireBuf::sink`]), so callers need not make their own.
pub struct BytesMutSink<'a> {
    out: &'a mut BytesMut,
    /// `out`'s buffer, valid for `capacity` bytes.
    start: *mut u8,
    /// Bytes written: everything from `start` to `start + len`.
    len: usize,
    capacity: usize,
}

impl<'a> BytesMutSink<'a> {
    /// A sink that appends to `out`.
    pub fn new(out: &'a mut BytesMut) -> Self {
        Self {
            start: out.as_mut_ptr(),
            len: out.len(),
            capacity: out.capacity(),
            out,
        }
    }

    /// Room for `n` more bytes.
    #[inline(always)]
    pub(crate) fn reserve(&mut self, n: usize) {
        if self.capacity - self.len < n {
            (self.start, self.capacity) = grow(self.out, self.len, n);
        }
    }

    /// Where the next byte goes.
    #[inline(always)]
    fn cursor(&self) -> *mut u8 {
        self.start.wrapping_add(self.len)
    }

    #[inline(always)]
    fn put_array<const N: usize>(&mut self, bytes: [u8; N]) {
        self.put_slice(&bytes);
    }

    /// Appends the `n` (at most 8) low bytes of `word`, little-endian, with
    /// one eight-byte store: the bytes past `n` are overwritten by the next
    /// write or left beyond the length.
    #[inline(always)]
    pub(crate) fn put_le_prefix(&mut self, word: u64, n: usize) {
        self.put_array(word.to_le_bytes());
        self.len -= 8 - n.min(8);
    }
}

/// Makes room for `need` bytes after the first `len` of `out`, and returns
/// its buffer and capacity. Out of line, and not given the sink, so that
/// the sink's fields can stay in registers.
#[cold]
#[inline(never)]
fn grow(out: &mut BytesMut, len: usize, need: usize) -> (*mut u8, usize) {
    // SAFETY: the sink wrote every byte up to `len`, within capacity.
    #[allow(unsafe_code)]
    unsafe {
        out.set_len(len);
    }
    out.reserve(need);
    (out.as_mut_ptr(), out.capacity())
}

impl Drop for BytesMutSink<'_> {
    fn drop(&mut self) {
        // SAFETY: the sink wrote every byte up to `len`, within capacity.
        #[allow(unsafe_code)]
        unsafe {
            self.out.set_len(self.len);
        }
    }
}

impl<'s> WireBuf for BytesMutSink<'s> {
    type Sink<'a>
        = &'a mut BytesMutSink<'s>
    where
        Self: 'a;
    #[inline(always)]
    fn sink(&mut self) -> &mut Self {
        self
    }
    #[inline]
    fn written(&self) -> usize {
        self.len
    }
    #[inline(always)]
    fn put_slice(&mut self, src: &[u8]) {
        self.reserve(src.len());
        // SAFETY: `reserve` left room for `src` in `out`'s capacity after
        // the cursor; only this sink writes to `out` while it lives, and
        // `src` cannot overlap that spare capacity, which nothing else
        // can borrow.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::copy_nonoverlapping(src.as_ptr(), self.cursor(), src.len());
        }
        self.len += src.len();
    }
    #[inline(always)]
    fn put_u8(&mut self, v: u8) {
        self.put_array([v]);
    }
    #[inline(always)]
    fn put_i16(&mut self, v: i16) {
        self.put_array(v.to_be_bytes());
    }
    #[inline(always)]
    fn put_u16(&mut self, v: u16) {
        self.put_array(v.to_be_bytes());
    }
    #[inline(always)]
    fn put_i32(&mut self, v: i32) {
        self.put_array(v.to_be_bytes());
    }
    #[inline(always)]
    fn put_u32(&mut self, v: u32) {
        self.put_array(v.to_be_bytes());
    }
    #[inline(always)]
    fn put_i64(&mut self, v: i64) {
        self.put_array(v.to_be_bytes());
    }
    #[inline(always)]
    fn put_f64(&mut self, v: f64) {
        self.put_array(v.to_be_bytes());
    }
    #[inline(always)]
    fn put_i32s(&mut self, vs: &[i32]) {
        self.reserve(vs.len() * 4);
        let cursor = self.cursor();
        for (i, &v) in vs.iter().enumerate() {
            // SAFETY: `reserve` made room for all of them.
            #[allow(unsafe_code)]
            unsafe {
                cursor
                    .add(4 * i)
                    .cast::<[u8; 4]>()
                    .write_unaligned(v.to_be_bytes());
            }
        }
        self.len += vs.len() * 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_past_the_capacity_and_keeps_what_was_there() {
        let mut out = BytesMut::with_capacity(3);
        out.extend_from_slice(b"ab");
        let mut expected = b"ab".to_vec();
        {
            let mut sink = BytesMutSink::new(&mut out);
            for i in 0..1_000i32 {
                sink.put_u8(i as u8);
                sink.put_i16(i as i16);
                sink.put_i32s(&[i, -i]);
                sink.put_slice(&[7; 5]);
                sink.put_i64(i64::from(i));
                expected.push(i as u8);
                expected.extend_from_slice(&(i as i16).to_be_bytes());
                expected.extend_from_slice(&i.to_be_bytes());
                expected.extend_from_slice(&(-i).to_be_bytes());
                expected.extend_from_slice(&[7; 5]);
                expected.extend_from_slice(&i64::from(i).to_be_bytes());
                assert_eq!(sink.written(), expected.len());
            }
        }
        assert_eq!(&out[..], &expected[..]);
    }

    #[test]
    fn a_message_encoded_into_a_full_buffer_lands_after_its_contents() {
        use crate::messages::ApiVersionsRequest;
        use crate::wire::Encode;
        let request = ApiVersionsRequest {
            client_software_name: "kafkacc".into(),
            client_software_version: "1".into(),
            ..Default::default()
        };
        let mut alone = BytesMut::new();
        request.encode(&mut alone, 3).unwrap();
        let mut out = BytesMut::with_capacity(4);
        out.extend_from_slice(b"head");
        request.encode(&mut out, 3).unwrap();
        assert_eq!(&out[..4], b"head");
        assert_eq!(&out[4..], &alone[..]);
    }
}
