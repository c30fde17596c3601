//! Readers for readings that arrive as text: Influx line protocol, Wavefront and JSON, each
//! read the way Telegraf's parser of that name reads it, and [`lines`], the bounded line source
//! that feeds them from standard input or any other byte stream.
//!
//! The parsers are pure: a line in, a [`Reading`] (or nothing, for blank and
//! comment lines) or a [`ParseError`] out. The caller knows the line number and may add it
//! with [`ParseError::on_line`].

pub mod json;
pub mod line_protocol;
pub mod lines;
pub mod precision;
pub mod telegraf_json;
pub mod wavefront;

mod glob;

use std::fmt;
use std::str::FromStr;

use crate::reading::{Reading, ReadingError};

pub use lines::{Line, LineReader};
pub use precision::{InputPrecision, implausible_timestamp};

/// What kind of problem a [`ParseError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The text does not follow the format's grammar: a missing `=`, a stray character, an
    /// escape the format does not allow.
    Syntax,
    /// A field value that is not a number, boolean or string the format allows.
    Value,
    /// A timestamp the format does not accept (not an integer, too many digits, wrong length).
    Timestamp,
    /// Bytes that are not UTF-8.
    Encoding,
    /// Not JSON, or JSON of a shape the reader does not take.
    Json,
    /// The text is well formed but the reading is not one that can be sent
    /// ([`ReadingError`]: an empty name, a control character, no field).
    Reading,
}

/// What is wrong with one input line, and where.
///
/// `Display` gives `column N: reason` (or just the reason when no column applies), prefixed
/// with `line L, ` once [`on_line`](Self::on_line) has added the line number.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub struct ParseError {
    /// What kind of problem it is.
    pub kind: ParseErrorKind,
    /// 1-based line number, when the caller has added it.
    pub line: Option<u64>,
    /// 1-based byte column of the problem in its line, when known.
    pub column: Option<usize>,
    /// The offending text (a token, a value, a JSON member), when there is one.
    pub text: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

impl ParseError {
    /// An error of `kind` at 1-based byte `column`.
    pub fn new(kind: ParseErrorKind, column: Option<usize>, reason: impl Into<String>) -> Self {
        ParseError {
            kind,
            line: None,
            column,
            text: None,
            reason: reason.into(),
        }
    }

    /// The same error with its line number.
    #[must_use]
    pub fn on_line(mut self, line: u64) -> Self {
        self.line = Some(line);
        self
    }

    /// The same error naming the offending text.
    #[must_use]
    pub fn with_text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// 0-based byte offset of the problem in its line, when known.
    pub fn byte(&self) -> Option<usize> {
        self.column.map(|c| c.saturating_sub(1))
    }

    /// A JSON syntax or shape error, at its column, without serde_json's "at line 1 column N".
    pub(crate) fn from_json(error: serde_json::Error) -> Self {
        let text = error.to_string();
        let reason = text
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned();
        ParseError::new(ParseErrorKind::Json, Some(error.column()), reason)
    }

    pub(crate) fn at(column: usize, reason: impl Into<String>) -> Self {
        ParseError::new(ParseErrorKind::Syntax, Some(column), reason)
    }

    pub(crate) fn of(kind: ParseErrorKind, column: usize, reason: impl Into<String>) -> Self {
        ParseError::new(kind, Some(column), reason)
    }
}

impl From<ReadingError> for ParseError {
    fn from(error: ReadingError) -> Self {
        ParseError::new(ParseErrorKind::Reading, None, error.to_string())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}, column {column}: "),
            (Some(line), None) => write!(f, "line {line}: "),
            (None, Some(column)) => write!(f, "column {column}: "),
            (None, None) => Ok(()),
        }?;
        f.write_str(&self.reason)
    }
}

/// A reading read from one line, with what the reader settled on the way.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Parsed {
    /// The reading.
    pub reading: Reading,
    /// Tag and field keys given more than once, as `tag "k"` / `field "k"`: the last value
    /// was kept, as Telegraf keeps it.
    pub duplicates: Vec<String>,
    /// Members of a flat JSON object that Telegraf's `json` parser drops: strings and
    /// booleans whose key matches neither `tag_keys` nor `json_string_fields`.
    pub dropped: Vec<String>,
}

impl Parsed {
    pub(crate) fn new(reading: Reading) -> Self {
        Parsed {
            reading,
            duplicates: Vec::new(),
            dropped: Vec::new(),
        }
    }
}

/// The text format of incoming readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// Influx line protocol, read as Telegraf reads it.
    #[default]
    Influx,
    /// JSON objects, one per line: `{"name":…,"tags":{…},"fields":{…},"timestamp":…}` or
    /// Telegraf's flat shape `{"measurement":"cpu","host":"a","load":0.5}`.
    Json,
}

impl InputFormat {
    /// Parses one line; `Ok(None)` for a blank line or a `#` comment.
    pub fn parse(
        self,
        line: &str,
        precision: crate::Precision,
    ) -> Result<Option<crate::Reading>, ParseError> {
        match self {
            InputFormat::Influx => line_protocol::parse_line(line, precision),
            InputFormat::Json => json::parse_line(line, precision),
        }
    }

    /// Parses one line and says what was settled on the way (duplicate keys collapsed, JSON
    /// members dropped); `json` applies to the flat JSON shape.
    pub fn parse_detailed(
        self,
        line: &str,
        precision: crate::Precision,
        json: &telegraf_json::JsonParserOptions,
    ) -> Result<Option<Parsed>, ParseError> {
        match self {
            InputFormat::Influx => line_protocol::parse_line_detailed(line, precision),
            InputFormat::Json => json::parse_line_with(line, precision, json),
        }
    }
}

/// The error for an input format name that is not `influx` or `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown input format {0:?}: expected influx or json")]
pub struct UnknownInputFormat(pub String);

impl FromStr for InputFormat {
    type Err = UnknownInputFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "influx" => Ok(InputFormat::Influx),
            "json" => Ok(InputFormat::Json),
            other => Err(UnknownInputFormat(other.to_owned())),
        }
    }
}
