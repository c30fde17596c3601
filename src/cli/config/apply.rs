//! Applying a configuration file to the argument definitions: each key checked against the
//! options of a command and each value against the option's parser, then set as its default.

use clap::builder::Resettable;
use clap::{Arg, ArgAction, Command, Id};
use toml::{Spanned, Value};

use super::file::{ConfigFile, unknown_key};
use super::{clap_reason, configurable, is_flag, is_list, key_of, pair_separator};

/// One option's value from a file, as command-line strings.
pub(super) struct Setting {
    id: Id,
    /// An option of the whole program (`Cli`), rather than of the command.
    global: bool,
    values: Vec<String>,
}

/// The options of `telemit name` a file may set: the command's own, then the global ones.
pub(super) fn options<'a>(root: &'a Command, name: &str) -> Vec<&'a Arg> {
    root.find_subcommand(name)
        .into_iter()
        .flat_map(Command::get_arguments)
        .chain(root.get_arguments().filter(|a| a.is_global_set()))
        .filter(|a| configurable(a))
        .collect()
}

impl ConfigFile {
    /// Checks every key against the options of `telemit name` (in `root`) and every value
    /// against the option's parser; the first problem, with its line and column.
    pub fn check(&self, root: &Command, name: &str) -> Result<(), String> {
        if let Some(command) = &self.command
            && command.get_ref() != name
        {
            return Err(self.error_at(
                command.span().start,
                &format!(
                    "this file is for `telemit {}`, not `telemit {name}`",
                    command.get_ref()
                ),
            ));
        }
        self.settings(root, name).map(|_| ())
    }

    pub(super) fn settings(&self, root: &Command, name: &str) -> Result<Vec<Setting>, String> {
        let options = options(root, name);
        let mut settings = Vec::new();
        for (key, value) in &self.entries {
            let Some(arg) = options.iter().find(|a| key_of(a) == *key.get_ref()) else {
                return Err(self.error_at(key.span().start, &unknown_key(key, &options, name)));
            };
            let values = self.values(arg, key.get_ref(), value)?;
            settings.push(Setting {
                id: arg.get_id().clone(),
                global: arg.is_global_set(),
                values,
            });
        }
        Ok(settings)
    }

    /// The value as the command-line strings of `arg`, each checked by its parser.
    fn values(&self, arg: &Arg, key: &str, value: &Spanned<Value>) -> Result<Vec<String>, String> {
        let at = |message: String| self.error_at(value.span().start, &message);
        let shown = value.get_ref().to_string();
        let values = if is_flag(arg) {
            match value.get_ref() {
                Value::Boolean(b) => vec![b.to_string()],
                _ => return Err(at(format!("{key} = {shown}: expected true or false"))),
            }
        } else {
            match (value.get_ref(), pair_separator(arg)) {
                (Value::Table(table), Some(separator)) if is_list(arg) => table
                    .iter()
                    .map(|(k, v)| {
                        scalar(v)
                            .map(|v| format!("{k}{separator}{v}"))
                            .ok_or_else(|| {
                                at(format!("{key}.{k} = {v}: expected a string or a number"))
                            })
                    })
                    .collect::<Result<_, _>>()?,
                (Value::Array(items), _) if is_list(arg) => items
                    .iter()
                    .map(|v| {
                        scalar(v).ok_or_else(|| {
                            at(format!(
                                "{key}: {v} in the list is not a string or a number"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                (Value::Array(_), _) => {
                    return Err(at(format!("{key} = {shown}: takes one value, not a list")));
                }
                (other, _) => vec![scalar(other).ok_or_else(|| {
                    at(format!(
                        "{key} = {shown}: expected {}",
                        if pair_separator(arg).is_some() {
                            "a list of strings or a table"
                        } else if is_list(arg) {
                            "a string, a number or a list of them"
                        } else {
                            "a string or a number"
                        }
                    ))
                })?],
            }
        };
        for text in &values {
            validate(arg, text).map_err(|reason| {
                at(format!("{key} = {}: {reason}", Value::String(text.clone())))
            })?;
        }
        Ok(values)
    }

    /// `root` with the file's values as the defaults of the options of `telemit name`.
    ///
    /// clap's "required unless another is present" rules do not count defaults, so with a file
    /// they are dropped: the command itself reports what is missing (send: no measurement).
    /// "Requires" rules are checked by [`check_pairs`](super::check_pairs).
    pub fn apply(&self, root: Command, name: &str) -> Command {
        let Ok(settings) = self.settings(&root, name) else {
            return root;
        };
        let root = root.mut_subcommand(name, |sc| {
            sc.mut_args(|arg| arg.required_unless_present(Resettable::<Id>::Reset))
        });
        // The file's value stands in for the flag, so it meets a "required" rule.
        let with_value =
            |values: Vec<String>| move |arg: Arg| arg.required(false).default_values(values);
        settings.into_iter().fold(root, |root, setting| {
            if setting.global {
                root.mut_arg(setting.id, with_value(setting.values))
            } else {
                root.mut_subcommand(name, |sc| {
                    sc.mut_arg(setting.id, with_value(setting.values))
                })
            }
        })
    }
}

/// A TOML scalar as command-line text.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(f) => Some(f.to_string()),
        _ => None,
    }
}

/// Runs `arg`'s own parser over `text` alone; the reason it refuses it.
fn validate(arg: &Arg, text: &str) -> Result<(), String> {
    let mut probe = Arg::new("value")
        .long("value")
        .value_parser(arg.get_value_parser().clone())
        .action(ArgAction::Set)
        .allow_hyphen_values(true);
    if let Some(delimiter) = arg.get_value_delimiter() {
        probe = probe.value_delimiter(delimiter).action(ArgAction::Append);
    }
    Command::new("probe")
        .no_binary_name(true)
        .arg(probe)
        .try_get_matches_from([format!("--value={text}")])
        .map(|_| ())
        .map_err(|e| clap_reason(&e))
}
