//! Any bytes as a stdin line: parsing never panics, and whatever parses is encoded in every
//! format without panicking; a reading that encodes as influx parses back identical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telemit::input::line_protocol::parse_line;
use telemit::{Encoder, Format, Precision};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(Some(reading)) = parse_line(text, Precision::Nanoseconds) else { return };
    for format in Format::ALL {
        let mut out = Vec::new();
        let encoded = Encoder::new(format).encode(&reading, &mut out);
        if format == Format::Influx && encoded.is_ok() {
            let line = std::str::from_utf8(&out).expect("encoder writes UTF-8");
            let again = parse_line(line.trim_end_matches('\n'), Precision::Nanoseconds)
                .expect("what we encode parses")
                .expect("not a comment");
            assert_eq!(again, reading, "round trip of {line:?}");
        }
    }
});
