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
pub fn encode(
    reading: &Reading,
    precision: Precision,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
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
        return Err(refuse(
            Part::Measurement,
            measurement,
            Unrepresentable::LeadingHash,
        ));
    }
    push_name(out, measurement, COMMA | SPACE, || Part::Measurement)?;

    for (key, value) in reading.tags() {
        out.push(b',');
        push_tag_token(out, key, || Part::TagKey)?;
        out.push(b'=');
        push_tag_token(out, value, || Part::TagValue(key.clone()))?;
    }

    let mut separator = b' ';
    for (key, value) in reading.fields() {
        out.push(separator);
        separator = b',';
        push_name(out, key, COMMA | SPACE | EQUALS, || Part::FieldKey)?;
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
            if classify(s.as_bytes()) & (QUOTE | BACKSLASH) == 0 {
                out.extend_from_slice(s.as_bytes());
            } else {
                push_escaped(out, s.as_bytes(), QUOTE | BACKSLASH);
            }
            out.push(b'"');
        }
    }
}

const COMMA: u8 = 1;
const SPACE: u8 = 2;
const EQUALS: u8 = 4;
const QUOTE: u8 = 8;
const BACKSLASH: u8 = 16;

/// The class bits of every byte that escaping is about; 0 for all others.
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b',' as usize] = COMMA;
    table[b' ' as usize] = SPACE;
    table[b'=' as usize] = EQUALS;
    table[b'"' as usize] = QUOTE;
    table[b'\\' as usize] = BACKSLASH;
    table
};

/// The union of the classes of the bytes of `text`: one pass, no branches per byte.
fn classify(text: &[u8]) -> u8 {
    text.iter().fold(0, |acc, &b| acc | CLASS[usize::from(b)])
}

/// Writes `text`, putting a backslash before every byte whose class is in `special`.
fn push_escaped(out: &mut Vec<u8>, text: &[u8], special: u8) {
    let mut copied = 0;
    for (i, &b) in text.iter().enumerate() {
        if CLASS[usize::from(b)] & special != 0 {
            out.extend_from_slice(&text[copied..i]);
            out.push(b'\\');
            copied = i;
        }
    }
    out.extend_from_slice(&text[copied..]);
}

/// Measurements and field keys: a backslash before an escaped character or at the end (where
/// the separator follows) merges with the escape in Telegraf's reading.
fn push_name(
    out: &mut Vec<u8>,
    text: &str,
    special: u8,
    part: impl FnOnce() -> Part,
) -> Result<(), EncodeError> {
    let bytes = text.as_bytes();
    let classes = classify(bytes);
    if classes & (special | BACKSLASH) == 0 {
        out.extend_from_slice(bytes);
        return Ok(());
    }
    if classes & BACKSLASH != 0 {
        if bytes.last() == Some(&b'\\') {
            return Err(refuse(part(), text, Unrepresentable::TrailingBackslash));
        }
        if bytes
            .windows(2)
            .any(|w| w[0] == b'\\' && CLASS[usize::from(w[1])] & special != 0)
        {
            return Err(refuse(part(), text, Unrepresentable::BackslashBeforeEscape));
        }
    }
    push_escaped(out, bytes, special);
    Ok(())
}

/// Tag keys and values: a raw backslash before an escape reads back fine, but a trailing one
/// does not, and Telegraf unescapes `\"` in tokens that needed escaping.
fn push_tag_token(
    out: &mut Vec<u8>,
    text: &str,
    part: impl FnOnce() -> Part,
) -> Result<(), EncodeError> {
    const SPECIAL: u8 = COMMA | SPACE | EQUALS;
    let bytes = text.as_bytes();
    let classes = classify(bytes);
    if classes & (SPECIAL | BACKSLASH) == 0 {
        out.extend_from_slice(bytes);
        return Ok(());
    }
    if classes & BACKSLASH != 0 {
        if bytes.last() == Some(&b'\\') {
            return Err(refuse(part(), text, Unrepresentable::TrailingBackslash));
        }
        if classes & SPECIAL != 0 && bytes.windows(2).any(|w| w == b"\\\"") {
            return Err(refuse(part(), text, Unrepresentable::BackslashBeforeQuote));
        }
    }
    push_escaped(out, bytes, SPECIAL);
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
                assert_eq!(
                    out, b"kept",
                    "a refused reading must leave the buffer as it was"
                );
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
            (
                m("cpu").field("v", f64::MAX),
                "cpu v=1.7976931348623157e308\n",
            ),
            (m("cpu").field("v", -3i64), "cpu v=-3i\n"),
            (
                m("cpu").field("v", i64::MIN),
                "cpu v=-9223372036854775808i\n",
            ),
            (
                m("cpu").field("v", u64::MAX),
                "cpu v=18446744073709551615u\n",
            ),
            (
                m("cpu").field("ok", true).field("no", false),
                "cpu ok=true,no=false\n",
            ),
            (m("cpu").field("s", "a\"b\\c"), "cpu s=\"a\\\"b\\\\c\"\n"),
            (m("cpu").field("s", ""), "cpu s=\"\"\n"),
            (m("cpu").field("s", "tab\there"), "cpu s=\"tab\there\"\n"),
            (
                m("cpu").field("v", 1).timestamp(ts),
                "cpu v=1i 1700000000123456789\n",
            ),
            // Measurement: only comma and space are escaped; '=' and '"' are written raw.
            (m("a b,c=d\"e").field("v", 1), "a\\ b\\,c=d\"e v=1i\n"),
            (m("a\\b").field("v", 1), "a\\b v=1i\n"),
            // Tag keys and values, field keys: comma, '=' and space are escaped.
            (
                m("m").tag("k y=,", "v a=l,").field("f k=,", 1),
                "m,k\\ y\\=\\,=v\\ a\\=l\\, f\\ k\\=\\,=1i\n",
            ),
            // Backslashes are written raw.
            (
                m("m").tag("p", "C:\\dir\\x").field("v", 1),
                "m,p=C:\\dir\\x v=1i\n",
            ),
            (m("m").tag("p", "a\\\\b").field("v", 1), "m,p=a\\\\b v=1i\n"),
            // In tags, a backslash before an escaped character is raw, then the escape.
            (m("m").tag("p", "a\\ b").field("v", 1), "m,p=a\\\\ b v=1i\n"),
            // A quote in a tag is fine, and so is a backslash-quote when nothing needs escaping.
            (m("m").tag("q", "say\"x").field("v", 1), "m,q=say\"x v=1i\n"),
            (m("m").tag("q", "a\\\"b").field("v", 1), "m,q=a\\\"b v=1i\n"),
            (m("m").field("we\\ird", 1), "m we\\ird=1i\n"),
            (m("m").field("#not", 1), "m #not=1i\n"),
            (
                m("ünï ✓").tag("🔥", "ß").field("ñ", "日本"),
                "ünï\\ ✓,🔥=ß ñ=\"日本\"\n",
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(line(builder), Ok(expected.to_string()));
        }
    }

    #[test]
    fn refusals() {
        let cases: Vec<(ReadingBuilder, &str)> = vec![
            (
                m("#m").field("v", 1),
                "influx: measurement \"#m\" starts with '#', which makes Telegraf read the line as a comment",
            ),
            (
                m("m\\").field("v", 1),
                "influx: measurement \"m\\\\\" ends in a backslash, which Telegraf would read as an escape",
            ),
            (
                m("a\\ b").field("v", 1),
                "influx: measurement \"a\\\\ b\" has a backslash before a space, comma or '=', which Telegraf reads as one escape",
            ),
            (
                m("a\\,b").field("v", 1),
                "influx: measurement \"a\\\\,b\" has a backslash before a space, comma or '=', which Telegraf reads as one escape",
            ),
            (
                m("m").tag("k\\", "v").field("v", 1),
                "influx: tag key \"k\\\\\" ends in a backslash, which Telegraf would read as an escape",
            ),
            (
                m("m").tag("k", "v\\").field("v", 1),
                "influx: value of tag \"k\" \"v\\\\\" ends in a backslash, which Telegraf would read as an escape",
            ),
            (
                m("m").tag("k", "a b\\\"").field("v", 1),
                "influx: value of tag \"k\" \"a b\\\\\\\"\" has a backslash before a '\"' and needs escaping, so Telegraf would drop the backslash",
            ),
            (
                m("m").field("f\\", 1),
                "influx: field key \"f\\\\\" ends in a backslash, which Telegraf would read as an escape",
            ),
            (
                m("m").field("a\\=b", 1),
                "influx: field key \"a\\\\=b\" has a backslash before a space, comma or '=', which Telegraf reads as one escape",
            ),
            (
                m("m")
                    .field("v", 1)
                    .timestamp(Timestamp::new(i64::MAX, Precision::Seconds)),
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
