//! Unit tests of `wavefront.rs`, apart so that the module itself reads in one sitting.
use super::*;
use crate::reading::{ReadingBuilder, Timestamp};

fn lines(builder: ReadingBuilder, options: &WavefrontOptions) -> Result<String, String> {
    let reading = builder.build().map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    encode(&reading, options, &mut out).map_err(|e| {
        assert!(out.is_empty());
        e.to_string()
    })?;
    Ok(String::from_utf8(out).unwrap())
}

fn m(name: &str) -> ReadingBuilder {
    crate::Reading::builder(name)
}

#[test]
fn expected_bytes() {
    let plain = WavefrontOptions::default();
    let with_default = WavefrontOptions {
        default_source: Some("box 1".into()),
        bool_as_number: true,
    };
    let ns = Timestamp::new(1_700_000_000_999_999_999, Precision::Nanoseconds);
    let cases: Vec<(ReadingBuilder, &WavefrontOptions, &str)> = vec![
        (m("cpu").field("value", 1.5), &plain, "cpu 1.5\n"),
        (
            m("cpu").field("usage", 1.5).timestamp(ns),
            &plain,
            "cpu.usage 1.5 1700000000\n",
        ),
        (
            m("cpu").field("n", -7i64).field("u", 7u64),
            &plain,
            "cpu.n -7\ncpu.u 7\n",
        ),
        (
            m("cpu").field("v", 1e21).field("w", 1.5e-7),
            &plain,
            "cpu.v 1e21\ncpu.w 1.5e-7\n",
        ),
        (
            m("a/b-c_d.e\\f,g").field("value", 1.0),
            &plain,
            "a/b-c_d.e\\f,g 1.0\n",
        ),
        (
            m("my cpu").field("idle %", 2.0),
            &plain,
            "\"my cpu.idle %\" 2.0\n",
        ),
        (m("my cpu").field("value", 2.0), &plain, "\"my cpu\" 2.0\n"),
        (
            m("c").tag("source", "s").tag("host", "h").field("value", 1),
            &plain,
            "c 1 source=s host=h\n",
        ),
        (
            m("c").tag("dc", "x").tag("host", "h").field("value", 1),
            &plain,
            "c 1 source=h dc=x\n",
        ),
        (
            m("c").tag("dc", "a=b").field("value", 1),
            &with_default,
            "c 1 source=\"box 1\" dc=\"a=b\"\n",
        ),
        (
            m("c").tag("k", "ü\\x").field("ok", true).field("no", false),
            &with_default,
            "c.ok 1 source=\"box 1\" k=\"ü\\x\"\nc.no 0 source=\"box 1\" k=\"ü\\x\"\n",
        ),
    ];
    for (builder, options, expected) in cases {
        assert_eq!(lines(builder, options), Ok(expected.to_string()));
    }
}

#[test]
fn refusals() {
    let plain = WavefrontOptions::default();
    let cases: Vec<(ReadingBuilder, &str)> = vec![
        (
            m("a\"b").field("value", 1),
            "wavefront: measurement \"a\\\"b\" contains '\"' without a backslash right before it, which ends a quoted text in Telegraf's Wavefront parser",
        ),
        (
            m("m").tag("k", "v\"").field("value", 1),
            "wavefront: value of tag \"k\" \"v\\\"\" contains '\"' without a backslash right before it, which ends a quoted text in Telegraf's Wavefront parser",
        ),
        (
            m("m x").field("\"k", 1),
            "wavefront: field key \"\\\"k\" contains '\"' without a backslash right before it, which ends a quoted text in Telegraf's Wavefront parser",
        ),
        (
            m("m").field("s", "text"),
            "wavefront: value of field \"s\" \"\\\"text\\\"\" is a string; Wavefront carries only numbers (booleans with the bool-as-number option)",
        ),
        (
            m("m").field("v", 1).field("b", true),
            "wavefront: value of field \"b\" \"true\" is a boolean; Wavefront carries only numbers (booleans with the bool-as-number option)",
        ),
        (
            m("m").field("v", 9_007_199_254_740_993i64),
            "wavefront: value of field \"v\" \"9007199254740993i\" is beyond 2^53; Telegraf reads this format's numbers as float64 and would change it",
        ),
        (
            m("m").field("v", u64::MAX),
            "wavefront: value of field \"v\" \"18446744073709551615u\" is beyond 2^53; Telegraf reads this format's numbers as float64 and would change it",
        ),
        (
            m("m")
                .field("v", 1)
                .timestamp(Timestamp::new(-5, Precision::Seconds)),
            "wavefront: timestamp \"-5s\" is before 1970, which Wavefront cannot carry",
        ),
        (
            m("m")
                .field("v", 1)
                .timestamp(Timestamp::new(-1_000_000_001, Precision::Nanoseconds)),
            "wavefront: timestamp \"-1000000001ns\" is before 1970, which Wavefront cannot carry",
        ),
        (
            m("m")
                .field("v", 1)
                .timestamp(Timestamp::new(9_999_999_999, Precision::Seconds)),
            "wavefront: timestamp \"9999999999s\" is outside 1677-09-21..2262-04-11, the signed 64-bit nanosecond range; Telegraf's conversion to nanoseconds would wrap",
        ),
        (
            m("my m").field("k\\", 1),
            "wavefront: field key \"k\\\\\" ends in a backslash, which Telegraf would read as an escape",
        ),
        (
            m("m").tag("t", "a b\\").field("v", 1),
            "wavefront: value of tag \"t\" \"a b\\\\\" ends in a backslash, which Telegraf would read as an escape",
        ),
        (
            m("m").tag("5xx\\", "a").field("v", 1),
            "wavefront: tag key \"5xx\\\\\" ends in a backslash, which Telegraf would read as an escape",
        ),
    ];
    for (builder, expected) in cases {
        assert_eq!(lines(builder, &plain), Err(expected.to_string()));
    }
}

/// One Wavefront line as Telegraf 1.39 reads it: metric name, value, timestamp in seconds
/// (`None`: arrival time) and point tags.
type Telegraf = (String, f64, Option<i64>, Vec<(String, String)>);

/// A transcription of Telegraf's Wavefront parser (`element.go`, `scanner.go`, `token.go`):
/// name, whitespace, value, optional timestamp (any token starting with a digit; 10 digits
/// are seconds, 13/16/19 are truncated to seconds, a lone `0` is arrival time, any other
/// length fails), then `key=value` pairs. Literals are bare (`[A-Za-z0-9-_./\\,]`) or quoted
/// (up to the first `"` without a backslash right before it, everything kept as written).
fn telegraf_reads(line: &str) -> Result<Telegraf, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut at = 0;
    let literal = |at: &mut usize| -> Result<String, String> {
        let mut text = String::new();
        if chars.get(*at) == Some(&'"') {
            *at += 1;
            loop {
                match chars.get(*at) {
                    None => return Err("found \"\", expected quotes".into()),
                    Some('"') if chars[*at - 1] != '\\' || text.is_empty() => break,
                    Some(&c) => text.push(c),
                }
                *at += 1;
            }
            *at += 1;
            return Ok(text);
        }
        while let Some(&c) = chars.get(*at) {
            if !(c.is_ascii_alphanumeric() || "-_./\\,".contains(c)) {
                break;
            }
            text.push(c);
            *at += 1;
        }
        if chars.get(*at) == Some(&'"') {
            return Err("found quote inside unquoted literal".into());
        }
        Ok(text)
    };
    let spaces = |at: &mut usize| {
        while chars.get(*at).is_some_and(|c| *c == ' ' || *c == '\t') {
            *at += 1;
        }
    };
    let name = literal(&mut at)?;
    spaces(&mut at);
    let start = at;
    if chars.get(at) == Some(&'-') {
        at += 1;
    }
    while chars
        .get(at)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
    {
        at += 1;
    }
    let text: String = chars[start..at].iter().collect();
    let value: f64 = text
        .parse()
        .map_err(|_| format!("invalid metric value {text}"))?;
    spaces(&mut at);
    let mut timestamp = None;
    if chars.get(at).is_some_and(char::is_ascii_digit) {
        let start = at;
        while chars.get(at).is_some_and(char::is_ascii_digit) {
            at += 1;
        }
        let digits: String = chars[start..at].iter().collect();
        let number: i64 = digits.parse().map_err(|_| "out of range".to_string())?;
        timestamp = match digits.len() {
            10 => Some(number),
            13 => Some(number / 1_000),
            16 => Some(number / 1_000_000),
            19 => Some(number / 1_000_000_000),
            _ if number == 0 => None,
            _ => return Err("Invalid timestamp".into()),
        };
        spaces(&mut at);
    }
    let mut tags = Vec::new();
    while at < chars.len() {
        let key = literal(&mut at)?;
        if chars.get(at) != Some(&'=') {
            return Err(format!("found {:?}, expected equals", chars.get(at)));
        }
        at += 1;
        let value = literal(&mut at)?;
        tags.push((key, value));
        spaces(&mut at);
    }
    Ok((name, value, timestamp, tags))
}

fn tags(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The model against the readings TELEGRAF-WIRE.md gives for Telegraf's parser.
#[test]
fn the_model_reads_as_the_wire_contract_says() {
    let cases: Vec<(&str, Result<Telegraf, ()>)> = vec![
        ("job 1.0 5xx=12", Err(())),
        (
            "job 1.0 \"5xx\"=12",
            Ok(("job".into(), 1.0, None, tags(&[("5xx", "12")]))),
        ),
        ("m.v 1.0 946684799", Err(())),
        (
            "m.v 1.0 0946684799",
            Ok(("m.v".into(), 1.0, Some(946_684_799), vec![])),
        ),
        (
            "m.v 1.0 0000000000",
            Ok(("m.v".into(), 1.0, Some(0), vec![])),
        ),
        ("m.v 1.0 0", Ok(("m.v".into(), 1.0, None, vec![]))),
        ("m.v 1.0 100000000", Err(())),
        (
            "m.v 1.0 1700000000999",
            Ok(("m.v".into(), 1.0, Some(1_700_000_000), vec![])),
        ),
        ("m.v 1.0 1k=x", Err(())),
        (
            "\"a\\\"b\" 1 t=\"a\\\"b\"",
            Ok(("a\\\"b".into(), 1.0, None, tags(&[("t", "a\\\"b")]))),
        ),
        ("m 1e+5", Err(())),
        ("m -1.5e-7", Ok(("m".into(), -1.5e-7, None, vec![]))),
    ];
    for (line, expected) in cases {
        assert_eq!(telegraf_reads(line).map_err(|_| ()), expected, "{line}");
    }
}

/// Tag keys that Telegraf could take for a timestamp, quotes after a backslash, and
/// timestamps: the bytes, and what Telegraf reads from them.
#[test]
fn written_as_telegraf_reads_it() {
    let plain = WavefrontOptions::default();
    let s = Precision::Seconds;
    let cases: Vec<(ReadingBuilder, &str, Vec<Telegraf>)> = vec![
        (
            m("job").tag("5xx", "12").field("value", 1.0),
            "job 1.0 \"5xx\"=12\n",
            vec![("job".into(), 1.0, None, tags(&[("5xx", "12")]))],
        ),
        (
            m("job")
                .tag("0", "a")
                .tag("9z", "b")
                .tag("x", "1")
                .field("value", 1.0),
            "job 1.0 \"0\"=a \"9z\"=b x=1\n",
            vec![(
                "job".into(),
                1.0,
                None,
                tags(&[("0", "a"), ("9z", "b"), ("x", "1")]),
            )],
        ),
        (
            m("job")
                .tag("-1", "a")
                .tag("source", "7")
                .field("value", 1.0),
            "job 1.0 source=7 -1=a\n",
            vec![(
                "job".into(),
                1.0,
                None,
                tags(&[("source", "7"), ("-1", "a")]),
            )],
        ),
        (
            m("job")
                .tag("5xx", "12")
                .field("value", 1.0)
                .timestamp(Timestamp::new(946_684_799, s)),
            "job 1.0 0946684799 \"5xx\"=12\n",
            vec![("job".into(), 1.0, Some(946_684_799), tags(&[("5xx", "12")]))],
        ),
        (
            m("m").field("value", 2).timestamp(Timestamp::new(0, s)),
            "m 2 0000000000\n",
            vec![("m".into(), 2.0, Some(0), vec![])],
        ),
        (
            m("m")
                .field("value", 2)
                .timestamp(Timestamp::new(9_223_372_036, s)),
            "m 2 9223372036\n",
            vec![("m".into(), 2.0, Some(9_223_372_036), vec![])],
        ),
        // Before 1970 but within the second: truncated toward zero, to 1970-01-01.
        (
            m("m")
                .field("value", 2)
                .timestamp(Timestamp::new(-999, Precision::Milliseconds)),
            "m 2 0000000000\n",
            vec![("m".into(), 2.0, Some(0), vec![])],
        ),
        (
            m("m")
                .field("value", 2)
                .timestamp(Timestamp::new(1_999, Precision::Milliseconds)),
            "m 2 0000000001\n",
            vec![("m".into(), 2.0, Some(1), vec![])],
        ),
        // A quote right after a backslash is carried inside quotes, backslash and all.
        (
            m("a\\\"b").tag("t", "x \\\"y\\\"").field("value", 1),
            "\"a\\\"b\" 1 t=\"x \\\"y\\\"\"\n",
            vec![("a\\\"b".into(), 1.0, None, tags(&[("t", "x \\\"y\\\"")]))],
        ),
        (
            m("m x").field("\\\"k", 1),
            "\"m x.\\\"k\" 1\n",
            vec![("m x.\\\"k".into(), 1.0, None, vec![])],
        ),
        // A bare text may end in a backslash; a quoted one may not.
        (
            m("a\\").tag("t\\", "v\\").field("f\\", 1),
            "a\\.f\\ 1 t\\=v\\\n",
            vec![("a\\.f\\".into(), 1.0, None, tags(&[("t\\", "v\\")]))],
        ),
        (
            m("a b\\c").field("value", 1),
            "\"a b\\c\" 1\n",
            vec![("a b\\c".into(), 1.0, None, vec![])],
        ),
        (
            m("m").field("v", 9_007_199_254_740_992u64),
            "m.v 9007199254740992\n",
            vec![("m.v".into(), 9_007_199_254_740_992.0, None, vec![])],
        ),
    ];
    for (builder, bytes, read) in cases {
        let written = lines(builder, &plain).unwrap();
        assert_eq!(written, bytes);
        let telegraf: Vec<Telegraf> = written
            .lines()
            .map(|l| telegraf_reads(l).unwrap())
            .collect();
        assert_eq!(telegraf, read, "{bytes}");
    }
}

#[test]
fn ten_digits_exactly() {
    for (seconds, digits) in [
        (0, "0000000000"),
        (7, "0000000007"),
        (946_684_799, "0946684799"),
        (1_700_000_000, "1700000000"),
        (MAX_TEN_DIGITS, "9999999999"),
    ] {
        let mut out = Vec::new();
        push_ten_digits(&mut out, seconds);
        assert_eq!(out, digits.as_bytes());
    }
}

#[test]
fn names_past_the_sixty_fourth_field_are_quoted_as_the_first_are() {
    let mut builder = m("cpu").tag("source", "a").tag("host", "b");
    for i in 0..70 {
        let key = if i % 3 == 0 {
            format!("k {i}")
        } else {
            format!("k{i}")
        };
        builder = builder.field(key, i64::from(i));
    }
    let text = lines(builder, &WavefrontOptions::default()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 70);
    for (i, line) in lines.iter().enumerate() {
        let expected = if i % 3 == 0 {
            format!("\"cpu.k {i}\" {i} source=a host=b")
        } else {
            format!("cpu.k{i} {i} source=a host=b")
        };
        assert_eq!(*line, expected);
    }
}
