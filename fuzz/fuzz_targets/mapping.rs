//! Any bytes as a WebSocket message through the Binance kline and trade mappings: never a panic,
//! and every reading produced encodes or is refused with an error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use telemit::mapping::Mapping;
use telemit::{Encoder, Format, Precision, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Ok(message) = std::str::from_utf8(data) else { return };
    let rules = concat!(
        include_str!("../../examples/binance-kline.toml"),
        "\n",
        include_str!("../../examples/binance-trade.toml")
    );
    let mut mapping = Mapping::from_toml(rules).expect("the example mappings load");
    let arrival = Timestamp::new(1_700_000_000_000_000_000, Precision::Nanoseconds);
    // Twice, so that delta() and rate() see a previous value.
    for _ in 0..2 {
        for reading in mapping.apply(message, arrival).readings {
            let _ = Encoder::new(Format::Influx).encode(&reading, &mut Vec::new());
        }
    }
});
