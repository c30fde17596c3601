//! The fuzz target for `checks::wavefront_line`; see fuzz/checks.rs.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::wavefront_line(data));
