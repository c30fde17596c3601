//! Readings as JSON objects, one per line, in either of two shapes:
//! - `{"name":"cpu","tags":{"host":"a"},"fields":{"load":0.5,"n":3},"timestamp":1700000000000000000}`,
//!   the shape Telegraf's JSON serializer writes (an object with `name` or `fields`). A JSON
//!   integer becomes an integer field (signed, or unsigned above `i64::MAX`), a number with a
//!   fraction or an exponent a float; the type is read from the number's text, so `3` and `3.0`
//!   stay different. `timestamp` is an integer (or a string of digits) in the caller's
//!   precision; `null` or absent means none.
//! - Telegraf's flat shape, `{"measurement":"sensor","room":"lab","temp":21.5}`, read as
//!   Telegraf's `json` parser reads it (see [`telegraf_json`](super::telegraf_json)): the name
//!   key, time key, `tag_keys` and `json_string_fields` decide, and numbers are floats unless
//!   [`JsonNumbers::Auto`] is asked for, because the type cannot be known from one object.
//!
//! A key given twice keeps its last value, as Telegraf (and Go's JSON decoder) keeps it.

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::telegraf_json::{JsonNumbers, JsonParserOptions, flat_reading};
use super::{ParseError, ParseErrorKind, Parsed};
use crate::reading::{FieldValue, Precision, Reading, Timestamp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonReading<'a> {
    name: String,
    #[serde(default)]
    tags: Option<Ordered<String>>,
    #[serde(borrow)]
    fields: Ordered<&'a RawValue>,
    #[serde(default, borrow)]
    timestamp: Option<&'a RawValue>,
}

/// A JSON object's members in the order written, duplicates kept (the last one wins later).
struct Ordered<V>(Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Ordered<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = Ordered<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry()? {
                    members.push(member);
                }
                Ok(Ordered(members))
            }
        }
        deserializer.deserialize_map(OrderedVisitor(std::marker::PhantomData))
    }
}

/// Parses one JSON reading; `Ok(None)` for a blank line. The flat shape is read with the
/// options of the shipped configurations, a missing time key meaning no timestamp.
///
/// ```
/// use telemit::{FieldValue, Precision, input::json::parse_line};
///
/// let line = r#"{"name":"cpu","tags":{"host":"a"},"fields":{"n":3,"load":3.0},"timestamp":17}"#;
/// let reading = parse_line(line, Precision::Seconds)?.expect("not blank");
/// assert_eq!(reading.field("n"), Some(&FieldValue::Integer(3)));
/// assert_eq!(reading.field("load"), Some(&FieldValue::Float(3.0)));
///
/// let flat = r#"{"measurement":"sensor","host":"lab1","temp":21}"#;
/// let reading = parse_line(flat, Precision::Seconds)?.expect("not blank");
/// assert_eq!(reading.tag("host"), Some("lab1"));
/// assert_eq!(reading.field("temp"), Some(&FieldValue::Float(21.0)));
/// # Ok::<(), telemit::input::ParseError>(())
/// ```
pub fn parse_line(line: &str, precision: Precision) -> Result<Option<Reading>, ParseError> {
    let options = JsonParserOptions::default().with_time_required(false);
    parse_line_with(line, precision, &options).map(|parsed| parsed.map(|p| p.reading))
}

/// Parses one JSON reading of either shape; `options` decide how the flat shape is read, and
/// `options.numbers` how numbers are typed in both (`None`: floats in the flat shape, the
/// number's own type in the `{"name","tags","fields"}` shape).
///
/// ```
/// use telemit::{FieldValue, Precision};
/// use telemit::input::{json::parse_line_with, telegraf_json::JsonParserOptions};
///
/// let options = JsonParserOptions::default()
///     .with_tag_keys(vec!["room".into()])
///     .with_time_required(false);
/// let parsed = parse_line_with(r#"{"measurement":"sensor","room":"lab","note":"x","temp":21.5}"#,
///     Precision::Nanoseconds, &options)?.expect("not blank");
/// assert_eq!(parsed.reading.tag("room"), Some("lab"));
/// assert_eq!(parsed.dropped, ["note"]);
/// # Ok::<(), telemit::input::ParseError>(())
/// ```
pub fn parse_line_with(
    line: &str,
    precision: Precision,
    options: &JsonParserOptions,
) -> Result<Option<Parsed>, ParseError> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let start = line.len() - line.trim_start().len();
    if !line[start..].starts_with('{') {
        return Err(ParseError::of(
            ParseErrorKind::Json,
            start + 1,
            "expected a JSON object",
        ));
    }
    let error = match serde_json::from_str::<JsonReading>(line) {
        Ok(parsed) => {
            return nested(
                parsed,
                precision,
                options.numbers.unwrap_or(JsonNumbers::Auto),
            )
            .map(Some);
        }
        Err(error) => error,
    };
    // Not the nested shape: the flat one, unless the object says it meant the nested one.
    // A line that is not JSON at all gets the syntax error, at its column, not a complaint
    // about the nested shape's keys.
    let members: Ordered<serde_json::Value> = match serde_json::from_str(line) {
        Ok(members) => members,
        Err(syntax) if !syntax.is_data() => return Err(ParseError::from_json(syntax)),
        Err(_) => return Err(ParseError::from_json(error)),
    };
    // A key given twice keeps its last value, and is reported.
    let mut duplicates = Vec::new();
    let mut object = serde_json::Map::new();
    for (key, value) in members.0 {
        if object.insert(key.clone(), value).is_some() {
            duplicates.push(format!("key {key:?}"));
        }
    }
    let nested_keys = ["name", "fields"];
    if nested_keys
        .iter()
        .any(|k| object.contains_key(*k) && *k != options.name_key)
    {
        let error = serde_json::from_str::<JsonReading>(line).err();
        return Err(error.map_or_else(
            || ParseError::new(ParseErrorKind::Json, None, "not a reading"),
            ParseError::from_json,
        ));
    }
    let mut parsed = flat_reading(object, options, precision)?;
    duplicates.append(&mut parsed.duplicates);
    parsed.duplicates = duplicates;
    Ok(Some(parsed))
}

fn nested(
    parsed: JsonReading,
    precision: Precision,
    numbers: JsonNumbers,
) -> Result<Parsed, ParseError> {
    let mut duplicates = Vec::new();
    let mut tags: Vec<(String, String)> = Vec::new();
    for (key, value) in parsed.tags.map(|t| t.0).unwrap_or_default() {
        match tags.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => {
                duplicates.push(format!("tag {key:?}"));
                slot.1 = value;
            }
            None => tags.push((key, value)),
        }
    }
    let mut fields: Vec<(String, FieldValue)> = Vec::new();
    for (key, raw) in parsed.fields.0 {
        let value = field_value(raw.get()).map_err(|reason| {
            ParseError::new(
                ParseErrorKind::Value,
                None,
                format!("field {key:?}: {reason}"),
            )
            .with_text(raw.get())
        })?;
        let value = match (numbers, value) {
            (JsonNumbers::Float, FieldValue::Integer(v)) => FieldValue::Float(v as f64),
            (JsonNumbers::Float, FieldValue::Unsigned(v)) => FieldValue::Float(v as f64),
            (_, value) => value,
        };
        match fields.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => {
                duplicates.push(format!("field {key:?}"));
                slot.1 = value;
            }
            None => fields.push((key, value)),
        }
    }
    let mut builder = Reading::builder(parsed.name);
    for (key, value) in tags {
        builder = builder.tag(key, value);
    }
    for (key, value) in fields {
        builder = builder.field(key, value);
    }
    if let Some(raw) = parsed.timestamp {
        let value = timestamp_value(raw.get()).map_err(|reason| {
            ParseError::new(
                ParseErrorKind::Timestamp,
                None,
                format!("timestamp: {reason}"),
            )
            .with_text(raw.get())
        })?;
        builder = builder.maybe_timestamp(value.map(|v| Timestamp::new(v, precision)));
    }
    let mut parsed = Parsed::new(builder.build()?);
    parsed.duplicates = duplicates;
    Ok(parsed)
}

fn field_value(raw: &str) -> Result<FieldValue, String> {
    match raw.as_bytes().first() {
        Some(b'"') => serde_json::from_str(raw)
            .map(FieldValue::String)
            .map_err(|e| e.to_string()),
        Some(b't') => Ok(FieldValue::Boolean(true)),
        Some(b'f') => Ok(FieldValue::Boolean(false)),
        Some(b'n') => Err("null is not a field value".to_owned()),
        Some(b'{' | b'[') => Err("objects and arrays are not field values".to_owned()),
        _ if raw.contains(['.', 'e', 'E']) => match raw.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(FieldValue::Float(v)),
            _ => Err(format!("{raw} is out of the 64-bit float range")),
        },
        _ => raw
            .parse::<i64>()
            .map(FieldValue::Integer)
            .or_else(|_| raw.parse::<u64>().map(FieldValue::Unsigned))
            .map_err(|_| format!("integer {raw} is out of the 64-bit range")),
    }
}

fn timestamp_value(raw: &str) -> Result<Option<i64>, String> {
    let text = match raw.as_bytes().first() {
        Some(b'n') => return Ok(None),
        Some(b'"') => serde_json::from_str::<String>(raw).map_err(|e| e.to_string())?,
        _ => raw.to_owned(),
    };
    text.parse::<i64>()
        .map(Some)
        .map_err(|_| format!("{raw} is not a 64-bit integer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Reading, String> {
        parse_line(line, Precision::Milliseconds)
            .map(|r| r.expect("not blank"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_broken_flat_object_gets_its_syntax_error_not_the_nested_shapes_keys() {
        assert_eq!(
            parse(r#"{"measurement":"sensor","temp":}"#).unwrap_err(),
            "column 32: expected value"
        );
        assert_eq!(
            parse(r#"{"measurement":"sensor","temp":1} x"#).unwrap_err(),
            "column 35: trailing characters"
        );
    }

    #[test]
    fn types_come_from_the_number_text() {
        let r = parse(
            r#"{"name":"m","tags":{"b":"2","a":"1"},"fields":{"i":-3,"u":18446744073709551615,"f":1.0,"e":1e3,"s":"x\ny","t":true,"n":false},"timestamp":"1700000000000"}"#,
        );
        // The newline inside "s" is refused by the reading: it would split the line on a socket.
        assert!(r.unwrap_err().contains("contains control character '\\n'"));
        let r = parse(r#"{"name":"m","tags":{"b":"2","a":"1"},"fields":{"i":-3,"u":18446744073709551615,"f":1.0,"e":1e3,"s":"x","t":true,"n":false},"timestamp":"1700000000000"}"#).unwrap();
        assert_eq!(r.tags()[0].0, "b");
        assert_eq!(r.field("i"), Some(&FieldValue::Integer(-3)));
        assert_eq!(r.field("u"), Some(&FieldValue::Unsigned(u64::MAX)));
        assert_eq!(r.field("f"), Some(&FieldValue::Float(1.0)));
        assert_eq!(r.field("e"), Some(&FieldValue::Float(1000.0)));
        assert_eq!(r.field("t"), Some(&FieldValue::Boolean(true)));
        assert_eq!(
            r.timestamp(),
            Some(Timestamp::new(1_700_000_000_000, Precision::Milliseconds))
        );
        let r = parse(r#"{"name":"m","fields":{"v":1},"timestamp":null}"#).unwrap();
        assert_eq!(r.timestamp(), None);
    }

    #[test]
    fn errors_say_what() {
        let cases = [
            (
                r#"{"name":"m","fields":{"v":1}"#,
                "column 28: EOF while parsing an object",
            ),
            (r#"{"name":"m"}"#, "column 12: missing field `fields`"),
            (
                r#"{"name":"m","fields":{"v":1},"time":1}"#,
                "column 35: unknown field `time`, expected one of `name`, `tags`, `fields`, `timestamp`",
            ),
            (
                r#"{"name":"m","fields":{"v":null}}"#,
                "field \"v\": null is not a field value",
            ),
            (
                r#"{"name":"m","fields":{"v":{"a":1}}}"#,
                "field \"v\": objects and arrays are not field values",
            ),
            (
                r#"{"name":"m","fields":{"v":184467440737095516150}}"#,
                "field \"v\": integer 184467440737095516150 is out of the 64-bit range",
            ),
            (
                r#"{"name":"m","fields":{"v":1},"timestamp":1.5}"#,
                "timestamp: 1.5 is not a 64-bit integer",
            ),
            (
                r#"{"name":"m","tags":{"h":1},"fields":{"v":1}}"#,
                "column 25: invalid type: integer `1`, expected a string",
            ),
            (
                r#"{"name":"m","fields":{}}"#,
                "reading \"m\" has no field; Telegraf drops readings without fields",
            ),
            (r#" [1]"#, "column 2: expected a JSON object"),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line).unwrap_err(), expected, "{line}");
        }
    }
}

#[cfg(test)]
mod flat_tests {
    use super::*;

    fn flat(line: &str, precision: Precision) -> Result<Parsed, String> {
        let options = JsonParserOptions::default().with_time_required(false);
        parse_line_with(line, precision, &options)
            .map(|p| p.expect("not blank"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn duplicate_keys_and_flattened_name_collisions_are_reported() {
        let parsed = flat(
            r#"{"measurement":"m","v":1,"v":2,"o":{"x":3},"o_x":4}"#,
            Precision::Seconds,
        )
        .unwrap();
        assert_eq!(parsed.reading.field("v"), Some(&FieldValue::Float(2.0)));
        // serde_json's map is ordered by key: "o" flattens to "o_x" before the key "o_x".
        assert_eq!(parsed.reading.field("o_x"), Some(&FieldValue::Float(4.0)));
        assert_eq!(
            parsed.duplicates,
            ["key \"v\"", "flattened name \"o_x\""],
            "{:?}",
            parsed.reading
        );
        let clean = flat(
            r#"{"measurement":"m","o":{"x":3},"p":4}"#,
            Precision::Seconds,
        )
        .unwrap();
        assert!(clean.duplicates.is_empty());
    }

    #[test]
    fn a_fractional_time_keeps_its_fraction_to_the_nanosecond() {
        let time = |line: &str, precision| {
            flat(line, precision).map(|p| {
                p.reading
                    .timestamp()
                    .and_then(|t| t.to_precision(Precision::Nanoseconds))
            })
        };
        let s = Precision::Seconds;
        let ms = Precision::Milliseconds;
        assert_eq!(
            time(r#"{"v":1,"time":1700000000.5}"#, s),
            Ok(Some(1_700_000_000_500_000_000))
        );
        assert_eq!(
            time(r#"{"v":1,"time":"1700000000123.456789"}"#, ms),
            Ok(Some(1_700_000_000_123_456_789))
        );
        assert_eq!(time(r#"{"v":1,"time":17}"#, s), Ok(Some(17_000_000_000)));
        assert_eq!(
            time(r#"{"v":1,"time":"1.0000000001"}"#, s),
            Err("time \"1.0000000001\" has a fraction finer than a nanosecond".to_owned())
        );
        assert_eq!(
            time(r#"{"v":1,"time":1e30}"#, s),
            Err(
                "time \"1e+30\" is out of range: beyond the 64-bit nanoseconds of about 1677-2262"
                    .to_owned()
            )
        );
        assert_eq!(
            time(r#"{"v":1,"time":"99999999999"}"#, s),
            Err(
                "time \"99999999999\" is out of range: beyond the 64-bit nanoseconds of about 1677-2262"
                    .to_owned()
            )
        );
        assert_eq!(
            time(r#"{"v":1,"time":"soon"}"#, s),
            Err(
                "time \"soon\" is not a number of the time unit (digits, an optional fraction)"
                    .to_owned()
            )
        );
    }
}
