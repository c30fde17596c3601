//! The fuzz target for `checks::telegraf_json`; see fuzz/checks.rs.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::telegraf_json(data));
