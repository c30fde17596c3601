//! A line-protocol parser with Telegraf's reading rules, for `pipe` and `listen`.
//!
//! It unescapes only what Telegraf unescapes (`\,` and `\ ` in measurements; `\,`, `\=` and `\ `
//! in tag keys, tag values and field keys; `\"` and `\\` in strings) and keeps every other
//! backslash, so `encode` followed by `parse_line` gives back the reading.

use super::ParseError;
use crate::reading::{FieldValue, Precision, Reading, Timestamp};

/// Parses one line (without its `\n`; a trailing `\r` is ignored) whose timestamp, if any, is in
/// `precision`. Blank lines and `#` comments give `Ok(None)`.
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
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut cursor = Cursor {
        bytes: line.as_bytes(),
        pos: 0,
    };
    cursor.skip_blanks();
    if cursor.at_end() || cursor.peek() == Some(b'#') {
        return Ok(None);
    }

    let measurement = cursor.token(b", ", b", ", "measurement")?;
    let mut builder = Reading::builder(measurement);
    while cursor.eat(b',') {
        let key = cursor.token(b",= ", b",= ", "tag key")?;
        cursor.expect(b'=', "'=' after the tag key")?;
        let value = cursor.token(b",= ", b",= ", "tag value")?;
        if cursor.peek() == Some(b'=') {
            return Err(ParseError::at(
                cursor.column(),
                "unescaped '=' in a tag value",
            ));
        }
        builder = builder.tag(key, value);
    }
    if !cursor.eat_spaces() {
        return Err(cursor.unexpected("a space before the fields"));
    }
    loop {
        let key = cursor.token(b",= ", b",= ", "field key")?;
        cursor.expect(b'=', "'=' after the field key")?;
        builder = builder.field(key, cursor.field_value()?);
        if !cursor.eat(b',') {
            break;
        }
    }
    if cursor.eat_spaces() && !cursor.at_end() {
        builder = builder.timestamp(Timestamp::new(cursor.timestamp()?, precision));
        cursor.eat_spaces();
    }
    if !cursor.at_end() {
        return Err(cursor.unexpected("the end of the line"));
    }
    Ok(Some(builder.build()?))
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

    fn eat_spaces(&mut self) -> bool {
        let start = self.pos;
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
        self.pos > start
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
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

    /// Reads up to an unescaped byte of `stops`; `\` before a byte of `escapes` is removed.
    fn token(&mut self, stops: &[u8], escapes: &[u8], what: &str) -> Result<String, ParseError> {
        let start = self.pos;
        let mut text = Vec::new();
        while let Some(b) = self.peek() {
            if b == b'\\'
                && self
                    .bytes
                    .get(self.pos + 1)
                    .is_some_and(|n| escapes.contains(n))
            {
                text.push(self.bytes[self.pos + 1]);
                self.pos += 2;
                continue;
            }
            if stops.contains(&b) {
                break;
            }
            if matches!(b, b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
                return Err(ParseError::at(
                    self.column(),
                    format!("invalid character {:?} in the {what}", char::from(b)),
                ));
            }
            text.push(b);
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.unexpected(what));
        }
        String::from_utf8(text)
            .map_err(|_| ParseError::at(start + 1, format!("the {what} is not UTF-8")))
    }

    fn field_value(&mut self) -> Result<FieldValue, ParseError> {
        if self.eat(b'"') {
            return self.string_value().map(FieldValue::String);
        }
        let start = self.pos;
        while self.peek().is_some_and(|b| b != b',' && b != b' ') {
            self.pos += 1;
        }
        let text = &self.bytes[start..self.pos];
        let invalid = |reason: &str| {
            ParseError::at(
                start + 1,
                format!("{reason}: {:?}", String::from_utf8_lossy(text)),
            )
        };
        if text.is_empty() {
            return Err(ParseError::at(
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
                None => return Err(ParseError::at(start, "unterminated string field")),
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
                        return Err(ParseError::at(
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
        if !matches!(self.peek(), None | Some(b',' | b' ')) {
            return Err(self.unexpected("',' or ' ' after the string field"));
        }
        String::from_utf8(text).map_err(|_| ParseError::at(start, "the string field is not UTF-8"))
    }

    fn timestamp(&mut self) -> Result<i64, ParseError> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b != b' ') {
            self.pos += 1;
        }
        let text = &self.bytes[start..self.pos];
        let magnitude = text.strip_prefix(b"-").unwrap_or(text);
        let shown = String::from_utf8_lossy(text);
        if magnitude.is_empty() || !magnitude.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::at(
                start + 1,
                format!("invalid timestamp {shown:?}"),
            ));
        }
        if magnitude.len() > 19 {
            return Err(ParseError::at(
                start + 1,
                format!("timestamp {shown:?} has more than 19 digits"),
            ));
        }
        shown.parse().map_err(|_| {
            ParseError::at(
                start + 1,
                format!("timestamp {shown:?} is out of the 64-bit range"),
            )
        })
    }
}

/// `-?(digits[.digits*]|.digits)([eE][+-]?digits)?`
fn is_float_syntax(text: &[u8]) -> bool {
    let text = text.strip_prefix(b"-").unwrap_or(text);
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = match mantissa.iter().position(|&b| b == b'.') {
        Some(i) => (&mantissa[..i], Some(&mantissa[i + 1..])),
        None => (mantissa, None),
    };
    let all_digits = |t: &[u8]| t.iter().all(u8::is_ascii_digit);
    let mantissa_ok = all_digits(whole)
        && fraction.is_none_or(all_digits)
        && (!whole.is_empty() || fraction.is_some_and(|f| !f.is_empty()));
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e
            .strip_prefix(b"+")
            .or_else(|| e.strip_prefix(b"-"))
            .unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Option<Reading>, String> {
        parse_line(line, Precision::Nanoseconds).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_what_telegraf_reads() {
        let r = parse(
            "a\\ b\\,c=d\\=e,k\\ y=v\\,a\\=l\\ ue f\\=k=1.5,s=\"q\\\"\\\\x\",i=-3i,u=3u,b=t 17",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.measurement(), "a b,c=d\\=e");
        assert_eq!(r.tags(), &[("k y".to_string(), "v,a=l ue".to_string())]);
        assert_eq!(r.field("f=k"), Some(&FieldValue::Float(1.5)));
        assert_eq!(r.field("s"), Some(&FieldValue::String("q\"\\x".into())));
        assert_eq!(r.field("i"), Some(&FieldValue::Integer(-3)));
        assert_eq!(r.field("u"), Some(&FieldValue::Unsigned(3)));
        assert_eq!(r.field("b"), Some(&FieldValue::Boolean(true)));
        assert_eq!(
            r.timestamp(),
            Some(Timestamp::new(17, Precision::Nanoseconds))
        );

        let raw = parse("m,p=C:\\dir\\x v=1i\r").unwrap().unwrap();
        assert_eq!(raw.tag("p"), Some("C:\\dir\\x"));
        assert_eq!(parse("# comment").unwrap(), None);
        assert_eq!(parse("   ").unwrap(), None);
        for float in ["1", "-1.5", ".5", "1.", "1e21", "1E-3", "2.5e+7"] {
            assert!(parse(&format!("m v={float}")).unwrap().is_some(), "{float}");
        }
    }

    #[test]
    fn errors_say_where_and_what() {
        let cases = [
            (
                "m",
                "column 2: expected a space before the fields, found the end of the line",
            ),
            (
                "m ",
                "column 3: expected field key, found the end of the line",
            ),
            (
                "m,t v=1",
                "column 4: expected '=' after the tag key, found ' '",
            ),
            ("m,t= v=1", "column 5: expected tag value, found ' '"),
            ("m,t=a=b v=1", "column 6: unescaped '=' in a tag value"),
            ("m v=", "column 5: expected a field value after '='"),
            (
                "m v=NaN",
                "column 5: invalid field value (not a number, boolean or quoted string): \"NaN\"",
            ),
            (
                "m v=+1",
                "column 5: invalid field value (not a number, boolean or quoted string): \"+1\"",
            ),
            (
                "m v=1e400",
                "column 5: float out of the 64-bit range: \"1e400\"",
            ),
            ("m v=01i", "column 5: invalid integer: \"01i\""),
            ("m v=-1u", "column 5: invalid unsigned integer: \"-1u\""),
            (
                "m v=9223372036854775808i",
                "column 5: integer out of the 64-bit signed range: \"9223372036854775808i\"",
            ),
            ("m v=\"abc", "column 5: unterminated string field"),
            (
                "m v=\"a\\nb\"",
                "column 7: invalid escape in a string field: only \\\" and \\\\ are allowed",
            ),
            ("m v=1 12x", "column 7: invalid timestamp \"12x\""),
            (
                "m v=1 12345678901234567890",
                "column 7: timestamp \"12345678901234567890\" has more than 19 digits",
            ),
            (
                "m v=1 1 2",
                "column 9: expected the end of the line, found '2'",
            ),
            (
                "m\\\tx v=1",
                "column 3: invalid character '\\t' in the measurement",
            ),
            ("m v=1,v=2", "field \"v\" is given twice"),
        ];
        for (line, expected) in cases {
            assert_eq!(parse(line).unwrap_err(), expected, "{line}");
        }
    }
}
