//! Checking, without building a reading, that a line of line protocol is written exactly as
//! telemit's influx encoder would write the reading Telegraf reads from it: such a line can be
//! forwarded byte for byte.
//!
//! The grammar is the parser's (Telegraf's `machine.go.rl`, see the parent module); on top of
//! it a line is *canonical* when every choice the encoder makes is the one the writer made:
//! one space between sections and none at the end, escapes only where the encoder puts them,
//! floats in their shortest round-trip form (`0.5`, not `.5` or `5e-1`), integers without a
//! leading zero or `-0`, booleans spelled `true` / `false`, no key given twice, no control
//! character in a name, and a timestamp the encoder can write in the same unit. Anything else
//! (including every line the parser refuses) is left to the parser, which reports it or reads
//! it into a reading to encode.

use super::token::{Part, is_float_syntax, is_forbidden, is_ws, unescape};
use crate::format::influx::{Token, push_token};
use crate::format::push_float;
use crate::reading::{Part as ReadingPart, Precision, Timestamp};

/// More keys of one kind than this and the check leaves the line to the parser rather than
/// compare every pair of keys for duplicates.
const MAX_KEYS: usize = 64;

/// A line that [`CanonicalCheck::check`] passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canonical {
    /// The timestamp as written (in the unit the check was given), if the line has one.
    pub timestamp: Option<i64>,
}

/// Checks lines for byte-for-byte forwarding; holds scratch space reused from line to line, so
/// checking allocates nothing once warm.
///
/// A line passes when [`parse_line`](super::parse_line) reads it into a reading (no comment,
/// no error, no key given twice) that [`influx::encode`](crate::format::influx::encode) at the
/// same precision writes back as exactly the line's bytes followed by `\n`. A line that fails
/// may still be valid: it is then one the encoder would write differently.
///
/// ```
/// use telemit::Precision;
/// use telemit::input::line_protocol::CanonicalCheck;
///
/// let mut check = CanonicalCheck::new();
/// let line = "cpu,host=a\\ b load=0.5,n=3i,up=true,note=\"x\\\"y\" 1700000000";
/// let passed = check.check(line, Precision::Seconds).expect("canonical");
/// assert_eq!(passed.timestamp, Some(1_700_000_000));
/// // Valid, but written otherwise by the encoder: 0.5 and `true`.
/// assert!(check.check("cpu load=.5", Precision::Seconds).is_none());
/// assert!(check.check("cpu up=t", Precision::Seconds).is_none());
/// // Not line protocol at all.
/// assert!(check.check("cpu load=", Precision::Seconds).is_none());
/// ```
#[derive(Debug, Default)]
pub struct CanonicalCheck {
    scratch: Vec<u8>,
    tag_keys: Vec<(usize, usize)>,
    field_keys: Vec<(usize, usize)>,
}

impl CanonicalCheck {
    /// A check with empty scratch space.
    pub fn new() -> Self {
        CanonicalCheck::default()
    }

    /// Whether `line` (without its `\n`) is canonical line protocol whose timestamp, if any, is
    /// in `precision` and is written in that same precision.
    pub fn check(&mut self, line: &str, precision: Precision) -> Option<Canonical> {
        let bytes = line.as_bytes();
        if bytes.first().is_none_or(|&b| b == b'#') {
            return None;
        }
        self.tag_keys.clear();
        self.field_keys.clear();
        let mut pos = self.token(line, 0, Part::Measurement)?;
        while bytes.get(pos) == Some(&b',') {
            let key = pos + 1;
            pos = self.token(line, key, Part::TagKey)?;
            push_key(&mut self.tag_keys, bytes, key, pos)?;
            if bytes.get(pos) != Some(&b'=') {
                return None;
            }
            pos = self.token(line, pos + 1, Part::TagValue)?;
        }
        if bytes.get(pos) != Some(&b' ') {
            return None;
        }
        loop {
            let key = pos + 1;
            pos = self.token(line, key, Part::FieldKey)?;
            push_key(&mut self.field_keys, bytes, key, pos)?;
            if bytes.get(pos) != Some(&b'=') {
                return None;
            }
            pos = self.field_value(bytes, pos + 1)?;
            if bytes.get(pos) != Some(&b',') {
                break;
            }
        }
        let timestamp = match bytes.get(pos) {
            None => None,
            Some(b' ') => {
                let text = &bytes[pos + 1..];
                if !canonical_digits(text, true) {
                    return None;
                }
                let value = parse_ascii::<i64>(text)?;
                Timestamp::new(value, precision).to_precision(precision)?;
                Some(value)
            }
            Some(_) => return None,
        };
        Some(Canonical { timestamp })
    }

    /// The end of the `part` starting at `start`, if it is canonical: the grammar's scan of
    /// the parser, and, when it holds a backslash, the encoder's writing of its unescaped text
    /// compared with what is written.
    fn token(&mut self, line: &str, start: usize, part: Part) -> Option<usize> {
        let bytes = line.as_bytes();
        let tag = matches!(part, Part::TagKey | Part::TagValue);
        let mut pos = start;
        let mut escaped = false;
        while let Some(&b) = bytes.get(pos) {
            if b == b'\\' {
                escaped = true;
                match bytes.get(pos + 1) {
                    Some(b'\\') if tag => pos += 1,
                    Some(&n) if !is_forbidden(n) => {
                        pos += 1;
                        pos += line[pos..].chars().next().map_or(1, char::len_utf8);
                    }
                    _ => return None,
                }
                continue;
            }
            if part.ends_at(b) {
                break;
            }
            // Forbidden bytes are the parser's errors, other control characters the
            // reading's: either way the parser has something to say.
            if b.is_ascii_control() {
                return None;
            }
            pos += 1;
        }
        if pos == start {
            return None;
        }
        if escaped {
            let raw = &line[start..pos];
            let text = unescape(raw, part);
            if text.bytes().any(|b| b.is_ascii_control()) {
                return None;
            }
            let token = match part {
                Part::Measurement => Token::Measurement,
                Part::FieldKey => Token::FieldKey,
                Part::TagKey | Part::TagValue => Token::Tag,
            };
            self.scratch.clear();
            push_token(&mut self.scratch, &text, token, || ReadingPart::Measurement).ok()?;
            if self.scratch != raw.as_bytes() {
                return None;
            }
        }
        Some(pos)
    }

    /// The end of the field value starting at `start`, if it is written as the encoder writes
    /// the value the parser reads.
    fn field_value(&mut self, bytes: &[u8], start: usize) -> Option<usize> {
        if bytes.get(start) == Some(&b'"') {
            // The parser keeps `\"` and `\\` as `"` and `\`, which the encoder escapes again;
            // any other backslash is the parser's error, a carriage return the reading's.
            let mut pos = start + 1;
            loop {
                match *bytes.get(pos)? {
                    b'"' => break,
                    b'\\' if matches!(bytes.get(pos + 1), Some(b'"' | b'\\')) => pos += 2,
                    b'\\' | b'\r' => return None,
                    _ => pos += 1,
                }
            }
            return Some(pos + 1);
        }
        let len = bytes[start..]
            .iter()
            .position(|&b| b == b',' || is_ws(b))
            .unwrap_or(bytes.len() - start);
        let text = &bytes[start..start + len];
        let canonical = match text {
            b"true" | b"false" => true,
            [number @ .., b'i'] => {
                canonical_digits(number, true) && parse_ascii::<i64>(number).is_some()
            }
            [number @ .., b'u'] => {
                canonical_digits(number, false) && parse_ascii::<u64>(number).is_some()
            }
            _ => self.canonical_float(text),
        };
        canonical.then_some(start + len)
    }

    fn canonical_float(&mut self, text: &[u8]) -> bool {
        if !is_float_syntax(text) {
            return false;
        }
        let Some(value) = parse_ascii::<f64>(text).filter(|v| v.is_finite()) else {
            return false;
        };
        self.scratch.clear();
        push_float(&mut self.scratch, value);
        self.scratch == text
    }
}

/// Records a key, or gives up on a key given twice or too many keys: for canonical tokens
/// equal bytes mean equal keys, since the encoder writes each text one way.
fn push_key(keys: &mut Vec<(usize, usize)>, bytes: &[u8], start: usize, end: usize) -> Option<()> {
    let key = &bytes[start..end];
    if keys.len() >= MAX_KEYS || keys.iter().any(|&(s, e)| &bytes[s..e] == key) {
        return None;
    }
    keys.push((start, end));
    Some(())
}

/// Whether `text` is `-?[0-9]+` (`[0-9]+` when not `signed`) as `itoa` writes it: no leading
/// zero, no `-0`.
fn canonical_digits(text: &[u8], signed: bool) -> bool {
    let (negative, magnitude) = match text.split_first() {
        Some((b'-', rest)) if signed => (true, rest),
        _ => (false, text),
    };
    match magnitude.first() {
        None => false,
        Some(b'0') => magnitude.len() == 1 && !negative,
        Some(_) => magnitude.iter().all(u8::is_ascii_digit),
    }
}

/// `text` (ASCII) read as a number of type `T`, if it is one in `T`'s range.
fn parse_ascii<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
    std::str::from_utf8(text).ok()?.parse().ok()
}
