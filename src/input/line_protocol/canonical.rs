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

use super::token::{Part, is_float_syntax, is_forbidden, unescape};
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
/// let line = b"cpu,host=a\\ b load=0.5,n=3i,up=true,note=\"x\\\"y\" 1700000000";
/// let passed = check.check(line, Precision::Seconds).expect("canonical");
/// assert_eq!(passed.timestamp, Some(1_700_000_000));
/// // Valid, but written otherwise by the encoder: 0.5 and `true`.
/// assert!(check.check(b"cpu load=.5", Precision::Seconds).is_none());
/// assert!(check.check(b"cpu up=t", Precision::Seconds).is_none());
/// // Not line protocol at all.
/// assert!(check.check(b"cpu load=", Precision::Seconds).is_none());
/// ```
#[derive(Debug, Default)]
pub struct CanonicalCheck {
    scratch: Vec<u8>,
    tag_keys: Vec<(usize, usize)>,
    field_keys: Vec<(usize, usize)>,
    /// Whether the line checked has a byte beyond ASCII, so that it must be checked as UTF-8.
    non_ascii: bool,
}

impl CanonicalCheck {
    /// A check with empty scratch space.
    pub fn new() -> Self {
        CanonicalCheck::default()
    }

    /// Whether `bytes`, a line without its `\n`, is canonical line protocol, in UTF-8, whose
    /// timestamp, if any, is in `precision` and is written in that same precision.
    pub fn check(&mut self, bytes: &[u8], precision: Precision) -> Option<Canonical> {
        if bytes.first().is_none_or(|&b| b == b'#') {
            return None;
        }
        self.tag_keys.clear();
        self.field_keys.clear();
        self.non_ascii = false;
        let mut pos = self.token(bytes, 0, Part::Measurement)?;
        while bytes.get(pos) == Some(&b',') {
            let key = pos + 1;
            pos = self.token(bytes, key, Part::TagKey)?;
            push_key(&mut self.tag_keys, bytes, key, pos)?;
            if bytes.get(pos) != Some(&b'=') {
                return None;
            }
            pos = self.token(bytes, pos + 1, Part::TagValue)?;
        }
        if bytes.get(pos) != Some(&b' ') {
            return None;
        }
        loop {
            let key = pos + 1;
            pos = self.token(bytes, key, Part::FieldKey)?;
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
                let value = canonical_integer::<i64>(&bytes[pos + 1..], true)?;
                Timestamp::new(value, precision).to_precision(precision)?;
                Some(value)
            }
            Some(_) => return None,
        };
        // Names and strings are all the line holds beyond ASCII.
        if self.non_ascii && std::str::from_utf8(bytes).is_err() {
            return None;
        }
        Some(Canonical { timestamp })
    }

    /// The end of the `part` starting at `start`, if it is canonical: the grammar's scan of
    /// the parser, and, when it holds a backslash, the encoder's writing of its unescaped text
    /// compared with what is written.
    fn token(&mut self, bytes: &[u8], start: usize, part: Part) -> Option<usize> {
        let tag = matches!(part, Part::TagKey | Part::TagValue);
        let stop = match part {
            Part::Measurement => WS | COMMA | BACKSLASH | CONTROL | NON_ASCII,
            _ => WS | COMMA | EQUALS | BACKSLASH | CONTROL | NON_ASCII,
        };
        let mut pos = start;
        let mut escaped = false;
        loop {
            while bytes
                .get(pos)
                .is_some_and(|&b| CLASS[usize::from(b)] & stop == 0)
            {
                pos += 1;
            }
            let Some(&b) = bytes.get(pos) else { break };
            let class = CLASS[usize::from(b)];
            if class & NON_ASCII != 0 {
                self.non_ascii = true;
                pos += 1;
            } else if class & BACKSLASH != 0 {
                escaped = true;
                match bytes.get(pos + 1) {
                    Some(b'\\') if tag => pos += 1,
                    // The escaped byte may start a multi-byte character: the scan goes on
                    // after it as after any byte beyond ASCII.
                    Some(&n) if !is_forbidden(n) => pos += 2,
                    _ => return None,
                }
            } else if class & CONTROL != 0 {
                // Forbidden bytes are the parser's errors, other control characters the
                // reading's: either way the parser has something to say.
                return None;
            } else {
                break;
            }
        }
        if pos == start {
            return None;
        }
        if escaped {
            let raw = std::str::from_utf8(&bytes[start..pos]).ok()?;
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
            // any other backslash is the parser's error, a carriage return or form feed the reading's.
            let mut pos = start + 1;
            loop {
                match *bytes.get(pos)? {
                    b'"' => break,
                    b'\\' if matches!(bytes.get(pos + 1), Some(b'"' | b'\\')) => pos += 2,
                    b'\\' | b'\r' | 0x0c => return None,
                    b => {
                        self.non_ascii |= !b.is_ascii();
                        pos += 1;
                    }
                }
            }
            return Some(pos + 1);
        }
        let len = bytes[start..]
            .iter()
            .position(|&b| CLASS[usize::from(b)] & (COMMA | WS) != 0)
            .unwrap_or(bytes.len() - start);
        let text = &bytes[start..start + len];
        let canonical = match text {
            b"true" | b"false" => true,
            [number @ .., b'i'] => canonical_integer::<i64>(number, true).is_some(),
            [number @ .., b'u'] => canonical_integer::<u64>(number, false).is_some(),
            _ => match plain_float(text) {
                Some(canonical) => canonical,
                None => self.canonical_float(text),
            },
        };
        canonical.then_some(start + len)
    }

    /// Whether `text` reads as a finite float that the encoder writes as `text`: read it and
    /// write it.
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

/// Whether a float written `-?[0-9]+\.[0-9]+` is written as the encoder writes it, without
/// reading it: `None` where that takes reading it ([`CanonicalCheck::canonical_float`]).
///
/// The encoder writes the shortest digits that read back as the same `f64`, in plain notation
/// with at least one fraction digit for 1e-5 ≤ |v| < 1e16 (`0.00001`, `1.0`,
/// `1000000000000000.0`), and in exponent notation otherwise. A decimal of at most 15
/// significant digits reads back from its `f64` unchanged (IEEE 754 double: 15 decimal digits
/// survive the round trip), so when it has no trailing zero (but `.0`) it is those shortest
/// digits.
fn plain_float(text: &[u8]) -> Option<bool> {
    let magnitude = text.strip_prefix(b"-").unwrap_or(text);
    let dot = magnitude.iter().position(|&b| b == b'.')?;
    let (whole, fraction) = (&magnitude[..dot], &magnitude[dot + 1..]);
    let digits = |t: &[u8]| !t.is_empty() && t.iter().all(u8::is_ascii_digit);
    if !digits(whole) || !digits(fraction) {
        return None;
    }
    if (whole.len() > 1 && whole[0] == b'0') || (fraction.len() > 1 && fraction.ends_with(b"0")) {
        return Some(false);
    }
    if whole == b"0" {
        if fraction == b"0" {
            return Some(true); // 0.0 and -0.0
        }
        let zeros = fraction.iter().take_while(|&&b| b == b'0').count();
        // Below 1e-5 the encoder writes an exponent.
        if zeros > 4 {
            return Some(false);
        }
        let significant = fraction.len() - zeros;
        return (significant <= 15).then_some(true);
    }
    // At 1e16 and beyond the encoder writes an exponent.
    if whole.len() > 16 {
        return Some(false);
    }
    let significant = whole.len() + if fraction == b"0" { 0 } else { fraction.len() };
    (significant <= 15).then_some(true)
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

/// The value of `text` if it is `-?[0-9]+` (`[0-9]+` unless `signed`) written as `itoa`
/// writes it (no leading zero, no `-0`) and within `T`'s range.
fn canonical_integer<T: Integer>(text: &[u8], signed: bool) -> Option<T> {
    let (negative, magnitude) = match text.split_first() {
        Some((b'-', rest)) if signed => (true, rest),
        _ => (false, text),
    };
    match magnitude.first() {
        None => return None,
        Some(b'0') if magnitude.len() > 1 || negative => return None,
        _ => {}
    }
    if !magnitude.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // 19 digits fit a u64 as they are, 20 may not.
    let value = match magnitude.len() {
        ..=19 => magnitude
            .iter()
            .fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0')),
        20 => magnitude.iter().try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?,
        _ => return None,
    };
    T::from_magnitude(value, negative)
}

/// The two integer types of line protocol, from a magnitude and a sign.
trait Integer: Sized {
    fn from_magnitude(magnitude: u64, negative: bool) -> Option<Self>;
}

impl Integer for i64 {
    fn from_magnitude(magnitude: u64, negative: bool) -> Option<Self> {
        if negative {
            0i64.checked_sub_unsigned(magnitude)
        } else {
            i64::try_from(magnitude).ok()
        }
    }
}

impl Integer for u64 {
    fn from_magnitude(magnitude: u64, _: bool) -> Option<Self> {
        Some(magnitude)
    }
}

/// `text` (ASCII) read as a number of type `T`, if it is one in `T`'s range.
fn parse_ascii<T: std::str::FromStr>(text: &[u8]) -> Option<T> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// Separators of the sections of a line: Telegraf's `ws`.
const WS: u8 = 1;
const COMMA: u8 = 2;
const EQUALS: u8 = 4;
const BACKSLASH: u8 = 8;
/// Control characters other than `ws`: errors in a name, in the parser or the reading.
const CONTROL: u8 = 16;
const NON_ASCII: u8 = 32;

/// The class of every byte, for scanning names a table lookup per byte.
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b' ' | b'\t' | 0x0b | 0x0c => WS,
            b',' => COMMA,
            b'=' => EQUALS,
            b'\\' => BACKSLASH,
            0..=0x1f | 0x7f => CONTROL,
            0x80.. => NON_ASCII,
            _ => 0,
        };
        b += 1;
    }
    table
};

#[cfg(test)]
#[path = "canonical_tests.rs"]
mod tests;
