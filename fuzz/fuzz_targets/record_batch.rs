//! Record sets: every batch's CRC, control record and records, decompressed
//! under a small cap; and the input as a compressed stream of each codec.
#![no_main]

use bytes::Bytes;
use kafkacc_protocol::DecodeError;
use kafkacc_protocol::compression::{Compression, decompress};
use kafkacc_protocol::records::batches;
use libfuzzer_sys::fuzz_target;

const CAP: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let bytes = Bytes::copy_from_slice(data);
    let mut iter = batches(bytes);
    for batch in iter.by_ref() {
        let Ok(batch) = batch else { break };
        assert!(batch.raw().len() <= data.len());
        let _ = batch.verify_crc();
        let _ = batch.control_record();
        let _ = batch.header.compression();
        match batch.records(CAP) {
            Ok(records) => {
                // The borrowing walk (what the consumer validates and reads
                // runs with) sees what the owning one sees.
                let borrowed: Vec<(i64, usize)> = records
                    .refs()
                    .into_iter()
                    .flatten()
                    .map_while(Result::ok)
                    .map(|r| (r.offset, r.value.map_or(0, <[u8]>::len)))
                    .collect();
                let mut owned = Vec::new();
                for record in records {
                    match record {
                        Ok(r) => {
                            let len = r.key.as_ref().map_or(0, Bytes::len)
                                + r.value.as_ref().map_or(0, Bytes::len);
                            assert!(len <= CAP.max(data.len()));
                            owned.push((r.offset, r.value.as_ref().map_or(0, Bytes::len)));
                        }
                        Err(_) => break,
                    }
                }
                if !batch.is_legacy() {
                    assert_eq!(borrowed, owned);
                }
            }
            Err(DecodeError::DecompressedTooLarge { max }) => assert_eq!(max, CAP),
            Err(_) => {}
        }
    }
    assert!(iter.remaining() <= data.len());
    for codec in Compression::ALL {
        if let Ok(out) = decompress(codec, data, CAP) {
            assert!(out.len() <= CAP);
        }
    }
});
