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
pub struct MappingError {
    /// The mapping file, when the mapping was read from one.
    pub file: Option<PathBuf>,
    /// Line and column (from 1) in the file, for TOML syntax and type errors.
    pub line: Option<(usize, usize)>,
    /// The rule's name.
    pub rule: Option<String>,
    /// The part of the rule, as the file names it: `field "x"`, `tag "side"`, `derive "d"`,
    /// `window`, `timestamp`.
    pub part: Option<String>,
    /// The offending text: a path, an expression, a type name.
    pub text: Option<String>,
    /// The byte in `text` where the problem is, for expressions.
    pub offset: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

impl MappingError {
    /// An error about the whole file.
    pub(super) fn file(reason: impl Into<String>) -> MappingError {
        MappingError {
            file: None,
            line: None,
            rule: None,
            part: None,
            text: None,
            offset: None,
            reason: reason.into(),
        }
    }

    /// An error in rule `rule`, about `part`, with the offending text.
    pub(super) fn rule(
        rule: &str,
        part: Option<String>,
        text: Option<&str>,
        reason: impl Into<String>,
    ) -> MappingError {
        MappingError {
            rule: Some(rule.to_owned()),
            part,
            text: text.map(str::to_owned),
            ..MappingError::file(reason)
        }
    }

    /// A TOML error, placed by the byte span the parser gives.
    pub(super) fn toml(error: &toml::de::Error, source: &str) -> MappingError {
        let line = error.span().map(|span| {
            let before = &source[..span.start.min(source.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            (line, column)
        });
        MappingError {
            line,
            text: error
                .span()
                .and_then(|span| source.get(span))
                .map(|t| crate::text::excerpt(t, 80)),
            ..MappingError::file(error.message().trim_end())
        }
    }

    /// The same error, placed in `file`.
    pub(super) fn in_file(mut self, file: &std::path::Path) -> MappingError {
        self.file = Some(file.to_owned());
        self
    }
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some((line, column)) = self.line {
            write!(f, "line {line}, column {column}: ")?;
        }
        if let Some(rule) = &self.rule {
            write!(f, "rule {rule:?}: ")?;
        }
        if let Some(part) = &self.part {
            write!(f, "{part}: ")?;
        }
        if let (Some(text), Some(offset)) = (&self.text, self.offset) {
            write!(f, "{text:?} at byte {offset}: ")?;
        }
        f.write_str(&self.reason)
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
