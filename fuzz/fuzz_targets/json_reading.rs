//! Any bytes as a `pipe --input json` line: never a panic, and whatever parses encodes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telemit::input::json::parse_line;
use telemit::{Encoder, Format, Precision};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(Some(reading)) = parse_line(text, Precision::Milliseconds) else { return };
    for format in Format::ALL {
        let _ = Encoder::new(format).encode(&reading, &mut Vec::new());
    }
});
