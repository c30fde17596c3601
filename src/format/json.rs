//! One flat JSON object per reading, shaped for Telegraf's `json` parser.
//!
//! `{"measurement":"cpu","host":"a","usage":0.5,"time":"1700000000000000000"}`: the measurement
//! under [`JsonOptions::name_key`] (Telegraf's `json_name_key`), tags as strings (listed in
//! `tag_keys`), fields as numbers, strings or booleans, and the timestamp as a *string* of
//! digits under [`JsonOptions::time_key`], which Telegraf's `unix_ns` format reads exactly where a
//! JSON number would lose precision through float64. Telegraf reads every JSON number as a
//! float64, so integers beyond ±2^53 are refused rather than silently changed.

use super::{
    EncodeError, Format, MAX_EXACT_INTEGER, Unrepresentable, push_float, push_int, timestamp_in,
};
use crate::reading::{FieldValue, Part, Precision, Reading};
use crate::text::JSON_STRING_SPECIAL;

/// The keys of the flat JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonOptions {
    /// Key holding the measurement (Telegraf's `json_name_key`); default `measurement`.
    pub name_key: String,
    /// Key holding the timestamp (Telegraf's `json_time_key`); default `time`.
    pub time_key: String,
}

impl Default for JsonOptions {
    fn default() -> Self {
        JsonOptions {
            name_key: "measurement".to_owned(),
            time_key: "time".to_owned(),
        }
    }
}

/// Appends `reading` as one JSON object and a newline, timestamp in `precision`.
///
/// ```
/// use telemit::{Precision, Reading, Timestamp, format::{json, JsonOptions}};
///
/// let reading = Reading::builder("cpu")
///     .tag("host", "a")
///     .field("usage", 0.5)
///     .timestamp(Timestamp::new(1_700_000_000_000_000_001, Precision::Nanoseconds))
///     .build()?;
/// let mut out = Vec::new();
/// json::encode(&reading, Precision::Nanoseconds, &JsonOptions::default(), &mut out)?;
/// assert_eq!(out, br#"{"measurement":"cpu","host":"a","usage":0.5,"time":"1700000000000000001"}
/// "#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode(
    reading: &Reading,
    precision: Precision,
    options: &JsonOptions,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let start = out.len();
    let result = encode_object(reading, precision, options, out);
    match result {
        Ok(()) => out.push(b'\n'),
        Err(_) => out.truncate(start),
    }
    result
}

/// Appends `reading` as one JSON object without a newline (datagrams group objects in arrays).
pub fn encode_object(
    reading: &Reading,
    precision: Precision,
    options: &JsonOptions,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    check_keys(reading, options)?;
    out.push(b'{');
    push_string(out, &options.name_key);
    out.push(b':');
    push_string(out, reading.measurement());
    for (key, value) in reading.tags() {
        out.push(b',');
        push_string(out, key);
        out.push(b':');
        push_string(out, value);
    }
    for (key, value) in reading.fields() {
        out.push(b',');
        push_string(out, key);
        out.push(b':');
        match value {
            FieldValue::Float(v) => push_float(out, *v),
            FieldValue::Integer(v) => push_int(out, *v),
            FieldValue::Unsigned(v) => push_int(out, *v),
            FieldValue::Boolean(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
            FieldValue::String(s) => push_string(out, s),
        }
    }
    if let Some(timestamp) = reading.timestamp() {
        let value = timestamp_in(timestamp, precision, Format::Json)?;
        out.push(b',');
        push_string(out, &options.time_key);
        out.extend_from_slice(b":\"");
        push_int(out, value);
        out.push(b'"');
    }
    out.push(b'}');
    Ok(())
}

fn check_keys(reading: &Reading, options: &JsonOptions) -> Result<(), EncodeError> {
    let reserved = |key: &str, part: Part| -> Result<(), EncodeError> {
        let role = if key == options.name_key {
            "measurement"
        } else if key == options.time_key {
            "time"
        } else {
            return Ok(());
        };
        Err(EncodeError::new(
            Format::Json,
            part,
            key,
            Unrepresentable::ReservedKey(role),
        ))
    };
    for (key, _) in reading.tags() {
        reserved(key, Part::TagKey)?;
        if reading.field(key).is_some() {
            return Err(EncodeError::new(
                Format::Json,
                Part::TagKey,
                key.as_str(),
                Unrepresentable::TagFieldCollision,
            ));
        }
    }
    for (key, value) in reading.fields() {
        reserved(key, Part::FieldKey)?;
        let exact = match value {
            FieldValue::Integer(v) => v.unsigned_abs() <= MAX_EXACT_INTEGER,
            FieldValue::Unsigned(v) => *v <= MAX_EXACT_INTEGER,
            _ => true,
        };
        if !exact {
            return Err(EncodeError::new(
                Format::Json,
                Part::FieldValue(key.clone()),
                value.to_string(),
                Unrepresentable::BeyondFloatPrecision,
            ));
        }
    }
    Ok(())
}

/// Appends `text` as a JSON string.
#[inline]
fn push_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.push(b'"');
    if !super::has_any(bytes, b"\"\\", true) {
        out.extend_from_slice(bytes);
        out.push(b'"');
        return;
    }
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !JSON_STRING_SPECIAL[usize::from(b)] {
            continue;
        }
        out.extend_from_slice(&bytes[copied..i]);
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        copied = i + 1;
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::{ReadingBuilder, Timestamp};

    fn line(builder: ReadingBuilder, precision: Precision) -> Result<String, String> {
        let reading = builder.build().map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        encode(&reading, precision, &JsonOptions::default(), &mut out).map_err(|e| {
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
        let ns = Timestamp::new(1_700_000_000_123_456_789, Precision::Nanoseconds);
        let cases: Vec<(ReadingBuilder, Precision, &str)> = vec![
            (
                m("cpu").field("v", 1.0),
                Precision::Nanoseconds,
                "{\"measurement\":\"cpu\",\"v\":1.0}\n",
            ),
            (
                m("cpu")
                    .tag("host", "a\"b\\c")
                    .field("i", -3)
                    .field("u", 9007199254740992u64)
                    .field("b", true)
                    .field("s", "t\tx"),
                Precision::Nanoseconds,
                "{\"measurement\":\"cpu\",\"host\":\"a\\\"b\\\\c\",\"i\":-3,\"u\":9007199254740992,\"b\":true,\"s\":\"t\\tx\"}\n",
            ),
            (
                m("m").field("v", 1e21).timestamp(ns),
                Precision::Nanoseconds,
                "{\"measurement\":\"m\",\"v\":1e21,\"time\":\"1700000000123456789\"}\n",
            ),
            (
                m("m").field("v", 0.1).timestamp(ns),
                Precision::Milliseconds,
                "{\"measurement\":\"m\",\"v\":0.1,\"time\":\"1700000000123\"}\n",
            ),
            (
                m("ü").tag("k", "日本").field("v", 2),
                Precision::Seconds,
                "{\"measurement\":\"ü\",\"k\":\"日本\",\"v\":2}\n",
            ),
        ];
        for (builder, precision, expected) in cases {
            let text = line(builder, precision).unwrap();
            assert_eq!(text, expected);
            serde_json::from_str::<serde_json::Value>(&text).expect("valid JSON");
        }
    }

    #[test]
    fn refusals() {
        let cases: Vec<(ReadingBuilder, &str)> = vec![
            (
                m("m").field("v", 9007199254740993u64),
                "json: value of field \"v\" \"9007199254740993u\" is beyond 2^53; Telegraf reads this format's numbers as float64 and would change it",
            ),
            (
                m("m").field("v", -9007199254740993i64),
                "json: value of field \"v\" \"-9007199254740993i\" is beyond 2^53; Telegraf reads this format's numbers as float64 and would change it",
            ),
            (
                m("m").field("v", 1).timestamp(Timestamp::new(
                    1_700_000_000_123_456_789,
                    Precision::Milliseconds,
                )),
                "json: timestamp \"1700000000123456789ms\" is outside 1677-09-21..2262-04-11, the signed 64-bit nanosecond range; Telegraf's conversion to nanoseconds would wrap",
            ),
            (
                m("m").tag("measurement", "x").field("v", 1),
                "json: tag key \"measurement\" is the key the JSON object uses for the measurement",
            ),
            (
                m("m").field("time", 1),
                "json: field key \"time\" is the key the JSON object uses for the time",
            ),
            (
                m("m").tag("a", "x").field("a", 1),
                "json: tag key \"a\" is both a tag and a field, which one flat JSON object cannot hold",
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(
                line(builder, Precision::Nanoseconds),
                Err(expected.to_string())
            );
        }
    }
}
