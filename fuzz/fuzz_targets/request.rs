//! Request decoding, as a broker or proxy does it. Byte 0 picks the API key
//! (an index into `ApiKey::ALL`), byte 1 the version; the rest is decoded
//! (a) as that request's body and (b) as a whole request: header read with
//! `decode_request_header`, then the body of the key and version it names.
//! Whatever decodes must re-encode stably.
#![no_main]

use bytes::{Bytes, BytesMut};
use kafkacc_protocol::ApiKey;
use kafkacc_protocol::generated::RequestKind;
use kafkacc_protocol::header::decode_request_header;
use libfuzzer_sys::fuzz_target;

fn check(key: ApiKey, version: i16, body: &[u8]) {
    let mut input = Bytes::copy_from_slice(body);
    let Ok(decoded) = RequestKind::decode(key, version, &mut input) else {
        return;
    };
    assert_eq!(decoded.api_key(), key);
    let mut first = BytesMut::new();
    if decoded.encode(&mut first, version).is_err() {
        return;
    }
    let first = first.freeze();
    let again = RequestKind::decode(key, version, &mut first.clone())
        .expect("a re-encoded request decodes");
    let mut second = BytesMut::new();
    again
        .encode(&mut second, version)
        .expect("a decoded re-encoding encodes");
    assert_eq!(
        first,
        second.freeze(),
        "{key:?} v{version}: unstable encoding"
    );
}

fuzz_target!(|data: &[u8]| {
    let [k, v, rest @ ..] = data else {
        return;
    };
    let key = ApiKey::ALL[usize::from(*k) % ApiKey::ALL.len()];
    let range = key.versions();
    let span = (range.max - range.min + 1) as u16;
    check(key, range.min + (u16::from(*v) % span) as i16, rest);

    let mut frame = Bytes::copy_from_slice(rest);
    if let Ok(header) = decode_request_header(&mut frame) {
        assert!(frame.len() <= rest.len());
        if header.api_key.versions().contains(header.api_version) {
            check(header.api_key, header.api_version, &frame);
        }
    }
});
