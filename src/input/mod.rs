//! Parsers for readings that arrive as text: line protocol and JSON objects, one per line.
//!
//! Both are pure: a line in, a [`Reading`](crate::Reading) (or nothing, for blank and comment
//! lines) or a [`ParseError`] out. The caller knows the line number and adds it.

pub mod json;
pub mod line_protocol;
pub mod telegraf_json;
pub mod wavefront;

use std::fmt;
use std::str::FromStr;

use crate::reading::ReadingError;

/// What is wrong with one input line, and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ParseError {
    /// 1-based byte column of the problem, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl ParseError {
    /// A JSON syntax or shape error, at its column, without serde_json's "at line 1 column N".
    pub(crate) fn from_json(error: serde_json::Error) -> Self {
        let text = error.to_string();
        let reason = text
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned();
        ParseError {
            column: Some(error.column()),
            reason,
        }
    }

    pub(crate) fn at(column: usize, reason: impl Into<String>) -> Self {
        ParseError {
            column: Some(column),
            reason: reason.into(),
        }
    }
}

impl From<ReadingError> for ParseError {
    fn from(error: ReadingError) -> Self {
        ParseError {
            column: None,
            reason: error.to_string(),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(column) => write!(f, "column {column}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// The text format of incoming readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputFormat {
    /// Influx line protocol, read as Telegraf reads it.
    #[default]
    Influx,
    /// JSON objects `{"name":…,"tags":{…},"fields":{…},"timestamp":…}`.
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
