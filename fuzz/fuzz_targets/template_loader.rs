//! Feeds arbitrary bytes to the document loader and validates whatever
//! loads: neither may panic, whatever the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use template_core::{Format, LoadOptions, load, validate};

fuzz_target!(|data: &[u8]| {
    for format in [Format::Json, Format::Yaml, Format::Detect] {
        if let Ok(version) = load(data, format, LoadOptions { max_bytes: 1 << 20 }) {
            let _ = validate(&version);
            let _ = template_core::content_digest(&version);
        }
    }
});
