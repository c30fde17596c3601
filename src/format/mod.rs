//! The three wire formats Telegraf's `socket_listener` reads.
//!
//! Each format is a pure function that appends one reading, newline-terminated, to a byte
//! buffer, or appends nothing and returns an [`EncodeError`] for a reading Telegraf would read
//! differently from what was meant. [`Encoder`] bundles a format with its options.

pub mod influx;
pub mod json;
pub mod wavefront;

use std::fmt;
use std::str::FromStr;

use crate::reading::{Part, Precision, Reading, Timestamp};

pub use json::JsonOptions;
pub use wavefront::WavefrontOptions;

/// A wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Format {
    /// Influx line protocol (Telegraf's `data_format = "influx"`).
    #[default]
    Influx,
    /// One flat JSON object per reading (Telegraf's `data_format = "json"`).
    Json,
    /// Wavefront data format, one line per field (`data_format = "wavefront"`).
    Wavefront,
}

impl Format {
    /// All formats.
    pub const ALL: [Format; 3] = [Format::Influx, Format::Json, Format::Wavefront];

    /// The name used on the command line and in Telegraf's `data_format`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Influx => "influx",
            Format::Json => "json",
            Format::Wavefront => "wavefront",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a format name that is not `influx`, `json` or `wavefront`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: expected influx, json or wavefront")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_owned()))
    }
}

/// Why a reading cannot be written in a format so that Telegraf reads it back as meant.
///
/// The rules come from Telegraf's own parsers (`plugins/parsers/influx/machine.go.rl` and
/// `escape.go`, `plugins/parsers/wavefront/element.go`, the v1 `json` parser); everything not
/// refused here is written so that Telegraf reads back exactly the reading given.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unrepresentable {
    /// A tag key or value ends in a backslash, which Telegraf joins with the separator after it
    /// (Influx), or a quoted Wavefront text ends in one, which escapes the closing quote.
    TrailingBackslash,
    /// A measurement or field key ends in an odd number of backslashes: Telegraf pairs them
    /// there, so the last one would escape the separator after it.
    OddBackslashesAtEnd,
    /// An odd number of backslashes stands right before a space, comma or `=` in a measurement
    /// or field key: Telegraf pairs the backslashes and then unescapes, so only even runs read
    /// back.
    BackslashBeforeEscape,
    /// The measurement starts with `#`, which makes the line a comment.
    LeadingHash,
    /// The timestamp is outside the signed 64-bit nanosecond range, where Telegraf's
    /// conversion to nanoseconds wraps.
    TimestampOutOfRange,
    /// The timestamp is before 1970, which Wavefront does not read.
    NegativeTimestamp,
    /// The text has a double quote with no backslash right before it, which ends a quoted
    /// Wavefront text (Telegraf keeps `\"` inside quotes as written).
    DoubleQuote,
    /// The field has a type the format cannot carry.
    NotNumeric(&'static str),
    /// The key is the one the JSON format uses for the measurement or the time.
    ReservedKey(&'static str),
    /// The integer is beyond 2^53 and would change in Telegraf's float64 (JSON numbers,
    /// Wavefront values).
    BeyondFloatPrecision,
    /// A tag and a field share a key, which the flat JSON object cannot hold.
    TagFieldCollision,
}

impl fmt::Display for Unrepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unrepresentable::TrailingBackslash => {
                f.write_str("ends in a backslash, which Telegraf would read as an escape")
            }
            Unrepresentable::OddBackslashesAtEnd => f.write_str(
                "ends in an odd number of backslashes; Telegraf pairs them, so the last would escape the separator",
            ),
            Unrepresentable::BackslashBeforeEscape => f.write_str(
                "has an odd number of backslashes before a space, comma or '='; Telegraf pairs them, so no escaping reads it back",
            ),
            Unrepresentable::LeadingHash => {
                f.write_str("starts with '#', which makes Telegraf read the line as a comment")
            }
            Unrepresentable::TimestampOutOfRange => f.write_str(
                "is outside 1677-09-21..2262-04-11, the signed 64-bit nanosecond range; Telegraf's conversion to nanoseconds would wrap",
            ),
            Unrepresentable::NegativeTimestamp => {
                f.write_str("is before 1970, which Wavefront cannot carry")
            }
            Unrepresentable::DoubleQuote => f.write_str(
                "contains '\"' without a backslash right before it, which ends a quoted text in Telegraf's Wavefront parser",
            ),
            Unrepresentable::NotNumeric(kind) => write!(
                f,
                "is a {kind}; Wavefront carries only numbers (booleans with the bool-as-number option)"
            ),
            Unrepresentable::ReservedKey(role) => {
                write!(f, "is the key the JSON object uses for the {role}")
            }
            Unrepresentable::BeyondFloatPrecision => f.write_str(
                "is beyond 2^53; Telegraf reads this format's numbers as float64 and would change it",
            ),
            Unrepresentable::TagFieldCollision => {
                f.write_str("is both a tag and a field, which one flat JSON object cannot hold")
            }
        }
    }
}

/// A reading that cannot be written in a format, with the part, the value and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{format}: {part} {value:?} {reason}")]
pub struct EncodeError {
    /// The format that refused.
    pub format: Format,
    /// The offending part of the reading.
    pub part: Part,
    /// The offending text or number.
    pub value: String,
    /// Why it cannot be written.
    pub reason: Unrepresentable,
}

impl EncodeError {
    pub(crate) fn new(
        format: Format,
        part: Part,
        value: impl Into<String>,
        reason: Unrepresentable,
    ) -> Self {
        EncodeError {
            format,
            part,
            value: value.into(),
            reason,
        }
    }
}

/// A format with its options: what the sender and the CLI use to turn readings into bytes.
///
/// ```
/// use telemit::{Encoder, Format, Reading};
///
/// let encoder = Encoder::new(Format::Influx);
/// let reading = Reading::builder("cpu").tag("host", "a b").field("load", 0.5).build()?;
/// let mut out = Vec::new();
/// encoder.encode(&reading, &mut out)?;
/// assert_eq!(out, b"cpu,host=a\\ b load=0.5\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct Encoder {
    format: Format,
    precision: Precision,
    json: JsonOptions,
    wavefront: WavefrontOptions,
}

impl Encoder {
    /// An encoder for `format` with default options (nanosecond timestamps).
    pub fn new(format: Format) -> Self {
        Encoder {
            format,
            ..Encoder::default()
        }
    }

    /// Sets the precision timestamps are written in (Influx and JSON; Wavefront always uses
    /// seconds).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Sets the JSON options.
    pub fn with_json(mut self, json: JsonOptions) -> Self {
        self.json = json;
        self
    }

    /// Sets the Wavefront options.
    pub fn with_wavefront(mut self, wavefront: WavefrontOptions) -> Self {
        self.wavefront = wavefront;
        self
    }

    /// The format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The JSON options.
    pub fn json_options(&self) -> &JsonOptions {
        &self.json
    }

    /// The precision timestamps are written in.
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Appends `reading` to `out`, newline-terminated; on error `out` is left as it was.
    pub fn encode(&self, reading: &Reading, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self.format {
            Format::Influx => influx::encode(reading, self.precision, out),
            Format::Json => json::encode(reading, self.precision, &self.json, out),
            Format::Wavefront => wavefront::encode(reading, &self.wavefront, out),
        }
    }
}

/// The timestamp in `precision` (truncated toward zero), or the refusal for `format` when the
/// instant is outside the signed 64-bit nanosecond range: the one timestamp rule of every
/// format ([`Timestamp::to_precision`]).
pub(crate) fn timestamp_in(
    timestamp: Timestamp,
    precision: Precision,
    format: Format,
) -> Result<i64, EncodeError> {
    convert(timestamp, precision).ok_or_else(|| {
        EncodeError::new(
            format,
            Part::Timestamp,
            format!("{}{}", timestamp.value, timestamp.precision),
            Unrepresentable::TimestampOutOfRange,
        )
    })
}

/// [`Timestamp::to_precision`] with every scale a constant, so that no conversion divides by
/// a number known only at run time (a 64-bit division costs tens of cycles): in the same unit
/// only the range is checked.
fn convert(timestamp: Timestamp, precision: Precision) -> Option<i64> {
    let nanos_per = |unit: Precision| match unit {
        Precision::Seconds => 1_000_000_000,
        Precision::Milliseconds => 1_000_000,
        Precision::Microseconds => 1_000,
        Precision::Nanoseconds => 1,
    };
    let nanos = timestamp
        .value
        .checked_mul(nanos_per(timestamp.precision))?;
    if timestamp.precision == precision {
        return Some(timestamp.value);
    }
    Some(match precision {
        Precision::Seconds => nanos / 1_000_000_000,
        Precision::Milliseconds => nanos / 1_000_000,
        Precision::Microseconds => nanos / 1_000,
        Precision::Nanoseconds => nanos,
    })
}

/// The largest integer a float64 holds exactly, 2^53: Telegraf's JSON and Wavefront parsers read
/// numbers as float64.
pub(crate) const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// Appends a finite float in its shortest form that reads back as the same `f64`, with no `+`
/// in the exponent (`1e21`): Telegraf's Wavefront parser refuses `1e+21`.
pub(crate) fn push_float(out: &mut Vec<u8>, value: f64) {
    let mut buffer = zmij::Buffer::new();
    let text = buffer.format_finite(value).as_bytes();
    match text.iter().position(|&b| b == b'+') {
        Some(plus) => {
            out.extend_from_slice(&text[..plus]);
            out.extend_from_slice(&text[plus + 1..]);
        }
        None => out.extend_from_slice(text),
    }
}

/// Appends an integer in decimal.
pub(crate) fn push_int(out: &mut Vec<u8>, value: impl itoa::Integer) {
    let mut buffer = itoa::Buffer::new();
    out.extend_from_slice(buffer.format(value).as_bytes());
}

/// Eight bytes at a time ("SWAR"): whether any byte of `text` is one of `set` or, with
/// `control`, below 0x20. Encoders ask this of every name and value before copying it whole. A
/// word takes a few operations where a byte loop takes eight table lookups: on the benchmark's
/// short names the two measured the same; a long string field takes an eighth of the steps.
///
/// For a word `x`, `(x - 0x0101…) & !x & 0x8080…` is non-zero exactly when some byte of `x` is
/// zero (applied to `x ^ byte·0x0101…`: when some byte equals `byte`), and with `0x2020…` in
/// place of `0x0101…` when some byte is below 0x20.
#[inline]
pub(crate) fn has_any(text: &[u8], set: &[u8], control: bool) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(ONES * n) & !x & HIGH != 0;
    let mut words = text.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let x = u64::from_le_bytes(bytes);
        let found = set.iter().fold(control && below(x, 0x20), |found, &b| {
            found | below(x ^ (ONES * u64::from(b)), 1)
        });
        if found {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|b| set.contains(b) || (control && *b < 0x20))
}
