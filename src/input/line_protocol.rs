//! A line-protocol parser with Telegraf's grammar and unescaping, for `pipe` and `listen`.
//!
//! It follows the Ragel grammar of Telegraf's `influx` parser (`plugins/parsers/influx/
//! machine.go.rl`) and its unescaping (`escape.go`):
//! - a backslash takes the next byte with it, so `\\` is a pair and what follows it is not
//!   escaped (in tag keys and values a backslash before another backslash stands alone);
//! - a measurement is unescaped (`\,` and `\ `) only when its written bytes hold a space or a
//!   comma; a tag key, tag value or field key (`\,`, `\ `, `\=` and `\"`) only when they hold a
//!   space, comma or `=`. Every other backslash is kept;
//! - spaces, tabs, `\v` and `\f` separate the sections; a key given twice keeps its last value.
//!
//! So `a\\ b v=1` and `m a\\=b=1` are errors, and the field key written `a\"b\ c` reads `a"b c`.

use super::{ParseError, ParseErrorKind, Parsed};
use crate::reading::{FieldValue, Precision, Reading, Timestamp};

mod canonical;
mod token;
pub use canonical::{Canonical, CanonicalCheck};
use token::{Part, is_float_syntax, is_forbidden, is_ws, unescape};

/// Parses one line (without its `\n`; a trailing `\r` is ignored) whose timestamp, if any, is in
/// `precision`. Blank lines and `#` comments give `Ok(None)`. A tag or field key given twice
/// keeps its last value, as in Telegraf.
///
/// ```
/// use telemit::{FieldValue, Precision, input::line_protocol::parse_line};
///
/// let reading = parse_line("cpu,host=a\\ b load=0.5,n=3i 1700000000", Precision::Seconds)?
///     .expect("not a comment");
/// assert_eq!(reading.tag("host"), Some("a b"));
/// assert_eq!(reading.field("n"), Some(&FieldValue::Integer(3)));
///
/// let error = parse_line("cpu load=", Precision::Nanoseconds).unwrap_err();
/// assert_eq!(error.to_string(), "column 10: expected a field value after '='");
/// # Ok::<(), telemit::input::ParseError>(())
/// ```
pub fn parse_line(line: &str, precision: Precision) -> Result<Option<Reading>, ParseError> {
    parse_line_detailed(line, precision).map(|parsed| parsed.map(|p| p.reading))
}

/// [`parse_line`], also naming the keys that were given more than once.
///
/// ```
/// use telemit::{FieldValue, Precision, input::line_protocol::parse_line_detailed};
///
/// let parsed = parse_line_detailed("cpu,host=a,host=b v=1,v=2i", Precision::Nanoseconds)?
///     .expect("not a comment");
/// assert_eq!(parsed.reading.tag("host"), Some("b"));
/// assert_eq!(parsed.reading.field("v"), Some(&FieldValue::Integer(2)));
/// assert_eq!(parsed.duplicates, ["tag \"host\"", "field \"v\""]);
/// # Ok::<(), telemit::input::ParseError>(())
/// ```
pub fn parse_line_detailed(line: &str, precision: Precision) -> Result<Option<Parsed>, ParseError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut cursor = Cursor {
        bytes: line.as_bytes(),
        text: line,
        pos: 0,
    };
    cursor.eat_ws();
    if cursor.at_end() || cursor.peek() == Some(b'#') {
        return Ok(None);
    }

    let measurement = cursor.token(Part::Measurement)?;
    let mut duplicates = Vec::new();
    let mut tags: Vec<(String, String)> = Vec::new();
    while cursor.eat(b',') {
        let key = cursor.token(Part::TagKey)?;
        cursor.expect(b'=', "'=' after the tag key")?;
        let value = cursor.token(Part::TagValue)?;
        if cursor.peek() == Some(b'=') {
            return Err(ParseError::at(
                cursor.column(),
                "unescaped '=' in a tag value",
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
    if !cursor.eat_ws() {
        return Err(cursor.unexpected("a space before the fields"));
    }
    let mut fields: Vec<(String, FieldValue)> = Vec::new();
    loop {
        let key = cursor.token(Part::FieldKey)?;
        cursor.expect(b'=', "'=' after the field key")?;
        let value = cursor.field_value()?;
        match fields.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => {
                duplicates.push(format!("field {key:?}"));
                slot.1 = value;
            }
            None => fields.push((key, value)),
        }
        if !cursor.eat(b',') {
            break;
        }
    }
    let mut timestamp = None;
    if cursor.eat_ws() && !cursor.at_end() {
        timestamp = Some(Timestamp::new(cursor.timestamp()?, precision));
        cursor.eat_ws();
    }
    if !cursor.at_end() {
        return Err(cursor.unexpected("the end of the line"));
    }
    let mut builder = Reading::builder(measurement).maybe_timestamp(timestamp);
    for (key, value) in tags {
        builder = builder.tag(key, value);
    }
    for (key, value) in fields {
        builder = builder.field(key, value);
    }
    let mut parsed = Parsed::new(builder.build()?);
    parsed.duplicates = duplicates;
    Ok(Some(parsed))
}

/// Parses one field value written as in line protocol: `1.5`, `3i`, `7u`, `true`, `"text"`.
///
/// ```
/// use telemit::{FieldValue, input::line_protocol::parse_field_value};
/// assert_eq!(parse_field_value("7u")?, FieldValue::Unsigned(7));
/// assert_eq!(parse_field_value("\"a b\"")?, FieldValue::String("a b".into()));
/// assert!(parse_field_value("hello").is_err());
/// # Ok::<(), telemit::input::ParseError>(())
/// ```
pub fn parse_field_value(text: &str) -> Result<FieldValue, ParseError> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        text,
        pos: 0,
    };
    let value = cursor.field_value()?;
    if !cursor.at_end() {
        return Err(cursor.unexpected("the end of the value"));
    }
    Ok(value)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Cursor<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn column(&self) -> usize {
        self.pos + 1
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.pos += usize::from(found);
        found
    }

    /// Skips Telegraf's whitespace; whether there was any.
    fn eat_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_ws) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), ParseError> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, what: &str) -> ParseError {
        match self.rest_char() {
            Some(c) => ParseError::at(self.column(), format!("expected {what}, found {c:?}")),
            None => ParseError::at(
                self.column(),
                format!("expected {what}, found the end of the line"),
            ),
        }
    }

    fn rest_char(&self) -> Option<char> {
        let rest = self.bytes.get(self.pos..)?;
        // The cursor only stops on ASCII bytes or at a char boundary after one.
        String::from_utf8_lossy(&rest[..rest.len().min(4)])
            .chars()
            .next()
    }

    /// Reads one name as Telegraf's grammar does, and unescapes it as Telegraf does.
    fn token(&mut self, part: Part) -> Result<String, ParseError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b'\\' {
                let next = self.bytes.get(self.pos + 1).copied();
                // In tags, a backslash before a backslash stands alone (Telegraf's tagchar).
                if next == Some(b'\\') && matches!(part, Part::TagKey | Part::TagValue) {
                    self.pos += 1;
                    continue;
                }
                match next {
                    Some(n) if is_forbidden(n) => {
                        return Err(ParseError::at(
                            self.pos + 2,
                            format!(
                                "invalid character {:?} in the {}",
                                char::from(n),
                                part.name()
                            ),
                        )
                        .with_text(&self.text[start..self.pos + 2]));
                    }
                    Some(_) => {
                        // The escaped byte may start a multi-byte character: take all of it.
                        self.pos += 1;
                        self.pos += self.text[self.pos..]
                            .chars()
                            .next()
                            .map_or(1, char::len_utf8);
                    }
                    None => {
                        return Err(ParseError::at(
                            self.column(),
                            format!(
                                "a backslash at the end of the line cannot end the {}",
                                part.name()
                            ),
                        )
                        .with_text(&self.text[start..]));
                    }
                }
                continue;
            }
            if part.ends_at(b) {
                break;
            }
            if is_forbidden(b) {
                return Err(ParseError::at(
                    self.column(),
                    format!(
                        "invalid character {:?} in the {}",
                        char::from(b),
                        part.name()
                    ),
                ));
            }
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected(part.name()));
        }
        Ok(unescape(&self.text[start..self.pos], part))
    }

    fn field_value(&mut self) -> Result<FieldValue, ParseError> {
        if self.eat(b'"') {
            return self.string_value().map(FieldValue::String);
        }
        let start = self.pos;
        while self.peek().is_some_and(|b| b != b',' && !is_ws(b)) {
            self.pos += 1;
        }
        let text = &self.bytes[start..self.pos];
        let invalid = |reason: &str| {
            let shown = String::from_utf8_lossy(text);
            ParseError::of(
                ParseErrorKind::Value,
                start + 1,
                format!("{reason}: {shown:?}"),
            )
            .with_text(shown)
        };
        if text.is_empty() {
            return Err(ParseError::of(
                ParseErrorKind::Value,
                start + 1,
                "expected a field value after '='",
            ));
        }
        match text {
            b"t" | b"T" | b"true" | b"True" | b"TRUE" => return Ok(FieldValue::Boolean(true)),
            b"f" | b"F" | b"false" | b"False" | b"FALSE" => return Ok(FieldValue::Boolean(false)),
            _ => {}
        }
        let digits = |t: &[u8]| !t.is_empty() && t.iter().all(u8::is_ascii_digit);
        let canonical = |t: &[u8]| digits(t) && (t.len() == 1 || t[0] != b'0');
        // Every branch below has checked that `text` is ASCII.
        let ascii = |t: &[u8]| String::from_utf8_lossy(t).into_owned();
        match text.split_last() {
            Some((b'i', number)) => {
                let magnitude = number.strip_prefix(b"-").unwrap_or(number);
                if !canonical(magnitude) {
                    return Err(invalid("invalid integer"));
                }
                ascii(number)
                    .parse()
                    .map(FieldValue::Integer)
                    .map_err(|_| invalid("integer out of the 64-bit signed range"))
            }
            Some((b'u', number)) => {
                if !canonical(number) {
                    return Err(invalid("invalid unsigned integer"));
                }
                ascii(number)
                    .parse()
                    .map(FieldValue::Unsigned)
                    .map_err(|_| invalid("unsigned integer out of the 64-bit range"))
            }
            _ => {
                if !is_float_syntax(text) {
                    return Err(invalid(
                        "invalid field value (not a number, boolean or quoted string)",
                    ));
                }
                match ascii(text).parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(FieldValue::Float(v)),
                    _ => Err(invalid("float out of the 64-bit range")),
                }
            }
        }
    }

    /// Reads a string field after its opening quote.
    fn string_value(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let mut text = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ParseError::of(
                        ParseErrorKind::Value,
                        start,
                        "unterminated string field",
                    ));
                }
                Some(b'"') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\\') => match self.bytes.get(self.pos + 1) {
                    Some(&b @ (b'"' | b'\\')) => {
                        text.push(b);
                        self.pos += 2;
                    }
                    _ => {
                        return Err(ParseError::of(
                            ParseErrorKind::Value,
                            self.column(),
                            "invalid escape in a string field: only \\\" and \\\\ are allowed",
                        ));
                    }
                },
                Some(b) => {
                    text.push(b);
                    self.pos += 1;
                }
            }
        }
        if self.peek().is_some_and(|b| b != b',' && !is_ws(b)) {
            return Err(self.unexpected("',' or ' ' after the string field"));
        }
        String::from_utf8(text).map_err(|_| ParseError::at(start, "the string field is not UTF-8"))
    }

    fn timestamp(&mut self) -> Result<i64, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_ws(b)) {
            self.pos += 1;
        }
        let text = &self.bytes[start..self.pos];
        let magnitude = text.strip_prefix(b"-").unwrap_or(text);
        let shown = String::from_utf8_lossy(text);
        if magnitude.is_empty() || !magnitude.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::of(
                ParseErrorKind::Timestamp,
                start + 1,
                format!("invalid timestamp {shown:?}"),
            ));
        }
        if magnitude.len() > 19 {
            return Err(ParseError::of(
                ParseErrorKind::Timestamp,
                start + 1,
                format!("timestamp {shown:?} has more than 19 digits"),
            ));
        }
        shown.parse().map_err(|_| {
            ParseError::of(
                ParseErrorKind::Timestamp,
                start + 1,
                format!("timestamp {shown:?} is out of the 64-bit range"),
            )
        })
    }
}

#[cfg(test)]
#[path = "line_protocol_tests.rs"]
mod tests;
