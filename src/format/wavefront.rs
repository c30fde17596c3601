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
    let bare = check(reading, options)?;
    // The `source` tag, else the `host` tag: one pass over the tags.
    let (mut source_tag, mut host_tag) = (None, None);
    for (key, value) in reading.tags() {
        match key.as_str() {
            "source" => source_tag = Some(("source", value.as_str())),
            "host" => host_tag = Some(("host", value.as_str())),
            _ => {}
        }
    }
    let source_key = source_tag.or(host_tag).map(|(key, _)| key);
    let source =
        (source_tag.or(host_tag).map(|(_, value)| value)).or(options.default_source.as_deref());
    let timestamp = match reading.timestamp() {
        Some(t) => Some(seconds(t)?),
        None => None,
    };

    let measurement = reading.measurement();
    // Everything after the value is the same on every line: written once, on the first line,
    // then copied from there.
    let mut tail: Option<std::ops::Range<usize>> = None;
    for (i, (key, value)) in reading.fields().iter().enumerate() {
        if key == "value" {
            push_token(out, measurement);
        } else if bare.name(i, key) {
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

/// What [`check`] found out about the metric names, so that `encode` does not scan them again.
struct BareNames {
    measurement: bool,
    /// Bit `i`: the name `measurement.key` of field `i` goes unquoted (for the first 64).
    fields: u64,
}

impl BareNames {
    /// Whether the metric name of field `i`, `measurement.key`, is written bare.
    fn name(&self, i: usize, key: &str) -> bool {
        if i < 64 {
            self.fields >> i & 1 == 1
        } else {
            self.measurement && is_bare(key)
        }
    }
}

/// Refuses, before anything is written, what Telegraf would read differently.
fn check(reading: &Reading, options: &WavefrontOptions) -> Result<BareNames, EncodeError> {
    let refuse =
        |part: Part, value: &str, reason| EncodeError::new(Format::Wavefront, part, value, reason);
    // The part is named only for an error: building it (a key's copy) costs an allocation.
    let quotable =
        |part: &dyn Fn() -> Part, text: &str, quoted: bool| match quoting_fault(text, quoted) {
            Some(reason) => Err(refuse(part(), text, reason)),
            None => Ok(()),
        };
    let measurement = reading.measurement();
    let bare_measurement = is_bare(measurement);
    quotable(&|| Part::Measurement, measurement, !bare_measurement)?;
    if let Some(source) = &options.default_source {
        quotable(
            &|| Part::TagValue("source".to_owned()),
            source,
            !is_bare(source),
        )?;
    }
    for (key, value) in reading.tags() {
        quotable(&|| Part::TagKey, key, tag_key_needs_quotes(key))?;
        quotable(&|| Part::TagValue(key.clone()), value, !is_bare(value))?;
    }
    let mut bare = BareNames {
        measurement: bare_measurement,
        fields: 0,
    };
    for (i, (key, value)) in reading.fields().iter().enumerate() {
        if key != "value" {
            // The metric name `measurement.key` is quoted as a whole when either part needs
            // it: the key's end is then the name's end, and a quote at its start follows a dot.
            let bare_name = bare_measurement && is_bare(key);
            if bare_name && i < 64 {
                bare.fields |= 1 << i;
            }
            quotable(&|| Part::FieldKey, key, !bare_name)?;
        }
        let refused_kind = match value {
            FieldValue::String(_) => Some("string"),
            FieldValue::Boolean(_) if !options.bool_as_number => Some("boolean"),
            _ => None,
        };
        if let Some(kind) = refused_kind {
            let part = Part::FieldValue(key.clone());
            return Err(refuse(
                part,
                &value.to_string(),
                Unrepresentable::NotNumeric(kind),
            ));
        }
        // Telegraf reads every value as a float64.
        let exact = match value {
            FieldValue::Integer(v) => v.unsigned_abs() <= MAX_EXACT_INTEGER,
            FieldValue::Unsigned(v) => *v <= MAX_EXACT_INTEGER,
            _ => true,
        };
        if !exact {
            let part = Part::FieldValue(key.clone());
            return Err(refuse(
                part,
                &value.to_string(),
                Unrepresentable::BeyondFloatPrecision,
            ));
        }
    }
    Ok(bare)
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
    if seconds >= 1_000_000_000 {
        // Since 2001-09-09 every timestamp has ten digits already.
        push_int(out, seconds);
        return;
    }
    let mut digits = [b'0'; 10];
    let mut rest = seconds;
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    out.extend_from_slice(&digits);
}

/// True when Telegraf reads `text` unquoted: ASCII letters, digits and `- _ . / \\ ,`.
fn is_bare(text: &str) -> bool {
    // A table lookup per byte and no branch: names are short, an early exit saves nothing.
    text.bytes()
        .fold(true, |bare, b| bare & BARE[usize::from(b)])
}

/// The bytes of [`is_bare`].
static BARE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'/' | b'\\' | b',');
        b += 1;
    }
    table
};

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
#[path = "wavefront_tests.rs"]
mod tests;
