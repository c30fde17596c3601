//! What each fuzz target checks, shared with `tests/fuzz_corpus.rs`, which replays the committed
//! corpus under `cargo test`.
#![allow(dead_code)]

use telemit::listen::{ListenOptions, decode};
use telemit::mapping::Mapping;
use telemit::{Encoder, Endpoint, Format, Precision, Timestamp};

/// Any text as an endpoint: parsing never panics, and what parses prints back and parses
/// again to the same endpoint.
pub fn endpoint(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(endpoint) = text.parse::<Endpoint>() {
        let again: Endpoint = endpoint.to_string().parse().expect("Display parses back");
        assert_eq!(again, endpoint);
    }
}

/// Any bytes as a `pipe --input json` line: never a panic, and whatever parses encodes.
pub fn json_reading(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(Some(reading)) = telemit::input::json::parse_line(text, Precision::Milliseconds) else {
        return;
    };
    for format in Format::ALL {
        let _ = Encoder::new(format).encode(&reading, &mut Vec::new());
    }
}

/// Any bytes as a stdin line: parsing never panics, and whatever parses is encoded in every
/// format without panicking; a reading that encodes as influx parses back identical.
pub fn line_protocol(data: &[u8]) {
    use telemit::input::line_protocol::parse_line;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(Some(reading)) = parse_line(text, Precision::Nanoseconds) else {
        return;
    };
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
}

/// Any bytes arriving at `telemit listen`, as a stream line or a datagram, in every format.
pub fn listen_payload(data: &[u8]) {
    for format in Format::ALL {
        let options = ListenOptions {
            format,
            ..ListenOptions::default()
        };
        let _ = decode(data, true, &options);
        let _ = decode(data, false, &options);
    }
}

const BINANCE_RULES: &str = concat!(
    include_str!("../examples/binance-kline.toml"),
    "\n",
    include_str!("../examples/binance-trade.toml")
);

const KLINE_MESSAGE: &str = r#"{"e":"kline","E":1700000000123,"s":"BNBUSDT","k":{"t":1700000000000,"T":1700000059999,"s":"BNBUSDT","i":"1m","f":1,"L":2,"o":"612.10000000","c":"612.37000000","h":"612.90000000","l":"611.80000000","v":"10.5","n":2,"x":false,"q":"6430.0","V":"5.0","Q":"3061.0","B":"0"}}"#;

/// Any bytes as a WebSocket message through the Binance kline and trade mappings: never a
/// panic, and every reading produced encodes or is refused with an error.
pub fn mapping(data: &[u8]) {
    let Ok(message) = std::str::from_utf8(data) else {
        return;
    };
    let mut mapping = Mapping::from_toml(BINANCE_RULES).expect("the example mappings load");
    apply_twice(&mut mapping, message);
}

/// Any text as a mapping file: loading never panics, and a mapping that loads maps a kline
/// message, market messages (a book snapshot, trades in two seconds), and its own text
/// without panicking, then sweeps idle windows and closes the rest.
pub fn mapping_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(mut mapping) = Mapping::from_toml(text) else {
        return;
    };
    apply_twice(&mut mapping, KLINE_MESSAGE);
    for message in MARKET_MESSAGES {
        apply_twice(&mut mapping, message);
    }
    apply_twice(&mut mapping, text);
    let encode = |reading: &telemit::Reading| {
        let _ = Encoder::new(Format::Influx).encode(reading, &mut Vec::new());
    };
    mapping.sweep(Timestamp::new(i64::MAX, Precision::Nanoseconds), encode);
    mapping.finish(encode);
}

/// Messages of Binance's combined stream: a book snapshot and trades in two seconds.
const MARKET_MESSAGES: [&str; 3] = [
    r#"{"stream":"bnbusdt@depth20@100ms","data":{"lastUpdateId":1,"bids":[["612.36","39.6"],["612.34","8.4"]],"asks":[["612.38","0.029"]]}}"#,
    r#"{"stream":"bnbusdt@trade","data":{"e":"trade","E":1763769600183,"s":"BNBUSDT","t":1,"p":"612.36","q":"1.586","T":1763769600181,"m":true}}"#,
    r#"{"stream":"bnbusdt@trade","data":{"e":"trade","E":1763769601183,"s":"BNBUSDT","t":2,"p":"612.4","q":"0.5","T":1763769601181,"m":false}}"#,
];

fn apply_twice(mapping: &mut Mapping, message: &str) {
    let arrival = Timestamp::new(1_700_000_000_000_000_000, Precision::Nanoseconds);
    // Twice, so that delta() and rate() see a previous value.
    for _ in 0..2 {
        for reading in mapping.apply(message, arrival).readings {
            let _ = Encoder::new(Format::Influx).encode(&reading, &mut Vec::new());
        }
    }
}

/// A message and up to four JSON Pointers (the first line, separated by tabs) through a
/// mapping with one rule per pointer: the mapping's one-pass scanner must agree with
/// serde_json. What serde_json reads, the mapping reads, with the same value at every pointer;
/// what serde_json cannot even skip, the mapping refuses as not JSON.
pub fn extraction(data: &[u8]) {
    use serde_json::Value;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (head, message) = text.split_once('\n').unwrap_or(("/0\t/a", text));
    let pointers: Vec<&str> = head
        .split('\t')
        .filter(|p| p.is_empty() || p.starts_with('/'))
        .take(4)
        .collect();
    let mut rules = String::new();
    for (i, pointer) in pointers.iter().enumerate() {
        let path = serde_json::to_string(pointer).expect("a string serialises");
        rules += &format!(
            "[[rule]]\nname = \"r{i}\"\nmeasurement = \"m\"\nfields.v = {{ path = {path}, type = \"string\" }}\n"
        );
    }
    // A pointer TOML cannot carry (a raw DEL, say) leaves nothing to compare.
    let Ok(mut mapping) = Mapping::from_toml(&rules) else {
        return;
    };
    let arrival = Timestamp::new(1_700_000_000_000_000_000, Precision::Nanoseconds);
    let mapped = mapping.apply(message, arrival);
    let refused = mapped.errors.iter().find(|e| e.rule == "-");
    match serde_json::from_str::<Value>(message) {
        Ok(value) => {
            assert!(
                refused.is_none(),
                "serde_json reads {message:?}; the mapping says {refused:?}"
            );
            let mut readings = mapped.readings.iter();
            for (i, pointer) in pointers.iter().enumerate() {
                let want = value
                    .pointer(pointer)
                    .and_then(|v| match v {
                        Value::String(s) => Some(s.clone()),
                        Value::Number(n) => Some(n.to_string()),
                        Value::Bool(b) => Some(b.to_string()),
                        _ => None,
                    })
                    .filter(|s| !s.contains(['\n', '\r']));
                let failed = mapped.errors.iter().any(|e| e.rule == format!("r{i}"));
                let got = if failed {
                    None
                } else {
                    match readings.next().and_then(|r| r.field("v")) {
                        Some(telemit::FieldValue::String(s)) => Some(s.clone()),
                        other => panic!("rule r{i} gave {other:?}"),
                    }
                };
                assert_eq!(got, want, "{pointer:?} in {message:?}: {:?}", mapped.errors);
            }
        }
        Err(_) => {
            if serde_json::from_str::<serde::de::IgnoredAny>(message).is_err() {
                assert!(
                    refused.is_some(),
                    "serde_json cannot read {message:?}, the mapping did"
                );
            }
        }
    }
}
