//! Sample data shared by the tests and the benchmarks (which include this file with
//! `#[path]`): numbered readings, the request-timing reading, readings heavy on escaping, and
//! the recorded Binance stream in `../shared/fixtures`. Only `telemit` and `std` here, so that
//! any test or bench can include it on its own.

use telemit::{Encoder, Format, Precision, Reading, Timestamp};

/// The recorded Binance stream: 2000 kline and trade messages, one JSON object a line.
pub fn binance_messages() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/fixtures/binance-bnbusdt-kline-trade.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The kline messages of [`binance_messages`].
pub fn binance_klines() -> Vec<String> {
    binance_messages()
        .into_iter()
        .filter(|m| m.contains("\"kline\""))
        .collect()
}

/// A reading numbered `seq`, shaped like real traffic.
pub fn numbered(seq: u64) -> Reading {
    Reading::builder("load")
        .tag("host", "web-01")
        .tag("region", "eu west")
        .field("value", (seq % 1000) as f64 / 8.0)
        .field("seq", seq)
        .build()
        .unwrap()
}

/// Nanoseconds since the epoch of [`request_timing`]`(0)`: 2023-11-14T22:13:20Z.
pub const REQUEST_TIMING_BASE_NS: i64 = 1_700_000_000_000_000_000;

/// 3 tags, 3 fields, a timestamp: the shape of a request-timing reading, numbered `seq` (in
/// field `seq` and in the timestamp, `seq` ns after [`REQUEST_TIMING_BASE_NS`]).
pub fn request_timing(seq: u64) -> Reading {
    Reading::builder("http_requests")
        .tag("host", "web-01.example.com")
        .tag("region", "eu-west-1")
        .tag("route", "/api/v1/orders")
        .field("latency_ms", (seq % 1000) as f64 / 8.0)
        .field("status", 200i64)
        .field("seq", seq)
        .timestamp(Timestamp::new(
            REQUEST_TIMING_BASE_NS + seq as i64,
            Precision::Nanoseconds,
        ))
        .build()
        .expect("valid reading")
}

/// Readings heavy on everything that needs escaping, each with its own measurement so that a
/// server never sees a field change type. Only integers, floats, strings and booleans:
/// InfluxDB 1.x OSS does not accept unsigned integers.
pub fn escape_heavy_readings(count: usize) -> Vec<Reading> {
    const PIECES: &[&str] = &[
        "a", "Z", "0", " ", ",", "=", "\"", "\\x", "ü", "日本", "🔥", "-", "_", ".", "/", "#", "'",
        "{", "}",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let text = |next: &mut dyn FnMut(usize) -> usize| {
        let len = 1 + next(6);
        (0..len)
            .map(|_| PIECES[next(PIECES.len())])
            .collect::<String>()
    };
    let fixed = vec![
        Reading::builder("we ird,m=x")
            .tag("t k=,", "C:\\dir\\x")
            .tag("p", "a\\ b")
            .field("f k", 1.5)
            .field("s", "q\"\\x")
            .field("i", -3i64)
            .field("b", true)
            .build()
            .unwrap(),
        Reading::builder("quotes\"in=measurement")
            .tag("q", "a\\\"b")
            .field("big", i64::MAX)
            .field("tiny", 5e-324)
            .field("huge", 1.7976931348623157e308)
            .build()
            .unwrap(),
    ];
    let mut readings = fixed;
    let encoder = Encoder::new(Format::Influx);
    let mut i = 0;
    while readings.len() < count {
        i += 1;
        let builder = Reading::builder(format!("m{i}{}", text(&mut next)))
            .tag(format!("k{}", text(&mut next)), text(&mut next))
            .tag(format!("j{}", text(&mut next)), text(&mut next))
            .field(format!("f{}", text(&mut next)), next(1000) as f64 / 7.0)
            .field(
                format!("i{}", text(&mut next)),
                next(1 << 20) as i64 - (1 << 19),
            )
            .field(format!("s{}", text(&mut next)), text(&mut next))
            .field(format!("b{}", text(&mut next)), next(2) == 1)
            .timestamp(Timestamp::new(
                1_700_000_000_000_000_000 + i as i64 * 1_000_003,
                Precision::Nanoseconds,
            ));
        let Ok(reading) = builder.build() else {
            continue;
        };
        // Readings the influx format refuses (e.g. a backslash before an escaped character in a
        // measurement) are covered by the refusal tests; here only sendable ones count.
        if encoder.encode(&reading, &mut Vec::new()).is_ok() {
            readings.push(reading);
        }
    }
    readings
}
