//! The consumer-group membership machines (classic and KIP-848) under
//! arbitrary event sequences, through `kafkacc::group::fuzz_bridge` (built
//! only with `--cfg fuzzing`). Byte 0: bit 0 cooperative (classic), bit 1
//! static member, bit 2 picks the KIP-848 machine; the rest is one op after
//! another. Panics on a partition owned twice, a revocation or loss of
//! something not owned, or a commit without a real generation/epoch.
#![no_main]

use kafkacc::group::fuzz_bridge;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.first().is_some_and(|b| b & 4 != 0) {
        fuzz_bridge::run_848(data);
    } else {
        fuzz_bridge::run_classic(data);
    }
});
