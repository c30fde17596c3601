//! The configuration file: its text, read with a bound and as UTF-8, its top-level keys with
//! where each is, and its error messages with the line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Arg;
use toml::{Spanned, Value};

use super::{COMMANDS, key_of, quoted_list};

/// A configuration file: its top-level keys with where each is.
pub struct ConfigFile {
    pub(super) path: PathBuf,
    pub(super) text: String,
    /// The command the file says it is for (`command = "ws"`), if it says.
    pub(super) command: Option<Spanned<String>>,
    pub(super) entries: Vec<(Spanned<String>, Spanned<Value>)>,
}

/// The largest configuration file read: far beyond any real one, and a stop for a path such as
/// `/dev/zero` that never ends.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// The file's text; an error names the file and, for bytes that are not UTF-8, the line,
/// column and byte offset where they start.
fn read_limited(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let fail = |e: &dyn std::fmt::Display| format!("config {}: {e}", path.display());
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| fail(&e))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(fail(&format!(
            "longer than {MAX_CONFIG_BYTES} bytes: not a configuration file"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..at];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = at
            - before
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1)
            + 1;
        fail(&format!(
            "line {line}, column {column} (byte {at}): not UTF-8"
        ))
    })
}

impl ConfigFile {
    /// Reads and parses `path` (TOML); the error names the file, and for a syntax error the
    /// line and column.
    pub fn load(path: &Path) -> Result<ConfigFile, String> {
        let text = read_limited(path)?;
        let table: BTreeMap<Spanned<String>, Spanned<Value>> = toml::from_str(&text)
            .map_err(|e| format!("config {}: {}", path.display(), e.to_string().trim_end()))?;
        let mut entries: Vec<_> = table.into_iter().collect();
        entries.sort_by_key(|(key, _)| key.span().start);
        let mut file = ConfigFile {
            path: path.to_owned(),
            text,
            command: None,
            entries: Vec::new(),
        };
        for (key, value) in entries {
            if key.get_ref() == "command" {
                let span = value.span();
                match value.into_inner() {
                    Value::String(name) if COMMANDS.contains(&name.as_str()) => {
                        file.command = Some(Spanned::new(span, name));
                    }
                    other => {
                        return Err(file.error_at(
                            span.start,
                            &format!(
                                "command = {other}: expected one of {}",
                                quoted_list(COMMANDS.iter().copied())
                            ),
                        ));
                    }
                }
            } else {
                file.entries.push((key, value));
            }
        }
        Ok(file)
    }

    /// `config PATH, line L, column C: message`.
    pub(super) fn error_at(&self, offset: usize, message: &str) -> String {
        let (line, column) = line_column(&self.text, offset);
        format!(
            "config {}, line {line}, column {column}: {message}",
            self.path.display()
        )
    }

    pub(super) fn line_of(&self, key: &str) -> Option<usize> {
        self.entries
            .iter()
            .find(|(k, _)| k.get_ref() == key)
            .map(|(k, _)| line_column(&self.text, k.span().start).0)
    }
}

/// The message for a key no option of `telemit name` has: the nearest key, and all of them.
pub(super) fn unknown_key(key: &Spanned<String>, options: &[&Arg], name: &str) -> String {
    let keys: Vec<String> = options.iter().map(|a| key_of(a)).collect();
    let nearest = keys
        .iter()
        .map(|k| (strsim::jaro_winkler(k, key.get_ref()), k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!(" (did you mean {k:?}?)"))
        .unwrap_or_default();
    format!(
        "unknown key {:?} for `telemit {name}`{nearest}; its keys are {}",
        key.get_ref(),
        keys.join(", ")
    )
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
pub(super) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
