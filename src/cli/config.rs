//! Settings from a TOML file (`--config FILE`) and from `TELEMIT_*` environment variables, below
//! the flags: flags > environment > file > built-in default, for every option of every command.
//!
//! Both come from the argument definitions, in one place, so a new option gets its variable and
//! its key without further code:
//! - the variable is `TELEMIT_` and the long flag upper-cased with `-` turned into `_`
//!   (`--flush-timeout` → `TELEMIT_FLUSH_TIMEOUT`; a positional argument by its name, `URL` →
//!   `TELEMIT_URL`), read by clap's `env`;
//! - the file's key is the long flag with `-` turned into `_` (`flush_timeout`), the style of
//!   Telegraf's own options, and its value becomes the option's default, so a variable or a
//!   flag given for the same option replaces it whole (for a repeated option such as `--tag`,
//!   the flags' list replaces the variable's, which replaces the file's: lists never merge).
//!
//! Boolean flags take an optional value (`--gzip=false`), so that a flag can also turn off
//! what the environment or the file turned on.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::builder::BoolishValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};

use super::Cli;

mod apply;
mod check;
mod file;
pub use check::{ConfigCommand, run};
use file::ConfigFile;

/// The prefix of every option's environment variable.
pub const ENV_PREFIX: &str = "TELEMIT_";

/// The commands a configuration file can hold the options of.
const COMMANDS: [&str; 7] = ["send", "pipe", "listen", "ws", "map", "demo", "bench"];

/// The command line definition with an environment variable for every option.
pub fn command() -> Command {
    with_env(Cli::command())
}

/// Parses the process's arguments with the environment and the `--config` file under them;
/// exits as clap does on a usage error (status 2), and with status 2 on a bad file.
pub fn parse() -> Cli {
    match parse_from(std::env::args_os().collect()) {
        Ok(cli) => cli,
        Err(Failure::Usage(error)) => error.exit(),
        Err(Failure::Config(message)) => {
            eprintln!("telemit: {message}");
            std::process::exit(2)
        }
    }
}

/// Why the arguments give no command to run.
pub enum Failure {
    /// A usage error (or `--help`), rendered by clap.
    Usage(clap::Error),
    /// The configuration file is unreadable or holds a bad key or value.
    Config(String),
}

fn parse_from(mut argv: Vec<OsString>) -> Result<Cli, Failure> {
    let mut cmd = command();
    // A first, lenient pass finds the command and the file; `--help` and `--version` skip the
    // file, so that they work wherever the file is missing.
    let first = command()
        .ignore_errors(true)
        .try_get_matches_from(argv.iter());
    if let Ok(first) = first {
        let sub = first.subcommand();
        let path = sub
            .and_then(|(_, sub)| sub.get_one::<PathBuf>("config"))
            .or_else(|| first.get_one::<PathBuf>("config"));
        let name = sub.map(|(name, _)| name);
        if let Some(path) = path
            && name.is_none_or(|name| COMMANDS.contains(&name))
        {
            let file = ConfigFile::load(path).map_err(Failure::Config)?;
            // `telemit --config FILE` runs the command the file names.
            let name = match (name, &file.command) {
                (Some(name), _) => Some(name.to_owned()),
                (None, Some(command)) => {
                    argv.push(command.get_ref().into());
                    Some(command.get_ref().clone())
                }
                (None, None) => None,
            };
            if let Some(name) = name {
                file.check(&cmd, &name).map_err(Failure::Config)?;
                cmd = file.apply(cmd, &name);
            }
        }
    }
    let matches = cmd.clone().try_get_matches_from(argv.iter()).map_err(|e| {
        from_environment(&cmd, &argv, &e).map_or(Failure::Usage(e), Failure::Config)
    })?;
    if let Some((name, sub)) = matches.subcommand() {
        check_pairs(&subcommand(&cmd, name), sub).map_err(Failure::Config)?;
    }
    Cli::from_arg_matches(&matches).map_err(Failure::Usage)
}

/// For a value clap refused that came from a variable, not a flag: the message naming the
/// variable (clap's names the flag).
pub(super) fn from_environment(
    cmd: &Command,
    argv: &[OsString],
    error: &clap::Error,
) -> Option<String> {
    if !matches!(
        error.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(flag)) = error.get(ContextKind::InvalidArg) else {
        return None;
    };
    let Some(ContextValue::String(value)) = error.get(ContextKind::InvalidValue) else {
        return None;
    };
    let long = flag.split(['[', ' ', '=']).next()?.strip_prefix("--")?;
    let given = argv.iter().any(|a| {
        a.to_str()
            .and_then(|a| a.strip_prefix("--"))
            .is_some_and(|a| a == long || a.starts_with(&format!("{long}=")))
    });
    let arg = std::iter::once(cmd)
        .chain(cmd.get_subcommands())
        .flat_map(Command::get_arguments)
        .find(|a| a.get_long() == Some(long))?;
    let name = env_name(arg);
    if given || std::env::var(&name).ok().as_deref() != Some(value.as_str()) {
        return None;
    }
    Some(format!(
        "environment {name}={value:?}: {}",
        clap_reason(error)
    ))
}

/// Options that need another (clap's `requires`, which does not look at defaults, and so at
/// a file's values): the option, and the one it needs.
const PAIRS: [(&str, &str); 3] = [
    ("tls_cert", "tls_key"),
    ("tls_key", "tls_cert"),
    ("tls_allowed_cacerts", "tls_cert"),
];

/// The first option set without the one it needs, in the settings of one command.
fn check_pairs(cmd: &Command, matches: &ArgMatches) -> Result<(), String> {
    let set = |key: &str| {
        cmd.get_arguments()
            .find(|a| key_of(a) == key)
            .is_some_and(|a| matches.get_raw(a.get_id().as_str()).is_some())
    };
    for (option, needed) in PAIRS {
        if set(option) && !set(needed) {
            return Err(format!(
                "{option} needs {needed} (--{}, {ENV_PREFIX}{})",
                needed.replace('_', "-"),
                needed.to_uppercase()
            ));
        }
    }
    Ok(())
}

fn subcommand(cmd: &Command, name: &str) -> Command {
    cmd.find_subcommand(name)
        .cloned()
        .unwrap_or_else(|| Command::new(name.to_owned()))
}

/// Gives every option of `cmd` and its subcommands (but `config`'s) its environment variable,
/// and every boolean flag an optional `=true|false`.
fn with_env(cmd: Command) -> Command {
    cmd.mut_args(with_variable).mut_subcommands(|sc| {
        if sc.get_name() == "config" {
            sc
        } else {
            with_env(sc)
        }
    })
}

fn with_variable(arg: Arg) -> Arg {
    if !configurable(&arg) && arg.get_id() != "config" {
        return arg;
    }
    let name = env_name(&arg);
    let arg = arg.env(name);
    if is_flag(&arg) {
        // `--gzip` is `--gzip=true`; `--gzip=false` overrides a true from the environment or
        // the file; TELEMIT_GZIP takes 1/0, yes/no, on/off, true/false.
        arg.action(ArgAction::Set)
            .num_args(0..=1)
            .require_equals(true)
            .default_missing_value("true")
            .default_value("false")
            .value_parser(BoolishValueParser::new())
            .value_name("BOOL")
            .hide_default_value(true)
            .hide_possible_values(true)
    } else {
        arg
    }
}

/// True for the options a file or a variable may set: all but help, version and counters.
fn configurable(arg: &Arg) -> bool {
    matches!(
        arg.get_action(),
        ArgAction::Set | ArgAction::Append | ArgAction::SetTrue
    ) && arg.get_id() != "config"
}

fn is_flag(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::SetTrue)
        || (matches!(arg.get_action(), ArgAction::Set)
            && arg.is_require_equals_set()
            && arg.get_value_parser().type_id() == std::any::TypeId::of::<bool>())
}

/// `TELEMIT_` + the long flag (or the positional's name) upper-cased, `-` → `_`.
pub fn env_name(arg: &Arg) -> String {
    format!("{ENV_PREFIX}{}", key_of(arg).to_uppercase())
}

/// The file key of `arg`: its long flag with `-` → `_`, or a positional's name, lower-cased.
pub fn key_of(arg: &Arg) -> String {
    match arg.get_long() {
        Some(long) => long.replace('-', "_"),
        None => arg.get_id().as_str().to_lowercase(),
    }
}

/// The joiner of a `KEY=VALUE` or `NAME:VALUE` option, which a file may also give as a table.
fn pair_separator(arg: &Arg) -> Option<char> {
    let names = arg.get_value_names()?;
    let name = names.first()?.as_str();
    if name.contains('=') {
        Some('=')
    } else if name.contains(':') {
        Some(':')
    } else {
        None
    }
}

fn is_list(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
}

/// The reason in a clap error, without its `error:` prefix and usage lines.
fn clap_reason(error: &clap::Error) -> String {
    if let Some(source) = std::error::Error::source(error) {
        return source.to_string();
    }
    if error.kind() == ErrorKind::MissingRequiredArgument
        && let Some(ContextValue::Strings(missing)) = error.get(ContextKind::InvalidArg)
    {
        let missing: Vec<String> = missing
            .iter()
            .map(|usage| {
                // "--map <FILE>" or "<URL>": the key, and its variable.
                let key = match usage.strip_prefix("--") {
                    Some(flag) => flag
                        .split([' ', '='])
                        .next()
                        .unwrap_or(flag)
                        .replace('-', "_"),
                    None => usage.trim_matches(['<', '>', '.']).to_lowercase(),
                };
                format!("{key} ({ENV_PREFIX}{})", key.to_uppercase())
            })
            .collect();
        return format!("not set: {}", missing.join(", "));
    }
    if error.kind() == ErrorKind::InvalidValue
        && let Some(ContextValue::Strings(valid)) = error.get(ContextKind::ValidValue)
        && !valid.is_empty()
    {
        return format!(
            "expected one of {}",
            quoted_list(valid.iter().map(String::as_str))
        );
    }
    let rendered = error.render().to_string();
    rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned()
}

fn quoted_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    items
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::file::line_column;
    use super::*;

    #[test]
    fn the_definitions_with_variables_are_consistent() {
        command().debug_assert();
    }

    #[test]
    fn names_follow_the_long_flag() {
        let cmd = command();
        let pipe = cmd.find_subcommand("pipe").unwrap();
        let arg = pipe
            .get_arguments()
            .find(|a| a.get_id() == "flush_timeout")
            .unwrap();
        assert_eq!(key_of(arg), "flush_timeout");
        assert_eq!(
            arg.get_env().and_then(|e| e.to_str()),
            Some("TELEMIT_FLUSH_TIMEOUT")
        );
        let ws = cmd.find_subcommand("ws").unwrap();
        let url = ws.get_arguments().find(|a| a.get_id() == "url").unwrap();
        assert_eq!(url.get_env().and_then(|e| e.to_str()), Some("TELEMIT_URL"));
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("a = 1\nbé = 2\n", 0), (1, 1));
        assert_eq!(line_column("a = 1\nbé = 2\n", 6), (2, 1));
        assert_eq!(line_column("a = 1\nbé = 2\n", 10), (2, 4));
        // Inside a character, or past the end: no panic.
        assert_eq!(line_column("bé", 2), (1, 2));
        assert_eq!(line_column("a", 99), (1, 2));
    }
}
