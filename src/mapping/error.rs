//! What can be wrong with a mapping file, and with one rule on one message.

use std::fmt;
use std::path::PathBuf;

/// A mapping file that cannot be used: what is wrong, where (file, line and column, rule, part
/// of the rule, byte within an expression) and the offending text.
///
/// Its `Display` is one line, for example
/// `rules.toml: rule "r": derive "d": "x -" at byte 3: the expression ends too soon`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MappingError(Box<Details>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Details {
    file: Option<PathBuf>,
    line: Option<(usize, usize)>,
    rule: Option<String>,
    part: Option<String>,
    text: Option<String>,
    offset: Option<usize>,
    reason: String,
}

impl MappingError {
    /// An error about the whole file.
    pub(super) fn file(reason: impl Into<String>) -> MappingError {
        MappingError(Box::new(Details {
            file: None,
            line: None,
            rule: None,
            part: None,
            text: None,
            offset: None,
            reason: reason.into(),
        }))
    }

    /// The mapping file, when the mapping was read from one.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.0.file.as_deref()
    }

    /// Line and column (from 1) in the file, for TOML syntax and type errors.
    pub fn line(&self) -> Option<(usize, usize)> {
        self.0.line
    }

    /// The name of the rule at fault.
    pub fn rule_name(&self) -> Option<&str> {
        self.0.rule.as_deref()
    }

    /// The part of the rule, as the file names it: `field "x"`, `tag "side"`, `derive "d"`,
    /// `window`, `timestamp`.
    pub fn part(&self) -> Option<&str> {
        self.0.part.as_deref()
    }

    /// The offending text: a path, an expression, a type name.
    pub fn text(&self) -> Option<&str> {
        self.0.text.as_deref()
    }

    /// The byte in [`text`](MappingError::text) where the problem is, for expressions.
    pub fn offset(&self) -> Option<usize> {
        self.0.offset
    }

    /// What is wrong.
    pub fn reason(&self) -> &str {
        &self.0.reason
    }

    /// The same error at byte `offset` of its text.
    pub(super) fn at_byte(mut self, offset: usize) -> MappingError {
        self.0.offset = Some(offset);
        self
    }

    /// An error in rule `rule`, about `part`, with the offending text.
    pub(super) fn rule(
        rule: &str,
        part: Option<String>,
        text: Option<&str>,
        reason: impl Into<String>,
    ) -> MappingError {
        let mut error = MappingError::file(reason);
        error.0.rule = Some(rule.to_owned());
        error.0.part = part;
        error.0.text = text.map(str::to_owned);
        error
    }

    /// A TOML error, placed by the byte span the parser gives.
    pub(super) fn toml(error: &toml::de::Error, source: &str) -> MappingError {
        let line = error.span().map(|span| {
            let before = &source[..span.start.min(source.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            (line, column)
        });
        let mut mapped = MappingError::file(error.message().trim_end());
        mapped.0.line = line;
        mapped.0.text = error
            .span()
            .and_then(|span| source.get(span))
            .map(|t| crate::text::excerpt(t, 80));
        mapped
    }

    /// The same error, placed in `file`.
    pub(super) fn in_file(mut self, file: &std::path::Path) -> MappingError {
        self.0.file = Some(file.to_owned());
        self
    }
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.0;
        if let Some(file) = &d.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some((line, column)) = d.line {
            write!(f, "line {line}, column {column}: ")?;
        }
        if let Some(rule) = &d.rule {
            write!(f, "rule {rule:?}: ")?;
        }
        if let Some(part) = &d.part {
            write!(f, "{part}: ")?;
        }
        if let (Some(text), Some(offset)) = (&d.text, d.offset) {
            write!(f, "{text:?} at byte {offset}: ")?;
        }
        f.write_str(&d.reason)
    }
}

impl std::error::Error for MappingError {}

/// One rule's failure on one message: counted, reported, never fatal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The rule's name.
    pub rule: String,
    /// What went wrong.
    pub reason: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {:?}: {}", self.rule, self.reason)
    }
}
