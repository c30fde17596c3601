//! Influx line protocol, escaped exactly as Telegraf's `influx` parser reads it.
//!
//! Telegraf unescapes only the characters that need escaping in each token, so backslashes are
//! written raw; the few texts that cannot then be read back (a trailing backslash, a backslash
//! right before an escaped character in a measurement or field key) are refused.

use super::{EncodeError, Format, Unrepresentable, push_float, push_int, timestamp_in};
use crate::reading::{FieldValue, Part, Precision, Reading};

/// Appends `reading` as one line of line protocol, timestamp in `precision`.
///
/// ```
/// use telemit::{Precision, Reading, Timestamp, format::influx};
///
/// let reading = Reading::builder("disk")
///     .tag("path", "C:\\data")
///     .field("free", 12u64)
///     .field("note", "say \"hi\"")
///     .timestamp(Timestamp::new(1_700_000_000, Precision::Seconds))
///     .build()?;
/// let mut out = Vec::new();
/// influx::encode(&reading, Precision::Milliseconds, &mut out)?;
/// assert_eq!(out, b"disk,path=C:\\data free=12u,note=\"say \\\"hi\\\"\" 1700000000000\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode(reading: &Reading, precision: Precision, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    let result = encode_line(reading, precision, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode_line(
    reading: &Reading,
    precision: Precision,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let measurement = reading.measurement();
    if measurement.starts_with('#') {
        return Err(refuse(Part::Measurement, measurement, Unrepresentable::LeadingHash));
    }
    check_name(measurement, is_measurement_special, Part::Measurement)?;
    push_escaped(out, measurement, is_measurement_special);

    for (key, value) in reading.tags() {
        check_tag_token(key, Part::TagKey)?;
        check_tag_token(value, Part::TagValue(key.clone()))?;
        out.push(b',');
        push_escaped(out, key, is_key_special);
        out.push(b'=');
        push_escaped(out, value, is_key_special);
    }

    let mut separator = b' ';
    for (key, value) in reading.fields() {
        check_name(key, is_key_special, Part::FieldKey)?;
        out.push(separator);
        separator = b',';
        push_escaped(out, key, is_key_special);
        out.push(b'=');
        push_field_value(out, value);
    }

    if let Some(timestamp) = reading.timestamp() {
        let value = timestamp_in(timestamp, precision, Format::Influx)?;
        out.push(b' ');
        push_int(out, value);
    }
    out.push(b'\n');
    Ok(())
}

fn push_field_value(out: &mut Vec<u8>, value: &FieldValue) {
    match value {
        FieldValue::Float(v) => push_float(out, *v),
        FieldValue::Integer(v) => {
            push_int(out, *v);
            out.push(b'i');
        }
        FieldValue::Unsigned(v) => {
            push_int(out, *v);
            out.push(b'u');
        }
        FieldValue::Boolean(v) => out.extend_from_slice(if *v { b"true" } else { b"false" }),
        FieldValue::String(s) => {
            out.push(b'"');
            push_escaped(out, s, |b| b == b'"' || b == b'\\');
            out.push(b'"');
        }
    }
}

fn is_measurement_special(b: u8) -> bool {
    b == b',' || b == b' '
}

fn is_key_special(b: u8) -> bool {
    b == b',' || b == b'=' || b == b' '
}

/// Writes `text`, putting a backslash before every byte `special` picks.
fn push_escaped(out: &mut Vec<u8>, text: &str, special: impl Fn(u8) -> bool) {
    let bytes = text.as_bytes();
    if !bytes.iter().any(|&b| special(b)) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if special(b) {
            out.extend_from_slice(&bytes[copied..i]);
            out.push(b'\\');
            copied = i;
        }
    }
    out.extend_from_slice(&bytes[copied..]);
}

/// Measurements and field keys: a backslash before an escaped character or at the end (where
/// the separator follows) merges with the escape in Telegraf's reading.
fn check_name(text: &str, special: fn(u8) -> bool, part: Part) -> Result<(), EncodeError> {
    let bytes = text.as_bytes();
    if !bytes.contains(&b'\\') {
        return Ok(());
    }
    if bytes.last() == Some(&b'\\') {
        return Err(refuse(part, text, Unrepresentable::TrailingBackslash));
    }
    if bytes.windows(2).any(|w| w[0] == b'\\' && special(w[1])) {
        return Err(refuse(part, text, Unrepresentable::BackslashBeforeEscape));
    }
    Ok(())
}

/// Tag keys and values: a raw backslash before an escape reads back fine, but a trailing one
/// does not, and Telegraf unescapes `\"` in tokens that needed escaping.
fn check_tag_token(text: &str, part: Part) -> Result<(), EncodeError> {
    let bytes = text.as_bytes();
    if !bytes.contains(&b'\\') {
        return Ok(());
    }
    if bytes.last() == Some(&b'\\') {
        return Err(refuse(part, text, Unrepresentable::TrailingBackslash));
    }
    if bytes.iter().any(|&b| is_key_special(b)) && bytes.windows(2).any(|w| w == b"\\\"") {
        return Err(refuse(part, text, Unrepresentable::BackslashBeforeQuote));
    }
    Ok(())
}

fn refuse(part: Part, text: &str, reason: Unrepresentable) -> EncodeError {
    EncodeError::new(Format::Influx, part, text, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::{ReadingBuilder, Timestamp};

    fn line(builder: ReadingBuilder) -> Result<String, String> {
        let reading = builder.build().map_err(|e| e.to_string())?;
        let mut out = b"kept".to_vec();
        match encode(&reading, Precision::Nanoseconds, &mut out) {
            Ok(()) => Ok(String::from_utf8(out[4..].to_vec()).unwrap()),
            Err(e) => {
                assert_eq!(out, b"kept", "a refused reading must leave the buffer as it was");
                Err(e.to_string())
            }
        }
    }

    fn m(name: &str) -> ReadingBuilder {
        crate::Reading::builder(name)
    }

    #[test]
    fn expected_bytes() {
        let ts = Timestamp::new(1_700_000_000_123_456_789, Precision::Nanoseconds);
        let cases: Vec<(ReadingBuilder, &str)> = vec![
            (m("cpu").field("v", 1.0), "cpu v=1.0\n"),
            (m("cpu").field("v", 0.1), "cpu v=0.1\n"),
            (m("cpu").field("v", 1e21), "cpu v=1e21\n"),
            (m("cpu").field("v", -1.5e-7), "cpu v=-1.5e-7\n"),
            (m("cpu").field("v", f64::MAX), "cpu v=1.7976931348623157e308\n"),
            (m("cpu").field("v", -3i64), "cpu v=-3i\n"),
            (m("cpu").field("v", i64::MIN), "cpu v=-9223372036854775808i\n"),
            (m("cpu").field("v", u64::MAX), "cpu v=18446744073709551615u\n"),
            (m("cpu").field("ok", true).field("no", false), "cpu ok=true,no=false\n"),
            (m("cpu").field("s", "a\"b\\c"), "cpu s=\"a\\\"b\\\\c\"\n"),
            (m("cpu").field("s", ""), "cpu s=\"\"\n"),
            (m("cpu").field("s", "tab\there"), "cpu s=\"tab\there\"\n"),
            (m("cpu").field("v", 1).timestamp(ts), "cpu v=1i 1700000000123456789\n"),
            // Measurement: only comma and space are escaped; '=' and '"' are written raw.
            (m("a b,c=d\"e").field("v", 1), "a\\ b\\,c=d\"e v=1i\n"),
            (m("a\\b").field("v", 1), "a\\b v=1i\n"),
            // Tag keys and values, field keys: comma, '=' and space are escaped.
            (m("m").tag("k y=,", "v a=l,").field("f k=,", 1), "m,k\\ y\\=\\,=v\\ a\\=l\\, f\\ k\\=\\,=1i\n"),
            // Backslashes are written raw.
            (m("m").tag("p", "C:\\dir\\x").field("v", 1), "m,p=C:\\dir\\x v=1i\n"),
            (m("m").tag("p", "a\\\\b").field("v", 1), "m,p=a\\\\b v=1i\n"),
            // In tags, a backslash before an escaped character is raw, then the escape.
            (m("m").tag("p", "a\\ b").field("v", 1), "m,p=a\\\\ b v=1i\n"),
            // A quote in a tag is fine, and so is a backslash-quote when nothing needs escaping.
            (m("m").tag("q", "say\"x").field("v", 1), "m,q=say\"x v=1i\n"),
            (m("m").tag("q", "a\\\"b").field("v", 1), "m,q=a\\\"b v=1i\n"),
            (m("m").field("we\\ird", 1), "m we\\ird=1i\n"),
            (m("m").field("#not", 1), "m #not=1i\n"),
            (m("ünï ✓").tag("🔥", "ß").field("ñ", "日本"), "ünï\\ ✓,🔥=ß ñ=\"日本\"\n"),
        ];
        for (builder, expected) in cases {
            assert_eq!(line(builder), Ok(expected.to_string()));
        }
    }

    #[test]
    fn refusals() {
        let cases: Vec<(ReadingBuilder, &str)> = vec![
            (m("#m").field("v", 1), "influx: measurement \"#m\" starts with '#', which makes Telegraf read the line as a comment"),
            (m("m\\").field("v", 1), "influx: measurement \"m\\\\\" ends in a backslash, which Telegraf would read as an escape"),
            (m("a\\ b").field("v", 1), "influx: measurement \"a\\\\ b\" has a backslash before a space, comma or '=', which Telegraf reads as one escape"),
            (m("a\\,b").field("v", 1), "influx: measurement \"a\\\\,b\" has a backslash before a space, comma or '=', which Telegraf reads as one escape"),
            (m("m").tag("k\\", "v").field("v", 1), "influx: tag key \"k\\\\\" ends in a backslash, which Telegraf would read as an escape"),
            (m("m").tag("k", "v\\").field("v", 1), "influx: value of tag \"k\" \"v\\\\\" ends in a backslash, which Telegraf would read as an escape"),
            (m("m").tag("k", "a b\\\"").field("v", 1), "influx: value of tag \"k\" \"a b\\\\\\\"\" has a backslash before a '\"' and needs escaping, so Telegraf would drop the backslash"),
            (m("m").field("f\\", 1), "influx: field key \"f\\\\\" ends in a backslash, which Telegraf would read as an escape"),
            (m("m").field("a\\=b", 1), "influx: field key \"a\\\\=b\" has a backslash before a space, comma or '=', which Telegraf reads as one escape"),
            (
                m("m").field("v", 1).timestamp(Timestamp::new(i64::MAX, Precision::Seconds)),
                "influx: timestamp \"9223372036854775807s\" does not fit in a 64-bit integer at precision ns",
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(line(builder), Err(expected.to_string()));
        }
    }

    #[test]
    fn timestamps_follow_the_output_precision() {
        let reading = m("m")
            .field("v", 1)
            .timestamp(Timestamp::new(1_700_000_000_987, Precision::Milliseconds))
            .build()
            .unwrap();
        let expected = [
            (Precision::Seconds, "m v=1i 1700000000\n"),
            (Precision::Milliseconds, "m v=1i 1700000000987\n"),
            (Precision::Microseconds, "m v=1i 1700000000987000\n"),
            (Precision::Nanoseconds, "m v=1i 1700000000987000000\n"),
        ];
        for (precision, text) in expected {
            let mut out = Vec::new();
            encode(&reading, precision, &mut out).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
    }
}
