//! A Wavefront line parser with the grammar of Telegraf's `wavefront` parser, for `listen`.
//!
//! `<metricName> <value> [<timestamp>] [tagKey=tagValue ...]` becomes a reading of measurement
//! `metricName` with one float field `value`. The rules are those of Telegraf's token scanner
//! (`plugins/parsers/wavefront`): unquoted names hold ASCII letters, digits and `- _ . / \ ,`
//! (`∆` or `Δ` only first); quoted ones anything, backslashes kept literally; the value is
//! what Go's `strconv.ParseFloat` reads from the letters, digits, dots and minus signs there;
//! a token of digits after the value is the timestamp: 10 digits are seconds, 13, 16 or 19 are
//! ms, µs or ns truncated to seconds, a lone `0` (any length but those) means "no timestamp"
//! (arrival time), and any other length fails the line. A tag key given twice keeps its last
//! value.

use super::{ParseError, ParseErrorKind, Parsed};
use crate::reading::{Precision, Reading, Timestamp};

/// Parses one Wavefront line; `Ok(None)` for an empty line.
///
/// ```
/// use telemit::{FieldValue, Precision, Timestamp, input::wavefront::parse_line};
///
/// let r = parse_line("cpu.usage 0.5 1700000000123 source=web01 \"dc\"=\"us east\"")?.unwrap();
/// assert_eq!(r.measurement(), "cpu.usage");
/// assert_eq!(r.field("value"), Some(&FieldValue::Float(0.5)));
/// assert_eq!(r.timestamp(), Some(Timestamp::new(1_700_000_000, Precision::Seconds)));
/// assert_eq!(r.tag("dc"), Some("us east"));
/// assert!(parse_line("cpu.usage 0.5 170000000").is_err()); // 9 digits
/// assert_eq!(parse_line("cpu.usage 0.5 0")?.unwrap().timestamp(), None);
/// # Ok::<(), telemit::input::ParseError>(())
/// ```
pub fn parse_line(line: &str) -> Result<Option<Reading>, ParseError> {
    parse_line_detailed(line).map(|parsed| parsed.map(|p| p.reading))
}

/// [`parse_line`], also naming the tag keys that were given more than once.
pub fn parse_line_detailed(line: &str) -> Result<Option<Parsed>, ParseError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.is_empty() {
        return Ok(None);
    }
    // Telegraf parses each line with its `\n`, which its scanner takes for whitespace.
    let mut chars: Vec<(usize, char)> = line.char_indices().collect();
    chars.push((line.len(), '\n'));
    let mut s = Scanner {
        line,
        chars,
        pos: 0,
    };

    let name = s.literal()?;
    s.skip_ws();
    if s.kind() == Kind::End {
        return Err(ParseError::at(
            line.len() + 1,
            "expected a value after the metric name",
        ));
    }
    let value_at = s.pos;
    let value_column = s.column();
    let mut text = String::new();
    if s.kind() == Kind::Minus {
        text.push('-');
        s.pos += 1;
    }
    while matches!(
        s.kind(),
        Kind::Letter | Kind::Number | Kind::Dot | Kind::Minus
    ) {
        text.push(s.chars[s.pos].1);
        s.pos += 1;
    }
    let value = go_parse_float(&text).ok_or_else(|| {
        let shown = s.word_from(value_at);
        ParseError::of(
            ParseErrorKind::Value,
            value_column,
            format!("invalid value {shown:?}: expected a float"),
        )
        .with_text(shown)
    })?;
    let value_end = s.pos;
    s.skip_ws();
    let mut timestamp = None;
    if s.kind() == Kind::Number {
        let at = s.column();
        let start = s.pos;
        while s.kind() == Kind::Number {
            s.pos += 1;
        }
        let digits = s.slice(start, s.pos);
        timestamp = wavefront_timestamp(digits, at)?;
        s.skip_ws();
    } else if s.pos == value_end && s.kind() != Kind::End {
        // Telegraf's timestamp parser gives back two tokens here: with no space after the
        // value, the value's last character starts the first tag key again.
        s.pos -= 1;
    }

    let mut builder = Reading::builder(name)
        .field("value", value)
        .maybe_timestamp(timestamp);
    let mut tags: Vec<(String, String)> = Vec::new();
    let mut duplicates = Vec::new();
    while s.kind() != Kind::End {
        let before = s.pos;
        let at = s.column();
        // An error in a tag key is ignored by Telegraf: it goes on at the next token.
        if let Ok(key) = s.literal() {
            if s.kind() != Kind::Equals {
                let found = s.chars[s.pos].1;
                return Err(ParseError::at(
                    s.column(),
                    format!("expected '=' after the tag key {key:?}, found {found:?}"),
                ));
            }
            s.pos += 1;
            let value_at = s.column();
            let value = s.literal()?;
            if value.is_empty() {
                return Err(ParseError::at(
                    value_at,
                    format!("tag {key:?} has no value"),
                ));
            }
            match tags.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => {
                    duplicates.push(format!("tag {key:?}"));
                    slot.1 = value;
                }
                None => tags.push((key, value)),
            }
        }
        let _ = at;
        s.skip_ws();
        if s.pos == before {
            s.pos += 1;
        }
    }
    for (key, value) in tags {
        builder = builder.tag(key, value);
    }
    let mut parsed = Parsed::new(builder.build()?);
    parsed.duplicates = duplicates;
    Ok(Some(parsed))
}

/// A timestamp of `digits`, as Telegraf's `setTimestamp` reads it; `None` for "arrival time".
fn wavefront_timestamp(digits: &str, at: usize) -> Result<Option<Timestamp>, ParseError> {
    let error = |reason: String| {
        Err(ParseError::of(ParseErrorKind::Timestamp, at, reason).with_text(digits))
    };
    let Ok(value) = digits.parse::<i64>() else {
        return error(format!("timestamp {digits:?} is out of range"));
    };
    let seconds = match digits.len() {
        10 => value,
        13 => value / 1_000,
        16 => value / 1_000_000,
        19 => value / 1_000_000_000,
        _ if value == 0 => return Ok(None),
        n => {
            return error(format!(
                "invalid timestamp {digits:?} ({n} digits): Telegraf reads 10 digits as seconds and 13, 16 or 19 as ms, µs or ns"
            ));
        }
    };
    Ok(Some(Timestamp::new(seconds, Precision::Seconds)))
}

/// What Go's `strconv.ParseFloat(text, 64)` reads, for text of ASCII letters, digits, `.` and
/// `-`: decimal and hexadecimal floats, `inf`/`infinity` (signed) and `nan`, any case; `None`
/// where Go fails, out of range included.
fn go_parse_float(text: &str) -> Option<f64> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    match lower.as_str() {
        "inf" | "infinity" => {
            return Some(if negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        "nan" if !negative => return Some(f64::NAN),
        _ => {}
    }
    let value = if let Some(hex) = lower.strip_prefix("0x") {
        let (mantissa, exponent) = hex.split_once('p')?;
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut value = 0f64;
        for c in whole.chars().chain(fraction.chars()) {
            value = value * 16.0 + f64::from(c.to_digit(16)?);
        }
        let exponent_digits = exponent.strip_prefix('-').unwrap_or(exponent);
        if exponent_digits.is_empty() || !exponent_digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let exponent: i32 = exponent.parse().unwrap_or(if exponent.starts_with('-') {
            i32::MIN / 2
        } else {
            i32::MAX / 2
        });
        let shift = exponent.saturating_sub(4 * i32::try_from(fraction.len()).ok()?);
        value * 2f64.powi(shift)
    } else {
        let (mantissa, exponent) = match lower.split_once('e') {
            Some((m, e)) => (m, Some(e)),
            None => (lower.as_str(), None),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
            return None;
        }
        if let Some(exponent) = exponent {
            let e = exponent.strip_prefix('-').unwrap_or(exponent);
            if e.is_empty() || !digits(e) {
                return None;
            }
        }
        lower.parse::<f64>().ok()?
    };
    if value.is_infinite() {
        return None;
    }
    Some(if negative { -value } else { value })
}

/// The classes of Telegraf's Wavefront scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ws,
    Letter,
    Number,
    Minus,
    Underscore,
    Dot,
    Slash,
    Backslash,
    Comma,
    Delta,
    Quotes,
    Equals,
    Illegal,
    End,
}

impl Kind {
    fn of(c: char) -> Kind {
        match c {
            ' ' | '\t' | '\n' => Kind::Ws,
            'a'..='z' | 'A'..='Z' => Kind::Letter,
            '0'..='9' => Kind::Number,
            '\u{2206}' | '\u{0394}' => Kind::Delta,
            // Telegraf's scanner reads a NUL as the end of input.
            '\0' => Kind::End,
            '.' => Kind::Dot,
            '-' => Kind::Minus,
            '_' => Kind::Underscore,
            '/' => Kind::Slash,
            '\\' => Kind::Backslash,
            ',' => Kind::Comma,
            '"' => Kind::Quotes,
            '=' => Kind::Equals,
            _ => Kind::Illegal,
        }
    }

    fn in_literal(self) -> bool {
        matches!(
            self,
            Kind::Letter
                | Kind::Number
                | Kind::Minus
                | Kind::Underscore
                | Kind::Dot
                | Kind::Slash
                | Kind::Backslash
                | Kind::Comma
                | Kind::Delta
        )
    }
}

struct Scanner<'a> {
    line: &'a str,
    chars: Vec<(usize, char)>,
    pos: usize,
}

impl Scanner<'_> {
    fn kind(&self) -> Kind {
        self.chars
            .get(self.pos)
            .map_or(Kind::End, |&(_, c)| Kind::of(c))
    }

    /// 1-based byte column of the current character.
    fn column(&self) -> usize {
        self.chars
            .get(self.pos)
            .map_or(self.line.len(), |&(at, _)| at)
            + 1
    }

    fn byte_at(&self, pos: usize) -> usize {
        self.chars
            .get(pos)
            .map_or(self.line.len(), |&(at, _)| at.min(self.line.len()))
    }

    fn slice(&self, from: usize, to: usize) -> &str {
        &self.line[self.byte_at(from)..self.byte_at(to)]
    }

    /// The text from `from` to the next whitespace, for messages.
    fn word_from(&self, from: usize) -> String {
        let mut to = from;
        while self
            .chars
            .get(to)
            .is_some_and(|&(_, c)| Kind::of(c) != Kind::Ws)
        {
            to += 1;
        }
        self.slice(from, to).to_owned()
    }

    fn skip_ws(&mut self) {
        while self.kind() == Kind::Ws {
            self.pos += 1;
        }
    }

    /// Telegraf's `parseLiteral`: a quoted or unquoted name, possibly empty.
    fn literal(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        match self.kind() {
            Kind::End => {
                self.pos += 1;
                return Err(ParseError::at(
                    self.column(),
                    "expected a name, found the end of the line",
                ));
            }
            Kind::Quotes => {
                self.pos += 1;
                let inner = self.pos;
                let mut escaped = false;
                loop {
                    match self.kind() {
                        Kind::End => {
                            return Err(ParseError::at(
                                self.byte_at(start) + 1,
                                "unterminated quoted token",
                            ));
                        }
                        Kind::Quotes if !escaped => break,
                        kind => {
                            escaped = kind == Kind::Backslash;
                            self.pos += 1;
                        }
                    }
                }
                let word = self.slice(inner, self.pos).to_owned();
                self.pos += 1;
                return Ok(word);
            }
            _ => {}
        }
        while self.kind().in_literal() {
            self.pos += 1;
            if self.kind() == Kind::Delta {
                let at = self.column();
                self.pos += 1;
                return Err(ParseError::at(at, "'∆' is allowed only first in a name"));
            }
        }
        if self.kind() == Kind::Quotes {
            let at = self.column();
            self.pos += 1;
            return Err(ParseError::at(at, "unexpected '\"' inside a bare token"));
        }
        Ok(self.slice(start, self.pos).to_owned())
    }
}

#[cfg(test)]
#[path = "wavefront_tests.rs"]
mod tests;
