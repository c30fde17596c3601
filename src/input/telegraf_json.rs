//! Telegraf's `json` parser, as `listen` applies it to what arrives.
//!
//! One JSON object or one array of objects per payload. The measurement is the string under
//! the name key, the time is under the time key (a string or number of `precision` units);
//! other strings become tags (as if Telegraf's `tag_keys` listed them all), numbers become float
//! fields (Telegraf reads every JSON number as float64), booleans boolean fields, and nested
//! objects and arrays are flattened with `_`.

use serde_json::{Map, Value};

use super::ParseError;
use crate::format::JsonOptions;
use crate::reading::{FieldValue, Precision, Reading, ReadingBuilder, Timestamp};

/// Parses one payload (a datagram, or one line of a stream) into readings.
///
/// ```
/// use telemit::{FieldValue, Precision, format::JsonOptions, input::telegraf_json::parse_payload};
///
/// let payload = r#"[{"measurement":"cpu","host":"a","n":3,"time":"1700000000000000001"}]"#;
/// let readings = parse_payload(payload, &JsonOptions::default(), Precision::Nanoseconds)?;
/// assert_eq!(readings[0].tag("host"), Some("a"));
/// assert_eq!(readings[0].field("n"), Some(&FieldValue::Float(3.0)));
/// assert_eq!(readings[0].timestamp().unwrap().value, 1_700_000_000_000_000_001);
/// # Ok::<(), telemit::input::ParseError>(())
/// ```
pub fn parse_payload(
    text: &str,
    options: &JsonOptions,
    precision: Precision,
) -> Result<Vec<Reading>, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(ParseError::from_json)?;
    match value {
        Value::Object(object) => Ok(vec![reading(object, options, precision)?]),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(object) => reading(object, options, precision),
                _ => Err(ParseError::at(1, "expected an array of objects")),
            })
            .collect(),
        _ => Err(ParseError::at(
            1,
            "expected a JSON object or an array of objects",
        )),
    }
}

fn reading(
    mut object: Map<String, Value>,
    options: &JsonOptions,
    precision: Precision,
) -> Result<Reading, ParseError> {
    let name = match object.remove(&options.name_key) {
        Some(Value::String(name)) => name,
        _ => "socket_listener".to_owned(),
    };
    let timestamp = match object.remove(&options.time_key) {
        None => None,
        Some(Value::String(text)) => Some(
            text.parse::<i64>()
                .map_err(|_| ParseError::at(1, format!("time {text:?} is not an integer")))?,
        ),
        Some(Value::Number(n)) => Some(n.as_f64().unwrap_or_default() as i64),
        Some(other) => return Err(ParseError::at(1, format!("time {other} is not a number"))),
    };
    let mut builder =
        Reading::builder(name).maybe_timestamp(timestamp.map(|t| Timestamp::new(t, precision)));
    for (key, value) in object {
        builder = flatten(builder, key, value);
    }
    Ok(builder.build()?)
}

fn flatten(builder: ReadingBuilder, key: String, value: Value) -> ReadingBuilder {
    match value {
        Value::String(text) => builder.tag(key, text),
        Value::Number(n) => builder.field(key, FieldValue::Float(n.as_f64().unwrap_or(f64::NAN))),
        Value::Bool(b) => builder.field(key, b),
        Value::Null => builder,
        Value::Object(inner) => inner
            .into_iter()
            .fold(builder, |b, (k, v)| flatten(b, format!("{key}_{k}"), v)),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .fold(builder, |b, (i, v)| flatten(b, format!("{key}_{i}"), v)),
    }
}
