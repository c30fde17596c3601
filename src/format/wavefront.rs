//! Wavefront data format: one line per numeric field, as Telegraf's `wavefront` parser reads it.
//!
//! `cpu.usage 0.5 1700000000 source=web01 dc=east`: the metric name is `measurement.field`, or the
//! measurement alone for a field named `value`; the timestamp is in whole seconds; the `source`
//! tag, else the `host` tag, else [`WavefrontOptions::default_source`] becomes `source=`, and the
//! other tags follow as point tags. Names and tags made only of letters, digits and `-_./\,` are
//! written bare, everything else in double quotes. Telegraf keeps a backslash inside quotes
//! literally, so a `"` cannot be carried at all and is refused.

use super::{EncodeError, Format, Unrepresentable, push_float, push_int, timestamp_in};
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
        Some(t) => Some(timestamp_in(t, Precision::Seconds, Format::Wavefront)?),
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
        push_int(out, seconds);
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
        push_token(out, tag);
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
    // Inside quotes Telegraf keeps `\"` literally, so a quoted text cannot end in a backslash.
    let no_quote = |part: Part, text: &str| {
        if text.contains('"') {
            refuse(part, text, Unrepresentable::DoubleQuote)
        } else if text.ends_with('\\') && !is_bare(text) {
            refuse(part, text, Unrepresentable::TrailingBackslash)
        } else {
            Ok(())
        }
    };
    no_quote(Part::Measurement, reading.measurement())?;
    if let Some(source) = &options.default_source {
        no_quote(Part::TagValue("source".to_owned()), source)?;
    }
    for (key, value) in reading.tags() {
        no_quote(Part::TagKey, key)?;
        no_quote(Part::TagValue(key.clone()), value)?;
    }
    for (key, value) in reading.fields() {
        no_quote(Part::FieldKey, key)?;
        let quoted_name = !(is_bare(reading.measurement()) && is_bare(key));
        if quoted_name && key.ends_with('\\') {
            return refuse(Part::FieldKey, key, Unrepresentable::TrailingBackslash);
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
    }
    if let Some(t) = reading.timestamp().filter(|t| t.value < 0) {
        let value = format!("{}{}", t.value, t.precision);
        return refuse(Part::Timestamp, &value, Unrepresentable::NegativeTimestamp);
    }
    Ok(())
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
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    }
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
                "wavefront: measurement \"a\\\"b\" contains '\"', which Telegraf's Wavefront parser keeps escaped",
            ),
            (
                m("m").tag("k", "v\"").field("value", 1),
                "wavefront: value of tag \"k\" \"v\\\"\" contains '\"', which Telegraf's Wavefront parser keeps escaped",
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
                m("m")
                    .field("v", 1)
                    .timestamp(Timestamp::new(-5, Precision::Seconds)),
                "wavefront: timestamp \"-5s\" is before 1970, which Wavefront cannot carry",
            ),
            (
                m("my m").field("k\\", 1),
                "wavefront: field key \"k\\\\\" ends in a backslash, which Telegraf would read as an escape",
            ),
            (
                m("m").tag("t", "a b\\").field("v", 1),
                "wavefront: value of tag \"t\" \"a b\\\\\" ends in a backslash, which Telegraf would read as an escape",
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(lines(builder, &plain), Err(expected.to_string()));
        }
    }
}
