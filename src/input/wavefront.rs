//! A Wavefront line parser with Telegraf's reading rules, for `listen`.
//!
//! `<metricName> <value> [<timestamp>] [tagKey=tagValue ...]` becomes a reading of measurement
//! `metricName` with one float field `value`. Quoted tokens keep backslashes literally; a
//! timestamp of 13, 16 or 19 digits is read as ms, µs or ns and truncated to whole seconds.

use super::ParseError;
use crate::reading::{Precision, Reading, Timestamp};

/// Parses one Wavefront line; `Ok(None)` for a blank line.
///
/// ```
/// use telemit::{FieldValue, Precision, Timestamp, input::wavefront::parse_line};
///
/// let r = parse_line("cpu.usage 0.5 1700000000123 source=web01 \"dc\"=\"us east\"")?.unwrap();
/// assert_eq!(r.measurement(), "cpu.usage");
/// assert_eq!(r.field("value"), Some(&FieldValue::Float(0.5)));
/// assert_eq!(r.timestamp(), Some(Timestamp::new(1_700_000_000, Precision::Seconds)));
/// assert_eq!(r.tag("dc"), Some("us east"));
/// # Ok::<(), telemit::input::ParseError>(())
/// ```
pub fn parse_line(line: &str) -> Result<Option<Reading>, ParseError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut cursor = Tokens { text: line, pos: 0 };
    let Some((name_at, name)) = cursor.next_token()? else {
        return Ok(None);
    };
    let (value_at, value) = cursor
        .next_token()?
        .ok_or_else(|| ParseError::at(line.len() + 1, "expected a value after the metric name"))?;
    let value = parse_value(&value).ok_or_else(|| {
        ParseError::at(
            value_at,
            format!("invalid value {value:?}: expected a float"),
        )
    })?;
    let mut builder = Reading::builder(name).field("value", value);
    let mut first = true;
    while let Some((at, token)) = cursor.next_token_or_tag()? {
        match token {
            Token::Plain(text) if first && text.bytes().all(|b| b.is_ascii_digit()) => {
                builder = builder.timestamp(parse_timestamp(&text, at)?);
            }
            Token::Plain(text) => {
                return Err(ParseError::at(
                    at,
                    format!("expected tagKey=tagValue, found {text:?}"),
                ));
            }
            Token::Tag(key, value) => builder = builder.tag(key, value),
        }
        first = false;
    }
    let _ = name_at;
    Ok(Some(builder.build()?))
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "NaN" | "nan" => return Some(f64::NAN),
        "-Inf" | "-inf" => return Some(f64::NEG_INFINITY),
        "Inf" | "inf" => return Some(f64::INFINITY),
        _ => {}
    }
    let valid = text.bytes().enumerate().all(|(i, b)| {
        b.is_ascii_digit()
            || b == b'.'
            || b == b'e'
            || b == b'E'
            || (b == b'-' && (i == 0 || matches!(text.as_bytes()[i - 1], b'e' | b'E')))
    });
    if valid { text.parse().ok() } else { None }
}

fn parse_timestamp(text: &str, at: usize) -> Result<Timestamp, ParseError> {
    let value: i64 = text
        .parse()
        .map_err(|_| ParseError::at(at, format!("timestamp {text:?} is out of range")))?;
    let seconds = match text.len() {
        13 => value / 1_000,
        16 => value / 1_000_000,
        19 => value / 1_000_000_000,
        _ => value,
    };
    Ok(Timestamp::new(seconds, Precision::Seconds))
}

enum Token {
    Plain(String),
    Tag(String, String),
}

struct Tokens<'a> {
    text: &'a str,
    pos: usize,
}

impl Tokens<'_> {
    fn skip_spaces(&mut self) {
        while self
            .text
            .as_bytes()
            .get(self.pos)
            .is_some_and(|b| *b == b' ' || *b == b'\t')
        {
            self.pos += 1;
        }
    }

    /// A bare or quoted word, stopping at a space (or at `=` when `stop_at_equals`).
    fn word(&mut self, stop_at_equals: bool) -> Result<String, ParseError> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        if bytes.get(self.pos) == Some(&b'"') {
            self.pos += 1;
            let inner = self.pos;
            loop {
                match bytes.get(self.pos) {
                    None => return Err(ParseError::at(start + 1, "unterminated quoted token")),
                    Some(b'\\') if bytes.get(self.pos + 1) == Some(&b'"') => self.pos += 2,
                    Some(b'"') => break,
                    Some(_) => self.pos += 1,
                }
            }
            let word = self.text[inner..self.pos].to_owned();
            self.pos += 1;
            return Ok(word);
        }
        while let Some(&b) = bytes.get(self.pos) {
            if b == b' ' || b == b'\t' || (stop_at_equals && b == b'=') {
                break;
            }
            if b == b'"' {
                return Err(ParseError::at(
                    self.pos + 1,
                    "unexpected '\"' inside a bare token",
                ));
            }
            self.pos += 1;
        }
        Ok(self.text[start..self.pos].to_owned())
    }

    fn next_token(&mut self) -> Result<Option<(usize, String)>, ParseError> {
        self.skip_spaces();
        if self.pos >= self.text.len() {
            return Ok(None);
        }
        let at = self.pos + 1;
        Ok(Some((at, self.word(false)?)))
    }

    fn next_token_or_tag(&mut self) -> Result<Option<(usize, Token)>, ParseError> {
        self.skip_spaces();
        if self.pos >= self.text.len() {
            return Ok(None);
        }
        let at = self.pos + 1;
        let key = self.word(true)?;
        if self.text.as_bytes().get(self.pos) != Some(&b'=') {
            return Ok(Some((at, Token::Plain(key))));
        }
        self.pos += 1;
        if matches!(self.text.as_bytes().get(self.pos), None | Some(b' ')) {
            return Err(ParseError::at(
                self.pos + 1,
                format!("tag {key:?} has no value"),
            ));
        }
        let value = self.word(false)?;
        Ok(Some((at, Token::Tag(key, value))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FieldValue;

    #[test]
    fn reads_quotes_and_timestamps_like_telegraf() {
        let r = parse_line(
            "\"my cpu.idle %\" -1.5e-7 1700000000123456789 source=\"box 1\" k=\"a\\\"b\"",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.measurement(), "my cpu.idle %");
        assert_eq!(r.field("value"), Some(&FieldValue::Float(-1.5e-7)));
        assert_eq!(r.timestamp().unwrap().value, 1_700_000_000);
        assert_eq!(r.tag("k"), Some("a\\\"b"));
        assert_eq!(parse_line("  ").unwrap(), None);
    }

    #[test]
    fn errors() {
        let cases = [
            ("cpu", "column 4: expected a value after the metric name"),
            (
                "cpu +Inf",
                "column 5: invalid value \"+Inf\": expected a float",
            ),
            (
                "cpu 1e+5",
                "column 5: invalid value \"1e+5\": expected a float",
            ),
            (
                "cpu NaN",
                "value of field \"value\" is NaN, which Telegraf rejects: only finite floats can be sent",
            ),
            (
                "cpu 1 junk",
                "column 7: expected tagKey=tagValue, found \"junk\"",
            ),
            ("cpu 1 k=", "column 9: tag \"k\" has no value"),
            ("cpu 1 k=\"v", "column 9: unterminated quoted token"),
        ];
        for (line, expected) in cases {
            assert_eq!(
                parse_line(line).unwrap_err().to_string(),
                expected,
                "{line}"
            );
        }
    }
}
