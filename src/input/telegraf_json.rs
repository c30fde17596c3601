//! Telegraf's `json` parser (the v1 parser), as `listen` applies it to what arrives and as
//! `pipe --input json` reads the flat shape.
//!
//! One JSON object or one array of objects per payload. Nested objects and arrays are
//! flattened with `_` (`{"o":{"a":1}}` → `o_a`, `{"b":[5]}` → `b_0`). The measurement is the
//! string under `json_name_key` (else `socket_listener`, the plugin's name); the time is under
//! `json_time_key` and must be there when that key is set. Members matching `tag_keys` become
//! tags (strings as they are, numbers and booleans written out); every other string or
//! boolean is dropped unless it matches `json_string_fields`; numbers become float fields, as
//! Telegraf reads every JSON number as a float64.

use serde_json::{Map, Value};

use super::glob::Globs;
use super::{ParseError, ParseErrorKind, Parsed};
use crate::reading::{FieldValue, Precision, Reading, Timestamp};

/// How JSON numbers become field values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JsonNumbers {
    /// Every number is a float, as Telegraf's `json` parser reads it: a field that carries `2`
    /// then `2.5` keeps one type (InfluxDB refuses a field whose type changes).
    #[default]
    Float,
    /// The type follows the number's text: `2` an integer (unsigned above `i64::MAX`), `2.5`
    /// or `2e3` a float.
    Auto,
}

/// The options of Telegraf's `json` parser that decide what a flat object becomes.
///
/// The defaults are those of the shipped `telegraf/json-*.conf` configurations:
/// `json_name_key = "measurement"`, `json_time_key = "time"`, `tag_keys = ["host"]`,
/// `json_string_fields = []`, and every number a float.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JsonParserOptions {
    /// Key holding the measurement (Telegraf's `json_name_key`); empty for none.
    pub name_key: String,
    /// Key holding the time (Telegraf's `json_time_key`); empty for none.
    pub time_key: String,
    /// Glob patterns of the keys that become tags (Telegraf's `tag_keys`).
    pub tag_keys: Vec<String>,
    /// Glob patterns of the string and boolean members kept as fields (Telegraf's
    /// `json_string_fields`).
    pub string_fields: Vec<String>,
    /// Whether an object without `time_key` fails, as in Telegraf (`true`), or is read
    /// without a timestamp (`false`).
    pub time_required: bool,
    /// How numbers become values; `None` reads floats from the flat shape and keeps the
    /// number's type in `pipe`'s `{"name","tags","fields"}` shape.
    pub numbers: Option<JsonNumbers>,
}

impl Default for JsonParserOptions {
    fn default() -> Self {
        JsonParserOptions {
            name_key: "measurement".to_owned(),
            time_key: "time".to_owned(),
            tag_keys: vec!["host".to_owned()],
            string_fields: Vec::new(),
            time_required: true,
            numbers: None,
        }
    }
}

impl JsonParserOptions {
    /// Sets `json_name_key`.
    #[must_use]
    pub fn with_name_key(mut self, key: impl Into<String>) -> Self {
        self.name_key = key.into();
        self
    }

    /// Sets `json_time_key`.
    #[must_use]
    pub fn with_time_key(mut self, key: impl Into<String>) -> Self {
        self.time_key = key.into();
        self
    }

    /// Sets `tag_keys` (glob patterns).
    #[must_use]
    pub fn with_tag_keys(mut self, patterns: Vec<String>) -> Self {
        self.tag_keys = patterns;
        self
    }

    /// Sets `json_string_fields` (glob patterns).
    #[must_use]
    pub fn with_string_fields(mut self, patterns: Vec<String>) -> Self {
        self.string_fields = patterns;
        self
    }

    /// Sets whether a missing time key fails the object.
    #[must_use]
    pub fn with_time_required(mut self, required: bool) -> Self {
        self.time_required = required;
        self
    }

    /// Sets how numbers are read.
    #[must_use]
    pub fn with_numbers(mut self, numbers: Option<JsonNumbers>) -> Self {
        self.numbers = numbers;
        self
    }
}

/// Parses one payload (a datagram, or one line of a stream) into readings.
///
/// ```
/// use telemit::{FieldValue, Precision, input::telegraf_json::{JsonParserOptions, parse_payload}};
///
/// let payload = r#"[{"measurement":"cpu","host":"a","dc":"x","n":3,"time":"1700000000000000001"}]"#;
/// let readings = parse_payload(payload, &JsonParserOptions::default(), Precision::Nanoseconds)?;
/// assert_eq!(readings[0].tag("host"), Some("a"));
/// assert_eq!(readings[0].tag("dc"), None); // not in tag_keys: Telegraf drops it
/// assert_eq!(readings[0].field("n"), Some(&FieldValue::Float(3.0)));
/// assert_eq!(readings[0].timestamp().unwrap().value, 1_700_000_000_000_000_001);
/// # Ok::<(), telemit::input::ParseError>(())
/// ```
pub fn parse_payload(
    text: &str,
    options: &JsonParserOptions,
    precision: Precision,
) -> Result<Vec<Reading>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let value: Value = serde_json::from_str(text).map_err(ParseError::from_json)?;
    match value {
        Value::Object(object) => Ok(vec![flat_reading(object, options, precision)?.reading]),
        Value::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Value::Object(object) => {
                    flat_reading(object, options, precision).map(|p| p.reading)
                }
                _ => Err(ParseError::of(
                    ParseErrorKind::Json,
                    1,
                    "expected an array of objects",
                )),
            })
            .collect(),
        _ => Err(ParseError::of(
            ParseErrorKind::Json,
            1,
            "expected a JSON object or an array of objects",
        )),
    }
}

/// One flat object as Telegraf's `json` parser reads it, with what it dropped.
pub(crate) fn flat_reading(
    object: Map<String, Value>,
    options: &JsonParserOptions,
    precision: Precision,
) -> Result<Parsed, ParseError> {
    let numbers = options.numbers.unwrap_or(JsonNumbers::Float);
    let mut members = Vec::new();
    let mut collisions = Vec::new();
    for (key, value) in object {
        flatten(&mut members, join("", &key), value, &mut collisions);
    }
    let name = match members.iter().find(|(k, _)| *k == options.name_key) {
        Some((_, Value::String(name))) if !options.name_key.is_empty() => name.clone(),
        _ => "socket_listener".to_owned(),
    };
    let mut timestamp = None;
    if !options.time_key.is_empty() {
        match members.iter().position(|(k, _)| *k == options.time_key) {
            Some(at) => {
                let (_, value) = members.remove(at);
                timestamp = Some(time_value(&value, &options.time_key, precision)?);
            }
            None if options.time_required => {
                return Err(ParseError::new(
                    ParseErrorKind::Json,
                    None,
                    format!(
                        "JSON time key {:?} could not be found (Telegraf fails such an object when json_time_key is set)",
                        options.time_key
                    ),
                ));
            }
            None => {}
        }
    }
    let (tag_keys, string_fields) = (
        Globs::new(&options.tag_keys),
        Globs::new(&options.string_fields),
    );
    let mut builder = Reading::builder(name).maybe_timestamp(timestamp);
    let mut dropped = Vec::new();
    for (key, value) in members {
        if tag_keys.matches(&key) {
            let text = match value {
                Value::String(text) => text,
                Value::Bool(b) => b.to_string(),
                Value::Number(n) => n.as_f64().map(go_float_text).unwrap_or_default(),
                _ => continue,
            };
            builder = builder.tag(key, text);
            continue;
        }
        match value {
            Value::Number(n) => {
                let value = match numbers {
                    JsonNumbers::Auto if n.is_i64() => {
                        FieldValue::Integer(n.as_i64().unwrap_or_default())
                    }
                    JsonNumbers::Auto if n.is_u64() => {
                        FieldValue::Unsigned(n.as_u64().unwrap_or_default())
                    }
                    _ => FieldValue::Float(n.as_f64().unwrap_or(f64::NAN)),
                };
                builder = builder.field(key, value);
            }
            Value::String(text) if string_fields.matches(&key) => {
                builder = builder.field(key, text)
            }
            Value::Bool(b) if string_fields.matches(&key) => builder = builder.field(key, b),
            Value::String(_) | Value::Bool(_) if key != options.name_key => dropped.push(key),
            _ => {}
        }
    }
    let mut parsed = Parsed::new(builder.build()?);
    parsed.dropped = dropped;
    parsed.duplicates = collisions;
    Ok(parsed)
}

/// Flattens nested objects and arrays with `_`, as Telegraf's JSON flattener does; nulls go.
/// A flattened name met twice (`{"o":{"x":1},"o_x":2}`) keeps the last value, as a Go map
/// would, and is listed in `collisions`.
fn flatten(
    out: &mut Vec<(String, Value)>,
    key: String,
    value: Value,
    collisions: &mut Vec<String>,
) {
    match value {
        Value::Object(inner) => {
            for (k, v) in inner {
                flatten(out, join(&key, &k), v, collisions);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.into_iter().enumerate() {
                flatten(out, join(&key, &i.to_string()), v, collisions);
            }
        }
        Value::Null => {}
        leaf => match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => {
                collisions.push(format!("flattened name {key:?}"));
                slot.1 = leaf;
            }
            None => out.push((key, leaf)),
        },
    }
}

/// Telegraf trims `_` from both ends of each flattened name before joining.
fn join(prefix: &str, key: &str) -> String {
    format!("{prefix}_{key}_").trim_matches('_').to_owned()
}

/// A float written as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, no exponent.
fn go_float_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e21 {
        format!("{value:.0}")
    } else {
        // Rust's Display is also shortest-roundtrip and never uses an exponent.
        value.to_string()
    }
}

/// A time member in the caller's unit: a number or a string of one. A fraction is kept down
/// to the nanosecond (`1700000000.5` seconds is `1700000000500000000` ns), read from the
/// number's text so that no float rounding enters; finer digits must be zeros. A time beyond
/// the 64-bit nanosecond range is an error quoting the value as given.
fn time_value(value: &Value, key: &str, precision: Precision) -> Result<Timestamp, ParseError> {
    let text = match value {
        Value::String(text) => text.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(ParseError::new(
                ParseErrorKind::Timestamp,
                None,
                format!("time {other} is not a number"),
            )
            .with_text(key));
        }
    };
    let error = |reason: &str| {
        ParseError::new(
            ParseErrorKind::Timestamp,
            None,
            format!("time {text:?} {reason}"),
        )
        .with_text(key)
    };
    let per_unit = 1_000_000_000 / precision.per_second();
    let out_of_range = "is out of range: beyond the 64-bit nanoseconds of about 1677-2262";
    if let Ok(whole) = text.parse::<i64>() {
        if whole.checked_mul(per_unit).is_none() {
            return Err(error(out_of_range));
        }
        return Ok(Timestamp::new(whole, precision));
    }
    if text.contains(['e', 'E']) {
        // Exponent notation: read as a float, to the nearest nanosecond.
        let nanos = text.parse::<f64>().map_err(|_| error("is not a number"))? * per_unit as f64;
        if nanos.is_nan() || nanos.abs() >= 9.2e18 {
            return Err(error(out_of_range));
        }
        return Ok(Timestamp::new(nanos.round() as i64, Precision::Nanoseconds));
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(&text)),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(error(
            "is not a number of the time unit (digits, an optional fraction)",
        ));
    }
    // The fraction digits the nanoseconds of one unit can hold.
    let places = per_unit.ilog10() as usize;
    let (kept, finer) = fraction.split_at(fraction.len().min(places));
    if finer.bytes().any(|b| b != b'0') {
        return Err(error("has a fraction finer than a nanosecond"));
    }
    let kept_ns = if kept.is_empty() {
        0
    } else {
        let scale = 10i64.pow((places - kept.len()) as u32);
        kept.parse::<i64>().map_err(|_| error("is not a number"))? * scale
    };
    let nanos = whole
        .parse::<i64>()
        .ok()
        .and_then(|w| w.checked_mul(per_unit))
        .and_then(|w| w.checked_add(kept_ns))
        .map(|n| if negative { -n } else { n })
        .ok_or_else(|| error(out_of_range))?;
    Ok(Timestamp::new(nanos, Precision::Nanoseconds))
}

#[cfg(test)]
#[path = "telegraf_json_tests.rs"]
mod tests;
