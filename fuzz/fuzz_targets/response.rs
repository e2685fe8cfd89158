//! Every response body: byte 0 picks the API key (an index into
//! `ApiKey::ALL`), byte 1 the version (offset from the lowest), the rest is
//! the body. Whatever decodes must re-encode, and the re-encoding must be
//! stable (decode → encode again gives the same bytes).
#![no_main]

use bytes::{Bytes, BytesMut};
use kafkacc_protocol::ApiKey;
use kafkacc_protocol::generated::ResponseKind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [k, v, body @ ..] = data else {
        return;
    };
    let key = ApiKey::ALL[usize::from(*k) % ApiKey::ALL.len()];
    let range = key.versions();
    let span = (range.max - range.min + 1) as u16;
    let version = range.min + (u16::from(*v) % span) as i16;
    let mut input = Bytes::copy_from_slice(body);
    let Ok(decoded) = ResponseKind::decode(key, version, &mut input) else {
        return;
    };
    assert!(input.len() <= body.len());
    let mut first = BytesMut::new();
    if decoded.encode(&mut first, version).is_err() {
        return;
    }
    let first = first.freeze();
    let again = ResponseKind::decode(key, version, &mut first.clone())
        .expect("a re-encoded response decodes");
    let mut second = BytesMut::new();
    again
        .encode(&mut second, version)
        .expect("a decoded re-encoding encodes");
    assert_eq!(
        first,
        second.freeze(),
        "{key:?} v{version}: unstable encoding"
    );
});
