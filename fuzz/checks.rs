//! What each fuzz target checks, shared with `tests/fuzz_corpus.rs`, which replays the committed
//! corpus under `cargo test`.
#![allow(dead_code)]

use telemit::format::WavefrontOptions;
use telemit::listen::{ListenOptions, decode};
use telemit::mapping::Mapping;
use telemit::{Encoder, Endpoint, FieldValue, Format, Precision, Reading, Timestamp};

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

/// Any bytes as a `pipe --input json` line, in either shape and with Telegraf's options set
/// several ways: never a panic, and whatever parses encodes.
pub fn json_reading(data: &[u8]) {
    use telemit::input::telegraf_json::{JsonNumbers, JsonParserOptions};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut readings = Vec::new();
    if let Ok(Some(reading)) = telemit::input::json::parse_line(text, Precision::Milliseconds) {
        readings.push(reading);
    }
    let options = JsonParserOptions::default()
        .with_tag_keys(vec!["*a*".into(), "h?st".into(), "[x-z]".into()])
        .with_string_fields(vec!["*".into()])
        .with_time_required(false)
        .with_numbers(Some(JsonNumbers::Auto));
    if let Ok(Some(parsed)) =
        telemit::input::json::parse_line_with(text, Precision::Seconds, &options)
    {
        readings.push(parsed.reading);
    }
    for reading in readings {
        for format in Format::ALL {
            let _ = Encoder::new(format).encode(&reading, &mut Vec::new());
        }
    }
}

/// Any bytes as one Wavefront line: parsing never panics, and a reading that encodes as
/// Wavefront reads back with the same name, value, tags and timestamp.
pub fn wavefront_line(data: &[u8]) {
    use telemit::format::WavefrontOptions;
    use telemit::input::wavefront::parse_line;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(Some(reading)) = parse_line(text) else {
        return;
    };
    let options = WavefrontOptions {
        default_source: None,
        bool_as_number: true,
    };
    let mut out = Vec::new();
    if telemit::format::wavefront::encode(&reading, &options, &mut out).is_ok() {
        let line = std::str::from_utf8(&out).expect("encoder writes UTF-8");
        let again = parse_line(line.trim_end_matches('\n'))
            .expect("what we encode parses")
            .expect("not empty");
        assert_eq!(again, reading, "round trip of {line:?}");
    }
}

/// Any bytes arriving as a JSON payload at `listen`, with Telegraf's options set several ways:
/// never a panic, and every reading encodes (or is refused) in every format.
pub fn telegraf_json(data: &[u8]) {
    use telemit::input::telegraf_json::{JsonParserOptions, parse_payload};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let option_sets = [
        JsonParserOptions::default(),
        JsonParserOptions::default()
            .with_tag_keys(vec!["*".into()])
            .with_time_key(""),
        JsonParserOptions::default()
            .with_string_fields(vec!["*_?".into(), "[!a]*".into()])
            .with_name_key("n")
            .with_time_required(false),
    ];
    for options in &option_sets {
        for precision in [Precision::Nanoseconds, Precision::Seconds] {
            if let Ok(readings) = parse_payload(text, options, precision) {
                for reading in readings {
                    for format in Format::ALL {
                        let _ = Encoder::new(format).encode(&reading, &mut Vec::new());
                    }
                }
            }
        }
    }
}

/// Any bytes as a stdin line: parsing never panics, and whatever parses is encoded in every
/// format without panicking; a reading that encodes as influx parses back identical.
pub fn line_protocol(data: &[u8]) {
    use telemit::input::line_protocol::{CanonicalCheck, parse_line};
    // A line the canonical check passes is what parse-and-encode writes: `pipe` forwards it.
    let line = data.split(|&b| b == b'\n').next().unwrap_or_default();
    if CanonicalCheck::new()
        .check(line, Precision::Nanoseconds)
        .is_some()
    {
        let text = std::str::from_utf8(line).expect("the check passes only UTF-8");
        let reading = parse_line(text, Precision::Nanoseconds)
            .expect("a passed line parses")
            .expect("a passed line is no comment");
        let mut out = Vec::new();
        Encoder::new(Format::Influx)
            .encode(&reading, &mut out)
            .expect("a passed line encodes");
        assert_eq!(&out[..out.len() - 1], line, "forwarded as written");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(Some(reading)) = parse_line(text, Precision::Nanoseconds) else {
        return;
    };
    // The detailed reader reads the same reading.
    let detailed = telemit::input::line_protocol::parse_line_detailed(text, Precision::Nanoseconds);
    assert_eq!(
        detailed.ok().flatten().map(|p| p.reading).as_ref(),
        Some(&reading)
    );
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
        let options = ListenOptions::default().with_format(format);
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
                    .filter(|s| !s.contains(['\n', '\r', '\u{c}']));
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

/// Any bytes as a reading, built by [`reading_from`]: whatever an encoder accepts reads back as
/// sent, through telemit's readers (which follow Telegraf's grammar) for influx and Wavefront,
/// and as Telegraf's JSON parser reads numbers (float64) for JSON.
pub fn encode_roundtrip(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Some(reading) = reading_from(text) else {
        return;
    };
    let wavefront = WavefrontOptions {
        default_source: None,
        bool_as_number: true,
    };
    for format in Format::ALL {
        for precision in [Precision::Nanoseconds, Precision::Seconds] {
            let encoder = Encoder::new(format)
                .with_precision(precision)
                .with_wavefront(wavefront.clone());
            let mut out = Vec::new();
            if encoder.encode(&reading, &mut out).is_ok()
                && let Err(e) = reads_back(format, precision, &reading, &out)
            {
                panic!(
                    "{format} at {precision}: {reading:?} written {:?}: {e}",
                    String::from_utf8_lossy(&out)
                );
            }
        }
    }
}

/// A reading from text: items separated by tabs, the first the measurement, then `t` tag,
/// `f` float, `i` integer, `u` unsigned, `b` boolean (`1` true), `s` string, each `KEY\x01VALUE`,
/// and `T` timestamp `UNIT\x01VALUE` (`s`, `ms`, `us`, `ns`). `None` for anything else or a
/// reading that does not build.
pub fn reading_from(text: &str) -> Option<Reading> {
    let mut items = text.split('\t');
    let mut builder = Reading::builder(items.next()?);
    for item in items {
        let kind = item.chars().next()?;
        let (key, value) = item[kind.len_utf8()..].split_once('\u{1}')?;
        builder = match kind {
            't' => builder.tag(key, value),
            'f' => builder.field(key, value.parse::<f64>().ok()?),
            'i' => builder.field(key, value.parse::<i64>().ok()?),
            'u' => builder.field(key, value.parse::<u64>().ok()?),
            'b' => builder.field(key, value == "1"),
            's' => builder.field(key, value),
            'T' => builder.timestamp(Timestamp::new(value.parse().ok()?, key.parse().ok()?)),
            _ => return None,
        };
    }
    builder.build().ok()
}

/// Whether `out`, what `format` wrote for `reading` at `precision`, reads back as `reading`:
/// the same measurement, tags, fields (as float64 in JSON and Wavefront, one line per field,
/// the `host` tag as `source`) and instant (in the unit written, truncated toward zero).
pub fn reads_back(
    format: Format,
    precision: Precision,
    reading: &Reading,
    out: &[u8],
) -> Result<(), String> {
    use telemit::input::{line_protocol, wavefront};
    let text = std::str::from_utf8(out).map_err(|e| e.to_string())?;
    let nanos = match reading.timestamp() {
        Some(t) => Some(t.nanos().ok_or("a timestamp out of range was written")?),
        None => None,
    };
    let per_unit = |p: Precision| 1_000_000_000 / p.per_second();
    let as_float = |value: &FieldValue| match value {
        FieldValue::Float(v) => Some(*v),
        FieldValue::Integer(v) => Some(*v as f64).filter(|f| *f as i64 == *v),
        FieldValue::Unsigned(v) => Some(*v as f64).filter(|f| *f as u64 == *v),
        FieldValue::Boolean(v) => Some(f64::from(u8::from(*v))),
        FieldValue::String(_) => None,
    };
    match format {
        Format::Influx => {
            let parsed = line_protocol::parse_line(text.trim_end_matches('\n'), precision)
                .map_err(|e| e.to_string())?
                .ok_or("read as a comment")?;
            let mut expected = reading.clone();
            expected
                .set_timestamp(nanos.map(|n| Timestamp::new(n / per_unit(precision), precision)));
            (parsed == expected)
                .then_some(())
                .ok_or(format!("read as {parsed:?}"))
        }
        Format::Wavefront => {
            let source = reading.tag("source").or(reading.tag("host"));
            let lines: Vec<&str> = text.lines().collect();
            if lines.len() != reading.fields().len() {
                return Err(format!("{} lines", lines.len()));
            }
            for ((key, value), line) in reading.fields().iter().zip(lines) {
                let parsed = wavefront::parse_line(line)
                    .map_err(|e| e.to_string())?
                    .ok_or("read as blank")?;
                let name = if key == "value" {
                    reading.measurement().to_owned()
                } else {
                    format!("{}.{key}", reading.measurement())
                };
                let number = as_float(value).ok_or("a value Telegraf reads differently")?;
                let tags_kept = reading.tags().iter().all(|(k, v)| {
                    (k == "host" && source == Some(v.as_str())) || parsed.tag(k) == Some(v.as_str())
                });
                let same = parsed.measurement() == name
                    && parsed.field("value") == Some(&FieldValue::Float(number))
                    && parsed.tag("source") == source
                    && tags_kept
                    && parsed
                        .timestamp()
                        .and_then(|t| t.nanos())
                        .map(|n| n / 1_000_000_000)
                        == nanos.map(|n| n / 1_000_000_000);
                if !same {
                    return Err(format!("{line:?} read as {parsed:?}"));
                }
            }
            Ok(())
        }
        Format::Json => {
            let object: serde_json::Value =
                serde_json::from_str(text).map_err(|e| e.to_string())?;
            let field_same = |key: &str, value: &FieldValue| match value {
                FieldValue::String(s) => object[key] == s.as_str(),
                FieldValue::Boolean(b) => object[key] == *b,
                other => as_float(other).is_some() && object[key].as_f64() == as_float(other),
            };
            let time = object
                .get("time")
                .map(|t| t.as_str().and_then(|t| t.parse::<i64>().ok()));
            let same = object["measurement"] == reading.measurement()
                && reading.tags().iter().all(|(k, v)| object[k] == v.as_str())
                && reading.fields().iter().all(|(k, v)| field_same(k, v))
                && time == nanos.map(|n| Some(n / per_unit(precision)));
            same.then_some(()).ok_or(format!("{text} differs"))
        }
    }
}
