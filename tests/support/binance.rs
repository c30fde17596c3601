//! What the Binance mappings must produce, computed straight from a recorded message, apart
//! from telemit's mapping code, for the tests to compare against.

use std::collections::HashMap;

use telemit::{Precision, Reading, Timestamp};

/// A decimal string of the recorded stream (prices and quantities) as a float.
pub fn decimal(value: &serde_json::Value) -> f64 {
    value.as_str().unwrap().parse().unwrap()
}

/// The `binance_kline` reading of one kline event (`data` of the stream): the candle, its
/// spread (high − low) and, when the series had one before, the spread's change and its size.
/// `previous_spread` is keyed by (symbol, interval).
pub fn kline_reading(
    event: &serde_json::Value,
    previous_spread: &mut HashMap<(String, String), f64>,
) -> Reading {
    let k = &event["k"];
    let symbol = event["s"].as_str().unwrap().to_owned();
    let interval = k["i"].as_str().unwrap().to_owned();
    let (high, low) = (decimal(&k["h"]), decimal(&k["l"]));
    let spread = high - low;
    let mut b = Reading::builder("binance_kline")
        .tag("symbol", symbol.clone())
        .tag("interval", interval.clone())
        .field("open", decimal(&k["o"]))
        .field("high", high)
        .field("low", low)
        .field("close", decimal(&k["c"]))
        .field("volume", decimal(&k["v"]))
        .field("trades", k["n"].as_i64().unwrap())
        .field("spread", spread);
    if let Some(before) = previous_spread.insert((symbol, interval), spread) {
        b = b
            .field("delta", spread - before)
            .field("abs_delta", (spread - before).abs());
    }
    let ms = event["E"].as_i64().unwrap();
    b.timestamp(Timestamp::new(ms * 1_000_000, Precision::Nanoseconds))
        .build()
        .unwrap()
}
