//! Influx line protocol, escaped exactly as Telegraf's `influx` parser reads it.
//!
//! Telegraf (`plugins/parsers/influx/machine.go.rl`, `escape.go`) reads each token in two
//! steps. The grammar finds where the token ends: in a measurement and a field key a backslash
//! always takes the next byte with it (so backslashes pair up), in a tag key or value it takes
//! the next byte unless that is another backslash. Then, only if the token's bytes contain a
//! space or comma (measurement) or a space, comma or `=` (keys, tag values), it replaces `\,`
//! and `\ ` (measurement), or `\,`, `\ `, `\=` and `\"` (keys, tag values), left to right.
//!
//! So backslashes are written raw, an escape is a backslash before the character, and where
//! Telegraf will unescape `\"`, a backslash run before a quote gets one more backslash. What no
//! writing reads back is refused ([`Unrepresentable`]): a tag key or value ending in a
//! backslash; an odd run of backslashes before an escaped character or at the end of a
//! measurement or field key; a measurement starting with `#`.

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
    push_token(out, measurement, Token::Measurement, || Part::Measurement)?;

    for (key, value) in reading.tags() {
        out.push(b',');
        push_token(out, key, Token::Tag, || Part::TagKey)?;
        out.push(b'=');
        push_token(out, value, Token::Tag, || Part::TagValue(key.clone()))?;
    }

    let mut separator = b' ';
    for (key, value) in reading.fields() {
        out.push(separator);
        separator = b',';
        push_token(out, key, Token::FieldKey, || Part::FieldKey)?;
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
            if !super::has_any(s.as_bytes(), b"\"\\", false) {
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

/// The three kinds of token that differ in how Telegraf reads backslashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// Escapes space and comma; backslashes pair up; only `\,` and `\ ` are unescaped.
    Measurement,
    /// Escapes space, comma and `=`; backslashes pair up; `\"` is unescaped too.
    FieldKey,
    /// Tag keys and values: as field keys, but a backslash before a backslash stands alone.
    Tag,
}

impl Token {
    fn escaped(self) -> u8 {
        match self {
            Token::Measurement => COMMA | SPACE,
            Token::FieldKey | Token::Tag => COMMA | SPACE | EQUALS,
        }
    }
}

/// Writes one token so that Telegraf reads back exactly `text`, or refuses it.
///
/// Take each run of n ≥ 0 backslashes in `text` with the byte after it:
/// - before a character the token escapes: the n backslashes, then `\` and the character
///   (Telegraf's unescaping takes the last backslash); in a measurement or field key the
///   grammar pairs backslashes, so only an even n reads back;
/// - before `"`, when Telegraf will unescape the token (it has an escaped character) and
///   `\"` is among its escapes (keys and tag values): n + 1 backslashes, one for Telegraf to
///   take;
/// - at the end: in a tag nothing reads back (the last backslash escapes the separator), in a
///   measurement or field key an even n does;
/// - anywhere else: the n backslashes as they are.
pub(crate) fn push_token(
    out: &mut Vec<u8>,
    text: &str,
    token: Token,
    part: impl FnOnce() -> Part,
) -> Result<(), EncodeError> {
    let bytes = text.as_bytes();
    let escaped = token.escaped();
    let special: &[u8] = match token {
        Token::Measurement => b", \\",
        Token::FieldKey | Token::Tag => b", =\\",
    };
    if !super::has_any(bytes, special, false) {
        out.extend_from_slice(bytes);
        return Ok(());
    }
    let classes = classify(bytes);
    let pairs = token != Token::Tag;
    let unescapes_quote = token != Token::Measurement && classes & escaped != 0;
    let mut run = 0usize;
    let mut copied = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let class = CLASS[usize::from(b)];
        if class & BACKSLASH != 0 {
            run += 1;
            continue;
        }
        if class & escaped != 0 {
            if pairs && run % 2 == 1 {
                return Err(refuse(part(), text, Unrepresentable::BackslashBeforeEscape));
            }
            out.extend_from_slice(&bytes[copied..i]);
            out.push(b'\\');
            copied = i;
        } else if class & QUOTE != 0 && run > 0 && unescapes_quote {
            out.extend_from_slice(&bytes[copied..i]);
            out.push(b'\\');
            copied = i;
        }
        run = 0;
    }
    if run > 0 {
        if !pairs {
            return Err(refuse(part(), text, Unrepresentable::TrailingBackslash));
        }
        if run % 2 == 1 {
            return Err(refuse(part(), text, Unrepresentable::OddBackslashesAtEnd));
        }
    }
    out.extend_from_slice(&bytes[copied..]);
    Ok(())
}

fn refuse(part: Part, text: &str, reason: Unrepresentable) -> EncodeError {
    EncodeError::new(Format::Influx, part, text, reason)
}

#[cfg(test)]
#[path = "influx_tests.rs"]
mod tests;
