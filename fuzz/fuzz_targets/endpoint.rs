//! Any text as an endpoint: parsing never panics, and what parses prints back and parses again
//! to the same endpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telemit::Endpoint;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(endpoint) = text.parse::<Endpoint>() {
        let again: Endpoint = endpoint.to_string().parse().expect("Display parses back");
        assert_eq!(again, endpoint);
    }
});
