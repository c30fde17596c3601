//! The fuzz target for `checks::encode_roundtrip`; see fuzz/checks.rs.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::encode_roundtrip(data));
