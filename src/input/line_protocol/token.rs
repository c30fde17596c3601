//! The pieces of Telegraf's line-protocol grammar the parser is built from: the kinds of
//! name and their escaping, the separator bytes, and the float syntax.

/// The four kinds of name in a line, each with its own escaping rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    Measurement,
    TagKey,
    TagValue,
    FieldKey,
}

impl Part {
    pub(super) fn name(self) -> &'static str {
        match self {
            Part::Measurement => "measurement",
            Part::TagKey => "tag key",
            Part::TagValue => "tag value",
            Part::FieldKey => "field key",
        }
    }

    /// Whether an unescaped `byte` ends this part.
    pub(super) fn ends_at(self, byte: u8) -> bool {
        is_ws(byte) || byte == b',' || (byte == b'=' && self != Part::Measurement)
    }

    /// The bytes whose presence (escaped or not) makes Telegraf unescape the token, and the
    /// bytes it then unescapes after a backslash.
    pub(super) fn unescaping(self) -> (&'static [u8], &'static [u8]) {
        match self {
            Part::Measurement => (b" ,", b" ,"),
            _ => (b" ,=", b" ,=\""),
        }
    }
}

/// Telegraf's `ws`: the bytes that separate the sections of a line.
pub(super) fn is_ws(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | 0x0b | 0x0c)
}

/// Bytes no name may hold, even after a backslash.
pub(super) fn is_forbidden(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | b'\r' | 0x0c)
}

/// Telegraf's unescaping of a written token: only when `raw` holds one of `triggers`, each
/// backslash before a byte of `escaped` is dropped, left to right, without overlap.
pub(super) fn unescape(raw: &str, part: Part) -> String {
    let (triggers, escaped) = part.unescaping();
    let bytes = raw.as_bytes();
    if !bytes.iter().any(|b| triggers.contains(b)) {
        return raw.to_owned();
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.get(i + 1).is_some_and(|n| escaped.contains(n)) {
            out.push(bytes[i + 1]);
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    // Only ASCII backslashes were removed from valid UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// `-?(digits[.digits*]|.digits)([eE][+-]?digits)?`
pub(super) fn is_float_syntax(text: &[u8]) -> bool {
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
