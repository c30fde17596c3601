//! The fuzz target for `checks::listen_payload`; see fuzz/checks.rs.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::listen_payload(data));
