//! Wavefront data format: one line per numeric field, as Telegraf's `wavefront` parser reads it.
//!
//! `cpu.usage 0.5 1700000000 source=web01 dc=east`: the metric name is `measurement.field`, or the
//! measurement alone for a field named `value`; the timestamp is in whole seconds; the `source`
//! tag, else the `host` tag, else [`WavefrontOptions::default_source`] becomes `source=`, and the
//! other tags follow as point tags. Names and tags made only of letters, digits and `-_./\,` are
//! written bare, everything else in double quotes, and so is a tag key that starts with a digit:
//! right after the value Telegraf would take it for a timestamp and fail the line.
//!
//! Inside quotes Telegraf (`plugins/parsers/wavefront/element.go`) keeps every byte as written
//! and ends the text at the first `"` that has no backslash right before it; so a text whose
//! every `"` follows a backslash, and which does not end in one, is carried exactly, and the
//! rest is refused. Timestamps are whole seconds written as exactly ten digits, zero-padded
//! (`0946684799`): Telegraf fails a line whose timestamp has another length, and reads a bare
//! `0` as "no timestamp".

use super::{
    EncodeError, Format, MAX_EXACT_INTEGER, Unrepresentable, push_float, push_int, timestamp_in,
};
use crate::reading::{FieldValue, Part, Precision, Reading};

/// How readings become Wavefront lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WavefrontOptions {
    /// `source=` for readings with neither a `source` nor a `host` tag; none when `None`.
    pub default_source: Option<String>,
    /// Write booleans as 1 and 0 instead of refusing them.
    pub bool_as_number: bool,
}

/// Appends one Wavefront line per field of `reading`.
///
/// ```
/// use telemit::{Precision, Reading, Timestamp, format::{wavefront, WavefrontOptions}};
///
/// let reading = Reading::builder("cpu")
///     .tag("host", "web01")
///     .tag("dc", "us east")
///     .field("usage", 0.5)
///     .field("value", 3i64)
///     .timestamp(Timestamp::new(1_700_000_000_999, Precision::Milliseconds))
///     .build()?;
/// let mut out = Vec::new();
/// wavefront::encode(&reading, &WavefrontOptions::default(), &mut out)?;
/// assert_eq!(
///     String::from_utf8(out)?,
///     "cpu.usage 0.5 1700000000 source=web01 dc=\"us east\"\n\
///      cpu 3 1700000000 source=web01 dc=\"us east\"\n"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode(
    reading: &Reading,
    options: &WavefrontOptions,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    check(reading, options)?;
    let source_key = ["source", "host"]
        .into_iter()
        .find(|key| reading.tag(key).is_some());
    let source = source_key
        .and_then(|key| reading.tag(key))
        .or(options.default_source.as_deref());
    let timestamp = match reading.timestamp() {
        Some(t) => Some(seconds(t)?),
        None => None,
    };

    let measurement = reading.measurement();
    let bare_measurement = is_bare(measurement);
    // Everything after the value is the same on every line: written once, on the first line,
    // then copied from there.
    let mut tail: Option<std::ops::Range<usize>> = None;
    for (key, value) in reading.fields() {
        if key == "value" {
            push_token(out, measurement);
        } else if bare_measurement && is_bare(key) {
            out.extend_from_slice(measurement.as_bytes());
            out.push(b'.');
            out.extend_from_slice(key.as_bytes());
        } else {
            out.push(b'"');
            out.extend_from_slice(measurement.as_bytes());
            out.push(b'.');
            out.extend_from_slice(key.as_bytes());
            out.push(b'"');
        }
        out.push(b' ');
        match value {
            FieldValue::Float(v) => push_float(out, *v),
            FieldValue::Integer(v) => push_int(out, *v),
            FieldValue::Unsigned(v) => push_int(out, *v),
            FieldValue::Boolean(v) => out.push(if *v { b'1' } else { b'0' }),
            FieldValue::String(_) => unreachable!("refused by check"),
        }
        match &tail {
            Some(range) => out.extend_from_within(range.clone()),
            None => {
                let start = out.len();
                push_tail(out, reading, timestamp, source, source_key);
                tail = Some(start..out.len());
            }
        }
    }
    Ok(())
}

/// ` <timestamp> source=<source> <tag>=<value>…\n`: the end of every line of a reading.
fn push_tail(
    out: &mut Vec<u8>,
    reading: &Reading,
    timestamp: Option<i64>,
    source: Option<&str>,
    source_key: Option<&str>,
) {
    if let Some(seconds) = timestamp {
        out.push(b' ');
        push_ten_digits(out, seconds);
    }
    if let Some(source) = source {
        out.extend_from_slice(b" source=");
        push_token(out, source);
    }
    for (tag, value) in reading.tags() {
        if Some(tag.as_str()) == source_key {
            continue;
        }
        out.push(b' ');
        push_tag_key(out, tag);
        out.push(b'=');
        push_token(out, value);
    }
    out.push(b'\n');
}

/// Refuses, before anything is written, what Telegraf would read differently.
fn check(reading: &Reading, options: &WavefrontOptions) -> Result<(), EncodeError> {
    let refuse = |part: Part, value: &str, reason| {
        Err(EncodeError::new(Format::Wavefront, part, value, reason))
    };
    let quotable = |part: Part, text: &str, quoted: bool| match quoting_fault(text, quoted) {
        Some(reason) => refuse(part, text, reason),
        None => Ok(()),
    };
    let measurement = reading.measurement();
    let bare_measurement = is_bare(measurement);
    quotable(Part::Measurement, measurement, !bare_measurement)?;
    if let Some(source) = &options.default_source {
        quotable(
            Part::TagValue("source".to_owned()),
            source,
            !is_bare(source),
        )?;
    }
    for (key, value) in reading.tags() {
        quotable(Part::TagKey, key, tag_key_needs_quotes(key))?;
        quotable(Part::TagValue(key.clone()), value, !is_bare(value))?;
    }
    for (key, value) in reading.fields() {
        if key != "value" {
            // The metric name `measurement.key` is quoted as a whole when either part needs
            // it: the key's end is then the name's end, and a quote at its start follows a dot.
            quotable(Part::FieldKey, key, !(bare_measurement && is_bare(key)))?;
        }
        let refused_kind = match value {
            FieldValue::String(_) => Some("string"),
            FieldValue::Boolean(_) if !options.bool_as_number => Some("boolean"),
            _ => None,
        };
        if let Some(kind) = refused_kind {
            let part = Part::FieldValue(key.clone());
            return refuse(part, &value.to_string(), Unrepresentable::NotNumeric(kind));
        }
        // Telegraf reads every value as a float64.
        let exact = match value {
            FieldValue::Integer(v) => v.unsigned_abs() <= MAX_EXACT_INTEGER,
            FieldValue::Unsigned(v) => *v <= MAX_EXACT_INTEGER,
            _ => true,
        };
        if !exact {
            let part = Part::FieldValue(key.clone());
            return refuse(
                part,
                &value.to_string(),
                Unrepresentable::BeyondFloatPrecision,
            );
        }
    }
    Ok(())
}

/// Why `text`, written in quotes when `quoted`, cannot be read back: a `"` without a backslash
/// right before it, or a backslash at the end (it would escape the closing quote).
fn quoting_fault(text: &str, quoted: bool) -> Option<Unrepresentable> {
    if !quoted {
        return None;
    }
    let bytes = text.as_bytes();
    let lone_quote = bytes
        .iter()
        .enumerate()
        .any(|(i, &b)| b == b'"' && (i == 0 || bytes[i - 1] != b'\\'));
    if lone_quote {
        Some(Unrepresentable::DoubleQuote)
    } else if bytes.last() == Some(&b'\\') {
        Some(Unrepresentable::TrailingBackslash)
    } else {
        None
    }
}

/// The whole seconds of `timestamp` (truncated toward zero, as Telegraf truncates 13-, 16- and
/// 19-digit timestamps), refused before 1970 and beyond ten digits.
fn seconds(timestamp: crate::reading::Timestamp) -> Result<i64, EncodeError> {
    let seconds = timestamp_in(timestamp, Precision::Seconds, Format::Wavefront)?;
    let reason = if seconds < 0 {
        Unrepresentable::NegativeTimestamp
    } else if seconds > MAX_TEN_DIGITS {
        Unrepresentable::TimestampOutOfRange
    } else {
        return Ok(seconds);
    };
    let value = format!("{}{}", timestamp.value, timestamp.precision);
    Err(EncodeError::new(
        Format::Wavefront,
        Part::Timestamp,
        value,
        reason,
    ))
}

/// The last second Telegraf reads as ten digits, 2286-11-20T17:46:39Z; the signed 64-bit
/// nanosecond range every timestamp must keep to ends before it, in 2262.
const MAX_TEN_DIGITS: i64 = 9_999_999_999;

/// Writes `seconds` (0..=9 999 999 999) as exactly ten digits.
fn push_ten_digits(out: &mut Vec<u8>, seconds: i64) {
    let mut digits = [b'0'; 10];
    let mut rest = seconds;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits);
}

/// True when Telegraf reads `text` unquoted: ASCII letters, digits and `- _ . / \ ,`.
fn is_bare(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/' | b'\\' | b','))
}

fn push_token(out: &mut Vec<u8>, text: &str) {
    if is_bare(text) {
        out.extend_from_slice(text.as_bytes());
    } else {
        push_quoted(out, text);
    }
}

/// True for a point tag key that must be quoted: one that is not bare, or that starts with a
/// digit, since Telegraf takes the first token after the value that starts with a digit for
/// the timestamp (`job 1.0 5xx=12` fails the line).
fn tag_key_needs_quotes(key: &str) -> bool {
    !is_bare(key) || key.starts_with(|c: char| c.is_ascii_digit())
}

fn push_tag_key(out: &mut Vec<u8>, key: &str) {
    if tag_key_needs_quotes(key) {
        push_quoted(out, key);
    } else {
        out.extend_from_slice(key.as_bytes());
    }
}

fn push_quoted(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    out.extend_from_slice(text.as_bytes());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
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
}
