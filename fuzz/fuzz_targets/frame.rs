//! The frame decoder over arbitrary chunking: the first byte picks the
//! maximum frame size, then each chunk is one length byte and that many
//! bytes, fed to the decoder as if read from a socket.
#![no_main]

use bytes::BytesMut;
use kafkacc_protocol::frame::KafkaFrameCodec;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let Some((&first, mut rest)) = data.split_first() else {
        return;
    };
    let max = 1usize << (first % 24);
    let mut codec = KafkaFrameCodec::new(max);
    let mut buf = BytesMut::new();
    let mut fed = 0usize;
    let mut taken = 0usize;
    'outer: while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        buf.extend_from_slice(&tail[..n]);
        fed += n;
        rest = &tail[n..];
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= max);
                    taken += 4 + frame.len();
                }
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
        // Never more buffered than was fed, and never room reserved for
        // more than one maximal frame beyond it.
        assert_eq!(taken + buf.len(), fed);
        assert!(buf.capacity() <= 2 * (fed + 4 + max) + 64);
    }
    let _ = codec.decode_eof(&mut buf);
});
