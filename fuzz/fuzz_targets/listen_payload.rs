//! Any bytes arriving at `telemit listen`, as a stream line or a datagram, in every format.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telemit::Format;
use telemit::listen::{ListenOptions, decode};

fuzz_target!(|data: &[u8]| {
    for format in Format::ALL {
        let options = ListenOptions { format, ..ListenOptions::default() };
        let _ = decode(data, true, &options);
        let _ = decode(data, false, &options);
    }
});
