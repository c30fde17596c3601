//! Property tests: whatever valid reading we encode reads back as the same reading.

use influxdb_line_protocol::{FieldValue as ParsedValue, parse_lines};
use proptest::prelude::*;
use telemit::format::{JsonOptions, WavefrontOptions};
use telemit::input::telegraf_json::JsonParserOptions;
use telemit::input::{line_protocol, telegraf_json, wavefront};
use telemit::{Encoder, FieldValue, Format, Precision, Reading, Timestamp};

/// Text from the characters escaping is about, plus some Unicode.
fn text(with_backslash: bool) -> impl Strategy<Value = String> {
    let mut pieces = vec![
        "a", "b", "Z", "0", "9", " ", ",", "=", "\"", "ü", "日", "🔥", "-", "_", ".", "#", "'",
        "/", "∆", "*", "?", "[", "e", "i", "u", "t",
    ];
    if with_backslash {
        pieces.push("\\");
    }
    proptest::collection::vec(proptest::sample::select(pieces), 1..8).prop_map(|v| v.concat())
}

fn field_value(with_backslash: bool) -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Integer),
        any::<u64>().prop_map(FieldValue::Unsigned),
        any::<bool>().prop_map(FieldValue::Boolean),
        text(with_backslash).prop_map(FieldValue::String),
    ]
}

fn reading(with_backslash: bool) -> impl Strategy<Value = Reading> {
    (
        text(with_backslash),
        proptest::collection::vec((text(with_backslash), text(with_backslash)), 0..4),
        proptest::collection::vec((text(with_backslash), field_value(with_backslash)), 1..5),
        proptest::option::of(any::<i64>()),
    )
        .prop_filter_map("a valid reading", |(m, tags, fields, ts)| {
            let mut b = Reading::builder(m);
            for (k, v) in tags {
                b = b.tag(k, v);
            }
            for (k, v) in fields {
                b = b.field(k, v);
            }
            b.maybe_timestamp(ts.map(|t| Timestamp::new(t, Precision::Nanoseconds)))
                .build()
                .ok()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Checked with an independent parser. influxdb-line-protocol unescapes `\\` to `\` in
    /// names, where Telegraf (TELEGRAF-WIRE.md) keeps every backslash that is not before an
    /// escaped character; so names here have no backslash, and backslashes are covered by the
    /// Telegraf-rule round trip below and by the InfluxDB server test.
    #[test]
    fn influx_reads_back_with_the_influxdb_parser(reading in reading(false)) {
        let mut line = Vec::new();
        prop_assume!(Encoder::new(Format::Influx).encode(&reading, &mut line).is_ok());
        let text = std::str::from_utf8(&line).unwrap();
        let parsed: Vec<_> = parse_lines(text.trim_end_matches('\n')).collect();
        prop_assert_eq!(parsed.len(), 1);
        let parsed = parsed.into_iter().next().unwrap().map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(parsed.series.measurement.as_str(), reading.measurement());
        let tags: Vec<(String, String)> = parsed.series.tag_set.iter().flatten()
            .map(|(k, v)| (k.to_string(), v.to_string())).collect();
        prop_assert_eq!(&tags[..], reading.tags());
        prop_assert_eq!(parsed.field_set.len(), reading.fields().len());
        for ((key, value), (pkey, pvalue)) in reading.fields().iter().zip(parsed.field_set.iter()) {
            prop_assert_eq!(pkey.as_str(), key.as_str());
            let same = match (value, pvalue) {
                (FieldValue::Float(a), ParsedValue::F64(b)) => a.to_bits() == b.to_bits() || (*a == 0.0 && *b == 0.0),
                (FieldValue::Integer(a), ParsedValue::I64(b)) => a == b,
                (FieldValue::Unsigned(a), ParsedValue::U64(b)) => a == b,
                (FieldValue::Boolean(a), ParsedValue::Boolean(b)) => a == b,
                (FieldValue::String(a), ParsedValue::String(b)) => a == b.as_str(),
                _ => false,
            };
            prop_assert!(same, "{key}: {value:?} came back as {pvalue:?} from {text}");
        }
        prop_assert_eq!(parsed.timestamp, reading.timestamp().map(|t| t.value));
    }

    /// With backslashes anywhere: our parser applies Telegraf's rules, so what the encoder
    /// accepts must come back unchanged.
    #[test]
    fn influx_reads_back_with_telegraf_rules(reading in reading(true)) {
        let mut line = Vec::new();
        if Encoder::new(Format::Influx).encode(&reading, &mut line).is_ok() {
            let text = std::str::from_utf8(&line).unwrap();
            let parsed = line_protocol::parse_line(text.trim_end_matches('\n'), Precision::Nanoseconds)
                .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            prop_assert_eq!(parsed, Some(reading));
        }
    }

    /// JSON: tags as strings, numbers exact as float64 for integers up to 2^53, timestamps
    /// exact, read as Telegraf's json parser reads it when `tag_keys` lists the tags and
    /// `json_string_fields` the string and boolean fields.
    #[test]
    fn json_reads_back_as_telegraf_reads_it(reading in reading(true)) {
        let mut object = Vec::new();
        let options = JsonOptions::default();
        if telemit::format::json::encode(&reading, Precision::Nanoseconds, &options, &mut object).is_ok() {
            let text = std::str::from_utf8(&object).unwrap();
            // Telegraf's flattener trims `_` from both ends of every key: the JSON encoder does
            // not guard against that, so such keys are left out here.
            let trimmed = |k: &String| k.trim_matches('_') == k;
            prop_assume!(reading.tags().iter().all(|(k, _)| trimmed(k)) && reading.fields().iter().all(|(k, _)| trimmed(k)));
            let strings: Vec<String> = reading.fields().iter()
                .filter(|(_, v)| matches!(v, FieldValue::String(_) | FieldValue::Boolean(_)))
                .map(|(k, _)| glob_literal(k)).collect();
            // The CLI always stamps JSON; a reading without a time is read without one here.
            let parser = JsonParserOptions::default()
                .with_time_required(false)
                .with_tag_keys(reading.tags().iter().map(|(k, _)| glob_literal(k)).collect())
                .with_string_fields(strings);
            let parsed = telegraf_json::parse_payload(text, &parser, Precision::Nanoseconds)
                .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            let parsed = &parsed[0];
            prop_assert_eq!(parsed.measurement(), reading.measurement());
            prop_assert_eq!(parsed.timestamp(), reading.timestamp());
            let key_of = |k: &str| k.to_owned();
            for (key, value) in reading.tags() {
                prop_assert_eq!(parsed.tag(&key_of(key)), Some(value.as_str()), "{}", text);
            }
            prop_assert_eq!(parsed.tags().len(), reading.tags().len());
            for (key, value) in reading.fields() {
                let expected = match value {
                    FieldValue::Float(v) => FieldValue::Float(*v),
                    FieldValue::Integer(v) => FieldValue::Float(*v as f64),
                    FieldValue::Unsigned(v) => FieldValue::Float(*v as f64),
                    other => other.clone(),
                };
                prop_assert_eq!(parsed.field(&key_of(key)), Some(&expected), "{} in {}", key, text);
            }
        }
    }

    /// Wavefront: one line per field, name `measurement.field`, every tag kept, value exact.
    #[test]
    fn wavefront_reads_back_line_by_line(reading in reading(true)) {
        let mut lines = Vec::new();
        let options = WavefrontOptions { default_source: None, bool_as_number: true };
        if telemit::format::wavefront::encode(&reading, &options, &mut lines).is_ok() {
            let text = std::str::from_utf8(&lines).unwrap();
            let parsed: Vec<Reading> = text.lines()
                .map(|l| wavefront::parse_line(l).map(Option::unwrap))
                .collect::<Result<_, _>>()
                .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            prop_assert_eq!(parsed.len(), reading.fields().len());
            for ((key, value), line) in reading.fields().iter().zip(&parsed) {
                let name = if key == "value" { reading.measurement().to_owned() } else { format!("{}.{key}", reading.measurement()) };
                prop_assert_eq!(line.measurement(), name.as_str());
                let number = match value {
                    FieldValue::Float(v) => *v,
                    FieldValue::Integer(v) => *v as f64,
                    FieldValue::Unsigned(v) => *v as f64,
                    FieldValue::Boolean(v) => f64::from(u8::from(*v)),
                    FieldValue::String(_) => unreachable!("refused"),
                };
                prop_assert_eq!(line.field("value"), Some(&FieldValue::Float(number)));
                let source = reading.tag("source").or(reading.tag("host"));
                prop_assert_eq!(line.tag("source"), source);
                prop_assert_eq!(line.tags().len(), reading.tags().len());
                let seconds = reading.timestamp().map(|t| t.to_precision(Precision::Seconds).unwrap());
                prop_assert_eq!(line.timestamp().map(|t| t.value), seconds);
            }
        }
    }
}

/// One timestamp rule for every format: a timestamp is written when its instant fits in signed
/// 64-bit nanoseconds (what Telegraf multiplies it into), converted with truncation toward zero
/// (Go's integer division); Wavefront also needs whole seconds from 0 to 9 999 999 999.
mod timestamps {
    use super::*;

    fn precision() -> impl Strategy<Value = Precision> {
        proptest::sample::select(Precision::ALL.to_vec())
    }

    /// Values near the edges of each unit's range, and anywhere.
    fn value() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            -10_000_000_000i64..10_000_000_000,
            (0usize..4, -3i64..=3).prop_map(|(unit, off)| {
                let edge = i64::MAX / [1, 1_000, 1_000_000, 1_000_000_000][unit];
                if off < 0 {
                    (-edge).saturating_add(off)
                } else {
                    edge.saturating_add(off)
                }
            }),
        ]
    }

    fn written_time(format: Format, out: &[u8]) -> i64 {
        let text = std::str::from_utf8(out).unwrap().trim_end();
        match format {
            Format::Influx => text.rsplit(' ').next().unwrap().parse().unwrap(),
            Format::Json => {
                let object: serde_json::Value = serde_json::from_str(text).unwrap();
                object["time"].as_str().unwrap().parse().unwrap()
            }
            Format::Wavefront => {
                let digits = text.split(' ').nth(2).unwrap();
                assert_eq!(digits.len(), 10, "{text}");
                digits.parse().unwrap()
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn written_exactly_when_telegraf_reads_it_back(
            value in value(), unit in precision(), target in precision()
        ) {
            let reading = Reading::builder("m").field("value", 1.0)
                .timestamp(Timestamp::new(value, unit)).build().unwrap();
            let nanos = i64::try_from(i128::from(value) * i128::from(1_000_000_000 / unit.per_second())).ok();
            for format in Format::ALL {
                let mut out = Vec::new();
                let encoded = Encoder::new(format).with_precision(target).encode(&reading, &mut out);
                let (unit_out, expected) = match format {
                    Format::Wavefront => (Precision::Seconds, nanos.map(|n| n / 1_000_000_000).filter(|s| *s >= 0)),
                    _ => (target, nanos.map(|n| n / (1_000_000_000 / target.per_second()))),
                };
                match (encoded, expected) {
                    (Ok(()), Some(expected)) => {
                        let written = written_time(format, &out);
                        prop_assert_eq!(written, expected, "{} {}{} at {}", format, value, unit, unit_out);
                        // What Telegraf computes from it stays in range.
                        prop_assert!(written.checked_mul(1_000_000_000 / unit_out.per_second()).is_some());
                    }
                    (Err(e), None) => prop_assert_eq!(e.part, telemit::Part::Timestamp),
                    (got, want) => prop_assert!(false, "{} {}{}: {:?}, expected {:?}", format, value, unit, got, want),
                }
            }
        }
    }

    #[test]
    fn the_examples_that_used_to_wrap() {
        let at = |value, unit| {
            Reading::builder("a")
                .field("v", 1.0)
                .timestamp(Timestamp::new(value, unit))
                .build()
                .unwrap()
        };
        let cases = [
            // `send --timestamp 99999999999 --precision s`: Telegraf would read 2216.
            (
                at(99_999_999_999, Precision::Seconds),
                Precision::Seconds,
                None,
            ),
            // `send 'a v=1 1700000000123456789' --precision ms`.
            (
                at(1_700_000_000_123_456_789, Precision::Milliseconds),
                Precision::Milliseconds,
                None,
            ),
            (
                at(9_223_372_036, Precision::Seconds),
                Precision::Seconds,
                Some("a v=1.0 9223372036\n"),
            ),
            // Before 1970: truncated toward zero, as Telegraf's serializers divide.
            (
                at(-1_500, Precision::Milliseconds),
                Precision::Seconds,
                Some("a v=1.0 -1\n"),
            ),
            (
                at(-1, Precision::Nanoseconds),
                Precision::Microseconds,
                Some("a v=1.0 0\n"),
            ),
        ];
        for (reading, precision, expected) in cases {
            let mut out = Vec::new();
            let result = Encoder::new(Format::Influx)
                .with_precision(precision)
                .encode(&reading, &mut out);
            match expected {
                Some(line) => assert_eq!(std::str::from_utf8(&out).unwrap(), line),
                None => assert_eq!(
                    result.unwrap_err().reason,
                    telemit::format::Unrepresentable::TimestampOutOfRange
                ),
            }
        }
    }
}

/// The fuzz targets' checks: what an encoder accepts must read back.
#[path = "../fuzz/checks.rs"]
mod checks;

/// A large random set of readings through each encoder: every refusal is counted by reason
/// (`cargo test --test roundtrip census -- --nocapture` prints the table), and every reading
/// accepted reads back as sent through telemit's Telegraf-grammar readers (influx, Wavefront)
/// or as Telegraf's JSON parser reads numbers (JSON).
mod census {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use std::collections::BTreeMap;

    /// Texts from the bytes the formats care about, longer and with more backslashes than the
    /// properties above, so that every refusal reason turns up.
    fn text() -> impl Strategy<Value = String> {
        let pieces = vec![
            "a", "Z", "0", "5", " ", ",", "=", "\"", "\\", "\\", "ü", "🔥", "-", "_", ".", "#",
            "/", "∆",
        ];
        proptest::collection::vec(proptest::sample::select(pieces), 1..6).prop_map(|v| v.concat())
    }

    fn value() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            any::<f64>()
                .prop_filter("finite", |v| v.is_finite())
                .prop_map(FieldValue::Float),
            any::<i64>().prop_map(FieldValue::Integer),
            (0i64..1_000_000).prop_map(FieldValue::Integer),
            any::<u64>().prop_map(FieldValue::Unsigned),
            any::<bool>().prop_map(FieldValue::Boolean),
            text().prop_map(FieldValue::String),
        ]
    }

    fn reading() -> impl Strategy<Value = Reading> {
        let timestamp = prop_oneof![
            Just(None),
            (
                any::<i64>(),
                proptest::sample::select(Precision::ALL.to_vec())
            )
                .prop_map(|(v, p)| Some(Timestamp::new(v, p))),
            (0i64..2_000_000_000_000)
                .prop_map(|v| Some(Timestamp::new(v, Precision::Milliseconds))),
        ];
        (
            text(),
            proptest::collection::vec((text(), text()), 0..3),
            proptest::collection::vec((text(), value()), 1..3),
            timestamp,
        )
            .prop_filter_map("a valid reading", |(m, tags, fields, ts)| {
                let mut b = Reading::builder(m);
                for (k, v) in tags {
                    b = b.tag(k, v);
                }
                for (k, v) in fields {
                    b = b.field(k, v);
                }
                b.maybe_timestamp(ts).build().ok()
            })
    }

    #[test]
    fn refusal_reasons_over_random_readings() {
        const READINGS: usize = 20_000;
        let mut runner = TestRunner::deterministic();
        let strategy = reading();
        let mut counts: BTreeMap<(&str, String), usize> = BTreeMap::new();
        let mut misreads = Vec::new();
        let options = WavefrontOptions {
            default_source: None,
            bool_as_number: true,
        };
        for _ in 0..READINGS {
            let reading = strategy.new_tree(&mut runner).unwrap().current();
            for format in Format::ALL {
                let encoder = Encoder::new(format).with_wavefront(options.clone());
                let mut out = Vec::new();
                let key = match encoder.encode(&reading, &mut out) {
                    Ok(()) => {
                        let precision = Precision::Nanoseconds;
                        if let Err(e) = super::checks::reads_back(format, precision, &reading, &out)
                        {
                            misreads.push(format!("{format}: {reading:?}: {e}"));
                        }
                        "accepted".to_owned()
                    }
                    Err(e) => {
                        let part = format!("{:?}", e.part);
                        let part = part.split('(').next().unwrap().to_owned();
                        format!("{part}: {:?}", e.reason)
                    }
                };
                *counts.entry((format.as_str(), key)).or_default() += 1;
            }
        }
        println!("{READINGS} random readings, per format:");
        for ((format, key), n) in &counts {
            println!("{format:>9}  {n:>6}  {key}");
        }
        assert!(
            misreads.is_empty(),
            "{} misread, e.g. {}",
            misreads.len(),
            misreads[..misreads.len().min(5)].join("\n")
        );
        for format in Format::ALL {
            assert!(
                counts[&(format.as_str(), "accepted".to_owned())] > READINGS / 10,
                "{format}"
            );
        }
    }
}

/// A glob pattern that matches exactly `key`.
fn glob_literal(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if matches!(c, '*' | '?' | '[' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Names made of what the readers' grammars turn on: runs of backslashes before an escaped
/// byte or a quote, at the start and at the end, digits first, comment marks.
fn hostile_name() -> impl Strategy<Value = String> {
    let pieces = vec![
        "\\", "\\\\", "\\\\\\", "\"", "\\\"", " ", ",", "=", "a", "5", "#", "_", "∆", "é", "\t",
        "e", "-",
    ];
    proptest::collection::vec(proptest::sample::select(pieces), 1..7).prop_map(|v| v.concat())
}

fn hostile_reading() -> impl Strategy<Value = Reading> {
    let timestamp = prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0i64),
        Just(-1i64),
        any::<i64>(),
        (0i64..10_000_000_000),
    ];
    (
        hostile_name(),
        proptest::collection::vec((hostile_name(), hostile_name()), 0..3),
        proptest::collection::vec((hostile_name(), field_value(true)), 1..4),
        proptest::option::of(timestamp),
        prop_oneof![
            Just(Precision::Nanoseconds),
            Just(Precision::Microseconds),
            Just(Precision::Milliseconds),
            Just(Precision::Seconds),
        ],
    )
        .prop_filter_map("a valid reading", |(m, tags, fields, ts, precision)| {
            let mut b = Reading::builder(m);
            for (k, v) in tags {
                b = b.tag(k, v);
            }
            for (k, v) in fields {
                b = b.field(k, v);
            }
            b.maybe_timestamp(ts.map(|t| Timestamp::new(t, precision)))
                .build()
                .ok()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Influx both ways over hostile names: what the encoder writes, the Telegraf-grammar
    /// reader gives back unchanged, and what the reader reads, the encoder writes so that it
    /// reads back the same again.
    #[test]
    fn influx_hostile_names_both_ways(reading in hostile_reading()) {
        let mut line = Vec::new();
        if Encoder::new(Format::Influx).with_precision(Precision::Nanoseconds).encode(&reading, &mut line).is_ok() {
            let text = std::str::from_utf8(&line).unwrap();
            let parsed = line_protocol::parse_line(text.trim_end_matches('\n'), Precision::Nanoseconds)
                .map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?
                .expect("not a comment");
            prop_assert_eq!(parsed.measurement(), reading.measurement(), "{:?}", text);
            prop_assert_eq!(parsed.tags(), reading.tags(), "{:?}", text);
            prop_assert_eq!(parsed.fields(), reading.fields(), "{:?}", text);
            let nanos = reading.timestamp().and_then(|t| t.to_precision(Precision::Nanoseconds));
            prop_assert_eq!(parsed.timestamp().map(|t| t.value), nanos, "{:?}", text);
        }
    }

    /// Reader first: any line the reader accepts is written back by the encoder into a line
    /// the reader reads as the same reading.
    #[test]
    fn influx_read_then_written_reads_the_same(line in proptest::collection::vec(proptest::sample::select(vec![
        "m", "k", "v", "=", ",", " ", "\\", "\"", "1", "i", "u", "t", "#", ".", "-", "e",
    ]), 1..24).prop_map(|v| v.concat())) {
        if let Ok(Some(reading)) = line_protocol::parse_line(&line, Precision::Nanoseconds) {
            let mut out = Vec::new();
            if Encoder::new(Format::Influx).encode(&reading, &mut out).is_ok() {
                let text = std::str::from_utf8(&out).unwrap();
                let again = line_protocol::parse_line(text.trim_end_matches('\n'), Precision::Nanoseconds)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {line:?} written {text:?}")))?;
                prop_assert_eq!(again, Some(reading), "{:?} written {:?}", line, text);
            }
        }
    }

    /// Wavefront over hostile names and timestamp bounds: every line the encoder writes reads
    /// back with the name, tags, value and the timestamp in whole seconds.
    #[test]
    fn wavefront_hostile_names_and_timestamps(reading in hostile_reading()) {
        let mut lines = Vec::new();
        let options = WavefrontOptions { default_source: None, bool_as_number: true };
        if telemit::format::wavefront::encode(&reading, &options, &mut lines).is_ok() {
            let text = std::str::from_utf8(&lines).unwrap();
            for line in text.lines() {
                let parsed = wavefront::parse_line(line)
                    .map_err(|e| TestCaseError::fail(format!("{e}: {line:?}")))?
                    .expect("not empty");
                prop_assert!(parsed.measurement().starts_with(reading.measurement()), "{:?}", line);
                prop_assert_eq!(parsed.tags().len(), reading.tags().len(), "{:?}", line);
                for (key, value) in reading.tags() {
                    prop_assert_eq!(parsed.tag(key), Some(value.as_str()), "{:?}", line);
                }
                let seconds = reading.timestamp().map(|t| t.to_precision(Precision::Seconds).unwrap());
                prop_assert_eq!(parsed.timestamp().map(|t| t.value), seconds, "{:?}", line);
            }
        }
    }
}
