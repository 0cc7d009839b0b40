//! Feeds arbitrary bytes to the package reader: it must return a typed
//! error or a summary, never panic, and stay within its limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use template_core::package::{PackageReader, ReaderLimits};

fuzz_target!(|data: &[u8]| {
    let limits = ReaderLimits {
        max_json_bytes: 1 << 20,
        max_signature_bytes: 4 << 10,
        max_total_bytes: 64 << 20,
        max_compression_ratio: 100,
        ratio_grace_bytes: 1 << 20,
        max_zstd_window_log: 25,
    };
    let _ = PackageReader::new(limits).verify(data);
});
